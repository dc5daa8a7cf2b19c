"""Cost control: the estimate before a run, the refusal over the limit unless forced, the usage after."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tasks.evolve.evolution import EVOLVE_BUDGET_SHARE, evolve_plan
from tasks.orchestration.costs import (DEFAULT_TIMINGS, VALIDATION_ALLOWANCE_S, CostEstimate, cost_refusal,
                                       expected_cost, planned_evaluations, usage)
from tasks.run.config import RunConfig
from tasks.run.config import test_mode_config as small_config  # not test_*: pytest would collect it


def test_estimate_and_refusal() -> None:
    estimate = CostEstimate(cpus=16, hours=4.0, cpu_hour_price=0.02)
    assert estimate.usd == pytest.approx(1.28)
    assert cost_refusal(estimate, None, force=False) is None
    assert cost_refusal(estimate, 2.0, force=False) is None
    refusal = cost_refusal(estimate, 1.0, force=False)
    assert refusal == ("estimated cost $1.28 (16 CPUs × 4 h × $0.02/CPU-h) exceeds --cost-limit $1.00; "
                       "lower --strategies, --generations, --hours or --workers, or pass --force")
    assert cost_refusal(estimate, 1.0, force=True) is None


def test_usage_is_cpus_times_wall_hours() -> None:
    assert usage(cpus=8, seconds=1800, cpu_hour_price=0.05) == {"cpu_hours": 4.0, "estimated_cost_usd": 0.2}


@pytest.mark.parametrize("config", [small_config("t"), RunConfig(run_id="r"),
                                    RunConfig(run_id="o", evolve={"strategies": 55, "batch_size": 10})])
def test_planned_evaluations_are_the_evolutions_own_count(config: RunConfig) -> None:
    assert planned_evaluations(config) == evolve_plan(config, len(config.coins)).evaluations


def test_the_test_mode_estimate_prices_the_work_not_the_budget() -> None:
    config = small_config("t")
    assert planned_evaluations(config) == 300  # 50 strategies x (5 generations + 1)
    estimate = expected_cost(config, 2, 0.02, runs_dir=None)
    seconds = 300 * DEFAULT_TIMINGS.seconds_per_evaluation / 2 + VALIDATION_ALLOWANCE_S["minimal"] + \
        DEFAULT_TIMINGS.overhead_seconds
    assert estimate.hours * 3600 == pytest.approx(seconds)
    assert estimate.usd < CostEstimate(2, config.hours, 0.02).usd / 100
    assert estimate.describe().startswith("$0.0003 (300 evaluations × 0.077 CPU-s on 2 CPUs ≈ 12 s")
    assert "default rates" in estimate.describe()


def _earlier_run(runs: Path, run_id: str, *, evolve_s: float, status: str = "completed", mode: str = "minimal",
                 cached: bool = False, age_s: float = 0.0) -> None:
    """A run folder with the manifest fields the estimate reads: 300 evaluations on 5 islands, 2 workers."""
    manifest = {
        "status": status,
        "parameters": {"validation": {"mode": mode, "testnet": False}},
        "resources": {"workers": 2, "executions": [{"overhead_seconds": 4.0}]},
        "stages": {"evolve": {"seconds": evolve_s, "cached": cached, "summary": {"evaluations": 300, "islands": 5}},
                   "serialize": {"seconds": 1.0}, "validate": {"seconds": 6.0}, "deploy": {"seconds": 1.0}},
    }
    path = runs / run_id / "manifest.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(manifest))
    os.utime(path, (path.stat().st_mtime - age_s,) * 2)


def test_rates_come_from_the_latest_completed_runs(tmp_path: Path) -> None:
    _earlier_run(tmp_path, "old", evolve_s=600.0, age_s=3600)  # beyond the latest three: not read
    for run_id in ("a", "b"):
        _earlier_run(tmp_path, run_id, evolve_s=30.0, age_s=60)  # 30 s x 2 CPUs / 300 = 0.2 CPU-s each
    _earlier_run(tmp_path, "c", evolve_s=30.0, mode="full", age_s=60)  # rate counts, its validation does not
    _earlier_run(tmp_path, "failed", evolve_s=1.0, status="failed")
    _earlier_run(tmp_path, "cached", evolve_s=0.01, cached=True)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_text("{not json")
    estimate = expected_cost(small_config("t"), 2, 0.02, runs_dir=tmp_path)
    assert estimate.hours * 3600 == pytest.approx(300 * 0.2 / 2 + (1 + 6 + 1) + 4)
    assert estimate.describe().endswith("(300 evaluations × 0.2 CPU-s on 2 CPUs ≈ 30 s + validation 8 s + "
                                        "overhead 4 s ≈ 42 s; rates from 3 earlier runs)")


def test_without_usable_runs_the_defaults_apply(tmp_path: Path) -> None:
    _earlier_run(tmp_path, "failed", evolve_s=1.0, status="failed")
    assert expected_cost(small_config("t"), 2, 0.02, runs_dir=tmp_path) == \
        expected_cost(small_config("t"), 2, 0.02, runs_dir=None)
    assert expected_cost(small_config("t"), 2, 0.02, runs_dir=tmp_path / "absent").basis.endswith(
        "default rates measured on 2 CPUs")


def test_the_estimate_is_capped_by_the_budget() -> None:
    big = RunConfig(run_id="r", hours=0.01, evolve={"strategies": 5000, "batch_size": 50, "generations": 100})
    estimate = expected_cost(big, 4, 0.02, runs_dir=None)
    assert estimate.hours == pytest.approx(big.hours)
    assert estimate.usd == pytest.approx(CostEstimate(4, big.hours, 0.02).usd)
    assert "capped by the 0.01 h budget" in estimate.describe()
    evolution_capped = expected_cost(big.model_copy(update={"hours": 4.0}), 4, 0.02, runs_dir=None)
    evolve_cap_s = 4.0 * 3600 * EVOLVE_BUDGET_SHARE
    assert evolution_capped.hours * 3600 == pytest.approx(evolve_cap_s + 30.0 + DEFAULT_TIMINGS.overhead_seconds)
    assert "capped by the 4 h budget" in evolution_capped.describe()


def test_refusal_over_the_limit_prices_the_expected_work() -> None:
    estimate = expected_cost(RunConfig(run_id="r"), 16, 0.5, runs_dir=None)
    assert cost_refusal(estimate, estimate.usd * 2, force=False) is None
    refusal = cost_refusal(estimate, estimate.usd / 2, force=False)
    assert refusal is not None and refusal.startswith(f"estimated cost {estimate.describe()} exceeds --cost-limit")
    assert "10500 evaluations" in refusal
    assert cost_refusal(estimate, estimate.usd / 2, force=True) is None
