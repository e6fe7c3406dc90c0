"""DeepInsight: turn a feature vector (the six-layer BERT [CLS] vectors) into a grey image.

Used by ``notebooks/02_deepinsight.ipynb`` (Paper A, Figures 2-4) and, for the image
pre-processing of the vision extractors, by ``03_feature_extractors`` and ``04_sentiment_training``.

DeepInsight (Sharma et al. 2019) places every *feature* on a 2-D plane with t-SNE run on the
transposed data matrix (features are the points, samples the dimensions), rotates the cloud into
its minimum bounding rectangle and bins it into ``pixels x pixels`` cells; a sample's image holds
in each cell the mean of the features that fell there.  We wrap ``pyDeepInsight.ImageTransformer``
(the package the paper used) and add what the paper left implicit:

* the layout (scaler + t-SNE) is fitted on the **training rows only** (the paper fitted on all
  50k reviews, which lets the test reviews shape the layout);
* Z-normalisation uses the training images' mean and standard deviation;
* ``upsample`` enlarges the 50x50 images three times to 150x150 and repeats the grey channel
  three times, as the paper did before its ImageNet extractors.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ReproError

PAPER_PIXELS = 50          # ImageTransformer(..., pixels=50) in the paper's code
PAPER_UPSAMPLE = 3         # 50 px -> 150 px
PAPER_TSNE = {"n_components": 2, "perplexity": 30, "metric": "cosine"}  # pyDeepInsight's README recipe


def make_tsne(seed: int = 1701, *, perplexity: float = 30.0, n_jobs: int = 1, max_iter: int = 1000):
    """The t-SNE the paper passed to ``ImageTransformer`` (cosine metric, fixed seed;
    ``max_iter=1000`` is scikit-learn's default, lowered only by the smoke profile)."""
    from sklearn.manifold import TSNE

    return TSNE(n_components=2, perplexity=perplexity, metric="cosine", random_state=seed,
                n_jobs=n_jobs, max_iter=max_iter)


def make_scaler():
    """pyDeepInsight's log normalisation (``Norm2Scaler``; called ``LogScaler`` in the
    pyDeepInsight version the paper used): ``log(x + |min_col| + 1) / global max``, in [0, 1]."""
    from pyDeepInsight.utils import Norm2Scaler

    return Norm2Scaler()


@dataclass
class DeepInsight:
    """Scaler + ``pyDeepInsight.ImageTransformer`` fitted on training rows only.

    ``fit(x_train)`` learns the feature layout; ``transform(x)`` returns ``(n, pixels, pixels)``
    float32 images in [0, 1].  ``n_fit_rows`` records how many rows the layout saw.
    """

    pixels: int = PAPER_PIXELS
    seed: int = 1701
    perplexity: float = 30.0
    n_jobs: int = 1
    max_iter: int = 1000

    def __post_init__(self):
        self.scaler = None
        self.transformer = None
        self.n_fit_rows = 0

    def fit(self, x_train: np.ndarray, feature_extractor=None) -> "DeepInsight":
        from pyDeepInsight import ImageTransformer

        x_train = _as_matrix(x_train)
        n_features = x_train.shape[1]
        perplexity = min(self.perplexity, max(2.0, (n_features - 1) / 3))
        if feature_extractor is None:
            feature_extractor = make_tsne(self.seed, perplexity=perplexity, n_jobs=self.n_jobs,
                                          max_iter=self.max_iter)
        self.scaler = make_scaler()
        x_norm = self.scaler.fit_transform(x_train)
        self.transformer = ImageTransformer(feature_extractor=feature_extractor,
                                            pixels=self.pixels)
        self.transformer.fit(x_norm)
        self.n_fit_rows = x_train.shape[0]
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        if self.transformer is None:
            raise ReproError("DeepInsight.transform was called before fit: fit it on the training rows first.")
        with np.errstate(invalid="ignore"):
            x_norm = self.scaler.transform(_as_matrix(x))
        # a value far below the training minimum gives log(<0) = NaN; the paper's code set
        # those to 0 (``fillna(0)``), which is also the scaler's lower clip
        x_norm = np.nan_to_num(x_norm, nan=0.0)
        return self.transformer.transform(x_norm, img_format="scalar").astype(np.float32)

    @property
    def coords(self) -> np.ndarray:
        """Pixel (row, column) of every input feature."""
        return self.transformer.coords()

    def feature_density(self) -> np.ndarray:
        """How many features share each pixel (pixels x pixels)."""
        return self.transformer.feature_density_matrix()


def _as_matrix(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3:  # (n, layers, hidden) -> (n, layers * hidden)
        x = x.reshape(len(x), -1)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ReproError(f"DeepInsight needs a non-empty (samples, features) matrix, got shape {x.shape}.")
    return x


def z_stats(images_train: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the training images (one value each: grey images).

    The book's *global* Z-normalisation: these two numbers, computed once on the training part,
    normalise every image (``z_normalize(images, mean, std)``).  The authors' code instead used
    each batch's own scalar mean and std (``z_normalize(batch)``, no statistics given)."""
    mean = float(np.mean(images_train))
    std = float(np.std(images_train))
    return mean, (std if std > 0 else 1.0)


def z_normalize(images: np.ndarray, mean: float | None = None, std: float | None = None,
                eps: float = 0.0) -> np.ndarray:
    """Z-normalisation, the paper's last pre-processing step: ``(x - mean) / (std + eps)``.

    * ``mean``, ``std`` given (``z_stats`` of the training images): the book's *global*
      normalisation, the same affine map for every image (notebooks 02-04).
    * both ``None``: the statistics are those of ``images`` themselves, one scalar mean and std
      over all their pixels; called on one training batch this is the authors' *per-batch*
      normalisation (their code normalises each batch of 32 with that batch's mean and std), used
      by the end-to-end path of notebook 04 (``sentiment_model.image_loader(znorm="batch")``).
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
    """
    import torch
    import torch.nn.functional as F

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
