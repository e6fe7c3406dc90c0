"""Paper A's seaborn figures (helpers/paper_a/figures_a.py): what they draw equals the data given."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers.core import report  # noqa: E402
from helpers.paper_a import figures_a


def band_extent(poly, x):
    """Lowest and highest y of a fill_between polygon at x."""
    v = np.concatenate([p.vertices for p in poly.get_paths()])
    ys = v[np.isclose(v[:, 0], x), 1]
    return ys.min(), ys.max()


def histories(rng, runs=("a | book", "b | paper"), seeds=3, epochs=4):
    return {
        r: [
            {
                "epoch": list(range(1, epochs + 1)),
                "val_acc": rng.uniform(0.4, 0.9, epochs).tolist(),
                "train_loss": rng.uniform(0.1, 0.8, epochs).tolist(),
            }
            for _ in range(seeds)
        ]
        for r in runs
    }


@pytest.mark.parametrize("errorbar", [None, "sd"])
def test_learning_curves_line_is_the_seed_mean_and_band_spans_the_seeds(errorbar):
    h = histories(np.random.default_rng(0))
    with report.paper_style():
        fig = (
            figures_a.learning_curves(h) if errorbar is None else figures_a.learning_curves(h, errorbar="sd")
        )
    ax_acc, ax_loss = fig.axes
    for ax, key in ((ax_acc, "val_acc"), (ax_loss, "train_loss")):
        for i, run in enumerate(h):
            values = np.array([s[key] for s in h[run]])
            mean, sd = values.mean(0), values.std(0, ddof=1)
            low, high = (values.min(0), values.max(0)) if errorbar is None else (mean - sd, mean + sd)
            line = ax.lines[i]
            np.testing.assert_allclose(line.get_xdata(), [1, 2, 3, 4])
            np.testing.assert_allclose(line.get_ydata(), mean)
            for e in range(4):
                lo, hi = band_extent(ax.collections[i], e + 1)
                assert lo == pytest.approx(low[e]) and hi == pytest.approx(high[e])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(h)


def test_learning_curves_take_seeds_of_different_lengths_and_one_seed_without_band():
    h = histories(np.random.default_rng(1), runs=("a",), seeds=2)
    h["a"][1] = {k: v[:3] for k, v in h["a"][1].items()}  # the second seed stopped after 3 epochs
    table = figures_a.learning_curve_table(h)
    assert len(table) == 7 and set(table.seed) == {0, 1}
    fig = figures_a.learning_curves(h)
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_ydata()[-1], h["a"][0]["val_acc"][3])  # epoch 4: one seed
    one = figures_a.learning_curves({"a": h["a"][:1]})
    assert not [p for c in one.axes[0].collections for p in c.get_paths()]  # no spread, no band


def test_cls_heatmap_draws_each_review_matrix_on_one_centred_scale():
    rng = np.random.default_rng(2)
    cls = rng.normal(size=(2, 3, 40)).astype(np.float32)
    cls[1, 0, 0] = 50.0  # an outlier: the scale ends at the 99th percentile
    layers = ["layer 10", "layer 11", "layer 12"]
    with report.paper_style():
        fig = figures_a.cls_heatmap(cls, ["good film", "bad film"], [1, 0], layers)
    panels, colorbar = fig.axes[:2], fig.axes[2:]
    assert len(colorbar) == 1
    lim = np.percentile(np.abs(cls), 99)
    for i, ax in enumerate(panels):
        mesh = ax.collections[0]
        np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(3, 40), cls[i])
        assert mesh.norm.vmin == pytest.approx(-lim) and mesh.norm.vmax == pytest.approx(lim)
        assert [t.get_text() for t in ax.get_yticklabels()] == layers
    assert "positive" in panels[0].get_title("left") and "negative" in panels[1].get_title("left")
    assert panels[1].get_xlabel() == "hidden dimension" and not panels[0].get_xticklabels()
