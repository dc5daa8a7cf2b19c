"""The serialize stage: the distinct ideas evolution found become candidates (serialize_run)."""
from __future__ import annotations

from typing import Any

__all__ = ["serialize_run"]


def __getattr__(name: str) -> Any:
    # The entry point is imported on first use, not with the package: the stage packages import each other's
    # modules (deploy reads evolve's lineage, evolve reads the paper book), and an eager import would loop.
    if name == "serialize_run":
        from tasks.serialize.candidates import serialize_run
        return serialize_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
