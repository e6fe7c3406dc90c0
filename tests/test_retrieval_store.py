"""What notebook 07 stores and reads back (helpers/paper_b/retrieval_store.py) and the tables it
glues from them (tables_b.reed_table, tables_b.projection_table): the files keep their names and
read back exactly as the evaluation returned them."""

import json

import numpy as np
import pandas as pd
import pytest

from helpers.core import recorded
from helpers.core.weights import ModelChoice
from helpers.paper_b import retrieval, retrieval_store, tables_b


def toy_data(rng):
    """Notebook 06's embeddings of one data set, as retrieval_data.load_embeddings returns them:
    classes 0-2 train, 3-4 test; text is a noisy linear image of the image vector."""
    classes = np.repeat(np.arange(5), 4)
    split = pd.DataFrame(
        {
            "image": [f"im{i}" for i in range(len(classes))],
            "class_id": classes,
            "part": np.where(classes < 3, "train", "test"),
        }
    )
    captions = split.loc[split.index.repeat(2)].reset_index(drop=True)
    centres = rng.normal(size=(5, 6))
    images = centres[classes] + 0.05 * rng.normal(size=(len(classes), 6))
    row = captions.image.str[2:].astype(int).to_numpy()
    text = images[row] @ rng.normal(size=(6, 8)) + 0.01 * rng.normal(size=(len(row), 8))
    return {"split": split, "captions": captions, "images": {"resnet18": images}, "texts": {"tfidf": text}}


def info06():
    choice = ModelChoice("resnet18", "MobileNetV2", True, "ImageNet", "stand-in").as_row()
    return {
        "image_models": ["resnet18"],
        "text_model": "distilbert-base-uncased",
        "choices": {"cub/resnet18": choice},
        "text_choice": None,
    }


@pytest.fixture
def evaluated():
    data = {"cub": toy_data(np.random.default_rng(0)), "flowers": {"split": None, "captions": None}}
    results, projections = {}, {}
    for d in data:
        results[d], projections[d] = retrieval.evaluate_pairs(data[d], reed_k=3)
    mlp, _ = retrieval.evaluate_pairs(data["cub"], reed_k=3, projection="mlp")
    comparison = tables_b.projection_table({"cub": {"lstsq": results["cub"], "mlp": mlp}})
    return results, projections, comparison


def write(folder, evaluated, **extra):
    """notebook 07's retrieval_store.write of the evaluated toy data set, smoke profile, lstsq."""
    results, projections, comparison = evaluated
    chance = {"cub": 0.5, "flowers": None}
    retrieval_store.write(
        folder, results, projections, comparison, info06=info06(), chance_top1=chance,
        profile="smoke", projection="lstsq", rcond=None, **extra,
    )  # fmt: skip


def test_written_files_read_back_exactly(tmp_path, evaluated):
    results, projections, comparison = evaluated
    write(tmp_path, evaluated)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "info.json",
        "metrics_cub.csv",
        "metrics_flowers.csv",
        "projection_comparison.csv",
        "projection_cub_tfidf_resnet18.npy",
        "table1.csv",
        "table2.csv",
    ]
    loaded = retrieval_store.load_metrics(tmp_path)
    pd.testing.assert_frame_equal(loaded["cub"], results["cub"], check_exact=True)
    assert loaded["flowers"].empty
    pd.testing.assert_frame_equal(retrieval_store.load_comparison(tmp_path), comparison, check_exact=True)
    w = np.load(tmp_path / "projection_cub_tfidf_resnet18.npy")
    assert w.dtype == np.float32 and np.array_equal(
        w, projections["cub"]["tfidf", "resnet18"].weights.astype(np.float32)
    )
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["pairs"] == {"cub": [["tfidf", "resnet18"]], "flowers": []}
    assert info["projection"] == "lstsq" and info["projection_rcond"] is None and info["profile"] == "smoke"
    assert info["choices"] == info06()["choices"] and info["chance_top1"]["cub"] == 0.5
    table1 = pd.read_csv(tmp_path / "table1.csv", header=[0, 1], index_col=[0, 1])
    assert (
        table1.loc[("TF-IDF", "ResNet"), ("this build", "models that ran")]
        == "TF-IDF txc (fitted here) → MobileNetV2"
    )


def test_an_empty_comparison_reads_back_empty(tmp_path):
    tables_b.projection_table({}).to_csv(tmp_path / "projection_comparison.csv")
    assert retrieval_store.load_comparison(tmp_path).empty


def test_reed_table_and_printed_metrics(evaluated):
    results, _, _ = evaluated
    reed = tables_b.reed_table(results)
    assert list(reed.columns) == ["reed_top1", "reed_ap50", "reed_k", "reed_under_k", "top1"]
    assert (
        reed.index.tolist() == [("cub", "TF-IDF", "ResNet")]
        and reed.loc[("cub", "TF-IDF", "ResNet"), "reed_k"] == 3
    )
    assert (
        retrieval_store.metrics_text("flowers", results["flowers"]) == "flowers: no captions -> no retrieval"
    )
    shown = retrieval_store.metrics_text("cub", results["cub"])
    assert shown.startswith("cub\n") and "text model" not in shown and "TF-IDF" in shown
    header = shown.splitlines()[1].split()
    assert header == ["text", "image", *recorded.B_METRICS]  # the fit's facts have their own tables
    assert max(map(len, shown.splitlines())) <= 100


def test_the_ridge_fit_is_stored_beside_the_papers_and_reads_back(tmp_path, evaluated):
    results, projections, comparison = evaluated
    data = toy_data(np.random.default_rng(0))
    for frame in (data["split"], data["captions"]):  # every 4th training image is a validation one
        frame.loc[(frame.part == "train") & (frame.image.str[2:].astype(int) % 4 == 0), "part"] = "val"
    ridge, fits = retrieval.evaluate_pairs(data, reed_k=3, projection="ridge")
    assert (ridge.alpha > 0).all() and (ridge.cond >= 1).all() and results["cub"].alpha.isna().all()
    write(tmp_path, evaluated, well_posed={"cub": (ridge, fits)})
    assert {"metrics_ridge_cub.csv", "ridge_cub_tfidf_resnet18.npy"} <= {p.name for p in tmp_path.iterdir()}
    pd.testing.assert_frame_equal(retrieval_store.load_well_posed(tmp_path)["cub"], ridge, check_exact=True)
    w = np.load(tmp_path / "ridge_cub_tfidf_resnet18.npy")
    assert np.array_equal(w, fits["tfidf", "resnet18"].weights.astype(np.float32))


def test_ranking_sentence_names_the_best_pair_per_fit():
    index = pd.MultiIndex.from_tuples(
        [("cub", "TF-IDF", "VGG"), ("cub", "TF-IDF", "ResNet"), ("cub", "DistilBERT", "ResNet")]
    )
    same = pd.DataFrame(
        {("top1", "lstsq"): [0.1, 0.2, 0.3], ("top1", "ridge"): [0.15, 0.25, 0.35]}, index=index
    )
    said = tables_b.ranking_sentence(same)
    assert said == (
        "on cub, the best pair by Top-1 is DistilBERT - ResNet under every fit; "
        "rank correlation of the pairs' order with lstsq's: ridge 1.00"
    )
    other = same.copy()
    other[("top1", "ridge")] = [0.4, 0.2, 0.1]
    said = tables_b.ranking_sentence(other)
    assert "not the same under every fit (lstsq: DistilBERT - ResNet, ridge: TF-IDF - VGG)" in said
    assert said.endswith("ridge -1.00")
    assert tables_b.ranking_sentence(pd.DataFrame()).startswith("no data set has captions")


def test_projection_display_has_a_row_per_pair_and_fit(evaluated):
    _, _, comparison = evaluated
    shown = tables_b.projection_display(comparison)
    assert list(shown.columns) == ["top1", "top5", "f1", "fit_s"]
    assert shown.index.names == ["data set", "text", "image", "fit"]
    assert shown.loc[("cub", "TF-IDF", "ResNet", "mlp"), "top1"] == round(
        comparison[("top1", "mlp")].iloc[0], 3
    )
    assert tables_b.projection_display(pd.DataFrame()).empty
