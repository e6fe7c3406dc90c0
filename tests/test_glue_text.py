"""Glued text reaches the page as written (helpers/core/report.py, ``PlainText``).

``{glue:text}`` reads a glued ``text/plain`` back with ``ast.literal_eval`` before it formats it
(myst_nb.core.variables.format_plain_text), also with the format spec ``s`` that a cross-page
reference (``{glue:text}`path::key:s```) must carry: bare text such as ``1,000`` became ``(1, 0)``.
"""

import pytest
from myst_nb.core.variables import format_plain_text

from helpers.core import report


@pytest.mark.parametrize(
    "text", ["1,000", "40,000", "0.050", "300", "None", "quick", "80 / 20", "(a, b)", "it's"]
)
@pytest.mark.parametrize("fmt", ["s", ""])
def test_glued_text_is_pasted_unchanged(text, fmt):
    assert format_plain_text(repr(report.PlainText(text)), fmt) == text
