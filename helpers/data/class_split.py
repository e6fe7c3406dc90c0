"""Class-disjoint zero-shot splits for Paper B (notebook ``05_retrieval_data``).

The paper (Schmelczer, code ``embed.py``) split the classes 70/30 by taking the last 30 % of
``list(set(class_names))``; Python's set order of strings changes from process to process, so that
split cannot be repeated.  Here the classes are shuffled with a seeded generator instead, and the
training classes' images are split 80/20 into train/validation *per class* (stratified), where the
paper drew ``random() < 0.8`` per image.  The standard zero-shot class split of Reed et al. (2016)
(``cub/meta/reed_splits``, ``flowers/reed_splits``) is available as ``scheme="reed"``.

Every split is a ``pandas.DataFrame`` with one row per image: ``image`` (the data layer's key),
``class_id``, ``class_name`` and ``part`` in ``{"train", "val", "test"}``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from helpers.core.config import data_source
from helpers.core.errors import ReproError

PARTS = ("train", "val", "test")

#: where each dataset's standard zero-shot class lists live, relative to the data source
REED_SPLIT_FILES = {
    "cub": ("cub/meta/reed_splits/trainvalclasses.txt", "cub/meta/reed_splits/testclasses.txt"),
    "flowers": ("flowers/reed_splits/trainvalclasses.txt", "flowers/reed_splits/testclasses.txt"),
}


def class_disjoint_split(
    class_ids: Sequence[int], test_fraction: float = 0.3, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Shuffle the classes with ``seed`` and return ``(train_classes, test_classes)``.

    ``round(n * test_fraction)`` classes go to the test side (the paper: 30 %, rounded the same
    way as its ``round(len(classes) * 0.7)``); both lists are sorted.
    """
    classes = sorted(set(int(c) for c in class_ids))
    if not 0.0 < test_fraction < 1.0:
        raise ReproError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}.")
    if len(classes) < 2:
        raise ReproError(f"A class-disjoint split needs at least 2 classes, got {len(classes)}.")
    n_train = int(round(len(classes) * (1.0 - test_fraction)))
    n_train = min(max(n_train, 1), len(classes) - 1)
    order = np.random.default_rng(seed).permutation(len(classes))
    train = sorted(classes[i] for i in order[:n_train])
    test = sorted(classes[i] for i in order[n_train:])
    return train, test


def stratified_holdout(labels: Sequence[int], val_fraction: float = 0.2, seed: int = 0) -> np.ndarray:
    """Boolean mask of validation rows: ``round(n_c * val_fraction)`` rows of every class ``c``
    (at least one when the class has two or more rows, none when it has one)."""
    labels = np.asarray(labels)
    if not 0.0 <= val_fraction < 1.0:
        raise ReproError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    rng = np.random.default_rng(seed)
    is_val = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        n_val = int(round(len(rows) * val_fraction))
        if val_fraction > 0 and len(rows) >= 2:
            n_val = min(max(n_val, 1), len(rows) - 1)
        else:
            n_val = 0
        is_val[rng.permutation(rows)[:n_val]] = True
    return is_val


def _class_id_from_folder(name: str) -> int:
    """``"043.Yellow_bellied_Flycatcher"`` -> 42, ``"class_00001"`` -> 0 (0-based like ImageSet)."""
    head = name.strip().split(".")[0]
    if head.startswith("class_"):
        head = head[len("class_") :]
    try:
        return int(head) - 1
    except ValueError as exc:
        raise ReproError(f"Cannot read a class number from the split file entry {name!r}.") from exc


def reed_zero_shot_classes(
    dataset: str, source: os.PathLike | str | None = None
) -> tuple[list[int], list[int]]:
    """The standard zero-shot split (Reed et al. 2016): ``(trainval_class_ids, test_class_ids)``,
    0-based class ids; CUB 150/50, flowers 82/20."""
    if dataset not in REED_SPLIT_FILES:
        raise ReproError(
            f"No standard zero-shot split for dataset {dataset!r}; choose one of {sorted(REED_SPLIT_FILES)}."
        )
    root = data_source(source)
    lists = []
    for rel in REED_SPLIT_FILES[dataset]:
        path = Path(root) / rel
        if not path.is_file():
            raise ReproError(
                f"The zero-shot split file {path} is missing; put Reed et al.'s split "
                f"files there or use scheme='seeded'."
            )
        lists.append(sorted(_class_id_from_folder(line) for line in path.read_text().split() if line.strip()))
    return lists[0], lists[1]


def subset_table(
    table: pd.DataFrame, *, n_classes: int | None = None, images_per_class: int | None = None, seed: int = 0
) -> pd.DataFrame:
    """A smaller, deterministic piece of an ``ImageSet.table`` (for the smoke/quick profiles):
    ``n_classes`` classes drawn with ``seed``, then at most ``images_per_class`` images of each
    (the first ones in the data set's own order)."""
    table = table.sort_values("image_id", kind="stable")
    if n_classes is not None:
        classes = np.array(sorted(table["class_id"].unique()))
        if n_classes < 2 or n_classes > len(classes):
            raise ReproError(f"n_classes must be between 2 and {len(classes)}, got {n_classes}.")
        keep = np.random.default_rng(seed).choice(classes, size=n_classes, replace=False)
        table = table[table["class_id"].isin(keep)]
    if images_per_class is not None:
        if images_per_class < 1:
            raise ReproError(f"images_per_class must be at least 1, got {images_per_class}.")
        table = table.groupby("class_id", sort=False, group_keys=False).head(images_per_class)
    return table.reset_index(drop=True)


def make_split(
    table: pd.DataFrame,
    *,
    scheme: str = "seeded",
    test_fraction: float = 0.3,
    val_fraction: float = 0.2,
    seed: int = 0,
    dataset: str | None = None,
    source: os.PathLike | str | None = None,
) -> pd.DataFrame:
    """Assign every image of ``table`` (an ``ImageSet.table`` or a :func:`subset_table`) to
    ``train`` / ``val`` / ``test``.

    * ``scheme="seeded"``: class-disjoint ``1 - test_fraction`` / ``test_fraction`` split of the
      classes present (:func:`class_disjoint_split`), then ``val_fraction`` of every training
      class's images to ``val`` (:func:`stratified_holdout`).
    * ``scheme="reed"``: the standard zero-shot classes (:func:`reed_zero_shot_classes`,
      needs ``dataset``), restricted to the classes present in ``table``; same image-level
      train/val split.
    """
    needed = {"image", "class_id", "class_name"}
    if not needed <= set(table.columns):
        raise ReproError(f"The image table needs the columns {sorted(needed)}; got {sorted(table.columns)}.")
    present = sorted(table["class_id"].unique())
    if scheme == "seeded":
        train_classes, test_classes = class_disjoint_split(present, test_fraction, seed)
    elif scheme == "reed":
        if dataset is None:
            raise ReproError("scheme='reed' needs dataset='cub' or 'flowers'.")
        trainval, test = reed_zero_shot_classes(dataset, source)
        train_classes = [c for c in present if c in set(trainval)]
        test_classes = [c for c in present if c in set(test)]
        if not train_classes or not test_classes:
            raise ReproError(
                "The selected classes do not cover both sides of the standard "
                "zero-shot split; choose more classes or scheme='seeded'."
            )
    else:
        raise ReproError(f"Unknown split scheme {scheme!r}; choose 'seeded' or 'reed'.")

    out = table[["image", "class_id", "class_name"]].copy().reset_index(drop=True)
    out["part"] = "test"
    is_train_class = out["class_id"].isin(train_classes).to_numpy()
    train_rows = np.flatnonzero(is_train_class)
    is_val = stratified_holdout(out["class_id"].to_numpy()[train_rows], val_fraction, seed + 1)
    out.loc[train_rows, "part"] = np.where(is_val, "val", "train")
    return out


def split_summary(split: pd.DataFrame) -> pd.DataFrame:
    """Classes and images per part, for the notebook's table."""
    rows = []
    for part in PARTS:
        sub = split[split["part"] == part]
        rows.append({"part": part, "classes": sub["class_id"].nunique(), "images": len(sub)})
    return pd.DataFrame(rows).set_index("part")


def label_map(split: pd.DataFrame) -> dict[int, int]:
    """Notebook 06: the training classes' ids (parts train and val) -> ``0 .. n-1``, the outputs of
    the classification heads. Test classes get no label: no model sees them in training."""
    classes = sorted(split.loc[split.part != "test", "class_id"].unique())
    return {int(c): i for i, c in enumerate(classes)}
