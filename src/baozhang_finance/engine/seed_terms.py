"""Terms of the seed documents that change what the engine does, compiled once per plan (default conventions only).

* **acquisition condition** (Suihua seeds/001 §三(五)): the formal purchase is signed only after ≥ 95 % of the
  units are pre-subscribed (sale) or pre-allocated (rental) with deposits. With ``acquisition_condition_share``
  set, a project whose share falls short is **not bought**: its uses, reserve, units, pre-sale cash and every
  source of funds (equity, grants, loans, bonds — all drawn by the project's use fractions) are zero, so it
  carries no cash at all; the share is a scenario input, so the test is deterministic (:func:`not_bought`);
* **buyback terms** (Loudi seeds/003 §八(一)4, Beitun seeds/004 §四(三)): the share of owners' requests accepted
  and who pays (:func:`buyback_terms`);
* **construction risk** of new builds (Beitun; assumption): a completion delay of ``delay_months`` with
  probability ``delay_probability`` and a cost overrun of ``overrun_share`` × construction cost with probability
  ``overrun_probability``, each drawn once per path (:class:`ConstructionRiskPlan`).

Under the legacy conventions none of this acts: every project is bought, acceptance is 1, the SOE pays, no risk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def pre_share(p) -> float:
    """The project's pre-subscription (sale) or pre-allocation (rental) share; 0 when none is recorded."""
    if p.sale is not None:
        return p.sale.presubscription_share
    if p.rental is not None and p.rental.pre_allocation_share is not None:
        return p.rental.pre_allocation_share
    return 0.0


def not_bought(sc) -> np.ndarray:
    """(P,) bool: projects whose acquisition condition binds and is not met, ``pre_share < condition − 1e-12``
    (default conventions; all False under legacy)."""
    out = np.zeros(len(sc.projects), dtype=bool)
    if sc.support.conventions == "legacy":
        return out
    for i, p in enumerate(sc.projects):
        cond = p.acquisition_condition_share
        out[i] = cond is not None and pre_share(p) < cond - 1e-12
    return out


def drop_not_bought(projects: dict, mask: np.ndarray) -> None:
    """Zero the uses, reserve, units and use fractions of the projects not bought (in place), so every source of
    funds drawn by the fractions is zero too."""
    if not mask.any():
        return
    for k in ("uses_out", "reserve_in", "reserve_floor", "acquired_units", "src_frac"):
        projects[k][mask] = 0.0
    for k in ("units", "floor_area"):
        projects[k] = np.where(mask, 0.0, projects[k])


@dataclass(frozen=True)
class SeedTermsPlan:
    """Per-project seed terms ``(P,)`` / ``(P, T)``."""

    not_bought: np.ndarray  # (P,) bool
    bb_acceptance: np.ndarray  # (P,) share of buyback requests accepted
    bb_government: np.ndarray  # (P,) 1.0 where the government pays buybacks
    construction_risk: bool  # any delay or overrun configured (default conventions)
    delay_p: np.ndarray  # (P,) probability of the delay
    overrun_p: np.ndarray  # (P,) probability of the overrun
    available_delayed: np.ndarray  # (P,) availability month when delayed
    acquired_delayed: np.ndarray  # (P, T) units in hand by month when delayed
    presale_cash_delayed: np.ndarray  # (P, T)
    presale_deposit_delayed: np.ndarray  # (P, T) deposits received (escrow: at the delayed available month)
    presale_balance_delayed: np.ndarray  # (P, T) hand-over balances
    escrow_balance_delayed: np.ndarray  # (P, T)
    presub_handover_delayed: np.ndarray  # (P, T)
    wip_delayed: np.ndarray  # (P, T)
    overrun_out: np.ndarray  # (P, T) overrun cost by month when it happens: share × construction cost / months


def buyback_terms(sc, legacy: bool) -> tuple[np.ndarray, np.ndarray]:
    """(acceptance share, government pays) per project; (1, 0) for projects without buybacks and under legacy."""
    P = len(sc.projects)
    acc, gov = np.ones(P), np.zeros(P)
    if legacy:
        return acc, gov
    for i, p in enumerate(sc.projects):
        bb = p.sale.buyback if p.sale is not None else None
        if bb is not None:
            acc[i] = bb.acceptance_share
            gov[i] = 1.0 if bb.payer == "government" else 0.0
    return acc, gov


def construction_risk_arrays(sc, T: int, legacy: bool, base: dict, sale_delayed, wip_fn) -> dict:
    """The delayed variants of the schedules and the overrun cost, per project. ``base``: the compiled projects;
    ``sale_delayed``: compile_sale run with the delayed availability; ``wip_fn(owned)``: work in progress."""
    P = len(sc.projects)
    delay_p, overrun_p = np.zeros(P), np.zeros(P)
    avail_d = base["available_month"].copy()
    owned_d = base["owned_month"].copy()
    acquired_d = base["acquired_units"].copy()
    overrun = np.zeros((P, T))
    for i, p in enumerate(sc.projects):
        c = p.construction
        if c is None or legacy:
            continue
        if c.delay_months > 0 and c.delay_probability > 0:
            delay_p[i] = c.delay_probability
            avail_d[i] += c.delay_months
            owned_d[i] += c.delay_months
            acquired_d[i] = 0.0
            acquired_d[i, min(owned_d[i], T - 1)] = base["units"][i]
        if c.overrun_share > 0 and c.overrun_probability > 0:
            overrun_p[i] = c.overrun_probability
            cost = c.overrun_share * base["floor_area"][i] * c.construction_cost_yuan_per_m2
            end = min(T, c.start_month + c.months)
            overrun[i, c.start_month:end] = cost / c.months
    risk = bool((delay_p > 0).any() or (overrun_p > 0).any())
    return dict(construction_risk=risk, delay_p=delay_p, overrun_p=overrun_p, available_delayed=avail_d,
                acquired_delayed=acquired_d, presale_cash_delayed=sale_delayed.presale_cash,
                presale_deposit_delayed=sale_delayed.presale_deposit, presale_balance_delayed=sale_delayed.presale_balance,
                escrow_balance_delayed=sale_delayed.escrow_balance,
                presub_handover_delayed=sale_delayed.presub_handover_units, wip_delayed=wip_fn(owned_d),
                overrun_out=overrun)


def path_weights(plan, u: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per path and project, ``(delayed, overrun)`` indicators ``(P, n)``: ``1{u < p}`` from the event uniforms
    (delay rows first, then overrun rows), or the probabilities themselves on expected paths (``u`` None)."""
    dp, op = plan.delay_p[:, None], plan.overrun_p[:, None]
    if u is None:
        return np.broadcast_to(dp, (plan.P, n)).copy(), np.broadcast_to(op, (plan.P, n)).copy()
    P = plan.P
    return (u[:P] < dp).astype(np.float64), (u[P:] < op).astype(np.float64)
