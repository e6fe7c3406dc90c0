"""The student edition: the notebooks without their answers, for a teacher to hand out.

``python -m helpers.book.student DEST`` (``make student``) writes every ``notebooks/NN_*.ipynb`` into
``DEST`` with

* every ``{solution}`` directive (the folded answers of the exercises) removed,
* every ``{dropdown}`` whose title starts with "Answer" (the recall questions' answers) removed,
* every cell tagged ``solution`` or ``answer`` removed,
* outputs cleared.

Code cells are otherwise untouched, so the student notebooks run exactly as the book's (a test
executes them in the smoke profile). :func:`answer_blocks` is also what the exercise checks of
``tests/test_exercises.py`` read the solutions with.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from helpers.core.config import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
ANSWER_TAGS = {"solution", "answer"}
_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|:{3,})\s*(?P<info>\S.*)?$")


def _is_answer(info: str) -> bool:
    """Whether a directive's info string (``{solution} ex-a01-layers``) opens an answer."""
    m = re.match(r"\{([\w:-]+)\}\s*(.*)", info.strip())
    if not m:
        return False
    name, title = m.groups()
    return name == "solution" or (name == "dropdown" and title.lower().startswith("answer"))


def _block_end(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing the fenced block opened at ``lines[start]`` (nested fences with an
    info string open inner blocks; a bare fence of the same character, at least as long, closes)."""
    stack = [fence]
    for i in range(start + 1, len(lines)):
        m = _OPEN.match(lines[i])
        if not m:
            continue
        f, info = m["fence"], (m["info"] or "").strip()
        if not info and f[0] == stack[-1][0] and len(f) >= len(stack[-1]):
            stack.pop()
            if not stack:
                return i
        elif info:
            stack.append(f)
    raise ValueError(f"fenced block opened at line {start + 1} is never closed")


def answer_blocks(text: str) -> list[tuple[int, int, str]]:
    """The answer blocks of a markdown text: (first line, last line, the block's text)."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if m and m["info"] and m["info"].strip().startswith("{"):
            end = _block_end(lines, i, m["fence"])
            if _is_answer(m["info"]):
                blocks.append((i, end, "\n".join(lines[i : end + 1])))
                i = end + 1
                continue
        i += 1
    return blocks


def strip_answers(text: str) -> str:
    """``text`` without its answer blocks (and without the blank lines they leave behind)."""
    lines = text.splitlines()
    for first, last, _ in reversed(answer_blocks(text)):
        del lines[first : last + 1]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return out.strip("\n")


def student_notebook(nb):
    """A copy of notebook ``nb`` without answers and outputs."""
    nb = nbformat.from_dict(nb)  # deep copy
    cells = []
    for cell in nb.cells:
        if ANSWER_TAGS & set(cell.metadata.get("tags", [])):
            continue
        if cell.cell_type == "markdown":
            cell.source = strip_answers(cell.source)
            if not cell.source.strip():
                continue
        elif cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    nb.cells = cells
    nb.metadata["repro_edition"] = "student"
    return nb


def write_edition(dest: Path, source_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """Write the student edition of every ``NN_*.ipynb`` of ``source_dir`` into ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(Path(source_dir).glob("[0-9][0-9]_*.ipynb")):
        nb = student_notebook(nbformat.read(source, as_version=4))
        out = dest / source.name
        nbformat.write(nb, out)
        written.append(out)
    readme = dest / "README.md"
    readme.write_text(
        "# Student edition\n\n"
        "The book's notebooks without the solutions of the exercises and the answers of the recall\n"
        "questions (written by `make student`). Open them in JupyterLab from the repository's\n"
        "environment (`make lab LAB_ROOT=student`), or run one with\n"
        "`python -m helpers.run NN --profile quick` from a full checkout.\n"
    )
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", default=str(REPO_ROOT / "student"), help="output folder")
    args = parser.parse_args(argv)
    written = write_edition(Path(args.dest))
    print(f"student edition: {len(written)} notebooks without solutions -> {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
