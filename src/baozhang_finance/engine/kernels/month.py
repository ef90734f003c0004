"""The kernels of the compiled stages (:mod:`baozhang_finance.engine.kernels.twins` calls them), plain Python
functions until :func:`baozhang_finance.engine.kernels.load` compiles them with numba. One file, so that numba's
on-disk cache — keyed on the source file of each function — is invalidated by any change to a kernel or a helper.

Loops: projects, tranches and loans outside, paths inside (one simple, vectorisable pass per row); an axis-0 sum is
a running sum from row 0, as numpy adds it; ``fmin`` / ``fmax`` are ``np.minimum`` / ``np.maximum`` to the bit (a
NaN in either gives NaN; of two equal values — ``-0.0`` and ``0.0`` — the second operand, as numpy's SIMD loops,
x86 ``minpd`` / ``maxpd``, return it). Each kernel's docstring names the numpy stage it mirrors, where its formulas
are.
"""

from __future__ import annotations

import numpy as np

#: helpers, compiled first and inlined (``inline="always"``)
HELPERS = ("fmin", "fmax", "psum", "credit_event", "add", "add_s")

#: the kernels, in an order where a kernel's callees come first
KERNELS = ("market", "fiscal", "loans_rate", "loans_due", "annuity_base", "annuity_principal", "bond_dues", "rental",
           "cfads", "sales", "hazard_in", "divide", "waterfall_cross", "waterfall_pay", "waterfall_keep", "rows_sum",
           "sink_pay", "rows_sum_held", "rows_sum_of", "soe_support", "government", "onehot_sum", "extension_ok",
           "extension_apply", "extension_noi", "disposal_rings", "disposal_sells", "coverage", "llcr", "default_events",
           "repay", "noi_add", "metrics_main", "metrics_lens", "yearly_bulk")


# ---- helpers: numpy's semantics to the bit ------------------------------------------------------------------------
def fmin(a, b):
    """``np.minimum(a, b)``: ``a`` if ``a < b`` or ``a`` is NaN, else ``b``."""
    if a < b or a != a:  # noqa: PLR0124  (a NaN test that numba compiles)
        return a
    return b


def fmax(a, b):
    """``np.maximum(a, b)``: ``a`` if ``a > b`` or ``a`` is NaN, else ``b``."""
    if a > b or a != a:  # noqa: PLR0124
        return a
    return b


def psum(x, i):
    """``x.sum(axis=0)[i]`` of a ``(P, n)`` array as numpy's axis-0 reduction adds it: row by row, from row 0."""
    acc = x[0, i]
    for p in range(1, x.shape[0]):
        acc += x[p, i]
    return acc


# ---- market (engine.drivers.Drivers.step; its exp and power stay in numpy) -----------------------------------------
def market(shocks, log_h, log_r, lpr, log_c, occ, absorption, log_g, a_h, a_r, kappa_l, mean_l, a_c, k_occ, k_abs,
           a_g, s_price, s_rent, s_rate, lpr_floor, s_occ, x_h, x_r, lpr_out, occ_dev):
    """The seven recursions of a month with shocks (``shocks`` = ε @ the scaled Cholesky factor, ``(n, 7)``):
    ``log H += (μ − ½σ²) + z₀`` … ``LPR += κ (m − LPR) + z₂``, ``occ += −κ occ + z₄`` …; writes the exponents of the
    price and rent indices (with the stress overlay), ``max(LPR + stress, floor)`` and the occupancy deviation."""
    n = log_h.shape[0]
    for i in range(n):
        z = shocks[i]
        lh = log_h[i] + (a_h + z[0])
        log_h[i] = lh
        x_h[i] = lh + s_price
        lr = log_r[i] + (a_r + z[1])
        log_r[i] = lr
        x_r[i] = lr + s_rent
        lp = lpr[i] + (kappa_l * (mean_l - lpr[i]) + z[2])
        lpr[i] = lp
        lpr_out[i] = fmax(lp + s_rate, lpr_floor)
        log_c[i] = log_c[i] + (a_c + z[3])
        o = occ[i] + (k_occ * occ[i] + z[4])
        occ[i] = o
        occ_dev[i] = o + s_occ
        absorption[i] = absorption[i] + (k_abs * absorption[i] + z[5])
        log_g[i] = log_g[i] + (a_g + z[6])


def fiscal(h_beta, g, f0_share, f0, keep, share, land):
    """The month's fiscal revenue (:meth:`~baozhang_finance.engine.drivers.Drivers.state`), in place of ``g = e^{ln
    G}``: ``F = F₀ · ((1 − s) · G + s · H^β)``; its land part ``(F₀ · s) · H^β`` into ``land``."""
    for i in range(g.shape[0]):
        hb = h_beta[i]
        land[i] = f0_share * hb
        g[i] = f0 * (keep * g[i] + share * hb)


# ---- loans (engine.instruments.bank_loan.month, loan_rate) --------------------------------------------------------
def loans_rate(loan_bal, draw, fixed, rate_m, spread, lpr, rel_active, relending_on, has_w, relending_p, rel_part,
               rel_share, has_reprice, reprice, has_ext, rate_add, capitalise, is_equal, mat, t, rate, cash_int, principal,
               bal_pre):
    """Draw; the monthly rate (own terms, relending's contract rate, a bank's repricing, an extension's add-on);
    interest, capitalised in grace (and for a bullet); the scheduled principal of equal-principal loans and the
    balloon of the last month (annuity rows are overwritten by the caller)."""
    L, n = loan_bal.shape
    for l in range(L):
        b_, rp, ra, mt = loan_bal[l], reprice[l], rate_add[l], mat[l]
        r_, ci, pr, bp = rate[l], cash_int[l], principal[l], bal_pre[l]
        dr, fx, rm, sp, ract = draw[l], fixed[l], rate_m[l], spread[l], rel_active[l]
        rpart, rshare, cap_on, eq = rel_part[l], rel_share[l], capitalise[l], is_equal[l]
        for i in range(n):
            b = b_[i] + dr
            base = rm if fx else lpr[i] / 12.0 + sp
            contract = rpart + (1.0 - rshare) * base
            if has_w:  # an expected path: the probability relending is still on weighs the two rates
                w = relending_p[i] if ract and relending_on[i] else 0.0
                after = contract + rp[i] * (base - contract) if has_reprice else base
                r = w * contract + (1.0 - w) * after
            elif ract and relending_on[i]:
                r = contract
            elif has_reprice:
                r = contract + rp[i] * (base - contract)
            else:
                r = base
            if has_ext:
                r = r + ra[i]
            r_[i] = r
            interest = b * r
            cap = interest if cap_on else 0.0
            bp[i] = b
            b = b + cap
            b_[i] = b
            ci[i] = interest - cap
            n_rem = mt[i] - t
            if eq:
                pr[i] = b / fmax(float(n_rem), 1.0)
            else:
                pr[i] = b if n_rem == 1 else 0.0


def loans_due(loan_bal, principal, cash_int, in_grace, mat, t, onehot_t, bal_open, int_p, prin_p, bank_due):
    """``0 ≤ principal ≤ B`` in the months a loan pays (none in grace), the balance at the open, and the projects'
    interest, principal and bank service due (``onehot_t`` sums of the loan rows)."""
    L, n = loan_bal.shape
    P = onehot_t.shape[0]
    for l in range(L):
        b, pr, mt, grace = loan_bal[l], principal[l], mat[l], in_grace[l]
        for i in range(n):
            n_rem = mt[i] - t
            pays = ((not grace) and n_rem >= 1) or n_rem == 1
            pr[i] = fmin(fmax(pr[i], 0.0), b[i]) if pays else 0.0
            bal_open[i] = b[i] if l == 0 else bal_open[i] + b[i]
    for p in range(P):
        a, c, d = int_p[p], prin_p[p], bank_due[p]
        for i in range(n):
            a[i] = 0.0
            c[i] = 0.0
        for l in range(L):
            w, ci, pr = onehot_t[p, l], cash_int[l], principal[l]
            for i in range(n):
                a[i] += w * ci[i]
                c[i] += w * pr[i]
        for i in range(n):
            d[i] = a[i] + c[i]


def annuity_base(rate, rows, base):
    """Annuity rows (:func:`~baozhang_finance.engine.formulas.annuity_payment`): ``1 + r`` (r = 1 where
    ``|r| < 1e-12``), the base of numpy's power ``(1 + r)^{−n}``."""
    n = rate.shape[1]
    for j in range(rows.shape[0]):
        r_, b = rate[rows[j]], base[j]
        for i in range(n):
            r = r_[i]
            b[i] = 1.0 + (1.0 if abs(r) < 1e-12 else r)


def annuity_principal(bal_pre, rate, cash_int, rows, n_rem, power, principal):
    """``principal = B · r / (1 − (1 + r)^{−n}) − cash interest`` (``B / n`` where ``|r| < 1e-12``) on the annuity
    rows, ``power`` = numpy's ``(1 + r)^{−n}``, ``n_rem`` = max(n, 1) ``(A, 1)`` or ``(A, n)``."""
    n = rate.shape[1]
    per_path = n_rem.shape[1] > 1
    for j in range(rows.shape[0]):
        l = rows[j]
        b, r_, ci, pw, pr, nr = bal_pre[l], rate[l], cash_int[l], power[j], principal[l], n_rem[j]
        for i in range(n):
            r = r_[i]
            m = nr[i] if per_path else nr[0]
            f = 1.0 / m if abs(r) < 1e-12 else r / (1.0 - pw[i])
            pr[i] = b[i] * f - ci[i]


def bond_dues(bi, bp, ri, rp, has_refi, sold, has_sold, out_int, out_prin, out_due):
    """Special-bond service per path (:func:`~baozhang_finance.engine.stages.bond_dues`): the schedule's interest
    and principal ``(P,)`` plus refinancing bonds' ``(P, n)``, times ``1 − sold`` after a disposal."""
    P, n = out_int.shape
    for p in range(P):
        a0, b0, r_i, r_p, sd = bi[p], bp[p], ri[p], rp[p], sold[p]
        oi, op, od = out_int[p], out_prin[p], out_due[p]
        for i in range(n):
            a = a0 + r_i[i] if has_refi else a0
            b = b0 + r_p[i] if has_refi else b0
            if has_sold:
                keep = 1.0 - sd[i]
                a = a * keep
                b = b * keep
            oi[i] = a
            op[i] = b
            od[i] = a + b


# ---- operations (engine.stages.rental, cfads, sales, buybacks) ----------------------------------------------------
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


def sales(unsold, inv_on, inv, absorption_m, absorption, any_elastic, h_pow, active, handover, presale, eligible,
          lock_ring, lock_slot, lk_slot, any_bb, bb_row, h_ann, e_m1, bb_partial, accept, bb_market, bb_mprice, orig,
          area, hpi, ru_ring, rv_ring, dslot, rslot, resale_factor, pending, held, sale_unit_value, tax_rate, sold, bb_units, bb_paid, sales_out, tax_out):
    """Sale operations (:func:`baozhang_finance.engine.stages.sales` with :func:`~baozhang_finance.engine.stages.
    buybacks`): inventory, absorption ``min(a · A_t · H^ε, 1)`` (``h_pow`` = H^ε from numpy), the lock-up ring,
    buybacks (the monthly hazard ``h_m = −expm1(log1p(−h) / 12)``, 1 at h ≥ 1, from ``h_ann`` and numpy's
    ``e_m1 = expm1(…)``: :func:`hazard_in`) and their resale ring, hand-overs, sales and sales tax."""
    P, n = unsold.shape
    for p in range(P):
        un, hp, el, hd, pe = unsold[p], h_pow[p], eligible[p], held[p], pending[p]
        am = absorption_m[p]
        ring_in, ring_out = lock_ring[lock_slot[p]][p], lock_ring[lk_slot][p]
        so, sa, tx = sold[p], sales_out[p], tax_out[p]
        inv_p, act, ho = inv[p], active[p], handover[p]
        for i in range(n):
            u = un[i] + inv_p if inv_on else un[i]
            ar = am * absorption[i]
            if any_elastic:
                ar = ar * hp[i]
            x = (u * fmin(ar, 1.0)) * act
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
            ha, em = h_ann[max(j, 0)], e_m1[max(j, 0)]
            acc, mk, mp, og, ar_p, rf = accept[p], bb_market[p], bb_mprice[p], orig[p], area[p], resale_factor[p]
            for i in range(n):
                e = el[i]
                bu = e * (1.0 if ha[i] >= 1.0 else -em[i]) if j >= 0 else 0.0
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


def hazard_in(hpi, hazard, sens, h_ann, neg):
    """The buyback hazard before its transcendental steps (:func:`~baozhang_finance.engine.stages.buybacks`):
    ``h = min(hazard · (1 + s · max(0, 1 − H)), 1)`` and ``−where(h ≥ 1, 0, h)``, the argument of numpy's log1p."""
    R, n = h_ann.shape
    for r in range(R):
        ha, ng, hz, sv = h_ann[r], neg[r], hazard[r], sens[r]
        for i in range(n):
            h = fmin(hz * (1.0 + sv * fmax(0.0, 1.0 - hpi[i])), 1.0)
            ha[i] = h
            ng[i] = -(0.0 if h >= 1.0 else h)


def divide(x, d, out):
    """``out = x / d`` (the ``/ 12`` between numpy's log1p and expm1)."""
    R, n = x.shape
    for r in range(R):
        a, o = x[r], out[r]
        for i in range(n):
            o[i] = a[i] / d


# ---- waterfall (engine.stages.waterfall, dsra_refill, cross_support, lockup; cures.sinking_fund.pay, build) -------
def sink_pay(fund, bond_target, has_balloon, loan_bal, principal, maturity, balloon, window, t, onehot_t, bullet,
             bond_bullet, dues, release, target, paid_total, cure):
    """The sinking fund's month before the waterfall (:func:`~baozhang_finance.engine.cures.sinking_fund.pay`):
    target ``F* = bond target + Σ_l onehot · B_l · build fraction`` (the balloon loans', ``M = maturity − 1``; the
    fraction ``(t − (M − W) + 1) / W`` in [0, 1], 0 from M on); the fund pays each tranche's bullet principal due
    (``bullet[k]``: 1 the balloon loans' principal due this month, 2 the bullet bonds', 0 none) in rank order,
    ``paid = min(F, b)``, ``F −= paid``, ``due_k −= paid`` (in ``dues``), ``paid_total += Σ_p paid``; then releases
    ``max(F − F*, 0)``. ``cure += paid_total``. One-hot products as sums from +0.0."""
    P, n = fund.shape
    K, L = dues.shape[0], loan_bal.shape[0]
    bank = np.zeros((P, n))
    for p in range(P):
        tg = target[p]
        for i in range(n):
            tg[i] = bond_target[p] + 0.0
    if has_balloon:
        add, frac = np.zeros((P, n)), np.empty(n)
        for l in range(L):
            b, pr, mt = loan_bal[l], principal[l], maturity[l]
            for i in range(n):
                pm = mt[i] - 1
                f = min(max(float(t - (pm - window) + 1) / float(window), 0.0), 1.0) if t < pm else 0.0
                frac[i] = b[i] * (f if balloon[l] else 0.0)
            for p in range(P):
                w, bk, ad = onehot_t[p, l], bank[p], add[p]
                for i in range(n):
                    bk[i] += w * (pr[i] if balloon[l] and mt[i] - 1 == t else 0.0)
                    ad[i] += w * frac[i]
        for p in range(P):
            tg, ad = target[p], add[p]
            for i in range(n):
                tg[i] = tg[i] + ad[i]
    for i in range(n):
        paid_total[i] = 0.0
    paid, tot = np.empty((P, n)), np.empty(n)
    for k in range(K):
        if bullet[k] == 0:
            continue
        for p in range(P):
            fu, d, pd, bk = fund[p], dues[k, p], paid[p], bank[p]
            for i in range(n):
                x = fmin(fu[i], bk[i] if bullet[k] == 1 else bond_bullet[p])
                pd[i] = x
                fu[i] = fu[i] - x
                d[i] = d[i] - x
        rows_sum(paid, tot)
        for i in range(n):
            paid_total[i] += tot[i]
    for p in range(P):
        fu, tg, re = fund[p], target[p], release[p]
        for i in range(n):
            x = fmax(fu[i] - tg[i], 0.0)
            re[i] = x
            fu[i] = fu[i] - x
    for i in range(n):
        cure[i] += paid_total[i]


def waterfall_pay(cfads, cash, dsra, extra, has_extra, release, has_release, dues, short, short_opex, surplus,
                  do_sweep, sweep_share, sales, onehot_t, loan_bal, principal, sweep):
    """Cash available ``CFADS + cash + DSRA (+ the sinking fund's release) (+ reserve_net)`` pays the tranches in
    rank order (``dues`` ``(K, P, n)`` in that order), then the sweep ``min(share · sales, surplus, bank balance
    after principal)``. Writes ``short``, ``short_opex``, ``sweep`` and the surplus left. Loops: projects (and
    tranches, loans) outside, paths inside."""
    P, n = cfads.shape
    K, L = dues.shape[0], loan_bal.shape[0]
    for p in range(P):
        cf, ca, ds, ex, so, rest = cfads[p], cash[p], dsra[p], extra[p], short_opex[p], surplus[p]
        rl = release[p]
        for i in range(n):
            avail = cf[i] + ca[i] + ds[i]
            if has_release:
                avail = avail + rl[i]
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
                   floor, new_dsra, has_sink, fund, fund_target, cross, short_opex, short, cfads, bond_due, soe_due,
                   cf12, ds12, cf_ring, ds_ring, r12, lockup_dscr, sold, has_sold, cash, dist, locked):
    """DSRA refilled to ``max(target, floor)`` from the surplus, ``target = k · bank_due + bond service ahead
    (+ SOE-bond service ahead) + Σ balloon principal due within k months`` (``ahead`` ``(L, n)``); the sinking fund
    topped up, ``ΔF = min(surplus, max(F* − F, 0))`` (``has_sink``; :func:`~baozhang_finance.engine.cures.
    sinking_fund.build`); cross-support between projects (``cross``, :func:`waterfall_cross`); the trailing-12-month
    lock-up on the running sums; the surplus retained as cash or distributed."""
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
        if has_sink:
            fu, ft = fund[p], fund_target[p]
            for i in range(n):
                a = fmin(sur[i], fmax(ft[i] - fu[i], 0.0))
                fu[i] = fu[i] + a
                sur[i] = sur[i] - a
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


# ---- SOE support (engine.stages.soe_support, _support_events) -----------------------------------------------------
def soe_support(short_opex, short, soe_left, year_start, yearly, cap, order, in_paid, allocated, gov, shorts, paid,
                soe, new_opex, new_short, exhausted, first_short, t):
    """Per path: the pot's yearly top-up, the class totals ``shorts`` (row 0 operating costs, then the tranches) of
    the SOE's blocks (a government-owned block's row, ``gov[p]``, counted as the 0.0 of ``stages._hold_gov_rows``),
    SOE money in ``order`` (class rows), the exhaustion and first-shortfall months, and — when the cures follow
    SOE support — the projects' shortfalls scaled by the share left open (``new_opex``, ``new_short``; a
    government block's rows as they were, ``stages._restore_gov_rows``).
    Loops: classes and projects outside, paths inside (one simple pass per row)."""
    P, n = short_opex.shape
    K, J = short.shape[0], order.shape[0]
    if year_start:
        for i in range(n):
            soe_left[i] = fmin(soe_left[i] + yearly, cap)
    for c in range(K + 1):
        rows_sum_held(short_opex if c == 0 else short[c - 1], gov, shorts[c])
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
                if in_paid[c] and not gov[p]:
                    for i in range(n):
                        y[i] = x[i] * (1.0 - pc[i] / sc[i] if sc[i] > 0 else 1.0)
                else:
                    for i in range(n):
                        y[i] = x[i]


# ---- government (engine.stages.government) ------------------------------------------------------------------------
def government(allocated, short_opex, short, shorts, paid, in_paid, hidden_class, gov, has_gov, gov_k, gov_bank,
               gov_bond, hidden, gov_owned):
    """Government money per tranche ``gov_k``: ``Σ_p short_{p,k}`` after the cures (``allocated``), else the class
    total less SOE money (``shorts[k+1] − paid[k+1]`` where SOE money may pay it); summed by class in tranche order
    (the first as it is), 0 for a class without a tranche; ``hidden = operating gap + gov_bank``. With
    government-owned blocks (``gov[p]``, ``has_gov``): before the cures, their tranche gaps added per tranche and
    then to their class, in tranche order; their operating gap ``gov_owned`` (explicit spending) is not in the
    hidden call (after the cures: the SOE blocks' gap, ``Σ_{p ∉ gov}``)."""
    K, n = gov_k.shape
    for k in range(K):
        g = gov_k[k]
        if allocated:
            rows_sum(short[k], g)
        elif in_paid[k + 1]:
            s, pd = shorts[k + 1], paid[k + 1]
            for i in range(n):
                g[i] = s[i] - pd[i]
        else:
            s = shorts[k + 1]
            for i in range(n):
                g[i] = s[i]
    first_h, first_b = True, True
    for k in range(K):
        g = gov_k[k]
        if hidden_class[k]:
            for i in range(n):
                gov_bank[i] = g[i] if first_h else gov_bank[i] + g[i]
            first_h = False
        else:
            for i in range(n):
                gov_bond[i] = g[i] if first_b else gov_bond[i] + g[i]
            first_b = False
    if has_gov and not allocated:  # the government blocks' tranche gaps, held out of SOE support
        h = np.empty(n)
        for k in range(K):
            rows_sum_of(short[k], gov, True, h)
            g, cls = gov_k[k], gov_bank if hidden_class[k] else gov_bond
            for i in range(n):
                g[i] = g[i] + h[i]
                cls[i] = cls[i] + h[i]
    for i in range(n):
        if first_h:
            gov_bank[i] = 0.0
        if first_b:
            gov_bond[i] = 0.0
    if has_gov:
        rows_sum_of(short_opex, gov, True, gov_owned)
    if allocated:
        rows_sum_of(short_opex, gov, False, hidden)
    elif in_paid[0]:
        for i in range(n):
            hidden[i] = shorts[0, i] - paid[0, i]
    else:
        for i in range(n):
            hidden[i] = shorts[0, i]
    for i in range(n):
        hidden[i] = hidden[i] + gov_bank[i]


# ---- cures (engine.cures.extension.month, engine.cures.disposal.month) --------------------------------------------
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


def onehot_sum(onehot_t, x, out):
    """``out = onehot_t @ x`` for a one-hot ``(P, L)`` matrix, each project's loans added to +0.0 in loan order (the
    products are exact, so any BLAS order gives these bits)."""
    P, L = onehot_t.shape
    n = x.shape[1]
    for p in range(P):
        o = out[p]
        for i in range(n):
            o[i] = 0.0
        for l in range(L):
            w, r = onehot_t[p, l], x[l]
            for i in range(n):
                o[i] += w * r[i]


def extension_ok(short, loan_int, principal, loan_bal, onehot_t, lp, worth, max_ltv, maturity, years12, first,
                 max_tenor12, times, max_times, due_l, u_l, ok):
    """Which loans an extension may take (:func:`~baozhang_finance.engine.cures.extension.extend`): their dues,
    their share ``u_l`` of the project's unpaid service, the loan-to-value and tenor caps; returns how many."""
    L, n = loan_int.shape
    P = onehot_t.shape[0]
    for l in range(L):
        d, a, b = due_l[l], loan_int[l], principal[l]
        for i in range(n):
            d[i] = a[i] + b[i]
    due_p, owed = np.empty((P, n)), np.empty((P, n))
    onehot_sum(onehot_t, due_l, due_p)
    diff = np.empty((L, n))
    for l in range(L):
        for i in range(n):
            diff[l, i] = loan_bal[l, i] - principal[l, i]
    onehot_sum(onehot_t, diff, owed)
    count = 0
    for l in range(L):
        p = lp[l]
        sh, d, dp, ow, wv, u, o = short[p], due_l[l], due_p[p], owed[p], worth[p], u_l[l], ok[l]
        mt, tm, fl = maturity[l], times[l], first[l]
        for i in range(n):
            u[i] = sh[i] * d[i] / (dp[i] if dp[i] > 0 else 1.0)
            ltv = (wv[i] > 0) & ((ow[i] + sh[i]) <= max_ltv * wv[i])
            e = ((sh[i] > 1e-6) & ltv & (d[i] > 0) & (tm[i] < max_times)
                 & ((mt[i] + years12) - fl <= max_tenor12))
            o[i] = e
            count += e
    return count


def extension_apply(short, loan_bal, principal, onehot_t, ok, due_l, u_l, fee_share, maturity, years12, rate_add,
                    step, times, new_short, cure, cure_total, cure_count, cure_fee):
    """Extend the ``ok`` loans: ``u_l`` and a fee ``f · (B − principal + u_l)`` capitalised, maturity + 12·years,
    rate + step; the project's shortfall cured (whole where every loan with service due was extended, else by
    what was capitalised); the cure's ledger and metrics."""
    L, n = loan_bal.shape
    P = onehot_t.shape[0]
    cap, left = np.empty((L, n)), np.empty((L, n))
    fee_sum, count = np.zeros(n), np.zeros(n)
    for l in range(L):
        b, pr, o, u, d, ca, lf = loan_bal[l], principal[l], ok[l], u_l[l], due_l[l], cap[l], left[l]
        mt, ra, tm = maturity[l], rate_add[l], times[l]
        for i in range(n):
            c_ = u[i] if o[i] else 0.0
            fee = fee_share * ((b[i] - pr[i]) + c_) if o[i] else 0.0
            ca[i] = c_
            b[i] = b[i] + (c_ + fee)
            mt[i] = mt[i] + years12 if o[i] else mt[i]
            ra[i] = ra[i] + (step if o[i] else 0.0)
            tm[i] = tm[i] + o[i]
            lf[i] = 1.0 if (d[i] > 0) & (not o[i]) else 0.0
            fee_sum[i] = fee if l == 0 else fee_sum[i] + fee
            count[i] = count[i] + o[i]
    left_p, cap_p = np.empty((P, n)), np.empty((P, n))
    onehot_sum(onehot_t, left, left_p)
    onehot_sum(onehot_t, cap, cap_p)
    for p in range(P):
        sh, lo, cp, ns = short[p], left_p[p], cap_p[p], new_short[p]
        for i in range(n):
            cured = sh[i] if (sh[i] > 1e-6) & (lo[i] == 0) else fmin(cp[i], sh[i])
            ns[i] = sh[i] - cured
            cure[i] = cured if p == 0 else cure[i] + cured
    for i in range(n):
        cure_total[i] += cure[i]
        cure_count[i] += count[i]
        cure_fee[i] += fee_sum[i]


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


def disposal_sells(eligible, short, noi_ring, lpr, cap_rate, beta, lpr0, floor, keep_share, has_loans, onehot_t,
                   loan_bal, principal, bond_bal, has_refi, refi_onehot, live, amount, min_share):
    """How many eligible blocks a disposal sells this month (:func:`~baozhang_finance.engine.cures.disposal.settle`),
    tested on the eligible (project, path) cells only: net proceeds ``max(Σ_12 NOI, 0) / k · (1 − cost)`` ≥ the
    need (shortfall + bank balance after principal + bond principal outstanding) and a material shortfall. The
    caller lets numpy's ``settle`` book a sale (on every path, as numpy does) only when there is one."""
    P, n = short.shape
    L, I = loan_bal.shape[0], amount.shape[0]
    sells = 0
    for p in range(P):
        for i in range(n):
            if not eligible[p, i]:
                continue
            fn = noi_ring[0, p, i]
            for j in range(1, 12):
                fn += noi_ring[j, p, i]
            net = (fmax(fn, 0.0) / fmax(cap_rate + beta * (lpr[i] - lpr0), floor)) * keep_share
            bank = 0.0
            if has_loans:
                for l in range(L):
                    bank += onehot_t[p, l] * (loan_bal[l, i] - principal[l, i])
            bond = bond_bal[p]
            if has_refi:
                acc = 0.0
                for j in range(I):
                    if live[j]:
                        acc += refi_onehot[p, j] * amount[j, i]
                bond = bond + acc
            sh = short[p, i]
            need = (sh + bank) + bond
            material = sh >= min_share * ((bank + bond) + sh)
            sells += material & (net >= need) & (net > 0.0)
    return sells


# ---- default and metrics (engine.stages.default, bank_loan.repay, metrics, lens_metrics) --------------------------
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


def rows_sum_held(x, gov, out):
    """``out = x.sum(axis=0)`` of the copy of ``x`` whose government rows (``gov[p]``) are 0.0, as SOE support sums it
    (``stages._hold_gov_rows``): row by row from row 0, a held row adding 0.0."""
    P, n = x.shape
    first = x[0]
    for i in range(n):
        out[i] = 0.0 if gov[0] else first[i]
    for p in range(1, P):
        r = x[p]
        if gov[p]:
            for i in range(n):
                out[i] += 0.0
        else:
            for i in range(n):
                out[i] += r[i]


def rows_sum_of(x, sel, want, out):
    """``out = x[rows].sum(axis=0)`` over the rows ``p`` with ``sel[p] == want``, in order, the first as it is; 0.0
    when there is none (numpy's sum of an empty selection)."""
    P, n = x.shape
    first = True
    for p in range(P):
        if sel[p] == want:
            r = x[p]
            for i in range(n):
                out[i] = r[i] if first else out[i] + r[i]
            first = False
    if first:
        for i in range(n):
            out[i] = 0.0


def credit_event(i, t, liq, bal_open, interest, collateral, hpi, ead, coll, hpi_d, sale):
    """Path ``i``'s credit event in month ``t`` (as ``stages._credit_event``): EAD = balance at the open + the month's
    interest, the collateral's market value, the price index, and the month the bank sells (``t + liq``)."""
    ead[i] = bal_open[i] + interest[i]
    coll[i] = collateral[i]
    hpi_d[i] = hpi[i]
    sale[i] = t + liq


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
            credit_event(i, t, liq, bal_open, interest, collateral, hpi, ead, coll, hpi_d, sale_month)
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
                 gov_bb, gov_resale, has_gov_bb, dist_return, pot_cap, soe_left, llcr_on, has_ahead, ahead,
                 df, cov_on, has_bond, bank_due, t, gov, has_gov, gov_owned, first_call,
                 stock_at_call, pv_hidden, pv_bond, pv_soe, pv_soe_fiscal, cum_equity, pv_gov_bb, pv_gov_resale, pv_gov_opex,
                 pv_gov_income, peak, llcr_num, cov_num, cov_bank, dist_t, cf_prog, equity_t, gov_income):
    """First call, the PVs, the funding need and its peak, the pot's refill by distributions, the LLCR and
    bond-coverage sums; writes the month's ``dist_t``, ``cf_prog`` and ``equity_t`` (equity in incl. overrun).
    With government-owned blocks (``gov[p]``, ``has_gov``; ``equity_in_t`` the SOE blocks'): their distributions
    ``gov_income`` return to the budget (``dist_t −= gov_income``), the PVs of their operating gap and income.
    The first-call test is counted in one pass and written in a second only when some path calls."""
    n = hidden.shape[0]
    rows_sum(dist, dist_t)
    if has_gov:
        rows_sum_of(dist, gov, True, gov_income)
        for i in range(n):
            dist_t[i] = dist_t[i] - gov_income[i]
            pv_gov_opex[i] += gov_owned[i] * fdfac
            pv_gov_income[i] += gov_income[i] * fdfac
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
        pv_soe_fiscal[i] += soe[i] * fdfac
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
        llcr(cfads, has_ahead, ahead, df, llcr_num)
    if cov_on:
        coverage(cfads, bank_due, has_bond, cov_num, cov_bank)


def llcr(cfads, has_ahead, ahead, df, llcr_num):
    """Each project's ``N_p += (CFADS_p − A_p) · v_p`` (``A`` the bond service ranked ahead, when ``has_ahead``;
    ``v_p`` = 0 outside its window; :func:`~baozhang_finance.engine.stages.metrics`)."""
    P, n = cfads.shape
    for p in range(P):
        cf, ah, num, v = cfads[p], ahead[p], llcr_num[p], df[p]
        if has_ahead:
            for i in range(n):
                num[i] += (cf[i] - ah[i]) * v
        else:
            for i in range(n):
                num[i] += cf[i] * v


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
                 collateral, hpi, liq, t, dist_t, equity_t, soe, hidden, gov_bond, has_gov, gov_owned, noi_on, rent,
                 rent_costs, running, is_rental, pv_gov_bank, pv_budgeted, bank_short_first, exhausted, ead_n, coll_n,
                 hpi_d_n, sale_n, hpi_s_n, ead_c, coll_c, hpi_d_c, sale_c, hpi_s_c, equity_m, gov_m, noi12):
    """The lenses' accumulators (:func:`~baozhang_finance.engine.stages.lens_metrics`): PV of government money on
    bank service and of budgeted subsidies, the credit events without support and of the SOE's exhaustion, the
    month's equity flow and government money (``+ gov_owned``, the government blocks' gap, with ``has_gov``), and
    the rental NOI of the last 12 months."""
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
    if has_gov:
        for i in range(n):
            gm[i] = gm[i] + gov_owned[i]
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
                    credit_event(i, t, liq, bal_open, interest, collateral, hpi, ead_n, coll_n, hpi_d_n, sale_n)
                if exhausted[i] == t:
                    credit_event(i, t, liq, bal_open, interest, collateral, hpi, ead_c, coll_c, hpi_d_c, sale_c)
                if sale_n[i] == t:
                    hpi_s_n[i] = hpi[i]
                if sale_c[i] == t:
                    hpi_s_c[i] = hpi[i]
    if noi_on:  # the last twelve months' NOI (noi_on: some block is a rental block)
        noi_add(noi12, is_rental, rent, rent_sub, rent_costs, running)


# ---- yearly ledgers (engine.stages.yearly: _yearly_debt_flows, _yearly_operating_flows; a bulk run's ledgers) -----
def yearly_bulk(yb, s, y, bank_int_p, bank_prin_p, per_path, bond_s, bond_int, bond_prin, refi_on, refi, refi_s,
                cfads, bank_due, proj_cfads, proj_bank, soe_bond_s, has_soe, cf_prog, has_ov, overrun_t, has_gov,
                gov_owned, dist_t, eq_on, eq, eq_s, soe, hidden, gov_bond, fiscal, uses_s, locked, land_on, land,
                noi_on, is_rental, rent, rent_sub, rent_costs, running):
    """The month's flows into year ``y`` of a bulk run's ledgers ``yb`` (``(K, Y, n)``, ledger ``k`` at row
    ``s[k]`` in the order of :data:`~baozhang_finance.engine.kernels.twins.YEARLY_SLOTS`), each added as numpy
    adds it: debt service ``+= (Σ_p bank interest + Σ_p bank principal) + bond service`` (``bond_s`` or, per path,
    ``Σ_p bond interest + Σ_p bond principal``) ``(+ SOE-bond service)``; per-project CFADS and bank service; CFADS,
    uses (``+= overrun, += uses + reserve``), distributions, equity in, support by payer, fiscal revenue and its
    land part, lock-up months ``+= any_p locked``, NOI ``Σ_{rental p} ((rent + subsidy) − rent costs) − running``.
    Axis-0 sums row by row from row 0; a ledger a month adds nothing to still gets numpy's ``+ 0.0``."""
    P, n = cfads.shape
    for p in range(P):
        add(proj_cfads[y, p], cfads[p])
        add(proj_bank[y, p], bank_due[p])
    acc, tmp = np.empty(n), np.empty(n)
    rows_sum(bank_int_p, acc)
    rows_sum(bank_prin_p, tmp)
    for i in range(n):
        acc[i] = acc[i] + tmp[i]
    if per_path:  # bond service per path: Σ_p interest + Σ_p principal
        bond = np.empty(n)
        rows_sum(bond_int, bond)
        rows_sum(bond_prin, tmp)
        for i in range(n):
            acc[i] = acc[i] + (bond[i] + tmp[i])
        if refi_on:
            add(yb[s[1], y], refi)
        else:
            add_s(yb[s[1], y], refi_s)
    else:
        for i in range(n):
            acc[i] = acc[i] + bond_s
    add(yb[s[0], y], acc)
    if has_soe:
        add_s(yb[s[0], y], soe_bond_s)
    add(yb[s[2], y], cf_prog)
    if has_ov:
        add(yb[s[3], y], overrun_t)
    add_s(yb[s[3], y], uses_s)
    if has_gov:
        add(yb[s[4], y], gov_owned)
    add(yb[s[5], y], dist_t)
    if eq_on:
        add(yb[s[6], y], eq)
    else:
        add_s(yb[s[6], y], eq_s)
    add(yb[s[7], y], soe)
    add(yb[s[8], y], hidden)
    add(yb[s[9], y], gov_bond)
    add(yb[s[10], y], fiscal)
    lk = yb[s[11], y]
    for i in range(n):
        on = locked[0, i]
        for p in range(1, P):
            on = on | locked[p, i]
        lk[i] += 1.0 if on else 0.0
    if land_on:
        add(yb[s[12], y], land)
    else:
        add_s(yb[s[12], y], 0.0)
    if noi_on:
        noi_add(yb[s[13], y], is_rental, rent, rent_sub, rent_costs, running)


def add(acc, x):
    """``acc += x`` of two ``(n,)`` arrays."""
    for i in range(acc.shape[0]):
        acc[i] += x[i]


def add_s(acc, x):
    """``acc += x`` of an ``(n,)`` array and a number."""
    for i in range(acc.shape[0]):
        acc[i] += x


def noi_add(no, is_rental, rent, rent_sub, rent_costs, running):
    """``noi += Σ_{rental p} ((rent + rent subsidy) − rent costs) − running`` (the rental rows from the first, as
    numpy sums the boolean selection over axis 0)."""
    P, n = rent.shape
    acc = np.empty(n)
    first = True
    for p in range(P):
        if is_rental[p]:
            r, rs, rc, ru = rent[p], rent_sub[p], rent_costs[p], running[p]
            for i in range(n):
                v = ((r[i] + rs[i]) - rc[i]) - ru[i]
                acc[i] = v if first else acc[i] + v
            first = False
    if not first:
        for i in range(n):
            no[i] += acc[i]
