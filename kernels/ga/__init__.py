"""Genetic-algorithm kernels on arrays (numpy; numba for the NSGA-II sort).

Modules, one concept each (import from them directly; kernels.archive depends on population, and
the loop on the archive, so this package re-exports nothing to keep imports acyclic):

- population: the Population NamedTuple, operator codes, deterministic uids, take/put/concat.
- operators: Latin-hypercube init and the variation operators (one shared contract).
- nsga2: constrained non-dominated sort, crowding distance, tournaments (Deb et al. 2002).
- fitness: walk-forward fitness, objectives and behaviour descriptors from fold metrics.
- champions: staged CAGR targets, champion detection, low-correlation partners.
- loop: evolve_epoch, one island's epoch with an injected evaluate_fn.
- migration: ring migration between islands.
"""

__all__: list[str] = []
