"""Kernels of the rental and CFADS stages (:func:`baozhang_finance.engine.stages.rental`,
:func:`baozhang_finance.engine.stages.cfads`); the formulas are in those docstrings. Loops: projects outside, paths
inside."""

from __future__ import annotations

from baozhang_finance.engine.kernels._num import fmax, fmin

KERNELS = ("rental", "cfads", "sales")


def rental(held, acq, acq_diff, has_delay, delayed, rent_sum, rent_ring, rent_idx, act_r, dropping, drop_slot,
           slot, count, stab_occ, occ_dev, ramp, has_sold, sold, rent_unit, rent_sub_unit, rent_cost_share,
           cost_m2_m, cpi, occ, rent, rent_sub, rent_costs, running):
    """Units acquired; the rent index summed over the leases in place (its ring written after every project has
    read the month that drops out); occupancy, rent, rent subsidy, rent costs and running costs."""
    P, n = held.shape
    for p in range(P):
        hd, dl, rsum, sd = held[p], delayed[p], rent_sum[p], sold[p]
        ring = rent_ring[drop_slot[p]]
        oc, re, rsb, rc, ru = occ[p], rent[p], rent_sub[p], rent_costs[p], running[p]
        a0, ad, on, off = acq[p], acq_diff[p], act_r[p], dropping[p]
        so, ru_p, cnt, rp = stab_occ[p], rent_unit[p], count[p], ramp[p]
        sub_p, share_p, cost_p = rent_sub_unit[p], rent_cost_share[p], cost_m2_m[p]
        for i in range(n):
            a = a0 + dl[i] * ad if has_delay else a0
            h = hd[i] + a
            hd[i] = h
            rs = rsum[i]
            if on:
                rs = rs + rent_idx[i]
            if off:
                rs = rs - ring[i]
            rsum[i] = rs
            o = fmin(fmax(so + occ_dev[i], 0.0), 1.0) * rp
            if has_sold:
                o = o * (1.0 - sd[i])
            oc[i] = o
            r = ru_p * (rs / cnt) * o
            re[i] = r
            rsb[i] = sub_p * o
            rc[i] = r * share_p
            ru[i] = h * cost_p * cpi[i]
    dst = rent_ring[slot]
    for i in range(n):
        dst[i] = rent_idx[i]


def cfads(rent, rent_sub, sales, op_grants, bank_int_p, subsidy_share, subsidy_on, has_loans, running, rent_costs,
          sales_tax, bb_paid, int_sub, ops_in, ops_out, cf):
    """``ops_in = rent + rent subsidy + sales + operating grants + 贴息``, ``ops_out = running + rent costs +
    sales tax + buybacks``, ``CFADS = ops_in − ops_out``."""
    P, n = rent.shape
    for p in range(P):
        r, rs, sa, bi, ru, rc, st, bb = (rent[p], rent_sub[p], sales[p], bank_int_p[p], running[p], rent_costs[p],
                                         sales_tax[p], bb_paid[p])
        isub, oi, oo, c = int_sub[p], ops_in[p], ops_out[p], cf[p]
        og, share, on = op_grants[p], subsidy_share[p], subsidy_on[p]
        for i in range(n):
            s = bi[i] * share * on if has_loans else 0.0
            if has_loans:
                isub[i] = s
            a = (((r[i] + rs[i]) + sa[i]) + og) + s
            b = ((ru[i] + rc[i]) + st[i]) + bb[i]
            oi[i] = a
            oo[i] = b
            c[i] = a - b


def sales(unsold, inv_on, inv, abs_rate, active, handover, presale, eligible, lock_ring, lock_slot, lk_slot, any_bb,
          bb_row, h_m, bb_partial, accept, bb_market, bb_mprice, orig, area, hpi, ru_ring, rv_ring, dslot, rslot,
          resale_factor, pending, held, sale_unit_value, tax_rate, sold, bb_units, bb_paid, sales_out, tax_out):
    """Sale operations (:func:`baozhang_finance.engine.stages.sales` with :func:`~baozhang_finance.engine.stages.
    buybacks`): inventory, absorption (the rate ``a · A_t · H^ε`` and the monthly buyback hazard ``h_m`` come from
    numpy), the lock-up ring, buybacks and their resale ring, hand-overs, sales and sales tax."""
    P, n = unsold.shape
    for p in range(P):
        un, ar, el, hd, pe = unsold[p], abs_rate[p], eligible[p], held[p], pending[p]
        ring_in, ring_out = lock_ring[lock_slot[p]][p], lock_ring[lk_slot][p]
        so, sa, tx = sold[p], sales_out[p], tax_out[p]
        inv_p, act, ho = inv[p], active[p], handover[p]
        for i in range(n):
            u = un[i] + inv_p if inv_on else un[i]
            x = (u * fmin(ar[i], 1.0)) * act
            so[i] = x
            un[i] = u - x
            el[i] = el[i] + ring_in[i]
            ring_out[i] = x + ho
            sa[i] = 0.0
        if any_bb:
            j = bb_row[p]
            bu_w, bp_w = bb_units[p], bb_paid[p]
            ru_w, rv_w = ru_ring[dslot, p], rv_ring[dslot, p]
            ru_r, rv_r = ru_ring[rslot[p], p], rv_ring[rslot[p], p]
            hz = h_m[max(j, 0)]
            acc, mk, mp, og, ar_p, rf = accept[p], bb_market[p], bb_mprice[p], orig[p], area[p], resale_factor[p]
            for i in range(n):
                e = el[i]
                bu = e * hz[i] if j >= 0 else 0.0
                el[i] = e - bu
                if bb_partial:
                    bu = bu * acc
                paid = (bu * ar_p) * (mk * (mp * hpi[i]) + (1.0 - mk) * og)
                ru_w[i] = bu
                rv_w[i] = paid
                r_units = ru_r[i]
                sa[i] = rv_r[i] * rf
                pe[i] = pe[i] + (bu - r_units)
                hd[i] = hd[i] + bu
                ring_out[i] = ring_out[i] + r_units
                bu_w[i] = bu
                bp_w[i] = paid
        suv, ps, tr = sale_unit_value[p], presale[p], tax_rate[p]
        for i in range(n):
            hd[i] = hd[i] - ring_out[i]
            x = ((so[i] * suv) + ps) + sa[i]
            sa[i] = x
            tx[i] = x * tr
