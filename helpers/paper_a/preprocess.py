"""Paper A's image pre-processing between DeepInsight and the ImageNet slices (notebooks 02-04).

Z-normalisation (global, the book's, or per batch, the authors') and the upsampling of the
50x50 grey images to the extractors' 3 x 150 x 150 input.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from helpers.core.errors import ReproError
from helpers.paper_a.facts import PAPER_UPSAMPLE


def z_stats(images_train: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the training images (one value each: grey images).

    The book's *global* Z-normalisation: these two numbers, computed once on the training part,
    normalise every image (``z_normalize(images, mean, std)``).  The authors' code instead used
    each batch's own scalar mean and std (``z_normalize(batch)``, no statistics given).

    Explained in notebook 02, section "Fit the layout, transform every review".
    """
    mean = float(np.mean(images_train))
    std = float(np.std(images_train))
    return mean, (std if std > 0 else 1.0)


def z_normalize(
    images: np.ndarray, mean: float | None = None, std: float | None = None, eps: float = 0.0
) -> np.ndarray:
    """Z-normalisation, the paper's last pre-processing step: ``(x - mean) / (std + eps)``.

    * ``mean``, ``std`` given (``z_stats`` of the training images): the book's *global*
      normalisation, the same affine map for every image (notebooks 02-04).
    * both ``None``: the statistics are those of ``images`` themselves, one scalar mean and std
      over all their pixels; called on one training batch this is the authors' *per-batch*
      normalisation (their code normalises each batch of 32 with that batch's mean and std), used
      by the end-to-end path of notebook 04 (``sentiment_model.image_loader(znorm="batch")``).
    Explained in notebook 02, section "Figure A4: after Z-normalisation".
    """
    x = np.asarray(images, dtype=np.float32)
    if (mean is None) != (std is None):
        raise ReproError("z_normalize needs both mean and std (global) or neither (per batch).")
    if mean is None:
        mean, std = float(x.mean(dtype=np.float64)), float(x.std(dtype=np.float64))
        std = std if std > 0 else 1.0
    return ((x - mean) / (std + eps)).astype(np.float32)


UPSAMPLE_MODES = ("bilinear", "nearest")


def upsample(images, scale: int = PAPER_UPSAMPLE, channels: int = 3, mode: str = "bilinear"):
    """``(n, H, W)`` grey images -> ``(n, channels, scale*H, scale*W)`` float tensor, the
    150x150 three-channel input of the ImageNet extractors.

    ``mode``: ``"bilinear"`` (the book's choice, smooth) or ``"nearest"`` (the authors' code:
    ``interpolate(..., scale_factor=3)`` with PyTorch's default mode, every pixel a 3x3 block).
    Explained in notebook 03, section "Inputs: the review images of notebook 02".
    """

    if mode not in UPSAMPLE_MODES:
        raise ReproError(f"Unknown upsampling mode {mode!r}; choose one of {', '.join(UPSAMPLE_MODES)}.")
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    if x.ndim != 3:
        raise ReproError(f"upsample expects (n, H, W) grey images, got shape {tuple(x.shape)}.")
    x = x.unsqueeze(1)
    if scale != 1:
        if mode == "bilinear":
            x = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
        else:
            x = F.interpolate(x, scale_factor=scale, mode="nearest")
    return x.repeat(1, channels, 1, 1)
