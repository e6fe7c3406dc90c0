"""Execute the book's notebooks with papermill and build the book.

    python -m helpers.run 02_deepinsight --profile quick -p perplexity 50   # one notebook
    python -m helpers.run all --profile quick                                # 01 ... 08 in order
    python -m helpers.run paper-a --profile smoke                            # 01 ... 04
    python -m helpers.run book --profile quick                               # all, then the HTML
    python -m helpers.run all record --profile full                          # all, then results/full.json
    python -m helpers.run 04 --profile paper --workers 4                     # Table A1's runs on 4 processes

An executed notebook is reused when its source, its parameters, the helper code it uses
(``helpers.codekey``) and the artifacts of the earlier notebooks it reads are unchanged and the
artifacts it produced still exist (QuantEcon-style execution cache); ``--force`` re-executes.  A failing notebook is kept under ``<executed>/failed/`` for inspection
and the previous good one is left in place.  Defined on the "Running the book" page.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from .config import REPO_ROOT, artifact_root, check_profile, executed_root
from .errors import ReproError
from .tasks import PLACEMENT, placement_parameters

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
PROFILE_DIR = REPO_ROOT / "profiles"
GROUPS = {"paper-a": ("01", "02", "03", "04"), "paper-b": ("05", "06", "07", "08")}
BOOK_SOURCES = ("_config.yml", "_toc.yml", "book")


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
    docstrings and comments left out; ``helpers.codekey``): changing a helper re-executes the
    notebooks that use it, and only those."""
    from . import codekey

    return codekey.notebook_helpers_key(source)


def _run_index_snapshot(run: str) -> dict[str, float]:
    index = artifact_root() / "runs" / run
    if not index.is_dir():
        return {}
    return {str(p.relative_to(index)): p.stat().st_mtime for p in index.rglob("*.json")}


def upstream_keys(stem: str, run: str) -> dict[str, str]:
    """Keys of the artifacts that earlier notebooks (lower number) of ``run`` hold now: when one of
    them is recomputed, every later notebook that reads it must run again."""
    index = artifact_root() / "runs" / run
    if not index.is_dir():
        return {}
    keys = {}
    for entry in sorted(index.rglob("*.json")):
        name = str(entry.relative_to(index))
        if name[:2].isdigit() and name[:2] < stem[:2]:
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
    import ast

    import nbformat
    from papermill.translators import PythonTranslator

    nb = nbformat.read(source, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    declared = {p.name: p for c in cells for p in PythonTranslator.inspect(c)}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ReproError(
            f"Notebook {source.stem} has no parameter {', '.join(unknown)}; "
            f"its parameters are: {', '.join(sorted(declared))}."
        )
    device = params.get("device")
    if isinstance(device, str) and device.lower().startswith("cuda"):
        from .training import pick_device

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
    from . import codekey, record

    if not any(
        module == "record" for module, _ in codekey.notebook_dependencies(source, until_last_build=False)
    ):
        return None
    files = sorted(record.RESULTS_DIR.glob("*.json"))
    return _sha(b"".join(f.name.encode() + b"\0" + f.read_bytes() for f in files))


def _fingerprint(source: Path, params: dict, run: str) -> dict:
    return {
        "source_sha": _sha(source.read_bytes()),
        "params": {k: v for k, v in params.items() if k not in PLACEMENT},  # where it runs: not what
        "helpers_sha": helpers_fingerprint(source),
        "recorded": recorded_fingerprint(source),
        "artifact_root": str(artifact_root()),
        "upstream": upstream_keys(source.stem, run),
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
    import nbformat
    import papermill

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
    try:
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
    touched = [name for name, mtime in after.items() if before.get(name) != mtime]
    produced = [json.loads((artifact_root() / "runs" / run / n).read_text())["path"] for n in touched]
    nb = nbformat.read(tmp, as_version=4)
    nb.metadata["repro"] = {**fingerprint, "artifacts": sorted(produced)}
    from .nbpost import clean_executed  # hide parameter cells, one parameters box, no local paths

    clean_executed(nb, source.stem)
    nbformat.write(nb, tmp)
    os.replace(tmp, output)
    return output, True


def execute_many(
    paths: list[Path],
    profile: str,
    overrides: dict,
    *,
    force=False,
    out_dir: Path | None = None,
    log_output=False,
    workers: int = 0,
    scheduler: str = "",
) -> list[Path]:
    outputs = []
    for source in paths:
        params = {
            **profile_parameters(source.stem, profile),
            **overrides,
            **placement_parameters(source, workers, scheduler),  # only where the notebook declares them
        }
        start = time.time()
        print(f"[{source.stem}] profile={profile} ...", flush=True)
        output, ran = execute(source, params, force=force, out_dir=out_dir, log_output=log_output)
        state = f"executed in {time.time() - start:.0f} s" if ran else "unchanged, reused"
        print(f"[{source.stem}] {state} -> {output}", flush=True)
        outputs.append(output)
    return outputs


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
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("_build", "executed"))
        else:
            shutil.copy2(src, dest / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "targets", nargs="+", help="notebook(s) (01, 01_bert_cls), all, paper-a, paper-b, book, or record"
    )
    parser.add_argument("--profile", default="quick", help="smoke | quick | full | paper (default quick)")
    parser.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override one papermill parameter (value parsed as YAML)",
    )
    parser.add_argument("--force", action="store_true", help="re-execute even if unchanged")
    parser.add_argument(
        "--recompute",
        action="store_true",
        help="delete the selected notebooks' artifacts first (implies --force)",
    )
    parser.add_argument("--log-output", action="store_true", help="stream cell output (progress bars)")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="run the independent tasks of the notebooks that have them (Table A1's runs) on a local "
        "Dask cluster of N processes (default 0: in the notebook's kernel)",
    )
    parser.add_argument(
        "--scheduler",
        default="",
        metavar="ADDRESS",
        help="run those tasks on the running Dask cluster at ADDRESS (tcp://host:8786; book/running.md)",
    )
    args = parser.parse_args(argv)
    try:
        check_profile(args.profile)
        overrides = parse_overrides(args.param)
        want_book = "book" in args.targets
        want_record = "record" in args.targets
        targets = [t for t in args.targets if t not in ("book", "record")] or (["all"] if want_book else [])
        if targets:
            chosen = select(targets)
            if args.recompute:
                for nb in chosen:
                    shutil.rmtree(artifact_root() / nb.stem, ignore_errors=True)
            execute_many(
                chosen,
                args.profile,
                overrides,
                force=args.force or args.recompute,
                log_output=args.log_output,
                workers=args.workers,
                scheduler=args.scheduler,
            )
        if want_book:
            build_book()
        if want_record:  # results/<profile>.json from the executed notebooks (helpers/record.py)
            from .record import write

            print(f"Recorded: {write(args.profile)}")
    except ReproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
