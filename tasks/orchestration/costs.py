"""What a run costs: an estimate before it starts, CPU-hours and cost after it ends.

    expected = CPUs x expected hours x price per CPU-hour            (expected_cost)
    budget   = CPUs x hours (the run's whole time budget) x price    (CostEstimate(cpus, hours, price))
    used     = CPUs x wall-clock hours of the run x price per CPU-hour (usage)

CPUs are what the run holds (the embedded Ray's CPUs, or the cluster's), billed whether busy or not.

Expected hours: the evolution's evaluations x CPU-seconds per evaluation / the CPUs the islands keep busy,
plus the serialize, validate and deploy stages, plus the flow's own overhead (Ray start, loading data,
writing the report). The rates come from the most recent completed runs in the data dir (their
manifest.json), or from defaults measured on this project's 2-core machine. Evolution stops at half the
``--hours`` budget and the whole estimate is capped at the budget.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

from kernels.ga.loop import GAConfig
from tasks.run.config import RunConfig, ValidationMode

__all__ = ["DEFAULT_CPU_HOUR_PRICE", "DEFAULT_TIMINGS", "VALIDATION_ALLOWANCE_S", "CostEstimate", "RunTimings",
           "cost_refusal", "earlier_timings", "expected_cost", "planned_evaluations", "usage"]

# A typical spot price of one vCPU-hour (USD); --cpu-hour-price overrides it.
DEFAULT_CPU_HOUR_PRICE = 0.02
# Completed runs whose timings are averaged: recent enough to reflect today's code and data.
EARLIER_RUNS = 3
# tasks.evolve.evolution.EVOLVE_BUDGET_SHARE (a test keeps them equal); not imported because tasks.evolve.evolution
# imports Prefect, and `uce run` estimates the cost before it loads anything heavy.
_EVOLVE_BUDGET_SHARE = 0.5


class RunTimings(NamedTuple):
    """How long the parts of a run take.

    seconds_per_evaluation: CPU-seconds per evaluated genome (evolve stage seconds x busy CPUs /
        evaluations; the train inputs, the regime pilot and the per-regime scores ride along)
    validation_seconds: serialize + validate + deploy; None = no earlier run validated the same way
        (VALIDATION_ALLOWANCE_S then)
    overhead_seconds: the flow's time outside its stages (Ray start, loading data, writing the report)
    runs: how many earlier runs the figures come from (0: the defaults)
    """
    seconds_per_evaluation: float
    validation_seconds: float | None
    overhead_seconds: float
    runs: int = 0


DEFAULT_TIMINGS = RunTimings(seconds_per_evaluation=0.077, validation_seconds=None, overhead_seconds=10.0)
"""Measured with `uce run --test-mode` (offline sample: 2,165 hourly bars, 56 days of train; 300
evaluations) on 2 CPUs with the numba cache warm: evolve 11.5 s, so 0.077 CPU-s per evaluation; flow
overhead 4.5-10.7 s over three runs. A store with years of bars evaluates slower per genome: the first
run on it sets the rate for the runs after it."""

VALIDATION_ALLOWANCE_S: dict[ValidationMode, float] = {"minimal": 5.0, "fast": 30.0, "full": 30.0}
"""Serialize + validate + deploy without an earlier run to time them. Minimal: measured 2.9 s (17
candidates). Fast and full: gates 2 and 3 replay each survivor of gate 1 (up to 50 candidates); an
allowance, not a measurement (the measured full-mode run had no survivor: 2.4 s)."""


class CostEstimate(NamedTuple):
    """``cpus`` held for ``hours`` at ``cpu_hour_price`` (USD); ``basis`` says how ``hours`` was estimated
    (None: they are the run's whole time budget)."""
    cpus: int
    hours: float
    cpu_hour_price: float
    basis: str | None = None

    @property
    def usd(self) -> float:
        return self.cpus * self.hours * self.cpu_hour_price

    def describe(self) -> str:
        if self.basis is None:
            return f"{_dollars(self.usd)} ({self.cpus} CPUs × {self.hours:g} h × ${self.cpu_hour_price:g}/CPU-h)"
        return f"{_dollars(self.usd)} ({self.basis})"


def planned_evaluations(config: RunConfig) -> int:
    """Genomes a complete evolution evaluates: per island its initial population plus λ offspring per
    generation (as tasks.evolve.evolution.EvolvePlan.evaluations). Test mode, 5 islands of 10 for 5 generations: 300."""
    evolve = config.evolve
    offspring = max(1, int(round(evolve.batch_size * GAConfig().offspring_ratio)))
    return evolve.islands * (evolve.batch_size + offspring * evolve.generations)


def expected_cost(config: RunConfig, cpus: int, price: float, *, runs_dir: Path | None) -> CostEstimate:
    """The cost of the work ``config`` asks for on ``cpus`` CPUs at ``price`` USD per CPU-hour, timed by
    the latest completed runs under ``runs_dir`` (``<data dir>/runs``; None, or no usable run there:
    DEFAULT_TIMINGS). Evolution is capped at its share of the ``hours`` budget, the total at the budget.

    >>> from tasks.run.config import test_mode_config
    >>> round(expected_cost(test_mode_config("x"), 2, 0.02, runs_dir=None).hours * 3600)  # 12 + 5 + 10 s
    27
    """
    timings = DEFAULT_TIMINGS if runs_dir is None else earlier_timings(runs_dir, config)
    evaluations = planned_evaluations(config)
    busy = min(cpus, config.evolve.islands)  # one island is one task at a time: CPUs beyond them sit idle
    budget_s = config.hours * 3600
    evolve_s = min(evaluations * timings.seconds_per_evaluation / busy, budget_s * _EVOLVE_BUDGET_SHARE)
    validation_s = _validation_seconds(config, timings)
    total_s = min(evolve_s + validation_s + timings.overhead_seconds, budget_s)
    on = f"{cpus} CPUs" if busy == cpus else f"{busy} busy of {cpus} CPUs"
    basis = (f"{evaluations} evaluations × {timings.seconds_per_evaluation:.3g} CPU-s on {on} ≈ "
             f"{_duration(evolve_s)} + validation {_duration(validation_s)} + overhead "
             f"{_duration(timings.overhead_seconds)} ≈ {_duration(total_s)}")
    if total_s == budget_s or evolve_s == budget_s * _EVOLVE_BUDGET_SHARE:
        basis += f", capped by the {config.hours:g} h budget"
    source = (f"rates from {timings.runs} earlier run{'s' if timings.runs > 1 else ''}" if timings.runs
              else "default rates measured on 2 CPUs")
    return CostEstimate(cpus, total_s / 3600, price, f"{basis}; {source}")


def _validation_seconds(config: RunConfig, timings: RunTimings) -> float:
    """Measured, or the mode's allowance plus one forward testnet session: sessions trade in wall-clock
    time one after another, so a testnet run takes at least one of them."""
    if timings.validation_seconds is not None:
        return timings.validation_seconds
    session_s = config.validation.testnet_minutes * 60 if config.validation.testnet else 0.0
    return VALIDATION_ALLOWANCE_S[config.validation.mode] + session_s


def earlier_timings(runs_dir: Path, config: RunConfig, *, limit: int = EARLIER_RUNS) -> RunTimings:
    """RunTimings averaged over the ``limit`` most recently finished completed runs in ``runs_dir``;
    validation seconds only from those that validated like ``config`` (mode and testnet). Unreadable or
    incomplete manifests and cached evolutions are skipped; with no usable run, DEFAULT_TIMINGS."""
    timed = (_run_timings(manifest, config) for manifest in _completed_manifests(runs_dir))
    found = list(islice((t for t in timed if t is not None), limit))
    if not found:
        return DEFAULT_TIMINGS
    validated_alike = [t.validation_seconds for t in found if t.validation_seconds is not None]
    return RunTimings(seconds_per_evaluation=_mean(t.seconds_per_evaluation for t in found),
                      validation_seconds=_mean(validated_alike) if validated_alike else None,
                      overhead_seconds=_mean(t.overhead_seconds for t in found),
                      runs=len(found))


def _completed_manifests(runs_dir: Path) -> Iterator[dict[str, Any]]:
    """Completed runs' manifests, most recently written first (a run rewrites its manifest when it ends);
    read one at a time, so a data dir of many runs costs only the few that are used."""
    try:
        paths = sorted(runs_dir.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:  # a run being deleted while we look: estimate from the defaults rather than fail
        return
    for path in paths:
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and manifest.get("status") == "completed":
            yield manifest


def _run_timings(manifest: dict[str, Any], config: RunConfig) -> RunTimings | None:
    """One completed run's timings (validation seconds only when it validated like ``config``), or None
    when its manifest lacks what they need or its evolution came from the cache (no time was spent)."""
    try:
        stages, resources = manifest["stages"], manifest["resources"]
        evolve, summary = stages["evolve"], stages["evolve"].get("summary") or {}
        if evolve.get("cached"):
            return None
        workers = int(resources["workers"])
        busy = min(workers, int(summary.get("islands") or workers))
        per_evaluation = float(evolve["seconds"]) * busy / int(summary["evaluations"])
        after = sum(float(stages[stage]["seconds"]) for stage in ("serialize", "validate", "deploy"))
        overhead = max(float(resources["executions"][-1]["overhead_seconds"]), 0.0)
        validation = manifest["parameters"]["validation"]
        alike = (validation.get("mode"), bool(validation.get("testnet"))) == (config.validation.mode,
                                                                            config.validation.testnet)
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError):
        return None
    if not per_evaluation > 0:
        return None
    return RunTimings(per_evaluation, after if alike else None, overhead, runs=1)


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values)


def _dollars(usd: float) -> str:
    """Cents from one cent up, else four decimals: a test run costs fractions of a cent."""
    return f"${usd:,.2f}" if usd >= 0.01 else f"${usd:.4f}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def cost_refusal(estimate: CostEstimate, limit: float | None, *, force: bool) -> str | None:
    """Why the run must not start (the estimate exceeds ``limit`` and ``force`` is off), or None."""
    if limit is None or force or estimate.usd <= limit:
        return None
    return (f"estimated cost {estimate.describe()} exceeds --cost-limit {_dollars(limit)}; "
            "lower --strategies, --generations, --hours or --workers, or pass --force")


def usage(cpus: int, seconds: float, cpu_hour_price: float) -> dict[str, float]:
    """CPU-hours held over ``seconds`` of wall-clock time and what they cost (USD)."""
    cpu_hours = cpus * seconds / 3600.0
    return {"cpu_hours": round(cpu_hours, 6), "estimated_cost_usd": round(cpu_hours * cpu_hour_price, 6)}
