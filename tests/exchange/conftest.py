"""Fixtures for the exchange tests: the synthetic market on disk, and a live loopback venue with the SDK."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from venue_helpers import ALICE, BALANCE, BOB, START_BAR, T0_MS, candles_frame, funding_frame

from exchange.venue import Venue, VenueServer
from exchange.venue.data import BAR_MS, CoinSeries, load_market_data


@pytest.fixture(scope="session")
def market_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic market in the market-store layout (<COIN>-1h.parquet, funding/<COIN>.parquet)."""
    root = tmp_path_factory.mktemp("market")
    (root / "funding").mkdir()
    for coin, base in (("BTC", 30_000.0), ("ETH", 2_000.0)):
        candles_frame(base).to_parquet(root / f"{coin}-1h.parquet")
        funding_frame().to_parquet(root / "funding" / f"{coin}.parquet")
    return root


@pytest.fixture(scope="session")
def market(market_dir: Path) -> dict[str, CoinSeries]:
    """The synthetic market loaded once (the venue only reads it)."""
    return load_market_data(market_dir)


@pytest.fixture
def venue(market: dict[str, CoinSeries]) -> Venue:
    """A fresh venue at bar START_BAR, frozen clock, Alice and Bob funded with BALANCE USDC each."""
    return Venue(market, start_ms=T0_MS + START_BAR * BAR_MS, speed=0.0,
                 accounts={ALICE.address: BALANCE, BOB.address: BALANCE})


@pytest.fixture
def server(venue: Venue) -> Iterator[VenueServer]:
    """The venue served on an ephemeral 127.0.0.1 port."""
    with VenueServer(venue) as running:
        yield running


@pytest.fixture
def info(server: VenueServer) -> Info:
    """The unmodified SDK's Info against the venue (it fetches meta and spotMeta itself)."""
    return Info(server.url, skip_ws=True, timeout=5)


@pytest.fixture
def alice(server: VenueServer) -> Exchange:
    """The unmodified SDK's Exchange signing as Alice."""
    return Exchange(ALICE, server.url, timeout=5)

