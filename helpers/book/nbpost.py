"""Tidy an executed notebook before the book renders it (called by ``helpers.book.run.execute``).

* The ``parameters`` and papermill's ``injected-parameters`` cells are tagged ``remove-cell``; one
  folded box, "Parameters of this run", lists the values in effect instead (``parameters_box``).
* Local paths in outputs become short labels: the artifact store ``<artifacts>``, the data folder
  ``<data>``, the download cache ``<cache>``, the virtual environment ``<venv>``, the repository
  ``<repo>`` and the home directory ``~`` (``scrub_paths``).
* Progress bars are reduced to their last state, as a terminal shows them (``collapse_progress``).

The "Running the book" page describes what a rendered page shows.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
from papermill.translators import PythonTranslator

from helpers.core import config

BOX_TAG = "repro-parameters"
HIDE_TAG = "remove-cell"


def _tags(cell) -> list[str]:
    return cell.metadata.setdefault("tags", [])


def _parameters(cell) -> list:
    return PythonTranslator.inspect(cell)


def parameters_in_effect(nb) -> list[tuple[str, str, str, bool]]:
    """``(name, value source, help, changed)`` per parameter: the notebook's defaults (its
    ``parameters`` cell, the ``quick`` values) overridden by papermill's injected cell."""
    rows: dict[str, list] = {}
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "code":
            continue
        if "parameters" in tags:
            for p in _parameters(cell):
                rows[p.name] = [p.name, p.default, (p.help or "").strip(), False]
        elif "injected-parameters" in tags:
            for p in _parameters(cell):
                row = rows.setdefault(p.name, [p.name, p.default, "", True])
                row[3] = row[3] or row[1] != p.default
                row[1] = p.default
    return [tuple(r) for r in rows.values()]


def _code(text: str) -> str:
    text = text.replace("|", "\\|")
    return f"``{text}``" if "`" in text else f"`{text}`"


def parameters_box(nb, stem: str | None = None) -> str:
    """Markdown of the folded "Parameters of this run" box (a MyST dropdown admonition)."""
    rows = parameters_in_effect(nb)
    values = {name: value for name, value, _, _ in rows}
    profile = values.get("profile", "").strip("\"'") or "?"
    lines = [
        f":::{{admonition}} Parameters of this run (profile `{profile}`)",
        f":class: dropdown {BOX_TAG}",
        "",
        "| parameter | value | meaning |",
        "|---|---|---|",
    ]
    for name, value, help_, changed in rows:
        shown = _code(value) + (" *" if changed else "")
        lines.append(f"| `{name}` | {shown} | {help_.replace('|', '/')} |")
    number = (stem or "NN")[:2]
    lines += [
        "",
        "\\* differs from the notebook's default (the `quick` profile). Change one value with "
        f"`python -m helpers.run {number} --profile {profile} -p NAME VALUE`.",
        ":::",
    ]
    return "\n".join(lines)


def local_paths() -> list[tuple[str, str]]:
    """``(path, label)`` pairs to hide in outputs, longest path first (see module doc)."""
    pairs = [
        (config.artifact_root(), "<artifacts>"),
        (config.data_source(), "<data>"),
        (config.cache_root(), "<cache>"),
        (Path(sys.prefix), "<venv>"),
        (config.REPO_ROOT, "<repo>"),
        (Path.home(), "~"),
    ]
    out = {}
    for path, label in pairs:
        for form in {str(path), os.path.realpath(path), os.path.abspath(path)}:
            if len(form) > 1:
                out.setdefault(form, label)
    return sorted(out.items(), key=lambda kv: -len(kv[0]))


def scrub_text(text: str, pairs: list[tuple[str, str]]) -> str:
    """Replace each path of ``pairs`` (not when it is only the start of a longer name)."""
    for path, label in pairs:
        text = re.sub(re.escape(path) + r"(?![\w.-])", lambda _: label, text)
    return text


def _scrub(value, pairs):
    if isinstance(value, str):
        return scrub_text(value, pairs)
    if isinstance(value, list):
        return [_scrub(v, pairs) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, pairs) for k, v in value.items()}
    return value


def scrub_paths(nb, pairs: list[tuple[str, str]] | None = None):
    """Hide local paths in every text output (images are left alone); returns ``nb``."""
    pairs = local_paths() if pairs is None else pairs
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                out.text = scrub_text(out.text, pairs)
            elif out.output_type == "error":
                out.evalue = scrub_text(out.evalue, pairs)
                out.traceback = _scrub(out.traceback, pairs)
            else:
                for mime, data in out.get("data", {}).items():
                    if mime.startswith("text/") or mime.endswith("json"):
                        out.data[mime] = _scrub(data, pairs)
    return nb


def terminal_text(text: str) -> str:
    """What a terminal shows for ``text``: ``\\r`` returns to the line start and overwrites;
    lines that end up blank after a ``\\r`` (a cleared progress bar) disappear."""
    lines = []
    for raw in text.split("\n"):
        line: list[str] = []
        pos = 0
        for piece in re.split(r"(\r)", raw):
            if piece == "\r":
                pos = 0
                continue
            line[pos : pos + len(piece)] = piece
            pos += len(piece)
        shown = "".join(line).rstrip()
        if shown or "\r" not in raw:
            lines.append(shown if "\r" in raw else raw)
    return "\n".join(lines)


def collapse_progress(nb):
    """Merge consecutive stream outputs of one name and keep progress bars' last state."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for out in cell.outputs:
            if (
                out.output_type == "stream"
                and merged
                and merged[-1].output_type == "stream"
                and merged[-1].name == out.name
            ):
                merged[-1].text += out.text
            else:
                merged.append(out)
        for out in merged:
            if out.output_type == "stream" and "\r" in out.text:
                out.text = terminal_text(out.text)
        cell.outputs = [o for o in merged if not (o.output_type == "stream" and not o.text.strip())]
    return nb


def clean_executed(nb, stem: str | None = None):
    """Everything above, in place; returns ``nb``.  Running it twice changes nothing more."""
    nb.cells = [c for c in nb.cells if BOX_TAG not in c.metadata.get("tags", [])]
    last_param = None
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and ("parameters" in tags or "injected-parameters" in tags):
            if HIDE_TAG not in tags:
                _tags(cell).append(HIDE_TAG)
            last_param = i
    stem = stem or nb.metadata.get("papermill", {}).get("input_path")
    stem = Path(stem).stem if stem else None
    if last_param is not None:
        box = nbformat.v4.new_markdown_cell(parameters_box(nb, stem), metadata={"tags": [BOX_TAG]})
        nb.cells.insert(last_param + 1, box)
    collapse_progress(nb)
    scrub_paths(nb)
    return nb
