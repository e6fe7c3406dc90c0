"""Where things live: data source, artifact store, download cache, executed notebooks.

Every location can be moved with an environment variable so that the same notebooks run on a
reader's own data or GPU machine (see the "Running the book" page).
"""

from __future__ import annotations

import os
from pathlib import Path

from helpers.core.errors import ReproError

REPO_ROOT = Path(__file__).resolve().parents[2]  # helpers/core/config.py -> repository root
PROFILES = ("smoke", "quick", "full", "paper")


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var, "").strip()
    return Path(value).expanduser().resolve() if value else default


def data_source(override: str | os.PathLike | None = None) -> Path:
    """Local folder with the real data (``REPRO_DATA``, default ``../shared/data``)."""
    if override:
        return Path(override).expanduser().resolve()
    return _env_path("REPRO_DATA", REPO_ROOT.parent / "shared" / "data")


def artifact_root() -> Path:
    """Artifact store (``REPRO_ARTIFACTS``, default ``_artifacts/`` in the repository)."""
    return _env_path("REPRO_ARTIFACTS", REPO_ROOT / "_artifacts")


def cache_root() -> Path:
    """Download cache (``REPRO_CACHE``, default ``~/.cache/repro-book``)."""
    return _env_path("REPRO_CACHE", Path.home() / ".cache" / "repro-book")


def executed_root() -> Path:
    """Where papermill writes executed notebooks that the book renders."""
    return _env_path("REPRO_EXECUTED", REPO_ROOT / "book" / "executed")


def check_profile(profile: str) -> str:

    if profile not in PROFILES:
        raise ReproError(f"Unknown profile {profile!r}; choose one of {', '.join(PROFILES)}.")
    return profile
