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
from helpers.models import finetune, image_classifiers, text_encoders, training
from helpers.paper_b import retrieval_data


def _load_images(dataset: str, source):
    loaders = {"cub": cub.load_cub, "flowers": flowers.load_flowers}
    return loaders[dataset](source)


def models_to_run(image_models, text_model: str, allow_standin: bool) -> dict:
    """The models that will run (the paper's or a stand-in, ``ModelChoice.used``), as they go into
    notebook 06's key: installing the paper's weights later recomputes the embeddings instead of
    reusing the stand-ins'.

    Explained in notebook 06, section "Inputs: the split and the captions of notebook 05".
    """
    return {
        "text": text_encoders.resolve_text_model(text_model, allow_standin=allow_standin).used,
        "images": {
            name: image_classifiers.resolve_classifier(name, allow_standin=allow_standin).used
            for name in image_models
        },
    }


def image_job(
    dataset: str, name: str, image_set, split, out, recipe: dict, source, *, remote: bool, variant: str = ""
) -> dict:
    """The fine-tune of image model ``name`` on ``dataset`` (``recipe``: the keyword arguments of
    ``finetune.finetuned_image_embeddings``); ``variant``
    (:data:`helpers.paper_b.retrieval_data.SHIPPED` or empty) ends the names of its files.

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
        "variant": variant,
    }


def caption_job(dataset: str, name: str, captions, split, out, recipe: dict, variant: str = "") -> dict:
    """The caption classifier ``name`` fine-tuned on ``dataset``'s captions (``recipe``: the
    keyword arguments of ``finetune.finetuned_caption_embeddings``; ``variant`` as for
    :func:`image_job`).

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
        "variant": variant,
    }


def run_job(job: dict):
    """Run one job (or reuse its files); returns its ``retrieval_data.CachedEmbedding``.

    Explained in notebook 06, section "Image classifiers".
    """
    training.set_compute_dtype(job["compute_dtype"])
    out, d, name, v = Path(job["out"]), job["dataset"], job["name"], job.get("variant", "")
    if job["kind"] == "image":

        def compute():
            image_set = job["image_set"] or _load_images(d, job["source"])
            return finetune.finetuned_image_embeddings(
                name, image_set, job["split"], checkpoint=out / f"ckpt_{d}_{name}{v}.pt", **job["recipe"]
            )

        return retrieval_data.cached_embedding(out, f"image_{d}_{name}{v}", compute)
    return retrieval_data.cached_embedding(
        out,
        f"text_{d}_{name}{v}",
        lambda: finetune.finetuned_caption_embeddings(
            name, job["table"], job["split"], checkpoint=out / f"ckpt_text_{d}{v}.pt", **job["recipe"]
        ),
    )


def run_image_jobs(ex, image_sets: dict, split: dict, image_models, out, recipe: dict, source) -> dict:
    """Every (data set, image model) fine-tune on the executor ``ex`` (``helpers.core.tasks``);
    returns their ``CachedEmbedding`` keyed by ``(dataset, model)``.

    Explained in notebook 06, section "Image classifiers".
    """
    keys = [(d, name) for d in image_sets for name in image_models]
    jobs = [
        image_job(d, name, image_sets[d], split[d], out, recipe, source, remote=ex.remote) for d, name in keys
    ]
    return dict(zip(keys, ex.map(run_job, jobs, desc="image fine-tunes")))


def run_caption_jobs(ex, name: str, captions: dict, split: dict, out, recipe: dict) -> dict:
    """The caption classifier ``name`` fine-tuned on every data set that has captions
    (``captions[d]`` not None), on the executor ``ex``; returns ``{dataset: CachedEmbedding}``.

    Explained in notebook 06, section "Caption classifier (DistilBERT)".
    """
    with_captions = [d for d in captions if captions[d] is not None]
    jobs = [caption_job(d, name, captions[d], split[d], out, recipe) for d in with_captions]
    return dict(zip(with_captions, ex.map(run_job, jobs, desc="caption fine-tunes")))


def run_variant_jobs(
    ex,
    image_sets: dict,
    split: dict,
    image_models,
    text_model: str,
    captions: dict,
    out,
    recipes: dict,
    source,
    variant: str,
) -> dict:
    """Every image model and the caption encoder once more, with ``recipes["image"]`` /
    ``recipes["text"]``, on the same images and captions; the files end in ``variant``.  Returns
    ``{("image", dataset, model) | ("text", dataset): CachedEmbedding}``.

    Explained in notebook 06, sections "The models as they ship" and "More fine-tuning seeds".
    """
    keys = [("image", d, name) for d in image_sets for name in image_models]
    jobs = [
        image_job(
            d, name, image_sets[d], split[d], out, recipes["image"], source, remote=ex.remote, variant=variant
        )
        for _, d, name in keys
    ]
    for d in (d for d in captions if captions[d] is not None):
        keys.append(("text", d))
        jobs.append(caption_job(d, text_model, captions[d], split[d], out, recipes["text"], variant=variant))
    return dict(zip(keys, ex.map(run_job, jobs, desc=f"fine-tunes {variant.strip('_')}")))


def run_shipped_jobs(ex, image_sets, split, image_models, text_model, captions, out, recipes, source) -> dict:
    """The baseline of notebook 07: every image model and the caption encoder *as they ship*
    (``epochs=0`` in their recipes: no step of fine-tuning, the new head dropped as always),
    embedding the same images and captions (:func:`run_variant_jobs`); files end in
    :data:`helpers.paper_b.retrieval_data.SHIPPED`.

    Explained in notebook 06, section "The models as they ship".
    """
    shipped = {k: {**r, "epochs": 0} for k, r in recipes.items()}
    args = (image_sets, split, image_models, text_model, captions, out, shipped, source)
    return run_variant_jobs(ex, *args, retrieval_data.SHIPPED)


def run_seed_jobs(
    ex, image_sets, split, image_models, text_model, captions, out, recipes, source, seeds
) -> dict:
    """Table B1 over fine-tuning seeds: every fine-tune again with each seed of ``seeds`` (the
    recipes' other settings unchanged, :func:`run_variant_jobs`), files ending in
    :func:`helpers.paper_b.retrieval_data.seed_variant`.  Returns ``{seed: run_variant_jobs(...)}``.

    Explained in notebook 06, section "More fine-tuning seeds".
    """
    out_runs = {}
    for s in seeds:
        seeded = {k: {**r, "seed": int(s)} for k, r in recipes.items()}
        args = (image_sets, split, image_models, text_model, captions, out, seeded, source)
        out_runs[int(s)] = run_variant_jobs(ex, *args, retrieval_data.seed_variant(s))
    return out_runs
