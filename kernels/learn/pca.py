"""Principal axes of the standardised learning features from a training window's moments.

The window's moments (kernels.learn.features.window_moments_nb: count, feature sums, X'X) give the
features' mean, standard deviation and correlation matrix without a pass over the samples; its
eigenvectors (kernels.learn.linalg.symmetric_eigen_nb), in descending order of eigenvalue, are the
axes. A score is an affine map of the raw features, score_c = weights[c] @ x + bias[c], so scoring a bar
needs no standardisation pass. Allocation-free: the buffers (PcaScratch) live as long as a genome's pass.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from kernels.learn.features import N_FEATURES, N_MOMENTS
from kernels.learn.linalg import symmetric_eigen_nb

__all__ = ["PcaScratch", "new_pca_scratch_nb", "standardise_nb", "fit_pca_nb"]


class PcaScratch(NamedTuple):
    """fit_pca_nb's buffers."""

    moments: np.ndarray  # float64[E, E] training window's moments
    corr: np.ndarray  # float64[F, F] correlation matrix, then eigen scratch
    vectors: np.ndarray  # float64[F, F] eigenvectors (columns)
    values: np.ndarray  # float64[F] eigenvalues
    mean: np.ndarray  # float64[F] features' window mean
    scale: np.ndarray  # float64[F] and standard deviation


@njit(cache=True)
def new_pca_scratch_nb() -> PcaScratch:
    return PcaScratch(np.empty((N_MOMENTS, N_MOMENTS)), np.empty((N_FEATURES, N_FEATURES)),
                      np.empty((N_FEATURES, N_FEATURES)), np.empty(N_FEATURES), np.empty(N_FEATURES),
                      np.empty(N_FEATURES))


@njit(cache=True, inline="always")
def standardise_nb(scratch: PcaScratch, min_samples: int) -> bool:
    """The features' window mean and standard deviation (scratch.mean, scratch.scale) from the window
    moments in scratch.moments (E x E, see kernels.learn.features). False when the window has fewer than
    `min_samples` usable samples or a feature is constant over it: the window cannot be fitted."""
    moments, mean, scale = scratch.moments, scratch.mean, scratch.scale
    count = moments[0, 0]
    if count < min_samples:
        return False
    for j in range(N_FEATURES):
        mean[j] = moments[1 + j, 0] / count
        var = moments[1 + j, 1 + j] / count - mean[j] * mean[j]
        if not var > 1e-12:
            return False
        scale[j] = np.sqrt(var)
    return True


@njit(cache=True, inline="always")
def fit_pca_nb(scratch: PcaScratch, out_weights: np.ndarray, out_bias: np.ndarray) -> None:
    """Principal axes of the standardised features (after standardise_nb) from the window moments.

    Writes scores as affine maps of raw features: score_c = out_weights[c] @ x + out_bias[c]. Each
    axis' sign is fixed (largest loading positive) so equal data always splits the same way.
    """
    moments, corr, vectors, values, mean, scale = scratch
    count = moments[0, 0]
    for j in range(N_FEATURES):
        for k in range(j + 1):
            corr[j, k] = (moments[1 + j, 1 + k] / count - mean[j] * mean[k]) / (scale[j] * scale[k])
            corr[k, j] = corr[j, k]
    symmetric_eigen_nb(corr, values, vectors)
    for c in range(out_weights.shape[0]):
        largest = 0
        for j in range(1, N_FEATURES):
            if abs(vectors[j, c]) > abs(vectors[largest, c]):
                largest = j
        sign = 1.0 if vectors[largest, c] > 0.0 else -1.0
        offset = 0.0
        for j in range(N_FEATURES):
            out_weights[c, j] = sign * vectors[j, c] / scale[j]
            offset += out_weights[c, j] * mean[j]
        out_bias[c] = -offset
