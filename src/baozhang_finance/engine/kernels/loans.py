"""Kernels of the bank-loan month (:func:`baozhang_finance.engine.instruments.bank_loan.month` and
:func:`~baozhang_finance.engine.instruments.bank_loan.loan_rate`); the annuity's level payment (a power) is computed
between the two kernels by numpy, as the numpy stage does."""

from __future__ import annotations

from baozhang_finance.engine.kernels._num import fmax, fmin, psum

KERNELS = ("loans_rate", "loans_due")


def loans_rate(loan_bal, draw, fixed, rate_m, spread, lpr, rel_active, relending_on, rel_part, rel_share,
               has_reprice, reprice, has_ext, rate_add, capitalise, is_equal, mat, t, rate, cash_int, principal,
               bal_pre):
    """Draw; the monthly rate (own terms, relending's contract rate, a bank's repricing, an extension's add-on);
    interest, capitalised in grace (and for a bullet); the scheduled principal of equal-principal loans and the
    balloon of the last month (annuity rows are overwritten by the caller)."""
    L, n = loan_bal.shape
    for l in range(L):
        for i in range(n):
            b = loan_bal[l, i] + draw[l]
            base = rate_m[l] if fixed[l] else lpr[i] / 12.0 + spread[l]
            contract = rel_part[l] + (1.0 - rel_share[l]) * base
            if rel_active[l] and relending_on[i]:
                r = contract
            elif has_reprice:
                r = contract + reprice[l, i] * (base - contract)
            else:
                r = base
            if has_ext:
                r = r + rate_add[l, i]
            rate[l, i] = r
            interest = b * r
            cap = interest if capitalise[l] else 0.0
            bal_pre[l, i] = b
            b = b + cap
            loan_bal[l, i] = b
            cash_int[l, i] = interest - cap
            n_rem = mat[l, i] - t
            if is_equal[l]:
                principal[l, i] = b / fmax(float(n_rem), 1.0)
            else:
                principal[l, i] = b if n_rem == 1 else 0.0


def loans_due(loan_bal, principal, cash_int, in_grace, mat, t, onehot_t, bal_open, int_p, prin_p, bank_due):
    """``0 ≤ principal ≤ B`` in the months a loan pays (none in grace), the balance at the open, and the projects'
    interest, principal and bank service due (``onehot_t`` sums of the loan rows)."""
    L, n = loan_bal.shape
    P = onehot_t.shape[0]
    for i in range(n):
        for l in range(L):
            n_rem = mat[l, i] - t
            pays = ((not in_grace[l]) and n_rem >= 1) or n_rem == 1
            principal[l, i] = fmin(fmax(principal[l, i], 0.0), loan_bal[l, i]) if pays else 0.0
        bal_open[i] = psum(loan_bal, i)
        for p in range(P):
            a = 0.0
            b = 0.0
            for l in range(L):
                a += onehot_t[p, l] * cash_int[l, i]
                b += onehot_t[p, l] * principal[l, i]
            int_p[p, i] = a
            prin_p[p, i] = b
            bank_due[p, i] = a + b
