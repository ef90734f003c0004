"""Kernels of the cures' every-month parts: the extension's trailing NOI (:mod:`baozhang_finance.engine.cures.
extension`, :class:`~baozhang_finance.engine.cures.value.TrailingNOI`) and the disposal's NOI and occupancy rings and
the blocks it may sell (:func:`baozhang_finance.engine.cures.disposal.month`); what follows a short or an eligible
block stays in numpy (:func:`~baozhang_finance.engine.cures.extension.extend`,
:func:`~baozhang_finance.engine.cures.disposal.settle`)."""

from __future__ import annotations

KERNELS = ("extension_noi", "disposal_rings")


def extension_noi(rent, rent_sub, rent_costs, running, ring, total, r, short, check):
    """``NOI12 += NOI_t − NOI_{t−12}`` with ``NOI = rent + rent subsidy − rent costs − running``; returns the number
    of (project, path) cells short on bank service (> 1e-6 yuan) when ``check``."""
    P, n = rent.shape
    need = 0
    for p in range(P):
        for i in range(n):
            noi = ((rent[p, i] + rent_sub[p, i]) - rent_costs[p, i]) - running[p, i]
            total[p, i] = total[p, i] + (noi - ring[r, p, i])
            ring[r, p, i] = noi
            if check and short[p, i] > 1e-6:
                need += 1
    return need


def disposal_rings(rent, rent_sub, rent_costs, running, occ, noi_ring, occ_ring, r, short_opex, short, count,
                   is_rental, operating_ok, min_occ, sold, total_short, eligible):
    """The month's NOI and occupancy into the 12-month rings; the block's total shortfall; eligible = short,
    not sold, a rental block, operating long enough and trailing occupancy ``Σ_12 occ / min(12, t − a + 1)`` at
    the threshold. Returns the number of eligible (project, path) cells."""
    P, n = rent.shape
    K = short.shape[0]
    found = 0
    for p in range(P):
        for i in range(n):
            noi_ring[r, p, i] = ((rent[p, i] + rent_sub[p, i]) - rent_costs[p, i]) - running[p, i]
            occ_ring[r, p, i] = occ[p, i]
            s = short_opex[p, i]
            for k in range(K):
                s = s + short[k, p, i]
            total_short[p, i] = s
            acc = occ_ring[0, p, i]
            for j in range(1, 12):
                acc += occ_ring[j, p, i]
            ok = (s > 1e-6 and sold[p, i] == 0.0 and is_rental[p] and operating_ok[p]
                  and acc / count[p] >= min_occ)
            eligible[p, i] = ok
            if ok:
                found += 1
    return found
