"""Kernels of the cures' every-month parts: the extension's trailing NOI (:mod:`baozhang_finance.engine.cures.
extension`, :class:`~baozhang_finance.engine.cures.value.TrailingNOI`) and the disposal's NOI and occupancy rings and
the blocks it may sell (:func:`baozhang_finance.engine.cures.disposal.month`); what follows a short or an eligible
block stays in numpy (:func:`~baozhang_finance.engine.cures.extension.extend`,
:func:`~baozhang_finance.engine.cures.disposal.settle`). Loops: projects outside, paths inside."""

from __future__ import annotations

KERNELS = ("extension_noi", "disposal_rings")


def extension_noi(rent, rent_sub, rent_costs, running, ring, total, r, short, check):
    """``NOI12 += NOI_t − NOI_{t−12}`` with ``NOI = rent + rent subsidy − rent costs − running``; returns the number
    of (project, path) cells short on bank service (> 1e-6 yuan) when ``check``."""
    P, n = rent.shape
    need = 0
    for p in range(P):
        re, rs, rc, ru, rg, tt, sh = rent[p], rent_sub[p], rent_costs[p], running[p], ring[r, p], total[p], short[p]
        for i in range(n):
            noi = ((re[i] + rs[i]) - rc[i]) - ru[i]
            tt[i] = tt[i] + (noi - rg[i])
            rg[i] = noi
        if check:
            for i in range(n):
                need += sh[i] > 1e-6
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
        re, rs, rc, ru, oc = rent[p], rent_sub[p], rent_costs[p], running[p], occ[p]
        nr, orr, ts, el, sd = noi_ring[r, p], occ_ring[r, p], total_short[p], eligible[p], sold[p]
        for i in range(n):
            nr[i] = ((re[i] + rs[i]) - rc[i]) - ru[i]
            orr[i] = oc[i]
            ts[i] = short_opex[p, i]
        for k in range(K):
            sk = short[k, p]
            for i in range(n):
                ts[i] = ts[i] + sk[i]
        gate = is_rental[p] and operating_ok[p]
        cnt = count[p]
        for i in range(n):
            ok = gate and (ts[i] > 1e-6) and (sd[i] == 0.0)
            if ok:  # the trailing occupancy only where it decides: Σ of the 12 slots in slot order, as numpy sums
                acc = occ_ring[0, p, i]
                for j in range(1, 12):
                    acc += occ_ring[j, p, i]
                ok = acc / cnt >= min_occ
            el[i] = ok
            found += ok
    return found
