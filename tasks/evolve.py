"""Evolve stage: islands evolve in parallel for an epoch each, then elites migrate around a ring.

Each island-epoch is one coarse Prefect task (seconds of numba work), so on Ray the per-task overhead
(~100 ms) stays small. The train data goes to the workers once, as the result of one upstream task
that every island task depends on (on Ray: one object in the object store, read zero-copy). The GA
only ever sees the train window: the kernel markets are cut at the window's end before they ship.

Reproducibility: each island-epoch draws from ``default_rng([seed, island, epoch])`` and results are
gathered in island order, so the same data and seed give the same genomes however many workers run.
"""
from __future__ import annotations

import logging
import time
from typing import NamedTuple

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from kernels.archive import Archive, coverage, empty_archive
from kernels.evaluate import Costs, Market
from kernels.ga.loop import EpochResult, GAConfig, evolve_epoch
from kernels.ga.migration import migrate
from kernels.ga.operators import VariationConfig, init_population
from kernels.ga.population import Population, concat
from kernels.metrics import METRIC_NAMES
from tasks.atomic import write_parquet_atomic
from tasks.config import RunConfig
from tasks.evaluation import evaluate_genomes, kernel_costs, kernel_market
from tasks.genome_table import population_frame, with_parent_ids
from tasks.market_source import MarketData
from tasks.run_dir import RunDir
from tasks.windows import RunWindows, bar_range, fold_bounds

__all__ = ["TrainInputs", "evolve_island", "prepare_train_inputs", "run_evolution"]

log = logging.getLogger(__name__)
# Bars of indicator history before the first scored fold (the slowest families look back ~300 bars).
WARMUP_BARS = 300
# Share of the run's time budget that evolution may use (the rest is validation and deployment).
EVOLVE_BUDGET_SHARE = 0.5


class TrainInputs(NamedTuple):
    """Per coin: the kernel market cut at the end of the train window, and its walk-forward fold bounds."""
    markets: tuple[Market, ...]
    folds: tuple[np.ndarray, ...]
    costs: Costs

    @property
    def n_folds(self) -> int:
        return len(self.folds[0]) - 1


class IslandState(NamedTuple):
    population: Population
    archive: Archive
    stage: int


def prepare_train_inputs(market: MarketData, windows: RunWindows, config: RunConfig) -> TrainInputs:
    markets, folds = [], []
    for coin in market.coins:
        i0, i1 = bar_range(coin.candles, windows.train)
        markets.append(kernel_market(coin, market.interval, stop=i1))
        folds.append(fold_bounds(i0, i1, config.windows.folds, WARMUP_BARS))
    return TrainInputs(tuple(markets), tuple(folds), kernel_costs(config.costs))


def _evaluator(inputs: TrainInputs):
    """evaluate_fn for the GA loop: fold metrics of a population, coin by coin."""
    def evaluate_fn(pop: Population) -> np.ndarray:
        out = np.empty((pop.uid.size, inputs.n_folds, len(METRIC_NAMES)))
        for c, (kmarket, bounds) in enumerate(zip(inputs.markets, inputs.folds)):
            rows = np.flatnonzero(pop.coin == c)
            if rows.size:
                out[rows] = evaluate_genomes(kmarket, pop.family[rows], pop.genes[rows], bounds, inputs.costs,
                                             pop.family_b[rows], pop.genes_b[rows])
        return out
    return evaluate_fn


def evolve_island(state: IslandState | None, inputs: TrainInputs, *, island: int, epoch: int, size: int,
                  first_generation: int, generations: int, seed: int, ga: GAConfig) -> EpochResult:
    """One island for one epoch; ``state=None`` starts the island from a Latin-hypercube population."""
    rng = np.random.default_rng([seed, island, epoch])
    if state is None:
        population = init_population(size, n_folds=inputs.n_folds, rng=rng, config=ga.variation, island=island)
        state = IslandState(population, empty_archive(ga.archive, inputs.n_folds), 0)
    return evolve_epoch(state.population, _evaluator(inputs), generations=generations,
                        first_generation=first_generation, island=island, rng=rng, config=ga,
                        archive=state.archive, stage=state.stage)


evolve_island_task = task(name="evolve-island", cache_policy=NO_CACHE)(evolve_island)
prepare_train_inputs_task = task(name="prepare-train-inputs", cache_policy=NO_CACHE)(prepare_train_inputs)


def run_evolution(run: RunDir, market: MarketData, windows: RunWindows, config: RunConfig) -> dict:
    """Evolve every island, write evolved.parquet and events.parquet; returns the stage summary."""
    evolve = config.evolve
    ga = GAConfig(variation=VariationConfig(n_coins=len(market.coins)))
    ga = ga._replace(fitness=ga.fitness._replace(min_trades=float(evolve.min_trades)))
    inputs = prepare_train_inputs_task.submit(market, windows, config)
    deadline = time.monotonic() + config.hours * 3600 * EVOLVE_BUDGET_SHARE
    states: list[IslandState | None] = [None] * evolve.islands
    logged, events, migrants = [], [], []
    done, epoch, started = 0, 0, time.perf_counter()
    stopped_by_budget = False
    while done < evolve.generations:
        span = min(evolve.epoch_generations, evolve.generations - done)
        futures = [
            evolve_island_task.submit(states[i], inputs, island=i, epoch=epoch, size=evolve.batch_size,
                                      first_generation=done, generations=span, seed=config.seed, ga=ga)
            for i in range(evolve.islands)
        ]
        results: list[EpochResult] = [f.result() for f in futures]
        done, epoch = done + span, epoch + 1
        for r in results:
            logged.append(r.log.genomes)
            events.extend(r.events)
        populations = [r.population for r in results]
        if done < evolve.generations:
            populations, arrived = migrate(populations, min(evolve.migrants, evolve.batch_size - 1), generation=done)
            migrants.append(arrived)
            events.append({"event": "migration", "generation": done, "migrants": int(arrived.uid.size)})
        states = [IslandState(p, r.archive, r.stage) for p, r in zip(populations, results)]
        log.info("epoch %d: %d generations done, %d genomes evaluated", epoch, done, sum(p.uid.size for p in logged))
        if done < evolve.generations and time.monotonic() > deadline:
            stopped_by_budget = True
            log.warning("evolution stopped after generation %d: its share of the %.2f h budget is spent",
                        done, config.hours)
            break
    seconds = time.perf_counter() - started
    evaluated = concat(logged)
    _write_artifacts(run, evaluated, concat(migrants) if migrants else None, events, market)
    return {
        "evaluations": int(evaluated.uid.size),
        "generations": done,
        "islands": evolve.islands,
        "evaluations_per_second": round(evaluated.uid.size / seconds, 1) if seconds > 0 else None,
        "stopped_by_budget": stopped_by_budget,
        "archive_coverage": [round(coverage(s.archive), 4) for s in states if s is not None],
        "folds": config.windows.folds,
    }


def _write_artifacts(run: RunDir, evaluated: Population, migrants: Population | None, events: list[dict],
                     market: MarketData) -> None:
    coins = tuple(c.coin for c in market.coins)
    frame = population_frame(evaluated, coins)
    if migrants is not None and migrants.uid.size:
        # Migrants are copies, not evaluations: they are kept for lineage but flagged so nobody counts them twice.
        frame = pd.concat([frame.assign(evaluated=True), population_frame(migrants, coins).assign(evaluated=False)])
    else:
        frame = frame.assign(evaluated=True)
    frame = with_parent_ids(frame.sort_values("uid", kind="stable").reset_index(drop=True))
    write_parquet_atomic(frame, run.evolved)
    write_parquet_atomic(_events_frame(events), run.events)


def _events_frame(events: list[dict]) -> pd.DataFrame:
    """Events as rows; fields an event does not have stay empty."""
    frame = pd.DataFrame(events)
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].astype("string")
    return frame
