"""Paper A's trainable model and recipe (notebook 04_sentiment_training)."""

import numpy as np
import pytest
import torch
from torch import nn

from helpers.core.errors import ReproError
from helpers.paper_a import head_recipes, review_split
from helpers.paper_a import sentiment_heads as sh
from helpers.paper_a import sentiment_model as sm


def _frozen_bn_extractor():
    """A small frozen conv + batch-norm slice standing in for an ImageNet extractor."""
    ext = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
    with torch.no_grad():
        ext[1].running_mean.uniform_(-1, 1)
        ext[1].running_var.uniform_(0.5, 2)
    return ext


@pytest.mark.parametrize("shape", [(32, 19, 19), (24, 38, 38), (64, 10, 10), (192, 17, 17)])
def test_head_accepts_every_extractor_shape(shape):
    head = sh.SentimentHead(shape)
    out = head(torch.randn(3, *shape))
    assert out.shape == (3, 2)
    assert head.autoencoder(torch.randn(2, *shape)).shape[1] == shape[0]


def test_head_rejects_tiny_feature_maps():
    with pytest.raises(ReproError, match="too small"):
        sh.SentimentHead((16, 2, 2))


def test_classifier_has_three_linear_layers_and_dropout_03():
    head = sh.SentimentHead((8, 12, 12))
    linears = [m for m in head.classifier.modules() if isinstance(m, nn.Linear)]
    drops = [m for m in head.classifier.modules() if isinstance(m, nn.Dropout)]
    assert len(linears) == 3 and linears[-1].out_features == 2
    assert drops and all(d.p == pytest.approx(0.3) for d in drops)


def test_xavier_init_zero_bias():
    torch.manual_seed(0)
    head = sh.SentimentHead((8, 12, 12))
    lin = [m for m in head.classifier.modules() if isinstance(m, nn.Linear)][0]
    bound = (6 / (lin.in_features + lin.out_features)) ** 0.5
    assert float(lin.weight.detach().abs().max()) <= bound + 1e-6
    assert float(lin.weight.detach().abs().max()) > 0.8 * bound  # uniform fills the range
    assert torch.count_nonzero(lin.bias) == 0


def test_differential_learning_rates():
    head = sh.SentimentHead((8, 12, 12))
    opt = sm.make_optimizer(head, 1e-4, 1e-3)
    lrs = {g["name"]: g["lr"] for g in opt.param_groups}
    assert lrs == {"autoencoder": 1e-4, "classifier": 1e-3}
    n_ae = sum(p.numel() for p in head.autoencoder.parameters())
    assert sum(p.numel() for p in opt.param_groups[0]["params"]) == n_ae


def test_end_to_end_extractor_stays_frozen():
    """The frozen slice keeps eval mode and its statistics; only the head gets gradients. (The
    cached path's equivalence on the float16 features notebook 03 stores: test_feature_cache.py.)"""
    torch.manual_seed(0)
    ext = _frozen_bn_extractor()
    images = torch.randn(4, 3, 30, 30)
    shape = tuple(ext.eval()(images).shape[1:])
    head = sh.SentimentHead(shape)
    net = sm.SentimentNet(ext, head)
    net.train()
    assert not net.extractor.training and net.head.training
    before = ext[1].running_mean.clone()
    net(images)
    assert torch.equal(ext[1].running_mean, before)  # BN statistics never move
    net.train()
    net(images).sum().backward()
    assert all(p.grad is None for p in ext.parameters())
    assert any(p.grad is not None for p in head.parameters())


def test_split_is_80_20_stratified_and_disjoint():
    labels = np.array([0] * 50 + [1] * 50)
    tr, va = review_split.split_train_val(100, 0.2, seed=3, labels=labels)
    assert len(tr) == 80 and len(va) == 20
    assert not set(tr) & set(va)
    assert labels[va].sum() == 10
    tr2, _ = review_split.split_train_val(100, 0.2, seed=3, labels=labels)
    assert np.array_equal(tr, tr2)


def test_recipe_overrides_and_errors():
    r = head_recipes.recipe("vgg16", epochs=2)
    assert r.epochs == 2 and r.extractor == "vgg16" and r.name == "paper"
    assert head_recipes.recipe("vgg16", "book").lr_autoencoder == 1e-3
    with pytest.raises(ReproError, match="Unknown recipe"):
        head_recipes.recipe("vgg16", "keras")
    with pytest.raises(ReproError, match="must be one of"):
        head_recipes.recipe("vgg16", head="big")
    with pytest.raises(ReproError, match="No Table I recipe"):
        head_recipes.recipe("resnet1000")
    with pytest.raises(ReproError, match="Unknown recipe field"):
        head_recipes.recipe("vgg16", learning_rate=1)


def test_training_learns_separable_features():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 160)
    x = rng.normal(size=(160, 4, 8, 8)).astype(np.float32)
    x[:, 0] += (2 * y - 1)[:, None, None] * 1.5  # class signal in channel 0
    r = head_recipes.recipe(
        "alexnet", "book", lr_autoencoder=3e-3, lr_classifier=3e-3, epochs=6, batch_size=16
    )
    head, hist = sm.train_head(x[:120], y[:120], x[120:], y[120:], recipe=r, seed=0, desc="test")
    # the book recipe stops early: BOOK_PATIENCE epochs without a better validation accuracy, at most 6
    assert len(hist["val_acc"]) == min(6, hist["best_epoch"] + head_recipes.BOOK_PATIENCE)
    assert hist["val_acc"][-1] >= 0.85


def test_input_scaling_standardises_each_position_and_is_saved():
    rng = np.random.default_rng(0)
    shape = (4, 8, 8)
    common = rng.normal(size=shape) * 10  # the same layout for every sample
    x = (common + 0.05 * rng.normal(size=(64, *shape))).astype(np.float16)
    head = sh.SentimentHead(shape)
    assert torch.equal(head.input_mean, torch.zeros(shape)) and torch.equal(head.input_std, torch.ones(shape))
    head.fit_input_scaling(x[i : i + 16] for i in range(0, 64, 16))  # batches give the same stats
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
    r = head_recipes.recipe("alexnet", "book", epochs=6, batch_size=16)
    head, hist = sm.train_head(
        x[:150].astype(np.float16),
        y[:150],
        x[150:].astype(np.float16),
        y[150:],
        recipe=r,
        seed=0,
        desc="test",
    )
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
    r = head_recipes.recipe("vgg16", "book", epochs=1, batch_size=8)
    model, hist = sm.train_head(
        imgs[:16], y[:16], imgs[16:], y[16:], recipe=r, extractor=ext, scale=3, znorm_stats=(0.0, 1.0)
    )
    assert isinstance(model, sm.SentimentNet) and model.head.feature_shape == (8, 15, 15)
    assert not torch.equal(model.head.input_std, torch.ones(8, 15, 15))  # scaling fitted on features
    assert len(hist["val_acc"]) == 1
    acc = sm.predict_accuracy(model, imgs[16:], y[16:], images=True, scale=3, znorm=(0.0, 1.0))
    assert acc == pytest.approx(hist["val_acc"][-1])  # the same model on the same validation images


# ---- issue 6: Table I from the paper, the paper's head, the authors' batch-dependent choices ----


def test_paper_table_i_holds_the_papers_values():
    """Section IV.B, Table I of Benarab (CAE lr, LC lr, Val Acc); epochs / batch from the authors' code."""
    expected = {
        "alexnet": (1e-5, 5e-4, 0.81),
        "wide_resnet50_2": (5e-5, 1e-4, 0.82),
        "resnext50_32x4d": (5e-5, 1e-3, 0.82),
        "shufflenet_v2_x1_0": (5e-4, 1e-3, 0.81),
        "vgg16": (5e-5, 1e-3, 0.81),
    }
    assert set(head_recipes.PAPER_TABLE_I) == set(expected)
    for name, (ae, lc, acc) in expected.items():
        r = head_recipes.PAPER_TABLE_I[name]
        assert (r.lr_autoencoder, r.lr_classifier, r.paper_val_acc, r.paper_val_acc_std) == (
            ae,
            lc,
            acc,
            0.01,
        )
        assert (r.epochs, r.batch_size) == (15, 32)
        assert r.source.startswith("Table I") and "authors' code" in r.source
        assert (r.name, r.head, r.upsample_mode, r.znorm, r.frozen_bn) == (
            "paper",
            "paper",
            "nearest",
            "batch",
            "train",
        )
        assert head_recipes.recipe(name) == r
        b = head_recipes.BOOK_RECIPE[name]
        assert (b.lr_autoencoder, b.lr_classifier, b.epochs, b.batch_size, b.head) == (
            1e-3,
            1e-4,
            20,
            64,
            "book",
        )
        assert (b.upsample_mode, b.znorm, b.frozen_bn) == ("bilinear", "global", "eval")


@pytest.mark.parametrize("shape", [(256, 38, 38), (24, 38, 38), (192, 17, 17), (64, 10, 10)])
def test_paper_head_shapes(shape):
    head = sh.PaperHead(shape)
    convs = [m for m in head.autoencoder if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [192, 128, 64, 32]
    kinds = [type(m) for m in head.autoencoder]
    assert kinds == [nn.Conv2d, nn.ReLU, nn.BatchNorm2d] * 4  # conv, ReLU, BatchNorm (the text)
    lin = [m for m in head.classifier.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(3200, 700), (700, 50), (50, 2)]
    drops = [m for m in head.classifier.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 2 and all(d.p == pytest.approx(0.3) for d in drops)
    seq = list(head.classifier.net)
    assert isinstance(seq[seq.index(drops[0]) + 1], nn.Linear) and isinstance(seq[-1], nn.Linear)
    assert head(torch.randn(3, *shape)).shape == (3, 2)


def test_paper_head_xavier_init():
    torch.manual_seed(0)
    head = sh.PaperHead((24, 20, 20))
    gain = 2**0.5
    for m in head.modules():
        if isinstance(m, nn.Linear):
            bound = gain * (6 / (m.in_features + m.out_features)) ** 0.5
            assert float(m.weight.detach().abs().max()) <= bound + 1e-6
            assert float(m.weight.detach().abs().max()) > 0.8 * bound
            # the authors' code leaves PyTorch's default bias init: uniform(+-1/sqrt(fan_in)), not zero
            assert torch.count_nonzero(m.bias) > 0
            assert float(m.bias.detach().abs().max()) <= m.in_features**-0.5 + 1e-6
        if isinstance(m, nn.Conv2d):
            fan_in, fan_out = m.in_channels * 16, m.out_channels * 16
            std = (2 / (fan_in + fan_out)) ** 0.5  # xavier_normal_
            assert float(m.weight.detach().std()) == pytest.approx(std, rel=0.05)
            assert torch.count_nonzero(m.bias) > 0
    assert not hasattr(head, "input_mean")  # no input standardisation


def test_paper_std_head_is_the_paper_head_behind_the_standardisation():
    shape = (6, 12, 12)
    torch.manual_seed(0)
    plain = sh.make_head("paper", shape)
    torch.manual_seed(0)
    std = sh.make_head("paper+std", shape)
    assert isinstance(std, sh.PaperStdHead) and isinstance(std, sh.PaperHead)
    # same trainable parameters, same initial values: only the fixed scaling differs
    assert [n for n, _ in plain.named_parameters()] == [n for n, _ in std.named_parameters()]
    for a, b in zip(plain.parameters(), std.parameters()):
        assert torch.equal(a, b)
    rng = np.random.default_rng(0)
    shared = rng.normal(5.0, 1.0, shape).astype(np.float32)  # a map every sample shares
    x = shared + 0.01 * rng.normal(size=(40, *shape)).astype(np.float32)
    std.fit_input_scaling(x)
    torch.testing.assert_close(std.input_mean, torch.as_tensor(x.mean(0)), atol=1e-4, rtol=0)
    plain.eval(), std.eval()
    xt = torch.as_tensor(x[:4])
    torch.testing.assert_close(std(xt), plain((xt - std.input_mean) / std.input_std))
    assert "input_mean" in std.state_dict() and "input_mean" not in plain.state_dict()
    assert "paper+std" in sh.HEADS
    stages = sh.diagram_stages(
        "paper+std", shape, text_model="m", extractor="e", image_px=4, size=12, upsample_mode="nearest"
    )
    assert any(s[0].startswith("standardise") for s in stages)


def test_make_head_and_optimizer_for_both_heads():
    assert isinstance(sh.make_head("paper", (8, 16, 16)), sh.PaperHead)
    assert isinstance(sh.make_head("book", (8, 16, 16)), sh.BookHead)
    assert isinstance(sh.make_head("paper+std", (8, 16, 16)), sh.PaperStdHead)
    with pytest.raises(ReproError, match="Unknown head"):
        sh.make_head("keras", (8, 16, 16))
    head = sh.make_head("paper", (8, 16, 16))
    opt = sm.make_optimizer(head, 5e-5, 1e-3)
    assert [g["lr"] for g in opt.param_groups] == [5e-5, 1e-3]
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == sum(
        p.numel() for p in head.parameters()
    )


def test_cumulative_val_acc_is_the_authors_never_reset_counter():
    acc = [0.5, 0.7, 0.9]
    # their counters: correct and total summed over all epochs' validation passes (same set size)
    n = 200
    correct = np.cumsum([a * n for a in acc])
    total = np.cumsum([n] * 3)
    np.testing.assert_allclose(sm.cumulative_val_acc(acc), correct / total)
    assert sm.cumulative_val_acc(acc)[-1] < acc[-1]
    assert sm.cumulative_val_acc([]) == []


def test_train_mode_bn_follows_the_model_mode_like_the_authors_loop():
    torch.manual_seed(0)
    ext = _frozen_bn_extractor().eval()
    before = ext[1].running_mean.clone()
    images = torch.randn(6, 3, 30, 30) * 3 + 1
    shape = tuple(ext(images).shape[1:])
    net = sm.SentimentNet(ext, sh.make_head("paper", shape), frozen_bn="train")
    net.train()  # training step: batch statistics
    assert net.extractor[1].training and not any(p.requires_grad for p in net.extractor.parameters())
    with torch.no_grad():
        bn = net.extractor[1](net.extractor[0](images))
    torch.testing.assert_close(bn.mean((0, 2, 3)), net.extractor[1].bias, atol=1e-4, rtol=0)
    assert not torch.equal(net.extractor[1].running_mean, before)  # running statistics moved
    net.eval()  # validation: the moved running statistics
    assert not net.extractor[1].training
    assert not ext[1].training and torch.equal(ext[1].running_mean, before)  # the original is untouched
    eval_net = sm.SentimentNet(ext, sh.make_head("paper", shape))
    eval_net.train()
    assert not eval_net.extractor[1].training


def test_batch_stat_bn_keeps_running_statistics():
    ext = _frozen_bn_extractor().eval()
    before = ext[1].running_mean.clone()
    sm.batch_stat_bn_(ext)
    with torch.no_grad():
        out = ext[1](ext[0](torch.randn(4, 3, 20, 20) + 2))
    torch.testing.assert_close(out.mean((0, 2, 3)), ext[1].bias, atol=1e-4, rtol=0)
    assert torch.equal(ext[1].running_mean, before)


def test_image_loader_per_batch_z_and_nearest_upsampling():
    rng = np.random.default_rng(0)
    imgs = rng.uniform(0, 1, size=(8, 5, 5)).astype(np.float32) + np.arange(8)[:, None, None]
    y = np.zeros(8)
    xb, _ = next(
        iter(sm.image_loader(imgs, y, batch_size=4, shuffle=False, scale=3, mode="nearest", znorm="batch"))
    )
    assert xb.shape == (4, 3, 15, 15)
    assert float(xb.mean()) == pytest.approx(0, abs=1e-5) and float(
        xb[:, 0].std(unbiased=False)
    ) == pytest.approx(1, abs=1e-4)
    assert torch.equal(xb[:, :, 0:3, 0:3], xb[:, :, 0:1, 0:1].expand(-1, -1, 3, 3))  # 3x3 blocks
    xg, _ = next(iter(sm.image_loader(imgs, y, batch_size=4, shuffle=False, scale=3, znorm=(0.0, 1.0))))
    assert float(xg.mean()) > 1  # global: the batch keeps its offset


def test_cached_path_refuses_batch_dependent_recipe_and_end_to_end_runs_it():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 24)
    with pytest.raises(ReproError, match="end to end"):
        sm.train_head(
            np.zeros((24, 4, 12, 12), np.float32),
            y,
            np.zeros((8, 4, 12, 12), np.float32),
            y[:8],
            recipe=head_recipes.recipe("alexnet", epochs=1),
        )
    imgs = rng.uniform(0, 1, size=(24, 10, 10)).astype(np.float32)
    ext = _frozen_bn_extractor()
    r = head_recipes.recipe("alexnet", epochs=1, batch_size=8)  # paper: per-batch Z, train-mode BN
    model, hist = sm.train_head(imgs[:16], y[:16], imgs[16:], y[16:], recipe=r, extractor=ext, scale=2)
    assert isinstance(model, sm.SentimentNet) and isinstance(model.head, sh.PaperHead)
    assert model.frozen_bn == "train" and len(hist["val_acc"]) == 1
    with pytest.raises(ReproError, match="znorm_stats"):
        sm.train_head(
            imgs[:16],
            y[:16],
            imgs[16:],
            y[16:],
            recipe=head_recipes.recipe("alexnet", "book", epochs=1),
            extractor=ext,
            scale=2,
        )


def test_batch_dependence_measures_every_authors_variant():
    rng = np.random.default_rng(0)
    imgs = rng.uniform(0, 1, size=(64, 10, 10)).astype(np.float32)
    ext = _frozen_bn_extractor().eval()
    before = ext[1].running_mean.clone()
    mean, std = float(imgs.mean()), float(imgs.std())
    rows = {
        r["variant"]: r
        for r in sm.batch_dependence(ext, imgs, mean, std, batch_size=16, n_batches=2, scale=2)
    }
    assert len(rows) == 3
    assert all(r["relative difference"] > 1e-3 for r in rows.values())
    assert all(
        r["change of the deviations"] <= r["relative to the reviews' deviations"] + 1e-9
        for r in rows.values()
    )
    assert not ext[1].training and torch.equal(
        ext[1].running_mean, before
    )  # the given extractor is untouched


def test_part_counts_text_says_when_there_is_no_test_part(tmp_path):
    import json

    import pandas as pd

    leakfree = pd.DataFrame({"part": ["train"] * 8 + ["val"] * 2 + ["test"] * 3})
    assert review_split.part_counts_text(leakfree) == "8 train / 2 validation / 3 test reviews"
    paper = pd.DataFrame({"part": ["train"] * 40000 + ["val"] * 10000})
    assert review_split.part_counts_text(paper) == "40,000 train / 10,000 validation reviews, no test part"
    (tmp_path / "artifact.json").write_text(json.dumps({"params": {"split": "paper"}}))
    assert review_split.split_name(tmp_path) == "paper"
    (tmp_path / "artifact.json").write_text(json.dumps({"params": {}}))
    assert review_split.split_name(tmp_path) == "leakfree"


def test_book_head_scaling_sees_the_training_features_with_train_mode_bn():
    """With frozen_bn='train' the fixed standardisation must come from batch-statistics features
    (what training feeds the head), not from the ImageNet running statistics."""
    torch.manual_seed(0)
    ext = _frozen_bn_extractor().eval()
    with torch.no_grad():
        ext[1].running_mean.fill_(50.0)  # statistics that do not fit the images
    rng = np.random.default_rng(0)
    imgs = rng.uniform(0, 1, size=(32, 10, 10)).astype(np.float32)
    y = rng.integers(0, 2, 32)
    r = head_recipes.recipe("alexnet", "book", epochs=0, batch_size=16, znorm="batch", frozen_bn="train")
    model, _ = sm.train_head(imgs, y, imgs[:8], y[:8], recipe=r, extractor=ext, scale=2)
    bn = sm.batch_stat_bn_(__import__("copy").deepcopy(ext))
    xb, _ = next(iter(sm.image_loader(imgs, y, batch_size=16, shuffle=False, scale=2, znorm="batch")))
    with torch.no_grad():
        z = (bn(xb) - model.head.input_mean) / model.head.input_std
    assert float(z.abs().mean()) < 3  # standardised, not shifted by ~50 / std


def test_paper_head_learns_separable_features():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 160)
    x = rng.normal(size=(160, 4, 12, 12)).astype(np.float32)
    x[:, 0] += (2 * y - 1)[:, None, None] * 1.5  # class signal in channel 0
    r = head_recipes.recipe("shufflenet_v2_x1_0", epochs=4, batch_size=16, znorm="global", frozen_bn="eval")
    head, hist = sm.train_head(x[:120], y[:120], x[120:], y[120:], recipe=r, seed=0, desc="test")
    assert isinstance(head, sh.PaperHead)
    assert hist["val_acc"][-1] >= 0.9
