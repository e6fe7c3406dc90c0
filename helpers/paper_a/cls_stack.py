"""Notebook 01's [CLS] stack of every review: computed in resumable chunks (section "[CLS] vectors,
resumable") and described in one table (the cell after it).

The science, the [CLS] vectors of the last hidden layers, is
:func:`helpers.models.text_encoders.cls_last_layers`; this module only orders the reviews, cuts
them into chunks that survive an interruption and puts the result back in the reviews' order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from helpers.core import artifacts
from helpers.models import text_encoders


def length_order(texts: Sequence[str], tokenizer, max_length: int) -> np.ndarray:
    """Indices sorting ``texts`` by token count, shortest first (stable): chunks of similar length.

    Explained in notebook 01, section "[CLS] vectors, resumable".
    """
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    return np.argsort([len(i) for i in ids], kind="stable")


def encode_reviews(
    texts: Sequence[str],
    tokenizer,
    model,
    scratch: Path,
    *,
    chunk_size: int,
    n_layers: int,
    layers: str,
    max_length: int,
    batch_size: int,
    device,
) -> np.ndarray:
    """The [CLS] stack ``(n, n_layers, hidden)`` float32 of every text, in the texts' order.

    The texts are sorted by token length once (:func:`length_order`), cut into chunks of
    ``chunk_size`` that :func:`helpers.core.artifacts.resumable_chunks` saves in ``scratch`` (the
    step's scratch folder: an interrupted run resumes at the next chunk), and each chunk goes
    through :func:`helpers.models.text_encoders.cls_last_layers`.

    Explained in notebook 01, section "[CLS] vectors, resumable".
    """
    texts = list(texts)
    order = length_order(texts, tokenizer, max_length)

    def compute(start: int, stop: int) -> np.ndarray:
        return text_encoders.cls_last_layers(
            [texts[i] for i in order[start:stop]],
            tokenizer,
            model,
            n_layers=n_layers,
            layers=layers,
            max_length=max_length,
            batch_size=batch_size,
            device=device,
            progress=False,
        )

    sorted_cls = artifacts.resumable_chunks(scratch, len(texts), chunk_size, compute, desc="[CLS] chunks")
    cls = np.empty_like(sorted_cls)
    cls[order] = sorted_cls
    return cls.astype(np.float32)


def shape_table(cls: np.ndarray, layer_names: Sequence[str]) -> pd.DataFrame:
    """One row: reviews, layers, hidden size, values per review and the layers kept.

    Explained in notebook 01, section "[CLS] vectors, resumable".
    """
    n, n_layers, hidden = cls.shape
    return pd.DataFrame(
        {
            "reviews": [n],
            "layers": [n_layers],
            "hidden": [hidden],
            "values per review": [n_layers * hidden],
            "layers used": [", ".join(layer_names)],
        }
    )
