"""The warm-up compiles the variants real runs use, so workers load them from the cache."""
from __future__ import annotations

import numpy as np
from market_fixtures import synthetic_market

from kernels.evaluate import _evaluate_nb, evaluate
from kernels.families.dispatch import positions_1d_nb
from kernels.genome import N_GENES
from kernels.warmup import compile_kernels


def test_warm_up_compiles_the_variant_a_run_then_uses():
    compile_kernels()
    compiled = set(_evaluate_nb.signatures)
    assert len(compiled) == 1 and positions_1d_nb.signatures
    market = synthetic_market(400, seed=1)
    evaluate(market, np.array([0, 11]), np.full((2, N_GENES), 0.5), np.array([100, 399]))
    assert set(_evaluate_nb.signatures) == compiled
