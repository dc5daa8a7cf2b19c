"""A small but real run folder for the report tests, built in seconds without the flow (no Prefect, no Ray).

The stages' own functions write every artifact: a synthetic market goes into a market store, two islands
evolve for two generations with one migration (run_evolution, inline), then serialize_run, validate_run
(fast mode, inline batches) and deploy_run; the manifest gets what the flow records (parameters, data,
windows, stage status and seconds, evolve summary), with fixed stage times.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.deploy.stage import deploy_run
from tasks.evolve.evolution import run_evolution
from tasks.market.source import load_market_data
from tasks.market.store import MarketStore
from tasks.market.windows import split_windows
from tasks.orchestration.submitters import inline_submit
from tasks.run.config import DeployConfig, EvolveConfig, RunConfig, ValidationConfig, WindowConfig
from tasks.run.run_dir import RunDir
from tasks.serialize.candidates import serialize_run
from tasks.validate.stage import validate_run

N_BARS = 1800
STARTED = 1_700_000_000.0  # fixed run start (epoch s): reports must not depend on when they are built
# Lenient gates so that some candidates pass and get deployed.
LENIENT = dict(mode="fast", min_sharpe=-50.0, max_drawdown=1.0, min_win_rate=0.0, min_trades=0, fwer=0.99,
               min_replay_sharpe=-50.0, min_score=0.0, max_candidates=8, candidate_max_correlation=1.0,
               candidate_fraction=1.0, concurrency=2, lookahead_cuts=2, pbo_splits=4, max_deployed=3)
# Deploy rules that let the lenient survivors through (tasks.deploy.decision; JSON is valid YAML).
LENIENT_RULES = {"approval": {"min_validation_sharpe": -50, "min_replay_sharpe": -50, "max_drawdown": 1.0,
                              "min_overall_score": 0.0, "min_criteria": 1},
                 "selection": {"max_correlation": 1.0}}
# As tasks.orchestration.resilience.ResilienceLog writes it: a validation batch's worker lost, then retried.
RESILIENCE = {"state": "degraded", "failures": 1, "recovered": 1, "unrecovered": 0, "violations": 0, "breakers": {},
              "events": [{"time": "2026-01-01T00:00:12.000+00:00", "event": "failure", "component": "ray",
                          "type": "WorkerCrashedError", "message": "worker lost", "work": "validate_batch",
                          "stage": "validate", "attempt": 1, "retrying": False, "recovered": True,
                          "recovered_by": "retry"}]}
# Manifest ``data_refresh`` records as tasks.market.refresh writes them: one that brought new bars, one that failed.
REFRESHED = {"endpoint": "mainnet", "interval": "1h", "ok": True, "new_bars": 24,
             "coins": {"BTC": {"candles_added": 24, "candles_total": 1800, "funding_added": 24, "gaps": 0,
                               "last_bar": "2023-03-16T23:00:00+00:00"}},
             "error": None, "seconds": 1.25}
REFRESH_FAILED = {"endpoint": "mainnet", "interval": "1h", "ok": False, "new_bars": 0,
                  "coins": {"BTC": {"candles_added": 0, "candles_total": 1800, "funding_added": 0, "gaps": 0,
                                    "last_bar": "2023-03-16T23:00:00+00:00"}},
                  "error": "data refresh from mainnet (https://api.hyperliquid.xyz) failed: TransportError: "
                           "[Errno -3] Temporary failure in name resolution", "seconds": 1.76}


def synthetic_candles(n: int = N_BARS, seed: int = 3) -> pd.DataFrame:
    """Hourly bars: a 48-hour cycle on a random walk, so that some strategies trade and some earn."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    close = 100 * (1 + 0.02 * np.sin(2 * np.pi * t / 48)) * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    open_ = np.r_[close[0], close[:-1]]
    return pd.DataFrame({
        "timestamp": pd.date_range("2023-01-01", periods=n, freq="1h", tz="UTC").astype("datetime64[ms, UTC]"),
        "open": open_,
        "high": np.maximum(open_, close) * (1 + 0.002 * rng.uniform(0.5, 1.5, n)),
        "low": np.minimum(open_, close) * (1 - 0.002 * rng.uniform(0.5, 1.5, n)),
        "close": close,
        "volume": rng.lognormal(3.0, 0.5, n),
    })


def build_run(data_dir: Path, run_id: str = "fixture") -> RunDir:
    """Write <data_dir>/market and <data_dir>/runs/<run_id> as a completed run would leave them."""
    store = MarketStore(data_dir / "market")
    store.merge_candles("BTC", "1h", synthetic_candles(), source="synthetic")
    rules = data_dir / "rules.json"
    rules.write_text(json.dumps(LENIENT_RULES))
    config = RunConfig(run_id=run_id, seed=5, hours=1.0,
                       evolve=EvolveConfig(strategies=16, batch_size=8, generations=2, epoch_generations=1,
                                           min_trades=1),
                       validation=ValidationConfig(**LENIENT), windows=WindowConfig(folds=2),
                       deploy=DeployConfig(rules_path=str(rules)))
    market = load_market_data(store, config.coins, config.interval, config.costs)
    windows = split_windows(market, config.windows)
    run = RunDir.for_run(data_dir, run_id)
    run.update_manifest(run_id=run_id, status="running", started=STARTED, code_version="0.1.0+test",
                        parameters=config.model_dump(mode="json"), data=market.describe(),
                        windows=windows.describe())
    summary = run_evolution(run, market, windows, config)  # outside a flow run: inline, no Prefect
    run.record_stage("evolve", "completed", seconds=12.5, summary=summary)
    serialize_run(run, config, market, windows)
    run.record_stage("serialize", "completed", seconds=0.5)
    validate_run(run, market, windows, config, submit=inline_submit)
    run.record_stage("validate", "completed", seconds=3.25)
    deploy_run(run, config, market=market, windows=windows)
    run.record_stage("deploy", "completed", seconds=0.01)
    run.update_manifest(status="completed", finished=STARTED + 20.0, resilience=RESILIENCE)
    return run


def with_data_refresh(run: RunDir, data_dir: Path, record: dict, run_id: str) -> RunDir:
    """A copy of ``run`` whose manifest says the market data was refreshed before it (``record``)."""
    copy = RunDir.for_run(data_dir, run_id)
    shutil.copytree(run.root, copy.root)
    copy.update_manifest(data_refresh=record)
    return copy


def without_deployments(run: RunDir, data_dir: Path, run_id: str = "undeployed") -> RunDir:
    """A copy of ``run`` in which nothing was deployed (deployed.parquet with no rows)."""
    copy = RunDir.for_run(data_dir, run_id)
    shutil.copytree(run.root, copy.root)
    deployed = pd.read_parquet(copy.deployed)
    deployed.iloc[:0].to_parquet(copy.deployed, index=False)
    return copy

