"""Gene layout shared by every family, and the scale helpers that decode a gene in [0, 1].

A genome is (coin index, family id, genes: float64[N_GENES] in [0, 1]). Genes 0..3 are the risk genes
every family shares (positions below); genes 4..11 are the family's own, decoded through its bounds table
(a tuple of `GeneSpec`, see kernels/families/). Unused trailing genes are ignored.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = ["N_GENES", "GENE_LEVERAGE", "GENE_STOP_LOSS", "GENE_TAKE_PROFIT", "GENE_DIRECTION", "FIRST_FAMILY_GENE",
           "N_FAMILY_GENES", "KIND_INT", "KIND_FLOAT", "KIND_LOG", "KIND_NAMES", "LEVERAGE_LOW", "LEVERAGE_HIGH",
           "STOP_OFF_BELOW", "STOP_LOSS_LOW", "STOP_LOSS_HIGH", "TAKE_PROFIT_LOW", "TAKE_PROFIT_HIGH",
           "LONG_SHORT_FROM", "GeneSpec", "bounds_array", "decode_int_nb", "decode_float_nb", "decode_log_nb",
           "decode_gene_nb", "param_nb", "decode_risk_nb"]

N_GENES = 12
GENE_LEVERAGE = 0
GENE_STOP_LOSS = 1
GENE_TAKE_PROFIT = 2
GENE_DIRECTION = 3
FIRST_FAMILY_GENE = 4
N_FAMILY_GENES = N_GENES - FIRST_FAMILY_GENE

# Scale kinds of a bounds table (stored as float in the numba-side bounds array).
KIND_INT = 0
KIND_FLOAT = 1
KIND_LOG = 2
KIND_NAMES = ("int", "float", "log")

LEVERAGE_LOW, LEVERAGE_HIGH = 0.25, 3.0  # target |position| / equity
STOP_OFF_BELOW = 0.25  # stop-loss / take-profit genes below this decode to 0.0 = off
STOP_LOSS_LOW, STOP_LOSS_HIGH = 0.005, 0.20  # fraction of entry price
TAKE_PROFIT_LOW, TAKE_PROFIT_HIGH = 0.01, 0.50  # fraction of entry price
LONG_SHORT_FROM = 0.5  # direction gene >= this: long-short, else long-only


class GeneSpec(NamedTuple):
    """One family parameter: gene name, decoded range [low, high] and scale kind (KIND_*)."""

    name: str
    low: float
    high: float
    kind: int


def bounds_array(specs: tuple[GeneSpec, ...]) -> np.ndarray:
    """The numba-side bounds table of `specs`: float64[P, 3] rows (low, high, kind)."""
    if len(specs) > N_FAMILY_GENES:
        raise ValueError(f"specs has {len(specs)} genes; a family has at most {N_FAMILY_GENES}")
    for s in specs:
        if s.kind not in (KIND_INT, KIND_FLOAT, KIND_LOG) or not s.low <= s.high:
            raise ValueError(f"gene {s.name!r}: bad spec low={s.low} high={s.high} kind={s.kind}")
        if s.kind == KIND_LOG and s.low <= 0.0:
            raise ValueError(f"gene {s.name!r}: log scale needs low > 0, got {s.low}")
    return np.array([(s.low, s.high, float(s.kind)) for s in specs], dtype=np.float64).reshape(-1, 3)


@njit(cache=True)
def decode_int_nb(gene: float, low: float, high: float) -> float:
    """Integer in [low, high], each value taking an equal slice of [0, 1]."""
    value = low + np.floor(gene * (high - low + 1.0))
    return min(max(value, low), high)


@njit(cache=True)
def decode_float_nb(gene: float, low: float, high: float) -> float:
    """Linear map of [0, 1] onto [low, high]."""
    return min(max(low + gene * (high - low), low), high)


@njit(cache=True)
def decode_log_nb(gene: float, low: float, high: float) -> float:
    """Log-uniform map of [0, 1] onto [low, high] (low > 0): equal gene steps are equal ratios."""
    return min(max(low * np.exp(gene * np.log(high / low)), low), high)


@njit(cache=True)
def decode_gene_nb(gene: float, low: float, high: float, kind: int) -> float:
    """Decode one gene with the scale `kind` (KIND_INT / KIND_FLOAT / KIND_LOG)."""
    if kind == KIND_INT:
        return decode_int_nb(gene, low, high)
    if kind == KIND_LOG:
        return decode_log_nb(gene, low, high)
    return decode_float_nb(gene, low, high)


@njit(cache=True)
def param_nb(genes: np.ndarray, bounds: np.ndarray, i: int) -> float:
    """Family parameter i of `genes` decoded through a bounds table (rows low, high, kind)."""
    return decode_gene_nb(genes[FIRST_FAMILY_GENE + i], bounds[i, 0], bounds[i, 1], int(bounds[i, 2]))


@njit(cache=True)
def _decode_stop_nb(gene: float, low: float, high: float) -> float:
    """0.0 (off) below STOP_OFF_BELOW, else log scale over the rest of the gene range."""
    if gene < STOP_OFF_BELOW:
        return 0.0
    return decode_log_nb((gene - STOP_OFF_BELOW) / (1.0 - STOP_OFF_BELOW), low, high)


@njit(cache=True)
def decode_risk_nb(genes: np.ndarray) -> tuple[float, float, float, bool]:
    """(leverage, stop_loss, take_profit, long_short) of a genome.

    leverage: target |position| as a multiple of equity, 0.25..3.0 on a log scale.
    stop_loss, take_profit: fractions of the entry price (0.005..0.20 and 0.01..0.50, log scale); 0.0 = off.
    long_short: False = long-only (short signals clip to flat).
    """
    leverage = decode_log_nb(genes[GENE_LEVERAGE], LEVERAGE_LOW, LEVERAGE_HIGH)
    stop_loss = _decode_stop_nb(genes[GENE_STOP_LOSS], STOP_LOSS_LOW, STOP_LOSS_HIGH)
    take_profit = _decode_stop_nb(genes[GENE_TAKE_PROFIT], TAKE_PROFIT_LOW, TAKE_PROFIT_HIGH)
    return leverage, stop_loss, take_profit, genes[GENE_DIRECTION] >= LONG_SHORT_FROM
