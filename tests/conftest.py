"""Shared fixtures: the real data folder beside the repo."""
from __future__ import annotations

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
