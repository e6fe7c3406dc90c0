"""The `paper` profile through all eight notebooks on CPU, with stand-ins and tiny data (slow).

Covers what the smoke and quick profiles never run: 512-token encoding (01), notebook 03 without a
feature cache and notebook 04's end-to-end training from the images through the frozen slices,
the paper's recipes (04), full input sizes without freezing (06), and the paper's k-d tree search
(07). The tiny-data overrides are in tests/paper_path.yml, one block per notebook; the book's
number checks (helpers.book.checks) run on the result.
"""

from pathlib import Path

import pytest
import yaml

from helpers.book import checks, run
from helpers.core import artifacts

pytestmark = pytest.mark.slow

OVERRIDES = Path(__file__).with_name("paper_path.yml")


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("paper")
    mp = pytest.MonkeyPatch()
    mp.setenv("REPRO_ARTIFACTS", str(root / "_artifacts"))
    overrides = yaml.safe_load(OVERRIDES.read_text())
    outputs = {}
    try:
        for nb in run.notebooks():
            params = {**run.profile_parameters(nb.stem, "paper"), **(overrides.get(nb.stem) or {})}
            out, _ = run.execute(nb, params, out_dir=root / "executed")
            outputs[nb.stem] = out
        yield outputs
    finally:
        mp.undo()


def test_overrides_name_real_parameters():
    overrides = yaml.safe_load(OVERRIDES.read_text())
    assert sorted(overrides) == [nb.stem for nb in run.notebooks()]
    for nb in run.notebooks():
        run.check_parameters(nb, {**run.profile_parameters(nb.stem, "paper"), **(overrides[nb.stem] or {})})


def test_paper_profile_runs_every_notebook(paper_run):
    import nbformat

    assert len(paper_run) == 8
    for stem, out in paper_run.items():
        nb = nbformat.read(out, as_version=4)
        assert nb.metadata["repro"]["params"]["profile"] == "paper", stem
    p03 = nbformat.read(paper_run["03_feature_extractors"], as_version=4).metadata["repro"]["params"]
    assert p03["cache_features"] is False  # 04 trained end to end from the images
    assert (
        nbformat.read(paper_run["01_bert_cls"], as_version=4).metadata["repro"]["params"]["max_length"] == 512
    )


def test_paper_profile_numbers_pass_the_checks(paper_run):
    arts = {s: artifacts.latest("paper", s) for s in ("04_sentiment_training", "07_retrieval")}
    problems = checks.book_problems(paper_run, arts)
    assert not problems, "\n".join(problems)
