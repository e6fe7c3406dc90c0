"""helpers/core/tasks.py: Table A1's runs as tasks, in process and on a 2-worker Dask LocalCluster.

The cluster tests start real worker processes (about 10-30 s on the shared 2-core machine, most
of it importing torch in the workers); one cluster serves the module.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
from torch import nn

from helpers.book import run
from helpers.core import tasks
from helpers.core.config import REPO_ROOT
from helpers.paper_a import head_recipes, sentiment_model, table_a1_runs

distributed = pytest.importorskip("distributed")


def _grid(n=192, epochs=3):
    """A small Table A1 grid: a cached-feature row (2 recipes' worth of learning rates) and an
    end-to-end row with a tiny frozen extractor, 2 seeds each; separable generated data."""
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * (n // 2))
    feats = rng.normal(size=(n, 4, 8, 8)).astype(np.float32)
    feats[:, :, 2:6, 2:6] += np.where(y[:, None, None, None] == 1, 1.0, -1.0)
    images = rng.normal(size=(n, 6, 6)).astype(np.float32)
    images[:, 2:4, 2:4] += np.where(y[:, None, None] == 1, 1.0, -1.0)
    a, b = int(n * 0.6), int(n * 0.8)
    idx = {"train": np.arange(0, a), "val": np.arange(a, b), "test": np.arange(b, n)}
    runs = {
        "alexnet | book recipe | book head": (
            "alexnet",
            head_recipes.recipe("alexnet", "book", epochs=epochs, batch_size=8),
        ),
        "vgg16_random | book recipe | book head": (
            "vgg16_random",
            head_recipes.recipe("vgg16", "book", epochs=epochs, batch_size=8, lr_classifier=1e-3),
        ),
    }

    def inputs_for(row):
        if row == "alexnet":
            return feats, None
        torch.manual_seed(0)
        ext = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()).eval()
        return images, ext

    return runs, inputs_for, idx, y


def _train(scratch, executor=None, grid=None):
    runs, inputs_for, idx, y = grid or _grid()
    results, histories = table_a1_runs.train_runs(
        runs,
        [0, 1],
        inputs_for,
        idx,
        y,
        device="cpu",
        scratch=scratch,
        scale=2,
        znorm={"mean": 0.0, "std": 1.0},
        evaluate_test=True,
        executor=executor,
    )
    return [{k: v for k, v in r.items() if k != "seconds"} for r in results], histories


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("in_process"))


@pytest.fixture(scope="module")
def cluster_executor():
    with tasks.executor(workers=2) as ex:
        ex.client.wait_for_workers(2, timeout=120)
        yield ex


def test_in_process_grid_comes_back_in_the_runs_and_seeds_order(in_process):
    results, histories = in_process
    assert [(r["run"], r["seed"]) for r in results] == [
        ("alexnet | book recipe | book head", 0),
        ("alexnet | book recipe | book head", 1),
        ("vgg16_random | book recipe | book head", 0),
        ("vgg16_random | book recipe | book head", 1),
    ]
    assert all(r["epochs"] == 3 and 0 <= r["test_acc"] <= 1 for r in results)
    assert [len(h) for h in histories.values()] == [2, 2]


@pytest.mark.timeout(300)
def test_two_worker_cluster_gives_the_in_process_results(tmp_path, in_process, cluster_executor):
    assert cluster_executor.remote and cluster_executor.threads == max(1, tasks.cores() // 2)
    assert _train(tmp_path, cluster_executor) == in_process
    # the inputs travelled as files: the in-memory features and the saved extractor
    assert sorted(p.name for p in (tmp_path / "inputs").iterdir()) == [
        "alexnet_x.npy",
        "vgg16_random_extractor.pt",
        "vgg16_random_x.npy",
    ]
    assert len(list(tmp_path.glob("*_seed*.json"))) == 4


def _kill_one_busy_worker(client, pids, scratch, killed, stop):
    """Once a task has checkpointed an epoch and is still running, SIGKILL the worker running it."""
    while not stop.is_set():
        mid_task = [p for p in scratch.glob("*_seed*.pt") if not p.with_suffix(".json").is_file()]
        if mid_task:
            busy = [w for w, keys in client.processing().items() if keys and w in pids]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(pids[busy[0]])
                return
        time.sleep(0.01)


@pytest.mark.timeout(300)
def test_a_worker_killed_mid_task_costs_one_task_and_the_results_stay(tmp_path, in_process, cluster_executor):
    client = cluster_executor.client
    client.wait_for_workers(2, timeout=120)
    pids = client.run(os.getpid)
    killed, stop = [], threading.Event()
    killer = threading.Thread(
        target=_kill_one_busy_worker, args=(client, pids, tmp_path, killed, stop), daemon=True
    )
    killer.start()
    try:
        again = _train(tmp_path, cluster_executor, _grid(epochs=3))
    finally:
        stop.set()
        killer.join(10)
    assert killed, "no worker was busy with a task to kill"
    assert again == in_process
    client.wait_for_workers(2, timeout=120)  # the nanny restarted the killed worker
    assert killed[0] not in client.run(os.getpid).values()


def test_an_existing_cluster_by_its_address_gives_each_task_the_workers_cores(cluster_executor):
    address = cluster_executor.client.scheduler.address
    with tasks.executor(scheduler=address) as ex:
        assert ex.remote and ex.threads is None
        # one Dask thread per worker: a task gets every core of its worker as torch threads
        assert ex.map(lambda _: torch.get_num_threads(), [0, 1]) == [tasks.cores()] * 2
    assert cluster_executor.map(lambda _: torch.get_num_threads(), [0]) == [max(1, tasks.cores() // 2)]


def test_an_absent_scheduler_is_one_clear_error(monkeypatch):
    from helpers.core.errors import ReproError

    monkeypatch.setattr(tasks, "CONNECT_TIMEOUT", "2s")

    with pytest.raises(ReproError, match="No Dask scheduler"):
        with tasks.executor(scheduler="tcp://127.0.0.1:9"):
            pass


def test_a_rerun_reuses_the_finished_tasks(tmp_path, in_process, monkeypatch):
    calls = []
    real = sentiment_model.train_head
    monkeypatch.setattr(
        sentiment_model, "train_head", lambda *a, **k: calls.append(k["seed"]) or real(*a, **k)
    )
    first = _train(tmp_path)
    assert first == in_process and len(calls) == 4
    done = sorted(tmp_path.glob("*_seed*.json"))
    stamps = {p: p.stat().st_mtime_ns for p in done}
    # a lost task: its result and checkpoint are gone; the rerun trains that one only
    lost = tmp_path / f"{table_a1_runs.run_tag('vgg16_random | book recipe | book head', 1)}.json"
    lost.unlink()
    lost.with_suffix(".pt").unlink()
    calls.clear()
    assert _train(tmp_path) == in_process
    assert calls == [1]
    assert all(p.stat().st_mtime_ns == stamps[p] for p in done if p != lost)
    saved = json.loads(lost.read_text())
    assert set(saved) == {"result", "history"} and saved["history"]["epoch"] == [1, 2, 3]


def test_in_process_executor_does_not_import_dask():
    code = (
        "import sys\nfrom helpers.core import tasks\n"
        "with tasks.executor() as ex:\n    out = ex.map(abs, [-1, 2])\n"
        "print(out, 'distributed' in sys.modules, 'dask' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert out.stdout.split() == ["[1,", "2]", "False", "False"]


def test_workers_must_not_be_negative():
    from helpers.core.errors import ReproError

    with pytest.raises(ReproError, match="workers"):
        with tasks.executor(workers=-1):
            pass


def test_runner_passes_placement_only_to_notebooks_that_declare_it_and_keeps_it_out_of_the_cache(monkeypatch):
    nb04 = REPO_ROOT / "notebooks" / "04_sentiment_training.ipynb"
    nb02 = REPO_ROOT / "notebooks" / "02_deepinsight.ipynb"
    assert run.placement_parameters(nb04, 2, "") == {"workers": 2, "scheduler": ""}
    assert run.placement_parameters(nb04, 0, "tcp://h:8786") == {"workers": 0, "scheduler": "tcp://h:8786"}
    assert run.placement_parameters(nb02, 2, "tcp://h:8786") == {}
    assert run.placement_parameters(nb04) == {}
    run.check_parameters(nb04, {"profile": "quick", "workers": 2, "scheduler": "tcp://h:8786"})
    monkeypatch.setattr(run, "helpers_fingerprint", lambda source: "code")  # slow, and not the point here
    monkeypatch.setattr(run, "recorded_fingerprint", lambda source: None)
    base = run._fingerprint(nb04, {"profile": "quick"}, "quick")
    assert run._fingerprint(nb04, {"profile": "quick", "workers": 4, "scheduler": "x"}, "quick") == base


def test_notebook06_jobs_run_in_process_reuse_their_files_and_travel_without_the_images(
    tmp_path, monkeypatch
):
    import pickle

    import pandas as pd

    from helpers.core.weights import ModelChoice
    from helpers.models import finetune
    from helpers.paper_b import finetune_tasks, retrieval_data

    choice = ModelChoice("resnet18", "fake", True, "test", "")
    calls = []

    def fake(name, image_set, split, *, checkpoint, **recipe):
        calls.append((name, image_set, checkpoint.name, recipe["epochs"]))
        return np.ones((len(split), 3)), {"val_acc": [0.5]}, choice

    monkeypatch.setattr(finetune, "finetuned_image_embeddings", fake)
    monkeypatch.setattr(finetune_tasks, "_load_images", lambda d, source: f"{d} from {source}")
    split = pd.DataFrame({"image": ["a", "b"], "class_id": [1, 2], "part": ["train", "val"]})
    local = finetune_tasks.image_job(
        "cub", "resnet18", "loaded", split, tmp_path, {"epochs": 1}, None, remote=False
    )
    r = finetune_tasks.run_job(local)
    assert isinstance(r, retrieval_data.CachedEmbedding) and not r.reused and r.dim == 3
    assert calls == [("resnet18", "loaded", "ckpt_cub_resnet18.pt", 1)]
    assert finetune_tasks.run_job(local).reused and len(calls) == 1  # its files: no second fine-tune
    remote = finetune_tasks.image_job(
        "flowers", "vgg11_bn", "loaded", split, tmp_path, {"epochs": 1}, "/data", remote=True
    )
    assert remote["image_set"] is None
    assert not finetune_tasks.run_job(pickle.loads(pickle.dumps(remote))).reused
    assert calls[-1][:2] == ("vgg11_bn", "flowers from /data")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "image_cub_resnet18.json",
        "image_cub_resnet18.npy",
        "image_flowers_vgg11_bn.json",
        "image_flowers_vgg11_bn.npy",
    ]
