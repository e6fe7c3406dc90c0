"""What the book shows: figure style, glued figures and tables, the "models used" table.

Used by every notebook (CONTRIBUTING.md, "Figures and tables").
"""

from __future__ import annotations

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


def glue_table(name: str, df: pd.DataFrame, display: bool = False) -> None:
    """Glue a DataFrame under ``name``, shown by ``{glue:figure}`` with ``:name: table-b1``
    ("Table B1": counted as a table, captioned above) or inline by ``{glue}``."""
    _glue(name, df, display)


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
