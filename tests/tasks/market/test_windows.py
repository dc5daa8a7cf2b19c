"""Run windows: oldest to newest, no overlap, the configured sizes when data allows, fractions otherwise."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.market.source import load_market_data, offline_sample
from tasks.market.store import MarketDataError, MarketStore
from tasks.market.windows import bar_range, fold_bounds, split_windows
from tasks.run.config import CostConfig, WindowConfig


def _store_with(tmp_path, n_bars: int) -> MarketStore:
    store = MarketStore(tmp_path / "market")
    ts = pd.date_range("2021-01-01", periods=n_bars, freq="1h", tz="UTC")
    price = np.linspace(100, 200, n_bars)
    store.merge_candles("BTC", "1h", pd.DataFrame({
        "timestamp": ts, "open": price, "high": price * 1.01, "low": price * 0.99, "close": price,
        "volume": np.ones(n_bars)}), source="test")
    return store


def test_day_counts_when_data_is_long(tmp_path) -> None:
    store = _store_with(tmp_path, 3 * 365 * 24)
    market = load_market_data(store, ("BTC",), "1h", CostConfig())
    w = split_windows(market, WindowConfig())
    assert not w.by_fraction
    assert w.train.end == w.validation.start and w.validation.end == w.replay.start and w.replay.end == w.live.start
    assert (w.validation.end - w.validation.start) == pd.Timedelta(days=365)
    assert (w.replay.end - w.replay.start) == pd.Timedelta(days=90)
    assert (w.live.end - w.live.start) == pd.Timedelta(days=14)
    candles = market.coins[0].candles
    ranges = [bar_range(candles, x) for x in (w.train, w.validation, w.replay, w.live)]
    assert ranges[0][0] == 0 and ranges[-1][1] == len(candles)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


def test_fractions_on_the_offline_sample() -> None:
    market = load_market_data(MarketStore("/nonexistent"), ("BTC",), "1h", CostConfig())
    assert "offline sample" in market.source and len(market.coins[0].candles) == len(offline_sample("1h"))
    w = split_windows(market, WindowConfig())
    assert w.by_fraction
    assert w.train.start < w.validation.start < w.replay.start < w.live.start < w.live.end


def test_too_little_data_is_a_clear_error(tmp_path) -> None:
    market = load_market_data(_store_with(tmp_path, 200), ("BTC",), "1h", CostConfig())
    with pytest.raises(MarketDataError, match="too short"):
        split_windows(market, WindowConfig())


def test_fold_bounds_stay_inside_train_after_warmup() -> None:
    bounds = fold_bounds(0, 10_000, 4, 300)
    assert bounds[0] == 300 and bounds[-1] == 9_999 and len(bounds) == 5 and np.all(np.diff(bounds) > 0)
    short = fold_bounds(0, 1_000, 4, 300)
    assert short[0] == 200  # warm-up never eats more than a fifth of a short train window
