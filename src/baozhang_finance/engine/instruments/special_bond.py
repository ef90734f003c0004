"""Special bonds (专项债): explicit government debt serviced from project revenue (收益与融资自求平衡).

A bond's cash schedule is deterministic and compiled once per run (:func:`bond_schedule`); in the month it is a
tranche of government class ``"bond"`` (a government payment of its service is the explicit bond burden, not a
hidden-debt call) — see :mod:`baozhang_finance.engine.instruments.base`.
"""

from __future__ import annotations

import numpy as np

from baozhang_finance.engine.instruments.base import Tranche

from baozhang_finance.model.scenario import Bond


def bond_schedule(bond: Bond, first_month: int, draw_fraction: np.ndarray, horizon_months: int):
    """Cash schedule of one special bond (专项债), in yuan per month.

    Principal is issued pro rata with the project's uses (``draw_fraction`` sums to 1 over the months).
    Interest accrues monthly on the outstanding principal at coupon/12 and is paid at the end of each coupon
    period — month ``first + k·p − 1`` for a period ``p`` of 12 (annual) or 6 (semiannual) months — so a
    semiannual bond fully issued in its first month pays B·c/2 twice a year. Principal is repaid at the end
    of bond year ``y`` (month ``first + 12·y − 1``): all at maturity for a bullet, or by the schedule's shares.

    Returns ``(draws, interest_paid, principal_paid, balance_end)``, each of length ``horizon_months``.
    """
    T = horizon_months
    draws = bond.amount_yuan * draw_fraction
    interest = np.zeros(T)
    principal = np.zeros(T)
    balance_end = np.zeros(T)
    period = 12 if bond.coupon_frequency == "annual" else 6
    repay_share = np.zeros(T)
    if bond.principal == "bullet":
        repay_share[first_month + 12 * bond.term_years - 1] = 1.0
    else:
        for item in bond.schedule:
            repay_share[first_month + 12 * item.year - 1] += item.share
    balance = 0.0
    accrued = 0.0
    for t in range(T):  # one bond, months: a deterministic schedule compiled once per run
        balance += draws[t]
        accrued += balance * bond.coupon / 12.0
        if t >= first_month and (t - first_month + 1) % period == 0 or (repay_share[t] > 0 and t >= first_month):
            interest[t] = accrued
            accrued = 0.0
        if repay_share[t] > 0:
            pay = min(balance, bond.amount_yuan * repay_share[t])
            principal[t] = pay
            balance -= pay
        balance_end[t] = balance
    return draws, interest, principal, balance_end


TRANCHE = Tranche(kind="special_bond", government_class="bond", soe_may_pay=True)


def month(plan, t: int) -> dict:
    """One month of the special bonds, per project: the compiled schedule's interest and principal due ``(P,)``
    and the service ``(P, 1)`` = interest + principal (deterministic: the same on every path)."""
    bond_int = plan.bond_interest[:, t]
    bond_prin = plan.bond_principal[:, t]
    return {"interest": bond_int, "principal": bond_prin, "due": (bond_int + bond_prin)[:, None]}
