"""Paper B's figure functions that notebooks 05-08 call in one hop (helpers/paper_b/figures_b.py)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers.core import report  # noqa: E402
from helpers.core.weights import ModelChoice  # noqa: E402
from helpers.paper_b import figures_b


def texts(fig):
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_pipeline_diagrams_name_the_models_and_sizes_that_ran():
    figs = figures_b.pipeline_diagrams("MiniLM", 384, "MobileNetV2 (128 px)", 1280, 14, 180)
    assert len(figs) == 3
    assert "Linear 384->14" in texts(figs[0]) and "Linear 1280->14" in texts(figs[0])
    assert "W: 384 x 1280" in texts(figs[1])
    assert "test images\n(180)" in texts(figs[2])


def legend_texts(fig):
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def lines_with(ax, y):
    return [line for line in ax.lines if len(line.get_ydata()) == len(y) and np.allclose(line.get_ydata(), y)]


def test_finetuning_panels_one_panel_per_dataset_and_standins_named():
    h = {"epoch": [0, 1, 2], "train_acc": [0.2, 0.5, 0.7], "val_acc": [0.1, 0.4, 0.45]}
    h2 = {"epoch": [0, 1, 2], "train_acc": [0.3, 0.6, 0.9], "val_acc": [0.15, 0.35, 0.5]}
    paper = ModelChoice("vgg11_bn", "vgg11_bn (224 px)", False, "ImageNet", "")
    standin = ModelChoice("resnet18", "mobilenet_v2 (128 px)", True, "ImageNet", "no weights")
    fig = figures_b.finetuning_panels(
        {("cub", "vgg11_bn"): h, ("cub", "resnet18"): h2, ("flowers", "vgg11_bn"): h},
        {("cub", "vgg11_bn"): paper, ("cub", "resnet18"): standin, ("flowers", "vgg11_bn"): paper},
    )
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["birds (CUB)", "flowers (Oxford-102)"]
    assert legend_texts(fig) == [
        "model",
        "vgg11_bn",
        "resnet18 (mobilenet_v2)",
        "split",
        "train",
        "validation",
    ]
    cub = fig.axes[0]
    (train,), (val,) = lines_with(cub, h2["train_acc"]), lines_with(cub, h2["val_acc"])
    np.testing.assert_allclose(train.get_xdata(), [1, 2, 3])  # epochs count from 1
    assert train.get_linestyle() == "--" and val.get_linestyle() == "-"
    assert train.get_color() == val.get_color() != lines_with(cub, h["val_acc"])[0].get_color()
    assert not lines_with(fig.axes[1], h2["val_acc"])  # resnet18 ran on birds only


def test_accuracy_table_is_long_form_and_counts_epochs_from_one():
    t = figures_b.accuracy_table(
        {"p": {"m": {"epoch": [0, 1], "train_acc": [0.2, 0.5], "val_acc": [0.1, 0.4]}}}
    )
    assert t.to_dict("list") == {
        "panel": ["p"] * 4,
        "model": ["m"] * 4,
        "split": ["train", "train", "validation", "validation"],
        "epoch": [1, 2, 1, 2],
        "accuracy": [0.2, 0.5, 0.1, 0.4],
    }


def test_caption_curves_say_when_no_captions_ran():
    assert "not run" in texts(figures_b.caption_curves({}, "MiniLM"))
    fig = figures_b.caption_curves({"cub": {"epoch": [0], "train_acc": [0.5], "val_acc": [0.4]}}, "MiniLM")
    assert fig.axes[0].get_title() == "caption classifier (MiniLM)"
    assert legend_texts(fig)[:2] == ["data set", "birds (CUB)"]
    lo, hi = fig.axes[0].get_xlim()
    shown = [t.get_text() for t in fig.axes[0].get_xticklabels() if lo <= t.get_position()[0] <= hi]
    assert shown == ["1"]  # one epoch, one integer tick


def test_weight_heatmaps_draw_abs_w_and_max_pool_large_matrices():
    rng = np.random.default_rng(0)
    small = rng.normal(size=(6, 9))
    large = rng.normal(size=(10, 1000))
    with report.paper_style():
        fig = figures_b.weight_heatmaps(
            {"small": small, "large": large}, "W", ncols=2, max_pixels=400, clip_percentile=None
        )
    assert len(fig.axes) == 4  # each panel has its own colour bar
    ax_small, ax_large = fig.axes[:2]
    np.testing.assert_allclose(ax_small.images[0].get_array(), np.abs(small))
    pooled = ax_large.images[0].get_array()
    f = 3  # ceil(1000 / 400): 334 cells of 3 dims
    padded = np.pad(np.abs(large), [(0, 0), (0, 2)])
    np.testing.assert_allclose(pooled, padded.reshape(10, 334, f).max(axis=2))
    assert ax_large.images[0].get_extent() == [0, 1000, 10, 0]  # axes count the original dimensions
    assert ax_large.get_xlabel() == "image dimension" and ax_large.get_ylabel() == "text dimension"
    fig.canvas.draw()
    lo, hi = ax_large.get_xlim()
    assert len([x for x in ax_large.get_xticks() if lo <= x <= hi]) <= 5  # labels do not crowd


def test_weight_heatmaps_colour_scale_ends_at_the_clip_percentile():
    w = np.arange(100.0).reshape(10, 10)
    fig = figures_b.weight_heatmaps({"w": w}, "W", ncols=1)
    assert fig.axes[0].images[0].norm.vmax == pytest.approx(np.percentile(w, 99))
    assert fig.axes[0].images[0].norm.vmin == 0
