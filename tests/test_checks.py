"""The book's number checks fail on deliberately broken tables (helpers/book/checks.py)."""

import json

import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from helpers.book import checks
from helpers.core import recorded
from helpers.paper_b import retrieval, tables_b

HERE = recorded.THIS_BUILD


def _grouped(both, name="B1", rec=None):
    """A side-by-side table in the book's three column groups (as notebook 07 glues it)."""
    paper, here = both.xs("paper", axis=1, level=1), both.xs("here", axis=1, level=1)
    return recorded.three_groups(name, paper, here, record=rec or {})


def _b1(here_top1=0.3, here_top5=0.6, rows=2, rec=None):
    ours = pd.DataFrame(
        {
            m: [here_top1 if m == "top1" else here_top5 if m == "top5" else 0.2] * rows
            for m in retrieval.METRICS
        },
        index=pd.MultiIndex.from_tuples(
            [("TF-IDF", "VGG"), ("TF-IDF", "ResNet")][:rows], names=["text", "image"]
        ),
    )
    return _grouped(tables_b.side_by_side(ours, "cub").round(3), rec=rec)


def _empty_b(dataset):
    ours = pd.DataFrame(
        columns=list(retrieval.METRICS), index=pd.MultiIndex.from_tuples([], names=["text", "image"])
    )
    return _grouped(tables_b.side_by_side(ours, dataset), {"cub": "B1", "flowers": "B2"}[dataset])


def _roundtrip(df):
    """What the book test reads: the table as glued HTML, parsed back."""
    return checks.html_table(df.to_html())


def test_html_table_reads_back_multiindex_tables():
    table = _b1()
    back = _roundtrip(table)
    assert (HERE, "top1") in back.columns and ("paper", "f1") in back.columns
    assert list(back["text"])[:1] == [table.index[0][0]]
    assert len(back) == len(table)
    number = np.vectorize(checks._leading_number)  # "–" (not computed) -> NaN
    np.testing.assert_allclose(number(back[(HERE, "top5")]), number(table[(HERE, "top5")]))
    plain = _roundtrip(pd.DataFrame({"a": [1.5, np.nan], "b": ["x", "y"]}))
    assert plain["a"].iloc[0] == 1.5 and np.isnan(plain["a"].iloc[1]) and list(plain["b"]) == ["x", "y"]


def test_good_tables_pass():
    t = _roundtrip(_b1())
    assert checks.retrieval_table(t, "B1") == []
    assert checks.side_filled(t, "B1") == []


@pytest.mark.parametrize(
    "top1, top5, expected",
    [
        (1.7, 1.9, "outside [0, 1]"),
        (-0.1, 0.5, "outside [0, 1]"),
        (0.6, 0.3, "Top-5 0.3 < Top-1 0.6"),
    ],
)
def test_wrong_retrieval_numbers_fail(top1, top5, expected):
    problems = checks.retrieval_table(_roundtrip(_b1(top1, top5)), "B1")
    assert any(expected in p for p in problems), problems


def test_wrong_recorded_number_fails():
    rec = {"tables": {"B1": [{"text": "TF-IDF", "image": "VGG", "top1": {"mean": 13.0, "std": None}}]}}
    problems = checks.retrieval_table(_roundtrip(_b1(rec=rec)), "B1")
    assert problems == ["B1: ('full run (recorded)', 'top1') = 13.0 in row 3 is outside [0, 1]"], problems


def test_nan_where_data_exists_fails():
    table = _b1()
    table.loc[("TF-IDF", "VGG"), (HERE, "recall")] = np.nan
    problems = checks.retrieval_table(_roundtrip(table), "B1")
    assert any("some metrics and NaN" in p for p in problems), problems
    res = pd.DataFrame({"row": ["alexnet"], "seed": [0], "val_acc": [np.nan], "test_acc": [0.5]})
    assert any("val_acc is NaN" in p for p in checks.sentiment_results(res))


def test_empty_cub_side_fails():
    problems = checks.side_filled(_roundtrip(_empty_b("cub")), "Table B1 (CUB)")
    assert problems == ["Table B1 (CUB): no row has this run's (`here`) numbers"]


def test_chance_baseline_missing_wrong_or_not_shown_fails():
    glued = {"b-07-chance-cub": {"text/plain": "'0.050'"}}
    assert checks.chance_reported({"cub": 0.05}, glued, ["cub"]) == []
    assert "not a probability" in checks.chance_reported({"cub": float("nan")}, glued, ["cub"])[0]
    assert "not a probability" in checks.chance_reported({}, glued, ["cub"])[0]
    assert "not glued" in checks.chance_reported({"cub": 0.05}, {}, ["cub"])[0]
    assert "shows '0.050'" in checks.chance_reported({"cub": 0.2}, glued, ["cub"])[0]


def _a1(here: dict, rec=None, runs=None):
    """Table A1 in the book's three groups: ``here`` holds this build's columns."""
    runs = (
        runs or ["alexnet | paper recipe | book head", "linear probe: [CLS] vectors"][: len(here["recipe"])]
    )
    here = pd.DataFrame(here, index=pd.Index(runs, name="run"))
    paper = pd.DataFrame({"paper val. acc. (Table I)": ["0.81 ± 0.01"]}, index=pd.Index(runs[:1], name="run"))
    return recorded.three_groups("A1", paper, here, record=rec or {})


def test_table_a1_checks():
    cols = {
        "recipe": ["paper", "logistic regression (book's probe)"],
        "val. acc., final epoch": ["0.712 ± 0.010", "0.74"],
        "val. acc., authors' cumulative": ["0.690 ± 0.012", "–"],
        "test acc.": ["no test part (split: paper)", "0.70"],
        "seeds": [2, 1],
    }
    good = _a1(cols)
    assert checks.recipes_named(_roundtrip(good)) == []
    assert checks.table_a1_accuracies(_roundtrip(good)) == []

    def broken(**change):
        return _roundtrip(_a1({**cols, **change}))

    no_recipe = good.drop(columns=(HERE, "recipe"))
    assert checks.recipes_named(no_recipe) == ["Table A1 has no ('this build', 'recipe') column"]
    assert checks.recipes_named(broken(recipe=["", "book"])) == ["Table A1: row 0 names no recipe"]
    assert (
        "outside [0, 1]"
        in checks.table_a1_accuracies(broken(**{"val. acc., final epoch": ["71.2 ± 1.0", "0.74"]}))[0]
    )
    assert "NaN" in checks.table_a1_accuracies(broken(**{"val. acc., final epoch": ["0.7", "nan"]}))[0]
    wrong_test = broken(**{"test acc.": ["no test part (split: paper)", "1.7"]})
    assert "outside [0, 1]" in checks.table_a1_accuracies(wrong_test)[0]
    assert (
        "has no column" in checks.table_a1_accuracies(good.drop(columns=(HERE, "val. acc., final epoch")))[0]
    )
    # a run only the record has: no recipe or accuracy of this build needed, but its numbers are checked
    rec = {
        "tables": {"A1": [{"row": "vgg16 | paper recipe | book head", "val_acc": {"mean": 0.8, "std": 0.01}}]}
    }
    with_record = _roundtrip(_a1(cols, rec=rec))
    assert len(with_record) == 3
    assert checks.recipes_named(with_record) == [] and checks.table_a1_accuracies(with_record) == []
    rec["tables"]["A1"][0]["val_acc"]["mean"] = 80.0
    problems = checks.table_a1_accuracies(_roundtrip(_a1(cols, rec=rec)))
    assert problems == [
        "Table A1: ('full run (recorded)', 'val. acc., final epoch') = 80.0 in row 2 is outside [0, 1]"
    ]
    nothing = _roundtrip(_a1({**cols, "seeds": ["–", "–"]}))
    assert checks.table_a1_accuracies(nothing) == ["Table A1: no row has this build's accuracies"]


def test_book_problems_reads_executed_notebooks_and_artifacts(tmp_path):
    """The whole check on a fake run: one broken number in each place is reported."""

    def glue_cell(name, df=None, text=None):
        data = (
            {
                "application/papermill.record/text/html": df.to_html(),
                "application/papermill.record/text/plain": repr(df),
            }
            if df is not None
            else {"application/papermill.record/text/plain": text}
        )
        out = new_output(
            "display_data",
            data=data,
            metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}},
        )
        cell = new_code_cell("glue")
        cell.outputs = [out]
        return cell

    a1 = _a1(
        {
            "recipe": ["paper"],
            "val. acc., final epoch": ["0.71 ± 0.01"],
            "val. acc., authors' cumulative": ["0.69"],
            "test acc.": ["0.70"],
            "seeds": [1],
        }
    )
    nb04, nb07 = tmp_path / "04.ipynb", tmp_path / "07.ipynb"
    nb04.write_text(json.dumps(new_notebook(cells=[glue_cell("a-table1", a1)])))
    b2 = _empty_b("flowers")
    nb07.write_text(
        json.dumps(
            new_notebook(
                cells=[
                    glue_cell("b-table1", _b1()),
                    glue_cell("b-table2", b2),
                    glue_cell("b-07-chance-cub", text="'0.050'"),
                ]
            )
        )
    )
    art04, art07 = tmp_path / "a04", tmp_path / "a07"
    art04.mkdir(), art07.mkdir()
    pd.DataFrame({"row": ["alexnet"], "seed": [0], "val_acc": [0.7], "test_acc": [0.69]}).to_csv(
        art04 / "results.csv", index=False
    )
    (art07 / "info.json").write_text(json.dumps({"chance_top1": {"cub": 0.05, "flowers": None}}))
    metrics = pd.DataFrame(
        {"text": ["tfidf"], "image": ["vgg11_bn"], **{m: [0.3] for m in retrieval.METRICS}}
    )
    metrics.to_csv(art07 / "metrics_cub.csv", index=False)
    pd.DataFrame().to_csv(art07 / "metrics_flowers.csv", index=False)  # no flower captions: empty file
    executed = {"04_sentiment_training": nb04, "07_retrieval": nb07}
    arts = {"04_sentiment_training": art04, "07_retrieval": art07}
    assert checks.book_problems(executed, arts) == []

    metrics.assign(top5=[0.1]).to_csv(art07 / "metrics_cub.csv", index=False)
    pd.DataFrame({"row": ["alexnet"], "seed": [0], "val_acc": [1.3], "test_acc": [0.69]}).to_csv(
        art04 / "results.csv", index=False
    )
    problems = checks.book_problems(executed, arts)
    assert any("metrics_cub.csv: Top-5 0.1 < Top-1 0.3" in p for p in problems), problems
    assert any("results.csv: val_acc = 1.3" in p for p in problems), problems


def test_a_stacked_table_reads_back_as_one_table_in_groups():
    import pandas as pd

    from helpers.book import checks
    from helpers.core import report

    cols = pd.MultiIndex.from_tuples(
        [("paper", "top1"), ("this build", "top1"), ("this build", "f1"), ("this build", "models that ran")]
    )
    df = pd.DataFrame(
        [[0.19, 0.123456, 2.0, "x (stand-in)"], [0.11, float("nan"), 1.0, "y"]],
        index=pd.MultiIndex.from_tuples([("DistilBERT", "VGG"), ("TF-IDF", "VGG")], names=["text", "image"]),
        columns=cols,
    )
    html = report.StackedTable(df, max_columns=2)._repr_html_()
    assert html.count("<table") == 3 and "(continued)" in html
    back = checks.stacked_table(html)
    assert list(back.columns) == ["text", "image", *cols]
    assert back[("this build", "top1")].tolist()[0] == 0.123 and back[("this build", "f1")].tolist() == [2, 1]
