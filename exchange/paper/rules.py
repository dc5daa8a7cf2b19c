"""The rules the paper trader enforces bar by bar: a strategy's stops, its retirement, the book's emergency
shutdown, and the risk adjustment of a strategy's size. Typed (the decision engine in tasks/deploy/decision.py
loads them from the rules file) and decided by the pure functions below; `apply_*` apply them to the book.

- Stops: a strategy whose stop loss / take profit (fractions of its entry price, member a's genes) was
  reached by the bar's low / high is flattened at the close and stays flat until its target changes.
  The levels are the kernel's (kernels.simulate.stop_band_nb) and so is the precedence (the stop loss
  wins when a bar reaches both); unlike the kernel, the paper trader flattens at the close, not at the level.

- Retirement: a strategy whose paper Sharpe (since it joined, annualised) has been negative for
  `negative_sharpe_days`, or whose drawdown from its equity peak has stayed above `max_drawdown` for
  `drawdown_days`, is retired and flattened. "For N days" means at every bar of the last N days.
- Emergency: the whole book is flattened and halted when its equity fell by `daily_loss` over the last
  24 bars, by `weekly_loss` over the last 168 bars, or `max_drawdown` below its peak.
- Risk adjustment: a strategy's target is multiplied by `reduce` (0.5) when its coin's short-term
  volatility runs high against the long-term one, its volume runs thin, or its paper returns move with
  the rest of the book; by `boost` (1.2) when all three are favourable (calm, liquid, uncorrelated); by
  1.0 otherwise.

Ratios are fractions (0.15 = 15 %); days are 24 hourly bars.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from exchange.paper.registry import StrategySpec
from exchange.paper.state import BookState, StrategyBook
from exchange.replay import Bar
from kernels.simulate import stop_band_nb

__all__ = ["BARS_PER_DAY", "RetirementRules", "EmergencyRules", "RiskRules", "PaperRules", "RiskAdjustment",
           "breach_since", "stop_reason", "retirement_reason", "emergency_reason", "risk_adjustment", "apply_stops",
           "apply_retirement", "apply_emergency"]

BARS_PER_DAY = 24
_DAY_MS = 86_400_000


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetirementRules(_Rules):
    """When one strategy is retired (and flattened)."""

    negative_sharpe_days: float = Field(7.0, ge=0, description="days of negative paper Sharpe before retiring")
    max_drawdown: float = Field(0.15, gt=0, le=1, description="strategy drawdown from its equity peak, fraction")
    drawdown_days: float = Field(3.0, ge=0, description="days the drawdown must stay above max_drawdown")
    min_bars: int = Field(24, ge=2, description="paper bars before the Sharpe rule applies")


class EmergencyRules(_Rules):
    """When the whole book is flattened and halted."""

    daily_loss: float = Field(0.05, gt=0, le=1, description="book equity loss over the last 24 bars, fraction")
    weekly_loss: float = Field(0.15, gt=0, le=1, description="book equity loss over the last 168 bars, fraction")
    max_drawdown: float = Field(0.20, gt=0, le=1, description="book drawdown from its equity peak, fraction")


class RiskRules(_Rules):
    """Size multipliers from volatility, volume and correlation (module docstring)."""

    enabled: bool = True
    short_bars: int = Field(24, ge=2, description="recent window of the volatility and volume ratios")
    long_bars: int = Field(720, ge=3, description="reference window of the ratios")
    high_volatility: float = Field(1.5, gt=0, description="short / long volatility above which size is reduced")
    low_volatility: float = Field(0.8, gt=0, description="ratio below which volatility counts as calm")
    low_volume: float = Field(0.5, gt=0, description="short / long mean volume below which size is reduced")
    high_volume: float = Field(1.0, gt=0, description="ratio above which volume counts as healthy")
    correlation_bars: int = Field(168, ge=10, description="paper bars of the correlation with the rest of the book")
    high_correlation: float = Field(0.7, ge=-1, le=1, description="correlation above which size is reduced")
    low_correlation: float = Field(0.3, ge=-1, le=1, description="correlation below which it counts as diversifying")
    reduce: float = Field(0.5, gt=0, le=1)
    boost: float = Field(1.2, ge=1, le=3)

    @model_validator(mode="after")
    def _ordered(self) -> "RiskRules":
        if self.long_bars <= self.short_bars:
            raise ValueError(f"long_bars={self.long_bars} must exceed short_bars={self.short_bars}")
        if self.low_volatility > self.high_volatility:
            raise ValueError(f"low_volatility={self.low_volatility} must not exceed high_volatility="
                             f"{self.high_volatility}")
        if self.low_volume > self.high_volume:
            raise ValueError(f"low_volume={self.low_volume} must not exceed high_volume={self.high_volume}")
        if self.low_correlation > self.high_correlation:
            raise ValueError(f"low_correlation={self.low_correlation} must not exceed high_correlation="
                             f"{self.high_correlation}")
        return self


class PaperRules(_Rules):
    """Everything the paper trader enforces."""

    retirement: RetirementRules = RetirementRules()
    emergency: EmergencyRules = EmergencyRules()
    risk: RiskRules = RiskRules()


def breach_since(since_ms: int | None, breached: bool, now_ms: int) -> int | None:
    """When an ongoing breach began: kept while it lasts, `now_ms` when it starts, None when it ends."""
    if not breached:
        return None
    return now_ms if since_ms is None else since_ms


def stop_reason(position: float, entry_px: float, stop_loss: float, take_profit: float, low: float,
                high: float) -> str | None:
    """"stop_loss" or "take_profit" when a bar with this `low` / `high` reaches that stop of a position
    (signed coins) entered at `entry_px`, else None. `stop_loss`, `take_profit`: fractions of the entry
    price, 0.0 = off. The levels are the kernel's (`kernels.simulate.stop_band_nb`); the stop loss wins
    when the bar reaches both, as in the kernel's `stop_price_nb`.

    >>> stop_reason(1.0, 100.0, 0.05, 0.1, low=94.0, high=111.0), stop_reason(-1.0, 100.0, 0.05, 0.0, 96.0, 104.0)
    ('stop_loss', None)
    """
    below, above = stop_band_nb(float(position), float(entry_px), float(stop_loss), float(take_profit))
    reached_below, reached_above = low <= below, high >= above
    lost, won = (reached_below, reached_above) if position > 0 else (reached_above, reached_below)
    if lost:
        return "stop_loss"
    return "take_profit" if won else None


def _days(since_ms: int | None, now_ms: int) -> float:
    return -1.0 if since_ms is None else (now_ms - since_ms) / _DAY_MS


def retirement_reason(*, sharpe: float, bars: int, drawdown: float, negative_since_ms: int | None,
                      drawdown_since_ms: int | None, now_ms: int, rules: RetirementRules) -> str | None:
    """Why the strategy must retire now, or None. `*_since_ms` come from `breach_since`."""
    dd_days = _days(drawdown_since_ms, now_ms)
    if drawdown > rules.max_drawdown and dd_days >= rules.drawdown_days:
        return (f"drawdown {drawdown:.1%} > {rules.max_drawdown:.0%} for {dd_days:.1f} days "
                f"(rule: {rules.drawdown_days:g} days)")
    sharpe_days = _days(negative_since_ms, now_ms)
    if bars >= rules.min_bars and sharpe < 0 and sharpe_days >= rules.negative_sharpe_days:
        return (f"paper Sharpe {sharpe:.2f} < 0 for {sharpe_days:.1f} days "
                f"(rule: {rules.negative_sharpe_days:g} days)")
    return None


def emergency_reason(equity_history: list[float], peak: float, rules: EmergencyRules) -> str | None:
    """Why the book must be flattened now, or None. `equity_history`: book equity at each bar close,
    oldest first, the current bar last (at least the last 169); `peak`: the highest equity so far."""
    if not equity_history:
        return None
    now = equity_history[-1]
    for bars, limit, name in ((BARS_PER_DAY, rules.daily_loss, "daily"), (7 * BARS_PER_DAY, rules.weekly_loss,
                                                                           "weekly")):
        before = equity_history[-1 - bars] if len(equity_history) > bars else equity_history[0]
        loss = 1.0 - now / before if before > 0 else 0.0
        if loss >= limit:
            return f"{name} loss {loss:.1%} >= {limit:.0%} (book equity {before:,.2f} -> {now:,.2f})"
    drawdown = 1.0 - now / peak if peak > 0 else 0.0
    if drawdown >= rules.max_drawdown:
        return f"book drawdown {drawdown:.1%} >= {rules.max_drawdown:.0%} (peak {peak:,.2f}, now {now:,.2f})"
    return None


class RiskAdjustment(NamedTuple):
    """The size multiplier and the conditions that chose it, e.g. "high volatility 1.8x"."""

    multiplier: float
    reason: str


def _ratio(recent: np.ndarray, reference: np.ndarray) -> float:
    ref = float(np.mean(reference))
    return float(np.mean(recent)) / ref if ref > 0 else 1.0


def risk_adjustment(close: np.ndarray, volume: np.ndarray, own_returns: np.ndarray, book_returns: np.ndarray,
                    rules: RiskRules) -> RiskAdjustment:
    """The multiplier for a strategy's target from its coin's recent bars (close, volume: oldest first, the
    current bar last) and its paper returns beside the rest of the book's (equal length, oldest first)."""
    if not rules.enabled:
        return RiskAdjustment(1.0, "risk adjustment off")
    adverse, favourable, notes = 0, 0, []
    if len(close) > rules.long_bars:
        r = np.diff(np.log(close[-rules.long_bars - 1:]))
        long_sd = float(np.std(r))
        vol = float(np.std(r[-rules.short_bars:])) / long_sd if long_sd > 0 else 1.0
        adverse += vol > rules.high_volatility
        favourable += vol < rules.low_volatility
        notes.append(f"volatility {vol:.2f}x")
        liquidity = _ratio(volume[-rules.short_bars:], volume[-rules.long_bars:])
        adverse += liquidity < rules.low_volume
        favourable += liquidity > rules.high_volume
        notes.append(f"volume {liquidity:.2f}x")
    else:
        notes.append("volatility and volume: too little history")
    n = min(len(own_returns), len(book_returns), rules.correlation_bars)
    if n >= 10 and np.std(own_returns[-n:]) > 0 and np.std(book_returns[-n:]) > 0:
        corr = float(np.corrcoef(own_returns[-n:], book_returns[-n:])[0, 1])
        adverse += corr > rules.high_correlation
        favourable += corr < rules.low_correlation
        notes.append(f"correlation {corr:.2f}")
    else:
        notes.append("correlation: too little paper history")
    if adverse:
        return RiskAdjustment(rules.reduce, "reduce: " + ", ".join(notes))
    if favourable == 3:
        return RiskAdjustment(rules.boost, "boost: " + ", ".join(notes))
    return RiskAdjustment(1.0, "normal: " + ", ".join(notes))


# ---- applied to the book -------------------------------------------------------------------------------


def apply_stops(state: BookState, specs: Mapping[str, StrategySpec], bars: Mapping[str, Bar | None]) -> dict[str, str]:
    """Flatten (desired 0, stopped out) the active strategies whose stop the bar reached (`stop_reason`
    with the stops of their spec); returns their trade reasons by strategy id."""
    reasons: dict[str, str] = {}
    for s in state.strategies.values():
        bar = bars.get(s.coin)
        if s.status != "active" or s.position == 0.0 or bar is None or s.entry_px <= 0:
            continue
        stop_loss, take_profit = specs[s.strategy_id].stops()
        why = stop_reason(s.position, s.entry_px, stop_loss, take_profit, bar.low, bar.high)
        if why is not None:
            s.desired, s.stopped_out = 0.0, True
            reasons[s.strategy_id] = why
    return reasons


def apply_retirement(state: BookState, now_ms: int, reasons: dict[str, str], rules: RetirementRules, *,
                     bars_per_year: float) -> list[StrategyBook]:
    """Track every active strategy's breaches and retire (and flatten) those `retirement_reason` names;
    their trade reason becomes "retired" in `reasons`. Returns the strategies retired now."""
    retired = []
    for s in state.strategies.values():
        if s.status != "active":
            continue
        sharpe = s.sharpe(bars_per_year)
        s.negative_sharpe_since = breach_since(s.negative_sharpe_since, s.bars >= rules.min_bars and sharpe < 0,
                                               now_ms)
        s.drawdown_since = breach_since(s.drawdown_since, s.drawdown > rules.max_drawdown, now_ms)
        why = retirement_reason(sharpe=sharpe, bars=s.bars, drawdown=s.drawdown,
                                negative_since_ms=s.negative_sharpe_since, drawdown_since_ms=s.drawdown_since,
                                now_ms=now_ms, rules=rules)
        if why is not None:
            s.status, s.reason, s.status_ms, s.desired = "retired", why, now_ms, 0.0
            reasons[s.strategy_id] = "retired"
            retired.append(s)
    return retired


def apply_emergency(state: BookState, now_ms: int, reasons: dict[str, str], rules: EmergencyRules) -> str | None:
    """Record the book's equity (the last 169 closes and the peak); when `emergency_reason` names a
    breach and the book is not halted yet, halt it and flatten every strategy (trade reason "emergency").
    Returns the breach, None when there is none (or the book was halted already)."""
    equity = state.equity
    state.equity_history = (state.equity_history + [equity])[-(7 * BARS_PER_DAY + 1):]
    state.peak_equity = max(state.peak_equity, equity)
    if state.halted is not None:
        return None
    why = emergency_reason(state.equity_history, state.peak_equity, rules)
    if why is None:
        return None
    state.halted = {"reason": f"emergency: {why}", "at_ms": now_ms, "by": "emergency"}
    for s in state.strategies.values():
        if s.position != 0.0 or s.desired != 0.0:
            s.desired = 0.0
            reasons[s.strategy_id] = "emergency"
    return why
