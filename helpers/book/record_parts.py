"""Recording a run in two parts (``python -m helpers.record --part paper-a``; book/running.md,
"Recording in two parts"): Paper A's notebooks 01-04 and Paper B's 05-08 may run in different
sittings, from different commits or on different machines. Each part keeps its own facts (commit,
date, machine, packages, wall time) under ``record["parts"]``, and recording one part replaces only
that part's notebooks, tables, data sizes and models in ``results/<profile>.json``.
"""

from __future__ import annotations

import copy

from helpers.core.errors import ReproError
from helpers.core.recorded import PART_TABLES, PARTS

#: what describes the sitting of a part (the rest of the record describes its results)
FACTS = ("commit", "dirty", "date", "recorded_at", "command", "machine", "packages")
#: the keys of ``record["data"]`` and ``record["models"]`` that each part's notebooks fill
PART_DATA = {"paper-a": ("imdb_reviews",), "paper-b": ("cub", "flowers")}
PART_MODELS = {"paper-a": ("A1",), "paper-b": ("B",)}


def in_part(stem: str, part: str) -> bool:
    """Whether notebook ``stem`` (``"04_sentiment_training"``) belongs to ``part``."""
    return stem[:2] in PARTS[part]


def own_facts(record: dict, part: str) -> dict:
    """The record's own facts (commit, date, machine, ...) with the wall time of ``part``'s
    notebooks: the sitting of a part recorded together with the rest of ``record``."""
    wall = sum(v["wall_s"] for k, v in record["notebooks"].items() if in_part(k, part))
    return {**{k: record.get(k) for k in FACTS}, "total_wall_s": round(wall, 1)}


def part_facts(record: dict, part: str) -> dict | None:
    """The sitting of ``part`` in ``record``: its entry in ``record["parts"]`` (None when that part
    is not recorded), or :func:`own_facts` for a record of the whole book written before parts
    existed (it has no ``parts``)."""
    if "parts" in record:
        return record["parts"].get(part)
    return own_facts(record, part)


def merge(old: dict | None, new: dict, part: str) -> dict:
    """``old`` (the record on disk, or None) with ``part`` replaced by ``new`` (a record collected
    for that part only): the other part keeps its notebooks, tables and facts."""
    if part not in PARTS:
        raise ReproError(f"Unknown part {part!r}; choose {' or '.join(PARTS)}.")
    if old is None:
        return new
    ran = [(r["profile"], r.get("run", r["profile"])) for r in (old, new)]
    if ran[0] != ran[1]:
        raise ReproError(
            f"The record on disk is of the {ran[0][0]!r} profile's run {ran[0][1]!r}, not of "
            f"{ran[1][0]!r} {ran[1][1]!r}; one file holds one run."
        )
    out = copy.deepcopy(new)
    facts = {p: new["parts"][p] if p == part else part_facts(old, p) for p in PARTS}
    out["parts"] = {p: f for p, f in facts.items() if f}  # in PARTS order; unrecorded parts left out
    others = [p for p in out["parts"] if p != part]
    kept = {k: v for k, v in old["notebooks"].items() if not in_part(k, part)}
    out["notebooks"] = dict(sorted((kept | new["notebooks"]).items()))
    out["total_wall_s"] = round(sum(v["wall_s"] for v in out["notebooks"].values()), 1)
    for key, owned in (("tables", PART_TABLES), ("data", PART_DATA), ("models", PART_MODELS)):
        theirs = {k: v for k, v in (old.get(key) or {}).items() if any(k in owned[p] for p in others)}
        out[key] = theirs | out.get(key, {})
    return out
