"""展期: the bank extends and re-amortises a short loan instead of the budget paying it ([cures.extension]).

In a month a project's bank service is short after its cash and DSRA (``short_p > 1e-6`` yuan), each of its loans
``l`` with service due this month is **eligible** when

* it has had fewer than ``max_times`` extensions;
* the new tenor is within the cap: ``M_l + 12·years − first_l ≤ 12·max_tenor_years`` (M the maturity, the first
  month after the last payment);
* the project's balance with the unpaid service, ``B_p − principal_p + short_p``, is within
  ``max_loan_to_income_value`` × the block's value (:func:`~baozhang_finance.engine.cures.value.block_value`,
  value > 0).

An eligible loan's share of the unpaid service ``u_l = short_p × due_l / Σ_{l'∈p} due_l'`` (due = cash interest
+ scheduled principal) is capitalised, then a fee ``f × (B_l − principal_l + u_l)`` is capitalised too; its
maturity moves out by ``12·years`` months and its rate steps up by ``rate_step_bp``; the project's shortfall falls
by what was capitalised (to 0 when every loan with service due is eligible). From the next month the loan
amortises over its new remaining term (annuity ``PMT(B, r + Δr, M' − t)``, equal principal ``B / (M' − t)``,
interest-only / bullet at M'). Ledger: ``metrics["cure_extension"]`` += unpaid service capitalised (the cash the
bank lent the month), with the count and the fees per path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baozhang_finance.engine.cures import value

NAME = "extension"
SHORT_YUAN = 1e-6  # a shortfall below this is rounding, not a reason to extend


@dataclass
class ExtensionState:
    """Per-loan, per-path terms an extension changes, ``(L, n)``, and the projects' trailing NOI."""

    maturity: np.ndarray  # int64: first month after the last payment
    rate_add: np.ndarray  # monthly rate added by the extensions so far
    times: np.ndarray  # int64: extensions so far
    noi: value.TrailingNOI


def start(plan, n: int) -> ExtensionState:
    L = plan.L
    return ExtensionState(maturity=np.repeat(plan.loan_maturity.astype(np.int64)[:, None], n, axis=1),
                          rate_add=np.zeros((L, n)), times=np.zeros((L, n), dtype=np.int64),
                          noi=value.TrailingNOI.start(plan.P, n))


def month(st, c, plan, t: int, m) -> None:
    """Extend the eligible loans of every project short on bank service this month (module docstring)."""
    ex = st.ext
    if ex is None:  # no bank loan in the plan: nothing to extend
        m.cure[NAME] = np.zeros(st.n)
        return
    ex.noi.add(t, value.month_noi(m))
    m.cure[NAME] = np.zeros(st.n)
    if not c.has_loans:
        return
    short = m.short["bank_loan"]
    need = short > SHORT_YUAN
    if not need.any():
        return
    extend(st, c, plan, t, m, short, need)


def extend(st, c, plan, t: int, m, short, need) -> None:
    """Extend the eligible loans of the projects with ``need`` (short on bank service ``short`` this month)."""
    cfg = plan.support.cures.extension
    ex = st.ext
    lp = plan.loan_project
    due_l = m.loan_int + m.principal
    due_p = c.onehot_t @ due_l
    u_l = short[lp] * due_l / np.where(due_p > 0, due_p, 1.0)[lp]
    cap = value.cap_rate(plan.support.cures, m.ms.lpr, plan.market.lpr0)
    worth = value.block_value(c, st.held, ex.noi.total, cap, m.ms.hpi)
    owed = c.onehot_t @ (st.loan_bal - m.principal) + short
    ltv_ok = (worth > 0) & (owed <= cfg.max_loan_to_income_value * worth)
    new_mat = ex.maturity + 12 * cfg.years
    ok = (need[lp] & ltv_ok[lp] & (due_l > 0) & (ex.times < cfg.max_times)
          & (new_mat - plan.loan_first[:, None] <= 12 * cfg.max_tenor_years))
    if not ok.any():
        return
    capitalised = np.where(ok, u_l, 0.0)
    fee = np.where(ok, cfg.fee_share * (st.loan_bal - m.principal + capitalised), 0.0)
    st.loan_bal += capitalised + fee
    ex.maturity = np.where(ok, new_mat, ex.maturity)
    ex.rate_add = ex.rate_add + np.where(ok, cfg.rate_step_bp / 1e4 / 12.0, 0.0)
    ex.times += ok
    left_out = c.onehot_t @ ((due_l > 0) & ~ok).astype(float)  # loans with service due that were not extended
    cured = np.where(need & (left_out == 0), short, np.minimum(c.onehot_t @ capitalised, short))
    m.short["bank_loan"] = short - cured
    m.cure[NAME] = cured.sum(axis=0)
    mt = st.metrics
    mt["cure_extension"] += m.cure[NAME]
    mt["cure_extension_count"] += ok.sum(axis=0)
    mt["cure_extension_fee"] += fee.sum(axis=0)
