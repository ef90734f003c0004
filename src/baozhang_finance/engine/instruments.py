"""Debt instruments: loan payment rules, relending, special-bond schedules.

Conventions (DESIGN §4): an annual rate ``R`` is a nominal rate compounded monthly, so the monthly rate is
``R / 12``. A draw happens at the start of a month, interest for that month accrues on the balance after
the draw, and payments are made at the end of the month. A loan drawn in month ``m`` therefore makes its
first payment at the end of month ``m`` — one month after disbursement.
"""

from __future__ import annotations

import numpy as np

from baozhang_finance.model.scenario import Bond

AMORTISATION_CODES = {"annuity": 0, "equal_principal": 1, "interest_only": 2, "bullet": 3}


def monthly_rate(annual_rate):
    """Monthly rate of a nominal annual rate compounded monthly: r_m = R / 12."""
    return np.asarray(annual_rate, dtype=float) / 12.0


def annuity_payment(balance, rate_m, n_remaining):
    """Level payment that repays ``balance`` over ``n_remaining`` months at monthly rate ``rate_m`` (等额本息).

    PMT = B · r / (1 − (1 + r)^−n), and PMT = B / n when r = 0. Vectorised; n ≥ 1.
    """
    balance = np.asarray(balance, dtype=float)
    rate_m = np.asarray(rate_m, dtype=float)
    n = np.maximum(np.asarray(n_remaining, dtype=float), 1.0)
    small = np.abs(rate_m) < 1e-12
    safe_r = np.where(small, 1.0, rate_m)
    factor = np.where(small, 1.0 / n, safe_r / (1.0 - (1.0 + safe_r) ** (-n)))
    return balance * factor


def equal_principal_payment(balance, n_remaining):
    """Principal of an equal-principal loan (等额本金): B / n over the remaining months."""
    return np.asarray(balance, dtype=float) / np.maximum(np.asarray(n_remaining, dtype=float), 1.0)


def relending_end_month(first_month: int, term_years: int, rollovers: int) -> int:
    """First month without relending: first draw + term × (1 + rollovers) years."""
    return first_month + 12 * term_years * (1 + rollovers)


def relending_rollover_months(first_month: int, term_years: int, rollovers: int) -> list[int]:
    """Months at which the relending is up for renewal (the start of each renewed term)."""
    return [first_month + 12 * term_years * k for k in range(1, rollovers + 1)]


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
