"""The deploy stage: eligible strategies chosen under the pool and the correlation limit, registered with
the paper trader once (deploying twice deploys nothing new), every decision explained."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from deploy_helpers import config, planted_rows, sine_market, validated_row, windows, write_run

from exchange.paper import Registry, StrategySpec
from kernels.genome import N_GENES
from tasks.deploy.stage import DEPLOYED_COLUMNS, deploy_run, paper_paths, selection_path
from tasks.report.report_json import build_report
from tasks.run.config import ValidationConfig


@pytest.fixture(scope="module")
def market():
    return sine_market()


def _rows() -> list[dict]:
    rng = np.random.default_rng(5)
    return [
        *planted_rows(3, seed=1),                                            # p0..p2: near-copies on BTC
        *planted_rows(1, seed=2, coin="ETH", prefix="e"),                    # e0: the same idea on ETH
        validated_row("weak", "BTC", rng.uniform(size=N_GENES), sharpe=0.5, replay=0.3, drawdown=0.2, score=0.75,
                      family="rsi_filter"),                                  # meets 1 of 4 criteria
        validated_row("failed", "ETH", rng.uniform(size=N_GENES), passed=False, score=0.4),
        validated_row("other", "ETH", rng.uniform(size=N_GENES), score=0.8, family="bollinger", uid=9,
                      parents=("p0",)),
    ]


def _registry(run) -> Registry:
    return Registry(paper_paths(run.root.parents[1]).registry)


def test_deploy_chooses_registers_and_explains(tmp_path, market) -> None:
    run = write_run(tmp_path, _rows())
    cfg = config()
    deployed = deploy_run(run, cfg, market=market, windows=windows(market, cfg))
    assert list(deployed.columns) == list(DEPLOYED_COLUMNS)
    chosen = set(deployed["strategy_id"])
    assert "p0" in chosen and not chosen & {"p1", "p2", "weak", "failed"}
    assert deployed["allocation"].sum() == pytest.approx(1.0)
    assert deployed["capital"].sum() == pytest.approx(cfg.deploy.capital)
    assert deployed["newly_registered"].all() and (deployed["reason"].str.contains("inverse-volatility")).all()

    selection = pd.read_parquet(selection_path(run)).set_index("strategy_id")
    assert set(selection.index) == {r["strategy_id"] for r in _rows()}
    assert (selection["reason"].str.len() > 0).all()
    assert "validation-return correlation" in selection.at["p1", "reason"]
    assert selection.at["failed", "reason"].startswith("not deployed: failed validation (gate1: Sharpe")
    assert selection.at["weak", "reason"].startswith("not deployed: not approved: 1 of 4 criteria")

    specs = {s.strategy_id: s for s in _registry(run).all()}
    assert set(specs) == chosen and all(s.status == "active" and s.run_id == "run-1" for s in specs.values())
    assert specs["p0"].genes == tuple(_rows()[0]["genes"]) and specs["p0"].lineage["operator"] == "init"
    summary = run.manifest()["deploy"]
    assert summary["pool_size"] == 10 and summary["newly_registered"] == len(chosen)
    assert "capital 10,000 / 1,000 -> 10" in summary["pool"]
    report = build_report(run)
    assert {d["strategy_id"] for d in report["deployed"]} == chosen
    assert all(d["allocation"] is not None and d["deploy_reason"] for d in report["deployed"])


def test_deploying_twice_deploys_nothing_new(tmp_path, market) -> None:
    run = write_run(tmp_path, _rows())
    cfg = config()
    first = deploy_run(run, cfg, market=market, windows=windows(market, cfg))
    before = _registry(run).all()
    again = deploy_run(run, cfg, market=market, windows=windows(market, cfg))
    assert list(again["strategy_id"]) == list(first["strategy_id"])
    assert not again["newly_registered"].any() and run.manifest()["deploy"]["newly_registered"] == 0
    assert _registry(run).all() == before
    assert again["reason"].str.contains("already deployed").all()
    np.testing.assert_allclose(again["capital"], first["capital"])


def test_retired_strategies_are_not_redeployed_and_earlier_runs_keep_their_slots(tmp_path, market) -> None:
    run = write_run(tmp_path, _rows())
    cfg = config()
    deploy_run(run, cfg, market=market, windows=windows(market, cfg))
    registry = _registry(run)
    registry.set_status("p0", "retired", "drawdown 16.0% > 15% for 3.0 days", 1)
    again = deploy_run(run, cfg, market=market, windows=windows(market, cfg)).set_index("strategy_id")
    assert "p0" not in again.index and "p1" in again.index  # p0's slot and correlation no longer block p1
    selection = pd.read_parquet(selection_path(run)).set_index("strategy_id")
    assert selection.at["p0", "reason"] == "not deployed: retired in the paper book (drawdown 16.0% > 15% for 3.0 days)"

    # a later run with a small capital: the strategies still active from run-1 keep their slots
    later = write_run(tmp_path, [validated_row("n0", "ETH", _rows()[-1]["genes"], family="bollinger"),
                                 validated_row("n1", "BTC", np.full(N_GENES, 0.3), family="rsi_filter")],
                      run_id="run-2")
    active = registry.active()
    held = sum(s.capital for s in active)
    small = config("run-2", capital=held + 2_000).model_copy(
        update={"validation": ValidationConfig(mode="fast", max_deployed=len(active) + 1)})
    out = deploy_run(later, small, market=market, windows=windows(market, small))
    assert len(out) == 1  # one free slot
    assert later.manifest()["deploy"]["active_from_earlier_runs"] == len(active)
    assert out["capital"].sum() == pytest.approx(2_000)
    broke = write_run(tmp_path, [validated_row("m0", "ETH", np.full(N_GENES, 0.7), family="bollinger")],
                      run_id="run-3")
    assert deploy_run(broke, config("run-3", capital=held), market=market, windows=windows(market, small)).empty


def test_nothing_deploys_from_a_non_hourly_run(tmp_path, market) -> None:
    run = write_run(tmp_path, _rows())
    cfg = config().model_copy(update={"interval": "4h"})
    deployed = deploy_run(run, cfg, market=market, windows=windows(market, config()))
    assert deployed.empty
    reasons = pd.read_parquet(selection_path(run))["reason"]
    assert reasons.str.contains("trades 1h bars").all()
    assert not paper_paths(run.root.parents[1]).registry.exists() or not _registry(run).all()


def test_registry_register_is_idempotent_and_validates(tmp_path) -> None:
    registry = Registry(tmp_path / "registry.sqlite")
    spec = StrategySpec("s1", "r", "BTC", "rsi_filter", tuple([0.5] * N_GENES), 1000.0, 1.0, "why")
    assert registry.register([spec]) == [True]
    assert registry.register([spec._replace(capital=5.0)]) == [False]
    assert registry.get("s1").capital == 1000.0
    with pytest.raises(ValueError, match="family='nope'"):
        registry.register([spec._replace(strategy_id="s2", family="nope")])
    with pytest.raises(ValueError, match="capital"):
        registry.register([spec._replace(strategy_id="s3", capital=0.0)])
    registry.set_status("s1", "stopped", "operator", 5)
    assert registry.active() == [] and registry.get("s1").status_reason == "operator"
