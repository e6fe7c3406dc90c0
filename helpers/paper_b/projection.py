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
* ``"ridge"``: **the book's well-posed fit** (issue 14), least squares plus ``alpha * |W|^2`` with
  ``alpha`` chosen on the validation captions (:func:`fit_ridge`); notebook 08 draws Figures 8-10
  from it.

All work on L2-normalised rows (the authors' ``normalize``) and return a :class:`Projection`;
the least-squares and ridge fits also report the condition number of the centred text matrix
(``info["cond"]``: its largest over its smallest singular value).
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
PROJECTIONS = ("lstsq", "mlp", "ridge")
PAPER_PROJECTION = "lstsq"
#: the authors' MLPRegressor arguments (match.ipynb); alpha is scikit-learn's default
MLP_ARGS = dict(hidden_layer_sizes=(), activation="identity", alpha=1e-4, max_iter=300, random_state=1)
#: the ridge penalties tried on the validation captions (the book's grid: the decades 1e-4 ... 1e4;
#: each costs a (text dim)^2 x (image dim) matrix product)
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-4, 4, 9))


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


def centred_svd(x, y, x_mean, y_mean, *, max_chunk_bytes: int = 1 << 30):
    """``(s, vt, uqty)``: the SVD ``U S V'`` of the centred ``x`` and ``U'(y - y_mean)``, without
    ever forming ``x'x`` or expanding a sparse ``x`` whole.

    The centred rows are reduced chunk by chunk with Householder QR (``[R; X_chunk] = Q R'``,
    ``Q'Y`` carried along); the singular values of ``R`` are those of the centred ``x``.
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
    return s, vt, u.T @ qty


def condition_number(s: np.ndarray) -> float:
    """Largest over smallest singular value (``inf`` when the smallest is 0): around 1e15 and
    above, the design is singular in float64."""
    if s.size == 0:
        return float("nan")
    return float(s[0] / s[-1]) if s[-1] > 0 else float("inf")


def lstsq_min_norm(
    x, y, x_mean, y_mean, *, rcond: float | None = None, max_chunk_bytes: int = 1 << 30
) -> tuple[np.ndarray, int]:
    """Minimum-norm least-squares ``W`` of ``(x - x_mean) W ~ (y - y_mean)``, and its rank.

    Solved through :func:`centred_svd`. Directions with a singular value at or below ``rcond`` x
    the largest are dropped; ``rcond=None`` uses ``np.linalg.lstsq``'s default, machine precision
    x ``max(n, d)``. Nothing here forms ``x'x``.
    """
    w, rank, _ = _lstsq(x, y, x_mean, y_mean, rcond=rcond, max_chunk_bytes=max_chunk_bytes)
    return w, rank


def kept_directions(s: np.ndarray, shape: tuple, rcond: float | None = None) -> np.ndarray:
    """Which singular values ``s`` of an ``shape`` matrix count (the numerical rank is their
    number): those above ``rcond`` x the largest; ``None``: ``np.linalg.lstsq``'s default,
    machine precision x ``max(n, d)``."""
    if rcond is None:
        rcond = np.finfo(np.float64).eps * max(shape)
    return s > float(rcond) * (s[0] if s.size else 0.0)


def _lstsq(x, y, x_mean, y_mean, *, rcond, max_chunk_bytes=1 << 30):
    s, vt, uqty = centred_svd(x, y, x_mean, y_mean, max_chunk_bytes=max_chunk_bytes)
    keep = kept_directions(s, x.shape, rcond)
    w = vt[keep].T @ (uqty[keep] / s[keep, None])
    return w, int(keep.sum()), condition_number(s)


def ridge_weights(s, vt, uqty, alpha: float) -> np.ndarray:
    """``W`` minimising ``|X W - Y|^2 + alpha |W|^2`` for the centred ``X``, ``Y`` of :func:`centred_svd`."""
    return vt.T @ ((s / (s * s + alpha))[:, None] * uqty)


def fit_ridge(text, image, is_val, *, alphas=RIDGE_ALPHAS, normalize: bool = True) -> Projection:
    """The book's well-posed text -> image map (notebook 08, "A well-posed fit"): ridge regression
    with an intercept, its penalty ``alpha`` chosen on the validation captions.

    ``text`` / ``image`` are the training classes' pairs as for :func:`fit_projection`; ``is_val``
    marks the validation captions' rows.  For every ``alpha`` the map fitted on the other rows
    predicts the validation rows' (L2-normalised) image embeddings; the ``alpha`` with the lowest
    mean squared error is refitted on all rows.  ``info``: ``alpha``, ``val_mse`` (per alpha),
    ``cond`` (condition number of all rows' centred text matrix), ``rank`` and ``fit_s``.
    """
    start = time.perf_counter()
    x = prepare(text, normalize)
    y = l2_normalize(image) if normalize else dense(image)
    is_val = np.asarray(is_val, dtype=bool)
    if len(is_val) != x.shape[0] or len(y) != x.shape[0]:
        raise ReproError(f"text, image and is_val have {x.shape[0]}, {len(y)}, {len(is_val)} rows.")
    if not is_val.any() or is_val.all():
        raise ReproError("The ridge penalty is chosen on validation captions: need both parts.")
    fit, val = _mean_svd(x[~is_val], y[~is_val]), (x[is_val], y[is_val])
    mse = {}
    for alpha in alphas:
        w = ridge_weights(*fit[2:], alpha)
        pred = np.asarray(val[0] @ w) + (fit[1] - fit[0] @ w)
        mse[float(alpha)] = float(np.mean((pred - val[1]) ** 2))
    best = min(mse, key=mse.get)
    x_mean, y_mean, s, vt, uqty = _mean_svd(x, y)
    w = ridge_weights(s, vt, uqty, best)
    rank = int(kept_directions(s, x.shape).sum())
    info = {"alpha": best, "val_mse": mse, "cond": condition_number(s), "rank": rank}
    info["fit_s"] = time.perf_counter() - start
    return Projection(weights=w, bias=y_mean - x_mean @ w, normalize=normalize, method="ridge", info=info)


def _mean_svd(x, y):
    x_mean, y_mean = np.asarray(x.mean(axis=0)).ravel(), y.mean(axis=0)
    return (x_mean, y_mean, *centred_svd(x, y, x_mean, y_mean))


def fit_projection(
    text,
    image,
    *,
    method: str = PAPER_PROJECTION,
    normalize: bool = True,
    rcond: float | None = None,
    is_val=None,
) -> Projection:
    """Fit the text -> image map (equation ``eq-projection`` of notebook 07).

    ``text`` (n, d_text; dense or sparse) and ``image`` (n, d_image) are paired row by row (one row
    per caption, the image repeated for each of its captions). ``method``: ``"lstsq"`` (plain least
    squares with an intercept, :func:`lstsq_min_norm`; ``rcond`` truncates it), ``"mlp"`` (the
    authors' ``MLPRegressor``, see the module docstring) or ``"ridge"`` (:func:`fit_ridge`, which
    needs ``is_val``, the validation captions' rows); ``rcond`` is for lstsq only.
    ``Projection.info`` holds the fit time in seconds and the rank and condition number (lstsq,
    ridge) or epochs run (mlp).
    """
    if method not in PROJECTIONS:
        raise ReproError(f"Unknown projection {method!r}; choose one of {', '.join(PROJECTIONS)}.")
    if rcond is not None and method != "lstsq":
        raise ReproError(
            f"rcond truncates the least-squares solution; it has no meaning for "
            f"projection={method!r} (set it to null)."
        )
    if method == "ridge":
        if is_val is None:
            raise ReproError("projection='ridge' chooses its penalty on validation captions: pass is_val.")
        return fit_ridge(text, image, is_val, normalize=normalize)
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
        w, rank, cond = _lstsq(x, y, x_mean, y_mean, rcond=rcond)
        bias, info = y_mean - x_mean @ w, {"rank": rank, "cond": cond}
    else:
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
