"""Repository hygiene the book relies on: clean notebooks, profiles, environment files, toc."""

from pathlib import Path

import nbformat
import pytest
import tomllib
import yaml

from helpers.book import nbclean, run
from helpers.core.config import PROFILES, REPO_ROOT

NOTEBOOKS = run.notebooks()
COMMON = ("profile", "run", "data_source", "device", "seed")


def _parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    return cells[0]


def _defined_names(source):
    import ast

    return {
        t.id
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def test_there_are_eight_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07", "08"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    assert not nbclean.has_outputs(nb), f"{path.name} has outputs: run python -m helpers.book.nbclean"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    cell = _parameters_cell(nb)
    names = _defined_names(cell.source)
    assert set(COMMON) <= names
    from papermill.translators import PythonTranslator

    seen_by_papermill = {p.name for p in PythonTranslator.inspect(cell)}
    assert seen_by_papermill == names, "papermill cannot parse some parameter lines"
    table = yaml.safe_load((REPO_ROOT / "profiles" / f"{path.stem}.yml").read_text())
    assert set(table) == set(PROFILES)
    for profile, params in table.items():
        unknown = set(params or {}) - names
        assert not unknown, f"profile {profile} sets parameters the notebook lacks: {unknown}"


def test_nbclean_strips_outputs(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1+1")])
    nb.cells[0].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    nb.cells[0].execution_count = 1
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert nbclean.main(["--check", str(path)]) == 1
    assert nbclean.main([str(path)]) == 0
    assert not nbclean.has_outputs(nbformat.read(path, as_version=4))


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert set(pip) - {"-e ."} == wanted


def test_toc_points_at_existing_pages_and_notebooks():
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    for f in files:
        if f.startswith("book/executed/"):
            assert (REPO_ROOT / "notebooks" / (Path(f).name + ".ipynb")).is_file(), f
        else:
            assert (REPO_ROOT / (f + ".md")).is_file(), f
    executed = [f for f in files if f.startswith("book/executed/")]
    assert [Path(f).name for f in executed] == [p.stem for p in NOTEBOOKS]


def test_book_config_serves_mathjax_and_styles_from_the_build():
    cfg = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
    sphinx = cfg["sphinx"]
    assert "helpers.book.sphinxext" in sphinx["extra_extensions"]
    conf = sphinx["config"]
    assert not conf["mathjax_path"].startswith(("http:", "https:", "//"))
    assert conf["numfig_format"]["figure"] == "%s" and conf["numfig_format"]["table"] == "%s"
    for folder in conf["html_static_path"]:
        for css in conf["html_css_files"]:
            assert (REPO_ROOT / folder / css).is_file()


def test_ci_runs_the_pre_commit_checks_offline_before_the_tests():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert ci.index("scripts/lint.sh") < ci.index("make test")
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    assert [r["repo"] for r in hooks["repos"]] == ["local"], "hooks must not need a network fetch"
    ids = {h["id"] for r in hooks["repos"] for h in r["hooks"]}
    assert {"ruff-check", "ruff-format", "notebooks-without-outputs", "check-yaml"} <= ids
    lint = (REPO_ROOT / "scripts" / "lint.sh").read_text()
    for check in ("ruff check", "ruff format --check", "helpers.book.nbclean --check", "check_yaml.py"):
        assert check in lint
    ruff = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert ruff["line-length"] == 110
