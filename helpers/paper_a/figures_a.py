"""Figure-only code of the Paper A chapter (notebooks 01-04): Figures A1-A6 and the learning curves.

Every function returns a matplotlib ``Figure``; the notebooks glue it with
``helpers.core.report.glue_figure`` inside ``report.paper_style()``.
"""

from __future__ import annotations

import textwrap
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import FancyBboxPatch, Patch
from matplotlib.ticker import MaxNLocator


def _plt():

    return plt


def _snippet(text: str, width: int = 48, lines: int = 3) -> str:
    text = " ".join(str(text).replace("<br />", " ").split())
    return "\n".join(textwrap.wrap(text, width)[:lines]) + (" ..." if len(text) > width * lines else "")


def cls_heatmap(cls: np.ndarray, texts: Sequence[str], labels: Sequence[int], layer_names: Sequence[str]):
    """Figure A1: the [CLS] vectors of the last layers (rows) x hidden dimensions (columns)
    for a few reviews, one ``seaborn.heatmap`` panel per review, on one colour scale centred on 0
    (ends at the 99th percentile of |activation|; larger values get the end colours).

    Explained in notebook 01, section "Figure A1: the six-layer [CLS] stack".
    """
    plt = _plt()

    cls = np.asarray(cls, dtype=np.float32)
    n = len(cls)
    lim = float(np.percentile(np.abs(cls), 99)) or 1.0
    fig, axes = plt.subplots(n, 1, figsize=(7.0, 1.6 * n + 0.6), squeeze=False, layout="constrained")
    for i, ax in enumerate(axes[:, 0]):
        last = i == n - 1
        sns.heatmap(
            cls[i],
            ax=ax,
            cmap="RdBu_r",
            center=0,
            vmin=-lim,
            vmax=lim,
            cbar=False,
            yticklabels=list(layer_names),
            xticklabels=128 if last else False,
        )
        ax.tick_params(axis="y", rotation=0, length=0)
        ax.tick_params(axis="x", rotation=0)
        sentiment = "positive" if int(labels[i]) == 1 else "negative"
        ax.set_title(f"review {i + 1} ({sentiment}): {_snippet(texts[i], 80, 1)}", loc="left", fontsize=7)
        if last:
            ax.set_xlabel("hidden dimension")
    fig.colorbar(axes[0, 0].collections[0], ax=axes[:, 0].tolist(), shrink=0.6, label="activation", pad=0.02)
    return fig


def review_images(images: np.ndarray, texts: Sequence[str], labels: Sequence[int]):
    """Figure A2: DeepInsight images of the first reviews with the beginning of their text.

    Shown on a shared grey scale from 0 to the 99.5th percentile of the shown pixels (a few
    pixels are much brighter than the rest and would make the others black).

    Explained in notebook 02, section "Figure A2: the first reviews as images".
    """
    plt = _plt()
    n = len(images)
    vmax = float(np.percentile(images, 99.5)) or 1.0
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 3.6), squeeze=False)
    for i, ax in enumerate(axes[0]):
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        sentiment = "positive" if int(labels[i]) == 1 else "negative"
        ax.set_title(f"review {i + 1} ({sentiment})")
        ax.set_xlabel(_snippet(texts[i], 30, 4), fontsize=7)
    return fig


def _hist(ax, values, color, label):
    ax.hist(np.ravel(values), bins=50, color=color, alpha=0.8, label=label)
    ax.set_xlabel("pixel intensity")
    ax.set_ylabel("pixels")


def domain_comparison(
    natural: np.ndarray | None,
    review: np.ndarray,
    natural_caption: str,
    title_suffix: str = "",
    imagenet_stats: bool = False,
):
    """Figures A3/A4: a natural (ImageNet-like) image next to a review image, with the
    pixel-intensity histograms of both (images shown between their 0.5th and 99.5th percentiles).

    Explained in notebook 02, section "Figure A3: two domains".
    """
    plt = _plt()
    cols = 2 if natural is not None else 1
    fig, axes = plt.subplots(2, cols, figsize=(3.3 * cols, 5.2), squeeze=False)
    panels = [("review image" + title_suffix, review, "tab:blue")]
    if natural is not None:
        panels.insert(0, (natural_caption + title_suffix, natural, "tab:orange"))
    for j, (title, img, color) in enumerate(panels):
        ax = axes[0, j]
        lo, hi = np.percentile(img, [0.5, 99.5])
        ax.imshow(img, cmap="gray", interpolation="nearest", vmin=lo, vmax=hi if hi > lo else lo + 1)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        _hist(axes[1, j], img, color, title)
        axes[1, j].set_title(f"mean {np.round(np.mean(img), 3) + 0.0:.3f}, std {np.std(img):.3f}")
    fig.tight_layout()
    return fig


def _box(ax, x, y, w, h, text, color):

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color, ec="0.3", lw=0.8))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=6.5)


def pipeline_diagram(stages: Sequence[tuple[str, str, str]]):
    """Figure A5: the whole pipeline, one box per stage: ``(name, shape text, kind)``;
    kind ``"frozen"`` (grey), ``"fixed"`` (pre-processing, white) or ``"trainable"`` (green).

    Explained in notebook 03, section "Figure A5: the whole pipeline".
    """
    plt = _plt()
    colors = {"frozen": "0.85", "fixed": "white", "trainable": "#b7e4c7"}
    n = len(stages)
    fig, ax = plt.subplots(figsize=(8.4, 1.45 * ((n + 3) // 4) + 0.3))
    per_row = 4
    w, h, gx, gy = 0.23, 0.5, 0.05, 0.35
    rows = (n + per_row - 1) // per_row
    for i, (name, shape, kind) in enumerate(stages):
        r, c = divmod(i, per_row)
        if r % 2 == 1:  # snake layout: every other row right-to-left
            c = per_row - 1 - c
        x = c * (w + gx)
        y = (rows - 1 - r) * (h + gy)
        _box(ax, x, y, w, h, f"{name}\n{shape}", colors.get(kind, "white"))
        if i + 1 < n:
            r2, c2 = divmod(i + 1, per_row)
            if r2 % 2 == 1:
                c2 = per_row - 1 - c2
            x2 = c2 * (w + gx)
            y2 = (rows - 1 - r2) * (h + gy)
            if r2 == r:
                start = (x + w, y + h / 2) if c2 > c else (x, y + h / 2)
                end = (x2, y2 + h / 2) if c2 > c else (x2 + w, y2 + h / 2)
            else:
                start, end = (x + w / 2, y), (x2 + w / 2, y2 + h)
            ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "lw": 0.8})

    ax.legend(
        handles=[Patch(fc=colors[k], ec="0.3", label=k) for k in ("fixed", "frozen", "trainable")],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=3,
        frameon=False,
    )
    ax.set_xlim(-0.02, per_row * (w + gx))
    ax.set_ylim(-0.05, rows * (h + gy) - gy + 0.05)
    ax.axis("off")
    return fig


def feature_maps(image: np.ndarray, maps: dict[str, np.ndarray], n_channels: int = 6):
    """Figure A6: one review image (left) and, per extractor (rows), the ``n_channels`` feature
    maps with the largest variance (colours clipped to the 1st-99th percentile).

    Explained in notebook 03, section "Figure A6: a review image through each extractor".
    """
    plt = _plt()
    names = list(maps)
    fig, axes = plt.subplots(
        len(names), n_channels + 1, figsize=(1.05 * (n_channels + 1), 1.15 * len(names) + 0.3), squeeze=False
    )
    for r, name in enumerate(names):
        fm = np.asarray(maps[name], dtype=np.float32)
        order = np.argsort(fm.reshape(len(fm), -1).var(axis=1))[::-1][:n_channels]
        ax0 = axes[r, 0]
        lo, hi = np.percentile(image, [1, 99.5])
        ax0.imshow(image, cmap="gray", interpolation="nearest", vmin=lo, vmax=hi)
        ax0.set_xticks([])
        ax0.set_yticks([])
        ax0.set_ylabel(
            f"{name}\n{fm.shape[0]} x {fm.shape[1]} x {fm.shape[2]}",
            fontsize=6,
            rotation=0,
            ha="right",
            va="center",
        )
        if r == 0:
            ax0.set_title("input", fontsize=7)
        for j in range(n_channels):
            ax = axes[r, j + 1]
            ax.axis("off")
            if j < len(order):
                lo, hi = np.percentile(fm[order[j]], [1, 99])  # robust colour scale: a few pixels are extreme
                ax.imshow(fm[order[j]], cmap="viridis", interpolation="nearest", vmin=lo, vmax=hi)
    fig.subplots_adjust(wspace=0.05, hspace=0.15)
    return fig


def learning_curve_table(histories: dict[str, list[dict]]) -> pd.DataFrame:
    """Notebook 04's ``histories`` (``{run: [one history per seed]}``) as one row per run, seed
    and epoch, with the columns ``run, seed, epoch, val_acc, train_loss``; seeds may have
    trained different numbers of epochs. Epochs count from 1 (``epoch`` of the history, else
    the position)."""
    rows = [
        {"run": run, "seed": s, "epoch": e, "val_acc": a, "train_loss": loss}
        for run, hs in histories.items()
        for s, h in enumerate(hs)
        for e, a, loss in zip(
            h.get("epoch") or range(1, len(h["val_acc"]) + 1), h["val_acc"], h["train_loss"]
        )
    ]
    return pd.DataFrame(rows, columns=["run", "seed", "epoch", "val_acc", "train_loss"])


def learning_curves(histories: dict[str, list[dict]], *, errorbar=("pi", 100)):
    """Notebook 04's learning curves: validation accuracy (left) and training loss (right) per
    epoch, one colour per Table I row, drawn with ``seaborn.lineplot``: the line is the mean over
    seeds, the band spans the seeds (``errorbar``: seaborn's, by default ``("pi", 100)`` = min to
    max, as notebook 04's caption says; ``"sd"`` gives mean ± one standard deviation). No band
    with one seed."""
    plt = _plt()

    df = learning_curve_table(histories)
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(7.2, 2.8))
    kw = dict(
        data=df,
        x="epoch",
        hue="run",
        hue_order=list(histories),
        errorbar=errorbar,
        marker="o",
        markersize=3,
        markeredgewidth=0,
    )
    sns.lineplot(y="val_acc", ax=ax_acc, legend=False, **kw)
    sns.lineplot(y="train_loss", ax=ax_loss, **kw)
    for ax, label in ((ax_acc, "validation accuracy"), (ax_loss, "training loss")):
        ax.set(xlabel="epoch", ylabel=label, xlim=(0.5, max(df.epoch.max(), 1) + 0.5))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    handles, names = ax_loss.get_legend_handles_labels()
    ax_loss.get_legend().remove()
    fig.legend(
        handles, names, loc="lower center", ncol=min(3, max(len(names), 1)), frameon=False, fontsize=6.5
    )
    fig.tight_layout(rect=(0, 0.02 + 0.055 * ((len(names) + 2) // 3), 1, 1))
    return fig


def density_maps(densities: dict, titles: dict | None = None):
    """Features per pixel of DeepInsight layouts side by side (notebook 02: the corrected and
    the library's bounding rectangle on the same t-SNE embedding); empty pixels in white."""
    plt = _plt()
    names = list(densities)
    vmax = max(float(np.max(d)) for d in densities.values())
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.1), squeeze=False)
    for ax, name in zip(axes[0], names):
        d = np.asarray(densities[name], dtype=float)
        shown = np.ma.masked_equal(d, 0)
        im = ax.imshow(shown, cmap="viridis", vmin=1, vmax=vmax, interpolation="nearest")
        ax.set_title((titles or {}).get(name, name), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=list(axes[0]), shrink=0.8, label="features in the pixel")
    return fig
