"""Each public helper of Paper A and Paper B that a notebook calls says, in its docstring, which
notebook explains it ("Explained in notebook NN, section ..."), so a reader of the code finds the
page that shows the method (read with ``ast``: nothing is imported)."""

import ast
import json
import re

import pytest

from helpers.core.config import REPO_ROOT

PAPER_PACKAGES = ("helpers.paper_a", "helpers.paper_b")


def _used_helpers() -> dict[tuple[str, str], str]:
    """``{(module, name): first notebook}`` for every ``module.name`` a notebook's code uses."""
    used: dict[tuple[str, str], str] = {}
    for path in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        aliases: dict[str, str] = {}
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            tree = ast.parse("".join(cell["source"]))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module in PAPER_PACKAGES:
                    aliases.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id in aliases
                    and not node.attr.startswith("_")
                ):
                    used.setdefault((aliases[node.value.id], node.attr), path.stem)
    return used


def _definitions(module: str) -> dict[str, ast.AST]:
    path = REPO_ROOT / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text())
    return {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def test_notebooks_use_paper_helpers():
    assert len({m for m, _ in _used_helpers()}) >= 15


@pytest.mark.parametrize("package", PAPER_PACKAGES)
def test_every_paper_helper_a_notebook_calls_names_its_notebook(package):
    missing = []
    for (module, name), stem in sorted(_used_helpers().items()):
        if not module.startswith(package):
            continue
        node = _definitions(module).get(name)
        if node is None:  # a constant (facts.PAPER_SPLIT_SEED, projection.PROJECTIONS)
            continue
        doc = ast.get_docstring(node) or ""
        if not re.search(r"[Nn]otebook \d\d\b", doc):
            missing.append(f"{module}.{name} (used in {stem})")
    assert not missing, "docstrings that name no notebook section: " + ", ".join(missing)
