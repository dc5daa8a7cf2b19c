"""The 14 seed strategy families: ids, bounds tables and python-level parameter decoding.

Family id i is FAMILY_NAMES[i]; module kernels.families.<name> holds its bounds table `BOUNDS`
(GeneSpec rows: name, low, high, kind) and its signal kernel `<name>_1d_nb(genes, open, high, low, close,
volume, funding, out)`, which writes a signal in [-1, 1] computed from bars 0..t only.
kernels.families.dispatch turns signals into target positions (leverage, long-only clipping).
"""
from __future__ import annotations

import numpy as np

from kernels.families import (atr_breakout, bollinger, donchian_breakout, ema_crossover, funding_carry, ichimoku,
                              linear_classifier, nadaraya_watson, pca_tree_quantile, rsi_filter, sma_trend, stochastic,
                              vol_scaling, vwap_reversion)
from kernels.genome import FIRST_FAMILY_GENE, KIND_INT, N_GENES, GeneSpec, decode_gene_nb, decode_risk_nb

__all__ = ["FAMILY_NAMES", "N_FAMILIES", "BOUNDS", "KERNELS", "decode_params", "check_family"]

_MODULES = (ema_crossover, donchian_breakout, rsi_filter, stochastic, sma_trend, atr_breakout, ichimoku,
            vwap_reversion, vol_scaling, funding_carry, linear_classifier, pca_tree_quantile, bollinger,
            nadaraya_watson)
FAMILY_NAMES: tuple[str, ...] = tuple(m.__name__.rsplit(".", 1)[1] for m in _MODULES)
N_FAMILIES = len(FAMILY_NAMES)
BOUNDS: tuple[tuple[GeneSpec, ...], ...] = tuple(m.BOUNDS for m in _MODULES)
KERNELS = tuple(getattr(m, f"{name}_1d_nb") for m, name in zip(_MODULES, FAMILY_NAMES))


def check_family(family: int) -> int:
    """`family` as an int, or ValueError when it is not a family id."""
    if not 0 <= int(family) < N_FAMILIES or int(family) != family:
        raise ValueError(f"family={family!r} is not a family id (0..{N_FAMILIES - 1})")
    return int(family)


def decode_params(family: int, genes: np.ndarray) -> dict[str, float | int]:
    """Decoded risk and family parameters of one genome, for reports (units in the bounds tables).

    >>> decode_params(0, np.full(12, 0.5))["fast_window"]
    28
    """
    family = check_family(family)
    genes = np.asarray(genes, dtype=np.float64)
    if genes.shape != (N_GENES,) or not np.all((genes >= 0.0) & (genes <= 1.0)):
        raise ValueError(f"genes={genes!r} must be {N_GENES} values in [0, 1]")
    leverage, stop_loss, take_profit, long_short = decode_risk_nb(genes)
    params: dict[str, float | int] = {"leverage": leverage, "stop_loss": stop_loss, "take_profit": take_profit,
                                      "long_short": int(long_short)}
    for i, spec in enumerate(BOUNDS[family]):
        value = decode_gene_nb(genes[FIRST_FAMILY_GENE + i], spec.low, spec.high, spec.kind)
        params[spec.name] = int(value) if spec.kind == KIND_INT else float(value)
    return params
