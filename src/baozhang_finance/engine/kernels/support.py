"""Kernel of the SOE-support stage (:func:`baozhang_finance.engine.stages.soe_support` and its events
:func:`~baozhang_finance.engine.stages._support_events`); the formulas are in those docstrings."""

from __future__ import annotations

from baozhang_finance.engine.kernels._num import fmin, psum

KERNELS = ("soe_support",)


def soe_support(short_opex, short, soe_left, year_start, yearly, cap, order, in_paid, allocated, shorts, paid, soe,
                new_opex, new_short, exhausted, first_short, t):
    """Per path: the pot's yearly top-up, the class totals ``shorts`` (row 0 operating costs, then the tranches),
    SOE money in ``order`` (class rows), the exhaustion and first-shortfall months, and — when the cures follow
    SOE support — the projects' shortfalls scaled by the share left open (``new_opex``, ``new_short``)."""
    P, n = short_opex.shape
    K, J = short.shape[0], order.shape[0]
    for i in range(n):
        if year_start:
            soe_left[i] = fmin(soe_left[i] + yearly, cap)
        shorts[0, i] = psum(short_opex, i)
        for k in range(K):
            acc = short[k, 0, i]
            for p in range(1, P):
                acc += short[k, p, i]
            shorts[k + 1, i] = acc
        left = soe_left[i]
        s = 0.0
        for j in range(J):
            c = order[j]
            pay = fmin(left, shorts[c, i])
            paid[c, i] = pay
            left = left - pay
            s = pay if j == 0 else s + pay
        soe_left[i] = left
        soe[i] = s
        ls = 0.0
        for j in range(J):
            c = order[j]
            ls = ls + (shorts[c, i] - paid[c, i])
        if ls > 1e-6 and exhausted[i] < 0:
            exhausted[i] = t
        tot = 0.0
        for c in range(K + 1):
            tot = tot + shorts[c, i]
        if tot > 1e-6 and first_short[i] < 0:
            first_short[i] = t
        if allocated:
            for c in range(K + 1):
                f = 1.0
                if in_paid[c]:
                    sc = shorts[c, i]
                    f = 1.0 - paid[c, i] / sc if sc > 0 else 1.0
                for p in range(P):
                    if c == 0:
                        new_opex[p, i] = short_opex[p, i] * f if in_paid[c] else short_opex[p, i]
                    else:
                        new_short[c - 1, p, i] = short[c - 1, p, i] * f if in_paid[c] else short[c - 1, p, i]
