"""The command line of the book: ``python -m helpers.run`` (see :mod:`helpers.book.run`).

It sits above the runner and the record (``... all record --profile full`` runs the notebooks,
then writes ``results/<profile>.json``), so that neither of the two imports the other.
"""

from __future__ import annotations

import argparse
import shutil
import sys

from helpers.book import run
from helpers.book.record import write
from helpers.book.run import GROUPS, build_book, execute_many, parse_overrides, select
from helpers.core import tasks
from helpers.core.config import artifact_root, check_profile
from helpers.core.errors import ReproError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.run", description=run.__doc__.split("\n\n")[0])
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
        "--jobs",
        type=int,
        default=None,
        help="notebooks executed at the same time where the dependency graph allows "
        "(default: 2 on a machine with 2 or more cores; notebooks start side by side only while their cpu_threads fit the cores)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="run the independent tasks of the notebooks that have them (Table A1's runs, notebook 06's "
        "fine-tunes) on a local Dask cluster of N processes (default 0: in the notebook's kernel)",
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
                jobs=args.jobs if args.jobs is not None else min(2, tasks.cores()),
                workers=args.workers,
                scheduler=args.scheduler,
            )
        if want_book:
            build_book()
        if want_record:  # results/<profile>.json from the executed notebooks (helpers/book/record.py)
            # `paper-a record` records that part alone and keeps the other part of the record
            part = targets[0] if len(targets) == 1 and targets[0] in GROUPS else None
            print(f"Recorded: {write(args.profile, part=part)}")
    except ReproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
