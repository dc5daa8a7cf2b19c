"""The nightly data refresh against the loopback venue over HTTP: what it adds, what it records, and that
no failure (nothing listening, a host that never answers, an unlisted coin, a venue failing midway)
raises or touches what the store already held."""
from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from report_fixtures import synthetic_candles

from exchange.venue import Venue, VenueServer
from exchange.venue.data import BAR_MS
from exchange.venue.wire import UnsupportedRequest
from tasks.market.refresh import refresh_market_data
from tasks.market.store import MarketStore, epoch_ms

COINS = ["BTC", "ETH"]
N_BARS = 240
MISSING = 24
"""Bars (and funding rows) at the end of the venue's data that the stale store lacks."""


def _funding(n: int) -> pd.DataFrame:
    """Hourly funding paid at the close of each of `n` bars, alternating +0.01 % and -0.005 %."""
    closes = (synthetic_candles(n)["timestamp"] + pd.Timedelta(hours=1)).astype("datetime64[ms, UTC]")
    return pd.DataFrame({"timestamp": closes, "funding_rate": np.where(np.arange(n) % 2, 0.0001, -0.00005),
                         "premium": np.zeros(n)})


def _market(coin: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    return synthetic_candles(N_BARS, seed=COINS.index(coin)), _funding(N_BARS)


@pytest.fixture(scope="module")
def venue_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The venue's market in the market-store layout."""
    store = MarketStore(tmp_path_factory.mktemp("venue-market"))
    for coin in COINS:
        candles, funding = _market(coin)
        store.merge_candles(coin, "1h", candles, source="synthetic")
        store.merge_funding(coin, funding, source="synthetic")
    return store.root


def _serve(venue_data: Path, venue_type: type[Venue] = Venue) -> VenueServer:
    """A venue whose clock stands at the close of the last bar: every bar and funding row is served."""
    end = int(epoch_ms(_market("BTC")[0]["timestamp"])[-1]) + BAR_MS
    return VenueServer(venue_type.from_dir(venue_data, start_ms=end, speed=0.0))


@pytest.fixture
def venue_url(venue_data: Path) -> Iterator[str]:
    with _serve(venue_data) as server:
        yield server.url


@pytest.fixture
def stale(tmp_path: Path) -> MarketStore:
    """A store holding the venue's data except its last MISSING bars and funding rows."""
    store = MarketStore(tmp_path / "market")
    for coin in COINS:
        candles, funding = _market(coin)
        store.merge_candles(coin, "1h", candles.iloc[:-MISSING], source="earlier fetch")
        store.merge_funding(coin, funding.iloc[:-MISSING], source="earlier fetch")
    return store


def _files(store: MarketStore) -> dict[str, bytes]:
    return {str(p.relative_to(store.root)): p.read_bytes() for p in sorted(store.root.rglob("*")) if p.is_file()}


def _refresh(store: MarketStore, endpoint: str, coins: list[str] = COINS, **kwargs: Any) -> dict:
    return refresh_market_data(store, endpoint, coins, "1h", sleep=lambda s: None, **kwargs)


def _last_bar() -> str:
    return _market("BTC")[0]["timestamp"].iloc[-1].isoformat()


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refresh_adds_the_missing_bars_and_funding_then_nothing(stale: MarketStore, venue_url: str) -> None:
    record = _refresh(stale, venue_url)
    coin = {"candles_added": MISSING, "candles_total": N_BARS, "funding_added": MISSING, "gaps": 0,
            "last_bar": _last_bar()}
    assert {k: v for k, v in record.items() if k != "seconds"} == {
        "endpoint": venue_url, "interval": "1h", "ok": True, "new_bars": 2 * MISSING,
        "coins": {"BTC": coin, "ETH": coin}, "error": None}
    assert json.loads(json.dumps(record)) == record and 0 <= record["seconds"] < 30
    for name in COINS:
        candles, funding = _market(name)
        pd.testing.assert_frame_equal(stale.read_candles(name, "1h"), candles)
        pd.testing.assert_frame_equal(stale.read_funding(name), funding)

    again = _refresh(stale, venue_url)
    assert again["ok"] and again["new_bars"] == 0 and again["error"] is None
    assert again["coins"]["BTC"] == coin | {"candles_added": 0, "funding_added": 0}


def test_a_refresh_with_nothing_listening_fails_fast_and_leaves_the_store_alone(
        stale: MarketStore, caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{_dead_port()}"
    before = _files(stale)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tasks.market.refresh"):
        record = refresh_market_data(stale, url, COINS, "1h")  # the real backoff: this is the nightly case
    assert time.monotonic() - started < 10
    assert not record["ok"] and record["new_bars"] == 0
    assert record["error"].startswith(f"data refresh from {url} failed: TransportError: [Errno ")
    assert record["error"].endswith("] Connection refused")
    assert "\n" not in record["error"] and caplog.messages == [record["error"]]
    assert record["coins"]["ETH"] == {"candles_added": 0, "candles_total": N_BARS - MISSING, "funding_added": 0,
                                      "gaps": 0, "last_bar": _market("ETH")[0]["timestamp"].iloc[-MISSING - 1]
                                      .isoformat()}
    assert _files(stale) == before


def test_a_host_that_never_answers_fails_within_the_request_timeout(stale: MarketStore) -> None:
    before = _files(stale)
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        record = _refresh(stale, url, timeout_s=0.2, max_attempts=2)
    assert not record["ok"] and record["seconds"] < 5
    assert record["error"].startswith(f"data refresh from {url} failed: TransportError:")
    assert "timed out" in record["error"] and _files(stale) == before


def test_a_coin_the_venue_does_not_list_fails_before_anything_is_fetched(stale: MarketStore,
                                                                          venue_url: str) -> None:
    before = _files(stale)
    record = _refresh(stale, venue_url, ["BTC", "DOGE"])
    assert not record["ok"] and record["new_bars"] == 0
    assert record["error"] == (f"data refresh from {venue_url} failed: ConfigurationError: "
                               f"coins DOGE are not listed by {venue_url}")
    assert record["coins"]["DOGE"] == {"candles_added": 0, "candles_total": 0, "funding_added": 0, "gaps": 0,
                                       "last_bar": None}
    assert _files(stale) == before


class _EthFundingDown(Venue):
    """Refuses every ETH funding request, as a venue might refuse a request it cannot read."""

    def handle(self, path: str, body: Any) -> Any:
        if isinstance(body, dict) and body.get("type") == "fundingHistory" and body.get("coin") == "ETH":
            raise UnsupportedRequest("ETH funding is down")
        return super().handle(path, body)


def test_a_failure_midway_keeps_and_records_what_was_merged_before_it(stale: MarketStore,
                                                                       venue_data: Path) -> None:
    with _serve(venue_data, _EthFundingDown) as server:
        record = _refresh(stale, server.url)
    assert not record["ok"] and record["error"].startswith(f"data refresh from {server.url} failed: BadRequestError:")
    btc, eth = record["coins"]["BTC"], record["coins"]["ETH"]
    assert (btc["candles_added"], btc["funding_added"]) == (MISSING, MISSING)
    assert (eth["candles_added"], eth["funding_added"]) == (MISSING, 0)  # its candles came before the failure
    assert record["new_bars"] == 2 * MISSING and eth["candles_total"] == len(stale.read_candles("ETH", "1h"))
    assert len(stale.read_funding("ETH")) == N_BARS - MISSING
