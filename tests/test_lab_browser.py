"""`make lab` in a real browser: JupyterLab's server as the Makefile starts it, notebook 01 opened in
headless Chromium (Playwright driving Debian's ``chromium``), Run All through the menu, as a student
would. Checks: no error output, and the markdown cells rendered by jupyterlab-myst (no raw
``{cite}`` / ``{numref}`` roles left). Skipped with a reason where no browser or Playwright is here.
jupyterlab-myst does not know myst-nb's glue: ``{glue:text}`` shows its key and ``{glue:figure}`` an
"Unknown Directive" box, so glue is not checked here (CONTRIBUTING.md, "Teaching parts").

``REPRO_LAB_SCREENSHOT=/tmp/lab01.png`` keeps a screenshot of the notebook after the run."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from rendered import CHROMIUM_FLAGS, chromium

from helpers.book import run
from helpers.core.config import REPO_ROOT

NOTEBOOK = "01_bert_cls.ipynb"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_command() -> list[str]:
    """`make lab`'s command line (``make -n lab``), with this interpreter for ``.venv/bin/python``."""
    out = subprocess.run(["make", "-n", "lab"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    line = next(l for l in out.stdout.replace("\\\n", " ").splitlines() if "-m jupyterlab" in l).split()
    return [sys.executable] + line[line.index("-m") :]


def _smoke_copy(dest: Path) -> Path:
    """Notebook 01 with its parameters cell set to the smoke profile, as a teacher would type it."""
    source = REPO_ROOT / "notebooks" / NOTEBOOK
    nb = nbformat.read(source, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    text = cell.source
    for name, value in run.profile_parameters(source.stem, "smoke").items():
        text = re.sub(
            rf"^{name}\s*=.*?(\s+#.*)?$", lambda m: f"{name} = {value!r}{m[1] or ''}", text, 1, re.M
        )
    cell.source = text
    nbformat.write(nb, dest / NOTEBOOK)
    return dest / NOTEBOOK


def _settings(folder: Path) -> Path:
    """User settings: every cell kept in the page (no windowing, so every markdown cell is rendered
    and checked) and no news pop-up over the screenshot."""
    for plugin, values in {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
    }.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return folder


def _wait_http(url: str, proc, timeout: float = 120) -> None:
    start = time.time()
    while time.time() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"jupyter lab did not answer {url}")


PROMPTS = (
    "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim())"
)


@pytest.mark.slow
def test_notebook_01_runs_in_jupyterlab_in_a_browser(tmp_path, shared_data):
    if chromium() is None:
        pytest.skip("no Chromium browser installed (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install -e '.[test]')")

    root = tmp_path / "root"
    root.mkdir()
    notebook = _smoke_copy(root)
    port, token = _free_port(), "repro-lab-test"
    cmd = [a for a in _lab_command() if not a.startswith("--ServerApp.root_dir=")] + [
        f"--ServerApp.root_dir={root}",  # make lab's is notebooks/; here a copy in smoke
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.getuid() == 0 and "--allow-root" not in cmd:
        cmd.append("--allow-root")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "REPRO_ARTIFACTS": str(tmp_path / "_artifacts"),
        "REPRO_NOTEBOOKS": str(root),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter_config"),  # no user settings, no workspace
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(_settings(tmp_path / "settings")),
    }
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/api/status?token={token}", proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            page.wait_for_selector(".jp-MarkdownCell .myst", timeout=60_000)  # jupyterlab-myst's output
            # Kernel ready, then Run > Run All Cells through the menu bar.
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
            page.click("li.lm-MenuBar-item:has-text('Run')")
            page.locator(
                "li.lm-Menu-item[data-command='runmenu:run-all'], "
                "li.lm-Menu-item[data-command='notebook:run-all-cells']"
            ).first.click()
            deadline = time.time() + 900
            prompts: list[str] = []
            while time.time() < deadline:
                time.sleep(3)
                prompts = page.evaluate(PROMPTS)
                busy = any("*" in t for t in prompts)
                errored = page.locator(".jp-OutputArea-output:has-text('Traceback')").count() > 0
                if errored or (not busy and prompts and all(re.search(r"\d", t) for t in prompts)):
                    break
            else:
                pytest.fail(f"Run All did not finish in 15 minutes; prompts: {prompts}")
            page.keyboard.press("Control+s")
            time.sleep(3)
            markdown = page.evaluate(
                "() => [...document.querySelectorAll('.jp-MarkdownCell .myst')].map(e => e.textContent).join('\\n')"
            )
            n_rendered = page.locator(".jp-MarkdownCell .myst").count()
            shot = os.environ.get("REPRO_LAB_SCREENSHOT")
            page.screenshot(path=str(tmp_path / "lab01.png"), full_page=False)
            exercises = page.locator(".jp-MarkdownCell .myst", has_text="Exercises").first
            exercises.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "lab01-exercises.png"))
            if shot:
                shutil.copy(tmp_path / "lab01.png", shot)
                shutil.copy(
                    tmp_path / "lab01-exercises.png", Path(shot).with_name(Path(shot).stem + "-exercises.png")
                )
            tracebacks = page.locator(".jp-OutputArea-output:has-text('Traceback')").all_text_contents()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()

    assert not tracebacks, f"error output in the browser: {tracebacks[0][:2000]}"
    saved = nbformat.read(notebook, as_version=4)
    errors = [o for c in saved.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"error output in the saved notebook: {errors[0].get('evalue')}"
    assert all(c.get("execution_count") for c in saved.cells if c.cell_type == "code"), "not every cell ran"
    n_markdown = sum(c.cell_type == "markdown" for c in saved.cells)
    assert n_rendered == n_markdown, (
        f"{n_rendered} of {n_markdown} markdown cells rendered by jupyterlab-myst"
    )
    assert "What you will learn" in markdown and "Recall questions" in markdown
    for raw in ("{cite}", "{numref}", "```{"):
        assert raw not in markdown, f"raw MyST {raw} in JupyterLab's rendered markdown (jupyterlab-myst off?)"
    produced = list((tmp_path / "_artifacts" / "01_bert_cls").glob("*/artifact.json"))
    assert len(produced) == 1, "the notebook wrote its artifact"
