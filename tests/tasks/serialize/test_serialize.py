"""Serialize: candidates are different ideas (one per niche, near-copies once), with train statistics."""
from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from candidate_fixtures import PLANTED, random_walk_market
from scipy.stats import rankdata

from kernels.families import FAMILY_NAMES
from kernels.genome import N_GENES
from tasks.evolve.train_inputs import prepare_train_inputs
from tasks.market.windows import split_windows
from tasks.run.config import RunConfig, ValidationConfig
from tasks.run.run_dir import RunDir
from tasks.serialize.candidates import best_per_strategy, diverse_candidates, serialize_run, train_returns
from tasks.validate.candidate import candidates_from_frame

CONFIG = RunConfig(run_id="s", validation=ValidationConfig(max_candidates=6, candidate_fraction=1.0))


def genome(uid: int, family: str, genes, fitness: float, cell: float) -> dict:
    return {"strategy_id": f"g{uid}", "uid": uid, "coin": "BTC", "family": family, "family_b": None,
            "genes": np.asarray(genes, dtype=np.float64), "genes_b": np.full(N_GENES, 0.5),
            "descriptors": np.array([cell, cell, 0.5]), "fitness": fitness, "violation": 0.0, "evaluated": True,
            "parent_ids": [], "operator": "init", "generation": 0, "island": 0, "sigma": 0.1, "sharpe": fitness,
            "cagr": 0.1, "max_drawdown": 0.1, "turnover": 1.0}


def evolved_frame() -> pd.DataFrame:
    """Five near-copies of one stochastic genome (different archive cells, best fitness), then one genome of
    each of five other families."""
    rng = np.random.default_rng(0)
    base = np.asarray(PLANTED[1])
    rows = [genome(i, PLANTED[0], np.clip(base + rng.normal(0, 1e-4, N_GENES), 0, 1), 10.0 - 0.1 * i, 0.1 + 0.15 * i)
            for i in range(5)]
    for k, family in enumerate(("ema_crossover", "rsi_filter", "bollinger", "sma_trend", "donchian_breakout")):
        rows.append(genome(10 + k, family, rng.uniform(size=N_GENES), 5.0 - 0.1 * k, 0.5))
    rows.append(genome(99, "ema_crossover", rows[5]["genes"], -1.0, 0.5) | {"strategy_id": "g10", "evaluated": False})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def market():
    return random_walk_market(4000, seed=3)


def test_near_copies_count_once_and_other_ideas_follow(market):
    windows = split_windows(market, CONFIG.windows)
    inputs = prepare_train_inputs(market, windows, CONFIG)
    unique = best_per_strategy(evolved_frame())
    assert unique["strategy_id"].is_unique and "g10" in set(unique["strategy_id"])
    candidates, chosen, pool = diverse_candidates(unique, inputs, CONFIG.validation)
    families = candidates["family"].tolist()
    assert families.count("stochastic") == 1 and families[0] == "stochastic"  # the best copy, once
    assert len(candidates) == 6 and candidates["rank"].tolist() == list(range(1, 7))
    rho = np.corrcoef(chosen.T)
    assert np.abs(rho[np.triu_indices(6, 1)]).max() < CONFIG.validation.candidate_max_correlation
    assert pool.shape[1] == 10 and chosen.shape == (pool.shape[0], 6)


def test_train_returns_are_the_kernel_returns_of_the_walk_forward_span(market):
    windows = split_windows(market, CONFIG.windows)
    inputs = prepare_train_inputs(market, windows, CONFIG)
    rows = best_per_strategy(evolved_frame()).head(2)
    per_bar = train_returns(rows, inputs)
    bounds = inputs.folds[0]
    assert per_bar.shape == (bounds[-1] - bounds[0], 2) and np.all(per_bar.std(axis=0) > 0)
    span = np.array([bounds[0], bounds[-1]])
    for j, candidate in enumerate(candidates_from_frame(rows)):
        alone = candidate.kernel_returns(inputs.markets[0], span, inputs.costs)
        assert per_bar[:, j] == pytest.approx(alone[bounds[0] + 1:bounds[-1] + 1], abs=1e-15)


def cscv_by_hand(returns: np.ndarray, splits: int) -> float:
    """PBO (Bailey et al. 2017) written out: every half of the S blocks in sample, the in-sample best trial's
    out-of-sample rank among N (ties shared), λ = logit(rank / (N + 1)); PBO = the share with λ <= 0."""
    def sharpe(r: np.ndarray) -> np.ndarray:  # a flat trial (never in the market) has Sharpe 0
        std = r.std(axis=0, ddof=1)
        return np.divide(r.mean(axis=0), std, out=np.zeros(r.shape[1]), where=std > 0)

    blocks = np.split(returns[len(returns) % splits:], splits)
    n = returns.shape[1]
    logits = []
    for chosen in combinations(range(splits), splits // 2):
        inside = np.concatenate([blocks[b] for b in chosen])
        outside = np.concatenate([blocks[b] for b in range(splits) if b not in chosen])
        best = int(np.argmax(sharpe(inside)))
        rank = rankdata(sharpe(outside), method="average")[best]
        logits.append(np.log(rank / (n + 1 - rank)))
    return float(np.mean(np.array(logits) <= 0))


def test_serialize_run_writes_candidates_with_train_statistics(tmp_path, market):
    run = RunDir(tmp_path / "run")
    run.root.mkdir(parents=True)
    evolved_frame().to_parquet(run.evolved)
    candidates = serialize_run(run, CONFIG, market, split_windows(market, CONFIG.windows))
    summary = json.loads(run.manifest_path.read_text())["serialize"]
    assert summary["candidates"] == len(candidates) == 6 and summary["n_trials"] == 10
    assert 1 <= summary["ideas"] <= 6 and summary["n_effective_trials"] <= 10
    assert 0.0 <= summary["pbo"] <= 1.0
    per_bar = train_returns(candidates, prepare_train_inputs(market, split_windows(market, CONFIG.windows), CONFIG))
    assert summary["pbo"] == pytest.approx(cscv_by_hand(per_bar, CONFIG.validation.pbo_splits))
    assert candidates["train_dsr"].between(0, 1).all()
    # Counting every trial deflates at least as much as the effective number.
    assert (candidates["train_dsr"] <= candidates["train_dsr_effective"] + 1e-12).all()
    saved = pd.read_parquet(run.candidates)
    assert saved["strategy_id"].tolist() == candidates["strategy_id"].tolist()
    assert sorted(p.stem for p in run.strategies.glob("*.json")) == sorted(saved["strategy_id"])
    assert set(FAMILY_NAMES) >= set(saved["family"])
