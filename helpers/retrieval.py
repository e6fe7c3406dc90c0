"""Text -> image retrieval for Paper B (notebooks ``07_retrieval`` and ``08_projection_weights``).

The paper's pipeline (Schmelczer, ``match.ipynb``): L2-normalise every text and image embedding,
fit a linear map text -> image on the training classes' (caption, image) pairs, project each test
caption, and return the test image whose embedding is nearest (Euclidean distance, k-d tree).
A query counts as correct when the retrieved image belongs to the caption's class.

Metrics (all per caption query):

* ``top1``: share of queries whose nearest image has the query's class;
* ``precision`` / ``recall`` / ``f1``: macro averages over classes of the "retrieved class vs
  query class" labelling, as scikit-learn's ``classification_report`` (``zero_division=0``),
  which is what the paper printed;
* ``top5``: share of queries with at least one image of the query's class among the 5 nearest.

Reed et al.'s (2016) protocol, for comparison with that anchor: the class's captions are
averaged into one query per class; ``reed_top1`` = share of test images whose nearest class
query is their own class, ``reed_ap50`` = mean over classes of the precision among the 50
images nearest to the class query.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ReproError


def l2_normalize(x, eps: float = 1e-12):
    """Rows scaled to unit Euclidean length (all-zero rows stay zero): a dense float64 array,
    or a sparse CSR matrix when ``x`` is sparse (TF-IDF)."""
    from scipy import sparse

    if sparse.issparse(x):
        from sklearn.preprocessing import normalize

        return normalize(sparse.csr_matrix(x, dtype=np.float64), norm="l2")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ReproError(f"Embeddings must be a 2-D array (n, dim), got shape {x.shape}.")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, eps)


def _dense(x) -> np.ndarray:
    if hasattr(x, "toarray"):
        x = x.toarray()
    return np.asarray(x, dtype=np.float64)


def _prepare(x, normalize: bool):
    """Normalised (or float64) rows; sparse stays sparse."""
    from scipy import sparse

    if normalize:
        return l2_normalize(x)
    return sparse.csr_matrix(x, dtype=np.float64) if sparse.issparse(x) else _dense(x)


@dataclass
class Projection:
    """Linear map ``image ~ text @ weights + bias`` (least squares, no regularisation)."""

    weights: np.ndarray      # (text_dim, image_dim)
    bias: np.ndarray         # (image_dim,)
    normalize: bool = True   # inputs are L2-normalised before the map (as the paper's code)

    def __call__(self, text) -> np.ndarray:
        x = _prepare(text, self.normalize)
        if x.shape[1] != self.weights.shape[0]:
            raise ReproError(f"Text embeddings have {x.shape[1]} dimensions but the projection "
                             f"was fitted on {self.weights.shape[0]}.")
        return np.asarray(x @ self.weights) + self.bias


def fit_projection(text, image, *, normalize: bool = True, rcond: float | None = None) -> Projection:
    """Plain least squares from text to image embeddings, with an intercept.

    ``text`` (n, d_text; dense or sparse) and ``image`` (n, d_image) are paired row by row (one
    row per caption, the image repeated for each of its captions).  The centred normal
    equations ``(X'X) W = X'Y`` are solved with LAPACK's ``gelsy`` (``scipy.linalg.lstsq``), which gives the
    minimum-norm least-squares solution also when the system is under-determined or
    rank-deficient (TF-IDF words that never occur); working on the ``d_text x d_text`` Gram
    matrix keeps memory small for 80,000 captions (the result equals ``lstsq`` on the data).

    ``rcond=None`` is plain least squares (LAPACK's machine-precision rank cut-off). A number
    drops the directions of the centred text matrix whose singular value is below
    ``rcond`` x the largest (a truncated pseudo-inverse), which tames the huge weights that
    near-collinear embeddings produce.
    """
    x = _prepare(text, normalize)
    y = l2_normalize(image) if normalize else _dense(image)
    n = x.shape[0]
    if n != len(y):
        raise ReproError(f"{n} text rows but {len(y)} image rows: pair them one to one.")
    if n == 0:
        raise ReproError("No training pairs to fit the projection on.")
    x_mean = np.asarray(x.mean(axis=0)).ravel()
    y_mean = y.mean(axis=0)
    gram = np.asarray((x.T @ x).toarray() if hasattr(x, "toarray") else x.T @ x)
    gram = gram - n * np.outer(x_mean, x_mean)
    cross = np.asarray(x.T @ y) - n * np.outer(x_mean, y_mean)
    from scipy.linalg import lstsq

    cond = None if rcond is None else float(rcond) ** 2   # Gram eigenvalues are squared singular values
    w, *_ = lstsq(gram, cross, cond=cond, lapack_driver="gelsy", check_finite=False)
    return Projection(weights=w, bias=y_mean - x_mean @ w, normalize=normalize)


def nearest_images(queries, images, k: int = 5, *, normalize: bool = True, method: str = "kdtree",
                   workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(distances, indices)`` of the ``k`` nearest image embeddings of every query, Euclidean
    distance, nearest first.  ``method="kdtree"``: exact search in a ``scipy.spatial.cKDTree``
    built on ``images`` (the paper's k-d tree); ``method="brute"``: the same neighbours from
    one matrix product (much faster for thousands of dimensions)."""
    q = _dense(queries)
    im = l2_normalize(images) if normalize else _dense(images)
    if q.shape[1] != im.shape[1]:
        raise ReproError(f"Queries have {q.shape[1]} dimensions, images {im.shape[1]}.")
    k = min(k, len(im))
    if method == "kdtree":
        from scipy.spatial import cKDTree

        dist, idx = cKDTree(im).query(q, k=k, workers=workers)
        if k == 1:
            dist, idx = dist[:, None], idx[:, None]
        return dist, idx
    if method != "brute":
        raise ReproError(f"Unknown search method {method!r}; choose 'kdtree' or 'brute'.")
    d2 = (q ** 2).sum(1)[:, None] - 2 * q @ im.T + (im ** 2).sum(1)[None, :]
    idx = np.argsort(d2, axis=1, kind="stable")[:, :k]
    dist = np.sqrt(np.maximum(np.take_along_axis(d2, idx, axis=1), 0.0))
    return dist, idx


def top1_accuracy(query_classes, retrieved_classes) -> float:
    """Share of queries whose first retrieved image has the query's class."""
    y, r = np.asarray(query_classes), np.asarray(retrieved_classes)
    if r.ndim == 2:
        r = r[:, 0]
    if len(y) == 0:
        raise ReproError("No queries to score.")
    return float(np.mean(y == r))


def topk_accuracy(query_classes, retrieved_classes, k: int) -> float:
    """Share of queries with at least one image of their class among the first ``k`` retrieved."""
    y = np.asarray(query_classes)
    r = np.asarray(retrieved_classes)
    if r.ndim != 2 or r.shape[1] < k:
        raise ReproError(f"Need at least {k} retrieved images per query, got shape {r.shape}.")
    return float(np.mean((r[:, :k] == y[:, None]).any(axis=1)))


def macro_precision_recall_f1(query_classes, retrieved_classes) -> tuple[float, float, float]:
    """Macro-averaged precision, recall and F1 of "class of the retrieved image" as a prediction
    of "class of the query", over every class that occurs on either side (a class never
    retrieved has precision 0, as scikit-learn's ``zero_division=0``)."""
    y = np.asarray(query_classes)
    r = np.asarray(retrieved_classes)
    if r.ndim == 2:
        r = r[:, 0]
    labels = np.union1d(y, r)
    p, rc, f = [], [], []
    for c in labels:
        tp = np.sum((r == c) & (y == c))
        n_pred, n_true = np.sum(r == c), np.sum(y == c)
        prec = tp / n_pred if n_pred else 0.0
        rec = tp / n_true if n_true else 0.0
        p.append(prec)
        rc.append(rec)
        f.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return float(np.mean(p)), float(np.mean(rc)), float(np.mean(f))


def retrieval_metrics(query_classes, image_classes, neighbour_idx) -> dict:
    """Top-1, macro precision / recall / F1 and Top-5 from the k-d tree's neighbour indices."""
    image_classes = np.asarray(image_classes)
    retrieved = image_classes[np.asarray(neighbour_idx)]
    p, r, f = macro_precision_recall_f1(query_classes, retrieved[:, 0])
    out = {"top1": top1_accuracy(query_classes, retrieved), "precision": p, "recall": r, "f1": f}
    out["top5"] = topk_accuracy(query_classes, retrieved, 5) if retrieved.shape[1] >= 5 else np.nan
    return out


def class_queries(projected_text, caption_classes) -> tuple[np.ndarray, np.ndarray]:
    """Reed et al.'s class query: the mean of a class's (projected) caption embeddings.
    Returns ``(classes, queries)`` with classes sorted."""
    x = _dense(projected_text)
    y = np.asarray(caption_classes)
    classes = np.unique(y)
    return classes, np.stack([x[y == c].mean(axis=0) for c in classes])


def reed_top1(image_embeddings, image_classes, query_classes, queries, *,
              normalize: bool = True) -> float:
    """Zero-shot classification as in Reed et al.: every image gets the class of its nearest
    class query (Euclidean); the share of images classified correctly."""
    im = l2_normalize(image_embeddings) if normalize else _dense(image_embeddings)
    _, nearest = nearest_images(im, queries, k=1, normalize=False, method="brute")
    pred = np.asarray(query_classes)[nearest[:, 0]]
    return float(np.mean(pred == np.asarray(image_classes)))


def reed_precision_at_k(image_embeddings, image_classes, query_classes, queries, k: int = 50,
                        *, normalize: bool = True) -> float:
    """Zero-shot retrieval as in Reed et al. (AP@50 column): for each class query, the share of
    the ``k`` nearest images that have that class, averaged over classes."""
    _, idx = nearest_images(queries, image_embeddings, k=k, normalize=normalize, method="brute")
    image_classes = np.asarray(image_classes)
    hits = image_classes[idx] == np.asarray(query_classes)[:, None]
    return float(hits.mean())


def evaluate_pair(train_text, train_image, test_text, test_caption_classes, test_image,
                  test_image_classes, *, k: int = 5, reed_k: int = 50,
                  method: str = "kdtree", workers: int = 1,
                  rcond: float | None = None) -> tuple[dict, Projection]:
    """Fit the projection on training pairs and score the test captions against the test images:
    the row of Tables 1-2 plus Reed et al.'s two numbers."""
    proj = fit_projection(train_text, train_image, rcond=rcond)
    projected = proj(test_text)
    _, idx = nearest_images(projected, test_image, k=k, method=method, workers=workers)
    metrics = retrieval_metrics(test_caption_classes, test_image_classes, idx)
    classes, queries = class_queries(projected, test_caption_classes)
    metrics["reed_top1"] = reed_top1(test_image, test_image_classes, classes, queries)
    metrics["reed_ap50"] = reed_precision_at_k(test_image, test_image_classes, classes, queries,
                                               k=min(reed_k, len(test_image)))
    metrics["queries"] = int(len(projected))
    metrics["images"] = int(len(test_image_classes))
    return metrics, proj


#: Tables 1 and 2 of the paper (sourcefiles/report/sections/results.tex of schmelczer/mir-final)
PAPER_TABLES = {
    "cub": {
        ("DistilBERT", "VGG"): (0.19, 0.25, 0.19, 0.19, 0.43),
        ("DistilBERT", "ResNet"): (0.11, 0.17, 0.11, 0.10, 0.32),
        ("DistilBERT", "Inception v3"): (0.12, 0.33, 0.11, 0.11, 0.29),
        ("TF-IDF", "VGG"): (0.11, 0.28, 0.11, 0.11, 0.33),
        ("TF-IDF", "ResNet"): (0.10, 0.33, 0.10, 0.09, 0.24),
        ("TF-IDF", "Inception v3"): (0.10, 0.38, 0.10, 0.09, 0.21),
    },
    "flowers": {
        ("DistilBERT", "VGG"): (0.37, 0.30, 0.27, 0.23, 0.57),
        ("DistilBERT", "ResNet"): (0.36, 0.31, 0.26, 0.24, 0.53),
        ("DistilBERT", "Inception v3"): (0.40, 0.29, 0.29, 0.27, 0.58),
        ("TF-IDF", "VGG"): (0.20, 0.28, 0.16, 0.13, 0.46),
        ("TF-IDF", "ResNet"): (0.18, 0.28, 0.13, 0.12, 0.33),
        ("TF-IDF", "Inception v3"): (0.24, 0.24, 0.17, 0.15, 0.43),
    },
}
METRICS = ("top1", "precision", "recall", "f1", "top5")
PAPER_TEXT_NAMES = {"distilbert-base-uncased": "DistilBERT", "tfidf": "TF-IDF"}
PAPER_IMAGE_NAMES = {"vgg11_bn": "VGG", "resnet18": "ResNet", "inception_v3": "Inception v3"}


def paper_table(dataset: str) -> pd.DataFrame:
    """The paper's Table 1 (``"cub"``) or Table 2 (``"flowers"``) as a DataFrame."""
    if dataset not in PAPER_TABLES:
        raise ReproError(f"The paper has no table for {dataset!r}; choose 'cub' or 'flowers'.")
    rows = [{"text": t, "image": i, **dict(zip(METRICS, v))}
            for (t, i), v in PAPER_TABLES[dataset].items()]
    return pd.DataFrame(rows).set_index(["text", "image"])


def side_by_side(ours: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Our metrics next to the paper's, indexed by the paper's (text, image) names;
    ``ours`` has the index (text, image) in paper names and the columns of ``METRICS``.
    Missing values on either side stay NaN (shown as "-" in the book)."""
    paper = paper_table(dataset)
    idx = paper.index.union(ours.index, sort=False)
    cols = {}
    for m in METRICS:
        cols[(m, "paper")] = paper[m].reindex(idx)
        cols[(m, "here")] = ours[m].reindex(idx) if m in ours else np.nan
    return pd.DataFrame(cols, index=idx)
