"""Kernels of the waterfall stage (:func:`baozhang_finance.engine.stages.waterfall` and its parts
:func:`~baozhang_finance.engine.stages.dsra_refill`, :func:`~baozhang_finance.engine.stages.cross_support`,
:func:`~baozhang_finance.engine.stages.lockup`); the formulas are in those docstrings."""

from __future__ import annotations

import numpy as np

from baozhang_finance.engine.kernels._num import fmax, fmin

KERNELS = ("waterfall_cross", "waterfall_pay", "waterfall_keep")


def waterfall_pay(cfads, cash, dsra, extra, has_extra, dues, short, short_opex, surplus, do_sweep, sweep_share, sales,
                  onehot_t, loan_bal, principal, sweep):
    """Cash available ``CFADS + cash + DSRA (+ reserve_net)`` pays the tranches in rank order (``dues`` ``(K, P, n)``
    in that order), then the sweep ``min(share · sales, surplus, bank balance after principal)``. Writes
    ``short``, ``short_opex``, ``sweep`` and the surplus left. Loops: projects (and tranches, loans) outside,
    paths inside."""
    P, n = cfads.shape
    K, L = dues.shape[0], loan_bal.shape[0]
    for p in range(P):
        cf, ca, ds, ex, so, rest = cfads[p], cash[p], dsra[p], extra[p], short_opex[p], surplus[p]
        for i in range(n):
            avail = cf[i] + ca[i] + ds[i]
            if has_extra:
                avail = avail + ex[i]
            rest[i] = fmax(avail, 0.0)
            so[i] = fmax(-avail, 0.0)
        for k in range(K):
            d, s = dues[k, p], short[k, p]
            for i in range(n):
                paid = fmin(rest[i], d[i])
                s[i] = d[i] - paid
                rest[i] = rest[i] - paid
        if do_sweep:
            sw, sa, share = sweep[p], sales[p], sweep_share[p]
            for i in range(n):
                sw[i] = 0.0
            for l in range(L):
                w, lb, pr = onehot_t[p, l], loan_bal[l], principal[l]
                for i in range(n):
                    sw[i] += w * (lb[i] - pr[i])
            for i in range(n):
                x = fmin(fmin(share * sa[i], rest[i]), sw[i])
                sw[i] = x
                rest[i] = rest[i] - x


def waterfall_keep(surplus, dsra_months, bank_due, bond_fwd, soe_fwd, has_soe, balloon_on, ahead, onehot_t, loan_bal,
                   floor, new_dsra, cross, short_opex, short, cfads, bond_due, soe_due, cf12, ds12, cf_ring,
                   ds_ring, r12, lockup_dscr, sold, has_sold, cash, dist, locked):
    """DSRA refilled to ``max(target, floor)`` from the surplus, ``target = k · bank_due + bond service ahead
    (+ SOE-bond service ahead) + Σ balloon principal due within k months`` (``ahead`` ``(L, n)``); cross-support
    between projects (``cross``, :func:`waterfall_cross`); the trailing-12-month lock-up on the running sums; the
    surplus retained as cash or distributed."""
    P, n = surplus.shape
    L = loan_bal.shape[0]
    acc = np.zeros(n)
    for p in range(P):
        sur, bd, nd, sd, fl = surplus[p], bank_due[p], new_dsra[p], sold[p], floor[p]
        if balloon_on:
            for i in range(n):
                acc[i] = 0.0
            for l in range(L):
                w, lb, ah = onehot_t[p, l], loan_bal[l], ahead[l]
                for i in range(n):
                    acc[i] += w * (lb[i] if ah[i] else 0.0)
        for i in range(n):
            bond_ahead = bond_fwd[p] * (1.0 - sd[i]) if has_sold else bond_fwd[p]
            target = dsra_months * bd[i] + bond_ahead
            if has_soe:
                target = target + soe_fwd[p]
            if balloon_on:
                target = target + acc[i]
            d = fmin(sur[i], fmax(target, fl))
            nd[i] = d
            sur[i] = sur[i] - d
    if cross:
        waterfall_cross(surplus, short_opex, short)
    for p in range(P):
        sur, cf, bd, bo, c12, d12 = surplus[p], cfads[p], bank_due[p], bond_due[p], cf12[p], ds12[p]
        cr, dr, sd, ca, di, lk = cf_ring[r12, p], ds_ring[r12, p], sold[p], cash[p], dist[p], locked[p]
        for i in range(n):
            sv = bd[i] + bo[i]
            if has_soe:
                sv = sv + soe_due[p]
            c = c12[i] + (cf[i] - cr[i])
            d = d12[i] + (sv - dr[i])
            c12[i] = c
            d12[i] = d
            cr[i] = cf[i]
            dr[i] = sv
            on = (d > 1e-9) & (c < lockup_dscr * d)
            if has_sold:
                on = on & (sd[i] == 0.0)
            lk[i] = on
            kept = sur[i] if on else 0.0
            ca[i] = kept
            di[i] = sur[i] - kept


def waterfall_cross(surplus, short_opex, short):
    """Cross-support (:func:`~baozhang_finance.engine.stages.cross_support`): ``used = min(Σ surplus, Σ
    shortfalls)``; shortfalls scaled by ``1 − used / need``, surpluses by ``1 − used / pool``."""
    P, n = surplus.shape
    K = short.shape[0]
    pool, need, x = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        pool[i] = surplus[0, i]
    for p in range(1, P):
        for i in range(n):
            pool[i] += surplus[p, i]
    for p in range(P):
        for i in range(n):
            x[i] = short_opex[p, i]
        for k in range(K):
            for i in range(n):
                x[i] = x[i] + short[k, p, i]
        for i in range(n):
            need[i] = x[i] if p == 0 else need[i] + x[i]
    for i in range(n):
        used = fmin(pool[i], need[i])
        need[i] = 1.0 - used / need[i] if need[i] > 0 else 1.0
        pool[i] = 1.0 - used / pool[i] if pool[i] > 0 else 1.0
    for p in range(P):
        for i in range(n):
            short_opex[p, i] = short_opex[p, i] * need[i]
            surplus[p, i] = surplus[p, i] * pool[i]
        for k in range(K):
            for i in range(n):
                short[k, p, i] = short[k, p, i] * need[i]
