"""Small dense linear algebra for the learning families' refits, pure numba (no LAPACK: results do not
depend on the BLAS build or its threads) and allocation-free (a refit calls them).

- solve_spd_nb: a symmetric positive-definite solve by Cholesky (the ridge fit's normal equations).
- symmetric_eigen_nb: eigenvalues and vectors of a small symmetric matrix, Householder
  tridiagonalisation then implicit QL (Numerical Recipes 3rd ed., 11.3-11.4), O(n^3) with a small
  constant (PCA of the 8 x 8 feature correlation matrix).
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["solve_spd_nb", "symmetric_eigen_nb"]

_EPS = np.finfo(np.float64).eps


@njit(cache=True)
def solve_spd_nb(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> bool:
    """Solve a @ out = b for a small symmetric positive-definite a by Cholesky, with d = len(b): only the lower
    triangle of a's leading d x d block is read, and it is overwritten.

    Returns False (out untouched) when a is not numerically positive definite. a's lower triangle becomes
    L (a = L L') with its diagonal stored inverted, so that the factorisation and both triangular solves
    multiply: one division per column instead of one per element (divisions were most of a ridge refit).
    """
    d = len(b)
    for j in range(d):
        total = a[j, j]
        for k in range(j):
            total -= a[j, k] * a[j, k]
        if total <= 1e-12:
            return False
        inv = 1.0 / np.sqrt(total)
        a[j, j] = inv
        for i in range(j + 1, d):
            total = a[i, j]
            for k in range(j):
                total -= a[i, k] * a[j, k]
            a[i, j] = total * inv
    for i in range(d):  # L z = b, z stored in out
        total = b[i]
        for k in range(i):
            total -= a[i, k] * out[k]
        out[i] = total * a[i, i]
    for i in range(d - 1, -1, -1):  # L' out = z, in place (out[k > i] is final, out[i] still z[i])
        total = out[i]
        for k in range(i + 1, d):
            total -= a[k, i] * out[k]
        out[i] = total * a[i, i]
    return True


@njit(cache=True, inline="always")
def _tridiagonalize_nb(z: np.ndarray, d: np.ndarray, e: np.ndarray) -> None:
    """Householder reduction of the symmetric z to tridiagonal form (diagonal d, sub-diagonal e[1:]);
    z is replaced by the orthogonal transformation. Numerical Recipes 3rd ed., 11.3 (tred2)."""
    n = z.shape[0]
    for i in range(n - 1, 0, -1):
        h = 0.0
        if i > 1:
            scale = 0.0
            for k in range(i):
                scale += abs(z[i, k])
            if scale == 0.0:
                e[i] = z[i, i - 1]
            else:
                for k in range(i):
                    z[i, k] /= scale
                    h += z[i, k] * z[i, k]
                f = z[i, i - 1]
                g = -np.sqrt(h) if f >= 0.0 else np.sqrt(h)
                e[i] = scale * g
                h -= f * g
                z[i, i - 1] = f - g
                f = 0.0
                for j in range(i):
                    z[j, i] = z[i, j] / h
                    g = 0.0
                    for k in range(j + 1):
                        g += z[j, k] * z[i, k]
                    for k in range(j + 1, i):
                        g += z[k, j] * z[i, k]
                    e[j] = g / h
                    f += e[j] * z[i, j]
                hh = f / (h + h)
                for j in range(i):
                    f = z[i, j]
                    g = e[j] - hh * f
                    e[j] = g
                    for k in range(j + 1):
                        z[j, k] -= f * e[k] + g * z[i, k]
        else:
            e[i] = z[i, i - 1]
        d[i] = h
    d[0] = 0.0
    e[0] = 0.0
    for i in range(n):  # accumulate the transformations
        if d[i] != 0.0:
            for j in range(i):
                g = 0.0
                for k in range(i):
                    g += z[i, k] * z[k, j]
                for k in range(i):
                    z[k, j] -= g * z[k, i]
        d[i] = z[i, i]
        z[i, i] = 1.0
        for j in range(i):
            z[j, i] = 0.0
            z[i, j] = 0.0


@njit(cache=True, inline="always")
def _tridiagonal_ql_nb(d: np.ndarray, e: np.ndarray, q: np.ndarray) -> None:
    """Eigenvalues (into d) and vectors (rows of q, rotated as contiguous rows) of the tridiagonal (d, e[1:]),
    with q the basis it is expressed in (as rows), by the QL algorithm
    with implicit Wilkinson shifts. Numerical Recipes 3rd ed., 11.4 (tqli), with sqrt(a^2 + b^2) for its
    pythag: libm's hypot guards against overflow that O(1) matrices cannot reach, and its ~30 ns latency
    sits on the rotations' dependency chain (it was two thirds of the decomposition's time)."""
    n = len(d)
    for i in range(1, n):
        e[i - 1] = e[i]
    e[n - 1] = 0.0
    for l in range(n):
        for _ in range(60):  # QL converges in 1-2 iterations per eigenvalue; 60 is a safety stop
            m = l
            while m < n - 1 and abs(e[m]) > _EPS * (abs(d[m]) + abs(d[m + 1])):
                m += 1
            if m == l:
                break
            g = (d[l + 1] - d[l]) / (2.0 * e[l])
            r = np.sqrt(g * g + 1.0)
            g = d[m] - d[l] + e[l] / (g + (r if g >= 0.0 else -r))
            s, c, p = 1.0, 1.0, 0.0
            underflow = False
            for i in range(m - 1, l - 1, -1):
                f = s * e[i]
                b = c * e[i]
                r = np.sqrt(f * f + g * g)
                e[i + 1] = r
                if r == 0.0:  # underflow: deflate and restart this eigenvalue
                    d[i + 1] -= p
                    e[m] = 0.0
                    underflow = True
                    break
                s = f / r
                c = g / r
                g = d[i + 1] - p
                r = (d[i] - g) * s + 2.0 * c * b
                p = s * r
                d[i + 1] = g + p
                g = c * r - b
                row, next_row = q[i], q[i + 1]
                for k in range(n):
                    f = next_row[k]
                    next_row[k] = s * row[k] + c * f
                    row[k] = c * row[k] - s * f
            if underflow:
                continue
            d[l] -= p
            e[l] = g
            e[m] = 0.0


@njit(cache=True, inline="always")
def symmetric_eigen_nb(a: np.ndarray, out_values: np.ndarray, out_vectors: np.ndarray) -> None:
    """Eigen-decomposition of a small symmetric matrix (a is overwritten): out_values[k] and column
    out_vectors[:, k] in descending order of eigenvalue (ties keep their order).

    Householder tridiagonalisation then implicit QL, O(n^3) with a small constant (about 3k flops for
    the 8 x 8 correlation matrices of PCA, several times fewer than Jacobi rotations). Pure numba: no
    LAPACK, so the result does not depend on the BLAS build or its threads. Allocation-free (a refit
    calls it): a is the working matrix and out_vectors' first row the scratch until the result is
    written; the vectors are kept as rows meanwhile, so rotations and sorting move contiguous memory.
    """
    n = a.shape[0]
    scratch = out_vectors[0]
    _tridiagonalize_nb(a, out_values, scratch)
    _transpose_nb(a)
    _tridiagonal_ql_nb(out_values, scratch, a)
    _sort_rows_descending_nb(out_values, a, scratch)
    for k in range(n):
        for j in range(n):
            out_vectors[j, k] = a[k, j]


@njit(cache=True, inline="always")
def _transpose_nb(a: np.ndarray) -> None:
    """Transpose the square a in place."""
    for i in range(a.shape[0]):
        for j in range(i):
            a[i, j], a[j, i] = a[j, i], a[i, j]


@njit(cache=True, inline="always")
def _sort_rows_descending_nb(values: np.ndarray, rows: np.ndarray, scratch: np.ndarray) -> None:
    """Sort the pairs (values[k], rows[k]) by descending value, stably: insertion sort (n is small);
    scratch holds one row."""
    n = len(values)
    for i in range(1, n):
        value = values[i]
        scratch[:] = rows[i]
        j = i - 1
        while j >= 0 and values[j] < value:
            values[j + 1] = values[j]
            rows[j + 1] = rows[j]
            j -= 1
        values[j + 1] = value
        rows[j + 1] = scratch
