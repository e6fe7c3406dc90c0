"""Training every run of Table A1 and the linear probes (notebook ``04_sentiment_training``).

A *run* is one row of the paper's Table I (or the random-initialisation control) trained with one
recipe and one head (``"alexnet | paper recipe | book head"``).  :func:`train_runs` trains each run
for every seed with :func:`helpers.paper_a.sentiment_model.train_head` (checkpointed per epoch, so an
interrupted notebook resumes) and evaluates it; :func:`linear_probes` fits the book's two
logistic-regression controls.  Both return one dict per line of notebook 04's ``results.csv``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from helpers.core import tasks
from helpers.models import training
from helpers.paper_a import sentiment_model

HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")
#: a seed whose final model gives one class to at least this share of the validation reviews collapsed
COLLAPSE_SHARE = 0.95


def majority_share(
    model,
    x,
    *,
    device,
    images: bool,
    scale: int = 3,
    mode: str = "bilinear",
    znorm=None,
    batch_size: int = 256,
) -> float:
    """Share of the samples ``x`` that ``model`` gives its most frequent predicted class (features,
    or with ``images=True`` grey images pre-processed as in
    :func:`helpers.paper_a.sentiment_model.predict_accuracy`)."""
    dummy = np.zeros(len(x), dtype=np.int64)
    loader = (
        sentiment_model.image_loader(
            x, dummy, batch_size=batch_size, shuffle=False, scale=scale, mode=mode, znorm=znorm
        )
        if images
        else sentiment_model.feature_loader(x, dummy, batch_size=batch_size, shuffle=False)
    )
    pred = np.asarray(training.embed(model, loader, device=device, progress=False)).argmax(1)
    return float(np.bincount(pred).max() / len(pred)) if len(pred) else float("nan")


def collapsed_seeds(results, run: str | None = None, threshold: float = COLLAPSE_SHARE) -> list[int]:
    """The seeds of ``run`` (all runs: None) in notebook 04's results (a DataFrame or a list of
    dicts) whose ``val_majority_share`` is at least ``threshold``; [] without that column."""
    rows = results.to_dict("records") if hasattr(results, "to_dict") else list(results)
    out = []
    for r in rows:
        share = r.get("val_majority_share")
        if (
            (run is None or r.get("run") == run)
            and share is not None
            and share == share
            and share >= threshold
        ):
            out.append(int(r["seed"]))
    return out


def run_tag(key: str, seed: int) -> str:
    """File name stem of one (run, seed) in ``scratch``: its checkpoint ``<tag>.pt`` and result ``<tag>.json``."""
    return f"{key.replace(' | ', '_').replace(' ', '-')}_seed{seed}"


def train_runs(
    runs: dict,
    seeds,
    inputs_for: Callable,
    idx: dict,
    y: np.ndarray,
    *,
    device,
    scratch: Path,
    scale: int,
    znorm: dict | None,
    evaluate_test: bool,
    executor=None,
) -> tuple[list[dict], dict]:
    """Train ``runs`` (``{key: (row, recipe)}``) for every seed; returns ``(results, histories)``.

    ``inputs_for(row) -> (x, extractor)`` gives the row's cached features (``extractor`` None) or
    the raw grey images and the frozen extractor (end to end, ``znorm`` = notebook 02's training
    image statistics); ``idx`` maps ``train`` / ``val`` / ``test`` to row indices of ``x`` and ``y``
    (an empty ``test``: no test accuracy).

    Each (run, seed) is one task (:func:`train_one`) run by ``executor`` (``helpers.core.tasks``; None:
    one after the other in this process); results come back in the order of ``runs`` and ``seeds``
    whatever the executor.  A task checkpoints every epoch and writes its result to
    ``scratch/<tag>.json`` (:func:`run_tag`), so a rerun skips the finished ones and a worker lost
    mid-task costs that task only.  On a Dask executor the inputs travel as files under
    ``scratch/inputs`` (cached features: their own ``.npy`` file, read memory-mapped).

    Explained in notebook 04, section "Training".
    """
    ex = executor or tasks.InProcess()
    scratch = Path(scratch)
    order = [(key, s) for key in runs for s in seeds]
    done = {(key, s): _read_result(scratch / f"{run_tag(key, s)}.json") for key, s in order}
    todo = [(key, s) for key, s in order if done[(key, s)] is None]
    shared = {
        "device": device,
        "scratch": str(scratch),
        "scale": scale,
        "znorm": None if znorm is None else (znorm["mean"], znorm["std"]),
        "evaluate_test": evaluate_test and len(idx["test"]) > 0,
        "compute_dtype": training.compute_dtype(),
    }
    if todo:
        items = (_remote_tasks if ex.remote else _local_tasks)(
            todo, runs, inputs_for, idx, y, scratch, shared
        )
        for (key, s), out in zip(todo, ex.map(train_one, items, desc="Table A1 runs")):
            done[(key, s)] = out
    results, histories = [], {key: [] for key in runs}
    for key, s in order:
        result, history = done[(key, s)]
        results.append(result)
        histories[key].append(history)
    return results, histories


def _read_result(path: Path):
    """``(result, history)`` of a finished task, None if it has not finished."""
    if not path.is_file():
        return None
    saved = json.loads(path.read_text())
    return saved["result"], saved["history"]


def _task(key, s, runs, y, idx, shared, x, ext) -> dict:
    row, rc = runs[key]
    return {
        "key": key,
        "row": row,
        "recipe": rc,
        "seed": s,
        "x": x,
        "extractor": ext,
        "y": {p: y[idx[p]] for p in ("train", "val", "test")},
        **shared,
    }


def _local_tasks(todo, runs, inputs_for, idx, y, scratch, shared):
    """Tasks with the inputs in memory, one row at a time (a generator: the in-process loop)."""
    loaded = {}
    for key, s in todo:
        row = runs[key][0]
        if row not in loaded:
            loaded.clear()
            x, ext = inputs_for(row)
            loaded[row] = ({p: np.asarray(x[idx[p]]) for p in ("train", "val", "test")}, ext)
        yield _task(key, s, runs, y, idx, shared, *loaded[row])


def _remote_tasks(todo, runs, inputs_for, idx, y, scratch, shared):
    """Tasks whose inputs are files (a ``.npy`` read memory-mapped, a saved extractor): what a
    Dask worker receives instead of the arrays themselves."""
    import torch

    folder = scratch / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    items, files = [], {}
    for key, s in todo:
        row = runs[key][0]
        if row not in files:
            x, ext = inputs_for(row)
            path = getattr(x, "filename", None)
            if path is None or np.load(path, mmap_mode="r").shape != x.shape:
                path = folder / f"{row}_x.npy"
                if not path.is_file():
                    _atomic(path, lambda tmp: np.save(tmp, np.asarray(x)))
            ext_path = None
            if ext is not None:
                ext_path = folder / f"{row}_extractor.pt"
                if not ext_path.is_file():
                    _atomic(ext_path, lambda tmp: torch.save(ext, tmp))
            idx_x = {p: np.asarray(idx[p]) for p in ("train", "val", "test")}
            files[row] = ({"path": str(path), "idx": idx_x}, None if ext_path is None else str(ext_path))
        items.append(_task(key, s, runs, y, idx, shared, *files[row]))
    return items


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _inputs(task: dict):
    """``({"train": x, "val": x, "test": x}, extractor)`` of a task, from memory or from files."""
    x, ext = task["x"], task["extractor"]
    if "path" in x:
        data = np.load(x["path"], mmap_mode="r")
        x = {p: np.asarray(data[i]) for p, i in x["idx"].items()}
    if isinstance(ext, str):
        import torch

        ext = torch.load(ext, map_location="cpu", weights_only=False)
    return x, ext


def train_one(task: dict) -> tuple[dict, dict]:
    """One (run, seed) of Table A1: train, evaluate, write ``scratch/<tag>.json``; returns
    ``(result, history)`` (one line of ``results.csv`` and the run's learning curves).

    A top-level function of plain arguments (``task`` from :func:`train_runs`), so a Dask worker
    can run it; a finished task (its json exists) returns the saved result without training."""
    scratch, key, s, rc = Path(task["scratch"]), task["key"], task["seed"], task["recipe"]
    tag = run_tag(key, s)
    out = scratch / f"{tag}.json"
    saved = _read_result(out)
    if saved is not None:
        return saved
    training.set_compute_dtype(task["compute_dtype"])
    x, ext = _inputs(task)
    y, device, scale = task["y"], task["device"], task["scale"]
    cached = ext is None
    zstats = None if cached else task["znorm"]
    t0 = time.time()
    model, hist = sentiment_model.train_head(
        x["train"],
        y["train"],
        x["val"],
        y["val"],
        recipe=rc,
        seed=s,
        device=device,
        checkpoint=scratch / f"{tag}.pt",
        desc=f"{key} seed {s}",
        extractor=ext,
        scale=scale,
        znorm_stats=zstats,
    )
    zn = None if cached else ("batch" if rc.znorm == "batch" else zstats)
    seen_as = dict(  # how the model sees reviews: as in training
        device=device,
        images=not cached,
        scale=scale,
        mode=rc.upsample_mode,
        znorm=zn,
        batch_size=256 if cached else rc.batch_size,
    )
    share = majority_share(model, x["val"], **seen_as)
    test_acc = (
        sentiment_model.predict_accuracy(model, x["test"], y["test"], **seen_as)
        if task["evaluate_test"]
        else float("nan")
    )
    result = {
        "run": key,
        "row": task["row"],
        "recipe": rc.name,
        "head": rc.head,
        "seed": s,
        "val_acc": hist["val_acc"][-1],
        "val_acc_cumulative": sentiment_model.cumulative_val_acc(hist["val_acc"])[-1],
        "test_acc": test_acc,
        "val_majority_share": share,
        "n_val": len(x["val"]),
        "epochs": len(hist["val_acc"]),
        "seconds": round(time.time() - t0, 1),
    }
    history = {k: hist[k] for k in HISTORY_KEYS}
    print(  # one line per run: the page folds the training log (notebook 04, "Training")
        f"{key} seed {s}: val {result['val_acc']:.4f} (cumulative {result['val_acc_cumulative']:.4f}), "
        f"test {test_acc:.4f}, {result['epochs']} epochs, {result['seconds']} s"
    )
    text = json.dumps({"result": _plain(result), "history": _plain(history)})
    _atomic(out, lambda tmp: tmp.write_text(text))
    return _read_result(out)


def _plain(obj):
    """Python floats and ints (numpy scalars would not survive json)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def linear_probes(features: dict[str, np.ndarray], y: np.ndarray, idx: dict) -> list[dict]:
    """The book's controls: a standardised logistic regression (C = 0.1) per feature set
    (``{"linear probe: [CLS] vectors": (n, d) array, ...}``), fitted on ``train``, scored on ``val``
    and, when there is one, ``test``.

    Explained in notebook 04, section "Training".
    """

    has_test = len(idx["test"]) > 0
    probes = []
    for name, feats in features.items():
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
        clf.fit(feats[idx["train"]], y[idx["train"]])
        probes.append(
            {
                "run": name,
                "row": name,
                "recipe": "–",
                "head": "–",
                "seed": 0,
                "val_acc": clf.score(feats[idx["val"]], y[idx["val"]]),
                "val_acc_cumulative": float("nan"),
                "test_acc": clf.score(feats[idx["test"]], y[idx["test"]]) if has_test else float("nan"),
                "val_majority_share": float(
                    np.bincount(clf.predict(feats[idx["val"]])).max() / len(idx["val"])
                ),
                "n_val": len(idx["val"]),
                "epochs": 0,
                "seconds": 0.0,
            }
        )
    return probes


def probe_features(up01: Path, up02: Path) -> dict[str, np.ndarray]:
    """The feature sets of :func:`linear_probes`, one flat row per review: notebook 01's [CLS]
    stacks (``up01``) and notebook 02's DeepInsight images (``up02``).

    Explained in notebook 04, section "Training".
    """
    cls = np.load(Path(up01) / "cls.npy")
    images = np.load(Path(up02) / "images.npy")
    return {
        "linear probe: [CLS] vectors": cls.reshape(len(cls), -1),
        "linear probe: DeepInsight pixels": images.reshape(len(images), -1),
    }
