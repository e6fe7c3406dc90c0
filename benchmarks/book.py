"""Wall time of the book's notebooks on this machine, per notebook and in all (issue 13's target:
the quick profile in 8 minutes or less on a 2-core CPU, float32).

    .venv/bin/python -m benchmarks.book                       # quick: --jobs 1, then --jobs 2
    .venv/bin/python -m benchmarks.book --jobs 2              # only the default way (make book)
    .venv/bin/python -m benchmarks.book --from book/executed  # report a build that already ran

Each measured way executes every notebook afresh (temporary artifact store and executed folder,
so nothing is reused) and reads the time papermill recorded for each notebook. Every notebook runs
with its profile's threads; ``--jobs 1`` runs them one after the other, ``--jobs 2`` starts a
notebook beside another where their threads fit the cores (``helpers.book.run.execute_many``). The table, with the
machine, its CPU capability and the commit, goes to ``benchmarks/book.md``, which the "Running the
book" page includes. Timings, not tests: the test suite never runs this.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

if __package__ in (None, ""):  # python benchmarks/book.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.book import record, run
from helpers.core.config import REPO_ROOT

OUT = REPO_ROOT / "benchmarks" / "book.md"


def durations(executed: Path) -> dict[str, float]:
    """Seconds papermill recorded for each executed notebook in ``executed``."""
    found = {}
    for path in sorted(executed.glob("[0-9][0-9]_*.ipynb")):
        meta = nbformat.read(path, as_version=4).metadata.get("papermill", {})
        if meta.get("duration") is not None:
            found[path.stem] = float(meta["duration"])
    return found


def measure(profile: str, jobs: int) -> tuple[dict[str, float], float]:
    """Execute every notebook of ``profile`` afresh with ``jobs``; (per notebook, wall total)."""
    with tempfile.TemporaryDirectory(prefix="bench-book-") as tmp:
        saved = {k: os.environ.get(k) for k in ("REPRO_ARTIFACTS", "REPRO_EXECUTED")}
        os.environ["REPRO_ARTIFACTS"] = str(Path(tmp) / "artifacts")
        os.environ["REPRO_EXECUTED"] = str(Path(tmp) / "executed")
        try:
            start = time.perf_counter()
            run.execute_many(run.notebooks(), profile, {}, jobs=jobs, out_dir=Path(tmp) / "executed")
            total = time.perf_counter() - start
            return durations(Path(tmp) / "executed"), total
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def table(columns: dict[str, tuple[dict[str, float], float]]) -> str:
    """Markdown: a row per notebook, a column per way it ran, the wall total last."""
    names = sorted({stem for per, _ in columns.values() for stem in per})
    lines = ["| notebook | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for stem in names:
        cells = [f"{per[stem]:.0f}" if stem in per else "–" for per, _ in columns.values()]
        lines.append(f"| {stem} | " + " | ".join(cells) + " |")
    lines.append("| **wall time in all** | " + " | ".join(f"**{t:.0f}**" for _, t in columns.values()) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.book", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="quick")
    p.add_argument("--jobs", type=int, action="append", help="1 and/or 2 (default: both)")
    p.add_argument("--from", dest="source", help="report the notebooks already executed in this folder")
    p.add_argument("--note", default="", help="a sentence added to the header")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    start = time.perf_counter()
    columns = {}
    if args.source:
        per = durations(Path(args.source))
        columns[f"seconds ({args.source})"] = (per, sum(per.values()))
    else:
        for jobs in args.jobs or [1, 2]:
            label = "one at a time (--jobs 1)" if jobs == 1 else f"side by side (--jobs {jobs})"
            columns[f"seconds, {label}"] = measure(args.profile, jobs)
    m, git = record.machine(), record.git_state()
    commit = (git["commit"] or "unknown")[:10] + (" (with uncommitted changes)" if git["dirty"] else "")
    text = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {m['cores']} CPU cores "
        f"({m['cpu']}, torch CPU capability {m['cpu_capability']}), {m['ram_gb']:g} GB RAM, "
        f"GPU: {m['gpu'] or 'none'}; commit {commit}; profile `{args.profile}`, float32; "
        + ("times of an earlier build" if args.source else "every notebook executed afresh")
        + f"; {time.perf_counter() - start:.0f} s in all (`python -m benchmarks.book`)."
        + (f" {args.note}" if args.note else "")
        + "\n\n"
        + table(columns)
    )
    print(text)
    if not args.no_write:
        OUT.write_text("<!-- written by `python -m benchmarks.book`; do not edit -->\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
