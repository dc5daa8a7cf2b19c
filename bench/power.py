"""The validation stage as a statistical test: its size on noise and its power on planted edges.
(Not a test: hours for the whole table, ~30 min with --quick.)

    python bench/power.py                     # 20 noise markets, 10 planted per strength, GA and random arms
    python bench/power.py --quick             # 4 noise, 2 planted per strength, GA arm only
    python bench/power.py --keep DIR          # keep every market's data dir; a second call re-uses the
                                              # evolution and re-runs serialize -> deploy with today's code

Markets (bench/synthetic.py): ~3 years of hourly bars the run sees, then a one-year continuation it
never sees. Noise markets are martingales (GARCH volatility, Student-t shocks): any deployment there is
a false discovery. Planted markets add one mechanism whose simple rule trades at a known oracle Sharpe
after costs (1.5, 2 and 3), alternating momentum and reversion. Every market goes through the default
pipeline (500 x 20, fast validation: gates 1-2) in its own data dir; the random arm spends the same
number of evaluations on genomes of the initial distribution (one generation of 10,500 / 2 genomes plus
their offspring).

The table: per kind of market and arm, the share that deployed anything, how many distinct ideas reached
validation, and the median held-out Sharpe of the candidates and of the deployed strategies against the
oracle rule's on the same continuation.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

# bench/kernels.py would shadow the `kernels` package: import the sibling module by path, then drop this folder.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.append(str(_HERE.parent))

import importlib.util  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

_spec = importlib.util.spec_from_file_location("uce_bench_synthetic", _HERE / "synthetic.py")
synthetic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(synthetic)

from flows.pipeline import rerun_stage, run_pipeline  # noqa: E402
from flows.prefect_api import prefect_api  # noqa: E402
from kernels.evaluate import Market  # noqa: E402
from tasks.evolve.evaluation import kernel_costs  # noqa: E402
from tasks.market.store import MarketStore  # noqa: E402
from tasks.run.config import CostConfig, EvolveConfig, RunConfig, ValidationConfig  # noqa: E402
from tasks.validate.candidate import candidates_from_frame  # noqa: E402

SEEN_BARS = 3 * synthetic.BARS_PER_YEAR
HELD_OUT_BARS = synthetic.BARS_PER_YEAR
DEFAULT_EVOLVE = EvolveConfig()
RANDOM_EVOLVE = EvolveConfig(strategies=5250, batch_size=250, generations=1)


class MarketSpec(NamedTuple):
    kind: str          # "noise" or a mechanism
    target: float      # oracle Sharpe the strength was calibrated for (0 for noise)
    strength: float
    seed: int
    rule: dict         # the oracle rule's parameters (synthetic.ORACLE_GRID); empty for noise

    @property
    def name(self) -> str:
        return "noise" if self.kind == "noise" else f"{self.kind}-S{self.target:g}"


def market_specs(noise: int, planted: int, strengths: list[float], mechanisms: list[str],
                 seed_offset: int = 0) -> list[MarketSpec]:
    """`noise` noise markets and `planted` markets per strength, mechanisms alternating, kinds interleaved
    (a partial table is balanced); seeds fixed, `seed_offset` shifts them all (an independent check)."""
    groups = [[MarketSpec("noise", 0.0, 0.0, seed_offset + 1000 + i, {}) for i in range(noise)]]
    for target in strengths:
        calibrated = {m: synthetic.calibrate(m, target) for m in mechanisms}
        rules = {m: synthetic.oracle(m, strength)[1] for m, strength in calibrated.items()}
        groups.append([MarketSpec(m, target, calibrated[m], seed_offset + 2000 + int(100 * target) + i, rules[m])
                       for i, m in ((i, mechanisms[i % len(mechanisms)]) for i in range(planted))])
    longest = max(len(g) for g in groups)
    return [g[i] for i in range(longest) for g in groups if i < len(g)]


def held_out_sharpe(rows: pd.DataFrame, candles: pd.DataFrame, costs: CostConfig) -> np.ndarray:
    """Annualised Sharpe of each strategy of `rows` over the held-out continuation (the last HELD_OUT_BARS)."""
    if rows.empty:
        return np.zeros(0)
    arrays = [np.ascontiguousarray(candles[c].to_numpy(np.float64)) for c in ("open", "high", "low", "close", "volume")]
    market = Market(*arrays, np.full(len(candles), costs.assumed_funding_rate), float(synthetic.BARS_PER_YEAR))
    start = len(candles) - HELD_OUT_BARS - 1
    bounds = np.array([start, len(candles) - 1], dtype=np.int64)
    out = []
    for candidate in candidates_from_frame(rows):
        per_bar = candidate.kernel_returns(market, bounds, kernel_costs(costs))[start + 1:]
        out.append(synthetic.sharpe(per_bar))
    return np.array(out)


def run_market(spec: MarketSpec, arm: str, root: Path) -> dict:
    """One market through the pipeline (or its re-validation when the data dir already has the evolution)."""
    path, sigma = synthetic.log_path(spec.kind, spec.strength, SEEN_BARS + HELD_OUT_BARS, spec.seed)
    candles = synthetic.candles(path, sigma, spec.seed)
    closes = np.log(candles["close"].to_numpy())
    data = root / f"{spec.name}-{spec.seed}-{arm}"
    run_id = "power"
    run = data / "runs" / run_id
    started = time.monotonic()
    if (run / "evolved.parquet").exists():
        # Re-validate the kept evolution with today's code *and* today's validation defaults: a stage re-run
        # otherwise uses the settings the run recorded.
        manifest = json.loads((run / "manifest.json").read_text())
        manifest["parameters"]["validation"] = ValidationConfig(mode="fast").model_dump(mode="json")
        (run / "manifest.json").write_text(json.dumps(manifest))
        rerun_stage(run_id=run_id, stage="serialize", data_dir=str(data))
    else:
        shutil.rmtree(data, ignore_errors=True)
        MarketStore(data / "market").merge_candles("BTC", "1h", candles.iloc[:SEEN_BARS], source=spec.name)
        evolve = DEFAULT_EVOLVE if arm == "ga" else RANDOM_EVOLVE
        config = RunConfig(run_id=run_id, seed=spec.seed, evolve=evolve, validation=ValidationConfig(mode="fast"))
        run_pipeline(config, data)
    seconds = time.monotonic() - started
    manifest = json.loads((run / "manifest.json").read_text())
    candidates = pd.read_parquet(run / "candidates.parquet")
    validated = pd.read_parquet(run / "validated.parquet")
    deployed = pd.read_parquet(run / "deployed.parquet")
    chosen = candidates[candidates["strategy_id"].isin(deployed["strategy_id"])]
    costs = CostConfig()
    oracle = (synthetic.rule_returns(spec.kind, closes[-HELD_OUT_BARS - 1:], **spec.rule) if spec.kind != "noise"
              else None)
    return {
        "market": spec.name, "kind": spec.kind, "target": spec.target, "seed": spec.seed, "arm": arm,
        "seconds": round(seconds, 1),
        "candidates": len(candidates),
        "ideas": manifest.get("serialize", {}).get("ideas", np.nan),
        "gate1_passed": int(validated.get("gate1_pass", pd.Series(dtype=bool)).sum()),
        "passed": int(validated["passed"].sum()) if len(validated) else 0,
        "deployed": len(deployed),
        "candidates_held_out": (float(np.median(held_out_sharpe(candidates, candles, costs))) if len(candidates)
                                else np.nan),
        "deployed_held_out": (float(np.median(held_out_sharpe(chosen, candles, costs))) if len(chosen)
                              else np.nan),
        "oracle_held_out": synthetic.sharpe(oracle) if oracle is not None else np.nan,
    }


def table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (market kind and strength, arm)."""
    strength = "S" + results["target"].map("{:g}".format)
    groups = results.assign(group=np.where(results["kind"] == "noise", "noise", strength))
    return groups.groupby(["group", "arm"]).agg(
        markets=("market", "size"), deploy_rate=("deployed", lambda d: float((d > 0).mean())),
        ideas=("ideas", "median"), candidates_held_out=("candidates_held_out", "median"),
        deployed_held_out=("deployed_held_out", "median"), oracle_held_out=("oracle_held_out", "median"),
        minutes=("seconds", lambda s: round(s.sum() / 60, 1)),
    )


def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    specs = market_specs(args.noise, args.planted, args.strengths, args.mechanisms, args.seed_offset)
    arms = args.arms.split(",")
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="uce-power-"))
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        with prefect_api(root / "prefect"):
            for spec in specs:
                for arm in arms:
                    row = run_market(spec, arm, root)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    results = pd.DataFrame(rows)
    if args.out:
        results.to_csv(args.out, index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table(results).round(2).to_string())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 noise, 2 planted per strength, GA arm only")
    parser.add_argument("--noise", type=int, default=20)
    parser.add_argument("--planted", type=int, default=10, help="markets per strength")
    parser.add_argument("--strengths", type=lambda s: [float(x) for x in s.split(",")], default=[1.5, 2.0, 3.0])
    parser.add_argument("--mechanisms", type=lambda s: s.split(","), default=["momentum", "reversion"])
    parser.add_argument("--arms", default="ga,random")
    parser.add_argument("--seed-offset", type=int, default=0, help="shift every seed: markets never seen before")
    parser.add_argument("--keep", help="keep the markets' data dirs here (re-used by a later call)")
    parser.add_argument("--out", help="also write the per-market rows to this CSV")
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.noise, parsed.planted, parsed.arms = 4, 2, "ga"
    main(parsed)
