"""Compile a validated :class:`Scenario` into plain numpy arrays for the monthly engine.

This is the only place annual rates become monthly ones and schedules become per-month vectors. Nothing here
depends on a Monte Carlo path: everything path-dependent lives in :mod:`drivers` and :mod:`engine`.
Shapes: ``P`` projects, ``L`` bank loans (all projects), ``T`` months, ``Y`` years.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

from baozhang_finance.engine import formulas as fml
from baozhang_finance.engine import seed_terms
from baozhang_finance.engine.instruments import bank_loan, soe_bond, special_bond
from baozhang_finance.engine.instruments.soe_bond import SoeBondPlan
from baozhang_finance.engine.seed_terms import SeedTermsPlan
from baozhang_finance.engine.instruments.base import SENIORITY_PRESETS, ranked
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
from baozhang_finance.model.support import INCOME_CAP_RATE, LOCAL_BOND_YIELD


@dataclass(frozen=True)
class MarketPlan:
    """Monthly parameters of the market drivers (see :mod:`drivers`)."""

    price_drift_m: np.ndarray  # (T,) expected log-growth of E[H] per month (μ_t / 12)
    price_vol_m: float
    rent_drift_m: np.ndarray  # (T,) expected log-growth of market rent per month (rent-decline regime, then drift)
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
    sampling: str = "mc"  # how the shocks are drawn (engine/shocks.py): mc | antithetic | rqmc
    rqmc_points: int = 1024  # rqmc: Sobol points per replicate
    control_variates: bool = False  # keep the drivers' deviations from their expected paths (engine/controls.py)
    engine: str = "auto"  # the month's stages: auto | numpy | compiled ([simulation] engine, engine/loop.py)
    engine_chosen: bool = False  # engine is the run's choice (engine.loop.with_engine): the environment keeps it


@dataclass(frozen=True)
class TimingPlan:
    """Sizes and the calendar: ``T`` months, ``Y`` years, ``P`` projects, ``L`` loans; discount factors."""

    T: int
    Y: int
    P: int
    L: int
    names: list[str]
    discount_m: np.ndarray  # (T,) end-of-month discount factors at the programme rate
    discount_y: np.ndarray  # (Y,) end-of-year discount factors
    fiscal_revenue0: float


@dataclass(frozen=True)
class ProjectsPlan:
    """Projects, their units and their funding schedules, ``(P,)`` and ``(P, T)``."""

    is_rental: np.ndarray  # (P,) bool
    is_sale: np.ndarray
    gov_owned: np.ndarray  # (P,) bool: the block is the government's own (owner = "government"), on budget
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
    uses_out: np.ndarray  # (P, T)
    reserve_in: np.ndarray
    reserve_floor: np.ndarray  # (P, T) the upfront reserve is kept as the DSRA floor until the project is stabilised
    equity_in: np.ndarray
    capital_grants_in: np.ndarray
    operating_grants: np.ndarray


@dataclass(frozen=True)
class RentalPlan:
    """Rental operations, ``(P,)`` (zeros for sale projects)."""

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


@dataclass(frozen=True)
class SalePlan:
    """Sale operations and buybacks, ``(P,)`` and ``(P, T)`` (zeros for rental projects)."""

    sale_price_m2: np.ndarray
    presub_share: np.ndarray
    presale_cash: np.ndarray  # (P, T) deposits and hand-over balances of pre-subscribed units (their sum)
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
    # default conventions only (zeros / False under legacy): the deposit and hand-over parts of presale_cash apart,
    # so a walk-away acts on the balance; deposits moved to the available month when held in escrow
    presale_deposit: np.ndarray = None  # (P, T) deposits received by the SOE (escrow: at the available month)
    presale_balance: np.ndarray = None  # (P, T) hand-over balances (price − deposit) of the pre-subscribed units
    escrow_balance: np.ndarray = None  # (P, T) deposits held in escrow (预售资金监管) at the end of month t
    has_walkaway: np.ndarray = None  # (P,) bool
    walkaway_base: np.ndarray = None  # (P,)
    walkaway_sensitivity: np.ndarray = None  # (P,)
    deposit_share: np.ndarray = None  # (P,)
    buyback_reserve_share: np.ndarray = None  # (P,) share of sale proceeds set aside for buybacks


@dataclass(frozen=True)
class LoanPlan:
    """Bank loans, ``(L,)`` and ``(L, T)``, and the interest subsidy (贴息) per project."""

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
    loan_reprice_p: np.ndarray  # (L,) probability the bank reprices to the loan's own terms when relending ends
    subsidy_share: np.ndarray  # (P,) 贴息 share of bank interest
    subsidy_end: np.ndarray  # (P,) first month without the subsidy
    loan_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BondPlan:
    """Special bonds, ``(P, T)``, deterministic."""

    bond_draw: np.ndarray
    bond_interest: np.ndarray
    bond_principal: np.ndarray
    bond_balance: np.ndarray
    bond_forward_service: np.ndarray  # bond service over the next dsra_months months
    bond_bullet_principal: np.ndarray = None  # (P, T) principal of bullet bonds, in the month it is paid


@dataclass(frozen=True)
class WaterfallPlan:
    """The waterfall, the ranked tranches, support and the test windows."""

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
    tranches: tuple = ()  # ranked tranches (engine.instruments.base.Tranche), in paying order


@dataclass(frozen=True)
class SupportPlan:
    """Conventions, the SOE's support pot and what it may pay, the cures (model/support.py).

    ``soe_order``: the classes SOE money pays, in order — ``"operating_costs"`` and tranche kinds; a class not
    listed gets no SOE money. ``fiscal_discount_m``: discount factors of the budget's payments.
    """

    legacy: bool
    soe_order: tuple  # e.g. ("operating_costs", "bank_loan")
    yearly_capacity: float  # yuan added to the pot at each year start (t = 12, 24, …)
    distributions_return: bool  # distributions flow back into the pot
    pot_cap: float  # the pot never grows above this (inf = no cap)
    fiscal_discount_m: np.ndarray  # (T,)
    cures: object = None  # the scenario's [cures] table (None under legacy or when nothing is configured)
    income_cap_rate: float = 0.042  # cap rate of the income value NOI ÷ cap (lenses; [cures.disposal] or the default)
    fiscal_rate: float = 0.02  # the annual rate behind fiscal_discount_m


SUBPLANS = {"timing": TimingPlan, "projects": ProjectsPlan, "rental": RentalPlan, "sale": SalePlan,
            "loans": LoanPlan, "bonds": BondPlan, "waterfall": WaterfallPlan, "support": SupportPlan,
            "soe_bonds": SoeBondPlan, "seeds": SeedTermsPlan}


@dataclass(frozen=True)
class Plan:
    """Everything the engine needs, as arrays, in sub-plans. Built by :func:`compile_plan`.

    Every field of a sub-plan is also an attribute of the plan (``plan.loan_draw`` is ``plan.loans.loan_draw``).
    """

    timing: TimingPlan
    projects: ProjectsPlan
    rental: RentalPlan
    sale: SalePlan
    loans: LoanPlan
    bonds: BondPlan
    waterfall: WaterfallPlan
    market: MarketPlan
    support: SupportPlan
    soe_bonds: SoeBondPlan  # SOE corporate bonds (engine/instruments/soe_bond.py)
    seeds: SeedTermsPlan  # seed terms: acquisition condition, buyback terms, construction risk (engine/seed_terms.py)


def _forward(sub: str, name: str) -> property:
    return property(lambda self: getattr(getattr(self, sub), name), doc=f"``{sub}.{name}``")


for _sub, _cls in SUBPLANS.items():
    for _f in fields(_cls):
        setattr(Plan, _f.name, _forward(_sub, _f.name))


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
    rent_drift_annual = np.where(t < m.rent_decline_years * 12, m.rent_decline_drift_annual, m.rent_drift_annual)
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
        rent_drift_m=rent_drift_annual / 12.0,
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
        relending_nonrenewal_prob=m.relending_nonrenewal_prob,  # an expected path weighs by it (decision 73)
        relending_event_months=event_months,
        stress_log_price=logp,
        stress_log_rent=logr,
        stress_rate=rate,
        stress_occ=occ,
        stress_relending_stop=stop,
        deterministic=deterministic,
        sampling=getattr(getattr(sc, "simulation", None), "sampling", "mc"),  # (calibration passes a bare market)
        rqmc_points=getattr(getattr(sc, "simulation", None), "rqmc_points", 1024),
        control_variates=getattr(getattr(sc, "simulation", None), "control_variates", False),
        engine=getattr(getattr(sc, "simulation", None), "engine", "auto"),
    )


def compile_plan(sc: Scenario, stress: str | None = None, deterministic: bool = False) -> Plan:
    """Turn a Scenario into a :class:`Plan` (arrays only). ``stress`` selects a named overlay.

    In parts: projects and their funding schedules, grants, bonds, loans, rental and sale operations, the
    waterfall, the market and the calendar.
    """
    T = sc.programme.horizon_years * 12
    Y = sc.programme.horizon_years
    projects = compile_projects(sc, T)
    dropped = seed_terms.not_bought(sc)  # Suihua's acquisition condition (default conventions)
    seed_terms.drop_not_bought(projects, dropped)
    src_frac = projects.pop("src_frac")
    grants = compile_grants(sc, T, src_frac)
    bonds = compile_bonds(sc, T, src_frac)
    loans, event_months, loan_list = compile_loans(sc, T, src_frac)
    new_build = np.array([p.construction is not None for p in sc.projects])
    grants["operating_grants"][dropped] = 0.0
    pp = ProjectsPlan(**projects, **grants,
                      work_in_progress=_work_in_progress(projects["uses_out"], projects["owned_month"], T, new_build))
    sale = compile_sale(sc, T, projects["available_month"], legacy=sc.support.conventions == "legacy")
    seeds = compile_seed_terms(sc, T, projects, dropped, new_build)
    if dropped.any():
        keep = ~dropped[:, None]
        sale = replace(sale, **{k: getattr(sale, k) * keep for k in (
            "presale_cash", "presub_handover_units", "presale_deposit", "presale_balance", "escrow_balance")})
    stress_obj = sc.stress(stress) if stress else None
    market = compile_market(sc, T, np.array(sorted(event_months), dtype=int), stress_obj, deterministic)
    lp = [x[0] for x in loan_list]
    return Plan(
        timing=compile_timing(sc, T, Y, len(loan_list)),
        projects=pp, rental=compile_rental(sc), sale=sale,
        loans=loans, bonds=bonds,
        waterfall=compile_waterfall(sc, bonds, lp, loans.loan_maturity, loans.loan_amort_start, Y),
        market=market, support=compile_support(sc, T),
        soe_bonds=soe_bond.compile_soe_bonds(sc.projects, [first_use_month(p) for p in sc.projects], src_frac, T,
                                             sc.waterfall.dsra_months),
        seeds=seeds,
    )


def compile_seed_terms(sc: Scenario, T: int, projects: dict, dropped: np.ndarray, new_build: np.ndarray) -> SeedTermsPlan:
    """The seed terms (:mod:`~baozhang_finance.engine.seed_terms`): projects not bought, buyback acceptance and
    payer, construction delay and overrun (the delayed schedules: availability, units in hand, pre-sale cash and
    hand-overs, work in progress)."""
    legacy = sc.support.conventions == "legacy"
    acc, gov = seed_terms.buyback_terms(sc, legacy)
    avail_d = projects["available_month"] + np.array(
        [0 if (p.construction is None or legacy or p.construction.delay_probability == 0) else p.construction.delay_months
         for p in sc.projects], dtype=int)
    sale_d = compile_sale(sc, T, avail_d, legacy=legacy)
    risk = seed_terms.construction_risk_arrays(
        sc, T, legacy, projects, sale_d, lambda owned: _work_in_progress(projects["uses_out"], owned, T, new_build))
    keep = ~dropped[:, None]
    for k in ("presale_cash_delayed", "presub_handover_delayed", "acquired_delayed", "overrun_out",
              "presale_deposit_delayed", "presale_balance_delayed", "escrow_balance_delayed"):
        risk[k] = risk[k] * keep
    risk["delay_p"] = np.where(dropped, 0.0, risk["delay_p"])
    risk["overrun_p"] = np.where(dropped, 0.0, risk["overrun_p"])
    risk["construction_risk"] = bool(risk["delay_p"].any() or risk["overrun_p"].any())
    return SeedTermsPlan(not_bought=dropped, bb_acceptance=acc, bb_government=gov, **risk)


#: SOE-payable class of the scenario (support.soe_pays) → the engine's class name
_SOE_CLASS = {"operating_costs": "operating_costs", "bank_debt": "bank_loan", "special_bonds": "special_bond",
              "soe_bonds": "soe_bond"}


def compile_support(sc: Scenario, T: int) -> SupportPlan:
    """Conventions and support policy. Legacy: SOE money pays everything in the waterfall's order, the pot refills
    only when ``waterfall.soe_support_revolving`` (up to the stated capacity), fiscal costs discounted at the
    programme rate, no cures. Default: SOE money pays ``support.soe_pays`` in that order, distributions return to
    the pot (``support.distributions_return``, capped at ``support.pot_cap_yuan``), the pot grows by
    ``support.yearly_capacity_yuan`` each year, fiscal costs discounted at ``programme.fiscal_discount_rate``
    (absent: the local-bond yield :data:`~baozhang_finance.model.support.LOCAL_BOND_YIELD`)."""
    w, sp, prog = sc.waterfall, sc.support, sc.programme
    income_cap = sc.cures.disposal.cap_rate if sc.cures.disposal is not None else INCOME_CAP_RATE
    if sp.conventions == "legacy":
        ranks = [k for k, _ in sorted(SENIORITY_PRESETS[w.seniority].items(), key=lambda kv: kv[1])]
        rate = prog.discount_rate if prog.fiscal_discount_rate is None else prog.fiscal_discount_rate
        return SupportPlan(legacy=True, soe_order=("operating_costs", *ranks), yearly_capacity=0.0,
                           distributions_return=w.soe_support_revolving, pot_cap=w.soe_support_capacity_yuan,
                           fiscal_discount_m=fml.monthly_discount_factors(rate, T), income_cap_rate=income_cap,
                           fiscal_rate=rate)
    rate = LOCAL_BOND_YIELD if prog.fiscal_discount_rate is None else prog.fiscal_discount_rate
    returns = sp.distributions_return or w.soe_support_revolving
    cap = float("inf") if sp.pot_cap_yuan is None else sp.pot_cap_yuan
    return SupportPlan(legacy=False, soe_order=tuple(_SOE_CLASS[k] for k in sp.soe_pays),
                       yearly_capacity=sp.yearly_capacity_yuan, distributions_return=returns, pot_cap=cap,
                       fiscal_discount_m=fml.monthly_discount_factors(rate, T),
                       cures=sc.cures if sc.cures.any() else None, income_cap_rate=income_cap, fiscal_rate=rate)


def compile_timing(sc: Scenario, T: int, Y: int, L: int) -> TimingPlan:
    """Sizes and discount factors: ``v_t = (1 + R)^{−(t+1)/12}`` by month, ``v_k = (1 + R)^{−(k+1)}`` by year."""
    r = sc.programme.discount_rate
    return TimingPlan(T=T, Y=Y, P=len(sc.projects), L=L, names=[p.name for p in sc.projects],
                      discount_m=fml.monthly_discount_factors(r, T), discount_y=fml.yearly_discount_factors(r, Y),
                      fiscal_revenue0=sc.programme.fiscal_revenue_yuan)


def compile_projects(sc: Scenario, T: int) -> dict:
    """Units and uses per project: acquisition / construction spend, upfront reserve and its floor, the months the
    units arrive and become available, and each month's share of the project's total uses (``src_frac``), by which
    every source of funds is drawn."""
    projects = sc.projects
    P = len(projects)
    uses_out, reserve_in, src_frac, reserve_floor, acquired = (np.zeros((P, T)) for _ in range(5))
    owned = np.zeros(P, int)
    avail = np.zeros(P, int)
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
        src_frac[i] = (uses_out[i] + reserve_in[i]) / total_uses_yuan(p)
    return dict(
        is_rental=np.array([p.type == "rental" for p in projects]),
        is_sale=np.array([p.type == "sale" for p in projects]),
        gov_owned=np.array([p.owner == "government" for p in projects], dtype=bool),
        units=np.array([float(p.units) for p in projects]),
        area=np.array([p.area_m2 for p in projects]),
        floor_area=np.array([floor_area_m2(p) for p in projects]),
        appraisal_m2=np.array([p.appraisal_yuan_per_m2 for p in projects]),
        total_investment=np.array([total_uses_yuan(p) for p in projects]),
        total_cost=np.array([total_cost_yuan(p) for p in projects]),
        owned_month=owned, available_month=avail, acquired_units=acquired,
        uses_out=uses_out, reserve_in=reserve_in, reserve_floor=reserve_floor, src_frac=src_frac,
    )


def compile_grants(sc: Scenario, T: int, src_frac: np.ndarray) -> dict:
    """Equity and capital grants drawn pro rata with the uses; operating grants in their month."""
    P = len(sc.projects)
    equity_in, cap_grants, op_grants = np.zeros((P, T)), np.zeros((P, T)), np.zeros((P, T))
    for i, p in enumerate(sc.projects):
        f = p.financing
        equity_in[i] = f.equity_yuan * src_frac[i]
        for g in f.grants:
            amount = grant_amount_yuan(g, p)
            if g.capital:
                cap_grants[i] += amount * src_frac[i]
            else:
                op_grants[i, g.month] += amount
    return dict(equity_in=equity_in, capital_grants_in=cap_grants, operating_grants=op_grants)


def compile_bonds(sc: Scenario, T: int, src_frac: np.ndarray) -> BondPlan:
    """Special bonds: each bond's schedule (:func:`special_bond.bond_schedule`) summed per project, and the bond
    service of the next ``dsra_months`` months (the DSRA's forward-looking part)."""
    P = len(sc.projects)
    bond_draw, bond_int, bond_prin, bond_bal, bullet = (np.zeros((P, T)) for _ in range(5))
    for i, p in enumerate(sc.projects):
        for b in p.financing.bonds:
            d, it, pr, bal = special_bond.bond_schedule(b, first_use_month(p), src_frac[i], T)
            bond_draw[i] += d
            bond_int[i] += it
            bond_prin[i] += pr
            bond_bal[i] += bal
            if b.principal == "bullet":
                bullet[i] += pr
    k = int(round(sc.waterfall.dsra_months))
    bond_service = bond_int + bond_prin
    csum = np.concatenate([np.zeros((P, 1)), np.cumsum(bond_service, axis=1)], axis=1)
    idx = np.arange(T)
    hi = np.minimum(idx + 1 + k, T)
    bond_fwd = csum[:, hi] - csum[:, idx + 1]
    return BondPlan(bond_draw=bond_draw, bond_interest=bond_int, bond_principal=bond_prin, bond_balance=bond_bal,
                    bond_forward_service=bond_fwd, bond_bullet_principal=bullet)


def compile_loans(sc: Scenario, T: int, src_frac: np.ndarray):
    """Bank loans, one row each over all projects: draws pro rata with the uses, monthly rates (``R / 12``), terms,
    amortisation codes, relending; and the interest subsidy. Returns (LoanPlan, relending rollover months, loans)."""
    P = len(sc.projects)
    loans, event_months = [], set()
    sub_share, sub_end = np.zeros(P), np.zeros(P)
    for i, p in enumerate(sc.projects):
        first = first_use_month(p)
        for loan in p.financing.loans:
            loans.append((i, first, loan, loan.amount_yuan * src_frac[i]))
            if loan.relending is not None:
                r = loan.relending
                event_months.update(bank_loan.relending_rollover_months(first, r.term_years, r.rollovers))
        if p.financing.interest_subsidy is not None:
            sub_share[i] = p.financing.interest_subsidy.share_of_interest
            sub_end[i] = 12 * p.financing.interest_subsidy.years
    L = len(loans)
    lp = np.array([x[0] for x in loans], dtype=int)
    onehot = np.zeros((L, P))
    if L:
        onehot[np.arange(L), lp] = 1.0
    rows = _loan_rows(sc, loans, T)
    plan = LoanPlan(loan_project=lp, loan_onehot=onehot, subsidy_share=sub_share, subsidy_end=sub_end.astype(int),
                    loan_names=[x[2].name for x in loans], **rows)
    return plan, event_months, loans


def _loan_rows(sc: Scenario, loans: list, T: int) -> dict:
    """Per-loan terms: draws, fixed rate or spread (monthly), first month, maturity, amortisation start and code,
    capitalisation, relending share / rate / end, and the rate at the first draw."""
    L = len(loans)
    mk = lambda: np.zeros(L)  # noqa: E731
    fixed = np.zeros(L, bool)
    rate_m, spread_m, first_a, mat, amort_start, code, capit = mk(), mk(), mk(), mk(), mk(), mk(), np.zeros(L, bool)
    rel_share, rel_rate, rel_end, init_rate, reprice = mk(), mk(), mk(), mk(), mk()
    draws = np.zeros((L, T))
    for j, (i, first, loan, d) in enumerate(loans):
        draws[j] = d
        fixed[j] = loan.rate_type == "fixed"
        rate_m[j] = (loan.fixed_rate or 0.0) / 12.0
        spread_m[j] = (loan.spread_over_lpr or 0.0) / 12.0
        first_a[j] = first
        mat[j] = first + 12 * loan.term_years
        amort_start[j] = first + loan.grace_months
        code[j] = bank_loan.AMORTISATION_CODES[loan.amortisation]
        capit[j] = loan.capitalise_interest_in_grace or loan.amortisation == "bullet"
        base = rate_m[j] if fixed[j] else (sc.market.lpr_initial / 12.0 + spread_m[j])
        if loan.relending is not None:
            r = loan.relending
            rel_share[j] = r.share
            rel_rate[j] = r.rate / 12.0
            rel_end[j] = bank_loan.relending_end_month(first, r.term_years, r.rollovers)
            init_rate[j] = r.share * rel_rate[j] + (1 - r.share) * base
            reprice[j] = r.reprice_probability
        else:
            rel_end[j] = first
            init_rate[j] = base
    return dict(loan_draw=draws, loan_fixed=fixed, loan_rate_m=rate_m, loan_spread_m=spread_m,
                loan_first=first_a.astype(int), loan_maturity=mat.astype(int), loan_amort_start=amort_start.astype(int),
                loan_code=code.astype(int), loan_capitalise=capit, loan_rel_share=rel_share, loan_rel_rate_m=rel_rate,
                loan_rel_end=rel_end.astype(int), loan_initial_rate_m=init_rate, loan_reprice_p=reprice)


def compile_rental(sc: Scenario) -> RentalPlan:
    """Rental terms per project (monthly opex = yearly / 12; lease in months; rent taxes = VAT + property tax)."""
    P = len(sc.projects)
    a = {k: np.zeros(P) for k in RentalPlan.__dataclass_fields__}
    for i, p in enumerate(sc.projects):
        r = p.rental
        if r is None:
            continue
        a["rent0_m2"][i] = r.market_rent_yuan_per_m2_month
        a["rent_ratio"][i] = r.rent_ratio
        a["lease_months"][i] = 12 * r.lease_years
        a["lease_up_months"][i] = r.lease_up_months
        a["stab_occ"][i] = r.stabilised_occupancy
        a["collection"][i] = r.collection_rate
        a["opex_m2_m"][i] = r.opex_yuan_per_m2_year / 12.0
        a["mgmt_share"][i] = r.management_fee_share
        a["rent_tax_share"][i] = r.vat_rate_on_rent + r.property_tax_rate_on_rent
        a["capex_share"][i] = r.capex_reserve_share_of_rent
        a["rent_subsidy_unit_m"][i] = r.rent_subsidy_yuan_per_unit_month
    a["lease_months"] = a["lease_months"].astype(int)
    return RentalPlan(**a)


def compile_sale(sc: Scenario, T: int, avail: np.ndarray, legacy: bool = True) -> SalePlan:
    """Sale terms per project: price = cost / m² × (1 + margin); pre-subscription deposits (first use) and balances
    (hand-over); absorption, sweep, holding cost, sales tax; buyback rules (:func:`_buyback_terms`).

    Default conventions (``legacy=False``) also: deposits held in escrow (预售资金监管) reach the SOE at the available
    month (``deposits_in_escrow``; absent = true for new builds), the escrow balance by month, the walk-away terms
    and the buyback-reserve share. Under legacy none of these act."""
    P = len(sc.projects)
    a = {k: np.zeros(P) for k in SalePlan.__dataclass_fields__}
    for k in ("presale_cash", "presub_handover_units", "presale_deposit", "presale_balance", "escrow_balance"):
        a[k] = np.zeros((P, T))
    a["has_buyback"], a["bb_market_rule"], a["has_walkaway"] = np.zeros(P, bool), np.zeros(P, bool), np.zeros(P, bool)
    for i, p in enumerate(sc.projects):
        s = p.sale
        if s is None:
            continue
        area = floor_area_m2(p)
        price = total_cost_yuan(p) / area * (1 + s.margin)
        a["sale_price_m2"][i] = price
        a["presub_share"][i] = s.presubscription_share
        n_pre = p.units * s.presubscription_share
        value_pre = n_pre * p.area_m2 * price
        first = first_use_month(p)
        a["presale_cash"][i, first] += value_pre * s.deposit_share
        handover = avail[i] + s.handover_delay_months
        if handover >= T:
            handover = T - 1
        a["presale_cash"][i, handover] += value_pre * (1 - s.deposit_share)
        a["presale_balance"][i, handover] += value_pre * (1 - s.deposit_share)
        escrow = False if legacy else (s.deposits_in_escrow if s.deposits_in_escrow is not None
                                       else p.construction is not None)
        release = min(max(int(avail[i]), first), T - 1) if escrow else first
        a["presale_deposit"][i, release] += value_pre * s.deposit_share
        a["escrow_balance"][i, first:release] = value_pre * s.deposit_share
        a["presub_handover_units"][i, handover] += n_pre
        a["deposit_share"][i] = s.deposit_share
        if not legacy:
            a["buyback_reserve_share"][i] = s.buyback_reserve_share
            if s.walkaway is not None:
                a["has_walkaway"][i] = True
                a["walkaway_base"][i] = s.walkaway.base_share
                a["walkaway_sensitivity"][i] = s.walkaway.gap_sensitivity
        a["absorption_m"][i] = s.absorption_monthly
        a["absorption_elasticity"][i] = s.absorption_price_elasticity
        a["sweep_share"][i] = s.sweep_share
        a["holding_m2_m"][i] = s.holding_cost_yuan_per_m2_year / 12.0
        a["sales_tax"][i] = s.sales_tax_rate
        if s.buyback is not None:
            _buyback_terms(a, i, s.buyback)
    for k in ("lockup_months", "resale_delay"):
        a[k] = a[k].astype(int)
    return SalePlan(**a)


def _buyback_terms(a: dict, i: int, bb) -> None:
    """Buyback rules of project ``i``: lock-up in months, hazard, price rule, monthly log-indexation
    ``ln(1 + g) / 12``, resale delay and margin."""
    a["has_buyback"][i] = True
    a["lockup_months"][i] = 12 * bb.lockup_years
    a["bb_hazard_annual"][i] = bb.hazard_annual
    a["bb_sensitivity"][i] = bb.price_sensitivity
    a["bb_market_rule"][i] = bb.price_rule == "market_minus_fees"
    a["bb_fee"][i] = bb.fee_share
    a["bb_index_m"][i] = np.log1p(bb.index_rate_annual) / 12.0
    a["resale_delay"][i] = bb.resale_delay_months
    a["resale_margin"][i] = bb.resale_margin


def compile_waterfall(sc: Scenario, bonds: BondPlan, loan_projects, loan_maturity, loan_amort_start,
                      Y: int) -> WaterfallPlan:
    """Waterfall rules, the ranked tranches (``waterfall.seniority`` preset) and the DSCR test windows."""
    wf = sc.waterfall
    bond_service = bonds.bond_interest + bonds.bond_principal
    return WaterfallPlan(
        bank_first=wf.seniority == "bank_first", dsra_months=wf.dsra_months, lockup_dscr=wf.lockup_dscr,
        soe_capacity=wf.soe_support_capacity_yuan, soe_revolving=wf.soe_support_revolving,
        dscr_window=_dscr_window(sc, bond_service, loan_projects, loan_maturity, loan_amort_start, Y),
        bank_windows=_bank_windows(sc, loan_projects, loan_maturity, loan_amort_start, Y),
        cross_support=wf.cross_project_support, tv_haircut=wf.terminal_value_haircut,
        liquidation_months=sc.credit.liquidation_months,
        tranches=ranked((bank_loan.TRANCHE, special_bond.TRANCHE)
                        + ((soe_bond.TRANCHE,) if any(p.financing.soe_bonds for p in sc.projects) else ()), wf.seniority),
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
