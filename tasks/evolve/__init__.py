"""The evolve stage: islands of genomes evolved on the train window (tasks.evolve.evolution.run_evolution)."""
from __future__ import annotations

from typing import Any

__all__ = ["run_evolution"]


def __getattr__(name: str) -> Any:
    # The entry point is imported on first use, not with the package: the stage packages import each other's
    # modules (deploy reads evolve's lineage, evolve reads the paper book), and an eager import would loop.
    if name == "run_evolution":
        from tasks.evolve.evolution import run_evolution
        return run_evolution
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
