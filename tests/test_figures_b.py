"""Paper B's figure functions that notebooks 05-06 call in one hop (helpers/figures_b.py)."""
import matplotlib

matplotlib.use("Agg")

from helpers import figures_b  # noqa: E402
from helpers.weights import ModelChoice  # noqa: E402


def texts(fig):
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_pipeline_diagrams_name_the_models_and_sizes_that_ran():
    figs = figures_b.pipeline_diagrams("MiniLM", 384, "MobileNetV2 (128 px)", 1280, 14, 180)
    assert len(figs) == 3
    assert "Linear 384->14" in texts(figs[0]) and "Linear 1280->14" in texts(figs[0])
    assert "W: 384 x 1280" in texts(figs[1])
    assert "test images\n(180)" in texts(figs[2])


def test_finetuning_panels_one_panel_per_dataset_and_standins_named():
    h = {"epoch": [0, 1], "train_acc": [0.2, 0.5], "val_acc": [0.1, 0.4]}
    paper = ModelChoice("vgg11_bn", "vgg11_bn (224 px)", False, "ImageNet", "")
    standin = ModelChoice("resnet18", "mobilenet_v2 (128 px)", True, "ImageNet", "no weights")
    fig = figures_b.finetuning_panels(
        {("cub", "vgg11_bn"): h, ("cub", "resnet18"): h, ("flowers", "vgg11_bn"): h},
        {("cub", "vgg11_bn"): paper, ("cub", "resnet18"): standin, ("flowers", "vgg11_bn"): paper})
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["birds (CUB)", "flowers (Oxford-102)"]
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert "validation - resnet18 (mobilenet_v2)" in labels and "train - vgg11_bn" in labels


def test_caption_curves_say_when_no_captions_ran():
    assert "not run" in texts(figures_b.caption_curves({}, "MiniLM"))
    fig = figures_b.caption_curves({"cub": {"epoch": [0], "train_acc": [0.5], "val_acc": [0.4]}},
                                   "MiniLM")
    assert fig.axes[0].get_title() == "caption classifier (MiniLM)"
