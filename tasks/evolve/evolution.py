"""Evolve stage: islands evolve in parallel for an epoch each, elites migrate around a ring, and the whole
loop is an event stream (tasks.orchestration.events).

run_evolution, step by step:

1. train inputs: every coin's bars cut at the end of the train window (tasks.evolve.train_inputs), made once and
   shipped to the workers once (on Ray: one object in the object store that every task reads);
2. regime pilot (tasks.evolve.regime_bias): label the train bars, score a small sample per regime, and weight
   the families toward those doing well in the latest regime;
3. initial population: one Latin hypercube over all islands' genomes with those family shares, dealt to
   the islands family by family (every family with a share is present even when islands are small);
4. Evolution: per epoch one coarse task per island (k generations, seconds of numba work), then ring
   migration; iterating it yields the events, which go to events.parquet, the Prefect artifacts and the
   caller's ``on_event``;
5. the per-regime Sharpe of the best genomes (columns ``sharpe_<regime>`` of evolved.parquet and the summary).

Where the work runs is injected (tasks.orchestration.submitters): inside a flow run each call is a Prefect
task on the flow's task runner (Ray), outside one (tests, notebooks) it runs inline; either way under the
function's own policy: a lost worker or another transient error is retried, bad input is not.

Safety scope (tasks.orchestration.safety): each island's evaluation of a generation is one batch under the run's scope.
A batch that reaches the scope's time limit stops; the genomes it did not reach get NaN metrics, so the GA
gives them its worst fitness and they die out, and the island reports a "violation" event (tasks.orchestration.events)
that the flow writes to the run's resilience log. The evolution goes on.

Reproducibility: island i's epoch e draws from ``default_rng([seed, i, e])``, the initial population and
the pilot from their own streams, and results are gathered in island order: the same data and seed give
the same genomes however many workers run.

Time budget: evolution may use EVOLVE_BUDGET_SHARE of ``--hours``; when that is spent it stops after the
current epoch, emits a "stopped" event, and the summary says so (``stopped_by_budget``, ``stop_note``).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from prefect.context import FlowRunContext

from exchange.atomic import write_parquet_atomic
from kernels.archive import Archive, empty_archive
from kernels.families import FAMILY_NAMES
from kernels.ga.loop import EpochResult, GAConfig, evolve_epoch
from kernels.ga.migration import migrate
from kernels.ga.operators import VariationConfig, init_population
from kernels.ga.population import Population, assign_uids, concat, empty_population, take
from kernels.regimes import REGIME_NAMES
from tasks.evolve.feedback import read_paper_feedback
from tasks.evolve.genome_table import population_frame, strategy_id, with_parent_ids, with_regime_sharpe
from tasks.evolve.regime_bias import RegimeSettings, regime_pilot, regime_scores
from tasks.evolve.train_inputs import TrainInputs, prepare_train_inputs
from tasks.market.source import MarketData
from tasks.market.windows import RunWindows
from tasks.orchestration.events import EventSink, PrefectArtifacts, events_frame, stamped
from tasks.orchestration.retry_policy import Policy, retry_policy
from tasks.orchestration.safety import DEFAULT_SCOPE, Deadline, SafetyScope, scoped_fold_metrics
from tasks.orchestration.submitters import Submit, default_submit
from tasks.run.config import RunConfig
from tasks.run.run_dir import RunDir
from tasks.serialize.candidates import best_per_strategy

__all__ = ["EVOLVE_BUDGET_SHARE", "EvolvePlan", "Evolution", "IslandState", "evolve_island", "evolve_plan",
           "initial_islands", "run_evolution"]

log = logging.getLogger(__name__)
# Share of the run's time budget that evolution may use (the rest is validation and deployment).
EVOLVE_BUDGET_SHARE = 0.5
# Random streams besides the islands' [seed, island < 4096, epoch].
INIT_STREAM = (4096, 1)
PILOT_STREAM = (4097, 1)
# Best distinct genomes scored per regime after the evolution.
TOP_BY_REGIME = 10
REGIMES = RegimeSettings()

class EvolvePlan(NamedTuple):
    """What to evolve: ``islands`` of ``size`` genomes for ``generations``, ``epoch_generations`` per task,
    ``migrants`` elites per island at each migration, and the GA settings."""
    islands: int
    size: int
    generations: int
    epoch_generations: int
    migrants: int
    seed: int
    ga: GAConfig

    @property
    def evaluations(self) -> int:
        """Genomes evaluated by a complete run: the initial population plus λ offspring per generation."""
        offspring = max(1, int(round(self.size * self.ga.offspring_ratio)))
        return self.islands * (self.size + offspring * self.generations)


class IslandState(NamedTuple):
    population: Population
    archive: Archive
    stage: int


def evolve_plan(config: RunConfig, n_coins: int) -> EvolvePlan:
    evolve = config.evolve
    ga = GAConfig(variation=VariationConfig(n_coins=n_coins))
    ga = ga._replace(fitness=ga.fitness._replace(min_trades=float(evolve.min_trades)))
    return EvolvePlan(evolve.islands, evolve.batch_size, evolve.generations, evolve.epoch_generations,
                      min(evolve.migrants, evolve.batch_size - 1), config.seed, ga)


def initial_islands(plan: EvolvePlan, n_folds: int, family_weights: np.ndarray) -> list[Population]:
    """One Latin hypercube of islands x size genomes with the given family shares, dealt round-robin to
    the islands in family order; uids stamped per island (generation 0)."""
    rng = np.random.default_rng([plan.seed, *INIT_STREAM])
    pop = init_population(plan.islands * plan.size, n_folds=n_folds, rng=rng, config=plan.ga.variation,
                          family_weights=family_weights)
    order = np.argsort(pop.family, kind="stable")
    return [assign_uids(take(pop, order[i::plan.islands]), island=i, generation=0) for i in range(plan.islands)]


@retry_policy(Policy("ray", retries=3, timeout_s=3600), run_name="island-{island}-epoch-{epoch}")
def evolve_island(state: IslandState, inputs: TrainInputs, *, island: int, epoch: int, first_generation: int,
                  generations: int, seed: int, ga: GAConfig, scope: SafetyScope = DEFAULT_SCOPE) -> EpochResult:
    """One island for one epoch (kernels.ga.loop.evolve_epoch on the train folds), each generation's
    evaluation a batch under ``scope`` (module docstring).

    Events come back stamped with this worker's wall clock at the end of their generation; generation
    events also get ``evaluations_per_second``, the island's rate over that generation (breeding included).
    A generation whose evaluation was stopped by the scope has a "violation" event before its other events.
    """
    rng = np.random.default_rng([seed, island, epoch])
    clock: dict[int, tuple[float, int]] = {}  # generation -> (time its evaluation ended, genomes evaluated)
    violations: dict[int, dict] = {}  # generation -> its violation event

    def evaluate_fn(pop: Population) -> np.ndarray:
        generation = int(pop.generation.max())
        scoped = scoped_fold_metrics(inputs, pop, Deadline(scope), work=f"island {island} evaluation")
        clock[generation] = (time.time(), int(pop.uid.size))
        if scoped.violation:
            violations[generation] = stamped({"event": "violation", "island": island, "generation": generation,
                                              **scoped.violation}, clock[generation][0])
        return scoped.value

    previous = time.time()
    result = evolve_epoch(state.population, evaluate_fn, generations=generations, first_generation=first_generation,
                          island=island, rng=rng, config=ga, archive=state.archive, stage=state.stage)
    events = []
    for event in result.events:
        if event["generation"] in violations:
            events.append(violations.pop(event["generation"]))
        end, count = clock[event["generation"]]
        event = stamped(event, end)
        if event["event"] == "generation":
            event["evaluations_per_second"] = count / max(end - previous, 1e-9)
            previous = end
        events.append(event)
    return result._replace(events=events + list(violations.values()))


class Evolution:
    """The island-epoch loop as an event stream.

    Iterating runs it: a "start" event; per epoch one ``submit`` per island, each island's events in
    island order as its result arrives, then an "epoch" event; before every later epoch a ring migration
    and its "migration" event. A consumer may stop after any "epoch" event: the evolution ends there,
    with no migration. ``evaluated()``, ``migrants()``, ``states`` and ``generation`` then describe what
    was done. Generation events carry the island's evaluation count over the whole run; champion events
    the genome's ``strategy_id`` and coin / family names; violation events (an island's evaluation stopped
    by ``scope``) pass through as the island sent them.
    """

    def __init__(self, plan: EvolvePlan, inputs: Any, islands: list[Population], *, coins: tuple[str, ...],
                 submit: Submit, scope: SafetyScope = DEFAULT_SCOPE) -> None:
        if len(islands) != plan.islands:
            raise ValueError(f"islands has {len(islands)} populations; the plan has {plan.islands}")
        self.plan, self._inputs, self._coins, self._submit, self._scope = plan, inputs, coins, submit, scope
        self._n_folds = islands[0].profile.shape[1]
        archive = empty_archive(plan.ga.archive, self._n_folds)
        self.states = [IslandState(p, archive, 0) for p in islands]
        self.generation = 0
        self._evaluated: list[Population] = []
        self._migrants: list[Population] = []

    def evaluated(self) -> Population:
        """Every genome evaluated so far, each once, in island-epoch order."""
        return concat(self._evaluated) if self._evaluated else empty_population(0, self._n_folds)

    def migrants(self) -> Population:
        """Every migrant copy (operator migrate, not evaluated again)."""
        return concat(self._migrants) if self._migrants else empty_population(0, self._n_folds)

    def __iter__(self) -> Iterator[dict]:
        plan = self.plan
        started = time.time()
        yield stamped({"event": "start", "islands": plan.islands, "population": plan.size,
                       "generations": plan.generations, "evaluations_planned": plan.evaluations}, started)
        evaluations = np.zeros(plan.islands, np.int64)
        latest: dict[int, dict] = {}
        champions, epoch = 0, 0
        while self.generation < plan.generations:
            if epoch:
                yield self._migrate()
            span = min(plan.epoch_generations, plan.generations - self.generation)
            futures = [self._submit(evolve_island, state, self._inputs, island=i, epoch=epoch,
                                    first_generation=self.generation, generations=span, seed=plan.seed, ga=plan.ga,
                                    scope=self._scope)
                       for i, state in enumerate(self.states)]
            states = []
            for i, future in enumerate(futures):
                result: EpochResult = future.result()
                self._evaluated.append(result.log.genomes)
                for event in result.events:
                    if event["event"] == "generation":
                        event = event | {"evaluations": int(evaluations[i] + event["evaluations"])}
                        latest[i] = event
                    elif event["event"] == "champion":
                        champions += 1
                        event = self._named(event, result.log.genomes)
                    yield event
                evaluations[i] += result.log.genomes.uid.size
                states.append(IslandState(result.population, result.archive, result.stage))
            self.states = states
            self.generation += span
            epoch += 1
            seconds = time.time() - started
            total = int(evaluations.sum())
            leading = max(latest.values(), key=lambda e: e["best_fitness"])
            yield stamped({
                "event": "epoch", "epoch": epoch, "generation": self.generation, "generations": plan.generations,
                "evaluations": total, "seconds": seconds, "evaluations_per_second": total / max(seconds, 1e-9),
                **{k: leading[k] for k in ("best_fitness", "leader_sharpe", "leader_cagr")},
                "archive_coverage": float(np.mean([e["archive_coverage"] for e in latest.values()])),
                "champions": champions,
            })
            log.info("epoch %d: generation %d of %d, %d genomes evaluated in %.1f s", epoch, self.generation,
                     plan.generations, total, seconds)

    def _migrate(self) -> dict:
        populations, arrived = migrate([s.population for s in self.states], self.plan.migrants,
                                       generation=self.generation)
        self._migrants.append(arrived)
        self.states = [s._replace(population=p) for s, p in zip(self.states, populations)]
        return stamped({"event": "migration", "generation": self.generation, "migrants": int(arrived.uid.size)})

    def _named(self, event: dict, genomes: Population) -> dict:
        """A champion event with the genome's strategy_id and coin / family names."""
        row = int(np.flatnonzero(genomes.uid == event["uid"])[0])
        coin = self._coins[event["coin"]]
        sid = strategy_id(coin, int(genomes.family[row]), genomes.genes[row], int(genomes.family_b[row]),
                          genomes.genes_b[row])
        return event | {"strategy_id": sid, "coin": coin, "family": FAMILY_NAMES[event["family"]]}


def run_evolution(run: RunDir, market: MarketData, windows: RunWindows, config: RunConfig, *,
                  on_event: EventSink | None = None, submit: Submit | None = None,
                  scope: SafetyScope = DEFAULT_SCOPE) -> dict:
    """Evolve every island, write evolved.parquet and events.parquet; returns the stage summary.

    ``on_event`` receives every event as it happens (tasks.orchestration.events); ``submit`` defaults to Prefect tasks
    inside a flow run and to inline calls outside one; every island evaluates its generations under
    ``scope`` (module docstring). Inside a flow run the Prefect progress and island table artifacts are
    updated at every epoch.
    """
    in_flow = FlowRunContext.get() is not None
    submit = submit or default_submit()
    sinks = [s for s in (on_event, PrefectArtifacts(run.run_id) if in_flow else None) if s is not None]
    coins = tuple(c.coin for c in market.coins)
    plan = evolve_plan(config, len(coins))
    started = time.monotonic()
    budget = config.hours * 3600 * EVOLVE_BUDGET_SHARE
    feedback = read_paper_feedback(run.root.parents[1])
    if not feedback.live.empty:  # live results join the lineage of this run's artifacts
        write_parquet_atomic(feedback.live, run.root / "paper_feedback.parquet")
    inputs = submit(prepare_train_inputs, market, windows, config, feedback)
    pilot = submit(regime_pilot, inputs, REGIMES, np.random.default_rng([config.seed, *PILOT_STREAM])).result()
    evolution = Evolution(plan, inputs, initial_islands(plan, config.windows.folds, pilot.weights),
                          coins=coins, submit=submit, scope=scope)
    events: list[dict] = []

    def emit(event: dict) -> None:
        events.append(event)
        for sink in sinks:
            sink(event)

    stop_note = None
    for event in evolution:
        emit(event)
        if event["event"] != "epoch":
            continue
        write_parquet_atomic(events_frame(events), run.events)  # readable while the run goes on
        if evolution.generation < plan.generations and time.monotonic() - started > budget:
            stop_note = (f"stopped after generation {evolution.generation} of {plan.generations}: evolution's "
                         f"{EVOLVE_BUDGET_SHARE:.0%} share of the {config.hours:g} h budget was spent")
            log.warning(stop_note)
            emit(stamped({"event": "stopped", "generation": evolution.generation,
                          "generations": plan.generations, "reason": "time budget"}))
            break

    evaluated = evolution.evaluated()
    frame = population_frame(evaluated, coins).assign(evaluated=True)
    top = best_per_strategy(frame).head(TOP_BY_REGIME)
    row_of = {int(u): i for i, u in enumerate(evaluated.uid)}
    top_genomes = take(evaluated, np.array([row_of[int(u)] for u in top["uid"]], np.int64))
    by_regime = submit(regime_scores, inputs, REGIMES, top_genomes).result()
    frame = with_regime_sharpe(frame, top["strategy_id"].tolist(), by_regime)
    migrants = evolution.migrants()
    if migrants.uid.size:
        # Migrants are copies, not evaluations: kept for lineage, flagged so nobody counts them twice.
        frame = pd.concat([frame, with_regime_sharpe(population_frame(migrants, coins).assign(evaluated=False),
                                                     top["strategy_id"].tolist(), by_regime)])
    frame = with_parent_ids(frame.sort_values("uid", kind="stable").reset_index(drop=True))
    write_parquet_atomic(frame, run.evolved)
    write_parquet_atomic(events_frame(events), run.events)
    seconds = time.monotonic() - started
    return {
        "evaluations": int(evaluated.uid.size),
        "pilot_evaluations": pilot.evaluations,
        "paper_feedback": {"strategies": len(feedback.live), "retired_penalised": len(feedback.retired)},
        "generations": evolution.generation,
        "generations_planned": plan.generations,
        "islands": plan.islands,
        "population": plan.size,
        "folds": config.windows.folds,
        "seconds": round(seconds, 2),
        "evaluations_per_second": round(evaluated.uid.size / seconds, 1) if seconds > 0 else None,
        "stopped_by_budget": stop_note is not None,
        "stop_note": stop_note,
        "budget_seconds": round(budget, 1),
        "champions": sum(e["event"] == "champion" for e in events),
        "safety_scope": scope.name,
        "violations": sum(e["event"] == "violation" for e in events),
        "archive_coverage": [round(float(e), 4) for e in _island_coverage(events, plan.islands)],
        "regimes": pilot.describe(coins),
        "top_by_regime": [
            {"strategy_id": row.strategy_id, "coin": row.coin, "family": row.family,
             "fitness": round(float(row.fitness), 4),
             **{f"sharpe_{name}": round(float(s), 4) for name, s in zip(REGIME_NAMES, scores)}}
            for row, scores in zip(top.itertuples(), by_regime)
        ],
    }


def _island_coverage(events: list[dict], islands: int) -> list[float]:
    """Each island's archive coverage at its last generation event."""
    latest = {e["island"]: e["archive_coverage"] for e in events if e["event"] == "generation"}
    return [latest[i] for i in range(islands) if i in latest]
