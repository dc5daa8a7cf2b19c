"""Signed actions the venue must refuse, each sent over HTTP with the SDK's own signing and transport."""
from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hyperliquid.api import API
from hyperliquid.info import Info
from hyperliquid.utils.error import ClientError
from hyperliquid.utils.signing import order_request_to_order_wire, order_wires_to_order_action, sign_l1_action
from venue_helpers import ALICE, BOB, MALLORY, statuses

from exchange.errors import AuthError, ExpiredError, NonceError, error_from_message
from exchange.venue import Venue, VenueServer

DAY_MS = 86_400_000


def _order_action(size: float = 0.01) -> dict[str, Any]:
    request = {"coin": "BTC", "is_buy": True, "sz": size, "limit_px": 20000.0,
               "order_type": {"limit": {"tif": "Gtc"}}, "reduce_only": False}
    return order_wires_to_order_action([order_request_to_order_wire(request, 0)])


def _payload(wallet: LocalAccount, *, nonce: int | None = None, vault: str | None = None,
             expires_after: int | None = None, mainnet: bool = False) -> dict[str, Any]:
    action = _order_action()
    nonce = int(time.time() * 1000) if nonce is None else nonce
    signature = sign_l1_action(wallet, action, vault, nonce, expires_after, mainnet)
    return {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": vault,
            "expiresAfter": expires_after}


def _forged(api: API) -> dict[str, Any]:
    payload = _payload(ALICE)
    payload["signature"] = {"r": "0x" + "12" * 32, "s": "0x" + "34" * 32, "v": 27}
    return payload


def _tampered(api: API) -> dict[str, Any]:
    payload = _payload(ALICE)
    payload["action"]["orders"][0]["s"] = "5"  # signed for 0.01 BTC
    return payload


def _replayed(api: API) -> dict[str, Any]:
    payload = _payload(ALICE)
    assert "resting" in statuses(api.post("/exchange", copy.deepcopy(payload)))[0]
    return payload


# Each case: how to build the refused payload, the refused class, and the start of the venue's sentence.
CASES: dict[str, tuple[Callable[[API], dict[str, Any]], type, str]] = {
    "forged signature": (_forged, AuthError, "User or API Wallet 0x"),
    "unfunded signer": (lambda api: _payload(MALLORY), AuthError, f"User or API Wallet {MALLORY.address.lower()}"),
    "other account's signature for alice's account": (
        lambda api: _payload(BOB, vault=ALICE.address.lower()), AuthError, "Vault not registered"),
    "tampered action": (_tampered, AuthError, "User or API Wallet 0x"),
    "replayed nonce": (_replayed, NonceError, "Invalid nonce: duplicate nonce"),
    "mainnet-signed action": (lambda api: _payload(ALICE, mainnet=True), AuthError, "User or API Wallet 0x"),
    "nonce older than two days": (lambda api: _payload(ALICE, nonce=int(time.time() * 1000) - 3 * DAY_MS),
                                  NonceError, "Invalid nonce: nonce too low"),
    "nonce over a day ahead": (lambda api: _payload(ALICE, nonce=int(time.time() * 1000) + 2 * DAY_MS),
                               NonceError, "Invalid nonce: nonce too high"),
    "expired action": (lambda api: _payload(ALICE, expires_after=int(time.time() * 1000) - 1_000),
                       ExpiredError, "Action expired"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_actions_change_nothing(venue: Venue, server: VenueServer, info: Info, case: str) -> None:
    build, error_class, sentence = CASES[case]
    api = API(server.url, timeout=5)
    payload = build(api)
    orders_before = info.open_orders(ALICE.address)
    refusals_before = sum(venue.exchange.refusals.values())

    answer = api.post("/exchange", payload)

    assert answer["status"] == "err" and answer["response"].startswith(sentence), answer
    assert isinstance(error_from_message(answer["response"]), error_class)
    assert info.open_orders(ALICE.address) == orders_before
    assert info.open_orders(BOB.address) == [] and info.user_fills(ALICE.address) == []
    assert sum(venue.exchange.refusals.values()) == refusals_before + 1


def test_every_attack_is_refused_and_counted(venue: Venue, server: VenueServer) -> None:
    api = API(server.url, timeout=5)
    refused = [case for case, (build, _, _) in CASES.items() if api.post("/exchange", build(api))["status"] == "err"]
    assert refused == list(CASES)
    assert venue.exchange.refusals == {"signer": 4, "vault": 1, "nonce": 3, "expired": 1}
    assert sum(venue.exchange.refusals.values()) == len(CASES) == 9


def test_a_genuine_action_is_accepted(server: VenueServer) -> None:
    answer = API(server.url, timeout=5).post("/exchange", _payload(ALICE))
    assert "resting" in statuses(answer)[0]


def test_unreadable_body_is_a_422_the_sdk_reports(server: VenueServer) -> None:
    with pytest.raises(ClientError) as raised:
        API(server.url, timeout=5).post("/exchange", {"action": {"type": "order", "orders": "all"}})
    assert raised.value.status_code == 422
