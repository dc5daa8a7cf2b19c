"""Seconds the validate stage spends on 50 candidates, bootstrap included (not a test; about a minute).

    python bench/validation.py [--candidates 50] [--reps 1000]

A three-year synthetic hourly market (bench/synthetic.py, noise), 50 random genomes of every family as
the candidates, and the validate stage in fast mode (gates 1-2: validation backtests, look-ahead checks,
the event-driven replay, StepM over the candidates) in this process, batch after batch: the figure a
2-core machine gets without Ray's parallelism, so an upper bound. Printed: the stage's seconds, the
StepM step alone, and the share of the 30 s budget used.
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # bench/kernels.py shadows `kernels`
sys.path.append(str(_HERE.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from kernels.families import FAMILY_NAMES  # noqa: E402
from kernels.genome import N_GENES  # noqa: E402
from tasks.market.source import load_market_data  # noqa: E402
from tasks.market.store import MarketStore  # noqa: E402
from tasks.market.windows import split_windows  # noqa: E402
from tasks.orchestration.safety import SCOPES  # noqa: E402
from tasks.orchestration.submitters import inline_submit  # noqa: E402
from tasks.run.config import RunConfig, ValidationConfig  # noqa: E402
from tasks.run.run_dir import RunDir  # noqa: E402
from tasks.validate.gate1_significance import superior_candidates  # noqa: E402
from tasks.validate.stage import validate_run  # noqa: E402

_spec = importlib.util.spec_from_file_location("uce_bench_synthetic", _HERE / "synthetic.py")
synthetic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(synthetic)

BUDGET_S = 30.0


def candidates(count: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "strategy_id": [f"c{i}" for i in range(count)], "coin": "BTC",
        "family": [FAMILY_NAMES[i % len(FAMILY_NAMES)] for i in range(count)], "family_b": None,
        "genes": list(rng.uniform(size=(count, N_GENES))), "genes_b": list(np.full((count, N_GENES), 0.5)),
    })


def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="uce-bench-validation-") as tmp:
        root = Path(tmp)
        path, sigma = synthetic.log_path("noise", 0.0, 3 * synthetic.BARS_PER_YEAR, seed=1)
        MarketStore(root / "market").merge_candles("BTC", "1h", synthetic.candles(path, sigma, seed=1), source="bench")
        config = RunConfig(run_id="bench", validation=ValidationConfig(mode="fast", max_candidates=args.candidates,
                                                                       bootstrap_reps=args.reps))
        market = load_market_data(MarketStore(root / "market"), config.coins, config.interval, config.costs)
        windows = split_windows(market, config.windows)
        run = RunDir.for_run(root, "bench")
        run.root.mkdir(parents=True)
        candidates(2, seed=3).to_parquet(run.candidates)
        # In this process, under the widest safety scope: the bench times the work, not a cut-off.
        validate = functools.partial(validate_run, scope=SCOPES["research"], submit=inline_submit)
        validate(run, market, windows, config)  # compile and warm up
        candidates(args.candidates, seed=2).to_parquet(run.candidates)
        started = time.perf_counter()
        table = validate(run, market, windows, config)
        stage = time.perf_counter() - started
        if table["reasons"].str.contains("stopped by safety scope").any():
            raise SystemExit("a batch reached the safety scope's limit: the time above is not the whole work")
        daily = np.random.default_rng(4).normal(0, 0.01, (455, args.candidates))
        started = time.perf_counter()
        superior_candidates(daily, reps=args.reps)
        stepm = time.perf_counter() - started
    print(f"validate stage, {args.candidates} candidates, fast mode, one process: {stage:.1f} s "
          f"({stage / BUDGET_S:.0%} of the {BUDGET_S:.0f} s budget); StepM alone {stepm:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--reps", type=int, default=1000)
    main(parser.parse_args())
