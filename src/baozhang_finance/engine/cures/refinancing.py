"""再融资专项债券: special-bond principal a project cannot pay at maturity is rolled over ([cures.refinancing]).

Bond principal months are deterministic, so each (project p, month M) at which principal falls due — a month of
the compiled bond schedule, or the maturity ``M₀ + 12·term`` of a refinancing bond issued at M₀ (itself
refinanceable) — is one **slot** with deterministic coupon and maturity months and a per-path amount and coupon.

At a slot's month, after the waterfall, the project's bond shortfall is refinanced up to ``max_share`` × the
principal due: ``R = min(short_bond_p, s × (principal_p,M + refinancing principal maturing_p,M))``; the shortfall
falls by R (explicit debt rolled over: a refinancing need of the budget, not a burden). The new bond's coupon is
fixed at issue, ``c = max(LPR_M + spread, 0)``; it pays ``R·c`` at M + 12k (k = 1 … term) and R at M + 12·term,
as special-bond service of the project (entering its bond due, so a project that cannot pay it falls on the
explicit bond burden). Ledgers: ``metrics["cure_refinancing"]`` += R; the yearly flow ``refinancing``; the
refinancing-bond balance outstanding at the horizon. R is not paid from CFADS: the coverage ratios net it out of
the month's debt service (``m.refi_met`` by project; decision 73).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baozhang_finance.engine.formulas import refinanceable_principal

NAME = "refinancing"


@dataclass
class RefinancingState:
    """Slots ``(I,)`` and their per-path amounts and coupons ``(I, n)``; month → slots issued / paying."""

    project: np.ndarray  # (I,) int
    month: np.ndarray  # (I,) int: month of issue
    amount: np.ndarray  # (I, n) yuan refinanced
    coupon: np.ndarray  # (I, n) annual coupon fixed at issue
    onehot: np.ndarray  # (P, I)
    term_m: int
    issue_at: dict  # month → slot indices issued that month
    coupon_at: dict  # month → slot indices paying a coupon
    principal_at: dict  # month → slot indices repaid


def slots(bond_principal: np.ndarray, term_years: int) -> list[tuple[int, int]]:
    """(project, month) of every month principal may fall due: the schedule's principal months and, from each, the
    chain ``M + 12·term·k`` inside the horizon."""
    P, T = bond_principal.shape
    out = []
    for p in range(P):  # projects, once per chunk
        months = set()
        for m0 in np.nonzero(bond_principal[p] > 0)[0]:
            for mm in range(int(m0), T, 12 * term_years):
                months.add(mm)
        out += [(p, mm) for mm in sorted(months)]
    return out


def start(plan, n: int) -> RefinancingState:
    cfg = plan.support.cures.refinancing
    s = slots(plan.bond_principal, cfg.term_years)
    I, term_m = len(s), 12 * cfg.term_years
    proj = np.array([x[0] for x in s], dtype=int)
    mon = np.array([x[1] for x in s], dtype=int)
    onehot = np.zeros((plan.P, I))
    onehot[proj, np.arange(I)] = 1.0
    issue_at, coupon_at, principal_at = {}, {}, {}
    for i, m0 in enumerate(mon):
        issue_at.setdefault(int(m0), []).append(i)
        for k in range(1, cfg.term_years + 1):
            coupon_at.setdefault(int(m0) + 12 * k, []).append(i)
        principal_at.setdefault(int(m0) + term_m, []).append(i)
    arr = lambda d: {k: np.array(v, dtype=int) for k, v in d.items()}  # noqa: E731
    return RefinancingState(project=proj, month=mon, amount=np.zeros((I, n)), coupon=np.zeros((I, n)), onehot=onehot,
                            term_m=term_m, issue_at=arr(issue_at), coupon_at=arr(coupon_at),
                            principal_at=arr(principal_at))


def due(rs: RefinancingState, t: int, zeros_pn: np.ndarray):
    """Refinancing-bond service due this month per project ``(P, n)``: interest ``Σ R·c`` of the slots at an
    anniversary, principal ``Σ R`` of those at maturity."""
    rows = rs.coupon_at.get(t)
    interest = zeros_pn if rows is None else rs.onehot[:, rows] @ (rs.amount[rows] * rs.coupon[rows])
    rows = rs.principal_at.get(t)
    principal = zeros_pn if rows is None else rs.onehot[:, rows] @ rs.amount[rows]
    return interest, principal


def scheduled_principal_by_year(plan) -> np.ndarray:
    """The bullet special bonds' principal by programme year, all projects, ``(Y,)`` (deterministic): the maturities
    a refinancing programme stands ready to roll. A repayment schedule (``principal = "schedule"``, e.g. Beitun's
    "repaid from sales") is principal the plan pays from the project, not rolled: it is not in it."""
    bullet = getattr(plan, "bond_bullet_principal", None)
    m = (bullet if bullet is not None else plan.bond_principal).sum(axis=0)
    return np.bincount(np.arange(m.size) // 12, weights=m, minlength=plan.Y)[: plan.Y]


def config(plan):
    """The plan's [cures.refinancing] settings, None when the scenario configures no refinancing."""
    cures = plan.support.cures
    return getattr(cures, "refinancing", None) if cures is not None else None


def refinanceable(plan, refinanced):
    """Per path and year, the maturing principal [cures.refinancing] stands ready to roll —
    :func:`~baozhang_finance.engine.formulas.refinanceable_principal` of the plan's schedule and the ``refinancing``
    ledger ``(n, Y)`` — or None when the scenario configures no refinancing (a DSCR then nets nothing)."""
    cfg = config(plan)
    if cfg is None:
        return None
    return refinanceable_principal(scheduled_principal_by_year(plan), refinanced, float(cfg.max_share),
                                   int(cfg.term_years))


def refinanceable_year(plan, year: int, refinanced_at):
    """:func:`refinanceable` of one year: ``refinanced_at(y)`` reads the ledger's column of year y (called for
    ``year − term_years`` only, when that is a programme year); None without refinancing."""
    cfg = config(plan)
    if cfg is None:
        return None
    k = int(cfg.term_years)
    earlier = refinanced_at(year - k) if year >= k else 0.0
    return refinanceable_principal(scheduled_principal_by_year(plan)[year], earlier, float(cfg.max_share), k)


def balance(rs: RefinancingState, t: int) -> np.ndarray:
    """Refinancing bonds outstanding at the end of month t, ``Σ_{M ≤ t < M + 12·term} R``, ``(n,)``."""
    live = (rs.month <= t) & (t < rs.month + rs.term_m)
    return rs.amount[live].sum(axis=0)


def month(st, c, plan, t: int, m) -> None:
    """Refinance the maturing principal of every project short on bond service at one of its slots this month."""
    rs = st.refi
    m.cure[NAME] = np.zeros(st.n)
    rows = rs.issue_at.get(t)
    if rows is None:
        return
    cfg = plan.support.cures.refinancing
    p = rs.project[rows]
    short = m.short["special_bond"]
    principal_due = plan.bond_principal[p, t][:, None] + m.refi_principal[p]
    r = np.minimum(short[p], cfg.max_share * principal_due)
    rs.amount[rows] = r
    rs.coupon[rows] = np.maximum(m.ms.lpr + cfg.spread_over_lpr, 0.0)[None, :]
    short = short.copy()
    short[p] -= r
    m.short["special_bond"] = short
    m.cure[NAME] = r.sum(axis=0)
    m.refi_met = rs.onehot[:, rows] @ r  # (P, n): the principal the new bonds meet, by project (LLCR, DSCR)
    st.metrics["cure_refinancing"] += m.cure[NAME]
