"""The compiled twins of the month's stages: each has the signature and the effects of the numpy stage it mirrors
(:mod:`baozhang_finance.engine.stages`, :mod:`baozhang_finance.engine.cures`), sets the same attributes of the
month ``m`` and the state ``st``, and does its arithmetic in one kernel (:mod:`baozhang_finance.engine.kernels`).
A case a twin does not cover (the full picture of the yearly ledgers, ``yearly="all"``) calls the numpy stage
itself; :func:`month_stages` swaps in the twins a plan can use."""

from __future__ import annotations

import numpy as np

from baozhang_finance.engine import stages
from baozhang_finance.engine.cures import (CURES, cures_after_soe, cures_before_soe, disposal, extension,
                                          refinancing, value)
from baozhang_finance.engine.drivers import Drivers, MarketState
from baozhang_finance.engine.kernels import load
from baozhang_finance.engine.plan import Plan
from baozhang_finance.engine.state import Constants, State, constants

f64 = np.float64
_F64 = np.dtype(f64)  # numpy's float64 dtype (one instance: a fast identity test in pn)
_NO_MASK = np.zeros((1, 1), dtype=bool)  # a placeholder 2-D mask where a kernel's branch is off
_NO_HAZARD = np.zeros((1, 1))  # … and a placeholder 2-D array
_NO_SHORT = np.zeros((1, 1, 1))  # … and 3-D
_NO_INT = np.zeros((1, 1), dtype=np.int64)  # … and 2-D int64


def pn(x, shape) -> np.ndarray:
    """``x`` as a C-ordered float64 array of ``shape`` (a view when it already is one, else a broadcast copy)."""
    if type(x) is np.ndarray and (x.dtype is _F64 or x.dtype == _F64) and x.shape == shape and x.flags.c_contiguous:
        return x
    return np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=f64), shape))


class Prepared:
    """Per-plan arrays the twins read every month, made once per plan (kept on it, as its
    :func:`~baozhang_finance.engine.state.constants`): the projects' and loans' constants as ``(P,)`` / ``(L,)``
    vectors, SOE support's class rows, the tranches' kinds and classes; and the :class:`MonthTables` of each month,
    made when a run first reaches it (:func:`month_tables`)."""

    def __init__(self, plan: Plan):
        c = constants(plan)
        vec = lambda x: np.ascontiguousarray(np.asarray(x, dtype=f64).reshape(-1))  # noqa: E731  (P, 1) → (P,)
        self.months: list = [None] * plan.T
        self.kinds = [tr.kind for tr in c.tranches]
        self.zeros_p = np.zeros(plan.P)
        self.dsra_months, self.lockup_dscr = float(plan.dsra_months), float(plan.lockup_dscr)
        self.cross, self.bank_first = bool(plan.cross_support), bool(plan.bank_first)
        self.liquidation_months = int(plan.liquidation_months)
        self.dist_return, self.pot_cap = bool(plan.support.distributions_return), float(plan.support.pot_cap)
        self.sweep_share, self.subsidy_share = vec(c.sweep_share), vec(c.subsidy_share)
        self.stab_occ, self.rent_unit, self.rent_sub_unit = vec(c.stab_occ), vec(c.rent_unit), vec(c.rent_sub_unit)
        self.rent_cost_share, self.cost_m2_m = vec(c.rent_cost_share), vec(c.cost_m2_m)
        self.bb_row = np.full(plan.P, -1, dtype=np.int64)
        self.bb_row[c.bb_rows] = np.arange(c.bb_rows.size)
        self.absorption_m, self.accept, self.bb_market = vec(c.absorption_m), vec(c.bb_accept), vec(c.bb_market)
        self.bb_mprice, self.area, self.resale_factor = vec(c.bb_market_price), vec(c.area), vec(c.resale_factor)
        self.sale_unit_value, self.tax_rate = vec(c.sale_unit_value), vec(c.sales_tax_rate)
        self.bb_hazard, self.bb_sens = vec(c.bb_hazard[c.bb_rows, 0]), vec(c.bb_sens[c.bb_rows, 0])
        if c.has_loans:
            self.rate_m, self.spread, self.rel_part = vec(plan.loan_rate_m), vec(plan.loan_spread_m), vec(c.rel_part)
            self.rel_share, self.is_equal = vec(c.rel_share), np.ascontiguousarray(c.is_equal[:, 0])
            self.loan_project = plan.loan_project.astype(np.int64)
        self._support(plan, c)

    def __getstate__(self) -> dict:
        """Pickled (with its plan, to a worker) without the month tables: a process makes its own as runs reach
        each month."""
        return {**self.__dict__, "months": [None] * len(self.months)}

    def _support(self, plan: Plan, c: Constants) -> None:
        """SOE support's class rows (operating costs, then the tranches), the order SOE money pays them in, whether
        the cures follow it; the tranches' government class (hidden call or bond burden)."""
        sp = plan.support
        rows = {"operating_costs": 0, **{kind: j + 1 for j, kind in enumerate(self.kinds)}}
        self.soe_names = list(rows)
        self.soe_order = np.array([rows[x] for x in sp.soe_order if x in rows], dtype=np.int64)
        self.in_paid = np.zeros(len(rows), dtype=bool)
        self.in_paid[self.soe_order] = True
        self.allocated = sp.cures is not None and sp.cures.timing == "after_soe_support"
        self.yearly_on, self.yearly_capacity = bool(sp.yearly_capacity), float(sp.yearly_capacity)
        self.hidden_class = np.array([tr.government_class == "hidden" for tr in c.tranches], dtype=bool)
        self.gov, self.has_gov = np.ascontiguousarray(plan.gov_owned, dtype=bool), c.gov_rows is not None
        self.bullet = np.array([{"bank_loan": 1, "special_bond": 2}.get(kind, 0) for kind in self.kinds],
                               dtype=np.int64)  # the sinking fund's bullets by tranche: bank, bond, none
        self.balloon = np.ascontiguousarray(c.balloon, dtype=bool) if c.has_loans else np.zeros(1, dtype=bool)


class MonthTables:
    """What the twins read of month ``t`` that depends on the plan only, by the very expressions the twins (and the
    numpy stages) evaluate each month, on the same shapes (so the same bits): plan columns ``a[:, t]`` contiguous,
    the month's masks, counts, ring slots, draws and their sources, scalars; ``uses = Σ_p uses_{p,t} + Σ_p
    reserve_{p,t}`` as the numpy yearly stage sums them. Made once per plan and month (:func:`month_tables`)."""

    def __init__(self, plan: Plan, c: Constants, t: int):
        col_t = lambda a: column(a, t)  # noqa: E731  (a plan column of month t, contiguous)
        self.uses = plan.uses_out[:, t].sum() + plan.reserve_in[:, t].sum()
        self.grants, self.op_grants = col_t(plan.operating_grants), plan.operating_grants[:, t][:, None]
        self.grants_sum = float(self.op_grants.sum())
        self.subsidy_on = (t < plan.subsidy_end).astype(f64)
        self.active = t >= c.avail_m
        self.active_f = np.asarray(self.active, dtype=f64)
        self.wip_sum = plan.work_in_progress[:, t].sum()
        self.bond_fwd, self.soe_fwd = col_t(plan.bond_forward_service), col_t(plan.soe_bond_forward_service)
        self.floor, self.bond_int, self.bond_prin = (col_t(plan.reserve_floor), col_t(plan.bond_interest),
                                                     col_t(plan.bond_principal))
        self.fdfac, self.disc = float(plan.support.fiscal_discount_m[t]), float(plan.discount_m[t])
        self.equity_in = (plan.equity_in[:, t].sum() if c.gov_rows is None  # a government block's is the budget's
                          else plan.equity_in[c.soe_rows, t].sum())
        self.llcr_df = np.ascontiguousarray(c.llcr_df[:, t])  # (P,) the projects' LLCR discount factors
        self.count12 = np.clip(t - c.avail_m + 1, 1, 12).astype(f64)  # the disposal's occupancy divisor
        self._rental(plan, c, t, col_t)
        self._sales(plan, c, t, col_t)
        if c.has_loans:
            self._loans(plan, c, t, col_t)

    def _rental(self, plan: Plan, c: Constants, t: int, col_t) -> None:
        """The rental twin's month: units acquired, leases in place and dropping out, counts, ramps (:func:`rental`)."""
        avail_m, is_rental = c.avail_m, c.is_rental
        self.acq, self.acq_delayed = col_t(plan.acquired_units), col_t(plan.acquired_delayed)
        self.act_r = self.active & is_rental
        self.dropping = (t - c.lease_months >= avail_m) & is_rental
        self.count = np.clip(t - avail_m + 1, 1, c.lease_div).astype(f64)
        self.ramp = (np.where(c.has_lease_up, np.clip((t - avail_m + 1) / c.lease_up, 0.0, 1.0), self.active)
                     * is_rental).astype(f64)
        self.drop_slot = ((t - c.lease_months) % c.lr).astype(np.int64)

    def _sales(self, plan: Plan, c: Constants, t: int, col_t) -> None:
        """The sales twin's month: new inventory, lock-up and resale slots, the buybacks' original price."""
        self.inv_on = bool(np.any(t == c.avail_m))
        self.inv = np.ascontiguousarray(c.new_inventory * (t == c.avail_m), dtype=f64)
        self.lock_slot = ((t - c.lock_eff) % c.lk).astype(np.int64)
        self.resale_slot = ((t - plan.resale_delay) % c.dk).astype(np.int64)
        self.orig = np.ascontiguousarray(plan.sale_price_m2 * np.exp(plan.bb_index_m * (t - c.avail_m)), dtype=f64)
        self.handover, self.presale = col_t(plan.presub_handover_units), col_t(c.presale_in)

    def _loans(self, plan: Plan, c: Constants, t: int, col_t) -> None:
        """The loans twin's month: draws and the sources they add, grace, capitalisation, relending's months, the
        annuity rows' remaining terms ``max(maturity − t, 1)`` ``(A, 1)`` (own maturities)."""
        self.draw = col_t(plan.loan_draw)
        self.draw_sources = plan.loan_onehot.T @ self.draw
        self.in_grace = t < plan.loan_amort_start
        self.capitalise = plan.loan_capitalise & (self.in_grace | (c.code == 3))
        self.rel_active = t < plan.loan_rel_end
        n_rem = np.maximum(np.asarray((plan.loan_maturity - t)[:, None][c.annuity_rows], dtype=float), 1.0)
        self.annuity_n = np.ascontiguousarray(n_rem)


def prepared(plan: Plan) -> Prepared:
    """The plan's :class:`Prepared` arrays, made on first use."""
    pp = plan.__dict__.get("_twins_prepared")
    if pp is None:
        pp = plan.__dict__["_twins_prepared"] = Prepared(plan)
    return pp


def month_tables(plan: Plan, t: int) -> MonthTables:
    """The plan's :class:`MonthTables` of month ``t``, made when a run first reaches it."""
    months = prepared(plan).months
    mo = months[t]
    if mo is None:
        mo = months[t] = MonthTables(plan, constants(plan), t)
    return mo


def column(a, t: int) -> np.ndarray:
    """Column ``t`` of a ``(P, T)`` plan array, contiguous."""
    return np.ascontiguousarray(a[:, t], dtype=f64)


def market_step(drv: Drivers, t: int) -> MarketState:
    """Twin of :meth:`baozhang_finance.engine.drivers.Drivers.step`: with shocks and no control variates, the seven
    recursions in one kernel; the correlation (a matrix product), the exponentials and the power by numpy."""
    eps, u = drv.shocks.month(t)
    if t == 0 or eps is None or drv.controls is not None:
        return drv.advance(t, eps, u)
    mp, n = drv.mp, drv.n
    shocks = np.ascontiguousarray(eps @ drv._scaled_chol_t)
    ito = drv._ito
    x_h, x_r, lpr, occ_dev = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    load()["market"](shocks, drv.log_h, drv.log_r, drv.lpr, drv.log_c, drv.occ, drv.abs, drv.log_g,
                     float(mp.price_drift_m[t - 1] - ito[0]), float(mp.rent_drift_m[t - 1] - ito[1]),
                     float(mp.lpr_kappa_m), float(mp.lpr_mean), float(mp.cpi_drift_m - ito[3]), float(-mp.occ_kappa_m),
                     float(-mp.abs_kappa_m), float(mp.fiscal_drift_m - ito[6]), float(mp.stress_log_price[t]),
                     float(mp.stress_log_rent[t]), float(mp.stress_rate[t]), float(mp.lpr_floor),
                     float(mp.stress_occ[t]), x_h, x_r, lpr, occ_dev)
    if u is not None:
        drv.relending_on &= u >= mp.relending_nonrenewal_prob
    else:
        drv.expected_renewal(t)
    if t >= mp.stress_relending_stop:
        drv.relending_on[:] = False
    return _market_state(drv, np.exp(x_h), np.exp(x_r), lpr, occ_dev)


def _market_state(drv: Drivers, hpi, rent, lpr, occ_dev) -> MarketState:
    """Twin of :meth:`baozhang_finance.engine.drivers.Drivers.state`: ``H^β`` and the exponentials by numpy, the
    fiscal revenue ``F₀ · ((1 − s) · G + s · H^β)`` and its land part ``(F₀ · s) · H^β`` in a kernel."""
    mp, n = drv.mp, drv.n
    h_beta = hpi**mp.fiscal_land_beta
    land, fiscal = np.empty(n), np.exp(drv.log_g)
    share = mp.fiscal_land_share
    load()["fiscal"](h_beta, fiscal, float(mp.fiscal0_m * share), float(mp.fiscal0_m), float(1.0 - share),
                     float(share), land)
    return MarketState(hpi=hpi, rent=rent, lpr=lpr, cpi=np.exp(drv.log_c), occ_dev=occ_dev,
                       absorption=np.exp(drv.abs), fiscal_m=fiscal, relending_on=drv.relending_on, fiscal_land_m=land,
                       relending_p=drv.relending_p)


def waterfall(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.stages.waterfall` (with a sinking fund: :func:`_sink_pay`, and its
    top-up in the waterfall's second kernel)."""
    k, pp, mo = load(), prepared(plan), month_tables(plan, t)
    P, n = c.P, st.n
    kinds = pp.kinds
    dues = np.empty((len(kinds), P, n))
    for j, kind in enumerate(kinds):
        dues[j] = m.due[kind]
    short, short_opex, surplus = np.empty_like(dues), np.empty((P, n)), np.empty((P, n))
    do_sweep = c.has_loans and c.any_sale
    sweep = np.empty((P, n)) if do_sweep else st.zeros_pn
    principal = m.principal if c.has_loans else st.loan_bal
    extra = m.reserve_net if m.reserve_net is not None else st.zeros_pn
    sf = st.sink
    release = _sink_pay(k, pp, st, c, plan, t, m, principal, dues) if sf is not None else st.zeros_pn
    k["waterfall_pay"](pn(m.cfads, (P, n)), pn(st.cash, (P, n)), pn(st.dsra, (P, n)), pn(extra, (P, n)),
                       m.reserve_net is not None, release, sf is not None, dues, short, short_opex, surplus, do_sweep,
                       pp.sweep_share, pn(m.sales, (P, n)), c.onehot_t, st.loan_bal, principal, sweep)
    m.sweep, m.short_opex = sweep, short_opex
    _set_short(m, kinds, short)
    balloon_on, ahead = _balloon_ahead(st, c, plan, t)
    has_sold = st.disposal is not None
    soe_fwd = mo.soe_fwd if c.has_soe_bond else pp.zeros_p
    soe_due = pn(m.soe_bond_due[:, 0], (P,)) if c.has_soe_bond else pp.zeros_p
    new_dsra, cash, dist = np.empty((P, n)), np.empty((P, n)), np.empty((P, n))
    m.locked = np.empty((P, n), dtype=bool)
    k["waterfall_keep"](surplus, pp.dsra_months, pn(m.bank_due, (P, n)), mo.bond_fwd, soe_fwd, c.has_soe_bond,
                        balloon_on, ahead, c.onehot_t, st.loan_bal, mo.floor, new_dsra, sf is not None,
                        sf.fund if sf is not None else st.zeros_pn, sf.target if sf is not None else st.zeros_pn,
                        pp.cross, short_opex,
                        short, pn(m.cfads, (P, n)), pn(m.bond_due, (P, n)), soe_due, st.cf12, st.ds12, st.cf_ring,
                        st.ds_ring, t % 12, pp.lockup_dscr, st.disposal.sold if has_sold else st.zeros_pn,
                        has_sold, cash, dist, m.locked)
    st.dsra, st.cash, m.dist = new_dsra, cash, dist


def _sink_pay(k: dict, pp: Prepared, st: State, c: Constants, plan: Plan, t: int, m, principal, dues) -> np.ndarray:
    """Twin of :func:`~baozhang_finance.engine.cures.sinking_fund.pay` in a kernel: the fund pays this month's
    bullet principal out of ``dues`` (in place), releases what it holds above the month's target; returns the
    release ``(P, n)``. The fund is updated in place (no one else holds it), ``sf.target`` is the month's target."""
    sf, P, n = st.sink, c.P, st.n
    release, target, paid_total = np.empty((P, n)), np.empty((P, n)), np.empty(n)
    mat = (st.ext.maturity if st.ext is not None else _loan_maturity(st, plan)) if c.has_balloon else _NO_INT
    k["sink_pay"](sf.fund, column(sf.bond_target, t), c.has_balloon, st.loan_bal, principal, mat, pp.balloon,
                  sf.window, t, c.onehot_t, pp.bullet, column(plan.bond_bullet_principal, t), dues, release, target,
                  paid_total, st.metrics["cure_sinking_fund"])
    sf.target, m.sink_paid = target, paid_total
    return release


def _balloon_ahead(st: State, c: Constants, plan: Plan, t: int):
    """The balloon loans whose principal falls due within the DSRA window, ``(L, n)``, as
    :func:`~baozhang_finance.engine.stages.dsra_refill` finds them (per path after an extension)."""
    if not c.has_balloon:
        return False, _NO_MASK
    if st.ext is None:
        mat = plan.loan_maturity
        a = c.balloon & (mat - 1 > t) & (mat - 1 - t <= c.dsra_window)
        return bool(a.any()), np.ascontiguousarray(np.broadcast_to(a[:, None], st.loan_bal.shape))
    mat = st.ext.maturity
    a = c.balloon[:, None] & (mat - 1 > t) & (mat - 1 - t <= c.dsra_window)
    return bool(a.any()), np.ascontiguousarray(a)


def soe_support(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.stages.soe_support`, with ``_hold_gov_rows`` / ``_restore_gov_rows``
    (government-owned blocks' rows held out of SOE money, in ``m.gov_held``) in the kernel."""
    k, pp = load(), prepared(plan)
    P, n, kinds, names, order = c.P, st.n, pp.kinds, pp.soe_names, pp.soe_order
    short = _short_stack(m, kinds, P, n)  # read only here
    shorts, paid, soe = np.empty((len(names), n)), np.empty((len(names), n)), np.empty(n)
    allocated = pp.allocated
    new_opex = np.empty((P, n)) if allocated else st.zeros_pn
    new_short = np.empty_like(short) if allocated else short  # written only when allocated
    mt, short_opex = st.metrics, pn(m.short_opex, (P, n))
    if pp.has_gov:
        rows = c.gov_rows
        m.gov_held = {"operating_costs": short_opex[rows], **{kind: short[j][rows] for j, kind in enumerate(kinds)}}
    k["soe_support"](short_opex, short, st.soe_left, pp.yearly_on and t > 0 and t % 12 == 0,
                     pp.yearly_capacity, pp.pot_cap, order, pp.in_paid, allocated, pp.gov, shorts, paid, soe, new_opex,
                     new_short, mt["soe_exhausted"], mt["first_shortfall"], t)
    m.soe = soe
    m.shorts = {x: shorts[j] for j, x in enumerate(names)}
    m.paid = {names[j]: paid[j] for j in order}
    m.allocated = allocated
    m.support_blocks = shorts, paid  # for the government's twin
    if allocated:
        m.short_opex = new_opex
        _set_short(m, kinds, new_short)


def _set_short(m, kinds, block) -> None:
    """``m.short`` = the tranches' rows of one ``(K, P, n)`` block, remembered with it (:func:`_short_stack`)."""
    m.short = {kind: block[j] for j, kind in enumerate(kinds)}
    m.short_block = block, tuple(m.short.values())


def _short_stack(m, kinds, P: int, n: int) -> np.ndarray:
    """``m.short``'s tranches (in ``kinds`` order) as one ``(K, P, n)`` array for a kernel that only reads it: the
    block they are the rows of while every one still is (:func:`_set_short`), else a copy."""
    blk = getattr(m, "short_block", None)
    if (blk is not None and len(blk[1]) == len(kinds) == len(m.short)
            and all(m.short.get(kind) is v for kind, v in zip(kinds, blk[1]))):
        return blk[0]
    short = np.empty((len(kinds), P, n))
    for j, kind in enumerate(kinds):
        short[j] = m.short[kind]
    return short


def government(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.stages.government`: per tranche ``gov_k = short_k − soe_k``
    (``short_k`` where SOE money may not pay it; ``Σ_p short_{p,k}`` when the cures follow SOE support), summed by
    government class in tranche order; hidden call = operating gap + the hidden-class sum; government-owned blocks'
    gaps (their tranches' added, their operating gap ``m.gov_owned`` apart)."""
    pp, P, n = prepared(plan), c.P, st.n
    kinds, has_gov = pp.kinds, pp.has_gov
    shorts, paid = m.support_blocks
    gov_k, gov_bank, gov_bond, hidden = np.empty((len(kinds), n)), np.empty(n), np.empty(n), np.empty(n)
    gov_owned = np.empty(n) if has_gov else hidden  # (never written without government blocks)
    allocated = m.allocated
    full = allocated or has_gov  # the kernel reads the projects' rows
    load()["government"](allocated, pn(m.short_opex, (P, n)) if full else st.zeros_pn,
                         _short_stack(m, kinds, P, n) if full else _NO_SHORT, shorts, paid, pp.in_paid,
                         pp.hidden_class, pp.gov, has_gov, gov_k, gov_bank, gov_bond, hidden, gov_owned)
    m.gov_by_kind = {kind: gov_k[j] for j, kind in enumerate(kinds)}
    m.gov_bank, m.gov_bond, m.hidden = gov_bank, gov_bond, hidden
    if has_gov:
        m.gov_owned = gov_owned


def default(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.stages.default` and :func:`~baozhang_finance.engine.instruments.
    bank_loan.repay` (the collateral's matrix product stays in numpy)."""
    hpi, mt = m.ms.hpi, st.metrics
    m.collateral = (c.collateral_unit @ st.held + month_tables(plan, t).wip_sum) * hpi
    if not c.has_loans:
        return
    k, P, n, pp = load(), c.P, st.n, prepared(plan)
    k["default_events"](m.gov_bank, m.bal_open, m.bank_int_p, m.collateral, pn(hpi, (n,)), mt["default_month"],
                        mt["ead"], mt["collateral_at_default"], mt["hpi_at_default"], mt["sale_month"],
                        mt["hpi_at_sale"], t, pp.liquidation_months)
    k["repay"](st.loan_bal, m.principal, c.any_sale, c.onehot_t, pp.loan_project, pn(m.sweep, (P, n)))


def metrics(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.stages.metrics` and :func:`~baozhang_finance.engine.stages.
    lens_metrics` (with government-owned blocks: the SOE blocks' equity, their distributions back to the budget)."""
    k, mt, P, n, pp, mo = load(), st.metrics, c.P, st.n, prepared(plan), month_tables(plan, t)
    fdfac = mo.fdfac
    equity_in_t = mo.equity_in
    m.equity_in_t = equity_in_t
    llcr_on = c.llcr_lo <= t < c.llcr_hi
    ahead = stages.bond_ahead(plan, m) if llcr_on else None
    has_ahead = ahead is not None
    has_ov, has_bb = m.overrun is not None, m.gov_bb_paid is not None
    zn = st.metrics["ead"]  # any (n,) float array where a branch is off (never written)
    dist_t, cf_prog, equity_t = np.empty(n), np.empty(n), np.empty(n)
    has_gov = pp.has_gov
    gov_income = np.empty(n) if has_gov else zn
    k["metrics_main"](m.hidden, m.gov_bond, m.soe, m.bal_open, pn(m.dist, (P, n)), pn(m.cfads, (P, n)), fdfac,
                      mo.disc, float(equity_in_t), m.overrun if has_ov else st.zeros_pn, has_ov,
                      m.gov_bb_paid if has_bb else zn, m.gov_resale if has_bb else zn, has_bb,
                      pp.dist_return, pp.pot_cap, st.soe_left, llcr_on,
                      has_ahead, pn(ahead, (P, n)) if has_ahead else st.zeros_pn, mo.llcr_df,
                      c.cov_lo <= t <= c.cov_hi, c.has_bond, pn(m.bank_due, (P, n)), t,
                      pp.gov, has_gov, pn(m.gov_owned, (n,)) if has_gov else zn, mt["first_call"],
                      mt["stock_at_call"], mt["pv_hidden"], mt["pv_bond"], mt["pv_soe"], mt["pv_soe_fiscal"],
                      mt["cum_equity"],
                      mt["pv_gov_buyback"], mt["pv_gov_resale"], mt["pv_gov_owned_opex"], mt["pv_gov_owned_income"],
                      mt["peak_funding"], mt["llcr_num"], mt["cov_num"], mt["cov_bank"], dist_t,
                      cf_prog, equity_t, gov_income)
    m.dist_t, m.cf_prog = dist_t, cf_prog
    if has_gov:
        m.gov_income = gov_income
    if has_ov:
        m.overrun_t = m.overrun.sum(axis=0)
        m.equity_in_t = equity_t
    _lens(k, pp, mo, st, c, plan, t, m, fdfac, equity_t)


def _lens(k, pp: Prepared, mo: MonthTables, st: State, c: Constants, plan: Plan, t: int, m, fdfac: float,
          equity_t) -> None:
    """The lens accumulators of :func:`~baozhang_finance.engine.stages.lens_metrics` in one kernel."""
    mt, P, n = st.metrics, c.P, st.n
    shorts = getattr(m, "shorts", None) or {}
    bank_short = shorts.get("bank_loan")
    credit_on = bank_short is not None and c.has_loans
    noi_on = t >= c.T - 12 and c.any_rental
    has_gov = m.gov_owned is not None
    grants = mo.grants_sum if m.op_grants is mo.op_grants else float(m.op_grants.sum())
    k["metrics_lens"](m.gov_bank, fdfac, pn(m.rent_sub, (P, n)), pn(m.int_sub, (P, n)), grants,
                      bank_short if credit_on else m.gov_bank, credit_on, pn(m.bank_int_p, (P, n)), m.bal_open,
                      m.collateral, pn(m.ms.hpi, (n,)), pp.liquidation_months, t, m.dist_t, equity_t, m.soe,
                      m.hidden, m.gov_bond, has_gov, pn(m.gov_owned, (n,)) if has_gov else m.hidden, noi_on,
                      pn(m.rent, (P, n)), pn(m.rent_costs, (P, n)), pn(m.running, (P, n)), c.is_rental,
                      mt["pv_gov_bank"], mt["pv_budgeted"],
                      mt["bank_short_first"], mt["soe_exhausted"],
                      *(mt[f"{x}_nosupport"] for x in ("ead", "collateral", "hpi_at_default", "sale_month",
                                                       "hpi_at_sale")),
                      *(mt[f"{x}_corporate"] for x in ("ead", "collateral", "hpi_at_default", "sale_month",
                                                       "hpi_at_sale")),
                      mt["equity_m"], mt["gov_m"], mt["noi12"])
    if t == c.cov_hi:
        mt["cov_residual"] = (c.collateral_unit * c.has_bond) @ st.held * m.ms.hpi


def extension_month(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.cures.extension.month`: the trailing NOI and the test for a short
    month in a kernel; an extension in two more (:func:`_extend`)."""
    ex = st.ext
    m.cure[extension.NAME] = np.zeros(st.n)
    if ex is None:
        return
    P, n = c.P, st.n
    short = m.short["bank_loan"] if c.has_loans else st.zeros_pn
    need = load()["extension_noi"](pn(m.rent, (P, n)), pn(m.rent_sub, (P, n)), pn(m.rent_costs, (P, n)),
                                   pn(m.running, (P, n)), ex.noi.ring, ex.noi.total, t % 12, pn(short, (P, n)),
                                   c.has_loans)
    if need:
        _extend(st, c, plan, m, short)


def _extend(st: State, c: Constants, plan: Plan, m, short) -> None:
    """Twin of :func:`baozhang_finance.engine.cures.extension.extend`: the blocks' value by numpy
    (:func:`~baozhang_finance.engine.cures.value.block_value`), which loans may be extended and the extension itself
    in two kernels."""
    cfg, ex, k, mt = plan.support.cures.extension, st.ext, load(), st.metrics
    L, P, n = c.L, c.P, st.n
    cap = value.cap_rate(plan.support.cures, m.ms.lpr, plan.market.lpr0)
    worth = value.block_value(c, st.held, ex.noi.total, cap, m.ms.hpi)
    due_l, u_l, ok = np.empty((L, n)), np.empty((L, n)), np.empty((L, n), dtype=bool)
    short = pn(short, (P, n))
    found = k["extension_ok"](short, m.loan_int, m.principal, st.loan_bal, c.onehot_t,
                              plan.loan_project.astype(np.int64), pn(worth, (P, n)),
                              float(cfg.max_loan_to_income_value), ex.maturity, 12 * cfg.years,
                              plan.loan_first.astype(np.int64), 12 * cfg.max_tenor_years, ex.times, cfg.max_times,
                              due_l, u_l, ok)
    if not found:
        return
    new_short, cure = np.empty((P, n)), np.empty(n)
    k["extension_apply"](short, st.loan_bal, m.principal, c.onehot_t, ok, due_l, u_l, float(cfg.fee_share),
                         ex.maturity, 12 * cfg.years, ex.rate_add, cfg.rate_step_bp / 1e4 / 12.0, ex.times, new_short,
                         cure, mt["cure_extension"], mt["cure_extension_count"], mt["cure_extension_fee"])
    m.short["bank_loan"] = new_short
    m.cure[extension.NAME] = cure


def disposal_month(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.cures.disposal.month`: the rings and the eligible blocks in a kernel;
    a sale in numpy (:func:`~baozhang_finance.engine.cures.disposal.settle`). One path of one project: numpy (its
    12-slot occupancy sum is pairwise there)."""
    P, n = c.P, st.n
    if P * n == 1:
        return disposal.month(st, c, plan, t, m)
    d, cfg = st.disposal, plan.support.cures.disposal
    short = _short_stack(m, list(m.short), P, n)  # read only here
    operating, mo = t - c.avail_m + 1, month_tables(plan, t)
    total, eligible = np.empty((P, n)), np.empty((P, n), dtype=bool)
    found = load()["disposal_rings"](
        pn(m.rent, (P, n)), pn(m.rent_sub, (P, n)), pn(m.rent_costs, (P, n)), pn(m.running, (P, n)), pn(m.occ, (P, n)),
        d.noi_ring, d.occ_ring, t % 12, pn(m.short_opex, (P, n)), short, mo.count12,
        c.is_rental, operating >= cfg.min_operating_months, float(cfg.min_occupancy - 1e-12), d.sold, total, eligible)
    if found and _disposal_sells(st, c, plan, t, m, total, eligible):
        disposal.settle(st, c, plan, t, m, total, eligible)


def _disposal_sells(st: State, c: Constants, plan: Plan, t: int, m, total, eligible) -> int:
    """How many blocks :func:`~baozhang_finance.engine.cures.disposal.settle` would sell, tested on the eligible cells
    in a kernel (a month with eligible blocks but no sale then costs no numpy pass)."""
    cfg, rs = plan.support.cures.disposal, st.refi
    live = (rs.month <= t) & (t < rs.month + rs.term_m) if rs is not None else np.zeros(1, dtype=bool)
    principal = m.principal if c.has_loans else st.loan_bal
    return load()["disposal_sells"](
        eligible, total, st.disposal.noi_ring, pn(m.ms.lpr, (st.n,)), float(cfg.cap_rate), float(cfg.cap_rate_lpr_beta),
        float(plan.market.lpr0), float(disposal.CAP_RATE_FLOOR), float(1.0 - cfg.transaction_cost_share), c.has_loans,
        c.onehot_t, st.loan_bal, principal, column(plan.bond_balance, t), rs is not None,
        rs.onehot if rs is not None else np.zeros((c.P, 1)), live, rs.amount if rs is not None else np.zeros((1, st.n)),
        float(cfg.min_shortfall_share))


#: cure name → its twin (a cure without one runs its numpy month)
CURE_TWINS = {extension.NAME: extension_month, disposal.NAME: disposal_month}


def cures(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.cures.cures`: the configured cures in their order, each by its twin."""
    cfg = plan.support.cures
    if cfg is None:
        return
    for name in cfg.order:
        if getattr(cfg, name, None) is not None and name in CURES:
            CURE_TWINS.get(name, CURES[name])(st, c, plan, t, m)


def cures_after(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.cures.cures_after_soe`."""
    cfg = plan.support.cures
    if cfg is not None and cfg.timing == "after_soe_support":
        cures(st, c, plan, t, m)


def cures_before(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.cures.cures_before_soe` (it also starts the month's cure ledger)."""
    m.cure = {}
    cfg = plan.support.cures
    if cfg is not None and cfg.timing == "before_soe_support":
        cures(st, c, plan, t, m)


def rental(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.stages.rental` (numpy without rental blocks: nothing to fuse)."""
    if not c.any_rental:
        return stages.rental(st, c, plan, t, m)
    P, n, ms, pp, mo = c.P, st.n, m.ms, prepared(plan), month_tables(plan, t)
    m.active = mo.active
    has_delay = st.delayed is not None
    acq = mo.acq
    acq_diff = mo.acq_delayed - acq if has_delay else acq
    has_sold = st.disposal is not None
    occ, rent, rent_sub, rent_costs, running = (np.empty((P, n)) for _ in range(5))
    load()["rental"](st.held, acq, acq_diff, has_delay, st.delayed if has_delay else st.zeros_pn, st.rent_sum,
                     st.rent_ring, pn(ms.rent, (n,)), mo.act_r, mo.dropping, mo.drop_slot, t % c.lr,
                     mo.count, pp.stab_occ, pn(ms.occ_dev, (n,)), mo.ramp, has_sold,
                     st.disposal.sold if has_sold else st.zeros_pn, pp.rent_unit, pp.rent_sub_unit,
                     pp.rent_cost_share, pp.cost_m2_m, pn(ms.cpi, (n,)), occ, rent, rent_sub, rent_costs, running)
    m.occ, m.rent, m.rent_sub, m.rent_costs, m.running = occ, rent, rent_sub, rent_costs, running


def cfads(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.stages.cfads`."""
    P, n, pp, mo = c.P, st.n, prepared(plan), month_tables(plan, t)
    m.op_grants = mo.op_grants
    int_sub = np.empty((P, n)) if c.has_loans else st.zeros_pn
    ops_in, ops_out, cf = np.empty((P, n)), np.empty((P, n)), np.empty((P, n))
    load()["cfads"](pn(m.rent, (P, n)), pn(m.rent_sub, (P, n)), pn(m.sales, (P, n)), mo.grants,
                    pn(m.bank_int_p, (P, n)), pp.subsidy_share, mo.subsidy_on, c.has_loans, pn(m.running, (P, n)),
                    pn(m.rent_costs, (P, n)), pn(m.sales_tax, (P, n)), pn(m.bb_paid, (P, n)), int_sub, ops_in, ops_out,
                    cf)
    m.int_sub, m.ops_in, m.ops_out, m.cfads = int_sub, ops_in, ops_out, cf


def loans(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.stages.loans` for the bank loans (:func:`~baozhang_finance.engine.
    instruments.bank_loan.month`); the annuity's level payment and the bonds' dues as the numpy stage does them."""
    if not c.has_loans:
        stages.loans(st, c, plan, t, m)
        return
    k, L, n, ms, pp, mo = load(), c.L, st.n, m.ms, prepared(plan), month_tables(plan, t)
    ext = st.ext
    in_grace = mo.in_grace
    mat = ext.maturity if ext is not None else _loan_maturity(st, plan)
    rate, cash_int, principal, bal_pre = (np.empty((L, n)) for _ in range(4))
    k["loans_rate"](st.loan_bal, mo.draw, plan.loan_fixed, pp.rate_m, pp.spread, pn(ms.lpr, (n,)),
                    mo.rel_active, ms.relending_on, ms.relending_p is not None,
                    ms.relending_p if ms.relending_p is not None else st.zeros_pn[0], pp.rel_part, pp.rel_share,
                    st.reprice is not None,
                    st.reprice if st.reprice is not None else rate, ext is not None,
                    ext.rate_add if ext is not None else rate, mo.capitalise, pp.is_equal, mat, t, rate, cash_int,
                    principal, bal_pre)
    ar = c.annuity_rows
    if ar.size:  # the level payment: its power by numpy on the numpy stage's shapes, the rest in kernels
        n_rem = (mo.annuity_n if ext is None
                 else np.ascontiguousarray(np.maximum(np.asarray((ext.maturity - t)[ar], dtype=float), 1.0)))
        base = np.empty((ar.size, n))
        k["annuity_base"](rate, ar, base)
        k["annuity_principal"](bal_pre, rate, cash_int, ar, n_rem, base ** (-n_rem), principal)
    P = c.P
    bal_open, int_p, prin_p, bank_due = np.empty(n), np.empty((P, n)), np.empty((P, n)), np.empty((P, n))
    k["loans_due"](st.loan_bal, principal, cash_int, in_grace, mat, t, c.onehot_t, bal_open, int_p, prin_p, bank_due)
    stages.llcr_open(st, c, t)  # the projects' LLCR denominators, as the numpy stage reads them
    m.sources = m.sources + mo.draw_sources
    m.rate, m.principal, m.bal_open, m.loan_int = rate, principal, bal_open, cash_int
    m.bank_int_p, m.bank_prin_p, m.bank_due = int_p, prin_p, bank_due
    bond_dues(st, c, plan, t, m)


def bond_dues(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.stages.bond_dues` where bond service is per path (refinancing bonds or
    disposals; else the numpy function: a deterministic ``(P,)`` schedule)."""
    if st.refi is None and st.disposal is None:
        return stages.bond_dues(st, c, plan, t, m)
    P, n = c.P, st.n
    ri = rp = st.zeros_pn
    if st.refi is not None:
        ri, rp = refinancing.due(st.refi, t, st.zeros_pn)
        m.refi_principal = rp
    m.bond_int, m.bond_prin, m.bond_due = np.empty((P, n)), np.empty((P, n)), np.empty((P, n))
    mo = month_tables(plan, t)
    load()["bond_dues"](mo.bond_int, mo.bond_prin, pn(ri, (P, n)),
                        pn(rp, (P, n)), st.refi is not None, st.disposal.sold if st.disposal is not None
                        else st.zeros_pn, st.disposal is not None, m.bond_int, m.bond_prin, m.bond_due)
    stages.dues_by_kind(c, plan, t, m)


def _loan_maturity(st: State, plan: Plan) -> np.ndarray:
    """The loans' own maturity as an ``(L, n)`` int64 array, made once per chunk (kept on the state)."""
    mat = st.__dict__.get("_loan_maturity")
    if mat is None:
        mat = np.ascontiguousarray(np.broadcast_to(plan.loan_maturity.astype(np.int64)[:, None], st.loan_bal.shape))
        st.__dict__["_loan_maturity"] = mat
    return mat


def sales(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.stages.sales` (numpy with construction delays, walk-aways or buybacks
    the government pays); the absorption rate's power and the buyback hazard's ``expm1`` / ``log1p`` in numpy."""
    if not c.any_sale or st.delayed is not None or c.any_walkaway or c.any_gov_buyback:
        return stages.sales(st, c, plan, t, m)
    m.gov_bb_paid = m.gov_resale = None
    P, n, pp, mo = c.P, st.n, prepared(plan), month_tables(plan, t)
    k, hpi = load(), pn(m.ms.hpi, (n,))
    h_pow = pn(hpi ** c.elasticity, (P, n)) if c.any_elastic else st.zeros_pn
    any_bb = c.any_buyback
    h_ann, e_m1 = _buyback_hazard(k, pp, c, hpi) if any_bb else (_NO_HAZARD, _NO_HAZARD)
    sold, sales_, tax = np.empty((P, n)), np.empty((P, n)), np.empty((P, n))
    bb_units, bb_paid = (np.empty((P, n)), np.empty((P, n))) if any_bb else (st.zeros_pn, st.zeros_pn)
    rings = (st.resale_units_ring, st.resale_value_ring) if any_bb else (st.lock_ring, st.lock_ring)
    k["sales"](st.unsold, mo.inv_on, mo.inv, pp.absorption_m, pn(m.ms.absorption, (n,)), c.any_elastic, h_pow,
               mo.active_f, mo.handover, mo.presale, st.eligible, st.lock_ring, mo.lock_slot,
               t % c.lk, any_bb, pp.bb_row, h_ann, e_m1, c.bb_partial, pp.accept, pp.bb_market, pp.bb_mprice,
               mo.orig, pp.area, hpi, *rings, t % c.dk, mo.resale_slot, pp.resale_factor, st.pending, st.held,
               pp.sale_unit_value, pp.tax_rate, sold, bb_units, bb_paid, sales_, tax)
    m.sold, m.bb_units, m.bb_paid, m.sales, m.sales_tax = sold, bb_units, bb_paid, sales_, tax
    if st.bb_reserve is not None:
        stages.buyback_reserve(st, c, plan, t, m)


def _buyback_hazard(k: dict, pp: Prepared, c: Constants, hpi):
    """The buyback rows' annual hazard ``h`` and ``expm1(log1p(−h) / 12)`` ``(R, n)``, as
    :func:`~baozhang_finance.engine.stages.buybacks` computes them: the arithmetic in kernels, log1p and expm1 by
    numpy on arrays of the shape numpy's stage gives them (``h_m = 1 − (1 − h)^{1/12}``, 1 at h ≥ 1)."""
    rows = c.bb_rows
    h_ann, x = np.empty((rows.size, hpi.shape[0])), np.empty((rows.size, hpi.shape[0]))
    k["hazard_in"](hpi, pp.bb_hazard, pp.bb_sens, h_ann, x)
    np.log1p(x, out=x)
    k["divide"](x, 12.0, x)
    return h_ann, np.expm1(x, out=x)


#: the bulk ledgers the yearly kernel adds to, in its order (``yb[s[k]]``, :func:`~baozhang_finance.engine.kernels.
#: month.yearly_bulk`); the others of :data:`~baozhang_finance.engine.ledgers.BULK_YEARLY` are year-end balances
YEARLY_SLOTS = ("debt_service", "refinancing", "cfads", "uses", "gov_owned_opex", "distributions", "equity_in",
                "soe_support", "gov_hidden", "gov_bond", "fiscal_revenue", "lockup_months", "fiscal_land", "noi")


def yearly(st: State, c: Constants, plan: Plan, t: int, m) -> None:
    """Twin of :func:`baozhang_finance.engine.stages.yearly` for a bulk run's ledgers (:data:`~baozhang_finance.
    engine.ledgers.BULK_YEARLY`): the month's flows in one kernel, the year-end balances by numpy
    (``stages._year_end_balances``); the full picture (``yearly="all"``: replays, tests) by the numpy stage. The
    scalar sums (special-bond and SOE-bond service of a ``(P,)`` schedule, uses + reserve) as numpy takes them."""
    yr = st.yearly
    if "ops_in" in yr or "bank_interest" in yr or st.yearly_block is None:
        return stages.yearly(st, c, plan, t, m)
    y, P, n, mo = t // 12, c.P, st.n, month_tables(plan, t)
    per_path = st.refi is not None or st.disposal is not None
    bond_s = 0.0 if per_path else float(m.bond_int.sum() + m.bond_prin.sum())
    refi = m.cure.get("refinancing", 0.0) if per_path else 0.0
    refi_on = isinstance(refi, np.ndarray)
    soe_s = float(m.soe_bond_int.sum()) + float(m.soe_bond_prin.sum()) if c.has_soe_bond else 0.0
    has_ov, has_gov, eq = m.overrun is not None, m.gov_owned is not None, m.equity_in_t
    eq_on = isinstance(eq, np.ndarray) and eq.ndim > 0
    land = m.ms.fiscal_land_m
    zn = m.ms.fiscal_m  # any (n,) float array where a branch is off (never read)
    noi_on = c.any_rental
    load()["yearly_bulk"](
        st.yearly_block, _yearly_slots(st), y, pn(m.bank_int_p, (P, n)), pn(m.bank_prin_p, (P, n)), per_path, bond_s,
        pn(m.bond_int, (P, n)) if per_path else st.zeros_pn, pn(m.bond_prin, (P, n)) if per_path else st.zeros_pn,
        refi_on, pn(refi, (n,)) if refi_on else zn, 0.0 if refi_on else float(refi), pn(m.cfads, (P, n)),
        pn(m.bank_due, (P, n)), st.proj_cfads, st.proj_bank, soe_s, bool(c.has_soe_bond), pn(m.cf_prog, (n,)), has_ov,
        pn(m.overrun_t, (n,)) if has_ov else zn, has_gov, pn(m.gov_owned, (n,)) if has_gov else zn,
        pn(m.dist_t, (n,)), eq_on, pn(eq, (n,)) if eq_on else zn, 0.0 if eq_on else float(eq), pn(m.soe, (n,)),
        pn(m.hidden, (n,)), pn(m.gov_bond, (n,)), pn(m.ms.fiscal_m, (n,)), float(mo.uses),
        _bool_pn(m.locked, (P, n)), land is not None, pn(land, (n,)) if land is not None else zn, noi_on,
        c.is_rental, *(pn(x, (P, n)) if noi_on else st.zeros_pn for x in (m.rent, m.rent_sub, m.rent_costs,
                                                                          m.running)))
    if t % 12 == 11 or t == plan.T - 1:
        stages._year_end_balances(st, c, plan, t, m, y, yr)


def _yearly_slots(st: State) -> np.ndarray:
    """The rows of :data:`YEARLY_SLOTS` in the state's ledger block, made once per chunk (kept on the state)."""
    s = st.__dict__.get("_yearly_slots")
    if s is None:
        rows = {k: j for j, k in enumerate(st.yearly)}
        s = st.__dict__["_yearly_slots"] = np.array([rows[k] for k in YEARLY_SLOTS], dtype=np.int64)
    return s


def _bool_pn(x, shape) -> np.ndarray:
    """``x`` as a C-ordered bool array of ``shape`` (itself when it already is one)."""
    if isinstance(x, np.ndarray) and x.shape == shape and x.dtype == np.bool_ and x.flags.c_contiguous:
        return x
    return np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=np.bool_), shape))


#: numpy stage → its compiled twin (the stages without one — funding, record — run in numpy)
TWINS = {stages.loans: loans, stages.rental: rental, stages.sales: sales, stages.cfads: cfads,
         stages.waterfall: waterfall, cures_before_soe: cures_before, stages.soe_support: soe_support,
         cures_after_soe: cures_after, stages.government: government, stages.default: default,
         stages.metrics: metrics, stages.yearly: yearly}


def supports(plan: Plan) -> tuple[bool, str]:
    """Whether the twins keep the numpy engine's bits on this plan, and why not: a sum over at most 7 projects or
    loans is a plain running sum in numpy whatever the array's shape (from 8 on, a one-path sum is pairwise)."""
    if plan.P > 7 or plan.L > 7:
        return False, f"{plan.P} projects and {plan.L} loans (the compiled stages take at most 7 of each)"
    return True, ""


def month_stages(stages_of_month: tuple) -> tuple:
    """The month's stages with each replaced by its compiled twin where it has one; compiles (or loads the cached)
    kernels first."""
    load()
    return tuple(TWINS.get(s, s) for s in stages_of_month)
