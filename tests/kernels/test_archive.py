"""MAP-Elites archive: one elite per cell, compaction keeps elites and ancestors, parent weights."""
from __future__ import annotations

import numpy as np
import pytest

from kernels.archive import (ArchiveConfig, cell_index, compact, coverage, elite_rows, empty_archive, insert, merge,
                             select_parents)
from kernels.ga.population import empty_population

CFG = ArchiveConfig(bins=(2, 2, 1), max_size=100)


def _genomes(uid, fitness, descriptors, parent_a=None, parent_b=None, violation=None):
    n = len(uid)
    pop = empty_population(n, 2)
    return pop._replace(
        uid=np.asarray(uid, np.int64), fitness=np.asarray(fitness, float),
        descriptors=np.asarray(descriptors, float),
        violation=np.zeros(n) if violation is None else np.asarray(violation, float),
        parent_a=np.full(n, -1, np.int64) if parent_a is None else np.asarray(parent_a, np.int64),
        parent_b=np.full(n, -1, np.int64) if parent_b is None else np.asarray(parent_b, np.int64))


LOW, HIGH = [0.1, 0.1, 0.5], [0.9, 0.1, 0.5]  # two different cells


def test_cell_index_bins_descriptors() -> None:
    cfg = ArchiveConfig(bins=(4, 2, 3))
    d = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.3, 0.6, 0.5]])
    assert cell_index(d, cfg).tolist() == [0, 23, 1 * 6 + 1 * 3 + 1]
    with pytest.raises(ValueError, match="bins"):
        cell_index(d, ArchiveConfig(bins=(4, 0, 3)))


def test_insert_keeps_the_best_feasible_genome_per_cell() -> None:
    arch = insert(empty_archive(CFG, 2), _genomes([1, 2, 3], [1.0, 2.0, 5.0], [LOW, LOW, HIGH], violation=[0, 0, 1]),
                  CFG)
    assert arch.members.uid.size == 3 and coverage(arch) == 0.25  # the infeasible genome is stored, not an elite
    assert arch.members.uid[elite_rows(arch)].tolist() == [2]
    arch = insert(arch, _genomes([4, 2], [3.0, 2.0], [LOW, LOW]), CFG)  # uid 2 again: skipped
    assert arch.members.uid.size == 4 and arch.members.uid[elite_rows(arch)].tolist() == [4]
    unevaluated = empty_population(1, 2)._replace(uid=np.array([9]))
    assert insert(arch, unevaluated, CFG) is arch


def test_children_are_counted_for_archived_parents() -> None:
    arch = insert(empty_archive(CFG, 2), _genomes([1, 2], [1.0, 1.0], [LOW, HIGH]), CFG)
    arch = insert(arch, _genomes([3, 4], [0.0, 0.0], [LOW, LOW], parent_a=[1, 1], parent_b=[2, 77]), CFG)
    assert dict(zip(arch.members.uid.tolist(), arch.children.tolist())) == {1: 2, 2: 1, 3: 0, 4: 0}


def test_compaction_keeps_elites_and_all_their_ancestors() -> None:
    cfg = ArchiveConfig(bins=(2, 2, 1), max_size=6)
    # chain 1 -> 2 -> 3 (elite of LOW, via parent_b too), 10 elite of HIGH with parent 11; 20..24 junk
    pop = _genomes([1, 2, 11, 20, 21, 22, 23, 24, 3, 10],
                   [-5.0, -4.0, -3.0, 0.1, 0.2, 0.3, 0.4, 0.5, 9.0, 8.0],
                   [LOW, LOW, HIGH, LOW, LOW, LOW, LOW, LOW, LOW, HIGH],
                   parent_a=[-1, 1, -1, -1, -1, -1, -1, -1, 20, 11], parent_b=[-1, -1, -1, -1, -1, -1, -1, -1, 2, -1])
    arch = insert(empty_archive(cfg, 2), pop, cfg)  # 10 members > 6: compacted
    kept = set(arch.members.uid.tolist())
    assert {3, 10, 2, 1, 20, 11} <= kept and len(kept) == 6
    assert sorted(arch.members.uid[elite_rows(arch)].tolist()) == [3, 10]
    roomy = compact(arch, cfg._replace(max_size=20))
    assert set(roomy.members.uid.tolist()) == kept


def test_parent_selection_favours_fit_and_unexploited_elites() -> None:
    cfg = ArchiveConfig(bins=(2, 2, 1), selection_pressure=2.0)
    arch = insert(empty_archive(cfg, 2), _genomes([1, 2, 3], [2.0, 0.0, 2.0], [LOW, HIGH, [0.1, 0.9, 0.5]]), cfg)
    arch = arch._replace(children=np.array([0, 0, 30]))
    picks = arch.members.uid[select_parents(arch, 3000, np.random.default_rng(0), cfg)]
    counts = {u: int((picks == u).sum()) for u in (1, 2, 3)}
    assert counts[1] > counts[2] > counts[3] > 0
    assert select_parents(empty_archive(cfg, 2), 5, np.random.default_rng(0), cfg).size == 0


def test_merge_deduplicates_and_reelects() -> None:
    base = insert(empty_archive(CFG, 2), _genomes([1], [1.0], [LOW]), CFG)
    a = insert(base, _genomes([2], [3.0], [LOW], parent_a=[1]), CFG)
    b = insert(base, _genomes([3, 4], [0.5, 0.5], [HIGH, LOW], parent_a=[1, 1]), CFG)
    merged = merge([a, b], CFG)
    assert merged.members.uid.tolist() == [1, 2, 3, 4]
    assert merged.children.tolist() == [2, 0, 0, 0]
    assert sorted(merged.members.uid[elite_rows(merged)].tolist()) == [2, 3] and coverage(merged) == 0.5
