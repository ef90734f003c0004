"""Sinking fund (偿债准备金) for bullet principal, built in the waterfall ([cures.sinking_fund]).

Bullet principals of a project: bullet special bonds (paid in month M of the bond schedule) and interest-only /
bullet bank loans (paid in M = maturity − 1, per path when an extension moved it). With W = 12·``years``:

* target at month t: ``F*_t = Σ_b principal_b × (t − (M_b − W) + 1) / W`` over the bullets with
  ``M_b − W ≤ t < M_b`` (a loan's principal is its balance this month; a bond's is its scheduled principal);
* at the start of the waterfall the fund pays the bullet principal due this month first, in the tranches' rank
  order, ``paid = min(F, principal due)``, and what it then holds above ``F*_t`` is released into the month's cash;
* after the DSRA is refilled, the surplus tops the fund up: ``ΔF = min(surplus, max(F*_t − F, 0))``, before
  cross-support, the lock-up and distributions.

The fund is earmarked: it pays nothing but bullet principal. It counts in the project's cash balances
(conservation: ΔF is like ΔDSRA). Ledger: ``metrics["cure_sinking_fund"]`` += principal paid from the fund.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NAME = "sinking_fund"


@dataclass
class SinkingFundState:
    fund: np.ndarray  # (P, n)
    bond_target: np.ndarray  # (P, T) target for the bullet bonds (deterministic)
    window: int  # W = 12 · years
    target: np.ndarray | None = None  # (P, n) this month's target, set by :func:`pay`


def build_fraction(t, pay_month, window: int):
    """Share of a bullet the fund should hold at month t: ``(t − (M − W) + 1) / W`` in [M − W, M), clipped to
    [0, 1] (a window that starts before month 0 starts with a larger first step), 0 from M on."""
    return np.where(t < pay_month, np.clip((t - (pay_month - window) + 1) / window, 0.0, 1.0), 0.0)


def bond_target(bullet: np.ndarray, window: int) -> np.ndarray:
    """``(P, T)`` target of the bullet bonds: ``Σ_M bullet[p, M] × build_fraction(t, M)``."""
    P, T = bullet.shape
    t = np.arange(T)
    out = np.zeros((P, T))
    for p, mm in zip(*np.nonzero(bullet)):  # bullet principals, once per chunk
        out[p] += bullet[p, mm] * build_fraction(t, mm, window)
    return out


def start(plan, n: int) -> SinkingFundState:
    window = 12 * plan.support.cures.sinking_fund.years
    return SinkingFundState(fund=np.zeros((plan.P, n)), bond_target=bond_target(plan.bond_bullet_principal, window),
                            window=window)


def pay(st, c, plan, t: int, m):
    """The fund pays this month's bullet principal, then releases what it holds above the target.
    Returns (dues left for the project's cash by tranche kind, release ``(P, n)``)."""
    sf = st.sink
    target = sf.bond_target[:, t][:, None] + np.zeros((1, st.n))
    bank_bullet = st.zeros_pn
    if c.has_balloon:
        mat = st.ext.maturity if st.ext is not None else plan.loan_maturity[:, None]
        pay_month = mat - 1
        balloon = c.balloon[:, None]
        bank_bullet = c.onehot_t @ np.where(balloon & (pay_month == t), m.principal, 0.0)
        target = target + c.onehot_t @ (st.loan_bal * np.where(balloon, build_fraction(t, pay_month, sf.window), 0.0))
    bullets = {"bank_loan": bank_bullet, "special_bond": plan.bond_bullet_principal[:, t][:, None]}
    dues = dict(m.due)
    paid_total = np.zeros(st.n)
    for tr in c.tranches:  # the fund pays in the tranches' rank order
        b = bullets.get(tr.kind)
        if b is None:
            continue
        paid = np.minimum(sf.fund, b)
        sf.fund = sf.fund - paid
        dues[tr.kind] = m.due[tr.kind] - paid
        paid_total += paid.sum(axis=0)
    release = np.maximum(sf.fund - target, 0.0)
    sf.fund = sf.fund - release
    sf.target = target
    st.metrics["cure_sinking_fund"] += paid_total
    m.sink_paid = paid_total
    return dues, release


def build(st, surplus):
    """Top the fund up to this month's target from the surplus, ``ΔF = min(surplus, max(F* − F, 0))``.
    Returns the surplus left."""
    sf = st.sink
    add = np.minimum(surplus, np.maximum(sf.target - sf.fund, 0.0))
    sf.fund = sf.fund + add
    return surplus - add


def month(st, c, plan, t: int, m) -> None:
    """Nothing in the cures stage: the fund acts inside the waterfall (:func:`pay`, :func:`build`)."""
