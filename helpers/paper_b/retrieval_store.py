"""What notebook 07 stores and reads back (notebook 07, section "Saving metrics and projections").

The step's files keep the names notebook 08, the record (``helpers/book/record.py``) and the
book's checks read: ``metrics_<dataset>.csv`` (one row per text/image pair), the projection
weights ``projection_<dataset>_<text>_<image>.npy`` (float32), ``table1.csv`` / ``table2.csv``
(Tables B1-B2 as built), ``projection_comparison.csv`` (the least-squares / MLP / ridge comparison),
the metrics over notebook 06's fine-tuning seeds ``metrics_seeds_<dataset>.csv``,
the ridge fit's weights ``ridge_<dataset>_<text>_<image>.npy`` and metrics ``metrics_ridge_<dataset>.csv``
(with the condition number ``cond`` and the penalty ``alpha`` per pair) and ``info.json`` (the models
behind the embeddings, the chance level, the projection and the fitted pairs).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core.recorded import B_METRICS
from helpers.paper_b import tables_b
from helpers.paper_b.projection import Projection

DATASETS = ("cub", "flowers")
#: the file prefix of the well-posed (ridge) fit, Figures 8-10's weights
RIDGE = "ridge"
#: the file stem of the metrics over notebook 06's fine-tuning seeds (the record's Table B1 reads it)
SEEDS = "metrics_seeds"


def run_info(
    *,
    info06: dict,
    projections: dict[str, dict[tuple[str, str], Projection]],
    profile: str,
    chance_top1: dict[str, float],
    projection: str,
    rcond: float | None,
) -> dict:
    """``info.json`` of notebook 07: the profile, chance Top-1 per data set, the projection and its
    ``rcond``, the fitted (text model, image model) pairs per data set and, copied from notebook
    06's ``info.json`` (``info06``), the models that produced the embeddings.

    Explained in notebook 07, section "Saving metrics and projections".
    """
    return {
        "profile": profile,
        "chance_top1": chance_top1,
        "projection": projection,
        "projection_rcond": rcond,
        "pairs": {d: [list(k) for k in projections[d]] for d in projections},
        "image_models": info06["image_models"],
        "text_model": info06["text_model"],
        "choices": info06["choices"],
        "text_choice": info06.get("text_choice"),
    }


def write(
    folder: Path,
    results: dict[str, pd.DataFrame],
    projections: dict[str, dict[tuple[str, str], Projection]],
    comparison: pd.DataFrame,
    *,
    info06: dict,
    chance_top1: dict[str, float],
    profile: str,
    projection: str,
    rcond: float | None,
    shipped: dict[str, pd.DataFrame] | None = None,
    well_posed: dict[str, tuple[pd.DataFrame, dict[tuple[str, str], Projection]]] | None = None,
    seed_results: dict[str, pd.DataFrame] | None = None,
) -> None:
    """Write notebook 07's files into ``folder`` (the step's build folder): the metrics and the
    projection weights per data set, Tables B1-B2 (:func:`helpers.paper_b.tables_b.table_beside_paper`),
    the projection comparison, ``info.json`` (:func:`run_info` of the keyword arguments) and, where
    notebook 06 embedded with the models as they ship, their metrics (``metrics_shipped_<d>.csv``);
    ``well_posed``: per data set the ridge fit's metrics and projections; ``seed_results``: per data
    set the metrics over notebook 06's fine-tuning seeds (``metrics_seeds_<d>.csv``, a ``seed`` column).

    Explained in notebook 07, section "Saving metrics and projections".
    """
    run = run_info(
        info06=info06,
        projections=projections,
        profile=profile,
        chance_top1=chance_top1,
        projection=projection,
        rcond=rcond,
    )
    for d, r in results.items():
        r.to_csv(folder / f"metrics_{d}.csv", index=False)
        for (t, i), proj in projections[d].items():
            np.save(folder / f"projection_{d}_{t}_{i}.npy", proj.weights.astype(np.float32))
    for n, d in enumerate(DATASETS, start=1):
        tables_b.table_beside_paper(results[d], d, info06).to_csv(folder / f"table{n}.csv")
    comparison.to_csv(folder / "projection_comparison.csv")
    for d, r in (shipped or {}).items():
        r.to_csv(folder / f"metrics_shipped_{d}.csv", index=False)
    for d, r in (seed_results or {}).items():
        r.to_csv(folder / f"{SEEDS}_{d}.csv", index=False)
    for d, (r, fits) in (well_posed or {}).items():
        r.to_csv(folder / f"metrics_{RIDGE}_{d}.csv", index=False)
        for (t, i), proj in fits.items():
            np.save(folder / f"{RIDGE}_{d}_{t}_{i}.npy", proj.weights.astype(np.float32))
    (folder / "info.json").write_text(json.dumps(run, indent=1))


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    """A stored table, exactly as written (an empty file is an empty table)."""
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def load_metrics(folder: Path) -> dict[str, pd.DataFrame]:
    """The metrics of every data set (``metrics_<dataset>.csv``; empty without captions), as
    :func:`helpers.paper_b.retrieval.evaluate_pairs` returned them.

    Explained in notebook 07, section "Saving metrics and projections".
    """
    return {d: _read_csv(folder / f"metrics_{d}.csv") for d in DATASETS}


def _stored(folder: Path, stem: str) -> dict[str, pd.DataFrame]:
    """``<stem>_<dataset>.csv`` of every data set that has one."""
    return {
        d: _read_csv(folder / f"{stem}_{d}.csv") for d in DATASETS if (folder / f"{stem}_{d}.csv").is_file()
    }


def load_shipped(folder: Path) -> dict[str, pd.DataFrame]:
    """The metrics of the models as they ship (``metrics_shipped_<dataset>.csv``), for the data
    sets that have them (none when notebook 06 ran without ``shipped_baseline``).

    Explained in notebook 07, section "What fine-tuning buys".
    """
    return _stored(folder, "metrics_shipped")


def load_well_posed(folder: Path) -> dict[str, pd.DataFrame]:
    """The ridge fit's metrics per data set (``metrics_ridge_<dataset>.csv``, with ``cond`` and
    ``alpha``), for the data sets that have them.

    Explained in notebook 08, section "A well-posed fit".
    """
    return _stored(folder, f"metrics_{RIDGE}")


def load_seeds(folder: Path) -> dict[str, pd.DataFrame]:
    """The metrics over the fine-tuning seeds per data set (``metrics_seeds_<dataset>.csv``), for
    the data sets that have them.

    Explained in notebook 07, section "Over fine-tuning seeds".
    """
    return _stored(folder, SEEDS)


def load_comparison(folder: Path) -> pd.DataFrame:
    """The projection comparison (``table-b-projection``) as stored in
    ``projection_comparison.csv``: rows (data set, text, image), columns (metric, projection);
    empty when no data set has captions.

    Explained in notebook 07, section "Least squares or the authors' MLP?".
    """
    path = folder / "projection_comparison.csv"
    if len(path.read_text().splitlines()) < 2:
        return pd.DataFrame()
    return _read_csv(path, header=[0, 1], index_col=[0, 1, 2])


def metrics_text(dataset: str, results: pd.DataFrame) -> str:
    """One data set's retrieval metrics as printed under the fit (3 digits): the pairs and the
    metrics of Tables B1-B2 only, narrow enough for the page; the fit's facts (``cond``,
    ``alpha``, ``fit_s``, ``reed_k``, ...) have tables of their own.

    Explained in notebook 07, section "Saving metrics and projections".
    """
    if results.empty:
        return f"{dataset}: no captions -> no retrieval"
    shown = results[["text", "image", *B_METRICS]].round(3)
    return f"{dataset}\n{shown.to_string(index=False)}"
