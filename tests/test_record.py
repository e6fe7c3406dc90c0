"""Recorded runs (helpers/book/record.py): results/<profile>.json, the README section, the three column groups.

The slow tests record the session's shared smoke run of the eight notebooks
(tests/book_fixtures.py) and check the JSON written.
"""

import json
import math

import nbformat
import pandas as pd
import pytest

from helpers.book import answers, readme, record, run, verdicts
from helpers.core import recorded
from helpers.core.config import REPO_ROOT
from helpers.core.errors import ReproError


def test_readme_section_agrees_with_the_recorded_full_run():
    """README.md shows exactly what results/full.json holds (or says that no full run is recorded)."""
    text = (REPO_ROOT / "README.md").read_text()
    assert text.count(readme.START) == 1 and text.count(readme.END) == 1
    section = text.split(readme.START, 1)[1].split(readme.END, 1)[0].strip()
    rec = recorded.load("full")
    assert section == readme.readme_section(rec).strip(), (
        "README out of date: run `python -m helpers.record readme`"
    )
    if rec is None:
        assert "No full run has been recorded yet" in section
    else:
        for row in rec["tables"]["A1"]:
            assert f"| {readme._cell(row['row'])} | {recorded.fmt(row['val_acc'])} |" in section
        for row in rec["tables"]["B1"]:
            assert f"| {row['text']} | {row['image']} | {recorded.fmt(row['top1'])} |" in section


def test_readme_text_replaces_only_the_marked_section():
    text = f"intro\n{readme.START}\nold table\n{readme.END}\noutro\n"
    new = readme.readme_text(text, None)
    assert new.startswith("intro\n") and new.endswith(f"{readme.END}\noutro\n")
    assert "old table" not in new and "No full run has been recorded yet" in new
    with pytest.raises(ReproError, match="markers"):
        readme.readme_text("no markers here", None)


def _fake_record():
    a1 = [
        {
            "row": "alexnet",
            "val_acc": record._mean_std([0.80, 0.82]),
            "test_acc": record._mean_std([0.79, 0.81]),
            "seeds": [0, 1],
        },
        {
            "row": "linear probe: [CLS] vectors",
            "val_acc": record._mean_std([0.85]),
            "test_acc": record._mean_std([0.84]),
            "seeds": [0],
        },
    ]
    b1 = [{"text": "TF-IDF", "image": "VGG", **{m: record._mean_std([0.1]) for m in record.B_METRICS}}]
    return {
        "schema": record.SCHEMA,
        "profile": "full",
        "commit": "0123456789abcdef",
        "dirty": False,
        "date": "2026-11-25",
        "machine": {"cores": 2, "ram_gb": 24.0, "gpu": None},
        "notebooks": {f"0{i}_x": {"wall_s": 60.0 * i} for i in range(1, 9)},
        "total_wall_s": 2160.0,
        "tables": {"A1": a1, "B1": b1, "B2": []},
    }


def test_mean_std_over_seeds_and_formatting():
    stat = record._mean_std([0.80, 0.82, float("nan")])
    assert stat["n"] == 2 and stat["mean"] == pytest.approx(0.81)
    assert stat["std"] == pytest.approx(pd.Series([0.80, 0.82]).std(), abs=1e-6)  # ddof=1
    assert recorded.fmt(stat) == "0.810 ± 0.014"
    assert recorded.fmt(record._mean_std([0.5])) == "0.500"  # one seed: no std
    assert recorded.fmt(record._mean_std([])) == "–"


def test_table_a1_and_b_read_the_notebooks_outputs(tmp_path):
    pd.DataFrame(
        {
            "row": ["alexnet", "alexnet", "vgg16", "vgg16"],
            "seed": [0, 1, 0, 1],
            "val_acc": [0.7, 0.8, 0.6, 0.6],
            "test_acc": [0.7, 0.7, 0.5, 0.7],
            "epochs": 3,
            "seconds": 1.0,
        }
    ).to_csv(tmp_path / "results.csv", index=False)
    a1 = record.table_a1(tmp_path)
    assert [r["row"] for r in a1] == ["alexnet", "vgg16"]
    assert a1[0]["val_acc"]["mean"] == pytest.approx(0.75) and a1[0]["seeds"] == [0, 1]
    assert a1[1]["val_acc"]["std"] == pytest.approx(0.0)
    # notebook 04 trains each row with several recipes and heads: one line per run
    pd.DataFrame(
        {
            "run": ["alexnet | paper recipe | book head", "alexnet | book recipe | book head"] * 2,
            "row": ["alexnet"] * 4,
            "seed": [0, 0, 1, 1],
            "val_acc": [0.6, 0.7, 0.8, 0.7],
            "val_acc_cumulative": [0.5, 0.6, 0.7, 0.6],
            "test_acc": [0.6] * 4,
        }
    ).to_csv(tmp_path / "results.csv", index=False)
    runs = {r["row"]: r for r in record.table_a1(tmp_path)}
    assert list(runs) == ["alexnet | paper recipe | book head", "alexnet | book recipe | book head"]
    assert runs["alexnet | paper recipe | book head"]["val_acc"]["mean"] == pytest.approx(0.7)
    assert runs["alexnet | book recipe | book head"]["val_acc_cumulative"]["mean"] == pytest.approx(0.6)
    pd.DataFrame(
        {
            "text": ["TF-IDF"],
            "image": ["VGG"],
            "text model": ["tfidf"],
            "image model": ["vgg11_bn"],
            "top1": [0.2],
            "precision": [0.1],
            "recall": [0.2],
            "f1": [0.1],
            "top5": [0.5],
            "reed_top1": [0.3],
            "reed_ap50": [0.25],
            "queries": [30],
            "images": [10],
        }
    ).to_csv(tmp_path / "metrics_cub.csv", index=False)
    b1 = record.table_b(tmp_path, "cub")
    assert b1[0]["top1"] == {"mean": 0.2, "std": None, "n": 1} and b1[0]["queries"] == 30
    assert record.table_b(tmp_path, "flowers") == []  # no captions -> no table
    with pytest.raises(ReproError, match="results.csv"):
        record.table_a1(tmp_path / "nothing")


def test_three_column_groups_paper_full_run_this_build():
    rec = _fake_record()
    paper = pd.DataFrame({"val. acc.": ["0.81-0.82"]}, index=pd.Index(["alexnet"], name="run"))
    here = pd.DataFrame(
        {"val. acc.": ["0.650 ± 0.010", "0.700"]},
        index=pd.Index(["alexnet", "linear probe: [CLS] vectors"], name="run"),
    )
    table = recorded.three_groups("A1", paper, here, record=rec)
    groups = list(dict.fromkeys(table.columns.get_level_values(0)))
    assert groups == ["paper", "full run (recorded)", "this build"]
    assert table.loc["alexnet", ("full run (recorded)", "val. acc., final epoch")] == "0.810 ± 0.014"
    assert table.loc["alexnet", ("full run (recorded)", "seeds")] == 2
    assert table.loc["linear probe: [CLS] vectors", ("paper", "val. acc.")] == "–"
    assert "commit 0123456789 on 2026-11-25" in recorded.caption(rec)
    empty = recorded.three_groups("A1", paper, here, record={})
    assert "full run (none recorded yet)" in empty.columns.get_level_values(0)
    b = recorded.three_groups(
        "B1",
        pd.DataFrame(
            {"top1": [0.11]}, index=pd.MultiIndex.from_tuples([("TF-IDF", "VGG")], names=["text", "image"])
        ),
        pd.DataFrame(),
        record=rec,
    )
    assert b.loc[("TF-IDF", "VGG"), ("full run (recorded)", "top1")] == "0.100"


def test_readme_section_from_a_record_lists_the_tables():
    text = readme.readme_section(_fake_record())
    # no cumulative measure recorded; a record without per-seed shares cannot tell collapsed seeds
    assert "| alexnet | 0.810 ± 0.014 | – | 0.800 ± 0.014 | 2 | not recorded |" in text
    assert "| TF-IDF | VGG | 0.100 |" in text
    assert "Not computed: the data folder has no captions" in text  # empty B2
    assert "36.0" in text  # total minutes
    rec = _fake_record()
    rec["tables"]["A1"][0]["row"] = "alexnet | paper recipe | book head"
    assert "| alexnet \\| paper recipe \\| book head | 0.810 ± 0.014 |" in readme.readme_section(rec)
    assert "**What the full run answers**" in text
    # a record without per-seed values: every verdict is not determined, and the text says why
    assert "reach 0.81-0.82 with the stand-ins?** Not determined" in text  # alexnet: 0.810
    assert "[CLS] vectors?** Not determined: the probe reaches 0.850" in text
    assert "no per-seed values in this record" in text


def test_record_refuses_a_run_that_is_not_there(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_ARTIFACTS", str(tmp_path / "art"))
    with pytest.raises(ReproError, match="01_bert_cls was not executed"):
        record.write("smoke", executed_dir=tmp_path / "executed", results_dir=tmp_path / "results")
    assert not (tmp_path / "results" / "smoke.json").exists()
    assert record.load("smoke", results_dir=tmp_path / "results") is None


def test_machine_and_packages_are_described():
    m = record.machine()
    assert m["cores"] >= 1 and m["ram_gb"] > 0 and m["cpu"]
    versions = record.package_versions()
    assert versions["torch"] and versions["numpy"]


@pytest.mark.slow
def test_record_of_a_real_smoke_run(smoke_run, monkeypatch, tmp_path):
    monkeypatch.setenv("REPRO_ARTIFACTS", str(smoke_run.artifacts))
    monkeypatch.setenv("REPRO_EXECUTED", str(smoke_run.executed_dir))
    path = record.write("smoke", results_dir=tmp_path / "results")
    rec = json.loads(path.read_text())
    assert rec == record.load("smoke", results_dir=tmp_path / "results")
    assert rec["profile"] == "smoke" and len(rec["commit"]) == 40 and rec["date"]
    assert rec["machine"]["cores"] >= 1 and rec["machine"]["ram_gb"] > 0
    assert rec["packages"]["torch"]
    executed = [p.stem for p in run.notebooks()]
    assert list(rec["notebooks"]) == executed
    for stem, nb in rec["notebooks"].items():
        duration = nbformat.read(
            smoke_run.executed_dir / f"{stem}.ipynb", as_version=4
        ).metadata.papermill.duration
        assert nb["last_sitting_s"] == pytest.approx(duration, abs=0.1) and duration > 0
        # the runner kept each sitting (helpers/book/sittings.py): at least the one that finished
        assert nb["sittings"] >= 1 and nb["wall_s"] >= nb["last_sitting_s"]
    assert rec["total_wall_s"] == pytest.approx(sum(v["wall_s"] for v in rec["notebooks"].values()), abs=0.5)
    assert set(rec["data"]["imdb_reviews"]) == {"train", "val", "test"}
    assert rec["data"]["cub"]["classes"]["test"] >= 1
    results = pd.read_csv(run_artifact(smoke_run, "04_sentiment_training") / "results.csv")
    a1 = {r["row"]: r for r in rec["tables"]["A1"]}
    assert set(a1) == set(results["run"])
    for name, group in results.groupby("run"):
        assert a1[name]["val_acc"]["mean"] == pytest.approx(group["val_acc"].mean(), abs=1e-6)
        assert a1[name]["val_acc"]["n"] == len(group)
    metrics = pd.read_csv(run_artifact(smoke_run, "07_retrieval") / "metrics_cub.csv")
    assert len(rec["tables"]["B1"]) == len(metrics) > 0
    assert rec["tables"]["B1"][0]["top1"]["mean"] == pytest.approx(metrics["top1"].iloc[0], abs=1e-6)
    assert rec["models"]["A1"]["extractors"] and rec["models"]["B"]["images"]
    assert not math.isnan(rec["total_wall_s"])
    # the README and book tables can be built from it
    assert "Table A1" in readme.readme_section(rec, "smoke")


@pytest.mark.slow
def test_record_refuses_a_notebook_run_with_overrides(smoke_run, monkeypatch, tmp_path):
    from book_fixtures import copy_run

    smoke_run = copy_run(smoke_run, tmp_path)  # the shared run stays as it is
    monkeypatch.setenv("REPRO_ARTIFACTS", str(smoke_run.artifacts))
    source = run.select(["08"])[0]
    params = {**run.profile_parameters(source.stem, "smoke"), "n_bins": 5}
    run.execute(source, params, out_dir=smoke_run.executed_dir)
    with pytest.raises(ReproError, match="08_projection_weights ran with parameters that differ"):
        record.write("smoke", executed_dir=smoke_run.executed_dir, results_dir=tmp_path / "results2")


def run_artifact(smoke, step):
    from helpers.core import artifacts

    return artifacts.latest("smoke", step, root=smoke.artifacts)


def test_table_a1_keeps_per_seed_values_histories_and_collapsed_seeds(tmp_path):
    pd.DataFrame(
        {
            "run": ["alexnet | paper recipe | book head"] * 2 + ["linear probe: [CLS] vectors"],
            "row": ["alexnet", "alexnet", "linear probe: [CLS] vectors"],
            "seed": [0, 1, 0],
            "val_acc": [0.494, 0.71, 0.85],
            "val_acc_cumulative": [0.49, 0.65, float("nan")],
            "test_acc": [0.5, 0.7, 0.84],
            "val_majority_share": [1.0, 0.55, 0.5],
            "n_val": [200, 200, 200],
            "epochs": [2, 2, 0],
        }
    ).to_csv(tmp_path / "results.csv", index=False)
    hist = {"alexnet | paper recipe | book head": [{"epoch": [1, 2], "val_acc": [0.49, 0.494]}] * 2}
    (tmp_path / "histories.json").write_text(json.dumps(hist))
    a1 = {r["row"]: r for r in record.table_a1(tmp_path)}
    alex = a1["alexnet | paper recipe | book head"]
    assert alex["collapsed"] == [0]
    assert alex["per_seed"][0] == {
        "seed": 0,
        "val_acc": 0.494,
        "val_acc_cumulative": 0.49,
        "test_acc": 0.5,
        "val_majority_share": 1.0,
        "n_val": 200,
        "epochs": 2,
    }
    assert alex["history"] == hist["alexnet | paper recipe | book head"]
    assert a1["linear probe: [CLS] vectors"]["per_seed"][0]["val_acc_cumulative"] is None
    assert recorded.recorded_frame("A1", {"tables": {"A1": list(a1.values())}})[
        "collapsed seeds"
    ].tolist() == ["seed 0", "–"]
    # an old results.csv without shares: collapse unknown, the record says so
    pd.DataFrame({"row": ["vgg16"], "seed": [0], "val_acc": [0.6]}).to_csv(
        tmp_path / "results.csv", index=False
    )
    old = record.table_a1(tmp_path)[0]
    assert old["collapsed"] is None and old["per_seed"] == [{"seed": 0, "val_acc": 0.6}]


def test_the_committed_full_record_keeps_per_seed_values_and_reads_old_parts_as_not_determined():
    """The committed record: Paper A's part keeps per seed values and collapse flags; a part
    recorded before per-seed values existed (Paper B's, until it is re-recorded) reads as not
    determined rather than as a verdict."""
    rec = recorded.load("full")
    if rec is None:
        pytest.skip("no results/full.json")
    a1 = rec["tables"]["A1"]
    trained = [r for r in a1 if not r["row"].startswith("linear probe")]
    assert trained and all(len(r["per_seed"]) == len(r["seeds"]) >= 2 for r in trained)
    cells = recorded.recorded_frame("A1", rec)["collapsed seeds"]
    assert "not recorded" not in cells.tolist()
    b1 = rec["tables"]["B1"]
    if b1 and "per_seed" not in b1[0]:
        assert verdicts.OLD_RECORD in answers.paper_b(rec)
