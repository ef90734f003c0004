"""The finance formulas the engine calls, one function per quantity (numpy-financial style).

One copy of each: the engine (:mod:`baozhang_finance.engine.stages`, :mod:`baozhang_finance.engine.plan`) and
the measures (:mod:`baozhang_finance.measures.stats`) call these same functions. Every function broadcasts over
arrays; its formula is written out in the docstring.

Conventions (DESIGN §4): an annual rate ``R`` is a nominal rate compounded monthly, so the monthly rate is
``R / 12``; discount factors are end-of-period.
"""

from __future__ import annotations

import numpy as np


def monthly_rate(annual_rate):
    """Monthly rate of a nominal annual rate compounded monthly.

    Notes
    -----
    .. math:: r_m = R / 12
    """
    return np.asarray(annual_rate, dtype=float) / 12.0


def annuity_payment(balance, rate_m, n_remaining):
    """Level payment that repays ``balance`` over ``n_remaining`` months at monthly rate ``rate_m`` (等额本息).

    Notes
    -----
    .. math:: PMT = B \\, r / (1 − (1 + r)^{−n}),\\qquad PMT = B / n \\text{ when } r = 0

    Vectorised; ``n`` is floored at 1.

    Examples
    --------
    >>> float(annuity_payment(1200.0, 0.0, 12))
    100.0
    """
    balance = np.asarray(balance, dtype=float)
    rate_m = np.asarray(rate_m, dtype=float)
    n = np.maximum(np.asarray(n_remaining, dtype=float), 1.0)
    small = np.abs(rate_m) < 1e-12
    safe_r = np.where(small, 1.0, rate_m)
    factor = np.where(small, 1.0 / n, safe_r / (1.0 - (1.0 + safe_r) ** (-n)))
    return balance * factor


def equal_principal_payment(balance, n_remaining):
    """Principal of an equal-principal loan (等额本金) this month.

    Notes
    -----
    .. math:: P = B / \\max(n, 1)
    """
    return np.asarray(balance, dtype=float) / np.maximum(np.asarray(n_remaining, dtype=float), 1.0)


def discount_factor(rate, periods):
    """End-of-period discount factor at a per-period ``rate`` after ``periods`` periods.

    Notes
    -----
    .. math:: v = (1 + r)^{−k}

    Python floats in, a Python float out (the engine's LLCR discounting); arrays broadcast.
    """
    return (1.0 + rate) ** (-periods)


def monthly_discount_factors(annual_rate, T: int) -> np.ndarray:
    """End-of-month discount factors at an annual effective rate, months ``t = 0 … T−1``.

    Notes
    -----
    .. math:: v_t = (1 + R)^{−(t + 1)/12}
    """
    return (1.0 + annual_rate) ** (-np.arange(1, T + 1) / 12.0)


def yearly_discount_factors(annual_rate, Y: int) -> np.ndarray:
    """End-of-year discount factors, years ``k = 0 … Y−1``.

    Notes
    -----
    .. math:: v_k = (1 + R)^{−(k + 1)}
    """
    return (1.0 + annual_rate) ** (-np.arange(1, Y + 1, dtype=float))


def cfads(ops_in, ops_out):
    """Cash flow available for debt service: CFADS = operating inflows − operating outflows.

    Operating inflows are rent collected, rent subsidies, sale proceeds, operating grants and interest subsidy
    (贴息); outflows are running costs, management, taxes, capex reserve, sales taxes and buybacks paid.
    """
    return np.asarray(ops_in, dtype=float) - np.asarray(ops_out, dtype=float)


#: the largest coverage ratio any output shows: above it the service is negligible against the cash (a residue of
#: a few yuan of service would otherwise print a DSCR of 10^5); a capped value reads "≥ 100"
DSCR_CAP = 100.0


def coverage_ratio(cover, service, empty=np.nan):
    """A debt-service coverage ratio where service is due, ``empty`` where it is not, capped at :data:`DSCR_CAP`.

    Notes
    -----
    .. math:: \\mathrm{DSCR} = \\min(\\mathrm{CFADS} / \\mathrm{service}, 100) \\quad (\\mathrm{service} > 0)
    """
    cf = np.asarray(cover, dtype=float)
    ds = np.asarray(service, dtype=float)
    out = np.full(np.broadcast(cf, ds).shape, empty)
    np.divide(cf, ds, out=out, where=ds > 0)
    np.minimum(out, DSCR_CAP, out=out, where=ds > 0)
    return out


def dscr_service(debt_service_y, refinanced_y=None):
    r"""Debt service a DSCR covers: what falls due, less the refinancing proceeds that meet it.

    Notes
    -----
    .. math:: D^*_y = \max(D_y − R_y, 0)

    ``D_y``: bank + special-bond (+ SOE-bond) service due in year y, incl. the service of refinancing bonds issued
    earlier; ``R_y``: the maturing special-bond principal the programme's [cures.refinancing] stands ready to roll
    into 再融资专项债券 in y (:func:`refinanceable_principal`: fixed before the year, not what a shortfall made
    it — so the ratio rises with the project's cash), paid with the new bonds' money, not from CFADS
    (decisions 73, 81). Without refinancing ``D* = D``.
    """
    if refinanced_y is None:
        return debt_service_y
    return np.maximum(np.asarray(debt_service_y, dtype=float) - np.asarray(refinanced_y, dtype=float), 0.0)


def refinanceable_principal(scheduled_y, refinanced_y, max_share: float, term_years: int):
    r"""The special-bond principal maturing in year y that [cures.refinancing] stands ready to roll, per path:

    .. math:: R_y = s\,(B_y + F_{y − k})

    ``B_y``: the bullet special bonds' principal maturing in year y (the plan's, the same on every path; a repayment
    schedule is principal the plan pays from the project, not in ``B``); ``F``: the
    refinancing bonds issued per year (the ``refinancing`` ledger), which mature ``k`` = ``term_years`` later (a
    slot's coupon months are its issue month's anniversaries) and are themselves refinanceable; ``s`` =
    ``max_share``. Only earlier years' amounts enter, so ``R_y`` does not depend on year y's own cash (decision 81).
    ``refinanced_y``: ``(…, Y)`` blocks, or the column of year ``y − k`` (or None before year k) with a scalar
    ``scheduled_y``."""
    b = np.asarray(scheduled_y, dtype=float)
    if refinanced_y is None:
        return max_share * b
    f = np.asarray(refinanced_y, dtype=float)
    if b.ndim == 0:  # one year: the column of year y − k
        return max_share * (b + f)
    lag = np.zeros_like(f)
    if term_years < f.shape[-1]:
        lag[..., term_years:] = f[..., : f.shape[-1] - term_years]
    return max_share * (b + lag)


def dscr(cfads_y, debt_service_y, refinanced_y=None):
    """Yearly debt-service coverage ratio: DSCR_y = CFADS_y / D*_y, D*_y = (bank + bond service)_y less the
    principal refinancing bonds meet (:func:`dscr_service`).

    Defined only for years with D* > 0; other years are NaN (no ratio, not a failure).
    """
    return coverage_ratio(cfads_y, dscr_service(debt_service_y, refinanced_y), np.nan)


def min_dscr(cfads_y, debt_service_y, refinanced_y=None):
    """Minimum yearly DSCR over the years with debt service, per path: min_y DSCR_y (NaN with no debt)."""
    d = dscr(cfads_y, debt_service_y, refinanced_y)
    if d.shape[-1] == 0:
        return np.full(d.shape[:-1], np.nan)
    has = ~np.isnan(d)
    filled = np.where(has, d, np.inf)
    out = filled.min(axis=-1)
    return np.where(has.any(axis=-1), out, np.nan)


def llcr(cfads_m, rate_m, debt_outstanding):
    """Loan-life coverage ratio at a test date: LLCR = Σ_{t=0}^{N−1} CFADS_t (1 + r)^−t / D_0.

    ``cfads_m`` are the monthly CFADS from the test date to the loan's final maturity (last axis), ``r`` the
    loan's monthly rate used for discounting, ``D_0`` the bank debt outstanding at the test date. The engine
    accumulates the same sum month by month for each ring-fenced project with bank debt, on its own CFADS, loan life,
    rate and balance (:func:`discount_factor` once per plan), and takes the lowest (:func:`min_project_llcr`).
    """
    cf = np.asarray(cfads_m, dtype=float)
    v = discount_factor(rate_m, np.arange(cf.shape[-1], dtype=float))
    return (cf * v).sum(axis=-1) / np.asarray(debt_outstanding, dtype=float)


def llcr_ratio(discounted_cfads, debt_outstanding):
    """LLCR from the accumulated discounted CFADS: Σ CFADS_t v_t / D_0 where D_0 > 0, else NaN."""
    den = np.asarray(debt_outstanding, dtype=float)
    return np.where(den > 0, discounted_cfads / np.where(den > 0, den, 1.0), np.nan)


def min_project_llcr(discounted_cfads_p, debt_outstanding_p, tested_p):
    """The bank's LLCR, per ring-fenced project: min_p LLCR_p over the projects ``tested_p`` with bank debt and
    D₀_p > 0, LLCR_p = N_p / D₀_p (:func:`llcr_ratio`; N_p the project's own CFADS less the bond service ranked
    ahead of the bank, discounted over its loans' life). Arrays ``(P, n)``, ``tested_p`` ``(P,)``; NaN on a path
    where no project has bank debt outstanding at its test date (no loan to cover: :func:`llcr_ratio`'s NaN).

    Examples
    --------
    >>> float(min_project_llcr(np.array([[120.0], [90.0]]), np.array([[100.0], [100.0]]), np.array([True, True]))[0])
    0.9
    """
    num, den = np.asarray(discounted_cfads_p, dtype=float), np.asarray(debt_outstanding_p, dtype=float)
    ok = np.asarray(tested_p, dtype=bool)[:, None] & (den > 0)
    ratio = np.where(ok, num / np.where(ok, den, 1.0), np.inf)
    return np.where(ok.any(axis=0), ratio.min(axis=0), np.nan)


def bond_coverage_ratio(net_revenue, bond_principal, bond_interest):
    """本息覆盖倍数 (bond coverage ratio) as special-bond approvals compute it.

    coverage = Σ project net revenue over the bond's life ÷ Σ (bond principal + bond interest) over its life,
    undiscounted. Net revenue here is CFADS (operating revenue incl. sale proceeds and operating subsidies,
    minus operating costs and taxes). Sums run over the last axis.
    """
    denom = np.sum(bond_principal, axis=-1) + np.sum(bond_interest, axis=-1)
    return np.sum(net_revenue, axis=-1) / denom


def npv(rate, flows_y):
    """Net present value of yearly flows at an annual rate: NPV = Σ_k f_k (1 + r)^−(k+1) (end-of-year flows)."""
    f = np.asarray(flows_y, dtype=float)
    k = np.arange(1, f.shape[-1] + 1, dtype=float)
    return (f * (1.0 + rate) ** (-k)).sum(axis=-1)


def present_value_monthly(flows_m, annual_rate):
    """PV of monthly flows at end of month t (t from 0): Σ_t f_t (1 + R)^−(t+1)/12."""
    f = np.asarray(flows_m, dtype=float)
    t = np.arange(1, f.shape[-1] + 1, dtype=float)
    return (f * (1.0 + annual_rate) ** (-t / 12.0)).sum(axis=-1)
