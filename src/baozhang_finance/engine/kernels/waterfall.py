"""Kernels of the waterfall stage (:func:`baozhang_finance.engine.stages.waterfall` and its parts
:func:`~baozhang_finance.engine.stages.dsra_refill`, :func:`~baozhang_finance.engine.stages.cross_support`,
:func:`~baozhang_finance.engine.stages.lockup`); the formulas are in those docstrings."""

from __future__ import annotations

from baozhang_finance.engine.kernels._num import fmax, fmin

KERNELS = ("waterfall_pay", "waterfall_keep")


def waterfall_pay(cfads, cash, dsra, extra, has_extra, dues, short, short_opex, surplus, do_sweep, sweep_share, sales,
                  onehot_t, loan_bal, principal, sweep):
    """Cash available ``CFADS + cash + DSRA (+ reserve_net)`` pays the tranches in rank order (``dues`` ``(K, P, n)``
    in that order), then the sweep ``min(share · sales, surplus, bank balance after principal)``. Writes
    ``short``, ``short_opex``, ``sweep`` and the surplus left."""
    P, n = cfads.shape
    K, L = dues.shape[0], loan_bal.shape[0]
    for p in range(P):
        for i in range(n):
            avail = cfads[p, i] + cash[p, i] + dsra[p, i]
            if has_extra:
                avail = avail + extra[p, i]
            rest = fmax(avail, 0.0)
            short_opex[p, i] = fmax(-avail, 0.0)
            for k in range(K):
                due = dues[k, p, i]
                paid = fmin(rest, due)
                short[k, p, i] = due - paid
                rest = rest - paid
            if do_sweep:
                bal_after = 0.0
                for l in range(L):
                    bal_after += onehot_t[p, l] * (loan_bal[l, i] - principal[l, i])
                s = fmin(fmin(sweep_share[p] * sales[p, i], rest), bal_after)
                sweep[p, i] = s
                rest = rest - s
            surplus[p, i] = rest


def waterfall_keep(surplus, dsra_months, bank_due, bond_fwd, soe_fwd, has_soe, balloon_on, ahead, onehot_t, loan_bal,
                   floor, new_dsra, cross, short_opex, short, cfads, bond_due, soe_due, cf12, ds12, cf_ring,
                   ds_ring, r12, lockup_dscr, sold, has_sold, cash, dist, locked):
    """DSRA refilled to ``max(target, floor)`` from the surplus, ``target = k · bank_due + bond service ahead
    (+ SOE-bond service ahead) + Σ balloon principal due within k months`` (``ahead`` ``(L, n)``); cross-support
    between projects (``cross``); the trailing-12-month lock-up on the running sums; the surplus retained as cash or
    distributed."""
    P, n = surplus.shape
    K, L = short.shape[0], loan_bal.shape[0]
    for i in range(n):
        for p in range(P):
            bond_ahead = bond_fwd[p] * (1.0 - sold[p, i]) if has_sold else bond_fwd[p]
            target = dsra_months * bank_due[p, i] + bond_ahead
            if has_soe:
                target = target + soe_fwd[p]
            if balloon_on:
                acc = 0.0
                for l in range(L):
                    acc += onehot_t[p, l] * (loan_bal[l, i] if ahead[l, i] else 0.0)
                target = target + acc
            d = fmin(surplus[p, i], fmax(target, floor[p]))
            new_dsra[p, i] = d
            surplus[p, i] = surplus[p, i] - d
        if cross:
            pool = surplus[0, i]
            for p in range(1, P):
                pool += surplus[p, i]
            need = 0.0
            for p in range(P):
                x = short_opex[p, i]
                for k in range(K):
                    x = x + short[k, p, i]
                need = x if p == 0 else need + x
            used = fmin(pool, need)
            keep_short = 1.0 - used / need if need > 0 else 1.0
            keep_pool = 1.0 - used / pool if pool > 0 else 1.0
            for p in range(P):
                short_opex[p, i] = short_opex[p, i] * keep_short
                for k in range(K):
                    short[k, p, i] = short[k, p, i] * keep_short
                surplus[p, i] = surplus[p, i] * keep_pool
        for p in range(P):
            cf = cfads[p, i]
            sv = bank_due[p, i] + bond_due[p, i]
            if has_soe:
                sv = sv + soe_due[p]
            c12 = cf12[p, i] + (cf - cf_ring[r12, p, i])
            d12 = ds12[p, i] + (sv - ds_ring[r12, p, i])
            cf12[p, i] = c12
            ds12[p, i] = d12
            cf_ring[r12, p, i] = cf
            ds_ring[r12, p, i] = sv
            lk = (d12 > 1e-9) and (c12 < lockup_dscr * d12)
            if has_sold:
                lk = lk and sold[p, i] == 0.0
            locked[p, i] = lk
            s = surplus[p, i]
            kept = s if lk else 0.0
            cash[p, i] = kept
            dist[p, i] = s - kept
