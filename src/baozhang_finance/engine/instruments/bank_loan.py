"""Bank loans (住房租赁团体购房贷款 / 保障性住房收购贷款) and PBoC relending.

Conventions (DESIGN §4): an annual rate ``R`` is a nominal rate compounded monthly, so the monthly rate is
``R / 12``. A draw happens at the start of a month, interest for that month accrues on the balance after
the draw, and payments are made at the end of the month. A loan drawn in month ``m`` therefore makes its
first payment at the end of month ``m`` — one month after disbursement. In the month a bank loan is a tranche
of government class ``"hidden"`` (a government payment of its service is a hidden-debt call) — see
:mod:`baozhang_finance.engine.instruments.base`; its month (interest, capitalisation, scheduled principal) is
:func:`baozhang_finance.engine.stages.loans`.
"""

from __future__ import annotations

import numpy as np

from baozhang_finance.engine.formulas import annuity_payment, equal_principal_payment
from baozhang_finance.engine.instruments.base import Tranche

AMORTISATION_CODES = {"annuity": 0, "equal_principal": 1, "interest_only": 2, "bullet": 3}


def relending_end_month(first_month: int, term_years: int, rollovers: int) -> int:
    """First month without relending: first draw + term × (1 + rollovers) years."""
    return first_month + 12 * term_years * (1 + rollovers)


def relending_rollover_months(first_month: int, term_years: int, rollovers: int) -> list[int]:
    """Months at which the relending is up for renewal (the start of each renewed term)."""
    return [first_month + 12 * term_years * k for k in range(1, rollovers + 1)]




TRANCHE = Tranche(kind="bank_loan", government_class="hidden", soe_may_pay=True)


def month(st, c, plan, t: int, ms) -> dict:
    """One month of every bank loan, ``(L, n)``: draw, rate, interest, capitalisation, scheduled principal.

    * rate: :func:`loan_rate`;
    * interest ``I = B · r`` on the balance after the draw; capitalised (``B += I``) in the grace period when the
      loan says so, and always for a bullet;
    * maturity and rate: the loan's own, or per path ``(L, n)`` after an extension (``st.ext``: maturity moved out,
      rate add-on; :mod:`baozhang_finance.engine.cures.extension`);
    * scheduled principal: equal principal ``B / n_rem`` (:func:`~baozhang_finance.engine.formulas.
      equal_principal_payment`), annuity ``PMT(B_pre, r, n_rem) − I_cash`` (:func:`~baozhang_finance.engine.
      formulas.annuity_payment`), else the whole balance in the last month; ``0 ≤ principal ≤ B``, nothing in
      grace.

    Updates ``st.loan_bal`` (draw and capitalisation; principal is repaid after the support stage) and returns
    the loan rows (``rate``, ``cash_int``, ``principal``), the per-project interest and principal due ``(P, n)``,
    the draws by project (sources) and the balance at the month's open ``bal_open`` ``(n,)``.
    """
    draw = plan.loan_draw[:, t]
    st.loan_bal += draw[:, None]
    base = np.where(c.loan_fixed, c.loan_rate_m, ms.lpr / 12.0 + c.loan_spread_m)
    rel_on = (t < plan.loan_rel_end)[:, None] & ms.relending_on
    rate = loan_rate(st, c, base, rel_on, ms.relending_p)
    if st.ext is not None:  # an extension's rate step (cures/extension.py)
        rate = rate + st.ext.rate_add
    interest = st.loan_bal * rate
    in_grace = t < plan.loan_amort_start
    capitalise = (plan.loan_capitalise & (in_grace | (c.code == 3)))[:, None]
    cap_int = np.where(capitalise, interest, 0.0)
    bal_pre = st.loan_bal.copy()
    st.loan_bal += cap_int
    cash_int = interest - cap_int
    # months to maturity including this one: the loans' own maturity, or per path once an extension may move it
    n_rem_c = (plan.loan_maturity - t)[:, None] if st.ext is None else st.ext.maturity - t
    last = n_rem_c == 1
    pays = (~in_grace[:, None] & (n_rem_c >= 1)) | last
    principal = np.where(c.is_equal, equal_principal_payment(st.loan_bal, n_rem_c), np.where(last, st.loan_bal, 0.0))
    ar = c.annuity_rows
    if ar.size:  # only annuity loans pay the (costly) level payment
        principal[ar] = annuity_payment(bal_pre[ar], rate[ar], n_rem_c[ar]) - cash_int[ar]
    principal = np.where(pays, np.minimum(np.maximum(principal, 0.0), st.loan_bal), 0.0)
    return {"rate": rate, "principal": principal, "cash_int": cash_int, "bal_open": st.loan_bal.sum(axis=0),
            "interest": c.onehot_t @ cash_int, "principal_p": c.onehot_t @ principal,
            "draws": plan.loan_onehot.T @ draw}


def loan_rate(st, c, base, rel_on, relending_p=None):
    """Monthly rate of every loan, ``(L, n)``. The loan's own terms ``r = r_fixed`` or ``LPR/12 + spread``; with
    relending the contract rate ``r_c = s·r_rel + (1 − s)·r`` (s the refinanced share).

    * legacy conventions: ``r_c`` while relending is on, then ``r_a = r`` (the rate steps up when relending ends);
    * default conventions: PBoC relending refinances the *bank*, so the SOE's contract rate ``r_c`` stays after
      relending ends unless the bank reprices at that reset (probability ``relending.reprice_probability``, one
      draw per loan and path): ``r_a = r_c + R·(r − r_c)``, R ∈ {0, 1} (on an expected path R is the probability);
    * on an expected path after a rollover (``relending_p`` = S_t, the probability relending is still renewed,
      :class:`~baozhang_finance.engine.drivers.Drivers`): the expected rate ``w·r_c + (1 − w)·r_a`` with
      ``w = S_t`` while the loan's relending term lasts (0 after it, or after a stress stops relending).
    """
    contract = c.rel_part + (1.0 - c.rel_share) * base
    after = base if st.reprice is None else contract + st.reprice * (base - contract)
    if relending_p is None:
        return np.where(rel_on, contract, after)
    w = rel_on * relending_p
    return w * contract + (1.0 - w) * after


def repay(st, c, plan, principal, sweep) -> None:
    """Pay down after the month: scheduled principal, then the sweep pro rata to each project's loan balances,
    ``B_l −= sweep_p · B_l / Σ_{l∈p} B_l`` (balances floored at 0)."""
    st.loan_bal -= principal
    if c.any_sale:
        lp = plan.loan_project
        proj_bal = c.onehot_t @ st.loan_bal
        share = st.loan_bal / np.where(proj_bal > 0, proj_bal, 1.0)[lp]
        st.loan_bal -= share * sweep[lp]
        np.maximum(st.loan_bal, 0.0, out=st.loan_bal)
