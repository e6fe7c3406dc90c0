"""How Paper A's reviews are split into train / validation / test (notebooks 02-04).

* :func:`assign_parts`: notebook 02's ``split`` parameter (``leakfree``, the book's, or
  ``paper``, the authors' ``random_split``);
* :func:`split_train_val`: the stratified 80/20 split under it;
* :func:`split_name`, :func:`part_counts_text`: what notebooks 03-04 say about the split.

Paper B's class split is :mod:`helpers.data.class_split`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import random_split

from helpers.core.errors import ReproError
from helpers.paper_a.facts import PAPER_SPLIT_SEED

SPLITS = ("leakfree", "paper")


def assign_parts(
    official_split, labels, *, split: str = "leakfree", val_fraction: float = 0.2, seed: int | None = None
) -> np.ndarray:
    """Part of every review (``train`` / ``val`` / ``test``), notebook 02's ``split`` parameter.

    * ``"leakfree"`` (the book's): the official *train* reviews are split ``1 - val_fraction`` /
      ``val_fraction``, stratified by label (seed ``seed``, default 0); the official *test*
      reviews stay ``test``.
    * ``"paper"``: all reviews of the run, official train and test alike, go through
      ``torch.utils.data.random_split`` into ``n - round(val_fraction * n)`` train and
      ``round(val_fraction * n)`` val (seed ``seed``, default 42, as the authors'); no test part.
      On all 50,000 reviews this is the paper's 40,000 / 10,000; on a subsample it is the same
      procedure on the run's reviews.
    """

    official_split = np.asarray(official_split).astype(str)
    labels = np.asarray(labels)
    n = len(official_split)
    if split not in SPLITS:
        raise ReproError(f"split must be one of {', '.join(SPLITS)}, got {split!r}.")
    if not 0 < val_fraction < 1:
        raise ReproError(f"val_fraction must be between 0 and 1, got {val_fraction}.")
    if split == "leakfree":
        part = np.where(official_split == "test", "test", "train").astype(object)
        official_train = np.flatnonzero(part == "train")
        _, va = split_train_val(
            len(official_train), val_fraction, seed=0 if seed is None else seed, labels=labels[official_train]
        )
        part[official_train[va]] = "val"
        return part

    n_val = int(round(val_fraction * n))
    if n_val == 0 or n_val == n:
        raise ReproError(
            f"split='paper' with val_fraction={val_fraction} leaves an empty part of {n} reviews."
        )
    generator = torch.Generator().manual_seed(PAPER_SPLIT_SEED if seed is None else seed)
    train, val = random_split(range(n), [n - n_val, n_val], generator=generator)
    part = np.empty(n, dtype=object)
    part[list(train.indices)] = "train"
    part[list(val.indices)] = "val"
    return part


def split_train_val(
    n: int, val_fraction: float = 0.2, seed: int = 0, labels=None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the paper's 80/20 split of the training reviews (40k/10k for 50k reviews),
    stratified by label when ``labels`` is given."""
    if not 0 < val_fraction < 1:
        raise ReproError(f"val_fraction must be between 0 and 1, got {val_fraction}.")

    idx = np.arange(n)
    tr, va = train_test_split(
        idx,
        test_size=val_fraction,
        random_state=seed,
        stratify=None if labels is None else np.asarray(labels),
    )
    return np.sort(tr), np.sort(va)


def split_name(deepinsight_artifact) -> str:
    """The split notebook 02 drew (its ``split`` parameter: ``leakfree`` or ``paper``), read from
    the artifact's metadata; artifacts written before the parameter existed used ``leakfree``.

    Explained in notebook 03, section "Inputs: the review images of notebook 02".
    """

    meta = json.loads((Path(deepinsight_artifact) / "artifact.json").read_text())
    return str(meta.get("params", {}).get("split", "leakfree"))


def part_counts_text(parts) -> str:
    """ "800 train / 200 validation / 300 test reviews" from notebook 02's ``parts.csv`` (a table
    with a ``part`` column); says so when there is no test part (the paper's split).

    Explained in notebook 03, section "Inputs: the review images of notebook 02".
    """
    counts = parts["part"].value_counts()
    text = f"{int(counts.get('train', 0)):,} train / {int(counts.get('val', 0)):,} validation"
    n_test = int(counts.get("test", 0))
    return text + (f" / {n_test:,} test reviews" if n_test else " reviews, no test part")


def resolved_seed(split: str, split_seed: int | None) -> int:
    """The seed :func:`assign_parts` used: ``split_seed``, else the split's own (leakfree 0,
    paper 42, the authors'). Explained in notebook 02, section "The split: what trains, what
    validates"."""
    if split_seed is not None:
        return int(split_seed)
    return PAPER_SPLIT_SEED if split == "paper" else 0


def fit_rows(part: np.ndarray, fit_on: str) -> np.ndarray:
    """Which reviews the scaler and the t-SNE layout see: the train part, or every review (the
    paper's). Explained in notebook 02, section "The split: what trains, what validates"."""
    return (part == "train") if fit_on == "train" else np.ones(len(part), dtype=bool)


def describe(official_split, part: np.ndarray, *, split: str, seed: int, fit_on: str) -> tuple[str, str]:
    """The two sentences notebook 02 glues: what the split drew, and what the layout was fitted on.
    Explained in notebook 02, section "The split: what trains, what validates"."""
    counts = {p: int((part == p).sum()) for p in ("train", "val", "test")}
    if split == "paper":
        split_text = (
            f"split = paper: {counts['train']:,} training and {counts['val']:,} validation reviews, "
            f"drawn by random_split (seed {seed}) from all {len(part):,} reviews of the run "
            f"(official train and test together); no test part"
        )
    else:
        n_official = int((np.asarray(official_split).astype(str) == "train").sum())
        split_text = (
            f"split = leakfree: {counts['train']:,} training and {counts['val']:,} validation reviews "
            f"(a stratified split, seed {seed}, of the run's {n_official:,} official training "
            f"reviews) and {counts['test']:,} official test reviews kept apart"
        )
    n_fit = int(fit_rows(part, fit_on).sum())
    fit_text = f"{n_fit:,} reviews (fit_on = {fit_on}: " + (
        "the training part only)" if fit_on == "train" else "every review of the run, as the paper did)"
    )
    return split_text, fit_text
