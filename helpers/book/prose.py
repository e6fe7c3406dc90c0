"""Result numbers typed into prose: find them, so that every one comes from a single source.

A *result number* is one that a run measures or a paper reports: a decimal (``0.81``), a
percentage (``30 %``), a multiple (``3.3 times``, ``2-3x``), a duration (``39.9 min``) or a
count written with a thousands separator (``11,788``).  Small plain integers (epochs, seeds,
layers, pixel sizes ``50 x 50``), years and dates, version numbers, ordinals (``99.5th`` percentile) and labels (``Table B5``) are
settings and names, not results, and are not looked at.

In the book's markdown (notebook markdown cells, ``{admonition}`` / ``{solution}`` blocks
included, and ``book/*.md``) a result number must be

* glued from a run (``{glue:text}`` / ``{glue:md}`` / ``{glue:figure}``: removed before the scan),
* inside code (a parameter value such as ``-p test_fraction 0.5``) or math,
* inside a generated block (``% <name>:start`` ... ``% <name>:end``, written by a helper from the
  recorded run or the benchmarks), or
* a fact of one of the papers: its value is one of the numbers of ``helpers/paper_a/facts.py`` or
  ``helpers/paper_b/facts.py``.

:func:`scan` returns every other one with its place; ``tests/test_prose_numbers.py`` fails on them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from helpers.paper_a import facts as facts_a
from helpers.paper_b import facts as facts_b

_FENCE = re.compile(r"^(\s*)(`{3,}|:{3,})(.*)$")
_ROLE = re.compile(r"\{[a-z:]+\}`[^`]*`")
_CODE = re.compile(r"`[^`]*`")
_MATH_BLOCK = re.compile(r"\$\$.*?\$\$", re.S)
_MATH = re.compile(r"\$[^$\n]+\$")
_LINK = re.compile(r"\]\([^)]*\)")
_GENERATED = re.compile(r"^%\s*([\w-]+):start.*?^%\s*\1:end", re.S | re.M)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{2}:\d{2}\b")
_VERSION = re.compile(r"\b\d+(?:\.\d+){2,}\b|\bv\d+(?:\.\d+)*\b")
_ORDINAL = re.compile(r"\b\d+(?:\.\d+)?(?:st|nd|rd|th)\b")  # "the 99.5th percentile": a display setting

_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_RANGE = rf"{_NUM}(?:\s*[-–/]\s*{_NUM})?"
#: one pattern per kind of result number; a match's numbers are checked against the facts
RESULT_PATTERNS = {
    "percentage": re.compile(rf"(?<![\w.]){_RANGE}\s?%"),
    "multiple": re.compile(rf"(?<![\w.]){_RANGE}\s?(?:x|×|times)(?![\w.]|\s*\d)"),
    "duration": re.compile(rf"(?<![\w.]){_RANGE}\s?(?:ms|s|min|h|hours?|minutes?|seconds?)\b"),
    "decimal": re.compile(r"(?<![\w.,])\d+\.\d+(?![\w.]*\d)"),
    "count": re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\d])"),
}


@dataclass(frozen=True)
class Finding:
    """A result number typed into prose: where, what kind, the text."""

    place: str
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.place}: {self.kind} {self.text!r}"


def _numbers(module: ModuleType) -> set[float]:
    out: set[float] = set()

    def walk(value: object) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int | float):
            out.add(float(value))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list | tuple | set | frozenset):
            for v in value:
                walk(v)

    for name, value in vars(module).items():
        if not name.startswith("_"):
            walk(value)
    return out


def fact_numbers(modules: Iterable[ModuleType] = (facts_a, facts_b)) -> set[float]:
    """Every number the papers' facts modules define (dict keys and nested values included)."""
    out: set[float] = set()
    for m in modules:
        out |= _numbers(m)
    return out


def _is_fact(token: str, kind: str, facts: set[float]) -> bool:
    values = [float(v.replace(",", "")) for v in re.findall(_NUM, token)]
    if not values:
        return True

    def known(v: float) -> bool:
        cands = [v, v / 100] if kind == "percentage" else [v]
        return any(abs(c - f) <= 1e-9 * max(1.0, abs(f)) for c in cands for f in facts)

    return all(known(v) for v in values)


def prose_only(text: str) -> str:
    """The prose of a markdown text: code, math, roles (glue, citations, references), links,
    comments, generated blocks and directive options removed; directive bodies (captions,
    admonitions, solutions) kept.  Line count is preserved so that places stay right."""

    def blank(m: re.Match) -> str:
        return "\n" * m.group(0).count("\n")

    text = _GENERATED.sub(blank, text)
    text = _COMMENT.sub(blank, text)
    text = _MATH_BLOCK.sub(blank, text)
    lines, out, code_fence, directives = text.split("\n"), [], None, 0
    for line in lines:
        m = _FENCE.match(line)
        if code_fence is not None:
            if m and m.group(2)[0] == code_fence[0] and len(m.group(2)) >= len(code_fence):
                code_fence = None
            out.append("")
            continue
        if m:
            info = m.group(3).strip()
            if info.startswith("{"):  # a directive ({glue:figure}, {admonition}, {solution}): body kept
                directives += 1
            elif not info and directives:  # the closing fence of a directive
                directives -= 1
            else:  # a plain or language fence (```bash): code
                code_fence = m.group(2)
            out.append("")
            continue
        if re.match(r"^\s*:[\w-]+:", line):  # directive option (:name:, :figwidth:)
            out.append("")
            continue
        line = _ROLE.sub(" ", line)
        line = _CODE.sub(" ", line)
        line = _MATH.sub(" ", line)
        line = _LINK.sub("]", line)
        line = _DATE.sub(" ", line)
        line = _VERSION.sub(" ", line)
        line = _ORDINAL.sub(" ", line)
        out.append(line)
    return "\n".join(out)


def _sections(text: str, skip: tuple[str, ...]) -> str:
    """``text`` with the sections whose heading starts with one of ``skip`` blanked."""
    out, skipping, level = [], False, 0
    for line in text.split("\n"):
        h = re.match(r"^(#+)\s+(.*)$", line)
        if h:
            if skipping and len(h.group(1)) <= level:
                skipping = False
            if not skipping and h.group(2).strip().startswith(skip):
                skipping, level = True, len(h.group(1))
        out.append("" if skipping else line)
    return "\n".join(out)


def scan_text(
    text: str, place: str, facts: set[float] | None = None, skip_sections: tuple[str, ...] = ()
) -> list[Finding]:
    """The result numbers of one markdown text that are neither glued, code, generated nor facts."""
    facts = fact_numbers() if facts is None else facts
    prose = prose_only(_sections(text, skip_sections) if skip_sections else text)
    found: list[Finding] = []
    for lineno, line in enumerate(prose.split("\n"), 1):
        taken: list[tuple[int, int]] = []
        for kind, pattern in RESULT_PATTERNS.items():
            for m in pattern.finditer(line):
                if any(a <= m.start() < b for a, b in taken):
                    continue
                taken.append(m.span())
                if not _is_fact(m.group(0), kind, facts):
                    found.append(Finding(f"{place}:{lineno}", kind, m.group(0).strip()))
    return found


def markdown_sources(root: Path) -> Iterator[tuple[str, str]]:
    """(place, text) of every markdown the book renders by hand: ``book/**/*.md`` (snippets
    included) and every notebook markdown cell."""
    for md in sorted((root / "book").rglob("*.md")):
        rel = md.relative_to(root)
        if rel.parts[1] in {"_build", "executed"}:
            continue
        yield str(rel), md.read_text(encoding="utf-8")
    for nb in sorted((root / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "markdown":
                src = cell["source"]
                yield f"{nb.relative_to(root)}[cell {i}]", "".join(src) if isinstance(src, list) else src


def scan(root: Path, skip_sections: tuple[str, ...] = ()) -> list[Finding]:
    """Every result number typed into the book's markdown under ``root`` (see the module doc)."""
    facts = fact_numbers()
    found: list[Finding] = []
    for place, text in markdown_sources(root):
        found += scan_text(text, place, facts, skip_sections)
    return found


if __name__ == "__main__":  # python -m helpers.book.prose: list the findings
    from helpers.core import config

    for f in scan(config.REPO_ROOT):
        print(f)
