"""The internal rate of return of every path, compiled (numba): one pass over a row's flows per rate tried.

:func:`irr_rows` is the root finder behind :func:`baozhang_finance.measures.stats.irr` (yearly flows) and
:func:`~baozhang_finance.measures.stats.irr_periodic` (monthly flows). For a row of flows ``f_0 … f_{m−1}`` at
equally spaced dates the IRR is the rate r solving

    NPV(r) = Σ_k f_k (1 + r)^−k = p(d) = 0,   p(d) = Σ_k f_k d^k,  d = 1 / (1 + r),

with, where several roots exist, the one closest to zero (as ``numpy_financial.irr``), and NaN where none lies in
the rate grid's range. Per row:

1. *Bracket*: the NPV at every grid rate R_g by Horner's rule in d_g (one pass over the row's flows for all rates
   at once, no powers or exponentials); of the grid's intervals ``(R_j, R_{j+1})`` whose ends have strictly
   opposite signs, the one with the smallest |midpoint| (ties to the lower index) is the bracket.
2. *Refine*: a secant start inside the bracket, then Newton steps on NPV(r) (dNPV/dr = −d² p'(d)), a step that
   would leave the bracket replaced by bisection, until two iterates differ by less than ``tol``.
3. *Exact zeros*: a grid rate where the NPV is exactly 0 is a root too; the one closest to zero is taken when no
   bracket was found or it is nearer zero than the refined root.

A row whose flows are all ≥ 0 or all ≤ 0 has no root unless they are all zero (then every rate is one: 0).
Rows are independent; the result of a row depends only on that row.
"""

from __future__ import annotations

import numpy as np

_KERNEL = None
_npv_jit = None  # the compiled _npv_slope, bound when the kernel is compiled (the row loop calls it by this name)


def rate_grid(lo: float, hi: float, grid: int, scale: float) -> np.ndarray:
    """The bracketing grid: ``grid`` rates sinh-spaced between lo and hi (dense within ``scale`` of zero), plus 0."""
    u = np.linspace(np.arcsinh(lo / scale), np.arcsinh(hi / scale), grid)
    return np.unique(np.concatenate([scale * np.sinh(u), [0.0]]))


def irr_rows(flows, rates: np.ndarray, tol: float = 1e-12, iters: int = 100) -> np.ndarray:
    """Per row of ``flows`` (n, m), the IRR per period bracketed on ``rates`` (ascending, incl. 0) — see the module."""
    f = np.atleast_2d(np.asarray(flows, dtype=np.float64))
    if not (f.flags.c_contiguous or f.flags.f_contiguous):
        f = np.ascontiguousarray(f)  # a row-major (C) or column-major (F) array is read in place: no transposing copy
    rates = np.ascontiguousarray(rates, dtype=np.float64)
    mids = 0.5 * (rates[:-1] + rates[1:])
    order = np.argsort(np.abs(mids), kind="stable").astype(np.int64)
    by_size = np.argsort(np.abs(rates), kind="stable").astype(np.int64)
    out = np.empty(f.shape[0])
    _kernel()(f, rates, order, by_size, float(tol), int(iters), out)
    return out


def _kernel():
    """The compiled row loop (numba, cached on disk: a second process pays no compile time)."""
    global _KERNEL, _npv_jit
    if _KERNEL is None:
        from numba import njit  # numba is imported when the first IRR is computed, not at start-up

        opts = dict(cache=True, nogil=True, fastmath=False, error_model="numpy", boundscheck=False)
        _npv_jit = njit(**opts)(_npv_slope)
        _KERNEL = njit(**opts)(_rows)
    return _KERNEL


def _npv_slope(f, i, r):
    """NPV(r) of row i and dNPV/dr by Horner's rule in d = 1 / (1 + r): p ← p·d + f_k, p' ← p'·d + p (k from the
    last); NPV = p, dNPV/dr = −d² p'."""
    d = 1.0 / (1.0 + r)
    p = 0.0
    dp = 0.0
    for k in range(f.shape[1] - 1, -1, -1):
        dp = dp * d + p
        p = p * d + f[i, k]
    return p, -dp * d * d


def _rows(f, rates, order, by_size, tol, iters, out):
    """Every row's IRR into ``out`` (the steps of the module docstring)."""
    n, m = f.shape
    G = rates.size
    val = np.empty(G)
    dg = 1.0 / (1.0 + rates)
    for i in range(n):
        pos = False
        neg = False
        for k in range(m):
            pos |= f[i, k] > 0.0
            neg |= f[i, k] < 0.0
        if not (pos and neg):  # one sign: NPV never crosses zero (all zero: every rate is a root, take 0)
            out[i] = np.nan if (pos or neg) else 0.0
            continue
        for g in range(G):  # NPV at every grid rate, in one pass over the flows (independent chains: SIMD)
            val[g] = 0.0
        for k in range(m - 1, -1, -1):
            fk = f[i, k]
            for g in range(G):
                val[g] = val[g] * dg[g] + fk
        best = -1
        for j in order:  # brackets nearest zero first
            if (val[j] > 0.0 and val[j + 1] < 0.0) or (val[j] < 0.0 and val[j + 1] > 0.0):
                best = j
                break
        x = 0.0
        if best >= 0:
            a, b = rates[best], rates[best + 1]
            fa, fb = val[best], val[best + 1]
            x = a - fa * (b - a) / (fb - fa)  # secant start
            if not (x > a and x < b):
                x = 0.5 * (a + b)
            for _ in range(iters):
                fx, dfx = _npv_jit(f, i, x)
                if (fx > 0.0) == (fa > 0.0) and fx != 0.0:
                    a, fa = x, fx
                else:
                    b = x
                newton = x - fx / dfx if dfx != 0.0 else np.inf
                x_new = newton if (np.isfinite(newton) and a <= newton <= b) else 0.5 * (a + b)
                if abs(x_new - x) < tol or fx == 0.0:
                    x = x_new
                    break
                x = x_new
        # an exact zero of the NPV on the grid, nearest zero, when nearer than the root (or there is no root)
        root = np.nan if best < 0 else x
        for g in by_size:
            if best >= 0 and abs(rates[g]) >= abs(x):
                break
            if val[g] == 0.0:
                root = rates[g]
                break
        out[i] = root
