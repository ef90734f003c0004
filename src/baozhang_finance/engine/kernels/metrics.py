"""Kernels of the default and metrics stages (:func:`baozhang_finance.engine.stages.default`,
:func:`baozhang_finance.engine.instruments.bank_loan.repay`, :func:`baozhang_finance.engine.stages.metrics`,
:func:`~baozhang_finance.engine.stages.lens_metrics`); the formulas are in those docstrings. Loops: projects and
loans outside, paths inside; an axis-0 sum is a running sum from row 0, as numpy adds it."""

from __future__ import annotations

import numpy as np

from baozhang_finance.engine.kernels._num import fmax, fmin

KERNELS = ("rows_sum", "coverage", "llcr", "default_events", "repay", "metrics_main", "metrics_lens")


def rows_sum(x, out):
    """``out = x.sum(axis=0)`` of a ``(P, n)`` array, row by row from row 0 (numpy's order)."""
    P, n = x.shape
    first = x[0]
    for i in range(n):
        out[i] = first[i]
    for p in range(1, P):
        r = x[p]
        for i in range(n):
            out[i] += r[i]


def default_events(gov_bank, bal_open, bank_int_p, collateral, hpi, month, ead, coll, hpi_d, sale_month, hpi_s, t,
                   liq):
    """The standalone bank view's default month, EAD, collateral and price index (and at the bank's sale)."""
    n = gov_bank.shape[0]
    events = 0
    for i in range(n):
        events += ((gov_bank[i] > 1e-6) & (month[i] < 0)) | (sale_month[i] == t)
    if not events:
        return
    interest = np.empty(n)
    rows_sum(bank_int_p, interest)
    for i in range(n):
        if gov_bank[i] > 1e-6 and month[i] < 0:
            month[i] = t
            ead[i] = bal_open[i] + interest[i]
            coll[i] = collateral[i]
            hpi_d[i] = hpi[i]
            sale_month[i] = t + liq
        if sale_month[i] == t:
            hpi_s[i] = hpi[i]


def repay(loan_bal, principal, any_sale, onehot_t, lp, sweep):
    """``B −= principal``; then the sweep pro rata to each project's loan balances, floored at 0."""
    L, n = loan_bal.shape
    P = onehot_t.shape[0]
    for l in range(L):
        b, pr = loan_bal[l], principal[l]
        for i in range(n):
            b[i] = b[i] - pr[i]
    if not any_sale:
        return
    proj = np.zeros((P, n))
    for p in range(P):
        acc = proj[p]
        for l in range(L):
            w, b = onehot_t[p, l], loan_bal[l]
            for i in range(n):
                acc[i] += w * b[i]
    for l in range(L):
        b, pb, sw = loan_bal[l], proj[lp[l]], sweep[lp[l]]
        for i in range(n):
            share = b[i] / (pb[i] if pb[i] > 0 else 1.0)
            b[i] = fmax(b[i] - share * sw[i], 0.0)


def metrics_main(hidden, gov_bond, soe, bal_open, dist, cfads, fdfac, disc, equity_in_t, overrun, has_overrun,
                 gov_bb, gov_resale, has_gov_bb, dist_return, pot_cap, soe_left, llcr_on, ahead_mode, ahead_s,
                 bond_due, df, llcr_first, cov_on, has_bond, bank_due, t, first_call, stock_at_call, pv_hidden,
                 pv_bond, pv_soe, cum_equity, pv_gov_bb, pv_gov_resale, peak, llcr_num, llcr_den, cov_num, cov_bank,
                 dist_t, cf_prog, equity_t):
    """First call, the PVs, the funding need and its peak, the pot's refill by distributions, the LLCR and
    bond-coverage sums; writes the month's ``dist_t``, ``cf_prog`` and ``equity_t`` (equity in incl. overrun).
    The first-call test is counted in one pass and written in a second only when some path calls."""
    n = hidden.shape[0]
    rows_sum(dist, dist_t)
    rows_sum(cfads, cf_prog)
    new = 0
    for i in range(n):
        new += (hidden[i] > 1e-6) & (first_call[i] < 0)
    if new:
        for i in range(n):
            if hidden[i] > 1e-6 and first_call[i] < 0:
                first_call[i] = t
                stock_at_call[i] = bal_open[i]
    for i in range(n):
        pv_hidden[i] += hidden[i] * fdfac
        pv_bond[i] += gov_bond[i] * fdfac
        pv_soe[i] += soe[i] * disc
    for i in range(n):
        cum_equity[i] = cum_equity[i] + ((equity_in_t + soe[i]) - dist_t[i])
        equity_t[i] = equity_in_t
    if has_overrun:
        ov = np.empty(n)
        rows_sum(overrun, ov)
        for i in range(n):
            cum_equity[i] = cum_equity[i] + ov[i]
            equity_t[i] = equity_in_t + ov[i]
    if has_gov_bb:
        for i in range(n):
            pv_gov_bb[i] += gov_bb[i] * fdfac
            pv_gov_resale[i] += gov_resale[i] * fdfac
    if dist_return:
        for i in range(n):
            soe_left[i] = fmin(soe_left[i] + dist_t[i], pot_cap)
    for i in range(n):
        peak[i] = fmax(peak[i], cum_equity[i])
    if llcr_on:
        llcr(cf_prog, ahead_mode, ahead_s, bond_due, df, llcr_first, bal_open, llcr_num, llcr_den)
    if cov_on:
        coverage(cfads, bank_due, has_bond, cov_num, cov_bank)


def llcr(cf_prog, ahead_mode, ahead_s, bond_due, df, llcr_first, bal_open, llcr_num, llcr_den):
    """``llcr_num += (CFADS − bond service ranked ahead) · v``; ``llcr_den = D₀`` in the first month."""
    n = cf_prog.shape[0]
    ahead = np.zeros(n)
    if ahead_mode == 1:
        rows_sum(bond_due, ahead)
    elif ahead_mode == 2:
        for i in range(n):
            ahead[i] = ahead_s
    for i in range(n):
        llcr_num[i] += (cf_prog[i] - ahead[i]) * df
    if llcr_first:
        for i in range(n):
            llcr_den[i] = bal_open[i]


def coverage(cfads, bank_due, has_bond, cov_num, cov_bank):
    """``cov_num += Σ_{bond projects} CFADS``, ``cov_bank += Σ_{bond projects} bank service`` (rows in order)."""
    P, n = cfads.shape
    a, b = np.zeros(n), np.zeros(n)
    first = True
    for p in range(P):
        if has_bond[p]:
            cf, bd = cfads[p], bank_due[p]
            for i in range(n):
                a[i] = cf[i] if first else a[i] + cf[i]
                b[i] = bd[i] if first else b[i] + bd[i]
            first = False
    for i in range(n):
        cov_num[i] += a[i]
        cov_bank[i] += b[i]


def metrics_lens(gov_bank, fdfac, rent_sub, int_sub, grants_s, bank_short, credit_on, bank_int_p, bal_open,
                 collateral, hpi, liq, t, dist_t, equity_t, soe, hidden, gov_bond, noi_on, rent, rent_costs, running,
                 is_rental, pv_gov_bank, pv_budgeted, bank_short_first, exhausted, ead_n, coll_n, hpi_d_n, sale_n,
                 hpi_s_n, ead_c, coll_c, hpi_d_c, sale_c, hpi_s_c, equity_m, gov_m, noi12):
    """The lenses' accumulators (:func:`~baozhang_finance.engine.stages.lens_metrics`): PV of government money on
    bank service and of budgeted subsidies, the credit events without support and of the SOE's exhaustion, the
    month's equity flow and government money, and the rental NOI of the last 12 months."""
    P, n = rent_sub.shape
    budget = np.empty(n)
    for p in range(P):
        rs, isub = rent_sub[p], int_sub[p]
        for i in range(n):
            budget[i] = rs[i] + isub[i] if p == 0 else budget[i] + (rs[i] + isub[i])
    em, gm = equity_m[t], gov_m[t]
    for i in range(n):
        pv_gov_bank[i] += gov_bank[i] * fdfac
        pv_budgeted[i] += (budget[i] + grants_s) * fdfac
        em[i] = (dist_t[i] - equity_t[i]) - soe[i]
        gm[i] = hidden[i] + gov_bond[i]
    if credit_on:
        events = 0
        for i in range(n):
            events += (((bank_short[i] > 1e-6) & (bank_short_first[i] < 0)) | (exhausted[i] == t) | (sale_n[i] == t)
                       | (sale_c[i] == t))
        if events:
            interest = np.empty(n)
            rows_sum(bank_int_p, interest)
            for i in range(n):
                if bank_short[i] > 1e-6 and bank_short_first[i] < 0:
                    bank_short_first[i] = t
                    ead_n[i] = bal_open[i] + interest[i]
                    coll_n[i] = collateral[i]
                    hpi_d_n[i] = hpi[i]
                    sale_n[i] = t + liq
                if exhausted[i] == t:
                    ead_c[i] = bal_open[i] + interest[i]
                    coll_c[i] = collateral[i]
                    hpi_d_c[i] = hpi[i]
                    sale_c[i] = t + liq
                if sale_n[i] == t:
                    hpi_s_n[i] = hpi[i]
                if sale_c[i] == t:
                    hpi_s_c[i] = hpi[i]
    if noi_on:
        noi = np.zeros(n)
        first = True
        for p in range(P):
            if is_rental[p]:
                r, rs, rc, ru = rent[p], rent_sub[p], rent_costs[p], running[p]
                for i in range(n):
                    v = ((r[i] + rs[i]) - rc[i]) - ru[i]
                    noi[i] = v if first else noi[i] + v
                first = False
        for i in range(n):
            noi12[i] += noi[i]
