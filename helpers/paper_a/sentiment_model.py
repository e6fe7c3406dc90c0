"""How Paper A's trainable heads are trained: the model, the training loop and its checks.

Used by ``notebooks/04_sentiment_training.ipynb`` (Table A1, learning curves) and drawn in
``03_feature_extractors`` (Figure A5).  The deviations are listed in ``book/paper_a.md``.

Paper A's model is ``frozen ImageNet slice -> convolutional auto-encoder -> 3 linear layers``
(dropout 0.3, Xavier initialisation, Adam with one learning rate for the auto-encoder and one for
the classifier, cross-entropy on two classes).

* Heads (in :mod:`helpers.paper_a.sentiment_heads`): ``PaperHead`` is the head the paper's text
  describes (section IV.A), with the sizes the text leaves open taken from the authors' code;
  ``SentimentHead`` (alias ``BookHead``) is this book's smaller head with a fixed input
  standardisation.
* Recipes (in :mod:`helpers.paper_a.head_recipes`): ``PAPER_TABLE_I`` (the paper's Table I) and
  ``BOOK_RECIPE`` (the book's tuned recipe); ``recipe`` picks one by name.

**What is equivalent to what.**  Training on *cached* extractor features (notebook 03) gives the
same model as the end-to-end loop of :func:`train_head` with ``extractor=...`` **when** the
frozen slice is in eval mode (batch-norm running statistics), the images are Z-normalised with
one global mean / std and upsampled the same way (up to the float16 storage of the features).
It is **not** the authors' loop: they called ``model.train()`` on the whole model before every
training step, so the frozen slices' batch-norm layers normalised each training batch with its own
statistics (and moved their running statistics towards the review images, which ``model.eval()``
then used for validation), and they Z-normalised each batch with its own mean / std; both make a
review's features depend on the other reviews of its batch, which no cache can reproduce.  Those two settings exist only in the end-to-end path
(``Recipe.znorm="batch"``, ``Recipe.frozen_bn="train"``); :func:`batch_dependence` measures how far
the cached features are from them.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from helpers.core.errors import ReproError
from helpers.models.training import evaluate, fit, pick_device, seed_everything
from helpers.paper_a.frozen_slices import feature_shape
from helpers.paper_a.head_recipes import FROZEN_BN, Recipe
from helpers.paper_a.preprocess import upsample, z_normalize
from helpers.paper_a.sentiment_heads import make_head


def batch_stat_bn_(module: nn.Module) -> nn.Module:
    """Make every batch-norm layer of a (frozen) module normalise with the *batch's* statistics
    (what the authors' frozen slices did in their training steps); ``momentum=0`` keeps the
    running statistics unchanged.  Works in place; pass a copy.  Used by :func:`batch_dependence`."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = 0.0
            m.train(True)
    return module


class SentimentNet(nn.Module):
    """Paper A's end-to-end model: frozen extractor + head.

    ``frozen_bn="eval"`` (default) keeps the frozen extractor in eval mode whatever ``train()`` is
    called with, so its output is a fixed function of the image and training on cached features is
    equivalent.  ``frozen_bn="train"`` reproduces the authors' loop, which called ``model.train()``
    on the whole model before each training step and ``model.eval()`` before validating: a copy of
    the extractor whose batch-norm layers follow the model's mode, i.e. normalise each training
    batch with its own statistics and update their running statistics (PyTorch's momentum 0.1),
    and use those updated running statistics in evaluation.  The weights stay frozen.
    """

    def __init__(self, extractor: nn.Module, head: nn.Module, frozen_bn: str = "eval"):
        super().__init__()
        if frozen_bn not in FROZEN_BN:
            raise ReproError(f"frozen_bn must be one of {', '.join(FROZEN_BN)}, not {frozen_bn!r}.")
        if frozen_bn == "train":
            extractor = copy.deepcopy(extractor)  # its running statistics will move
        self.frozen_bn = frozen_bn
        self.extractor = extractor
        self.head = head
        for p in self.extractor.parameters():
            p.requires_grad_(False)
        self.extractor.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self.extractor.eval()
        if self.frozen_bn == "train":
            for m in self.extractor.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.train(mode)
        return self

    def forward(self, images):
        with torch.no_grad():
            feats = self.extractor(images)
        return self.head(feats)


def make_optimizer(head: nn.Module, lr_autoencoder: float, lr_classifier: float) -> torch.optim.Adam:
    """Adam with differential learning rates: one for the auto-encoder, one for the classifier."""
    return torch.optim.Adam(
        [
            {"params": head.autoencoder.parameters(), "lr": lr_autoencoder, "name": "autoencoder"},
            {"params": head.classifier.parameters(), "lr": lr_classifier, "name": "classifier"},
        ]
    )


def feature_loader(features, labels, *, batch_size: int, shuffle: bool, seed: int = 0):
    """DataLoader over cached extractor features (float16 on disk, float32 in the model)."""

    x = torch.as_tensor(np.asarray(features)).float()
    y = torch.as_tensor(np.asarray(labels)).long()
    g = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, generator=g)


def image_loader(
    images,
    labels,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    scale: int = 3,
    mode: str = "bilinear",
    znorm=None,
):
    """DataLoader over ``(n, 50, 50)`` grey images that yields the extractors' 3 x 150 x 150
    input (``preprocess.upsample`` per batch): the end-to-end path.

    ``znorm``: ``None`` (the images are already Z-normalised), ``(mean, std)`` (global
    normalisation applied per batch, the same as ``None`` on pre-normalised images) or
    ``"batch"`` (each batch normalised with its own scalar mean / std: the authors' code).
    ``mode``: upsampling, ``"bilinear"`` or ``"nearest"``.
    """

    if not (znorm is None or znorm == "batch" or (isinstance(znorm, (tuple, list)) and len(znorm) == 2)):
        raise ReproError(f"znorm must be None, (mean, std) or 'batch', not {znorm!r}.")

    def collate(batch):
        x = torch.stack([b[0] for b in batch]).numpy()
        y = torch.stack([b[1] for b in batch])
        if znorm == "batch":
            x = z_normalize(x)
        elif znorm is not None:
            x = z_normalize(x, *znorm)
        return upsample(x, scale, mode=mode), y

    x = torch.as_tensor(np.asarray(images)).float()
    y = torch.as_tensor(np.asarray(labels)).long()
    g = torch.Generator().manual_seed(seed)
    return DataLoader(
        TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, generator=g, collate_fn=collate
    )


def train_head(
    x_train,
    y_train,
    x_val,
    y_val,
    *,
    recipe: Recipe,
    seed: int = 0,
    epochs: int | None = None,
    device="cpu",
    checkpoint=None,
    desc: str = "train",
    extractor: nn.Module | None = None,
    scale: int = 3,
    znorm_stats=None,
):
    """Train a fresh head (``recipe.head``) with the row's recipe; returns ``(model, history)``.

    * ``extractor=None``: ``x_*`` are cached extractor features ``(n, C, H, W)`` (the cheap path
      used on CPU); the model returned is the head.  The cache fixes the pre-processing, so
      ``recipe.znorm`` must be ``"global"`` and ``recipe.frozen_bn`` ``"eval"``.
    * ``extractor`` given: the end-to-end loop; ``x_*`` are the *raw* grey images ``(n, 50, 50)``
      of notebook 02, Z-normalised per batch as ``recipe.znorm`` says (``"global"`` needs
      ``znorm_stats=(mean, std)``), upsampled with ``recipe.upsample_mode`` and passed through the
      frozen extractor, whose batch-norm layers use ImageNet running statistics
      (``frozen_bn="eval"``) or, as in the authors' loop, batch statistics in training steps and
      the running statistics those steps moved in evaluation (``"train"``); the model returned is
      a ``SentimentNet``.

    With ``frozen_bn="eval"`` and ``znorm="global"`` both paths give the same model (up to the
    float16 cache); the authors' batch-dependent settings exist only end to end.  ``history`` comes
    from ``helpers.models.training.fit`` with ``keep_best=False``: ``val_acc[-1]`` is the *final* epoch's
    validation accuracy; :func:`cumulative_val_acc` gives the authors' cumulative measure.
    """

    device = pick_device(device)
    seed_everything(seed)
    if extractor is None:
        if recipe.znorm != "global" or recipe.frozen_bn != "eval":
            raise ReproError(
                f"Cached features were computed with global Z-normalisation and eval-mode "
                f"batch norm; recipe {recipe.name!r} asks for znorm={recipe.znorm!r}, "
                f"frozen_bn={recipe.frozen_bn!r}: train end to end (cache_features: false) "
                "or override those fields."
            )
        head = make_head(recipe.head, tuple(np.asarray(x_train).shape[1:]))
        if hasattr(head, "fit_input_scaling"):
            head.fit_input_scaling(x_train[i : i + 256] for i in range(0, len(x_train), 256))
        model = head
        tl = feature_loader(x_train, y_train, batch_size=recipe.batch_size, shuffle=True, seed=seed)
        vl = feature_loader(x_val, y_val, batch_size=256, shuffle=False)
    else:
        if recipe.znorm == "global" and znorm_stats is None:
            raise ReproError(
                "End-to-end training with znorm='global' needs znorm_stats=(mean, std) of the "
                "training images (notebook 02's znorm.json)."
            )
        zn = "batch" if recipe.znorm == "batch" else tuple(znorm_stats)
        size = int(np.asarray(x_train).shape[-1]) * scale
        head = make_head(recipe.head, feature_shape(extractor, size))
        model = SentimentNet(extractor, head, frozen_bn=recipe.frozen_bn).to(device)
        loader = lambda x, y, bs, shuffle, s=0: image_loader(
            x,
            y,
            batch_size=bs,
            shuffle=shuffle,
            seed=s,  # noqa: E731
            scale=scale,
            mode=recipe.upsample_mode,
            znorm=zn,
        )
        if hasattr(head, "fit_input_scaling"):
            # the scaling must see the features training sees: with frozen_bn="train" those are
            # batch-statistics features (a copy with momentum 0, so nothing moves), not eval-mode ones

            feat = (
                batch_stat_bn_(copy.deepcopy(model.extractor))
                if recipe.frozen_bn == "train"
                else model.extractor.eval()
            )
            with torch.no_grad():
                head.fit_input_scaling(
                    feat(xb.to(device)).cpu() for xb, _ in loader(x_train, y_train, recipe.batch_size, False)
                )
            del feat
        tl = loader(x_train, y_train, recipe.batch_size, True, seed)
        # per-batch statistics (Z or batch norm) depend on the batch size: validate with the training one
        vbs = recipe.batch_size if recipe.znorm == "batch" else 256
        vl = loader(x_val, y_val, vbs, False)
    opt = make_optimizer(head, recipe.lr_autoencoder, recipe.lr_classifier)
    history = fit(
        model,
        tl,
        vl,
        opt,
        epochs=epochs or recipe.epochs,
        device=device,
        checkpoint=checkpoint,
        keep_best=False,
        desc=desc,
        patience=recipe.patience,
    )
    return model, history


def cumulative_val_acc(val_acc) -> list[float]:
    """The authors' "validation accuracy" after each epoch, from our per-epoch accuracies.

    Their loop validated every 50 training steps and added each pass's correct / total
    predictions to counters that are never reset, so the number it printed is the average of
    all validation passes so far: a cumulative average over the learning curve that includes the
    untrained early passes and lies below the final accuracy while the model is still improving.
    From a per-epoch history (one pass per epoch, the same validation set each time) the same
    measure after epoch E is the mean of the accuracies of epochs 1..E; the authors' finer grid
    (25 passes per epoch for 40,000 reviews) averages the same curve at more points.
    """
    acc = np.asarray(val_acc, dtype=float)
    if acc.size == 0:
        return []
    return list(np.cumsum(acc) / np.arange(1, acc.size + 1))


def predict_accuracy(
    model: nn.Module,
    x,
    y,
    *,
    device="cpu",
    images: bool = False,
    scale: int = 3,
    mode: str = "bilinear",
    znorm=None,
    batch_size: int = 256,
) -> float:
    """Accuracy of a trained model on features (or, with ``images=True``, on grey images
    pre-processed like ``image_loader(..., mode=mode, znorm=znorm)``)."""

    loader = (
        image_loader(x, y, batch_size=batch_size, shuffle=False, scale=scale, mode=mode, znorm=znorm)
        if images
        else feature_loader(x, y, batch_size=batch_size, shuffle=False)
    )
    return float(evaluate(model, loader, device=device)[1])


@torch.no_grad()
def batch_dependence(
    extractor: nn.Module,
    images,
    mean: float,
    std: float,
    *,
    batch_size: int = 32,
    n_batches: int = 4,
    scale: int = 3,
    mode: str = "bilinear",
    seed: int = 0,
    device="cpu",
) -> list[dict]:
    """How far the cached features (global Z, eval-mode batch norm) are from the features the
    authors' batch-dependent pre-processing gives for the same reviews.

    ``images``: raw grey images (notebook 02's ``images.npy``, training part).  Draws
    ``n_batches`` random batches of ``batch_size`` (the authors' 32) and, for the variants
    per-batch Z, batch-statistics BN and both, returns rows with the relative difference
    ``||f - f_cached|| / ||f_cached||``; since most of a DeepInsight feature map is a map shared
    by all reviews, the difference relative to the reviews' deviations from the batch's mean map,
    ``||f - f_cached|| / ||d_cached||`` with ``d = f - mean_batch(f)``; and how much the deviations
    themselves change, ``||d - d_cached|| / ||d_cached||`` (a shift shared by the whole batch does
    not count there; a per-channel rescaling does).
    """

    images = np.asarray(images, dtype=np.float32)
    rng = np.random.default_rng(seed)
    n = min(n_batches, max(1, len(images) // batch_size))
    picks = [rng.choice(len(images), size=min(batch_size, len(images)), replace=False) for _ in range(n)]
    ev = copy.deepcopy(extractor).to(device).eval()
    tr = batch_stat_bn_(copy.deepcopy(extractor).to(device).eval())
    variants = {
        "per-batch Z": ("batch", ev),
        "batch-statistics BN": ("global", tr),
        "per-batch Z + batch-statistics BN (authors' loop)": ("batch", tr),
    }
    out = {k: [0.0, 0.0, 0.0, 0.0] for k in variants}
    for idx in picks:
        raw = images[idx]
        cached = ev(upsample(z_normalize(raw, mean, std), scale, mode=mode).to(device)).double()
        dev_c = cached - cached.mean(0, keepdim=True)
        dev_norm = float((dev_c**2).sum())
        for k, (z, m) in variants.items():
            x = z_normalize(raw) if z == "batch" else z_normalize(raw, mean, std)
            f = m(upsample(x, scale, mode=mode).to(device)).double()
            out[k][0] += float(((f - cached) ** 2).sum())
            out[k][1] += float((cached**2).sum())
            out[k][2] += dev_norm
            out[k][3] += float(((f - f.mean(0, keepdim=True) - dev_c) ** 2).sum())
    return [
        {
            "variant": k,
            "relative difference": (d / max(c, 1e-30)) ** 0.5,
            "relative to the reviews' deviations": (d / max(v, 1e-30)) ** 0.5,
            "change of the deviations": (dd / max(v, 1e-30)) ** 0.5,
        }
        for k, (d, c, v, dd) in out.items()
    ]


def random_control(extractor: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of a frozen extractor with the *same architecture and slice* but freshly
    initialised weights (PyTorch's default init, batch-norm statistics reset).

    This is the control the paper lacks: if it scores as well as the ImageNet slice, the
    ImageNet transfer is not what makes the model work.
    Explained in notebook 03, section "Features once, training many times".
    """

    torch.manual_seed(seed)
    ctrl = copy.deepcopy(extractor)
    for m in ctrl.modules():
        if m is not ctrl and hasattr(m, "reset_parameters"):
            m.reset_parameters()
        if hasattr(m, "reset_running_stats"):
            m.reset_running_stats()
    for p in ctrl.parameters():
        p.requires_grad_(False)
    return ctrl.eval()
