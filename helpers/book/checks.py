"""Checks that fail on wrong numbers in the book's tables (used by ``tests/test_book.py``).

The book test executes every notebook and then reads back what the book will show: the tables
glued into the executed notebooks (Table A1 ``a-table1`` in 04; Tables B1/B2 ``b-table1``/
``b-table2`` and the chance baseline ``b-07-chance-cub`` in 07) and the raw metrics the notebooks
store in their artifacts (04's ``results.csv``, 07's ``metrics_<dataset>.csv`` and ``info.json``).

Each check returns a list of problems (empty: fine), so one run reports every wrong number:

* :func:`unit_interval`: every accuracy and metric lies in [0, 1], with no NaN where the data exists;
* :func:`top5_at_least_top1`;
* :func:`side_filled`: a retrieval table has this run's numbers (the CUB side of Table B1);
* :func:`chance_reported`: the chance baselines are computed, plausible and shown in the book;
* :func:`recipes_named`: each Table A1 row names the recipe it was trained with.

:func:`book_problems` runs them all on a run's executed notebooks and artifacts.
"""

from __future__ import annotations

import json
import math
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from helpers.core.recorded import THIS_BUILD  # the last column group of Tables A1, B1, B2
from helpers.core.report import STACKED_CLASS

RETRIEVAL_METRICS = ("top1", "precision", "recall", "f1", "top5")
GLUE_PREFIX = "application/papermill.record/"


# --------------------------------------------------------------------------- reading glued outputs


def glued_outputs(notebook: Path) -> dict[str, dict]:
    """``{name: mime bundle}`` of everything ``helpers.core.report`` glued into an executed notebook."""
    nb = json.loads(Path(notebook).read_text())
    out = {}
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook")
            if meta:
                out[meta["name"]] = {k.removeprefix(GLUE_PREFIX): v for k, v in o.get("data", {}).items()}
    return out


class _TableParser(HTMLParser):
    """The first ``<table>`` of pandas' ``to_html``: header and body rows with colspan/rowspan."""

    def __init__(self):
        super().__init__()
        self.head, self.body, self.section, self.row, self.cell, self.done = [], [], None, None, None, False

    def handle_starttag(self, tag, attrs):
        if self.done:
            return
        attrs = dict(attrs)
        if tag in ("thead", "tbody"):
            self.section = self.head if tag == "thead" else self.body
        elif tag == "tr":
            self.row = []
        elif tag in ("th", "td") and self.row is not None:
            self.cell = {
                "text": "",
                "th": tag == "th",
                "colspan": int(attrs.get("colspan", 1)),
                "rowspan": int(attrs.get("rowspan", 1)),
            }

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data

    def handle_endtag(self, tag):
        if self.done:
            return
        if tag in ("th", "td") and self.cell is not None:
            self.cell["text"] = self.cell["text"].strip()
            self.row.append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            (self.section if self.section is not None else self.body).append(self.row)
            self.row = None
        elif tag == "table":
            self.done = True


def _grid(rows: list[list[dict]]) -> list[list[dict]]:
    """Expand colspan and rowspan into a rectangular grid of cells."""
    grid: list[list[dict]] = []
    pending: dict[tuple[int, int], dict] = {}
    for r, row in enumerate(rows):
        out, c, cells = [], 0, list(row)
        while cells or (r, c) in pending:
            if (r, c) in pending:
                out.append(pending.pop((r, c)))
                c += 1
                continue
            cell = cells.pop(0)
            for k in range(cell["colspan"]):
                out.append(cell)
                for dr in range(1, cell["rowspan"]):
                    pending[(r + dr, c + k)] = cell
            c += cell["colspan"]
        grid.append(out)
    return grid


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def html_table(html: str) -> pd.DataFrame:
    """A DataFrame back from pandas' HTML (MultiIndex columns become tuples; the index is reset)."""
    p = _TableParser()
    p.feed(html)
    head, body = _grid(p.head), _grid(p.body)
    if not body:
        width = max((len(r) for r in head), default=0)
        return pd.DataFrame(columns=[f"col{i}" for i in range(width)])
    n_index = next((i for i, c in enumerate(body[0]) if not c["th"]), len(body[0]))
    width = max(len(r) for r in body)
    names = []
    for j in range(width):
        levels = tuple(r[j]["text"] for r in head if j < len(r) and r[j]["text"])
        if j < n_index:
            names.append(levels[-1] if levels else f"index{j}")
        else:
            names.append(levels[0] if len(levels) == 1 else (levels or (f"col{j}",)))
    rows = [[_number(c["text"]) if not c["th"] else c["text"] for c in r] for r in body]
    return pd.DataFrame(rows, columns=names)


def stacked_table(html: str) -> pd.DataFrame:
    """A :class:`helpers.core.report.StackedTable` back as one DataFrame: the index columns of the
    first table, then each group's columns as ``(group, column)``."""
    out = None
    for piece in html.split('<p class="repro-group">')[1:]:
        group, table = piece.split("</p>", 1)
        group = re.sub(r"<span.*?</span>", "", group)  # "(continued)": the same group
        df = html_table(table)
        n_index = sum(1 for c in df.columns if not isinstance(c, tuple) and c in _index_names(table))
        body = df.iloc[:, n_index:]
        body.columns = [(unescape(group), c if not isinstance(c, tuple) else c[-1]) for c in body.columns]
        out = (
            pd.concat([df.iloc[:, :n_index], body], axis=1) if out is None else pd.concat([out, body], axis=1)
        )
    return out if out is not None else pd.DataFrame()


def _index_names(table_html: str) -> list[str]:
    p = _TableParser()
    p.feed(table_html)
    body = _grid(p.body)
    n = next((i for i, c in enumerate(body[0]) if not c["th"]), len(body[0])) if body else 0
    df = html_table(table_html)
    return list(df.columns[:n])


def glued_table(notebook: Path, name: str) -> pd.DataFrame:
    """The DataFrame glued as ``name`` in an executed notebook (KeyError when it is not there);
    a stacked table (one HTML table per column group) comes back as one table in groups."""
    bundle = glued_outputs(notebook)[name]
    if "text/html" not in bundle:
        raise KeyError(f"{name} was glued without an HTML table")
    html = bundle["text/html"]
    html = "".join(html) if isinstance(html, list) else html
    return stacked_table(html) if STACKED_CLASS in html else html_table(html)


# --------------------------------------------------------------------------- checks


def _leading_number(value) -> float:
    """``0.512`` or ``"0.512 ± 0.010"`` -> 0.512; NaN for "nan", "–" or empty."""
    if isinstance(value, (int, float)):
        return float(value)
    m = re.match(r"\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)", str(value))
    return float(m.group(1)) if m else float("nan")


def unit_interval(df: pd.DataFrame, columns, what: str, *, allow_nan: bool = False) -> list[str]:
    """Every value of ``columns`` is a number in [0, 1] (NaN only with ``allow_nan``)."""
    problems = []
    for col in columns:
        if col not in df.columns:
            problems.append(f"{what}: column {col!r} is missing")
            continue
        for i, v in enumerate(df[col].tolist()):
            x = _leading_number(v)
            if math.isnan(x):
                if not allow_nan:
                    problems.append(f"{what}: {col} is NaN or not a number ({v!r}) in row {i}")
            elif not 0.0 <= x <= 1.0:
                problems.append(f"{what}: {col} = {x} in row {i} is outside [0, 1]")
    return problems


def top5_at_least_top1(df: pd.DataFrame, top1, top5, what: str) -> list[str]:
    """Top-5 >= Top-1 in every row where both are numbers."""
    problems = []
    for i, (a, b) in enumerate(zip(df[top1].tolist(), df[top5].tolist())):
        a, b = _leading_number(a), _leading_number(b)
        if not (math.isnan(a) or math.isnan(b)) and b < a - 1e-9:
            problems.append(f"{what}: Top-5 {b} < Top-1 {a} in row {i}")
    return problems


def group_columns(table: pd.DataFrame, group: str, names=None) -> list:
    """The ``(group, column)`` columns of a table in column groups (Tables A1, B1, B2:
    :func:`helpers.core.recorded.three_groups`); ``group`` may be a prefix (``"full run"``)."""
    return [
        c
        for c in table.columns
        if isinstance(c, tuple) and str(c[0]).startswith(group) and (names is None or c[-1] in names)
    ]


def here_columns(table: pd.DataFrame) -> list:
    """The ``("this build", metric)`` columns of a retrieval table (Tables B1/B2)."""
    return group_columns(table, THIS_BUILD, RETRIEVAL_METRICS)


def retrieval_table(table: pd.DataFrame, what: str) -> list[str]:
    """A retrieval table in column groups: this build's metrics in [0, 1], a row either all filled
    or all empty (a pair this run did not evaluate), Top-5 >= Top-1; the recorded run's metrics
    in [0, 1] too."""
    cols = here_columns(table)
    if len(cols) != len(RETRIEVAL_METRICS):
        return [f"{what}: expected the `{THIS_BUILD}` columns of {RETRIEVAL_METRICS}, found {cols}"]
    problems = unit_interval(table, cols, what, allow_nan=True)
    problems += unit_interval(
        table, group_columns(table, "full run", RETRIEVAL_METRICS), what, allow_nan=True
    )
    for i, row in table[cols].iterrows():
        nan = [math.isnan(_leading_number(v)) for v in row]
        if any(nan) and not all(nan):
            problems.append(f"{what}: row {i} has some metrics and NaN for others")
    return problems + top5_at_least_top1(table, (THIS_BUILD, "top1"), (THIS_BUILD, "top5"), what)


def side_filled(table: pd.DataFrame, what: str) -> list[str]:
    """At least one row of a retrieval table has this run's numbers."""
    cols = here_columns(table)
    filled = [
        i
        for i, row in table[cols].iterrows()
        if cols and not any(math.isnan(_leading_number(v)) for v in row)
    ]
    return [] if filled else [f"{what}: no row has this run's (`here`) numbers"]


def chance_reported(
    chance: dict, glued: dict, datasets_with_data, name="b-07-chance-{}", must_glue=("cub",)
) -> list[str]:
    """Chance Top-1 computed for every dataset with data, in (0, 1), and glued into the book
    (``must_glue``: the datasets whose chance the book's text shows)."""
    problems = []
    for d in datasets_with_data:
        value = _leading_number(chance.get(d, float("nan")))
        if math.isnan(value) or not 0.0 < value < 1.0:
            problems.append(f"chance Top-1 of {d} is {chance.get(d)!r}, not a probability in (0, 1)")
            continue
        key = name.format(d)
        shown = glued.get(key, {}).get("text/plain")
        if d not in must_glue and shown is None:
            continue
        if shown is None:
            problems.append(f"chance Top-1 of {d} is not glued into the book as {key!r}")
        elif abs(_leading_number(str(shown).strip("'\"")) - value) > 5e-4:
            problems.append(f"{key} shows {shown} but the computed chance Top-1 is {value:.4f}")
    return problems


def _this_build_rows(table: pd.DataFrame) -> list[int]:
    """Positions of Table A1's rows that this build trained or probed: those with a number of
    seeds in this build's group (rows only the recorded run has show "–" there)."""
    seeds = (THIS_BUILD, "seeds")
    if seeds not in table.columns:
        return list(range(len(table)))
    return [i for i, v in enumerate(table[seeds].tolist()) if _leading_number(v) > 0]


def recipes_named(table: pd.DataFrame, what: str = "Table A1", column: str = "recipe") -> list[str]:
    """Each row this build trained names the recipe (lr, batch size, epochs ...) that trained it."""
    col = (THIS_BUILD, column)
    if col not in table.columns:
        return [f"{what} has no {col!r} column"]
    values = table[col].tolist()
    return [
        f"{what}: row {i} names no recipe"
        for i in _this_build_rows(table)
        if not isinstance(values[i], str) or not values[i].strip() or values[i].strip() in ("-", "–", "nan")
    ]


def sentiment_results(results: pd.DataFrame, evaluate_test: bool = True) -> list[str]:
    """04's ``results.csv``: validation (and test) accuracies in [0, 1], none NaN."""
    cols = ["val_acc"] + (["test_acc"] if evaluate_test else [])
    problems = unit_interval(results, cols, "notebook 04 results.csv")
    if results.empty:
        problems.append("notebook 04 results.csv has no rows")
    return problems


# --------------------------------------------------------------------------- the whole book


def _read_csv(path: Path) -> pd.DataFrame:
    """A stored table; an empty one (notebook 07 writes no columns when a data set has no
    captions) reads as an empty DataFrame."""
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


A1_FINAL = "val. acc., final epoch"  # every row trained or probed has it
A1_OPTIONAL = ("val. acc., authors' cumulative", "test acc.")  # "–" for probes / splits without a test part


def table_a1_accuracies(a1: pd.DataFrame, what: str = "Table A1") -> list[str]:
    """Table A1's accuracies: this build's final-epoch validation accuracy a number in [0, 1] in
    every row it has numbers for, and at least one such row; every other accuracy of this build
    and of the recorded run in [0, 1] where it holds a number."""
    final = (THIS_BUILD, A1_FINAL)
    if final not in a1.columns:
        return [f"{what} has no column {final!r} (columns: {list(a1.columns)})"]
    rows = _this_build_rows(a1)
    if not rows:
        return [f"{what}: no row has this build's accuracies"]
    return (
        unit_interval(a1.iloc[rows], [final], what)
        + unit_interval(a1, group_columns(a1, THIS_BUILD, A1_OPTIONAL), what, allow_nan=True)
        + unit_interval(a1, group_columns(a1, "full run", (A1_FINAL, *A1_OPTIONAL)), what, allow_nan=True)
    )


def book_problems(
    executed: dict[str, Path], artifacts: dict[str, Path], *, require_recipe: bool = True
) -> list[str]:
    """Every check on a run: ``executed`` maps notebook stems to executed notebooks, ``artifacts``
    maps ``"04_sentiment_training"`` and ``"07_retrieval"`` to their artifact folders."""
    problems = []
    nb04, nb07 = executed.get("04_sentiment_training"), executed.get("07_retrieval")
    if nb04 is not None:
        a1 = glued_table(nb04, "a-table1")
        problems += table_a1_accuracies(a1)
        if require_recipe:
            problems += recipes_named(a1)
        res = _read_csv(artifacts["04_sentiment_training"] / "results.csv")
        problems += sentiment_results(res, evaluate_test=res["test_acc"].notna().any())
    if nb07 is not None:
        art = artifacts["07_retrieval"]
        info = json.loads((art / "info.json").read_text())
        tables = {"cub": glued_table(nb07, "b-table1"), "flowers": glued_table(nb07, "b-table2")}
        for d, name in (("cub", "Table B1"), ("flowers", "Table B2")):
            problems += retrieval_table(tables[d], name)
            metrics = art / f"metrics_{d}.csv"
            m = _read_csv(metrics) if metrics.is_file() else pd.DataFrame()
            if not m.empty:
                problems += unit_interval(m, list(RETRIEVAL_METRICS), f"notebook 07 metrics_{d}.csv")
                problems += top5_at_least_top1(m, "top1", "top5", f"notebook 07 metrics_{d}.csv")
        problems += side_filled(tables["cub"], "Table B1 (CUB)")
        with_data = [
            d
            for d in ("cub", "flowers")
            if (art / f"metrics_{d}.csv").is_file() and not _read_csv(art / f"metrics_{d}.csv").empty
        ]
        problems += chance_reported(
            info.get("chance_top1", {}), glued_outputs(nb07), sorted(set(with_data) | {"cub"})
        )
    return problems
