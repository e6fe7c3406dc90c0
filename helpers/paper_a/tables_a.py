"""Paper A's tables built from the notebooks' results (the drawing stays in ``figures_a``).

* :func:`table_a1`: Table A1 (the paper's Table I beside this run), notebook 04.
* :func:`batch_dependence_table`: the batch-dependence check of notebook 03 (book's addition).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.core import recorded, report
from helpers.paper_a import facts, sentiment_model
from helpers.paper_a.head_recipes import PAPER_TABLE_I
from helpers.paper_a.table_a1_runs import COLLAPSE_SHARE


def collapsed_cell(g: pd.DataFrame) -> str:
    """Table A1's "collapsed seeds" cell of one run: the seeds whose final model gave one class to
    at least ``COLLAPSE_SHARE`` of the validation reviews, with that share ("seed 0 (0.99)"),
    "none", or "–" when the results have no shares (probes, old results)."""
    if "val_majority_share" not in g or g["val_majority_share"].isna().all():
        return "–"
    bad = g[g["val_majority_share"] >= COLLAPSE_SHARE]
    return ", ".join(f"seed {int(r.seed)} ({r.val_majority_share:.2f})" for r in bad.itertuples()) or "none"


def _mean_std(v) -> str:
    v = np.asarray(v, dtype=float)
    if np.all(np.isnan(v)):
        return "–"
    return f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" if len(v) > 1 else f"{np.mean(v):.3f}"


PAPER_COLUMNS = ("paper's model", "paper val. acc. (Table I)")


def paper_side(run: str) -> dict:
    """The paper's columns of Table A1 for one run name (``"alexnet | paper recipe | book head"``,
    ``"alexnet_random | ..."``, ``"linear probe: ..."``): the paper's model and its Table I value,
    or ``"(not in the paper)"`` / ``"–"`` for the book's additions."""
    name = run.split(" | ")[0]
    if name.startswith("linear probe") or name not in PAPER_TABLE_I:
        return dict(zip(PAPER_COLUMNS, ("(not in the paper)", "–")))
    t1 = PAPER_TABLE_I[name]
    return dict(zip(PAPER_COLUMNS, (name, f"{t1.paper_val_acc:.2f} ± {t1.paper_val_acc_std:.2f}")))


def table_a1(
    results: pd.DataFrame,
    runs: dict,
    choices,
    *,
    split: str,
    cached: bool,
    evaluate_test: bool,
    has_test: bool,
    record: dict | None = None,
) -> pd.DataFrame:
    """Table A1 (notebook 04), one row per run (row of the paper's table x recipe x head, and the
    linear probes), in three column groups (:func:`helpers.core.recorded.three_groups`): the paper's
    Table I value | the recorded full-scale run (``results/full.json``) | this build (the model
    that ran, its recipe and mean ± std over seeds, and the seeds that *collapsed*: their final
    model gave one class to at least 95 % of the validation reviews, :func:`collapsed_cell`).

    ``results``: notebook 04's ``results.csv`` (one row per run and seed); ``runs``:
    ``{run key: (row, Recipe)}``; ``choices``: notebook 03's ModelChoices (the model behind each
    row); ``split``: the split's name (shown when there is no test part); ``cached``: whether the
    heads trained on cached features; ``record``: the recorded run (default: read from
    ``results/full.json``; ``{}``: none).
    """
    choice_of = {c.requested: c for c in choices}
    no_test = f"no test part (split: {split})"
    here = {}
    for key, g in results.groupby("run", sort=False):
        row = g["row"].iloc[0]
        name = facts.slice_of(row)
        if row.startswith("linear probe"):
            ran, rc = row.split(": ")[1] + ", logistic regression", None
        else:
            rc = runs[key][1]
            control = [label for suffix, label in facts.CONTROL_SUFFIXES.items() if row.endswith(suffix)]
            ran = choice_of[name].used + (
                f", {control[0]}" if control else (" (stand-in)" if choice_of[name].is_standin else "")
            )
        here[key] = {
            "model that ran": ran,
            "recipe": rc.name if rc else "logistic regression (book's probe)",
            "head": rc.head if rc else "–",
            "pre-processing": (
                f"{rc.upsample_mode}, {rc.znorm} Z, {rc.frozen_bn}-mode BN" + (" (cached)" if cached else "")
            )
            if rc
            else "–",
            "lr (AE / classifier)": f"{rc.lr_autoencoder:g} / {rc.lr_classifier:g}" if rc else "–",
            "epochs / batch": f"{rc.epochs} / {rc.batch_size}" if rc else "–",
            "val. acc., final epoch": _mean_std(g["val_acc"].to_numpy()),
            "val. acc., authors' cumulative": _mean_std(g["val_acc_cumulative"].to_numpy()),
            "test acc.": (
                _mean_std(g["test_acc"].to_numpy())
                if (evaluate_test and has_test)
                else (no_test if not has_test else "–")
            ),
            "seeds": len(g),
            "collapsed seeds": collapsed_cell(g) if rc else "–",
        }
    here = pd.DataFrame.from_dict(here, orient="index").rename_axis("run")
    empty_paper = pd.DataFrame(columns=list(PAPER_COLUMNS), index=here.index[:0])
    table = recorded.three_groups("A1", empty_paper, here, record=record)
    for run in table.index:  # every run, also those only the record has
        for col, value in paper_side(run).items():
            table.loc[run, (recorded.PAPER_GROUP, col)] = value
    return table


def batch_dependence_table(
    modules: dict,
    choices,
    images,
    znorm: dict,
    *,
    scale: int,
    mode: str,
    seed: int,
    device="cpu",
    batch_size: int = 32,
    n_batches: int = 4,
) -> pd.DataFrame:
    """Notebook 03's batch-dependence table: :func:`helpers.paper_a.sentiment_model.batch_dependence` for
    each frozen slice (``modules``, in the order of ``choices``) on the training ``images``,
    rounded to 3 digits; ``znorm``: notebook 02's global ``{"mean", "std"}``.

    Explained in notebook 03, section "Features once, training many times".
    """
    rows = []
    for (name, module), choice in zip(modules.items(), choices):
        for r in sentiment_model.batch_dependence(
            module,
            images,
            znorm["mean"],
            znorm["std"],
            batch_size=batch_size,
            n_batches=n_batches,
            scale=scale,
            mode=mode,
            seed=seed,
            device=device,
        ):
            rows.append({"paper's model": name, "model that ran": choice.used.split(" (")[0], **r})
    table = pd.DataFrame(rows)
    return table.round(3) if len(table) else table


def recorded_setting(record: dict | None) -> str:
    """How the recorded run trained Table A1 (from the parameters it recorded for notebooks 03 and
    04): epochs of the paper recipe's, seeds, and the cached path's pre-processing and precision.

    Explained in notebook 04, section "Table I, side by side with the paper"."""
    if not record:
        return "no run recorded yet"
    p3 = record["notebooks"].get("03_feature_extractors", {}).get("params", {})
    p4 = record["notebooks"].get("04_sentiment_training", {}).get("params", {})
    epochs = p4.get("epochs") or facts.EPOCHS
    dtype = p4.get("compute_dtype", "float32")
    how = "under bfloat16 autocast" if dtype == "bfloat16" else f"in {dtype}"
    cached = (
        "on features cached once by notebook 03 (stored in float16; global Z-normalisation and "
        "eval-mode batch norm, not the authors' batch-dependent loop)"
        if p3.get("cache_features", True)
        else "end to end"
    )
    recipes = p4.get("recipes", ["paper"])
    of = f" of its {facts.EPOCHS}" if recipes == ["paper"] else ""
    return (
        f"{', '.join(recipes)} recipe for {epochs}{of} epochs, "
        f"{len(p4.get('seeds', []))} seeds, {cached}, computed {how}"
    )


def batch_sentence(table: pd.DataFrame, column: str = "relative to the reviews' deviations") -> str:
    """What notebook 03's batch-dependence table (Table A3) shows, said from its numbers: per
    variant the range of ``column`` over the slices and the slices at or above 1."""
    if table.empty:
        return "the batch-dependence check did not run (batch_check = False)"
    parts = []
    for variant, rows in table.groupby("variant", sort=False):
        by_model = rows.groupby("paper's model", sort=False)[column].mean()
        lo, hi = (
            ("under 0.001" if v < 0.0005 else report.human(v)) for v in (by_model.min(), by_model.max())
        )
        big = [m for m, v in by_model.items() if v >= 1]
        where = f"{lo}-{hi}" if lo != hi else lo
        parts.append(
            f"{variant}: {where} times the reviews' deviations ("
            + (f"at or above 1 for {', '.join(big)}" if big else "below 1 for every slice")
            + ")"
        )
    return "; ".join(parts)
