"""Reading a recorded run (``results/<profile>.json``) and laying it out beside the paper.

The record is written by :mod:`helpers.book.record` (``python -m helpers.record``); the tables of
notebooks 04 and 07 read it here (:func:`three_groups`: paper | recorded run | this build).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from helpers.core.config import REPO_ROOT
from helpers.core.errors import ReproError

SCHEMA = 1
RESULTS_DIR = REPO_ROOT / "results"
A1_METRICS = ("val_acc", "val_acc_cumulative", "test_acc")
#: Table A1's column names in the book (notebook 04) for the recorded metrics
A1_LABELS = {
    "val_acc": "val. acc., final epoch",
    "val_acc_cumulative": "val. acc., authors' cumulative",
    "test_acc": "test acc.",
}
PAPER_GROUP, THIS_BUILD = "paper", "this build"  # the first and last column groups of the tables
B_METRICS = ("top1", "precision", "recall", "f1", "top5", "reed_top1", "reed_ap50")
TABLE_DATASET = {"B1": "cub", "B2": "flowers"}
#: The two parts a run may be recorded in (book/running.md, "Recording in two parts"): the
#: notebooks of each paper and the record's tables that they fill
PARTS = {"paper-a": ("01", "02", "03", "04"), "paper-b": ("05", "06", "07", "08")}
PART_TABLES = {"paper-a": ("A1",), "paper-b": ("B1", "B2", "B1_shipped")}
PART_TITLES = {"paper-a": "Paper A (notebooks 01-04)", "paper-b": "Paper B (notebooks 05-08)"}


def results_path(profile: str, results_dir: Path | None = None) -> Path:
    return Path(results_dir or RESULTS_DIR) / f"{profile}.json"


def load(profile: str = "full", results_dir: Path | None = None) -> dict | None:
    """The recorded run of ``profile`` (``results/<profile>.json``), or None when none is recorded."""
    path = results_path(profile, results_dir)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ReproError(
            f"{path} is not valid JSON ({exc}); re-record it with "
            f"`python -m helpers.record --profile {profile}`."
        ) from exc
    if record.get("schema") != SCHEMA:
        raise ReproError(
            f"{path} has schema {record.get('schema')!r}, this code reads {SCHEMA}; re-record it."
        )
    return record


def fmt(stat: dict | None, digits: int = 3) -> str:
    """``"0.812 ± 0.004"`` (``"0.812"`` for one seed, ``"–"`` for nothing)."""
    if not stat or stat.get("mean") is None:
        return "–"
    if stat.get("std") is None:
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    return f"{h} h {rem // 60:02d} min" if h else f"{rem // 60} min {rem % 60:02d} s"


def _where(facts: dict) -> str:
    """``"commit 0123456789 on 2026-12-07 (2 CPU cores (AVX2), 24 GB RAM; 1 h 05 min)"``."""
    m = facts["machine"]
    cpu = f" ({m['cpu_capability']})" if m.get("cpu_capability") else ""
    where = f"{m['cores']} CPU cores{cpu}, {m['ram_gb']:g} GB RAM" + (
        f", GPU {m['gpu']}" if m.get("gpu") else ""
    )
    return (
        f"commit {str(facts['commit'])[:10]} on {facts['date']} ({where}; {_duration(facts['total_wall_s'])}"
    )


def part_of(table: str) -> str:
    """The part (``paper-a`` / ``paper-b``) whose notebooks fill the record's table ``table``."""
    return next(part for part, tables in PART_TABLES.items() if table in tables)


def caption(record: dict | None = None, profile: str = "full") -> str:
    """One sentence for a table caption: which commit, when, on what machine, how long; for a run
    recorded in two parts (``record["parts"]``) that differ in any of these, one clause per part."""
    if record is None:
        record = load(profile)
    if record is None:
        return f"No {profile} run has been recorded yet (results/{profile}.json is missing)."
    parts = record.get("parts") or {}
    same = {(f["commit"], f["date"], json.dumps(f["machine"], sort_keys=True)) for f in parts.values()}
    if parts and (set(parts) != set(PARTS) or len(same) > 1):
        clauses = [
            f"{PART_TITLES[name]} "
            + (f"from {_where(parts[name])})" if name in parts else "not recorded yet")
            for name in PARTS
        ]
        return f"{record['profile']} run in two parts, " + " and ".join(clauses)
    return f"{record['profile']} run of {_where(record)} for the eight notebooks)"


def collapsed_cell(row: dict) -> str:
    """A recorded Table A1 row's collapsed seeds (final model: one class for >= 95 % of the
    validation reviews), "none", "–" for the probes, or "not recorded" (a record written before
    the per-seed shares were kept)."""
    if row.get("row", "").startswith("linear probe"):
        return "–"
    if row.get("collapsed") is None:
        return "not recorded"
    return ", ".join(f"seed {s}" for s in row["collapsed"]) or "none"


def recorded_frame(name: str, record: dict | None = None, profile: str = "full"):
    """Table ``name`` (``A1``, ``B1``, ``B2``) of a record as a DataFrame of ``"mean ± std"`` strings,
    indexed by row (A1: notebook 04's row name; B: ``(text, image)`` paper names)."""

    if name not in ("A1", "B1", "B2"):
        raise ReproError(f"Unknown recorded table {name!r}; choose A1, B1 or B2.")
    record = load(profile) if record is None else record
    lines = (record or {}).get("tables", {}).get(name, [])
    if name == "A1":
        index = pd.Index([r["row"] for r in lines], name="run")
        table = pd.DataFrame({A1_LABELS[m]: [fmt(r.get(m)) for r in lines] for m in A1_METRICS}, index=index)
        table["seeds"] = [len(r.get("seeds", [])) for r in lines]
        table["collapsed seeds"] = [collapsed_cell(r) for r in lines]
        return table
    index = pd.MultiIndex.from_tuples([(r["text"], r["image"]) for r in lines], names=["text", "image"])
    return pd.DataFrame({m: [fmt(r.get(m)) for r in lines] for m in B_METRICS}, index=index)


def recorded_label(record: dict | None, profile: str = "full") -> str:
    """The middle column group's name: ``"full run (recorded)"`` or ``"... (none recorded yet)"``."""
    return f"{profile} run (recorded)" if record else f"{profile} run (none recorded yet)"


def three_groups(name: str, paper, here, *, record: dict | None = None, profile: str = "full"):
    """Table ``name`` with three column groups: **paper | full run (recorded) | this build**.

    ``paper`` and ``here`` are DataFrames indexed like :func:`recorded_frame` (A1: notebook 04's
    run names, ``"alexnet | paper recipe | book head"``; B1/B2: ``(text, image)`` paper names);
    their columns are kept as they are.  The middle group holds the recorded run's ``mean ± std``
    over seeds, or ``–`` where nothing is recorded; rows only the record has come last.  Put
    :func:`caption` into the table's caption (commit and date of the record).
    """

    rec = load(profile) if record is None else record
    full = recorded_frame(name, rec, profile)
    index = paper.index.union(here.index, sort=False).union(full.index, sort=False)
    if full.empty:
        full = recorded_frame(name, {"tables": {}}, profile)
    groups = {PAPER_GROUP: paper.reindex(index), recorded_label(rec, profile): full.reindex(index)}
    groups[THIS_BUILD] = here.reindex(index)
    table = pd.concat(groups, axis=1).astype(object)
    return table.where(table.notna(), "–")
