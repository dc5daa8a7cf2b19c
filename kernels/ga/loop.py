"""One island's evolution epoch: select, vary, evaluate the changed, replace.

Evaluation is injected (``evaluate_fn(population) -> metrics[S, K, M]``): this module never
imports Ray or Prefect, and never sees prices. All randomness comes from the ``rng`` argument, so
an epoch is a pure function of (population, archive, stage, rng state, config, evaluate_fn).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from kernels.archive import Archive, ArchiveConfig, coverage, insert, select_parents
from kernels.ga.champions import ChampionConfig, champion_mask, next_stage, pick_partners, stage_target
from kernels.ga.fitness import FitnessConfig, score
from kernels.ga.nsga2 import objectives_degenerate, rank_and_crowd, select_nsga2, tournament_crowded, tournament_scalar
from kernels.ga.operators import VariationConfig, crossover, ensemble, micro_mutate, mutate
from kernels.ga.population import Population, assign_uids, concat, empty_population, is_evaluated, put, take
from kernels.metrics import N_METRICS

__all__ = ["GAConfig", "EvalLog", "EpochResult", "EvaluateFn", "evolve_epoch", "best_first"]

EvaluateFn = Callable[[Population], np.ndarray]


class GAConfig(NamedTuple):
    """Everything an epoch needs besides its state. Probabilities are per offspring."""
    variation: VariationConfig = VariationConfig()
    fitness: FitnessConfig = FitnessConfig()
    archive: ArchiveConfig = ArchiveConfig()
    champions: ChampionConfig = ChampionConfig()
    p_crossover: float = 0.4        # within-family crossover
    p_ensemble: float = 0.05        # across-family ensemble child (the rest are mutations)
    p_archive_parent: float = 0.2   # first parent drawn from the archive's elites instead of the island
    n_elites: int = 2               # best genomes (by fitness) that always survive
    max_front_share: float = 0.5    # first front above this share: parents by scalar-fitness tournament
    offspring_ratio: float = 1.0    # offspring per generation / population size


class EvalLog(NamedTuple):
    """Every genome evaluated during an epoch, once each, with its fold metrics[S, K, M]."""
    genomes: Population
    metrics: np.ndarray


class EpochResult(NamedTuple):
    """State out: the island's population, the evaluation log, events, archive and stage."""
    population: Population
    log: EvalLog
    events: list[dict]
    archive: Archive
    stage: int


def best_first(pop: Population) -> np.ndarray:
    """Row order feasible first, then by fitness descending, then by uid (deterministic)."""
    return np.lexsort((pop.uid, -np.nan_to_num(pop.fitness, nan=-np.inf), pop.violation))


def _mate(pop: Population, candidates: np.ndarray, rng: np.random.Generator) -> int:
    """Binary tournament on fitness among candidate rows."""
    pair = candidates[rng.integers(candidates.size, size=2)]
    return int(pair[np.argmax(pop.fitness[pair])])


def _breed(pop: Population, archive: Archive, stage: int, rng: np.random.Generator,
           config: GAConfig) -> Population:
    """λ offspring: champion moves first, then crossover / ensemble / mutation children."""
    mu = pop.uid.size
    lam = max(1, int(round(mu * config.offspring_ratio)))
    pool = concat([pop, archive.members])  # rows >= mu are archive members
    rank, crowd = rank_and_crowd(pop.objectives, pop.violation)
    degenerate = objectives_degenerate(pop.objectives, rank, config.max_front_share)
    batches: list[Population] = []

    champs = np.flatnonzero(champion_mask(pop, stage, config.champions))
    if champs.size:
        a = champs[rng.integers(champs.size, size=int(round(lam * config.champions.micro_share)))]
        batches.append(micro_mutate(pool, a, a, rng, config.variation))
        partner = pick_partners(take(pop, champs), archive.members, config.champions)
        has = np.flatnonzero(partner >= 0)
        if has.size:
            pick = has[rng.integers(has.size, size=int(round(lam * config.champions.ensemble_share)))]
            batches.append(ensemble(pool, champs[pick], mu + partner[pick], rng, config.variation))

    n = max(0, lam - sum(b.uid.size for b in batches))
    p_mutate = 1.0 - config.p_crossover - config.p_ensemble
    kind = rng.choice(3, size=n, p=[config.p_crossover, config.p_ensemble, p_mutate])
    if degenerate:
        a = tournament_scalar(pop.fitness, n, rng)
    else:
        a = tournament_crowded(rank, crowd, n, rng)
    from_archive = np.flatnonzero(rng.random(n) < config.p_archive_parent)
    drawn = select_parents(archive, from_archive.size, rng, config.archive)
    a[from_archive[:drawn.size]] = mu + drawn
    b = a.copy()
    for i in np.flatnonzero(kind < 2):
        if kind[i] == 0:
            same = (pop.family == pool.family[a[i]]) & (pop.family_b == pool.family_b[a[i]])
            same &= pop.uid != pool.uid[a[i]]
        else:
            same = pop.family != pool.family[a[i]]
        candidates = np.flatnonzero(same)
        if candidates.size == 0:
            kind[i] = 2
        else:
            b[i] = _mate(pop, candidates, rng)
    for code, op in ((0, crossover), (1, ensemble), (2, mutate)):
        rows = np.flatnonzero(kind == code)
        if rows.size:
            batches.append(op(pool, a[rows], b[rows], rng, config.variation))
    return concat(batches) if batches else empty_population(0, pop.profile.shape[1])


def _survive(pop: Population, mu: int, n_elites: int) -> np.ndarray:
    """Rows of the next population: n_elites best by fitness, NSGA-II for the rest.

    NSGA-II survival keeps the Pareto spread even when parent selection fell back to scalar
    fitness; only a single front (or non-finite objectives) falls back to fitness truncation.
    """
    order = best_first(pop)
    elites = order[:min(n_elites, mu)]
    rest = np.setdiff1d(np.arange(pop.uid.size), elites)
    k = mu - elites.size
    rank = rank_and_crowd(pop.objectives[rest], pop.violation[rest])[0]
    if objectives_degenerate(pop.objectives[rest], rank):
        chosen = order[~np.isin(order, elites)][:k]
    else:
        chosen = rest[select_nsga2(pop.objectives[rest], pop.violation[rest], k)]
    return np.sort(np.concatenate([elites, chosen]))


def _summary(pop: Population) -> dict:
    """Fitness figures of the population and the Sharpe and CAGR of its leader (the fittest feasible
    genome, the fittest if none is feasible): one strategy's figures, not maxima over different genomes
    (the largest CAGR of a population is often a fluke)."""
    feasible = pop.violation == 0.0
    scope = np.flatnonzero(feasible if feasible.any() else np.ones(pop.uid.size, bool))
    leader = scope[np.argmax(np.nan_to_num(pop.fitness[scope], nan=-np.inf))]
    return {
        "best_fitness": float(np.max(pop.fitness)), "median_fitness": float(np.median(pop.fitness)),
        "leader_sharpe": float(pop.sharpe[leader]), "leader_cagr": float(pop.cagr[leader]),
    }


def evolve_epoch(population: Population, evaluate_fn: EvaluateFn, *, generations: int, first_generation: int,
                 island: int, rng: np.random.Generator, config: GAConfig, archive: Archive,
                 stage: int = 0) -> EpochResult:
    """Evolve one island for ``generations`` generations (μ + λ, NSGA-II survival, elitism).

    Pseudocode (P population of size μ, A archive, s champion stage)::

        evaluate the genomes of P without scores;  A <- A + P
        for g in first_generation + 1 .. first_generation + generations:
            O <- micro-mutations of champions (CAGR >= target[s], Sharpe > min)
                 + ensembles of champions with low-correlated high-Sharpe members of A
            while |O| < λ:
                op <- crossover | ensemble | mutate (p_crossover, p_ensemble, rest)
                a  <- crowded binary tournament on P (on scalar fitness when the first front holds
                      more than max_front_share of P: Pareto ranks then carry little pressure),
                      or with p_archive_parent an elite of A weighted by fitness / (1 + children)
                b  <- fitness tournament among P's genomes of a's family (crossover) / other families (ensemble)
                O  <- O + op(a, b)
            evaluate O (the only new genomes; each counted and logged once);  A <- A + O
            P <- the n_elites fittest of P + O, then NSGA-II survivors of the rest up to μ
                 (fitness truncation if they form a single front)
            s <- next_stage(P);  emit "champion" for each champion in O, then "generation"

    A "generation" event also follows the initial evaluation when there was one.
    ``first_generation`` is the generation the population was last updated in (0 after init, the
    migration generation after a migration); children are born in the following generations and
    their uids derive from (island, generation, operator, slot), so islands never collide.
    Events are dicts: {"event": "generation", island, generation, best_fitness, median_fitness,
    leader_sharpe, leader_cagr (_summary), archive_size, archive_coverage, evaluations (cumulative in
    the epoch), stage, champions} and {"event": "champion", island, generation, uid, family, coin, fitness,
    sharpe, cagr, stage, target_cagr}. Wall-clock rates are left to the caller (events stay
    deterministic). Cost per generation: λ evaluations plus O(3 (μ + λ)^2) for sorting.
    """
    mu = population.uid.size
    if mu < 2 or generations < 0:
        raise ValueError(f"population size {mu} must be >= 2 and generations={generations} >= 0")
    if np.any(population.uid < 0) or np.unique(population.uid).size != mu:
        raise ValueError("population uids must be stamped (>= 0) and unique; use init_population / assign_uids")
    if first_generation < int(population.generation.max()):
        raise ValueError(f"first_generation={first_generation} is older than the population's newest "
                         f"genome (generation {int(population.generation.max())}); uids would collide")
    if not (0.0 <= config.p_crossover and 0.0 <= config.p_ensemble and config.p_crossover + config.p_ensemble <= 1.0):
        raise ValueError(f"p_crossover={config.p_crossover} and p_ensemble={config.p_ensemble} must be "
                         "non-negative with a sum <= 1")
    n_folds = population.profile.shape[1]
    logged: list[tuple[Population, np.ndarray]] = []
    events: list[dict] = []

    def evaluate(pop: Population) -> Population:
        metrics = np.asarray(evaluate_fn(pop), dtype=np.float64)
        if metrics.ndim != 3 or metrics.shape[:2] != (pop.uid.size, n_folds) or metrics.shape[2] < N_METRICS:
            raise ValueError(f"evaluate_fn returned shape {metrics.shape}; expected "
                             f"({pop.uid.size}, {n_folds}, >= {N_METRICS})")
        scored = score(pop, metrics, config.fitness)
        logged.append((scored, metrics))
        return scored

    def champion_events(pop: Population, generation: int, stage: int) -> None:
        for i in np.flatnonzero(champion_mask(pop, stage, config.champions)):
            events.append({"event": "champion", "island": island, "generation": generation,
                           "uid": int(pop.uid[i]), "family": int(pop.family[i]), "coin": int(pop.coin[i]),
                           "fitness": float(pop.fitness[i]), "sharpe": float(pop.sharpe[i]),
                           "cagr": float(pop.cagr[i]), "stage": stage,
                           "target_cagr": stage_target(stage, config.champions)})

    def generation_event(pop: Population, generation: int, archive: Archive, stage: int) -> None:
        events.append({"event": "generation", "island": island, "generation": generation, **_summary(pop),
                       "archive_size": int(archive.members.uid.size), "archive_coverage": coverage(archive),
                       "evaluations": int(sum(p.uid.size for p, _ in logged)), "stage": stage,
                       "champions": int(champion_mask(pop, stage, config.champions).sum())})

    pop = population
    todo = np.flatnonzero(~is_evaluated(pop))
    if todo.size:
        pop = put(pop, todo, evaluate(take(pop, todo)))
        champion_events(take(pop, todo), first_generation, stage)
    archive = insert(archive, pop, config.archive)
    if todo.size:
        generation_event(pop, first_generation, archive, stage)

    for generation in range(first_generation + 1, first_generation + generations + 1):
        children = assign_uids(_breed(pop, archive, stage, rng, config), island=island, generation=generation)
        children = evaluate(children)
        archive = insert(archive, children, config.archive)
        champion_events(children, generation, stage)
        combined = concat([pop, children])
        pop = take(combined, _survive(combined, mu, config.n_elites))
        stage = next_stage(pop, stage, config.champions)
        generation_event(pop, generation, archive, stage)

    if logged:
        log = EvalLog(concat([p for p, _ in logged]), np.concatenate([m for _, m in logged]))
    else:
        log = EvalLog(empty_population(0, n_folds), np.zeros((0, n_folds, N_METRICS)))
    return EpochResult(pop, log, events, archive, stage)
