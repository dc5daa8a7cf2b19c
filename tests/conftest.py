"""Shared fixtures: the real data folder beside the repo, and a shared numba cache."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

# One on-disk JIT cache for the whole test session (and its Ray workers) instead of recompiling per process.
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO_ROOT / ".numba_cache"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real market data of ../shared/data; skips where it does not exist (a user's machine)."""
    if not (SHARED_DATA / "candles-1h").is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA
