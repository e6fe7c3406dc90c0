"""IMDB Large Movie Review Dataset v1.0 (Maas et al. 2011) for the Paper A chapters.

``load_imdb`` reads the labelled reviews ``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``
straight from the ``.tar.gz`` (streamed once, nothing extracted) or from an extracted folder and
returns one row per review.  The unlabelled ``train/unsup`` reviews of the official archive are
skipped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core import config
from helpers.core.errors import ReproError
from helpers.data.download import download
from helpers.data.image_archive import iter_tar_texts

LOCAL_ARCHIVES = ("aclImdb_labeled_50k_text.tar.gz", "aclImdb_v1.tar.gz")
SPLITS = ("train", "test")
_REVIEW_RE = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
COLUMNS = ["review_id", "split", "label", "rating", "text"]


def _resolve(source: os.PathLike | None) -> Path:
    if source is None:
        local = config.data_source() / "imdb"
        for name in LOCAL_ARCHIVES:
            if (local / name).is_file():
                return local / name
        if (local / "aclImdb").is_dir():
            return local / "aclImdb"
        return download("imdb")
    path = Path(source).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if (path / "train").is_dir() or (path / "test").is_dir():
            return path
        if (path / "aclImdb").is_dir():
            return path / "aclImdb"
        for sub in (path, path / "imdb"):
            for name in LOCAL_ARCHIVES:
                if (sub / name).is_file():
                    return sub / name
    raise ReproError(
        f"No IMDB reviews at {path}: pass the aclImdb folder, its parent, or the aclImdb_v1.tar.gz archive."
    )


def _records(path: Path, splits: tuple[str, ...]):
    if path.is_dir():
        for split in splits:
            for sentiment in ("pos", "neg"):
                for file in (path / split / sentiment).glob("*_*.txt"):
                    m = _REVIEW_RE.search(f"{split}/{sentiment}/{file.name}")
                    if m:
                        yield m, file.read_text(encoding="utf-8", errors="replace")
    else:

        def wanted(name: str) -> bool:
            m = _REVIEW_RE.search(name)
            return bool(m) and m.group(1) in splits

        for name, text in iter_tar_texts(path, wanted):
            yield _REVIEW_RE.search(name), text


def load_imdb(
    source: os.PathLike | str | None = None,
    *,
    splits=SPLITS,
    per_class: int | dict | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Labelled IMDB reviews as a DataFrame (``review_id, split, label, rating, text``).

    ``source``: None -> ``config.data_source()/imdb/*.tar.gz`` if present, else
    ``download("imdb")``; or the ``aclImdb`` folder, its parent, or a ``.tar.gz`` archive.
    ``label`` is 1 for ``pos`` and 0 for ``neg``; ``review_id`` is e.g. ``"train/pos/123_8"``.
    ``per_class`` keeps a deterministic (``seed``) random subsample of at most that many reviews
    per (split, label); a dict (``{"train": 750, "test": 250}``, None = all) sets it per split,
    so one pass over the archive serves different sample sizes.  Rows are ordered by split
    (train, test), label, then numeric id.
    """
    if isinstance(splits, str):
        splits = (splits,)
    splits = tuple(splits)
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise ReproError(f"Unknown IMDB split(s) {bad or splits}; choose from {SPLITS}.")
    limits = dict(per_class) if isinstance(per_class, dict) else {s: per_class for s in splits}
    for n in limits.values():
        if n is not None and n < 1:
            raise ReproError(f"per_class must be a positive number of reviews, not {n}.")
    path = _resolve(source or None)

    rows = []
    for m, text in _records(path, splits):
        split, sentiment, rid, rating = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        rows.append(
            (f"{split}/{sentiment}/{rid}_{rating}", split, int(sentiment == "pos"), rating, text, rid)
        )
    if not rows:
        raise ReproError(
            f"{path} holds no IMDB reviews aclImdb/{{train,test}}/{{pos,neg}}/<id>_<rating>.txt; "
            f"is it the right folder or archive?"
        )
    df = pd.DataFrame(rows, columns=COLUMNS + ["_id"])
    df["_split"] = df["split"].map({s: i for i, s in enumerate(SPLITS)})
    df = df.sort_values(["_split", "label", "_id"], kind="stable")
    if any(n is not None for n in limits.values()):
        # one generator per (split, label), so a group's sample does not depend on the others
        parts = []
        for (s, label), g in df.groupby(["_split", "label"], sort=True):
            n = limits.get(SPLITS[s])
            if n is not None:
                g = g.sample(
                    n=min(n, len(g)), random_state=np.random.default_rng([seed, int(s), int(label)])
                ).sort_values("_id")
            parts.append(g)
        df = pd.concat(parts)
    return df[COLUMNS].reset_index(drop=True)
