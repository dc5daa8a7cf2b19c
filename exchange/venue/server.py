"""The venue's HTTP face on 127.0.0.1: POST /info, /exchange and /admin/*, with injected faults.

A request the venue cannot read is answered, never dropped: with a 4xx and the JSON body
`{"code": <status>, "msg": "<what is wrong>"}`, the shape the SDK's `API._handle_exception` turns into
`ClientError(status, code, msg, headers, data)` (the venue's other JSON errors, 404 and 429, share it).

    400  Content-Length not one non-negative integer; body shorter than it; body empty, not UTF-8,
         not JSON (NaN and Infinity included) or nested deeper than MAX_JSON_DEPTH; admin body not an object
    408  the body stalled: no byte for BODY_TIMEOUT_S seconds
    411  Transfer-Encoding (chunked bodies are not accepted: send Content-Length)
    413  Content-Length over MAX_BODY_BYTES, answered before any of the body is read
    422  JSON the venue cannot deserialise into a request: Hyperliquid's own plain-text sentence

http.server's own refusals (414 request line or 431 header too long, 501 unknown method) share the JSON shape.
A POST without Content-Length has no body (RFC 9112 section 6.3): the admin endpoints read it as `{}`,
/info and /exchange answer 400. Refusals are logged at DEBUG on this module's logger, one line each.
"""
from __future__ import annotations

import json
import logging
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn

from exchange.errors import Msg
from exchange.venue.venue import Venue
from exchange.venue.wire import UnsupportedRequest

__all__ = ["VenueServer", "MAX_BODY_BYTES", "MAX_JSON_DEPTH", "BODY_TIMEOUT_S"]

MAX_BODY_BYTES = 1 << 20
"""Largest request body accepted (1 MiB; a signed batch of 100 trigger orders is about 14 KiB)."""

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a body (signed orders nest 6 deep)."""

BODY_TIMEOUT_S = 10.0
"""A declared body that sends no byte for this long is answered 408 and its connection closed."""

_HOST = "127.0.0.1"
_IDLE_TIMEOUT_S = 120
_LENGTH_DIGITS = re.compile(r"[0-9]+")
# More digits than this cannot be a length under MAX_BODY_BYTES; checked before int() parses them.
_MAX_LENGTH_DIGITS = len(str(MAX_BODY_BYTES))

_log = logging.getLogger(__name__)


class _Refused(Exception):
    """A request answered with a 4xx JSON error; `close` when its body was not (wholly) read."""

    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close


def _declared_length(headers: Any) -> int:
    """The body length the headers declare (0 without Content-Length); raises _Refused when unusable."""
    if "Transfer-Encoding" in headers:
        raise _Refused(411, "Transfer-Encoding is not accepted: send the body with a Content-Length", close=True)
    values = [v.strip() for v in headers.get_all("Content-Length") or []]
    if not values:
        return 0
    if len(set(values)) > 1 or not _LENGTH_DIGITS.fullmatch(values[0]):
        shown = _shorten(", ".join(values))
        raise _Refused(400, f"Content-Length {shown!r}: expected one non-negative integer", close=True)
    if len(values[0].lstrip("0")) > _MAX_LENGTH_DIGITS or int(values[0]) > MAX_BODY_BYTES:
        raise _Refused(413, f"Content-Length {_shorten(values[0])} is over the {MAX_BODY_BYTES}-byte limit",
                       close=True)
    return int(values[0])


def _shorten(text: str, limit: int = 24) -> str:
    """A header value short enough to quote in an answer (they may be 64 KiB long)."""
    return text if len(text) <= limit else text[:limit] + "..."


def _reject_constant(name: str) -> NoReturn:
    """Python's json reads NaN and Infinity, which are not JSON and would reach balances as nan."""
    raise ValueError(f"{name} is not JSON")


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in `value` nest more than `limit` deep; a loop, so no depth can overflow it."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _parse_json(raw: bytes) -> Any:
    """The body as JSON; raises _Refused(400) unless it is UTF-8 JSON nested at most MAX_JSON_DEPTH deep."""
    if not raw:
        raise _Refused(400, "empty body: POST a JSON object with its Content-Length")
    too_deep = _Refused(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise _Refused(400, f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:
        raise _Refused(400, f"body is not JSON: {exc}") from None
    if _nests_deeper_than(value, MAX_JSON_DEPTH):
        raise too_deep
    return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT_S
    venue: Venue

    def setup(self) -> None:
        """Send each answer at once: without TCP_NODELAY, headers and body written apart wait on delayed ACKs."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Stay quiet: a venue under test answers thousands of requests."""

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        try:
            self.end_headers()
            self.wfile.write(body)
        except OSError as exc:  # the client left; nothing to answer, and nothing worth a traceback
            _log.debug("venue: answer to %s %s not delivered: %r", self.command, getattr(self, "path", ""), exc)
            self.close_connection = True

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, separators=(",", ":")).encode())

    def _send_error(self, status: int, message: str, *, close: bool = False) -> None:
        """The one JSON error answer; `close` ends the connection (the body was not wholly read)."""
        _log.debug("venue: %s %s answered %d: %s", self.command, getattr(self, "path", ""), status, message)
        if close:
            self.close_connection = True
        self._send_json(status, {"code": status, "msg": message})

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (request line or headers too long, unknown method) in the same JSON."""
        self._send_error(code, message or self.responses.get(code, ("error",))[0], close=True)

    def handle_expect_100(self) -> bool:
        """Refuse an unacceptable body before a client that asked `Expect: 100-continue` sends it."""
        try:
            _declared_length(self.headers)
        except _Refused as refused:
            self._send_error(refused.status, refused.message, close=True)
            return False
        return super().handle_expect_100()

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read_body(self) -> bytes:
        """The whole declared body, read only once its length is known to be acceptable."""
        length = _declared_length(self.headers)
        self.connection.settimeout(BODY_TIMEOUT_S)
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            raise _Refused(408, f"body stalled: no byte for {BODY_TIMEOUT_S:g} s", close=True) from None
        except OSError as exc:  # the client reset the connection; the answer will most likely not arrive
            raise _Refused(400, f"body could not be read: {exc.strerror or exc!r}", close=True) from None
        finally:
            self.connection.settimeout(self.timeout)
        if len(raw) < length:
            raise _Refused(400, f"body ended after {len(raw)} of its {length} bytes (Content-Length)", close=True)
        return raw

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        """Route one POST; faults apply to /info and /exchange only."""
        try:
            raw = self._read_body()
            if self.path.startswith("/admin/"):
                self._answer_admin(raw)
            elif self.path in ("/info", "/exchange"):
                self._answer_api(raw)
            else:
                raise _Refused(404, f"no endpoint {self.path}")
        except _Refused as refused:
            self._send_error(refused.status, refused.message, close=refused.close)

    def _answer_admin(self, raw: bytes) -> None:
        body = _parse_json(raw) if raw else {}
        if not isinstance(body, dict):
            raise _Refused(400, "admin body must be a JSON object")
        try:
            answer = self.venue.admin(self.path, body)
        except (UnsupportedRequest, ValueError, KeyError, TypeError) as exc:
            raise _Refused(400, str(exc)) from None
        self._send_json(200, answer)

    def _answer_api(self, raw: bytes) -> None:
        faults = self.venue.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000.0)
        fault = faults.draw()
        if fault == "server_error":
            self._send(500, b"Internal Server Error", "text/plain")
            return
        if fault == "rate_limited":
            raise _Refused(429, "Too many requests")
        if fault == "drop_before":
            self._drop()
            return
        body = _parse_json(raw)
        try:
            answer = self.venue.handle(self.path, body)
        except (UnsupportedRequest, ValueError):
            self._send(422, Msg.DESERIALIZE.encode(), "text/plain")
            return
        if fault == "drop_after":
            self._drop()
            return
        self._send_json(200, answer)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: tuple[str, int]) -> None:
        """A client that hangs up mid-request is routine: one debug line instead of socketserver's printed
        traceback. Anything else is a venue bug, logged with its traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            _log.debug("venue: client %s:%d hung up: %r", *client_address, exc)
        else:
            _log.error("venue: request from %s:%d failed", *client_address, exc_info=True)


class VenueServer:
    """Serves a `Venue` over HTTP on 127.0.0.1 (`port=0` picks a free port).

    Example:
        with VenueServer(venue) as server:
            Info(server.url, skip_ws=True, timeout=5).all_mids()
    """

    def __init__(self, venue: Venue, port: int = 0) -> None:
        handler = type("VenueHandler", (_Handler,), {"venue": venue})
        self._httpd = _HttpServer((_HOST, port), handler)
        self._thread: threading.Thread | None = None
        self.venue = venue
        self.url = f"http://{_HOST}:{self._httpd.server_address[1]}"

    def start(self) -> VenueServer:
        """Serve from a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="venue-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> VenueServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
