"""Each active strategy's target at a bar, and the position it asks for.

The target is the kernels' position (`StrategySpec.target`, kernels.evaluate) computed on the coin's
bars up to bar t only, from the coin's anchor (`BookState.anchor_ms`) but at most `max_history_bars` of
them, times the strategy's risk multiplier (exchange.paper.rules.risk_adjustment). Only a changed target
re-sizes the strategy, to target x equity / close coins; between changes the coin quantity is held. A
changed target also ends a stop's "flat until the target changes".
"""
from __future__ import annotations

import numpy as np

from exchange.paper.feed import BAR_MS, MarketFeed
from exchange.paper.registry import StrategySpec
from exchange.paper.rules import RiskRules, risk_adjustment
from exchange.paper.state import BookState
from exchange.replay import Bar
from kernels.evaluate import Market

__all__ = ["update_targets"]


def update_targets(state: BookState, specs: dict[str, StrategySpec], bars: dict[str, Bar | None], t: int, *,
                   feed: MarketFeed, max_history_bars: int, risk: RiskRules) -> None:
    """Set the target, risk multiplier and desired position (coins) of every active strategy whose coin
    has a bar at t (module docstring)."""
    active = [s for s in state.strategies.values() if s.status == "active" and bars.get(s.coin) is not None]
    markets: dict[str, Market] = {}
    for s in active:
        bar = bars[s.coin]
        if s.coin not in markets:
            start = max(state.anchor_ms[s.coin], t - (max_history_bars - 1) * BAR_MS)
            markets[s.coin] = feed.market(s.coin, start, t)
        market = markets[s.coin]
        others = [o.recent_returns for o in active if o is not s and o.recent_returns]
        n = min((len(o) for o in others), default=0)
        book = np.mean([o[-n:] for o in others], axis=0) if n else np.empty(0)
        adjustment = risk_adjustment(market.close, market.volume, np.asarray(s.recent_returns), book, risk)
        s.risk_multiplier, s.risk_reason = adjustment
        target = specs[s.strategy_id].target(market) * adjustment.multiplier
        if target != s.target:
            s.target, s.stopped_out = target, False
            s.desired = target * s.equity / bar.close if s.equity > 0 else 0.0
