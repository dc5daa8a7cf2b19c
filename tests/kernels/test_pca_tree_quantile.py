"""pca_tree_quantile's building blocks (kernels.learn: order statistics, PCA, regression tree, and the family's
glue) against slow numpy references, and the whole family against one."""
from __future__ import annotations

import numpy as np
import pytest
from market_fixtures import synthetic_market

from kernels.families.pca_tree_quantile import (_BOUNDS, MIN_SAMPLES, _predict_segment_nb, _prediction_tree_nb,
                                                _root_sums_nb, _training_set_nb, cost_estimate_nb,
                                                pca_tree_quantile_from_bank_1d_nb)
from kernels.genome import FIRST_FAMILY_GENE, N_GENES, param_nb
from kernels.learn.features import N_FEATURES, learning_bank_nb, signal_from_score_nb, window_moments_nb
from kernels.learn.order_statistics import kth_smallest_nb
from kernels.learn.pca import fit_pca_nb, new_pca_scratch_nb, standardise_nb
from kernels.learn.regression_tree import (_label_sums_nb, _left_sums_nb, _partition_nb, grow_tree_nb,
                                           new_tree_scratch_nb)


@pytest.fixture(scope="module")
def bank():
    market = synthetic_market(3000, seed=3)
    return learning_bank_nb(market.high, market.low, market.close, market.volume)


def _values(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    return {"ties": rng.integers(0, 4, n).astype(float), "normal": rng.normal(size=n),
            "fat": rng.standard_t(2, size=n), "outlier": np.r_[rng.normal(size=n - 1), 1e12],
            "geometric": 0.5 ** np.arange(n), "sorted": np.sort(rng.normal(size=n))}[kind]


@pytest.mark.parametrize("kind", ["ties", "normal", "fat", "outlier", "geometric", "sorted"])
@pytest.mark.parametrize("guess", ["moments", "far", "no_spread"])
def test_kth_smallest_matches_sorting_in_a_buffer_slice(kind, guess):
    """Exact whatever the starting guess; reads only its slice of its buffer's row."""
    rng = np.random.default_rng(1)
    for _ in range(100):
        n = int(rng.integers(1, 400))
        values = _values(kind, n, rng)
        rows = rng.normal(size=(2, 3, n + 7))
        a = int(rng.integers(0, 8))
        rows[1, 2, a:a + n] = values
        k = int(rng.integers(0, n))
        mean, std = values.mean(), values.std()
        start, spread = {"moments": (mean, 0.25 * std), "far": (mean + 100.0 * std + 1.0, 0.25 * std),
                         "no_spread": (mean, 0.0)}[guess]
        assert kth_smallest_nb(rows, 1, 2, a, n, k, start, spread) == np.sort(values)[k]


def test_partition_is_stable_and_stays_in_its_range():
    rng = np.random.default_rng(2)
    for _ in range(50):
        n_rows, n = int(rng.integers(2, 7)), int(rng.integers(1, 300))
        rows = rng.normal(size=(2, n_rows, n + 10))
        before = rows.copy()
        buf, a, c = int(rng.integers(0, 2)), int(rng.integers(0, 10)), int(rng.integers(0, n_rows))
        m = n + 10 - a - int(rng.integers(0, 10 - a + 1))
        threshold = np.quantile(rows[buf, c, a:a + m], rng.uniform())
        left = rows[buf, c, a:a + m] <= threshold
        _partition_nb(rows, buf, a, m, c, threshold, int(left.sum()), np.empty(m, dtype=np.uint64))
        src = before[buf, :, a:a + m]
        np.testing.assert_array_equal(rows[1 - buf, :, a:a + m], np.hstack([src[:, left], src[:, ~left]]))
        np.testing.assert_array_equal(rows[buf], before[buf])  # source untouched
        outside = np.ones(n + 10, dtype=bool)
        outside[a:a + m] = False
        np.testing.assert_array_equal(rows[1 - buf][:, outside], before[1 - buf][:, outside])


def test_child_sums_match_numpy():
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(2, 4, 200))
    a, m, key, threshold = 17, 150, 1, 0.3
    z, labels = rows[1, :, a:a + m], rows[1, 3, a:a + m]
    left = z[key] <= threshold
    n_left, sum_left, sum_right = _label_sums_nb(rows, 1, key, a, m, threshold)
    assert n_left == left.sum()
    np.testing.assert_allclose([sum_left, sum_right], [labels[left].sum(), labels[~left].sum()], rtol=1e-12)
    for r in range(3):
        expected = [z[r, left].sum(), (z[r, left] ** 2).sum(), (z[r, left] * labels[left]).sum()]
        np.testing.assert_allclose(_left_sums_nb(rows, 1, r, key, a, m, threshold), expected, rtol=1e-12)


def _refit(bank, t: int, lookback: int, n_comp: int):
    """standardise_nb, fit_pca_nb and _training_set_nb at bar t: (pca scratch, weights, bias, training rows,
    count)."""
    x, y, usable, cum = bank
    pca, weights, bias = new_pca_scratch_nb(), np.empty((n_comp, N_FEATURES)), np.empty(n_comp)
    window_moments_nb(cum, t, lookback, pca.moments)
    assert standardise_nb(pca, MIN_SAMPLES)
    fit_pca_nb(pca, weights, bias)
    count = int(pca.moments[0, 0])
    rows = np.empty((n_comp + 1, lookback))
    _training_set_nb(x, y, usable, max(t - lookback, 0), t, weights, bias, count, rows)
    return pca, weights, bias, rows[:, :count], count


@pytest.mark.parametrize("t, lookback", [(400, 300), (1500, 100), (2999, 500), (230, 150)])
def test_training_set_is_the_window_usable_samples_scored(bank, t, lookback):
    x, y, usable, _ = bank
    _, weights, bias, rows, count = _refit(bank, t, lookback, 3)
    bars = np.arange(max(t - lookback, 0), t)[usable[max(t - lookback, 0):t]]
    assert count == len(bars)
    np.testing.assert_allclose(rows[:3], weights @ x[:, bars] + bias[:, None], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(rows[3], y[bars])


@pytest.mark.parametrize("t, lookback", [(400, 300), (1500, 100), (2999, 500)])
def test_root_sums_from_the_decomposition_match_the_samples(bank, t, lookback):
    pca, weights, _, rows, _ = _refit(bank, t, lookback, 4)
    sums = np.empty((4, 3))
    label_sum = _root_sums_nb(pca, weights, sums)
    z, labels = rows[:4], rows[4]
    assert label_sum == pytest.approx(labels.sum(), rel=1e-9)
    np.testing.assert_allclose(sums[:, 0], 0.0, atol=1e-9 * len(labels))  # the scores are centred
    np.testing.assert_allclose(sums[:, 1], (z ** 2).sum(axis=1), rtol=1e-9)
    np.testing.assert_allclose(sums[:, 2], (z * labels).sum(axis=1), rtol=1e-9, atol=1e-9)


def _reference_tree(z: np.ndarray, y: np.ndarray, depth: int, quantile: float, min_leaf: int):
    """The family's tree grown node by node with numpy (direct sums, sorting for the quantile), completed
    like kernels.learn.regression_tree: (comp, thr, value)."""
    n_nodes = 2 ** (depth + 1) - 1
    comp, thr, value = np.full(n_nodes, -1), np.full(n_nodes, np.nan), np.full(n_nodes, np.nan)
    members = {0: np.arange(z.shape[1])}
    for node in range(n_nodes):
        if node not in members:
            continue
        idx = members[node]
        value[node] = y[idx].mean()
        k = int(quantile * (len(idx) - 1))  # the split point's rank must leave min_leaf on either side
        if node >= n_nodes // 2 or k + 1 < min_leaf or len(idx) - k - 1 < min_leaf:
            continue
        zs, ys = z[:, idx], y[idx]
        cov = (zs * ys).sum(axis=1) - zs.sum(axis=1) * ys.sum() / len(idx)
        var = (zs ** 2).sum(axis=1) - zs.sum(axis=1) ** 2 / len(idx)
        c = int(np.argmax(np.where(var > 0, np.abs(cov) / np.sqrt(np.maximum(var, 1e-300)), 0.0)))
        threshold = np.sort(zs[c])[k]
        left = zs[c] <= threshold
        if left.sum() < min_leaf or (~left).sum() < min_leaf:
            continue
        comp[node], thr[node] = c, threshold
        members[2 * node + 1], members[2 * node + 2] = idx[left], idx[~left]
    for node in range(n_nodes // 2):
        if comp[node] < 0:
            comp[node], thr[node] = 0, np.inf
            for child in (2 * node + 1, 2 * node + 2):
                comp[child], value[child] = -1, value[node]
    return comp, thr, value


def _grow(z: np.ndarray, y: np.ndarray, depth: int, quantile: float, min_leaf: int):
    n_comp, n = z.shape
    n_nodes = 2 ** (depth + 1) - 1
    tree = new_tree_scratch_nb(n_comp, n_nodes, n)
    tree.rows[0] = np.vstack([z, y])
    tree.sums[0] = np.column_stack([z.sum(axis=1), (z ** 2).sum(axis=1), (z * y).sum(axis=1)])
    tree.label_sums[0] = y.sum()
    comp, thr, value = np.full(n_nodes, -1), np.empty(n_nodes), np.empty(n_nodes)
    grow_tree_nb(tree, n, depth, quantile, min_leaf, comp, thr, value)
    return comp, thr, value


@pytest.mark.parametrize("depth", [1, 2, 4, 6])
@pytest.mark.parametrize("quantile", [0.1, 0.37, 0.5, 0.9])
@pytest.mark.parametrize("min_leaf", [10, 37])
def test_tree_matches_a_node_by_node_reference(depth, quantile, min_leaf):
    rng = np.random.default_rng(depth * 10 + int(quantile * 100) + min_leaf)
    for n, n_comp in ((40, 2), (300, 3), (500, 5)):
        z = rng.standard_t(4, size=(n_comp, n))
        y = 0.3 * np.tanh(z[0]) - 0.2 * (z[-1] > 0.5) + rng.normal(0, 1, n)
        comp, thr, value = _grow(z, y, depth, quantile, min_leaf)
        ref_comp, ref_thr, ref_value = _reference_tree(z, y, depth, quantile, min_leaf)
        np.testing.assert_array_equal(comp, ref_comp)
        split = comp >= 0
        np.testing.assert_array_equal(thr[split], ref_thr[split])  # exact order statistics
        reached = ~np.isnan(ref_value)
        np.testing.assert_allclose(value[reached], ref_value[reached], rtol=1e-10, atol=1e-12)


def _walk(z: np.ndarray, comp: np.ndarray, thr: np.ndarray, levels: int) -> int:
    node = 0
    for _ in range(levels):
        node = 2 * node + 1 + int(z[comp[node]] > thr[node])
    return node


def test_prediction_tree_gives_the_full_walks_signals():
    """Merging the subtrees that give one signal changes no prediction, and the walk reads only `used`."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        depth, n_comp = int(rng.integers(1, 7)), int(rng.integers(2, 6))
        z = rng.normal(size=(n_comp, 300))
        y = rng.normal(0, 1, 300) + 0.5 * (z[0] > 0)
        comp, thr, value = _grow(z, y, depth, rng.uniform(0.1, 0.9), 10)
        threshold = rng.uniform(0.0, 0.3)
        full = [signal_from_score_nb(value[_walk(z[:, i], comp, thr, depth)], threshold) for i in range(300)]
        sig, used = np.empty(len(comp)), np.empty(n_comp, dtype=np.bool_)
        walk = _prediction_tree_nb(comp, thr, value, depth, threshold, sig, used)
        assert 0 <= walk <= depth
        masked = np.where(used[:, None], z, np.nan)  # components the walk must not read
        merged = [sig[_walk(masked[:, i], comp, thr, walk)] for i in range(300)]
        np.testing.assert_array_equal(merged, full)


def test_segment_prediction_equals_per_bar_prediction(bank):
    x, y, usable, cum = bank
    _, weights, bias, rows, count = _refit(bank, 1200, 400, 3)
    comp, thr, value = _grow(rows[:3], rows[3], 4, 0.3, 10)
    threshold = 0.05
    start, stop = 150, 1200  # includes warm-up bars with NaN features
    expected = np.empty(stop - start)
    for i, t in enumerate(range(start, stop)):
        scores = [sum((weights[c, j] * x[j, t] for j in range(N_FEATURES)), start=bias[c]) for c in range(3)]
        finite = np.isfinite(x[:, t]).all()
        leaf = _walk(np.array(scores), comp, thr, 4)
        expected[i] = signal_from_score_nb(value[leaf], threshold) if finite else 0.0
    sig, used = np.empty(len(comp)), np.empty(3, dtype=np.bool_)
    walk = _prediction_tree_nb(comp, thr, value, 4, threshold, sig, used)
    out = np.full(len(usable), 7.0)
    _predict_segment_nb(x, usable, start, stop, weights, bias, comp, thr, sig, walk, used,
                        np.empty((3, stop - start)), np.empty(stop - start, dtype=np.uint64), out)
    np.testing.assert_array_equal(out[start:stop], expected)
    assert (out[:start] == 7.0).all() and (out[stop:] == 7.0).all()
    assert (expected != 0.0).any()


def _reference_family(genes: np.ndarray, bank) -> np.ndarray:
    """The family from its definition: numpy PCA of the window's correlation matrix, the reference tree,
    a per-bar prediction."""
    x, y, usable, cum = bank
    n_comp, depth = int(param_nb(genes, _BOUNDS, 0)), int(param_nb(genes, _BOUNDS, 1))
    quantile, lookback = param_nb(genes, _BOUNDS, 2), int(param_nb(genes, _BOUNDS, 3))
    refit, threshold = int(param_nb(genes, _BOUNDS, 4)), param_nb(genes, _BOUNDS, 5)
    min_leaf = int(param_nb(genes, _BOUNDS, 6))
    out, model = np.zeros(x.shape[1]), None
    for t in range(x.shape[1]):
        if t % refit == 0:
            bars = np.arange(max(t - lookback, 0), t)[usable[max(t - lookback, 0):t]]
            features = x[:, bars]
            if len(bars) >= MIN_SAMPLES and (features.var(axis=1) > 1e-12).all():
                mean, scale = features.mean(axis=1), features.std(axis=1)
                values, vectors = np.linalg.eigh(np.corrcoef(features))
                vectors = vectors[:, ::-1][:, :n_comp]
                vectors *= np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(n_comp)])
                weights = vectors.T / scale
                bias = -weights @ mean
                tree = _reference_tree(weights @ features + bias[:, None], y[bars], depth, quantile, min_leaf)
                model = (weights, bias, *tree)
        if model is not None and np.isfinite(x[:, t]).all():
            weights, bias, comp, thr, value = model
            out[t] = signal_from_score_nb(value[_walk(weights @ x[:, t] + bias, comp, thr, depth)], threshold)
    return out


def test_family_matches_its_reference(bank):
    rng = np.random.default_rng(11)
    n_bars = bank[0].shape[1]
    single_leaf = rng.uniform(size=N_GENES)  # 100 samples, min_leaf 100: every refit is one leaf
    single_leaf[FIRST_FAMILY_GENE + 3], single_leaf[FIRST_FAMILY_GENE + 5:FIRST_FAMILY_GENE + 7] = 0.0, (0.0, 1.0)
    for genes in [*rng.uniform(size=(6, N_GENES)), single_leaf]:
        out = np.empty(n_bars)
        pca_tree_quantile_from_bank_1d_nb(genes, *bank, out)
        expected = _reference_family(genes, bank)
        assert (expected != 0.0).any()
        assert np.mean(out != expected) < 1e-3  # an eigenvector's last bits may flip a near-tie, nothing more


def test_cost_estimate_grows_with_refits_window_depth_and_components():
    def genes(components=0.5, depth=0.5, lookback=0.5, refit=0.5, min_leaf=0.0):  # min_leaf 10
        g = np.full(N_GENES, 0.5)
        g[FIRST_FAMILY_GENE:FIRST_FAMILY_GENE + 7] = components, depth, 0.5, lookback, refit, 0.5, min_leaf
        return g

    base = cost_estimate_nb(genes(), 8760)
    assert cost_estimate_nb(genes(refit=0.0), 8760) > base > cost_estimate_nb(genes(refit=1.0), 8760)
    assert cost_estimate_nb(genes(lookback=1.0), 8760) > base > cost_estimate_nb(genes(lookback=0.0), 8760)
    assert cost_estimate_nb(genes(depth=0.0), 8760) < base
    deep, window = cost_estimate_nb(genes(depth=1.0, lookback=1.0), 8760), cost_estimate_nb(genes(lookback=1.0), 8760)
    assert deep > window  # 500 samples: nodes split down to level 5
    assert cost_estimate_nb(genes(depth=1.0), 8760) == base  # 300 samples: no node below level 4 can split
    assert cost_estimate_nb(genes(components=1.0), 8760) > base
    assert cost_estimate_nb(genes(min_leaf=0.5), 8760) < base  # leaves of 31: level 3 cannot split
    no_split = cost_estimate_nb(genes(min_leaf=1.0), 8760)  # 100 per leaf, 300 samples: only the root splits
    assert no_split < cost_estimate_nb(genes(min_leaf=0.5), 8760)
    assert cost_estimate_nb(genes(lookback=0.0, min_leaf=1.0), 8760) < no_split  # 100 samples: no split
    assert cost_estimate_nb(genes(), 2 * 8760) > base
