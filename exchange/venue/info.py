"""Answers to `/info` requests, in Hyperliquid's shapes, from the engine's state at the current replay time."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from exchange.hyperliquid.limits import HISTORY, HistoryLimits
from exchange.venue.data import BAR_MS
from exchange.venue.engine import Engine
from exchange.venue.ledger import Account
from exchange.venue.wire import UnsupportedRequest, num, usd

__all__ = ["InfoApi"]

_DAY_BARS = 24
_BOOK_LEVELS = 10
_BOOK_NOTIONAL_USD = 1_000_000.0
_MAX_FILLS = 2000


class InfoApi:
    """Dispatches `/info` bodies by their "type"; `history` sets how deep candleSnapshot may reach
    (`candles_available=None` lifts the 5,000-candle limit)."""

    def __init__(self, engine: Engine, history: HistoryLimits = HISTORY) -> None:
        self.engine = engine
        self.history = history
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "meta": lambda b: self.meta(), "spotMeta": lambda b: {"universe": [], "tokens": []},
            "allMids": lambda b: self.all_mids(), "metaAndAssetCtxs": lambda b: self.meta_and_asset_ctxs(),
            "clearinghouseState": lambda b: self.clearinghouse_state(b["user"]),
            "openOrders": lambda b: self.open_orders(b["user"], frontend=False),
            "frontendOpenOrders": lambda b: self.open_orders(b["user"], frontend=True),
            "userFills": lambda b: self.user_fills(b["user"]), "orderStatus": lambda b: self.order_status(b),
            "candleSnapshot": lambda b: self.candle_snapshot(b["req"]),
            "fundingHistory": lambda b: self.funding_history(b), "l2Book": lambda b: self.l2_book(b["coin"]),
        }

    def answer(self, body: dict[str, Any]) -> Any:
        """The JSON answer to one request body; raises UnsupportedRequest for anything it cannot read."""
        handler = self._handlers.get(body.get("type"))
        if handler is None:
            raise UnsupportedRequest(f"unsupported info type {body.get('type')!r}")
        try:
            return handler(body)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UnsupportedRequest(f"bad {body['type']} request: {exc}") from exc

    # ---- market ------------------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        """The perp universe; a coin's asset id is its index."""
        rules = self.engine.rules
        return {"universe": [{"name": c, "szDecimals": rules[c].sz_decimals, "maxLeverage": rules[c].max_leverage}
                             for c in self.engine.coins]}

    def all_mids(self) -> dict[str, str]:
        """Mid price of every coin with a completed bar."""
        return {c: num(m) for c, m in self.engine.marks().items()}

    def meta_and_asset_ctxs(self) -> list[Any]:
        """[meta, per-coin context] with funding, mark, mid, oracle, previous-day price and day volume."""
        ctxs = []
        for coin in self.engine.coins:
            series, i = self.engine.series[coin], self.engine.bar_index(coin)
            if i < 0:
                ctxs.append({"funding": "0.0", "openInterest": "0.0", "prevDayPx": "0.0", "dayNtlVlm": "0.0",
                             "premium": None, "oraclePx": "0.0", "markPx": "0.0", "midPx": None,
                             "impactPxs": None, "dayBaseVlm": "0.0"})
                continue
            day = slice(max(0, i - _DAY_BARS + 1), i + 1)
            j = int(np.searchsorted(series.funding_ms, self.engine.now_ms, side="right")) - 1
            mid = float(series.close[i])
            bid, ask = self.engine.bbo(coin, mid)
            ctxs.append({
                "funding": num(series.funding_rate[j]) if j >= 0 else "0.0", "openInterest": "0.0",
                "prevDayPx": num(series.close[max(0, i - _DAY_BARS)]),
                "dayNtlVlm": usd(float(np.sum(series.volume[day] * series.close[day]))),
                "premium": num(series.premium[j]) if j >= 0 else None, "oraclePx": num(mid), "markPx": num(mid),
                "midPx": num(mid), "impactPxs": [num(bid), num(ask)],
                "dayBaseVlm": num(float(np.sum(series.volume[day]))),
            })
        return [self.meta(), ctxs]

    def l2_book(self, coin: str) -> dict[str, Any]:
        """Synthetic book: ten levels a side, one half-spread apart, each worth about $1M."""
        mid = self.engine.mid(coin)
        if mid is None:
            return {"coin": coin, "time": self.engine.now_ms, "levels": [[], []]}
        rules, step = self.engine.rules[coin], self.engine.half_spread
        sz = num(rules.round_size(_BOOK_NOTIONAL_USD / mid))
        levels = [[{"px": num(rules.round_price(mid * (1 + side * step * (2 * k + 1)))), "sz": sz, "n": 1}
                   for k in range(_BOOK_LEVELS)] for side in (-1, 1)]
        return {"coin": coin, "time": self.engine.now_ms, "levels": levels}

    def candle_snapshot(self, req: dict[str, Any]) -> list[dict[str, Any]]:
        """Completed hourly candles with startTime ≤ t ≤ endTime among the latest `candles_available`,
        at most `candles_per_response` of them, oldest first."""
        coin, interval = req["coin"], req["interval"]
        if interval != "1h":
            raise ValueError(f"interval {interval!r}: this venue replays hourly data only")
        series = self.engine.series.get(coin)
        if series is None:
            return []
        completed = self.engine.bar_index(coin) + 1
        first = 0 if self.history.candles_available is None else max(0, completed - self.history.candles_available)
        t = series.bar_open_ms
        lo = max(first, int(np.searchsorted(t, int(req["startTime"]))))
        hi = min(completed, int(np.searchsorted(t, int(req["endTime"]), side="right")),
                 lo + self.history.candles_per_response)
        return [{"t": int(t[i]), "T": int(t[i]) + BAR_MS - 1, "s": coin, "i": interval, "o": num(series.open[i]),
                 "c": num(series.close[i]), "h": num(series.high[i]), "l": num(series.low[i]),
                 "v": num(series.volume[i]), "n": 0} for i in range(lo, hi)]

    def funding_history(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Funding rows with startTime ≤ time ≤ min(endTime, now), at most `funding_per_response`, oldest first."""
        series = self.engine.series.get(body["coin"])
        if series is None:
            return []
        end = self.engine.now_ms if body.get("endTime") is None else min(int(body["endTime"]), self.engine.now_ms)
        lo = int(np.searchsorted(series.funding_ms, int(body["startTime"])))
        hi = min(int(np.searchsorted(series.funding_ms, end, side="right")), lo + self.history.funding_per_response)
        return [{"coin": series.coin, "fundingRate": num(series.funding_rate[j]), "premium": num(series.premium[j]),
                 "time": int(series.funding_ms[j])} for j in range(lo, hi)]

    # ---- accounts ----------------------------------------------------------------------------------

    def _account(self, user: str) -> Account:
        return self.engine.accounts.get(user.lower()) or Account(user.lower(), 0.0)

    def clearinghouse_state(self, user: str) -> dict[str, Any]:
        """Positions with entry price, unrealised PnL, margin and funding; margin summary of the account."""
        account, engine = self._account(user), self.engine
        marks, max_lev = engine.marks(), engine.max_leverage()
        positions, ntl, margin = [], 0.0, 0.0
        for coin, pos in account.positions.items():
            if not pos.size:
                continue
            lev = account.leverage_of(coin, max_lev[coin])
            value = abs(pos.size) * marks[coin]
            upnl = pos.size * (marks[coin] - pos.entry_px)
            used = value / lev
            ntl, margin = ntl + value, margin + used
            positions.append({"type": "oneWay", "position": {
                "coin": coin, "szi": num(pos.size), "leverage": {"type": "cross", "value": lev},
                "entryPx": num(pos.entry_px), "positionValue": usd(value), "unrealizedPnl": usd(upnl),
                "returnOnEquity": num(round(upnl / (abs(pos.size) * pos.entry_px / lev), 8)),
                "liquidationPx": None, "marginUsed": usd(used), "maxLeverage": max_lev[coin],
                "cumFunding": {"allTime": usd(pos.funding_all_time), "sinceOpen": usd(pos.funding_since_open),
                               "sinceChange": usd(pos.funding_since_open)}}})
        value = account.account_value(marks)
        raw = value - sum(p.size * marks[c] for c, p in account.positions.items() if p.size)
        summary = {"accountValue": usd(value), "totalNtlPos": usd(ntl), "totalRawUsd": usd(raw),
                   "totalMarginUsed": usd(margin)}
        return {"assetPositions": positions, "marginSummary": summary, "crossMarginSummary": dict(summary),
                "crossMaintenanceMarginUsed": usd(margin / 2), "withdrawable": usd(max(0.0, value - margin)),
                "time": engine.now_ms}

    def open_orders(self, user: str, *, frontend: bool) -> list[dict[str, Any]]:
        """The user's resting orders, newest first."""
        orders = self.engine.orders.open_orders(owner=user.lower())[::-1]
        if frontend:
            return [o.wire() for o in orders]
        return [{"coin": o.coin, "limitPx": num(o.limit_px), "oid": o.oid, "side": "B" if o.is_buy else "A",
                 "sz": num(o.sz), "timestamp": o.timestamp} for o in orders]

    def user_fills(self, user: str) -> list[dict[str, Any]]:
        """The user's latest fills, newest first."""
        return self._account(user).fills[::-1][:_MAX_FILLS]

    def order_status(self, body: dict[str, Any]) -> dict[str, Any]:
        """One order by oid (int) or cloid (hex string)."""
        user, key = body["user"].lower(), body["oid"]
        orders = self.engine.orders
        order = orders.by_cloid(user, key) if isinstance(key, str) else orders.by_oid(user, int(key))
        if order is None:
            return {"status": "unknownOid"}
        return {"status": "order", "order": {"order": order.wire(), "status": order.status,
                                             "statusTimestamp": order.status_ms}}
