"""`uce data fetch` against the loopback venue serving ../shared/data (3 years of hourly BTC and ETH)."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from exchange.hyperliquid.limits import HISTORY, RATE_LIMITS
from exchange.hyperliquid.rate_limit import WeightBudget
from exchange.hyperliquid.settings import ExchangeSettings
from exchange.venue import Faults, Venue, VenueServer
from exchange.venue.data import BAR_MS
from flows.cli import main
from tasks.market.fetch import fetch_market_data
from tasks.market.store import MarketStore

REPO = Path(__file__).resolve().parents[3]
COINS = ["BTC", "ETH"]
UNLIMITED = HISTORY._replace(candles_available=None)
NO_BUDGET = 10 ** 9
"""Weight per minute for tests that are not about the budget (the real 1,200 would sleep for minutes)."""


def _ms(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)


@pytest.fixture
def served(shared_data: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Venue, str]]:
    """A venue over the shared data; `@pytest.mark.parametrize("served", [kwargs], indirect=True)` configures it."""
    kwargs = {"speed": 0.0, **getattr(request, "param", {})}
    venue = Venue.from_dir(shared_data, coins=COINS, **kwargs)
    with VenueServer(venue) as server:
        yield venue, server.url


def _fetch(store: MarketStore, url: str, coins: list[str] = COINS, **kwargs: object) -> list:
    budget = kwargs.pop("budget", WeightBudget(NO_BUDGET))
    return fetch_market_data(store, ExchangeSettings(endpoint=url, backoff_s=0), coins, budget=budget,
                             sleep=lambda s: None, **kwargs)


def _assert_store_equals_source(store: MarketStore, shared_data: Path, coins: list[str] = COINS) -> None:
    for coin in coins:
        candles = store.read_candles(coin, "1h")
        assert candles["timestamp"].is_unique
        pd.testing.assert_frame_equal(candles, pd.read_parquet(shared_data / "candles-1h" / f"{coin}.parquet"))
        funding = pd.read_parquet(shared_data / "funding-1h" / f"{coin}.parquet")
        pd.testing.assert_frame_equal(store.read_funding(coin), funding)


@pytest.mark.parametrize("served", [{"history": UNLIMITED, "start_ms": _ms("2024-01-01")}], indirect=True)
def test_fetch_with_the_candle_limit_lifted_equals_the_source_files(served: tuple[Venue, str], tmp_path: Path,
                                                                     shared_data: Path) -> None:
    store = MarketStore(tmp_path / "market")
    reports = _fetch(store, served[1])
    assert [(r.coin, r.candles_added, r.funding_added, r.gaps) for r in reports] == [
        ("BTC", 27952, 5047, []), ("ETH", 27952, 5047, [])]
    _assert_store_equals_source(store, shared_data)
    assert [r.candles_added for r in _fetch(store, served[1])] == [0, 0]


@pytest.mark.parametrize("served", [{"start_ms": _ms("2023-03-01")}], indirect=True)
def test_repeated_fetches_grow_the_store_without_gaps(served: tuple[Venue, str], tmp_path: Path) -> None:
    venue, url = served
    store = MarketStore(tmp_path / "market")
    assert [r.candles_added for r in _fetch(store, url)] == [5000, 5000]
    for hours in (1, 100, 4000):
        venue.step(hours * BAR_MS)
        reports = _fetch(store, url)
        assert [(r.candles_added, r.gaps) for r in reports] == [(hours, []), (hours, [])]
    candles = store.read_candles("BTC", "1h")
    first, last = candles["timestamp"].iloc[[0, -1]]
    assert len(candles) == 9101 and last == pd.Timestamp(venue.clock.now_ms() - BAR_MS, unit="ms", tz="UTC")
    assert (last - first) == pd.Timedelta(hours=9100)


@pytest.mark.parametrize("served", [{"start_ms": _ms("2022-01-01")}], indirect=True)
def test_a_fetch_skipped_for_longer_than_the_api_history_reports_the_gap(served: tuple[Venue, str],
                                                                         tmp_path: Path) -> None:
    venue, url = served
    store = MarketStore(tmp_path / "market")
    _fetch(store, url)
    venue.step(5100 * BAR_MS)
    (btc, eth) = _fetch(store, url)
    missing = (pd.Timestamp("2022-01-01", tz="UTC"), pd.Timestamp("2022-01-05 03:00", tz="UTC"))
    assert btc.gaps == eth.gaps == [missing] and btc.candles_added == 5000


@pytest.mark.parametrize("served", [{"history": UNLIMITED, "start_ms": _ms("2024-01-01"),
                                     "faults": Faults(latency_ms=100)}], indirect=True)
def test_a_fetch_killed_midway_completes_on_rerun_without_duplicates(served: tuple[Venue, str], tmp_path: Path,
                                                                      shared_data: Path) -> None:
    venue, url = served
    command = [sys.executable, "-m", "flows.cli", "--data-dir", str(tmp_path), "data", "fetch",
               "--coins", "BTC", "--url", url]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = MarketStore(tmp_path / "market")
    try:
        deadline = time.monotonic() + 60
        while not store.candles_path("BTC", "1h").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the fetch finished before it could be killed"
    assert len(store.read_candles("BTC", "1h")) < 27952 and store.read_funding("BTC") is None

    venue.faults = Faults()
    _fetch(store, url, ["BTC"])
    _assert_store_equals_source(store, shared_data, ["BTC"])


@pytest.mark.parametrize("served", [{"start_ms": _ms("2023-06-01")}], indirect=True)
def test_requests_stay_within_the_weight_budget(served: tuple[Venue, str], tmp_path: Path) -> None:
    clock = [0.0]
    spends: list[tuple[float, int]] = []

    class Recording(WeightBudget):
        def spend(self, weight: int) -> float:
            waited = super().spend(weight)
            spends.append((clock[0], weight))
            return waited

    budget = Recording(300, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    _fetch(MarketStore(tmp_path / "market"), served[1], budget=budget)
    assert clock[0] >= 60, "the fetch should have had to wait for the budget"
    for start, _ in spends:
        assert sum(w for t, w in spends if start <= t < start + 60) <= 300
    assert sum(w for _, w in spends) > 300 and spends[0] == (0.0, RATE_LIMITS.info_weight)


@pytest.mark.parametrize("served", [{"start_ms": _ms("2023-12-31")}], indirect=True)
def test_fetches_of_different_coins_accumulate_in_the_fetch_record(served: tuple[Venue, str], tmp_path: Path) -> None:
    url = served[1]
    store = MarketStore(tmp_path / "market")
    assert store.fetch_records() == {}
    before = time.time()
    for coin in COINS:
        _fetch(store, url, [coin], since=pd.Timestamp("2023-12-30", tz="UTC"))
    records = store.fetch_records()
    assert sorted(records) == ["BTC-1h", "ETH-1h"]
    assert {(r.coin, r.interval, r.endpoint) for r in records.values()} == {("BTC", "1h", url), ("ETH", "1h", url)}
    assert all(before <= r.fetched_at <= time.time() for r in records.values())


@pytest.mark.parametrize("served", [{"start_ms": _ms("2023-12-31")}], indirect=True)
def test_cli_fetch_from_a_date(served: tuple[Venue, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = served[1]
    assert main(["--data-dir", str(tmp_path), "data", "fetch", "--coins", "BTC", "--since", "2023-12-30",
                 "--url", url]) == 0
    assert "BTC 1h: +24 bars (24 in store), +25 funding rows, 0 gap(s)" in capsys.readouterr().out
    candles = MarketStore(tmp_path / "market").read_candles("BTC", "1h")
    assert candles["timestamp"].iloc[0] == pd.Timestamp("2023-12-30", tz="UTC")
    assert main(["--data-dir", str(tmp_path), "data", "fetch", "--coins", "NOPE", "--url", url]) == 2
    assert "error: coins NOPE are not listed" in capsys.readouterr().err
    assert main(["--data-dir", str(tmp_path), "data", "fetch", "--coins", "BTC", "--url", "ftp://x"]) == 2
    assert "expected 'mainnet', 'testnet' or an http(s) URL" in capsys.readouterr().err
