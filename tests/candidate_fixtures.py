"""Small synthetic markets for the candidate-level tests (serialize, validate): a planted pattern that truly
trades a sine market, and random walks with nothing to find."""
from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.market.source import CoinData, MarketData

__all__ = ["PLANTED", "market_data", "random_walk_market", "sine_market"]

# A stochastic-oscillator genome that trades the sine market below (found by random search on its own
# generator; the test only needs one strategy that truly works there).
PLANTED = ("stochastic", [0.088, 0.278, 0.963, 0.953, 0.604, 0.756, 0.249, 0.527, 0.411, 0.775, 0.228, 0.567])


def market_data(close: np.ndarray, seed: int, wick: float = 0.001) -> MarketData:
    n = len(close)
    rng = np.random.default_rng(seed)
    open_ = np.r_[close[0], close[:-1]]
    candles = pd.DataFrame({
        "timestamp": pd.date_range("2022-01-01", periods=n, freq="1h", tz="UTC").astype("datetime64[ms, UTC]"),
        "open": open_,
        "high": np.maximum(open_, close) * (1 + wick * rng.uniform(0.5, 1.5, n)),
        "low": np.minimum(open_, close) * (1 - wick * rng.uniform(0.5, 1.5, n)),
        "close": close,
        "volume": rng.lognormal(3.0, 0.5, n),
    })
    return MarketData((CoinData("BTC", candles, np.full(n, 1.25e-5), 0.0),), "1h", "synthetic", "assumed")


def sine_market(n: int = 3000) -> MarketData:
    """A 48-hour ±3 % cycle under a little noise: oscillator strategies can really earn here."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    close = 100 * (1 + 0.03 * np.sin(2 * np.pi * t / 48)) * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    return market_data(close, seed=0)


def random_walk_market(n: int, seed: int) -> MarketData:
    """BTC-like hourly volatility (~0.6 %), no drift, nothing to find."""
    rng = np.random.default_rng(seed)
    return market_data(30_000 * np.exp(np.cumsum(rng.normal(0, 0.006, n))), seed=seed, wick=0.003)
