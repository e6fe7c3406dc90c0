"""DeepInsight: turn a feature vector (the six-layer BERT [CLS] vectors) into a grey image.

Used by ``notebooks/02_deepinsight.ipynb`` (Paper A, Figures 2-4, equation ``eq-deepinsight``)
and, for the image pre-processing of the vision extractors, by ``03_feature_extractors`` and
``04_sentiment_training``.

DeepInsight (Sharma et al. 2019) places every *feature* on a 2-D plane with t-SNE run on the
transposed data matrix (features are the points, samples the dimensions), rotates the cloud into
its minimum bounding rectangle and bins it into ``pixels x pixels`` cells; a sample's image holds
in each cell the mean of the features that fell there.  We build on ``pyDeepInsight.ImageTransformer``
(the package the paper used) and make every choice a named parameter:

* the t-SNE recipe: the paper's (``PAPER_TSNE``: Euclidean, random initialisation, learning rate
  200, ``random_state=1701``) by default; cosine is an option, the book's, never the paper's;
* the bounding rectangle: ``"corrected"`` (``minimum_bounding_rectangle``, rotating calipers over
  the closed hull) by default, or ``"pydeepinsight"``, the library's own rectangle, which has the
  wrong rotation sign and an open hull (``library_bounding_rectangle`` measures it);
* which rows the layout is fitted on and how the reviews are split (``assign_parts``): the
  notebook's ``split`` / ``fit_on`` parameters;
* ``DeepInsight.transform`` is a vectorised re-implementation whose images are bit-identical to
  the library's ``ImageTransformer.transform`` (``DeepInsight.transform_reference``);
* ``upsample`` enlarges the 50x50 images three times to 150x150 and repeats the grey channel
  three times, as the paper did before its ImageNet extractors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from helpers.core.errors import ReproError

PAPER_PIXELS = 50  # ImageTransformer(..., pixels=50) in the paper's code
# The paper's t-SNE.  The authors' code calls ``TSNE(n_components=2, random_state=1701)``; the other
# values are the scikit-learn defaults of 2021 (0.24), written out because today's differ
# (``init="pca"`` and ``learning_rate="auto"`` since 1.2).  ``max_iter`` 1000 was, and is, the default.
PAPER_TSNE = {
    "n_components": 2,
    "random_state": 1701,
    "metric": "euclidean",
    "init": "random",
    "learning_rate": 200.0,
    "perplexity": 30.0,
    "max_iter": 1000,
}
BOUNDING_RECTANGLES = ("corrected", "pydeepinsight")
FIT_ON = ("train", "all")


def make_tsne(
    seed: int = PAPER_TSNE["random_state"],
    *,
    perplexity: float = PAPER_TSNE["perplexity"],
    metric: str = PAPER_TSNE["metric"],
    init: str = PAPER_TSNE["init"],
    learning_rate: float | str = PAPER_TSNE["learning_rate"],
    n_jobs: int = 1,
    max_iter: int = PAPER_TSNE["max_iter"],
):
    """The t-SNE passed to ``ImageTransformer``.  The defaults are the paper's recipe
    (``PAPER_TSNE``); ``metric="cosine"`` is the book's alternative (it is also the metric of
    pyDeepInsight's own examples), not the paper's.  ``max_iter`` is lowered only by the smoke
    profile."""

    return TSNE(
        n_components=2,
        perplexity=perplexity,
        metric=metric,
        init=init,
        learning_rate=learning_rate,
        random_state=seed,
        n_jobs=n_jobs,
        max_iter=max_iter,
    )


def make_scaler():
    """pyDeepInsight's log normalisation (``Norm2Scaler``; called ``LogScaler`` in the
    pyDeepInsight version the paper used): ``log(x + |min_col| + 1) / global max``, in [0, 1]."""
    # lazy: pyDeepInsight imports its own heavy dependencies; only fitting a layout needs it
    from pyDeepInsight.utils import Norm2Scaler

    return Norm2Scaler()


# --- the minimum bounding rectangle -------------------------------------------------------------


def minimum_bounding_rectangle(points) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-area rectangle around 2-D ``points`` (rotating calipers over the closed convex hull).

    Returns ``(corners, rotation)`` with the contract of pyDeepInsight's
    ``ImageTransformer._minimum_bounding_rectangle``: ``rotation @ p`` turns a point into the
    frame where the rectangle is axis-aligned, ``corners`` are the rectangle's 4 corners in the
    original frame.  The smallest rectangle has one side on an edge of the hull, so it suffices to
    try the direction ``t`` of every hull edge, *including the closing edge from the last vertex
    back to the first*, and to rotate by ``-t`` (rotation matrix ``[[cos t, sin t], [-sin t, cos t]]``).
    pyDeepInsight 0.2.3 rotates by ``+t`` and skips the closing edge (``library_bounding_rectangle``).
    Explained in notebook 02, section "The bounding rectangle: what the correction changes".
    """

    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
        raise ReproError(f"minimum_bounding_rectangle needs at least 3 points in 2-D, got shape {pts.shape}.")
    hull = pts[ConvexHull(pts).vertices]
    edges = np.roll(hull, -1, axis=0) - hull  # closed: the last edge returns to the start
    edges = edges[np.hypot(edges[:, 0], edges[:, 1]) > 0]
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2))
    cos, sin = np.cos(angles), np.sin(angles)
    rotations = np.stack([np.stack([cos, sin], axis=-1), np.stack([-sin, cos], axis=-1)], axis=1)
    rotated = rotations @ hull.T  # (angles, 2, hull points)
    lo, hi = rotated.min(axis=2), rotated.max(axis=2)
    best = int(np.argmin(np.prod(hi - lo, axis=1)))
    (x_lo, y_lo), (x_hi, y_hi) = lo[best], hi[best]
    rotation = rotations[best]
    corners = np.array([[x_hi, y_lo], [x_lo, y_lo], [x_lo, y_hi], [x_hi, y_hi]]) @ rotation
    return corners, rotation


def library_bounding_rectangle(points) -> tuple[np.ndarray, np.ndarray]:
    """pyDeepInsight 0.2.3's rectangle for ``points``, called as its ``ImageTransformer.fit`` does
    (hull vertices from ``scipy.spatial.ConvexHull``): kept to reproduce the paper's layout and to
    document its error (a 4 x 1 rectangle turned by 10 degrees gets a box of area 9.46).

    Explained in notebook 02, section "The bounding rectangle: what the correction changes".
    """
    from pyDeepInsight import ImageTransformer

    pts = np.asarray(points, dtype=np.float64)
    return ImageTransformer._minimum_bounding_rectangle(pts[ConvexHull(pts).vertices])


def rectangle_area(points, rotation) -> float:
    """Area of the axis-aligned box around ``rotation @ points``: what the pixel grid spans.

    Explained in notebook 02, section "The bounding rectangle: what the correction changes".
    """
    rotated = np.asarray(points, dtype=np.float64) @ np.asarray(rotation).T
    return float(np.prod(rotated.max(axis=0) - rotated.min(axis=0)))


def image_transformer_class(bounding_rectangle: str = "corrected"):
    """``ImageTransformer`` (``"pydeepinsight"``) or its subclass with the corrected rectangle."""
    from pyDeepInsight import ImageTransformer

    if bounding_rectangle not in BOUNDING_RECTANGLES:
        raise ReproError(
            f"bounding_rectangle must be one of {', '.join(BOUNDING_RECTANGLES)}, got {bounding_rectangle!r}."
        )
    if bounding_rectangle == "pydeepinsight":
        return ImageTransformer

    class CorrectedImageTransformer(ImageTransformer):
        """pyDeepInsight's ``ImageTransformer`` with the minimum-area bounding rectangle."""

        @staticmethod
        def _minimum_bounding_rectangle(hull_points):
            return minimum_bounding_rectangle(hull_points)

    return CorrectedImageTransformer


class _Precomputed:
    """A "feature extractor" that returns a stored embedding: lets ``ImageTransformer.fit``
    place a t-SNE embedding that was computed once (both rectangles from the same t-SNE)."""

    def __init__(self, embedding: np.ndarray):
        self.embedding = embedding

    def fit_transform(self, x):
        if x.shape[0] != len(self.embedding):
            raise ReproError(
                f"The stored embedding has {len(self.embedding)} features, the data {x.shape[0]}."
            )
        return self.embedding


# --- the transformer ----------------------------------------------------------------------------


@dataclass
class DeepInsight:
    """Scaler + t-SNE + ``pyDeepInsight.ImageTransformer``, fitted on the rows passed to ``fit``.

    ``fit(x)`` learns the feature layout; ``transform(x)`` returns ``(n, pixels, pixels)``
    float32 images in [0, 1] (equation ``eq-deepinsight`` of notebook 02), identical to
    ``transform_reference(x)``, which calls the library.  ``n_fit_rows`` records how many rows
    the layout saw; ``embedding`` keeps the t-SNE output, so ``with_rectangle`` can re-place the
    same embedding with the other bounding rectangle.
    """

    pixels: int = PAPER_PIXELS
    seed: int = PAPER_TSNE["random_state"]
    perplexity: float = PAPER_TSNE["perplexity"]
    metric: str = PAPER_TSNE["metric"]
    init: str = PAPER_TSNE["init"]
    learning_rate: float | str = PAPER_TSNE["learning_rate"]
    bounding_rectangle: str = "corrected"
    n_jobs: int = 1
    max_iter: int = PAPER_TSNE["max_iter"]
    chunk_rows: int = 2048

    def __post_init__(self):
        image_transformer_class(self.bounding_rectangle)  # validates the name
        self.scaler = None
        self.transformer = None
        self.embedding = None
        self.n_fit_rows = 0
        self._groups = []

    def fit(self, x_fit: np.ndarray, feature_extractor=None) -> "DeepInsight":
        x_fit = _as_matrix(x_fit)
        n_features = x_fit.shape[1]
        perplexity = min(self.perplexity, max(2.0, (n_features - 1) / 3))
        if feature_extractor is None:
            feature_extractor = make_tsne(
                self.seed,
                perplexity=perplexity,
                metric=self.metric,
                init=self.init,
                learning_rate=self.learning_rate,
                n_jobs=self.n_jobs,
                max_iter=self.max_iter,
            )
        self.scaler = make_scaler()
        x_norm = self.scaler.fit_transform(x_fit)
        self.embedding = np.asarray(feature_extractor.fit_transform(x_norm.T))
        self.n_fit_rows = x_fit.shape[0]
        self._place()
        return self

    def with_rectangle(self, bounding_rectangle: str) -> "DeepInsight":
        """The same scaler and t-SNE embedding, placed with another bounding rectangle."""
        self._check_fitted("with_rectangle")
        other = dataclasses.replace(self, bounding_rectangle=bounding_rectangle)
        other.scaler, other.embedding, other.n_fit_rows = self.scaler, self.embedding, self.n_fit_rows
        other._place()
        return other

    def _place(self) -> None:
        cls = image_transformer_class(self.bounding_rectangle)
        self.transformer = cls(feature_extractor=_Precomputed(self.embedding), pixels=self.pixels)
        self.transformer.fit(np.empty((0, len(self.embedding))))
        self._groups = pixel_groups(self.transformer.coords(), self.transformer.pixels)

    def _check_fitted(self, what: str) -> None:
        if self.transformer is None:
            raise ReproError(f"DeepInsight.{what} was called before fit: fit it on the training rows first.")

    def _normalise(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            x_norm = self.scaler.transform(np.asarray(x, dtype=np.float64))
        # A value more than 1 below the fitted minimum of its feature gives log(<0) = NaN; it is
        # set to 0, the scaler's own lower clip.  The book's choice: the authors fitted the scaler
        # on all 50,000 reviews, so their transform never met such a value (the step is ours,
        # not the authors' code's).
        return np.nan_to_num(x_norm, nan=0.0)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``(n, pixels, pixels)`` float32 images: each pixel the mean of its features' scaled
        values, 0 where no feature fell.  Vectorised (features grouped by how many share a pixel)
        and chunked over rows; bit-identical to ``transform_reference``."""
        self._check_fitted("transform")
        x = _as_raw_matrix(x)
        h, w = self.transformer.pixels
        out = np.zeros((len(x), h * w), dtype=np.float32)
        shift = np.abs(self.scaler._min0)
        for start in range(0, len(x), self.chunk_rows):
            # Norm2Scaler.transform, in place and chunk by chunk (same operations, same order)
            x_norm = np.add(x[start : start + self.chunk_rows], shift, dtype=np.float64)
            x_norm += 1
            with np.errstate(invalid="ignore", divide="ignore"):
                np.log(x_norm, out=x_norm)
            np.clip(x_norm, 0, None, out=x_norm)
            x_norm /= self.scaler._max
            np.clip(x_norm, 0, 1, out=x_norm)
            x_norm[np.isnan(x_norm)] = 0.0  # as in ``_normalise``
            block = out[start : start + len(x_norm)]
            for pixel_ids, cols in self._groups:
                # same summation as the library's ``X[:, cols].mean(axis=1)``: a sum over the
                # contiguous last axis of length k, then a division by k, in float64
                block[:, pixel_ids] = x_norm[:, cols].sum(axis=-1) / cols.shape[1]
        return out.reshape(len(x), h, w)

    def transform_reference(self, x: np.ndarray) -> np.ndarray:
        """The same images through pyDeepInsight's own ``ImageTransformer.transform``
        (one Python loop over the pixels); the reference the fast ``transform`` is tested against."""
        self._check_fitted("transform_reference")
        x_norm = self._normalise(_as_matrix(x))
        return self.transformer.transform(x_norm, img_format="scalar").astype(np.float32)

    @property
    def coords(self) -> np.ndarray:
        """Pixel (row, column) of every input feature."""
        return self.transformer.coords()

    def feature_density(self) -> np.ndarray:
        """How many features share each pixel (pixels x pixels)."""
        return self.transformer.feature_density_matrix()


def pixel_groups(coords: np.ndarray, pixels) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pixels grouped by how many features they hold: ``[(pixel ids, (pixels, k) feature
    columns)]``, the features of a pixel in increasing order (as ``np.where`` gives them to the
    library's loop)."""
    h, w = pixels
    flat = coords[:, 0].astype(np.int64) * w + coords[:, 1].astype(np.int64)
    order = np.argsort(flat, kind="stable")
    counts = np.bincount(flat, minlength=h * w)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    groups = []
    for k in np.unique(counts[counts > 0]):
        pixel_ids = np.flatnonzero(counts == k)
        cols = order[offsets[pixel_ids][:, None] + np.arange(k)]
        groups.append((pixel_ids, cols))
    return groups


def _as_raw_matrix(x) -> np.ndarray:
    """Like ``_as_matrix`` but without a float64 copy of everything (``transform`` converts chunks)."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x.reshape(len(x), -1)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ReproError(f"DeepInsight needs a non-empty (samples, features) matrix, got shape {x.shape}.")
    return x


# --- layout statistics, pixel probe, split ------------------------------------------------------


def occupancy(density: np.ndarray) -> dict:
    """Pixel use of a layout (``DeepInsight.feature_density()``): empty pixels and features per
    used pixel (mean and max).

    Explained in notebook 02, section "The bounding rectangle: what the correction changes".
    """
    density = np.asarray(density)
    used = density[density > 0]
    return {
        "pixels": int(density.size),
        "empty pixels": int(density.size - used.size),
        "empty share": round(float(1 - used.size / density.size), 4),
        "mean features per used pixel": round(float(used.mean()), 3),
        "max features in a pixel": int(used.max()),
    }


def pixel_probe(
    images: np.ndarray, labels, train_idx, val_idx, *, max_train: int | None = None, seed: int = 0
) -> float:
    """Validation accuracy of a logistic regression (L2, ``C=0.1``: the book's choice) on the
    standardised raw pixels, trained on ``train_idx`` (at most ``max_train`` of them, drawn with
    ``seed``): how much of the label a linear read-out finds in a layout's images.  Notebook 02
    compares the two rectangles with it.

    Explained in notebook 02, section "The bounding rectangle: what the correction changes".
    """

    images = np.asarray(images)
    labels = np.asarray(labels)
    train_idx, val_idx = np.asarray(train_idx), np.asarray(val_idx)
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise ReproError("pixel_probe needs a non-empty training and validation part.")
    if max_train is not None and len(train_idx) > max_train:
        train_idx = np.sort(np.random.default_rng(seed).choice(train_idx, max_train, replace=False))
    flat = images.reshape(len(images), -1)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    model.fit(flat[train_idx], labels[train_idx])
    return float(model.score(flat[val_idx], labels[val_idx]))


def _as_matrix(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3:  # (n, layers, hidden) -> (n, layers * hidden)
        x = x.reshape(len(x), -1)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ReproError(f"DeepInsight needs a non-empty (samples, features) matrix, got shape {x.shape}.")
    return x
