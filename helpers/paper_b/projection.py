"""The text -> image projection of Paper B (notebook ``07_retrieval``, equation ``eq-projection``).

Two ways to fit the linear map ``image ~ text @ W + b`` on the training classes' (caption, image)
pairs, chosen by notebook 07's ``projection`` parameter:

* ``"lstsq"``: ordinary least squares with an intercept, **the paper's**: its text says "a linear
  regression model (without regularisation)". Solved as a least-squares problem (QR of the
  centred text matrix, then an SVD of its triangular factor), never through the normal equations
  ``X'X W = X'Y``, which square the condition number of ``X`` and lose about half of the digits
  on the nearly collinear embeddings of fine-tuned networks. The minimum-norm solution is
  returned when the system is rank-deficient (TF-IDF with more words than pairs); ``rcond``
  truncates small singular values (a truncated pseudo-inverse).
* ``"mlp"``: **the authors' code** (``match.ipynb`` of schmelczer/mir-final):
  ``MLPRegressor(hidden_layer_sizes=(), activation="identity", alpha=1e-4, max_iter=300,
  random_state=1)``, i.e. the same linear model trained by Adam for 300 epochs with an L2 penalty.

Both work on L2-normalised rows (the authors' ``normalize``) and return a :class:`Projection`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import normalize

from helpers.core.errors import ReproError

#: notebook 07's ``projection`` values; the paper's text decides: "lstsq"
PROJECTIONS = ("lstsq", "mlp")
PAPER_PROJECTION = "lstsq"
#: the authors' MLPRegressor arguments (match.ipynb); alpha is scikit-learn's default
MLP_ARGS = dict(hidden_layer_sizes=(), activation="identity", alpha=1e-4, max_iter=300, random_state=1)


def l2_normalize(x, eps: float = 1e-12):
    """Rows scaled to unit Euclidean length (all-zero rows stay zero): a dense float64 array,
    or a sparse CSR matrix when ``x`` is sparse (TF-IDF)."""

    if sparse.issparse(x):
        return normalize(sparse.csr_matrix(x, dtype=np.float64), norm="l2")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ReproError(f"Embeddings must be a 2-D array (n, dim), got shape {x.shape}.")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, eps)


def dense(x) -> np.ndarray:
    """``x`` as a dense float64 array (sparse matrices are expanded)."""
    if hasattr(x, "toarray"):
        x = x.toarray()
    return np.asarray(x, dtype=np.float64)


def prepare(x, normalize: bool):
    """Normalised (or float64) rows; sparse stays sparse."""

    if normalize:
        return l2_normalize(x)
    return sparse.csr_matrix(x, dtype=np.float64) if sparse.issparse(x) else dense(x)


@dataclass
class Projection:
    """Linear map ``image ~ text @ weights + bias`` fitted by :func:`fit_projection`."""

    weights: np.ndarray  # (text_dim, image_dim)
    bias: np.ndarray  # (image_dim,)
    normalize: bool = True  # inputs are L2-normalised before the map (as the paper's code)
    method: str = "lstsq"
    info: dict = field(default_factory=dict)  # fit time, rank or iterations

    def __call__(self, text) -> np.ndarray:
        x = prepare(text, self.normalize)
        if x.shape[1] != self.weights.shape[0]:
            raise ReproError(
                f"Text embeddings have {x.shape[1]} dimensions but the projection "
                f"was fitted on {self.weights.shape[0]}."
            )
        return np.asarray(x @ self.weights) + self.bias


def lstsq_min_norm(
    x, y, x_mean, y_mean, *, rcond: float | None = None, max_chunk_bytes: int = 1 << 30
) -> tuple[np.ndarray, int]:
    """Minimum-norm least-squares ``W`` of ``(x - x_mean) W ~ (y - y_mean)``, and its rank.

    The centred rows are reduced chunk by chunk with Householder QR (``[R; X_chunk] = Q R'``,
    ``Q'Y`` carried along), so a sparse TF-IDF matrix is never expanded whole; then
    ``R W = Q'Y`` is solved through the SVD of ``R``, whose singular values are those of the
    centred ``x``. Directions with a singular value at or below ``rcond`` x the largest are
    dropped; ``rcond=None`` uses ``np.linalg.lstsq``'s default, machine precision x
    ``max(n, d)``. Nothing here forms ``x'x``.
    """
    n, d = x.shape
    chunk = max(1, min(n, max(2 * d, max_chunk_bytes // (8 * max(d, 1)))))
    r = qty = None
    for start in range(0, n, chunk):
        xc = dense(x[start : start + chunk]) - x_mean
        yc = np.asarray(y[start : start + chunk], dtype=np.float64) - y_mean
        if r is not None:
            xc, yc = np.vstack([r, xc]), np.vstack([qty, yc])
        q, r = np.linalg.qr(xc, mode="reduced")
        qty = q.T @ yc
    u, s, vt = np.linalg.svd(r, full_matrices=False)
    if rcond is None:
        rcond = np.finfo(np.float64).eps * max(n, d)
    keep = s > float(rcond) * (s[0] if s.size else 0.0)
    w = vt[keep].T @ ((u[:, keep].T @ qty) / s[keep, None])
    return w, int(keep.sum())


def fit_projection(
    text, image, *, method: str = PAPER_PROJECTION, normalize: bool = True, rcond: float | None = None
) -> Projection:
    """Fit the text -> image map (equation ``eq-projection`` of notebook 07).

    ``text`` (n, d_text; dense or sparse) and ``image`` (n, d_image) are paired row by row (one row
    per caption, the image repeated for each of its captions). ``method``: ``"lstsq"`` (plain least
    squares with an intercept, :func:`lstsq_min_norm`; ``rcond`` truncates it) or ``"mlp"`` (the
    authors' ``MLPRegressor``, see the module docstring; ``rcond`` must stay None).
    ``Projection.info`` holds the fit time in seconds and the rank (lstsq) or epochs run (mlp).
    """
    if method not in PROJECTIONS:
        raise ReproError(f"Unknown projection {method!r}; choose one of {', '.join(PROJECTIONS)}.")
    x = prepare(text, normalize)
    y = l2_normalize(image) if normalize else dense(image)
    n = x.shape[0]
    if n != len(y):
        raise ReproError(f"{n} text rows but {len(y)} image rows: pair them one to one.")
    if n == 0:
        raise ReproError("No training pairs to fit the projection on.")
    start = time.perf_counter()
    if method == "lstsq":
        x_mean = np.asarray(x.mean(axis=0)).ravel()
        y_mean = y.mean(axis=0)
        w, rank = lstsq_min_norm(x, y, x_mean, y_mean, rcond=rcond)
        bias, info = y_mean - x_mean @ w, {"rank": rank}
    else:
        if rcond is not None:
            raise ReproError(
                "rcond truncates the least-squares solution; it has no meaning for "
                "projection='mlp' (set it to null)."
            )
        w, bias, info = _fit_mlp(x, y)
    info["fit_s"] = time.perf_counter() - start
    return Projection(weights=w, bias=bias, normalize=normalize, method=method, info=info)


def _fit_mlp(x, y) -> tuple[np.ndarray, np.ndarray, dict]:
    """The authors' ``MLPRegressor`` (no hidden layer, identity activation): weights, bias, info."""

    mlp = MLPRegressor(**MLP_ARGS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        mlp.fit(x, y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    w, b = mlp.coefs_[0], mlp.intercepts_[0]
    if y.shape[1] == 1:
        w, b = w.reshape(-1, 1), b.reshape(1)
    return w, b, {"epochs": int(mlp.n_iter_), "converged": converged}


def weight_concentration(weights: np.ndarray) -> dict:
    """Notebook ``08_projection_weights``: how concentrated a projection's weights are, the share of
    the total absolute weight held by the largest 1 % of weights and the largest absolute weight
    (with the matrix's shape).

    Explained in notebook 08, section "How concentrated are the weights?".
    """
    a = np.sort(np.abs(np.asarray(weights)).ravel())[::-1]
    if a.size == 0 or a.sum() == 0:
        raise ReproError("The projection has no non-zero weight.")
    k = max(1, int(round(0.01 * a.size)))
    return {
        "top 1% share of |W|": float(a[:k].sum() / a.sum()),
        "max |W|": float(a[0]),
        "text dims": int(weights.shape[0]),
        "image dims": int(weights.shape[1]),
    }
