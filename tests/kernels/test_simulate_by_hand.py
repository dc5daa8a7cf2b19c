"""simulate_1d_nb where vectorbt cannot be the oracle (funding, ruin): cash flows worked out by hand.

Every expected number below is written out, with its arithmetic in the comments, from the rules of
kernels/simulate.py's docstring; none is computed by the code under test. Fees and slippage are 0 so
that each number is a short sum.
"""
from __future__ import annotations

import numpy as np
import pytest

from kernels.metrics import METRIC_NAMES, N_METRICS
from kernels.simulate import simulate_1d_nb

M = {name: i for i, name in enumerate(METRIC_NAMES)}


def _simulate(target, open, high, low, close, funding=None):
    """(metrics[N_METRICS], per-bar returns) of one segment over all bars, no fee, no slippage, no stops."""
    n = len(close)
    funding = np.zeros(n) if funding is None else np.asarray(funding, dtype=np.float64)
    metrics, returns = np.full((1, N_METRICS), np.nan), np.full(n, np.nan)
    arrays = (np.asarray(a, dtype=np.float64) for a in (target, open, high, low, close))
    simulate_1d_nb(*arrays, funding, np.array([0, n - 1]), 0.0, 0.0, 0.0, 0.0, 8760.0, metrics, returns)
    return metrics[0], returns


# Closes and funding rates of six bars. funding[t] is paid at close t by the position held at the end of bar t
# (after bar t's stops, before the close-t order): the flat book at the end of bar 0 pays none of bar 0's 50 %,
# the position closed at close 4 still pays bar 4's rate, and the flat bar 5 pays nothing.
CLOSE = [100.0, 110.0, 121.0, 110.0, 100.0, 100.0]
FUNDING = [0.5, 0.01, -0.02, 0.03, 0.01, 0.05]

# 1x long: buys 1 / 100 = 0.01 coin at close 0 (cash 1 - 0.01 * 100 = 0), sells it at close 4.
#   bar 1: pays 0.01 * 110 * 0.01    =  0.011   cash -0.011   equity -0.011  + 0.01 * 110 = 1.089
#   bar 2: pays 0.01 * 121 * -0.02   = -0.0242  cash  0.0132  equity  0.0132 + 0.01 * 121 = 1.2232
#   bar 3: pays 0.01 * 110 * 0.03    =  0.033   cash -0.0198  equity -0.0198 + 0.01 * 110 = 1.0802
#   bar 4: pays 0.01 * 100 * 0.01    =  0.01    cash -0.0298, then sells 0.01 * 100: cash = equity = 0.9702
#   bar 5: flat, pays nothing                                                          equity 0.9702
# Funding paid 0.011 - 0.0242 + 0.033 + 0.01 = 0.0298 of the start equity; the round trip lost 0.0298.
LONG_EQUITY = [1.0, 1.089, 1.2232, 1.0802, 0.9702, 0.9702]

# 1x short: sells 0.01 coin at close 0 (cash 1 + 0.01 * 100 = 2), buys it back at close 4; it receives
# what the long pays.
#   bar 1: receives 0.011    cash 2.011   equity 2.011  - 0.01 * 110 = 0.911
#   bar 2: pays 0.0242       cash 1.9868  equity 1.9868 - 0.01 * 121 = 0.7768
#   bar 3: receives 0.033    cash 2.0198  equity 2.0198 - 0.01 * 110 = 0.9198
#   bar 4: receives 0.01     cash 2.0298, then buys 0.01 * 100 back: cash = equity = 1.0298
#   bar 5: flat                                                         equity 1.0298
# Funding paid -0.0298 (received); the round trip made 0.0298.
SHORT_EQUITY = [1.0, 0.911, 0.7768, 0.9198, 1.0298, 1.0298]


@pytest.mark.parametrize("side, equity, funding_paid, win_rate", [
    (1.0, LONG_EQUITY, 0.0298, 0.0),
    (-1.0, SHORT_EQUITY, -0.0298, 1.0),
])
def test_funding_cash_flows_of_a_held_long_and_short(side, equity, funding_paid, win_rate):
    close = np.array(CLOSE)
    open = np.r_[close[0], close[:-1]]
    high, low = np.maximum(open, close) * 1.01, np.minimum(open, close) * 0.99
    target = [side, side, side, side, 0.0, 0.0]
    metrics, returns = _simulate(target, open, high, low, close, FUNDING)
    np.testing.assert_allclose(np.cumprod(1.0 + returns), equity, rtol=1e-12)
    assert returns[0] == 0.0  # no cost, no funding on the entry bar
    assert metrics[M["funding_paid"]] == pytest.approx(funding_paid, rel=1e-12)
    assert metrics[M["total_return"]] == pytest.approx(equity[-1] - 1.0, rel=1e-12)
    assert metrics[M["trades"]] == 1 and metrics[M["win_rate"]] == win_rate
    assert metrics[M["exposure"]] == pytest.approx(4 / 6)  # held over bars 1..4
    assert metrics[M["fees_paid"]] == 0.0


# A 2x short opened at close 0 = 128: it sells 2 / 128 = 0.015625 coin, cash 1 + 0.015625 * 128 = 3 (all exact
# in binary). Its equity at a price p is 3 - 0.015625 p, which reaches 0 at the bankruptcy price p = 192.
# Ruin (kernels/simulate.py): equity at the bar's adverse extreme (the high, for a short) <= 0. The position is
# then closed at its bankruptcy price, equity is 0 from then on, and the loss beyond it is the exchange's.
#   bar 1: high 164 -> equity 3 - 2.5625 = 0.4375 > 0 at the high; close 160 -> equity 3 - 2.5 = 0.5, r = -0.5
#   bar 2, high 192: equity 3 - 3 = 0 at the high: ruined.              equity 0,                  r = -1
#          high 191: equity 3 - 2.984375 = 0.015625 at the high: alive; close 176 -> equity 0.25,  r = -0.5
#   bar 3: ruined: stays 0, r = 0 (no order: the target is unchanged).  alive: close 168 -> equity 0.375, r = 0.5
@pytest.mark.parametrize("high_2, returns_expected, total_return, trades", [
    (192.0, [0.0, -0.5, -1.0, 0.0], -1.0, 1),  # the high touches the bankruptcy price
    (191.0, [0.0, -0.5, -0.5, 0.5], -0.625, 0),  # one tick below: survives, still open at the end
])
def test_a_short_is_ruined_when_the_high_reaches_its_bankruptcy_price(high_2, returns_expected, total_return,
                                                                    trades):
    open = [128.0, 128.0, 160.0, 176.0]
    high = [128.0, 164.0, high_2, 177.0]
    low = [128.0, 127.0, 158.0, 166.0]
    close = [128.0, 160.0, 176.0, 168.0]
    metrics, returns = _simulate(np.full(4, -2.0), open, high, low, close)
    np.testing.assert_array_equal(returns, returns_expected)  # binary fractions: exact
    assert metrics[M["total_return"]] == total_return
    assert metrics[M["trades"]] == trades and metrics[M["win_rate"]] == 0.0
    if trades:
        assert metrics[M["max_drawdown"]] == 1.0 and metrics[M["fees_paid"]] == 0.0
