"""DeepInsight (notebook 02_deepinsight): the paper's t-SNE, the corrected bounding rectangle,
the fast transform identical to pyDeepInsight's, the two splits."""

import numpy as np
import pytest

from helpers.core.errors import ReproError
from helpers.paper_a import deepinsight, preprocess, review_split


def _matrix(n=40, d=60, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32)


def test_images_identical_to_pydeepinsight_with_its_rectangle():
    from pyDeepInsight import ImageTransformer
    from pyDeepInsight.utils import Norm2Scaler

    x = _matrix()
    train, test = x[:30], x[30:]
    ours = deepinsight.DeepInsight(pixels=12, seed=7, perplexity=5, bounding_rectangle="pydeepinsight").fit(
        train
    )

    scaler = Norm2Scaler()
    ref = ImageTransformer(feature_extractor=deepinsight.make_tsne(7, perplexity=5), pixels=12)
    ref.fit(scaler.fit_transform(train.astype(np.float64)))
    with np.errstate(invalid="ignore"):
        test_norm = np.nan_to_num(scaler.transform(test.astype(np.float64)), nan=0.0)
    expected = ref.transform(test_norm, img_format="scalar")

    got = ours.transform(test)
    assert got.shape == (10, 12, 12)
    assert np.array_equal(got, expected.astype(np.float32))
    assert np.array_equal(ours.coords, ref.coords())


def test_paper_tsne_recipe():
    """The paper's t-SNE (issue 6): Euclidean, random init, learning rate 200, seed 1701."""
    assert deepinsight.PAPER_TSNE["metric"] == "euclidean"
    assert deepinsight.PAPER_TSNE["random_state"] == 1701
    tsne = deepinsight.make_tsne()
    assert (tsne.metric, tsne.init, tsne.learning_rate, tsne.perplexity, tsne.random_state) == (
        "euclidean",
        "random",
        200.0,
        30.0,
        1701,
    )
    di = deepinsight.DeepInsight()
    assert (di.metric, di.init, di.learning_rate, di.seed) == ("euclidean", "random", 200.0, 1701)
    assert deepinsight.make_tsne(metric="cosine").metric == "cosine"


def _rotated_rectangle(angle_deg, w=4.0, h=1.0, n=200, seed=0):
    rng = np.random.default_rng(seed)
    pts = np.vstack([[[0, 0], [w, 0], [w, h], [0, h]], rng.uniform([0, 0], [w, h], size=(n, 2))])
    t = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return pts @ rot.T + [3.0, -2.0]


@pytest.mark.parametrize("angle", [0, 5, 10, 30, 45, 60, 80, 100, 135, 170])
def test_minimum_bounding_rectangle_of_rotated_rectangles(angle):
    pts = _rotated_rectangle(angle)
    corners, rotation = deepinsight.minimum_bounding_rectangle(pts)
    assert deepinsight.rectangle_area(pts, rotation) == pytest.approx(4.0, rel=1e-9)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(2), atol=1e-12)
    side = np.linalg.norm(np.diff(np.vstack([corners, corners[:1]]), axis=0), axis=1)
    assert sorted(side.round(9)) == [1.0, 1.0, 4.0, 4.0]


@pytest.mark.parametrize("angle, library_area", [(10, 9.464), (5, 6.907), (30, 11.361)])
def test_pydeepinsight_rectangle_is_wrong(angle, library_area):
    """Documents the bug of pyDeepInsight 0.2.3 (issue 6): the same rotated 4 x 1 rectangles
    get a box more than twice too large.  If this fails, the library was fixed."""
    pts = _rotated_rectangle(angle)
    _, rotation = deepinsight.library_bounding_rectangle(pts)
    area = deepinsight.rectangle_area(pts, rotation)
    assert area == pytest.approx(library_area, abs=1e-3)
    assert area > 6


def test_corrected_layout_differs_only_by_the_rectangle():
    x = _matrix(n=40, d=80, seed=3)
    lib = deepinsight.DeepInsight(pixels=10, seed=2, perplexity=5, bounding_rectangle="pydeepinsight").fit(x)
    cor = lib.with_rectangle("corrected")
    assert cor.embedding is lib.embedding and cor.scaler is lib.scaler
    _, rot_lib = deepinsight.library_bounding_rectangle(lib.embedding)
    _, rot_cor = deepinsight.minimum_bounding_rectangle(lib.embedding)
    np.testing.assert_allclose(lib.transformer._xrot, lib.embedding @ rot_lib.T, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(cor.transformer._xrot, lib.embedding @ rot_cor.T, rtol=1e-5, atol=1e-4)
    assert (
        deepinsight.rectangle_area(lib.embedding, rot_cor)
        <= deepinsight.rectangle_area(lib.embedding, rot_lib) + 1e-9
    )
    with pytest.raises(ReproError, match="bounding_rectangle"):
        deepinsight.DeepInsight(bounding_rectangle="tight")


def test_fast_transform_equals_library_transform_exactly():
    """``transform`` (vectorised) == ``transform_reference`` (pyDeepInsight's loop), bit for bit,
    on [CLS]-like data: heavy-tailed columns, many features per pixel, rows outside the fitted
    range (NaN path) and a chunk size that splits the rows unevenly."""
    rng = np.random.default_rng(5)
    x = (rng.standard_t(3, size=(300, 6, 64)) * rng.uniform(0.1, 5, size=(1, 6, 64))).astype(np.float32)
    x[:, 2, 7] += 40.0  # one outlier dimension, as in BERT

    class RandomLayout:
        def fit_transform(self, xt):
            return np.random.default_rng(0).normal(size=(xt.shape[0], 2)) * [3, 1]

    for rect in deepinsight.BOUNDING_RECTANGLES:
        di = deepinsight.DeepInsight(pixels=9, bounding_rectangle=rect, chunk_rows=70)
        di.fit(x[:200], feature_extractor=RandomLayout())
        assert di.feature_density().max() >= 8
        rest = x[200:].copy()
        rest[::3, 0, ::4] -= 100.0  # far below the fitted minimum
        fast, ref = di.transform(rest), di.transform_reference(rest)
        assert fast.dtype == ref.dtype == np.float32
        assert np.array_equal(fast, ref)
        assert np.array_equal(di.transform(x[:200]), di.transform_reference(x[:200]))


def test_occupancy_counts():
    density = np.zeros((4, 4))
    density[0, 0], density[1, 2], density[3, 3] = 1, 4, 7
    occ = deepinsight.occupancy(density)
    assert occ["empty pixels"] == 13 and occ["max features in a pixel"] == 7
    assert occ["mean features per used pixel"] == 4.0


def test_paper_split_is_random_split_of_all_reviews():
    import torch
    from torch.utils.data import random_split

    official = np.array(["train"] * 60 + ["test"] * 40)
    labels = np.arange(100) % 2
    part = review_split.assign_parts(official, labels, split="paper", val_fraction=0.2)
    assert set(part) == {"train", "val"} and (part == "val").sum() == 20
    train, val = random_split(range(100), [80, 20], generator=torch.Generator().manual_seed(42))
    assert sorted(np.flatnonzero(part == "val")) == sorted(val.indices)
    assert (part[official == "test"] == "val").any() and (part[official == "test"] == "train").any()


def test_leakfree_split_keeps_official_test_apart():
    official = np.array(["train"] * 60 + ["test"] * 40)
    labels = np.arange(100) % 2
    part = review_split.assign_parts(official, labels, split="leakfree", val_fraction=0.25)
    assert (part[official == "test"] == "test").all()
    assert (part == "val").sum() == 15 and (part == "train").sum() == 45
    with pytest.raises(ReproError, match="split must be"):
        review_split.assign_parts(official, labels, split="random")


def test_pixel_probe_reads_a_planted_pixel():
    rng = np.random.default_rng(0)
    labels = np.arange(200) % 2
    images = rng.uniform(size=(200, 5, 5))
    images[:, 2, 3] += labels * 2.0
    acc = deepinsight.pixel_probe(images, labels, np.arange(150), np.arange(150, 200))
    assert acc > 0.95
    noise = deepinsight.pixel_probe(
        rng.uniform(size=(200, 5, 5)), labels, np.arange(150), np.arange(150, 200)
    )
    assert noise < 0.8


def test_same_seed_same_layout_and_flattening_of_layers():
    x = _matrix(d=48).reshape(40, 4, 12)  # (n, layers, hidden) like the [CLS] stack
    a = deepinsight.DeepInsight(pixels=10, seed=3, perplexity=5).fit(x[:30])
    b = deepinsight.DeepInsight(pixels=10, seed=3, perplexity=5).fit(x[:30].reshape(30, -1))
    assert np.array_equal(a.coords, b.coords)
    assert a.coords.shape == (48, 2)


class _SpyTSNE:
    """Feature extractor that records what DeepInsight fits it on."""

    def __init__(self):
        self.seen_shape = None

    def fit_transform(self, x):
        self.seen_shape = x.shape
        rng = np.random.default_rng(0)
        return rng.normal(size=(x.shape[0], 2))


def test_fit_sees_only_training_rows():
    x = _matrix(n=50, d=30)
    spy = _SpyTSNE()
    di = deepinsight.DeepInsight(pixels=8).fit(x[:35], feature_extractor=spy)
    # t-SNE runs on the transposed matrix: one point per feature, one dimension per training row
    assert spy.seen_shape == (30, 35)
    assert di.n_fit_rows == 35
    # the scaler too: its per-feature minimum is the training minimum
    np.testing.assert_allclose(di.scaler._min0, x[:35].min(axis=0))


def test_transform_before_fit_is_a_clear_error():
    with pytest.raises(ReproError, match="before fit"):
        deepinsight.DeepInsight().transform(_matrix())


def test_z_normalisation_uses_training_statistics():
    rng = np.random.default_rng(1)
    train = rng.uniform(size=(20, 5, 5))
    mean, std = preprocess.z_stats(train)
    z = preprocess.z_normalize(train, mean, std)
    assert abs(z.mean()) < 1e-5 and abs(z.std() - 1) < 1e-4
    other = preprocess.z_normalize(train + 1.0, mean, std)
    assert other.mean() == pytest.approx(1.0 / std, rel=1e-4)


def test_upsample_to_three_channel_150px():
    imgs = np.random.default_rng(2).uniform(size=(3, 50, 50)).astype(np.float32)
    up = preprocess.upsample(imgs)
    assert tuple(up.shape) == (3, 3, 150, 150)
    assert (up[:, 0] == up[:, 2]).all()
    assert abs(float(up.mean()) - float(imgs.mean())) < 1e-2
