"""The venue's HTTP face on 127.0.0.1: POST /info, /exchange and /admin/*, with injected faults."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exchange.errors import Msg
from exchange.venue.venue import Venue
from exchange.venue.wire import UnsupportedRequest

__all__ = ["VenueServer"]

_HOST = "127.0.0.1"
_IDLE_TIMEOUT_S = 120


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
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, separators=(",", ":")).encode())

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        """Route one POST; faults apply to /info and /exchange only."""
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/admin/"):
            try:
                self._send_json(200, self.venue.admin(self.path, json.loads(raw or b"{}")))
            except (UnsupportedRequest, ValueError, KeyError, TypeError) as exc:
                self._send_json(400, {"code": 400, "msg": str(exc)})
            return
        if self.path not in ("/info", "/exchange"):
            self._send_json(404, {"code": 404, "msg": f"no endpoint {self.path}"})
            return
        faults = self.venue.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000.0)
        fault = faults.draw()
        if fault == "server_error":
            self._send(500, b"Internal Server Error", "text/plain")
            return
        if fault == "rate_limited":
            self._send_json(429, {"code": 429, "msg": "Too many requests"})
            return
        if fault == "drop_before":
            self._drop()
            return
        try:
            answer = self.venue.handle(self.path, json.loads(raw))
        except (UnsupportedRequest, ValueError):
            self._send(422, Msg.DESERIALIZE.encode(), "text/plain")
            return
        if fault == "drop_after":
            self._drop()
            return
        self._send_json(200, answer)


class VenueServer:
    """Serves a `Venue` over HTTP on 127.0.0.1 (`port=0` picks a free port).

    Example:
        with VenueServer(venue) as server:
            Info(server.url, skip_ws=True, timeout=5).all_mids()
    """

    def __init__(self, venue: Venue, port: int = 0) -> None:
        handler = type("VenueHandler", (_Handler,), {"venue": venue})
        self._httpd = ThreadingHTTPServer((_HOST, port), handler)
        self._httpd.daemon_threads = True
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
