"""Figure-only code of Paper B (notebooks ``05_retrieval_data`` to ``08_projection_weights``).

Every function returns a matplotlib ``Figure``; the notebooks glue it
(``helpers.core.report.glue_figure``) inside ``helpers.core.report.paper_style()``.
"""

from __future__ import annotations

import textwrap
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import FancyBboxPatch, Patch
from matplotlib.ticker import MaxNLocator


def class_distribution(
    counts: pd.Series, title: str, *, train: Sequence | None = None, test: Sequence | None = None
):
    """Figures 1-2: images per class as bars, classes sorted by count (largest first).
    With ``train`` / ``test`` (class names), the run's training and test classes get their own
    colours and the classes the run does not use are grey."""

    counts = counts.sort_values(ascending=False, kind="stable")
    tr, te = set(train or ()), set(test or ())
    palette = {"train": "#4c72b0", "test": "#dd8452", "unused": "#c8c8c8"}
    if not tr and not te:
        kinds = ["train"] * len(counts)
    else:
        kinds = ["test" if c in te else "train" if c in tr else "unused" for c in counts.index]
    fig, ax = plt.subplots(figsize=(7.5, 2.6))
    ax.bar(
        np.arange(len(counts)), counts.to_numpy(), width=1.0, color=[palette[k] for k in kinds], linewidth=0
    )
    ax.set_xlim(-0.5, len(counts) - 0.5)
    ax.set_xlabel(f"class (sorted by size, {len(counts)} classes)")
    ax.set_ylabel("images")
    ax.set_title(title, pad=24 if (tr or te) else 6)
    ax.set_xticks([])
    if tr or te:
        labels = {
            "train": "training classes (this run)",
            "test": "test classes (this run)",
            "unused": "not used in this run",
        }
        present = [k for k in ("train", "test", "unused") if k in kinds]
        ax.legend(
            handles=[Patch(color=palette[k], label=labels[k]) for k in present],
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncol=3,
            frameon=False,
        )
    return fig


def split_class_distribution(image_set, split: pd.DataFrame, title: str):
    """Figures 1-2 for one run (notebook ``05_retrieval_data``): :func:`class_distribution` of all
    images of ``image_set`` per class, with the classes of ``split`` (notebook 05's table)
    coloured as training (parts train and val) or test classes."""
    table = image_set.table

    def names(parts):
        ids = set(split.loc[split.part.isin(parts), "class_id"])
        return set(table.loc[table.class_id.isin(ids), "class_name"])

    return class_distribution(
        table.groupby("class_name").size(), title, train=names(["train", "val"]), test=names(["test"])
    )


def flow_diagram(
    rows: Sequence[Sequence[str]],
    title: str,
    *,
    row_labels: Sequence[str] = (),
    merge: str | None = None,
    widths: float = 2.0,
):
    """Figures 3-5: boxes joined by arrows, one row per branch of the pipeline.  With ``merge``,
    the last boxes of all rows point into one final box (e.g. the k-d tree)."""

    n_cols = max(len(r) for r in rows) + (1 if merge else 0)
    fig_w = 1.0 + n_cols * (widths + 0.5)
    fig_h = 0.3 + 0.95 * len(rows)
    fig, ax = plt.subplots(figsize=(min(fig_w, 10.0), fig_h))
    ax.set_xlim(0, fig_w)
    ax.set_ylim(0, fig_h)
    ax.axis("off")
    ax.set_title(title)
    box_h = 0.72
    ends = []

    def box(x, y, text, fc):
        ax.add_patch(
            FancyBboxPatch(
                (x, y - box_h / 2),
                widths,
                box_h,
                boxstyle="round,pad=0.02,rounding_size=0.08",
                fc=fc,
                ec="#333333",
                lw=0.8,
            )
        )
        lines = [textwrap.fill(part, 24) for part in text.split("\n")]
        ax.text(x + widths / 2, y, "\n".join(lines), ha="center", va="center", fontsize=6.2)

    for r, row in enumerate(rows):
        y = fig_h - 0.45 - r * 0.95
        x = 0.9
        if r < len(row_labels):
            ax.text(0.05, y, row_labels[r], ha="left", va="center", fontsize=7, style="italic")
        for c, text in enumerate(row):
            box(x, y, text, "#eef3fb" if c % 2 == 0 else "#fbf1e6")
            if c < len(row) - 1:
                ax.annotate(
                    "",
                    xy=(x + widths + 0.45, y),
                    xytext=(x + widths + 0.03, y),
                    arrowprops=dict(arrowstyle="->", lw=0.8),
                )
            x += widths + 0.5
        ends.append((x - 0.5, y))
    ax.set_ylim(min(e[1] for e in ends) - box_h / 2 - 0.08, fig_h)
    if merge:
        xm = max(e[0] for e in ends) + 0.45
        ym = float(np.mean([e[1] for e in ends]))
        box(xm, ym, merge, "#e9f5ea")
        for xe, ye in ends:
            ax.annotate("", xy=(xm, ym), xytext=(xe + 0.02, ye), arrowprops=dict(arrowstyle="->", lw=0.8))
    return fig


def accuracy_table(panels: Mapping[str, Mapping[str, dict]]) -> pd.DataFrame:
    """``{panel: {model: history}}`` (``helpers.models.training.fit``'s histories) as one row per panel,
    model, split (``train`` / ``validation``) and epoch; epochs count from 1."""
    rows = []
    for panel, histories in panels.items():
        for model, h in histories.items():
            epochs = np.asarray(h["epoch"], dtype=int)
            epochs = epochs + 1 if len(epochs) and epochs.min() == 0 else epochs
            for split, key in (("train", "train_acc"), ("validation", "val_acc")):
                rows += [
                    {"panel": panel, "model": model, "split": split, "epoch": e, "accuracy": a}
                    for e, a in zip(epochs, h[key])
                ]
    return pd.DataFrame(rows, columns=["panel", "model", "split", "epoch", "accuracy"])


def accuracy_panels(panels: Mapping[str, Mapping[str, dict]], *, line_name: str = "model"):
    """Figures 6-7: train (dashed) and validation (solid) accuracy per epoch, one colour per line
    (a model; the legend calls them ``line_name``), one panel per entry of ``panels``
    (``{title: {model: history}}``), drawn with ``seaborn.relplot``; one legend (lines, then
    splits) right of the panels."""

    df = accuracy_table(panels).rename(columns={"model": line_name})
    models = list(dict.fromkeys(m for h in panels.values() for m in h))
    g = sns.relplot(
        df,
        kind="line",
        x="epoch",
        y="accuracy",
        col="panel",
        col_order=list(panels),
        hue=line_name,
        hue_order=models,
        style="split",
        style_order=["train", "validation"],
        dashes={"train": (4, 2), "validation": ""},
        markers={"train": ".", "validation": "o"},
        markersize=4,
        markeredgewidth=0,
        height=2.9,
        aspect=1.0 if len(panels) > 1 else 1.4,
        facet_kws={"sharey": True, "sharex": True, "despine": False},
    )
    g.set_titles("{col_name}")
    g.set(ylim=(0, 1.0), xlim=(0.5, max(df.epoch.max(), 1) + 0.5), xlabel="epoch")
    g.set_ylabels("accuracy")
    for ax in g.axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    return g.figure


DATASET_TITLES = {"cub": "birds (CUB)", "flowers": "flowers (Oxford-102)"}


def pipeline_diagrams(
    text_used: str, text_dim, image_used: str, image_dim, n_train_classes: int, n_test_images: int
):
    """Figures 3-5 (notebook ``06_finetune_encoders``): the paper's three stages drawn with the
    names and sizes of the models that ran. Returns ``(fig3, fig4, fig5)``.

    Explained in notebook 06, section "Figures 3-5: the pipeline".
    """
    t, i = text_used, image_used
    fig3 = flow_diagram(
        [
            [
                "captions of the\ntraining classes",
                f"{t}\n[CLS] {text_dim}",
                f"Linear {text_dim}->{n_train_classes}\n(class head)",
            ],
            [
                "images of the\ntraining classes",
                f"{i}\nembedding {image_dim}",
                f"Linear {image_dim}->{n_train_classes}\n(class head)",
            ],
        ],
        "Stage 1: fine-tune by classification",
        row_labels=["text", "image"],
    )
    fig4 = flow_diagram(
        [
            ["training captions", f"{t}\nhead dropped", f"text embedding\n({text_dim})"],
            ["training images", f"{i}\nhead dropped", f"image embedding\n({image_dim})"],
        ],
        "Stage 2: fit the projection",
        row_labels=["text", "image"],
        merge=f"least squares\nW: {text_dim} x {image_dim}",
    )
    fig5 = flow_diagram(
        [
            ["query caption\n(test class)", f"{t}\n[CLS] {text_dim}", f"projection W\n-> {image_dim}"],
            [f"test images\n({n_test_images})", f"{i}\nembedding {image_dim}", "cKDTree\n(Euclidean)"],
        ],
        "Stage 3: retrieve",
        row_labels=["query", "index"],
        merge="nearest test\nimage (top-5)",
    )
    return fig3, fig4, fig5


def finetuning_panels(histories: Mapping[tuple, dict], choices: Mapping[tuple, object]):
    """Figure 6 (notebook ``06_finetune_encoders``): :func:`accuracy_panels` with one panel per data
    set; ``histories`` and ``choices`` (``ModelChoice``) are keyed by ``(dataset, model)``, and a
    stand-in's name is shown after the paper's model name.

    Explained in notebook 06, section "Figures B6 and B7: training curves".
    """
    panels: dict = {}
    for (d, name), h in histories.items():
        ch = choices[(d, name)]
        label = name + (f" ({ch.used.split()[0]})" if ch.is_standin else "")
        panels.setdefault(DATASET_TITLES.get(d, d), {})[label] = h
    return accuracy_panels(panels)


def caption_curves(text_histories: Mapping[str, dict], model_used: str):
    """Figure 7 (notebook ``06_finetune_encoders``): the caption classifier's accuracy per data set
    that has captions (:func:`accuracy_panels`, one panel); a figure that says so when none has.

    Explained in notebook 06, section "Figures B6 and B7: training curves".
    """

    if text_histories:
        return accuracy_panels(
            {
                f"caption classifier ({model_used})": {
                    DATASET_TITLES.get(d, d): h for d, h in text_histories.items()
                }
            },
            line_name="data set",
        )
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, "no captions: caption classifier not run", ha="center")
    return fig


def _bin_of(index: np.ndarray, size: int, n_bins: int) -> np.ndarray:
    return np.minimum((index * n_bins) // max(size, 1), n_bins - 1)


def edge_bins(weights: np.ndarray, n_bins: int, top: int) -> tuple[int, int]:
    """How many text bins and image bins the ``top`` strongest weights of Figures B8-B9 touch
    (the same binning as :func:`bipartite_weights`), for the sentence under the figure.

    Explained in notebook 08, section "Figures 8 and 9: strongest weights as a bipartite graph".
    """
    w = np.abs(np.asarray(weights))
    flat = np.argpartition(w.ravel(), -min(top, w.size))[-min(top, w.size) :]
    ti, ii = np.unravel_index(flat, w.shape)
    return len(set(_bin_of(ti, w.shape[0], n_bins))), len(set(_bin_of(ii, w.shape[1], n_bins)))


def saturated_rows(weights: np.ndarray, clip_percentile: float = 99.0) -> int:
    """Text dimensions (rows of Figure B10) whose median |W| reaches the top of the panel's colour
    scale (the ``clip_percentile`` of |W|): the bright full-width rows of a panel.

    Explained in notebook 08, section "Figure B10: all six weight matrices".
    """
    a = np.abs(np.asarray(weights))
    return int((np.median(a, axis=1) >= np.percentile(a, clip_percentile)).sum())


def bipartite_weights(
    weights: np.ndarray,
    title: str,
    *,
    n_bins: int = 24,
    top: int = 200,
    text_label: str = "text",
    image_label: str = "image",
):
    """Figures 8-9: the ``top`` largest absolute projection weights as edges between binned text
    dimensions (left) and binned image dimensions (right); edge width ~ |weight|, node size ~
    number of top weights that touch the bin.

    Explained in notebook 08, section "Figures 8 and 9: strongest weights as a bipartite graph".
    """

    w = np.abs(np.asarray(weights))
    n_text, n_image = w.shape
    top = min(top, w.size)
    flat = np.argpartition(w.ravel(), -top)[-top:]
    ti, ii = np.unravel_index(flat, w.shape)
    tb, ib = _bin_of(ti, n_text, n_bins), _bin_of(ii, n_image, n_bins)
    vals = w[ti, ii]
    fig, ax = plt.subplots(figsize=(4.2, 4.6))
    ys = np.linspace(1, 0, n_bins)
    scale = 2.5 / vals.max() if vals.max() > 0 else 1.0
    for a, b, v in sorted(zip(tb, ib, vals), key=lambda t: t[2]):
        ax.plot([0, 1], [ys[a], ys[b]], color=plt.cm.viridis(v / vals.max()), lw=0.3 + v * scale, alpha=0.6)
    for side, bins in ((0, tb), (1, ib)):
        deg = np.bincount(bins, minlength=n_bins)
        ax.scatter(np.full(n_bins, side), ys, s=8 + 60 * deg / max(deg.max(), 1), color="#333333", zorder=3)
    ax.text(0, 1.06, f"{text_label}\n({n_text} dims)", ha="center", va="bottom", fontsize=7)
    ax.text(1, 1.06, f"{image_label}\n({n_image} dims)", ha="center", va="bottom", fontsize=7)
    ax.set_xlim(-0.2, 1.2)
    ax.set_ylim(-0.05, 1.2)
    ax.axis("off")
    ax.set_title(title)
    return fig


def weight_heatmaps(
    weights: Mapping[str, np.ndarray],
    title: str,
    *,
    ncols: int = 3,
    max_pixels: int = 400,
    clip_percentile: float | None = 99.0,
):
    """Figure 10: ``|W|`` of every projection (y: text dimension, x: image dimension), one panel
    per pair, each with its own colour scale (large matrices are max-pooled to ``max_pixels``
    per axis so that peaks stay visible). The scale ends at the ``clip_percentile`` of |W| so
    that a few huge weights do not turn the rest black; larger values get the top colour.
    Drawn with ``imshow``, not ``seaborn.heatmap``: its extent keeps the axes in the original
    dimensions of a max-pooled matrix, which a heat map of cells would need hand-made ticks for.

    Explained in notebook 08, section "Figures 8 and 9: strongest weights as a bipartite graph".
    """

    n = len(weights)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.8 * nrows), squeeze=False)
    for ax, (label, w) in zip(axes.ravel(), weights.items()):
        a = _max_pool(np.abs(np.asarray(w)), max_pixels)
        vmax = np.percentile(np.abs(w), clip_percentile) if clip_percentile else a.max()
        im = ax.imshow(
            a,
            aspect="auto",
            cmap="magma",
            interpolation="nearest",
            vmin=0,
            vmax=vmax if vmax > 0 else None,
            extent=(0, w.shape[1], w.shape[0], 0),
        )
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("image dimension")
        ax.set_ylabel("text dimension")
        ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))  # 5 labels crowd a 3-inch panel
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _max_pool(a: np.ndarray, max_pixels: int) -> np.ndarray:
    out = a
    for axis in (0, 1):
        size = out.shape[axis]
        if size > max_pixels:
            f = int(np.ceil(size / max_pixels))
            pad = (-size) % f
            widths = [(0, 0), (0, 0)]
            widths[axis] = (0, pad)
            padded = np.pad(out, widths)
            shape = list(padded.shape)
            shape[axis : axis + 1] = [shape[axis] // f, f]
            out = padded.reshape(shape).max(axis=axis + 1)
    return out
