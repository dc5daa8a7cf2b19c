"""Serialize stage: from every evolved genome to a set of *different ideas*, one JSON config each, and the
train-window statistics of that selection.

Candidates (``diverse_candidates``):
1. the feasible genomes, each strategy once (its best row), the top ``candidate_fraction`` by fitness;
2. the best of each niche: coin, family (both members for an ensemble) and MAP-Elites archive cell
   (trade frequency, holding time, long bias), best niches first, at most POOL_PER_CANDIDATE x
   ``max_candidates`` of them;
3. their per-bar returns over the walk-forward span of the train window (what the evolution selected
   on), and greedily, best first: a niche's best joins unless its train returns correlate at or above
   ``candidate_max_correlation`` with a candidate already chosen (a near-copy counts once), until
   ``max_candidates``.
Near-copies count once, so no idea fills the set with clones; variants of one idea that differ enough
(correlation below 0.9 by default) may each be tested: StepM prices their correlation, and on the power
benchmark (bench/power.py) letting them in raised power at the same size (a 0.7 limit or 20 candidates
deployed on fewer planted markets). ``ideas`` counts the clusters among the candidates (kernels.stats,
the same clustering as the effective number of trials).

Train statistics (``train_statistics``): the selection bias lives where the selection happened. Each
candidate's Deflated Sharpe Ratio on its walk-forward train returns with the evolution's number of
trials N, plain and discounted to the effective number (N x clusters / pool size, from the niche pool:
what evolution tried near the top), and the Probability of Backtest Overfitting of choosing among the
candidates (CSCV on their train returns). They describe, they do not gate: the validation window decides.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from exchange.atomic import write_json_atomic, write_parquet_atomic
from kernels.archive import ArchiveConfig, cell_index
from kernels.evaluate import returns as kernel_returns
from kernels.families import FAMILY_NAMES, decode_params
from kernels.stats import (cluster_labels_nb, correlation_distance, deflated_sharpe_nb, effective_trials, pbo_cscv,
                           sharpe_moments_1d_nb)
from tasks.evolve.train_inputs import TrainInputs, prepare_train_inputs
from tasks.market.source import MarketData
from tasks.market.windows import RunWindows
from tasks.run.config import RunConfig, ValidationConfig
from tasks.run.run_dir import RunDir

__all__ = ["POOL_PER_CANDIDATE", "best_per_strategy", "diverse_candidates", "serialize_run", "strategy_config",
           "train_returns", "train_statistics"]

log = logging.getLogger(__name__)
POOL_PER_CANDIDATE = 4  # niche bests whose train returns are compared, per candidate slot


def best_per_strategy(evolved: pd.DataFrame) -> pd.DataFrame:
    """Feasible evaluated genomes, each strategy_id once (its best row), best fitness first."""
    feasible = evolved[evolved["evaluated"] & (evolved["violation"] == 0) & np.isfinite(evolved["fitness"])]
    return (feasible.sort_values(["fitness", "uid"], ascending=[False, True], kind="stable")
            .drop_duplicates("strategy_id", keep="first").reset_index(drop=True))


def _niche_bests(unique: pd.DataFrame, limit: int) -> pd.DataFrame:
    """The best row of each (coin, family, family_b, archive cell), best first, at most `limit`."""
    descriptors = np.stack([np.nan_to_num(np.asarray(d, dtype=np.float64)) for d in unique["descriptors"]])
    niche = unique.assign(cell=cell_index(descriptors, ArchiveConfig()), family_b=unique["family_b"].fillna(""))
    keys = ["coin", "family", "family_b", "cell"]
    return unique.loc[niche.drop_duplicates(keys, keep="first").index[:limit]].reset_index(drop=True)


def train_returns(rows: pd.DataFrame, inputs: TrainInputs) -> np.ndarray:
    """Per-bar returns float64[T, len(rows)] over the walk-forward span of the train window (first fold's
    start to train's end; coins with fewer bars padded with zeros at the start)."""
    spans = [bounds[-1] - bounds[0] for bounds in inputs.folds]
    out = np.zeros((max(spans), len(rows)))
    for c, (coin, market, bounds) in enumerate(zip(inputs.coins, inputs.markets, inputs.folds)):
        at = np.flatnonzero(rows["coin"].to_numpy() == coin)
        if not at.size:
            continue
        picked = rows.iloc[at]
        ensemble = picked["family_b"].map(lambda f: isinstance(f, str)).to_numpy()
        families_b = np.array([FAMILY_NAMES.index(f) if e else -1 for f, e in zip(picked["family_b"], ensemble)])
        genes = np.stack([np.asarray(g, dtype=np.float64) for g in picked["genes"]])
        genes_b = np.stack([np.asarray(g if e else np.zeros(genes.shape[1]), dtype=np.float64)
                            for g, e in zip(picked["genes_b"], ensemble)])
        per_bar = kernel_returns(market, picked["family"].map(FAMILY_NAMES.index).to_numpy(np.int64), genes,
                                 np.array([bounds[0], bounds[-1]], dtype=np.int64), inputs.costs,
                                 families_b=families_b.astype(np.int64), genes_b=genes_b)
        out[out.shape[0] - spans[c]:, at] = per_bar[:, bounds[0] + 1:bounds[-1] + 1].T
    return out


def diverse_candidates(unique: pd.DataFrame, inputs: TrainInputs,
                       settings: ValidationConfig) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(candidates, their train returns[T, M], the niche pool's train returns[T, P]); module docstring."""
    top = unique.head(max(1, int(np.ceil(len(unique) * settings.candidate_fraction)))) if len(unique) else unique
    pool = _niche_bests(top, POOL_PER_CANDIDATE * settings.max_candidates) if len(top) else top
    if pool.empty:
        return pool.assign(rank=[]), np.zeros((0, 0)), np.zeros((0, 0))
    returns = train_returns(pool, inputs)
    rho = 1.0 - correlation_distance(returns)
    chosen: list[int] = []
    for j in range(len(pool)):
        if len(chosen) == settings.max_candidates:
            break
        if not chosen or rho[j, chosen].max() < settings.candidate_max_correlation:
            chosen.append(j)
    candidates = pool.iloc[chosen].reset_index(drop=True).assign(rank=np.arange(1, len(chosen) + 1))
    return candidates, returns[:, chosen], returns


def train_statistics(candidate_returns: np.ndarray, pool_returns: np.ndarray, n_trials: int,
                     settings: ValidationConfig) -> tuple[dict[str, np.ndarray], dict]:
    """Per candidate: train Sharpe (annualising is the report's job) and DSR with N and effective N; over the
    set: ideas, N, N_eff, PBO (None with < 2 candidates)."""
    t, m = candidate_returns.shape
    moments = np.array([sharpe_moments_1d_nb(np.ascontiguousarray(candidate_returns[:, j])) for j in range(m)])
    pool_sr = np.array([sharpe_moments_1d_nb(np.ascontiguousarray(pool_returns[:, j]))[0]
                        for j in range(pool_returns.shape[1])])
    # Robust spread of the trials' Sharpe ratios, floored at a skill-less strategy's sampling variance.
    variance = max((1.4826 * float(np.median(np.abs(pool_sr - np.median(pool_sr))))) ** 2, 1.0 / (t - 1))
    n_trials = max(int(n_trials), pool_returns.shape[1])
    n_eff, _ = effective_trials(n_trials, pool_returns, settings.cluster_distance)
    ideas = int(cluster_labels_nb(correlation_distance(candidate_returns), settings.cluster_distance).max()) + 1
    columns = {
        "train_sharpe_per_bar": moments[:, 0],
        "train_dsr": np.array([deflated_sharpe_nb(s, t, g3, g4, float(n_trials), variance) for s, g3, g4 in moments]),
        "train_dsr_effective": np.array([deflated_sharpe_nb(s, t, g3, g4, n_eff, variance) for s, g3, g4 in moments]),
    }
    splits = settings.pbo_splits
    pbo = pbo_cscv(candidate_returns, splits).pbo if m >= 2 and t >= 2 * splits else None
    summary = {"ideas": ideas, "n_trials": n_trials, "n_effective_trials": round(n_eff, 3),
               "niche_pool": pool_returns.shape[1], "train_bars": t, "pbo": pbo, "pbo_splits": splits}
    return columns, summary


def strategy_config(row: pd.Series, config: RunConfig) -> dict:
    """Everything needed to rebuild the strategy anywhere: identity, genes, decoded parameters, lineage, costs."""
    members = [_member(row["family"], row["genes"])]
    if isinstance(row.get("family_b"), str):
        members.append(_member(row["family_b"], row["genes_b"]))
    return {
        "strategy_id": row["strategy_id"],
        "coin": row["coin"],
        "interval": config.interval,
        "family": row["family"],
        "members": members,
        "lineage": {
            "uid": int(row["uid"]),
            "parent_ids": list(row["parent_ids"]),
            "operator": row["operator"],
            "generation": int(row["generation"]),
            "island": int(row["island"]),
        },
        "fitness": {k: _finite(row[k]) for k in ("fitness", "sharpe", "cagr", "max_drawdown", "turnover")},
        "costs": config.costs.model_dump(),
        "run_id": config.run_id,
    }


def _member(family: str, genes: np.ndarray) -> dict:
    fam = FAMILY_NAMES.index(family)
    return {"family": family, "genes": [float(g) for g in genes], "params": decode_params(fam, np.asarray(genes))}


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def serialize_run(run: RunDir, config: RunConfig, market: MarketData, windows: RunWindows) -> pd.DataFrame:
    """Write strategies/<id>.json for every candidate, candidates.parquet (with the train statistics) and the
    manifest's ``serialize`` summary; returns the candidates."""
    evolved = pd.read_parquet(run.evolved)
    unique = best_per_strategy(evolved)
    inputs = prepare_train_inputs(market, windows, config)
    candidates, chosen, pool = diverse_candidates(unique, inputs, config.validation)
    summary: dict = {"feasible_strategies": len(unique), "candidates": len(candidates)}
    if len(candidates):
        n_trials = int(evolved["evaluated"].astype(bool).sum())
        columns, stats = train_statistics(chosen, pool, n_trials, config.validation)
        candidates = candidates.assign(**columns)
        summary |= stats
    for _, row in candidates.iterrows():
        write_json_atomic(strategy_config(row, config), run.strategies / f"{row['strategy_id']}.json")
    write_parquet_atomic(candidates, run.candidates)
    run.update_manifest(serialize=summary)
    log.info("serialized %d candidates (%s ideas) from %d feasible strategies", len(candidates),
             summary.get("ideas", 0), len(unique))
    return candidates
