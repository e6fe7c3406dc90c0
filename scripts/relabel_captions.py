"""Rewrite the notebooks' figure/table captions to the book's one-label scheme (CONTRIBUTING.md,
"Figures and tables").  The label ("Figure A3", "Table B1 (book's addition)") now comes from the
``:name:`` (helpers/book/sphinxext.py), so the hand-typed one in the caption goes:

    **Figure B1** (paper's Figure 1). Images per class ...   ->  Images per class ...
    **Table B1** (paper's Table 1, CUB birds). Top-1 ...      ->  (CUB birds). Top-1 ...

and headings "## Figure 3: ..." of Paper A's notebooks (01-04) become "## Figure A3: ..." (B for
05-08).  Captions whose hand-typed paper number disagrees with their ``:name:`` are listed for a
human decision and left alone.

    python scripts/relabel_captions.py            # rewrite notebooks/*.ipynb in place
    python scripts/relabel_captions.py --check    # list what would change; exit 1 if anything
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
DIRECTIVE = re.compile(
    r"^(?P<fence>```+|:::+)\{glue:figure\}[^\n]*\n(?P<body>.*?)^(?P=fence)\s*$", re.M | re.S
)
NAME = re.compile(r"^:name:\s*(\S+)", re.M)
LABEL = re.compile(
    r"^\*\*(?P<kind>Figure|Table)s? (?P<paper>[AB])(?P<num>\d+)\*\*\s*(?:\((?P<note>[^)]*)\)\.?\s*)?"
)
PAPERS = re.compile(
    r"paper's (?:(?P<kind>Figure|Table)s? (?P<nums>\d+(?:\s*[-–]\s*\d+)?|[IVX]+)|[\w ]*?figure)\s*,?\s*"
)
ROMAN = {
    "I": "1",
    "II": "2",
    "III": "3",
    "IV": "4",
    "V": "5",
    "VI": "6",
    "VII": "7",
    "VIII": "8",
    "IX": "9",
    "X": "10",
}
HEADING = re.compile(r"^(#+ .*?)\bFigure (\d+)\b", re.M)


def _paper_of(stem: str) -> str:
    return "A" if stem[:2] <= "04" else "B"


def relabel_caption(body: str) -> tuple[str, str | None]:
    """Body of one ``{glue:figure}`` block -> (new body, problem or None)."""
    name = NAME.search(body)
    lines = body.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip() and not line.startswith(":")), None)
    if start is None:
        return body, None
    caption = "\n".join(lines[start:])
    m = LABEL.match(caption)
    if not m:
        return body, None
    note = (m["note"] or "").strip()
    expected = (m["kind"], m["paper"].lower(), m["num"])
    if name:
        n = re.fullmatch(r"(fig|table)-([ab])(\d+)", name[1])
        got = ({"fig": "Figure", "table": "Table"}[n[1]], n[2], n[3]) if n else None
        if got != expected:
            return (
                body,
                f":name: {name[1]} does not match the typed label **{m['kind']} {m['paper']}{m['num']}**",
            )
    p = PAPERS.match(note)
    if note and not p:
        return body, f"{m['kind']} {m['paper']}{m['num']}: '({note})' names no paper figure; decide by hand"
    if p and p["nums"] and ROMAN.get(p["nums"], p["nums"]) != m["num"]:
        return body, f"{m['kind']} {m['paper']}{m['num']} says '({note})'; split or rename by hand"
    rest = note[p.end() :].strip() if p else ""
    new_caption = (f"({rest}). " if rest else "") + caption[m.end() :]
    return "\n".join(lines[:start] + [new_caption]), None


def relabel_notebook(nb, stem: str) -> tuple[bool, list[str]]:
    """Rewrite the captions and headings of one notebook in place; (changed, problems)."""
    changed, problems = False, []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        source = cell.source

        def block(match):
            new_body, problem = relabel_caption(match["body"])
            if problem:
                problems.append(f"{stem}: {problem}")
            return match[0].replace(match["body"], new_body, 1)

        source = DIRECTIVE.sub(block, source)
        source = HEADING.sub(lambda m: f"{m[1]}Figure {_paper_of(stem)}{m[2]}", source)
        if source != cell.source:
            cell.source = source
            changed = True
    return changed, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/relabel_captions.py")
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="only list notebooks that would change")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    changed_any, problems = False, []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        changed, found = relabel_notebook(nb, path.stem)
        problems += found
        if changed:
            changed_any = True
            print(f"{'would relabel' if args.check else 'relabelled'}: {path}")
            if not args.check:
                nbformat.write(nb, path)
    for problem in problems:
        print(f"check by hand: {problem}")
    return 1 if (args.check and changed_any) else 0


if __name__ == "__main__":
    sys.exit(main())
