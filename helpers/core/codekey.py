"""Code keys: a hash of the code that produced an artifact, at function granularity.

An artifact's key (``helpers.core.artifacts.Artifact``) mixes in the *code key* of the notebook
that writes it, so a changed computation never silently reuses an old result:

* the notebook's code cells, up to the last cell that writes an artifact (``.build(``): code
  that runs after the artifact is written cannot change it;
* every helper function, class or module-level constant those cells use (``from helpers import
  x`` then ``x.f(...)``, ``from helpers.x import f``), followed transitively through the helper
  package (``from .training import fit``, ``training.fit``, names defined in the same module).

Each piece is hashed in a normalised form, its syntax tree without docstrings, comments or line
numbers, so editing a docstring or a comment recomputes nothing, and changing a module the
notebook does not use recomputes nothing. Third-party packages are not part of the key (their
versions are pinned in ``requirements.lock``; the models that actually ran are in the parameters).

The runner (``helpers.run``) uses :func:`notebook_helpers_key` over *all* cells for its
execution cache. Defined on the "Running the book" page, "Artifacts".
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "helpers"
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # helpers/core/codekey.py -> helpers/
WHOLE = "*"  # symbol name standing for a whole module (used as a value, or unresolvable)
PREAMBLE = "<module>"  # a module's top-level statements other than imports and definitions
#: The artifact store itself is not part of what it stores: its plumbing (and this module) can
#: change without recomputing results. ``artifacts.resumable_chunks`` builds results, so it counts.
STORE = {
    ("core.artifacts", "Artifact"),
    ("core.artifacts", "latest"),
    ("core.artifacts", "resolve_run"),
    ("core.artifacts", "params_key"),
    ("core.artifacts", "DONE"),
    ("core.codekey", WHOLE),
}


def notebook_dir() -> Path:
    """Where the book's notebooks are: ``REPRO_NOTEBOOKS`` (set by the runner), else ``notebooks/``.

    The same folder serves a notebook run by ``python -m helpers.run`` and one run in JupyterLab.
    """
    value = os.environ.get("REPRO_NOTEBOOKS", "").strip()
    return Path(value).expanduser().resolve() if value else PACKAGE_DIR.parent / "notebooks"


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


def normalised(node: ast.AST) -> str:
    """The syntax tree without positions (comments never reach the tree)."""
    return ast.dump(node, annotate_fields=False, include_attributes=False)


# --------------------------------------------------------------------------- helper package index


@dataclass
class _Module:
    name: str
    symbols: dict[str, list[ast.AST]] = field(default_factory=dict)
    preamble: list[ast.AST] = field(default_factory=list)
    imports: dict[str, tuple] = field(default_factory=dict)  # local name -> ("module", m) | ("symbol", m, s)


def _assigned_names(node: ast.AST) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = []
    for t in targets:
        names += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
    return names


def module_name(directory: Path, path: Path) -> str:
    """Dotted name of a module file inside the package, relative to it: ``core/config.py`` ->
    ``"core.config"``, ``core/__init__.py`` -> ``"core"``, the package's own ``__init__.py`` ->
    ``"__init__"``."""
    parts = list(path.relative_to(directory).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "__init__"


def module_files(directory: Path) -> list[Path]:
    """Every module file of the package, subpackages included (sorted)."""
    return sorted(f for f in Path(directory).rglob("*.py") if "__pycache__" not in f.parts)


class PackageIndex:
    """Every module of a package (subpackages included, named by their dotted path inside the
    package: ``"core.config"``), split into top-level symbols with their dependencies."""

    def __init__(self, directory: os.PathLike = PACKAGE_DIR, name: str = PACKAGE):
        self.dir = Path(directory)
        self.name = name
        self.modules: dict[str, _Module] = {}
        files = module_files(self.dir)
        self.names = {module_name(self.dir, f) for f in files}
        self.packages = {"__init__"} | {module_name(self.dir, f) for f in files if f.name == "__init__.py"}
        for f in files:
            mod = module_name(self.dir, f)
            self.modules[mod] = self._index(mod, f.read_text())

    # -- parsing
    def _child(self, parent: str, name: str) -> str:
        return name if parent == "__init__" else f"{parent}.{name}"

    def _resolve_from(self, module: str | None, level: int, current: str = "__init__") -> str | None:
        """Module name inside the package for ``from <module> import ...`` in module ``current``
        (None: outside the package)."""
        if level == 0:
            if module == self.name:
                return "__init__"
            if module and module.startswith(self.name + "."):
                return module[len(self.name) + 1 :]
            return None
        if current in self.packages:  # a package's __init__: ``.`` is the package itself
            base = [] if current == "__init__" else current.split(".")
        else:
            base = current.split(".")[:-1]
        if level - 1 > len(base):
            return None
        base = base[: len(base) - (level - 1)]
        target = base + (module.split(".") if module else [])
        return ".".join(target) or "__init__"

    def _add_import(self, imports: dict, node: ast.AST, current: str = "__init__") -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] != self.name:
                    continue
                if alias.asname and len(parts) > 1:
                    imports[alias.asname] = ("module", ".".join(parts[1:]))
                elif alias.asname:
                    imports[alias.asname] = ("module", "__init__")
                else:
                    imports[self.name] = ("package",)
        elif isinstance(node, ast.ImportFrom):
            mod = self._resolve_from(node.module, node.level, current)
            if mod is None:
                return
            for alias in node.names:
                local = alias.asname or alias.name
                child = self._child(mod, alias.name)
                if alias.name == "*":
                    imports[f"*{mod}"] = ("module", mod)
                elif child in self.names:
                    imports[local] = ("module", child)
                else:
                    imports[local] = ("symbol", mod, alias.name)

    def _index(self, name: str, text: str) -> _Module:
        tree = _strip_docstrings(ast.parse(text))
        m = _Module(name)
        for node in ast.walk(tree):  # imports anywhere (lazy imports inside functions too)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self._add_import(m.imports, node, name)
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                m.symbols.setdefault(node.name, []).append(node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                for n in _assigned_names(node):
                    m.symbols.setdefault(n, []).append(node)
            else:
                m.preamble.append(node)
        return m

    # -- dependencies
    def refs(self, nodes: list[ast.AST], module: _Module | None, imports: dict) -> set[tuple[str, str]]:
        """(module, symbol) pairs of the package that ``nodes`` refer to."""
        out: set[tuple[str, str]] = set()
        attr_bases: set[int] = set()
        for root in nodes:
            for node in ast.walk(root):
                if isinstance(node, ast.Attribute):
                    chain, base = [], node
                    while isinstance(base, ast.Attribute):
                        chain.append(base.attr)
                        base = base.value
                    if not isinstance(base, ast.Name) or base.id not in imports:
                        continue
                    chain.reverse()
                    target = imports[base.id]
                    if target[0] == "package":
                        target = ("module", "__init__")
                    while (
                        target[0] == "module" and chain and self._child(target[1], chain[0]) in self.modules
                    ):
                        target, chain = ("module", self._child(target[1], chain[0])), chain[1:]
                    if target[0] == "module":
                        out.add(self._symbol(target[1], chain[0]) if chain else (target[1], WHOLE))
                        attr_bases.add(id(base))
                    elif target[0] == "symbol":
                        out.add(self._symbol(target[1], target[2]))
                        attr_bases.add(id(base))
            for node in ast.walk(root):
                if isinstance(node, ast.Name) and id(node) not in attr_bases:
                    if module is not None and node.id in module.symbols:
                        out.add((module.name, node.id))
                    elif node.id in imports:
                        target = imports[node.id]
                        if target[0] == "symbol":
                            out.add(self._symbol(target[1], target[2]))
                        elif target[0] == "module":
                            out.add((target[1], WHOLE))
                        else:
                            out.add(("__init__", WHOLE))
        star = [t[1] for k, t in imports.items() if k.startswith("*")]
        for mod in star:  # ``from helpers.x import *``: any name of x may be used
            out.add((mod, WHOLE))
        return {r for r in out if r[0] in self.modules}

    def _symbol(self, module: str, name: str) -> tuple[str, str]:
        mod = self.modules.get(module)
        if mod is None:
            return (module, WHOLE)
        if name in mod.symbols:
            return (module, name)
        if name in mod.imports:  # re-exported: ``from .weights import ModelChoice``
            target = mod.imports[name]
            if target[0] == "symbol":
                return self._symbol(target[1], target[2])
            if target[0] == "module":
                return (target[1], WHOLE)
        if self._child(module, name) in self.modules:  # a submodule, as an attribute of its package
            return (self._child(module, name), WHOLE)
        return (module, WHOLE)  # unknown name: depend on the whole module

    def closure(self, start: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Every (module, symbol) reachable from ``start`` with its normalised source."""
        todo, seen = list(start), {}
        while todo:
            mod_name, sym = todo.pop()
            if (
                (mod_name, sym) in seen
                or mod_name not in self.modules
                or (mod_name, sym) in STORE
                or (mod_name, WHOLE) in STORE
            ):
                continue
            mod = self.modules[mod_name]
            if sym == WHOLE:
                nodes = [n for ns in mod.symbols.values() for n in ns] + mod.preamble
            elif sym == PREAMBLE:
                nodes = mod.preamble
            else:
                nodes = mod.symbols.get(sym, [])
            # a symbol defined twice (``if ...: f = a else: f = b``) keeps every definition
            unique = list({id(n): n for n in nodes}.values())
            seen[(mod_name, sym)] = "\n".join(normalised(n) for n in unique)
            deps = self.refs(unique, mod, mod.imports)
            if sym != PREAMBLE and mod.preamble:
                deps.add((mod_name, PREAMBLE))
            todo += [d for d in deps if d not in seen]
        return seen


_INDEX_CACHE: dict[tuple, PackageIndex] = {}


def package_index(directory: os.PathLike | None = None, name: str = PACKAGE) -> PackageIndex:
    """The (cached) index of the helper package; re-read when a file changes."""
    directory = Path(directory or PACKAGE_DIR)
    stamp = hashlib.sha256(
        b"".join(
            str(f.relative_to(directory)).encode() + b"\0" + f.read_bytes() for f in module_files(directory)
        )
    ).hexdigest()
    key = (str(directory), name, stamp)
    if key not in _INDEX_CACHE:
        _INDEX_CACHE.clear()
        _INDEX_CACHE[key] = PackageIndex(directory, name)
    return _INDEX_CACHE[key]


# --------------------------------------------------------------------------- notebooks


def _cell_tree(source: str) -> ast.Module:
    """A code cell's syntax tree; IPython magics and shell lines are kept as plain strings."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            lines.append(" " * (len(line) - len(stripped)) + repr(stripped))
        else:
            lines.append(line)
    try:
        return _strip_docstrings(ast.parse("\n".join(lines)))
    except SyntaxError:
        return ast.Module(body=[ast.Expr(ast.Constant(source))], type_ignores=[])


def notebook_cells(path: os.PathLike, until_last_build: bool = True) -> list[ast.Module]:
    """Syntax trees of the notebook's code cells (papermill's injected parameters left out).

    With ``until_last_build`` only the cells up to the last one that writes an artifact count.
    """
    nb = json.loads(Path(path).read_text())
    cells = [
        c
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code" and "injected-parameters" not in c.get("metadata", {}).get("tags", [])
    ]
    sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
    if until_last_build:
        last = max((i for i, s in enumerate(sources) if ".build(" in s), default=len(sources) - 1)
        sources = sources[: last + 1]
    return [_cell_tree(s) for s in sources]


def notebook_dependencies(
    path: os.PathLike,
    *,
    until_last_build: bool = True,
    package_dir: os.PathLike | None = None,
    package: str = PACKAGE,
) -> dict[tuple[str, str], str]:
    """Helper symbols the notebook's code uses, transitively, with their normalised source."""
    index = package_index(package_dir, package)
    trees = notebook_cells(path, until_last_build)
    imports: dict = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                index._add_import(imports, node)
    return index.closure(index.refs(trees, None, imports))


def notebook_code_key(
    path: os.PathLike,
    *,
    until_last_build: bool = True,
    package_dir: os.PathLike | None = None,
    package: str = PACKAGE,
) -> str:
    """16-hex-digit hash of the notebook's code cells and the helper code they use."""
    trees = notebook_cells(path, until_last_build)
    deps = notebook_dependencies(
        path, until_last_build=until_last_build, package_dir=package_dir, package=package
    )
    h = hashlib.sha256()
    for tree in trees:
        h.update(normalised(tree).encode() + b"\0")
    h.update(_deps_digest(deps).encode())
    return h.hexdigest()[:16]


def notebook_helpers_key(
    path: os.PathLike, *, package_dir: os.PathLike | None = None, package: str = PACKAGE
) -> str:
    """Hash of the helper code that *any* cell of the notebook uses (the runner's cache)."""
    return _deps_digest(
        notebook_dependencies(path, until_last_build=False, package_dir=package_dir, package=package)
    )


def _deps_digest(deps: dict[tuple[str, str], str]) -> str:
    h = hashlib.sha256()
    for (mod, sym), text in sorted(deps.items()):
        h.update(f"{mod}:{sym}\0".encode() + text.encode() + b"\0")
    return h.hexdigest()


def step_code_key(step: str) -> str | None:
    """Code key of the notebook that writes artifact ``step`` (``"04_x/alexnet"`` -> ``04_x.ipynb``).

    None when there is no such notebook (an artifact made outside the book, e.g. in a test).
    """
    path = notebook_dir() / f"{step.split('/')[0]}.ipynb"
    if not path.is_file():
        return None
    return notebook_code_key(path)
