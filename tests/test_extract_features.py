"""frozen_slices.extract_features: notebook 03's frozen features (inference_mode, channels_last, float16)."""

import numpy as np
import pytest
import torch

from helpers.core.errors import ReproError
from helpers.paper_a import frozen_slices, preprocess


def test_extract_features_matches_the_eager_forward_pass_and_fills_a_memmap(tmp_path):
    module, _ = frozen_slices.frozen_extractor("alexnet")  # packaged MobileNetV2 slice
    images = np.random.default_rng(0).normal(size=(5, 50, 50)).astype(np.float32)
    with torch.no_grad():
        ref = module(preprocess.upsample(images)).numpy()
    out = frozen_slices.extract_features(module, images, batch_size=2)
    assert out.dtype == np.float16 and out.shape == ref.shape
    np.testing.assert_allclose(out.astype(np.float32), ref, rtol=2e-3, atol=2e-2)
    mm = np.lib.format.open_memmap(tmp_path / "f.npy", mode="w+", dtype=np.float16, shape=ref.shape)
    filled = frozen_slices.extract_features(module, images, batch_size=3, out=mm, channels_last=False)
    assert filled is mm
    mm.flush()
    np.testing.assert_allclose(np.load(tmp_path / "f.npy").astype(np.float32), ref, rtol=2e-3, atol=2e-2)
    # the module still works on ordinary (contiguous) input afterwards
    with torch.no_grad():
        again = module(preprocess.upsample(images[:1])).numpy()
    np.testing.assert_allclose(again, ref[:1], rtol=1e-4, atol=1e-4)


def test_bfloat16_autocast_and_nearest_upsampling_stay_close_to_float32():
    module, _ = frozen_slices.frozen_extractor("vgg16")  # packaged EfficientNet-Lite0 slice
    images = np.random.default_rng(1).normal(size=(4, 50, 50)).astype(np.float32)
    with torch.no_grad():
        ref = module(preprocess.upsample(images, mode="nearest")).numpy()
    exact = frozen_slices.extract_features(module, images, mode="nearest", batch_size=3)
    fast = frozen_slices.extract_features(module, images, mode="nearest", batch_size=3, dtype="bfloat16")
    np.testing.assert_allclose(exact.astype(np.float32), ref, rtol=2e-3, atol=2e-2)
    fast = fast.astype(np.float32)
    # bfloat16 changes the values (on these random inputs ~2 % mean relative difference, correlation
    # 0.9997; on real review images 4-14 %, benchmarks/latest.md)
    assert 0 < np.abs(fast - ref).mean() / np.abs(ref).mean() < 0.04
    assert np.abs(fast - ref).max() / np.abs(ref).max() < 0.06
    assert np.corrcoef(fast.ravel(), ref.ravel())[0, 1] > 0.999
    bilinear = frozen_slices.extract_features(module, images, batch_size=3)
    assert np.abs(bilinear.astype(np.float32) - ref).max() > 10 * np.abs(exact.astype(np.float32) - ref).max()
    with pytest.raises(ReproError, match="Unknown compute dtype 'float8'"):
        frozen_slices.extract_features(module, images, dtype="float8")
