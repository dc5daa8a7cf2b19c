"""Orders the venue has accepted or refused, and the registry that finds them by oid, cloid and coin."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exchange.venue.wire import num

__all__ = ["Order", "OrderRegistry"]


@dataclass
class Order:
    """One order as the venue tracks it; `status` uses Hyperliquid's orderStatus words."""

    oid: int
    owner: str
    coin: str
    is_buy: bool
    limit_px: float
    sz: float
    """Remaining size in coin units."""
    orig_sz: float
    tif: str
    """"Gtc", "Ioc", "Alo", or "Trigger" for TP/SL orders."""
    reduce_only: bool
    cloid: str | None
    timestamp: int
    trigger_px: float | None = None
    tpsl: str | None = None
    status: str = "open"
    status_ms: int = 0

    def close(self, status: str, now_ms: int) -> None:
        """Leave the book with `status` (filled, canceled, marginCanceled, ...)."""
        self.status, self.status_ms = status, now_ms

    def wire(self) -> dict[str, Any]:
        """The frontend order shape used by frontendOpenOrders and orderStatus."""
        trigger = self.trigger_px is not None
        kind = {"tp": "Take Profit Market", "sl": "Stop Market"}.get(self.tpsl or "", "Limit")
        condition = "N/A"
        if trigger:
            above = (self.tpsl == "tp") != self.is_buy
            condition = f"Price {'above' if above else 'below'} {num(self.trigger_px)}"
        return {"coin": self.coin, "side": "B" if self.is_buy else "A", "limitPx": num(self.limit_px),
                "sz": num(self.sz), "oid": self.oid, "timestamp": self.timestamp, "triggerCondition": condition,
                "isTrigger": trigger, "triggerPx": num(self.trigger_px or 0.0), "children": [],
                "isPositionTpsl": False, "reduceOnly": self.reduce_only, "orderType": kind,
                "origSz": num(self.orig_sz), "tif": None if trigger else self.tif, "cloid": self.cloid}


class OrderRegistry:
    """Every order by oid, the latest order per (owner, cloid), and the open ones per coin in time order.

    The venue does not police cloid reuse: a client that must not double an order has to check itself.
    """

    def __init__(self) -> None:
        self._by_oid: dict[int, Order] = {}
        self._by_cloid: dict[tuple[str, str], Order] = {}
        self._open: dict[str, dict[int, Order]] = {}
        self._next_oid = 1

    def new_oid(self) -> int:
        """A fresh order id."""
        oid, self._next_oid = self._next_oid, self._next_oid + 1
        return oid

    def add(self, order: Order) -> None:
        """Record an order; an open one also joins its coin's book."""
        self._by_oid[order.oid] = order
        if order.cloid is not None:
            self._by_cloid[(order.owner, order.cloid)] = order
        if order.status == "open":
            self._open.setdefault(order.coin, {})[order.oid] = order

    def close(self, order: Order, status: str, now_ms: int) -> None:
        """Take an open order off the book with its final status."""
        order.close(status, now_ms)
        self._open.get(order.coin, {}).pop(order.oid, None)

    def by_oid(self, owner: str, oid: int) -> Order | None:
        """The owner's order with this oid."""
        order = self._by_oid.get(oid)
        return order if order is not None and order.owner == owner else None

    def by_cloid(self, owner: str, cloid: str) -> Order | None:
        """The owner's latest order with this cloid."""
        return self._by_cloid.get((owner, cloid.lower()))

    def open_orders(self, coin: str | None = None, owner: str | None = None) -> list[Order]:
        """Open orders, oldest first, optionally of one coin and/or one owner."""
        books = [self._open.get(coin, {})] if coin is not None else list(self._open.values())
        orders = sorted((o for book in books for o in book.values()), key=lambda o: o.oid)
        return [o for o in orders if owner is None or o.owner == owner]

    def has_open(self) -> bool:
        """Whether any order rests on any book."""
        return any(self._open.values())
