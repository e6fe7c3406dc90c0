"""What notebook 06 shows and stores about its fine-tunes: one line per run, the models table, the
names and sizes that Figures 3-5 draw, and the artifact's files (the embeddings of
``helpers.paper_b.finetune_tasks``, notebook 05's tables and ``info.json``).

``image_runs`` is ``{(dataset, model): CachedEmbedding}`` and ``text_runs`` ``{dataset:
CachedEmbedding}`` (``helpers.paper_b.retrieval_data.CachedEmbedding``), as the tasks return them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from helpers.core import report
from helpers.core.weights import ModelChoice
from helpers.data import class_split
from helpers.paper_b import tables_b

# the TF-IDF "txc" encoder: nothing to fine-tune, so no CachedEmbedding carries its ModelChoice
TFIDF_CHOICE = ModelChoice(
    "TF-IDF (gensim, smartirs='txc')",
    "helpers.models.text_encoders.TfidfTxc",
    False,
    "fitted on training-class captions",
    "scikit-learn tokeniser, no lemmatisation",
)


def describe_image_runs(image_runs: dict) -> str:
    """One line per image fine-tune: the model that ran, reused or fine-tuned, best validation
    accuracy and embedding size.

    Explained in notebook 06, section "Image classifiers".
    """
    return "\n".join(
        f"{d} {name} -> {r.choice.used}: "
        + ("reused" if r.reused else "fine-tuned")
        + f", best val acc {max(r.history['val_acc']):.3f}, embedding dim {r.dim}"
        for (d, name), r in image_runs.items()
    )


def describe_caption_runs(captions: dict, text_runs: dict) -> str:
    """One line per data set: skipped (no captions) or the caption classifier's best validation
    accuracy and embedding size.

    Explained in notebook 06, section "Caption classifier (DistilBERT)".
    """
    lines = [f"{d}: no captions, the caption classifier is skipped." for d in captions if captions[d] is None]
    lines += [
        f"{d}: {r.choice.used}: best val acc {max(r.history['val_acc']):.3f}, embedding dim {r.dim}"
        for d, r in text_runs.items()
    ]
    return "\n".join(lines)


def describe_shipped(shipped: dict) -> str:
    """One line per data set: what embedded as it ships (:func:`helpers.paper_b.finetune_tasks.run_shipped_jobs`).

    Explained in notebook 06, section "The models as they ship".
    """
    if not shipped:
        return "no baseline of the models as they ship (shipped_baseline = False)"
    lines = []
    for d in dict.fromkeys(k[1] for k in shipped):
        images = [k[2] for k in shipped if k[0] == "image" and k[1] == d]
        text = " and the caption encoder" if ("text", d) in shipped else ""
        lines.append(f"{d}: {', '.join(images)}{text}, as they ship")
    return "\n".join(lines)


def text_choice(text_runs: dict) -> ModelChoice | None:
    """The caption classifier that ran (the last data set's; None when no data set has captions).

    Explained in notebook 06, section "Caption classifier (DistilBERT)".
    """
    return list(text_runs.values())[-1].choice if text_runs else None


def models_used(image_runs: dict, text_runs: dict) -> pd.DataFrame:
    """The models table (``report.models_table``): the image models that ran on CUB, the caption
    classifier (if it ran) and the TF-IDF encoder.

    Explained in notebook 06, section "Models used".
    """
    rows = [r.choice for (d, _), r in image_runs.items() if d == "cub"]
    if text_runs:
        rows.append(text_choice(text_runs))
    return report.models_table([*rows, TFIDF_CHOICE])


def pipeline_stages(
    image_runs: dict, text_runs: dict, split: pd.DataFrame, image_model: str, text_model: str
) -> dict:
    """The names and sizes Figures 3-5 draw (the keywords of ``figures_b.pipeline_diagrams``):
    ``image_model`` on CUB (``split``: its notebook-05 table) and the caption classifier
    (``text_model (not run)`` without captions).

    Explained in notebook 06, section "Figures 3-5: the pipeline".
    """
    image_run, choice = image_runs[("cub", image_model)], text_choice(text_runs)
    return {
        "text_used": choice.used if choice else f"{text_model} (not run)",
        "text_dim": list(text_runs.values())[-1].dim if text_runs else "?",
        "image_used": image_run.choice.used,
        "image_dim": image_run.dim,
        "n_train_classes": len(class_split.label_map(split)),
        "n_test_images": int((split.part == "test").sum()),
    }


def info_record(
    profile: str,
    image_models,
    text_model: str,
    captions: dict,
    tfidf_dims: dict,
    image_runs: dict,
    text_runs: dict,
    shipped: bool = False,
    seeds=(0,),
) -> dict:
    """``info.json`` of notebook 06: the profile, the models, which data sets have captions, the
    TF-IDF vocabulary sizes, the ModelChoices (``tables_b.choice_rows``), the caption
    classifier's histories, whether the models as they ship embedded too (``shipped``) and the
    fine-tuning ``seeds`` (the first one's files have no suffix, the others
    ``retrieval_data.seed_variant``).

    Explained in notebook 06, section "Saving the embeddings".
    """
    choices = {k: r.choice for k, r in image_runs.items()}
    return {
        "profile": profile,
        "image_models": image_models,
        "text_model": text_model,
        "captions": {d: captions[d] is not None for d in captions},
        "tfidf_vocabulary": tfidf_dims,
        **tables_b.choice_rows(choices, text_choice(text_runs)),
        "text_histories": {d: r.history for d, r in text_runs.items()},
        "shipped": shipped,
        "seeds": [int(s) for s in seeds],
    }


def write_embeddings(
    folder: Path, scratch: Path, split: dict, captions: dict, models: pd.DataFrame, info: dict
) -> None:
    """Notebook 06's artifact in ``folder``: the embeddings the tasks wrote in ``scratch``
    (``.npy``, ``.npz`` and their ``.json``; the checkpoints stay behind), notebook 05's
    ``split_<d>.csv`` and ``captions_<d>.csv``, ``models.csv`` and ``info.json``.

    Explained in notebook 06, section "Saving the embeddings".
    """
    folder, scratch = Path(folder), Path(scratch)
    for f in scratch.iterdir():
        if f.suffix in (".npy", ".npz", ".json"):
            f.replace(folder / f.name)
    for d in split:
        split[d].to_csv(folder / f"split_{d}.csv", index=False)
        if captions[d] is not None:
            captions[d].to_csv(folder / f"captions_{d}.csv", index=False)
    models.to_csv(folder / "models.csv", index=False)
    (folder / "info.json").write_text(json.dumps(info, indent=1, default=float))
