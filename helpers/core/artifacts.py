"""Artifact store: each notebook step writes its outputs to a folder keyed by its parameters,
its upstream artifacts and the code that made it (``helpers.core.codekey``).

* A finished artifact is never recomputed (``Artifact.exists()``).
* ``Artifact.build()`` writes into a temporary folder that is renamed into place only when the
  block succeeds, so an interrupted step leaves no half-written artifact.
* ``Artifact.scratch`` survives interruptions (chunks, epoch checkpoints) so long work resumes.
* ``latest(run, step)`` finds the artifact the previous notebook of the same run produced.

Defined for the whole book; see CONTRIBUTING.md, "Artifacts".
"""

from __future__ import annotations

import ast
import errno
import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from helpers.core import codekey, tasks
from helpers.core.config import artifact_root
from helpers.core.errors import ReproError

DONE = "artifact.json"

# Parameters that say where and how a notebook runs, not what it computes: never part of a key.
PLACEMENT = ("profile", "run", "data_source", "device", "cpu_threads", *tasks.PLACEMENT)


def parameter_names(notebook: os.PathLike) -> list[str]:
    """Names assigned in the notebook's ``parameters`` cell, in order (papermill's convention)."""
    nb = json.loads(Path(notebook).read_text())
    names: list[str] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code" or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for node in ast.parse(source).body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def notebook_params(step: str, namespace: dict, exclude: Sequence[str] = PLACEMENT, **resolved) -> dict:
    """An artifact's ``params``: every parameter of the parameters cell of the notebook that writes
    ``step``, with its value in ``namespace`` (the notebook's ``globals()``), except the placement
    ones (``exclude``); ``resolved`` replaces a parameter by the value it resolved to
    (``split_seed=used_seed``) or adds what else changes the result (the model that ran).

    Taking every parameter, not a hand-written list, keeps a new parameter from being left out of
    the key (a re-run with ``-p seed 1`` must not reuse the old result).
    """
    path = codekey.notebook_dir() / f"{step.split('/')[0]}.ipynb"
    names = parameter_names(path) if path.is_file() else []
    if not names:
        raise ReproError(
            f"No parameters cell found in {path}: notebook_params needs the notebook of {step!r}."
        )
    params = {n: namespace[n] for n in names if n not in exclude}
    params.update(resolved)
    return params


def params_key(params: dict, upstream: Sequence[os.PathLike] = (), code: str | None = None) -> str:
    """12-hex-digit key of the parameters, the upstream artifacts' keys and the code key."""
    content = {"params": params, "upstream": [Path(p).name for p in upstream]}
    if code is not None:
        content["code"] = code
    try:
        blob = json.dumps(content, sort_keys=True, default=str)
    except TypeError as exc:  # pragma: no cover - json.dumps(default=str) accepts everything
        raise ReproError(f"Artifact parameters must be JSON-serialisable: {exc}") from exc
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


class Artifact:
    """One step's output folder, ``<root>/<step>/<key>``.

    ``step`` is the notebook's name (``"02_deepinsight"``), optionally with a sub-step
    (``"04_sentiment_training/alexnet"``) when a notebook writes several artifacts.

    The key mixes the parameters, the upstream artifacts' keys and the *code key* of the notebook
    named by ``step`` (``helpers.core.codekey``: its code cells and the helper functions they use), so
    changed code never reuses an old result. ``code`` overrides the code key (None: look up the
    notebook; no notebook of that name, as in tests: parameters and upstream only).
    """

    def __init__(
        self,
        step: str,
        params: dict,
        run: str,
        upstream: Sequence[os.PathLike] = (),
        root: os.PathLike | None = None,
        code: str | None = None,
    ):
        self.step = step
        self.params = dict(params)
        self.run = run
        self.upstream = [Path(p) for p in upstream]
        self.root = Path(root) if root else artifact_root()
        self.code = code if code is not None else codekey.step_code_key(step)
        self.key = params_key(self.params, self.upstream, self.code)
        self.path = self.root / step / self.key
        self.scratch = self.root / step / f".{self.key}.scratch"

    def exists(self) -> bool:
        return (self.path / DONE).is_file()

    def record_latest(self) -> None:
        """Point ``latest(run, step)`` at this artifact."""
        target = self.root / "runs" / self.run / f"{self.step}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(json.dumps({"path": str(self.path), "key": self.key}))
        os.replace(tmp, target)

    @contextmanager
    def build(self) -> Iterator[Path]:
        """Yield a temporary folder; on success it becomes ``self.path`` atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.parent / f".{self.key}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            yield tmp
            meta = {
                "step": self.step,
                "run": self.run,
                "params": self.params,
                "upstream": [str(p) for p in self.upstream],
                "code": self.code,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            (tmp / DONE).write_text(json.dumps(meta, indent=1, default=str))
            if (self.path / DONE).is_file():  # a concurrent run finished first; keep theirs
                shutil.rmtree(tmp)
            else:
                shutil.rmtree(self.path, ignore_errors=True)  # an unfinished or damaged folder
                os.replace(tmp, self.path)
            shutil.rmtree(self.scratch, ignore_errors=True)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise ReproError(
                    f"No space left on the device while writing the artifact of {self.step} "
                    f"({exc.strerror}); nothing was kept: free space under {self.root} (or move the "
                    f"store with REPRO_ARTIFACTS) and run the notebook again."
                ) from exc
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.record_latest()

    def ensure_scratch(self) -> Path:
        self.scratch.mkdir(parents=True, exist_ok=True)
        return self.scratch

    def metadata(self) -> dict:
        return json.loads((self.path / DONE).read_text())

    def __repr__(self) -> str:
        state = "done" if self.exists() else "missing"
        return f"Artifact({self.step!r}, key={self.key}, {state})"


def latest(run: str, step: str, root: os.PathLike | None = None) -> Path:
    """Folder of the finished artifact that ``step`` produced last in ``run``."""
    base = Path(root) if root else artifact_root()
    index = base / "runs" / run / f"{step}.json"
    if not index.is_file():
        raise ReproError(
            f"No finished artifact of notebook {step} in run {run!r}: execute it first "
            f"(python -m helpers.run {step} --profile <profile>)."
        )
    path = Path(json.loads(index.read_text())["path"])
    if not (path / DONE).is_file():
        raise ReproError(f"The artifact of {step} at {path} is incomplete or was deleted: re-run {step}.")
    return path


def resolve_run(run: str, profile: str) -> str:
    """The artifact namespace: ``run`` if given, else the profile name."""
    return run or profile


def resumable_chunks(scratch: os.PathLike, n_items: int, chunk_size: int, compute, desc: str = ""):
    """Compute ``compute(start, stop) -> np.ndarray`` chunk by chunk, saving each chunk in
    ``scratch`` so an interrupted run resumes where it stopped; returns the concatenation."""

    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    parts = []
    starts = range(0, n_items, chunk_size)
    for start in tqdm(starts, desc=desc or "chunks", unit="chunk", disable=len(starts) < 2):
        stop = min(start + chunk_size, n_items)
        f = scratch / f"chunk_{start:09d}_{stop:09d}.npy"
        if f.is_file():
            parts.append(np.load(f))
            continue
        part = np.asarray(compute(start, stop))
        tmp = scratch / f".{f.name}.tmp.npy"
        try:
            np.save(tmp, part)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk or an interruption leaves no half chunk
            raise
        os.replace(tmp, f)
        parts.append(part)
    if not parts:
        raise ReproError(f"Nothing to compute for {desc or 'this step'}: the input is empty.")
    return np.concatenate(parts)
