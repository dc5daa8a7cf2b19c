"""The paper book's state on disk: every strategy's cash, position and statistics, written after every bar
so that a crash, a SIGKILL or a reboot never loses or corrupts it.

Files under `<data>/paper/` (see `PaperPaths`):
- `state.json`: {"sha256": ..., "state": {...}}; the digest covers the canonical JSON of "state", so a
  truncated, edited or garbled file is detected instead of trusted;
- `state.prev.json`: the state before the last write (the last good state if `state.json` is damaged).

A write goes: hard-link the current file as `state.prev.json` (link to a temporary name, rename), then
write the new state with `exchange.atomic.write_bytes_atomic` (a temporary file beside `state.json`,
fsync, rename over `state.json`, fsync the folder).
Whenever the process dies, `state.json` is the old state or the new one, whole. A damaged file is never
overwritten: loading it raises `PaperStateError` naming the file, what is wrong and where the previous
good state is.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from exchange.atomic import write_bytes_atomic

__all__ = ["STATE_VERSION", "PaperPaths", "PaperStateError", "StrategyBook", "BookState", "StateStore",
           "file_lock"]

STATE_VERSION = 1


class PaperStateError(ValueError):
    """The paper book's state cannot be used as it is (damaged file, other venue or wallet, lock held)."""


@dataclass(frozen=True)
class PaperPaths:
    """Where the paper trader keeps its files: `root` = <data dir>/paper."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def prev_state(self) -> Path:
        return self.root / "state.prev.json"

    @property
    def registry(self) -> Path:
        return self.root / "registry.sqlite"

    @property
    def performance(self) -> Path:
        return self.root / "performance.parquet"

    @property
    def fills(self) -> Path:
        return self.root / "fills.parquet"

    @property
    def book_lock(self) -> Path:
        """Held while one bar (or one stop) changes the book."""
        return self.root / "book.lock"

    @property
    def runner_lock(self) -> Path:
        """Held by a running `uce paper run` for its whole life (one runner per book)."""
        return self.root / "runner.lock"


@dataclass
class StrategyBook:
    """One strategy's slice of the book. Money in USD, `position` and `desired` in signed coin units,
    `target` the last target acted on (fraction of equity, risk multiplier included; None before the
    first), returns statistics over the bars since the strategy joined (Welford mean / M2)."""

    strategy_id: str
    coin: str
    capital: float
    joined_ms: int
    status: str = "active"
    reason: str = ""
    status_ms: int | None = None
    cash: float = 0.0
    position: float = 0.0
    desired: float = 0.0
    target: float | None = None
    entry_px: float = 0.0
    stopped_out: bool = False
    """True after a stop loss / take profit closed the position: flat until the target changes."""
    equity: float = 0.0
    peak_equity: float = 0.0
    fees: float = 0.0
    funding: float = 0.0
    fills: int = 0
    traded_notional: float = 0.0
    bars: int = 0
    mean_return: float = 0.0
    m2_return: float = 0.0
    negative_sharpe_since: int | None = None
    drawdown_since: int | None = None
    last_return: float = 0.0
    """Return of the last bar processed (0.0 when the strategy did not hold its slice over it)."""
    risk_multiplier: float = 1.0
    risk_reason: str = ""
    recent_returns: list[float] = field(default_factory=list)

    @property
    def pnl(self) -> float:
        """Equity minus the capital the strategy was given."""
        return self.equity - self.capital

    @property
    def drawdown(self) -> float:
        """Fraction below the equity peak."""
        return 1.0 - self.equity / self.peak_equity if self.peak_equity > 0 else 0.0

    def sharpe(self, bars_per_year: float) -> float:
        """Annualised Sharpe ratio of the bar returns since the strategy joined (0 with < 2 bars)."""
        if self.bars < 2 or self.m2_return <= 0:
            return 0.0
        sd = (self.m2_return / (self.bars - 1)) ** 0.5
        return self.mean_return / sd * bars_per_year ** 0.5


@dataclass
class BookState:
    """The whole book: identity (venue endpoint, wallet, book id used in every cloid), the last bar
    processed (open time, epoch ms), the emergency halt, the book's recent equity and every strategy."""

    book_id: str
    endpoint: str
    address: str
    created_ms: int
    version: int = STATE_VERSION
    last_bar_ms: int | None = None
    anchor_ms: dict[str, int] = field(default_factory=dict)
    """Per coin: the first bar of the history the kernels read (module trader.py, "History")."""
    halted: dict[str, Any] | None = None
    """{"reason", "at_ms", "by"} while the book is halted (emergency or `uce paper stop --all`)."""
    equity_history: list[float] = field(default_factory=list)
    peak_equity: float = 0.0
    stop_seq: int = 0
    orders: int = 0
    rejected: int = 0
    reconciliation: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per coin where the venue's position differs from the sum of the strategies': {"venue", "book"}."""
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Ledger rows ("performance", "fills") committed with the state, not yet appended to their Parquet
    files (times as epoch ms); see exchange.paper.ledger."""
    strategies: dict[str, StrategyBook] = field(default_factory=dict)

    @property
    def equity(self) -> float:
        """Book equity: the sum of every strategy's (active, retired and stopped)."""
        return float(sum(s.equity for s in self.strategies.values()))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (shallow: lists and dicts are shared with the state, not copied)."""
        out = _shallow(self)
        out["strategies"] = {k: _shallow(v) for k, v in self.strategies.items()}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BookState:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        data = dict(data)
        data["strategies"] = {k: StrategyBook(**v) for k, v in data.get("strategies", {}).items()}
        return cls(**data)


def _shallow(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


class StateStore:
    """Loads and saves the `BookState` of one paper folder (module docstring)."""

    def __init__(self, paths: PaperPaths) -> None:
        self.paths = paths
        self._last: tuple[tuple[int, int, int], BookState] | None = None

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.paths.state.stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def load_cached(self) -> BookState | None:
        """Like `load`, but returns the very object last saved by this store while the file is still the
        one it wrote (no re-read). The caller owns it: if it changes it without saving, `forget` it."""
        if self._last is not None and self._last[0] == self._stamp():
            return self._last[1]
        state = self.load()
        stamp = self._stamp()
        self._last = None if state is None or stamp is None else (stamp, state)
        return state

    def forget(self) -> None:
        """Drop the cached state (after a change that was not saved)."""
        self._last = None

    def _decode(self, path: Path) -> BookState:
        """The state in `path`; ValueError saying what is wrong with it."""
        raw = path.read_bytes()
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc}; {len(raw)} bytes)") from None
        if not isinstance(doc, dict) or "sha256" not in doc or not isinstance(doc.get("state"), dict):
            raise ValueError("not a paper state document (no sha256 / state)")
        digest = hashlib.sha256(_canonical(doc["state"])).hexdigest()
        if digest != doc["sha256"]:
            raise ValueError("checksum mismatch: the file was changed or damaged after it was written")
        version = doc["state"].get("version")
        if version != STATE_VERSION:
            raise ValueError(f"state version {version!r}; this trader reads version {STATE_VERSION}")
        try:
            return BookState.from_json(doc["state"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"unexpected content: {exc}") from None

    def load(self) -> BookState | None:
        """The saved state, None when there is none yet; PaperStateError when it is damaged."""
        path = self.paths.state
        if not path.exists():
            if self.paths.prev_state.exists():
                raise PaperStateError(f"{path} is missing but {self.paths.prev_state} exists: rename it to "
                                      f"{path.name} to resume from it, or move both aside to start a new book")
            return None
        try:
            return self._decode(path)
        except ValueError as exc:
            raise PaperStateError(f"state file {path} is corrupted: {exc}; it was left untouched. "
                                  f"{self._previous_hint()}") from None

    def _previous_hint(self) -> str:
        prev = self.paths.prev_state
        if not prev.exists():
            return "There is no previous state file; move it aside to start a new book."
        try:
            state = self._decode(prev)
        except ValueError as exc:
            return f"The previous state {prev} is damaged too ({exc})."
        bar = "no bar yet" if state.last_bar_ms is None else f"bar {_iso(state.last_bar_ms)}"
        return (f"The last good state ({bar}) is {prev}: copy it over {self.paths.state.name} to resume from it "
                "(orders of later bars are recognised by their cloids and not sent again).")

    def save(self, state: BookState) -> None:
        """Write `state` atomically, keeping the current file as the previous good state."""
        payload = state.to_json()
        body = _canonical(payload)
        doc = b'{"sha256":"' + hashlib.sha256(body).hexdigest().encode() + b'","state":' + body + b"}"
        current, prev = self.paths.state, self.paths.prev_state
        if current.exists():  # keep the current file as the previous state: a hard link, renamed into place
            link = prev.with_name(f".{prev.name}.link.tmp")
            link.unlink(missing_ok=True)
            os.link(current, link)
            os.replace(link, prev)
        write_bytes_atomic(doc, current)
        stamp = self._stamp()
        self._last = None if stamp is None else (stamp, state)

    def remove_stale_temporaries(self) -> None:
        """Delete temporary files a killed writer left behind (they are never read)."""
        for tmp in self.paths.root.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


@contextmanager
def file_lock(path: Path, *, wait_s: float, what: str) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (created if needed), waiting up to `wait_s` seconds for it.

    The lock dies with its process (SIGKILL included), so a crashed holder never blocks the next one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise PaperStateError(f"{what} is held by another process ({path}); wait for it or stop it")
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)
