"""The hourly `paper-trader` flow against a real (local) Prefect server: while nothing is deployed a run is
a Completed no-op that needs neither the key nor the venue; with something to trade, a missing key fails
the run naming where the key is looked for."""
from __future__ import annotations

import socket
from pathlib import Path
from uuid import UUID

import pytest

from exchange.hyperliquid.secrets import PRIVATE_KEY_BLOCK, PRIVATE_KEY_ENV
from exchange.paper import PaperPaths, Registry, StrategySpec
from flows.paper_flow import paper_trader_flow
from kernels.genome import N_GENES

IDLE_LINE = "nothing deployed; nothing to trade"
ENGINE_LINES = ("Beginning flow run", "Finished in state")
"""How Prefect's engine opens and closes every flow run's log."""


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRIVATE_KEY_ENV, raising=False)


def _closed_url() -> str:
    """A venue URL nobody listens on: any request to it would fail the run."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _flow_run_messages(flow_run_id: UUID) -> list[str]:
    """Every log line the Prefect server holds for the flow run (its engine's lines included)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)  # the lines are shipped in the background
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [log.message for log in logs]


def test_nothing_deployed_is_a_completed_no_op_without_key_or_venue(prefect_server: str, tmp_path: Path) -> None:
    state = paper_trader_flow(data_dir=str(tmp_path), url=_closed_url(), return_state=True)
    assert state.is_completed(), state.message
    registry = PaperPaths(tmp_path / "paper").registry
    assert state.result()["idle"] == f"registry {registry}: no such file" and state.result()["bars"] == []
    messages = _flow_run_messages(state.state_details.flow_run_id)
    ours = [m for m in messages if not m.startswith(ENGINE_LINES)]
    assert ours == [f"{IDLE_LINE} (registry {registry}: no such file)"], messages
    assert not any("private key" in m or "Traceback" in m for m in messages)
    assert not (tmp_path / "paper").exists()


def test_something_deployed_and_no_key_fails_naming_the_key(prefect_server: str, tmp_path: Path) -> None:
    spec = StrategySpec("s-1", "test-run", "BTC", "rsi_filter", (0.3,) * N_GENES, 10_000.0, 0.1, "test")
    Registry(PaperPaths(tmp_path / "paper").registry).register([spec])
    state = paper_trader_flow(data_dir=str(tmp_path), url=_closed_url(), return_state=True)
    assert state.is_failed()
    assert f"set ${PRIVATE_KEY_ENV} or create the Prefect Secret block '{PRIVATE_KEY_BLOCK}'" in state.message
    assert not any(m.startswith(IDLE_LINE) for m in _flow_run_messages(state.state_details.flow_run_id))
