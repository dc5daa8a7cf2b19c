"""The venue reads both folder layouts and refuses folders it cannot use."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from venue_helpers import N_BARS, T0_MS

from exchange.venue import Venue
from exchange.venue.clock import ReplayClock
from exchange.venue.data import BAR_MS, load_market_data


def test_market_store_layout(market_dir: Path) -> None:
    data = load_market_data(market_dir)
    assert sorted(data) == ["BTC", "ETH"]
    btc = data["BTC"]
    assert btc.bar_open_ms[0] == T0_MS and len(btc.close) == N_BARS and btc.bar_open_ms.dtype == np.int64
    assert len(btc.funding_ms) == N_BARS and btc.funding_ms[0] == T0_MS + BAR_MS


def test_shared_data_layout(shared_data: Path) -> None:
    data = load_market_data(shared_data, ["BTC", "SOL"])
    source = pd.read_parquet(shared_data / "candles-1h" / "BTC.parquet")
    assert len(data["BTC"].close) == len(source) and data["BTC"].close[-1] == source["close"].iloc[-1]
    assert data["BTC"].bar_open_ms[0] == source["timestamp"].iloc[0].value // 1_000_000
    assert len(data["BTC"].funding_ms) == 5047 and len(data["SOL"].funding_ms) == 0


def test_default_replay_starts_fourteen_days_before_the_end(market_dir: Path) -> None:
    venue = Venue.from_dir(market_dir, speed=0.0)
    assert venue.clock.now_ms() == T0_MS + N_BARS * BAR_MS - 14 * 86_400_000


def test_unusable_folders_are_refused(tmp_path: Path, market_dir: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_market_data(tmp_path / "nope")
    with pytest.raises(ValueError, match="no hourly candles"):
        load_market_data(tmp_path)
    with pytest.raises(ValueError, match=r"\['DOGE'\]"):
        load_market_data(market_dir, ["BTC", "DOGE"])
    with pytest.raises(ValueError, match="replay must start"):
        Venue.from_dir(market_dir, start_ms=T0_MS)


def test_replay_clock_runs_at_speed_and_steps() -> None:
    wall = [100.0]
    clock = ReplayClock(0, 10_000_000, speed=3600.0, wall=lambda: wall[0])
    wall[0] += 2.0
    assert clock.now_ms() == 7_200_000
    assert clock.step(1_000_000) == 8_200_000
    wall[0] += 10.0
    assert clock.now_ms() == 10_000_000
    with pytest.raises(ValueError, match="forward"):
        clock.step(-1)
