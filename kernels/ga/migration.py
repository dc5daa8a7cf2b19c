"""Ring migration between islands (the stepping-stone model: island i sends to island i + 1)."""
from __future__ import annotations

import numpy as np

from kernels.ga.loop import best_first
from kernels.ga.population import OP, Population, assign_uids, concat, empty_population, put, take

__all__ = ["migrate"]


def migrate(islands: list[Population], n_elites: int, *, generation: int) -> tuple[list[Population], Population]:
    """Copy each island's ``n_elites`` best genomes over the next island's ``n_elites`` worst.

    Returns (new islands, migrants). Each island keeps its size. A migrant is a new genome of the
    receiving island: operator migrate, parent_a = the emigrant's uid, uid stamped for
    (receiving island, ``generation``); genes and scores are copied (same data, so no re-evaluation).
    Callers log the migrants alongside the evaluated genomes so lineage stays closed. Emigrants
    and victims are chosen on the islands as they were before any exchange. ``generation`` is the
    last generation of the epoch just finished; pass it as the next epoch's first_generation.
    A single island (or n_elites = 0) changes nothing.
    """
    n_islands = len(islands)
    if n_islands == 0:
        raise ValueError("islands=[] is empty")
    smallest = min(p.uid.size for p in islands)
    if not 0 <= n_elites <= smallest:
        raise ValueError(f"n_elites={n_elites} must be in [0, {smallest}] (the smallest island's size)")
    n_folds = islands[0].profile.shape[1]
    if n_islands == 1 or n_elites == 0:
        return list(islands), empty_population(0, n_folds)
    orders = [best_first(p) for p in islands]
    out, migrants = [], []
    for dest in range(n_islands):
        src = (dest - 1) % n_islands
        emigrants = take(islands[src], orders[src][:n_elites])
        arrivals = emigrants._replace(parent_a=emigrants.uid.copy(), parent_b=np.full(n_elites, -1, np.int64),
                                      operator=np.full(n_elites, OP.migrate, np.int64))
        arrivals = assign_uids(arrivals, island=dest, generation=generation)
        victims = orders[dest][::-1][:n_elites]
        out.append(put(islands[dest], victims, arrivals))
        migrants.append(arrivals)
    return out, concat(migrants)
