"""Cross-margin accounts: USDC balance, one-way positions, fills, funding and margin arithmetic.

All amounts are USD; sizes are signed coin units (positive = long). The balance holds deposits plus
realised PnL, minus fees and funding paid; account value adds unrealised PnL at the mark (mid) price.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from exchange.venue.wire import num, usd

__all__ = ["Position", "Account", "DEFAULT_LEVERAGE"]

DEFAULT_LEVERAGE = 20
"""Cross leverage of a coin until `updateLeverage` changes it (capped at the coin's maximum)."""


@dataclass
class Position:
    """A one-way position in one coin."""

    size: float = 0.0
    entry_px: float = 0.0
    funding_all_time: float = 0.0
    """Funding paid on this coin since the account opened (USD, positive = paid)."""
    funding_since_open: float = 0.0


@dataclass
class Account:
    """One trading account of the venue, keyed by its lower-case address."""

    address: str
    balance: float
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)

    def position(self, coin: str) -> Position:
        """The coin's position (created flat on first use)."""
        return self.positions.setdefault(coin, Position())

    def size(self, coin: str) -> float:
        """Signed position size in coin units (0.0 when flat)."""
        pos = self.positions.get(coin)
        return pos.size if pos else 0.0

    def leverage_of(self, coin: str, max_leverage: int) -> int:
        """Cross leverage used for the coin's margin."""
        return self.leverage.get(coin, min(DEFAULT_LEVERAGE, max_leverage))

    def unrealized_pnl(self, marks: dict[str, float]) -> float:
        """Σ size x (mark - entry) over open positions."""
        return sum(p.size * (marks[c] - p.entry_px) for c, p in self.positions.items() if p.size)

    def account_value(self, marks: dict[str, float]) -> float:
        """Balance plus unrealised PnL."""
        return self.balance + self.unrealized_pnl(marks)

    def margin_used(self, marks: dict[str, float], max_leverage: dict[str, int],
                    override: tuple[str, float] | None = None) -> float:
        """Initial margin of all positions, Σ |size| x mark / leverage; `override` = (coin, size) replaces one."""
        sizes = {c: p.size for c, p in self.positions.items()}
        if override is not None:
            sizes[override[0]] = override[1]
        return sum(abs(s) * marks[c] / self.leverage_of(c, max_leverage[c]) for c, s in sizes.items() if s)

    def apply_fill(self, coin: str, is_buy: bool, sz: float, px: float, fee_rate: float, sz_decimals: int,
                   **record: Any) -> dict[str, Any]:
        """Trade `sz` at `px`: update the position and balance, append and return the fill record.

        `record` carries the wire fields the venue knows (oid, cloid, crossed, time, tid, hash).
        """
        pos = self.position(coin)
        start = pos.size
        signed = sz if is_buy else -sz
        new = round(start + signed, sz_decimals)
        closed = 0.0
        if start == 0 or math.copysign(1, start) == math.copysign(1, signed):
            pos.entry_px = (abs(start) * pos.entry_px + sz * px) / abs(new)
            direction = "Open Long" if is_buy else "Open Short"
        else:
            closing = min(sz, abs(start))
            closed = closing * (px - pos.entry_px) * math.copysign(1, start)
            if new == 0:
                direction = "Close Short" if is_buy else "Close Long"
                pos.entry_px, pos.funding_since_open = 0.0, 0.0
            elif math.copysign(1, new) != math.copysign(1, start):
                direction = "Short > Long" if is_buy else "Long > Short"
                pos.entry_px, pos.funding_since_open = px, 0.0
            else:
                direction = "Close Short" if is_buy else "Close Long"
        pos.size = new
        fee = sz * px * fee_rate
        self.balance += closed - fee
        fill = {"coin": coin, "px": num(px), "sz": num(sz), "side": "B" if is_buy else "A",
                "startPosition": num(start), "dir": direction, "closedPnl": usd(closed), "fee": usd(fee),
                "feeToken": "USDC", **record}
        self.fills.append(fill)
        return fill

    def pay_funding(self, coin: str, mark: float, rate: float) -> float:
        """Charge one funding payment on the coin's position: longs pay size x mark x rate when rate > 0."""
        pos = self.positions.get(coin)
        if pos is None or pos.size == 0:
            return 0.0
        paid = pos.size * mark * rate
        self.balance -= paid
        pos.funding_all_time += paid
        pos.funding_since_open += paid
        return paid
