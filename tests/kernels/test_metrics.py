"""Streaming metrics against vectorbt's return statistics and hand-computed cases."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import vectorbt  # noqa: F401  (registers the .vbt accessor)
from numba import njit

from kernels.metrics import (METRIC_NAMES, N_METRICS, stats_add_bar_nb, stats_add_fill_nb, stats_add_funding_nb,
                             stats_start_nb, write_metrics_nb)

M = {name: i for i, name in enumerate(METRIC_NAMES)}
BPY = 8760.0


@njit(cache=True)
def _metrics_of_returns(returns, eq_start, bars_per_year):
    """Feed a returns series (every bar exposed) through the streaming statistics."""
    s = stats_start_nb(eq_start)
    eq = eq_start
    for r in returns:
        eq = eq * (1.0 + r)
        s = stats_add_bar_nb(s, r, eq, True)
    out = np.empty(N_METRICS)
    write_metrics_nb(s, returns.shape[0], eq, bars_per_year, out)
    return out


def test_metric_names_follow_the_contract():
    assert METRIC_NAMES == ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "calmar",
                            "win_rate", "trades", "exposure", "turnover", "fees_paid", "funding_paid")
    assert N_METRICS == 12


@pytest.mark.parametrize("seed, n, drift", [(0, 5000, 0.0), (1, 300, 0.001), (2, 50, -0.002)])
def test_return_statistics_equal_vectorbt(seed, n, drift):
    returns = np.random.default_rng(seed).normal(drift, 0.01, n)
    ours = _metrics_of_returns(returns, 1.0, BPY)
    acc = pd.Series(returns).vbt.returns(freq="1h", year_freq=pd.Timedelta(hours=BPY))
    with_start = pd.Series(np.r_[0.0, returns]).vbt.returns(freq="1h")
    rel = 1e-9
    assert ours[M["total_return"]] == pytest.approx(acc.total(), rel=rel)
    assert ours[M["cagr"]] == pytest.approx(acc.annualized(), rel=rel)
    assert ours[M["sharpe"]] == pytest.approx(acc.sharpe_ratio(), rel=rel)
    assert ours[M["sortino"]] == pytest.approx(acc.sortino_ratio(), rel=rel)
    assert ours[M["max_drawdown"]] == pytest.approx(-with_start.max_drawdown(), rel=rel)
    assert ours[M["calmar"]] == pytest.approx(acc.annualized() / -with_start.max_drawdown(), rel=rel)
    assert ours[M["exposure"]] == 1.0


def test_statistics_do_not_depend_on_the_equity_scale():
    returns = np.random.default_rng(3).normal(0.0, 0.02, 200)
    np.testing.assert_allclose(_metrics_of_returns(returns, 1.0, BPY),
                               _metrics_of_returns(returns, 37.5, BPY), rtol=1e-12, atol=1e-15)


def test_drawdown_counts_from_the_start_equity():
    out = _metrics_of_returns(np.array([-0.01, -0.02, 0.05, -0.01]), 1.0, BPY)
    assert out[M["max_drawdown"]] == pytest.approx(1 - 0.99 * 0.98, rel=1e-12)


@pytest.mark.parametrize("returns", [np.zeros(20), np.full(100, 0.001), np.array([0.004]),
                                     np.array([0.01, 0.02, 0.0])])
def test_degenerate_returns_give_finite_defined_values(returns):
    out = _metrics_of_returns(returns, 1.0, BPY)
    assert np.all(np.isfinite(out))
    assert out[M["sortino"]] == 0.0 and out[M["calmar"]] == 0.0 and out[M["max_drawdown"]] == 0.0
    if returns.shape[0] < 2 or np.all(returns == returns[0]):
        assert out[M["sharpe"]] == 0.0
    assert out[M["win_rate"]] == 0.0 and out[M["trades"]] == 0.0


def test_cagr_of_a_short_segment_saturates_instead_of_overflowing():
    out = _metrics_of_returns(np.full(3, 0.5), 1.0, BPY)
    assert np.all(np.isfinite(out)) and out[M["cagr"]] > 1e300


def test_fills_trades_and_funding_are_summed_in_units_of_start_equity():
    s = stats_start_nb(2.0)
    s = stats_add_fill_nb(s, 1.5, 0.003, np.nan)     # opens: 1.5x equity traded, no round trip closed
    s = stats_add_funding_nb(s, 0.001)
    s = stats_add_funding_nb(s, -0.0004)
    s = stats_add_fill_nb(s, 1.5, 0.003, 0.02)       # closes a winner
    s = stats_add_fill_nb(s, 0.5, 0.001, -0.01)      # closes a loser
    s = stats_add_bar_nb(s, 0.01, 2.02, True)
    s = stats_add_bar_nb(s, -0.01, 1.9998, False)
    out = np.empty(N_METRICS)
    write_metrics_nb(s, 2, 1.9998, BPY, out)
    assert out[M["trades"]] == 2 and out[M["win_rate"]] == 0.5
    assert out[M["fees_paid"]] == pytest.approx(0.007 / 2.0, rel=1e-12)
    assert out[M["funding_paid"]] == pytest.approx(0.0006 / 2.0, rel=1e-12)
    assert out[M["turnover"]] == pytest.approx(3.5 * BPY / 2, rel=1e-12)
    assert out[M["exposure"]] == 0.5
    assert out[M["total_return"]] == pytest.approx(-0.0001, rel=1e-9)


def test_segment_starting_ruined_reports_total_loss():
    out = np.empty(N_METRICS)
    s = stats_add_bar_nb(stats_start_nb(0.0), 0.0, 0.0, False)
    write_metrics_nb(s, 1, 0.0, BPY, out)
    assert out[M["total_return"]] == -1.0 and out[M["cagr"]] == -1.0 and out[M["max_drawdown"]] == 1.0
    assert np.all(np.isfinite(out))
