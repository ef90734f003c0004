"""Disposal of a stabilised rental block to a 保租房 REIT or a state buyer at income value ([cures.disposal]).

保租房 / 公租房 are never sold on the open market: the buyer is a public REIT (``buyer = "reit"``) or another state
entity (``"state"``); the model treats both alike (same price rule), the field names who buys.

Each month (the cures stage, after the cures ranked before it), per project p and path:

* NOI_t = rent + rent subsidy − rent-linked costs (management, taxes on rent, capex) − running costs, kept in a
  12-month ring; forward NOI = Σ of the last 12 months' NOI (this month included);
* trailing occupancy = Σ of the last 12 months' occupancy ÷ min(12, t − a + 1), a the available month;
* cap rate k_t = max(``cap_rate`` + ``cap_rate_lpr_beta`` · (LPR_t − LPR_0), :data:`CAP_RATE_FLOOR`) — stochastic,
  it moves with the rate path;
* income value V = max(forward NOI, 0) / k_t, net proceeds N = V · (1 − ``transaction_cost_share``);
* the block is **sold** when it is a rental block, not sold yet, short this month (operating costs or any tranche,
  after the cures before it), stabilised (t − a + 1 ≥ ``min_operating_months`` and trailing occupancy ≥
  ``min_occupancy``), the shortfall is material — at least ``min_shortfall_share`` of the block's debt
  (shortfall + bank balance + bond principal outstanding): a missed coupon is a liquidity gap for SOE or budget
  money, a principal the block cannot repay is a reason to sell — and N ≥ need = this month's shortfalls of the block + its bank balance after this month's
  scheduled principal + its special-bond principal outstanding after this month's payment (``plan.bond_balance``,
  plus refinancing bonds of the block still outstanding when ``[cures.refinancing]`` issued any).

The proceeds pay, in order: this month's shortfalls (they no longer reach SOE or government money), the bank loans
in full (a prepayment, in ``m.sweep``), the special bonds (redeemed at par: bond principal paid, ``m.bond_redeem``;
accrued coupon since the last payment date is not modelled); the rest N − need is distributed to the SOE. From the
next month the block has no units, rent, costs, debt or bond service on that path (``sold`` mask, ``(P, n)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NAME = "disposal"

#: smallest cap rate the buyer prices at (a rate path that falls far below its start cannot make the value explode)
CAP_RATE_FLOOR = 0.005


@dataclass
class DisposalState:
    """What the disposal cure carries from month to month, per project and path."""

    sold: np.ndarray  # (P, n) 1.0 once the block is sold on the path
    month: np.ndarray  # (P, n) int, month of the sale, −1 = never
    noi_ring: np.ndarray  # (12, P, n) NOI of the last 12 months, by month mod 12
    occ_ring: np.ndarray  # (12, P, n) occupancy of the last 12 months


def start(plan, n: int) -> DisposalState | None:
    """The cure's state when the scenario configures ``[cures.disposal]`` (default conventions), else None."""
    cfg = plan.support.cures
    if cfg is None or cfg.disposal is None:
        return None
    P = plan.P
    return DisposalState(sold=np.zeros((P, n)), month=np.full((P, n), -1, dtype=np.int64),
                         noi_ring=np.zeros((12, P, n)), occ_ring=np.zeros((12, P, n)))


def noi(m) -> np.ndarray:
    """Net operating income of the month, ``(P, n)``: rent + rent subsidy − rent-linked costs − running costs."""
    return m.rent + m.rent_sub - m.rent_costs - m.running


def cap_rate(cfg, lpr: np.ndarray, lpr0: float) -> np.ndarray:
    """Cap rate of the buyer, ``(n,)``: ``max(cap_rate + β · (LPR_t − LPR_0), floor)``."""
    return np.maximum(cfg.cap_rate + cfg.cap_rate_lpr_beta * (lpr - lpr0), CAP_RATE_FLOOR)


def month(st, c, plan, t: int, m) -> None:
    """Update the NOI and occupancy rings; sell the blocks that qualify (module docstring) and book the proceeds."""
    d, cfg = st.disposal, plan.support.cures.disposal
    r = t % 12
    d.noi_ring[r] = noi(m)
    d.occ_ring[r] = m.occ
    short = m.short_opex
    for s in m.short.values():
        short = short + s
    operating = t - c.avail_m + 1  # (P,) months of operation including this one
    count = np.clip(operating, 1, 12)[:, None]
    trailing_occ = d.occ_ring.sum(axis=0) / count
    eligible = ((short > 1e-6) & (d.sold == 0.0) & c.is_rental[:, None]
                & (operating >= cfg.min_operating_months)[:, None] & (trailing_occ >= cfg.min_occupancy - 1e-12))
    if not eligible.any():
        return
    settle(st, c, plan, t, m, short, eligible)


def settle(st, c, plan, t: int, m, short, eligible) -> None:
    """Price the ``eligible`` blocks (``short`` their shortfall this month), sell those whose net proceeds cover the
    need and whose shortfall is material (module docstring)."""
    d, cfg = st.disposal, plan.support.cures.disposal
    forward_noi = d.noi_ring.sum(axis=0)
    value = np.maximum(forward_noi, 0.0) / cap_rate(cfg, m.ms.lpr, plan.market.lpr0)
    net = value * (1.0 - cfg.transaction_cost_share)
    bank_out = c.onehot_t @ (st.loan_bal - m.principal) if c.has_loans else np.zeros_like(short)
    bond_out = plan.bond_balance[:, t][:, None]
    if st.refi is not None:  # refinancing bonds of the block still outstanding after this month (cures.refinancing)
        rs = st.refi
        live = (rs.month <= t) & (t < rs.month + rs.term_m)
        bond_out = bond_out + rs.onehot[:, live] @ rs.amount[live]
    need = short + bank_out + bond_out
    material = short >= cfg.min_shortfall_share * (bank_out + bond_out + short)
    sell = eligible & material & (net >= need) & (net > 0.0)
    if not sell.any():
        return
    _sell(st, c, plan, t, m, sell.astype(np.float64), net, short, bank_out, bond_out)


def _sell(st, c, plan, t, m, sold, net, short, bank_out, bond_out) -> None:
    """Book the sale on the paths and blocks where ``sold`` = 1: proceeds, shortfalls paid, loans prepaid in full,
    bonds redeemed, the remainder distributed; the block's units leave the SOE."""
    d = st.disposal
    keep = 1.0 - sold
    m.disposal = net * sold
    m.short_opex = m.short_opex * keep
    m.short = {k: s * keep for k, s in m.short.items()}
    if c.has_loans:
        rows = sold[plan.loan_project] > 0  # (L, n) loans of a sold block
        st.loan_bal = np.where(rows, m.principal, st.loan_bal)  # the scheduled principal is repaid as usual after
        m.sweep = m.sweep + bank_out * sold  # the rest of the balance is prepaid from the proceeds
    m.bond_redeem = bond_out * sold
    if st.refi is not None:  # the block's refinancing bonds are redeemed too: no balance, no service after
        st.refi.amount = st.refi.amount * keep[st.refi.project]
    m.dist = m.dist + (net - short - bank_out - bond_out) * sold
    st.held = st.held * keep
    d.month = np.where((sold > 0) & (d.sold == 0.0), t, d.month)
    d.sold = np.maximum(d.sold, sold)
    total = m.disposal.sum(axis=0)
    st.metrics["cure_disposal"] += total
    m.cure[NAME] = total
