"""No family, and no ensemble of two, reads the future: truncating the data after bar t leaves every position up
to t unchanged."""
from __future__ import annotations

import numpy as np
import pytest
from market_fixtures import real_market, synthetic_market

from kernels.evaluate import Costs, Market, _build_banks, _ensemble_target_1d_nb, _sliced, positions, returns
from kernels.families import FAMILY_NAMES, N_FAMILIES
from kernels.genome import GENE_DIRECTION, N_GENES
from kernels.lookahead import check_no_lookahead


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


def _ensemble_targets(market: Market, families: tuple[int, int], genes: tuple[np.ndarray, np.ndarray],
                      stop: int | None) -> np.ndarray:
    """An ensemble's target positions on bars 0..stop-1 as evaluate() builds them (kernels.evaluate): the
    market's banks from those bars, each member's signal sized by its own risk genes, the two averaged."""
    arrays = _sliced(market, len(market.close) if stop is None else stop)
    (family_a, family_b), (genes_a, genes_b) = families, genes
    banks = _build_banks(arrays, np.array([family_a]), genes_a[None, :], np.array([family_b]), genes_b[None, :])
    out = np.empty(len(arrays[0]))
    _ensemble_target_1d_nb((family_a, family_b), genes_a, genes_b, *arrays, banks, out)
    return out


def _ensemble_members(family: int, rng: np.random.Generator) -> tuple[int, np.ndarray, np.ndarray]:
    """(member b's family, member a's genes, member b's genes), long-short: member a is `family`, member b
    the family 7 ids on, so every family is member a once and member b once."""
    genes_a, genes_b = rng.uniform(size=(2, N_GENES))
    genes_a[GENE_DIRECTION] = genes_b[GENE_DIRECTION] = 0.9
    return (family + N_FAMILIES // 2) % N_FAMILIES, genes_a, genes_b


@pytest.mark.parametrize("family", range(N_FAMILIES), ids=FAMILY_NAMES)
def test_ensemble_is_causal_at_every_bar(family):
    """The ensemble target (banks, both members, averaging) on bars 0..t equals the full-data one up to t."""
    market = synthetic_market(500, seed=200 + family)
    family_b, genes_a, genes_b = _ensemble_members(family, np.random.default_rng(300 + family))
    shortest = np.zeros(N_GENES)  # shortest windows, most frequent refits
    shortest[GENE_DIRECTION] = 0.9
    for a, b in ((genes_a, genes_b), (shortest, shortest.copy())):
        def ensemble_positions(market, family, genes, stop, b=b):
            return _ensemble_targets(market, (family, family_b), (genes, b), stop)

        assert (ensemble_positions(market, family, a, None) != 0.0).any()  # it trades: the check is not vacuous
        assert check_no_lookahead(market, family, a, range(len(market.close)),
                                  positions_fn=ensemble_positions) == []


@pytest.mark.parametrize("family", range(N_FAMILIES), ids=FAMILY_NAMES)
def test_ensemble_returns_up_to_t_do_not_change_when_later_bars_are_cut(family):
    """Through evaluate's own path (returns(): banks, ensemble target, simulator): the per-bar returns of a run
    that stops at bar t equal the full run's up to t."""
    market = synthetic_market(500, seed=400 + family)
    family_b, genes_a, genes_b = _ensemble_members(family, np.random.default_rng(500 + family))
    population = dict(families=np.array([family]), genes=genes_a[None, :], costs=Costs(),
                      families_b=np.array([family_b]), genes_b=genes_b[None, :])
    n = len(market.close)
    full = returns(market, bounds=np.array([0, n - 1]), **population)[0]
    for t in (1, 137, 250, 388, n - 2):
        cut = returns(market, bounds=np.array([0, t]), **population)[0]
        np.testing.assert_array_equal(cut[:t + 1], full[:t + 1])
        assert (cut[t + 1:] == 0.0).all()


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
