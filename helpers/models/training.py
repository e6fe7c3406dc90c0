"""Training loop shared by both papers' chapters: devices, seeding, ``fit``, ``evaluate``, ``embed``.

* Paper A chapter: trains the auto-encoder + dense classifier on top of a frozen extractor.
* Paper B chapter: fine-tunes the image classifiers (Inception-v3's auxiliary loss included)
  and embeds images with their heads dropped.

``fit`` writes a per-epoch checkpoint (model, optimizer, scheduler, epoch, history, best
weights) when given a path (use the artifact's ``scratch`` folder), so an interrupted run
resumes where it stopped (CONTRIBUTING.md, "Artifacts"): call it again with the same
checkpoint and the same or a larger ``epochs``.
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from helpers.core.errors import ReproError

AUX_WEIGHT = 0.4  # torchvision's reference weight of Inception-v3's auxiliary loss
#: how :func:`fit`, :func:`evaluate` and :func:`embed` run their forward passes (notebooks 04 and
#: 06, parameter ``compute_dtype``): exactly, or under bfloat16 autocast
COMPUTE_DTYPES = ("float32", "bfloat16")
_COMPUTE = {"dtype": "float32"}
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 instructions that make bfloat16 fast on a CPU


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bfloat16 natively (Linux ``/proc/cpuinfo`` flags
    :data:`BF16_CPU_FLAGS`); elsewhere bfloat16 is emulated and no faster than float32."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set(cpuinfo.split())
    return any(f in flags for f in BF16_CPU_FLAGS)


def resolve_compute_dtype(dtype: str, device="cpu", cpuinfo: str | None = None) -> str:
    """Check notebook 03's, 04's and 06's ``compute_dtype`` parameter: ``"float32"`` (the default:
    every number the book shows or records) or ``"bfloat16"``, a speed option a user asks for by
    name (the numbers change; "Running the book", section "Numeric precision"). The machine never
    picks it. bfloat16 on a CPU without native bfloat16 (:func:`cpu_has_bf16`) is emulated and
    several times *slower*, so it warns there. The value keys the notebooks' artifacts."""
    dtype = _checked(dtype)
    if dtype == "bfloat16" and torch.device(device).type == "cpu" and not cpu_has_bf16(cpuinfo):
        warnings.warn(
            "compute_dtype='bfloat16' on a CPU without native bfloat16 "
            f"(torch reports {cpu_capability()}): emulated, slower than float32.",
            stacklevel=2,
        )
    return dtype


def cpu_capability() -> str:
    """What torch's CPU kernels use here (``torch.backends.cpu.get_cpu_capability()``: ``AVX2``,
    ``AVX512``, ...) plus ``+bf16`` where the CPU computes bfloat16 natively; stated beside every
    timing (benchmarks, the recorded run)."""
    return torch.backends.cpu.get_cpu_capability() + ("+bf16" if cpu_has_bf16() else "")


def set_compute_dtype(dtype: str) -> None:
    """Run the forward passes (and the loss) of :func:`fit`, :func:`evaluate` and :func:`embed`
    in ``"float32"`` (the default) or under ``torch.autocast`` in ``"bfloat16"`` (mixed precision:
    weights, gradients and optimiser state stay float32; faster convolutions and matrix products
    only on CPUs with AVX512-BF16 or AMX: ``benchmarks/latest.md``, the one place that states by how much)."""
    _COMPUTE["dtype"] = _checked(dtype)


def compute_dtype() -> str:
    """The dtype :func:`set_compute_dtype` set in this process (a task sent to a worker carries it)."""
    return _COMPUTE["dtype"]


def _checked(dtype: str) -> str:
    if dtype not in COMPUTE_DTYPES:
        hint = (
            " ('auto' is gone: the book computes in float32 unless bfloat16 is asked for)"
            if dtype == "auto"
            else ""
        )
        raise ReproError(f"Unknown compute dtype {dtype!r}; choose one of {', '.join(COMPUTE_DTYPES)}{hint}.")
    return dtype


def autocast(device, dtype: str | None = None):
    """The context of a forward pass in ``dtype`` (default: that of :func:`set_compute_dtype`):
    nothing for float32, ``torch.autocast`` for bfloat16."""

    if _checked(dtype or _COMPUTE["dtype"]) == "float32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def make_deterministic(device: torch.device) -> None:
    """On CUDA, ask for reproducible kernels: cuDNN deterministic and not benchmarking,
    ``torch.use_deterministic_algorithms(True, warn_only=True)`` (a warning, not an error, where an
    operation has no deterministic CUDA kernel) and ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (cuBLAS
    needs it for deterministic matrix products). Called by :func:`pick_device`; a no-op on CPU,
    where torch is deterministic already."""
    if torch.device(device).type != "cuda":
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without a GPU -> ReproError.

    A CUDA device is made deterministic (:func:`make_deterministic`)."""
    if isinstance(device, torch.device):
        make_deterministic(device)
        return device
    device = (device or "auto").lower()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ReproError(
            "device='cuda' was requested but no CUDA GPU is available; use device='auto' or 'cpu'."
        )
    try:
        chosen = torch.device(device)
    except RuntimeError as exc:
        raise ReproError(f"Unknown device {device!r}; use auto, cpu or cuda.") from exc
    make_deterministic(chosen)
    return chosen


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA); returns a seeded ``torch.Generator`` for loaders."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def _split_output(output):
    """(logits, aux_logits or None) for plain tensors and torchvision's Inception/GoogLeNet outputs."""
    if isinstance(output, torch.Tensor):
        return output, None
    logits = getattr(output, "logits", None)
    if logits is not None:
        return logits, getattr(output, "aux_logits", None)
    if isinstance(output, (tuple, list)):
        return output[0], (output[1] if len(output) > 1 else None)
    raise ReproError(f"fit/evaluate got a model output of type {type(output).__name__}; expected logits.")


def _to(batch, device):
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ReproError("Loaders must yield (inputs, labels) batches.")
    return batch[0].to(device, non_blocking=True), batch[1].to(device, non_blocking=True)


def evaluate(
    model: nn.Module, loader, *, loss_fn: Callable | None = None, device="cpu"
) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on ``loader`` in eval mode without gradients."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = pick_device(device)
    model.to(device).eval()
    total, loss_sum, correct = 0, 0.0, 0
    with torch.no_grad():
        for batch in loader:
            x, y = _to(batch, device)
            with autocast(device):
                logits, _ = _split_output(model(x))
                loss = loss_fn(logits, y)
            loss_sum += float(loss) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            total += len(y)
    if total == 0:
        raise ReproError("evaluate got an empty loader.")
    return loss_sum / total, correct / total


def embed(model: nn.Module, loader, *, device="cpu", progress: bool = True) -> np.ndarray:
    """Concatenated model outputs (e.g. a ``drop_head`` model's embeddings), eval mode, no grad.

    The loader may yield ``(inputs, labels)`` or bare inputs.
    """

    device = pick_device(device)
    model.to(device).eval()
    chunks = []
    with torch.no_grad():
        for batch in tqdm(loader, desc="embed", disable=not progress, leave=False):
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            with autocast(device):
                out, _ = _split_output(model(x.to(device)))
            chunks.append(out.float().cpu().numpy())
    if not chunks:
        raise ReproError("embed got an empty loader.")
    return np.concatenate(chunks).reshape(sum(len(c) for c in chunks), -1)


def _empty_history() -> dict:
    return {"epoch": [], "train_loss": [], "train_acc": [], "val_loss": [], "val_acc": [], "best_epoch": None}


def _state_to_cpu(state: dict) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def _loader_generator(loader):
    """The generator that shuffles ``loader`` (its sampler's, or the loader's own), if any."""
    sampler = getattr(loader, "sampler", None)
    return getattr(sampler, "generator", None) or getattr(loader, "generator", None)


def _rng_state(loader) -> dict:
    """Random state a resumed run needs to continue exactly: torch's global generator (dropout,
    augmentation), CUDA's, and the loader's shuffling generator."""
    gen = _loader_generator(loader)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "loader": gen.get_state() if gen is not None else None,
    }


def _set_rng_state(state: dict | None, loader) -> None:
    if not state:
        return
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    gen = _loader_generator(loader)
    if gen is not None and state.get("loader") is not None:
        gen.set_state(state["loader"])


def _save_checkpoint(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # never a half-written checkpoint


def fit(
    model: nn.Module,
    train_loader,
    val_loader,
    optimizer,
    *,
    epochs: int,
    loss_fn: Callable | None = None,
    device="cpu",
    checkpoint: os.PathLike | None = None,
    keep_best: bool = True,
    desc: str = "train",
    scheduler=None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
    patience: int | None = None,
) -> dict:
    """Train ``model`` for ``epochs`` epochs; returns the history dict.

    History: lists ``epoch`` (1-based), ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``
    and ``best_epoch`` (the first epoch with the highest validation accuracy).
    ``checkpoint``: a file written after every epoch; when it exists, training resumes from it
    (so an interrupted run, or a second call with a larger ``epochs``, continues). With
    ``keep_best`` the best-validation weights are loaded into ``model`` at the end.
    Inception-v3's training output (``InceptionOutputs``) adds 0.4 x the auxiliary loss.
    ``scheduler.step()`` is called once per epoch. ``on_epoch_end(epoch, history)`` is called
    after each epoch's checkpoint is written.  ``patience``: early stopping, training ends after
    ``patience`` epochs in a row without a higher validation accuracy than ``best_epoch``'s (None:
    all ``epochs``); the model is the last epoch's unless ``keep_best``.
    """

    if epochs < 0:
        raise ReproError(f"epochs must be >= 0, not {epochs}.")
    if patience is not None and patience < 1:
        raise ReproError(f"patience must be >= 1 or None, not {patience}.")
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = pick_device(device)
    model.to(device)
    history = _empty_history()
    best_state, best_acc = None, -float("inf")
    start = 0
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt is not None and ckpt.is_file():
        try:
            saved = torch.load(ckpt, map_location=device, weights_only=False)
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            if scheduler is not None and saved.get("scheduler") is not None:
                scheduler.load_state_dict(saved["scheduler"])
        except Exception as exc:
            raise ReproError(
                f"Cannot resume from checkpoint {ckpt} ({exc}); delete it to start over."
            ) from exc
        history, best_state, best_acc = saved["history"], saved["best_state"], saved["best_acc"]
        start = saved["epoch"]
        _set_rng_state(saved.get("rng"), train_loader)
        print(f"{desc}: resumed from {ckpt.name} after epoch {start}")

    for epoch in range(start + 1, epochs + 1):
        best = history["best_epoch"]
        if patience is not None and best is not None and epoch - 1 - best >= patience:
            # checked before the epoch, so a resumed run that had stopped stays stopped
            print(f"{desc}: early stop after epoch {epoch - 1} (no better validation since epoch {best})")
            break
        model.train()
        total, loss_sum, correct = 0, 0.0, 0
        bar = tqdm(train_loader, desc=f"{desc} epoch {epoch}/{epochs}", leave=False)
        for batch in bar:
            x, y = _to(batch, device)
            optimizer.zero_grad(set_to_none=True)
            with autocast(device):
                logits, aux = _split_output(model(x))
                loss = loss_fn(logits, y)
                if aux is not None:
                    loss = loss + AUX_WEIGHT * loss_fn(aux, y)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(y)
            correct += int((logits.detach().argmax(1) == y).sum())
            total += len(y)
            bar.set_postfix(loss=f"{loss_sum / total:.4f}", acc=f"{correct / total:.3f}", refresh=False)
        bar.close()
        if total == 0:
            raise ReproError("fit got an empty training loader.")
        if scheduler is not None:
            scheduler.step()
        val_loss, val_acc = evaluate(model, val_loader, loss_fn=loss_fn, device=device)
        for key, value in zip(
            ("epoch", "train_loss", "train_acc", "val_loss", "val_acc"),
            (epoch, loss_sum / total, correct / total, val_loss, val_acc),
        ):
            history[key].append(value)
        if val_acc > best_acc:
            best_acc, history["best_epoch"] = val_acc, epoch
            if keep_best:
                best_state = _state_to_cpu(model.state_dict())
        print(
            f"{desc} epoch {epoch}/{epochs}: train loss {loss_sum / total:.4f} acc {correct / total:.4f} | "
            f"val loss {val_loss:.4f} acc {val_acc:.4f}" + (" *" if history["best_epoch"] == epoch else "")
        )
        if ckpt is not None:
            _save_checkpoint(
                ckpt,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "epoch": epoch,
                    "history": history,
                    "best_state": best_state,
                    "best_acc": best_acc,
                    "rng": _rng_state(train_loader),
                },
            )
        if on_epoch_end is not None:
            on_epoch_end(epoch, copy.deepcopy(history))

    if keep_best and best_state is not None:
        model.load_state_dict(best_state)
    return history
