"""A small market and a validated.parquet for the deploy-side tests (selection, deploy, feedback)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from kernels.genome import N_GENES
from tasks.market.source import CoinData, MarketData
from tasks.market.windows import RunWindows, split_windows
from tasks.run.config import DeployConfig, RunConfig, ValidationConfig
from tasks.run.run_dir import RunDir

# A stochastic-oscillator genome that trades a 48-hour sine (tests/tasks/test_validate.py's planted one).
PLANTED = [0.088, 0.278, 0.963, 0.953, 0.604, 0.756, 0.249, 0.527, 0.411, 0.775, 0.228, 0.567]


def sine_market(n: int = 3000, coins: tuple[str, ...] = ("BTC", "ETH")) -> MarketData:
    """Per coin a 48-hour ±3 % cycle (phase shifted per coin) under a little noise."""
    out = []
    for k, coin in enumerate(coins):
        rng = np.random.default_rng(k)
        t = np.arange(n)
        close = 100 * (1 + 0.03 * np.sin(2 * np.pi * t / 48 + k)) * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
        open_ = np.r_[close[0], close[:-1]]
        candles = pd.DataFrame({
            "timestamp": pd.date_range("2022-01-01", periods=n, freq="1h", tz="UTC").astype("datetime64[ms, UTC]"),
            "open": open_, "high": np.maximum(open_, close) * 1.001, "low": np.minimum(open_, close) * 0.999,
            "close": close, "volume": rng.lognormal(3.0, 0.5, n),
        })
        out.append(CoinData(coin, candles, np.full(n, 1.25e-5), 0.0))
    return MarketData(tuple(out), "1h", "synthetic", "assumed")


def config(run_id: str = "run-1", **deploy) -> RunConfig:
    return RunConfig(run_id=run_id, coins=("BTC", "ETH"), validation=ValidationConfig(mode="fast"),
                     deploy=DeployConfig(**deploy))


def windows(market: MarketData, cfg: RunConfig) -> RunWindows:
    return split_windows(market, cfg.windows)


def validated_row(sid: str, coin: str, genes, *, sharpe: float = 2.0, replay: float = 1.5, drawdown: float = 0.05,
                  score: float = 0.9, passed: bool = True, family: str = "stochastic", uid: int = 0,
                  parents: tuple[str, ...] = ()) -> dict:
    return {"strategy_id": sid, "coin": coin, "family": family, "genes": [float(g) for g in genes],
            "family_b": None, "genes_b": [0.5] * N_GENES, "gate1_sharpe": sharpe, "gate2_sharpe": replay,
            "gate1_max_drawdown": drawdown, "overall_score": score, "passed": passed,
            "reasons": "" if passed else "gate1: Sharpe 0.20 < 1.0", "uid": uid, "parent_ids": list(parents),
            "operator": "mutate" if parents else "init", "generation": 1, "island": 0}


def planted_rows(count: int, seed: int, coin: str = "BTC", prefix: str = "p") -> list[dict]:
    """Near-copies of the planted genome (they move together) with falling scores."""
    rng = np.random.default_rng(seed)
    return [validated_row(f"{prefix}{i}", coin, np.clip(np.asarray(PLANTED) + rng.normal(0, 0.02, N_GENES), 0, 1),
                          score=0.95 - 0.01 * i, uid=i) for i in range(count)]


def write_run(tmp_path, rows: list[dict], run_id: str = "run-1") -> RunDir:
    run = RunDir.for_run(tmp_path / "data", run_id)
    run.root.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(run.validated)
    return run
