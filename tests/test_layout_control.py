"""The book's layout control (issue 14, item 4): notebook 02's images with the features on
permuted pixels (helpers/paper_a/layouts.py), extracted in notebook 03 (feature_cache), trained
and answered in notebook 04 (head_recipes, tables_a, book.answers)."""

import json

import numpy as np
import pytest
import torch
from test_answers import _a1, _record

from helpers.book import answers
from helpers.core import weights
from helpers.core.errors import ReproError
from helpers.paper_a import deepinsight, facts, feature_cache, frozen_slices, head_recipes, layouts


@pytest.fixture(scope="module")
def fitted():
    x = np.random.default_rng(0).normal(size=(40, 60)).astype(np.float32)
    return deepinsight.DeepInsight(pixels=10, seed=3, perplexity=5).fit(x[:30]), x


def _naive(di, coords, x):
    """Each pixel: the mean of the scaled values of the features placed on it (equation
    eq-deepinsight, written as a loop over pixels with the given positions)."""
    x_norm = di._normalise(x)
    h, w = di.transformer.pixels
    out = np.zeros((len(x), h, w))
    for r, c in {tuple(p) for p in coords.astype(int)}:
        cols = np.flatnonzero((coords[:, 0] == r) & (coords[:, 1] == c))
        out[:, r, c] = x_norm[:, cols].mean(axis=1)
    return out


def test_the_control_moves_every_feature_but_keeps_the_pixels_occupancy(fitted):
    di, x = fitted
    control = layouts.permuted_layout(di, seed=5)
    assert sorted(control.permutation) == list(range(x.shape[1]))
    moved = (control.permuted_coords != di.coords).any(axis=1)
    assert moved.mean() > 0.5  # most features sit elsewhere
    occupancy = lambda c: np.bincount(c[:, 0].astype(int) * 10 + c[:, 1].astype(int), minlength=100)  # noqa: E731
    np.testing.assert_array_equal(occupancy(control.permuted_coords), occupancy(di.coords))
    images = control.transform(x)
    np.testing.assert_allclose(images, _naive(di, control.permuted_coords, x), rtol=0, atol=1e-6)
    assert not np.allclose(images, di.transform(x))  # a different image ...
    np.testing.assert_array_equal(
        di.transform(x), _naive(di, di.coords, x).astype(np.float32)
    )  # ... di untouched
    same = layouts.permuted_layout(di, seed=5).transform(x)
    np.testing.assert_array_equal(images, same)  # one fixed permutation per seed
    assert not np.array_equal(images, layouts.permuted_layout(di, seed=6).transform(x))


def test_notebook02_stores_the_control_images_with_their_own_training_statistics(fitted):
    di, x = fitted
    part = np.array(["train"] * 30 + ["val"] * 10)
    assert layouts.layout_control(di, x, part, seed=None) == {}
    out = layouts.layout_control(di, x, part, seed=5)
    np.testing.assert_array_equal(out["images_layout"], layouts.permuted_layout(di, 5).transform(x))
    z = out["znorm_layout"]
    assert z["seed"] == 5 and z["mean"] == pytest.approx(float(out["images_layout"][:30].mean()))
    with pytest.raises(ReproError, match="fitted DeepInsight"):
        layouts.permuted_layout(deepinsight.DeepInsight(pixels=10), seed=0)


def test_notebook03_extracts_the_control_from_its_images_and_notebook04_trains_it(tmp_path):
    ext, _ = frozen_slices.frozen_extractor("alexnet", allow_standin=True)
    with pytest.raises(ReproError, match="layout_control='vgg16' must be one of extractors"):
        feature_cache.extraction_jobs({"alexnet": ext}, "", seed=0, device="cpu", layout_control="vgg16")
    jobs = feature_cache.extraction_jobs(
        {"alexnet": ext}, "alexnet", seed=0, device="cpu", layout_control="alexnet"
    )
    assert list(jobs) == ["alexnet", "alexnet_random", "alexnet_layout"] and jobs["alexnet_layout"] is ext
    rng = np.random.default_rng(1)
    images, control = rng.random((6, 50, 50), dtype=np.float32), rng.random((6, 50, 50), dtype=np.float32)
    up02 = tmp_path / "02"
    up02.mkdir()
    assert feature_cache.layout_images(up02) is None
    with pytest.raises(ReproError, match="no layout-control images"):
        feature_cache.job_images("alexnet_layout", images, None)
    np.save(up02 / "images.npy", images)
    np.save(up02 / "images_layout.npy", control)
    (up02 / "znorm.json").write_text(json.dumps({"mean": 0.4, "std": 0.2}))
    (up02 / "znorm_layout.json").write_text(json.dumps({"mean": 0.5, "std": 0.3, "seed": 0}))
    layout_z = feature_cache.layout_images(up02)
    np.testing.assert_allclose(layout_z, (control - 0.5) / 0.3, rtol=1e-6)
    assert feature_cache.job_images("alexnet_layout", images, layout_z) is layout_z
    assert feature_cache.job_images("alexnet_random", images, layout_z) is images

    # end to end (notebook 03 did not cache): the runs' global Z with the t-SNE images' statistics
    # gives the control images their own Z-normalisation
    up03 = tmp_path / "03"
    up03.mkdir()
    choice = weights.ModelChoice("alexnet", "stand-in slice", True, "ImageNet", "test")
    params = {
        "extractors": ["alexnet"],
        "random_control": "",
        "layout_control": "alexnet",
        "upsample": 3,
        "upsample_mode": "bilinear",
        "compute_dtype": "float32",
        "cache_features": False,
    }
    feature_cache.write_meta(up03, params, jobs, [choice], 150)
    meta = json.loads((up03 / "extractors.json").read_text())
    assert meta["layout_control"] == "alexnet"
    inputs = feature_cache.RowInputs(up02, up03, [choice], seed=0, device="cpu")
    x, extractor = inputs("alexnet_layout")
    np.testing.assert_allclose((x - 0.4) / 0.2, layout_z, atol=1e-5)
    assert torch.equal(next(extractor.parameters()), next(ext.parameters()))  # the ImageNet slice
    x, _ = inputs("alexnet")
    np.testing.assert_array_equal(x, images)

    runs = head_recipes.plan_runs(
        meta,
        ["book"],
        [],
        include_random_control=True,
        paper_head_rows=None,
        epochs=1,
        batch_size=None,
        lr_autoencoder=None,
        lr_classifier=None,
    )
    assert [row for row, _ in runs.values()] == ["alexnet", "alexnet_layout"]
    assert runs["alexnet_layout | book recipe | book head"][1] == runs["alexnet | book recipe | book head"][1]
    assert facts.slice_of("alexnet_layout") == facts.slice_of("alexnet_random") == "alexnet"


def test_the_layout_question_gets_its_own_verdict():
    rec = _record(alexnet=(0.85, 0.852))
    rec["tables"]["A1"].append(_a1("alexnet_layout | paper recipe | book head", (0.70, 0.702)))
    text = answers.paper_a(rec)
    assert (
        "**Does the DeepInsight layout matter?** *alexnet | paper recipe | book head* 0.851 against 0.701"
        in text
    )
    assert "layout control (features on permuted pixels): yes (+15.0 points" in text
    same = _record(alexnet=(0.71, 0.72))
    same["tables"]["A1"].append(_a1("alexnet_layout | paper recipe | book head", (0.70, 0.72)))
    assert "permuted pixels): not determined (" in answers.paper_a(same)
    old = answers.paper_a(_record())
    assert (
        "**Does the DeepInsight layout matter?** Not determined: the recorded run has no such control" in old
    )
    # the control is never counted among the ImageNet rows
    assert "the 2 runs on ImageNet slices" in text
