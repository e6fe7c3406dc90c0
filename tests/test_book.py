"""Every notebook executes in the smoke profile and the book builds with -W (slow)."""
import re

import pytest

from helpers import run

pytestmark = pytest.mark.slow

PAPER_FIGURES = [f"fig-a{i}" for i in range(1, 7)] + [f"fig-b{i}" for i in range(1, 11)]
PAPER_TABLES = ["table-a1", "table-b1", "table-b2"]


@pytest.fixture(scope="module")
def book_root(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("book")
    mp = pytest.MonkeyPatch()
    mp.setenv("REPRO_ARTIFACTS", str(root / "_artifacts"))
    mp.setenv("REPRO_EXECUTED", str(root / "book" / "executed"))
    run.copy_book_sources(root)
    try:
        yield root
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def executed(book_root):
    """Execute 01-08 in order (later notebooks read earlier artifacts) on the real shared data."""
    return run.execute_many(run.notebooks(), "smoke", {}, out_dir=book_root / "book" / "executed")


@pytest.mark.parametrize("index", range(8), ids=[f"nb{i + 1:02d}" for i in range(8)])
def test_notebook_executes_in_smoke_profile(executed, index):
    import nbformat

    nb = nbformat.read(executed[index], as_version=4)
    assert nb.metadata["repro"]["params"]["profile"] == "smoke"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    glued = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if o.get("metadata", {}).get("scrapbook")]
    assert glued, "every notebook glues at least one figure or table"


def test_book_builds_with_every_figure_and_table(executed, book_root):
    html = run.build_book(book_root)
    pages = {p.stem: p.read_text() for p in (html.parent / "book" / "executed").glob("*.html")}
    assert sorted(pages) == [p.stem for p in executed]
    text = "\n".join(pages.values())
    ids = set(re.findall(r'id="([^"]+)"', text))
    missing = [name for name in PAPER_FIGURES + PAPER_TABLES if name not in ids]
    assert not missing, f"figures/tables missing from the book: {missing}"
    assert (html.parent / "book" / "intro.html").is_file()
