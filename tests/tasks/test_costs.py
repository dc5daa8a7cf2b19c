"""Cost control: the estimate before a run, the refusal over the limit unless forced, the usage after."""
from __future__ import annotations

import pytest

from tasks.costs import CostEstimate, cost_refusal, usage


def test_estimate_and_refusal() -> None:
    estimate = CostEstimate(cpus=16, hours=4.0, cpu_hour_price=0.02)
    assert estimate.usd == pytest.approx(1.28)
    assert cost_refusal(estimate, None, force=False) is None
    assert cost_refusal(estimate, 2.0, force=False) is None
    refusal = cost_refusal(estimate, 1.0, force=False)
    assert refusal == ("estimated cost $1.28 (16 CPUs × 4 h × $0.02/CPU-h) exceeds --cost-limit $1.00; "
                       "lower --hours or --workers, or pass --force")
    assert cost_refusal(estimate, 1.0, force=True) is None


def test_usage_is_cpus_times_wall_hours() -> None:
    assert usage(cpus=8, seconds=1800, cpu_hour_price=0.05) == {"cpu_hours": 4.0, "estimated_cost_usd": 0.2}

