"""What `uce paper status` shows, read from the saved state and the registry only (no venue needed).

Money in USD; returns, drawdowns and allocations as fractions (0.05 = 5 %); times ISO 8601 UTC.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from exchange.paper.registry import Registry
from exchange.paper.state import PaperPaths, PaperStateError, StateStore

__all__ = ["book_status"]

_BARS_PER_YEAR = 8760.0


def _iso(ms: int | None) -> str | None:
    return None if ms is None else pd.Timestamp(int(ms), unit="ms", tz="UTC").isoformat()


def book_status(paths: PaperPaths) -> dict[str, Any]:
    """The book and each strategy: status and its reason, position, equity, PnL, drawdown, Sharpe, costs.

    Raises PaperStateError when there is no book yet or its state file is damaged.
    """
    state = StateStore(paths).load()
    if state is None:
        raise PaperStateError(f"there is no paper book in {paths.root} yet: deploy strategies and run "
                              "`uce paper run`")
    specs = {s.strategy_id: s for s in Registry(paths.registry).all()} if paths.registry.exists() else {}
    capital = sum(s.capital for s in state.strategies.values())
    strategies = []
    for s in state.strategies.values():
        spec = specs.get(s.strategy_id)
        strategies.append({
            "strategy_id": s.strategy_id, "coin": s.coin,
            "family": None if spec is None else spec.family + (f" + {spec.family_b}" if spec.family_b else ""),
            "run_id": None if spec is None else spec.run_id,
            "status": s.status, "reason": s.reason, "status_at": _iso(s.status_ms),
            "capital": s.capital, "position": s.position, "target": s.target, "entry_px": s.entry_px,
            "equity": s.equity, "pnl": s.pnl, "return": s.pnl / s.capital, "drawdown": s.drawdown,
            "sharpe": s.sharpe(_BARS_PER_YEAR), "bars": s.bars, "fills": s.fills, "fees": s.fees,
            "funding": s.funding, "risk_multiplier": s.risk_multiplier, "risk_reason": s.risk_reason,
            "stopped_out": s.stopped_out, "joined": _iso(s.joined_ms),
        })
    halted = state.halted
    equity = state.equity
    return {
        "book_id": state.book_id, "endpoint": state.endpoint, "address": state.address,
        "last_bar": _iso(state.last_bar_ms), "equity": equity, "capital": capital, "pnl": equity - capital,
        "peak_equity": state.peak_equity, "drawdown": 1.0 - equity / state.peak_equity if state.peak_equity else 0.0,
        "halted": None if halted is None else {"reason": halted["reason"], "by": halted["by"],
                                                "at": _iso(halted["at_ms"])},
        "orders": state.orders, "rejected": state.rejected, "reconciliation": state.reconciliation,
        "counts": {k: sum(s["status"] == k for s in strategies) for k in ("active", "retired", "stopped")},
        "strategies": strategies,
    }
