"""Trading through the official SDK, made safe to retry.

The SDK's `Exchange.order` signs with a fresh wall-clock nonce on every call, so a retry after a lost
answer is a new action and can double an order. This client builds the same action with the SDK's own
helpers, signs it once with a nonce from a process-wide strictly rising source, and on a transport error
re-sends exactly the same signed bytes. If the first copy had landed, the venue refuses the copy as a
duplicate nonce, and the client reads the order back by its cloid instead. The cloid is derived from
the strategy id and bar time, and a cloid the venue already knows is never sent again, so re-running a
strategy step cannot double its order either.

Prices and sizes are rounded to the venue's tick and lot rules before sending; `{"status": "err"}` and
per-order errors raise the typed exceptions of `exchange.errors` with the venue's own words.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from eth_account.signers.local import LocalAccount
from hyperliquid.exchange import Exchange
from hyperliquid.utils.signing import order_request_to_order_wire, order_wires_to_order_action, sign_l1_action
from hyperliquid.utils.types import Cloid

from exchange.errors import (ConfigurationError, InvalidSizeError, Msg, VenueUnavailableError, error_from_message,
                             error_from_order_status)
from exchange.hyperliquid.connect import NO_SPOT_META, fetch_meta, make_info
from exchange.hyperliquid.ids import PROCESS_NONCES, NonceSource, cloid_for
from exchange.hyperliquid.limits import AssetRules
from exchange.hyperliquid.retry import call_with_retries
from exchange.hyperliquid.settings import ExchangeSettings

__all__ = ["HyperliquidClient", "OrderResult", "Position", "AccountState", "Tpsl", "TRIGGER_SLIPPAGE"]

Tpsl = Literal["sl", "tp"]
TRIGGER_SLIPPAGE = 0.1
"""How far beyond its trigger a market TP/SL may fill (fraction): Hyperliquid's TP/SL page gives 10 %."""

_LANDED = object()
"""Marker: a re-sent action was refused as a duplicate nonce, so its first copy had been accepted."""


class OrderResult(NamedTuple):
    """What became of an order: `status` is "filled" or "resting" for a fresh answer, or the venue's
    orderStatus word ("open", "filled", "canceled", ...) when the order was read back by its cloid."""

    cloid: str
    oid: int
    status: str
    filled_size: float
    """Coin units filled so far."""
    avg_px: float | None
    """Average fill price; None when the order was read back (orderStatus does not report it)."""


class Position(NamedTuple):
    """One open position: signed size in coin units, entry price and unrealised PnL in USD."""

    coin: str
    size: float
    entry_px: float
    unrealized_pnl: float
    leverage: int
    funding_paid: float
    """Funding paid on this coin since the account opened (USD, positive = paid)."""


class AccountState(NamedTuple):
    """Cross-margin summary in USD and the open positions by coin."""

    account_value: float
    margin_used: float
    withdrawable: float
    positions: dict[str, Position]
    time_ms: int | None = None
    """The venue's clock when it answered (epoch ms; a replaying venue's replay time), if it says."""


def _refused(status: str) -> bool:
    """Whether an orderStatus word records a refusal ("rejected", "minTradeNtlRejected", ...)."""
    return status.lower().endswith("rejected")


def _order_result(cloid: Cloid, answer: dict[str, Any]) -> OrderResult:
    order, status = answer["order"], answer["status"]
    if _refused(status):
        raise error_from_order_status(status, str(cloid))
    filled = float(order["origSz"]) - float(order["sz"])
    return OrderResult(str(cloid), int(order["oid"]), status, filled, None)


class HyperliquidClient:
    """Orders (limit, market, reduce-only TP/SL triggers), cancels, leverage and account state for one
    wallet on one endpoint.

    Args:
        wallet: the signing account (see `exchange.hyperliquid.secrets.load_wallet`); never logged or stored elsewhere.
        settings: endpoint, timeout and retry policy.
        nonces: nonce source; the process-wide one unless a test injects another.
        sleep: how to wait between retries.

    Example:
        client = HyperliquidClient(load_wallet(), ExchangeSettings(endpoint="testnet"))
        client.market_order("BTC", True, 0.001, strategy_id=sid, bar_time=bar_ms)
    """

    def __init__(self, wallet: LocalAccount, settings: ExchangeSettings = ExchangeSettings(), *,
                 nonces: NonceSource = PROCESS_NONCES, sleep: Callable[[float], None] = time.sleep) -> None:
        self._wallet = wallet
        self._settings = settings
        self._nonces = nonces
        self._sleep = sleep
        meta = fetch_meta(settings, sleep=sleep)
        self.info = make_info(settings, meta)
        self._exchange = Exchange(wallet, settings.url, meta=meta, spot_meta=NO_SPOT_META, timeout=settings.timeout_s)
        self.rules = {u["name"]: AssetRules(u["name"], int(u["szDecimals"]), int(u.get("maxLeverage", 1)))
                      for u in meta["universe"]}

    def __repr__(self) -> str:
        return f"HyperliquidClient(address={self.address}, url={self._settings.url})"

    @property
    def settings(self) -> ExchangeSettings:
        """Endpoint, timeout and retry policy of this client."""
        return self._settings

    @property
    def address(self) -> str:
        """The wallet's address."""
        return str(self._wallet.address)

    def _read(self, fn: Callable[[], Any]) -> Any:
        return call_with_retries(fn, self._settings.retry_policy(), sleep=self._sleep)

    def _rules(self, coin: str) -> AssetRules:
        if coin not in self.rules:
            raise ConfigurationError(f"coin={coin!r} is not listed by {self._settings.url}")
        return self.rules[coin]

    # ---- reading -----------------------------------------------------------------------------------

    def mid(self, coin: str) -> float:
        """Current mid price of `coin`."""
        self._rules(coin)
        mids = self._read(lambda: self.info.all_mids())
        if coin not in mids:
            raise VenueUnavailableError(f"no mid price for {coin}")
        return float(mids[coin])

    def user_state(self) -> AccountState:
        """Account value, margin and open positions."""
        state = self._read(lambda: self.info.user_state(self.address))
        positions = {}
        for item in state["assetPositions"]:
            p = item["position"]
            funding = float(p.get("cumFunding", {}).get("allTime", 0.0))
            positions[p["coin"]] = Position(p["coin"], float(p["szi"]), float(p["entryPx"] or 0.0),
                                            float(p["unrealizedPnl"]), int(p["leverage"]["value"]), funding)
        summary = state["marginSummary"]
        return AccountState(float(summary["accountValue"]), float(summary["totalMarginUsed"]),
                            float(state["withdrawable"]), positions,
                            int(state["time"]) if state.get("time") is not None else None)

    def open_orders(self) -> list[dict[str, Any]]:
        """The wallet's resting orders as the venue lists them (frontend shape, with cloid)."""
        return self._read(lambda: self.info.frontend_open_orders(self.address))

    def order_status(self, cloid: Cloid) -> dict[str, Any]:
        """The venue's orderStatus answer for a cloid ({"status": "unknownOid"} when it has none)."""
        return self._read(lambda: self.info.query_order_by_cloid(self.address, cloid))

    # ---- acting ------------------------------------------------------------------------------------

    def _submit(self, action: dict[str, Any]) -> Any:
        """Sign once, send with retries (same bytes each time); the answer, or `_LANDED`."""
        nonce = self._nonces.next()
        expires = None if self._settings.expires_after_s is None else nonce + int(self._settings.expires_after_s * 1000)
        signature = sign_l1_action(self._wallet, action, None, nonce, expires, self._settings.is_mainnet)
        payload = {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": None,
                   "expiresAfter": expires}
        sends = 0

        def send() -> Any:
            nonlocal sends
            sends += 1
            return self._exchange.post("/exchange", payload)

        answer = self._read(send)
        if answer.get("status") == "err":
            message = str(answer.get("response"))
            if sends > 1 and message == Msg.NONCE_DUPLICATE.format(nonce=nonce):
                return _LANDED
            raise error_from_message(message)
        return answer

    def place_order(self, coin: str, is_buy: bool, size: float, limit_px: float, *, strategy_id: str,
                    bar_time: int, tag: str = "", tif: str = "Gtc", reduce_only: bool = False) -> OrderResult:
        """Place a limit order (tif "Gtc", "Ioc" or "Alo") at most once per (strategy_id, bar_time, tag).

        `size` (coin units) and `limit_px` (USD) are rounded to the coin's lot and tick first. If the
        venue already holds a live order with this cloid, that order is returned and nothing is sent.
        """
        px = self._rules(coin).round_price(limit_px)
        return self._place(coin, is_buy, size, px, {"limit": {"tif": tif}}, reduce_only,
                           cloid_for(strategy_id, bar_time, tag))

    def trigger_order(self, coin: str, is_buy: bool, size: float, trigger_px: float, *, tpsl: Tpsl,
                      strategy_id: str, bar_time: int, tag: str = "",
                      slippage: float = TRIGGER_SLIPPAGE) -> OrderResult:
        """A reduce-only stop loss (tpsl "sl") or take profit ("tp") that rests until the price reaches
        `trigger_px`, then executes as a market order no more than `slippage` (fraction) beyond it; at
        most once per (strategy_id, bar_time, tag), like `place_order`.

        `is_buy` is the side that closes the position (True closes a short). The trigger and the
        worst price (its limit) are rounded to the coin's tick, `size` to its lot.

        Example:
            client.trigger_order("BTC", False, 0.01, entry * 0.98, tpsl="sl", strategy_id=sid, bar_time=t, tag="sl")
        """
        if tpsl not in ("sl", "tp"):
            raise ValueError(f"tpsl={tpsl!r}: expected 'sl' (stop loss) or 'tp' (take profit)")
        if not 0 <= slippage < 1:
            raise ValueError(f"slippage={slippage!r}: expected a fraction in [0, 1)")
        rules = self._rules(coin)
        trigger = rules.round_price(trigger_px)
        worst = rules.round_price(trigger * (1 + slippage if is_buy else 1 - slippage))
        order_type = {"trigger": {"triggerPx": trigger, "isMarket": True, "tpsl": tpsl}}
        return self._place(coin, is_buy, size, worst, order_type, True, cloid_for(strategy_id, bar_time, tag))

    def _place(self, coin: str, is_buy: bool, size: float, px: float, order_type: dict[str, Any],
               reduce_only: bool, cloid: Cloid) -> OrderResult:
        """Send one order (price already on the tick) unless its cloid is live; its result."""
        rules = self._rules(coin)
        sz = rules.round_size(size)
        if sz == 0:
            raise InvalidSizeError(f"size={size} rounds to 0 at {rules.sz_decimals} decimals for {coin}")
        known = self.order_status(cloid)
        if known.get("status") == "order" and not _refused(known["order"]["status"]):
            return _order_result(cloid, known["order"])
        request = {"coin": coin, "is_buy": is_buy, "sz": sz, "limit_px": px, "order_type": order_type,
                   "reduce_only": reduce_only, "cloid": cloid}
        action = order_wires_to_order_action([order_request_to_order_wire(request, self.info.name_to_asset(coin))])
        answer = self._submit(action)
        if answer is _LANDED:
            found = self.order_status(cloid)
            if found.get("status") != "order":
                raise VenueUnavailableError(f"order {cloid} was accepted but the venue does not list it")
            return _order_result(cloid, found["order"])
        status = answer["response"]["data"]["statuses"][0]
        if "error" in status:
            raise error_from_message(status["error"])
        if "filled" in status:
            filled = status["filled"]
            return OrderResult(str(cloid), int(filled["oid"]), "filled", float(filled["totalSz"]),
                               float(filled["avgPx"]))
        return OrderResult(str(cloid), int(status["resting"]["oid"]), "resting", 0.0, None)

    def market_order(self, coin: str, is_buy: bool, size: float, *, strategy_id: str, bar_time: int,
                     tag: str = "", slippage: float = 0.05, reduce_only: bool = False) -> OrderResult:
        """An IOC order priced `slippage` (fraction, 0.05 = 5 %) through the mid, like the SDK's market_open."""
        if not 0 <= slippage < 1:
            raise ValueError(f"slippage={slippage!r}: expected a fraction in [0, 1)")
        px = self.mid(coin) * (1 + slippage if is_buy else 1 - slippage)
        return self.place_order(coin, is_buy, size, px, strategy_id=strategy_id, bar_time=bar_time, tag=tag,
                                tif="Ioc", reduce_only=reduce_only)

    def _cancel(self, action: dict[str, Any]) -> None:
        answer = self._submit(action)
        if answer is _LANDED:
            return
        status = answer["response"]["data"]["statuses"][0]
        if isinstance(status, dict) and "error" in status:
            raise error_from_message(status["error"])

    def cancel(self, coin: str, oid: int) -> None:
        """Cancel a resting order by its oid (OrderNotFoundError if it is not open)."""
        self._cancel({"type": "cancel", "cancels": [{"a": self.info.name_to_asset(coin), "o": int(oid)}]})

    def cancel_by_cloid(self, coin: str, cloid: Cloid) -> None:
        """Cancel a resting order by its cloid (OrderNotFoundError if it is not open)."""
        self._cancel({"type": "cancelByCloid",
                      "cancels": [{"asset": self.info.name_to_asset(coin), "cloid": cloid.to_raw()}]})

    def update_leverage(self, coin: str, leverage: int) -> None:
        """Set the coin's cross leverage (1 to its maxLeverage)."""
        if not 1 <= leverage <= self._rules(coin).max_leverage:
            raise ValueError(f"leverage={leverage!r}: {coin} allows 1..{self.rules[coin].max_leverage}")
        self._submit({"type": "updateLeverage", "asset": self.info.name_to_asset(coin), "isCross": True,
                      "leverage": int(leverage)})
