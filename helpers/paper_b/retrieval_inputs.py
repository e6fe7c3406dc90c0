"""Notebook 05's inputs and outputs: the captions of the data folder, what notebook 05 stores (the
class-disjoint splits, the caption tables and ``info.json``) and how notebook 06 reads them back.

The files are ``split_<d>.csv``, ``captions_<d>.csv`` (only where the data folder has captions)
and ``info.json`` (``{"profile", "captions": {d: bool}}``), ``d`` in ``cub`` and ``flowers``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from helpers.data import flowers

DATASETS = ("cub", "flowers")


def flower_captions(source) -> dict[str, list[str]] | None:
    """Reed et al.'s flower captions from the data folder ``source``, or None (printing why) where
    the data folder has none: the flower half of the text side then waits for them.

    Explained in notebook 05, section "The two data sets".
    """
    try:
        return flowers.load_flowers_captions(source)
    except flowers.CaptionsUnavailable as exc:
        print(f"Flower captions: not available ({exc})")
        return None


def describe_datasets(cub_images, cub_captions, flowers_images, flower_captions) -> str:
    """Two lines: images, classes and captions of CUB and of Oxford-102 (``flower_captions`` None
    when the data folder has none).

    Explained in notebook 05, section "The two data sets".
    """
    cub_table, flowers_table = cub_images.table, flowers_images.table
    return (
        f"CUB: {len(cub_table)} images, {cub_table.class_id.nunique()} classes, "
        f"captions for {len(cub_captions)} images\n"
        f"Flowers: {len(flowers_table)} images, {flowers_table.class_id.nunique()} classes, "
        f"captions: {'yes' if flower_captions else 'none'}"
    )


def split_outputs(
    split_cub: pd.DataFrame,
    split_flowers: pd.DataFrame,
    captions_cub: pd.DataFrame,
    captions_flowers: pd.DataFrame | None,
    profile: str,
) -> dict:
    """What notebook 05 stores, as ``Step.save`` keywords: both splits, the caption tables (no
    ``captions_flowers`` without flower captions) and ``info`` (the profile, which data sets have
    captions).

    Explained in notebook 05, section "Saving the split".
    """
    out = {"split_cub": split_cub, "split_flowers": split_flowers, "captions_cub": captions_cub}
    if captions_flowers is not None:
        out["captions_flowers"] = captions_flowers
    out["info"] = {"profile": profile, "captions": {"cub": True, "flowers": captions_flowers is not None}}
    return out


def read_split(up05: Path, datasets=DATASETS) -> tuple[dict, dict]:
    """Notebook 05's files read back: ``(split, captions)``, each keyed by data set; a data set
    without captions has ``captions[d] = None``.

    Explained in notebook 06, section "Inputs: the split and the captions of notebook 05".
    """
    up05 = Path(up05)
    info = json.loads((up05 / "info.json").read_text())
    split = {d: pd.read_csv(up05 / f"split_{d}.csv") for d in datasets}
    captions = {d: pd.read_csv(up05 / f"captions_{d}.csv") if info["captions"][d] else None for d in datasets}
    return split, captions


def describe_inputs(split: dict, captions: dict) -> str:
    """One line per data set: images per part and captions; a note when a data set has none.

    Explained in notebook 06, section "Inputs: the split and the captions of notebook 05".
    """
    lines = [
        f"{d}: {s.part.value_counts().to_dict()} images, "
        f"{0 if captions[d] is None else len(captions[d])} captions"
        for d, s in split.items()
    ]
    if captions.get("flowers", True) is None:
        lines.append("flowers: no captions in the data folder -> the text encoders run on CUB only")
    return "\n".join(lines)
