"""What `uce paper status` shows: the book, read from the saved state and the registry (no venue needed),
and the account's equity as the venue reports it (optional: the one venue read, never the book's maths).

Money in USD; returns, drawdowns and allocations as fractions (0.05 = 5 %); times ISO 8601 UTC.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from exchange.errors import ExchangeError, TemporaryError
from exchange.hyperliquid.connect import make_info
from exchange.hyperliquid.retry import call_with_retries
from exchange.hyperliquid.settings import ExchangeSettings
from exchange.paper.accounting import coins_to_trade
from exchange.paper.feed import BARS_PER_YEAR
from exchange.paper.registry import Registry
from exchange.paper.state import PaperPaths, StateStore

__all__ = ["book_status", "nothing_to_trade", "venue_account"]

_NO_ASSETS: dict[str, list[Any]] = {"universe": []}
"""Passed as the SDK's `meta`: reading an account needs no asset table, so `Info` skips its meta request."""


def _iso(ms: int | None) -> str | None:
    return None if ms is None else pd.Timestamp(int(ms), unit="ms", tz="UTC").isoformat()


def book_status(paths: PaperPaths) -> dict[str, Any] | None:
    """The book and each strategy: status and its reason, position, equity, PnL, drawdown, Sharpe, costs;
    None when there is no book yet (`uce paper run` has not traded a bar).

    Raises PaperStateError when the state file is damaged.
    """
    state = StateStore(paths).load()
    if state is None:
        return None
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
            "sharpe": s.sharpe(BARS_PER_YEAR), "bars": s.bars, "fills": s.fills, "fees": s.fees,
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


def nothing_to_trade(paths: PaperPaths) -> str | None:
    """Why the book has nothing to trade, naming the registry it looked in, e.g.
    "registry /data/paper/registry.sqlite: no such file"; None when a strategy is deployed and active or
    the book still holds a position. Reads local files only (no key, no venue) and creates none.

    Raises RegistryError or PaperStateError when the registry or the state file is damaged.
    """
    if paths.registry.exists():  # Registry would create a missing file: look before opening it
        specs = Registry(paths.registry).all()
        detail = (f"all {len(specs)} strategies retired or stopped, no position held" if specs
                  else "no strategy registered")
    else:
        specs, detail = [], "no such file"
    if coins_to_trade(StateStore(paths).load(), specs):
        return None
    return f"registry {paths.registry}: {detail}"


def venue_account(endpoint: str, address: str, *, timeout_s: float = 5.0, retries: int = 2) -> dict[str, Any]:
    """The account's equity on the venue, read as the trader reads it (the SDK's `Info.user_state`), in USD.

    A venue that cannot be reached or refuses is not an error here: "error" then says so in one line and
    the amounts are None, so that a status view never shows zeros it did not read.

    Example:
        venue_account("testnet", "0xabc...")["equity"]   # 100000.0 for a freshly funded account
    """
    settings = ExchangeSettings(endpoint=endpoint, timeout_s=timeout_s, max_attempts=retries)
    out: dict[str, Any] = {"endpoint": settings.url, "address": address, "equity": None, "withdrawable": None,
                           "margin_used": None, "positions": None, "error": None}
    info = make_info(settings, _NO_ASSETS)
    try:
        state = call_with_retries(lambda: info.user_state(address), settings.retry_policy())
        summary = state["marginSummary"]
        out.update(equity=float(summary["accountValue"]), margin_used=float(summary["totalMarginUsed"]),
                   withdrawable=float(state["withdrawable"]), positions=len(state["assetPositions"]))
    except TemporaryError as exc:
        out["error"] = f"cannot reach the venue at {settings.url}: {_first_line(exc)}"
    except ExchangeError as exc:
        out["error"] = f"the venue at {settings.url} refused the account query: {_first_line(exc)}"
    except (KeyError, TypeError, ValueError) as exc:  # an answer without the fields Hyperliquid documents
        out["error"] = f"unreadable account answer from {settings.url}: {_first_line(exc)}"
    return out


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
