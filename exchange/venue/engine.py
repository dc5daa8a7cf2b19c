"""The venue's market: prices from the replayed candles, order matching, margin checks and hourly funding.

- Mid price = close of the last completed hourly bar (a bar is complete once replay time reaches its close).
- A marketable IOC/GTC order fills in full at mid ± half-spread (never beyond its limit) with the taker fee.
- A resting limit order fills at its limit price, maker fee, when a later bar trades through it (a buy
  when the bar's low is below the limit, a sell when its high is above).
- A TP/SL trigger order (reduce-only) becomes a market order on the bar whose low/high reaches its trigger:
  it fills as a taker at the trigger price, or at the bar's open when the bar gaps through it, worsened
  by the half-spread like every taker fill (a sell at the bid side, a buy at the ask side).
- Cross margin: initial margin Σ |size| x mark / leverage plus the margin of open orders must stay within
  account value; liquidation is not modelled.
- Funding: each funding row of the data is charged at its timestamp on every open position, size x mark x rate.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from exchange.errors import Msg
from exchange.hyperliquid.limits import FEES, KNOWN_ASSETS, MIN_NOTIONAL_USD, AssetRules, Fees, asset_rules_for
from exchange.venue.data import BAR_MS, CoinSeries
from exchange.venue.ledger import Account
from exchange.venue.orders import Order, OrderRegistry
from exchange.venue.wire import num

__all__ = ["Engine"]


def _known_first(coin: str) -> tuple[int, str]:
    order = list(KNOWN_ASSETS)
    return (order.index(coin), "") if coin in KNOWN_ASSETS else (len(order), coin)


class Engine:
    """Accounts, orders and prices at the current replay time `now_ms`; not thread-safe (the venue locks)."""

    def __init__(self, data: dict[str, CoinSeries], *, start_ms: int, fees: Fees = FEES,
                 half_spread: float = 0.0001) -> None:
        if not 0 <= half_spread < 0.1:
            raise ValueError(f"half_spread={half_spread!r}: expected a fraction in [0, 0.1)")
        self.series = data
        self.coins: list[str] = sorted(data, key=_known_first)
        self.rules: dict[str, AssetRules] = {c: asset_rules_for(c, float(data[c].close[-1])) for c in self.coins}
        self.fees = fees
        self.half_spread = half_spread
        self.accounts: dict[str, Account] = {}
        self.orders = OrderRegistry()
        self.now_ms = start_ms
        self._boundary_ms = start_ms - start_ms % BAR_MS
        self._next_tid = 1

    # ---- accounts and prices ------------------------------------------------------------------------

    def fund(self, address: str, usdc: float) -> Account:
        """Create (or top up) an account with `usdc` of collateral."""
        account = self.accounts.setdefault(address.lower(), Account(address.lower(), 0.0))
        account.balance += usdc
        return account

    def bar_index(self, coin: str) -> int:
        """Index of the last bar completed at `now_ms` (-1 before the first one closes)."""
        return int(np.searchsorted(self.series[coin].bar_open_ms, self.now_ms - BAR_MS, side="right")) - 1

    def mid(self, coin: str) -> float | None:
        """Mid price now: the close of the last completed bar."""
        i = self.bar_index(coin)
        return float(self.series[coin].close[i]) if i >= 0 else None

    def marks(self) -> dict[str, float]:
        """Mid price of every coin that has one."""
        return {c: m for c in self.coins if (m := self.mid(c)) is not None}

    def bbo(self, coin: str, mid: float) -> tuple[float, float]:
        """Synthetic best bid and ask: mid ∓ half-spread on valid ticks."""
        rules = self.rules[coin]
        return rules.round_price(mid * (1 - self.half_spread)), rules.round_price(mid * (1 + self.half_spread))

    def max_leverage(self) -> dict[str, int]:
        """Maximum leverage per coin."""
        return {c: r.max_leverage for c, r in self.rules.items()}

    # ---- time --------------------------------------------------------------------------------------

    def advance_to(self, now_ms: int) -> None:
        """Move to replay time `now_ms`: at every bar close on the way, fill resting orders, then charge funding."""
        if now_ms <= self.now_ms:
            return
        if not self.orders.has_open() and not any(p.size for a in self.accounts.values() for p in a.positions.values()):
            self._boundary_ms = max(self._boundary_ms, now_ms - now_ms % BAR_MS)
        boundary = self._boundary_ms + BAR_MS
        while boundary <= now_ms:
            self.now_ms = boundary
            for coin in self.coins:
                self._close_bar(coin, boundary)
                self._charge_funding(coin, boundary)
            self._boundary_ms = boundary
            boundary += BAR_MS
        self.now_ms = now_ms

    def _close_bar(self, coin: str, close_ms: int) -> None:
        series = self.series[coin]
        i = int(np.searchsorted(series.bar_open_ms, close_ms - BAR_MS))
        if i >= len(series.bar_open_ms) or series.bar_open_ms[i] != close_ms - BAR_MS:
            return
        bar_open, low, high = float(series.open[i]), float(series.low[i]), float(series.high[i])
        for order in self.orders.open_orders(coin):
            if order.trigger_px is not None:
                falls = (order.tpsl == "sl") != order.is_buy
                if (low <= order.trigger_px) if falls else (high >= order.trigger_px):
                    px = min(order.trigger_px, bar_open) if falls else max(order.trigger_px, bar_open)
                    self._fill_resting(order, self._taker_px(coin, px, order.is_buy), self.fees.taker, crossed=True)
            elif (low < order.limit_px) if order.is_buy else (high > order.limit_px):
                self._fill_resting(order, order.limit_px, self.fees.maker, crossed=False)

    def _taker_px(self, coin: str, px: float, is_buy: bool) -> float:
        """Where a market order triggered at `px` fills: across the half-spread, on a valid tick. Without
        it a stop would exit at the mid, better than any other taker order (and than the simulators,
        which charge their slippage on stop fills too)."""
        return self.rules[coin].round_price(px * (1 + self.half_spread if is_buy else 1 - self.half_spread))

    def _fill_resting(self, order: Order, px: float, fee_rate: float, *, crossed: bool) -> None:
        account = self.accounts[order.owner]
        start = account.size(order.coin)
        sz = order.sz
        if order.reduce_only:
            if start == 0 or (start > 0) == order.is_buy:
                self.orders.close(order, "reduceOnlyCanceled", self.now_ms)
                return
            sz = min(sz, abs(start))
        new_size = start + (sz if order.is_buy else -sz)
        if abs(new_size) > abs(start) and not self._margin_ok(account, order.coin, new_size, exclude=order):
            self.orders.close(order, "marginCanceled", self.now_ms)
            return
        self._trade(account, order, sz, px, fee_rate, crossed=crossed)
        order.sz = 0.0
        self.orders.close(order, "filled", self.now_ms)

    def _charge_funding(self, coin: str, at_ms: int) -> None:
        series = self.series[coin]
        first = int(np.searchsorted(series.funding_ms, at_ms - BAR_MS, side="right"))
        last = int(np.searchsorted(series.funding_ms, at_ms, side="right"))
        mark = self.mid(coin)
        if mark is None:
            return
        for j in range(first, last):
            for account in self.accounts.values():
                account.pay_funding(coin, mark, float(series.funding_rate[j]))

    # ---- actions -----------------------------------------------------------------------------------

    def place(self, account: Account, wire: dict[str, Any]) -> dict[str, Any]:
        """Handle one order wire ({a, b, p, s, r, t, c?}); returns its status: resting, filled or error."""
        asset = wire["a"]
        if not 0 <= asset < len(self.coins):
            return {"error": f"Order has invalid asset. asset={asset}"}
        coin = self.coins[asset]
        rules = self.rules[coin]
        trigger = wire["t"].get("trigger")
        order = Order(
            oid=self.orders.new_oid(), owner=account.address, coin=coin, is_buy=wire["b"],
            limit_px=_float(wire["p"]), sz=_float(wire["s"]), orig_sz=_float(wire["s"]),
            tif="Trigger" if trigger else wire["t"]["limit"]["tif"], reduce_only=wire["r"],
            cloid=wire["c"].lower() if wire.get("c") else None, timestamp=self.now_ms,
            trigger_px=_float(trigger["triggerPx"]) if trigger else None, tpsl=trigger["tpsl"] if trigger else None,
            status_ms=self.now_ms)
        refusal = self._refusal(account, order, wire, rules)
        if refusal is not None:
            return self._refuse(order, *refusal, asset)
        mid = self.mid(coin)
        if mid is None:
            return self._refuse(order, "marketOrderNoLiquidityRejected", Msg.NO_LIQUIDITY, asset)
        bid, ask = self.bbo(coin, mid)
        crosses = order.limit_px >= ask if order.is_buy else order.limit_px <= bid
        if order.tif == "Alo" and crosses:
            return self._refuse(order, "badAloPxRejected", Msg.BAD_ALO.format(bid=num(bid), ask=num(ask)), asset)
        if order.tif == "Ioc" and not crosses:
            return self._refuse(order, "iocCancelRejected", Msg.IOC_CANCEL, asset)
        start = account.size(coin)
        if crosses and order.tif in ("Gtc", "Ioc"):
            px = min(order.limit_px, ask) if order.is_buy else max(order.limit_px, bid)
            sz = min(order.sz, abs(start)) if order.reduce_only else order.sz
            new_size = start + (sz if order.is_buy else -sz)
            if abs(new_size) > abs(start) and not self._margin_ok(account, coin, new_size):
                return self._refuse(order, "perpMarginRejected", Msg.MARGIN, asset)
            self._trade(account, order, sz, px, self.fees.taker, crossed=True)
            order.sz = 0.0
            order.close("filled", self.now_ms)
            self.orders.add(order)
            return {"filled": {"totalSz": num(sz), "avgPx": num(px), "oid": order.oid}}
        if not order.reduce_only and not self._margin_ok(account, coin, start, extra=order):
            return self._refuse(order, "perpMarginRejected", Msg.MARGIN, asset)
        self.orders.add(order)
        return {"resting": {"oid": order.oid}}

    def _refusal(self, account: Account, order: Order, wire: dict[str, Any],
                 rules: AssetRules) -> tuple[str, str] | None:
        if not rules.size_is_valid(wire["s"]):
            return "rejected", Msg.INVALID_SIZE
        if order.sz == 0:
            return "rejected", Msg.ZERO_SIZE
        if not rules.price_is_valid(wire["p"]):
            return "tickRejected", Msg.TICK
        trigger = wire["t"].get("trigger")
        if trigger and (not order.reduce_only or not rules.price_is_valid(trigger["triggerPx"])):
            return "badTriggerPxRejected", Msg.BAD_TRIGGER
        start = account.size(order.coin)
        if order.reduce_only and (start == 0 or (start > 0) == order.is_buy):
            return "reduceOnlyRejected", Msg.REDUCE_ONLY
        if not order.reduce_only and order.sz * order.limit_px < MIN_NOTIONAL_USD:
            return "minTradeNtlRejected", Msg.MIN_NOTIONAL
        return None

    def _refuse(self, order: Order, status: str, message: str, asset: int) -> dict[str, str]:
        order.close(status, self.now_ms)
        self.orders.add(order)
        return {"error": f"{message} asset={asset}"}

    def _margin_ok(self, account: Account, coin: str, new_size: float, *, extra: Order | None = None,
                   exclude: Order | None = None) -> bool:
        marks = self.marks()
        max_lev = self.max_leverage()
        resting = [o for o in self.orders.open_orders(owner=account.address) if not o.reduce_only and o is not exclude]
        if extra is not None:
            resting.append(extra)
        orders_margin = sum(o.sz * o.limit_px / account.leverage_of(o.coin, max_lev[o.coin]) for o in resting)
        required = account.margin_used(marks, max_lev, override=(coin, new_size)) + orders_margin
        return required <= account.account_value(marks)

    def _trade(self, account: Account, order: Order, sz: float, px: float, fee_rate: float, *, crossed: bool) -> None:
        tid, self._next_tid = self._next_tid, self._next_tid + 1
        record = {"oid": order.oid, "crossed": crossed, "time": self.now_ms, "tid": tid, "hash": f"0x{tid:064x}"}
        if order.cloid is not None:
            record["cloid"] = order.cloid
        account.apply_fill(order.coin, order.is_buy, sz, px, fee_rate, self.rules[order.coin].sz_decimals, **record)

    def cancel(self, account: Account, asset: int, order: Order | None) -> str | dict[str, str]:
        """Cancel an open order of this account on this asset: "success" or the venue's error."""
        if order is None or order.status != "open" or not 0 <= asset < len(self.coins) \
                or order.coin != self.coins[asset]:
            return {"error": f"{Msg.MISSING_ORDER} asset={asset}"}
        self.orders.close(order, "canceled", self.now_ms)
        return "success"

    def update_leverage(self, account: Account, asset: int, is_cross: bool, leverage: int) -> str | None:
        """Set the coin's cross leverage; returns the venue's error sentence, or None when done."""
        if not 0 <= asset < len(self.coins):
            return f"{Msg.LEVERAGE} asset={asset}"
        if not is_cross:
            return "Isolated margin is not supported by this venue; use cross."
        if not 1 <= leverage <= self.rules[self.coins[asset]].max_leverage:
            return Msg.LEVERAGE
        account.leverage[self.coins[asset]] = leverage
        return None


def _float(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return 0.0
