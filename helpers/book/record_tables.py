"""The tables of a recorded run (:mod:`helpers.book.record`): Table A1 from notebook 04's
``results.csv`` and ``histories.json``, Tables B1 / B2 from notebook 07's ``metrics_<dataset>.csv``.

Every row keeps mean / std / n over seeds (what the README and the tables show) *and*, from
issue 14 on, its per-seed values (``per_seed``: one dict per seed with every metric, and for
Table A1 the share of the validation reviews given the most frequent predicted class) and, for
Table A1, the per-epoch history of every seed (``history``).  The verdicts of
:mod:`helpers.book.verdicts` need the per-seed values; a record written before they were kept
has none, and its verdicts say "not determined".
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from helpers.core.errors import ReproError
from helpers.core.recorded import A1_METRICS, B_METRICS
from helpers.paper_a.table_a1_runs import COLLAPSE_SHARE
from helpers.paper_b.retrieval_store import SEEDS

#: per-seed values kept besides the metrics
A1_SEED_EXTRA = ("val_majority_share", "n_val", "epochs")
B_SEED_EXTRA = ("reed_k", "queries", "images")


def _mean_std(values) -> dict:
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    n = len(vals)
    if n == 0:
        return {"mean": None, "std": None, "n": 0}
    mean = sum(vals) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else None
    return {"mean": round(mean, 6), "std": None if std is None else round(std, 6), "n": n}


def _rows(path: Path) -> list[dict]:

    if not path.is_file() or path.stat().st_size == 0 or not path.read_text().strip():
        return []  # notebook 07 writes an empty file for a data set without captions
    return pd.read_csv(path).to_dict("records")


def _value(v):
    """A CSV cell for JSON: NaN -> None, numpy scalars -> Python, floats rounded to 6 digits."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if hasattr(v, "item"):
        v = v.item()
    return round(v, 6) if isinstance(v, float) else v


def _per_seed(group: list[dict], keys) -> list[dict]:
    return [{"seed": int(r.get("seed", 0)), **{k: _value(r.get(k)) for k in keys if k in r}} for r in group]


def table_a1(art04: Path) -> list[dict]:
    """Table A1 from notebook 04's ``results.csv`` (one line per run and seed; a run is a row of
    the paper's table trained with one recipe and head, e.g. ``"alexnet | paper recipe | book
    head"``): mean ± std over seeds, the per-seed values, the seeds that collapsed (validation
    majority share >= ``COLLAPSE_SHARE``; ``None`` when results.csv has no shares) and, from
    ``histories.json``, each seed's per-epoch history."""
    rows = _rows(art04 / "results.csv")
    if not rows:
        raise ReproError(f"Notebook 04's artifact {art04} has no results.csv.")
    hist_file = art04 / "histories.json"
    histories = json.loads(hist_file.read_text()) if hist_file.is_file() else {}
    key = "run" if "run" in rows[0] else "row"
    order = list(dict.fromkeys(r[key] for r in rows))
    out = []
    for name in order:
        group = [r for r in rows if r[key] == name]
        shares = "val_majority_share" in rows[0]
        out.append(
            {
                "row": name,
                **{m: _mean_std([r.get(m) for r in group]) for m in A1_METRICS if m in rows[0]},
                "seeds": sorted({int(r["seed"]) for r in group}),
                "per_seed": _per_seed(group, (*A1_METRICS, *A1_SEED_EXTRA)),
                "collapsed": (
                    sorted(
                        int(r["seed"])
                        for r in group
                        if _value(r.get("val_majority_share")) is not None
                        and r["val_majority_share"] >= COLLAPSE_SHARE
                    )
                    if shares
                    else None
                ),
                "history": histories.get(name, []),
            }
        )
    return out


def table_b(art07: Path, dataset: str, stem: str = "metrics") -> list[dict]:
    """Table B1 (``cub``) or B2 (``flowers``) from notebook 07's ``metrics_seeds_<dataset>.csv``
    (every fine-tuning seed) or, without it, ``metrics_<dataset>.csv``: one line per text/image
    pair, mean ± std over its seeds and the per-seed values; empty when the data set has no captions (or, with ``stem``
    ``"metrics_shipped"``, the baseline of the models as they ship, when it ran)."""
    seeds = art07 / f"{SEEDS}_{dataset}.csv"  # every fine-tuning seed, where 07 stored them
    rows = _rows(seeds if stem == "metrics" and seeds.is_file() else art07 / f"{stem}_{dataset}.csv")
    keys = list(dict.fromkeys((r["text"], r["image"]) for r in rows))
    out = []
    for t, i in keys:
        group = [r for r in rows if (r["text"], r["image"]) == (t, i)]
        out.append(
            {
                "text": t,
                "image": i,
                "text model": group[0].get("text model"),
                "image model": group[0].get("image model"),
                **{m: _mean_std([r.get(m) for r in group]) for m in B_METRICS if m in group[0]},
                "queries": int(group[0].get("queries", 0) or 0),
                "images": int(group[0].get("images", 0) or 0),
                "reed_k": _value(group[0].get("reed_k")),
                "per_seed": _per_seed(group, (*B_METRICS, *B_SEED_EXTRA)),
            }
        )
    return out
