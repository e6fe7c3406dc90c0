"""Execute the book's notebooks with papermill and build the book.

    python -m helpers.run 02_deepinsight --profile quick -p perplexity 50   # one notebook
    python -m helpers.run all --profile quick                                # 01 ... 08 in order
    python -m helpers.run paper-a --profile smoke                            # 01 ... 04
    python -m helpers.run book --profile quick                               # all, then the HTML
    python -m helpers.run all record --profile full                          # all, then results/full.json (or: paper-a record)
    python -m helpers.run 04 --profile paper --workers 4                     # Table A1's runs on 4 processes

Notebooks run in the order of their dependencies (the artifacts of earlier notebooks each one
reads), up to ``--jobs`` at a time where their CPU threads fit the cores. An executed notebook is
reused when its source, its parameters, the helper code it uses (``helpers.core.codekey``) and the
artifacts of the earlier notebooks it reads are unchanged and the artifacts it produced still
exist (QuantEcon-style execution cache); ``--force`` re-executes. A failing notebook is kept under
``<executed>/failed/`` and the previous good one is left in place ("Running the book").
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

import nbformat
import papermill
import yaml

from helpers.book import sittings
from helpers.book.nbpost import clean_executed
from helpers.book.notebook_graph import ancestors, declared_parameters, dependencies
from helpers.core import codekey, recorded, tasks
from helpers.core.config import REPO_ROOT, artifact_root, check_profile, executed_root
from helpers.core.errors import ReproError

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
PROFILE_DIR = REPO_ROOT / "profiles"
GROUPS = recorded.PARTS  # paper-a: 01-04, paper-b: 05-08
BOOK_SOURCES = ("_config.yml", "_toc.yml", "book", "helpers")  # helpers: the pages' literalinclude


def notebooks(notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """The book's notebooks in execution order (``NN_name.ipynb``)."""
    return sorted(p for p in notebook_dir.glob("[0-9][0-9]_*.ipynb"))


def select(names: list[str], notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """Resolve ``all``, ``paper-a``, ``paper-b``, ``01`` or ``01_bert_cls`` to notebook paths."""
    available = notebooks(notebook_dir)
    chosen: list[Path] = []
    for name in names:
        if name == "all":
            hits = available
        elif name in GROUPS:
            hits = [p for p in available if p.name[:2] in GROUPS[name]]
        else:
            stem = Path(name).stem
            hits = [p for p in available if p.stem == stem or p.name[:2] == stem]
        if not hits:
            known = ", ".join(p.stem for p in available)
            raise ReproError(f"No notebook called {name!r}; known: all, paper-a, paper-b, {known}.")
        chosen += [p for p in hits if p not in chosen]
    return sorted(chosen)


def profile_parameters(stem: str, profile: str, profile_dir: Path = PROFILE_DIR) -> dict:
    """Papermill parameters of one notebook in one profile (``profiles/<stem>.yml``)."""
    check_profile(profile)
    path = profile_dir / f"{stem}.yml"
    params = {}
    if path.is_file():
        table = yaml.safe_load(path.read_text()) or {}
        params = dict(table.get(profile) or {})
    params["profile"] = profile
    return params


def parse_overrides(pairs: list[list[str]]) -> dict:
    """``-p key value`` pairs, values parsed as YAML (so ``3`` is an int, ``[1, 2]`` a list)."""
    return {key: yaml.safe_load(value) for key, value in pairs}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def helpers_fingerprint(source: Path) -> str:
    """Hash of the helper code that ``source`` uses (any cell, followed function by function,
    docstrings and comments left out; ``helpers.core.codekey``): changing a helper re-executes the
    notebooks that use it, and only those."""
    return codekey.notebook_helpers_key(source)


def _run_index_snapshot(run: str) -> dict[str, float]:
    index = artifact_root() / "runs" / run
    if not index.is_dir():
        return {}
    return {str(p.relative_to(index)): p.stat().st_mtime for p in index.rglob("*.json")}


def upstream_keys(source: Path, run: str) -> dict[str, str]:
    """Keys of the artifacts that the notebooks ``source`` depends on (:func:`ancestors`) hold now
    in ``run``: when one of them is recomputed, every notebook that reads it must run again."""
    index = artifact_root() / "runs" / run
    if not index.is_dir():
        return {}
    wanted = ancestors(source.stem, notebooks(source.parent))
    keys = {}
    for entry in sorted(index.rglob("*.json")):
        name = str(entry.relative_to(index))
        if Path(name).stem in wanted:
            keys[name] = json.loads(entry.read_text())["key"]
    return keys


def _type_ok(value, default) -> bool:
    """Whether ``value`` may replace a parameter whose default is ``default``.

    None on either side is always accepted (the notebooks document ``null`` as "all" or "the
    recipe's"); an int may stand for a float, a tuple for a list; otherwise the types must match
    (a bool is not an int here)."""
    if value is None or default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def check_parameters(source: Path, params: dict) -> None:
    """Refuse parameters the notebook's ``parameters`` cell does not define (papermill would
    inject them silently and they would change nothing), and values whose type differs from the
    default's (``epochs: ten`` would fail deep inside a notebook)."""

    declared = declared_parameters(source)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ReproError(
            f"Notebook {source.stem} has no parameter {', '.join(unknown)}; "
            f"its parameters are: {', '.join(sorted(declared))}."
        )
    device = params.get("device")
    if isinstance(device, str) and device.lower().startswith("cuda"):
        # lazy: torch takes seconds to import; the runner needs it only to check a device parameter
        from helpers.models.training import pick_device

        pick_device(device)  # ReproError before a kernel starts when there is no GPU
    for name, value in params.items():
        try:
            default = ast.literal_eval(declared[name].default)
        except (ValueError, SyntaxError):
            continue  # a default that is an expression: nothing to compare with
        if not _type_ok(value, default):
            raise ReproError(
                f"Parameter {name} of notebook {source.stem} must be of type {type(default).__name__} "
                f"like its default {declared[name].default}, not {type(value).__name__} {value!r}; "
                f"fix the profile (profiles/{source.stem}.yml) or the -p value."
            )


def recorded_fingerprint(source: Path) -> str | None:
    """Hash of the recorded runs (``results/*.json``) for a notebook that shows them (it uses
    ``helpers.record``: Tables A1, B1, B2), None for the others: recording a run re-executes the
    notebooks whose tables show it, and only those."""

    if not any(
        module == "core.recorded"
        for module, _ in codekey.notebook_dependencies(source, until_last_build=False)
    ):
        return None
    files = sorted(recorded.RESULTS_DIR.glob("*.json"))
    return _sha(b"".join(f.name.encode() + b"\0" + f.read_bytes() for f in files))


#: parameters that say where and how fast a notebook runs, not what it computes (tested: the same
#: tables with 1 or 2 threads): left out of the execution cache's fingerprint
PLACEMENT_PARAMETERS = ("cpu_threads", *tasks.PLACEMENT)


def placement_parameters(source: Path, workers: int = 0, scheduler: str | None = None) -> dict:
    """``{"workers": ..., "scheduler": ...}`` (``--workers`` / ``--scheduler``) for the notebook
    ``source`` where its parameters cell declares them, else ``{}``; nothing when both are unset,
    so the notebooks keep their defaults (``helpers.core.tasks``)."""
    if not workers and not scheduler:
        return {}
    wanted = {"workers": int(workers or 0), "scheduler": str(scheduler or "")}
    return {k: v for k, v in wanted.items() if k in declared_parameters(source)}


def _fingerprint(source: Path, params: dict, run: str) -> dict:
    return {
        "source_sha": _sha(source.read_bytes()),
        "params": {k: v for k, v in params.items() if k not in PLACEMENT_PARAMETERS},
        "helpers_sha": helpers_fingerprint(source),
        "recorded": recorded_fingerprint(source),
        "artifact_root": str(artifact_root()),
        "upstream": upstream_keys(source, run),
    }


def _cached(output: Path, fingerprint: dict) -> bool:
    if not output.is_file():
        return False
    meta = json.loads(output.read_text()).get("metadata", {}).get("repro", {})
    if {k: meta.get(k) for k in fingerprint} != fingerprint:
        return False
    return all((Path(p) / "artifact.json").is_file() for p in meta.get("artifacts", []))


def execute(
    source: Path, params: dict, *, force: bool = False, out_dir: Path | None = None, log_output: bool = False
) -> tuple[Path, bool]:
    """Execute one notebook; returns (executed path, whether it actually ran)."""
    out_dir = out_dir or executed_root()
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / source.name
    check_parameters(source, params)
    run = params.get("run") or params["profile"]
    fingerprint = _fingerprint(source, params, run)
    if not force and _cached(output, fingerprint):
        return output, False

    before = _run_index_snapshot(run)
    tmp = out_dir / f".{source.stem}.running.ipynb"
    old_dir = os.environ.get("REPRO_NOTEBOOKS")
    os.environ["REPRO_NOTEBOOKS"] = str(source.parent.resolve())  # the kernel's code keys (codekey)
    try:  # the sitting is kept (book/running.md): a run resumed over several adds them up
        with sittings.sitting(run, source.stem, fingerprint):
            papermill.execute_notebook(
                str(source),
                str(tmp),
                parameters=params,
                cwd=str(source.parent),
                kernel_name="python3",
                progress_bar=False,
                log_output=log_output,
            )
    except papermill.PapermillExecutionError as exc:
        failed = out_dir / "failed"
        failed.mkdir(exist_ok=True)
        os.replace(tmp, failed / source.name)
        raise ReproError(
            f"Notebook {source.stem} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
            f"The executed notebook with the full traceback is {failed / source.name}."
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if old_dir is None:
            os.environ.pop("REPRO_NOTEBOOKS", None)
        else:
            os.environ["REPRO_NOTEBOOKS"] = old_dir
    after = _run_index_snapshot(run)
    touched = [  # this notebook's entries only: another notebook may be running beside it
        name for name, mtime in after.items() if before.get(name) != mtime and Path(name).stem == source.stem
    ]
    produced = [json.loads((artifact_root() / "runs" / run / n).read_text())["path"] for n in touched]
    nb = nbformat.read(tmp, as_version=4)
    nb.metadata["repro"] = {**fingerprint, "artifacts": sorted(produced)}

    clean_executed(nb, source.stem)
    nbformat.write(nb, tmp)
    os.replace(tmp, output)
    return output, True


def notebook_threads(source: Path, params: dict, cores: int) -> int:
    """The CPU threads notebook ``source`` uses with ``params``: its ``cpu_threads`` (0 or None:
    all ``cores``, torch's default), at most ``cores``; all cores where it declares no such
    parameter (its libraries use every core)."""
    declared = declared_parameters(source).get("cpu_threads")
    wanted = params.get("cpu_threads", ast.literal_eval(declared.default) if declared else 0)
    return min(cores, int(wanted)) if wanted else cores


def execute_many(
    paths: list[Path],
    profile: str,
    overrides: dict,
    *,
    force=False,
    out_dir: Path | None = None,
    log_output=False,
    jobs: int = 1,
    workers: int = 0,
    scheduler: str = "",
) -> list[Path]:
    """Execute ``paths`` in dependency order (:func:`dependencies`), up to ``jobs`` notebooks at a
    time, side by side only while their CPU threads fit the machine's cores: each notebook runs
    with the threads its profile (or ``-p cpu_threads``) gives it, 0 or none meaning all cores, and
    a notebook starts beside the running ones only if the threads in use plus its own are at most
    :func:`helpers.core.tasks.cores`. The runner never changes a notebook's threads, so a build's
    numbers never depend on ``jobs`` or timing. Returns the executed notebooks in the order of
    ``paths``. After a failure no new one starts; the running ones finish, then it raises."""
    paths = sorted(paths)
    chosen = {p.stem for p in paths}
    needs = {p.stem: dependencies(p) & chosen for p in paths}
    outputs: dict[str, Path] = {}
    done: set[str] = set()
    running, threads = {}, {}  # future -> its notebook's stem / the threads it uses
    errors: list[BaseException] = []
    lock = threading.Lock()
    jobs, budget = max(1, jobs), tasks.cores()

    def one(source: Path, params: dict, note: str) -> Path:
        start = time.time()
        with lock:
            print(f"[{source.stem}] profile={profile}{note} ...", flush=True)
        output, ran = execute(source, params, force=force, out_dir=out_dir, log_output=log_output)
        state = f"executed in {time.time() - start:.0f} s" if ran else "unchanged, reused"
        with lock:
            print(f"[{source.stem}] {state} -> {output}", flush=True)
        return output

    notebook_dir = str(paths[0].parent.resolve()) if paths else ""
    old_dir = os.environ.get("REPRO_NOTEBOOKS")
    os.environ["REPRO_NOTEBOOKS"] = notebook_dir  # for every kernel started below (codekey)
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            while len(done) < len(paths):
                ready = [
                    p
                    for p in paths
                    if p.stem not in done and p.stem not in running.values() and needs[p.stem] <= done
                ]
                for source in ready:
                    if len(running) >= jobs or errors:
                        break
                    params = {
                        **profile_parameters(source.stem, profile),
                        **overrides,
                        **placement_parameters(source, workers, scheduler),
                    }
                    need = notebook_threads(source, params, budget)
                    if running and sum(threads.values()) + need > budget:
                        continue  # waits until enough cores are free; a smaller one may go first
                    note = f", {need} thread(s)" if "cpu_threads" in declared_parameters(source) else ""
                    future = pool.submit(one, source, params, note)
                    running[future], threads[future] = source.stem, need
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    stem, _ = running.pop(future), threads.pop(future)
                    try:
                        outputs[stem] = future.result()
                        done.add(stem)
                    except BaseException as exc:  # keep the first; let the others finish
                        errors.append(exc)
    finally:
        if old_dir is None:
            os.environ.pop("REPRO_NOTEBOOKS", None)
        else:
            os.environ["REPRO_NOTEBOOKS"] = old_dir
    if errors:
        raise errors[0]
    return [outputs[p.stem] for p in paths]


def build_book(root: Path = REPO_ROOT, *, strict: bool = True) -> Path:
    """``jupyter-book build`` of ``root`` into ``root/book/_build`` (``-W --keep-going``)."""
    cmd = [
        str(Path(sys.executable).with_name("jupyter-book")),
        "build",
        str(root),
        "--path-output",
        str(root / "book"),
    ]
    if strict:
        cmd += ["-W", "--keep-going"]
    print("$", " ".join(cmd), flush=True)
    result = subprocess.run(cmd)
    if result.returncode != 0:
        raise ReproError("The book build failed (warnings count as errors); see the messages above.")
    html = root / "book" / "_build" / "html" / "index.html"
    print(f"Book: {html}")
    return html


def copy_book_sources(dest: Path) -> None:
    """Copy what the book build reads (config, toc, pages) to ``dest`` (used by tests)."""
    for name in BOOK_SOURCES:
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(
                src, dest / name, ignore=shutil.ignore_patterns("_build", "executed", "__pycache__")
            )
        else:
            shutil.copy2(src, dest / name)
