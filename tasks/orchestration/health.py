"""Health of everything a run needs: the Prefect API, Ray, the venue / exchange, the market store's
freshness, disk and memory — each scored 0-100, with an overall score and level. Freshness is judged only
for the series fed by fetching (`uce data fetch`, the nightly refresh); a store of imported history is
reported as such, at full score.

    component state: healthy (score >= 75), degraded (>= 25), critical (< 25)
    overall score:   mean of the components checked (a component not configured is not scored)
    overall level:   excellent >= 90, good >= 75, degraded >= 50, poor >= 25, else critical;
                     any critical component makes the level critical

A component's circuit breaker (tasks.orchestration.breakers) that is open caps its score at 40: calls to it are being
refused right now.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Literal, NamedTuple

import pandas as pd

from tasks.market.store import MarketStore, StoreEntry, interval_timedelta
from tasks.orchestration.breakers import BreakerBoard

__all__ = ["Check", "HealthReport", "all_checks", "check_disk", "check_market", "check_memory", "check_prefect",
           "check_ray", "check_venue", "health_report", "level_of"]

Level = Literal["excellent", "good", "degraded", "poor", "critical"]
GB = 1024 ** 3
TIMEOUT_S = 3.0
OPEN_BREAKER_CAP = 40


class Check(NamedTuple):
    """One component: score 0-100 (None = not configured, not scored) and what was found."""
    component: str
    score: int | None
    detail: str

    @property
    def state(self) -> str:
        if self.score is None:
            return "not configured"
        return "healthy" if self.score >= 75 else "degraded" if self.score >= 25 else "critical"


class HealthReport(NamedTuple):
    checks: list[Check]
    score: float
    level: Level


def level_of(score: float, any_critical: bool) -> Level:
    if any_critical or score < 25:
        return "critical"
    return "excellent" if score >= 90 else "good" if score >= 75 else "degraded" if score >= 50 else "poor"


def health_report(checks: list[Check]) -> HealthReport:
    scored = [c for c in checks if c.score is not None]
    score = sum(c.score for c in scored) / len(scored) if scored else 0.0
    return HealthReport(checks, round(score, 1), level_of(score, any(c.state == "critical" for c in scored)))


def _with_breaker(check: Check, board: BreakerBoard | None, component: str) -> Check:
    if board is None or check.score is None:
        return check
    state = board.state(component)
    if state["state"] != "open":
        return check
    return Check(check.component, min(check.score, OPEN_BREAKER_CAP),
                 f"{check.detail}; circuit breaker OPEN after {state['consecutive_failures']} failures "
                 f"(last {state['last_failure']['type']})")


def check_prefect(api_url: str | None) -> Check:
    """The Prefect server at ``api_url`` answers /health; without one, runs start their own local server."""
    if not api_url:
        return Check("prefect", 100, "no PREFECT_API_URL: each run starts a local server (flows.prefect_api)")
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=TIMEOUT_S) as answer:
            ok = answer.status == 200
    except (OSError, urllib.error.URLError) as exc:
        return Check("prefect", 0, f"{api_url} unreachable: {exc}")
    return Check("prefect", 100 if ok else 10, f"{api_url} healthy" if ok else f"{api_url} answered {answer.status}")


def _reachable(address: str) -> str | None:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=TIMEOUT_S):
            return None
    except (OSError, ValueError) as exc:
        return f"{address} unreachable: {exc}"


def check_ray(address: str | None, board: BreakerBoard | None = None) -> Check:
    """The cluster at ``address`` (joined, with its token if one is found, then left) and its CPUs; without
    an address, the CPUs an embedded Ray would get."""
    if not address:
        return _with_breaker(Check("ray", 100, f"embedded Ray: {os.cpu_count()} CPUs on this machine"), board, "ray")
    problem = _reachable(address)
    if problem:
        return Check("ray", 0, problem)
    import ray  # only when a cluster is named: importing Ray costs a second

    try:
        ray.init(address, logging_level="ERROR", log_to_driver=False)
        resources, nodes = ray.cluster_resources(), [n for n in ray.nodes() if n.get("Alive")]
    except Exception as exc:  # noqa: BLE001 - any failure to join is the finding
        return Check("ray", 0, f"cannot join {address}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        ray.shutdown()
    cpus = int(resources.get("CPU", 0))
    return _with_breaker(Check("ray", 100 if cpus else 10, f"{address}: {len(nodes)} nodes, {cpus} CPUs, "
                                                           f"{resources.get('memory', 0) / GB:.1f} GB memory"),
                         board, "ray")


def check_venue(url: str | None, board: BreakerBoard | None = None) -> Check:
    """The venue / exchange at ``url`` answers an /info meta request."""
    if not url:
        return Check("venue", None, "no venue URL given (--venue-url or UCE_VENUE_URL)")
    request = urllib.request.Request(f"{url.rstrip('/')}/info", data=json.dumps({"type": "meta"}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            coins = len(json.loads(answer.read())["universe"])
    except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
        return _with_breaker(Check("venue", 0, f"{url} unreachable or unreadable: {exc}"), board, "venue")
    return _with_breaker(Check("venue", 100, f"{url}: {coins} perps listed"), board, "venue")


def check_market(store: MarketStore, now: pd.Timestamp, board: BreakerBoard | None = None) -> Check:
    """Freshness of the series fed by fetching (`uce data fetch`, the nightly refresh; the store's fetch
    record): age of the stalest one's newest bar, <= 2 bars 100, <= 1 day 80, <= 7 days 50, older 20.
    Series that were only imported are historical: their age says nothing about a feed, so it is not judged."""
    try:
        entries, fetched = store.entries(), store.fetch_records()
    except Exception as exc:  # noqa: BLE001 - an unreadable store is the finding
        return Check("market", 0, f"{store.root} unreadable: {type(exc).__name__}: {exc}")
    if not entries:
        return Check("market", 40, f"{store.root} is empty: runs use the offline sample (uce data fetch)")
    fed = [e for e in entries if e.series in fetched]
    historical = [e for e in entries if e.series not in fetched]
    if not fed:
        check = Check("market", 100, f"historical store ({_newest_bar(historical)}), freshness not judged")
    else:
        check = _freshness(fed, now)
        if historical:
            check = check._replace(detail=f"{check.detail}; {len(historical)} historical series "
                                          f"({_newest_bar(historical)}), freshness not judged")
    return _with_breaker(check, board, "market")


def _freshness(fed: list[StoreEntry], now: pd.Timestamp) -> Check:
    """Scored by the stalest fetched series, on the scale in check_market's docstring."""
    ages = {e.series: (now - e.last, interval_timedelta(e.interval)) for e in fed}
    name, (age, bar) = max(ages.items(), key=lambda kv: kv[1][0])
    score = 100 if age <= 2 * bar else 80 if age <= pd.Timedelta(days=1) else 50 if age <= pd.Timedelta(days=7) else 20
    return Check("market", score, f"{len(fed)} fetched series; stalest {name}, newest bar "
                                  f"{age.total_seconds() / 3600:.1f} h old")


def _newest_bar(entries: list[StoreEntry]) -> str:
    return f"newest bar {max(e.last for e in entries).tz_convert('UTC'):%Y-%m-%d %H:%M} UTC"


def check_disk(path: Path, *, free_bytes: Callable[[Path], int] = lambda p: shutil.disk_usage(p).free) -> Check:
    """Free space where the data lives: >= 10 GB 100, >= 2 GB 70, >= 0.5 GB 30, else 0 (``free_bytes``
    measures it; tests pass their own figure)."""
    path = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
    free = free_bytes(path)
    score = 100 if free >= 10 * GB else 70 if free >= 2 * GB else 30 if free >= GB // 2 else 0
    return Check("disk", score, f"{free / GB:.1f} GB free at {path}")


def check_memory(meminfo: Path = Path("/proc/meminfo")) -> Check:
    """Memory available: >= 4 GB 100, >= 2 GB 70, >= 1 GB 30, else 0 (an embedded Ray run uses ~0.75 GB)."""
    try:
        fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines() if ":" in line)
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError) as exc:
        return Check("memory", None, f"cannot read {meminfo}: {exc}")
    score = 100 if available >= 4 * GB else 70 if available >= 2 * GB else 30 if available >= GB else 0
    return Check("memory", score, f"{available / GB:.1f} GB available")


def all_checks(data_dir: Path, *, api_url: str | None, ray_address: str | None, venue_url: str | None,
               now: Callable[[], pd.Timestamp] = lambda: pd.Timestamp.now(tz="UTC")) -> HealthReport:
    board = BreakerBoard(data_dir / "breakers") if (data_dir / "breakers").is_dir() else None
    return health_report([
        check_prefect(api_url), check_ray(ray_address, board), check_venue(venue_url, board),
        check_market(MarketStore(data_dir / "market"), now(), board), check_disk(data_dir), check_memory(),
    ])
