"""`uce health`: each component's state, the overall score and level, exit code 1 when critical."""
from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exchange.venue import Venue, VenueServer
from exchange.venue.data import BAR_MS, CoinSeries
from flows.cli import main
from tasks.market.store import MarketStore
from tasks.orchestration import health
from tasks.orchestration.breakers import BreakerBoard, BreakerSettings
from tasks.orchestration.health import (GB, Check, check_disk, check_market, check_ray, check_venue, health_report,
                                        level_of)


@pytest.mark.parametrize(("score", "critical", "level"), [
    (95, False, "excellent"), (90, False, "excellent"), (80, False, "good"), (60, False, "degraded"),
    (30, False, "poor"), (10, False, "critical"), (95, True, "critical")])
def test_levels(score: float, critical: bool, level: str) -> None:
    assert level_of(score, critical) == level


def test_overall_score_skips_what_is_not_configured() -> None:
    report = health_report([Check("a", 100, ""), Check("b", 60, ""), Check("venue", None, "no URL")])
    assert (report.score, report.level) == (80.0, "good")
    assert [c.state for c in report.checks] == ["healthy", "degraded", "not configured"]


def _store_with_last_bar(root: Path, last: pd.Timestamp, *, fetched: bool = True) -> MarketStore:
    """BTC 1h bars up to ``last``: fed by fetching (a fetch record), or only imported (historical)."""
    store = MarketStore(root)
    ts = pd.date_range(end=last, periods=48, freq="1h", tz="UTC")
    store.merge_candles("BTC", "1h", pd.DataFrame({"timestamp": ts, "open": 1.0, "high": 1.0, "low": 1.0,
                                                   "close": 1.0, "volume": 1.0}), source="test")
    if fetched:
        store.record_fetch("BTC", "1h", endpoint="http://127.0.0.1:1", fetched_at=last.timestamp())
    return store


@pytest.mark.parametrize(("age_h", "score"), [(1, 100), (10, 80), (72, 50), (24 * 30, 20)])
def test_market_freshness(tmp_path: Path, age_h: int, score: int) -> None:
    now = pd.Timestamp("2024-06-01T12:00", tz="UTC")
    check = check_market(_store_with_last_bar(tmp_path, now - pd.Timedelta(hours=age_h)), now)
    assert check.score == score and "BTC-1h" in check.detail


def test_a_historical_store_is_not_judged_stale(tmp_path: Path) -> None:
    now = pd.Timestamp("2026-12-06T12:00", tz="UTC")
    check = check_market(_store_with_last_bar(tmp_path, pd.Timestamp("2023-12-31T23:00", tz="UTC"), fetched=False),
                         now)
    assert check.state == "healthy"
    assert check.detail == "historical store (newest bar 2023-12-31 23:00 UTC), freshness not judged"


def test_fetched_series_are_judged_and_imported_ones_are_not(tmp_path: Path) -> None:
    now = pd.Timestamp("2026-12-06T12:00", tz="UTC")
    store = _store_with_last_bar(tmp_path, now - pd.Timedelta(days=30))  # fetched, then the feed stopped
    ts = pd.date_range(end="2023-12-31T23:00", periods=48, freq="1h", tz="UTC")
    store.merge_candles("ETH", "1h", pd.DataFrame({"timestamp": ts, "open": 1.0, "high": 1.0, "low": 1.0,
                                                   "close": 1.0, "volume": 1.0}), source="import")
    check = check_market(store, now)
    assert check.score == 20 and check.state == "critical"
    assert check.detail == ("1 fetched series; stalest BTC-1h, newest bar 720.0 h old; 1 historical series "
                            "(newest bar 2023-12-31 23:00 UTC), freshness not judged")


@pytest.mark.parametrize(("free_gb", "score"), [(20, 100), (3, 70), (1, 30), (0.1, 0)])
def test_disk_thresholds(tmp_path: Path, free_gb: float, score: int) -> None:
    assert check_disk(tmp_path, free_bytes=lambda path: int(free_gb * GB)).score == score


def test_open_breaker_caps_the_component(tmp_path: Path) -> None:
    board = BreakerBoard(tmp_path, BreakerSettings(threshold=1))
    board.failure("ray", ConnectionError("node lost"))
    check = check_ray(None, board)
    assert check.score == 40 and check.state == "degraded" and "circuit breaker OPEN" in check.detail


def test_venue_up_and_down() -> None:
    t0, bars = 1_700_000_000_000, 48
    times = t0 + np.arange(bars, dtype=np.int64) * BAR_MS
    flat = np.full(bars, 100.0)
    series = CoinSeries("BTC", times, flat, flat, flat, flat, flat, times + BAR_MS, np.zeros(bars), np.zeros(bars))
    with VenueServer(Venue({"BTC": series}, start_ms=int(times[24]), speed=0.0)) as server:
        up = check_venue(server.url)
        url = server.url
    assert up.score == 100 and "1 perps listed" in up.detail
    down = check_venue(url)
    assert down.score == 0 and down.state == "critical"


@pytest.fixture
def roomy_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Disk and memory healthy whatever this machine has: CLI tests are about the other components."""
    monkeypatch.setattr(health, "check_disk", lambda path: Check("disk", 100, "stub: plenty free"))
    monkeypatch.setattr(health, "check_memory", lambda: Check("memory", 100, "stub: plenty available"))
    monkeypatch.delenv("UCE_VENUE_URL", raising=False)


def test_cli_exits_1_when_critical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, roomy_machine) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{dead}/api")  # nothing listens there
    assert main(["--data-dir", str(tmp_path), "health"]) == 1
    out = capsys.readouterr().out
    assert "health: critical" in out and "unreachable" in out
    monkeypatch.delenv("PREFECT_API_URL")
    assert main(["--data-dir", str(tmp_path), "health"]) == 0


def test_cli_on_a_historical_store_is_not_critical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,
                                                    roomy_machine) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    _store_with_last_bar(tmp_path / "market", pd.Timestamp("2023-12-31T23:00", tz="UTC"), fetched=False)
    assert main(["--data-dir", str(tmp_path), "health"]) == 0
    out = capsys.readouterr().out
    assert "health: excellent" in out and "historical store" in out
