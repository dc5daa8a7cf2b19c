"""What a run costs: an estimate before it starts, CPU-hours and cost after it ends.

    estimate = CPUs x hours (the run's time budget) x price per CPU-hour
    used     = CPUs x wall-clock hours of the run x price per CPU-hour

CPUs are what the run holds (the embedded Ray's CPUs, or the cluster's), billed whether busy or not.
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["DEFAULT_CPU_HOUR_PRICE", "CostEstimate", "cost_refusal", "usage"]

# A typical spot price of one vCPU-hour (USD); --cpu-hour-price overrides it.
DEFAULT_CPU_HOUR_PRICE = 0.02


class CostEstimate(NamedTuple):
    cpus: int
    hours: float
    cpu_hour_price: float

    @property
    def usd(self) -> float:
        return self.cpus * self.hours * self.cpu_hour_price

    def describe(self) -> str:
        return (f"${self.usd:.2f} ({self.cpus} CPUs × {self.hours:g} h × ${self.cpu_hour_price:g}/CPU-h)")


def cost_refusal(estimate: CostEstimate, limit: float | None, *, force: bool) -> str | None:
    """Why the run must not start (the estimate exceeds ``limit`` and ``force`` is off), or None."""
    if limit is None or force or estimate.usd <= limit:
        return None
    return (f"estimated cost {estimate.describe()} exceeds --cost-limit ${limit:.2f}; "
            "lower --hours or --workers, or pass --force")


def usage(cpus: int, seconds: float, cpu_hour_price: float) -> dict[str, float]:
    """CPU-hours held over ``seconds`` of wall-clock time and what they cost (USD)."""
    cpu_hours = cpus * seconds / 3600.0
    return {"cpu_hours": round(cpu_hours, 6), "estimated_cost_usd": round(cpu_hours * cpu_hour_price, 6)}
