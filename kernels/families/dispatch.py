"""Target positions of one genome: its family's signal, clipped for long-only, times its leverage."""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.families.atr_breakout import atr_breakout_1d_nb
from kernels.families.bollinger import bollinger_1d_nb
from kernels.families.donchian_breakout import donchian_breakout_1d_nb
from kernels.families.ema_crossover import ema_crossover_1d_nb
from kernels.families.funding_carry import funding_carry_1d_nb
from kernels.families.ichimoku import ichimoku_1d_nb
from kernels.families.linear_classifier import linear_classifier_1d_nb
from kernels.families.nadaraya_watson import nadaraya_watson_1d_nb
from kernels.families.pca_tree_quantile import pca_tree_quantile_1d_nb
from kernels.families.rsi_filter import rsi_filter_1d_nb
from kernels.families.sma_trend import sma_trend_1d_nb
from kernels.families.stochastic import stochastic_1d_nb
from kernels.families.vol_scaling import vol_scaling_1d_nb
from kernels.families.vwap_reversion import vwap_reversion_1d_nb
from kernels.genome import decode_risk_nb

__all__ = ["signal_1d_nb", "sizing_nb", "apply_risk_1d_nb", "positions_1d_nb"]


@njit(cache=True)
def signal_1d_nb(family: int, genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                 close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """The raw signal in [-1, 1] of family `family` (ids as kernels.families.FAMILY_NAMES)."""
    if family == 0:
        ema_crossover_1d_nb(genes, open, high, low, close, volume, funding, out)
    elif family == 1:
        donchian_breakout_1d_nb(genes, open, high, low, close, volume, funding, out)
    elif family == 2:
        rsi_filter_1d_nb(genes, open, high, low, close, volume, funding, out)
    elif family == 3:
        stochastic_1d_nb(genes, open, high, low, close, volume, funding, out)
    elif family == 4:
        sma_trend_1d_nb(genes, open, high, low, close, volume, funding, out)
    elif family == 5:
        atr_breakout_1d_nb(genes, open, high, low, close, volume, funding, out)
    elif family == 6:
        ichimoku_1d_nb(genes, open, high, low, close, volume, funding, out)
    elif family == 7:
        vwap_reversion_1d_nb(genes, open, high, low, close, volume, funding, out)
    elif family == 8:
        vol_scaling_1d_nb(genes, open, high, low, close, volume, funding, out)
    elif family == 9:
        funding_carry_1d_nb(genes, open, high, low, close, volume, funding, out)
    elif family == 10:
        linear_classifier_1d_nb(genes, open, high, low, close, volume, funding, out)
    elif family == 11:
        pca_tree_quantile_1d_nb(genes, open, high, low, close, volume, funding, out)
    elif family == 12:
        bollinger_1d_nb(genes, open, high, low, close, volume, funding, out)
    elif family == 13:
        nadaraya_watson_1d_nb(genes, open, high, low, close, volume, funding, out)
    else:
        raise ValueError("family must be a family id (0..13)")


@njit(cache=True)
def sizing_nb(genes: np.ndarray) -> tuple[float, float, float]:
    """(low clip, high clip, leverage): a genome's target is min(max(signal, low), high) * leverage,
    with the signal clipped to [0, 1] when long-only, [-1, 1] when long-short."""
    leverage, _, _, long_short = decode_risk_nb(genes)
    return (-1.0 if long_short else 0.0), 1.0, leverage


@njit(cache=True)
def apply_risk_1d_nb(genes: np.ndarray, signal: np.ndarray) -> None:
    """In place: the signal sized into the genome's target positions (sizing_nb)."""
    low_clip, high_clip, leverage = sizing_nb(genes)
    for t in range(len(signal)):
        signal[t] = min(max(signal[t], low_clip), high_clip) * leverage


@njit(cache=True)
def positions_1d_nb(family: int, genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                    close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Target position out[t] in [-L, L] (fraction of equity) from bars 0..t only; 0.0 in warm-up."""
    signal_1d_nb(family, genes, open, high, low, close, volume, funding, out)
    apply_risk_1d_nb(genes, out)
