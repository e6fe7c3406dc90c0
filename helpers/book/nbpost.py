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

import ast
import io
import json
import os
import re
import sys
import tokenize
from pathlib import Path

import nbformat

from helpers.core import config

BOX_TAG = "repro-parameters"
HIDE_TAG = "remove-cell"


def _tags(cell) -> list[str]:
    return cell.metadata.setdefault("tags", [])


#: meanings of the parameters every notebook has (CONTRIBUTING.md, "Profiles and parameters"),
#: used where the parameters cell gives a parameter no comment of its own
COMMON_MEANINGS = {
    "profile": "smoke | quick | full | paper: the size of the run, shown in the captions",
    "run": 'artifact namespace; "" means: the same as profile',
    "data_source": '"" -> the data folder (env REPRO_DATA, else ../shared/data)',
    "device": "auto | cpu | cuda",
    "seed": "random seed of everything this notebook draws (subsets, splits, initialisation)",
    "cpu_threads": "torch CPU threads",
}


def _show(value) -> str:
    """A parameter value as it reads in Python, on one line, strings in double quotes."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        inner = ", ".join(_show(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_show(k)}: {_show(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _literal(source: str):
    try:
        return True, ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return False, " ".join(source.split())


def _parameters(cell) -> list[tuple[str, str, str]]:
    """``(name, value source, meaning)`` of each top-level assignment of a parameters cell.

    The value may span several lines (a list written one item per line); the meaning is every
    comment on the assignment's lines and on the comment-only lines that follow it, joined."""
    source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    lines = source.split("\n")
    assigns = [n for n in tree.body if isinstance(n, ast.Assign | ast.AnnAssign)]
    out = []
    for k, node in enumerate(assigns):
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        if not isinstance(target, ast.Name) or node.value is None:
            continue
        stop = assigns[k + 1].lineno if k + 1 < len(assigns) else len(lines) + 1
        own = [comments[i] for i in range(node.lineno, node.end_lineno + 1) if i in comments]
        after = [
            comments[i]
            for i in range(node.end_lineno + 1, stop)
            if i in comments and lines[i - 1].lstrip().startswith("#")
        ]
        value = ast.get_source_segment(source, node.value) or ""
        out.append((target.id, value, " ".join(own + after)))
    return out


def parameters_in_effect(nb) -> list[tuple[str, str, str, bool]]:
    """``(name, value, meaning, changed)`` per parameter: the notebook's defaults (its
    ``parameters`` cell, the ``quick`` values) overridden by papermill's injected cell; ``changed``
    when the value in effect differs from the default (compared as Python values)."""
    rows: dict[str, list] = {}
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "code":
            continue
        if "parameters" in tags:
            for name, value, help_ in _parameters(cell):
                rows[name] = [name, value, help_ or COMMON_MEANINGS.get(name, ""), False]
        elif "injected-parameters" in tags:
            for name, value, _ in _parameters(cell):
                row = rows.setdefault(name, [name, value, COMMON_MEANINGS.get(name, ""), True])
                row[3] = row[3] or _literal(row[1]) != _literal(value)
                row[1] = value
    for row in rows.values():
        ok, literal = _literal(row[1])
        row[1] = _show(literal) if ok else literal
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
