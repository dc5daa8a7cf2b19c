"""Numeric core: indicators, strategy families, the fused simulator, metrics, statistics and the GA.

One concept per module (import from the modules directly; this package re-exports nothing):
indicators, rolling_extremes, families/ (one module per family, dispatch), learn/ (the learning
families' features, PCA, tree, linear algebra), genome, simulate, metrics, evaluate (the GA's entry
point), lookahead, regimes, stats, archive, ga/, warmup.

Naming rules (after vectorbt's generic/nb.py):

- Compiled functions end in `_nb`.
- `<name>_1d_nb` computes one series over the bars (float64[N], oldest first): it writes one N-length
  `out` (an indicator, a family's signal, the simulator's returns) or reduces one series to a few
  numbers (sharpe_moments_1d_nb, regime_sharpe_1d_nb).
- `<name>_nb` without `_1d` is 2-D or has no bar axis:
  * the version of a per-row kernel over many rows (float64[S, N] series, or genes[S, N_GENES] for a
    population), one row each, named like it without `_1d` (regime_sharpe_1d_nb -> regime_sharpe_nb,
    genomes' windows -> ema_crossover_windows_nb); it loops over the 1-D kernel, the maths lives once;
  * a kernel that expands one market into rows, one per window, level or feature, named after what
    it holds (ema_bank_nb, learning_bank_nb, extremes_table_nb);
  * scalars, one genome's decoding, small matrices (stop_price_nb, decode_risk_nb, solve_spd_nb).
  No other shape suffix (no `_2d_nb`).
- Price and market arguments are named as the Market fields and vectorbt name them: `open`, `high`,
  `low`, `close`, `volume`, `funding` (never `open_`: inside a compiled kernel `open` shadows nothing
  that is used), in that order.
- Every public module lists its public names in `__all__`; helpers are `_private`.
"""
__all__: list[str] = []
