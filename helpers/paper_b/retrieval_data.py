"""Tables and files that carry Paper B's data from notebook to notebook (notebooks 05-07).

* :func:`caption_table` (notebook ``05_retrieval_data``): one row per kept caption, with the part
  (train / val / test) of its image;
* :func:`label_map`, :func:`cached_embedding`, :func:`tfidf_embeddings` (notebook
  ``06_finetune_encoders``): class heads' labels, the per-model embedding cache that lets an
  interrupted run resume, and the TF-IDF "txc" encoding;
* :func:`load_embeddings`, :func:`models_that_ran`, :func:`table_beside_paper` (notebook
  ``07_retrieval``): notebook 06's files read back, and Tables B1-B2 with the models that ran.

The file layout (``split_<d>.csv``, ``captions_<d>.csv``, ``image_<d>_<model>.npy``,
``text_<d>_<model>.npy``, ``text_<d>_tfidf.npz``, ``info.json``) is described in notebook 06.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy import sparse

from helpers.core.errors import ReproError
from helpers.core.weights import ModelChoice
from helpers.models.text_encoders import TfidfTxc

CAPTION_COLUMNS = ["image", "caption_idx", "caption", "class_id", "part"]


def caption_table(
    split: pd.DataFrame, captions: dict[str, list[str]], captions_per_image: int | None = None
) -> pd.DataFrame:
    """Notebook 05: every caption of every image of ``split`` (columns ``image``, ``caption_idx``,
    ``caption``, ``class_id``, ``part``), in the split's image order; ``captions_per_image`` keeps
    only the first few of each image's (ten) captions. A split image without captions is an
    error: it means the caption files do not belong to this data source.

    Explained in notebook 05, section "A reproducible class-disjoint split".
    """
    missing = [k for k in split.image if not captions.get(k)]
    if missing:
        raise ReproError(
            f"{len(missing)} of {len(split)} images have no captions (e.g. "
            f"{missing[0]!r}): the caption files do not match the image keys of this "
            "data source."
        )
    if captions_per_image is not None and captions_per_image < 1:
        raise ReproError(
            f"captions_per_image must be at least 1 (or null for all), got {captions_per_image}."
        )
    rows = []
    for r in split.itertuples(index=False):
        caps = captions[r.image][:captions_per_image] if captions_per_image else captions[r.image]
        rows += [
            {"image": r.image, "caption_idx": i, "caption": c, "class_id": r.class_id, "part": r.part}
            for i, c in enumerate(caps)
        ]
    return pd.DataFrame(rows, columns=CAPTION_COLUMNS)


@dataclass
class CachedEmbedding:
    """What :func:`cached_embedding` returns: the embedding's width, the fine-tuning history, the
    model that ran, and whether the files were reused (True) or just computed."""

    dim: int
    history: dict
    choice: ModelChoice
    reused: bool


def _jsonable_history(history: dict) -> dict:
    return {
        k: ([float(x) for x in v] if isinstance(v, (list, tuple, np.ndarray)) else v)
        for k, v in history.items()
    }


def cached_embedding(
    folder: Path, stem: str, compute: Callable[[], tuple[np.ndarray, dict, ModelChoice]]
) -> CachedEmbedding:
    """Notebook 06's per-model cache: ``<folder>/<stem>.npy`` (the embeddings, float32) and
    ``<stem>.json`` (fine-tuning history and ``ModelChoice``).

    When both files exist they are reused and ``compute`` is not called, so a run interrupted
    after some models resumes with the next one; otherwise ``compute()`` must return
    ``(embeddings, history, choice)``, which are written (the ``.json`` last, so a half-written
    pair is recomputed)."""
    folder = Path(folder)
    emb_file, meta_file = folder / f"{stem}.npy", folder / f"{stem}.json"
    if emb_file.is_file() and meta_file.is_file():
        meta = json.loads(meta_file.read_text())
        dim = int(np.load(emb_file, mmap_mode="r").shape[1])
        return CachedEmbedding(dim, meta["history"], ModelChoice.from_row(meta["choice"]), True)
    emb, history, choice = compute()
    emb = np.asarray(emb, dtype=np.float32)
    if emb.ndim != 2:
        raise ReproError(f"Embeddings of {stem} must be 2-D (rows, dim), got shape {emb.shape}.")
    history = _jsonable_history(history)
    np.save(emb_file, emb)
    meta_file.write_text(json.dumps({"history": history, "choice": choice.as_row()}, default=float))
    return CachedEmbedding(int(emb.shape[1]), history, choice, False)


def tfidf_embeddings(captions: pd.DataFrame):
    """Notebook 06: the TF-IDF "txc" encoder (``helpers.models.text_encoders.TfidfTxc``) fitted on the
    training classes' captions (parts train and val), applied to every caption. Returns
    ``(sparse float32 matrix, vocabulary size)``.

    Explained in notebook 06, section "TF-IDF "txc" encoder".
    """

    txc = TfidfTxc().fit(captions.loc[captions.part != "test", "caption"])
    return txc.transform(captions.caption).astype(np.float32), txc.vocabulary_size


#: the file-stem suffix of the embeddings of the models as they ship (notebook 06's baseline)
SHIPPED = "_shipped"


def seed_variant(seed: int) -> str:
    """The file-stem suffix of the embeddings fine-tuned with one more seed (notebook 06's
    ``more_seeds``; the first seed's files have none)."""
    return f"_seed{int(seed)}"


def load_embeddings(folder: Path, dataset: str, info: dict, variant: str = "") -> dict:
    """Notebook 07: notebook 06's files of one data set, as ``{"split", "captions", "images",
    "texts"}`` (``captions`` None and ``texts`` empty without captions), ready for
    :func:`helpers.paper_b.retrieval.evaluate_pairs`. Embedding rows follow ``split`` (images) and
    ``captions`` (texts). ``variant`` :data:`SHIPPED`: the models as they ship (notebook 06's
    baseline; TF-IDF has nothing to fine-tune and is the same).

    Explained in notebook 07, section "Embeddings of notebook 06".
    """

    folder = Path(folder)
    split = pd.read_csv(folder / f"split_{dataset}.csv")
    out = {"split": split, "captions": None, "images": {}, "texts": {}}
    for name in info["image_models"]:
        emb = np.load(folder / f"image_{dataset}_{name}{variant}.npy")
        if len(emb) != len(split):
            raise ReproError(
                f"image_{dataset}_{name}{variant}.npy has {len(emb)} rows but the split has "
                f"{len(split)} images: re-run notebook 06."
            )
        out["images"][name] = emb
    if info["captions"][dataset]:
        out["captions"] = pd.read_csv(folder / f"captions_{dataset}.csv")
        dense = folder / f"text_{dataset}_{info['text_model']}{variant}.npy"
        if dense.is_file():
            out["texts"][info["text_model"]] = np.load(dense)
        out["texts"]["tfidf"] = sparse.load_npz(folder / f"text_{dataset}_tfidf.npz").tocsr()
    return out
