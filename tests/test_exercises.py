"""Teaching parts of every notebook (issue 15): objectives, labelled exercises with folded solutions,
summary and recall questions; no solution quotes a result number that is not glued; the student
edition (`make student`) has no answer left and runs clean in the smoke profile."""

import re
import subprocess

import nbformat
import pytest

from helpers.book import run, student
from helpers.core.config import REPO_ROOT

NOTEBOOKS = run.notebooks()

# A result number: a decimal (0.725), a number with a thousands separator (1,716) or a percentage
# (3 %). Integers of the set-up (50 x 50 pixels, layers 7-12, 20 epochs) are not results. Allowed
# where the build supplies the number: glued ({glue:text}`key`, {glue}`key`), or a parameter value in
# inline code (`0.01`); roles and math do not count either.
RESULT_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+|\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?\s?%)")
ALLOWED = re.compile(r"\{glue(?::\w+)?\}`[^`]*`|\{\w+(?::\w+)?\}`[^`]*`|`[^`]*`|\$[^$]*\$")


def unglued_numbers(solution: str) -> list[str]:
    """The result numbers of a solution's text that are neither glued nor code."""
    body = "\n".join(l for l in solution.splitlines()[1:-1] if not re.match(r"\s*:\w[\w-]*:", l))
    return RESULT_NUMBER.findall(ALLOWED.sub(" ", body))


def _markdown(path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def test_the_number_check_finds_a_planted_result_number():
    planted = "````{solution} ex-a02-x\n:class: dropdown\n\nThe probe fell to 0.725 (1,716 empty).\n````"
    assert unglued_numbers(planted) == ["0.725", "1,716"]
    fine = (
        "````{solution} ex-a02-x\n:class: dropdown\n\nWith `0.01` the probe rose to "
        "{glue:text}`a02-ex-probe:.3f`, on a 50 x 50 grid, layers 7-12.\n````"
    )
    assert unglued_numbers(fine) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_has_objectives_exercises_summary_and_recall(path):
    cells = _markdown(path)
    nn = path.name[:2]
    assert "```{admonition} What you will learn" in cells[1], "objectives box right under the title"
    text = "\n\n".join(cells)
    labels = re.findall(r"^`{3,}\{exercise\}.*\n:label: (ex-[ab]\d\d-[\w-]+)$", text, re.M)
    assert labels, "no labelled {exercise}"
    assert all(label.startswith(f"ex-{'a' if int(nn) <= 4 else 'b'}{nn}-") for label in labels)
    solved = re.findall(r"^`{3,}\{solution\} (ex-[\w-]+)\n(?::[\w-]+:.*\n)*:class: dropdown$", text, re.M)
    assert sorted(solved) == sorted(labels), "every exercise has one folded solution"
    exercises = re.findall(r"^````\{exercise\}.*?^````$", text, re.M | re.S)
    for ex in exercises:
        assert "parameters cell" in ex and "Run All" in ex, "the JupyterLab way is named"
        assert re.search(r"python -m helpers\.run \d\d --profile quick -p \w+ ", ex), "the shell way is named"
    assert "Try this" not in text
    summary = next(c for c in cells if c.startswith("## Summary"))
    assert summary.count("\n* ") >= 3
    recall = next(c for c in cells if c.startswith("## Recall questions"))
    assert 4 <= recall.count("```{dropdown} Answer") <= 6
    assert cells[-1] is recall, "the chapter ends with its recall questions"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_solution_holds_an_unglued_result_number(path):
    for source in _markdown(path):
        for _, _, block in student.answer_blocks(source):
            assert not unglued_numbers(block), (
                f"{path.name}: a solution quotes {unglued_numbers(block)}; glue the number from a build "
                f"that ran the exercise ({{glue:text}}) or state only the direction:\n{block[:300]}"
            )


def test_exercise_parameters_exist_in_the_parameters_cell():
    for path in NOTEBOOKS:
        text = "\n".join(_markdown(path))
        for ex in re.findall(r"^````\{exercise\}.*?^````$", text, re.M | re.S):
            line = re.search(
                r"python -m helpers\.run (\d\d) --profile quick((?: -p \S+ \S+(?: \S+)*?)+)`", ex
            )
            assert line, ex
            target = run.select([line[1]])[0]
            names = re.findall(r"-p (\w+) ", line[2])
            have = set(run.declared_parameters(target))
            assert set(names) <= have, f"{path.name}: {set(names) - have} not parameters of {target.name}"
            for name in names:
                assert f"`{name} = " in ex, f"{path.name}: JupyterLab way for {name} missing"


def test_student_edition_has_no_answers(tmp_path):
    written = student.write_edition(tmp_path)
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    for source, out in zip(NOTEBOOKS, written):
        nb, orig = nbformat.read(out, as_version=4), nbformat.read(source, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "{solution}" not in text and "{dropdown} Answer" not in text
        assert not any(student.answer_blocks(c.source) for c in nb.cells if c.cell_type == "markdown")
        assert "{exercise}" in text and "## Recall questions" in text, "the questions stay"
        assert [c.source for c in nb.cells if c.cell_type == "code"] == [
            c.source for c in orig.cells if c.cell_type == "code"
        ], "code cells unchanged"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_student_edition_drops_tagged_answer_cells_and_nested_fences():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "Q?\n\n````{solution} ex-a01-x\n:class: dropdown\n\n```python\nx = 1\n```\nmore\n````\n\nafter"
        ),
        nbformat.v4.new_code_cell("answer = 42", metadata={"tags": ["answer"]}),
        nbformat.v4.new_markdown_cell("```{dropdown} Answer\nsecret\n```"),
        nbformat.v4.new_markdown_cell("```{dropdown} More detail\nkept\n```"),
    ]
    out = student.student_notebook(nb)
    assert [c.source for c in out.cells] == ["Q?\n\nafter", "```{dropdown} More detail\nkept\n```"]


def test_make_student_writes_the_edition(tmp_path):
    out = subprocess.run(
        ["make", "-n", "student", f"STUDENT_DIR={tmp_path}"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert f"-m helpers.book.student {tmp_path}" in out.stdout
    assert "student/" in (REPO_ROOT / ".gitignore").read_text().split()


@pytest.mark.slow
def test_student_edition_runs_clean_in_smoke(tmp_path, monkeypatch, shared_data):
    """CI: the eight student notebooks execute in the smoke profile, and no answer comes back."""
    edition = tmp_path / "student"
    student.write_edition(edition)
    monkeypatch.setenv("REPRO_ARTIFACTS", str(tmp_path / "_artifacts"))
    executed = run.execute_many(run.notebooks(edition), "smoke", {}, out_dir=tmp_path / "executed", jobs=2)
    assert len(executed) == 8
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        errors = [
            o
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.output_type == "error"
        ]
        assert not errors, f"{path.name}: {errors[0]['evalue']}"
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "{solution}" not in text and "{dropdown} Answer" not in text
