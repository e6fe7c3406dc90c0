"""Artifacts keyed by the code that made them (helpers/core/codekey.py, helpers/core/artifacts.py).

Small generated helper packages and notebooks in temporary folders, plus the real notebooks
against a copy of the real helper package.
"""

import shutil
import textwrap

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers.book import run
from helpers.core import artifacts, codekey

ALPHA = '''
"""Module alpha."""
from .beta import g


def f(x):
    """Double, then g."""
    return g(x * 2)   # a comment


def h(x):
    return x - 1
'''
BETA = """
from . import gamma

SCALE = 3


def g(x):
    return x * SCALE
"""
GAMMA = """
def unrelated(x):
    return x + 100
"""
NB_A = [
    "from helpers import alpha\nfrom helpers import artifacts",
    "value = alpha.f(2)",
    "art = artifacts.Artifact('01_a', {'n': 1}, run='r')\nwith art.build() as tmp:\n    pass",
    "print(alpha.h(value))   # after the build: cannot change the artifact",
]
NB_B = [
    "from helpers.beta import g\nfrom helpers import artifacts",
    "up = artifacts.latest('r', '01_a')\nart = artifacts.Artifact('02_b', {}, run='r', upstream=[up])\n"
    "with art.build() as tmp:\n    pass",
]


def _notebook(path, cells):
    nb = new_notebook(cells=[new_markdown_cell("# fake")] + [new_code_cell(c) for c in cells])
    nbformat.write(nb, path)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake ``helpers`` package (alpha -> beta -> nothing; gamma unused) and two notebooks."""
    pkg = tmp_path / "helpers"
    pkg.mkdir()
    for name, text in {"__init__": '"""Fake."""\n', "alpha": ALPHA, "beta": BETA, "gamma": GAMMA}.items():
        (pkg / f"{name}.py").write_text(textwrap.dedent(text))
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(nbs / "01_a.ipynb", NB_A)
    _notebook(nbs / "02_b.ipynb", NB_B)
    monkeypatch.setattr(codekey, "PACKAGE_DIR", pkg)
    monkeypatch.setenv("REPRO_NOTEBOOKS", str(nbs))
    return pkg, nbs, tmp_path / "store"


def _keys(store):
    """Keys of 01_a and of 02_b, which reads 01_a's artifact (upstream)."""
    a = artifacts.Artifact("01_a", {"n": 1}, run="r", root=store)
    b = artifacts.Artifact("02_b", {}, run="r", upstream=[a.path], root=store)
    return a.key, b.key


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_dependencies_are_followed_function_by_function(fake):
    pkg, nbs, _ = fake
    deps = {d for d in codekey.notebook_dependencies(nbs / "01_a.ipynb") if d[0] != "__init__"}
    assert deps == {("alpha", "f"), ("beta", "g"), ("beta", "SCALE")}  # not h, not gamma
    deps_all = codekey.notebook_dependencies(nbs / "01_a.ipynb", until_last_build=False)
    assert ("alpha", "h") in deps_all  # used after the build: the runner's cache counts it


def test_changing_a_used_function_changes_its_notebook_and_every_downstream_key(fake):
    pkg, nbs, store = fake
    a0, b0 = _keys(store)
    _edit(pkg / "beta.py", "SCALE = 3", "SCALE = 4")  # reached through alpha.f -> beta.g
    a1, b1 = _keys(store)
    assert a1 != a0 and b1 != b0
    _edit(pkg / "alpha.py", "x * 2", "x * 5")
    a2, b2 = _keys(store)
    assert a2 != a1 and b2 != b1


def test_changing_notebook_code_changes_the_key_but_cells_after_the_build_do_not(fake):
    pkg, nbs, store = fake
    a0, _ = _keys(store)
    _notebook(nbs / "01_a.ipynb", NB_A[:-1] + ["print('a figure only', alpha.h(value))"])
    assert _keys(store)[0] == a0
    _notebook(nbs / "01_a.ipynb", [NB_A[0], "value = alpha.f(3)"] + NB_A[2:])
    assert _keys(store)[0] != a0


def test_unrelated_code_and_docstring_or_comment_edits_change_nothing(fake):
    pkg, nbs, store = fake
    before = _keys(store)
    _edit(pkg / "gamma.py", "x + 100", "x + 101")  # a module nobody uses
    _edit(pkg / "alpha.py", "return x - 1", "return x - 2")  # a function 01_a uses only after its build
    _edit(pkg / "alpha.py", '"""Double, then g."""', '"""Double the input, then apply g (edited)."""')
    _edit(pkg / "alpha.py", "# a comment", "# another comment\n    # and one more line")
    _edit(pkg / "alpha.py", '"""Module alpha."""', '"""Module alpha, documented at length."""')
    (pkg / "delta.py").write_text("def new():\n    return 1\n")  # a new module
    assert _keys(store) == before


def test_an_artifact_without_a_notebook_is_keyed_by_parameters(fake, tmp_path):
    a = artifacts.Artifact("09_none", {"n": 1}, run="r", root=tmp_path)
    assert a.code is None and a.key == artifacts.params_key({"n": 1})
    b = artifacts.Artifact("01_a/sub", {"n": 1}, run="r", root=tmp_path)  # sub-step: 01_a.ipynb
    assert b.code == codekey.notebook_code_key(fake[1] / "01_a.ipynb")
    with b.build():
        pass
    assert b.metadata()["code"] == b.code


def test_magics_and_injected_parameters_do_not_break_or_change_the_key(fake):
    pkg, nbs, store = fake
    a0, _ = _keys(store)
    nb = nbformat.read(nbs / "01_a.ipynb", as_version=4)
    nb.cells.insert(1, new_code_cell("profile = 'smoke'", metadata={"tags": ["injected-parameters"]}))
    nbformat.write(nb, nbs / "01_a.ipynb")
    assert _keys(store)[0] == a0
    nb.cells.insert(1, new_code_cell("%matplotlib inline\n!ls"))
    nbformat.write(nb, nbs / "01_a.ipynb")
    assert _keys(store)[0] != a0  # a new cell is new code, and it parses


# --------------------------------------------------------------------------- the real notebooks


@pytest.fixture
def real_copy(tmp_path, monkeypatch):
    """A copy of the real helper package, used by the code keys of the real notebooks."""
    pkg = tmp_path / "helpers"
    shutil.copytree(codekey.PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(codekey, "PACKAGE_DIR", pkg)
    monkeypatch.delenv("REPRO_NOTEBOOKS", raising=False)
    return pkg


def _real_keys():
    return {nb.stem: codekey.notebook_code_key(nb) for nb in run.notebooks()}


def test_real_notebooks_depend_on_the_helpers_they_call(real_copy):
    nbs = {nb.stem: nb for nb in run.notebooks()}
    if "04_sentiment_training" not in nbs:
        pytest.skip("notebook 04 not present")
    deps = codekey.notebook_dependencies(nbs["04_sentiment_training"])
    assert ("paper_a.sentiment_model", "train_head") in deps
    assert ("models.training", "fit") in deps  # reached through sentiment_model, not named in 04
    assert not any(m == "data.cub" for m, _ in deps)
    assert not any(s in {"Artifact", "latest"} for _, s in deps)  # the store's plumbing is left out


def test_real_notebooks_keys_follow_a_helper_change(real_copy):
    before = _real_keys()
    fit_doc = '"""Train ``model`` for ``epochs`` epochs; returns the history dict.'
    _edit(real_copy / "models" / "training.py", fit_doc, fit_doc + " (an edited docstring)")
    _edit(
        real_copy / "models" / "training.py",
        "    loss_fn = loss_fn or nn.CrossEntropyLoss()\n    device = pick_device(device)\n"
        "    model.to(device)\n",
        "    # a new comment\n    loss_fn = loss_fn or nn.CrossEntropyLoss()\n"
        "    device = pick_device(device)\n    model.to(device)\n",
    )
    assert _real_keys() == before
    helpers_before = {nb.stem: run.helpers_fingerprint(nb) for nb in run.notebooks()}

    _edit(real_copy / "models" / "training.py", "AUX_WEIGHT = 0.4", "AUX_WEIGHT = 0.5")  # used by fit
    after = _real_keys()
    changed = sorted(k for k in before if before[k] != after[k])
    assert {"04_sentiment_training", "06_finetune_encoders"} <= set(changed)
    assert not {"02_deepinsight", "05_retrieval_data", "07_retrieval", "08_projection_weights"} & set(changed)

    helpers_after = {nb.stem: run.helpers_fingerprint(nb) for nb in run.notebooks()}
    assert helpers_after["04_sentiment_training"] != helpers_before["04_sentiment_training"]
    assert helpers_after["05_retrieval_data"] == helpers_before["05_retrieval_data"]


def test_dependencies_are_followed_through_subpackages(tmp_path):
    """Subpackages: absolute, relative (``.``, ``..``) and ``package.module.attr`` references."""
    pkg = tmp_path / "helpers"
    files = {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/base.py": "RATE = 2\n\ndef unused():\n    return 0\n",
        "models/__init__.py": "",
        "models/fit.py": "from ..core.base import RATE\n\ndef fit(x):\n    return x * RATE\n",
        "paper/__init__.py": "",
        "paper/steps.py": "from helpers.models import fit\nfrom . import extra\n\n"
        "def step(x):\n    return fit.fit(x) + extra.ONE\n",
        "paper/extra.py": "ONE = 1\n",
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(
        nbs / "01_x.ipynb", ["import helpers.paper.steps\nfrom helpers.paper import steps", "steps.step(1)"]
    )
    deps = set(codekey.notebook_dependencies(nbs / "01_x.ipynb", package_dir=pkg))
    assert {
        ("paper.steps", "step"),
        ("models.fit", "fit"),
        ("core.base", "RATE"),
        ("paper.extra", "ONE"),
    } <= deps
    assert ("core.base", "unused") not in deps
