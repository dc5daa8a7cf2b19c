"""Driving the loopback venue's replay clock from the paper trader: replay history as fast as it trades."""
from __future__ import annotations

from collections.abc import Callable

import requests

from exchange.errors import ConfigurationError, TransportError
from exchange.paper.feed import BAR_MS

__all__ = ["loopback_advance"]


def loopback_advance(url: str, *, timeout_s: float = 10.0) -> Callable[[], bool]:
    """A callable that moves the loopback venue at `url` one bar forward (POST /admin/step) and says
    whether its clock moved (False once the replay reached the end of its data).

    Only the loopback venue (`uce venue`) has /admin endpoints; anything else raises ConfigurationError.
    """
    base = url.rstrip("/")
    session = requests.Session()
    session.trust_env = False  # a local venue: no proxies to look up

    def post(path: str, body: dict) -> dict:
        try:
            answer = session.post(base + path, json=body, timeout=timeout_s)
        except requests.RequestException as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
        if answer.status_code != 200:
            raise ConfigurationError(f"{base} has no {path} (HTTP {answer.status_code}): --advance needs the "
                                     "loopback venue (`uce venue`)")
        return answer.json()

    last: list[int] = []

    def advance() -> bool:
        if not last:
            last.append(int(post("/admin/clock", {})["now"]))
        now = int(post("/admin/step", {"ms": BAR_MS})["now"])
        moved, last[0] = now > last[0], now
        return moved

    return advance
