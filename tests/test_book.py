"""Every notebook executes in the smoke profile, its numbers pass the book's checks
(helpers/book/checks.py), and the book builds with -W (slow)."""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers.book import checks, run
from helpers.core import artifacts

pytestmark = pytest.mark.slow

PAPER_FIGURES = [f"fig-a{i}" for i in range(1, 7)] + [f"fig-b{i}" for i in range(1, 11)]
PAPER_TABLES = ["table-a1", "table-b1", "table-b2"]


@pytest.fixture(scope="module", autouse=True)
def _smoke_store(smoke_run):
    """The module's tests read the shared smoke run (tests/book_fixtures.py)."""
    from book_fixtures import smoke_env

    with smoke_env(smoke_run.root):
        yield


@pytest.fixture(scope="module")
def book_root(smoke_run):
    return smoke_run.root


@pytest.fixture(scope="module")
def executed(smoke_run):
    return smoke_run.executed


@pytest.fixture(scope="module")
def durations(smoke_run):
    return smoke_run.durations


@pytest.mark.parametrize("index", range(8), ids=[f"nb{i + 1:02d}" for i in range(8)])
def test_notebook_executes_in_smoke_profile(executed, index):
    import nbformat

    nb = nbformat.read(executed[index], as_version=4)
    assert nb.metadata["repro"]["params"]["profile"] == "smoke"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    glued = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.get("metadata", {}).get("scrapbook")
    ]
    assert glued, "every notebook glues at least one figure or table"


def test_book_builds_with_every_figure_and_table(executed, smoke_book):
    html = smoke_book
    pages = {p.stem: p.read_text() for p in (html.parent / "book" / "executed").glob("*.html")}
    assert sorted(pages) == [p.stem for p in executed]
    text = "\n".join(pages.values())
    ids = set(re.findall(r'id="([^"]+)"', text))
    missing = [name for name in PAPER_FIGURES + PAPER_TABLES if name not in ids]
    assert not missing, f"figures/tables missing from the book: {missing}"
    assert (html.parent / "book" / "intro.html").is_file()


def _stems(executed):
    return {p.stem: p for p in executed}


def test_book_numbers_pass_the_checks(executed):
    """Accuracies and metrics in [0, 1] and not NaN where the data exists, Top-5 >= Top-1, the CUB
    side of Table B1 filled, chance baselines computed and shown."""
    arts = {s: artifacts.latest("smoke", s) for s in ("04_sentiment_training", "07_retrieval")}
    problems = checks.book_problems(_stems(executed), arts)
    assert not problems, "\n".join(problems)


def test_table_a1_names_each_rows_recipe(executed):
    a1 = checks.glued_table(_stems(executed)["04_sentiment_training"], "a-table1")
    assert ("this build", "recipe") in a1.columns
    assert checks.recipes_named(a1) == []


# --------------------------------------------------------------------------- interruption (item 5)

TIMINGS = ("seconds", "fit_s")  # wall-clock columns (and pandas' "fit_s.1" ...): never equal between runs


def _tables(store: Path, stem: str) -> dict:
    """What every artifact of ``stem`` in the smoke run holds: CSV tables (timings dropped), JSON
    records and arrays (the bookkeeping file artifact.json left out)."""
    import numpy as np

    out = {}
    for index in sorted((store / "runs" / "smoke").glob(f"{stem}*.json")):
        path = Path(json.loads(index.read_text())["path"])
        for f in sorted(path.iterdir()):
            name = f"{index.stem}/{f.name}"
            if f.suffix == ".csv":
                df = checks._read_csv(f)
                out[name] = df.drop(columns=[c for c in df.columns if c.split(".")[0] in TIMINGS])
            elif f.suffix == ".json" and f.name != "artifact.json":
                out[name] = json.loads(f.read_text())
            elif f.suffix == ".npy":
                out[name] = np.load(f)
    return out


def _glued_tables(executed_notebook: Path) -> dict:
    """The tables a notebook glued into the book (for a notebook that stores no artifact)."""
    return {
        f"glued/{name}": checks.html_table(bundle["text/html"])
        for name, bundle in checks.glued_outputs(executed_notebook).items()
        if "text/html" in bundle
    }


def _assert_same(a, b, where: str):
    import numpy as np

    if isinstance(b, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6, obj=where)
    elif isinstance(b, np.ndarray):
        assert a.shape == b.shape and a.dtype == b.dtype, where
        np.testing.assert_allclose(
            a.astype(np.float64), b.astype(np.float64), rtol=1e-5, atol=1e-6, err_msg=where
        )
    elif isinstance(b, dict):
        assert sorted(a) == sorted(b), where
        for k in b:
            if k not in ("seconds", "finished"):
                _assert_same(a[k], b[k], f"{where}:{k}")
    elif isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-9, nan_ok=True), where
    else:
        assert a == b, where


@pytest.mark.parametrize("index", range(8), ids=[f"nb{i + 1:02d}" for i in range(8)])
def test_sigkill_inside_a_notebook_then_rerun_gives_the_same_tables(
    executed, durations, book_root, tmp_path, index
):
    """Kill the runner (and its kernel) with SIGKILL at a seeded random point inside the notebook,
    run it again: no half-written artifact, and the tables equal the uninterrupted run's."""
    nb = run.notebooks()[index]
    ref_store = book_root / "_artifacts"
    reference = _tables(ref_store, nb.stem) or _glued_tables(executed[index])
    assert reference, f"{nb.stem} stored and glued no table"
    store = tmp_path / "_artifacts"
    shutil.copytree(ref_store, store, symlinks=True)
    for done in list((store / "runs" / "smoke").glob(f"{nb.stem}*.json")):  # this notebook never ran
        done.unlink()
    shutil.rmtree(store / nb.stem, ignore_errors=True)
    env = {
        **os.environ,
        "REPRO_ARTIFACTS": str(store),
        "REPRO_EXECUTED": str(tmp_path / "executed"),
        "PYTHONPATH": str(run.REPO_ROOT),
    }
    cmd = [sys.executable, "-m", "helpers.run", nb.stem, "--profile", "smoke"]
    delay = random.Random(f"issue9-{nb.stem}").uniform(0.25, 0.9) * (durations[nb.stem] + 3)
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=run.REPO_ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its papermill kernel, at once
        proc.wait()
    folder = store / nb.stem
    half = [
        p
        for p in (folder.rglob("*") if folder.is_dir() else [])
        if p.is_dir() and re.fullmatch(r"[0-9a-f]{12}", p.name) and not (p / "artifact.json").is_file()
    ]
    assert not half, f"half-written artifact folders after SIGKILL: {half}"
    done = subprocess.run(cmd, env=env, cwd=run.REPO_ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    again = _tables(store, nb.stem) or _glued_tables(tmp_path / "executed" / nb.name)
    assert sorted(again) == sorted(reference)
    for name, value in reference.items():
        _assert_same(again[name], value, name)
