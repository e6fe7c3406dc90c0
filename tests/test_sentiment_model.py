"""Paper A's trainable model and recipe (notebook 04_sentiment_training)."""
import numpy as np
import pytest
import torch
from torch import nn

from helpers import sentiment_model as sm
from helpers.errors import ReproError


def _frozen_bn_extractor():
    """A small frozen conv + batch-norm slice standing in for an ImageNet extractor."""
    ext = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
    with torch.no_grad():
        ext[1].running_mean.uniform_(-1, 1)
        ext[1].running_var.uniform_(0.5, 2)
    return ext


@pytest.mark.parametrize("shape", [(32, 19, 19), (24, 38, 38), (64, 10, 10), (192, 17, 17)])
def test_head_accepts_every_extractor_shape(shape):
    head = sm.SentimentHead(shape)
    out = head(torch.randn(3, *shape))
    assert out.shape == (3, 2)
    assert head.autoencoder(torch.randn(2, *shape)).shape[1] == shape[0]


def test_head_rejects_tiny_feature_maps():
    with pytest.raises(ReproError, match="too small"):
        sm.SentimentHead((16, 2, 2))


def test_classifier_has_three_linear_layers_and_dropout_03():
    head = sm.SentimentHead((8, 12, 12))
    linears = [m for m in head.classifier.modules() if isinstance(m, nn.Linear)]
    drops = [m for m in head.classifier.modules() if isinstance(m, nn.Dropout)]
    assert len(linears) == 3 and linears[-1].out_features == 2
    assert drops and all(d.p == pytest.approx(0.3) for d in drops)


def test_xavier_init_zero_bias():
    torch.manual_seed(0)
    head = sm.SentimentHead((8, 12, 12))
    lin = [m for m in head.classifier.modules() if isinstance(m, nn.Linear)][0]
    bound = (6 / (lin.in_features + lin.out_features)) ** 0.5
    assert float(lin.weight.detach().abs().max()) <= bound + 1e-6
    assert float(lin.weight.abs().max()) > 0.8 * bound          # uniform fills the range
    assert torch.count_nonzero(lin.bias) == 0


def test_differential_learning_rates():
    head = sm.SentimentHead((8, 12, 12))
    opt = sm.make_optimizer(head, 1e-4, 1e-3)
    lrs = {g["name"]: g["lr"] for g in opt.param_groups}
    assert lrs == {"autoencoder": 1e-4, "classifier": 1e-3}
    n_ae = sum(p.numel() for p in head.autoencoder.parameters())
    assert sum(p.numel() for p in opt.param_groups[0]["params"]) == n_ae


def test_end_to_end_equals_cached_features_and_extractor_stays_frozen():
    torch.manual_seed(0)
    ext = _frozen_bn_extractor()
    images = torch.randn(4, 3, 30, 30)
    shape = tuple(ext.eval()(images).shape[1:])
    head = sm.SentimentHead(shape)
    net = sm.SentimentNet(ext, head)
    net.train()
    assert not net.extractor.training and net.head.training
    before = ext[1].running_mean.clone()
    head.eval()
    with torch.no_grad():
        cached = ext(images)
    torch.testing.assert_close(net(images), head(cached))
    assert torch.equal(ext[1].running_mean, before)          # BN statistics never move
    net.train()
    net(images).sum().backward()
    assert all(p.grad is None for p in ext.parameters())
    assert any(p.grad is not None for p in head.parameters())


def test_split_is_80_20_stratified_and_disjoint():
    labels = np.array([0] * 50 + [1] * 50)
    tr, va = sm.split_train_val(100, 0.2, seed=3, labels=labels)
    assert len(tr) == 80 and len(va) == 20
    assert not set(tr) & set(va)
    assert labels[va].sum() == 10
    tr2, _ = sm.split_train_val(100, 0.2, seed=3, labels=labels)
    assert np.array_equal(tr, tr2)


def test_recipe_overrides_and_errors():
    r = sm.recipe("vgg16", epochs=2)
    assert r.epochs == 2 and r.extractor == "vgg16"
    with pytest.raises(ReproError, match="No Table I recipe"):
        sm.recipe("resnet1000")
    with pytest.raises(ReproError, match="Unknown recipe field"):
        sm.recipe("vgg16", learning_rate=1)


def test_training_learns_separable_features():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 160)
    x = rng.normal(size=(160, 4, 8, 8)).astype(np.float32)
    x[:, 0] += (2 * y - 1)[:, None, None] * 1.5                 # class signal in channel 0
    r = sm.recipe("alexnet", lr_autoencoder=3e-3, lr_classifier=3e-3, epochs=6, batch_size=16)
    head, hist = sm.train_head(x[:120], y[:120], x[120:], y[120:], recipe=r, seed=0, desc="test")
    assert len(hist["val_acc"]) == 6
    assert hist["val_acc"][-1] >= 0.85


def test_input_scaling_standardises_each_position_and_is_saved():
    rng = np.random.default_rng(0)
    shape = (4, 8, 8)
    common = rng.normal(size=shape) * 10                       # the same layout for every sample
    x = (common + 0.05 * rng.normal(size=(64, *shape))).astype(np.float16)
    head = sm.SentimentHead(shape)
    assert torch.equal(head.input_mean, torch.zeros(shape)) and torch.equal(head.input_std, torch.ones(shape))
    head.fit_input_scaling(x[i:i + 16] for i in range(0, 64, 16))    # batches give the same stats
    z = (torch.as_tensor(x).float() - head.input_mean) / head.input_std
    torch.testing.assert_close(z.mean(0), torch.zeros(shape), atol=1e-4, rtol=0)
    torch.testing.assert_close(z.std(0), torch.ones(shape), atol=1e-3, rtol=0)
    assert {"input_mean", "input_std"} <= set(head.state_dict())
    with pytest.raises(ReproError, match="do not match"):
        head.fit_input_scaling(np.zeros((4, 3, 8, 8), np.float32))


def test_training_learns_small_deviations_on_a_common_map():
    """DeepInsight-like features: a large map shared by all samples plus a small class signal;
    the default recipe must not collapse to one class (the quick-profile failure)."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    x = np.broadcast_to(rng.normal(size=(4, 8, 8)) * 20, (200, 4, 8, 8)).copy()
    x += 0.2 * rng.normal(size=x.shape)
    x[:, 1, 2:5, 2:5] += 0.3 * (2 * y - 1)[:, None, None]
    r = sm.recipe("alexnet", epochs=6, batch_size=16)
    head, hist = sm.train_head(x[:150].astype(np.float16), y[:150], x[150:].astype(np.float16), y[150:],
                               recipe=r, seed=0, desc="test")
    assert hist["val_acc"][-1] >= 0.85


def test_random_control_same_architecture_new_weights():
    ext = _frozen_bn_extractor().eval()
    ctrl = sm.random_control(ext, seed=1)
    assert [type(m) for m in ctrl.modules()] == [type(m) for m in ext.modules()]
    assert not torch.equal(ctrl[0].weight, ext[0].weight)
    assert torch.equal(ctrl[1].running_mean, torch.zeros(8))
    assert not ctrl.training and not any(p.requires_grad for p in ctrl.parameters())
    x = torch.randn(2, 3, 16, 16)
    assert ctrl(x).shape == ext(x).shape


def test_end_to_end_training_path_runs_on_images():
    torch.manual_seed(0)
    ext = _frozen_bn_extractor().eval()
    rng = np.random.default_rng(0)
    imgs = rng.normal(size=(24, 10, 10)).astype(np.float32)
    y = rng.integers(0, 2, 24)
    r = sm.recipe("vgg16", epochs=1, batch_size=8)
    model, hist = sm.train_head(imgs[:16], y[:16], imgs[16:], y[16:], recipe=r, extractor=ext, scale=3)
    assert isinstance(model, sm.SentimentNet) and model.head.feature_shape == (8, 15, 15)
    assert not torch.equal(model.head.input_std, torch.ones(8, 15, 15))     # scaling fitted on features
    assert len(hist["val_acc"]) == 1
    acc = sm.predict_accuracy(model, imgs[16:], y[16:], images=True, scale=3)
    assert acc == pytest.approx(hist["val_acc"][-1])  # the same model on the same validation images
