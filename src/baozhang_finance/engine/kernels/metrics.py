"""Kernels of the default and metrics stages (:func:`baozhang_finance.engine.stages.default`,
:func:`baozhang_finance.engine.instruments.bank_loan.repay`, :func:`baozhang_finance.engine.stages.metrics`,
:func:`~baozhang_finance.engine.stages.lens_metrics`); the formulas are in those docstrings."""

from __future__ import annotations

import numpy as np

from baozhang_finance.engine.kernels._num import fmax, fmin, psum

KERNELS = ("default_events", "repay", "metrics_main", "metrics_lens")


def default_events(gov_bank, bal_open, bank_int_p, collateral, hpi, month, ead, coll, hpi_d, sale_month, hpi_s, t,
                   liq):
    """The standalone bank view's default month, EAD, collateral and price index (and at the bank's sale)."""
    n = gov_bank.shape[0]
    for i in range(n):
        if gov_bank[i] > 1e-6 and month[i] < 0:
            month[i] = t
            ead[i] = bal_open[i] + psum(bank_int_p, i)
            coll[i] = collateral[i]
            hpi_d[i] = hpi[i]
            sale_month[i] = t + liq
        if sale_month[i] == t:
            hpi_s[i] = hpi[i]


def repay(loan_bal, principal, any_sale, onehot_t, lp, sweep):
    """``B −= principal``; then the sweep pro rata to each project's loan balances, floored at 0."""
    L, n = loan_bal.shape
    P = onehot_t.shape[0]
    proj = np.empty(P)
    for i in range(n):
        for l in range(L):
            loan_bal[l, i] = loan_bal[l, i] - principal[l, i]
        if any_sale:
            for p in range(P):
                acc = 0.0
                for l in range(L):
                    acc += onehot_t[p, l] * loan_bal[l, i]
                proj[p] = acc
            for l in range(L):
                pb = proj[lp[l]]
                share = loan_bal[l, i] / (pb if pb > 0 else 1.0)
                loan_bal[l, i] = fmax(loan_bal[l, i] - share * sweep[lp[l], i], 0.0)


def metrics_main(hidden, gov_bond, soe, bal_open, dist, cfads, fdfac, disc, equity_in_t, overrun, has_overrun,
                 gov_bb, gov_resale, has_gov_bb, dist_return, pot_cap, soe_left, llcr_on, ahead_mode, ahead_s,
                 bond_due, df, llcr_first, cov_on, has_bond, bank_due, t, first_call, stock_at_call, pv_hidden,
                 pv_bond, pv_soe, cum_equity, pv_gov_bb, pv_gov_resale, peak, llcr_num, llcr_den, cov_num, cov_bank,
                 dist_t, cf_prog, equity_t):
    """First call, the PVs, the funding need and its peak, the pot's refill by distributions, the LLCR and
    bond-coverage sums; writes the month's ``dist_t``, ``cf_prog`` and ``equity_t`` (equity in incl. overrun)."""
    P, n = cfads.shape
    for i in range(n):
        h = hidden[i]
        if h > 1e-6 and first_call[i] < 0:
            first_call[i] = t
            stock_at_call[i] = bal_open[i]
        pv_hidden[i] += h * fdfac
        pv_bond[i] += gov_bond[i] * fdfac
        pv_soe[i] += soe[i] * disc
        dt = psum(dist, i)
        dist_t[i] = dt
        ce = cum_equity[i] + ((equity_in_t + soe[i]) - dt)
        eq = equity_in_t
        if has_overrun:
            ov = psum(overrun, i)
            eq = equity_in_t + ov
            ce = ce + ov
        cum_equity[i] = ce
        equity_t[i] = eq
        if has_gov_bb:
            pv_gov_bb[i] += gov_bb[i] * fdfac
            pv_gov_resale[i] += gov_resale[i] * fdfac
        if dist_return:
            soe_left[i] = fmin(soe_left[i] + dt, pot_cap)
        peak[i] = fmax(peak[i], ce)
        cp = psum(cfads, i)
        cf_prog[i] = cp
        if llcr_on:
            ahead = 0.0 if ahead_mode == 0 else (psum(bond_due, i) if ahead_mode == 1 else ahead_s)
            llcr_num[i] += (cp - ahead) * df
            if llcr_first:
                llcr_den[i] = bal_open[i]
        if cov_on:
            a = 0.0
            b = 0.0
            first = True
            for p in range(P):
                if has_bond[p]:
                    a = cfads[p, i] if first else a + cfads[p, i]
                    b = bank_due[p, i] if first else b + bank_due[p, i]
                    first = False
            cov_num[i] += a
            cov_bank[i] += b


def metrics_lens(gov_bank, fdfac, rent_sub, int_sub, grants_s, bank_short, credit_on, bank_int_p, bal_open,
                 collateral, hpi, liq, t, dist_t, equity_t, soe, hidden, gov_bond, noi_on, rent, rent_costs, running,
                 is_rental, pv_gov_bank, pv_budgeted, bank_short_first, exhausted, ead_n, coll_n, hpi_d_n, sale_n,
                 hpi_s_n, ead_c, coll_c, hpi_d_c, sale_c, hpi_s_c, equity_m, gov_m, noi12):
    """The lenses' accumulators (:func:`~baozhang_finance.engine.stages.lens_metrics`): PV of government money on
    bank service and of budgeted subsidies, the credit events without support and of the SOE's exhaustion, the
    month's equity flow and government money, and the rental NOI of the last 12 months."""
    P, n = rent_sub.shape
    for i in range(n):
        pv_gov_bank[i] += gov_bank[i] * fdfac
        acc = rent_sub[0, i] + int_sub[0, i]
        for p in range(1, P):
            acc += rent_sub[p, i] + int_sub[p, i]
        pv_budgeted[i] += (acc + grants_s) * fdfac
        if credit_on:
            if bank_short[i] > 1e-6 and bank_short_first[i] < 0:
                bank_short_first[i] = t
                ead_n[i] = bal_open[i] + psum(bank_int_p, i)
                coll_n[i] = collateral[i]
                hpi_d_n[i] = hpi[i]
                sale_n[i] = t + liq
            if exhausted[i] == t:
                ead_c[i] = bal_open[i] + psum(bank_int_p, i)
                coll_c[i] = collateral[i]
                hpi_d_c[i] = hpi[i]
                sale_c[i] = t + liq
            if sale_n[i] == t:
                hpi_s_n[i] = hpi[i]
            if sale_c[i] == t:
                hpi_s_c[i] = hpi[i]
        equity_m[t, i] = (dist_t[i] - equity_t[i]) - soe[i]
        gov_m[t, i] = hidden[i] + gov_bond[i]
        if noi_on:
            x = 0.0
            first = True
            for p in range(P):
                if is_rental[p]:
                    v = ((rent[p, i] + rent_sub[p, i]) - rent_costs[p, i]) - running[p, i]
                    x = v if first else x + v
                    first = False
            noi12[i] += x
