"""The step API (helpers/core/step.py): one object keyed by every parameter of a notebook plus its
code; stores and reads back what a step saves; atomic; and every notebook uses it."""

import ast

import numpy as np
import pandas as pd
import pytest

from helpers.book.notebook_graph import declared_parameters
from helpers.core import artifacts, codekey
from helpers.core import step as step_api
from helpers.core.errors import ReproError

NOTEBOOKS = sorted(codekey.notebook_dir().glob("[0-9][0-9]_*.ipynb"))


def _write_notebook(folder, name, parameters):
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, folder / f"{name}.ipynb")


def test_save_and_load_every_kind_of_value(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_NOTEBOOKS", str(tmp_path))
    _write_notebook(tmp_path, "09_x", 'profile = "smoke"\nrun = ""\nn = 3\n')
    namespace = {"profile": "smoke", "run": "smoke", "n": 3}
    step = step_api.Step("09_x", namespace, root=tmp_path / "store")
    assert step.missing and step.params == {"n": 3}
    table = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    step.save(arr=np.arange(4, dtype=np.float32), table=table, meta={"k": [1, 2]}, note="hi")
    again = step_api.Step("09_x", namespace, root=tmp_path / "store")
    assert not again.missing and again.key == step.key
    assert again.load("arr").dtype == np.float32 and again.load("arr").tolist() == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(again.load("table"), table)
    assert again.load("meta") == {"k": [1, 2]} and again.load("note") == "hi"
    assert artifacts.latest("smoke", "09_x", root=tmp_path / "store") == again.path
    with pytest.raises(ReproError, match="no 'absent'.*arr, meta, note, table"):
        again.load("absent")
    other = step_api.Step("09_x", {**namespace, "n": 4}, root=tmp_path / "store")
    assert other.missing and other.key != step.key
    with pytest.raises(ReproError, match="not finished"):
        other.load("arr")


def test_an_interrupted_save_leaves_no_step(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_NOTEBOOKS", str(tmp_path))
    _write_notebook(tmp_path, "09_x", 'run = ""\nn = 3\n')
    step = step_api.Step("09_x", {"run": "r", "n": 3}, root=tmp_path)
    with pytest.raises(ReproError, match="Cannot store 'bad'"):
        step.save(ok=np.zeros(2), bad=object())
    assert step.missing and not any(
        p.name.startswith(".") and "tmp" in p.name for p in step.path.parent.iterdir()
    )


def _changed(value):
    """A different value of the same kind as a parameter's default."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "-changed"
    if isinstance(value, (list, tuple)):
        return [*value, value[0] if value else 1]
    return 1  # None


def _step_calls(path):
    return [
        node
        for tree in codekey.notebook_cells(path)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "step_api.Step"
    ]


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if _step_calls(p)], ids=lambda p: p.stem)
def test_every_parameter_changes_the_key(path):
    """A `-p NAME VALUE` re-run must never find the old artifact (seed included); only the
    placement parameters are left out. The notebook builds its key from globals(), not from a
    hand-written list."""
    for call in _step_calls(path):
        assert ast.unparse(call.args[1]) == "globals()", ast.unparse(call)
    name = ast.literal_eval(_step_calls(path)[0].args[0])
    declared = {n: ast.literal_eval(p.default) for n, p in declared_parameters(path).items()}
    assert artifacts.parameter_names(path) == list(declared)
    base = artifacts.params_key(artifacts.notebook_params(name, declared))
    for param in set(declared) - set(artifacts.PLACEMENT):
        key = artifacts.params_key(
            artifacts.notebook_params(name, {**declared, param: _changed(declared[param])})
        )
        assert key != base, f"changing {param} of {path.stem} keeps its artifact key"
    for param in set(artifacts.PLACEMENT) & set(declared):
        key = artifacts.params_key(
            artifacts.notebook_params(name, {**declared, param: _changed(declared[param])})
        )
        assert key == base, f"{param} only places a run, yet it changes the key of {path.stem}"


def test_notebook_02_keys_its_step_with_every_parameter():
    assert _step_calls(codekey.notebook_dir() / "02_deepinsight.ipynb")


FOLDED = {"parameters", "remove-cell", "remove-input", "hide-input"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_visible_code_cells_are_short_and_steps_are_keyed_by_the_api(path):
    """What a reader sees of a notebook is the science: every code cell shown on the page is at
    most 20 lines (setup and figure code is folded), and no notebook builds an artifact or its
    parameters by hand (``artifacts.Artifact`` / ``notebook_params``): ``step_api.Step`` keys it
    with every parameter."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or FOLDED & set(cell.metadata.get("tags", [])):
            continue
        n = len(cell.source.strip().splitlines())
        assert n <= 20, f"{path.stem} cell {i} shows {n} lines of code (at most 20)"
    calls = {
        ast.unparse(node.func)
        for tree in codekey.notebook_cells(path)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    assert not calls & {"artifacts.Artifact", "artifacts.notebook_params"}, path.stem
