"""Compile a validated :class:`Scenario` into plain numpy arrays for the monthly engine.

This is the only place annual rates become monthly ones and schedules become per-month vectors. Nothing here
depends on a Monte Carlo path: everything path-dependent lives in :mod:`drivers` and :mod:`engine`.
Shapes: ``P`` projects, ``L`` bank loans (all projects), ``T`` months, ``Y`` years.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from baozhang_finance.engine import instruments as fin
from baozhang_finance.engine.instruments import bank_loan, special_bond
from baozhang_finance.engine.instruments.base import ranked
from baozhang_finance.model.scenario import (
    DRIVERS,
    Scenario,
    Stress,
    available_month,
    first_use_month,
    floor_area_m2,
    grant_amount_yuan,
    total_cost_yuan,
    total_uses_yuan,
)


@dataclass(frozen=True)
class MarketPlan:
    """Monthly parameters of the market drivers (see :mod:`drivers`)."""

    price_drift_m: np.ndarray  # (T,) expected log-growth of E[H] per month (μ_t / 12)
    price_vol_m: float
    rent_drift_m: float
    rent_vol_m: float
    lpr0: float
    lpr_mean: float
    lpr_kappa_m: float
    lpr_vol_m: float
    lpr_floor: float
    cpi_drift_m: float
    cpi_vol_m: float
    occ_kappa_m: float
    occ_vol_m: float
    abs_kappa_m: float
    abs_vol_m: float
    fiscal0_m: float  # monthly fiscal revenue at the start, yuan
    fiscal_drift_m: float
    fiscal_vol_m: float
    fiscal_land_share: float
    fiscal_land_beta: float
    chol: np.ndarray  # (7, 7) lower factor of the correlation
    relending_nonrenewal_prob: float
    relending_event_months: np.ndarray  # months at which relending is up for renewal
    # stress overlays (zeros when no stress is selected)
    stress_log_price: np.ndarray  # (T,) cumulative log shift of house prices
    stress_log_rent: np.ndarray  # (T,)
    stress_rate: np.ndarray  # (T,) additive LPR shift
    stress_occ: np.ndarray  # (T,) additive occupancy shift
    stress_relending_stop: int  # month after which relending is off (T = never)
    deterministic: bool = False


@dataclass(frozen=True)
class Plan:
    """Everything the engine needs, as arrays. Built by :func:`compile_plan`."""

    T: int
    Y: int
    P: int
    L: int
    names: list[str]
    is_rental: np.ndarray  # (P,) bool
    is_sale: np.ndarray
    units: np.ndarray  # (P,)
    area: np.ndarray  # (P,) m² per unit
    floor_area: np.ndarray  # (P,) m²
    appraisal_m2: np.ndarray  # (P,)
    total_investment: np.ndarray  # (P,) yuan
    total_cost: np.ndarray  # (P,)
    owned_month: np.ndarray  # (P,) first month the SOE holds the units (acquisition / construction end)
    available_month: np.ndarray  # (P,) first month of letting / hand-over
    acquired_units: np.ndarray  # (P, T) units coming into the SOE's hands each month
    work_in_progress: np.ndarray  # (P, T) cost spent on units not yet in hand (construction / partial purchase), yuan
    # funding, (P, T)
    uses_out: np.ndarray
    reserve_in: np.ndarray
    reserve_floor: np.ndarray  # (P, T) the upfront reserve is kept as the DSRA floor until the project is stabilised
    equity_in: np.ndarray
    capital_grants_in: np.ndarray
    operating_grants: np.ndarray
    # bonds, (P, T), deterministic
    bond_draw: np.ndarray
    bond_interest: np.ndarray
    bond_principal: np.ndarray
    bond_balance: np.ndarray
    bond_forward_service: np.ndarray  # bond service over the next dsra_months months
    # rental, (P,)
    rent0_m2: np.ndarray
    rent_ratio: np.ndarray
    lease_months: np.ndarray
    lease_up_months: np.ndarray
    stab_occ: np.ndarray
    collection: np.ndarray
    opex_m2_m: np.ndarray
    mgmt_share: np.ndarray
    rent_tax_share: np.ndarray  # VAT + property tax on collected rent
    capex_share: np.ndarray
    rent_subsidy_unit_m: np.ndarray
    # sale, (P,)
    sale_price_m2: np.ndarray
    presub_share: np.ndarray
    presale_cash: np.ndarray  # (P, T) deposits and hand-over balances of pre-subscribed units
    presub_handover_units: np.ndarray  # (P, T)
    absorption_m: np.ndarray
    absorption_elasticity: np.ndarray
    sweep_share: np.ndarray
    holding_m2_m: np.ndarray
    sales_tax: np.ndarray
    has_buyback: np.ndarray  # (P,) bool
    lockup_months: np.ndarray  # (P,) int
    bb_hazard_annual: np.ndarray
    bb_sensitivity: np.ndarray
    bb_market_rule: np.ndarray  # (P,) bool: market minus fees (else original indexed)
    bb_fee: np.ndarray
    bb_index_m: np.ndarray  # monthly log-indexation of the original price
    resale_delay: np.ndarray  # (P,) int
    resale_margin: np.ndarray
    # loans, (L,) and (L, T)
    loan_project: np.ndarray
    loan_onehot: np.ndarray  # (L, P)
    loan_draw: np.ndarray  # (L, T)
    loan_fixed: np.ndarray  # bool
    loan_rate_m: np.ndarray  # fixed monthly rate (fixed loans)
    loan_spread_m: np.ndarray  # monthly spread over LPR (floating loans)
    loan_first: np.ndarray
    loan_maturity: np.ndarray  # first month after the last payment
    loan_amort_start: np.ndarray
    loan_code: np.ndarray
    loan_capitalise: np.ndarray
    loan_rel_share: np.ndarray
    loan_rel_rate_m: np.ndarray
    loan_rel_end: np.ndarray
    loan_initial_rate_m: np.ndarray  # rate at the first draw, used to discount CFADS for LLCR
    subsidy_share: np.ndarray  # (P,) 贴息 share of bank interest
    subsidy_end: np.ndarray  # (P,) first month without the subsidy
    # waterfall
    bank_first: bool
    dsra_months: float
    lockup_dscr: float
    soe_capacity: float
    soe_revolving: bool
    dscr_window: tuple[int, int]  # 0-based years [start, end) of the operating period over which DSCR is tested
    bank_windows: np.ndarray  # (P, 2) per project with bank debt: years [start, end) of its bank DSCR test
    cross_support: bool
    tv_haircut: float
    liquidation_months: int  # credit.liquidation_months: the engine records the price index at default + this
    discount_m: np.ndarray  # (T,) end-of-month discount factors at the programme rate
    discount_y: np.ndarray  # (Y,) end-of-year discount factors
    fiscal_revenue0: float
    market: MarketPlan
    loan_names: list[str] = field(default_factory=list)
    tranches: tuple = ()  # ranked tranches (engine.instruments.base.Tranche), in paying order


def _spread(T: int, start: int, months: int, total: float) -> np.ndarray:
    out = np.zeros(T)
    end = min(T, start + months)
    if end > start:
        out[start:end] = total / months
    return out


def _stress_arrays(T: int, stress: Stress | None):
    logp = np.zeros(T)
    logr = np.zeros(T)
    rate = np.zeros(T)
    occ = np.zeros(T)
    stop = T
    if stress is not None:
        t = np.arange(T)
        done = np.clip((t - stress.price_start_month + 1) / stress.price_months, 0.0, 1.0)
        logp = done * np.log1p(stress.price_change)
        logr = done * np.log1p(stress.rent_change)
        rate = np.where(t >= stress.rate_start_month, stress.rate_shift_bp / 1e4, 0.0)
        occ = np.where(t >= stress.occupancy_start_month, stress.occupancy_shift, 0.0)
        if stress.relending_stops_month is not None:
            stop = stress.relending_stops_month
    return logp, logr, rate, occ, stop


def compile_market(sc: Scenario, T: int, event_months: np.ndarray, stress: Stress | None, deterministic: bool) -> MarketPlan:
    m = sc.market
    t = np.arange(T)
    drift_annual = np.where(t < m.decline_years * 12, m.decline_drift_annual, m.price_drift_annual)
    if m.correlation is None:
        chol = np.eye(len(DRIVERS))
    else:
        c = np.asarray(m.correlation, dtype=float)
        lam, vec = np.linalg.eigh(c)
        chol = vec * np.sqrt(np.clip(lam, 0.0, None))  # C = chol @ chol.T, exact for PSD (incl. singular) C
    logp, logr, rate, occ, stop = _stress_arrays(T, stress)
    vol = 0.0 if deterministic else 1.0
    root12 = np.sqrt(12.0)
    return MarketPlan(
        price_drift_m=drift_annual / 12.0,
        price_vol_m=vol * m.price_vol_annual / root12,
        rent_drift_m=m.rent_drift_annual / 12.0,
        rent_vol_m=vol * m.rent_vol_annual / root12,
        lpr0=m.lpr_initial,
        lpr_mean=m.lpr_mean,
        lpr_kappa_m=m.lpr_reversion / 12.0,
        lpr_vol_m=vol * m.lpr_vol_annual / root12,
        lpr_floor=m.lpr_floor,
        cpi_drift_m=m.cpi_drift_annual / 12.0,
        cpi_vol_m=vol * m.cpi_vol_annual / root12,
        occ_kappa_m=m.occupancy_reversion / 12.0,
        occ_vol_m=vol * m.occupancy_vol_annual / root12,
        abs_kappa_m=m.absorption_reversion / 12.0,
        abs_vol_m=vol * m.absorption_vol_annual / root12,
        fiscal0_m=sc.programme.fiscal_revenue_yuan / 12.0,
        fiscal_drift_m=m.fiscal_growth_annual / 12.0,
        fiscal_vol_m=vol * m.fiscal_vol_annual / root12,
        fiscal_land_share=m.fiscal_land_share,
        fiscal_land_beta=m.fiscal_land_beta,
        chol=chol,
        relending_nonrenewal_prob=0.0 if deterministic else m.relending_nonrenewal_prob,
        relending_event_months=event_months,
        stress_log_price=logp,
        stress_log_rent=logr,
        stress_rate=rate,
        stress_occ=occ,
        stress_relending_stop=stop,
        deterministic=deterministic,
    )


def compile_plan(sc: Scenario, stress: str | None = None, deterministic: bool = False) -> Plan:
    """Turn a Scenario into a :class:`Plan` (arrays only). ``stress`` selects a named overlay."""
    T = sc.programme.horizon_years * 12
    Y = sc.programme.horizon_years
    projects = sc.projects
    P = len(projects)
    wf = sc.waterfall
    z = lambda: np.zeros(P)  # noqa: E731
    zt = lambda: np.zeros((P, T))  # noqa: E731

    uses_out, reserve_in, src_frac, reserve_floor = zt(), zt(), zt(), zt()
    equity_in, cap_grants, op_grants = zt(), zt(), zt()
    bond_draw, bond_int, bond_prin, bond_bal = zt(), zt(), zt(), zt()
    presale_cash, presub_units = zt(), zt()
    arr = {k: z() for k in (
        "rent0_m2 rent_ratio lease_months lease_up stab_occ collection opex_m2_m mgmt rent_tax capex subsidy_unit "
        "sale_price presub absorption elasticity sweep holding sales_tax lockup bb_hazard bb_sens bb_fee bb_index "
        "resale_delay resale_margin subsidy_share subsidy_end").split()}
    has_bb = np.zeros(P, bool)
    bb_market = np.zeros(P, bool)
    owned = np.zeros(P, int)
    acquired = zt()
    avail = np.zeros(P, int)
    loans = []
    event_months: set[int] = set()

    for i, p in enumerate(projects):
        area = floor_area_m2(p)
        first = first_use_month(p)
        avail[i] = available_month(p)
        if p.construction is not None:
            c = p.construction
            uses_out[i] += _spread(T, c.start_month, 1, c.land_cost_yuan)
            uses_out[i] += _spread(T, c.start_month, c.months, area * c.construction_cost_yuan_per_m2)
            owned[i] = c.start_month + c.months
            acquired[i, min(owned[i], T - 1)] = p.units
        if p.acquisition_price_yuan_per_m2 > 0 or p.renovation_yuan_per_m2 > 0:
            purchase = area * (p.acquisition_price_yuan_per_m2 * (1 + p.purchase_tax_rate) + p.renovation_yuan_per_m2)
            uses_out[i] += _spread(T, p.acquisition_start_month, p.acquisition_months, purchase)
            if p.construction is None:
                owned[i] = p.acquisition_start_month + p.acquisition_months
                acquired[i] += _spread(T, p.acquisition_start_month, p.acquisition_months, float(p.units))
        reserve_in[i, first] = p.upfront_reserve_yuan
        reserve_floor[i, first:min(stabilisation_month(p), T)] = p.upfront_reserve_yuan
        total_uses = total_uses_yuan(p)
        src_frac[i] = (uses_out[i] + reserve_in[i]) / total_uses
        f = p.financing
        equity_in[i] = f.equity_yuan * src_frac[i]
        for g in f.grants:
            amount = grant_amount_yuan(g, p)
            if g.capital:
                cap_grants[i] += amount * src_frac[i]
            else:
                op_grants[i, g.month] += amount
        for b in f.bonds:
            d, it, pr, bal = fin.bond_schedule(b, first, src_frac[i], T)
            bond_draw[i] += d
            bond_int[i] += it
            bond_prin[i] += pr
            bond_bal[i] += bal
        for loan in f.loans:
            loans.append((i, first, loan, loan.amount_yuan * src_frac[i]))
            if loan.relending is not None:
                r = loan.relending
                event_months.update(fin.relending_rollover_months(first, r.term_years, r.rollovers))
        if f.interest_subsidy is not None:
            arr["subsidy_share"][i] = f.interest_subsidy.share_of_interest
            arr["subsidy_end"][i] = 12 * f.interest_subsidy.years
        if p.rental is not None:
            r = p.rental
            arr["rent0_m2"][i] = r.market_rent_yuan_per_m2_month
            arr["rent_ratio"][i] = r.rent_ratio
            arr["lease_months"][i] = 12 * r.lease_years
            arr["lease_up"][i] = r.lease_up_months
            arr["stab_occ"][i] = r.stabilised_occupancy
            arr["collection"][i] = r.collection_rate
            arr["opex_m2_m"][i] = r.opex_yuan_per_m2_year / 12.0
            arr["mgmt"][i] = r.management_fee_share
            arr["rent_tax"][i] = r.vat_rate_on_rent + r.property_tax_rate_on_rent
            arr["capex"][i] = r.capex_reserve_share_of_rent
            arr["subsidy_unit"][i] = r.rent_subsidy_yuan_per_unit_month
        if p.sale is not None:
            s = p.sale
            price = total_cost_yuan(p) / area * (1 + s.margin)
            arr["sale_price"][i] = price
            arr["presub"][i] = s.presubscription_share
            n_pre = p.units * s.presubscription_share
            value_pre = n_pre * p.area_m2 * price
            presale_cash[i, first] += value_pre * s.deposit_share
            handover = avail[i] + s.handover_delay_months
            if handover >= T:
                handover = T - 1
            presale_cash[i, handover] += value_pre * (1 - s.deposit_share)
            presub_units[i, handover] += n_pre
            arr["absorption"][i] = s.absorption_monthly
            arr["elasticity"][i] = s.absorption_price_elasticity
            arr["sweep"][i] = s.sweep_share
            arr["holding"][i] = s.holding_cost_yuan_per_m2_year / 12.0
            arr["sales_tax"][i] = s.sales_tax_rate
            if s.buyback is not None:
                bb = s.buyback
                has_bb[i] = True
                arr["lockup"][i] = 12 * bb.lockup_years
                arr["bb_hazard"][i] = bb.hazard_annual
                arr["bb_sens"][i] = bb.price_sensitivity
                bb_market[i] = bb.price_rule == "market_minus_fees"
                arr["bb_fee"][i] = bb.fee_share
                arr["bb_index"][i] = np.log1p(bb.index_rate_annual) / 12.0
                arr["resale_delay"][i] = bb.resale_delay_months
                arr["resale_margin"][i] = bb.resale_margin

    # forward bond service over the DSRA window
    k = int(round(wf.dsra_months))
    bond_service = bond_int + bond_prin
    csum = np.concatenate([np.zeros((P, 1)), np.cumsum(bond_service, axis=1)], axis=1)
    idx = np.arange(T)
    hi = np.minimum(idx + 1 + k, T)
    bond_fwd = csum[:, hi] - csum[:, idx + 1]

    L = len(loans)
    lp = np.array([x[0] for x in loans], dtype=int)
    onehot = np.zeros((L, P))
    if L:
        onehot[np.arange(L), lp] = 1.0
    mk = lambda: np.zeros(L)  # noqa: E731
    fixed = np.zeros(L, bool)
    rate_m, spread_m, first_a, mat, amort_start, code, capit = mk(), mk(), mk(), mk(), mk(), mk(), np.zeros(L, bool)
    rel_share, rel_rate, rel_end, init_rate = mk(), mk(), mk(), mk()
    draws = np.zeros((L, T))
    for j, (i, first, loan, d) in enumerate(loans):
        draws[j] = d
        fixed[j] = loan.rate_type == "fixed"
        rate_m[j] = (loan.fixed_rate or 0.0) / 12.0
        spread_m[j] = (loan.spread_over_lpr or 0.0) / 12.0
        first_a[j] = first
        mat[j] = first + 12 * loan.term_years
        amort_start[j] = first + loan.grace_months
        code[j] = fin.AMORTISATION_CODES[loan.amortisation]
        capit[j] = loan.capitalise_interest_in_grace or loan.amortisation == "bullet"
        base = rate_m[j] if fixed[j] else (sc.market.lpr_initial / 12.0 + spread_m[j])
        if loan.relending is not None:
            r = loan.relending
            rel_share[j] = r.share
            rel_rate[j] = r.rate / 12.0
            rel_end[j] = fin.relending_end_month(first, r.term_years, r.rollovers)
            init_rate[j] = r.share * rel_rate[j] + (1 - r.share) * base
        else:
            rel_end[j] = first
            init_rate[j] = base

    t_end = np.arange(1, T + 1)
    disc_m = (1.0 + sc.programme.discount_rate) ** (-t_end / 12.0)
    disc_y = (1.0 + sc.programme.discount_rate) ** (-np.arange(1, Y + 1, dtype=float))
    stress_obj = sc.stress(stress) if stress else None
    market = compile_market(sc, T, np.array(sorted(event_months), dtype=int), stress_obj, deterministic)

    return Plan(
        T=T, Y=Y, P=P, L=L,
        names=[p.name for p in projects],
        is_rental=np.array([p.type == "rental" for p in projects]),
        is_sale=np.array([p.type == "sale" for p in projects]),
        units=np.array([float(p.units) for p in projects]),
        area=np.array([p.area_m2 for p in projects]),
        floor_area=np.array([floor_area_m2(p) for p in projects]),
        appraisal_m2=np.array([p.appraisal_yuan_per_m2 for p in projects]),
        total_investment=np.array([total_uses_yuan(p) for p in projects]),
        total_cost=np.array([total_cost_yuan(p) for p in projects]),
        owned_month=owned, available_month=avail, acquired_units=acquired,
        work_in_progress=_work_in_progress(uses_out, owned, T,
                                           np.array([p.construction is not None for p in projects])),
        uses_out=uses_out, reserve_in=reserve_in, reserve_floor=reserve_floor, equity_in=equity_in,
        capital_grants_in=cap_grants, operating_grants=op_grants,
        bond_draw=bond_draw, bond_interest=bond_int, bond_principal=bond_prin, bond_balance=bond_bal,
        bond_forward_service=bond_fwd,
        rent0_m2=arr["rent0_m2"], rent_ratio=arr["rent_ratio"], lease_months=arr["lease_months"].astype(int),
        lease_up_months=arr["lease_up"], stab_occ=arr["stab_occ"], collection=arr["collection"],
        opex_m2_m=arr["opex_m2_m"], mgmt_share=arr["mgmt"], rent_tax_share=arr["rent_tax"],
        capex_share=arr["capex"], rent_subsidy_unit_m=arr["subsidy_unit"],
        sale_price_m2=arr["sale_price"], presub_share=arr["presub"], presale_cash=presale_cash,
        presub_handover_units=presub_units, absorption_m=arr["absorption"],
        absorption_elasticity=arr["elasticity"], sweep_share=arr["sweep"], holding_m2_m=arr["holding"],
        sales_tax=arr["sales_tax"], has_buyback=has_bb, lockup_months=arr["lockup"].astype(int),
        bb_hazard_annual=arr["bb_hazard"], bb_sensitivity=arr["bb_sens"], bb_market_rule=bb_market,
        bb_fee=arr["bb_fee"], bb_index_m=arr["bb_index"], resale_delay=arr["resale_delay"].astype(int),
        resale_margin=arr["resale_margin"],
        loan_project=lp, loan_onehot=onehot, loan_draw=draws, loan_fixed=fixed, loan_rate_m=rate_m,
        loan_spread_m=spread_m, loan_first=first_a.astype(int), loan_maturity=mat.astype(int),
        loan_amort_start=amort_start.astype(int), loan_code=code.astype(int), loan_capitalise=capit,
        loan_rel_share=rel_share, loan_rel_rate_m=rel_rate, loan_rel_end=rel_end.astype(int),
        loan_initial_rate_m=init_rate,
        subsidy_share=arr["subsidy_share"], subsidy_end=arr["subsidy_end"].astype(int),
        bank_first=wf.seniority == "bank_first", dsra_months=wf.dsra_months, lockup_dscr=wf.lockup_dscr,
        soe_capacity=wf.soe_support_capacity_yuan, soe_revolving=wf.soe_support_revolving,
        dscr_window=_dscr_window(sc, bond_service, [x[0] for x in loans], mat.astype(int), amort_start.astype(int), Y),
        bank_windows=_bank_windows(sc, [x[0] for x in loans], mat.astype(int), amort_start.astype(int), Y),
        cross_support=wf.cross_project_support,
        tv_haircut=wf.terminal_value_haircut, liquidation_months=sc.credit.liquidation_months, discount_m=disc_m, discount_y=disc_y,
        fiscal_revenue0=sc.programme.fiscal_revenue_yuan, market=market,
        loan_names=[x[2].name for x in loans],
        tranches=ranked((bank_loan.TRANCHE, special_bond.TRANCHE), wf.seniority),
    )


def stabilisation_month(p) -> int:
    """First month of steady operations: rental = available + lease-up; sale = available + hand-over delay."""
    m = available_month(p)
    if p.rental is not None:
        m += p.rental.lease_up_months
    if p.sale is not None:
        m += p.sale.handover_delay_months
    return m


def _dscr_window(sc: Scenario, bond_service: np.ndarray, loan_projects, loan_maturity, loan_amort_start, Y: int):
    """Operating period over which DSCR (bank + bonds) is tested, as 0-based years [start, end).

    Starts at the first whole year after every indebted project is stabilised and past its loans' grace periods;
    ends with the last year that has debt service. Falls back to the whole debt life if that leaves no year.
    """
    indebted = set(loan_projects) | {i for i in range(len(sc.projects)) if bond_service[i].sum() > 0}
    if not indebted:
        return 0, 0
    start_m = max(stabilisation_month(sc.projects[i]) for i in indebted)
    if len(loan_amort_start):
        start_m = max(start_m, int(np.max(loan_amort_start)))
    last = 0
    if len(loan_maturity):
        last = int(np.max(loan_maturity))
    months = np.nonzero(bond_service.sum(axis=0))[0]
    if months.size:
        last = max(last, int(months.max()) + 1)
    end = min(int(np.ceil(last / 12)), Y)
    start = int(np.ceil(start_m / 12))
    if start >= end:
        first = min(first_use_month(sc.projects[i]) for i in indebted)
        start = min(first // 12, max(end - 1, 0))
    return start, end


def _work_in_progress(uses_out: np.ndarray, owned: np.ndarray, T: int, new_build: np.ndarray) -> np.ndarray:
    """Cost spent on a new-build before its units are in hand (land + construction draws), by month: the bank's
    collateral before completion, valued at cost × house-price index. Zero for purchases (units arrive pro rata)."""
    wip = np.cumsum(uses_out, axis=1)
    t = np.arange(T)[None, :]
    return np.where((t < owned[:, None]) & new_build[:, None], wip, 0.0)


def _bank_windows(sc: Scenario, loan_projects, loan_maturity, loan_amort_start, Y: int) -> np.ndarray:
    """Per project with bank loans, the years [start, end) over which the bank tests its DSCR: from the first whole
    year after stabilisation and the loans' grace periods to the year of the last maturity (the whole loan life
    when that leaves no year). Projects without loans get (0, 0)."""
    out = np.zeros((len(sc.projects), 2), dtype=int)
    for i, p in enumerate(sc.projects):
        js = [j for j, q in enumerate(loan_projects) if q == i]
        if not js:
            continue
        start_m = max(stabilisation_month(p), max(int(loan_amort_start[j]) for j in js))
        end = min(int(np.ceil(max(int(loan_maturity[j]) for j in js) / 12)), Y)
        start = int(np.ceil(start_m / 12))
        if start >= end:
            start = min(first_use_month(p) // 12, max(end - 1, 0))
        out[i] = (start, end)
    return out
