"""Paper A's trainable heads (notebooks 03-04, book/paper_a.md): :class:`PaperHead`, the head the
paper's text describes (section IV.A; the sizes it leaves open from the authors' code),
:class:`SentimentHead` (alias :class:`BookHead`), this book's smaller head with a fixed input
standardisation, and :class:`PaperStdHead` (``"paper+std"``), the paper's head behind the book
head's fixed per-position standardisation (the named ablation that shows what keeps the paper's
head from collapsing); :func:`make_head` builds one by name.

They sit on a frozen ImageNet slice (:mod:`helpers.paper_a.frozen_slices`); the recipes that train them
are in :mod:`helpers.paper_a.sentiment_model`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from helpers.core.errors import ReproError

DROPOUT = 0.3
# Bump when the trainable heads change in a way that changes results (part of notebook 04's artifact
# key).  2: fixed input standardisation, dense 64 -> 32.  3: PaperHead, recipe names.  4: PaperHead's
# biases keep PyTorch's default initialisation (as the authors' code), "paper+std" head.
HEAD_VERSION = 4

HEADS = ("paper", "book", "paper+std")


class ConvAutoEncoder(nn.Module):
    """Convolutional auto-encoder on the extractor's feature maps.

    Encoder: two ``3x3 conv -> ReLU -> 2x2 max-pool`` stages (C -> hidden -> bottleneck
    channels); decoder: two ``2x2 transposed conv`` stages back to C channels.  Its output has
    the input's channel count and (up to rounding) its spatial size.
    """

    def __init__(self, in_channels: int, hidden: int = 32, bottleneck: int = 16):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(hidden, bottleneck, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(bottleneck, hidden, 2, stride=2),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(hidden, in_channels, 2, stride=2),
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


class DenseClassifier(nn.Module):
    """Three linear layers with ReLU and dropout 0.3 (the paper's dense classifier)."""

    def __init__(
        self,
        in_features: int,
        hidden: tuple[int, int] = (64, 32),
        num_classes: int = 2,
        dropout: float = DROPOUT,
    ):
        super().__init__()
        h1, h2 = hidden
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_features, h1),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(h1, h2),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(h2, num_classes),
        )

    def forward(self, x):
        return self.net(x)


class InputScaling(nn.Module):
    """A fixed (not trained) per-position standardisation of the extractor output: buffers
    ``input_mean`` / ``input_std`` of shape ``(C, H, W)``, identity until :meth:`fit_input_scaling`
    sets them from the training features (part of ``state_dict``)."""

    def _init_scaling(self, c: int, h: int, w: int) -> None:
        self.feature_shape = (c, h, w)
        self.register_buffer("input_mean", torch.zeros(c, h, w))
        self.register_buffer("input_std", torch.ones(c, h, w))

    @torch.no_grad()
    def fit_input_scaling(self, batches):
        """Set the fixed input standardisation from training features: an array ``(n, C, H, W)``
        or an iterable of such batches (tensors or arrays); accumulated in float64."""
        if isinstance(batches, (np.ndarray, torch.Tensor)):
            batches = [batches]
        n, s1, s2 = 0, 0.0, 0.0
        for b in batches:
            b = torch.as_tensor(np.asarray(b) if not isinstance(b, torch.Tensor) else b).double().cpu()
            if tuple(b.shape[1:]) != self.feature_shape:
                raise ReproError(
                    f"Features of shape {tuple(b.shape[1:])} do not match the head's {self.feature_shape}."
                )
            n, s1, s2 = n + len(b), s1 + b.sum(0), s2 + (b * b).sum(0)
        if n < 2:
            raise ReproError("fit_input_scaling needs at least two training samples.")
        mean = s1 / n
        std = ((s2 / n - mean * mean).clamp_min(0) * n / (n - 1)).sqrt()
        std = std.clamp_min(1e-3 * float(std.mean()) + 1e-12)  # constant positions: no blow-up
        self.input_mean.copy_(mean.float())
        self.input_std.copy_(std.float())
        return self

    def scale_input(self, features):
        return (features - self.input_mean) / self.input_std


class SentimentHead(InputScaling):
    """Trainable part: auto-encoder -> flatten -> classifier.

    ``feature_shape`` is the frozen extractor's ``(C, H, W)`` output
    (``frozen_slices.feature_shape``).  The decoder's output is flattened as it is: every pixel of a
    DeepInsight image stands for particular [CLS] features, so averaging over space (global
    pooling) would throw the information away.  ``pool`` (an integer) optionally average-pools to
    ``pool x pool`` first, to shrink the first dense layer for very large feature maps.

    The head starts with a *fixed* (not trained) standardisation of the extractor output: the
    training features' mean map is subtracted and every value divided by its standard deviation
    (``fit_input_scaling``; identity until it is called).  A DeepInsight image has the same layout
    for every review, so 95-98 % of the extractor output's variance is the common mean map and
    only the small per-review deviations carry the sentiment; without the standardisation the
    Xavier-initialised layers see nearly identical inputs, learn very slowly and often end up
    predicting one class.  It is part of the model (buffers in ``state_dict``), so cached-feature
    and end-to-end training stay equivalent.
    """

    def __init__(
        self,
        feature_shape: tuple[int, int, int],
        *,
        hidden: int = 32,
        bottleneck: int = 16,
        pool: int | None = None,
        dense: tuple[int, int] = (64, 32),
        num_classes: int = 2,
    ):
        super().__init__()
        c, h, w = (int(v) for v in feature_shape)
        if min(h, w) < 4:
            raise ReproError(
                f"Extractor output {feature_shape} is too small for the auto-encoder (needs >= 4x4)."
            )
        self._init_scaling(c, h, w)
        self.autoencoder = ConvAutoEncoder(c, hidden, bottleneck)
        self.pool = nn.AdaptiveAvgPool2d(pool) if pool else nn.Identity()
        with torch.no_grad():
            n_flat = self.pool(self.autoencoder(torch.zeros(1, c, h, w))).numel()
        self.classifier = DenseClassifier(n_flat, dense, num_classes)
        xavier_init_(self)

    def forward(self, features):
        x = self.scale_input(features)
        return self.classifier(self.pool(self.autoencoder(x)))


BookHead = SentimentHead


class PaperHead(nn.Module):
    """The head the paper's text describes (section IV.A): a convolutional auto-encoder of four
    convolutional layers separated by ReLU and BatchNorm, then a classifier of three fully
    connected layers with dropout 0.3 on the first two, Xavier initialisation.

    Sizes the text leaves open come from the authors' code (their ResNet model):
    ``Conv(k=4) -> ReLU -> BatchNorm`` with 192, 128, 64, 32 output channels, then
    ``AdaptiveAvgPool2d(10)`` (32 x 10 x 10 = 3,200 values).  Where text and code disagree the
    text wins: the authors' ResNet classifier has *four* linear layers (3200 -> 1600 -> 700 -> 50
    -> 2) and their auto-encoder has dropout 0.2 after each BatchNorm; here the classifier has the
    three layers of the text, ``3200 -> 700 -> 50 -> 2`` (the authors' AlexNet model has this
    three-layer form, 1600 -> 700 -> 50 -> 2), dropout 0.3 before the second and third, and the
    auto-encoder has no dropout.  Initialisation as in the authors' code: linear layers
    ``xavier_uniform_`` with gain sqrt(2), convolutions ``xavier_normal_``, biases left at
    PyTorch's default initialisation (the authors' code does not touch them).

    One form for every Table A1 row, where the authors' heads differ per row (their first commit):
    AlexNet has its own auto-encoder (four convolutions of kernel 2 from 192 channels, pooled to
    5 x 5) and dropout *before* the first two linear layers; ResNet four convolutions of kernel 4
    (256 -> 192 -> 128 -> 64 -> 32) with dropout 0.2; ResNeXt, ShuffleNet and VGG dropout 0.05.
    Feature maps smaller than ``4 * (kernel - 1) + 1`` (a stand-in's 10 x 10) use "same"
    padding so that four convolutions fit.  No input standardisation (compare :class:`BookHead`).
    """

    def __init__(
        self,
        feature_shape: tuple[int, int, int],
        *,
        channels: tuple[int, ...] = (192, 128, 64, 32),
        kernel: int = 4,
        pool: int = 10,
        dense: tuple[int, int] = (700, 50),
        num_classes: int = 2,
        dropout: float = DROPOUT,
    ):
        super().__init__()
        c, h, w = (int(v) for v in feature_shape)
        if len(channels) != 4:
            raise ReproError(
                f"The paper's auto-encoder has four convolutional layers, got channels={channels}."
            )
        self.feature_shape = (c, h, w)
        padding = 0 if min(h, w) >= len(channels) * (kernel - 1) + 1 else "same"
        layers, prev = [], c
        for ch in channels:
            layers += [
                nn.Conv2d(prev, ch, kernel, padding=padding),
                nn.ReLU(inplace=True),
                nn.BatchNorm2d(ch),
            ]
            prev = ch
        self.autoencoder = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pool)
        self.classifier = DenseClassifier(prev * pool * pool, dense, num_classes, dropout)
        paper_init_(self)

    def forward(self, features):
        return self.classifier(self.pool(self.autoencoder(features)))


class PaperStdHead(PaperHead, InputScaling):
    """``"paper+std"``: :class:`PaperHead` as the authors built it, behind the book head's fixed
    per-position standardisation of the extractor output (``fit_input_scaling``).  The named
    ablation of Table A1: the only difference from ``"paper"`` is that the map shared by every
    review (the DeepInsight layout, most of the input) is subtracted and each position scaled to
    unit variance, the step that keeps the first dense layers' ReLU units alive."""

    def __init__(self, feature_shape: tuple[int, int, int], **kwargs):
        super().__init__(feature_shape, **kwargs)
        self._init_scaling(*self.feature_shape)

    def forward(self, features):
        return super().forward(self.scale_input(features))


def make_head(kind: str, feature_shape: tuple[int, int, int]) -> nn.Module:
    """A fresh head: ``"paper"`` (:class:`PaperHead`), ``"book"`` (:class:`BookHead`) or
    ``"paper+std"`` (:class:`PaperStdHead`).

    Explained in notebook 03, section "The frozen slices".
    """
    if kind == "paper":
        return PaperHead(feature_shape)
    if kind == "paper+std":
        return PaperStdHead(feature_shape)
    if kind == "book":
        return BookHead(feature_shape)
    raise ReproError(f"Unknown head {kind!r}; choose one of {', '.join(HEADS)}.")


def xavier_init_(module: nn.Module) -> nn.Module:
    """Xavier-uniform weights and zero biases for every conv / linear layer (the book head's init;
    the paper's is :func:`paper_init_`)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def paper_init_(module: nn.Module) -> nn.Module:
    """The authors' Xavier initialisation: linear layers ``xavier_uniform_`` with gain sqrt(2)
    (ReLU), convolutions ``xavier_normal_``; biases keep PyTorch's default initialisation (the
    authors' code leaves them)."""
    gain = nn.init.calculate_gain("relu")
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight, gain=gain)
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_normal_(m.weight)
    return module


def diagram_stages(
    kind: str,
    feature_shape: tuple[int, int, int],
    *,
    text_model: str,
    extractor: str,
    image_px: int,
    size: int,
    upsample_mode: str,
) -> list[tuple[str, str, str]]:
    """Figure A5's boxes (notebook 03): ``(label, output size, fixed | frozen | trainable)`` from the
    review to the two logits, with the sizes of a fresh ``kind`` head on ``feature_shape``.

    ``text_model`` / ``extractor``: the models that ran (``ModelChoice.used``, the text before
    " (" is shown); ``image_px``: the DeepInsight image side; ``size``: the upsampled side.
    """
    head = make_head(kind, feature_shape)
    lin = [m for m in head.classifier.modules() if isinstance(m, nn.Linear)]

    def fmt(s):
        return " x ".join(str(v) for v in s)

    stages = [
        ("IMDB review", "text", "fixed"),
        (f"text encoder\n{text_model.split(' (')[0]}", "[CLS] of 6 layers", "frozen"),
        ("DeepInsight\n(t-SNE, train only)", f"{image_px} x {image_px} grey", "fixed"),
        (f"Z-norm + x3 upsample\n({upsample_mode})", f"3 x {size} x {size}", "fixed"),
        (f"frozen slice\n{extractor.split(' (')[0]}", fmt(feature_shape), "frozen"),
    ]
    with torch.no_grad():
        if kind == "book":
            ae_out = tuple(head.autoencoder(torch.zeros(1, *feature_shape)).shape[1:])
            code = tuple(head.autoencoder.encoder(torch.zeros(1, *feature_shape)).shape[1:])
            pooled = tuple(head.pool(torch.zeros(1, *ae_out)).shape[1:])
            stages += [
                ("standardise\n(train mean / std)", fmt(feature_shape), "fixed"),
                ("auto-encoder\nencoder", fmt(code), "trainable"),
                ("auto-encoder\ndecoder", fmt(ae_out), "trainable"),
                ("flatten", f"{int(np.prod(pooled))} values", "fixed"),
            ]
        else:
            head.eval()
            if kind == "paper+std":
                stages.append(("standardise\n(train mean / std)", fmt(feature_shape), "fixed"))
            ae_out = tuple(head.autoencoder(torch.zeros(1, *feature_shape)).shape[1:])
            pooled = tuple(head.pool(torch.zeros(1, *ae_out)).shape[1:])
            stages += [
                ("auto-encoder: 4 x\nconv + ReLU + BN", fmt(ae_out), "trainable"),
                ("adaptive avg. pool\n+ flatten", f"{int(np.prod(pooled))} values", "fixed"),
            ]
    return stages + [
        ("dense + ReLU\n+ dropout 0.3", f"{lin[0].in_features} -> {lin[0].out_features}", "trainable"),
        ("dense + ReLU\n+ dropout 0.3", f"{lin[1].in_features} -> {lin[1].out_features}", "trainable"),
        ("dense", f"{lin[2].in_features} -> {lin[2].out_features} (neg/pos)", "trainable"),
    ]
