"""Markets for the kernel tests: a small synthetic random walk, and real hourly bars of ../shared/data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kernels.evaluate import Market

ASSUMED_FUNDING = 1.25e-5  # per hour, where the real history has no rate (the baseline 0.00125 %)


def synthetic_market(n: int = 1500, seed: int = 0) -> Market:
    """A geometric random walk with regime-switching drift (so trend and reversion families both trade),
    intrabar ranges, volume with a few zero bars, and funding that changes sign in persistent stretches."""
    rng = np.random.default_rng(seed)
    drift = np.repeat(rng.normal(0.0, 0.002, n // 100 + 1), 100)[:n]
    close = 20_000.0 * np.exp(np.cumsum(drift + rng.normal(0.0, 0.008, n)))
    open_ = np.r_[close[0], close[:-1]] * (1.0 + rng.normal(0.0, 0.001, n))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.006, n))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.006, n))
    volume = rng.lognormal(3.0, 0.6, n) * (rng.uniform(size=n) > 0.02)
    funding = np.repeat(rng.normal(0.0, 4e-5, n // 50 + 1), 50)[:n]
    return Market(open_, high, low, close, volume, funding, 8760.0)


def real_market(shared_data: Path, coin: str = "BTC", n: int | None = None) -> Market:
    """The last n hourly bars of `coin` with its funding history where it exists, ASSUMED_FUNDING elsewhere."""
    candles = pd.read_parquet(shared_data / "candles-1h" / f"{coin}.parquet")
    if n is not None:
        candles = candles.iloc[-n:]
    funding = np.full(len(candles), ASSUMED_FUNDING)
    path = shared_data / "funding-1h" / f"{coin}.parquet"
    if path.exists():
        rates = pd.read_parquet(path).set_index("timestamp")["funding_rate"]
        known = rates.reindex(candles["timestamp"]).to_numpy()
        funding = np.where(np.isnan(known), funding, known)
    return Market(*(candles[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume")),
                  funding, 8760.0)


def truncated(market: Market, stop: int) -> Market:
    """The market as it looked at the close of bar stop - 1."""
    return Market(*(a[:stop] for a in market[:6]), market.bars_per_year)
