"""The package layout of ``helpers/`` (CONTRIBUTING.md, "The package"): the dependency rule between
its subpackages, no import cycles, no module over 400 lines, each paper fact defined once.

Imports are read with ``ast`` (module level and inside functions alike), so a lazy import counts.
Every check is a function over a package folder, and each is also run on a small fake package
with a planted violation, so that a check that silently passes everything fails here.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from helpers.core.codekey import module_files, module_name

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "helpers"
MAX_LINES = 400
#: subpackage -> the subpackages it may import (itself always allowed). ``book`` may use anything.
ALLOWED = {
    "core": set(),
    "data": {"core"},
    "models": {"core", "data"},
    "paper_a": {"core", "data", "models"},
    "paper_b": {"core", "data", "models"},
    "book": {"core", "data", "models", "paper_a", "paper_b"},
}
#: top-level entry points (``python -m helpers.run`` / ``helpers.record``): they only call ``book``
ENTRY_POINTS = {"run", "record"}
#: paper facts that must be defined (assigned at module level) exactly once in the package
FACTS = {
    "paper_a.facts": ("EXTRACTORS", "TABLE_I", "VAL_ACC_RANGE", "PAPER_UPSAMPLE", "PAPER_SPLIT_SEED"),
    "paper_b.facts": ("PAPER_TABLES", "PAPER_TEXT_NAMES", "PAPER_IMAGE_NAMES", "REED_CUB_TOP1"),
}
#: a paper fact's value written a second time under another name (the old duplicates)
FACT_VALUES = {
    "paper_a.facts": ("VAL_ACC_RANGE", "EXTRACTORS"),
}


def imports(directory: Path, package: str = "helpers") -> dict[str, set[str]]:
    """Module -> the package's modules it imports (dotted names inside the package)."""
    files = module_files(directory)
    names = {module_name(directory, f) for f in files}
    packages = {module_name(directory, f) for f in files if f.name == "__init__.py"} | {"__init__"}
    out = {}
    for f in files:
        mod = module_name(directory, f)
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if mod in packages else mod.split(".")[:-1]
                    if mod == "__init__":
                        base = []
                    base = base[: len(base) - (node.level - 1)]
                    parent = ".".join(base + ([node.module] if node.module else []))
                    targets = [f"{package}.{parent}" if parent else package]
                else:
                    targets = [node.module or ""]
                targets = [t2 for t in targets for t2 in [t] + [f"{t}.{a.name}" for a in node.names]]
            for t in targets:
                if t == package or not t.startswith(package + "."):
                    continue
                inner = t[len(package) + 1 :]
                if inner in names:
                    deps.add(inner)
        deps.discard(mod)
        out[mod] = deps
    return out


def subpackage(module: str) -> str | None:
    return module.split(".")[0] if "." in module else None


def rule_violations(directory: Path) -> list[str]:
    problems = []
    for mod, deps in imports(directory).items():
        if mod == "__init__":
            continue
        if "." not in mod and mod not in ALLOWED:  # a top-level module
            for d in deps:
                if mod not in ENTRY_POINTS:
                    problems.append(f"{mod} is a top-level module outside every subpackage (imports {d})")
            if mod not in ENTRY_POINTS:
                problems.append(f"{mod} is a top-level module outside every subpackage")
            continue
        own = subpackage(mod) or mod
        for d in deps:
            other = subpackage(d) or d
            if other == own:
                continue
            if other not in ALLOWED.get(own, set()):
                problems.append(f"{mod} imports {d}: {own} may use only {sorted(ALLOWED.get(own, ()))}")
    return sorted(set(problems))


def cycles(directory: Path) -> list[list[str]]:
    """Import cycles between modules (each found once, as a path that returns to its start)."""
    graph = imports(directory)
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                found.append(stack[stack.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def long_modules(directory: Path, limit: int = MAX_LINES) -> dict[str, int]:
    return {
        module_name(directory, f): n
        for f in module_files(directory)
        if (n := len(f.read_text().splitlines())) > limit
    }


def definitions(directory: Path) -> dict[str, list[str]]:
    """Module-level name -> the modules that assign it (``X = ...``, not imports)."""
    out: dict[str, list[str]] = {}
    for f in module_files(directory):
        for node in ast.parse(f.read_text()).body:
            targets = []
            if isinstance(node, ast.Assign):
                targets = [t for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                targets = [node.target]
            for t in targets:
                out.setdefault(t.id, []).append(module_name(directory, f))
    return out


def literal_values(directory: Path) -> dict[str, list[str]]:
    """repr of every module-level literal value (tuples, dicts of constants) -> where it is assigned."""
    out: dict[str, list[str]] = {}
    for f in module_files(directory):
        for node in ast.parse(f.read_text()).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                try:
                    value = ast.literal_eval(node.value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    continue
                if isinstance(value, (tuple, list, dict)) and value:
                    target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                    name = target.id if isinstance(target, ast.Name) else ast.unparse(target)
                    out.setdefault(repr(value), []).append(f"{module_name(directory, f)}.{name}")
    return out


def fact_values() -> dict[str, object]:
    """The values of :data:`FACT_VALUES`, imported: ``{"paper_a.facts.VAL_ACC_RANGE": (0.81, 0.82)}``."""
    out = {}
    for module, names in FACT_VALUES.items():
        mod = importlib.import_module(f"helpers.{module}")
        out.update({f"{module}.{name}": getattr(mod, name) for name in names})
    return out


def duplicated_facts(directory: Path, facts=None, values=None) -> list[str]:
    """Facts assigned in another module than theirs, or their value written out again elsewhere
    (``answers.PAPER_A_RANGE = (0.81, 0.82)`` beside ``facts.VAL_ACC_RANGE``)."""
    facts = FACTS if facts is None else facts
    values = fact_values() if values is None else values
    problems = []
    defs = definitions(directory)
    for module, names in facts.items():
        for name in names:
            where = defs.get(name, [])
            if where != [module]:
                problems.append(f"{name} is defined in {where or 'no module'}, expected once in {module}")
    literals = literal_values(directory)
    for qualified, value in values.items():
        others = [w for w in literals.get(repr(value), []) if w != qualified]
        if others:
            problems.append(f"{qualified} is written again as {', '.join(others)}")
    return problems


# --------------------------------------------------------------------------- the real package


def test_dependency_rule():
    assert rule_violations(PACKAGE_DIR) == []


def test_no_import_cycles():
    assert cycles(PACKAGE_DIR) == []


def test_no_long_modules():
    assert long_modules(PACKAGE_DIR) == {}


def test_each_paper_fact_once():
    assert duplicated_facts(PACKAGE_DIR) == []


def test_every_module_in_a_subpackage():
    top = [m for m in imports(PACKAGE_DIR) if "." not in m and m not in ALLOWED]
    assert sorted(top) == sorted(["__init__", *ENTRY_POINTS])


def test_nothing_imports_book():
    users = {m for m, deps in imports(PACKAGE_DIR).items() if any(subpackage(d) == "book" for d in deps)}
    assert {subpackage(m) or m for m in users} <= {"book", *ENTRY_POINTS}


# --------------------------------------------------------------------------- planted violations


def _fake(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "helpers"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for sub in ("core", "data", "models", "paper_a", "paper_b", "book"):
        (root / sub).mkdir(exist_ok=True)
        (root / sub / "__init__.py").touch()
    (root / "__init__.py").touch()
    return root


def test_checker_finds_a_rule_violation(tmp_path):
    root = _fake(
        tmp_path,
        {
            "core/config.py": "X = 1\n",
            "paper_a/a.py": "from helpers.paper_b import b\n",  # paper A uses paper B
            "paper_b/b.py": "def f():\n    from helpers.book import runner\n",  # lazy import of book
            "book/runner.py": "from helpers.core import config\n",
            "core/low.py": "from ..data import d\n",  # core uses data (relative)
            "data/d.py": "from helpers.core.config import X\n",
        },
    )
    problems = rule_violations(root)
    assert any(p.startswith("paper_a.a imports paper_b.b") for p in problems)
    assert any(p.startswith("paper_b.b imports book.runner") for p in problems)
    assert any(p.startswith("core.low imports data.d") for p in problems)
    assert not any(p.startswith("book.runner") or p.startswith("data.d") for p in problems)


def test_checker_finds_a_cycle(tmp_path):
    root = _fake(
        tmp_path,
        {
            "paper_a/x.py": "from helpers.paper_a import y\n",
            "paper_a/y.py": "def g():\n    from helpers.paper_a.z import h\n",
            "paper_a/z.py": "from . import x\n",
            "paper_a/w.py": "from helpers.paper_a import x\n",
        },
    )
    found = cycles(root)
    assert len(found) == 1
    assert set(found[0]) == {"paper_a.x", "paper_a.y", "paper_a.z"}


def test_checker_finds_a_long_module(tmp_path):
    root = _fake(
        tmp_path, {"models/big.py": "x = 1\n" * (MAX_LINES + 1), "models/ok.py": "x = 1\n" * MAX_LINES}
    )
    assert long_modules(root) == {"models.big": MAX_LINES + 1}


def test_checker_finds_a_fact_defined_twice(tmp_path):
    root = _fake(
        tmp_path,
        {
            "paper_a/facts.py": "RANGE = (0.81, 0.82)\nNAMES = ('a', 'b')\n",
            "paper_a/model.py": "NAMES_AGAIN = ('a', 'b')\n",  # the value written out twice
            "book/answers.py": "RANGE = (0.81, 0.82)\n",  # the name defined twice
        },
    )
    problems = duplicated_facts(
        root,
        facts={"paper_a.facts": ("RANGE", "NAMES")},
        values={"paper_a.facts.NAMES": ("a", "b")},
    )
    assert any(p.startswith("RANGE is defined in ['book.answers', 'paper_a.facts']") for p in problems)
    assert any("written again as paper_a.model.NAMES_AGAIN" in p for p in problems)
    assert len(problems) == 2


@pytest.mark.parametrize("bad", ["run_helpers.py", "stray.py"])
def test_checker_finds_a_stray_top_level_module(tmp_path, bad):
    root = _fake(tmp_path, {bad: "from helpers.core import config\n", "core/config.py": "X = 1\n"})
    assert any(p.startswith(bad[:-3]) for p in rule_violations(root))
