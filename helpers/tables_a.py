"""Paper A's tables built from the notebooks' results (the drawing stays in ``figures_a``).

* :func:`table_a1`: Table A1 (the paper's Table I beside this run), notebook 04.
* :func:`batch_dependence_table`: the batch-dependence check of notebook 03 (book's addition).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import sentiment_model


def _mean_std(v) -> str:
    v = np.asarray(v, dtype=float)
    if np.all(np.isnan(v)):
        return "–"
    return f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" if len(v) > 1 else f"{np.mean(v):.3f}"


def table_a1(
    results: pd.DataFrame,
    runs: dict,
    choices,
    *,
    split: str,
    cached: bool,
    evaluate_test: bool,
    has_test: bool,
) -> pd.DataFrame:
    """Table A1 (notebook 04): one row per trained run (mean ± std over seeds) beside the paper's
    Table I value, and the linear probes.

    ``results``: notebook 04's ``results.csv`` (one row per run and seed); ``runs``:
    ``{run key: (row, Recipe)}``; ``choices``: notebook 03's ModelChoices (the model behind each
    row); ``split``: the split's name (shown when there is no test part); ``cached``: whether the
    heads trained on cached features.
    """
    choice_of = {c.requested: c for c in choices}
    no_test = f"no test part (split: {split})"
    table = []
    for key, g in results.groupby("run", sort=False):
        row = g["row"].iloc[0]
        name = row.removesuffix("_random")
        if row.startswith("linear probe"):
            paper_model, ran, paper_acc, rc = (
                "(not in the paper)",
                row.split(": ")[1] + ", logistic regression",
                "–",
                None,
            )
        else:
            rc = runs[key][1]
            t1 = sentiment_model.PAPER_TABLE_I[name]
            if row.endswith("_random"):
                paper_model, ran, paper_acc = (
                    "(not in the paper)",
                    choice_of[name].used + ", random init",
                    "–",
                )
            else:
                paper_model = name
                ran = choice_of[name].used + (" (stand-in)" if choice_of[name].is_standin else "")
                paper_acc = f"{t1.paper_val_acc:.2f} ± {t1.paper_val_acc_std:.2f}"
        table.append(
            {
                "paper's model": paper_model,
                "model that ran": ran,
                "recipe": rc.name if rc else "logistic regression (book's probe)",
                "head": rc.head if rc else "–",
                "pre-processing": (
                    f"{rc.upsample_mode}, {rc.znorm} Z, {rc.frozen_bn}-mode BN"
                    + (" (cached)" if cached else "")
                )
                if rc
                else "–",
                "lr (AE / classifier)": f"{rc.lr_autoencoder:g} / {rc.lr_classifier:g}" if rc else "–",
                "epochs / batch": f"{rc.epochs} / {rc.batch_size}" if rc else "–",
                "paper val. acc. (Table I)": paper_acc,
                "val. acc., final epoch": _mean_std(g["val_acc"].to_numpy()),
                "val. acc., authors' cumulative": _mean_std(g["val_acc_cumulative"].to_numpy()),
                "test acc.": (
                    _mean_std(g["test_acc"].to_numpy())
                    if (evaluate_test and has_test)
                    else (no_test if not has_test else "–")
                ),
                "seeds": len(g),
            }
        )
    return pd.DataFrame(table)


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
    """Notebook 03's batch-dependence table: :func:`helpers.sentiment_model.batch_dependence` for
    each frozen slice (``modules``, in the order of ``choices``) on the training ``images``,
    rounded to 3 digits; ``znorm``: notebook 02's global ``{"mean", "std"}``."""
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
