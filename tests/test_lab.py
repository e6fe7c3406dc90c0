"""`make lab`: a notebook runs from notebooks/ the way JupyterLab runs it (nbclient, no papermill)."""

import re
import subprocess

import nbformat
import pytest
import yaml

from helpers.book import run
from helpers.core.config import REPO_ROOT


def _set_parameters(cell, values: dict) -> None:
    """Edit the parameters cell's assignments in place, as a teacher would type them."""
    source = cell.source
    for name, value in values.items():
        pattern = re.compile(rf"^{name}\s*=.*?(\s+#.*)?$", re.M)
        assert pattern.search(source), f"parameter {name} not in the parameters cell"
        source = pattern.sub(lambda m: f"{name} = {value!r}{m[1] or ''}", source, count=1)
    cell.source = source


def test_make_lab_opens_notebooks_with_the_project_kernel():
    out = subprocess.run(["make", "-n", "lab"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert "ipykernel install --sys-prefix --name repro-book" in out.stdout
    assert re.search(
        r"-m jupyterlab --ServerApp.root_dir=notebooks\s+.*default_kernel_name=repro-book",
        out.stdout.replace("\\\n", " "),
    )


@pytest.mark.slow
def test_notebook_runs_in_jupyter_from_the_notebooks_folder(tmp_path, monkeypatch, shared_data):
    from nbclient import NotebookClient

    source = REPO_ROOT / "notebooks" / "01_bert_cls.ipynb"
    nb = nbformat.read(source, as_version=4)
    smoke = run.profile_parameters(source.stem, "smoke")
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    _set_parameters(cell, smoke)
    monkeypatch.setenv("REPRO_ARTIFACTS", str(tmp_path / "_artifacts"))
    kernel = nb.metadata.get("kernelspec", {}).get("name", "python3")
    client = NotebookClient(
        nb, kernel_name=kernel, timeout=900, resources={"metadata": {"path": str(source.parent)}}
    )
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert "papermill" not in nb.metadata
    produced = list((tmp_path / "_artifacts" / "01_bert_cls").glob("*/artifact.json"))
    assert len(produced) == 1, "the notebook wrote its artifact into REPRO_ARTIFACTS"
    meta = yaml.safe_load(produced[0].read_text())
    assert meta["run"] == "smoke", "the edited parameters cell (profile smoke) took effect"
