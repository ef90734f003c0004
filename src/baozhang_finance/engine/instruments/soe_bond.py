"""SOE corporate bonds (公司信用类债券 / 企业债券): the SOE's own market debt, a tranche of government class
``"hidden"``.

Weihai (seeds/002 §二(四)) allows qualifying SOEs to issue corporate bonds to fund the purchase; Loudi (seeds/003
§六(一)1) names enterprise bonds as a way to raise the SOE's own funds. Unlike a special bond the debt is not
government debt: a budget payment of its service is money paid for debt that is not on the government's books —
a **hidden-debt call** — and SOE support money may pay it (``support.soe_pays`` has ``"soe_bonds"``). Its rank
comes from the seniority preset (:data:`~baozhang_finance.engine.instruments.base.SENIORITY_PRESETS`: after the
bank loan in both presets — the bank lends against the units and is served first; before special bonds under
``bank_first``). A payment default on it is, like one on the bank loan, the standalone view's default (the
loan's cross-default clause).

The cash schedule is deterministic and reuses the special-bond formula
(:func:`~baozhang_finance.engine.instruments.special_bond.bond_schedule`): issued pro rata with the project's
uses, interest accrued monthly at coupon / 12 and paid at the end of each coupon period, principal at the end of
the bond years of its bullet or schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baozhang_finance.engine.instruments.base import Tranche
from baozhang_finance.engine.instruments.special_bond import bond_schedule

TRANCHE = Tranche(kind="soe_bond", government_class="hidden", soe_may_pay=True)


@dataclass(frozen=True)
class SoeBondPlan:
    """SOE corporate bonds per project, ``(P, T)``, deterministic; ``any_soe_bond`` says whether there are any."""

    soe_bond_draw: np.ndarray
    soe_bond_interest: np.ndarray
    soe_bond_principal: np.ndarray
    soe_bond_balance: np.ndarray
    soe_bond_forward_service: np.ndarray  # service over the next dsra_months months (the DSRA's forward part)
    any_soe_bond: bool = False


def compile_soe_bonds(projects, first_months, src_frac: np.ndarray, T: int, dsra_months: float) -> SoeBondPlan:
    """Each project's SOE bonds: the sum of their schedules (:func:`bond_schedule`) and the forward service of the
    next ``k = round(dsra_months)`` months, ``Σ_{s = t+1}^{t+k} service_s``."""
    P = len(projects)
    draw, interest, principal, balance = (np.zeros((P, T)) for _ in range(4))
    for i, p in enumerate(projects):
        for b in p.financing.soe_bonds:
            d, it, pr, bal = bond_schedule(b, first_months[i], src_frac[i], T)
            draw[i] += d
            interest[i] += it
            principal[i] += pr
            balance[i] += bal
    k = int(round(dsra_months))
    service = interest + principal
    csum = np.concatenate([np.zeros((P, 1)), np.cumsum(service, axis=1)], axis=1)
    idx = np.arange(T)
    fwd = csum[:, np.minimum(idx + 1 + k, T)] - csum[:, idx + 1]
    any_bond = any(p.financing.soe_bonds for p in projects)
    return SoeBondPlan(soe_bond_draw=draw, soe_bond_interest=interest, soe_bond_principal=principal,
                       soe_bond_balance=balance, soe_bond_forward_service=fwd, any_soe_bond=bool(any_bond))


def month(plan, t: int) -> dict:
    """One month of the SOE bonds, per project: interest and principal due ``(P,)`` and the service ``(P, 1)``
    = interest + principal (deterministic: the same on every path)."""
    it = plan.soe_bond_interest[:, t]
    pr = plan.soe_bond_principal[:, t]
    return {"interest": it, "principal": pr, "due": (it + pr)[:, None]}
