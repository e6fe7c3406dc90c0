"""DeepInsight wrapper (notebook 02_deepinsight): same images as pyDeepInsight, fit on train only."""
import numpy as np
import pytest

from helpers import deepinsight
from helpers.errors import ReproError


def _matrix(n=40, d=60, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32)


def test_images_identical_to_pydeepinsight():
    from pyDeepInsight import ImageTransformer
    from pyDeepInsight.utils import Norm2Scaler

    x = _matrix()
    train, test = x[:30], x[30:]
    ours = deepinsight.DeepInsight(pixels=12, seed=7, perplexity=5).fit(train)

    scaler = Norm2Scaler()
    ref = ImageTransformer(feature_extractor=deepinsight.make_tsne(7, perplexity=5), pixels=12)
    ref.fit(scaler.fit_transform(train.astype(np.float64)))
    with np.errstate(invalid="ignore"):
        test_norm = np.nan_to_num(scaler.transform(test.astype(np.float64)), nan=0.0)  # paper: fillna(0)
    expected = ref.transform(test_norm, img_format="scalar")

    got = ours.transform(test)
    assert got.shape == (10, 12, 12)
    np.testing.assert_allclose(got, expected.astype(np.float32), rtol=0, atol=1e-6)
    assert np.array_equal(ours.coords, ref.coords())


def test_same_seed_same_layout_and_flattening_of_layers():
    x = _matrix(d=48).reshape(40, 4, 12)         # (n, layers, hidden) like the [CLS] stack
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
    mean, std = deepinsight.z_stats(train)
    z = deepinsight.z_normalize(train, mean, std)
    assert abs(z.mean()) < 1e-5 and abs(z.std() - 1) < 1e-4
    other = deepinsight.z_normalize(train + 1.0, mean, std)
    assert other.mean() == pytest.approx(1.0 / std, rel=1e-4)


def test_upsample_to_three_channel_150px():
    imgs = np.random.default_rng(2).uniform(size=(3, 50, 50)).astype(np.float32)
    up = deepinsight.upsample(imgs)
    assert tuple(up.shape) == (3, 3, 150, 150)
    assert (up[:, 0] == up[:, 2]).all()
    assert abs(float(up.mean()) - float(imgs.mean())) < 1e-2
