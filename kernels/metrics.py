"""Streaming per-segment performance metrics (numba).

The simulator feeds one `SegmentStats` per segment, bar by bar and fill by fill, and calls
`write_metrics_nb` once at the segment's end: O(1) memory, no returns array needed.

Metrics (columns of the metrics table, in `METRIC_NAMES` order; r = per-bar simple returns of the
segment, n = their count, E0/E1 = equity at the segment's start/end, bpy = bars per year):

| name | definition | unit |
|---|---|---|
| total_return | E1 / E0 - 1 (= prod(1 + r) - 1) | fraction (0.12 = +12 %) |
| cagr | (1 + total_return) ** (bpy / n) - 1 (vectorbt `annualized_return`; <= ~1e304) | fraction / year |
| sharpe | mean(r) / std(r, ddof=1) * sqrt(bpy), risk-free 0 (vectorbt `sharpe_ratio`) | annualised ratio |
| sortino | mean(r) * sqrt(bpy) / sqrt(mean(min(r, 0) ** 2)) (vectorbt `sortino_ratio`) | annualised ratio |
| max_drawdown | max over bars of 1 - E_t / max(E0, E_1..E_t) | positive fraction |
| calmar | cagr / max_drawdown | ratio |
| win_rate | closed round trips with PnL > 0 (after fees, slippage, funding) / trades | fraction |
| trades | round trips closed in the segment (flat -> ... -> flat, or a flip) | count |
| exposure | bars held with a non-zero position / n | fraction |
| turnover | sum over fills of notional / equity before the fill, annualised: * bpy / n | 1 / year |
| fees_paid | fees paid in the segment / E0 | fraction of the segment's start equity |
| funding_paid | net funding paid in the segment / E0 (negative: received) | fraction of start equity |

Degenerate cases give finite, defined values where vectorbt gives NaN or inf: sharpe = 0 when n < 2 or
the variance is 0 (below 1e-12 of mean(r**2): constant returns leave only rounding); sortino = 0 when
no bar lost; calmar = 0 when max_drawdown = 0; win_rate = 0 with no closed trade. A segment that
starts with no equity (the account was ruined earlier) reports total_return = cagr = -1 and
max_drawdown = 1.

The drawdown peak includes the segment's start equity E0 (so an entry fee on the first bar is a
drawdown); vectorbt's `max_drawdown` starts its peak at the first bar's value instead. The two agree
when the first bar does not lose.

Sharpe uses the one-pass sums sum(r) and sum(r**2). Hourly returns have |mean| << std, so the
cancellation in sum(r**2) - sum(r)**2 / n costs ~n * 1e-16 relative at most: far below 1e-9.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = ["METRIC_NAMES", "N_METRICS", "M_TOTAL_RETURN", "M_CAGR", "M_SHARPE", "M_SORTINO", "M_MAX_DRAWDOWN",
           "M_CALMAR", "M_WIN_RATE", "M_TRADES", "M_EXPOSURE", "M_TURNOVER", "M_FEES_PAID", "M_FUNDING_PAID",
           "SegmentStats", "stats_start_nb", "stats_add_bar_nb", "stats_add_fill_nb", "stats_add_funding_nb",
           "write_metrics_nb"]

METRIC_NAMES: tuple[str, ...] = (
    "total_return", "cagr", "sharpe", "sortino", "max_drawdown", "calmar",
    "win_rate", "trades", "exposure", "turnover", "fees_paid", "funding_paid",
)
N_METRICS = len(METRIC_NAMES)
(M_TOTAL_RETURN, M_CAGR, M_SHARPE, M_SORTINO, M_MAX_DRAWDOWN, M_CALMAR,
 M_WIN_RATE, M_TRADES, M_EXPOSURE, M_TURNOVER, M_FEES_PAID, M_FUNDING_PAID) = range(N_METRICS)

_ZERO_VARIANCE = 1e-12  # variance below this fraction of mean(r**2) counts as zero (sharpe 0)
_MAX_LOG_GROWTH = 700.0  # cagr saturates at exp(700) ~ 1e304 instead of overflowing on short segments


class SegmentStats(NamedTuple):
    """Running sums of one segment. Money amounts are in the simulator's equity units."""

    eq_start: float     # equity at the segment's start
    peak: float         # highest equity so far (start equity included)
    floor: float        # equity below which the drawdown exceeds max_dd: peak * (1 - max_dd)
    max_dd: float       # largest drawdown so far, positive fraction
    sum_r: float
    sum_r2: float
    sum_down2: float    # sum of min(r, 0) ** 2
    exposed: int        # bars held with a non-zero position
    turnover: float     # sum of traded notional / equity before the fill
    fees: float
    funding: float      # net funding paid (negative: received)
    trades: int
    wins: int


@njit(cache=True, error_model="numpy", inline='always')
def stats_start_nb(eq_start: float) -> SegmentStats:
    """Empty statistics of a segment that starts with equity `eq_start`."""
    return SegmentStats(eq_start, eq_start, eq_start, 0.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0, 0, 0)


@njit(cache=True, error_model="numpy", inline='always')
def stats_add_bar_nb(s: SegmentStats, r: float, eq: float, exposed: bool) -> SegmentStats:
    """Add one bar: its return `r`, its end equity `eq`, whether a position was held over it."""
    peak, floor, max_dd = s.peak, s.floor, s.max_dd
    if eq > peak:
        peak = eq
        floor = eq * (1.0 - max_dd)
    elif eq < floor:
        # Only a new deepest drawdown costs a division; most bars pass the comparisons above.
        max_dd = 1.0 - eq / peak
        floor = eq
    down = min(r, 0.0)
    return SegmentStats(s.eq_start, peak, floor, max_dd, s.sum_r + r, s.sum_r2 + r * r,
                        s.sum_down2 + down * down, s.exposed + exposed, s.turnover, s.fees, s.funding,
                        s.trades, s.wins)


@njit(cache=True, error_model="numpy", inline='always')
def stats_add_fill_nb(s: SegmentStats, turnover: float, fee: float, closed_pnl: float) -> SegmentStats:
    """Add one fill: notional / equity, fee paid, PnL of the round trip it closed (NaN if none)."""
    closed = not np.isnan(closed_pnl)
    return SegmentStats(s.eq_start, s.peak, s.floor, s.max_dd, s.sum_r, s.sum_r2, s.sum_down2, s.exposed,
                        s.turnover + turnover, s.fees + fee, s.funding, s.trades + closed,
                        s.wins + (closed and closed_pnl > 0.0))


@njit(cache=True, error_model="numpy", inline='always')
def stats_add_funding_nb(s: SegmentStats, paid: float) -> SegmentStats:
    """Add one funding payment (negative: received)."""
    return SegmentStats(s.eq_start, s.peak, s.floor, s.max_dd, s.sum_r, s.sum_r2, s.sum_down2, s.exposed,
                        s.turnover, s.fees, s.funding + paid, s.trades, s.wins)


@njit(cache=True, error_model="numpy", inline='always')
def _ratio_nb(num: float, den: float) -> float:
    """num / den, or 0.0 where the ratio is undefined (den <= 0)."""
    return num / den if den > 0.0 else 0.0


@njit(cache=True, error_model="numpy")
def write_metrics_nb(s: SegmentStats, n: int, eq_end: float, bars_per_year: float, out: np.ndarray) -> None:
    """Write the metrics of a segment of `n` bars into `out` (float64[N_METRICS]; module docstring)."""
    if s.eq_start > 0.0:
        total_return = eq_end / s.eq_start - 1.0
        max_dd = s.max_dd
    else:
        total_return, max_dd = -1.0, 1.0
    if total_return > -1.0:
        cagr = np.expm1(min(bars_per_year / n * np.log1p(total_return), _MAX_LOG_GROWTH))
    else:
        cagr = -1.0
    mean = s.sum_r / n
    var = (s.sum_r2 - s.sum_r * mean) / (n - 1) if n > 1 else 0.0
    if var <= _ZERO_VARIANCE * s.sum_r2 / n:
        var = 0.0  # constant returns: what is left is rounding, not risk
    out[M_TOTAL_RETURN] = total_return
    out[M_CAGR] = cagr
    out[M_SHARPE] = _ratio_nb(mean, np.sqrt(var)) * np.sqrt(bars_per_year)
    out[M_SORTINO] = _ratio_nb(mean, np.sqrt(s.sum_down2 / n)) * np.sqrt(bars_per_year) if n > 1 else 0.0
    out[M_MAX_DRAWDOWN] = max_dd
    out[M_CALMAR] = _ratio_nb(cagr, max_dd)
    out[M_WIN_RATE] = _ratio_nb(s.wins, s.trades)
    out[M_TRADES] = s.trades
    out[M_EXPOSURE] = s.exposed / n
    out[M_TURNOVER] = s.turnover * bars_per_year / n
    out[M_FEES_PAID] = _ratio_nb(s.fees, s.eq_start)
    out[M_FUNDING_PAID] = _ratio_nb(s.funding, s.eq_start)
