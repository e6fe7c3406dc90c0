"""Text -> image retrieval for Paper B (notebooks ``07_retrieval`` and ``08_projection_weights``).

The paper's pipeline (Schmelczer, ``match.ipynb``): L2-normalise every text and image embedding,
fit a linear map text -> image (``helpers.paper_b.projection``) on the training classes' (caption, image) pairs, project each test
caption, and return the test image whose embedding is nearest (Euclidean distance, k-d tree).
A query counts as correct when the retrieved image belongs to the caption's class.

Metrics (all per caption query):

* ``top1``: share of queries whose nearest image has the query's class;
* ``precision`` / ``recall`` / ``f1``: macro averages over classes of the "retrieved class vs
  query class" labelling, as scikit-learn's ``classification_report`` (``zero_division=0``),
  which is what the paper printed;
* ``top5``: share of queries with at least one image of the query's class among the 5 nearest.

The projection itself (least squares or the authors' ``MLPRegressor``) is in
``helpers.paper_b.projection``.

Reed et al.'s (2016) protocol, for comparison with that anchor.  Their compatibility score is an
inner product between an image embedding and a text embedding, and a class's text embedding is
the average of its captions' embeddings; here the captions are the *projected* caption
embeddings and the images the L2-normalised image embeddings, so a class query is the mean of its
projected captions (not normalised) and every score is ``image . query``:

* ``reed_top1`` (zero-shot classification): each test image gets the class whose query scores
  highest with it; the share of the *test images* classified correctly (a per-image average);
* ``reed_ap50`` (zero-shot retrieval, their AP@50): for each class query, the share of the 50
  highest-scoring test images that have its class, averaged over the test classes (a per-class
  average); ``k`` is 50 whatever the class sizes, and ``reed_under_k`` counts the test classes
  with fewer than ``k`` images (such a class cannot reach 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sklearn.metrics import precision_recall_fscore_support

from helpers.core.errors import ReproError
from helpers.paper_b.facts import PAPER_IMAGE_NAMES, PAPER_TEXT_NAMES
from helpers.paper_b.projection import PAPER_PROJECTION, Projection, fit_projection, l2_normalize
from helpers.paper_b.projection import dense as _dense
from helpers.paper_b.retrieval_data import seed_variant


def nearest_images(
    queries, images, k: int = 5, *, normalize: bool = True, method: str = "kdtree", workers: int = 1
) -> tuple[np.ndarray, np.ndarray]:
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
        dist, idx = cKDTree(im).query(q, k=k, workers=workers)
        if k == 1:
            dist, idx = dist[:, None], idx[:, None]
        return dist, idx
    if method != "brute":
        raise ReproError(f"Unknown search method {method!r}; choose 'kdtree' or 'brute'.")
    d2 = (q**2).sum(1)[:, None] - 2 * q @ im.T + (im**2).sum(1)[None, :]
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
    retrieved has precision 0): scikit-learn's ``precision_recall_fscore_support(...,
    average="macro", zero_division=0)``, the numbers of the ``classification_report`` the
    authors printed."""
    y = np.asarray(query_classes)
    r = np.asarray(retrieved_classes)
    if r.ndim == 2:
        r = r[:, 0]
    p, rc, f, _ = precision_recall_fscore_support(
        y, r, labels=np.union1d(y, r), average="macro", zero_division=0
    )
    return float(p), float(rc), float(f)


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


def compatibility(image_embeddings, queries, *, normalize: bool = True) -> np.ndarray:
    """Reed et al.'s compatibility scores ``(n_images, n_queries)``: inner products of the
    (L2-normalised, as in the paper's pipeline) image embeddings with the class queries."""
    im = l2_normalize(image_embeddings) if normalize else _dense(image_embeddings)
    q = _dense(queries)
    if q.shape[1] != im.shape[1]:
        raise ReproError(f"Queries have {q.shape[1]} dimensions, images {im.shape[1]}.")
    return im @ q.T


def reed_top1(image_embeddings, image_classes, query_classes, queries, *, normalize: bool = True) -> float:
    """Zero-shot classification as in Reed et al.: every test image gets the class whose query
    has the highest inner product (compatibility) with it; the share of test images classified
    correctly."""
    scores = compatibility(image_embeddings, queries, normalize=normalize)
    pred = np.asarray(query_classes)[np.argmax(scores, axis=1)]
    return float(np.mean(pred == np.asarray(image_classes)))


def reed_precision_at_k(
    image_embeddings, image_classes, query_classes, queries, k: int = 50, *, normalize: bool = True
) -> float:
    """Zero-shot retrieval as in Reed et al. (AP@50 column): for each class query, the share of
    the ``k`` highest-scoring images (inner product) that have that class, averaged over the
    classes.  ``k`` is not lowered for small classes: a class with fewer than ``k`` images
    scores at most its size / ``k`` (:func:`classes_under_k` counts them)."""
    scores = compatibility(image_embeddings, queries, normalize=normalize).T
    k = min(k, scores.shape[1])
    idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    image_classes = np.asarray(image_classes)
    hits = image_classes[idx] == np.asarray(query_classes)[:, None]
    return float(hits.mean(axis=1).mean())


def classes_under_k(image_classes, k: int = 50) -> int:
    """How many classes have fewer than ``k`` images (their AP@k cannot reach 1)."""
    _, counts = np.unique(np.asarray(image_classes), return_counts=True)
    return int((counts < k).sum())


def evaluate_pair(
    train_text,
    train_image,
    test_text,
    test_caption_classes,
    test_image,
    test_image_classes,
    *,
    k: int = 5,
    reed_k: int = 50,
    method: str = "kdtree",
    workers: int = 1,
    rcond: float | None = None,
    projection: str = PAPER_PROJECTION,
    train_is_val=None,
) -> tuple[dict, Projection]:
    """Fit the projection (``projection``: "lstsq", "mlp" or "ridge", :func:`helpers.paper_b.projection.fit_projection`;
    ``train_is_val`` marks the training pairs of validation captions, which ridge needs)
    on training pairs and score the test captions against the test images: the row of Tables 1-2,
    Reed et al.'s two numbers, the projection's fit time (``fit_s``), the text matrix's condition
    number (``cond``, lstsq and ridge) and the ridge penalty (``alpha``)."""
    proj = fit_projection(train_text, train_image, method=projection, rcond=rcond, is_val=train_is_val)
    projected = proj(test_text)
    _, idx = nearest_images(projected, test_image, k=k, method=method, workers=workers)
    metrics = retrieval_metrics(test_caption_classes, test_image_classes, idx)
    classes, queries = class_queries(projected, test_caption_classes)
    metrics["reed_top1"] = reed_top1(test_image, test_image_classes, classes, queries)
    metrics["reed_ap50"] = reed_precision_at_k(test_image, test_image_classes, classes, queries, k=reed_k)
    metrics["reed_k"] = int(min(reed_k, len(test_image_classes)))
    metrics["reed_under_k"] = classes_under_k(test_image_classes, metrics["reed_k"])
    metrics["queries"] = int(len(projected))
    metrics["images"] = int(len(test_image_classes))
    metrics["fit_s"] = float(proj.info.get("fit_s", np.nan))
    metrics["cond"] = float(proj.info.get("cond", np.nan))
    metrics["alpha"] = float(proj.info.get("alpha", np.nan))
    return metrics, proj


def evaluate_pairs(
    data: dict,
    *,
    reed_k: int = 50,
    search: str = "kdtree",
    workers: int = 1,
    rcond: float | None = None,
    projection: str = PAPER_PROJECTION,
) -> tuple[pd.DataFrame, dict]:
    """Every text/image pair of one data set (notebook ``07_retrieval``, Tables B1-B2).

    ``data`` is one entry of :func:`helpers.paper_b.retrieval_data.load_embeddings`: ``split`` (one row per
    image), ``captions`` (one row per caption, or None), ``images`` and ``texts`` (model name ->
    embedding rows in those orders). The projection is fitted on the captions of the training
    classes (``part`` train and val) paired with their images; the test captions query the test
    images. Reed's AP@50 keeps ``k = reed_k`` (50) for every class; ``reed_under_k`` says how many
    test classes have fewer images.
    Returns one row per pair (paper names in ``text``/``image``, the models in ``text model`` /
    ``image model``, the metrics of :func:`evaluate_pair`, ``reed_k`` and ``projection``) and the
    fitted projections by ``(text model, image model)``.
    Explained in notebook 07, section "Projection, k-d tree and metrics".
    """
    split, caps = data["split"], data.get("captions")
    if caps is None or not data.get("texts"):
        return pd.DataFrame(), {}
    row_of = {key: i for i, key in enumerate(split.image)}
    missing = set(caps.image) - set(row_of)
    if missing:
        raise ReproError(
            f"{len(missing)} captioned images are not in the split "
            f"(e.g. {sorted(missing)[0]!r}): re-run notebooks 05 and 06 together."
        )
    cap_img = caps.image.map(row_of).to_numpy()
    is_train = (caps.part != "test").to_numpy()
    train_is_val = (caps.part == "val").to_numpy()[is_train]
    test_img = (split.part == "test").to_numpy()
    if not test_img.any() or is_train.all():
        raise ReproError("The split has no test images or no test captions to retrieve with.")
    cap_classes, img_classes = caps.class_id.to_numpy(), split.class_id.to_numpy()
    rows, projections = [], {}
    for t_name, t_emb in data["texts"].items():
        for i_name, i_emb in data["images"].items():
            m, proj = evaluate_pair(
                t_emb[is_train],
                i_emb[cap_img[is_train]],
                t_emb[~is_train],
                cap_classes[~is_train],
                i_emb[test_img],
                img_classes[test_img],
                k=5,
                reed_k=reed_k,
                method=search,
                workers=workers,
                rcond=rcond,
                projection=projection,
                train_is_val=train_is_val,
            )
            rows.append(
                {
                    "text": PAPER_TEXT_NAMES.get(t_name, t_name),
                    "image": PAPER_IMAGE_NAMES.get(i_name, i_name),
                    "text model": t_name,
                    "image model": i_name,
                    **m,
                    "projection": projection,
                }
            )
            projections[(t_name, i_name)] = proj
    return pd.DataFrame(rows), projections


def evaluate_seeds(load, seeds, first: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """Table B1 over notebook 06's fine-tuning ``seeds``: ``first`` (:func:`evaluate_pairs` of the
    first seed's embeddings) and the same evaluation of each further seed's embeddings
    (``load(variant)``: ``retrieval_data.load_embeddings`` of that seed's file suffix,
    ``retrieval_data.seed_variant``), one under the other with a ``seed`` column.

    Explained in notebook 07, section "Over fine-tuning seeds".
    """
    parts = [first.assign(seed=int(seeds[0]))]
    for s in seeds[1:]:
        parts.append(evaluate_pairs(load(seed_variant(s)), **kwargs)[0].assign(seed=int(s)))
    return pd.concat(parts, ignore_index=True)


def projection_comparison(
    by_method: dict[str, pd.DataFrame], metrics: tuple[str, ...] = ("top1", "top5", "f1", "fit_s")
) -> pd.DataFrame:
    """Notebook 07's comparison of the projections on the same embeddings: ``by_method`` maps
    "lstsq" / "mlp" to :func:`evaluate_pairs`' table; returns one row per (text, image) pair and
    the columns (metric, method), ``fit_s`` being the projection's fit time in seconds.

    Explained in notebook 07, section "Least squares or the authors' MLP?".
    """
    if not by_method:
        raise ReproError("No projection results to compare.")
    cols = {}
    for m in metrics:
        for method, r in by_method.items():
            if r.empty:
                raise ReproError(f"No results for projection {method!r} (no captions?).")
            cols[(m, method)] = r.set_index(["text", "image"])[m]
    return pd.DataFrame(cols)


def chance_top1(split: pd.DataFrame, captions: pd.DataFrame | None) -> float:
    """Top-1 of a blind guess (notebook ``07_retrieval``): a test caption of class ``c`` hits with
    probability ``n_c / N``, the share of test images in its class; averaged over the test
    captions. NaN without captions.

    Explained in notebook 07, section "Projection, k-d tree and metrics".
    """
    if captions is None:
        return float("nan")
    share = split[split.part == "test"].class_id.value_counts(normalize=True)
    queries = captions[captions.part == "test"].class_id
    if queries.empty:
        raise ReproError("No test captions: chance Top-1 is undefined.")
    return float(queries.map(share).fillna(0.0).mean())


METRICS = ("top1", "precision", "recall", "f1", "top5")
