"""No family reads the future: truncating the data after bar t leaves every position up to t unchanged."""
from __future__ import annotations

import numpy as np
import pytest

from kernels.evaluate import Market, positions
from kernels.families import FAMILY_NAMES, N_FAMILIES
from kernels.genome import GENE_DIRECTION, N_GENES
from kernels.lookahead import check_no_lookahead
from market_fixtures import real_market, synthetic_market


@pytest.mark.parametrize("family", range(N_FAMILIES), ids=FAMILY_NAMES)
def test_family_is_causal_at_every_bar(family):
    """Every cut point, so that events that happen at few bars (a learning family's refits) are all cut."""
    market = synthetic_market(700, seed=family)
    rng = np.random.default_rng(100 + family)
    shortest = np.zeros(N_GENES)  # shortest windows, most frequent refits
    for genes in (shortest, *rng.uniform(size=(2, N_GENES))):
        genes[GENE_DIRECTION] = 0.9  # long-short: shorts are checked too
        assert check_no_lookahead(market, family, genes, range(len(market.close))) == []


@pytest.mark.parametrize("family", range(N_FAMILIES), ids=FAMILY_NAMES)
def test_family_is_causal_on_real_data(family, shared_data):
    market = real_market(shared_data, "ETH", n=2500)
    rng = np.random.default_rng(family)
    for genes in rng.uniform(size=(2, N_GENES)):
        genes[GENE_DIRECTION] = 0.9
        assert check_no_lookahead(market, family, genes, rng.integers(0, len(market.close), 20)) == []


def _peeking_positions(market: Market, family: int, genes: np.ndarray, stop: int | None) -> np.ndarray:
    """A dishonest signal: long when the NEXT close is higher (where a next close exists)."""
    close = market.close[:stop]
    out = np.zeros(len(close))
    out[:-1] = np.sign(close[1:] - close[:-1])
    return out


def test_a_peeking_signal_is_caught():
    market = synthetic_market(300, seed=0)
    cuts = [10, 50, 299]
    assert check_no_lookahead(market, 0, np.full(N_GENES, 0.5), cuts, positions_fn=_peeking_positions) == [10, 50]


def test_an_honest_injected_signal_passes():
    market = synthetic_market(300, seed=0)
    assert check_no_lookahead(market, 0, np.full(N_GENES, 0.5), [5, 100], positions_fn=positions) == []


def test_cut_points_outside_the_data_are_rejected():
    market = synthetic_market(50, seed=0)
    with pytest.raises(ValueError, match="cut point"):
        check_no_lookahead(market, 0, np.full(N_GENES, 0.5), [50])
