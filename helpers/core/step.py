"""One notebook step's result, keyed by every parameter of the notebook plus its code: the single
object a notebook's "compute or reuse" cell works with (CONTRIBUTING.md, "Artifacts").

    step = step_api.Step("02_deepinsight", globals(), upstream=[up01])
    if step.missing:
        layout = deepinsight.fit_layout(...)          # the science
        step.save(images=layout.images, rectangles=layout.table)
    images = step.load("images")

The key is :func:`helpers.core.artifacts.notebook_params` over the notebook's parameters cell
(every parameter except where and how it runs), the upstream artifacts' keys and the code key, so
no parameter can be left out of it by hand; ``**resolved`` adds what a parameter resolved to.
``save`` writes atomically (``Artifact.build``): an interrupted step leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from helpers.core import artifacts
from helpers.core.errors import ReproError

# how each kind of value is stored and read back, by file suffix (first match wins on load)
SUFFIXES = (".npy", ".csv", ".json", ".txt")


def write_value(folder: Path, name: str, value: Any) -> Path:
    """Write ``value`` as ``folder/name.<suffix>``: arrays ``.npy``, DataFrames ``.csv`` (no index),
    strings ``.txt``, an existing file (a ``Path``) copied with its own suffix, anything else
    JSON."""
    if isinstance(value, np.ndarray):
        path = folder / f"{name}.npy"
        np.save(path, value)
    elif isinstance(value, pd.DataFrame):
        path = folder / f"{name}.csv"
        value.to_csv(path, index=False)
    elif isinstance(value, str):
        path = folder / f"{name}.txt"
        path.write_text(value)
    elif isinstance(value, Path):
        path = folder / f"{name}{value.suffix}"
        shutil.copyfile(value, path)
    else:
        path = folder / f"{name}.json"
        try:
            path.write_text(json.dumps(value, indent=1))
        except TypeError as exc:
            raise ReproError(f"Cannot store {name!r} ({type(value).__name__}) in a step: {exc}") from exc
    return path


def read_value(folder: Path, name: str) -> Any:
    """Read back what :func:`write_value` stored as ``name`` in ``folder``."""
    for suffix in SUFFIXES:
        path = folder / f"{name}{suffix}"
        if path.is_file():
            if suffix == ".npy":
                return np.load(path)
            if suffix == ".csv":
                return pd.read_csv(path)
            if suffix == ".json":
                return json.loads(path.read_text())
            return path.read_text()
    stored = sorted(p.stem for p in folder.iterdir() if p.name != artifacts.DONE)
    raise ReproError(f"The step at {folder} has no {name!r}; it stores: {', '.join(stored) or 'nothing'}.")


class Step:
    """The artifact of notebook step ``name`` for the parameters in ``namespace`` (the notebook's
    ``globals()``; its ``run`` is the artifact namespace), built from ``upstream`` artifacts.

    ``resolved`` replaces a parameter by the value it resolved to (``split_seed=used_seed``) or adds
    what else decides the result (the model that ran). ``exclude`` names parameters that only say
    where a step runs (default :data:`helpers.core.artifacts.PLACEMENT`). A finished step is reused
    and becomes ``artifacts.latest(run, name)`` for the next notebook.
    """

    def __init__(
        self,
        name: str,
        namespace: dict,
        upstream: Sequence[os.PathLike] = (),
        exclude: Sequence[str] = artifacts.PLACEMENT,
        root: os.PathLike | None = None,
        code: str | None = None,
        **resolved,
    ):
        params = artifacts.notebook_params(name, namespace, exclude, **resolved)
        self.artifact = artifacts.Artifact(
            name, params, run=namespace["run"], upstream=upstream, root=root, code=code
        )
        if self.artifact.exists():
            self.artifact.record_latest()

    @property
    def missing(self) -> bool:
        """True when this step has to be computed (no finished artifact with this key)."""
        return not self.artifact.exists()

    @property
    def key(self) -> str:
        return self.artifact.key

    @property
    def path(self) -> Path:
        """The finished artifact's folder (read the files written by ``build`` here)."""
        return self.artifact.path

    @property
    def params(self) -> dict:
        return self.artifact.params

    @property
    def scratch(self) -> Path:
        """A folder that survives an interruption (chunks, checkpoints) until the step finishes."""
        return self.artifact.ensure_scratch()

    @contextmanager
    def build(self) -> Iterator[Path]:
        """The temporary folder of ``Artifact.build`` for files ``save`` cannot write."""
        with self.artifact.build() as tmp:
            yield tmp

    def save(self, **values: Any) -> None:
        """Store every ``name=value`` (see :func:`write_value`) and finish the step atomically."""
        with self.artifact.build() as tmp:
            for name, value in values.items():
                write_value(tmp, name, value)

    def load(self, name: str) -> Any:
        """A value that ``save`` stored under ``name``."""
        if self.missing:
            raise ReproError(
                f"{self.artifact.step} is not finished (key {self.key}): compute and save it first."
            )
        return read_value(self.path, name)

    def __repr__(self) -> str:
        return f"Step({self.artifact.step!r}, key={self.key}, {'missing' if self.missing else 'done'})"
