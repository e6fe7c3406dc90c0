"""What notebook 02 stores beside the images: the two bounding rectangles compared on one t-SNE
embedding (notebook 02, section "The bounding rectangle: what the correction changes"), the
record of how the layout was fitted (section "Fit the layout, transform every review") and the
book's layout control (section "The layout control")."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from helpers.core.errors import ReproError
from helpers.paper_a import deepinsight, preprocess


def permuted_layout(di: deepinsight.DeepInsight, seed: int) -> deepinsight.DeepInsight:
    """The book's layout control: a copy of the fitted ``di`` whose features are
    moved, by one permutation drawn with ``seed``, each to the pixel of another
    feature.  The scaler, the image size and the number of features on every
    pixel stay; where a feature sits, and which features share a pixel, no
    longer come from t-SNE.  The copy's ``permuted_coords`` are the new
    positions and its ``transform`` gives the control images (``coords`` and
    ``transform_reference`` stay those of the t-SNE layout).

    Explained in notebook 02, section "The layout control".
    """
    if di.transformer is None:
        raise ReproError("permuted_layout needs a fitted DeepInsight: call fit first.")
    order = np.random.default_rng(seed).permutation(len(di.embedding))
    other = copy.copy(di)
    other.permutation = order
    other.permuted_coords = di.coords[order]
    pixels = di.transformer.pixels
    other._groups = deepinsight.pixel_groups(other.permuted_coords, pixels)
    return other


def layout_control(di: deepinsight.DeepInsight, flat: np.ndarray, part: np.ndarray, *, seed) -> dict:
    """What notebook 02 stores for the layout control (:func:`permuted_layout` with ``seed``; None:
    no control, nothing stored): ``images_layout`` and ``znorm_layout`` (the training images'
    mean and std, as for the t-SNE images).

    Explained in notebook 02, section "The layout control".
    """
    if seed is None:
        return {}
    images = permuted_layout(di, int(seed)).transform(flat)
    mean, std = preprocess.z_stats(images[part == "train"])
    return {"images_layout": images, "znorm_layout": {"mean": mean, "std": std, "seed": int(seed)}}


def compare_rectangles(
    di: deepinsight.DeepInsight,
    flat: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
    part: np.ndarray,
    *,
    max_train: int,
    seed: int,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Table A-rectangles and each rectangle's features-per-pixel map (``density_<name>``).

    The same fitted layout ``di`` (whose images of ``flat`` are ``images``) is re-placed with every
    rectangle of :data:`deepinsight.BOUNDING_RECTANGLES`; a row gives the box area relative to the
    minimum, the occupancy and the pixel probe's validation accuracy (``part``: train -> val).
    """
    boxes = {
        "corrected": deepinsight.minimum_bounding_rectangle(di.embedding)[1],
        "pydeepinsight": deepinsight.library_bounding_rectangle(di.embedding)[1],
    }
    min_area = deepinsight.rectangle_area(di.embedding, boxes["corrected"])
    train_idx, val_idx = np.flatnonzero(part == "train"), np.flatnonzero(part == "val")
    rows, densities = [], {}
    for name in deepinsight.BOUNDING_RECTANGLES:
        layout = di if name == di.bounding_rectangle else di.with_rectangle(name)
        imgs = images if layout is di else layout.transform(flat)
        acc = deepinsight.pixel_probe(imgs, labels, train_idx, val_idx, max_train=max_train, seed=seed)
        densities[f"density_{name}"] = layout.feature_density()
        rows.append(
            {
                "bounding rectangle": name,
                "box area / minimum": round(
                    deepinsight.rectangle_area(di.embedding, boxes[name]) / min_area, 3
                ),
                **deepinsight.occupancy(densities[f"density_{name}"]),
                "pixel-probe accuracy": round(acc, 4),
            }
        )
        del imgs
    return pd.DataFrame(rows), densities


def fit_record(
    di: deepinsight.DeepInsight, *, split: str, split_seed: int, fit_on: str, part: np.ndarray
) -> dict:
    """``layout.json``: the split, what the layout was fitted on and the t-SNE settings that ran."""
    return {
        "split": split,
        "split_seed": split_seed,
        "fit_on": fit_on,
        "parts": {p: int((part == p).sum()) for p in ("train", "val", "test")},
        "bounding_rectangle": di.bounding_rectangle,
        "tsne": {
            "metric": di.metric,
            "init": di.init,
            "learning_rate": di.learning_rate,
            "perplexity": di.perplexity,
            "random_state": di.seed,
            "max_iter": di.max_iter,
        },
    }


def outputs(
    di: deepinsight.DeepInsight, flat: np.ndarray, images: np.ndarray, reviews: pd.DataFrame, params: dict
) -> dict:
    """Everything notebook 02 stores beside the images and Z statistics, by name: the layout
    (``coords``, ``density``), the rectangle comparison (``rectangles``, ``density_<name>``), the
    parts of every review (``parts``) and the fit record (``layout``). ``reviews`` has the ``part``
    and ``label`` columns; ``params`` is the step's (``probe_max_train``, ``seed``, ``split``,
    ``split_seed``, ``fit_on``)."""
    part = reviews["part"].to_numpy()
    rectangles, densities = compare_rectangles(
        di,
        flat,
        images,
        reviews["label"].to_numpy(),
        part,
        max_train=params["probe_max_train"],
        seed=params["seed"],
    )
    record = fit_record(
        di, split=params["split"], split_seed=params["split_seed"], fit_on=params["fit_on"], part=part
    )
    return {
        "coords": di.coords,
        "density": di.feature_density(),
        "rectangles": rectangles,
        **densities,
        "parts": reviews[["review_id", "split", "part", "label"]],
        "layout": record,
    }
