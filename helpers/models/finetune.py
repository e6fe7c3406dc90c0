"""Fine-tuning recipes of Paper B (notebook ``06_finetune_encoders``), built on ``helpers.models.training``.

Image classifiers (paper: ``vgg11_bn``, ``resnet18``, ``inception_v3``): SGD, lr 1e-3, momentum
0.9, batch 32, ``RandomResizedCrop`` + horizontal flip for training, resize + centre crop for
validation/embedding, ImageNet-style normalisation, best validation weights kept (the paper's
``embed.py``).  Caption classifier (paper: DistilBERT): AdamW, lr 2e-5, weight decay 0.01,
batch 32 (the paper's Hugging Face ``Trainer`` arguments).  After fine-tuning the heads are dropped
and the embeddings of every image / caption of the split are computed.

``freeze_fraction`` (quick profile only) freezes the first part of a network's parameter tensors so
that a CPU run finishes in minutes; the paper fine-tuned every layer (``freeze_fraction=0``).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from helpers.core.errors import ReproError
from helpers.data.class_split import label_map
from helpers.data.image_archive import ImageDataset
from helpers.models import training
from helpers.models.image_classifiers import drop_head, head_layers, image_classifier, input_size
from helpers.models.image_common import channels_last, normalize_for
from helpers.models.text_encoders import load_text_classifier, text_embeddings
from helpers.models.training import autocast

# --------------------------------------------------------------------------- shared


class _FrozenBatchNorm2d(nn.BatchNorm2d):
    """A batch-norm layer that stays in eval mode: frozen weights *and* frozen statistics."""

    def train(self, mode: bool = True):
        return super().train(False)


def freeze_first(model: nn.Module, fraction: float, keep_trainable: Sequence[nn.Module] = ()) -> int:
    """Set ``requires_grad=False`` on the first ``fraction`` of ``model``'s parameter tensors
    (in definition order), except those of ``keep_trainable`` (the new head).  Returns how many
    tensors were frozen.

    Batch-norm layers whose weights are frozen also keep their ImageNet running statistics
    (they stay in eval mode during training): updating the statistics of a frozen layer from small
    CPU batches shifts every feature after it between training and evaluation, and a trivially
    separable toy task then stays near chance (tests/test_finetune.py)."""
    if not 0.0 <= fraction < 1.0:
        raise ReproError(f"freeze_fraction must be in [0, 1), got {fraction}.")
    keep = {id(p) for m in keep_trainable for p in m.parameters()}
    params = [p for p in model.parameters() if id(p) not in keep]
    n = int(round(len(params) * fraction))
    for p in params[:n]:
        p.requires_grad_(False)
    for module in model.modules():
        if type(module) is nn.BatchNorm2d and module.weight is not None and not module.weight.requires_grad:
            module.__class__ = _FrozenBatchNorm2d
            module.eval()
    return n


def class_count(train_labels, val_labels) -> int:
    """Number of classes; the labels must be ``0 .. n-1`` (remap class ids before fine-tuning)."""
    labels = sorted({int(v) for v in train_labels} | {int(v) for v in val_labels})
    if labels != list(range(len(labels))):
        raise ReproError(
            "Fine-tuning labels must be 0 .. n-1 without gaps; remap the class ids "
            f"of the training classes first (got {labels[:5]}...)."
        )
    return len(labels)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


# --------------------------------------------------------------------------- images


def image_transforms(choice, size: int | None = None, *, train: bool):
    """The paper's transforms at ``size`` px (default: the model's own input size):
    ``RandomResizedCrop(size)`` + flip for training, ``Resize(size)`` + ``CenterCrop(size)``
    otherwise, normalised for the model (:func:`helpers.models.image_common.normalize_for`)."""

    size = int(size or input_size(choice))
    steps = (
        [transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip()]
        if train
        else [transforms.Resize(size), transforms.CenterCrop(size)]
    )
    return transforms.Compose(steps + [transforms.ToTensor(), normalize_for(choice)])


def finetune_image_classifier(
    name: str,
    image_set,
    train_keys,
    train_labels,
    val_keys,
    val_labels,
    *,
    epochs: int,
    lr: float = 1e-3,
    momentum: float = 0.9,
    batch_size: int = 32,
    image_size: int | None = None,
    freeze_fraction: float = 0.0,
    device="cpu",
    checkpoint: Path | None = None,
    num_workers: int = 0,
    allow_standin: bool = True,
    seed: int = 0,
):
    """Fine-tune ``image_classifier(name)`` on the training classes; returns
    ``(model, history, choice)`` with the best validation weights loaded."""

    n_classes = class_count(train_labels, val_labels)
    torch.manual_seed(seed)  # the new head's init and the random crops/flips
    model, choice = image_classifier(name, n_classes, allow_standin=allow_standin)
    model = channels_last(model)  # faster CPU convolutions, the same float32 math
    if image_size:
        choice = _with_size(choice, int(image_size))
    if freeze_fraction:
        freeze_first(model, freeze_fraction, keep_trainable=head_layers(model))
    train_ds = _image_dataset(
        image_set, train_keys, train_labels, image_transforms(choice, image_size, train=True)
    )
    val_ds = _image_dataset(
        image_set, val_keys, val_labels, image_transforms(choice, image_size, train=False)
    )
    g = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(
        train_ds, batch_size=batch_size, shuffle=True, generator=g, num_workers=num_workers
    )
    val_loader = DataLoader(val_ds, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    optimizer = torch.optim.SGD(trainable_parameters(model), lr=lr, momentum=momentum)
    history = training.fit(
        model,
        train_loader,
        val_loader,
        optimizer,
        epochs=epochs,
        device=device,
        checkpoint=checkpoint,
        keep_best=True,
        desc=f"fine-tune {choice.used}",
    )
    return model, history, choice


def _with_size(choice, size: int):
    """The ModelChoice with the input size that actually ran (``"(224 px)"`` -> ``"(128 px)"``)."""

    if re.search(r"\(\d+ px\)", choice.used):
        used = re.sub(r"\(\d+ px\)", f"({size} px)", choice.used)
    else:
        used = f"{choice.used} ({size} px)"
    return dataclasses.replace(choice, used=used)


def _image_dataset(image_set, keys, labels, transform) -> Dataset:

    return ImageDataset(image_set, list(keys), [int(v) for v in labels], transform)


def image_embeddings(
    model: nn.Module,
    choice,
    image_set,
    keys,
    *,
    image_size: int | None = None,
    batch_size: int = 64,
    device="cpu",
    num_workers: int = 0,
) -> np.ndarray:
    """Embeddings (head dropped, eval transforms) of ``keys`` in that order, float32."""

    ds = _image_dataset(image_set, keys, [0] * len(keys), image_transforms(choice, image_size, train=False))
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    return np.asarray(training.embed(drop_head(model), loader, device=device), dtype=np.float32)


# --------------------------------------------------------------------------- captions


class TokenIdsClassifier(nn.Module):
    """Wrap a Hugging Face sequence classifier so it takes one padded ``input_ids`` tensor
    (the attention mask is ``input_ids != pad_id``) and returns logits, the interface of
    ``helpers.models.training.fit``."""

    def __init__(self, hf_model: nn.Module, pad_id: int):
        super().__init__()
        self.hf = hf_model
        self.pad_id = int(pad_id)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.hf(input_ids=input_ids, attention_mask=(input_ids != self.pad_id).long()).logits


class CaptionDataset(Dataset):
    """Tokenised captions (truncated to ``max_length``) with integer labels."""

    def __init__(self, texts: Sequence[str], labels: Sequence[int], tokenizer, max_length: int = 64):
        enc = tokenizer(list(texts), truncation=True, max_length=max_length)
        self.ids = enc["input_ids"]
        self.labels = [int(v) for v in labels]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        return self.ids[i], self.labels[i]


def pad_collate(pad_id: int):
    """Collate ``(ids, label)`` pairs into a right-padded LongTensor and a label tensor."""

    def collate(batch):
        width = max(len(ids) for ids, _ in batch)
        x = torch.full((len(batch), width), pad_id, dtype=torch.long)
        for i, (ids, _) in enumerate(batch):
            x[i, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
        return x, torch.as_tensor([y for _, y in batch], dtype=torch.long)

    return collate


def finetune_text_classifier(
    name: str,
    train_texts,
    train_labels,
    val_texts,
    val_labels,
    *,
    epochs: int,
    lr: float = 2e-5,
    weight_decay: float = 0.01,
    batch_size: int = 32,
    max_length: int = 64,
    device="cpu",
    checkpoint: Path | None = None,
    allow_standin: bool = True,
    freeze_fraction: float = 0.0,
    seed: int = 0,
):
    """Fine-tune ``load_text_classifier(name)`` on caption -> class; returns
    ``(tokenizer, hf_model, history, choice)`` with the best validation weights loaded."""

    n_classes = class_count(train_labels, val_labels)
    torch.manual_seed(seed)  # the new head's init and dropout
    tokenizer, hf_model, choice = load_text_classifier(name, n_classes, allow_standin=allow_standin)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    model = TokenIdsClassifier(hf_model, pad_id)
    if freeze_fraction:
        head = [m for n, m in hf_model.named_children() if n in ("classifier", "pre_classifier", "score")]
        freeze_first(hf_model, freeze_fraction, keep_trainable=head)
    collate = pad_collate(pad_id)
    g = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(
        CaptionDataset(train_texts, train_labels, tokenizer, max_length),
        batch_size=batch_size,
        shuffle=True,
        generator=g,
        collate_fn=collate,
    )
    val_loader = DataLoader(
        CaptionDataset(val_texts, val_labels, tokenizer, max_length),
        batch_size=batch_size,
        shuffle=False,
        collate_fn=collate,
    )
    optimizer = torch.optim.AdamW(trainable_parameters(model), lr=lr, weight_decay=weight_decay)
    history = training.fit(
        model,
        train_loader,
        val_loader,
        optimizer,
        epochs=epochs,
        device=device,
        checkpoint=checkpoint,
        keep_best=True,
        desc=f"fine-tune {choice.used}",
    )
    return tokenizer, hf_model, history, choice


# --------------------------------------------------------------------------- notebook 06


def finetuned_image_embeddings(
    name: str,
    image_set,
    split,
    *,
    epochs: int,
    lr: float = 1e-3,
    momentum: float = 0.9,
    batch_size: int = 32,
    image_size: int | None = None,
    freeze_fraction: float = 0.0,
    device="cpu",
    checkpoint: Path | None = None,
    num_workers: int = 0,
    allow_standin: bool = True,
    seed: int = 0,
):
    """Notebook 06, one image model: fine-tune on the ``train`` images of ``split`` (notebook 05's
    table; ``val`` images choose the best epoch; labels from
    :func:`helpers.data.class_split.label_map`), then embed **every** image of the split, in its
    order, with the head dropped. Returns ``(embeddings, history, choice)``, the triple
    :func:`helpers.paper_b.retrieval_data.cached_embedding` stores."""

    labels = label_map(split)
    tr, va = split[split.part == "train"], split[split.part == "val"]
    model, history, choice = finetune_image_classifier(
        name,
        image_set,
        tr.image,
        tr.class_id.map(labels),
        va.image,
        va.class_id.map(labels),
        epochs=epochs,
        lr=lr,
        momentum=momentum,
        batch_size=batch_size,
        image_size=image_size,
        freeze_fraction=freeze_fraction,
        device=device,
        checkpoint=checkpoint,
        num_workers=num_workers,
        seed=seed,
        allow_standin=allow_standin,
    )
    emb = image_embeddings(
        model, choice, image_set, split.image, image_size=image_size, device=device, num_workers=num_workers
    )
    return emb, history, choice


def finetuned_caption_embeddings(
    name: str,
    captions,
    split,
    *,
    epochs: int,
    lr: float = 2e-5,
    weight_decay: float = 0.01,
    batch_size: int = 32,
    max_length: int = 64,
    device="cpu",
    checkpoint: Path | None = None,
    freeze_fraction: float = 0.0,
    allow_standin: bool = True,
    seed: int = 0,
):
    """Notebook 06, the caption classifier: fine-tune on the captions of the ``train`` images
    (captions of ``val`` images choose the best epoch), then the [CLS] vector of the last hidden
    layer of **every** caption, in the order of ``captions`` (notebook 05's caption table).
    Returns ``(embeddings, history, choice)``."""

    labels = label_map(split)
    ctr, cva = captions[captions.part == "train"], captions[captions.part == "val"]
    tokenizer, hf_model, history, choice = finetune_text_classifier(
        name,
        ctr.caption.tolist(),
        ctr.class_id.map(labels).tolist(),
        cva.caption.tolist(),
        cva.class_id.map(labels).tolist(),
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        batch_size=batch_size,
        max_length=max_length,
        device=device,
        checkpoint=checkpoint,
        freeze_fraction=freeze_fraction,
        seed=seed,
        allow_standin=allow_standin,
    )

    hf_model.eval()
    with autocast(device):  # the dtype of training.set_compute_dtype (notebook 06's compute_dtype)
        emb = text_embeddings(
            captions.caption.tolist(), tokenizer, hf_model, max_length=max_length, device=device
        )
    return emb, history, choice
