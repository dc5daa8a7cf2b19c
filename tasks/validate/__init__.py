"""The validate stage: gate 1 (backtest and StepM significance), gate 2 (event-driven replay),
gate 3 (venue or testnet)."""
from __future__ import annotations

from typing import Any

__all__ = ["validate_run"]


def __getattr__(name: str) -> Any:
    # The entry point is imported on first use, not with the package: the stage packages import each other's
    # modules (deploy reads evolve's lineage, evolve reads the paper book), and an eager import would loop.
    if name == "validate_run":
        from tasks.validate.stage import validate_run
        return validate_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
