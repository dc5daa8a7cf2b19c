"""What the venue must refuse: signed actions, sent with the SDK's own signing and transport, and malformed
HTTP requests, sent as raw bytes, each answered with a 4xx the SDK can read while the venue keeps serving."""
from __future__ import annotations

import copy
import http.client
import json
import logging
import socket
import struct
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from eth_account.signers.local import LocalAccount
from hyperliquid.api import API
from hyperliquid.info import Info
from hyperliquid.utils.error import ClientError
from hyperliquid.utils.signing import order_request_to_order_wire, order_wires_to_order_action, sign_l1_action
from venue_helpers import ALICE, BOB, MALLORY, statuses

from exchange.errors import AuthError, ExpiredError, Msg, NonceError, error_from_message
from exchange.venue import Venue, VenueServer
from exchange.venue import server as venue_server
from exchange.venue.server import MAX_BODY_BYTES, MAX_JSON_DEPTH

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



# ---- malformed HTTP requests -----------------------------------------------------------------------


class _Answer(NamedTuple):
    status: int
    content_type: str | None
    body: bytes


def _request(path: str, body: bytes = b"", *, length: str | None = "auto", extra: str = "") -> bytes:
    """A raw POST; `length` is the Content-Length header's value ("auto": the body's, None: no header)."""
    header = "" if length is None else f"Content-Length: {len(body) if length == 'auto' else length}\r\n"
    return f"POST {path} HTTP/1.1\r\nHost: venue\r\n{header}{extra}\r\n".encode() + body


def _send_raw(server: VenueServer, request: bytes, *, hang_up: bool = False) -> _Answer:
    """Send `request` byte for byte on a fresh connection and read the answer (`hang_up`: stop sending first)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        if hang_up:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return _Answer(response.status, response.getheader("Content-Type"), response.read())


def _deep(levels: int) -> bytes:
    """A meta request carrying arrays and objects nested `levels` deep in all."""
    return b'{"type":"meta","x":' + b"[" * (levels - 1) + b"]" * (levels - 1) + b"}"


def _assert_still_serving(server: VenueServer) -> None:
    assert API(server.url, timeout=5).post("/info", {"type": "meta"})["universe"][0]["name"] == "BTC"


# Each case: the raw request, whether the client stops sending after it, the status and the start of "msg".
MALFORMED: dict[str, tuple[bytes, bool, int, str]] = {
    "array nested 100,000 deep": (_request("/info", b"[" * 100_000), False, 400, "JSON nested deeper than"),
    "nesting one level past the limit": (_request("/info", _deep(MAX_JSON_DEPTH + 1)), False, 400,
                                         "JSON nested deeper than"),
    "non-numeric Content-Length": (_request("/info", b"{}", length="abc"), True, 400, "Content-Length 'abc'"),
    "negative Content-Length": (_request("/info", b"{}", length="-5"), True, 400, "Content-Length '-5'"),
    "two different Content-Lengths": (_request("/info", b"{}", extra="Content-Length: 3\r\n"), True, 400,
                                      "Content-Length '2, 3'"),
    "no Content-Length": (_request("/info", length=None), False, 400, "empty body"),
    "chunked body": (_request("/info", b"2\r\n{}\r\n0\r\n\r\n", length=None,
                              extra="Transfer-Encoding: chunked\r\n"), True, 411, "Transfer-Encoding"),
    "declared 100 GB body, none sent": (_request("/info", length=str(100 * 10**9)), False, 413,
                                        f"Content-Length 100000000000 is over the {MAX_BODY_BYTES}-byte limit"),
    "body shorter than Content-Length, then hang-up": (_request("/info", b"{}", length="100"), True, 400,
                                                       "body ended after 2 of its 100 bytes"),
    "not JSON": (_request("/info", b"{nope"), False, 400, "body is not JSON"),
    "NaN": (_request("/admin/fund", b'{"user": "0xab", "usdc": NaN}'), False, 400, "body is not JSON: NaN"),
    "not UTF-8": (_request("/info", b'{"type": "\xff"}'), False, 400, "body is not UTF-8"),
    "admin body not an object": (_request("/admin/step", b"[1]"), False, 400, "admin body must be a JSON object"),
    "header line over 64 KiB": (_request("/info", b"{}", extra=f"X-Pad: {'a' * 70_000}\r\n"), True, 431,
                                "Line too long"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_request_is_a_4xx_json_error(server: VenueServer, case: str, capfd: pytest.CaptureFixture[str],
                                               caplog: pytest.LogCaptureFixture) -> None:
    request, hang_up, status, message = MALFORMED[case]
    caplog.set_level(logging.DEBUG, logger=venue_server.__name__)

    answer = _send_raw(server, request, hang_up=hang_up)

    assert (answer.status, answer.content_type) == (status, "application/json"), answer
    error = json.loads(answer.body)
    assert set(error) == {"code", "msg"} and error["code"] == status and error["msg"].startswith(message), error
    assert [r.levelno for r in caplog.records if f"answered {status}" in r.getMessage()] == [logging.DEBUG]
    _assert_still_serving(server)
    assert capfd.readouterr().err == ""


def test_info_type_that_is_not_a_string_is_the_422(server: VenueServer, capfd: pytest.CaptureFixture[str]) -> None:
    answer = _send_raw(server, _request("/info", b'{"type": []}'))
    assert (answer.status, answer.body) == (422, Msg.DESERIALIZE.encode())
    _assert_still_serving(server)
    assert capfd.readouterr().err == ""


def test_an_oversized_body_is_refused_before_100_continue(server: VenueServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(_request("/info", length=str(10 * MAX_BODY_BYTES), extra="Expect: 100-continue\r\n"))
        assert sock.recv(4096).startswith(b"HTTP/1.1 413 ")  # not "100 Continue": the body is never asked for
    _assert_still_serving(server)


def test_a_refused_body_leaves_the_connection_usable(server: VenueServer) -> None:
    """A body read in full (unreadable JSON) keeps the connection alive: the next request on it is answered."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("POST", "/info", body=b"{nope", headers={"Content-Type": "application/json"})
        refused = connection.getresponse()
        assert (refused.status, json.loads(refused.read())["code"]) == (400, 400)
        connection.request("POST", "/info", body=b'{"type": "meta"}', headers={"Content-Type": "application/json"})
        assert json.loads(connection.getresponse().read())["universe"]
    finally:
        connection.close()


def test_a_stalled_body_is_answered_408(server: VenueServer, monkeypatch: pytest.MonkeyPatch,
                                        capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(venue_server, "BODY_TIMEOUT_S", 0.2)
    started = time.monotonic()
    answer = _send_raw(server, _request("/info", b"{}", length="100"))  # 98 bytes never come; no hang-up
    assert time.monotonic() - started < 3
    assert answer.status == 408 and json.loads(answer.body)["msg"].startswith("body stalled"), answer
    _assert_still_serving(server)
    assert capfd.readouterr().err == ""


def test_a_client_resetting_mid_request_is_not_a_traceback(server: VenueServer,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    for partial in (b"POST /info HTTP/1.1\r\nHost: venue\r\nContent-Le", _request("/info", b"{", length="100")):
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.sendall(partial)
        time.sleep(0.1)  # let the handler block reading the rest
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
        sock.close()
    time.sleep(0.1)
    _assert_still_serving(server)
    assert capfd.readouterr().err == ""


SDK_REFUSALS: dict[str, tuple[dict[str, Any], int, str]] = {
    "body over the limit": ({"type": "meta", "pad": "x" * MAX_BODY_BYTES}, 413, "Content-Length "),
    "JSON nested too deep": (json.loads(_deep(MAX_JSON_DEPTH + 1)), 400,
                             f"JSON nested deeper than {MAX_JSON_DEPTH} levels"),
}


@pytest.mark.parametrize("case", list(SDK_REFUSALS))
def test_the_sdk_reads_a_refusal_as_client_error(server: VenueServer, case: str) -> None:
    payload, status, message = SDK_REFUSALS[case]
    with pytest.raises(ClientError) as raised:
        API(server.url, timeout=5).post("/info", payload)
    error = raised.value
    assert (error.status_code, error.error_code) == (status, status)
    assert error.error_message.startswith(message), error.error_message
    _assert_still_serving(server)
