"""The 14 families: bounds tables, decoded parameters, position ranges, and their learning building blocks."""
from __future__ import annotations

import numpy as np
import pytest
from market_fixtures import real_market, synthetic_market, truncated

from kernels.evaluate import positions
from kernels.families import BOUNDS, FAMILY_NAMES, KERNELS, N_FAMILIES, decode_params
from kernels.families.dispatch import positions_1d_nb
from kernels.families.ema_crossover import ema_bank_nb, ema_crossover_1d_nb, ema_crossover_from_bank_1d_nb
from kernels.families.linear_classifier import fit_ridge_nb
from kernels.genome import GENE_DIRECTION, GENE_LEVERAGE, KIND_INT, N_FAMILY_GENES, N_GENES, decode_risk_nb
from kernels.indicators import ema_1d_nb
from kernels.learn.features import LABEL, N_FEATURES, N_MOMENTS, learning_bank_nb
from kernels.learn.linalg import solve_spd_nb, symmetric_eigen_nb
from kernels.learn.order_statistics import kth_smallest_nb
from kernels.learn.regression_tree import grow_tree_nb, new_tree_scratch_nb

FAMILIES = list(range(N_FAMILIES))
RNG_GENES = np.random.default_rng(7).uniform(size=(20, N_GENES))


def test_family_ids_follow_the_contract_order():
    assert FAMILY_NAMES == (
        "ema_crossover", "donchian_breakout", "rsi_filter", "stochastic", "sma_trend", "atr_breakout", "ichimoku",
        "vwap_reversion", "vol_scaling", "funding_carry", "linear_classifier", "pca_tree_quantile", "bollinger",
        "nadaraya_watson")
    assert [k.__name__ for k in KERNELS] == [f"{name}_1d_nb" for name in FAMILY_NAMES]


@pytest.mark.parametrize("family", FAMILIES)
def test_bounds_table_is_well_formed(family):
    table = BOUNDS[family]
    assert 1 <= len(table) <= N_FAMILY_GENES
    assert len({spec.name for spec in table}) == len(table)
    assert all(spec.low <= spec.high for spec in table)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("genes", [np.zeros(N_GENES), np.ones(N_GENES), *RNG_GENES[:5]], ids=lambda g: str(g[0])[:5])
def test_decoded_parameters_stay_in_bounds(family, genes):
    params = decode_params(family, genes)
    for spec in BOUNDS[family]:
        value = params[spec.name]
        assert spec.low <= value <= spec.high, (spec, value)
        if spec.kind == KIND_INT:
            assert isinstance(value, int)
    assert 0.25 <= params["leverage"] <= 3.0
    assert params["stop_loss"] == 0.0 or 0.005 <= params["stop_loss"] <= 0.20
    assert params["take_profit"] == 0.0 or 0.01 <= params["take_profit"] <= 0.50


def test_gene_ends_reach_the_bounds():
    low, high = decode_params(0, np.zeros(N_GENES)), decode_params(0, np.ones(N_GENES))
    assert (low["fast_window"], high["fast_window"]) == (5, 50)
    assert (low["leverage"], high["leverage"]) == pytest.approx((0.25, 3.0))
    assert low["stop_loss"] == 0.0 and high["stop_loss"] == pytest.approx(0.20)
    assert low["long_short"] == 0 and high["long_short"] == 1


def test_int_genes_split_the_unit_interval_evenly():
    counts = np.bincount([decode_params(4, np.r_[np.zeros(4), g, np.zeros(7)])["fast_window"] - 20
                          for g in np.linspace(0, 1, 8100)])
    assert counts.min() >= 98 and counts.max() <= 102  # 81 values, ~100 each


def test_decode_params_rejects_bad_input():
    with pytest.raises(ValueError, match="family"):
        decode_params(N_FAMILIES, np.zeros(N_GENES))
    with pytest.raises(ValueError, match="genes"):
        decode_params(0, np.full(N_GENES, 1.5))


@pytest.fixture(scope="module")
def market():
    return synthetic_market(1500, seed=3)


@pytest.mark.parametrize("family", FAMILIES)
def test_positions_are_finite_within_leverage_and_long_only_is_never_short(family, market):
    for genes in RNG_GENES[:6]:
        for direction in (0.2, 0.8):
            genes = genes.copy()
            genes[GENE_DIRECTION] = direction
            leverage, _, _, long_short = decode_risk_nb(genes)
            pos = positions(market, family, genes)
            assert np.isfinite(pos).all()
            assert np.all(np.abs(pos) <= leverage * (1 + 1e-12))
            if not long_short:
                assert pos.min() >= 0.0


@pytest.mark.parametrize("n", [1, 2, 5, 30])
def test_markets_shorter_than_any_window_give_finite_flat_positions(n):
    market = truncated(synthetic_market(40, seed=2), n)
    for family in FAMILIES:
        for genes in (np.zeros(N_GENES), np.ones(N_GENES)):
            pos = positions(market, family, genes)
            assert len(pos) == n and np.isfinite(pos).all()
            if n == 1:  # every family needs at least 2 bars (funding carry's shortest persistence)
                assert pos[0] == 0.0


@pytest.mark.parametrize("family", FAMILIES)
def test_dispatch_is_the_family_kernel_clipped_and_levered(family, market):
    genes = RNG_GENES[family].copy()
    genes[GENE_DIRECTION] = 0.1  # long-only
    signal = np.empty(len(market.close))
    KERNELS[family](genes, *market[:6], signal)
    assert np.all(np.abs(signal) <= 1.0)
    leverage = decode_risk_nb(genes)[0]
    np.testing.assert_array_equal(positions(market, family, genes), np.clip(signal, 0.0, 1.0) * leverage)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_trades_real_data_for_some_genome(family, shared_data):
    market = real_market(shared_data, "BTC", n=4000)  # the last 4000 bars: real funding history
    active = [np.mean(positions(market, family, g) != 0.0) for g in RNG_GENES[:8]]
    assert max(active) > 0.02, active


def test_funding_carry_shorts_persistently_high_funding():
    n = 100
    market = synthetic_market(n, seed=1)._replace(funding=np.r_[np.zeros(50), np.full(50, 1e-3)])
    genes = np.full(N_GENES, 0.5)
    genes[GENE_DIRECTION], genes[GENE_LEVERAGE] = 0.9, 0.0  # long-short, leverage 0.25
    pos = positions(market, FAMILY_NAMES.index("funding_carry"), genes)
    persistence = decode_params(9, genes)["persistence"]
    assert np.all(pos[:50] == 0.0)
    assert np.all(pos[50 + persistence - 1:] == -0.25) and pos[50 + persistence - 2] == 0.0


def test_ema_bank_gives_bit_identical_signals(market):
    close = market.close
    windows = np.arange(5, 201)
    bank = ema_bank_nb(close, windows)
    row = np.full(201, -1)
    row[windows] = np.arange(len(windows))
    for genes in RNG_GENES:
        direct, banked = np.empty(len(close)), np.empty(len(close))
        ema_crossover_1d_nb(genes, *market[:6], direct)
        ema_crossover_from_bank_1d_nb(genes, bank, row, banked)
        np.testing.assert_array_equal(direct, banked)


@pytest.mark.parametrize("windows", [[7], [1, 3, 250], [5, 9, 13, 40, 41], list(range(5, 14))])
def test_ema_bank_rows_equal_ema_1d_bit_for_bit(market, windows):
    """The bank computes EMAs four at a time; each row must still be ema_1d_nb's, warm-up NaNs included
    (window 250 is longer than the 240 bars: all NaN)."""
    close = market.close[:240]
    bank = ema_bank_nb(close, np.array(windows, dtype=np.int64))
    assert bank.shape == (len(windows), len(close))
    for row, window in zip(bank, windows):
        expected = np.empty(len(close))
        ema_1d_nb(close, window, expected)
        np.testing.assert_array_equal(row, expected)


def test_ema_bank_rejects_a_window_below_one(market):
    with pytest.raises(ValueError, match="windows must be >= 1"):
        ema_bank_nb(market.close, np.array([5, 0]))


def test_moment_bank_equals_direct_window_sums(market):
    x, y, usable, cum = learning_bank_nb(market.high, market.low, market.close, market.volume)
    assert x.shape == (N_FEATURES, len(market.close)) and cum.shape == (len(market.close) + 1, N_MOMENTS, N_MOMENTS)
    assert not usable[:168].any() and usable[200:-1].all() and not usable[-1]  # warm-up; last label unknown
    t, lookback = 900, 300
    e = np.vstack([np.ones(lookback), x[:, t - lookback:t], y[t - lookback:t]])
    np.testing.assert_allclose(cum[t] - cum[t - lookback], e @ e.T, rtol=1e-9, atol=1e-9)


def test_ridge_fit_matches_numpy_normal_equations():
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=(n, N_FEATURES))
    w_true = rng.normal(size=N_FEATURES)
    y = 0.3 + x @ w_true + rng.normal(0, 0.1, n)
    e = np.column_stack([np.ones(n), x, y])
    w = np.empty(N_FEATURES + 1)
    assert fit_ridge_nb(e.T @ e, 0.5, w)
    a = np.column_stack([np.ones(n), x])
    penalty = 0.5 * np.diag(np.r_[0.0, np.ones(N_FEATURES)])
    expected = np.linalg.solve(a.T @ a / n + penalty, a.T @ y / n)
    np.testing.assert_allclose(w, expected, rtol=1e-10)
    assert e.shape[1] == LABEL + 1


def test_solve_spd_refuses_a_singular_matrix():
    out = np.full(2, 7.0)
    assert not solve_spd_nb(np.ones((2, 2)), np.ones(2), out)
    assert (out == 7.0).all()


@pytest.mark.parametrize("d", [1, 2, 5, 8])
@pytest.mark.parametrize("kind", ["full", "rank_deficient", "repeated", "diagonal"])
def test_symmetric_eigen_matches_numpy(d, kind):
    rng = np.random.default_rng(d)
    for _ in range(20):
        b = rng.normal(size=(d, 3 * d if kind == "full" else max(d // 2, 1)))
        a = {"full": b @ b.T, "rank_deficient": b @ b.T, "repeated": np.eye(d) + 0.0 * b[:, :1],
             "diagonal": np.diag(rng.normal(size=d))}[kind]
        values, vectors = np.empty(d), np.empty((d, d))
        symmetric_eigen_nb(a.copy(), values, vectors)
        np.testing.assert_allclose(values, np.linalg.eigvalsh(a)[::-1], atol=1e-12)
        np.testing.assert_allclose(a @ vectors, vectors * values, atol=1e-10)
        np.testing.assert_allclose(vectors.T @ vectors, np.eye(d), atol=1e-12)


@pytest.mark.parametrize("kind", ["ties", "normal", "outlier", "geometric", "sorted"])
def test_kth_smallest_matches_sorting(kind):
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 500))
        a = {"ties": rng.integers(0, 4, n).astype(float), "normal": rng.normal(size=n),
             "outlier": np.r_[rng.normal(size=n - 1), 1e12], "geometric": 0.5 ** np.arange(n),
             "sorted": np.sort(rng.normal(size=n))}[kind]
        k = int(rng.integers(0, n))
        assert kth_smallest_nb(a.reshape(1, 1, -1), 0, 0, 0, n, k, np.mean(a), np.std(a)) == np.sort(a)[k]


def test_tree_finds_a_planted_quantile_pattern():
    """y is high only where component 1 is in its top 30 %: the tree must split there and predict it."""
    rng = np.random.default_rng(0)
    n = 400
    z = rng.normal(size=(3, n))
    y = np.where(z[1] > np.quantile(z[1], 0.7), 1.0, -0.2) + rng.normal(0, 0.05, n)
    comp, thr, value = np.full(7, -1), np.empty(7), np.empty(7)
    tree = new_tree_scratch_nb(3, 7, n)
    tree.rows[0] = np.vstack([z, y])
    tree.sums[0] = np.column_stack([z.sum(axis=1), (z ** 2).sum(axis=1), (z * y).sum(axis=1)])
    tree.label_sums[0] = y.sum()
    grow_tree_nb(tree, n, 2, 0.7, 10, comp, thr, value)
    assert comp[0] == 1
    hits = np.empty(n)
    for i in range(n):
        node = 0
        for _ in range(2):
            node = 2 * node + 1 + int(z[comp[node], i] > thr[node])
        hits[i] = value[node]
    assert np.corrcoef(hits, y)[0, 1] > 0.95


def test_positions_kernel_rejects_an_unknown_family(market):
    with pytest.raises(ValueError):
        positions_1d_nb(N_FAMILIES, np.zeros(N_GENES), *market[:6], np.empty(len(market.close)))
