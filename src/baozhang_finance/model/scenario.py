"""Scenario files: pydantic models of a programme, validated with located errors.

A scenario is a TOML file (read with :mod:`tomllib`) or a dict. Every rate in the file is **annual**; every
month field is a month index counted from the programme start (0 = the start month); money is in yuan;
areas in m². :mod:`baozhang_finance.plan` converts rates to monthly once.

Errors are raised as :class:`ScenarioError`, whose message names the file, the field path and the problem,
e.g. ``demo.toml: projects[1].area_m2: must be > 0, got -70``.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from baozhang_finance.model import workbook as _workbook
from baozhang_finance.model.support import MAX_YUAN as SUPPORT_MAX_YUAN
from baozhang_finance.model.support import Cures, SupportPolicy

#: order of the correlated innovations in ``market.correlation``
DRIVERS = ("house_price", "rent", "lpr", "cpi", "occupancy", "absorption", "fiscal")

#: tolerance of the sources = uses identity, yuan
SOURCES_USES_TOLERANCE_YUAN = 1.0

#: the rule sets of :mod:`baozhang_finance.model.compliance` (one per seed document, plus national terms)
RULE_SETS = ("national", "liaoning", "suihua", "weihai", "loudi", "beitun")

# Ceilings of the physical ranges: a figure beyond them is a typo, not a programme.
#: money, yuan: 10 trillion (10 万亿), about half of China's national general budget revenue (support.MAX_YUAN)
MAX_YUAN = SUPPORT_MAX_YUAN
#: prices and costs per m², yuan: 1 million yuan/m² (ten times the dearest Shanghai flats)
MAX_YUAN_PER_M2 = 1e6
#: amounts per unit (grants per unit, rent subsidy per unit and month), yuan
MAX_YUAN_PER_UNIT = 1e8
#: market rent, yuan/m²/month
MAX_RENT_YUAN_PER_M2_MONTH = 1e4
#: operating and holding costs, yuan/m²/year
MAX_COST_YUAN_PER_M2_YEAR = 1e5
#: dwelling units of one project
MAX_UNITS = 1_000_000
#: a month index: the longest horizon (60 years); checked against the scenario's own horizon as well
MAX_MONTH = 60 * 12
#: master seed (numpy SeedSequence accepts any non-negative integer; 63 bits keeps it portable)
MAX_SEED = 2**63 - 1


class ScenarioError(ValueError):
    """A scenario that cannot be used: the message names the file, the field path and the problem."""

    def __init__(self, message: str, source: str | None = None, problems: list[str] | None = None):
        self.source = source
        self.problems = problems or [message]
        super().__init__(message)


class _Model(BaseModel):
    # strict: no bool ↔ number, no string → number, no float → int (an int where a float is expected is fine:
    # TOML users write 0 for 0.0); every number finite; unknown fields are errors
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False, defer_build=True)  # schemas on first use


# ----------------------------------------------------------------------------------------------- programme
class Programme(_Model):
    """[programme] — who, where, when, and the yardsticks of the fiscal lens."""

    name: str = Field(description="name of the programme")
    city: str = Field(description="city (or county / division) running the programme")
    soe: str = Field(description="the implementing SOE (实施主体)")
    start: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="programme start, YYYY-MM; month 0")
    horizon_years: int = Field(30, ge=1, le=60, description="model horizon in years (default 30)")
    discount_rate: float = Field(
        ge=-0.05, le=0.5, description="annual discount rate for NPV and the present value of support calls"
    )
    fiscal_revenue_yuan: float = Field(
        gt=0, le=MAX_YUAN, description="the city's general public budget revenue per year at the start, yuan (一般公共预算收入)"
    )
    fiscal_discount_rate: float | None = Field(
        None, ge=-0.05, le=0.5, description="annual rate discounting the budget's payments (hidden-debt calls, bond "
        "burden): the local-bond yield; absent = 0.02 under the default conventions (MOF local-bond coupons "
        "1.80–2.19 % in 2025–26), discount_rate under legacy")


# ----------------------------------------------------------------------------------------------- operations
class RentalOps(_Model):
    """[projects.rental] — 配租型 operations."""

    market_rent_yuan_per_m2_month: float = Field(gt=0, le=MAX_RENT_YUAN_PER_M2_MONTH, description="same-location market rent at the start, yuan/m²/month")
    rent_ratio: float = Field(gt=0, le=1.5, description="rent charged as a share of market rent (policy: 0.8)")
    lease_years: int = Field(ge=1, le=10, description="lease length in years; rents re-set to market at renewal (staggered)")
    renovation_months: int = Field(0, ge=0, le=60, description="months from acquisition to first letting")
    lease_up_months: int = Field(ge=0, le=60, description="months for occupancy to ramp linearly to its stabilised level")
    stabilised_occupancy: float = Field(gt=0, le=1, description="stabilised occupancy, share of units let")
    collection_rate: float = Field(gt=0, le=1, description="share of billed rent collected")
    opex_yuan_per_m2_year: float = Field(ge=0, le=MAX_COST_YUAN_PER_M2_YEAR, description="operating and maintenance cost, yuan/m²/year at start, grows with CPI")
    management_fee_share: float = Field(ge=0, lt=1, description="management cost as a share of collected rent")
    vat_rate_on_rent: float = Field(ge=0, le=0.2, description="VAT on collected rent (simplified method: 0.015)")
    property_tax_rate_on_rent: float = Field(ge=0, le=0.2, description="property tax on collected rent (reduced: 0.04)")
    capex_reserve_share_of_rent: float = Field(ge=0, lt=1, description="capital-expenditure reserve, share of collected rent")
    rent_subsidy_yuan_per_unit_month: float = Field(
        0.0, ge=0, le=MAX_YUAN_PER_UNIT, description="budgeted rent subsidy (e.g. talent housing) per let unit per month, yuan"
    )
    pre_allocation_share: float | None = Field(
        None, ge=0, le=1, description="share of units pre-allocated to eligible tenants with deposits before the "
        "purchase (配租比例, Suihua seeds/001 §三(五)); absent = none recorded")

    @model_validator(mode="after")
    def _shares(self) -> "RentalOps":
        total = (self.management_fee_share + self.vat_rate_on_rent + self.property_tax_rate_on_rent
                 + self.capex_reserve_share_of_rent)
        if total >= 1.0:
            raise ValueError(f"management + VAT + property tax + capex shares of rent add up to {total:.3f}; must be < 1")
        return self


class Buyback(_Model):
    """[projects.sale.buyback] — closed management: the SOE buys units back after the lock-up."""

    lockup_years: int = Field(ge=0, le=30, description="years after hand-over before an owner may ask for a buyback")
    hazard_annual: float = Field(ge=0, le=1, description="yearly probability an eligible owner asks for a buyback at price index ≥ 1")
    price_sensitivity: float = Field(
        ge=0, le=50, description="hazard multiplier per unit of price fall: hazard × (1 + s × max(0, 1 − house-price index))"
    )
    price_rule: Literal["market_minus_fees", "original_indexed"] = Field(
        description="buyback price: market-assessed minus fees (Loudi) or original price indexed at a fixed rate"
    )
    fee_share: float = Field(0.0, ge=0, lt=1, description="fees deducted from the market price (market_minus_fees)")
    index_rate_annual: float = Field(0.0, ge=-0.2, le=0.2, description="yearly indexation of the original price (original_indexed)")
    resale_delay_months: int = Field(ge=0, le=120, description="months until a bought-back unit is resold")
    resale_margin: float = Field(0.0, ge=0, le=0.2, description="resale price = buyback price × (1 + resale_margin)")
    acceptance_share: float = Field(
        1.0, ge=0, le=1, description="share of owners' buyback requests the buyer accepts (default conventions): 1 = an "
        "owner put; Loudi seeds/003 §八(一)4 makes it a negotiated right of first refusal (经双方协商一致后…优先回购). "
        "A refused owner keeps the unit and asks no more")
    payer: Literal["soe", "government"] = Field(
        "soe", description="who pays buybacks (default conventions): the SOE from project cash, or the government "
        "(Beitun seeds/004 §四(三): 由师市人民政府委托相关单位…予以回购) — a budgeted obligation, resale proceeds "
        "back to the budget")


class Walkaway(_Model):
    """[projects.sale.walkaway] — a pre-subscribed buyer may walk away at hand-over, forfeiting the deposit.

    Share walking away at hand-over h = min(1, base_share + gap_sensitivity × max(0, (P − V) / P)), with P the
    affordable price and V = appraisal × house-price index the market value of the unit then; walked units
    return to the unsold inventory (absorbed like any other), the deposit stays with the SOE.
    """

    base_share: float = Field(0.0, ge=0, le=1, description="share walking away when the price is at or below market (assumption: 0–0.05)")
    gap_sensitivity: float = Field(2.0, ge=0, le=20, description="extra share per unit of price-over-market gap (assumption: 1–4)")


class SaleOps(_Model):
    """[projects.sale] — 配售型 operations under closed management."""

    margin: float = Field(ge=0, le=0.5, description="sale price = cost per m² × (1 + margin) (policy: ≤ 0.05)")
    presubscription_share: float = Field(ge=0, le=1, description="share of units pre-subscribed with deposits before acquisition")
    deposit_share: float = Field(ge=0, le=1, description="deposit as a share of the price, received at the acquisition start")
    handover_delay_months: int = Field(ge=0, le=60, description="months after the units are available until pre-subscribed units are handed over")
    absorption_monthly: float = Field(ge=0, le=1, description="share of remaining unsold units sold per month at house-price index 1")
    absorption_price_elasticity: float = Field(ge=0, le=20, description="absorption × index^elasticity: slower when prices fall")
    sweep_share: float = Field(ge=0, le=1, description="share of sale proceeds that prepays bank loans (mandatory prepayment)")
    holding_cost_yuan_per_m2_year: float = Field(ge=0, le=MAX_COST_YUAN_PER_M2_YEAR, description="holding cost of unsold units, yuan/m²/year at start, grows with CPI")
    sales_tax_rate: float = Field(ge=0, le=0.2, description="taxes and fees on sale proceeds, share of proceeds")
    buyer_down_payment_share: float = Field(ge=0, le=1, description="buyers' down payment share (buyer side; for compliance)")
    buyback: Buyback | None = Field(None, description="buyback terms after the lock-up; absent = no buybacks")
    walkaway: Walkaway | None = Field(None, description="pre-subscribed buyers who may walk away at hand-over; absent = all complete")
    deposits_in_escrow: bool | None = Field(
        None, description="pre-sale deposits held in escrow (预售资金监管) until the units are available; absent = true for "
                          "new builds under the default conventions, false under legacy")
    buyback_reserve_share: float = Field(
        0.0, ge=0, le=1, description="share of sale proceeds set aside in a buyback reserve that pays buybacks first "
                                     "(default conventions; 0 = none)")


class Construction(_Model):
    """[projects.construction] — new-build projects (Beitun): land then construction draws, then sales."""

    land_cost_yuan: float = Field(ge=0, le=MAX_YUAN, description="allocated land cost (划拨), paid at the construction start")
    construction_cost_yuan_per_m2: float = Field(gt=0, le=MAX_YUAN_PER_M2, description="construction cost per m² of floor area")
    start_month: int = Field(ge=0, le=MAX_MONTH, description="month construction starts")
    months: int = Field(ge=1, le=120, description="construction period; cost drawn evenly; units available after it")
    delay_months: int = Field(0, ge=0, le=60, description="completion delay when it happens, months (default "
                              "conventions; assumption, Beitun seeds/004 §二(四) 稳慎有序)")
    delay_probability: float = Field(0.0, ge=0, le=1, description="probability of the delay, drawn once per path")
    overrun_share: float = Field(0.0, ge=0, le=2, description="construction-cost overrun when it happens, share of "
                                 "the construction cost, paid with the construction draws by extra SOE equity")
    overrun_probability: float = Field(0.0, ge=0, le=1, description="probability of the overrun, drawn once per path")


class CostBasis(_Model):
    """[projects.cost_basis] — figures only the policy checks use: the cost build-up behind a purchase price.

    Suihua (seeds/001 §三(四)) and Loudi (seeds/003 §五 3(2)) cap the purchase price at allocated-land cost
    (划拨土地成本) + construction cost (建安成本) + ≤ 5 % profit; Suihua and Weihai (seeds/002 §二(五)) cap it at
    the appraised replacement price of affordable housing at the same location (同地段保障性住房重置价格).
    The engine does not read these figures."""

    land_yuan_per_m2: float = Field(ge=0, le=MAX_YUAN_PER_M2, description="allocated-land cost (划拨土地成本) per m² of floor area, yuan")
    construction_yuan_per_m2: float = Field(gt=0, le=MAX_YUAN_PER_M2, description="construction and installation cost (建安成本) per m², yuan")
    replacement_yuan_per_m2: float | None = Field(
        None, gt=0, le=MAX_YUAN_PER_M2, description="appraised replacement price of affordable housing at the same location (重置价格), yuan/m²"
    )


# ----------------------------------------------------------------------------------------------- financing
class Relending(_Model):
    """[projects.financing.loans.relending] — PBoC affordable-housing relending (保障性住房再贷款)."""

    share: float = Field(gt=0, le=1, description="share of loan principal refinanced by relending (PBoC: 1.0 since 2024-09)")
    rate: float = Field(ge=0, le=0.2, description="annual rate the SOE pays on the refinanced share while relending lasts")
    term_years: int = Field(1, ge=1, le=5, description="relending term in years (1)")
    rollovers: int = Field(ge=0, le=30, description="number of renewals; after the last one the share pays the loan's own rate")
    reprice_probability: float = Field(
        0.5, ge=0, le=1, description="default conventions: probability the bank reprices the loan to its own terms "
        "(fixed_rate, or LPR + spread) at the reset when relending ends; otherwise the contract rate stays "
        "(assumption: 0–1; legacy: always)")


class Loan(_Model):
    """[[projects.financing.loans]] — bank loans (住房租赁团体购房贷款 / 保障性住房收购贷款)."""

    name: str = Field(description="loan name")
    amount_yuan: float = Field(gt=0, le=MAX_YUAN, description="principal, yuan; drawn pro rata with the project's uses")
    term_years: int = Field(ge=1, le=40, description="term in years from the first draw")
    grace_months: int = Field(0, ge=0, le=240, description="interest-only months from the first draw")
    amortisation: Literal["annuity", "equal_principal", "interest_only", "bullet"] = Field(
        description="annuity (等额本息), equal principal (等额本金), interest-only then principal at maturity, or bullet (interest capitalised)"
    )
    rate_type: Literal["fixed", "floating"] = Field(description="fixed rate, or LPR + spread re-set monthly")
    fixed_rate: float | None = Field(None, ge=0, le=0.3, description="annual rate when rate_type = fixed")
    spread_over_lpr: float | None = Field(None, ge=-0.05, le=0.1, description="annual spread over the 5-year LPR when floating")
    capitalise_interest_in_grace: bool = Field(False, description="add interest to principal during the grace period")
    relending: Relending | None = Field(None, description="PBoC relending on part of the principal")

    @model_validator(mode="after")
    def _rate(self) -> "Loan":
        if self.rate_type == "fixed" and self.fixed_rate is None:
            raise ValueError("fixed_rate is required when rate_type = 'fixed'")
        if self.rate_type == "floating" and self.spread_over_lpr is None:
            raise ValueError("spread_over_lpr is required when rate_type = 'floating'")
        if self.grace_months >= self.term_years * 12 and self.amortisation in ("annuity", "equal_principal"):
            raise ValueError(f"grace_months ({self.grace_months}) must be shorter than the term ({self.term_years * 12} months)")
        return self


class BondRepayment(_Model):
    year: int = Field(ge=1, le=40, description="bond year (1 = first year after issue) at whose end this share is repaid")
    share: float = Field(gt=0, le=1, description="share of the bond's principal repaid")


def check_repayment_schedule(bond):
    """A bond's principal rule and schedule agree: a schedule's shares sum to 1 and end within the term; a bullet
    has no schedule. Returns the bond (a model validator of special and SOE bonds alike)."""
    if bond.principal == "schedule":
        if not bond.schedule:
            raise ValueError("principal = 'schedule' needs a non-empty schedule")
        total = sum(item.share for item in bond.schedule)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"schedule shares must sum to 1, got {total:.6g}")
        if max(item.year for item in bond.schedule) > bond.term_years:
            raise ValueError("schedule has a repayment after the bond's term")
    elif bond.schedule:
        raise ValueError("schedule given but principal = 'bullet'")
    return bond


class Bond(_Model):
    """[[projects.financing.bonds]] — local-government special bonds (专项债)."""

    name: str = Field(description="bond name")
    amount_yuan: float = Field(gt=0, le=MAX_YUAN, description="principal, yuan; issued pro rata with the project's uses")
    coupon: float = Field(ge=0, le=0.2, description="annual coupon rate")
    term_years: int = Field(ge=1, le=40, description="tenor in years (5, 7, 10, 15, 20, 30)")
    coupon_frequency: Literal["annual", "semiannual"] = Field(description="coupon paid yearly or half-yearly")
    principal: Literal["bullet", "schedule"] = Field("bullet", description="bullet at maturity, or the repayment schedule")
    schedule: list[BondRepayment] = Field(default_factory=list, description="early repayment schedule (shares sum to 1)")
    counts_as_capital: bool = Field(False, description="bond counted as project capital (资本金), Liaoning / 国办发〔2024〕52号")

    @model_validator(mode="after")
    def _schedule(self) -> "Bond":
        return check_repayment_schedule(self)


class SoeBond(_Model):
    """[[projects.financing.soe_bonds]] — the SOE's corporate bonds (公司信用类债券 / 企业债券): Weihai seeds/002
    §二(四) allows them for the purchase; Loudi seeds/003 §六(一)1 names them as a source of own funds. SOE debt:
    a budget payment of their service is a hidden-debt call. Schedule as for special bonds."""

    name: str = Field(description="bond name")
    amount_yuan: float = Field(gt=0, description="principal, yuan; issued pro rata with the project's uses")
    coupon: float = Field(ge=0, le=0.2, description="annual coupon rate")
    term_years: int = Field(ge=1, le=40, description="tenor in years")
    coupon_frequency: Literal["annual", "semiannual"] = Field(description="coupon paid yearly or half-yearly")
    principal: Literal["bullet", "schedule"] = Field("bullet", description="bullet at maturity, or the repayment schedule")
    schedule: list[BondRepayment] = Field(default_factory=list, description="repayment schedule (shares sum to 1)")

    @model_validator(mode="after")
    def _schedule(self) -> "SoeBond":
        return check_repayment_schedule(self)


class Grant(_Model):
    """[[projects.financing.grants]] — central / provincial / municipal grants."""

    name: str = Field(description="grant name")
    source: Literal["central", "provincial", "municipal", "housing_provident_fund", "other"] = Field(
        description="who pays"
    )
    amount_yuan: float = Field(0.0, ge=0, le=MAX_YUAN, description="lump sum, yuan")
    per_unit_yuan: float = Field(0.0, ge=0, le=MAX_YUAN_PER_UNIT, description="amount per unit of the project, yuan")
    capital: bool = Field(description="true: a source of the acquisition (drawn pro rata with uses); false: an operating subsidy at `month`")
    month: int | None = Field(None, ge=0, le=MAX_MONTH, description="month an operating grant is received (required when capital = false)")

    @model_validator(mode="after")
    def _when(self) -> "Grant":
        if not self.capital and self.month is None:
            raise ValueError("month is required for an operating grant (capital = false)")
        if self.capital and self.month is not None:
            raise ValueError("a capital grant is drawn with the uses; remove month or set capital = false")
        if self.amount_yuan == 0 and self.per_unit_yuan == 0:
            raise ValueError("give amount_yuan or per_unit_yuan")
        return self


class InterestSubsidy(_Model):
    """[projects.financing.interest_subsidy] — 贴息, e.g. from 公积金 value-added income (Loudi)."""

    share_of_interest: float = Field(gt=0, le=1, description="share of bank-loan interest paid by the subsidy")
    years: int = Field(ge=1, le=40, description="years from the programme start during which the subsidy is paid")


class Financing(_Model):
    """[projects.financing] — the project's sources. Capital sources must equal the project's uses."""

    equity_yuan: float = Field(ge=0, le=MAX_YUAN, description="SOE own funds (资本金), drawn pro rata with uses")
    loans: list[Loan] = Field(default_factory=list, description="bank loans")
    bonds: list[Bond] = Field(default_factory=list, description="special bonds")
    soe_bonds: list[SoeBond] = Field(default_factory=list, description="the SOE's corporate bonds (公司信用类债券)")
    grants: list[Grant] = Field(default_factory=list, description="grants (capital or operating)")
    interest_subsidy: InterestSubsidy | None = Field(None, description="interest subsidy (贴息) on bank loans")


class Project(_Model):
    """[[projects]] — one ring-fenced project (单独核算、封闭管理)."""

    name: str = Field(description="project name")
    type: Literal["rental", "sale"] = Field(description="rental (配租型) or sale (配售型)")
    units: int = Field(gt=0, le=MAX_UNITS, description="number of dwelling units")
    area_m2: float = Field(gt=0, le=1000, description="average floor area per unit, m²")
    appraisal_yuan_per_m2: float = Field(gt=0, le=MAX_YUAN_PER_M2, description="market appraisal at the start, yuan/m² (collateral, buybacks)")
    acquisition_price_yuan_per_m2: float = Field(0.0, ge=0, le=MAX_YUAN_PER_M2, description="purchase price, yuan/m² (0 for new-build)")
    acquisition_start_month: int = Field(0, ge=0, le=MAX_MONTH, description="first month of the purchase")
    acquisition_months: int = Field(1, ge=1, le=120, description="months over which the purchase is paid evenly")
    purchase_tax_rate: float = Field(0.0, ge=0, le=0.2, description="deed tax and fees on the purchase price")
    renovation_yuan_per_m2: float = Field(0.0, ge=0, le=MAX_YUAN_PER_M2, description="renovation / fit-out, yuan/m², paid with the purchase")
    upfront_reserve_yuan: float = Field(0.0, ge=0, le=MAX_YUAN, description="reserve funded at close into the DSRA (a use of funds)")
    construction: Construction | None = Field(None, description="new-build phase (Beitun)")
    cost_basis: CostBasis | None = Field(None, description="cost build-up of the purchase price, for policy checks only")
    rental: RentalOps | None = Field(None, description="rental operations (type = rental)")
    sale: SaleOps | None = Field(None, description="sale operations (type = sale)")
    financing: Financing = Field(description="sources of funds")
    acquisition_condition_share: float | None = Field(
        None, gt=0, le=1, description="default conventions: the purchase (or build) goes ahead only when at least this "
        "share of units is pre-subscribed (sale) or pre-allocated (rental) — Suihua seeds/001 §三(五): 0.95; a project "
        "short of it is not bought (no uses, no sources); absent = no condition")
    owner: Literal["soe", "government"] = Field(
        "soe", description="who owns the block: the programme's SOE (收购主体), or the government itself (Liaoning "
        "seeds/000 §二: 公租房 bought by 各地区政府, §三: 保租房 by a chosen SOE). A government-owned block is on "
        "budget: no bank loan or SOE bond (budget law: local governments borrow only by bonds), its equity is the "
        "budget's own funds, SOE money never pays its gaps, its operating gaps are explicit budget spending (not a "
        "hidden-debt call), its bond gaps the explicit bond burden and its distributions return to the budget")

    @model_validator(mode="after")
    def _kind(self) -> "Project":
        if self.type == "rental" and (self.rental is None or self.sale is not None):
            raise ValueError("a rental project needs a [rental] table and no [sale] table")
        if self.type == "sale" and (self.sale is None or self.rental is not None):
            raise ValueError("a sale project needs a [sale] table and no [rental] table")
        if self.construction is None and self.acquisition_price_yuan_per_m2 <= 0:
            raise ValueError("acquisition_price_yuan_per_m2 must be > 0 for a purchase (or add a [construction] table)")
        c = self.construction
        if c is not None and self.rental is not None and c.delay_months > 0 and c.delay_probability > 0:
            raise ValueError("construction.delay_months: a construction delay is modelled for sale-type new builds only")
        if self.owner == "government" and (self.financing.loans or self.financing.soe_bonds):
            raise ValueError("owner = \"government\": a government-owned block borrows only by special bonds "
                             "(预算法 §35); remove its bank loans and SOE bonds")
        return self


# ----------------------------------------------------------------------------------------------- waterfall, policy
class Waterfall(_Model):
    """[waterfall] — ring-fencing, seniority, reserves and who covers a shortfall."""

    seniority: Literal["bank_first", "bonds_first"] = Field("bank_first", description="which debt is paid first from CFADS")
    dsra_months: float = Field(ge=0, le=24, description="DSRA target, months of the current scheduled debt service")
    lockup_dscr: float = Field(ge=0, le=5, description="distributions blocked while trailing-12-month DSCR is below this")
    soe_support_capacity_yuan: float = Field(ge=0, le=MAX_YUAN, description="SOE's total capacity to support the projects over the horizon (own cash, parent)")
    soe_support_revolving: bool = Field(
        False, description="distributions the SOE receives restore its support capacity (up to the stated capacity); false = a pot that never refills"
    )
    cross_project_support: bool = Field(False, description="may one project's surplus cover another's shortfall (ring-fence off)")
    terminal_value_haircut: float = Field(
        ge=0, le=1, description="haircut on the market value of units still held at the horizon (terminal value for IRR/NPV)"
    )


class Credit(_Model):
    """[credit] — the bank lens's recovery assumptions (LGD) and grading targets. Assumptions, not policy:
    vary them in sensitivity runs."""

    forced_sale_haircut: float = Field(0.30, ge=0, lt=1, description="discount of a forced sale to market value (assumption: 0.2–0.4)")
    liquidation_months: int = Field(24, ge=0, le=120, description="months from default to recovery (assumption: 12–36)")
    liquidation_cost_share: float = Field(0.05, ge=0, lt=1, description="legal and sale costs, share of gross recovery (assumption)")
    recovery_discount_rate: float = Field(0.04, ge=0, le=0.3, description="annual rate discounting the recovery to the default date")
    borrower: Literal["project", "soe_full_recourse"] = Field(
        "project", description="who the bank lends to: a ring-fenced project (specialised-lending slotting, PD from the "
        "project's own shortfall before SOE money) or the operating SOE on full recourse (corporate PD from the SOE's "
        "exhaustion event); the seeds' borrowers are operating SOEs (seeds/000, 002, 003)")


class Policy(_Model):
    """[policy] — which documents the plan is held to (compliance), and figures only policy checks use."""

    rule_sets: list[Literal[RULE_SETS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["national"], min_length=1,
        description="rule sets the plan is held to (at least one, each once): " + ", ".join(RULE_SETS))
    materiality_share_of_investment: float = Field(
        0.01, ge=0, le=1, description="a call counts as material when its PV exceeds this share of the programme's total "
        "investment (assumption: 1 %, the order of an audit's planning materiality; 0 = any yuan is a call)")
    bond_coverage_floor: float | None = Field(
        None, ge=0, le=5, description="本息覆盖倍数 floor the plan is held to: no national minimum, 1.1 / 1.2 / 1.3 are "
        "local or consultant norms (domain-facts §2, V); absent = no floor checked")
    bond_coverage_ceiling: float = Field(
        3.0, gt=0, le=50, description="a coverage above this is flagged as implausible (debt-management systems flag "
        "implausibly high coverage, domain-facts §5, V; the threshold 3.0 is an assumption)")
    government_fund_revenue_yuan: float | None = Field(
        None, ge=0, description="the city's government-fund budget revenue per year at the start, mostly land-transfer "
        "income (政府性基金预算收入), moving with the house-price index to the power fiscal_land_beta; absent = the "
        "land-tied part of fiscal_revenue_yuan stands in for it")
    comprehensive_fiscal_capacity_yuan: float | None = Field(
        None, gt=0, description="综合财力 (general budget + government-fund revenue + transfers) for the 债务率; absent = "
        "fiscal_revenue_yuan + government_fund_revenue_yuan (transfers left out: the ratio is then an upper bound)")
    city_debt_yuan: float | None = Field(
        None, ge=0, description="the city's government debt outstanding before the programme (地方政府债务余额), to place "
        "the programme's 债务率 against the warning bands; absent = the programme's own contribution only")

    @model_validator(mode="after")
    def _unique(self) -> "Policy":
        if len(set(self.rule_sets)) != len(self.rule_sets):
            raise ValueError(f"rule_sets: each rule set once, got {list(self.rule_sets)}")
        return self


# ----------------------------------------------------------------------------------------------- market
class Stress(_Model):
    """[[market.stresses]] — deterministic overlay on the market paths, applied when selected by name."""

    name: str = Field(description="name used to select the stress")
    price_change: float = Field(0.0, gt=-1, le=5, description="cumulative house-price change over the window, e.g. -0.30")
    price_start_month: int = Field(0, ge=0, le=MAX_MONTH, description="first month of the price change")
    price_months: int = Field(1, ge=1, le=MAX_MONTH, description="months over which the price change is spread (log-linear)")
    rent_change: float = Field(0.0, gt=-1, le=5, description="cumulative market-rent change over the price window")
    rate_shift_bp: float = Field(0.0, ge=-1000, le=2000, description="shift of the LPR from rate_start_month on, basis points")
    rate_start_month: int = Field(0, ge=0, le=MAX_MONTH, description="month the rate shift starts")
    occupancy_shift: float = Field(0.0, ge=-1, le=1, description="shift of occupancy from occupancy_start_month on")
    occupancy_start_month: int = Field(0, ge=0, le=MAX_MONTH, description="month the occupancy shift starts")
    relending_stops_month: int | None = Field(None, ge=0, le=MAX_MONTH, description="relending stops at this month: from it on the refinanced share pays the loan's own rate")


class ParameterUncertainty(_Model):
    """[market.parameter_uncertainty] — sampling uncertainty of calibrated market parameters (``baozhang calibrate``
    writes it). When enabled, a run draws the listed parameters once per chunk, independently normal around the
    scenario's values with these standard errors (clipped to each field's range), so P(call) carries the
    uncertainty of the estimates; the main shocks are unchanged. More chunks = more parameter draws."""

    enabled: bool = Field(True, description="draw the parameters per chunk (false: use the point values)")
    paths_per_draw: int = Field(
        500, ge=1, le=1_000_000,
        description="chunk size used when the run does not set one: one parameter draw per chunk of this many paths")
    se: dict[str, float] = Field(
        default_factory=dict, description="standard error of each drawn [market] field, by field name")

    @model_validator(mode="after")
    def _values(self) -> "ParameterUncertainty":
        for k, v in self.se.items():  # the names are checked by Market, which knows its fields
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"se: {k}: must be a finite number >= 0, got {v}")
        return self


class Market(_Model):
    """[market] — the stochastic drivers (annual parameters) and their correlation."""

    price_drift_annual: float = Field(ge=-0.5, le=0.5, description="expected annual growth of the house-price index after the decline regime: E[H_t] = exp(μ t)")
    price_vol_annual: float = Field(ge=0, le=1, description="annual volatility of the house-price index")
    decline_years: float = Field(0.0, ge=0, le=30, description="length of the initial decline regime, years")
    decline_drift_annual: float = Field(0.0, ge=-0.5, le=0.5, description="expected annual price growth during the decline regime")
    rent_drift_annual: float = Field(ge=-0.5, le=0.5, description="expected annual growth of market rent")
    rent_vol_annual: float = Field(ge=0, le=1, description="annual volatility of the market-rent index")
    rent_decline_years: float = Field(0.0, ge=0, le=30, description="length of an initial rent-decline regime, years (like the price one)")
    rent_decline_drift_annual: float = Field(0.0, ge=-0.5, le=0.5, description="expected annual rent growth during the rent-decline "
                                             "regime (50-city rents −1.2 to −2.4 %/yr in 2024, domain-facts §3)")
    lpr_initial: float = Field(ge=0, le=0.2, description="5-year LPR at the start (2025: 0.035)")
    lpr_mean: float = Field(ge=0, le=0.2, description="long-run mean of the LPR")
    lpr_reversion: float = Field(ge=0, le=5, description="mean-reversion speed of the LPR, per year")
    lpr_vol_annual: float = Field(ge=0, le=0.1, description="absolute annual volatility of the LPR")
    lpr_floor: float = Field(0.0, ge=0, le=0.2, description="floor of the LPR")
    cpi_drift_annual: float = Field(ge=-0.1, le=0.3, description="expected annual CPI inflation")
    cpi_vol_annual: float = Field(ge=0, le=0.2, description="annual volatility of the CPI index")
    occupancy_reversion: float = Field(ge=0, le=12, description="mean-reversion speed of the occupancy deviation, per year")
    occupancy_vol_annual: float = Field(ge=0, le=1, description="annual volatility of the occupancy deviation (absolute)")
    absorption_reversion: float = Field(ge=0, le=12, description="mean-reversion speed of the log absorption shock, per year")
    absorption_vol_annual: float = Field(ge=0, le=3, description="annual volatility of the log absorption shock")
    fiscal_growth_annual: float = Field(ge=-0.3, le=0.3, description="expected annual growth of non-land fiscal revenue")
    fiscal_vol_annual: float = Field(ge=0, le=1, description="annual volatility of non-land fiscal revenue")
    fiscal_land_share: float = Field(ge=0, le=1, description="share of fiscal revenue tied to land sales at the start")
    fiscal_land_beta: float = Field(ge=0, le=5, description="elasticity of land revenue to the house-price index")
    relending_nonrenewal_prob: float = Field(0.0, ge=0, le=1, description="probability relending is not renewed at a rollover")
    correlation: list[list[float]] | None = Field(
        None, description=f"correlation of the innovations, order {list(DRIVERS)}; absent = independent"
    )
    stresses: list[Stress] = Field(default_factory=list, description="named deterministic stress overlays")
    parameter_uncertainty: ParameterUncertainty | None = Field(
        None, description="standard errors of calibrated parameters, drawn per chunk (absent = parameters known)")

    @model_validator(mode="after")
    def _corr(self) -> "Market":
        if self.correlation is not None:
            try:
                validate_correlation(self.correlation)
            except ValueError as exc:  # located as market.correlation by format_validation_error
                raise ValueError(f"correlation: {str(exc).removeprefix('correlation ')}") from None
        if self.parameter_uncertainty is not None:
            allowed = {k for k, f in Market.model_fields.items() if f.annotation is float}
            for k in self.parameter_uncertainty.se:
                if k not in allowed:
                    raise ValueError(f"parameter_uncertainty.se: {k!r} is not a numeric [market] field "
                                     f"(one of {', '.join(sorted(allowed))})")
        names = [s.name for s in self.stresses]
        if len(set(names)) != len(names):
            raise ValueError(f"stresses: names must be unique, got {names}")
        return self


def validate_correlation(matrix: list[list[float]]) -> np.ndarray:
    """Check a correlation matrix is square of the driver count, symmetric, unit-diagonal, within [−1, 1] and PSD."""
    n = len(DRIVERS)
    c = np.asarray(matrix, dtype=float)
    if c.shape != (n, n):
        raise ValueError(f"correlation must be {n}×{n} (order {list(DRIVERS)}), got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError("correlation has non-finite entries")
    if not np.allclose(c, c.T, atol=1e-12):
        i, j = np.argwhere(~np.isclose(c, c.T, atol=1e-12))[0]
        raise ValueError(f"correlation is not symmetric: [{i}][{j}]={c[i, j]} but [{j}][{i}]={c[j, i]}")
    if not np.allclose(np.diag(c), 1.0, atol=1e-12):
        raise ValueError("correlation must have a unit diagonal")
    if np.any(np.abs(c) > 1):
        raise ValueError("correlation entries must lie in [-1, 1]")
    lam = np.linalg.eigvalsh(c)
    if lam.min() < -1e-10:
        raise ValueError(f"correlation is not positive semi-definite (smallest eigenvalue {lam.min():.4g})")
    return c


class Simulation(_Model):
    """[simulation] — defaults for a run (the CLI may override)."""

    paths: int = Field(10_000, ge=1, le=100_000_000, description="number of Monte Carlo paths")
    seed: int = Field(20251124, ge=0, le=MAX_SEED, description="master seed")
    chunk_size: int = Field(10_000, ge=1, le=1_000_000, description="paths per chunk; results depend on it, never on workers")
    sampling: Literal["mc", "antithetic", "rqmc"] = Field(
        "mc", description="how the shocks are drawn: mc (plain Monte Carlo), antithetic (pairs of paths with "
        "negated normals), rqmc (scrambled Sobol with a Brownian-bridge order, replicates of rqmc_points paths); "
        "standard errors follow the mode (docs/decisions.md)")
    rqmc_points: int = Field(1024, ge=2, le=65_536, description="rqmc: Sobol points per replicate (a power of 2)")
    control_variates: bool = Field(
        False, description="mc only: adjust the four headline estimates (P(call), E[hidden-debt PV], E[bond-burden "
        "PV], P(self-financing)) by regression on the market drivers' deviations from their expected paths, whose "
        "expectation is exactly 0; the SEs are the regression residuals' (docs/decisions.md)")
    engine: Literal["auto", "numpy", "compiled"] = Field(
        "auto", description="the month's stages: auto (their compiled numba twins when numba is installed and they "
        "cover the scenario, else numpy), numpy (the readable reference) or compiled; the same numbers bit for bit "
        "(docs/decisions.md 56); the environment variable BAOZHANG_ENGINE overrides it")

    @model_validator(mode="after")
    def _power_of_two(self) -> "Simulation":
        if self.rqmc_points & (self.rqmc_points - 1):
            raise ValueError(f"rqmc_points must be a power of 2, got {self.rqmc_points}")
        if self.control_variates and self.sampling != "mc":
            raise ValueError(f"control_variates needs sampling = 'mc' (got {self.sampling!r}): antithetic pairs "
                             "already cancel the controls' linear part and rqmc has too few replicates to regress on")
        return self


# ----------------------------------------------------------------------------------------------- scenario
class Scenario(_Model):
    """A whole scenario file."""

    programme: Programme
    projects: list[Project] = Field(min_length=1, description="the projects, each ring-fenced")
    waterfall: Waterfall
    policy: Policy = Field(default_factory=Policy)
    credit: Credit = Field(default_factory=Credit)
    market: Market
    simulation: Simulation = Field(default_factory=Simulation)
    support: SupportPolicy = Field(default_factory=SupportPolicy, description="who pays a shortfall, and the conventions")
    cures: Cures = Field(default_factory=Cures, description="what is tried before government money; absent = nothing")

    @model_validator(mode="after")
    def _consistency(self) -> "Scenario":
        horizon_m = self.programme.horizon_years * 12
        names = [p.name for p in self.projects]
        if len(set(names)) != len(names):
            raise ValueError(f"projects: project names must be unique, got {names}")
        problems: list[str] = []
        if self.waterfall.cross_project_support and any(p.owner == "government" for p in self.projects):
            problems.append("waterfall.cross_project_support: a government-owned block (owner = \"government\") is "
                            "on budget and may not share cash with the SOE's blocks; set it to false")
        for i, p in enumerate(self.projects):
            where = f"projects[{i}]"
            first = first_use_month(p)
            avail = available_month(p)
            if avail >= horizon_m:
                problems.append(f"{where}: units become available in month {avail}, after the horizon ({horizon_m} months)")
            uses = total_uses_yuan(p)
            sources = total_capital_sources_yuan(p)
            if abs(sources - uses) > SOURCES_USES_TOLERANCE_YUAN:
                problems.append(
                    f"{where}.financing: sources {sources:,.0f} ≠ uses {uses:,.0f} yuan "
                    f"(difference {sources - uses:+,.0f}); equity + loans + bonds + SOE bonds + capital grants must equal "
                    "purchase + taxes + renovation + land + construction + upfront reserve"
                )
            for j, loan in enumerate(p.financing.loans):
                if first + loan.term_years * 12 > horizon_m:
                    problems.append(
                        f"{where}.financing.loans[{j}].term_years: loan runs to month {first + loan.term_years * 12}, "
                        f"beyond the horizon ({horizon_m} months)"
                    )
            for j, bond in enumerate(p.financing.bonds):
                if first + bond.term_years * 12 > horizon_m:
                    problems.append(
                        f"{where}.financing.bonds[{j}].term_years: bond runs to month {first + bond.term_years * 12}, "
                        f"beyond the horizon ({horizon_m} months)"
                    )
            for j, b in enumerate(p.financing.soe_bonds):
                if first + b.term_years * 12 > horizon_m:
                    problems.append(
                        f"{where}.financing.soe_bonds[{j}].term_years: bond runs to month {first + b.term_years * 12}, "
                        f"beyond the horizon ({horizon_m} months)"
                    )
            if p.construction is not None and avail + p.construction.delay_months >= horizon_m:
                problems.append(f"{where}.construction.delay_months: a delayed completion falls after the horizon")
            for j, g in enumerate(p.financing.grants):
                if g.month is not None and g.month >= horizon_m:
                    problems.append(f"{where}.financing.grants[{j}].month: {g.month} is beyond the horizon")
        for j, st in enumerate(self.market.stresses):
            where = f"market.stresses[{j}]"
            if st.price_start_month + st.price_months > horizon_m:
                problems.append(f"{where}.price_months: the price window runs to month "
                                f"{st.price_start_month + st.price_months}, beyond the horizon ({horizon_m} months)")
            for name in ("rate_start_month", "occupancy_start_month"):
                if getattr(st, name) >= horizon_m:
                    problems.append(f"{where}.{name}: {getattr(st, name)} is beyond the horizon ({horizon_m} months)")
            if st.relending_stops_month is not None and st.relending_stops_month > horizon_m:
                problems.append(f"{where}.relending_stops_month: {st.relending_stops_month} is beyond the horizon "
                                f"({horizon_m} months)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def stress(self, name: str) -> Stress:
        for s in self.market.stresses:
            if s.name == name:
                return s
        raise ScenarioError(f"market.stresses: no stress named {name!r} (have {[s.name for s in self.market.stresses]})")

    def sha256(self) -> str:
        """Hash of the validated content (canonical JSON), stable across formatting of the file."""
        # a scenario without parameter uncertainty hashes as it did before the table existed
        exclude = None if self.market.parameter_uncertainty is not None else {"market": {"parameter_uncertainty"}}
        return hashlib.sha256(self.model_dump_json(exclude=exclude).encode()).hexdigest()


# ----------------------------------------------------------------------------------------------- derived figures
def first_use_month(p: Project) -> int:
    """Month of the project's first use of funds (construction start or acquisition start)."""
    if p.construction is not None:
        return p.construction.start_month
    return p.acquisition_start_month


def available_month(p: Project) -> int:
    """First month the units can be let or handed over (after purchase or construction, plus renovation)."""
    if p.construction is not None:
        end = p.construction.start_month + p.construction.months
    else:
        end = p.acquisition_start_month + p.acquisition_months
    if p.rental is not None:
        end += p.rental.renovation_months
    return end


def floor_area_m2(p: Project) -> float:
    return p.units * p.area_m2


def total_cost_yuan(p: Project) -> float:
    """Development cost: purchase + purchase taxes + renovation + land + construction (excludes reserves)."""
    area = floor_area_m2(p)
    cost = area * (p.acquisition_price_yuan_per_m2 * (1 + p.purchase_tax_rate) + p.renovation_yuan_per_m2)
    if p.construction is not None:
        cost += p.construction.land_cost_yuan + area * p.construction.construction_cost_yuan_per_m2
    return cost


def total_uses_yuan(p: Project) -> float:
    """Total investment (总投资) = development cost + upfront reserve."""
    return total_cost_yuan(p) + p.upfront_reserve_yuan


def grant_amount_yuan(g: Grant, p: Project) -> float:
    return g.amount_yuan + g.per_unit_yuan * p.units


def total_capital_sources_yuan(p: Project) -> float:
    f = p.financing
    return (
        f.equity_yuan
        + sum(loan.amount_yuan for loan in f.loans)
        + sum(b.amount_yuan for b in f.bonds)
        + sum(b.amount_yuan for b in f.soe_bonds)
        + sum(grant_amount_yuan(g, p) for g in f.grants if g.capital)
    )


def equity_share(p: Project) -> float:
    """SOE own funds ÷ total investment."""
    return p.financing.equity_yuan / total_uses_yuan(p)


def capital_share(p: Project) -> float:
    """Project capital (资本金) ÷ total investment: own funds + bonds counted as capital + capital grants."""
    f = p.financing
    cap = f.equity_yuan + sum(b.amount_yuan for b in f.bonds if b.counts_as_capital)
    cap += sum(grant_amount_yuan(g, p) for g in f.grants if g.capital)
    return cap / total_uses_yuan(p)


# ----------------------------------------------------------------------------------------------- loading
def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            part = str(part)
            if not re.fullmatch(r"[A-Za-z0-9_-]+", part):  # a key TOML must quote: show it quoted
                part = json.dumps(part, ensure_ascii=False)
            out += ("." if out else "") + part
    return out


def show_input(value: Any, limit: int = 60) -> str:
    """A value as the user wrote it, briefly and safely (TOML spelling: true/false, quoted strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) >= 10**limit:
            return f"an integer of {len(str(abs(value))) if abs(value) < 10**4000 else 'over 4,000'} digits"
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit] + "…"
        return repr(text)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _looks_numeric(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value.replace("_", ""))
    except ValueError:
        return False
    return True


def _describe(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    msg = err.get("msg", "")
    ctx = err.get("ctx") or {}
    got = err.get("input")
    shown = show_input(got)
    if kind == "extra_forbidden":
        return "unknown field (not in the scenario reference; check the spelling)"
    if kind == "missing":
        return "required field is missing"
    for op, word in (("greater_than", "> "), ("greater_than_equal", ">= "), ("less_than", "< "), ("less_than_equal", "<= ")):
        if kind == op:
            bound = next(iter(ctx.values())) if ctx else "?"
            return f"must be {word}{show_input(bound)}, got {shown}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if kind == "finite_number":
        return f"must be a finite number, got {shown}"
    expected = {"float_parsing": "a number", "float_type": "a number", "int_parsing": "an integer",
                "int_type": "an integer", "int_from_float": "a whole number", "string_type": "a string",
                "bool_type": "true or false", "bool_parsing": "true or false", "list_type": "a list",
                "model_type": "a table", "dict_type": "a table", "model_attributes_type": "a table"}
    if kind in expected:
        hint = ""
        if _looks_numeric(got) and kind in ("float_type", "int_type", "float_parsing", "int_parsing"):
            hint = " (a string: write numbers without quotes)"
        elif isinstance(got, bool) and kind in ("float_type", "int_type"):
            hint = " (a boolean)"
        elif isinstance(got, float) and kind == "int_type":
            hint = " (write a whole number without a decimal point)"
        elif isinstance(got, str) and kind == "bool_type":
            hint = " (write true or false without quotes)"
        elif isinstance(got, int) and kind == "float_type" and not isinstance(got, bool):
            hint = " (too large)"
        return f"must be {expected[kind]}, got {shown}{hint}"
    if kind == "literal_error" and "rule_sets" in err.get("loc", ()):
        return f"unknown rule set {shown} (known: {', '.join(RULE_SETS)})"
    if kind in ("literal_error", "string_pattern_mismatch", "enum"):
        return f"{msg[0].lower() + msg[1:] if msg else msg}, got {shown}"
    if kind == "too_short" and "rule_sets" in err.get("loc", ()):
        return f"name at least one rule set (known: {', '.join(RULE_SETS)}); an empty list would check nothing"
    if kind in ("too_short", "too_long"):
        return msg[0].lower() + msg[1:] if msg else msg
    return msg


_FIELD_PREFIX = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.*)$", re.S)


def format_validation_error(exc: ValidationError, source: str) -> ScenarioError:
    problems = []
    for err in exc.errors():
        where = _loc(err["loc"])
        field = _FIELD_PREFIX.match(err.get("msg", "").removeprefix("Value error, "))
        if err.get("type") == "value_error" and field:  # a validator naming the field: "correlation: not PSD"
            where = f"{where}.{field.group(1)}" if where else field.group(1)
            err = {**err, "msg": field.group(2)}
        problems.append(f"{source}: {where + ': ' if where else ''}{_describe(err)}")
    return ScenarioError("\n".join(problems), source=source, problems=problems)


#: largest scenario file read, bytes (the bundled ones are ~10 kB)
MAX_FILE_BYTES = 1_000_000
#: deepest nesting of tables, arrays and dotted keys (a scenario needs 5)
MAX_DEPTH = 32
#: most entries in one table or array, and longest string
MAX_ITEMS = 10_000
MAX_STRING = 10_000
#: longest run of digits in a TOML number (2**63 has 19)
MAX_DIGITS = 40
#: largest integer anywhere in a scenario (|n| ≤ 2**63 − 1); beyond it numbers overflow the engine
MAX_INT = 2**63 - 1


def check_structure(data: Any, source: str = "<dict>") -> None:
    """Refuse a dict no scenario can be: nested too deep, too many entries, huge integers or strings, keys that are
    not strings. Iterative (no recursion), so any reader (TOML, a workbook, an upload) can call it on what it built."""
    problems: list[str] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack and len(problems) < 5:
        node, loc = stack.pop()
        where = _loc(loc) or "(top level)"
        if len(loc) > MAX_DEPTH:
            problems.append(f"{source}: {_loc(loc[:MAX_DEPTH])}: nested more than {MAX_DEPTH} levels deep")
            continue
        if isinstance(node, dict):
            if len(node) > MAX_ITEMS:
                problems.append(f"{source}: {where}: more than {MAX_ITEMS:,} entries")
                continue
            for key, value in node.items():
                if not isinstance(key, str):
                    problems.append(f"{source}: {where}: key {show_input(key)} is not a string")
                    continue
                if len(key) > 200:
                    problems.append(f"{source}: {where}: a key of {len(key):,} characters (unknown field)")
                    continue
                stack.append((value, loc + (key,)))
        elif isinstance(node, (list, tuple)):
            if len(node) > MAX_ITEMS:
                problems.append(f"{source}: {where}: a list of more than {MAX_ITEMS:,} entries")
                continue
            stack.extend((v, loc + (k,)) for k, v in enumerate(node))
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int):
            if abs(node) > MAX_INT:
                problems.append(f"{source}: {where}: number too large ({show_input(node)}; at most {MAX_INT:,})")
        elif isinstance(node, str) and len(node) > MAX_STRING:
            problems.append(f"{source}: {where}: a string of {len(node):,} characters (at most {MAX_STRING:,})")
    if problems:
        raise ScenarioError("\n".join(problems), source=source, problems=problems)


def scenario_from_dict(data: dict[str, Any], source: str = "<dict>") -> Scenario:
    """Validate a dict as a :class:`Scenario`, raising :class:`ScenarioError` with located messages.

    Strict: a number must be a number (not a string or a boolean), an integer field an integer, a boolean a
    boolean, every number finite and within its field's range (see docs/scenario-reference.md)."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a table, got {show_input(data)}", source=source)
    check_structure(data, source)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(exc, source) from None
    except (RecursionError, OverflowError, MemoryError) as exc:  # pragma: no cover - check_structure prevents them
        raise ScenarioError(f"{source}: cannot be validated ({type(exc).__name__})", source=source) from None


def _depth_guard(text: str, source: str) -> None:
    """Refuse TOML text nested more than MAX_DEPTH levels (arrays, inline tables, dotted keys) before parsing it:
    tomllib recurses on nesting, and a key a.a.a… 100,000 levels deep exhausts memory."""
    depth = 0
    dots = 0
    line, line_start = 1, 0
    i, n = 0, len(text)

    def refuse(what: str) -> None:
        raise ScenarioError(f"{source}: line {line}, column {i - line_start + 1}: {what} nested more than "
                            f"{MAX_DEPTH} levels deep", source=source)

    while i < n:
        c = text[i]
        if c == "\n":
            line, line_start, dots = line + 1, i + 1, 0
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            triple = text.startswith(c * 3, i)
            i += 3 if triple else 1
            while i < n:
                ch = text[i]
                if ch == "\\" and c == '"':
                    i += 2
                    continue
                if ch == "\n":
                    if not triple:
                        break  # unterminated string: tomllib reports it
                    line, line_start = line + 1, i + 1
                if ch == c and (not triple or text.startswith(c * 3, i)):
                    i += 3 if triple else 1
                    break
                i += 1
            continue
        elif c in "[{":
            depth += 1
            dots = 0
            if depth + dots > MAX_DEPTH:
                refuse("arrays and tables")
        elif c in "]}":
            depth = max(0, depth - 1)
            dots = 0
        elif c in "=,":
            dots = 0
        elif c.isdigit():
            j = i
            while j < n and (text[j].isdigit() or text[j] == "_"):
                j += 1
            if j - i > MAX_DIGITS:
                raise ScenarioError(f"{source}: line {line}, column {i - line_start + 1}: a number of {j - i:,} digits "
                                    "(too large for any field)", source=source)
            i = j
            continue
        elif c == ".":
            dots += 1
            if depth + dots > MAX_DEPTH:
                refuse("keys")
        i += 1


_TOML_AT = re.compile(r"^(.*?)\s*\(at line (\d+), column (\d+)\)\s*$", re.S)


def decode_scenario_bytes(raw: bytes, source: str) -> str:
    """Bytes of a scenario file as text: UTF-8, with or without a byte-order mark; anything else is refused with
    advice (save as UTF-8), naming the line and column of the first byte that is not UTF-8."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ScenarioError(f"{source}: saved as UTF-16; save it as UTF-8", source=source)
    if b"\x00" in raw:
        pos = raw.index(b"\x00")
        line = raw.count(b"\n", 0, pos) + 1
        raise ScenarioError(f"{source}: line {line}: not a text file (a NUL byte); a scenario is a UTF-8 TOML file",
                            source=source)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        pos = exc.start
        line = raw.count(b"\n", 0, pos) + 1
        col = pos - (raw.rfind(b"\n", 0, pos) + 1) + 1
        guess = ""
        try:
            raw.decode("gb18030")
            guess = " (it looks like GBK / GB18030)"
        except UnicodeDecodeError:
            pass
        raise ScenarioError(f"{source}: line {line}, column {col}: not UTF-8 text (byte 0x{raw[pos]:02x}){guess}; "
                            "save the file as UTF-8", source=source) from None


def parse_scenario_text(text: str, source: str) -> dict[str, Any]:
    """TOML text to a dict, guarded (size, nesting) and with syntax errors as ``file: line L, column C: …``."""
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError(f"{source}: {len(text):,} characters; a scenario is at most {MAX_FILE_BYTES:,}",
                            source=source)
    _depth_guard(text, source)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_AT.match(msg)
        if m:
            what = m.group(1)
            what = what[0].lower() + what[1:] if what else "syntax error"
            raise ScenarioError(f"{source}: line {m.group(2)}, column {m.group(3)}: not valid TOML: {what}",
                                source=source) from None
        raise ScenarioError(f"{source}: not valid TOML: {msg}", source=source) from None
    except ValueError as exc:  # e.g. an integer literal of more than 4,300 digits
        raise ScenarioError(f"{source}: not valid TOML: {str(exc).splitlines()[0]}", source=source) from None
    except (RecursionError, MemoryError) as exc:  # pragma: no cover - _depth_guard prevents them
        raise ScenarioError(f"{source}: cannot be parsed ({type(exc).__name__})", source=source) from None


def read_scenario_bytes(p: Path) -> bytes:
    """The file's bytes, at most MAX_FILE_BYTES (refused beyond), with located one-line errors."""
    if not p.exists():
        raise ScenarioError(f"{p}: file not found", source=str(p))
    if p.is_dir():
        raise ScenarioError(f"{p}: is a directory, not a scenario file", source=str(p))
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read it ({exc.strerror or type(exc).__name__})", source=str(p)) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(f"{p}: larger than {MAX_FILE_BYTES:,} bytes; not a scenario file", source=str(p))
    return raw


#: row and column names of the matrices in an input workbook
GRID_LABELS = {"market.correlation": DRIVERS}


def load_workbook(path: str | Path, source: str | None = None) -> Scenario:
    """Read and validate a scenario from an input workbook (``baozhang template``); errors name sheet and cell."""
    src = source or str(path)
    try:
        data, cells = _workbook.workbook_to_dict(path, Scenario, source=src, grid_labels=GRID_LABELS)
    except _workbook.WorkbookError as exc:
        raise ScenarioError(str(exc), source=src, problems=exc.problems) from None
    try:
        return scenario_from_dict(data, source=src)
    except ScenarioError as exc:
        problems = _workbook.locate(exc.problems, cells, src)
        raise ScenarioError("\n".join(problems), source=src, problems=problems) from None


def load_scenario(path: str | Path | dict[str, Any]) -> Scenario:
    """Read and validate a scenario from a TOML file, an input workbook (.xlsx) or a dict."""
    if isinstance(path, dict):
        return scenario_from_dict(path)
    p = Path(path)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return load_workbook(p)  # the workbook reader builds a dict; scenario_from_dict applies the same strictness
    if p.suffix.lower() in (".xls", ".xlsb", ".ods"):
        raise ScenarioError(f"{p}: a {p.suffix} workbook is not read: save it as .xlsx (Excel: File → Save As → "
                            "Excel Workbook; 另存为 .xlsx) or give the scenario as a TOML file")
    raw = read_scenario_bytes(p)
    data = parse_scenario_text(decode_scenario_bytes(raw, str(p)), str(p))
    if isinstance(data, dict) and "portfolio" in data:  # model/portfolio.py's is_portfolio_data
        raise ScenarioError(f"{p}: a portfolio file (a [portfolio] table of cities): this takes one scenario; "
                            "`baozhang run`, `check` and `compare` take a portfolio file (省级组合)")
    return scenario_from_dict(data, source=str(p))
