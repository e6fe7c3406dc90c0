"""Every result number in the book's prose has one source (issue 16): glued from a run, generated
from the record, or a paper fact of ``helpers/paper_a/facts.py`` / ``helpers/paper_b/facts.py``.

Fast: reads the markdown sources (notebook markdown cells and ``book/**/*.md``), executes nothing.
"""

from __future__ import annotations

import json

from helpers.book import prose
from helpers.core import config


def test_no_result_number_typed_into_prose():
    """Exercise solutions and recall answers included (issue 15's rule for solutions)."""
    found = prose.scan(config.REPO_ROOT)
    assert not found, "result numbers typed into prose (glue them, or make them paper facts):\n" + "\n".join(
        map(str, found)
    )


def _book(tmp_path, md: str, cell: str = ""):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "page.md").write_text(md)
    (tmp_path / "notebooks").mkdir()
    nb = {"cells": [{"cell_type": "markdown", "source": cell.splitlines(keepends=True), "metadata": {}}]}
    (tmp_path / "notebooks" / "09_x.ipynb").write_text(json.dumps(nb))
    return prose.scan(tmp_path)


def test_planted_numbers_fail_with_their_place(tmp_path):
    found = _book(
        tmp_path,
        "# Page\n\nThe run took 39.9 min.\n\nTop-1 reached 0.734, 2.6 times chance and 60-90 % of it.\n",
        "Intro.\n\n```{admonition} Answer\n:class: dropdown\nabout 11,789 images\n```\n",
    )
    got = {(f.place, f.kind, f.text) for f in found}
    assert got == {
        ("book/page.md:3", "duration", "39.9 min"),
        ("book/page.md:5", "decimal", "0.734"),
        ("book/page.md:5", "multiple", "2.6 times"),
        ("book/page.md:5", "percentage", "60-90 %"),
        ("notebooks/09_x.ipynb[cell 0]:5", "count", "11,789"),
    }


def test_glue_code_math_facts_and_labels_pass(tmp_path):
    md = (
        "# Page\n\nThis run: {glue:text}`a04-acc:.3f` against the paper's 0.81-0.82 and 0.19 "
        "(Table B1, Figure A3, section III.C, 2026-11-26, version 0.2.3, 50 x 50 pixels, "
        "2 seeds, 40,000 / 10,000 reviews, 80 %).\n\n"
        "`-p test_fraction 0.5` and $x = 0.25$\n\n```bash\npython -m x -p lr 0.123\n```\n\n"
        "% record:start\nrecorded: 39.9 min\n% record:end\n"
    )
    assert _book(tmp_path, md) == []


def test_a_number_in_an_exercise_solution_is_reported_and_a_section_can_be_skipped(tmp_path):
    md = "# Page\n\n## Exercises\n\n```{solution} ex-1\nIt moved to 0.725.\n```\n\n## After\n\nfine\n"
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "p.md").write_text(md)
    assert [f.text for f in prose.scan(tmp_path)] == ["0.725"]
    assert prose.scan(tmp_path, skip_sections=("Exercises",)) == []


def test_recorded_run_snippet_matches_the_record():
    from helpers.book import snippets
    from helpers.core import recorded

    assert snippets.RECORDED_RUN.read_text() == snippets.recorded_run_md(recorded.load("full")), (
        "run python -m helpers.record readme (or python -m helpers.book.snippets)"
    )


def test_the_recorded_run_snippet_names_each_notebook_computed_in_reduced_precision():
    from helpers.book import snippets

    nbs = {
        "03_feature_extractors": {"params": {"compute_dtype": "float32"}},
        "05_retrieval_data": {"params": {}},
        "06_finetune_encoders": {"params": {"compute_dtype": "bfloat16"}},
    }
    line = snippets.precision_line(nbs)
    assert "06 (bfloat16 autocast)" in line and "03" not in line and "05" not in line
    nbs["06_finetune_encoders"]["params"]["compute_dtype"] = "float32"
    assert snippets.precision_line(nbs) == "Numeric precision: float32 in every notebook."


def test_numbers_are_written_for_people_and_comparisons_by_their_numbers():
    import numpy as np

    from helpers.core import report

    assert [report.human(v) for v in (np.float64(1 / 6), np.int64(800), 2.0, 384.0, 1234.5)] == [
        "0.167",
        "800",
        "2",
        "384",
        "1,234",
    ]
    assert (
        report.compare_text("A", 0.3, "B", 0.1, more="sparser", less="denser")
        == "A (0.3) is sparser than B (0.1), 3 times"
    )
    assert report.compare_text("A", 0.1, "B", 0.3, more="sparser", less="denser").startswith(
        "A (0.1) is denser than B (0.3)"
    )
    assert "about the same as" in report.compare_text("A", 0.30, "B", 0.31, more="sparser", less="denser")
