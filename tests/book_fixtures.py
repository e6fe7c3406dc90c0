"""The smoke-profile book, executed and built once per test session (slow: a few minutes).

Import the fixture into a test module (``from book_fixtures import smoke_book``); the build is
memoised in this module, so several test modules that import it share one build.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import run

_BUILT: dict[str, Path] = {}


def build_smoke_book(root: Path) -> Path:
    """Execute 01-08 in the smoke profile into ``root`` and build the HTML; returns index.html."""
    mp = pytest.MonkeyPatch()
    mp.setenv("REPRO_ARTIFACTS", str(root / "_artifacts"))
    mp.setenv("REPRO_EXECUTED", str(root / "book" / "executed"))
    try:
        run.copy_book_sources(root)
        run.execute_many(run.notebooks(), "smoke", {}, out_dir=root / "book" / "executed")
        return run.build_book(root)
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory, shared_data) -> Path:
    """``index.html`` of the smoke book built in a temporary folder (shared within the session)."""
    if "index" not in _BUILT:
        _BUILT["index"] = build_smoke_book(tmp_path_factory.mktemp("smoke-book"))
    return _BUILT["index"]
