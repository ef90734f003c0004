"""Policy compliance: the quantitative rules of the five seed documents, as data, each citing its clause.

A rule is a :class:`Rule` — id, rule set, document (file name under ``shared/seeds/``, or ``domain-facts.md`` for
national terms the seeds only refer to), clause, requirement, limit, and a check function on the
:class:`~baozhang_finance.scenario.Scenario`. :func:`check_scenario` applies the rule sets named in
``[policy] rule_sets`` (a Loudi plan: ``["national", "loudi"]``) and returns the breaches as :class:`Finding`
objects; :func:`report.tables.print_findings` prints them as a rich table. Breaches are findings, not errors: a user may
model a non-compliant plan on purpose (DESIGN §8).

What is *not* a static rule: "no new hidden debt" (严防新增地方政府隐性债务), stated by every document, is a
model result — P(hidden-debt call) of a run — not a property of the input file.

Rules that need figures a scenario may leave out (the cost build-up ``[projects.cost_basis]`` behind a purchase
price) cannot be verified without them; :func:`unverifiable` lists those cases, and they are not findings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from baozhang_finance.model.scenario import (
    RULE_SETS,
    Project,
    Scenario,
    ScenarioError,
    equity_share,
    floor_area_m2,
    total_cost_yuan,
    total_uses_yuan,
)

LIAONING = "000_61892fe0cb3773ac.txt"
SUIHUA = "001_83558baf74c891b3.txt"
WEIHAI = "002_c6a4dd734eb8d23e.txt"
LOUDI = "003_1276ccc198fb9195.txt"
BEITUN = "004_4eed036b64b78cc2.txt"
FACTS = "domain-facts.md"

_EPS = 1e-9


@dataclass(frozen=True)
class Finding:
    """One breach of one rule by one project (or by the programme)."""

    rule_id: str
    rule_set: str
    document: str
    clause: str
    project: str
    actual: str
    limit: str
    message: str


@dataclass(frozen=True)
class Unverifiable:
    """A rule that applies but cannot be checked because the scenario lacks a figure."""

    rule_id: str
    document: str
    clause: str
    project: str
    reason: str


@dataclass(frozen=True)
class Rule:
    """A quantitative policy rule.

    ``check(scenario, rule)`` returns ``(project, actual, unverifiable_reason)`` triples for breaches and
    unverifiable cases (reason ``None`` for a breach); ``message`` is a template filled with ``project``,
    ``actual`` and ``limit``; ``limit`` is the figure (or condition) the document sets, as printed.
    """

    id: str
    rule_set: str
    document: str
    clause: str
    requirement: str
    limit: str
    message: str
    check: Callable[[Scenario, "Rule"], list[tuple[str, str, str | None]]] = field(repr=False)


# ---------------------------------------------------------------------------------------------- formatting
def _pct(x: float) -> str:
    return f"{100 * x:.4g} %"


def _m2(x: float) -> str:
    return f"{x:g} m²"


def _ypm2(x: float) -> str:
    return f"{x:,.0f} yuan/m²"


# ---------------------------------------------------------------------------------------------- project filters
def _all(p: Project) -> bool:
    return True


def _rental(p: Project) -> bool:
    return p.type == "rental"


def _sale(p: Project) -> bool:
    return p.type == "sale"


def _purchase(p: Project) -> bool:
    return p.construction is None and p.acquisition_price_yuan_per_m2 > 0


def _rental_purchase(p: Project) -> bool:
    return _rental(p) and _purchase(p)


def _sale_purchase(p: Project) -> bool:
    return _sale(p) and _purchase(p)


def _sale_with_buyback(p: Project) -> bool:
    return _sale(p) and p.sale.buyback is not None


def _sale_with_loans(p: Project) -> bool:
    return _sale(p) and bool(p.financing.loans)


# ---------------------------------------------------------------------------------------------- check builders
def _bound(applies: Callable[[Project], bool], value: Callable[[Project], float], op: str, limit: float,
           fmt: Callable[[float], str]) -> Callable[[Scenario, Rule], list]:
    """A per-project numeric bound: value(p) op limit must hold for every project the rule applies to."""

    def check(sc: Scenario, rule: Rule) -> list:
        out = []
        for p in sc.projects:
            if not applies(p):
                continue
            v = value(p)
            ok = {"<=": v <= limit + _EPS, ">=": v >= limit - _EPS, "==": abs(v - limit) <= _EPS,
                  "<": v < limit - _EPS, ">": v > limit + _EPS}[op]
            if not ok:
                out.append((p.name, fmt(v), None))
        return out

    return check


def _range(applies, value, lo: float, hi: float, fmt) -> Callable[[Scenario, Rule], list]:
    def check(sc: Scenario, rule: Rule) -> list:
        return [(p.name, fmt(value(p)), None) for p in sc.projects
                if applies(p) and not (lo - _EPS <= value(p) <= hi + _EPS)]

    return check


def _needs_buyback(sc: Scenario, rule: Rule) -> list:
    """Closed management (封闭管理): every sale project must carry buyback terms."""
    return [(p.name, "no [sale.buyback] table", None) for p in sc.projects if _sale(p) and p.sale.buyback is None]


def _ring_fenced(sc: Scenario, rule: Rule) -> list:
    if sc.waterfall.cross_project_support:
        return [("programme", "cross_project_support = true", None)]
    return []


def _bank_first(sc: Scenario, rule: Rule) -> list:
    has_loans = any(p.financing.loans for p in sc.projects)
    if has_loans and sc.waterfall.seniority != "bank_first":
        return [("programme", f"seniority = {sc.waterfall.seniority!r}", None)]
    return []


def _cost_cap(applies, profit: float) -> Callable[[Scenario, Rule], list]:
    """Purchase price ≤ (allocated-land cost + construction cost) × (1 + profit), from [projects.cost_basis]."""

    def check(sc: Scenario, rule: Rule) -> list:
        out = []
        for p in sc.projects:
            if not applies(p):
                continue
            cb = p.cost_basis
            if cb is None:
                out.append((p.name, "", "no [projects.cost_basis] (land + construction cost) given"))
                continue
            cap = (cb.land_yuan_per_m2 + cb.construction_yuan_per_m2) * (1 + profit)
            if p.acquisition_price_yuan_per_m2 > cap + _EPS:
                out.append((p.name, f"{_ypm2(p.acquisition_price_yuan_per_m2)} > cap {_ypm2(cap)}", None))
        return out

    return check


def _replacement_cap(applies) -> Callable[[Scenario, Rule], list]:
    """Purchase price ≤ the appraised replacement price of affordable housing at the same location."""

    def check(sc: Scenario, rule: Rule) -> list:
        out = []
        for p in sc.projects:
            if not applies(p):
                continue
            cb = p.cost_basis
            if cb is None or cb.replacement_yuan_per_m2 is None:
                out.append((p.name, "", "no cost_basis.replacement_yuan_per_m2 (重置价格) given"))
                continue
            if p.acquisition_price_yuan_per_m2 > cb.replacement_yuan_per_m2 + _EPS:
                out.append((p.name, f"{_ypm2(p.acquisition_price_yuan_per_m2)} > {_ypm2(cb.replacement_yuan_per_m2)}", None))
        return out

    return check


def _relending(sc: Scenario, rule: Rule) -> list:
    out = []
    for p in sc.projects:
        for loan in p.financing.loans:
            r = loan.relending
            if r is not None and (r.term_years != 1 or r.rollovers > 4):
                out.append((f"{p.name} / {loan.name}", f"{r.term_years}-year term, {r.rollovers} rollovers", None))
    return out


def stabilised_noi_yuan(p: Project) -> float:
    """A rental block's stabilised net operating income per year at start prices:
    ``NOI = 12 · floor area · market rent · rent ratio · occupancy · collection · (1 − management − VAT − property
    tax − capex shares) + 12 · units · rent subsidy · occupancy − floor area · opex``."""
    r = p.rental
    area = floor_area_m2(p)
    kept = 1.0 - r.management_fee_share - r.vat_rate_on_rent - r.property_tax_rate_on_rent - r.capex_reserve_share_of_rent
    rent = 12.0 * area * r.market_rent_yuan_per_m2_month * r.rent_ratio * r.stabilised_occupancy * r.collection_rate
    subsidy = 12.0 * p.units * r.rent_subsidy_yuan_per_unit_month * r.stabilised_occupancy
    return rent * kept + subsidy - area * r.opex_yuan_per_m2_year


def loan_initial_rate(loan, lpr0: float) -> float:
    """A bank loan's annual rate at the first draw: ``s · relending rate + (1 − s) · base``, base = the fixed rate
    or LPR₀ + spread, ``s`` the relending share (0 without relending)."""
    base = loan.fixed_rate if loan.rate_type == "fixed" else lpr0 + loan.spread_over_lpr
    r = loan.relending
    return base if r is None else r.share * r.rate + (1.0 - r.share) * base


def debt_cost_yuan(p: Project, lpr0: float) -> float:
    """Yearly financing cost of the project's debt at its initial rates: ``Σ loans · initial rate + Σ special
    bonds · coupon + Σ SOE bonds · coupon`` (the interest of a fully drawn, not yet amortised debt)."""
    f = p.financing
    return (sum(loan.amount_yuan * loan_initial_rate(loan, lpr0) for loan in f.loans)
            + sum(b.amount_yuan * b.coupon for b in f.bonds) + sum(b.amount_yuan * b.coupon for b in f.soe_bonds))


def _break_even_rent(sc: Scenario, rule: Rule) -> list:
    """保本: stabilised NOI ≥ the yearly financing cost of the debt (equivalently NOI ÷ total investment ≥ debt cost
    ÷ total investment): the rent covers the running costs and the interest; the equity's return is the 微利."""
    out = []
    for p in sc.projects:
        if not _rental(p):
            continue
        noi, cost = stabilised_noi_yuan(p), debt_cost_yuan(p, sc.market.lpr_initial)
        if noi < cost - _EPS:
            ti = total_uses_yuan(p)
            out.append((p.name, f"NOI {noi:,.0f} yuan/yr ({_pct(noi / ti)} of investment) < debt cost {cost:,.0f} "
                                f"yuan/yr ({_pct(cost / ti)})", None))
    return out


def _buyback_payer(payer: str) -> Callable[[Scenario, Rule], list]:
    def check(sc: Scenario, rule: Rule) -> list:
        return [(p.name, f"payer = {p.sale.buyback.payer!r}", None) for p in sc.projects
                if _sale_with_buyback(p) and p.sale.buyback.payer != payer]

    return check


def _pre_allocation(sc: Scenario, rule: Rule) -> list:
    """Rental projects: pre-allocation share (rental.pre_allocation_share) ≥ 95 %; absent = unverifiable."""
    out = []
    for p in sc.projects:
        if not _rental(p):
            continue
        share = p.rental.pre_allocation_share
        if share is None:
            out.append((p.name, "", "no rental.pre_allocation_share (配租比例) given"))
        elif share < 0.95 - _EPS:
            out.append((p.name, _pct(share), None))
    return out


def sale_price_yuan_per_m2(p: Project) -> float:
    """Sale price per m² the engine charges: development cost per m² × (1 + margin)."""
    return total_cost_yuan(p) / floor_area_m2(p) * (1 + p.sale.margin)


# ---------------------------------------------------------------------------------------------- the rules
_area = lambda p: p.area_m2  # noqa: E731
_margin = lambda p: p.sale.margin  # noqa: E731

RULES: list[Rule] = [
    # ------------------------------------------------------------------ national (terms the seeds refer to)
    Rule("national.relending_terms", "national", FACTS, "§1 (银发〔2024〕110号, 135号)",
         "relending runs 1 year at a time, renewable at most 4 times (5 years in all)", "1-year term, ≤ 4 rollovers",
         "{project}: relending modelled as {actual}; the PBoC tool is {limit}",
         _relending),
    Rule("national.rent_cap", "national", FACTS, "§3 (保租房 rent cap, A)",
         "affordable rent at most 90 % of market", "≤ 90 %",
         "{project}: rent ratio {actual} of market (required: {limit})",
         _bound(_rental, lambda p: p.rental.rent_ratio, "<=", 0.90, _pct)),
    # ------------------------------------------------------------------ Liaoning
    Rule("liaoning.ring_fenced", "liaoning", LIAONING, "§九", "loans 单列账目、单独核算、封闭管理: no cross-project support",
         "cross_project_support = false", "{project}: {actual}, but loan funds must be ring-fenced ({limit})",
         _ring_fenced),
    Rule("liaoning.reasonable_price", "liaoning", LIAONING, "§九", "以合理价格收购: purchase at or below market appraisal",
         "≤ appraisal", "{project}: purchase price {actual} of appraisal is above market ({limit})",
         _bound(_purchase, lambda p: p.acquisition_price_yuan_per_m2 / p.appraisal_yuan_per_m2, "<=", 1.0, _pct)),
    Rule("liaoning.closed_management", "liaoning", LIAONING, "§四", "sale-type housing under strict closed management (buybacks)",
         "buyback terms", "{project}: {actual}; 配售型 needs closed management ({limit})", _needs_buyback),
    # ------------------------------------------------------------------ Suihua
    Rule("suihua.sale_unit_area", "suihua", SUIHUA, "§三(三)", "sale-type units ≤ 120 m²", "≤ 120 m²",
         "{project}: average unit {actual} (required: {limit})", _bound(_sale, _area, "<=", 120.0, _m2)),
    Rule("suihua.rental_unit_area", "suihua", SUIHUA, "§三(三)", "rental units mainly ~70 m², in principle ≤ 100 m²",
         "≤ 100 m²", "{project}: average unit {actual} (required: {limit})", _bound(_rental, _area, "<=", 100.0, _m2)),
    Rule("suihua.price_cost_cap", "suihua", SUIHUA, "§三(四)", "purchase price = allocated land + construction + ≤ 5 % profit",
         "≤ (land + construction) × 1.05", "{project}: purchase price {actual} ({limit})",
         _cost_cap(_purchase, 0.05)),
    Rule("suihua.price_replacement_cap", "suihua", SUIHUA, "§三(四)",
         "the appraised replacement price of affordable housing at the same location is the price cap",
         "≤ replacement price", "{project}: purchase price {actual} ({limit})", _replacement_cap(_purchase)),
    Rule("suihua.presubscription", "suihua", SUIHUA, "§三(五)",
         "formal purchase only after ≥ 95 % of the units are subscribed with deposits", "≥ 95 %",
         "{project}: pre-subscription {actual} (required: {limit})",
         _bound(_sale, lambda p: p.sale.presubscription_share, ">=", 0.95, _pct)),
    Rule("suihua.pre_allocation", "suihua", SUIHUA, "§三(五)",
         "配售配租比例达到意向收购项目房源 95% 以上: rental blocks too are bought only after ≥ 95 % of the units are "
         "pre-allocated with deposits", "≥ 95 %", "{project}: pre-allocation {actual} (required: {limit})",
         _pre_allocation),
    Rule("suihua.deposit", "suihua", SUIHUA, "§三(五)", "subscribers pay a deposit (缴纳一定租购定金)", "> 0",
         "{project}: deposit share {actual}; subscribers must pay a deposit ({limit})",
         _bound(_sale, lambda p: p.sale.deposit_share, ">", 0.0, _pct)),
    Rule("suihua.sale_margin", "suihua", SUIHUA, "§三(四)", "profit in the price ≤ 5 % (carried to the sale price)", "≤ 5 %",
         "{project}: sale margin {actual} (required: {limit})", _bound(_sale, _margin, "<=", 0.05, _pct)),
    Rule("suihua.proceeds_repay_loans", "suihua", SUIHUA, "§四(三)", "sale proceeds repay the purchase loans first",
         "sweep 100 %", "{project}: only {actual} of sale proceeds prepay the loan ({limit})",
         _bound(_sale_with_loans, lambda p: p.sale.sweep_share, ">=", 1.0, _pct)),
    Rule("suihua.loans_first", "suihua", SUIHUA, "§四(三)", "rent and sale proceeds go first to the purchase loans",
         "bank_first", "{project}: {actual}; bank loans must be served first ({limit})", _bank_first),
    Rule("suihua.ring_fenced", "suihua", SUIHUA, "§四(三)", "单独建账、单独核算、项目间资金不得混同",
         "cross_project_support = false", "{project}: {actual}; no commingling between projects ({limit})",
         _ring_fenced),
    Rule("suihua.down_payment", "suihua", SUIHUA, "§三(六)", "buyers' down payment per commercial rules (first home ≥ 15 %)",
         "≥ 15 %", "{project}: buyers' down payment {actual} (required: {limit})",
         _bound(_sale, lambda p: p.sale.buyer_down_payment_share, ">=", 0.15, _pct)),
    Rule("suihua.closed_management", "suihua", SUIHUA, "§三(六)", "sale-type units registered under closed management",
         "buyback terms", "{project}: {actual}; closed management needs buybacks ({limit})", _needs_buyback),
    # ------------------------------------------------------------------ Weihai
    Rule("weihai.unit_area", "weihai", WEIHAI, "§二(一)", "stock ≤ 120 m²", "≤ 120 m²",
         "{project}: average unit {actual} (required: {limit})", _bound(_all, _area, "<=", 120.0, _m2)),
    Rule("weihai.price_below_market", "weihai", WEIHAI, "§二(五)",
         "purchase price notably below same-location commercial housing", "< appraisal",
         "{project}: purchase price {actual} of appraisal is not below market ({limit})",
         _bound(_purchase, lambda p: p.acquisition_price_yuan_per_m2 / p.appraisal_yuan_per_m2, "<", 1.0, _pct)),
    Rule("weihai.price_replacement_cap", "weihai", WEIHAI, "§二(五)",
         "the replacement price of affordable housing at the same location is the upper reference",
         "≤ replacement price", "{project}: purchase price {actual} ({limit})", _replacement_cap(_purchase)),
    Rule("weihai.break_even_rent", "weihai", WEIHAI, "§一",
         "保本微利: a rental block's stabilised NOI (rent at its rent ratio, less running costs) covers the yearly "
         "financing cost of its debt at the initial rates (loans, special bonds, SOE bonds)", "NOI ≥ debt cost",
         "{project}: {actual} — the rent does not break even ({limit})", _break_even_rent),
    Rule("weihai.thin_margin", "weihai", WEIHAI, "§一",
         "保本微利: the sale price covers cost (margin ≥ 0) with a thin profit (≤ 5 %, the cap seeds 001 and 003 set)",
         "0–5 %", "{project}: sale margin {actual} (required: {limit})", _range(_sale, _margin, 0.0, 0.05, _pct)),
    Rule("weihai.ring_fenced", "weihai", WEIHAI, "§二(四)", "loans 单列账目、单独核算、封闭管理",
         "cross_project_support = false", "{project}: {actual}; loan funds must be ring-fenced ({limit})", _ring_fenced),
    Rule("weihai.closed_management", "weihai", WEIHAI, "§二(六)",
         "closed management: buyback when long vacant, to be transferred, or the owner leaves the job",
         "buyback terms", "{project}: {actual}; Weihai requires buybacks ({limit})", _needs_buyback),
    # ------------------------------------------------------------------ Loudi
    Rule("loudi.equity_share", "loudi", LOUDI, "§六(一)1", "SOE own funds ≥ 20 % of total investment", "≥ 20 %",
         "{project}: own funds {actual} of total investment (required: {limit})",
         _bound(_all, equity_share, ">=", 0.20, _pct)),
    Rule("loudi.unit_area", "loudi", LOUDI, "§五 3(1)", "units in principle ≤ 143 m²", "≤ 143 m²",
         "{project}: average unit {actual} (required: {limit})", _bound(_all, _area, "<=", 143.0, _m2)),
    Rule("loudi.unit_area_main", "loudi", LOUDI, "§五 3(1)", "mainly 70–120 m² units", "70–120 m²",
         "{project}: average unit {actual}, outside the main range {limit}", _range(_all, _area, 70.0, 120.0, _m2)),
    Rule("loudi.rental_price_appraisal", "loudi", LOUDI, "§五 3(2)",
         "rental-type purchase price ≤ market appraisal of ordinary housing", "≤ appraisal",
         "{project}: purchase price {actual} of appraisal (required: {limit})",
         _bound(_rental_purchase, lambda p: p.acquisition_price_yuan_per_m2 / p.appraisal_yuan_per_m2, "<=", 1.0, _pct)),
    Rule("loudi.sale_price_cost_cap", "loudi", LOUDI, "§五 3(2)",
         "sale-type purchase price ≤ allocated land + construction + ≤ 5 % profit",
         "≤ (land + construction) × 1.05", "{project}: purchase price {actual} ({limit})", _cost_cap(_sale_purchase, 0.05)),
    Rule("loudi.sale_margin", "loudi", LOUDI, "§七(一)2", "sale price = purchase cost + ≤ 5 % profit", "≤ 5 %",
         "{project}: sale margin {actual} (required: {limit})", _bound(_sale, _margin, "<=", 0.05, _pct)),
    Rule("loudi.resale_margin", "loudi", LOUDI, "§七(一)2, §八(一)4",
         "bought-back units resold as affordable housing at cost + ≤ 5 %", "≤ 5 %",
         "{project}: resale margin {actual} (required: {limit})",
         _bound(_sale_with_buyback, lambda p: p.sale.buyback.resale_margin, "<=", 0.05, _pct)),
    Rule("loudi.rent_ratio", "loudi", LOUDI, "§七(一)3", "rent = 80 % of same-location market rent", "≤ 80 %",
         "{project}: rent ratio {actual} of market (required: {limit})",
         _bound(_rental, lambda p: p.rental.rent_ratio, "<=", 0.80, _pct)),
    Rule("loudi.down_payment", "loudi", LOUDI, "§八(一)3", "buyers' down payment from 15 %", "≥ 15 %",
         "{project}: buyers' down payment {actual} (required: {limit})",
         _bound(_sale, lambda p: p.sale.buyer_down_payment_share, ">=", 0.15, _pct)),
    Rule("loudi.lockup", "loudi", LOUDI, "§八(一)4", "no trading for 5 years, then buyback by the SOE", "5 years",
         "{project}: lock-up of {actual} (required: {limit})",
         _bound(_sale_with_buyback, lambda p: p.sale.buyback.lockup_years, "==", 5, lambda v: f"{v:g} years")),
    Rule("loudi.buyback_price", "loudi", LOUDI, "§八(一)4", "buyback at the market-assessed price minus reasonable fees",
         "market_minus_fees", "{project}: buyback price rule {actual} ({limit})",
         lambda sc, r: [(p.name, repr(p.sale.buyback.price_rule), None) for p in sc.projects
                        if _sale_with_buyback(p) and p.sale.buyback.price_rule != "market_minus_fees"]),
    Rule("loudi.closed_management", "loudi", LOUDI, "§八(一)4", "closed management: the SOE buys back after 5 years",
         "buyback terms", "{project}: {actual}; Loudi requires buybacks ({limit})", _needs_buyback),
    Rule("loudi.lease_years", "loudi", LOUDI, "§八(二)1", "leases generally 3 years", "3 years",
         "{project}: {actual} leases (required: {limit})",
         _bound(_rental, lambda p: p.rental.lease_years, "==", 3, lambda v: f"{v:g}-year")),
    Rule("loudi.ring_fenced", "loudi", LOUDI, "§六(二)", "loans 单列账目、单独核算、专款专用、封闭管理",
         "cross_project_support = false", "{project}: {actual}; loan funds must be ring-fenced ({limit})", _ring_fenced),
    # ------------------------------------------------------------------ Beitun
    Rule("beitun.unit_area", "beitun", BEITUN, "§四(一)1", "new-build units in principle ≤ 120 m²", "≤ 120 m²",
         "{project}: average unit {actual} (required: {limit})", _bound(_all, _area, "<=", 120.0, _m2)),
    Rule("beitun.sale_margin", "beitun", BEITUN, "§二(三), §四(三)",
         "保本微利: price covers land + construction + a reasonable profit (≤ 5 %, as seeds 001 and 003 set it)",
         "≤ 5 %", "{project}: sale margin {actual} (required: {limit})", _bound(_sale, _margin, "<=", 0.05, _pct)),
    Rule("beitun.sale_below_market", "beitun", BEITUN, "§四(三)",
         "sale price below ordinary commercial housing in a comparable location", "< appraisal",
         "{project}: sale price {actual} of market is not below it ({limit})",
         _bound(_sale, lambda p: sale_price_yuan_per_m2(p) / p.appraisal_yuan_per_m2, "<", 1.0, _pct)),
    Rule("beitun.government_buyback", "beitun", BEITUN, "§四(三)",
         "由师市人民政府委托相关单位按规定予以回购: buybacks are an obligation of the city government",
         "payer = 'government'", "{project}: buybacks modelled with {actual}; Beitun's government buys back ({limit})",
         _buyback_payer("government")),
    Rule("beitun.ring_fenced", "beitun", BEITUN, "§四(二)2",
         "an independent project company, strictly separated from other platforms and companies",
         "cross_project_support = false", "{project}: {actual}; the project company is ring-fenced ({limit})",
         _ring_fenced),
    Rule("beitun.closed_management", "beitun", BEITUN, "§四(三)",
         "closed management: buyback when long vacant, to be transferred, or the owner leaves the job",
         "buyback terms", "{project}: {actual}; Beitun requires buybacks ({limit})", _needs_buyback),
]

_ids = [r.id for r in RULES]
assert len(set(_ids)) == len(_ids), "rule ids must be unique"
assert all(r.rule_set in RULE_SETS for r in RULES)


# ---------------------------------------------------------------------------------------------- API
def rules_for(rule_sets: list[str] | tuple[str, ...]) -> list[Rule]:
    """The rules of the named sets, in table order. Unknown names raise :class:`ScenarioError`."""
    unknown = [s for s in rule_sets if s not in RULE_SETS]
    if unknown:
        raise ScenarioError(f"policy.rule_sets: unknown rule set {unknown[0]!r} (known: {', '.join(RULE_SETS)})")
    return [r for r in RULES if r.rule_set in rule_sets]


def _evaluate(sc: Scenario):
    for rule in rules_for(sc.policy.rule_sets):
        for project, actual, reason in rule.check(sc, rule):
            yield rule, project, actual, reason


def check_scenario(sc: Scenario) -> list[Finding]:
    """Apply the rule sets in ``sc.policy.rule_sets``; return the breaches (empty = compliant)."""
    out = []
    for rule, project, actual, reason in _evaluate(sc):
        if reason is None:
            out.append(Finding(rule.id, rule.rule_set, rule.document, rule.clause, project, actual, rule.limit,
                               rule.message.format(project=project, actual=actual, limit=rule.limit)))
    return out


def unverifiable(sc: Scenario) -> list[Unverifiable]:
    """Rules that apply to the scenario but cannot be checked for lack of a figure (not findings)."""
    return [Unverifiable(rule.id, rule.document, rule.clause, project, reason)
            for rule, project, actual, reason in _evaluate(sc) if reason is not None]


#: an annual drift beyond this (25 % a year, sustained) reads as a percent typed as a fraction (0.5 meant as 0.5 %)
DRIFT_PLAUSIBLE = 0.25


def plausibility_warnings(sc: Scenario) -> list[str]:
    """Values inside their bounds that look like a unit mistake (not findings: the run goes on): an annual drift
    (``*_drift_annual``) beyond ±:data:`DRIFT_PLAUSIBLE` — "0.5" is 50 % a year, 0.5 % is 0.005 — and a basis-point
    field (``*_bp``) strictly between −1 and 1 — a fraction where basis points are asked (2 % is 200 bp)."""
    out: list[str] = []

    def walk(obj, path: str) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{path}.{k}" if path else k)
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, f"{path}[{i}]")
        elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
            name = path.rsplit(".", 1)[-1]
            if name.endswith("_drift_annual") and abs(obj) > DRIFT_PLAUSIBLE:
                out.append(f"{path} = {obj:g}: {obj:.0%} a year — a percent typed as a fraction? "
                           f"({obj:g} % is {obj / 100:g}) / 年增长率 {obj:.0%}，是否把百分数当作小数填写？")
            elif name.endswith("_bp") and 0 < abs(obj) < 1:
                out.append(f"{path} = {obj:g} bp: below one basis point — a fraction where basis points are asked? "
                           f"({obj:g} is {obj * 1e4:g} bp) / 单位为基点（1 % = 100 bp）")

    walk(sc.model_dump(mode="python"), "")
    return out


# ---------------------------------------------------------------------------------------------- coverage (results)
#: the coverage measures compliance reads, with the label a finding prints
COVERAGE_MEASURES = {
    "bond_coverage_ratio": "本息覆盖倍数 (bond service only)",
    "bond_coverage_all_financing": "本息覆盖倍数 with the project's other financing (bank service)",
}


def check_coverage(sc: Scenario, values: dict) -> list[Finding]:
    """Flag median coverage below ``policy.bond_coverage_floor`` (the floor the scenario cites: no national minimum,
    1.1 / 1.2 / 1.3 local norms, domain-facts §2) and above ``policy.bond_coverage_ceiling`` (implausibly high, as a
    local debt-management system flags it, domain-facts §5). ``values`` maps a measure of :data:`COVERAGE_MEASURES`
    to its median across paths (a run's result; compliance never simulates). Only projects with special bonds have
    a coverage: a value of None is skipped."""
    out = []
    floor, ceiling = sc.policy.bond_coverage_floor, sc.policy.bond_coverage_ceiling
    for key, label in COVERAGE_MEASURES.items():
        v = values.get(key)
        if v is None:
            continue
        if floor is not None and v < floor - _EPS:
            out.append(Finding(f"coverage.floor.{key}", "policy", FACTS, "§2", "programme", f"{v:.2f}", f"≥ {floor:.2f}",
                               f"{label}: median {v:.2f} below the floor {floor:.2f} the plan cites"))
        if v > ceiling + _EPS:
            out.append(Finding(f"coverage.ceiling.{key}", "policy", FACTS, "§5", "programme", f"{v:.2f}",
                               f"≤ {ceiling:.2f}", f"{label}: median {v:.2f} implausibly above {ceiling:.2f} — check the "
                               "income forecast"))
    return out
