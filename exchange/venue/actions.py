"""Answers to `/exchange` requests: read the body, check signer, vault, expiry and nonce, then act.

Order of checks, as on Hyperliquid: a body that cannot be deserialised is a 422; then the signer is
recovered from the action exactly as received; an address without an account is refused; then the nonce.
A refused action changes nothing and does not use its nonce; an accepted one uses its nonce even when
every order in it is refused.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from exchange.errors import Msg
from exchange.venue.auth import NonceBook, recover_signer
from exchange.venue.engine import Engine
from exchange.venue.ledger import Account
from exchange.venue.wire import UnsupportedRequest

__all__ = ["ExchangeApi"]

_TIFS = ("Alo", "Ioc", "Gtc")


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise UnsupportedRequest(what)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_order_wire(w: Any) -> None:
    _need(isinstance(w, dict) and _is_int(w.get("a")) and isinstance(w.get("b"), bool)
          and isinstance(w.get("p"), str) and isinstance(w.get("s"), str) and isinstance(w.get("r"), bool)
          and isinstance(w.get("t"), dict) and len(w["t"]) == 1, f"bad order wire {w!r}")
    kind = w["t"]
    if "limit" in kind:
        _need(isinstance(kind["limit"], dict) and kind["limit"].get("tif") in _TIFS, f"bad tif in {w!r}")
    else:
        trig = kind.get("trigger")
        _need(isinstance(trig, dict) and isinstance(trig.get("isMarket"), bool)
              and isinstance(trig.get("triggerPx"), str) and trig.get("tpsl") in ("tp", "sl"), f"bad trigger {w!r}")
    cloid = w.get("c")
    _need(cloid is None or (isinstance(cloid, str) and cloid.startswith("0x") and len(cloid) == 34),
          f"bad cloid {cloid!r}")


def _check_action(action: Any) -> None:
    _need(isinstance(action, dict), "action is not an object")
    kind = action.get("type")
    if kind == "order":
        orders = action.get("orders")
        _need(isinstance(orders, list) and len(orders) > 0, "order action without orders")
        for w in orders:
            _check_order_wire(w)
    elif kind == "cancel":
        cancels = action.get("cancels")
        _need(isinstance(cancels, list) and len(cancels) > 0
              and all(isinstance(c, dict) and _is_int(c.get("a")) and _is_int(c.get("o")) for c in cancels),
              "bad cancels")
    elif kind == "cancelByCloid":
        cancels = action.get("cancels")
        _need(isinstance(cancels, list) and len(cancels) > 0
              and all(isinstance(c, dict) and _is_int(c.get("asset")) and isinstance(c.get("cloid"), str)
                      for c in cancels), "bad cancels")
    elif kind == "updateLeverage":
        _need(_is_int(action.get("asset")) and isinstance(action.get("isCross"), bool)
              and _is_int(action.get("leverage")), "bad updateLeverage")
    else:
        raise UnsupportedRequest(f"unsupported action type {kind!r}")


def _err(message: str) -> dict[str, str]:
    return {"status": "err", "response": message}


class ExchangeApi:
    """Authenticates and executes signed actions against the engine.

    `refusals` counts refused actions by reason (signer, vault, expired, nonce) for reports and tests.
    """

    def __init__(self, engine: Engine, *, nonces: NonceBook | None = None,
                 wall_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.engine = engine
        self.nonces = nonces or NonceBook()
        self.wall_ms = wall_ms
        self.refusals: Counter[str] = Counter()

    def answer(self, body: Any) -> dict[str, Any]:
        """The JSON answer to one `/exchange` body; raises UnsupportedRequest when it cannot be read."""
        _need(isinstance(body, dict), "body is not an object")
        action, nonce, sig = body.get("action"), body.get("nonce"), body.get("signature")
        vault, expires = body.get("vaultAddress"), body.get("expiresAfter")
        _check_action(action)
        _need(_is_int(nonce) and nonce >= 0, "bad nonce")
        _need(isinstance(sig, dict) and isinstance(sig.get("r"), str) and isinstance(sig.get("s"), str)
              and _is_int(sig.get("v")), "bad signature")
        _need(vault is None or (isinstance(vault, str) and len(vault) == 42), "bad vaultAddress")
        _need(expires is None or (_is_int(expires) and expires >= 0), "bad expiresAfter")
        signer = recover_signer(action, sig, nonce, vault, expires)
        account = self.engine.accounts.get(signer) if signer else None
        now = self.wall_ms()
        refusal = None
        if signer is None:
            refusal = "signer", Msg.UNRECOVERABLE
        elif account is None:
            refusal = "signer", Msg.UNKNOWN_SIGNER.format(address=signer)
        elif vault is not None:
            refusal = "vault", Msg.VAULT.format(address=vault.lower())
        elif expires is not None and expires < now:
            refusal = "expired", Msg.EXPIRED.format(expires_after=expires, now=now)
        elif (nonce_refusal := self.nonces.refusal(signer, nonce, now)) is not None:
            refusal = "nonce", nonce_refusal
        if refusal is not None:
            self.refusals[refusal[0]] += 1
            return _err(refusal[1])
        self.nonces.use(signer, nonce)
        return self._execute(account, action)

    def _execute(self, account: Account, action: dict[str, Any]) -> dict[str, Any]:
        engine, kind = self.engine, action["type"]
        if kind == "order":
            statuses = [engine.place(account, w) for w in action["orders"]]
            return {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}
        if kind == "updateLeverage":
            error = engine.update_leverage(account, action["asset"], action["isCross"], action["leverage"])
            return _err(error) if error else {"status": "ok", "response": {"type": "default"}}
        if kind == "cancel":
            statuses = [engine.cancel(account, c["a"], engine.orders.by_oid(account.address, c["o"]))
                        for c in action["cancels"]]
        else:
            statuses = [engine.cancel(account, c["asset"], engine.orders.by_cloid(account.address, c["cloid"]))
                        for c in action["cancels"]]
        return {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}}
