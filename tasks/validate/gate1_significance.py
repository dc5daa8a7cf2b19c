"""Which candidates beat cash on data that selected none of them: Romano–Wolf StepM on a stationary bootstrap.

The candidates never saw the window tested here; the only selection made on it is among the M candidates,
so the family-wise error rate over those M is what must be controlled, and their correlation (candidates
trading the same idea move together) decides how much the selection costs. Romano & Wolf's StepM
(2005, "Stepwise multiple testing as formalized data snooping", Econometrica 73(4)) does both: it rejects
"candidate j does not beat the benchmark" for every j whose statistic exceeds the bootstrap quantile of
the *maximum* over the candidates still in play, removes those and repeats until no more are rejected.
Hansen's SPA p-value (2005, "A test for superior predictive ability", JBES 23(4)) of the whole set says
whether any candidate beats cash at all. Both come from the `arch` package; nothing here re-implements them.

How the returns are prepared, and why:
- per-bar returns are compounded to **daily** returns: the test is about days of P&L, and a day-long block
  keeps intraday seasonality and microstructure out of the bootstrap's block-length problem;
- each candidate's daily returns are divided by their standard deviation: arch's SPA and StepM compare
  plain means (its ``studentize`` flag changes only a label in arch 8.0), so without scaling the most
  volatile candidate would set everyone's critical value. Scaled, the statistic is the daily Sharpe ratio
  and the critical value is a Sharpe ratio a candidate must beat;
- the benchmark is cash (zero return), the "loss" of a candidate its negative scaled return;
- the stationary bootstrap's mean block length is Politis & White's optimal length (arch's
  ``optimal_block_length``), the median over the candidates, at least one day.

arch's own StepM loops while the last step rejected something and fewer than all candidates are rejected
*in that step*: when a later step rejects every candidate still in play it goes on with none left and
fails. ``superior_candidates`` runs the same steps on arch's SPA and stops when none are left.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from arch.bootstrap import SPA, optimal_block_length

__all__ = ["MIN_DAYS", "Significance", "daily_returns", "scaled", "superior_candidates"]

DAYS_PER_YEAR = 365.0
MIN_DAYS = 8  # fewer days cannot be bootstrapped in blocks: no candidate is significant


class Significance(NamedTuple):
    """StepM's verdict on M candidates (statistics in annualised Sharpe units)."""

    superior: np.ndarray        # bool[M]: rejected "no better than cash" at the family-wise level
    sharpe: np.ndarray          # float64[M]: each candidate's annualised Sharpe on the daily returns
    critical_sharpe: float      # the first step's critical value: what the best of all M had to beat
    spa_pvalue: float           # Hansen's consistent SPA p-value: does any candidate beat cash?
    fwer: float
    days: int
    block_days: float


def daily_returns(per_bar: np.ndarray, bars_per_day: int) -> np.ndarray:
    """Compounded daily returns float64[D, M] of per-bar returns[T, M] (the oldest T mod bars_per_day
    bars are dropped so that every day is whole)."""
    per_bar = np.asarray(per_bar, dtype=np.float64)
    if per_bar.ndim != 2:
        raise ValueError(f"per-bar returns must be [T, M], got shape {per_bar.shape}")
    if bars_per_day < 1:
        raise ValueError(f"bars_per_day={bars_per_day} must be >= 1")
    days = per_bar.shape[0] // bars_per_day
    used = per_bar[per_bar.shape[0] - days * bars_per_day:]
    return np.expm1(np.log1p(used).reshape(days, bars_per_day, -1).sum(axis=1))


def scaled(daily: np.ndarray) -> np.ndarray:
    """Each column divided by its standard deviation; a column that never varies becomes zeros."""
    sd = daily.std(axis=0, ddof=1)
    return np.where(sd > 0, daily / np.where(sd > 0, sd, 1.0), 0.0)


def _block_days(x: np.ndarray) -> float:
    varies = x.std(axis=0) > 0
    if not varies.any():
        return 1.0
    lengths = optimal_block_length(x[:, varies])["stationary"].to_numpy()
    return float(min(max(1.0, np.median(lengths)), x.shape[0] / 4))


def superior_candidates(daily: np.ndarray, fwer: float = 0.05, reps: int = 1000, seed: int = 0) -> Significance:
    """StepM over the candidates' daily returns[D, M] against cash, family-wise error `fwer`."""
    daily = np.asarray(daily, dtype=np.float64)
    days, m = daily.shape
    if m < 1 or days < MIN_DAYS:
        raise ValueError(f"daily returns of shape {daily.shape}: need >= 1 candidate and >= {MIN_DAYS} days")
    if not 0.0 < fwer < 1.0:
        raise ValueError(f"fwer={fwer} must be in (0, 1)")
    x = scaled(daily)
    block = _block_days(x)
    spa = SPA(np.zeros(days), -x, block_size=max(1, round(block)), reps=reps, bootstrap="stationary", seed=seed)
    spa.compute()
    critical = float(spa.critical_values(fwer)["consistent"])
    pvalue = float(spa.pvalues["consistent"])
    superior = np.zeros(m, dtype=bool)
    rejected = spa.better_models(fwer)
    while rejected.size:
        superior[rejected] = True
        if superior.all():
            break
        spa.subset(~superior)
        spa.compute()
        rejected = np.setdiff1d(spa.better_models(fwer), np.flatnonzero(superior))
    annual = math.sqrt(DAYS_PER_YEAR)
    return Significance(superior, x.mean(axis=0) * annual, critical * annual, pvalue, fwer, days, block)
