"""Shared fixtures: the real data folder beside the repo, and one local Prefect server for the session."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import flows  # noqa: F401  (points numba's on-disk cache at a folder keyed on the kernel sources)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real market data of ../shared/data; skips where it does not exist (a user's machine)."""
    if not (SHARED_DATA / "candles-1h").is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local Prefect server (started by flows.prefect_api); its URL is in PREFECT_API_URL for this process
    and its subprocesses. Shared by the orchestration tests and the exchange's Secret-block test."""
    from flows.prefect_api import prefect_api

    saved = os.environ.pop("PREFECT_API_URL", None)  # never a user's own server
    try:
        with prefect_api(tmp_path_factory.mktemp("prefect-home")) as url:
            yield url
    finally:
        if saved is not None:
            os.environ["PREFECT_API_URL"] = saved
