"""Notebook 04's cached path on the float16 features notebook 03 stores equals the paper's
end-to-end path (issue 9, item 6).

Notebook 03 saves the frozen extractor's output as float16 (``module(x).numpy().astype(np.float16)``);
notebook 04 trains the head on those, while the paper trained end to end (images -> frozen slice
-> head, float32 throughout). These tests compare exactly that: the real stand-in extractor the
CPU build runs (AlexNet's packaged MobileNetV2 slice), float16 storage, and ``train_head`` on both
paths. With float32 features the two paths agree to rounding; float16 storage adds a relative
error of about 2^-11 per value, which must not change predictions or the learning curve.
"""

import json

import numpy as np
import pytest
import torch

from helpers.core import weights
from helpers.core.errors import ReproError
from helpers.paper_a import feature_cache, frozen_slices, head_recipes, preprocess
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


def test_notebook03_cache_resumes_records_what_ran_and_notebook04_reads_it_back(data, tmp_path):
    """feature_cache: the jobs (slices plus the random control), the chunked extraction (resumed
    from its scratch chunks), the record beside the features, and RowInputs on both paths."""
    imgs, _, ext, f32, _ = data
    choice = weights.ModelChoice("alexnet", "stand-in slice", True, "ImageNet", "test")
    with pytest.raises(ReproError, match="random_control='vgg16' must be one of extractors"):
        feature_cache.extraction_jobs({"alexnet": ext}, "vgg16", seed=0, device="cpu")
    jobs = feature_cache.extraction_jobs({"alexnet": ext}, "alexnet", seed=0, device="cpu")
    assert list(jobs) == ["alexnet", "alexnet_random"] and jobs["alexnet"] is ext
    kw = dict(scale=3, mode="bilinear", batch_size=32, device="cpu", dtype="float32")
    feats = feature_cache.extract_in_chunks(ext, imgs, tmp_path / "scratch", **kw)
    assert feats.dtype == np.float16 and feats.shape == f32.shape
    np.testing.assert_array_equal(feats, frozen_slices.extract_features(ext, imgs, **kw))
    chunk = next((tmp_path / "scratch").glob("chunk_*.npy"))
    np.save(chunk, np.zeros_like(np.load(chunk)))  # a finished chunk is read, not computed again
    assert not feature_cache.extract_in_chunks(ext, imgs, tmp_path / "scratch", **kw).any()

    up02, up03 = tmp_path / "02", tmp_path / "03"
    up02.mkdir(), up03.mkdir()
    np.save(up02 / "images.npy", imgs)
    (up02 / "znorm.json").write_text(json.dumps({"mean": 0.0, "std": 1.0}))
    np.save(up03 / "features_alexnet.npy", feats)
    params = {
        "extractors": ["alexnet"],
        "random_control": "alexnet",
        "upsample": 3,
        "upsample_mode": "bilinear",
        "compute_dtype": "float32",
        "cache_features": True,
    }
    feature_cache.write_meta(up03, params, jobs, [choice], 150)
    meta = json.loads((up03 / "extractors.json").read_text())
    assert meta["shapes"] == {n: list(f32.shape[1:]) for n in jobs} and meta["znorm"] == "global"
    assert weights.load_choices(up03 / "models.json") == [choice]
    cached = feature_cache.RowInputs(up02, up03, [choice], seed=0, device="cpu")
    x, extractor = cached("alexnet")
    assert cached.cached and cached.znorm is None and extractor is None
    assert isinstance(x, np.memmap) and x.shape == feats.shape
    feature_cache.write_meta(up03, {**params, "cache_features": False}, jobs, [choice], 150)
    end_to_end = feature_cache.RowInputs(up02, up03, [choice], seed=0, device="cpu")
    x, extractor = end_to_end("alexnet_random")
    assert not end_to_end.cached and end_to_end.znorm == {"mean": 0.0, "std": 1.0}
    np.testing.assert_array_equal(x, imgs)
    assert not any(p.requires_grad for p in extractor.parameters())
    assert not torch.equal(next(extractor.parameters()), next(ext.parameters()))  # re-initialised


def test_extractor_table_counts_the_slice_and_both_heads(data):
    _, _, ext, f32, _ = data
    choice = weights.ModelChoice("alexnet", "stand-in slice (x)", True, "ImageNet", "test")
    table = feature_cache.extractor_table({"alexnet": ext}, [choice], 150)
    row = table.iloc[0]
    assert row["paper's model"] == "alexnet" and row["output (C, H, W)"] == str(tuple(f32.shape[1:]))
    assert row["frozen parameters"] == sum(p.numel() for p in ext.parameters())
    assert row["book head parameters"] == sum(
        p.numel() for p in sh.make_head("book", tuple(f32.shape[1:])).parameters()
    )
