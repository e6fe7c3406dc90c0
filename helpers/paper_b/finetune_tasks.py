"""Notebook 06's fine-tunes as independent tasks (``helpers.core.tasks``): one per (data set, image
model) and one per data set for the caption classifier.

A job is a plain dict (:func:`image_job`, :func:`caption_job`) and :func:`run_job` a top-level
function, so a Dask worker can run it. Each job writes its own files in the notebook's scratch
folder (``helpers.paper_b.retrieval_data.cached_embedding``: ``<stem>.npy`` and ``<stem>.json``, plus the
per-epoch checkpoint ``ckpt_*.pt``), so a finished job is reused and a lost worker costs one
fine-tune. In this process a job carries the loaded image set; on a worker it loads it again from
``source`` (the data folder must be readable there).
"""

from __future__ import annotations

from pathlib import Path

from helpers.data import cub, flowers
from helpers.models import finetune, training
from helpers.paper_b import retrieval_data


def _load_images(dataset: str, source):
    loaders = {"cub": cub.load_cub, "flowers": flowers.load_flowers}
    return loaders[dataset](source)


def image_job(dataset: str, name: str, image_set, split, out, recipe: dict, source, *, remote: bool) -> dict:
    """The fine-tune of image model ``name`` on ``dataset`` (``recipe``: the keyword arguments of
    ``finetune.finetuned_image_embeddings``).

    Explained in notebook 06, section "Image classifiers".
    """
    return {
        "kind": "image",
        "dataset": dataset,
        "name": name,
        "image_set": None if remote else image_set,
        "source": source,
        "split": split,
        "out": str(out),
        "recipe": dict(recipe),
        "compute_dtype": training.compute_dtype(),
    }


def caption_job(dataset: str, name: str, captions, split, out, recipe: dict) -> dict:
    """The caption classifier ``name`` fine-tuned on ``dataset``'s captions (``recipe``: the
    keyword arguments of ``finetune.finetuned_caption_embeddings``).

    Explained in notebook 06, section "Caption classifier (DistilBERT)".
    """
    return {
        "kind": "text",
        "dataset": dataset,
        "name": name,
        "table": captions,
        "split": split,
        "out": str(out),
        "recipe": dict(recipe),
        "compute_dtype": training.compute_dtype(),
    }


def run_job(job: dict):
    """Run one job (or reuse its files); returns its ``retrieval_data.CachedEmbedding``.

    Explained in notebook 06, section "Image classifiers".
    """
    training.set_compute_dtype(job["compute_dtype"])
    out, d, name = Path(job["out"]), job["dataset"], job["name"]
    if job["kind"] == "image":

        def compute():
            image_set = job["image_set"] or _load_images(d, job["source"])
            return finetune.finetuned_image_embeddings(
                name, image_set, job["split"], checkpoint=out / f"ckpt_{d}_{name}.pt", **job["recipe"]
            )

        return retrieval_data.cached_embedding(out, f"image_{d}_{name}", compute)
    return retrieval_data.cached_embedding(
        out,
        f"text_{d}_{name}",
        lambda: finetune.finetuned_caption_embeddings(
            name, job["table"], job["split"], checkpoint=out / f"ckpt_text_{d}.pt", **job["recipe"]
        ),
    )
