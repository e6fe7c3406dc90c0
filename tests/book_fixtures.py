"""The smoke-profile run of all eight notebooks and its book, made once per test session (slow).

``smoke_run`` executes 01-08 in the smoke profile into a temporary root (artifacts, executed
notebooks, the time each notebook took); ``smoke_book`` builds the HTML of that run with ``-W``.
``tests/conftest.py`` registers both, so ``test_book``, ``test_rendered_pages`` and
``test_record`` share one execution and one build. Tests that change the run (re-execute a
notebook with other parameters) work on a copy (:func:`copy_run`).
"""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers.book import run


@dataclass
class SmokeRun:
    root: Path  # holds _artifacts/, book/executed/, the book sources
    executed: list[Path] = field(default_factory=list)  # executed notebooks, 01 ... 08
    durations: dict[str, float] = field(default_factory=dict)  # seconds per notebook stem

    @property
    def artifacts(self) -> Path:
        return self.root / "_artifacts"

    @property
    def executed_dir(self) -> Path:
        return self.root / "book" / "executed"


@contextmanager
def smoke_env(root: Path):
    """``REPRO_ARTIFACTS`` / ``REPRO_EXECUTED`` pointing into ``root`` for the block."""
    mp = pytest.MonkeyPatch()
    mp.setenv("REPRO_ARTIFACTS", str(root / "_artifacts"))
    mp.setenv("REPRO_EXECUTED", str(root / "book" / "executed"))
    try:
        yield
    finally:
        mp.undo()


def copy_run(smoke: SmokeRun, dest: Path) -> SmokeRun:
    """A private copy of the run (artifacts and executed notebooks) under ``dest``."""
    shutil.copytree(smoke.artifacts, dest / "_artifacts", symlinks=True)
    shutil.copytree(smoke.executed_dir, dest / "book" / "executed")
    return SmokeRun(
        dest, [dest / "book" / "executed" / p.name for p in smoke.executed], dict(smoke.durations)
    )


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, shared_data) -> SmokeRun:
    """Execute 01-08 in order (later notebooks read earlier artifacts) on the real shared data."""
    smoke = SmokeRun(tmp_path_factory.mktemp("smoke-run"))
    run.copy_book_sources(smoke.root)
    with smoke_env(smoke.root):
        for nb in run.notebooks():
            start = time.time()
            smoke.executed += run.execute_many([nb], "smoke", {}, out_dir=smoke.executed_dir)
            smoke.durations[nb.stem] = time.time() - start
    return smoke


@pytest.fixture(scope="session")
def smoke_book(smoke_run) -> Path:
    """``index.html`` of the smoke run's book, built with ``-W --keep-going``."""
    with smoke_env(smoke_run.root):
        return run.build_book(smoke_run.root)
