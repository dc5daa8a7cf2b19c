"""Synthetic hourly markets for the power benchmark: noise, and noise with a planted edge of known size.

Every market is a GARCH(1, 1) price with Student-t shocks (volatility clustering, fat tails) and a mild
intraday volatility pattern, hourly volatility ~0.6 % like BTC. Each hour is SUBSTEPS steps of that
process, joined by Brownian bridges: a bar's high and low are the bridges' extremes, drawn exactly
(the maximum of a bridge from a to b with variance v is (a + b + sqrt((b - a)² - 2 v ln U)) / 2). So a
stop or take-profit filled at its price when the bar's low or high reaches it is a fair fill, as on a
continuously traded market; extremes taken from the steps alone would jump past the stop price and
hand tight stops a free edge. Noise is a martingale: the expected simple return of every step is zero,
so no strategy has an edge before costs. A planted market adds one mechanism on top of that noise:

- ``momentum``: a hidden multi-day trend, an AR(1) drift with a half-life of days, whose sign a simple
  rule reads from the EMA of past returns;
- ``reversion``: the price strays from a hidden fair value by an Ornstein-Uhlenbeck deviation with a
  half-life of hours; a simple rule fades the distance from the price's own short EMA;
- ``breakout``: occasional news shocks (jumps) whose direction keeps drifting for a day or two; a simple
  rule follows the last large move. Held out of calibration: the independent check.

The **oracle Sharpe** of a planted market is the annualised Sharpe ratio, after the default fees,
slippage and assumed funding, of its mechanism's simple rule on a 20-year sample of the same process,
the rule's one or two parameters (a half-life, a band) the best of a small grid on that sample: what a
strategy that knows the mechanism's form can earn. ``calibrate`` finds the mechanism's strength that
gives a target oracle Sharpe by bisection.
Everything is a function of (mechanism, strength, seed): the same arguments give the same market.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from numba import njit
from scipy.signal import lfilter

__all__ = ["MECHANISMS", "Costs", "best_rule", "calibrate", "candles", "log_path", "log_prices", "oracle",
           "rule_returns", "sharpe"]

BARS_PER_YEAR = 8760
VOL = 0.006                 # long-run hourly volatility
GARCH = (0.06, 0.92)        # alpha, beta: persistent volatility clusters
TAIL_DOF = 4.0              # Student-t degrees of freedom of the shocks
SUBSTEPS = 6                # steps of the price path per hourly bar
MECHANISMS = ("momentum", "reversion", "breakout")
CALIBRATION_BARS = 20 * BARS_PER_YEAR


class Costs(NamedTuple):
    """Per unit of traded notional, and funding paid by longs per bar (the product's defaults)."""
    fee: float = 0.00045
    slippage: float = 0.0001
    funding: float = 0.0000125


@njit
def _garch_nb(shocks: np.ndarray, seasonal: np.ndarray, vol: float, alpha: float, beta: float) -> np.ndarray:
    """Per-bar volatility of a GARCH(1, 1) driven by unit-variance shocks, times the intraday pattern."""
    n = shocks.shape[0]
    out = np.empty(n)
    omega = vol * vol * (1.0 - alpha - beta)
    var = vol * vol
    for t in range(n):
        out[t] = math.sqrt(var) * seasonal[t]
        r = out[t] * shocks[t]
        var = omega + alpha * r * r + beta * var
    return out


def _ar1(noise: np.ndarray, half_life: float) -> np.ndarray:
    """A unit-variance AR(1) series with the given half-life (bars) from standard normal noise."""
    phi = 0.5 ** (1.0 / half_life)
    return lfilter([math.sqrt(1.0 - phi * phi)], [1.0, -phi], noise)


def _noise(bars: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(martingale log returns float64[bars, SUBSTEPS] of every step, per-bar volatility) of the GARCH noise."""
    steps = rng.standard_t(TAIL_DOF, (bars, SUBSTEPS)) / math.sqrt(TAIL_DOF / (TAIL_DOF - 2.0) * SUBSTEPS)
    hours = np.arange(bars) % 24
    seasonal = 1.0 + 0.25 * np.cos(2 * np.pi * (hours - 15) / 24)  # busiest around the US open
    sigma = _garch_nb(steps.sum(axis=1), seasonal / np.sqrt(np.mean(seasonal ** 2)), VOL, *GARCH)
    # steps have variance 1 / SUBSTEPS: each step's return has variance sigma² / SUBSTEPS, mean such that
    # its expected simple return is zero
    return sigma[:, None] * steps - 0.5 * sigma[:, None] ** 2 / SUBSTEPS, sigma


def log_path(mechanism: str, strength: float, bars: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(log prices float64[bars, SUBSTEPS + 1] of every bar's steps, its open first; per-bar volatility);
    strength 0 (or mechanism "noise") is pure noise. A mechanism's part of a bar's return is spread evenly
    over its steps."""
    rng = np.random.default_rng(seed)
    steps, sigma = _noise(bars, rng)
    planted = np.random.default_rng([seed, 1])
    if mechanism == "noise" or strength == 0.0:
        extra = np.zeros(bars)
    elif mechanism == "momentum":
        extra = strength * VOL * _ar1(planted.standard_normal(bars), half_life=96.0)
    elif mechanism == "reversion":
        deviation = strength * VOL * _ar1(planted.standard_normal(bars), half_life=6.0)
        extra = np.diff(np.r_[0.0, deviation])
    elif mechanism == "breakout":
        jumps = planted.random(bars) < 1.0 / 120  # about one news shock every five days
        sign = np.where(planted.random(bars) < 0.5, -1.0, 1.0)
        impulse = np.where(jumps, sign, 0.0)
        drift = lfilter([1.0], [1.0, -0.5 ** (1.0 / 24.0)], impulse)  # fades with a one-day half-life
        extra = np.where(jumps, sign * 4.0 * VOL, 0.0) + strength * VOL * np.r_[0.0, drift[:-1]]
    else:
        raise ValueError(f"unknown mechanism {mechanism!r}; expected noise or one of {MECHANISMS}")
    steps = steps + extra[:, None] / SUBSTEPS
    closes = np.cumsum(steps.ravel()).reshape(bars, SUBSTEPS) + math.log(30_000.0)
    opens = np.r_[math.log(30_000.0), closes[:-1, -1]]
    return np.column_stack([opens, closes]), sigma


def log_prices(mechanism: str, strength: float, bars: int, seed: int) -> np.ndarray:
    """Log close prices float64[bars + 1] (the first bar's open first) of log_path's market."""
    path, _ = log_path(mechanism, strength, bars, seed)
    return np.r_[path[0, 0], path[:, -1]]


def _ema(x: np.ndarray, half_life: float) -> np.ndarray:
    a = 1.0 - 0.5 ** (1.0 / half_life)
    return lfilter([a], [1.0, a - 1.0], x)


# The simple rule of each mechanism and the grid its parameters are chosen from.
ORACLE_GRID = {
    "momentum": [{"half_life": h} for h in (24.0, 48.0, 96.0, 192.0, 384.0)],
    "reversion": [{"half_life": h, "band": b} for h in (1.0, 2.0, 4.0, 8.0) for b in (0.0, 0.5, 1.0, 1.5, 2.0)],
    "breakout": [{"hold": h, "size": z} for h in (12, 24, 48) for z in (2.5, 3.0, 3.5)],
}


def oracle_positions(mechanism: str, logp: np.ndarray, **rule: float) -> np.ndarray:
    """The mechanism's simple rule: the position held over bar t + 1 from closes up to t (float64[len])."""
    if mechanism == "momentum":
        return np.sign(_ema(np.diff(logp, prepend=logp[0]), rule["half_life"]))
    if mechanism == "reversion":
        gap = logp - _ema(logp, rule["half_life"])
        return np.where(np.abs(gap) > rule["band"] * VOL, -np.sign(gap), 0.0)
    if mechanism == "breakout":
        moves = np.diff(logp, prepend=logp[0])
        big = np.where(np.abs(moves) > rule["size"] * VOL, np.sign(moves), np.nan)
        return pd.Series(big).ffill(limit=int(rule["hold"])).fillna(0.0).to_numpy()
    raise ValueError(f"no oracle rule for {mechanism!r}")


def rule_returns(mechanism: str, logp: np.ndarray, costs: Costs = Costs(), **rule: float) -> np.ndarray:
    """Per-bar simple returns of one rule after fees, slippage and funding (len(logp) - 1 bars)."""
    pos = oracle_positions(mechanism, logp, **rule)[:-1]
    bar = np.expm1(np.diff(logp))
    traded = np.abs(np.diff(pos, prepend=0.0))
    return pos * bar - traded * (costs.fee + costs.slippage) - pos * costs.funding


def best_rule(mechanism: str, logp: np.ndarray) -> dict:
    """The grid's rule with the highest Sharpe on `logp`."""
    return max(ORACLE_GRID[mechanism], key=lambda rule: sharpe(rule_returns(mechanism, logp, **rule)))


def sharpe(returns: np.ndarray) -> float:
    """Annualised Sharpe ratio of hourly returns."""
    sd = returns.std(ddof=1)
    return float(returns.mean() / sd * math.sqrt(BARS_PER_YEAR)) if sd > 0 else 0.0


def oracle(mechanism: str, strength: float, seed: int = 10_007) -> tuple[float, dict]:
    """(oracle Sharpe, its rule): the best rule of the grid on a 20-year sample of the process."""
    logp = log_prices(mechanism, strength, CALIBRATION_BARS, seed)
    rule = best_rule(mechanism, logp)
    return sharpe(rule_returns(mechanism, logp, **rule)), rule


def oracle_sharpe(mechanism: str, strength: float) -> float:
    return oracle(mechanism, strength)[0]


def calibrate(mechanism: str, target: float, *, low: float = 0.0, high: float = 2.0, steps: int = 24) -> float:
    """The strength whose oracle Sharpe is `target` (bisection; the oracle Sharpe rises with strength)."""
    while oracle_sharpe(mechanism, high) < target:
        low, high = high, 2.0 * high
    for _ in range(steps):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if oracle_sharpe(mechanism, mid) < target else (low, mid)
    return 0.5 * (low + high)


def candles(path: np.ndarray, sigma: np.ndarray, seed: int, start: str = "2020-01-01") -> pd.DataFrame:
    """Hourly OHLCV bars of log_path's steps: highs and lows are the Brownian bridges' extremes between the
    steps (module docstring); volume grows with volatility."""
    rng = np.random.default_rng([seed, 2])
    a, b = path[:, :-1], path[:, 1:]
    variance = (sigma ** 2 / SUBSTEPS)[:, None]
    spread = lambda: np.sqrt((b - a) ** 2 - 2.0 * variance * np.log(rng.random(a.shape)))  # noqa: E731
    high = ((a + b + spread()) / 2).max(axis=1)
    low = ((a + b - spread()) / 2).min(axis=1)
    times = pd.date_range(start, periods=len(path), freq="1h", tz="UTC")
    return pd.DataFrame({"timestamp": times, "open": np.exp(path[:, 0]), "high": np.exp(high), "low": np.exp(low),
                         "close": np.exp(path[:, -1]), "volume": rng.lognormal(4.0, 0.5, len(path)) * (sigma / VOL)})
