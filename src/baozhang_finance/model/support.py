"""Who pays a shortfall, what may cure it first, and under which conventions: [support] and [cures].

The order of a month that is still short after the DSRA (DESIGN §5, docs/model.md "Support and cures"):

1. **cures** the scenario allows, each with its own limits, costs and ledger — bank-loan extension and
   re-amortisation (展期), refinancing of special-bond principal at maturity (再融资专项债券), a sinking fund that
   builds bullet principal in advance, disposal of a stabilised rental block to a 保租房 REIT or a state buyer at
   income value;
2. **SOE support** from the SOE's own small balance sheet (free cash at the start, a yearly capacity from its other
   business, distributions of the programme returning to it), only on what :attr:`SupportPolicy.soe_pays` lets SOE
   money pay, in that order;
3. **government money**: on operating costs and bank debt a **hidden-debt call** (隐性债务), on special bonds the
   **explicit bond burden**.

Two sets of conventions (``support.conventions``, overridden by ``--conventions`` on every command that runs a
scenario):

* ``legacy`` — the first version's: SOE money pays special-bond service like its own debt, the SOE's pot never
  refills (unless ``waterfall.soe_support_revolving``), the loan rate steps up automatically when relending ends,
  no cure is tried, fiscal costs are discounted at the SOE's rate;
* ``default`` — SOE money pays operating costs and the SOE's own debt only; distributions return to the SOE's pot;
  relending refinances the *bank*, so the SOE's contract rate stays and the bank may reprice at a reset with the
  probability given in the loan's ``relending`` table; the cures the scenario names are tried; fiscal costs are
  discounted at the local-bond yield.

A scenario that names no cure uses none, whatever the conventions. Every default below cites its source or says
"assumption" (``../shared/domain-facts.md`` sections in brackets).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: what SOE support money may pay, by name (the waterfall's tranche classes)
SOE_PAYABLE = ("operating_costs", "bank_debt", "soe_bonds", "special_bonds")

#: the default local-bond yield used to discount fiscal costs: MOF 地方政府债券市场报告, monthly average coupons of all
#: local bonds 1.80–2.18 % (2025), 1.96–2.19 % (2026 H1) [domain-facts §5, V]
LOCAL_BOND_YIELD = 0.02

#: the cap rate of a rental block's income value (NOI ÷ cap rate) when the scenario has no [cures.disposal] to give
#: one: 保租房 public REITs' distribution yields at IPO, 3.95–4.34 % (华夏北京保障房 4.29 %, 中金厦门安居 4.33–4.34 %)
#: [domain-facts §5, V-sec]; at 2025 market prices ≈ 2.5–2.7 %, so 4.2 % is the conservative (lower-value) end
INCOME_CAP_RATE = 0.042


#: ceiling of any amount of money in a scenario, yuan: 10 trillion (10 万亿), about half of China's national
#: general budget revenue (scenario.py uses the same figure)
MAX_YUAN = 1e13


class _Model(BaseModel):
    # strict like the scenario models (scenario._Model): no bool ↔ number, no string → number, finite numbers
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False, defer_build=True)  # schemas on first use


class SupportPolicy(_Model):
    """[support] — the SOE's balance sheet and what its money may pay; the conventions of the whole run."""

    conventions: Literal["default", "legacy"] = Field(
        "default", description="default (SOE money off special bonds, pot refills, contract rate stays, cures tried) "
                               "or legacy (the first version's conventions); --conventions overrides it")
    soe_pays: list[Literal["operating_costs", "bank_debt", "soe_bonds", "special_bonds"]] = Field(
        default_factory=lambda: ["operating_costs", "bank_debt", "soe_bonds"],
        description="what SOE support money may pay, in rank order; add special_bonds only when the scenario says so "
                    "(国办发〔2024〕52号 names fiscal funds, other projects' 专项收入 and the project unit's own funds)")
    yearly_capacity_yuan: float = Field(
        0.0, ge=0, le=MAX_YUAN, description="free cash the SOE's other business adds to its support pot at each year start, yuan "
                               "(assumption; 0 = none)")
    distributions_return: bool = Field(
        True, description="distributions of the programme return to the SOE's support pot (default conventions)")
    pot_cap_yuan: float | None = Field(
        None, ge=0, le=MAX_YUAN, description="largest the support pot may grow to by returned distributions and yearly capacity, "
                                "yuan; absent = no cap")

    @model_validator(mode="after")
    def _unique(self) -> "SupportPolicy":
        if len(set(self.soe_pays)) != len(self.soe_pays):
            raise ValueError(f"soe_pays: each class at most once, got {self.soe_pays}")
        return self


class Extension(_Model):
    """[cures.extension] — 展期: the bank extends a short loan and re-amortises it instead of calling the budget.

    When a project's bank service is short in a month (after its cash and DSRA), each of its loans that is
    eligible — fewer than ``max_times`` extensions so far, new tenor (maturity + 12·``years`` − first draw) within
    ``max_tenor_years``, the project's balance (with the unpaid service) within ``max_loan_to_income_value`` of the
    block's value (rental: trailing-12-month NOI ÷ cap rate; sale: units held × area × appraisal × house-price
    index) — has its share of the unpaid service (pro rata to the loans' dues) capitalised, a fee ``fee_share`` ×
    the new balance capitalised too, its maturity moved out by ``years`` and its rate stepped up by
    ``rate_step_bp``; from the next month the loan amortises over its new remaining term (docs/model.md "Cures").
    """

    max_times: int = Field(1, ge=1, le=5, description="extensions a loan may get over its life")
    years: int = Field(5, ge=1, le=20, description="years added to the maturity at each extension (assumption: 3–10)")
    rate_step_bp: float = Field(50.0, ge=0, le=500, description="rate step at each extension, basis points (assumption: 25–100)")
    fee_share: float = Field(0.005, ge=0, le=0.05, description="restructuring fee, share of the balance, capitalised (assumption)")
    max_tenor_years: int = Field(30, ge=1, le=40, description="longest total tenor from the first draw: 30 y for 住房租赁团体购房贷款 "
                                                              "(银发〔2026〕171号, domain-facts §5, V-sec; assumption until verified)")
    max_loan_to_income_value: float = Field(1.0, gt=0, le=2, description="extension only while balance ÷ income value ≤ this "
                                                                          "(assumption: 0.8–1.2)")
    cap_rate: float = Field(0.042, gt=0, le=0.2, description="cap rate of the income value when [cures.disposal] is absent "
                            "(else the disposal's cap rate): 保租房 REIT distribution yields 3.95–4.34 % at IPO "
                            "[domain-facts §5, V-sec]")


class Refinancing(_Model):
    """[cures.refinancing] — 再融资专项债券: special-bond principal the project cannot pay at maturity is rolled over.

    At a month a project's special-bond principal falls due and its bond service is short, up to ``max_share`` of
    the principal due is refinanced. Explicit debt rolled over: the refinanced principal is a refinancing need of
    the budget by year, not a burden; the new bond pays an annual coupon fixed at issue from the rate path
    (max(LPR_t + ``spread_over_lpr``, 0)) on each anniversary and its principal ``term_years`` later (itself
    refinanceable then; outstanding at the horizon if later); its service ranks as special-bond service of the
    project (government class "bond"), so a coupon the project cannot pay is explicit bond burden.
    """

    term_years: int = Field(10, ge=1, le=30, description="tenor of the refinancing bond (5–30)")
    spread_over_lpr: float = Field(-0.015, ge=-0.05, le=0.05, description="coupon = 5-year LPR at issue + this; local bonds "
                                   "≈ 2 % against a 3.5 % LPR [domain-facts §5, V]")
    max_share: float = Field(1.0, gt=0, le=1, description="largest share of a maturing principal that may be refinanced")


class SinkingFund(_Model):
    """[cures.sinking_fund] — surplus set aside over the last ``years`` before each bullet (bank or bond) principal.

    Bullet principals: bullet special bonds, interest-only and bullet bank loans (M = the month the principal is
    paid). Target at month t in the window [M − 12·years, M): principal × (t − (M − 12·years) + 1) / (12·years),
    built from the month's surplus after the DSRA and before cross-support and distributions; at M the fund pays
    the principal first (before the project's cash), and what it holds above the target of the bullets still ahead
    is released into the month's cash. The fund is earmarked: it pays nothing else.
    """

    years: int = Field(5, ge=1, le=30, description="years before maturity over which the fund is built (assumption)")


class Disposal(_Model):
    """[cures.disposal] — sale of a stabilised rental block to a 保租房 REIT or a state buyer at income value.

    Income value = forward NOI ÷ cap rate, forward NOI = the last 12 months' NOI (rent + rent subsidy − rent-linked
    costs − running costs); cap rate = ``cap_rate`` + ``cap_rate_lpr_beta`` × (LPR_t − LPR_0), so it is stochastic
    and moves with rates. Proceeds net of ``transaction_cost_share`` repay the block's bank loans, then its
    special-bond principal outstanding (the bond is redeemed), and the rest goes to the SOE. 保租房 / 公租房 are never
    sold on the open market: the buyer is a REIT or a state entity.
    """

    buyer: Literal["reit", "state"] = Field("reit", description="保租房 public REIT or another state entity")
    cap_rate: float = Field(0.042, gt=0, le=0.2, description="cap rate at the start: 保租房 REIT distribution yields "
                            "3.95–4.34 % at IPO, ≈ 2.5–2.7 % at 2025 market prices [domain-facts §5, V-sec]")
    cap_rate_lpr_beta: float = Field(1.0, ge=0, le=3, description="change of the cap rate per unit change of the LPR")
    transaction_cost_share: float = Field(0.02, ge=0, le=0.2, description="transaction costs, share of the price (assumption)")
    min_operating_months: int = Field(36, ge=0, le=240, description="months of operation before a block may be sold "
                                      "(REIT rule: 3 years of operation, assumption)")
    min_occupancy: float = Field(0.9, ge=0, le=1, description="trailing occupancy a buyer needs (REIT assets 93–99 %, "
                                 "domain-facts §5)")
    min_shortfall_share: float = Field(
        0.05, ge=0, le=1, description="sell only for a material shortfall: at least this share of the block's debt "
        "(shortfall + bank balance + bond principal outstanding) — a missed coupon is not a reason to sell the block, "
        "an unpaid principal is (assumption: 0.02–0.2)")


class Cures(_Model):
    """[cures] — what is tried, in ``order``, before any government money; absent = no cure."""

    timing: Literal["after_soe_support", "before_soe_support"] = Field(
        "after_soe_support", description="cures act on what the SOE's support pot leaves short (default: an SOE pays "
        "from its own cash before it restructures a loan or sells a block), or before SOE money")
    order: list[Literal["extension", "refinancing", "disposal"]] = Field(
        default_factory=lambda: ["extension", "refinancing", "disposal"],
        description="order in which the cures that are configured are tried on a short month")
    extension: Extension | None = Field(None, description="bank-loan extension and re-amortisation; absent = none")
    refinancing: Refinancing | None = Field(None, description="refinancing bonds for maturing special-bond principal")
    sinking_fund: SinkingFund | None = Field(None, description="sinking fund for bullet principal; absent = none")
    disposal: Disposal | None = Field(None, description="disposal of a stabilised rental block; absent = none")

    @model_validator(mode="after")
    def _order(self) -> "Cures":
        if len(set(self.order)) != len(self.order):
            raise ValueError(f"order: each cure at most once, got {self.order}")
        return self

    def any(self) -> bool:
        return any(c is not None for c in (self.extension, self.refinancing, self.sinking_fund, self.disposal))


def with_conventions(scenario, conventions: str | None):
    """The scenario with ``support.conventions`` replaced (``--conventions``); None leaves it as written."""
    if conventions is None:
        return scenario
    if conventions not in ("default", "legacy"):
        raise ValueError(f"conventions: must be 'default' or 'legacy', got {conventions!r}")
    support = scenario.support.model_copy(update={"conventions": conventions})
    return scenario.model_copy(update={"support": support})
