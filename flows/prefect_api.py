"""A Prefect API for the run: the user's server when ``PREFECT_API_URL`` is set, else a local one we start.

Why not Prefect's ephemeral API: with Ray, every worker process would start its own temporary server
(~14 s each, ~290 ms per task; see PREFECT_RAY_NOTES.md). One local server (SQLite under the data
folder, ~4–5 s to start) serves the driver and every worker, and keeps the run history for the UI.
"""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, temporary_settings

__all__ = ["PrefectServerError", "prefect_api"]

log = logging.getLogger(__name__)
STARTUP_TIMEOUT_S = 90.0


class PrefectServerError(RuntimeError):
    """The local Prefect server did not come up."""


@contextmanager
def prefect_api(home: Path) -> Iterator[str]:
    """Yield an API URL that is exported in ``os.environ`` for this process and its Ray workers."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        yield url
        return
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = os.environ | {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    log_path = home / "server.log"
    started = time.monotonic()
    with open(log_path, "ab") as server_log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=server_log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        _wait_healthy(url, proc, log_path)
        log.info("local Prefect server at %s (started in %.1f s, log %s)", url, time.monotonic() - started, log_path)
        # Settings are read once per process: the environment covers child processes, the context this one.
        os.environ["PREFECT_API_URL"] = url
        try:
            with temporary_settings(updates={PREFECT_API_URL: url}):
                try:
                    yield url
                finally:
                    APILogWorker.drain_all(timeout=5)  # ship queued run logs while the server is up
        finally:
            os.environ.pop("PREFECT_API_URL", None)
    finally:
        _stop(proc)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PrefectServerError(f"the local Prefect server exited with code {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise PrefectServerError(f"the local Prefect server was not healthy after {STARTUP_TIMEOUT_S:.0f} s; "
                             f"see {log_path}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group, escalate to SIGKILL (uvicorn may linger)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass
