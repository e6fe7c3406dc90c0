"""The one hidden setup call at the top of every notebook (its first cell after ``parameters``).

Every notebook starts with ``nb = notebook.setup(profile, run, ...)``: it checks the profile,
resolves the artifact namespace (``run``; "" means the profile's), and where asked limits torch's
CPU threads, seeds Python/NumPy/torch, picks the device and glues the profile's name for the
captions (e.g. ``a02-profile``). CONTRIBUTING.md, "Profiles and parameters".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from helpers.core import artifacts, config, report
from helpers.models import training


@dataclass(frozen=True)
class Setup:
    """What a notebook's first cell sets up: ``profile``, ``run`` and ``device`` (None if not asked)."""

    profile: str
    run: str
    device: Any = None


def setup(
    profile: str,
    run: str = "",
    *,
    device: str | None = None,
    cpu_threads: int | None = None,
    seed: int | None = None,
    glue: str | None = None,
) -> Setup:
    """Check ``profile``, resolve ``run``; optionally set torch's CPU threads on a CPU run
    (``cpu_threads``, 0 or None: torch's default), seed everything (``seed``, :func:`helpers.models.training.seed_everything`),
    pick the device (``device``: auto | cpu | cuda, :func:`helpers.models.training.pick_device`) and glue
    the profile's name under the key ``glue``. Prints one line saying what was set up."""
    config.check_profile(profile)
    run = artifacts.resolve_run(run, profile)
    dev = None
    if cpu_threads or seed is not None or device is not None:
        if seed is not None:
            training.seed_everything(seed)
        if device is not None:
            dev = training.pick_device(device)
        if cpu_threads and (dev is None or dev.type == "cpu"):
            torch.set_num_threads(int(cpu_threads))
    # tables show whole cells (the models tables' "why"); the book's CSS wraps them
    pd.set_option("display.max_colwidth", None)
    if glue:
        report.glue_text(glue, profile)
    print(f"profile={profile} run={run}" + (f" device={dev}" if dev is not None else ""))
    return Setup(profile, run, dev)
