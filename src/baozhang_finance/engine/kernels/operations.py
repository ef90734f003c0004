"""Kernels of the rental and CFADS stages (:func:`baozhang_finance.engine.stages.rental`,
:func:`baozhang_finance.engine.stages.cfads`); the formulas are in those docstrings."""

from __future__ import annotations

from baozhang_finance.engine.kernels._num import fmax, fmin

KERNELS = ("rental", "cfads")


def rental(held, acq, acq_diff, has_delay, delayed, rent_sum, rent_ring, rent_idx, act_r, dropping, drop_slot,
           slot, count, stab_occ, occ_dev, ramp, has_sold, sold, rent_unit, rent_sub_unit, rent_cost_share,
           cost_m2_m, cpi, occ, rent, rent_sub, rent_costs, running):
    """Units acquired; the rent index summed over the leases in place (a 12-month-style ring of the index);
    occupancy, rent, rent subsidy, rent costs and running costs per project and path."""
    P, n = held.shape
    for i in range(n):
        ri = rent_idx[i]
        for p in range(P):
            a = acq[p] + delayed[p, i] * acq_diff[p] if has_delay else acq[p]
            h = held[p, i] + a
            held[p, i] = h
            rs = rent_sum[p, i]
            if act_r[p]:
                rs = rs + ri
            if dropping[p]:
                rs = rs - rent_ring[drop_slot[p], i]
            rent_sum[p, i] = rs
            o = fmin(fmax(stab_occ[p] + occ_dev[i], 0.0), 1.0) * ramp[p]
            if has_sold:
                o = o * (1.0 - sold[p, i])
            occ[p, i] = o
            r = rent_unit[p] * (rs / count[p]) * o
            rent[p, i] = r
            rent_sub[p, i] = rent_sub_unit[p] * o
            rent_costs[p, i] = r * rent_cost_share[p]
            running[p, i] = h * cost_m2_m[p] * cpi[i]
        rent_ring[slot, i] = ri


def cfads(rent, rent_sub, sales, op_grants, bank_int_p, subsidy_share, subsidy_on, has_loans, running, rent_costs,
          sales_tax, bb_paid, int_sub, ops_in, ops_out, cf):
    """``ops_in = rent + rent subsidy + sales + operating grants + 贴息``, ``ops_out = running + rent costs +
    sales tax + buybacks``, ``CFADS = ops_in − ops_out``."""
    P, n = rent.shape
    for p in range(P):
        for i in range(n):
            s = bank_int_p[p, i] * subsidy_share[p] * subsidy_on[p] if has_loans else 0.0
            if has_loans:
                int_sub[p, i] = s
            a = (((rent[p, i] + rent_sub[p, i]) + sales[p, i]) + op_grants[p]) + s
            b = ((running[p, i] + rent_costs[p, i]) + sales_tax[p, i]) + bb_paid[p, i]
            ops_in[p, i] = a
            ops_out[p, i] = b
            cf[p, i] = a - b
