"""What the book shows: figure style, glued figures and tables, the "models used" table.

Used by every notebook (CONTRIBUTING.md, "Figures and tables").
"""

from __future__ import annotations

import html
import math
import numbers
from contextlib import contextmanager
from typing import Iterable

import pandas as pd

from helpers.core.weights import ModelChoice

PAPER_RC = {
    "font.family": "serif",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
}


@contextmanager
def paper_style():
    """Matplotlib settings that make figures look like the papers' (serif, small, no box)."""
    import matplotlib.pyplot as plt

    with plt.rc_context(PAPER_RC):
        yield


def _glue(name: str, obj, display: bool) -> None:
    try:
        # lazy: myst_nb pulls in Sphinx; only a notebook's glue needs it
        from myst_nb import glue
    except ImportError:  # pragma: no cover - myst-nb is a dependency
        return
    glue(name, obj, display=display)


def glue_figure(name: str, fig, display: bool = False) -> None:
    """Glue a matplotlib figure under ``name`` (shown by ``{glue:figure}``) and close it.

    The figure's label comes from the directive's ``:name:`` (``fig-b1`` -> "Figure B1", see
    CONTRIBUTING.md "Figures and tables" and ``helpers/book/sphinxext.py``), never from its caption."""
    import matplotlib.pyplot as plt

    _glue(name, fig, display)
    plt.close(fig)


def human(x) -> str:
    """A number as a reader wants it: integers (``np.int64(800)``, a seed ``2.0``, a dimension
    ``384.0``) as integers, other numbers to three significant digits (``0.16666666666666663`` ->
    ``0.167``; from 100 on rounded to an integer), never a numpy repr; anything else as ``str``."""
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, numbers.Integral):
        return f"{int(x)}"
    if isinstance(x, numbers.Real):
        x = float(x)
        if math.isnan(x):
            return "–"
        if x.is_integer() and abs(x) < 1e15:
            return f"{int(x)}"
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
    return str(x)


def human_table(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every number (cells and index) written by :func:`human`."""
    out = df.copy().astype(object).map(lambda v: human(v) if isinstance(v, numbers.Number) else v)
    if not isinstance(out.index, pd.MultiIndex) and out.index.dtype.kind in "iuf":
        out.index = [human(v) for v in out.index]
    return out


def compare_text(
    a_label: str, a: float, b_label: str, b: float, *, more: str, less: str, same: str = "about the same"
) -> str:
    """A comparison said by the numbers it compares: ``"TF-IDF (0.41) is more concentrated than
    DistilBERT (0.12), 3.4 times"``; ``same`` within 5 %.  ``more`` / ``less`` are the adjectives
    for ``a > b`` / ``a < b`` ("sparser", "better")."""
    if any(math.isnan(float(v)) for v in (a, b)):
        return f"{a_label} ({human(a)}) and {b_label} ({human(b)}) cannot be compared"
    if abs(a - b) <= 0.05 * max(abs(a), abs(b)):
        return f"{a_label} ({human(a)}) is {same} as {b_label} ({human(b)})"
    word = more if a > b else less
    hi, lo = max(abs(a), abs(b)), min(abs(a), abs(b))
    ratio = f", {hi / lo:.2g} times" if lo > 0 and hi / lo >= 1.5 and a * b > 0 else ""
    return f"{a_label} ({human(a)}) is {word} than {b_label} ({human(b)}){ratio}"


def glue_table(name: str, df: pd.DataFrame, display: bool = False) -> None:
    """Glue a DataFrame under ``name``, shown by ``{glue:figure}`` with ``:name: table-b1``
    ("Table B1": counted as a table, captioned above) or inline by ``{glue}``; its numbers are
    written for people (:func:`human`).  A numbered table is shown once: do not also display it."""
    _glue(name, human_table(df), display)


def glue_value(name: str, value, display: bool = False) -> None:
    """Glue a number or short text for inline use with ``{glue:text}``."""
    _glue(name, value, display)


def glue_text(name: str, text: str) -> None:
    """Glue a short text for ``{glue:text}`` in a caption, shown without quotes."""
    _glue(name, PlainText(text), False)


def glue_markdown(name: str, text: str) -> None:
    """Glue a Markdown paragraph (or several) under ``name``, pasted by ``{glue:md}`` with
    ``:format: myst`` (for example :func:`helpers.book.answers.paper_a`)."""
    from IPython.display import Markdown

    _glue(name, Markdown(text), False)


def models_table(choices: Iterable[ModelChoice]) -> pd.DataFrame:
    """One row per model: what the paper used, what ran here, with which weights and why."""
    rows = [c.as_row() for c in choices]
    df = pd.DataFrame(rows, columns=["requested", "used", "is_standin", "weights", "reason"])
    return df.rename(
        columns={
            "requested": "paper's model",
            "used": "model that ran",
            "is_standin": "stand-in?",
            "weights": "weights",
            "reason": "why",
        }
    )


#: marks the HTML of a :class:`StackedTable` (``helpers.book.checks`` reads it back)
STACKED_CLASS = "repro-stacked"


class StackedTable:
    """A table in column groups (Tables A1, B1, B2: paper | recorded run | this build) shown as
    one table per group, stacked, each with the rows' index, so that no numbered table needs
    sideways scrolling; its numbers are written by :func:`human`."""

    def __init__(self, df: pd.DataFrame, max_columns: int = 5):
        self.df = human_table(df)
        self.max_columns = max_columns

    def _repr_html_(self) -> str:
        parts = []
        for group in dict.fromkeys(self.df.columns.get_level_values(0)):
            part = self.df[group]
            n = self.max_columns
            for k in range(0, max(len(part.columns), 1), n):
                more = '<span class="repro-more"> (continued)</span>' if k else ""
                parts.append(
                    f'<p class="repro-group">{html.escape(str(group))}{more}</p>'
                    + part.iloc[:, k : k + n].to_html(classes="dataframe", border=0, na_rep="–")
                )
        return f'<div class="{STACKED_CLASS}">' + "".join(parts) + "</div>"

    def __repr__(self) -> str:
        return self.df.to_string()


def glue_stacked_table(name: str, df: pd.DataFrame) -> None:
    """Glue a table in column groups as a :class:`StackedTable` (one table per group)."""
    _glue(name, StackedTable(df), False)


class PlainText:
    """A short text for ``{glue:text}``, pasted exactly as written.

    Its representation is a Python string literal (``'1,000'``): ``{glue:text}`` reads the glued
    ``text/plain`` back with ``ast.literal_eval`` before formatting it, which strips the quotes of
    a literal but turns bare text into something else (``1,000`` into the tuple ``(1, 0)``,
    ``0.050`` into ``0.05``)."""

    def __init__(self, text: str):
        self.text = str(text)

    def __repr__(self) -> str:
        return repr(self.text)
