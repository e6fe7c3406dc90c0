"""Notebook 03's cache of frozen features and how notebook 04 reads it back.

* :func:`extractor_table`: the slices' output shapes and parameter counts (notebook 03, "The
  frozen slices");
* :func:`extraction_jobs`, :func:`extract_in_chunks`, :func:`write_meta`: what is extracted, in
  resumable chunks, and the record ``extractors.json`` beside the features (notebook 03, "Features
  once, training many times");
* :class:`RowInputs`: a Table A1 row's inputs in notebook 04, the cached features or the images and
  the frozen extractor for end-to-end training (notebook 04, "Training").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from helpers.core import artifacts, weights
from helpers.core.errors import ReproError
from helpers.paper_a import frozen_slices, preprocess, sentiment_heads, sentiment_model
from helpers.paper_a.facts import LAYOUT_SUFFIX, RANDOM_SUFFIX, slice_of

#: reviews per saved chunk of features (an interrupted extraction resumes at the next chunk)
CHUNK = 512


def _parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def extractor_table(modules: dict[str, nn.Module], choices, size: int) -> pd.DataFrame:
    """Per frozen slice (``modules``, in the order of ``choices``): the model that ran, its output
    shape on ``size`` x ``size`` inputs, its frozen parameters and those of the two heads on it.

    Explained in notebook 03, section "The frozen slices".
    """
    rows = []
    for (name, module), choice in zip(modules.items(), choices):
        shape = frozen_slices.feature_shape(module, size)
        rows.append(
            {
                "paper's model": name,
                "model that ran": choice.used,
                "output (C, H, W)": str(shape),
                "frozen parameters": _parameters(module),
                "book head parameters": _parameters(sentiment_heads.make_head("book", shape)),
                "paper head parameters": _parameters(sentiment_heads.make_head("paper", shape)),
            }
        )
    return pd.DataFrame(rows)


def extraction_jobs(
    modules: dict[str, nn.Module], random_control: str, *, seed: int, device, layout_control: str = ""
) -> dict:
    """``{name: module}`` to extract: every slice of ``modules`` plus, when ``random_control`` names
    one of them, its randomly initialised copy ``<name>_random``
    (:func:`helpers.paper_a.sentiment_model.random_control`) and, when ``layout_control`` names one,
    the same ImageNet slice ``<name>_layout`` for notebook 02's layout-control images
    (:func:`job_images`).

    Explained in notebook 03, section "Features once, training many times".
    """
    jobs = dict(modules)
    for param, name in (("random_control", random_control), ("layout_control", layout_control)):
        if name and name not in modules:
            raise ReproError(
                f"{param}={name!r} must be one of extractors {list(modules)} (or empty for no control)."
            )
    if random_control:
        jobs[f"{random_control}{RANDOM_SUFFIX}"] = sentiment_model.random_control(
            modules[random_control], seed=seed
        ).to(device)
    if layout_control:
        jobs[f"{layout_control}{LAYOUT_SUFFIX}"] = modules[layout_control]
    return jobs


def layout_images(up02: Path) -> np.ndarray | None:
    """Notebook 02's layout-control images, Z-normalised with their own training statistics
    (``znorm_layout.json``); None when notebook 02 ran without the control (``layout_seed`` None).

    Explained in notebook 03, section "Features once, training many times".
    """
    path = Path(up02) / "images_layout.npy"
    if not path.is_file():
        return None
    z = json.loads((Path(up02) / "znorm_layout.json").read_text())
    return preprocess.z_normalize(np.load(path), z["mean"], z["std"])


def job_images(name: str, images_z: np.ndarray, layout_z: np.ndarray | None) -> np.ndarray:
    """The Z-normalised images extraction job ``name`` reads: the layout-control images for a
    ``<slice>_layout`` job, notebook 02's t-SNE images for every other.

    Explained in notebook 03, section "Features once, training many times".
    """
    if not name.endswith(LAYOUT_SUFFIX):
        return images_z
    if layout_z is None:
        raise ReproError(
            f"{name}: notebook 02 stored no layout-control images (layout_seed None); run it with "
            "a layout_seed or set layout_control to empty."
        )
    return layout_z


def extract_in_chunks(
    module: nn.Module,
    images_z: np.ndarray,
    scratch: Path,
    *,
    scale: int,
    mode: str,
    batch_size: int,
    device,
    dtype: str,
    desc: str = "frozen features",
) -> np.ndarray:
    """:func:`helpers.paper_a.frozen_slices.extract_features` of the Z-normalised images, float16,
    in chunks of :data:`CHUNK` reviews saved in ``scratch``
    (:func:`helpers.core.artifacts.resumable_chunks`), so that an interrupted run resumes.

    Explained in notebook 03, section "Features once, training many times".
    """

    def compute(start: int, stop: int) -> np.ndarray:
        return frozen_slices.extract_features(
            module,
            images_z[start:stop],
            scale=scale,
            mode=mode,
            batch_size=batch_size,
            device=device,
            dtype=dtype,
        )

    return artifacts.resumable_chunks(scratch, len(images_z), CHUNK, compute, desc=desc)


def write_meta(folder: Path, params: dict, jobs: dict[str, nn.Module], choices, size: int) -> None:
    """``extractors.json`` (what was extracted and how, read by notebook 04) and ``models.json``
    (the models that ran) in ``folder``; ``params`` is notebook 03's step parameters.

    Explained in notebook 03, section "Features once, training many times".
    """
    meta = {
        "extractors": params["extractors"],
        "random_control": params["random_control"],
        "layout_control": params.get("layout_control", ""),
        "upsample": params["upsample"],
        "upsample_mode": params["upsample_mode"],
        "znorm": "global",
        "compute_dtype": params["compute_dtype"],
        "frozen_bn": "eval",
        "cache_features": params["cache_features"],
        "shapes": {n: list(frozen_slices.feature_shape(m, size)) for n, m in jobs.items()},
    }
    (Path(folder) / "extractors.json").write_text(json.dumps(meta))
    weights.save_choices(Path(folder) / "models.json", choices)


class RowInputs:
    """``inputs(row) -> (x, extractor)`` for notebook 04's runs: the row's cached features of
    notebook 03 (read memory-mapped; ``extractor`` None) or, when notebook 03 did not cache them,
    notebook 02's raw images and the frozen extractor notebook 03 used (``<name>_random``: its
    randomly initialised copy, seeded by ``seed``).  ``znorm`` is notebook 02's global
    ``{"mean", "std"}`` for end-to-end training, None on cached features.

    Explained in notebook 04, section "Training".
    """

    def __init__(self, up02: Path, up03: Path, choices, *, seed: int, device):
        self.up02, self.up03 = Path(up02), Path(up03)
        self.choices, self.seed, self.device = choices, seed, device
        meta = json.loads((self.up03 / "extractors.json").read_text())
        self.cached = bool(meta["cache_features"])
        self.znorm = None if self.cached else json.loads((self.up02 / "znorm.json").read_text())
        self._images = {}  # layout control or not -> raw images

    def _layout_images(self) -> np.ndarray:
        """The layout-control images, shifted and scaled so that the runs' global Z-normalisation
        (the t-SNE images' ``znorm``) gives them their own (``znorm_layout.json``); per-batch Z
        does not see the difference."""
        return (layout_images(self.up02) * self.znorm["std"] + self.znorm["mean"]).astype(np.float32)

    def __call__(self, row: str):
        if self.cached:
            return np.load(self.up03 / f"features_{row}.npy", mmap_mode="r"), None
        layout = row.endswith(LAYOUT_SUFFIX)
        if layout not in self._images:  # raw: each recipe Z-normalises (globally or per batch)
            self._images[layout] = self._layout_images() if layout else np.load(self.up02 / "images.npy")
        name = slice_of(row)
        standin = next(c.is_standin for c in self.choices if c.requested == name)
        ext, _ = frozen_slices.frozen_extractor(name, allow_standin=standin)
        if row.endswith(RANDOM_SUFFIX):
            ext = sentiment_model.random_control(ext, seed=self.seed)
        return self._images[layout], ext.to(self.device)
