"""The deploy stage: the decision rules, the selection of survivors and the paper book (deploy_run)."""
from __future__ import annotations

from typing import Any

__all__ = ["deploy_run"]


def __getattr__(name: str) -> Any:
    # The entry point is imported on first use, not with the package: the stage packages import each other's
    # modules (deploy reads evolve's lineage, evolve reads the paper book), and an eager import would loop.
    if name == "deploy_run":
        from tasks.deploy.stage import deploy_run
        return deploy_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
