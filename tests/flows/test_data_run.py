"""A quant's own data and settings end to end: `uce run` on a coin the product has never heard of (kPEPE, real
BTC candles renamed), with a config file, fetching the newest bars and the funding history from the
loopback venue over HTTP before it evolves. One real run: Prefect, Ray, the SDK."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from orchestration_helpers import manifest, uce

from exchange.venue import Venue, VenueServer
from exchange.venue.data import BAR_MS
from tasks.market.store import MarketStore, epoch_ms

COIN = "kPEPE"
BARS = 4000  # the last ~5.5 months of 2023: hourly funding throughout
NEW = 48  # bars the venue has and the store does not, yet
CONFIG = """
coins = ["kPEPE"]
[costs]
taker_fee = 0.0007
[windows]
validation_days = 45
replay_days = 20
live_days = 7
[validation]
min_sharpe = 1.5
"""


@pytest.fixture(scope="module")
def market(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    candles = pd.read_parquet(shared_data / "candles-1h" / "BTC.parquet").iloc[-BARS:].reset_index(drop=True)
    funding = pd.read_parquet(shared_data / "funding-1h" / "BTC.parquet")
    return candles, funding[funding["timestamp"] > candles["timestamp"].iloc[0]].reset_index(drop=True)


@pytest.fixture(scope="module")
def run_dir(market, prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    candles, funding = market
    venue_store = MarketStore(tmp_path_factory.mktemp("venue"))
    venue_store.merge_candles(COIN, "1h", candles, source="BTC renamed")
    venue_store.merge_funding(COIN, funding, source="BTC renamed")
    data = tmp_path_factory.mktemp("data")
    MarketStore(data / "market").merge_candles(COIN, "1h", candles.iloc[:-NEW], source="an earlier import")
    config = data / "night.toml"
    config.write_text(CONFIG)
    end = int(epoch_ms(candles["timestamp"])[-1]) + BAR_MS  # the venue's clock at the close of its last bar
    with VenueServer(Venue.from_dir(venue_store.root, start_ms=end, speed=0.0)) as server:
        done = uce(data, "run", "--test-mode", "--config", str(config), "--refresh-from", server.url,
                   "--run-id", "night", "--workers", "2")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return data / "runs" / "night"


def test_the_config_file_sets_the_run(run_dir: Path) -> None:
    recorded = manifest(run_dir)
    assert recorded["status"] == "completed"
    params = recorded["parameters"]
    assert params["coins"] == [COIN] and params["test_mode"] is True
    assert params["costs"]["taker_fee"] == 0.0007 and params["validation"]["min_sharpe"] == 1.5
    assert params["windows"]["validation_days"] == 45
    assert recorded["config_file"]["path"].endswith("night.toml") and len(recorded["config_file"]["sha256"]) == 64
    validation = recorded["windows"]["validation"]
    assert validation["days"] == 45 and recorded["windows"]["sizing"] == "configured day counts"
    report = json.loads((run_dir / "report.json").read_text())
    assert report["configuration"]["changed"]["costs.taker_fee"] == 0.0007
    assert report["configuration"]["changed"]["windows.validation_days"] == 45
    assert report["validation"]["thresholds"]["min_sharpe"] == 1.5


def test_the_run_fetched_new_bars_and_real_funding_first(run_dir: Path, market) -> None:
    candles, funding = market
    recorded = manifest(run_dir)
    refresh = recorded["data_refresh"]
    assert refresh["ok"] and refresh["new_bars"] == NEW
    assert refresh["coins"][COIN]["funding_added"] == len(funding)
    coin = recorded["data"]["coins"][COIN]
    assert coin["bars"] == BARS and coin["last"] == str(candles["timestamp"].iloc[-1])
    assert coin["funding_observed_share"] > 0.99  # charged the imported rates, not the assumption
    report = json.loads((run_dir / "report.json").read_text())
    assert report["data_refresh"]["new_bars"] == NEW
    assert f"Fresh data: {NEW} new hourly bars for {COIN}" in (run_dir / "report.html").read_text()


def test_uce_log_records_reach_the_prefect_run(run_dir: Path) -> None:
    """The UI's Logs tab shows uce's own lines (here the refresh's, from flows.pipeline), not only states."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    flow_run = UUID(manifest(run_dir)["prefect"]["flow_run_id"])
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run])))
    messages = {log.name: log.message for log in logs}
    assert "data refresh from http://127.0.0.1" in messages.get("flows.pipeline", ""), sorted(messages)
    assert any(name.startswith("tasks.") for name in messages), sorted(messages)
