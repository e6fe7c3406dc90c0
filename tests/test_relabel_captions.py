"""scripts/relabel_captions.py: the hand-typed caption labels give way to the :name: labels."""

import importlib.util

import nbformat

from helpers.core.config import REPO_ROOT

spec = importlib.util.spec_from_file_location("relabel", REPO_ROOT / "scripts" / "relabel_captions.py")
relabel = importlib.util.module_from_spec(spec)
spec.loader.exec_module(relabel)

CELL = """## Figure 3: two domains

```{glue:figure} a-fig3
:name: fig-a3
:figwidth: 75%

**Figure A3** (paper's Figure 3). Top: a photograph.
```

```{glue:figure} a-table1
:name: table-a1

**Table A1** (paper's Table I, all reviews). Accuracy.
```

```{glue:figure} b-x
:name: fig-a-curves

Curves of the book's own.
```
"""


def test_labels_are_dropped_and_headings_name_the_paper():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(CELL)])
    changed, problems = relabel.relabel_notebook(nb, "02_deepinsight")
    text = nb.cells[0].source
    assert changed and problems == []
    assert "## Figure A3: two domains" in text
    assert ":figwidth: 75%\n\nTop: a photograph.\n```" in text
    assert ":name: table-a1\n\n(all reviews). Accuracy.\n```" in text
    assert "**" not in text and "Curves of the book's own." in text
    assert relabel.relabel_notebook(nb, "02_deepinsight") == (False, [])


def test_disagreeing_labels_are_left_for_a_human():
    source = "```{glue:figure} b-fig6\n:name: fig-b6\n\n**Figure B6** (paper's Figures 6-7, image side). Acc.\n```\n"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(source)])
    changed, problems = relabel.relabel_notebook(nb, "06_finetune_encoders")
    assert not changed and nb.cells[0].source == source
    assert problems and "Figure B6" in problems[0]
