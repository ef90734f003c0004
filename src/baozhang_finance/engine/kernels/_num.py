"""Scalar helpers of the kernels with numpy's semantics (compiled by :func:`baozhang_finance.engine.kernels.load`).

``fmin`` / ``fmax`` are ``np.minimum`` / ``np.maximum`` on two floats: a NaN in either gives NaN (Python's
``min`` / ``max`` would not)."""

from __future__ import annotations


def fmin(a, b):
    """``np.minimum(a, b)``: ``a`` if ``a ≤ b`` or ``a`` is NaN, else ``b``."""
    if a <= b or a != a:
        return a
    return b


def fmax(a, b):
    """``np.maximum(a, b)``: ``a`` if ``a ≥ b`` or ``a`` is NaN, else ``b``."""
    if a >= b or a != a:
        return a
    return b


def psum(x, i):
    """``x.sum(axis=0)[i]`` of a ``(P, n)`` array as numpy's axis-0 reduction adds it: row by row, from row 0."""
    acc = x[0, i]
    for p in range(1, x.shape[0]):
        acc += x[p, i]
    return acc


HELPERS = {"fmin": fmin, "fmax": fmax, "psum": psum}
