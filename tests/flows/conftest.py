"""The orchestration tests' Prefect server: one for the session, started by flows.prefect_api."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local Prefect server; its URL is in PREFECT_API_URL for this process and its subprocesses."""
    from flows.prefect_api import prefect_api

    saved = os.environ.pop("PREFECT_API_URL", None)  # never a user's own server
    try:
        with prefect_api(tmp_path_factory.mktemp("prefect-home")) as url:
            yield url
    finally:
        if saved is not None:
            os.environ["PREFECT_API_URL"] = saved
