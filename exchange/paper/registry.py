"""The registry of deployed strategies: one SQLite table (standard library), keyed by strategy id.

The deploy stage registers strategies (registering an id that is already there changes nothing, so
deploying twice deploys nothing new); the paper trader reads the active ones and records retirements
and stops. Each call opens its own connection, so the deploy stage, the trader and `uce paper stop`
may use the registry from different processes.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from kernels.evaluate import Market, positions
from kernels.families import FAMILY_NAMES
from kernels.genome import N_GENES, decode_risk_nb

__all__ = ["RegistryError", "StrategySpec", "Registry", "STATUSES"]

STATUSES = ("active", "retired", "stopped")
"""active: trading; retired: a rule ended it; stopped: the operator's kill switch ended it."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS strategies (
    strategy_id   TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL,
    coin          TEXT NOT NULL,
    interval      TEXT NOT NULL,
    family        TEXT NOT NULL,
    genes         TEXT NOT NULL,
    family_b      TEXT,
    genes_b       TEXT,
    capital       REAL NOT NULL,
    allocation    REAL NOT NULL,
    reason        TEXT NOT NULL,
    lineage       TEXT NOT NULL,
    deployed_at   INTEGER NOT NULL,
    status        TEXT NOT NULL DEFAULT 'active',
    status_reason TEXT NOT NULL DEFAULT '',
    status_at     INTEGER
)"""
_COLUMNS = ("strategy_id", "run_id", "coin", "interval", "family", "genes", "family_b", "genes_b", "capital",
            "allocation", "reason", "lineage", "deployed_at", "status", "status_reason", "status_at")


class RegistryError(ValueError):
    """The registry file cannot be read or written (corrupted, not a database, locked too long)."""


class StrategySpec(NamedTuple):
    """A deployed strategy: what it trades, how much capital (USD) it was given, why, and its lineage.

    family / family_b are names of kernels.families.FAMILY_NAMES; family_b is None unless an ensemble
    (target = mean of both members' targets; stops from member a's genes).
    """

    strategy_id: str
    run_id: str
    coin: str
    family: str
    genes: tuple[float, ...]
    capital: float
    allocation: float
    reason: str
    interval: str = "1h"
    family_b: str | None = None
    genes_b: tuple[float, ...] | None = None
    lineage: dict[str, Any] = {}
    deployed_at: int = 0
    status: str = "active"
    status_reason: str = ""
    status_at: int | None = None

    def validate(self) -> StrategySpec:
        """Raise ValueError naming the field when the spec cannot be traded."""
        for name, family, genes in (("family", self.family, self.genes), ("family_b", self.family_b, self.genes_b)):
            if family is None and name == "family_b":
                continue
            if family not in FAMILY_NAMES:
                raise ValueError(f"{self.strategy_id}: {name}={family!r} is not a known family")
            if genes is None or len(genes) != N_GENES or not all(0.0 <= g <= 1.0 for g in genes):
                raise ValueError(f"{self.strategy_id}: genes of {name} must be {N_GENES} numbers in [0, 1]")
        if not self.capital > 0:
            raise ValueError(f"{self.strategy_id}: capital={self.capital!r} must be > 0 USD")
        if self.interval != "1h":
            raise ValueError(f"{self.strategy_id}: interval={self.interval!r}; the paper trader trades 1h bars")
        if self.status not in STATUSES:
            raise ValueError(f"{self.strategy_id}: status={self.status!r}; expected one of {STATUSES}")
        return self

    def target(self, market: Market) -> float:
        """Target position (fraction of equity) at the last bar of `market`, from its bars only."""
        member_b = {} if self.family_b is None else {"family_b": FAMILY_NAMES.index(self.family_b),
                                                      "genes_b": np.asarray(self.genes_b)}
        return float(positions(market, FAMILY_NAMES.index(self.family), np.asarray(self.genes), **member_b)[-1])

    def stops(self) -> tuple[float, float]:
        """(stop_loss, take_profit) as fractions of the entry price, 0.0 = off (member a's genes)."""
        _, stop_loss, take_profit, _ = decode_risk_nb(np.asarray(self.genes, dtype=np.float64))
        return float(stop_loss), float(take_profit)


def _row(spec: StrategySpec) -> tuple:
    return (spec.strategy_id, spec.run_id, spec.coin, spec.interval, spec.family, json.dumps(list(spec.genes)),
            spec.family_b, None if spec.genes_b is None else json.dumps(list(spec.genes_b)), float(spec.capital),
            float(spec.allocation), spec.reason, json.dumps(spec.lineage, sort_keys=True, default=str),
            int(spec.deployed_at), spec.status, spec.status_reason, spec.status_at)


def _spec(row: sqlite3.Row) -> StrategySpec:
    d = dict(zip(_COLUMNS, row))
    d["genes"] = tuple(json.loads(d["genes"]))
    d["genes_b"] = None if d["genes_b"] is None else tuple(json.loads(d["genes_b"]))
    d["lineage"] = json.loads(d["lineage"])
    return StrategySpec(**d)


class Registry:
    """Deployed strategies in `path` (created on first use).

    Example:
        registry = Registry(data_dir / "paper" / "registry.sqlite")
        new = registry.register([spec])   # [True] the first time, [False] ever after
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._cache: tuple[tuple[int, int, int], list[StrategySpec]] | None = None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as exc:
            raise RegistryError(f"registry {self.path} cannot be opened: {exc}") from None
        try:
            with con:
                con.execute(_SCHEMA)
                yield con
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"registry {self.path} is unreadable ({exc}); restore it from a backup or "
                                "move it aside to start an empty one") from None
        finally:
            con.close()

    def register(self, specs: Iterable[StrategySpec]) -> list[bool]:
        """Add strategies that are not registered yet (in one transaction); True for each one added."""
        added = []
        with self._connect() as con:
            for spec in specs:
                spec.validate()
                cur = con.execute(f"INSERT OR IGNORE INTO strategies ({', '.join(_COLUMNS)}) "
                                  f"VALUES ({', '.join('?' * len(_COLUMNS))})", _row(spec))
                added.append(cur.rowcount == 1)
        return added

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def all(self) -> list[StrategySpec]:
        """Every registered strategy, oldest deployment first (re-read only when the file changed)."""
        stamp = self._stamp()
        if stamp is not None and self._cache is not None and self._cache[0] == stamp:
            return list(self._cache[1])
        with self._connect() as con:
            rows = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM strategies ORDER BY deployed_at, strategy_id")
            specs = [_spec(r) for r in rows.fetchall()]
        stamp = self._stamp()
        self._cache = None if stamp is None else (stamp, specs)
        return list(specs)

    def active(self) -> list[StrategySpec]:
        """Strategies still trading, oldest deployment first."""
        return [s for s in self.all() if s.status == "active"]

    def get(self, strategy_id: str) -> StrategySpec | None:
        """One strategy by id, or None."""
        with self._connect() as con:
            row = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM strategies WHERE strategy_id = ?",
                              (strategy_id,)).fetchone()
        return None if row is None else _spec(row)

    def set_status(self, strategy_id: str, status: str, reason: str, at_ms: int) -> None:
        """Record a retirement or a stop (or a return to active); unknown ids raise RegistryError."""
        if status not in STATUSES:
            raise ValueError(f"status={status!r}; expected one of {STATUSES}")
        with self._connect() as con:
            cur = con.execute("UPDATE strategies SET status = ?, status_reason = ?, status_at = ? "
                              "WHERE strategy_id = ?", (status, reason, int(at_ms), strategy_id))
            if cur.rowcount == 0:
                raise RegistryError(f"strategy {strategy_id!r} is not in the registry {self.path}")
