"""Strip outputs and execution counts from the source notebooks (nothing executed is committed).

python -m helpers.book.nbclean            # clean notebooks/*.ipynb in place
python -m helpers.book.nbclean --check    # exit 1 and list notebooks that carry outputs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from helpers.core.config import REPO_ROOT

KEEP_METADATA = ("kernelspec", "language_info", "jupytext")


def has_outputs(nb) -> bool:
    return any(c.cell_type == "code" and (c.outputs or c.execution_count) for c in nb.cells)


def clean(nb):
    """Remove outputs, execution counts and run-time metadata, in place; returns ``nb``."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "papermill", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in KEEP_METADATA}
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.book.nbclean")
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
    dirty = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if has_outputs(nb):
            dirty.append(path)
            if not args.check:
                nbformat.write(clean(nb), path)
    for path in dirty:
        print(f"{'has outputs' if args.check else 'cleaned'}: {path}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
