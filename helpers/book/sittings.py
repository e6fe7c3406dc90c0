"""The sittings in which the runner executed each notebook (:func:`helpers.book.run.execute`):
when each started, how long it ran and how it ended. A ``full`` run resumed over several sittings
(book/running.md, "Recording in two parts") adds up its real wall time per notebook from them
(:func:`wall_time`), where papermill's own duration is only the last sitting's.

They are kept in the artifact store, ``<artifacts>/sittings/<run>/<notebook>/``, one JSON file per
sitting. The file is rewritten every :data:`HEARTBEAT_S` seconds while the notebook runs, so a
sitting cut off by ``kill -9`` or a lost machine still counts up to its last heartbeat.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.core.config import artifact_root

#: seconds between two rewrites of a running sitting's file (what a killed sitting may miss)
HEARTBEAT_S = 30.0


def what_ran(fingerprint: dict) -> str:
    """12 hex digits naming what a sitting computed: the notebook's source, the helper code it
    uses and its parameters (``run._fingerprint``), not where it ran nor the record it shows."""
    same = {k: fingerprint.get(k) for k in ("source_sha", "helpers_sha", "params")}
    return hashlib.sha256(json.dumps(same, sort_keys=True, default=str).encode()).hexdigest()[:12]


def folder(run: str, stem: str, root: os.PathLike | None = None) -> Path:
    """Where the sittings of notebook ``stem`` in artifact namespace ``run`` are kept."""
    return Path(root or artifact_root()) / "sittings" / run / stem


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


@contextmanager
def sitting(
    run: str,
    stem: str,
    fingerprint: dict,
    *,
    heartbeat_s: float = HEARTBEAT_S,
    root: os.PathLike | None = None,
) -> Iterator[Path]:
    """Keep the sitting of the code run inside the block: its file says ``what`` ran
    (:func:`what_ran`), when it ``started``, the ``seconds`` it has run so far and, at the end,
    its ``outcome`` (``completed``, ``failed`` or ``interrupted``; None while it runs or when it
    was killed)."""
    path = folder(run, stem, root)
    path.mkdir(parents=True, exist_ok=True)
    start = time.time()
    file = (
        path
        / f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(start))}-{os.getpid()}-{time.time_ns() % 10**6}.json"
    )
    entry = {"what": what_ran(fingerprint), "started": _now(), "seconds": 0.0, "outcome": None}
    lock, stop = threading.Lock(), threading.Event()

    def save(**changes) -> None:
        with lock:
            entry.update(changes, seconds=round(time.time() - start, 1), last_seen=_now())
            tmp = file.with_name(f".{file.name}.tmp")
            tmp.write_text(json.dumps(entry))
            os.replace(tmp, file)

    def beat() -> None:
        while not stop.wait(heartbeat_s):
            save()

    save()
    thread = threading.Thread(target=beat, name=f"sitting {stem}", daemon=True)
    thread.start()
    outcome = "failed"
    try:
        yield file
        outcome = "completed"
    except KeyboardInterrupt:
        outcome = "interrupted"
        raise
    finally:
        stop.set()
        thread.join()
        save(outcome=outcome)


def read(run: str, stem: str, root: os.PathLike | None = None) -> list[dict]:
    """Every kept sitting of notebook ``stem``, oldest first."""
    path = folder(run, stem, root)
    if not path.is_dir():
        return []
    return sorted((json.loads(p.read_text()) for p in path.glob("*.json")), key=lambda e: e["started"])


def wall_time(run: str, stem: str, fingerprint: dict, root: os.PathLike | None = None) -> dict | None:
    """``{"seconds": ..., "sittings": n}`` over every kept sitting of ``stem`` that ran what
    ``fingerprint`` names (sittings of other code or parameters computed something else), or
    None when none is kept."""
    what = what_ran(fingerprint)
    mine = [e for e in read(run, stem, root) if e["what"] == what]
    if not mine:
        return None
    return {"seconds": round(sum(e["seconds"] for e in mine), 1), "sittings": len(mine)}
