"""Sphinx extension of the book (``_config.yml``: ``sphinx.extra_extensions``).

Two jobs, both described in CONTRIBUTING.md ("Figures and tables") and on the "Running the book"
page:

* **One label per figure and table, named after the paper's.**  Sphinx numbers every captioned
  figure in one sequence ("Fig. 9"), tables glued with ``{glue:figure}`` included.  Here the label
  comes from the ``:name:`` instead, and ``{numref}`` prints the same label:

  ===============================  =====================================================
  ``:name:``                       label (caption and ``{numref}``)
  ===============================  =====================================================
  ``fig-a3``                       ``Figure A3``: Paper A's Figure 3
  ``table-b1``                     ``Table B1``: Paper B's Table 1
  ``fig-b-text-curves``            ``Figure B11 (book's addition)``: numbered after the
                                   paper's last figure (``repro_paper_counts``), book order
  ``table-a-probes``               ``Table A2 (book's addition)``
  ===============================  =====================================================

  A captioned figure or table with any other name is a build warning (an error with ``-W``).
* **MathJax from the build.**  The MathJax 3 files of the ``django-static-mathjax`` package are
  copied to ``_static/mathjax/`` and ``mathjax_path`` points there, so the HTML works offline.
"""

from __future__ import annotations

import re
import shutil
from importlib.resources import files
from pathlib import Path

from sphinx.util import logging

from helpers.core.errors import ReproError

PAPER_NAME = re.compile(r"^(fig|table)-([ab])(\d+)$")
ADDITION_NAME = re.compile(r"^(fig|table)-([ab])-([a-z0-9][a-z0-9-]*)$")
KIND = {"fig": "Figure", "table": "Table"}
# What each paper has (Paper A: Figures 1-6, Table I; Paper B: Figures 1-10, Tables 1-2).
PAPER_COUNTS = {"a": {"Figure": 6, "Table": 1}, "b": {"Figure": 10, "Table": 2}}
# Parts of MathJax's es5 folder that tex-mml-chtml.js loads (fonts, extensions, menu, a11y).
MATHJAX_PARTS = ("tex-mml-chtml.js", "output", "input", "ui", "a11y", "sre", "adaptors")


class LabelError(ValueError):
    """A figure or table name that does not follow the convention."""


def paper_label(name: str, counts: dict = PAPER_COUNTS) -> tuple[str, str, int] | None:
    """``fig-a3`` -> ("a", "Figure", 3); ``None`` for an addition name; LabelError otherwise."""
    m = PAPER_NAME.match(name)
    if m:
        kind, paper, n = KIND[m[1]], m[2], int(m[3])
        last = counts[paper][kind]
        if not 1 <= n <= last:
            raise LabelError(
                f"{name!r}: Paper {paper.upper()} has {kind}s 1-{last}; name a figure "
                f"or table the paper lacks '{m[1]}-{paper}-<words>' (a book's addition)"
            )
        return paper, kind, n
    if ADDITION_NAME.match(name):
        return None
    raise LabelError(
        f"{name!r} does not name a paper's figure or table ('fig-a3', 'table-b1') nor a "
        f"book's addition ('fig-a-training-curves'); see CONTRIBUTING.md"
    )


def assign_labels(names: list[str], counts: dict = PAPER_COUNTS) -> dict[str, str]:
    """Labels of the captioned figures/tables ``names`` given in book order (see module doc)."""
    labels, next_extra, errors = {}, {}, []
    for name in names:
        try:
            parsed = paper_label(name, counts)
        except LabelError as exc:
            errors.append(str(exc))
            continue
        if parsed:
            paper, kind, n = parsed
            labels[name] = f"{kind} {paper.upper()}{n}"
        else:
            m = ADDITION_NAME.match(name)
            kind, paper = KIND[m[1]], m[2]
            n = next_extra.get((paper, kind), counts[paper][kind]) + 1
            next_extra[(paper, kind)] = n
            labels[name] = f"{kind} {paper.upper()}{n} (book's addition)"
    seen: dict[str, str] = {}
    for name, label in labels.items():
        if label in seen:
            errors.append(f"{name!r} and {seen[label]!r} both give {label!r}")
        seen[label] = name
    if errors:
        raise LabelError("; ".join(errors))
    return labels


def _relabel(app, env) -> list[str]:
    """After Sphinx numbered the figures (``env-get-updated``), replace the numbers by labels."""

    order = []  # (docname, figtype, id) in book order: toc_fignumbers is filled walking the toc
    for docname, by_type in env.toc_fignumbers.items():
        doctree_ids = None
        entries = [(docname, figtype, fid) for figtype, ids in by_type.items() for fid in ids]
        if len(by_type) > 1:  # several node types in one page: sort them by position in the page
            doctree_ids = [
                i
                for node in env.get_doctree(docname).findall()
                if hasattr(node, "get")
                for i in node.get("ids", [])
            ]
            entries.sort(key=lambda e: doctree_ids.index(e[2]) if e[2] in doctree_ids else 0)
        order += entries
    figures = [e for e in order if e[1] in ("figure", "table")]
    logger = logging.getLogger(__name__)
    names = [fid for _, _, fid in figures]
    try:
        labels = assign_labels(names, app.config.repro_paper_counts)
    except LabelError as exc:
        logger.warning(f"figure/table labels: {exc}")
        labels = {}
    for docname, figtype, fid in figures:
        if fid in labels:
            env.toc_fignumbers[docname][figtype][fid] = (labels[fid],)
    return sorted({docname for docname, _, _ in figures})


def _copy_mathjax(app, exception) -> None:
    """Copy MathJax's es5 files into ``_static/mathjax`` of an HTML build (once per version)."""
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_source()
    dest = Path(app.outdir) / "_static" / "mathjax"
    stamp = dest / ".version"
    version = str(source)
    if stamp.is_file() and stamp.read_text() == version:
        return
    dest.mkdir(parents=True, exist_ok=True)
    for part in MATHJAX_PARTS:
        src = source / part
        if src.is_dir():
            shutil.copytree(src, dest / part, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dest / part)
    stamp.write_text(version)


def mathjax_source() -> Path:
    """The ``es5`` folder of MathJax 3 shipped by the ``django-static-mathjax`` package."""

    try:
        path = Path(str(files("mathjax"))) / "static" / "mathjax" / "es5"
    except ModuleNotFoundError:
        path = None
    if path is None or not (path / "tex-mml-chtml.js").is_file():
        raise ReproError(
            "MathJax is missing: install the pinned toolchain (make env, or "
            "pip install django-static-mathjax==3.2.2.1)."
        )
    return path


def setup(app):
    app.add_config_value("repro_paper_counts", PAPER_COUNTS, "env")
    app.connect("env-get-updated", _relabel, priority=900)
    app.connect("build-finished", _copy_mathjax)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
