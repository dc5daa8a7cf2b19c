"""Netting the strategies' orders of one coin into one venue order, and sharing its fill back out.

At a bar close each strategy wants to move its position by `delta` coins. Buyers and sellers first
cross internally at the reference price (the bar's close) without fees: the smaller side's total
`cross` is matched against the larger side. What the larger side still wants goes to the venue as one
order. Every strategy on a side receives a share of that side's total in proportion to its own delta,
the venue fill and its fee included:

    buyer s:  delta_s / buys  x (cross + venue fill, if the venue order buys)
    seller s: delta_s / sells x (cross + venue fill, if the venue order sells)

So the strategies' positions always sum to the venue's position, however much of the venue order
filled (none when it was refused or below the $10 minimum, more than asked when the lot rounding
rounded up).

Example:
    >>> plan = net_deltas({"a": 2.0, "b": -0.5, "c": 1.0})
    >>> (plan.cross, plan.venue_size)
    (0.5, 2.5)
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["NetPlan", "Allocation", "net_deltas", "allocate"]


class NetPlan(NamedTuple):
    """`cross`: coins matched internally; `venue_size`: signed coins the venue order should trade."""

    deltas: dict[str, float]
    buys: float
    sells: float
    cross: float
    venue_size: float


class Allocation(NamedTuple):
    """One strategy's share of a bar's trading in one coin: signed coins at the internal reference price
    (`internal`) and from the venue fill (`external`, at `external_px`, paying `fee` USD)."""

    strategy_id: str
    internal: float
    external: float
    external_px: float
    fee: float


def net_deltas(deltas: dict[str, float]) -> NetPlan:
    """The netting of signed position changes (coins) by strategy id; zero deltas are dropped."""
    deltas = {k: float(v) for k, v in deltas.items() if v != 0.0}
    buys = sum(v for v in deltas.values() if v > 0)
    sells = -sum(v for v in deltas.values() if v < 0)
    cross = min(buys, sells)
    return NetPlan(deltas, buys, sells, cross, buys - sells)


def allocate(plan: NetPlan, filled: float, price: float, fee: float) -> list[Allocation]:
    """Shares of the internal cross and of the venue fill (`filled` coins, unsigned, at `price`, costing
    `fee` USD in all) for every strategy of the plan, in the plan's order."""
    if filled < 0:
        raise ValueError(f"filled={filled!r}: expected the unsigned size the venue filled")
    venue_buys = plan.venue_size > 0
    out = []
    for sid, delta in plan.deltas.items():
        buying = delta > 0
        side_total = plan.buys if buying else plan.sells
        share = abs(delta) / side_total
        sign = 1.0 if buying else -1.0
        gets_fill = filled > 0 and buying == venue_buys and plan.venue_size != 0
        out.append(Allocation(sid, sign * share * plan.cross, sign * share * filled if gets_fill else 0.0,
                              price if gets_fill else 0.0, share * fee if gets_fill else 0.0))
    return out
