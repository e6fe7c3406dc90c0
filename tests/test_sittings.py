"""The runner's sittings (helpers/book/sittings.py): a notebook run resumed over several sittings
adds up its real wall time, and a sitting cut off by kill -9 counts up to its last heartbeat."""

import json
import signal
import subprocess
import sys
import time

import pytest

from helpers.book import sittings

CODE = {"source_sha": "a", "helpers_sha": "b", "params": {"profile": "full", "seeds": [0, 1, 2]}}


def test_a_sitting_says_what_ran_how_long_and_how_it_ended(tmp_path):
    with sittings.sitting("full", "04_x", CODE, root=tmp_path) as file:
        time.sleep(0.3)
        assert json.loads(file.read_text())["outcome"] is None  # written at the start
    with pytest.raises(ValueError), sittings.sitting("full", "04_x", CODE, root=tmp_path):
        raise ValueError("a cell failed")
    with pytest.raises(KeyboardInterrupt), sittings.sitting("full", "04_x", CODE, root=tmp_path):
        raise KeyboardInterrupt
    kept = sittings.read("full", "04_x", root=tmp_path)
    assert [e["outcome"] for e in kept] == ["completed", "failed", "interrupted"]
    assert 0.3 <= kept[0]["seconds"] < 5 and kept[0]["what"] == sittings.what_ran(CODE)
    assert sittings.read("full", "03_x", root=tmp_path) == []


def test_only_sittings_of_the_same_code_and_parameters_add_up(tmp_path):
    where = {"cpu_threads": 2, "artifact_root": "/elsewhere", "recorded": "other record"}
    other = {**CODE, "params": {"profile": "full", "seeds": [0]}}
    for fingerprint, seconds in ((CODE, 0.2), ({**CODE, **where}, 0.2), (other, 0.0)):
        with sittings.sitting("full", "04_x", fingerprint, root=tmp_path):
            time.sleep(seconds)
    total = sittings.wall_time("full", "04_x", CODE, root=tmp_path)
    assert total["sittings"] == 2 and 0.4 <= total["seconds"] < 5
    assert sittings.wall_time("full", "04_x", other, root=tmp_path)["sittings"] == 1
    assert sittings.wall_time("quick", "04_x", CODE, root=tmp_path) is None


def test_a_killed_sitting_counts_up_to_its_last_heartbeat(tmp_path):
    script = (
        "import time\n"
        "from helpers.book import sittings\n"
        f"with sittings.sitting('full', '03_x', {CODE!r}, heartbeat_s=0.1, root={str(tmp_path)!r}):\n"
        "    print('started', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    (killed,) = sittings.read("full", "03_x", root=tmp_path)
    assert killed["outcome"] is None  # it never ended
    assert 0.7 <= killed["seconds"] <= 1.5  # ran about 1 s; the last heartbeat is at most 0.1 s old
    assert not list(sittings.folder("full", "03_x", tmp_path).glob(".*.tmp"))
