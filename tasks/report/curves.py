"""Equity and drawdown of a run's strategies on the validation, replay and live windows, against buy-and-hold.

Recomputed for the report with the fused kernel (kernels.evaluate.returns through tasks.validate.candidate), on
the market data the run's manifest names (coins, interval, costs) and the window dates it recorded.
Each window is traded on its own, flat at its start, the way the gates score it: the position held over
the window's first bar is decided at the close before it. The store is append-only, so the bars up to
the run's last bar are the ones it used; their fingerprint is compared with the manifest's.
Buy-and-hold holds the coin from the same close, without fees or funding.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from kernels.evaluate import Costs, Market
from tasks.evolve.evaluation import kernel_costs, kernel_market
from tasks.market.source import CoinData, MarketData, load_market_data
from tasks.market.store import MarketStore, epoch_ms, interval_timedelta
from tasks.market.windows import Window, bar_range
from tasks.run.config import CostConfig
from tasks.run.run_dir import RunDir
from tasks.validate.candidate import Candidate, candidates_from_frame

__all__ = ["CURVE_WINDOWS", "Curve", "CurveSet", "strategy_curves"]

CURVE_WINDOWS = ("validation", "replay", "live")


class Curve(NamedTuple):
    """One strategy on one window: times (epoch s; the first point is the window's start, equity 1.0)."""

    window: str
    times: np.ndarray
    equity: np.ndarray
    hold: np.ndarray  # buy-and-hold equity

    @staticmethod
    def drawdown(equity: np.ndarray) -> np.ndarray:
        """Drawdown from the running peak, ≤ 0 (fraction)."""
        return equity / np.maximum.accumulate(equity) - 1.0


class CurveSet(NamedTuple):
    """Curves per strategy id (in CURVE_WINDOWS order) and a note on the data they were computed from."""

    curves: dict[str, list[Curve]]
    note: str


def _data_dir(run: RunDir) -> Path:
    """<data dir> of <data dir>/runs/<run_id>."""
    return run.root.parent.parent


def _as_run_saw(market: MarketData, manifest_data: dict) -> MarketData:
    """The market cut at each coin's last bar recorded in the manifest (bars appended since are dropped)."""
    coins = []
    for coin in market.coins:
        last = manifest_data.get("coins", {}).get(coin.coin, {}).get("last")
        if last is None:
            coins.append(coin)
            continue
        keep = int((coin.candles["timestamp"] <= pd.Timestamp(last)).sum())
        coins.append(CoinData(coin.coin, coin.candles.iloc[:keep].reset_index(drop=True), coin.funding[:keep],
                              coin.funding_observed_share))
    return MarketData(tuple(coins), market.interval, market.source, market.funding_assumption)


def strategy_curves(run: RunDir, strategies: pd.DataFrame) -> CurveSet:
    """Curves of ``strategies`` (rows with strategy_id, coin, family, genes[, family_b, genes_b])."""
    manifest = run.manifest()
    params = manifest.get("parameters", {})
    windows = manifest.get("windows", {})
    if strategies.empty:
        return CurveSet({}, "")
    missing = [w for w in CURVE_WINDOWS if w not in windows]
    if missing or not params.get("coins"):
        return CurveSet({}, f"curves unavailable: the manifest has no {', '.join(missing) or 'coins'} window")
    costs = CostConfig(**params.get("costs", {}))
    try:
        market = load_market_data(MarketStore(_data_dir(run) / "market"), tuple(params["coins"]),
                                  params.get("interval", "1h"), costs)
    except (ValueError, OSError) as err:
        return CurveSet({}, f"curves unavailable: {err}")
    market = _as_run_saw(market, manifest.get("data", {}))
    expected = manifest.get("data", {}).get("fingerprint")
    note = ("market data verified: same fingerprint as the run" if market.fingerprint == expected else
            "warning: the market data differs from the run's (fingerprint mismatch); curves use the store as it is now")
    spans = {w: Window(w, pd.Timestamp(windows[w]["start"]), pd.Timestamp(windows[w]["end"])) for w in CURVE_WINDOWS}
    try:
        members = candidates_from_frame(strategies)
    except (KeyError, AttributeError, ValueError) as err:
        return CurveSet({}, f"curves unavailable: the strategies' genomes cannot be read ({err})")
    by_coin = {c.coin: _CoinWindows.of(c, market.interval, spans) for c in market.coins}
    out: dict[str, list[Curve]] = {}
    failed = []
    for candidate in members:
        if candidate.coin not in by_coin:
            failed.append(f"{candidate.strategy_id} (no {candidate.coin} data)")
            continue
        try:
            out[candidate.strategy_id] = by_coin[candidate.coin].curves(candidate, kernel_costs(costs))
        except ValueError as err:  # one unreadable genome must not cost the others their curves
            failed.append(f"{candidate.strategy_id} ({err})")
    if failed:
        note += "; no curves for " + ", ".join(failed)
    return CurveSet(out, note)


class _CoinWindows(NamedTuple):
    """One coin's kernel market through the live window, its bar open times and each window's bars."""

    market: Market
    opens_s: np.ndarray
    step_s: float
    ranges: dict[str, tuple[int, int]]

    @classmethod
    def of(cls, coin: CoinData, interval: str, spans: dict[str, Window]) -> "_CoinWindows":
        ranges = {w: bar_range(coin.candles, spans[w]) for w in CURVE_WINDOWS}
        stop = max(i1 for _, i1 in ranges.values())
        return cls(kernel_market(coin, interval, stop=stop), epoch_ms(coin.candles["timestamp"]) / 1000.0,
                   interval_timedelta(interval).total_seconds(), ranges)

    def curves(self, candidate: Candidate, costs: Costs) -> list[Curve]:
        """Each window with at least two bars, traded from flat from the close before its first bar."""
        out, close = [], self.market.close
        for w in CURVE_WINDOWS:
            i0, i1 = self.ranges[w]
            if i1 - i0 < 2 or i0 < 1:
                continue
            bounds = np.array([i0 - 1, i1 - 1], dtype=np.int64)
            per_bar = candidate.kernel_returns(self.market, bounds, costs)[i0:i1]
            times = np.r_[self.opens_s[i0], self.opens_s[i0:i1] + self.step_s]
            out.append(Curve(w, times, np.r_[1.0, np.cumprod(1.0 + per_bar)], close[i0 - 1:i1] / close[i0 - 1]))
        return out
