"""Kernels of the bank-loan month (:func:`baozhang_finance.engine.instruments.bank_loan.month` and
:func:`~baozhang_finance.engine.instruments.bank_loan.loan_rate`); the annuity's level payment (a power) is computed
between the two kernels by numpy, as the numpy stage does. Loops: loans and projects outside, paths inside."""

from __future__ import annotations

from baozhang_finance.engine.kernels._num import fmax, fmin

KERNELS = ("loans_rate", "loans_due")


def loans_rate(loan_bal, draw, fixed, rate_m, spread, lpr, rel_active, relending_on, rel_part, rel_share,
               has_reprice, reprice, has_ext, rate_add, capitalise, is_equal, mat, t, rate, cash_int, principal,
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
            if ract and relending_on[i]:
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
