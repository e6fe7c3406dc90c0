"""helpers.book.notebook.setup: the hidden first cell of every notebook."""

import pytest
import torch

from helpers.book import notebook
from helpers.core.errors import ReproError


def test_setup_resolves_run_and_checks_profile(capsys):
    nb = notebook.setup("smoke", "")
    assert nb == notebook.Setup("smoke", "smoke", None)
    assert notebook.setup("quick", "mine").run == "mine"
    assert "run=mine" in capsys.readouterr().out
    with pytest.raises(ReproError):
        notebook.setup("fast", "")


def test_setup_device_threads_and_seed():
    before = torch.get_num_threads()
    try:
        nb = notebook.setup("smoke", "", device="cpu", cpu_threads=1, seed=3)
        assert nb.device == torch.device("cpu") and torch.get_num_threads() == 1
        a = torch.rand(3)
        notebook.setup("smoke", "", seed=3)
        assert torch.equal(a, torch.rand(3))
    finally:
        torch.set_num_threads(before)
