"""The artifact store: keyed by parameters, atomic, resumable (helpers/core/artifacts.py)."""

import numpy as np
import pytest

from helpers.core import artifacts
from helpers.core.errors import ReproError


def test_key_depends_on_params_and_upstream(tmp_path):
    a = artifacts.Artifact("01_x", {"n": 1}, run="r", root=tmp_path)
    b = artifacts.Artifact("01_x", {"n": 2}, run="r", root=tmp_path)
    c = artifacts.Artifact("01_x", {"n": 1}, run="other-run", root=tmp_path)
    d = artifacts.Artifact("01_x", {"n": 1}, run="r", upstream=[b.path], root=tmp_path)
    assert a.key != b.key
    assert a.key == c.key  # the run name is a namespace for "latest", not part of the result
    assert d.key != a.key
    assert artifacts.params_key({"a": 1, "b": 2}) == artifacts.params_key({"b": 2, "a": 1})


def test_build_is_atomic_and_recorded_as_latest(tmp_path):
    art = artifacts.Artifact("02_y", {"n": 3}, run="quick", root=tmp_path)
    assert not art.exists()
    with art.build() as tmp:
        np.save(tmp / "x.npy", np.arange(3))
        assert not art.path.exists()  # nothing visible before the block ends
    assert art.exists()
    assert np.array_equal(np.load(art.path / "x.npy"), np.arange(3))
    assert art.metadata()["params"] == {"n": 3}
    assert artifacts.latest("quick", "02_y", root=tmp_path) == art.path
    assert [p.name for p in art.path.parent.iterdir()] == [art.key]  # no temp folder left


def test_interrupted_build_leaves_nothing_but_scratch(tmp_path):
    art = artifacts.Artifact("03_z", {"n": 4}, run="quick", root=tmp_path)
    scratch = art.ensure_scratch()
    (scratch / "chunk").write_text("kept")
    with pytest.raises(KeyboardInterrupt):
        with art.build() as tmp:
            (tmp / "half.npy").write_text("partial")
            raise KeyboardInterrupt
    assert not art.path.exists()
    assert not any(p.name.startswith(f".{art.key}.tmp") for p in art.path.parent.iterdir())
    assert (scratch / "chunk").read_text() == "kept"
    with pytest.raises(ReproError, match="03_z"):
        artifacts.latest("quick", "03_z", root=tmp_path)
    with art.build():
        pass
    assert not scratch.exists()  # scratch is removed once the step finishes


def test_sub_steps_are_recorded_separately(tmp_path):
    for name in ("a", "b"):
        art = artifacts.Artifact(f"04_t/{name}", {"m": name}, run="q", root=tmp_path)
        with art.build() as tmp:
            (tmp / "m.txt").write_text(name)
    assert (artifacts.latest("q", "04_t/a", root=tmp_path) / "m.txt").read_text() == "a"
    assert (artifacts.latest("q", "04_t/b", root=tmp_path) / "m.txt").read_text() == "b"


def test_latest_detects_deleted_artifact(tmp_path):
    art = artifacts.Artifact("05_w", {}, run="q", root=tmp_path)
    with art.build():
        pass
    (art.path / "artifact.json").unlink()
    with pytest.raises(ReproError, match="incomplete or was deleted"):
        artifacts.latest("q", "05_w", root=tmp_path)


def test_resumable_chunks_resume_after_interruption(tmp_path):
    calls = []

    def compute(start, stop):
        calls.append((start, stop))
        if len(calls) == 3 and not (tmp_path / "resumed").exists():
            raise KeyboardInterrupt  # simulate Ctrl-C during the third chunk
        return np.arange(start, stop) * 2

    with pytest.raises(KeyboardInterrupt):
        artifacts.resumable_chunks(tmp_path / "s", 10, 3, compute)
    (tmp_path / "resumed").touch()
    calls.clear()
    out = artifacts.resumable_chunks(tmp_path / "s", 10, 3, compute)
    assert np.array_equal(out, np.arange(10) * 2)
    assert calls == [(6, 9), (9, 10)]  # the two finished chunks were not recomputed
    with pytest.raises(ReproError, match="empty"):
        artifacts.resumable_chunks(tmp_path / "e", 0, 3, compute)


def test_notebook_params_needs_a_parameters_cell(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_NOTEBOOKS", str(tmp_path))
    (tmp_path / "09_x.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    with pytest.raises(ReproError, match="parameters cell"):
        artifacts.notebook_params("09_x", {})
