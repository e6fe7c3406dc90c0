"""Notebook 08's bookkeeping around notebook 07's projections (helpers/paper_b/weight_maps.py):
reading them back, the paper's pair names and the sentences under Figures B8 and B10."""

import json

import numpy as np
import pandas as pd
import pytest

from helpers.core.errors import ReproError
from helpers.paper_b import weight_maps


def test_load_weights_reads_every_pair_and_refuses_a_data_set_without_one(tmp_path):
    info = {"pairs": {"cub": [["tfidf", "resnet18"]], "flowers": []}, "projection": "lstsq"}
    (tmp_path / "info.json").write_text(json.dumps(info))
    np.save(tmp_path / "projection_cub_tfidf_resnet18.npy", np.ones((3, 2), dtype=np.float32))
    got, weights = weight_maps.load_weights(tmp_path, "cub")
    assert (
        got == info
        and list(weights) == [("tfidf", "resnet18")]
        and weights["tfidf", "resnet18"].shape == (3, 2)
    )
    with pytest.raises(ReproError, match="no projection on 'flowers'"):
        weight_maps.load_weights(tmp_path, "flowers")
    with pytest.raises(ReproError, match="No projection"):
        weight_maps.bipartite_figure(weights, "distilbert-base-uncased", "resnet18", n_bins=4, top=3)


def test_pair_label_uses_the_papers_names():
    assert weight_maps.pair_label("tfidf", "resnet18") == "TF-IDF - ResNet"
    assert weight_maps.pair_label("other", "x") == "other - x"


def test_edge_bins_text_says_whether_a_few_text_bins_carry_the_strong_weights():
    w = np.zeros((16, 8))
    w[0, :] = 5.0  # every strong weight starts from the first text dimension
    assert weight_maps.edge_bins_text(w, 8, 8) == (
        "the 8 strongest weights start from 1 of the 8 text bins and end in 8 of the 8 image bins"
        "; a few text bins carry all strong weights"
    )
    spread = weight_maps.edge_bins_text(np.eye(16, 8) * 5.0 + np.eye(16, 8, k=-8) * 4.0, 8, 16)
    assert spread.endswith(", so they spread over the text side")


def test_saturated_rows_text_lists_the_rows_of_the_dense_encoder_only():
    rng = np.random.default_rng(0)
    hot = rng.uniform(0, 1, size=(50, 40))
    hot[3] = 100.0
    weights = {("bert", "resnet18"): hot, ("tfidf", "resnet18"): hot}
    said = weight_maps.saturated_rows_text(weights, "bert")
    assert said.startswith("bright full-width rows") and "bert - ResNet: 1 of 50 rows" in said
    assert "TF-IDF" not in said
    calm = weight_maps.saturated_rows_text({("bert", "resnet18"): rng.uniform(0, 1, (50, 40))}, "bert")
    assert calm.startswith("no row") and "0 of 50 rows" in calm


def test_ridge_weights_load_by_prefix_and_the_tables_name_each_fit(tmp_path):
    info = {"pairs": {"cub": [["tfidf", "resnet18"]]}, "projection": "lstsq"}
    (tmp_path / "info.json").write_text(json.dumps(info))
    np.save(tmp_path / "projection_cub_tfidf_resnet18.npy", np.full((3, 2), 9.0, dtype=np.float32))
    np.save(tmp_path / "ridge_cub_tfidf_resnet18.npy", np.eye(3, 2, dtype=np.float32))
    _, ridge = weight_maps.load_weights(tmp_path, "cub", prefix="ridge")
    _, fitted = weight_maps.load_weights(tmp_path, "cub")
    assert np.array_equal(ridge["tfidf", "resnet18"], np.eye(3, 2))
    conc = weight_maps.concentration_table({"ridge": ridge, "lstsq": fitted})
    assert conc.loc["TF-IDF - ResNet", ("ridge", "max |W|")] == 1.0
    assert conc.loc["TF-IDF - ResNet", ("lstsq", "max |W|")] == 9.0
    metrics = lambda top1, **kw: pd.DataFrame([{"text": "TF-IDF", "image": "ResNet", "top1": top1, **kw}])  # noqa: E731
    table = weight_maps.design_table(metrics(0.31, cond=2.5e16, alpha=0.1), metrics(0.25), "lstsq")
    assert table.loc["TF-IDF - ResNet"].tolist() == ["2.5e+16", "0.1", 0.31, 0.25]
    assert list(table.columns) == ["condition number", "ridge alpha", "Top-1 ridge", "Top-1 lstsq"]
