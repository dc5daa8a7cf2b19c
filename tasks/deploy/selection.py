"""Portfolio-aware selection: the best strategies that do not move together, sized by inverse volatility.

Greedy, best first (overall score, then strategy id): a strategy is chosen unless the pool is full or
its validation-window returns correlate above `max_correlation` with one already chosen. The capital
is split in proportion to 1 / volatility of each chosen strategy's validation returns. Every strategy
considered gets a one-line reason, chosen or not.

Returns are the fused kernel's per-bar returns on the validation window, exactly as gate 1 measured
them (tasks.validate.gate1_backtest.validation_bar_returns), indexed by bar time so strategies on different coins
are compared over the bars they share.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.market.source import MarketData
from tasks.market.windows import RunWindows
from tasks.run.config import RunConfig
from tasks.validate.candidate import candidates_from_frame, prepare_validation_inputs
from tasks.validate.gate1_backtest import validation_bar_returns, validation_bounds

__all__ = ["MIN_OVERLAP_BARS", "SELECTION_COLUMNS", "select_strategies", "validation_returns"]

MIN_OVERLAP_BARS = 30
"""Fewer shared bars than this and a pair's correlation is not measured (counted as 0)."""
SELECTION_COLUMNS = ("strategy_id", "chosen", "rank", "allocation", "capital", "volatility", "max_correlation",
                     "correlated_with", "reason")


def validation_returns(rows: pd.DataFrame, market: MarketData, windows: RunWindows,
                       config: RunConfig) -> dict[str, pd.Series]:
    """Per strategy id of `rows` (validated.parquet rows): its per-bar validation returns by bar open time."""
    if rows.empty:
        return {}
    inputs = prepare_validation_inputs(market, windows, config)
    out = {}
    for candidate in candidates_from_frame(rows):
        coin = inputs.coins[candidate.coin]
        bounds = validation_bounds(coin)
        per_bar = validation_bar_returns(candidate, coin, inputs.costs)
        times = pd.to_datetime(coin.times_ms[bounds[0]:bounds[1] + 1], unit="ms", utc=True)
        out[candidate.strategy_id] = pd.Series(per_bar, index=times)
    return out


def _correlation(a: pd.Series, b: pd.Series) -> float:
    both = pd.concat([a, b], axis=1, join="inner").to_numpy()
    if len(both) < MIN_OVERLAP_BARS or both[:, 0].std() == 0 or both[:, 1].std() == 0:
        return 0.0
    return float(np.corrcoef(both[:, 0], both[:, 1])[0, 1])


def select_strategies(candidates: pd.DataFrame, returns: dict[str, pd.Series], *, slots: int,
                      max_correlation: float, capital: float) -> pd.DataFrame:
    """One row per candidate (columns SELECTION_COLUMNS), best first.

    candidates: strategy_id and overall_score of the eligible strategies; returns: their validation
    returns (`validation_returns`); slots: how many may be chosen; capital: USD split among the chosen.
    allocation is a fraction of `capital` (0.25 = 25 %), volatility the standard deviation of the
    per-bar returns (fraction).
    """
    if slots < 0 or not capital >= 0:
        raise ValueError(f"slots={slots!r} and capital={capital!r} must be >= 0")
    ordered = candidates.sort_values(["overall_score", "strategy_id"], ascending=[False, True], kind="stable")
    chosen: list[str] = []
    rows: list[dict] = []
    for rank, (sid, score) in enumerate(zip(ordered["strategy_id"], ordered["overall_score"]), start=1):
        row = {"strategy_id": sid, "chosen": False, "rank": rank, "allocation": 0.0, "capital": 0.0,
               "volatility": np.nan, "max_correlation": np.nan, "correlated_with": ""}
        rows.append(row)
        series = returns.get(sid)
        if series is None or not len(series):
            row["reason"] = "skipped: no validation returns"
            continue
        row["volatility"] = float(series.std(ddof=1)) if len(series) > 1 else 0.0
        if not row["volatility"] > 0:
            row["reason"] = "skipped: flat on the validation window (no volatility to size it by)"
            continue
        pairs = {other: _correlation(series, returns[other]) for other in chosen}
        if pairs:
            other = max(pairs, key=lambda k: (pairs[k], k))
            row["max_correlation"], row["correlated_with"] = pairs[other], other
        if len(chosen) >= slots:
            row["reason"] = f"skipped: the pool is full ({slots} slot{'s' if slots != 1 else ''})"
            continue
        if pairs and row["max_correlation"] > max_correlation:
            row["reason"] = (f"skipped: validation-return correlation {row['max_correlation']:.2f} with "
                             f"{row['correlated_with']} > {max_correlation:g}")
            continue
        row["chosen"] = True
        chosen.append(sid)
        corr = (f"highest correlation {row['max_correlation']:.2f} with {row['correlated_with']} <= "
                f"{max_correlation:g}" if pairs else "first choice")
        row["reason"] = f"chosen: rank {rank} by overall score {score:.3f}; {corr}"
    inverse = {r["strategy_id"]: 1.0 / r["volatility"] for r in rows if r["chosen"]}
    total = sum(inverse.values())
    for r in rows:
        if r["chosen"]:
            r["allocation"] = inverse[r["strategy_id"]] / total
            r["capital"] = r["allocation"] * capital
            r["reason"] += (f"; inverse-volatility weight {r['allocation']:.1%} (volatility "
                            f"{r['volatility']:.3%} per bar)")
    return pd.DataFrame(rows, columns=list(SELECTION_COLUMNS))
