"""Notebook 04's cached path on the float16 features notebook 03 stores equals the paper's
end-to-end path (issue 9, item 6).

Notebook 03 saves the frozen extractor's output as float16 (``module(x).numpy().astype(np.float16)``);
notebook 04 trains the head on those, while the paper trained end to end (images -> frozen slice
-> head, float32 throughout). These tests compare exactly that: the real stand-in extractor the
CPU build runs (AlexNet's packaged MobileNetV2 slice), float16 storage, and ``train_head`` on both
paths. With float32 features the two paths agree to rounding; float16 storage adds a relative
error of about 2^-11 per value, which must not change predictions or the learning curve.
"""

import numpy as np
import pytest
import torch

from helpers.paper_a import frozen_slices, head_recipes, preprocess
from helpers.paper_a import sentiment_heads as sh
from helpers.paper_a import sentiment_model as sm


@pytest.fixture(scope="module")
def data():
    """Z-normalised-like grey 50 x 50 images with a learnable label, the real stand-in extractor,
    and its features stored as notebook 03 stores them."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    imgs = rng.normal(size=(80, 50, 50)).astype(np.float32)
    imgs[:, 10:25, 10:25] += np.where(y[:, None, None] == 1, 1.5, -1.5)
    ext, _ = frozen_slices.frozen_extractor("alexnet", allow_standin=True)
    with torch.no_grad():
        f32 = ext(preprocess.upsample(imgs, 3)).numpy()
    return imgs, y, ext, f32, f32.astype(np.float16)


def test_stored_features_are_float16_and_close(data):
    _, _, _, f32, f16 = data
    assert f16.dtype == np.float16
    rel = np.abs(f16.astype(np.float32) - f32) / np.maximum(np.abs(f32), 1e-4)
    assert float(rel[np.abs(f32) > 1e-3].max()) <= 2**-11 + 1e-7  # round to nearest half


def test_head_on_float16_features_equals_end_to_end_forward(data):
    imgs, _, ext, f32, f16 = data
    torch.manual_seed(0)
    head = sh.SentimentHead(f16.shape[1:])
    head.fit_input_scaling(f16[i : i + 32] for i in range(0, len(f16), 32))  # as train_head does
    ref = sh.SentimentHead(f32.shape[1:])
    ref.fit_input_scaling([f32])
    torch.testing.assert_close(head.input_mean, ref.input_mean, rtol=0, atol=2e-3)
    torch.testing.assert_close(head.input_std, ref.input_std, rtol=2e-3, atol=0)
    head.eval()
    net = sm.SentimentNet(ext, head).eval()
    with torch.no_grad():
        end_to_end = net(preprocess.upsample(imgs, 3))
        cached = head(torch.from_numpy(f16).float())
    torch.testing.assert_close(cached, end_to_end, rtol=0, atol=2e-3)
    assert torch.equal(cached.argmax(1), end_to_end.argmax(1))


def test_training_on_float16_features_follows_the_end_to_end_run(data):
    imgs, y, ext, _, f16 = data
    r = head_recipes.recipe("alexnet", "book", epochs=3, batch_size=16)  # the settings notebook 03 caches for
    _, cached = sm.train_head(f16[:56], y[:56], f16[56:], y[56:], recipe=r, seed=0)
    _, e2e = sm.train_head(
        imgs[:56], y[:56], imgs[56:], y[56:], recipe=r, seed=0, extractor=ext, scale=3, znorm_stats=(0.0, 1.0)
    )  # imgs are Z-normalised already
    assert cached["val_acc"] == e2e["val_acc"]  # the same predictions every epoch
    assert e2e["val_acc"][-1] >= 0.9  # and the problem was learnt
    np.testing.assert_allclose(cached["train_loss"], e2e["train_loss"], atol=0.01)
    np.testing.assert_allclose(cached["val_loss"], e2e["val_loss"], atol=0.01)
