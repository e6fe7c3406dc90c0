"""Shared pytest fixtures (CONTRIBUTING.md, "Layout").

Every test runs torch on one thread: tiny models on the shared 2-core CI machine are many times
slower with two threads fighting over the cores.

``shared_data``: the real read-only data folder (``helpers.core.config.data_source()``, i.e.
``REPRO_DATA`` or ``../shared/data``); tests that use it are skipped with a clear reason on a
machine without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from book_fixtures import smoke_book, smoke_run  # noqa: F401  (shared slow fixtures)

from helpers.core import config


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real shared data folder; skips the test when it is absent."""
    root = config.data_source()
    if not root.is_dir() or not any(root.iterdir()):
        pytest.skip(f"real shared data not found at {root} (set REPRO_DATA to the data folder)")
    return root


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
