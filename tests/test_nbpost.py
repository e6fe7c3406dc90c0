"""helpers.book.nbpost (executed notebooks tidied for the book) and helpers.book.sphinxext (figure labels)."""

import nbformat
import pytest

from helpers.book import nbpost, sphinxext
from helpers.core import config


def _executed_like(tmp_path):
    """A notebook as papermill leaves it: parameters cell, injected cell, outputs with paths and a
    progress bar."""
    v4 = nbformat.v4
    params = v4.new_code_cell(
        'profile = "quick"\nseed = 0\nepochs = 10   # passes over the data\n',
        metadata={"tags": ["parameters"]},
    )
    injected = v4.new_code_cell(
        '# Parameters\nepochs = 1\nprofile = "smoke"\n', metadata={"tags": ["injected-parameters"]}
    )
    work = v4.new_code_cell("train()")
    art = config.artifact_root() / "01_bert_cls" / "abc"
    home_file = config.Path.home() / ".cache" / "torch" / "x.pth"
    work.outputs = [
        v4.new_output("stream", name="stdout", text=f"saved to {art}\n"),
        v4.new_output("stream", name="stderr", text="\rtrain:   0%|   | 0/3"),
        v4.new_output("stream", name="stderr", text="\rtrain:  67%|## | 2/3"),
        v4.new_output("stream", name="stderr", text="\rtrain: 100%|###| 3/3\n"),
        v4.new_output(
            "display_data",
            data={"text/plain": f"weights not found at {home_file}", "image/png": "iVBORw0/root/AAA"},
        ),
        v4.new_output(
            "error",
            ename="ReproError",
            evalue=f"missing {config.REPO_ROOT}/x",
            traceback=[f"File {config.REPO_ROOT}/helpers/book/run.py"],
        ),
    ]
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# T"), params, injected, work])
    return nb


def test_clean_executed_hides_parameter_cells_and_shows_one_box(tmp_path):
    nb = nbpost.clean_executed(_executed_like(tmp_path), "04_sentiment_training")
    params, injected, box = nb.cells[1], nb.cells[2], nb.cells[3]
    assert "remove-cell" in params.metadata.tags and "remove-cell" in injected.metadata.tags
    assert box.cell_type == "markdown" and nbpost.BOX_TAG in box.metadata.tags
    assert "profile `smoke`" in box.source and ":class: dropdown" in box.source
    assert "| `epochs` | `1` * | passes over the data |" in box.source
    assert "| `seed` | `0` |" in box.source
    assert "python -m helpers.run 04 --profile smoke -p NAME VALUE" in box.source
    again = nbpost.clean_executed(nb, "04_sentiment_training")
    assert sum(nbpost.BOX_TAG in c.metadata.get("tags", []) for c in again.cells) == 1
    assert again.cells[1].metadata.tags.count("remove-cell") == 1


def test_clean_executed_removes_local_paths_but_not_image_data(tmp_path):
    nb = nbpost.clean_executed(_executed_like(tmp_path))
    outs = nb.cells[-1].outputs
    text = nbformat.writes(nb)
    for path in (str(config.REPO_ROOT), str(config.artifact_root()), str(config.Path.home()) + "/"):
        assert path not in text.replace("iVBORw0/root/AAA", "")
    assert outs[0].text == "saved to <artifacts>/01_bert_cls/abc\n"
    assert outs[2].data["text/plain"] == "weights not found at ~/.cache/torch/x.pth"
    assert outs[2].data["image/png"] == "iVBORw0/root/AAA"
    assert outs[3].evalue == "missing <repo>/x" and outs[3].traceback == ["File <repo>/helpers/book/run.py"]


def test_progress_bars_keep_their_last_state():
    nb = nbpost.clean_executed(_executed_like(None))
    streams = [o for o in nb.cells[-1].outputs if o.output_type == "stream"]
    assert [o.name for o in streams] == ["stdout", "stderr"]
    assert streams[1].text == "train: 100%|###| 3/3\n"
    cleared = nbpost.terminal_text("epoch 1\r       \r\nloss 0.5\n")
    assert cleared == "loss 0.5\n"
    assert nbpost.terminal_text("abcdef\rXY") == "XYcdef"


def test_scrub_text_leaves_longer_names_alone():
    pairs = [("/work/repo", "<repo>")]
    assert nbpost.scrub_text("/work/repo/a and /work/repo-old/b", pairs) == "<repo>/a and /work/repo-old/b"


def test_labels_name_the_papers_figures_and_mark_additions():
    names = ["fig-a1", "fig-a-curves", "table-a1", "table-a-probes", "fig-b7", "fig-b-text", "table-b-x"]
    assert sphinxext.assign_labels(names) == {
        "fig-a1": "Figure A1",
        "fig-a-curves": "Figure A7 (book's addition)",
        "table-a1": "Table A1",
        "table-a-probes": "Table A2 (book's addition)",
        "fig-b7": "Figure B7",
        "fig-b-text": "Figure B11 (book's addition)",
        "table-b-x": "Table B3 (book's addition)",
    }


@pytest.mark.parametrize("names", [["fig-a7"], ["table-b3"], ["figure-1"], ["fig-a1", "fig-a1x"], ["id3"]])
def test_labels_refuse_names_outside_the_convention(names):
    with pytest.raises(sphinxext.LabelError):
        sphinxext.assign_labels(names)


def test_mathjax_is_shipped_by_an_installed_package():
    es5 = sphinxext.mathjax_source()
    assert (es5 / "tex-mml-chtml.js").stat().st_size > 500_000
    assert (es5 / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_parameters_box_keeps_whole_comments_reads_multiline_defaults_and_stars_only_changes():
    v4 = nbformat.v4
    params = v4.new_code_cell(
        'profile = "quick"\nseed = 0\nrecipes = [\n    "book",\n    "paper",\n]  # training recipes\n'
        'split = "leakfree"  # "leakfree": official test apart;\n# "paper": random 80/20, no test part\n'
        "lr_classifier = None\n",
        metadata={"tags": ["parameters"]},
    )
    injected = v4.new_code_cell(
        '# Parameters\nprofile = "smoke"\nrecipes = ["book", "paper"]\nsplit = "paper"\n',
        metadata={"tags": ["injected-parameters"]},
    )
    nb = v4.new_notebook(cells=[params, injected])
    rows = {
        name: (value, meaning, changed) for name, value, meaning, changed in nbpost.parameters_in_effect(nb)
    }
    assert rows["recipes"] == ('["book", "paper"]', "training recipes", False)
    assert rows["split"] == (
        '"paper"',
        '"leakfree": official test apart; "paper": random 80/20, no test part',
        True,
    )
    assert rows["profile"][2] is True and rows["seed"][2] is False
    assert rows["seed"][:2] == ("0", nbpost.COMMON_MEANINGS["seed"])
    assert rows["lr_classifier"][1] == "", "no comment and no common meaning"


def test_every_notebook_parameter_has_a_meaning():
    missing = []
    for path in sorted((config.REPO_ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        missing += [
            f"{path.stem}: {name}" for name, _, meaning, _ in nbpost.parameters_in_effect(nb) if not meaning
        ]
    assert not missing, "parameters without a comment in the parameters cell: " + ", ".join(missing)
