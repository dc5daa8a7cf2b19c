"""The four non-overlapping data windows of a run, oldest to newest: train | validation | replay | live.

Windows are dates, shared by every coin of the run; each coin maps them to its own bar indices. A
window's bars may be *read* as indicator history by later windows (that is not look-ahead), but no stage
ever scores a strategy on a window an earlier stage selected it on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.market.source import MarketData
from tasks.market.store import MarketDataError, epoch_ms, interval_timedelta
from tasks.run.config import WindowConfig

__all__ = ["Window", "RunWindows", "split_windows", "bar_range", "fold_bounds"]

WINDOW_NAMES = ("train", "validation", "replay", "live")
MIN_BARS_PER_WINDOW = 48


@dataclass(frozen=True)
class Window:
    name: str
    start: pd.Timestamp  # first bar's open time
    end: pd.Timestamp  # exclusive: the first bar after the window

    def describe(self) -> dict:
        days = round((self.end - self.start).total_seconds() / 86400, 2)
        return {"start": str(self.start), "end": str(self.end), "days": days}


@dataclass(frozen=True)
class RunWindows:
    train: Window
    validation: Window
    replay: Window
    live: Window
    by_fraction: bool  # True when the data was too short for the configured day counts

    def describe(self) -> dict:
        out = {w.name: w.describe() for w in (self.train, self.validation, self.replay, self.live)}
        out["sizing"] = "fractions of the data" if self.by_fraction else "configured day counts"
        return out


def split_windows(market: MarketData, config: WindowConfig) -> RunWindows:
    """Cut the span every coin covers into train | validation | replay | live."""
    step = interval_timedelta(market.interval)
    first = max(c.candles["timestamp"].iloc[0] for c in market.coins)
    end = min(c.candles["timestamp"].iloc[-1] for c in market.coins) + step
    span = end - first
    days = (config.validation_days, config.replay_days, config.live_days)
    tail = pd.Timedelta(days=sum(days))
    by_fraction = tail > span * 0.5  # train must keep at least half of the data
    if by_fraction:
        lengths = [span * f for f in config.fractions[1:]]
    else:
        lengths = [pd.Timedelta(days=d) for d in days]
    cuts = [end]
    for length in reversed(lengths):
        cuts.insert(0, _floor(cuts[0] - length, step, first))
    bounds = [first, *cuts]
    windows = [Window(n, bounds[i], bounds[i + 1]) for i, n in enumerate(WINDOW_NAMES)]
    for w in windows:
        if (w.end - w.start) / step < MIN_BARS_PER_WINDOW:
            raise MarketDataError(
                f"the data ({first} → {end}) is too short: the {w.name} window would have fewer than "
                f"{MIN_BARS_PER_WINDOW} bars"
            )
    return RunWindows(*windows, by_fraction=by_fraction)


def _floor(t: pd.Timestamp, step: pd.Timedelta, origin: pd.Timestamp) -> pd.Timestamp:
    return origin + ((t - origin) // step) * step


def bar_range(candles: pd.DataFrame, window: Window) -> tuple[int, int]:
    """Bar indices [i0, i1) of ``candles`` inside ``window``."""
    ms = epoch_ms(candles["timestamp"])
    lo, hi = (round(pd.Timestamp(t).timestamp() * 1000) for t in (window.start, window.end))
    return int(np.searchsorted(ms, lo, side="left")), int(np.searchsorted(ms, hi, side="left"))


def fold_bounds(i0: int, i1: int, folds: int, warmup: int) -> np.ndarray:
    """K+1 increasing bar indices splitting [i0 + warmup, i1 - 1] into K equal walk-forward segments."""
    start = min(i0 + warmup, i0 + (i1 - i0) // 5)
    return np.linspace(start, i1 - 1, folds + 1).round().astype(np.int64)
