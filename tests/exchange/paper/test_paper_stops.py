"""The paper trader's stop rule is the kernel's: on a grid of positions, entries, stop distances and valid
bars, `exchange.paper.rules.stop_reason` triggers exactly when kernels.simulate's `stop_price_nb` fills a
stop, names the same stop, and matches the rule as the paper trader wrote it before sharing the levels."""
from __future__ import annotations

import itertools
import math

import numpy as np

from exchange.paper.rules import stop_reason
from kernels.simulate import stop_band_nb, stop_price_nb

MULTIPLIERS = (0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 1.0, 1.01, 1.02, 1.03, 1.05, 1.1, 1.25)


def _kernel(position: float, entry: float, stop_loss: float, take_profit: float, open_: float, high: float,
            low: float) -> str | None:
    """The stop the kernel fills in this bar: a long's stop loss fills below its entry, its take profit
    above (mirrored for a short)."""
    below, above = stop_band_nb(position, entry, stop_loss, take_profit)
    price = stop_price_nb(position, below, above, open_, high, low)
    if math.isnan(price):
        return None
    return "stop_loss" if (price < entry) == (position > 0) else "take_profit"


def _by_hand(position: float, entry: float, stop_loss: float, take_profit: float, high: float,
             low: float) -> str | None:
    """The paper trader's own copy of the rule, before it used the kernel's levels."""
    long = position > 0
    lost = stop_loss > 0 and (low <= entry * (1 - stop_loss) if long else high >= entry * (1 + stop_loss))
    won = take_profit > 0 and (high >= entry * (1 + take_profit) if long else low <= entry * (1 - take_profit))
    return "stop_loss" if lost else "take_profit" if won else None


def test_stop_reason_agrees_with_the_kernel_on_a_grid() -> None:
    cases = triggered = both = 0
    for position, entry, stop_loss, take_profit in itertools.product((1.0, 0.37, -1.0, -2.5), (100.0, 37.3),
                                                                     (0.0, 0.02, 0.05), (0.0, 0.03, 0.1)):
        levels = [entry * (1 - stop_loss), entry * (1 + stop_loss), entry * (1 - take_profit),
                  entry * (1 + take_profit)]  # the levels themselves: a bar touching one exactly
        prices = sorted({entry * m for m in MULTIPLIERS} | set(levels))
        for low, open_, high in itertools.combinations_with_replacement(prices, 3):
            expected = _kernel(position, entry, stop_loss, take_profit, open_, high, low)
            got = stop_reason(position, entry, stop_loss, take_profit, low, high)
            assert got == expected == _by_hand(position, entry, stop_loss, take_profit, high, low), \
                (position, entry, stop_loss, take_profit, open_, high, low)
            cases += 1
            triggered += got is not None
            both += got == "stop_loss" and _by_hand(position, entry, 0.0, take_profit, high, low) is not None
    assert cases > 20_000 and 0.2 * cases < triggered < 0.9 * cases and both > 100


def test_levels_are_the_kernels() -> None:
    below, above = stop_band_nb(1.0, 100.0, 0.05, 0.1)
    assert (below, above) == (100.0 * (1 - 0.05), 100.0 * (1 + 0.1))
    assert stop_reason(1.0, 100.0, 0.05, 0.1, low=below, high=99.0) == "stop_loss"
    assert stop_reason(1.0, 100.0, 0.05, 0.1, low=np.nextafter(below, np.inf), high=99.0) is None
    assert stop_reason(-1.0, 100.0, 0.05, 0.0, low=1.0, high=1e9) == "stop_loss"  # short: the high is adverse
    assert stop_reason(-1.0, 100.0, 0.0, 0.0, low=1.0, high=1e9) is None  # both off
