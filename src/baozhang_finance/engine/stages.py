"""The stages of one month, in order; each is a function of (state, constants, plan, month, …).

Arrays are ``(P, n)`` per project, ``(L, n)`` per loan, ``(n,)`` per path; ``m`` is the month's namespace of
flows (:class:`Month`) that each stage reads and adds to. The formulas of each quantity are in the docstrings.
"""

from __future__ import annotations

import numpy as np

from baozhang_finance.engine.cures import refinancing, sinking_fund
from baozhang_finance.engine.instruments import bank_loan, soe_bond, special_bond
from baozhang_finance.engine.plan import Plan
from baozhang_finance.engine.state import Constants, State, col


class Month:
    """The flows of one month (attributes set by the stages)."""

    disposal = None  # (P, n) net disposal proceeds of the month (cures.disposal), None when no block is sold
    bond_redeem = None  # (P, n) special-bond principal redeemed from disposal proceeds
    reserve_net = None  # (P, n) buyback reserve released − set aside this month (default conventions)
    walked = None  # (P, n) pre-subscribed units whose buyers walked away at hand-over this month
    gov_held = None  # the government-owned blocks' shortfalls, held out of SOE support (owner = "government")
    gov_owned = None  # (n,) explicit budget spending on government-owned blocks' operating gaps
    gov_income = None  # (n,) distributions of government-owned blocks, returned to the budget
    refi_met = None  # (P, n) maturing special-bond principal met by refinancing bonds this month (cures.refinancing)


def funding(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """Deterministic funding: uses (acquisition, works) out; the upfront reserve into the DSRA;
    sources = equity + capital grants + bond draws + SOE-bond draws (+ loan draws, added by :func:`loans`);
    a new build's cost overrun ``overrun = 1{overrun} · overrun_out_t`` (``(P, n)``; the probability on expected
    paths) is paid by extra SOE equity in the same month — a use and a source of the same size."""
    m.uses = plan.uses_out[:, t]
    st.dsra += plan.reserve_in[:, t][:, None]
    m.sources = plan.equity_in[:, t] + plan.capital_grants_in[:, t] + plan.bond_draw[:, t]
    if c.has_soe_bond:
        m.sources = m.sources + plan.soe_bond_draw[:, t]
    m.overrun = st.overrun * plan.overrun_out[:, t][:, None] if st.overrun is not None else None


def loans(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """Debt service due this month, by instrument (:func:`bank_loan.month`, :func:`special_bond.month`):
    ``bank_due = interest + scheduled principal`` per project, ``bond_due`` from the bond schedule, plus the
    service of refinancing bonds (:func:`refinancing.due`) when [cures.refinancing] is configured."""
    if c.has_loans:
        b = bank_loan.month(st, c, plan, t, m.ms)
        m.sources = m.sources + b["draws"]
        m.rate, m.principal, m.bal_open, m.loan_int = b["rate"], b["principal"], b["bal_open"], b["cash_int"]
        m.bank_int_p, m.bank_prin_p = b["interest"], b["principal_p"]
        llcr_open(st, c, t)
    else:
        m.bal_open = np.zeros(st.n)
        m.bank_int_p = m.bank_prin_p = st.zeros_pn
    m.bank_due = m.bank_int_p + m.bank_prin_p
    bond_dues(st, c, plan, t, m)


def llcr_open(st: State, c: Constants, t: int) -> None:
    """In the month a project's LLCR window opens (:class:`~baozhang_finance.engine.state.Constants` ``_llcr``):
    ``D₀_p = Σ_{l ∈ p} B_l``, its own loans' balance at the month's open (after the draw and capitalisation, as
    ``bal_open``) — the denominator of its LLCR. The compiled twin calls the same function."""
    ps = c.llcr_open_at.get(t)
    if ps is None:
        return
    den = st.metrics["llcr_den"]
    for p in ps:  # the projects whose window opens this month
        den[p] = st.loan_bal[c.llcr_rows[p]].sum(axis=0)


def bond_ahead(plan: Plan, m: Month):
    """Special-bond service ranked ahead of the bank, per project ``(P, 1)`` or ``(P, n)``; None when the bank
    ranks first: ``bond_due_p − R_p``, the service due on the project less the maturing principal that refinancing
    bonds meet this month (``R_p``, :mod:`~baozhang_finance.engine.cures.refinancing`; their own later service is
    in ``bond_due``). Read by the LLCR (both engines)."""
    if plan.bank_first:
        return None
    due = _per_project(m.bond_due)
    return due if m.refi_met is None else due - m.refi_met


def bond_dues(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """The bonds' service due this month: special bonds from their schedule, refinancing bonds per path, none for
    a block sold by the disposal cure, SOE bonds; ``m.due`` by tranche kind (the bank's from :func:`loans`)."""
    s = special_bond.month(plan, t)
    m.bond_int, m.bond_prin, m.bond_due = s["interest"], s["principal"], s["due"]
    if st.refi is not None:  # refinancing bonds: special-bond service of the project, per path (P, n)
        ri, m.refi_principal = refinancing.due(st.refi, t, st.zeros_pn)
        m.bond_int = m.bond_int[:, None] + ri
        m.bond_prin = m.bond_prin[:, None] + m.refi_principal
        m.bond_due = m.bond_int + m.bond_prin
    if st.disposal is not None:  # a block sold on a path has no bond service after the sale: (P, n)
        keep = 1.0 - st.disposal.sold
        m.bond_int, m.bond_prin = _per_project(m.bond_int) * keep, _per_project(m.bond_prin) * keep
        m.bond_due = m.bond_int + m.bond_prin
    dues_by_kind(c, plan, t, m)


def dues_by_kind(c: Constants, plan: Plan, t: int, m: Month) -> None:
    """``m.due``: the month's service due by tranche kind — bank, special bonds and SOE bonds (their month)."""
    m.due = {"bank_loan": m.bank_due, "special_bond": m.bond_due}
    if c.has_soe_bond:  # SOE corporate bonds (instruments/soe_bond.py)
        o = soe_bond.month(plan, t)
        m.soe_bond_int, m.soe_bond_prin, m.soe_bond_due = o["interest"], o["principal"], o["due"]
        m.due["soe_bond"] = m.soe_bond_due


def delayed_mix(st: State, base: np.ndarray, delayed: np.ndarray) -> np.ndarray:
    """A schedule of a new build under its path's delay: ``(1 − d) · base + d · delayed`` per project ``(P, n)``,
    ``d`` = 1 on a delayed path (the delay probability on expected paths); ``base`` as ``(P, 1)`` without risk."""
    if st.delayed is None:
        return base[:, None]
    return base[:, None] + st.delayed * (delayed - base)[:, None]


def rental(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """Rental operations. Units acquired join ``held``. Rent re-set at renewal to the then market rent:

    ``rent = rent_unit · (Σ_{leases in place} R_s / count) · occ``, ``occ = clip(stab + d, 0, 1) · ramp``,
    ``ramp = clip((t − avail + 1) / lease_up, 0, 1)``; rent subsidy = units · subsidy · occ;
    rent costs = rent · (management + taxes + capex shares); running = held · area · (opex + holding) · CPI.
    """
    ms = m.ms
    st.held += delayed_mix(st, plan.acquired_units[:, t], plan.acquired_delayed[:, t])
    m.active = active = t >= c.avail_m
    if c.any_rental:
        avail_m, lr, is_rental = c.avail_m, c.lr, c.is_rental
        act_r = active & is_rental
        dropping = (t - c.lease_months >= avail_m) & is_rental
        if act_r.any():
            st.rent_sum[act_r] += ms.rent
        if dropping.any():
            st.rent_sum[dropping] -= st.rent_ring[(t - c.lease_months[dropping]) % lr]
        st.rent_ring[t % lr] = ms.rent
        count = np.clip(t - avail_m + 1, 1, c.lease_div)
        ramp = np.where(c.has_lease_up, np.clip((t - avail_m + 1) / c.lease_up, 0.0, 1.0), active) * is_rental
        m.occ = np.minimum(np.maximum(c.stab_occ + ms.occ_dev, 0.0), 1.0) * col(ramp)
        if st.disposal is not None:  # a sold block lets nothing on that path
            m.occ = m.occ * (1.0 - st.disposal.sold)
        m.rent = c.rent_unit * (st.rent_sum / col(count)) * m.occ
        m.rent_sub = c.rent_sub_unit * m.occ
        m.rent_costs = m.rent * c.rent_cost_share
    else:
        m.occ = m.rent = m.rent_sub = m.rent_costs = st.zeros_pn
    m.running = st.held * c.cost_m2_m * ms.cpi


def sales(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """Sale operations (closed management). New inventory enters at availability; absorption
    ``sold = unsold · min(a · A_t · H^ε, 1)``; hand-overs (absorbed, pre-subscribed, resold) leave ``held`` and
    enter the lock-up ring; units handed over ``lockup`` months ago become eligible for a buyback (:func:`buybacks`);
    ``sales = sold · area · price + pre-sale cash + resale cash``; sales tax = sales · rate."""
    m.gov_bb_paid = m.gov_resale = None
    if not c.any_sale:
        m.sold = m.bb_units = m.bb_paid = m.sales = m.sales_tax = st.zeros_pn
        return
    hpi = m.ms.hpi
    if st.delayed is None:
        if np.any(t == c.avail_m):
            st.unsold += (c.new_inventory * (t == c.avail_m))[:, None]
    elif np.any(t == c.avail_m) or np.any(t == c.avail_delayed):  # a delayed new build's inventory arrives later
        st.unsold += delayed_mix(st, c.new_inventory * (t == c.avail_m), c.new_inventory * (t == c.avail_delayed))
    abs_rate = c.absorption_m * m.ms.absorption
    if c.any_elastic:
        abs_rate = abs_rate * hpi ** c.elasticity
    m.sold = st.unsold * np.minimum(abs_rate, 1.0) * col(m.active)
    st.unsold -= m.sold
    handover = delayed_mix(st, plan.presub_handover_units[:, t], plan.presub_handover_delayed[:, t])
    presale = delayed_mix(st, c.presale_in[:, t], c.presale_in_delayed[:, t])
    if c.any_walkaway and handover[c.walk_rows].any():
        handover, presale = walkaway(st, c, plan, t, m, handover)
    # units handed over exactly lockup_months ago become eligible for a buyback this month (a unit handed over
    # in month h may ask from month h + 12·lockup_years; with no lock-up, from the month after hand-over)
    st.eligible += st.lock_ring[(t - c.lock_eff) % c.lk, c.ar_p]
    handed = m.sold + handover
    if c.any_buyback:
        resale_cash, resale_units = buybacks(st, c, plan, t, m)
        handed = handed + resale_units
    else:
        m.bb_units = m.bb_paid = resale_cash = st.zeros_pn
    st.lock_ring[t % c.lk] = handed
    st.held -= handed
    if m.walked is not None:  # walked units return to the inventory after this month's absorption
        st.unsold += m.walked
    m.sales = m.sold * c.sale_unit_value + presale + resale_cash
    m.sales_tax = m.sales * c.sales_tax_rate
    if st.bb_reserve is not None:
        buyback_reserve(st, c, plan, t, m)


def walkaway(st: State, c: Constants, plan: Plan, t: int, m: Month, handover):
    """Pre-subscribed buyers walking away at hand-over (default conventions), fluid units, no extra draw:

    ``h = min(1, base + sensitivity · max(0, (P − V) / P))``, P the affordable price per m², V = appraisal · H_t;
    walked = units due · h return to the unsold inventory; the hand-over balance (price − deposit) is received for
    the others only, ``balance · (1 − h)``; the deposit of a walked unit is forfeited (kept by the SOE).
    Returns (units handed over, pre-sale cash of the month)."""
    rows = c.walk_rows
    price = plan.sale_price_m2[rows][:, None]
    value = plan.appraisal_m2[rows][:, None] * m.ms.hpi
    gap = np.maximum(0.0, (price - value) / np.where(price > 0, price, 1.0))
    h = np.zeros((plan.P, st.n))
    h[rows] = np.minimum(1.0, plan.walkaway_base[rows][:, None] + plan.walkaway_sensitivity[rows][:, None] * gap)
    m.walked = handover * h
    forfeited = m.walked * c.sale_unit_value * col(plan.deposit_share)
    st.metrics["walkaway_units"] += m.walked.sum(axis=0)
    st.metrics["forfeited_deposits"] += forfeited.sum(axis=0)
    presale = (delayed_mix(st, plan.presale_deposit[:, t], plan.presale_deposit_delayed[:, t])
               + delayed_mix(st, plan.presale_balance[:, t], plan.presale_balance_delayed[:, t]) * (1.0 - h))
    return handover - m.walked, presale


def buyback_reserve(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """Buyback reserve (default conventions): ``in = share · sales`` is set aside; the reserve pays buybacks first,
    ``out = min(reserve + in, buybacks)``, and is released whole in the last month. The reserve is the project's
    cash (in cash conservation) but not available for debt service: ``reserve_net = out − in`` enters the cash
    available of the waterfall."""
    res_in = c.reserve_share * m.sales
    pot = st.bb_reserve + res_in
    res_out = pot if t == plan.T - 1 else np.minimum(pot, m.bb_paid)
    st.bb_reserve = pot - res_out
    m.reserve_net = res_out - res_in


def buybacks(st: State, c: Constants, plan: Plan, t: int, m: Month):
    """Buybacks of eligible units and their resale after a delay.

    ``h = min(1, hazard · (1 + s · max(0, 1 − H)))``, monthly ``h_m = 1 − (1 − h)^{1/12}`` (``h_m = 1`` at h = 1);
    bought back = eligible · h_m at ``area · (rule · appraisal · (1 − fee) · H + (1 − rule) · price · e^{g (t − avail)})``;
    resold ``resale_delay`` months later at the price paid × (1 + margin). Returns (resale cash, resale units).

    Default conventions (engine/seed_terms.py): owners *request* ``eligible · h_m``; the buyer accepts the share
    ``acceptance`` (Loudi's negotiated right of first refusal) — bought back = requests · acceptance, refused owners
    keep their units and leave the pool. Where the government pays (Beitun), the payment and the resale proceeds
    are the budget's (``gov_bb_paid``, ``gov_resale``), not the project's, and the units never enter the SOE's
    holding."""
    hpi, rows = m.ms.hpi, c.bb_rows
    h_ann = np.minimum(c.bb_hazard[rows] * (1.0 + c.bb_sens[rows] * np.maximum(0.0, 1.0 - hpi)), 1.0)
    bb_units = st.zeros_pn.copy()
    # h = 1: every eligible owner sells back this month (h_m = 1; clamping h below 1 gave h_m ≈ 0.953)
    h_m = np.where(h_ann >= 1.0, 1.0, -np.expm1(np.log1p(-np.where(h_ann >= 1.0, 0.0, h_ann)) / 12.0))
    bb_units[rows] = st.eligible[rows] * h_m
    st.eligible -= bb_units
    if c.bb_partial:  # requests accepted: a right of first refusal, not a put
        bb_units = bb_units * c.bb_accept
    orig = col(plan.sale_price_m2 * np.exp(plan.bb_index_m * (t - c.avail_m)))
    bb_price = c.bb_market * (c.bb_market_price * hpi) + (1.0 - c.bb_market) * orig
    bb_paid = bb_units * c.area * bb_price
    slot = t % c.dk
    st.resale_units_ring[slot] = bb_units
    st.resale_value_ring[slot] = bb_paid
    rslot = (t - plan.resale_delay) % c.dk
    resale_units = st.resale_units_ring[rslot, c.ar_p]
    resale_cash = st.resale_value_ring[rslot, c.ar_p] * c.resale_factor
    st.pending += bb_units - resale_units
    if c.any_gov_buyback:  # the government's purchases and resales bypass the project (and its holding)
        m.gov_bb_paid = (bb_paid * c.bb_gov).sum(axis=0)
        m.gov_resale = (resale_cash * c.bb_gov).sum(axis=0)
        st.held += bb_units * c.bb_soe + resale_units * c.bb_gov  # + resale: cancels the hand-over's decrement
        bb_paid = bb_paid * c.bb_soe
        resale_cash = resale_cash * c.bb_soe
    else:
        st.held += bb_units
    m.bb_units, m.bb_paid = bb_units, bb_paid
    return resale_cash, resale_units


def cfads(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """Cash flow available for debt service, per project:

    ``ops_in = rent + rent subsidy + sales + operating grants + interest subsidy`` (贴息 = bank interest · share
    while t < subsidy end); ``ops_out = running + rent costs + sales tax + buybacks``; ``CFADS = ops_in − ops_out``.
    """
    m.int_sub = m.bank_int_p * c.subsidy_share * col(t < plan.subsidy_end) if c.has_loans else st.zeros_pn
    m.op_grants = plan.operating_grants[:, t][:, None]
    m.ops_in = m.rent + m.rent_sub + m.sales + m.op_grants + m.int_sub
    m.ops_out = m.running + m.rent_costs + m.sales_tax + m.bb_paid
    m.cfads = m.ops_in - m.ops_out


def waterfall(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """Per project: cash available = CFADS + retained cash + DSRA pays the tranches in rank order,
    ``paid_k = min(rest, due_k)``, ``rest −= paid_k``; what is left is the surplus, less the sweep
    ``min(share · sales, surplus, bank balance after principal)``; then :func:`dsra_refill`,
    :func:`cross_support` and :func:`lockup`. Shortfalls: ``short_opex = max(−avail, 0)``, ``short_k = due_k − paid_k``.

    With a sinking fund ([cures.sinking_fund]) the fund first pays the bullet principal due this month and
    releases what it holds above its target into the cash available (:func:`sinking_fund.pay`); after the DSRA the
    surplus tops it up (:func:`sinking_fund.build`)."""
    avail = m.cfads + st.cash + st.dsra
    dues = m.due
    if st.sink is not None:
        dues, release = sinking_fund.pay(st, c, plan, t, m)
        avail = avail + release
    if m.reserve_net is not None:
        avail = avail + m.reserve_net
    rest = np.maximum(avail, 0.0)
    m.short_opex = np.maximum(-avail, 0.0)
    m.short = {}
    for tr in c.tranches:
        due = dues[tr.kind]
        paid = np.minimum(rest, due)
        m.short[tr.kind] = due - paid
        rest = rest - paid
    surplus = rest
    if c.has_loans and c.any_sale:
        bal_after = c.onehot_t @ (st.loan_bal - m.principal)
        m.sweep = np.minimum(np.minimum(c.sweep_share * m.sales, surplus), bal_after)
        surplus = surplus - m.sweep
    else:
        m.sweep = st.zeros_pn
    surplus = dsra_refill(st, c, plan, t, m, surplus)
    if st.sink is not None:
        surplus = sinking_fund.build(st, surplus)
    if plan.cross_support:
        surplus = cross_support(m, surplus)
    lockup(st, c, plan, t, m, surplus)


def dsra_refill(st: State, c: Constants, plan: Plan, t: int, m: Month, surplus):
    """DSRA refilled to its target from the surplus, ``DSRA = min(surplus, target)``, with
    ``target = max(k · bank_due + bond service of the next k months + Σ balloon principal due within k months,
    upfront-reserve floor before stabilisation)``, ``k = dsra_months``. Returns the surplus left."""
    bond_ahead = plan.bond_forward_service[:, t][:, None]
    if st.disposal is not None:
        bond_ahead = bond_ahead * (1.0 - st.disposal.sold)
    target = plan.dsra_months * m.bank_due + bond_ahead
    if c.has_soe_bond:
        target = target + plan.soe_bond_forward_service[:, t][:, None]
    if c.has_balloon and st.ext is None:
        ahead = c.balloon & (plan.loan_maturity - 1 > t) & (plan.loan_maturity - 1 - t <= c.dsra_window)
        if ahead.any():
            target = target + c.onehot_t[:, ahead] @ st.loan_bal[ahead]
    elif c.has_balloon:  # maturities per path after an extension
        mat = st.ext.maturity
        ahead = c.balloon[:, None] & (mat - 1 > t) & (mat - 1 - t <= c.dsra_window)
        if ahead.any():
            target = target + c.onehot_t @ np.where(ahead, st.loan_bal, 0.0)
    target = np.maximum(target, plan.reserve_floor[:, t][:, None])
    st.dsra = np.minimum(surplus, target)
    return surplus - st.dsra


def cross_support(m: Month, surplus):
    """Other projects' surplus covers shortfalls (programme pool): ``used = min(Σ surplus, Σ shortfalls)``; every
    shortfall is scaled by ``1 − used / need`` and every surplus by ``1 − used / pool``. Returns the surplus."""
    pool = surplus.sum(axis=0)
    need = m.short_opex
    for s in m.short.values():
        need = need + s
    need = need.sum(axis=0)
    used = np.minimum(pool, need)
    keep_short = np.where(need > 0, 1.0 - used / np.where(need > 0, need, 1.0), 1.0)
    keep_pool = np.where(pool > 0, 1.0 - used / np.where(pool > 0, pool, 1.0), 1.0)
    m.short_opex = m.short_opex * keep_short
    m.short = {k: s * keep_short for k, s in m.short.items()}
    return surplus * keep_pool


def lockup(st: State, c: Constants, plan: Plan, t: int, m: Month, surplus) -> None:
    """Trailing-12-month DSCR lock-up (running sums over a 12-month ring): locked when
    ``Σ_12 service > 0`` and ``Σ_12 CFADS < lockup_dscr · Σ_12 service``; a locked surplus is retained as cash,
    otherwise distributed to the SOE (a block sold by the disposal cure is never locked after its sale)."""
    service = m.bank_due + m.bond_due
    if c.has_soe_bond:
        service = service + m.soe_bond_due
    r12 = t % 12
    st.cf12 += m.cfads - st.cf_ring[r12]
    st.ds12 += service - st.ds_ring[r12]
    st.cf_ring[r12] = m.cfads
    st.ds_ring[r12] = service
    m.locked = (st.ds12 > 1e-9) & (st.cf12 < plan.lockup_dscr * st.ds12)
    if st.disposal is not None:  # a block sold on a path has nothing left to lock up
        m.locked &= st.disposal.sold == 0.0
    st.cash = np.where(m.locked, surplus, 0.0)
    m.dist = surplus - st.cash


def soe_support(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """Programme level. At each year start (t = 12, 24, …) the SOE's other business adds its yearly capacity to the
    pot, ``left = min(left + yearly, cap)``. Then, for each class SOE money may pay, in the support policy's order
    (``plan.soe_order``; legacy: operating costs → tranches by rank), ``soe_x = min(left, short_x)``,
    ``left −= soe_x``. When cures follow SOE support (``[cures].timing``), what is left short is allocated back to
    the projects pro rata, ``short_{p,x} · (1 − soe_x / short_x)``, for the cures to act on. The SOE is
    *exhausted* the first month a class it may pay is left short; the *first shortfall* is the first month any
    project is short after its cash and DSRA (and cures placed before SOE money)."""
    sp = plan.support
    if sp.yearly_capacity and t > 0 and t % 12 == 0:
        np.minimum(st.soe_left + sp.yearly_capacity, sp.pot_cap, out=st.soe_left)
    if c.gov_rows is not None:  # SOE money never pays a government-owned block's gaps
        _hold_gov_rows(st, c, m)
    shorts = {"operating_costs": m.short_opex.sum(axis=0)}
    for tr in c.tranches:
        shorts[tr.kind] = m.short[tr.kind].sum(axis=0)
    paid, soe = {}, None
    for kind in sp.soe_order:
        if kind in shorts:
            paid[kind] = pay = np.minimum(st.soe_left, shorts[kind])
            st.soe_left -= pay
            soe = pay if soe is None else soe + pay
    m.soe = soe if soe is not None else np.zeros(st.n)
    m.shorts, m.paid = shorts, paid
    m.allocated = sp.cures is not None and sp.cures.timing == "after_soe_support"
    if m.allocated:
        m.short_opex = m.short_opex * _left_share(shorts, paid, "operating_costs")
        m.short = {k: v * _left_share(shorts, paid, k) for k, v in m.short.items()}
    if c.gov_rows is not None:  # the cures that follow act on the government's blocks too (refinancing)
        _restore_gov_rows(c, m)
    _support_events(st, t, shorts, paid)


def _hold_gov_rows(st: State, c: Constants, m: Month) -> None:
    """Take the government-owned blocks' rows out of ``m.short_opex`` and ``m.short`` (kept in ``m.gov_held``) so
    that SOE support sees the SOE's blocks only: ``short_{g,x}`` held, ``short_{g,x} = 0`` for SOE money."""
    shape, rows = (c.P, st.n), c.gov_rows
    held = {}
    for k in ("operating_costs", *m.short):
        x = np.array(np.broadcast_to(m.short_opex if k == "operating_costs" else m.short[k], shape))
        held[k] = x[rows].copy()
        x[rows] = 0.0
        if k == "operating_costs":
            m.short_opex = x
        else:
            m.short[k] = x
    m.gov_held = held


def _restore_gov_rows(c: Constants, m: Month) -> None:
    """Put the held government rows back (unscaled by SOE support): the cures placed after SOE support act on them,
    and the record shows every block's shortfall."""
    m.short_opex[c.gov_rows] = m.gov_held["operating_costs"]
    for k in m.short:
        m.short[k][c.gov_rows] = m.gov_held[k]


def _left_share(shorts: dict, paid: dict, kind: str):
    """Share of a class's shortfall the SOE left open: ``1 − soe_x / short_x`` (1 where nothing was short)."""
    if kind not in paid:
        return 1.0
    s = shorts[kind]
    return np.where(s > 0, 1.0 - paid[kind] / np.where(s > 0, s, 1.0), 1.0)


def government(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """The government pays what is still short: ``gov_x = short_x − soe_x`` (all of a class SOE money may not pay),
    after the cures when they follow SOE support (then ``gov_x = Σ_p short_{p,x}`` as the cures left it).
    Government money for operating costs and ``"hidden"``-class tranches is the hidden-debt call; for
    ``"bond"``-class tranches the explicit bond burden."""
    shorts, paid, zeros = m.shorts, m.paid, np.zeros(st.n)
    gov = {"hidden": None, "bond": None}
    m.gov_by_kind = {}
    for tr in c.tranches:
        if m.allocated:
            g = m.short[tr.kind].sum(axis=0)
        else:
            g = shorts[tr.kind] - paid[tr.kind] if tr.kind in paid else shorts[tr.kind]
        m.gov_by_kind[tr.kind] = g
        gov[tr.government_class] = g if gov[tr.government_class] is None else gov[tr.government_class] + g
    if c.gov_rows is not None and not m.allocated:  # government blocks' tranche gaps, held out of SOE support
        for tr in c.tranches:
            g = m.gov_held[tr.kind].sum(axis=0)
            m.gov_by_kind[tr.kind] = m.gov_by_kind[tr.kind] + g
            gov[tr.government_class] = gov[tr.government_class] + g
    m.gov_bank = gov["hidden"] if gov["hidden"] is not None else zeros
    m.gov_bond = gov["bond"] if gov["bond"] is not None else zeros
    if m.allocated:
        if c.gov_rows is not None:  # a government block's operating gap is explicit spending, not a hidden call
            m.gov_owned = m.short_opex[c.gov_rows].sum(axis=0)
            opex_gov = m.short_opex[c.soe_rows].sum(axis=0)
        else:
            opex_gov = m.short_opex.sum(axis=0)
    else:
        opex_gov = (shorts["operating_costs"] - paid["operating_costs"] if "operating_costs" in paid
                    else shorts["operating_costs"])
        if c.gov_rows is not None:
            m.gov_owned = m.gov_held["operating_costs"].sum(axis=0)
    m.hidden = opex_gov + m.gov_bank


def _support_events(st: State, t: int, shorts: dict, paid: dict) -> None:
    """Record the first month the SOE's pot is exhausted (a payable class left short) and the first shortfall."""
    mt = st.metrics
    left_short = sum((shorts[k] - paid[k] for k in paid), np.zeros(st.n))
    new = (left_short > 1e-6) & (mt["soe_exhausted"] < 0)
    if new.any():
        mt["soe_exhausted"][new] = t
    total = sum(shorts.values(), np.zeros(st.n))
    new = (total > 1e-6) & (mt["first_shortfall"] < 0)
    if new.any():
        mt["first_shortfall"][new] = t


def default(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """Standalone (bank) view: the first month a ``"hidden"``-class shortfall needs government money
    (> 1e-6 yuan) is the default, with EAD = balance at the open + interest due and collateral =
    (Σ units held · area · appraisal + work in progress) · H; the price index is read again at the bank's sale,
    ``liquidation_months`` later. Then the loans are repaid (:func:`bank_loan.repay`)."""
    hpi, mt = m.ms.hpi, st.metrics
    m.collateral = (c.collateral_unit @ st.held + plan.work_in_progress[:, t].sum()) * hpi
    if not c.has_loans:
        return
    new_default = (m.gov_bank > 1e-6) & (mt["default_month"] < 0)
    if new_default.any():
        mt["default_month"][new_default] = t
        mt["ead"][new_default] = (m.bal_open + m.bank_int_p.sum(axis=0))[new_default]
        mt["collateral_at_default"][new_default] = m.collateral[new_default]
        mt["hpi_at_default"][new_default] = hpi[new_default]
        mt["sale_month"][new_default] = t + plan.liquidation_months
    selling = mt["sale_month"] == t
    if selling.any():
        mt["hpi_at_sale"][selling] = hpi[selling]
    bank_loan.repay(st, c, plan, m.principal, m.sweep)


def metrics(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """Per-path metrics: first call month; PVs ``Σ x_t v_t`` of hidden calls and bond burden (v at the fiscal
    discount rate) and of SOE support (at the programme rate); distributions back into the SOE's pot;
    funding need ``E_t = Σ (equity + SOE − distributions)``, its peak; each ring-fenced project's LLCR numerator
    ``N_p = Σ_{t₀_p ≤ t < t₁_p} (CFADS_{p,t} − A_{p,t}) (1 + r_p)^{−(t − t₀_p)}`` over its own loans' life, ``A``
    the bond service ranked ahead of the bank (:func:`bond_ahead`; D₀_p: :func:`llcr_open`); the bond-coverage
    sums over the bond months."""
    mt = st.metrics
    new_call = (m.hidden > 1e-6) & (mt["first_call"] < 0)
    if new_call.any():
        mt["first_call"][new_call] = t
        mt["stock_at_call"][new_call] = np.broadcast_to(m.bal_open, new_call.shape)[new_call]
    fdfac = plan.support.fiscal_discount_m[t]  # the budget's payments at the local-bond yield (legacy: the SOE's)
    mt["pv_hidden"] += m.hidden * fdfac
    mt["pv_bond"] += m.gov_bond * fdfac
    mt["pv_soe"] += m.soe * plan.discount_m[t]
    mt["pv_soe_fiscal"] += m.soe * fdfac  # the same money at the budget's rate: who pays the gap, at one rate
    m.equity_in_t = plan.equity_in[:, t].sum()
    m.dist_t = m.dist.sum(axis=0)
    if c.gov_rows is not None:  # a government block's equity is the budget's, its distributions return to it
        m.equity_in_t = plan.equity_in[c.soe_rows, t].sum()
        m.gov_income = m.dist[c.gov_rows].sum(axis=0)
        m.dist_t = m.dist_t - m.gov_income
        mt["pv_gov_owned_opex"] += m.gov_owned * fdfac
        mt["pv_gov_owned_income"] += m.gov_income * fdfac
    mt["cum_equity"] += m.equity_in_t + m.soe - m.dist_t
    if m.overrun is not None:  # a cost overrun is paid by extra SOE equity
        m.overrun_t = m.overrun.sum(axis=0)
        m.equity_in_t = m.equity_in_t + m.overrun_t
        mt["cum_equity"] += m.overrun_t
    if m.gov_bb_paid is not None:  # buybacks the government pays, and resale proceeds back to it
        mt["pv_gov_buyback"] += m.gov_bb_paid * fdfac
        mt["pv_gov_resale"] += m.gov_resale * fdfac
    if plan.support.distributions_return:  # distributions return to the SOE's pot, up to its cap
        np.minimum(st.soe_left + m.dist_t, plan.support.pot_cap, out=st.soe_left)
    np.maximum(mt["peak_funding"], mt["cum_equity"], out=mt["peak_funding"])
    m.cf_prog = m.cfads.sum(axis=0)
    if c.llcr_lo <= t < c.llcr_hi:  # v_{p,t} = 0 outside project p's window
        ahead = bond_ahead(plan, m)
        cf = m.cfads if ahead is None else m.cfads - ahead
        mt["llcr_num"] += cf * c.llcr_df[:, t][:, None]
    if c.cov_lo <= t <= c.cov_hi:
        mt["cov_num"] += m.cfads[c.has_bond].sum(axis=0)
        mt["cov_bank"] += m.bank_due[c.has_bond].sum(axis=0)
    lens_metrics(st, c, plan, t, m, fdfac)


def lens_metrics(st: State, c: Constants, plan: Plan, t: int, m: Month, fdfac: float) -> None:
    """Accumulators of the lenses' measures: PV of government money on bank service (the hidden-call PV less it is
    the unbudgeted subsidy of operating gaps) and of the budgeted subsidies (rent subsidy + 贴息 + operating
    grants), at the fiscal rate; the first month bank service is short before SOE money (PD without SOE support:
    after cash, DSRA and the cures placed before SOE money);
    the monthly equity flow ``distributions − equity − SOE support`` and government money; rental NOI
    ``rent + rent subsidy − rent costs − running`` over the last 12 months; the bond projects' units at market value
    in the bond's last month (residual value of the coverage test)."""
    mt = st.metrics
    mt["pv_gov_bank"] += m.gov_bank * fdfac
    mt["pv_budgeted"] += ((m.rent_sub + m.int_sub).sum(axis=0) + m.op_grants.sum()) * fdfac
    shorts = getattr(m, "shorts", None) or {}  # class totals before SOE money (soe_support stage)
    bank_short = shorts.get("bank_loan")
    if bank_short is not None and c.has_loans:
        new = (bank_short > 1e-6) & (mt["bank_short_first"] < 0)
        if new.any():
            mt["bank_short_first"][new] = t
            _credit_event(mt, "nosupport", new, t, m, plan)
        new = mt["soe_exhausted"] == t
        if new.any():
            _credit_event(mt, "corporate", new, t, m, plan)
        for k in ("nosupport", "corporate"):
            selling = mt[f"sale_month_{k}"] == t
            if selling.any():
                mt[f"hpi_at_sale_{k}"][selling] = m.ms.hpi[selling]
    mt["equity_m"][t] = m.dist_t - m.equity_in_t - m.soe
    mt["gov_m"][t] = m.hidden + m.gov_bond
    if m.gov_owned is not None:
        mt["gov_m"][t] += m.gov_owned
    if t >= plan.T - 12 and c.any_rental:
        noi = m.rent + m.rent_sub - m.rent_costs - m.running
        mt["noi12"] += noi[c.is_rental].sum(axis=0)
    if t == c.cov_hi:
        mt["cov_residual"] = (c.collateral_unit * c.has_bond) @ st.held * m.ms.hpi


def _credit_event(mt: dict, k: str, new, t: int, m: Month, plan: Plan) -> None:
    """Record a credit event of view ``k`` (``nosupport``: bank service short before SOE money; ``corporate``: the
    SOE's pot exhausted with a shortfall open) as the default stage does: EAD = balance at the open + the month's
    interest, the collateral's market value and the price index now and when the bank sells."""
    mt[f"ead_{k}"][new] = (m.bal_open + m.bank_int_p.sum(axis=0))[new]
    mt[f"collateral_{k}"][new] = m.collateral[new]
    mt[f"hpi_at_default_{k}"][new] = m.ms.hpi[new]
    mt[f"sale_month_{k}"][new] = t + plan.liquidation_months


def yearly(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """Yearly ledgers ``(Y, n)`` (:data:`~baozhang_finance.engine.ledgers.LEDGERS`): flows summed over the year,
    balances at year end (month 11 of each year and the last month); per-project CFADS and bank service.

    Only the ledgers the run asked for are accumulated (``st.yearly``'s keys: every ledger by default, the ones the
    run's per-path columns read for a bulk run, :data:`~baozhang_finance.engine.ledgers.BULK_YEARLY`); a ledger's
    value never depends on which others are kept."""
    y, yr = t // 12, st.yearly
    _yearly_debt_flows(st, c, m, y, yr)
    _yearly_operating_flows(st, c, plan, t, m, y, yr)
    if t % 12 == 11 or t == plan.T - 1:
        _year_end_balances(st, c, plan, t, m, y, yr)


def _yearly_debt_flows(st: State, c: Constants, m: Month, y: int, yr: dict) -> None:
    """Bank interest and principal, prepayments, bond interest and principal (+ redemptions of a sold block's
    bonds), refinancing need, SOE-bond service and debt service = bank + special-bond (+ SOE-bond) service."""
    bank_int_t = m.bank_int_p.sum(axis=0)
    bank_prin_t = m.bank_prin_p.sum(axis=0)
    if st.refi is None and st.disposal is None:
        bond_int_t, bond_prin_t = m.bond_int.sum(), m.bond_prin.sum()
        bond_t = float(bond_int_t + bond_prin_t)
    else:  # refinancing bonds or disposals make bond service per path
        bond_int_t, bond_prin_t = m.bond_int.sum(axis=0), m.bond_prin.sum(axis=0)
        bond_t = bond_int_t + bond_prin_t
        if "refinancing" in yr:
            yr["refinancing"][y] += m.cure.get("refinancing", 0.0)
    st.proj_cfads[y] += m.cfads
    st.proj_bank[y] += m.bank_due
    if "bank_interest" in yr:
        yr["bank_interest"][y] += bank_int_t
        yr["bank_principal"][y] += bank_prin_t
        yr["prepayment"][y] += m.sweep.sum(axis=0)
        yr["bond_interest"][y] += bond_int_t
        yr["bond_principal"][y] += bond_prin_t
        if m.bond_redeem is not None:  # redemption of a sold block's bonds: principal paid, not scheduled service
            yr["bond_principal"][y] += m.bond_redeem.sum(axis=0)
    yr["debt_service"][y] += bank_int_t + bank_prin_t + bond_t
    if c.has_soe_bond:
        soe_int_t, soe_prin_t = float(m.soe_bond_int.sum()), float(m.soe_bond_prin.sum())
        if "soe_bond_interest" in yr:
            yr["soe_bond_interest"][y] += soe_int_t
            yr["soe_bond_principal"][y] += soe_prin_t
        yr["debt_service"][y] += soe_int_t + soe_prin_t


def _yearly_operating_flows(st: State, c: Constants, plan: Plan, t: int, m: Month, y: int, yr: dict) -> None:
    """Operating income and costs, CFADS, rent, sales, grants, buybacks, disposals, overruns, the government's
    buybacks and own blocks, distributions, equity in, support by payer, fiscal revenue, uses, lock-up months, NOI."""
    full = "ops_in" in yr  # the ledgers of the full picture (replays, tests), not read by a bulk run
    if full:
        yr["ops_in"][y] += m.ops_in.sum(axis=0)
        yr["ops_out"][y] += m.ops_out.sum(axis=0)
    yr["cfads"][y] += m.cf_prog
    if full:
        yr["rent"][y] += m.rent.sum(axis=0)
        yr["sales"][y] += m.sales.sum(axis=0)
        yr["grants"][y] += (m.rent_sub + m.int_sub).sum(axis=0) + m.op_grants.sum()
        yr["buybacks"][y] += m.bb_paid.sum(axis=0)
        if m.disposal is not None:
            yr["disposal_proceeds"][y] += m.disposal.sum(axis=0)
    if m.overrun is not None:
        if full:
            yr["overrun"][y] += m.overrun_t
        yr["uses"][y] += m.overrun_t
    if m.gov_bb_paid is not None and full:
        yr["gov_buybacks"][y] += m.gov_bb_paid
        yr["gov_resale"][y] += m.gov_resale
    if m.gov_owned is not None:
        yr["gov_owned_opex"][y] += m.gov_owned
        if full:
            yr["gov_owned_income"][y] += m.gov_income
    yr["distributions"][y] += m.dist_t
    yr["equity_in"][y] += m.equity_in_t
    yr["soe_support"][y] += m.soe
    yr["gov_hidden"][y] += m.hidden
    yr["gov_bond"][y] += m.gov_bond
    yr["fiscal_revenue"][y] += m.ms.fiscal_m
    yr["uses"][y] += m.uses.sum() + plan.reserve_in[:, t].sum()
    yr["lockup_months"][y] += m.locked.any(axis=0)
    yr["fiscal_land"][y] += m.ms.fiscal_land_m if m.ms.fiscal_land_m is not None else 0.0
    if c.any_rental:
        yr["noi"][y] += (m.rent + m.rent_sub - m.rent_costs - m.running)[c.is_rental].sum(axis=0)


def _year_end_balances(st: State, c: Constants, plan: Plan, t: int, m: Month, y: int, yr: dict) -> None:
    """Balances at year end: cash (DSRA + retained cash + sinking fund + buyback reserve), bank and bond
    balances, escrow, SOE bonds, collateral value (all blocks and rental blocks), units held, the price index."""
    full = "bond_balance" in yr
    yr["cash_balance"][y] = (st.dsra + st.cash).sum(axis=0)
    if st.sink is not None:
        yr["cash_balance"][y] += st.sink.fund.sum(axis=0)
    if st.bb_reserve is not None:  # the buyback reserve is the project's cash
        yr["cash_balance"][y] += st.bb_reserve.sum(axis=0)
        if full:
            yr["buyback_reserve"][y] = st.bb_reserve.sum(axis=0)
    yr["bank_balance"][y] = st.loan_bal.sum(axis=0) if c.has_loans else 0.0
    if full:
        yr["bond_balance"][y] = (plan.bond_balance[:, t].sum() if st.disposal is None
                                 else (plan.bond_balance[:, t][:, None] * (1.0 - st.disposal.sold)).sum(axis=0))
        if st.refi is not None:
            yr["bond_balance"][y] += refinancing.balance(st.refi, t)
        yr["escrow_balance"][y] = plan.escrow_balance[:, t].sum()
        yr["soe_bond_balance"][y] = plan.soe_bond_balance[:, t].sum()
        yr["units_held"][y] = st.held.sum(axis=0)
        yr["hpi"][y] = m.ms.hpi
    yr["collateral_value"][y] = m.collateral
    yr["collateral_rental"][y] = (c.collateral_unit * c.is_rental) @ st.held * m.ms.hpi


def record(st: State, c: Constants, plan: Plan, t: int, m: Month) -> None:
    """Monthly record of every series (``record=True``) and the cash-conservation check
    ``sources + ops_in + SOE + government + cures' cash − (uses + ops_out + bank + bond service + sweep
    + distributions) − Δ(DSRA + cash + sinking fund) = 0``."""
    mo, P, n, ms = st.monthly, plan.P, st.n, m.ms
    project = {"ops_in": m.ops_in, "ops_out": m.ops_out, "cfads": m.cfads, "rent": m.rent,
               "rent_subsidy": m.rent_sub, "sales": m.sales, "op_grants": m.op_grants, "interest_subsidy": m.int_sub,
               "running_costs": m.running, "rent_costs": m.rent_costs, "sales_tax": m.sales_tax,
               "buybacks": m.bb_paid, "bank_interest": m.bank_int_p, "bank_principal": m.bank_prin_p,
               "bank_due": m.bank_due, "bond_interest": _per_project(m.bond_int), "bond_principal": _per_project(m.bond_prin),
               "prepayment": m.sweep, "dsra": st.dsra, "cash": st.cash, "distributions": m.dist,
               "short_opex": m.short_opex, "short_bank": m.short["bank_loan"], "short_bond": m.short["special_bond"],
               "sources": m.sources[:, None], "uses": m.uses[:, None], "held": st.held, "unsold": st.unsold,
               "occupancy": m.occ, "bb_units": m.bb_units, "sold_units": m.sold,
               "disposal": _or_zero(m.disposal, st), "bond_redemption": _or_zero(m.bond_redeem, st),
               "walkaway_units": _or_zero(m.walked, st), "escrow": delayed_mix(st, plan.escrow_balance[:, t], plan.escrow_balance_delayed[:, t]),
               "buyback_reserve": st.bb_reserve if st.bb_reserve is not None else st.zeros_pn}
    zero = st.zeros_pn
    project.update({
        "soe_bond_interest": m.soe_bond_int[:, None] if c.has_soe_bond else zero,
        "soe_bond_principal": m.soe_bond_prin[:, None] if c.has_soe_bond else zero,
        "short_soe_bond": m.short.get("soe_bond", zero), "overrun": m.overrun if m.overrun is not None else zero})
    zn = np.zeros(n)
    mo["gov_buybacks"][:, t] = m.gov_bb_paid if m.gov_bb_paid is not None else zn
    mo["gov_resale"][:, t] = m.gov_resale if m.gov_resale is not None else zn
    for k, v in project.items():
        mo[k][:, :, t] = np.broadcast_to(v, (P, n)).T
    for k, v in (("soe_support", m.soe), ("gov_hidden", m.hidden), ("gov_bond", m.gov_bond), ("hpi", ms.hpi),
                 ("rent_index", ms.rent), ("lpr", ms.lpr), ("cpi", ms.cpi), ("fiscal", ms.fiscal_m)):
        mo[k][:, t] = v
    if c.has_loans:
        mo["loan_balance"][:, :, t] = st.loan_bal.T
        mo["loan_rate_m"][:, :, t] = m.rate.T
    stock = lambda k: mo[k][:, :, t - 1].sum(axis=1)  # noqa: E731
    prev = stock("dsra") + stock("cash") + stock("buyback_reserve") if t > 0 else 0.0
    inflow = m.sources.sum() + m.ops_in.sum(axis=0) + m.soe + m.hidden + m.gov_bond
    outflow = (m.uses.sum() + m.ops_out.sum(axis=0) + m.bank_due.sum(axis=0)
               + np.broadcast_to(m.bond_due, (P, n)).sum(axis=0) + m.sweep.sum(axis=0) + m.dist_t)
    if m.gov_owned is not None:  # the budget tops up its own blocks and takes their distributions
        inflow = inflow + m.gov_owned
        outflow = outflow + m.gov_income
        mo["gov_owned_opex"][:, t] = m.gov_owned
    if c.has_soe_bond:  # SOE-bond draws are in the sources; their service is a use
        outflow = outflow + m.soe_bond_due.sum()
    if m.overrun is not None:  # overrun: extra SOE equity in, the same cost out
        inflow = inflow + m.overrun_t
        outflow = outflow + m.overrun_t
    reserves = (st.dsra + st.cash).sum(axis=0)
    if st.sink is not None:  # the sinking fund is a reserve: Δ fund like Δ DSRA
        mo["sinking_fund"][:, :, t] = st.sink.fund.T
        reserves = reserves + st.sink.fund.sum(axis=0)
        if t > 0:
            prev = prev + mo["sinking_fund"][:, :, t - 1].sum(axis=1)
    if st.bb_reserve is not None:  # the buyback reserve is the project's cash (its previous value is in prev)
        reserves = reserves + st.bb_reserve.sum(axis=0)
    for name, cash in m.cure.items():  # cash a cure brought in: capitalised by the bank, a refinancing bond's
        inflow = inflow + cash  # proceeds, a disposal's net proceeds
        mo[f"cure_{name}"][:, t] = cash
    if m.bond_redeem is not None:  # bonds redeemed from disposal proceeds (the rest is in sweep and distributions)
        outflow = outflow + m.bond_redeem.sum(axis=0)
    mo["conservation"][:, t] = inflow - outflow - (reserves - prev)


def _per_project(x):
    """A per-project series as ``(P, 1)`` (deterministic) or ``(P, n)`` (per path) for the record."""
    return x[:, None] if x.ndim == 1 else x


def _or_zero(x, st: State):
    return st.zeros_pn if x is None else x
