"""Training every run of Table A1 and the linear probes (notebook ``04_sentiment_training``).

A *run* is one row of the paper's Table I (or the random-initialisation control) trained with one
recipe and one head (``"alexnet | paper recipe | book head"``).  :func:`train_runs` trains each run
for every seed with :func:`helpers.paper_a.sentiment_model.train_head` (checkpointed per epoch, so an
interrupted notebook resumes) and evaluates it; :func:`linear_probes` fits the book's two
logistic-regression controls.  Both return one dict per line of notebook 04's ``results.csv``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from helpers.core import report
from helpers.paper_a import sentiment_model

HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")


def train_runs(
    runs: dict,
    seeds,
    inputs_for: Callable,
    idx: dict,
    y: np.ndarray,
    *,
    device,
    scratch: Path,
    scale: int,
    znorm: dict | None,
    evaluate_test: bool,
) -> tuple[list[dict], dict]:
    """Train ``runs`` (``{key: (row, recipe)}``) for every seed; returns ``(results, histories)``.

    ``inputs_for(row) -> (x, extractor)`` gives the row's cached features (``extractor`` None) or
    the raw grey images and the frozen extractor (end to end, ``znorm`` = notebook 02's training
    image statistics); ``idx`` maps ``train`` / ``val`` / ``test`` to row indices of ``x`` and ``y``
    (an empty ``test``: no test accuracy)."""
    has_test = len(idx["test"]) > 0
    results, histories, loaded = [], {}, {}
    for key, (row, rc) in runs.items():
        if row not in loaded:
            loaded.clear()
            x, ext = inputs_for(row)
            loaded[row] = (ext, *(np.asarray(x[idx[p]]) for p in ("train", "val", "test")))
        ext, xtr, xva, xte = loaded[row]
        cached = ext is None
        zstats = None if cached else (znorm["mean"], znorm["std"])
        histories[key] = []
        for s in seeds:
            t0 = time.time()
            tag = key.replace(" | ", "_").replace(" ", "-")
            model, hist = sentiment_model.train_head(
                xtr,
                y[idx["train"]],
                xva,
                y[idx["val"]],
                recipe=rc,
                seed=s,
                device=device,
                checkpoint=scratch / f"{tag}_seed{s}.pt",
                desc=f"{key} seed {s}",
                extractor=ext,
                scale=scale,
                znorm_stats=zstats,
            )
            zn = None if cached else ("batch" if rc.znorm == "batch" else zstats)
            test_acc = (
                sentiment_model.predict_accuracy(
                    model,
                    xte,
                    y[idx["test"]],
                    device=device,
                    images=not cached,
                    scale=scale,
                    mode=rc.upsample_mode,
                    znorm=zn,
                    batch_size=256 if cached else rc.batch_size,
                )
                if evaluate_test and has_test
                else float("nan")
            )
            results.append(
                {
                    "run": key,
                    "row": row,
                    "recipe": rc.name,
                    "head": rc.head,
                    "seed": s,
                    "val_acc": hist["val_acc"][-1],
                    "val_acc_cumulative": float(sentiment_model.cumulative_val_acc(hist["val_acc"])[-1]),
                    "test_acc": test_acc,
                    "epochs": len(hist["val_acc"]),
                    "seconds": round(time.time() - t0, 1),
                }
            )
            histories[key].append({k: hist[k] for k in HISTORY_KEYS})
            print("  ".join(f"{k}: {report.human(v)}" for k, v in results[-1].items()))
    return results, histories


def linear_probes(features: dict[str, np.ndarray], y: np.ndarray, idx: dict) -> list[dict]:
    """The book's controls: a standardised logistic regression (C = 0.1) per feature set
    (``{"linear probe: [CLS] vectors": (n, d) array, ...}``), fitted on ``train``, scored on ``val``
    and, when there is one, ``test``."""

    has_test = len(idx["test"]) > 0
    probes = []
    for name, feats in features.items():
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
        clf.fit(feats[idx["train"]], y[idx["train"]])
        probes.append(
            {
                "run": name,
                "row": name,
                "recipe": "–",
                "head": "–",
                "seed": 0,
                "val_acc": clf.score(feats[idx["val"]], y[idx["val"]]),
                "val_acc_cumulative": float("nan"),
                "test_acc": clf.score(feats[idx["test"]], y[idx["test"]]) if has_test else float("nan"),
                "epochs": 0,
                "seconds": 0.0,
            }
        )
    return probes
