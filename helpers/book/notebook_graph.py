"""What a notebook reads and declares, read from its cells: the graph the runner schedules by.

* :func:`dependencies`: the notebooks whose artifacts it reads (``artifacts.latest(run, "NN_name")``);
* :func:`ancestors`: those, and theirs, and so on (the artifacts whose keys enter its execution
  cache, ``helpers.book.run.upstream_keys``);
* :func:`declared_parameters`: its ``parameters`` cell, name by name (papermill's own reading).

Paper A's chain (01 -> 02 -> 03 -> 04) and Paper B's (05 -> 06 -> 07 -> 08) share no edge, so the
runner may execute their notebooks side by side where their threads fit the cores ("Running the
book").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import nbformat
from papermill.translators import PythonTranslator

_READS = re.compile(r"""latest\([^,()]*,\s*["'](\d\d_\w+)["']""")


def dependencies(source: Path) -> set[str]:
    """Stems of the notebooks whose artifacts ``source`` reads."""
    text = source.read_text(encoding="utf-8").replace('\\"', '"')
    return set(_READS.findall(text)) - {source.stem}


def ancestors(stem: str, sources: Iterable[Path]) -> set[str]:
    """Every notebook among ``sources`` that ``stem`` depends on, directly or through another."""
    graph = {p.stem: dependencies(p) for p in sources}
    seen: set[str] = set()
    todo = list(graph.get(stem, ()))
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo += graph.get(dep, ())
    return seen


def declared_parameters(source: Path) -> dict:
    """``{name: papermill Parameter}`` of the notebook's ``parameters`` cell."""
    nb = nbformat.read(source, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    return {p.name: p for c in cells for p in PythonTranslator.inspect(c)}
