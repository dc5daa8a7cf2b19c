"""Parsers against real recorded Hyperliquid answers, and pagers against the venue."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from hyperliquid.info import Info
from venue_helpers import N_BARS, START_BAR, T0_MS

from exchange.hyperliquid.limits import HistoryLimits
from exchange.hyperliquid.market_data import candle_pages, funding_pages, parse_candles, parse_funding
from exchange.hyperliquid.rate_limit import WeightBudget
from exchange.venue import Venue, VenueServer
from exchange.venue.data import BAR_MS, CoinSeries


def _recorded(shared_data: Path, name: str) -> list[dict]:
    pairs = json.loads((shared_data / "hyperliquid-api" / f"{name}.json").read_text())
    return next(p["response"] for p in pairs if p["request"]["type"] == name)


def test_parse_recorded_candle_snapshot(shared_data: Path) -> None:
    rows = _recorded(shared_data, "candleSnapshot")
    frame = parse_candles(rows)
    assert list(frame.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert str(frame["timestamp"].dtype) == "datetime64[ms, UTC]" and len(frame) == 24
    first = frame.iloc[0]
    assert first["timestamp"] == pd.Timestamp(1684699200000, unit="ms", tz="UTC")
    assert (first["open"], first["high"], first["low"], first["close"], first["volume"]) == (
        0.001601, 0.001616, 0.001601, 0.001604, 520665683.0)
    assert (np.diff(frame["timestamp"].astype("int64")) == BAR_MS).all()


def test_parse_recorded_funding_history(shared_data: Path) -> None:
    rows = _recorded(shared_data, "fundingHistory")
    frame = parse_funding(rows)
    assert list(frame.columns) == ["timestamp", "funding_rate", "premium"] and len(frame) == len(rows) == 1038
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2023-05-12 00:00", tz="UTC")  # API time is 48 ms past
    assert (frame["funding_rate"].iloc[0], frame["premium"].iloc[0]) == (-0.00061334, -0.00091334)
    assert frame["timestamp"].is_monotonic_increasing and frame["timestamp"].dt.minute.eq(0).all()


def test_pagers_walk_the_whole_history_in_small_pages(market: dict[str, CoinSeries]) -> None:
    limits = HistoryLimits(candles_available=None, candles_per_response=64, funding_per_response=25)
    venue = Venue(market, start_ms=T0_MS + N_BARS * BAR_MS, speed=0.0, history=limits)
    spent: list[int] = []

    class Recording(WeightBudget):
        def spend(self, weight: int) -> float:
            spent.append(weight)
            return 0.0

    with VenueServer(venue) as server:
        info = Info(server.url, skip_ws=True, timeout=5)
        end = venue.clock.now_ms()
        candles = list(candle_pages(info, "ETH", "1h", 0, end, call=lambda fn: fn(), budget=Recording()))
        funding = list(funding_pages(info, "ETH", 0, end, call=lambda fn: fn(), budget=Recording()))
    assert [len(p) for p in candles] == [64] * 6 + [16]
    whole = pd.concat(candles, ignore_index=True)
    assert len(whole) == N_BARS and whole["timestamp"].is_unique
    assert np.array_equal(whole["close"].to_numpy(), market["ETH"].close)
    assert sum(len(p) for p in funding) == N_BARS and len(funding) == 16
    assert spent[:2] == [20, 1]  # base weight, then one per 60 candles returned


def test_open_candle_is_left_out(market: dict[str, CoinSeries]) -> None:
    venue = Venue(market, start_ms=T0_MS + START_BAR * BAR_MS, speed=0.0)
    with VenueServer(venue) as server:
        info = Info(server.url, skip_ws=True, timeout=5)
        end = T0_MS + 100 * BAR_MS + 1  # bar 100 opened at end - 1 ms and is still open at end
        pages = list(candle_pages(info, "BTC", "1h", 0, end, call=lambda fn: fn(), budget=WeightBudget()))
    assert pages[-1]["timestamp"].iloc[-1] == pd.Timestamp(T0_MS + 99 * BAR_MS, unit="ms", tz="UTC")


def test_empty_pages_parse_to_empty_frames() -> None:
    assert parse_candles([]).empty and parse_funding([]).empty
