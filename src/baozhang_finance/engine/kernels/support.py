"""Kernel of the SOE-support stage (:func:`baozhang_finance.engine.stages.soe_support` and its events
:func:`~baozhang_finance.engine.stages._support_events`); the formulas are in those docstrings."""

from __future__ import annotations

import numpy as np

from baozhang_finance.engine.kernels._num import fmin

KERNELS = ("soe_support",)


def soe_support(short_opex, short, soe_left, year_start, yearly, cap, order, in_paid, allocated, shorts, paid, soe,
                new_opex, new_short, exhausted, first_short, t):
    """Per path: the pot's yearly top-up, the class totals ``shorts`` (row 0 operating costs, then the tranches),
    SOE money in ``order`` (class rows), the exhaustion and first-shortfall months, and — when the cures follow
    SOE support — the projects' shortfalls scaled by the share left open (``new_opex``, ``new_short``).
    Loops: classes and projects outside, paths inside (one simple pass per row)."""
    P, n = short_opex.shape
    K, J = short.shape[0], order.shape[0]
    if year_start:
        for i in range(n):
            soe_left[i] = fmin(soe_left[i] + yearly, cap)
    for c in range(K + 1):
        src = short_opex if c == 0 else short[c - 1]
        row = shorts[c]
        first = src[0]
        for i in range(n):
            row[i] = first[i]
        for p in range(1, P):
            x = src[p]
            for i in range(n):
                row[i] += x[i]
    for i in range(n):
        soe[i] = 0.0
    left_short = np.zeros(n)
    for j in range(J):
        sc, pc = shorts[order[j]], paid[order[j]]
        for i in range(n):
            pay = fmin(soe_left[i], sc[i])
            pc[i] = pay
            soe_left[i] = soe_left[i] - pay
            soe[i] = pay if j == 0 else soe[i] + pay
            left_short[i] = left_short[i] + (sc[i] - pay)
    total = np.zeros(n)
    for c in range(K + 1):
        sc = shorts[c]
        for i in range(n):
            total[i] = total[i] + sc[i]
    for i in range(n):
        if left_short[i] > 1e-6 and exhausted[i] < 0:
            exhausted[i] = t
        if total[i] > 1e-6 and first_short[i] < 0:
            first_short[i] = t
    if allocated:
        for c in range(K + 1):
            src = short_opex if c == 0 else short[c - 1]
            dst = new_opex if c == 0 else new_short[c - 1]
            sc, pc = shorts[c], paid[c]
            for p in range(P):
                x, y = src[p], dst[p]
                if in_paid[c]:
                    for i in range(n):
                        y[i] = x[i] * (1.0 - pc[i] / sc[i] if sc[i] > 0 else 1.0)
                else:
                    for i in range(n):
                        y[i] = x[i]
