"""Notebook 08's bookkeeping around the projection weights of notebook 07: reading them back,
naming the pairs as the paper does, the well-posed fit's table, the concentration table, and the
sentences that say what Figures B8 and B10 show in this run (the figures themselves are in
``figures_b``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core.errors import ReproError
from helpers.paper_b import figures_b
from helpers.paper_b.facts import PAPER_IMAGE_NAMES, PAPER_TEXT_NAMES
from helpers.paper_b.projection import weight_concentration

Pair = tuple[str, str]  # (text model, image model) as notebook 06 names them


def load_weights(up07: Path, dataset: str, prefix: str = "projection") -> tuple[dict, dict[Pair, np.ndarray]]:
    """Notebook 07's ``info.json`` and its projection weights ``W`` (text dim x image dim) of
    ``dataset``, by (text model, image model); a ReproError when 07 fitted none there.
    ``prefix``: ``"projection"`` (notebook 07's ``projection``) or
    ``helpers.paper_b.retrieval_store.RIDGE`` (the well-posed fit).

    Explained in notebook 08, at its start ("What the projection learned").
    """
    info = json.loads((up07 / "info.json").read_text())
    pairs = [tuple(p) for p in info["pairs"].get(dataset, [])]
    if not pairs:
        raise ReproError(
            f"Notebook 07 fitted no projection on {dataset!r} (no captions?); set dataset='cub'."
        )
    weights = {p: np.load(up07 / f"{prefix}_{dataset}_{p[0]}_{p[1]}.npy") for p in pairs}
    return info, weights


def pair_label(text: str, image: str) -> str:
    """``"<text> - <image>"`` in the paper's names of the two models (``facts``).

    Explained in notebook 08, section "How concentrated are the weights?".
    """
    return f"{PAPER_TEXT_NAMES.get(text, text)} - {PAPER_IMAGE_NAMES.get(image, image)}"


def design_table(ridge: pd.DataFrame, fitted: pd.DataFrame, fitted_by: str) -> pd.DataFrame:
    """Notebook 08's table of the well-posed fit, one row per pair (paper names): the condition
    number of the centred text matrix, the ridge penalty chosen on the validation captions, and
    Top-1 with the ridge map and with notebook 07's ``projection`` (``fitted_by``).  ``ridge`` and
    ``fitted`` are notebook 07's metrics tables of the two fits.

    Explained in notebook 08, section "A well-posed fit".
    """
    a, b = ridge.set_index(["text", "image"]), fitted.set_index(["text", "image"])
    out = pd.DataFrame(
        {
            "condition number": a["cond"].map(lambda v: f"{v:.1e}"),
            "ridge alpha": a["alpha"].map(lambda v: f"{v:g}"),
            "Top-1 ridge": a["top1"].round(3),
            f"Top-1 {fitted_by}": b["top1"].round(3),
        }
    )
    out.index = [f"{t} - {i}" for t, i in out.index]
    return out


def concentration_table(fits: dict[str, dict[Pair, np.ndarray]]) -> pd.DataFrame:
    """:func:`helpers.paper_b.projection.weight_concentration` of every pair (rows, paper names)
    under every fit (``{fit name: weights}``; columns: fit, then measure).

    Explained in notebook 08, section "How concentrated are the weights?".
    """
    return pd.concat(
        {
            name: pd.DataFrame({pair_label(*p): weight_concentration(w) for p, w in ws.items()}).T
            for name, ws in fits.items()
        },
        axis=1,
    )


def bipartite_figure(weights: dict[Pair, np.ndarray], text: str, image: str, *, n_bins: int, top: int):
    """Figure B8 or B9: :func:`helpers.paper_b.figures_b.bipartite_weights` of the pair
    (``text``, ``image``), labelled with the paper's names.

    Explained in notebook 08, section "Figures 8 and 9: strongest weights as a bipartite graph".
    """
    if (text, image) not in weights:
        raise ReproError(f"No projection {(text, image)} in notebook 07's output.")
    return figures_b.bipartite_weights(
        weights[(text, image)],
        pair_label(text, image),
        n_bins=n_bins,
        top=top,
        text_label=PAPER_TEXT_NAMES.get(text, text),
        image_label=PAPER_IMAGE_NAMES.get(image, image),
    )


def edge_bins_text(weights: np.ndarray, n_bins: int, top: int) -> str:
    """What Figure B8 shows in this run: how many text and image bins the ``top`` strongest
    weights touch (:func:`helpers.paper_b.figures_b.edge_bins`), and whether a few text bins carry
    them all (at most a quarter of the bins).

    Explained in notebook 08, section "Figures 8 and 9: strongest weights as a bipartite graph".
    """
    bins = figures_b.edge_bins(weights, n_bins, top)
    return (
        f"the {top} strongest weights start from {bins[0]} of the {n_bins} text bins and end in "
        f"{bins[1]} of the {n_bins} image bins"
        + (
            "; a few text bins carry all strong weights"
            if bins[0] <= n_bins // 4
            else ", so they spread over the text side"
        )
    )


def saturated_rows_text(weights: dict[Pair, np.ndarray], text_model: str) -> str:
    """What Figure B10 shows in the dense encoder's panels: the text dimensions whose weights
    reach the top of the colour scale across the image dimensions
    (:func:`helpers.paper_b.figures_b.saturated_rows`), per pair of ``text_model``.

    Explained in notebook 08, section "Figure B10: all six weight matrices".
    """
    hot = {
        pair_label(*p): (figures_b.saturated_rows(w), w.shape[0])
        for p, w in weights.items()
        if p[0] == text_model
    }
    listed = "; ".join(f"{k}: {v} of {n} rows" for k, (v, n) in hot.items())
    if any(v for v, _ in hot.values()):
        return (
            "bright full-width rows in the dense-encoder panels are text dimensions whose weights to "
            "every image dimension reach the top of the colour scale (median |W| at or above the 99th "
            f"percentile: {listed})"
        )
    return (
        "no row of the dense-encoder panels reaches the top of the colour scale across the image "
        f"dimensions in this run (median |W| below the 99th percentile in every row: {listed})"
    )
