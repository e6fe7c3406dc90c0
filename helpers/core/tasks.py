"""Independent runs as tasks: in this process (the default) or on a Dask cluster.

Notebook 04's Table A1 grid (row x recipe x head x seed) is a list of independent training runs.
:func:`executor` gives something with ``map(fn, items)`` that runs ``fn`` on every item and returns
the results in the items' order:

* ``executor()`` (``workers=0``, no scheduler): a plain loop in this process, what ``make book``
  does; Dask is not even imported.
* ``executor(workers=N)``: a ``distributed.LocalCluster`` of ``N`` worker processes (one thread
  each) on this machine; each task gets ``cores // N`` torch threads.
* ``executor(scheduler="tcp://host:8786")``: any running Dask cluster (``dask scheduler`` +
  ``dask worker``, ``dask-jobqueue``'s ``SLURMCluster``, one worker per GPU), see
  ``book/running.md``, "On a cluster or several GPUs".

``fn`` must be a top-level function of an importable module and the items plain picklable values
(paths, dicts, small arrays): big inputs travel as files (on a cluster: on a shared file system).
A task is expected to write its own checkpointed artifact, so that a worker lost mid-task costs
that task only (Dask runs it again elsewhere) and a rerun of the whole grid skips what finished.

``python -m helpers.run ... --workers N`` / ``--scheduler ADDRESS`` pass the two parameters
(:data:`PLACEMENT`, ``helpers.book.run.placement_parameters``) to the notebooks that declare them; they change where the runs happen, not
what they compute, so they are in neither an artifact key nor the runner's execution cache.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import partial
from typing import Callable, Iterable, Iterator

from .errors import ReproError

#: notebook parameters that say where tasks run (not what they compute)
PLACEMENT = ("workers", "scheduler")
RETRIES = 2  # a task that raises is tried this many more times (a lost worker is rescheduled anyway)
CONNECT_TIMEOUT = "30s"  # how long --scheduler waits for the cluster to answer


def cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


class InProcess:
    """Run the tasks one after the other in this process (items may be a lazy generator)."""

    remote = False
    workers = 0

    def map(self, fn: Callable, items: Iterable, *, desc: str = "tasks") -> list:
        return [fn(item) for item in items]

    def __repr__(self) -> str:
        return "InProcess()"


def _run_task(fn: Callable, threads: int | None, item):
    """What a Dask worker runs: set torch's threads for this task, then ``fn(item)``.

    ``threads`` None: the cores of the worker's process divided by the tasks it runs at once
    (Dask's nanny sets ``OMP_NUM_THREADS=1``, so torch's own default would be one thread)."""
    if threads is None:
        try:
            from distributed import get_worker

            per = max(1, int(get_worker().state.nthreads))
        except (ImportError, ValueError, AttributeError):
            per = 1
        threads = max(1, cores() // per)
    import torch

    torch.set_num_threads(int(threads))
    return fn(item)


class DaskExecutor:
    """Run the tasks on a Dask cluster through ``client``; results in the items' order."""

    remote = True

    def __init__(self, client, threads: int | None = None, workers: int = 0):
        self.client = client
        self.threads = threads
        self.workers = workers

    def map(self, fn: Callable, items: Iterable, *, desc: str = "tasks") -> list:
        from distributed import as_completed
        from tqdm.auto import tqdm

        items = list(items)
        if not items:
            return []
        futures = self.client.map(partial(_run_task, fn, self.threads), items, pure=False, retries=RETRIES)
        with tqdm(total=len(futures), desc=desc, unit="task") as bar:
            for fut in as_completed(futures):
                if fut.status == "error":
                    fut.result()  # raises the task's exception here, with its traceback
                bar.update()
        return self.client.gather(futures)

    def __repr__(self) -> str:
        return f"DaskExecutor({self.client.scheduler.address!r}, threads={self.threads})"


@contextmanager
def executor(workers: int = 0, scheduler: str | None = None, *, threads: int | None = None) -> Iterator:
    """An executor for independent tasks (module docstring): in this process by default,
    ``workers=N`` a ``LocalCluster`` of ``N`` single-threaded processes, ``scheduler`` an existing
    cluster's address (wins over ``workers``).  ``threads``: torch threads per task (default: the
    cores divided among the workers; on an existing cluster, each worker's cores divided by its
    Dask threads)."""
    workers = int(workers or 0)
    if workers < 0:
        raise ReproError(f"workers must be >= 0 (0: in this process), not {workers}.")
    if scheduler:
        from distributed import Client

        try:
            client = Client(str(scheduler), timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            raise ReproError(
                f"No Dask scheduler answers at {scheduler!r} ({exc}); start one (`dask scheduler`, "
                "a SLURMCluster, book/running.md) or run without --scheduler."
            ) from exc
        with client:
            print(
                f"tasks on the Dask cluster at {scheduler} ({len(client.scheduler_info()['workers'])} workers)"
            )
            yield DaskExecutor(client, threads=threads)
    elif workers:
        from distributed import Client, LocalCluster

        per = threads or max(1, cores() // workers)
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                host="127.0.0.1",
            ) as cluster,
            Client(cluster) as client,
        ):
            print(f"tasks on a local Dask cluster: {workers} worker processes x {per} torch threads")
            yield DaskExecutor(client, threads=per, workers=workers)
    else:
        yield InProcess()
