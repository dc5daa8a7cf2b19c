"""evaluate(): the same numbers as positions + simulate genome by genome, and blind to bars after bounds[-1]."""
from __future__ import annotations

import numba
import numpy as np
import pytest
from market_fixtures import real_market, synthetic_market

from kernels.evaluate import Costs, Market, _least_loaded_blocks_nb, _thread_blocks, evaluate, positions, returns
from kernels.families import FAMILY_NAMES, N_FAMILIES
from kernels.genome import N_GENES, decode_risk_nb
from kernels.metrics import N_METRICS
from kernels.simulate import simulate_1d_nb

COSTS = Costs(fee=0.0005, slippage=0.0002)


def _population(seed: int, per_family: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    families = np.repeat(np.arange(N_FAMILIES), per_family)
    rng.shuffle(families)
    return families, rng.uniform(size=(len(families), N_GENES))  # stop genes < 0.25 are off: both cases occur


def _one_by_one(market: Market, families, genes, bounds, costs=COSTS, families_b=None,
                genes_b=None) -> tuple[np.ndarray, np.ndarray]:
    """The reference: positions of each genome (the mean of both members for an ensemble), then the
    simulator with member a's stops, on the market cut after bounds[-1]."""
    stop = bounds[-1] + 1
    metrics = np.empty((len(families), len(bounds) - 1, N_METRICS))
    rets = np.zeros((len(families), len(market.close)))
    o, h, lo, c, _, f = (a[:stop] for a in market[:6])
    for i, (family, g) in enumerate(zip(families, genes)):
        target = positions(market, family, g, stop)
        if families_b is not None and families_b[i] >= 0:
            target = 0.5 * (target + positions(market, families_b[i], genes_b[i], stop))
        _, stop_loss, take_profit, _ = decode_risk_nb(g)
        simulate_1d_nb(target, o, h, lo, c, f, bounds, stop_loss, take_profit,
                       costs.fee, costs.slippage, market.bars_per_year, metrics[i], rets[i, :stop])
    return metrics, rets


@pytest.fixture(scope="module")
def market() -> Market:
    return synthetic_market(1500, seed=11)


@pytest.mark.parametrize("bounds", [[300, 1499], [250, 700, 1100, 1400]])
def test_evaluate_equals_positions_then_simulate(market, bounds):
    families, genes = _population(seed=len(bounds))
    bounds = np.array(bounds)
    expected, _ = _one_by_one(market, families, genes, bounds)
    np.testing.assert_array_equal(evaluate(market, families, genes, bounds, COSTS), expected)


def test_evaluate_equals_positions_then_simulate_on_real_data(shared_data):
    market = real_market(shared_data, "SOL", n=3000)
    families, genes = _population(seed=5, per_family=1)
    bounds = np.array([500, 1800, 2999])
    np.testing.assert_array_equal(evaluate(market, families, genes, bounds, COSTS),
                                  _one_by_one(market, families, genes, bounds)[0])


def test_ensembles_average_their_members_targets_and_stop_on_member_a(market):
    families, genes = _population(seed=3)
    rng = np.random.default_rng(4)
    families_b = np.where(rng.uniform(size=len(families)) < 0.5, -1, rng.permutation(families))
    genes_b = rng.uniform(size=genes.shape)
    bounds = np.array([300, 900, 1499])
    expected, expected_returns = _one_by_one(market, families, genes, bounds, COSTS, families_b, genes_b)
    kwargs = dict(families_b=families_b, genes_b=genes_b)
    np.testing.assert_array_equal(evaluate(market, families, genes, bounds, COSTS, **kwargs), expected)
    np.testing.assert_array_equal(returns(market, families, genes, bounds, COSTS, **kwargs), expected_returns)
    ordinary = families_b < 0
    np.testing.assert_array_equal(evaluate(market, families, genes, bounds, COSTS)[ordinary], expected[ordinary])


def test_an_ensembles_positions_are_the_mean_of_its_members_positions(market):
    """positions() of an ensemble (validation's look-ahead test and the paper trader read it) is the target
    evaluate() trades: the mean of both members' sized targets."""
    families, genes = _population(seed=6, per_family=1)
    rng = np.random.default_rng(7)
    for family, g, family_b, g_b in zip(families, genes, rng.permutation(families), rng.uniform(size=genes.shape)):
        members = 0.5 * (positions(market, family, g, 1200) + positions(market, family_b, g_b, 1200))
        np.testing.assert_array_equal(positions(market, family, g, 1200, family_b=family_b, genes_b=g_b), members)
    with pytest.raises(ValueError, match="genes_b are missing"):
        positions(market, families[0], genes[0], family_b=families[1])


@pytest.mark.parametrize("poison", [np.nan, 1e300, -1.0, 0.0])
def test_evaluate_never_reads_after_the_last_bound(market, poison):
    families, genes = _population(seed=1)
    bounds = np.array([200, 600, 999])
    clean = evaluate(market, families, genes, bounds, COSTS)
    poisoned = Market(*(np.r_[a[:1000], np.full(500, poison)] for a in market[:6]), market.bars_per_year)
    np.testing.assert_array_equal(evaluate(poisoned, families, genes, bounds, COSTS), clean)


def test_returns_are_the_simulators_per_bar_returns(market):
    families, genes = _population(seed=2, per_family=1)
    bounds = np.array([300, 900, 1200])
    expected_metrics, expected = _one_by_one(market, families, genes, bounds)
    out = returns(market, families, genes, bounds, COSTS)
    assert out.shape == (len(families), len(market.close))
    np.testing.assert_array_equal(out, expected)
    assert np.all(out[:, 1201:] == 0.0) and np.all(out[:, :300] == 0.0)
    total = np.prod(1.0 + out[:, 901:1201], axis=1) - 1.0  # segment 1: bars (900, 1200]
    np.testing.assert_allclose(total, expected_metrics[:, 1, 0], rtol=1e-9, atol=1e-12)


def test_positions_with_stop_use_only_the_first_bars(market):
    full = positions(market, 3, np.full(N_GENES, 0.3))
    cut = positions(market, 3, np.full(N_GENES, 0.3), stop=800)
    assert len(full) == len(market.close) and len(cut) == 800
    np.testing.assert_array_equal(cut, full[:800])


def test_empty_population_gives_an_empty_table(market):
    out = evaluate(market, np.empty(0, np.int64), np.empty((0, N_GENES)), np.array([10, 20, 30]))
    assert out.shape == (0, 2, N_METRICS)


def test_default_costs_are_hyperliquid_base_taker_fee_and_one_bp_slippage():
    assert Costs() == (0.00045, 0.0001)


@pytest.mark.parametrize("change,match", [
    (dict(families=np.array([N_FAMILIES])), "families"),
    (dict(genes=np.full((1, N_GENES), 1.1)), "genes"),
    (dict(genes=np.full((1, N_GENES - 1), 0.5)), "genes"),
    (dict(bounds=np.array([5])), "bounds"),
    (dict(bounds=np.array([5, 5])), "bounds"),
    (dict(bounds=np.array([5, 1500])), "bounds"),
    (dict(families_b=np.array([-2]), genes_b=np.full((1, N_GENES), 0.5)), "families_b"),
    (dict(families_b=np.array([1]), genes_b=np.full((1, N_GENES), -0.1)), "genes_b"),
])
def test_bad_population_or_bounds_raise(market, change, match):
    args = dict(families=np.array([0]), genes=np.full((1, N_GENES), 0.5), bounds=np.array([10, 100]))
    args.update(change)
    with pytest.raises(ValueError, match=match):
        evaluate(market, args.pop("families"), args.pop("genes"), args.pop("bounds"), **args)


def test_bad_market_raises(market):
    one = (np.array([0]), np.full((1, N_GENES), 0.5), np.array([10, 100]))
    with pytest.raises(ValueError, match="market.volume"):
        evaluate(market._replace(volume=market.volume[:-1]), *one)
    with pytest.raises(ValueError, match="market.close"):
        evaluate(market._replace(close=np.r_[market.close[:50], np.nan, market.close[51:]]), *one)
    with pytest.raises(ValueError, match="bars_per_year"):
        evaluate(market._replace(bars_per_year=0.0), *one)
    with pytest.raises(ValueError, match="stop"):
        positions(market, 0, np.full(N_GENES, 0.5), stop=0)


def test_read_only_inputs_and_returns_reuse_the_one_compiled_variant():
    """Parquet columns and Ray's object store hand out read-only arrays; each distinct argument type
    costs a full compile of the parallel kernel (~45 s cold), so every entry point must normalise."""
    from kernels.evaluate import _evaluate_nb

    market = synthetic_market(300, seed=3)
    families, genes = _population(5, per_family=1)
    bounds = np.array([20, 150, 299])
    evaluate(market, families, genes, bounds, COSTS)
    variants = len(_evaluate_nb.signatures)
    frozen = Market(*(np.frombuffer(a.tobytes()) for a in market[:6]), market.bars_per_year)
    assert not frozen.close.flags.writeable
    read_only_genes = genes.copy()
    read_only_genes.flags.writeable = False
    read_only_bounds = bounds.copy()
    read_only_bounds.flags.writeable = False
    got = evaluate(frozen, families, read_only_genes, read_only_bounds, COSTS)
    returns(frozen, families, read_only_genes, np.array([20, 150]), COSTS)  # a window short of the last bar
    assert len(_evaluate_nb.signatures) == variants
    np.testing.assert_array_equal(got, evaluate(market, families, genes, bounds, COSTS))


@pytest.mark.parametrize("blocks", [1, 2, 3, 8])
def test_least_loaded_blocks_partition_the_items_and_balance_their_cost(blocks):
    cost = np.random.default_rng(blocks).lognormal(0.0, 1.5, size=200)
    order, starts = _least_loaded_blocks_nb(cost, blocks)
    assert sorted(order) == list(range(200)) and starts[0] == 0 and starts[-1] == 200
    assert np.all(np.diff(starts) >= 0)
    loads = np.array([cost[order[a:b]].sum() for a, b in zip(starts[:-1], starts[1:])])
    assert loads.max() - loads.min() <= cost.max()  # longest-first greedy: within one item of each other
    for a, b in zip(starts[:-1], starts[1:]):
        assert np.all(np.diff(order[a:b]) > 0)  # each block keeps the input order


def test_thread_blocks_spread_the_costly_genomes_over_the_threads():
    families = np.r_[np.full(10, FAMILY_NAMES.index("pca_tree_quantile")), np.zeros(30, dtype=np.int64)]
    genes = np.random.default_rng(3).uniform(size=(40, N_GENES))
    order, starts = _thread_blocks(families, genes, np.full(40, -1), genes, 8760, 2)
    first, second = families[order[starts[0]:starts[1]]], families[order[starts[1]:starts[2]]]
    assert len(first) + len(second) == 40
    assert abs((first != 0).sum() - (second != 0).sum()) <= 2


def test_results_do_not_depend_on_the_number_of_threads(market):
    families, genes = _population(seed=9)
    bounds = np.array([300, 1499])
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = evaluate(market, families, genes, bounds, COSTS)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(evaluate(market, families, genes, bounds, COSTS), one)
