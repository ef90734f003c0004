"""Golden cases of the three cures tried before government money ([cures], docs/model.md "Cures"), by hand.

Each is one deterministic path under the default conventions on a flat market (every index 1, LPR 3.5 %), no DSRA,
no lock-up, so every month's surplus is distributed and every shortfall is plain:

* extension (展期): a sale block that sells nothing (CFADS = 0) with a 2-year annuity loan is short in month 0; the
  unpaid service is capitalised, a fee added, the maturity moved out 5 years, the rate stepped up 50 bp; from
  month 1 the loan pays PMT(new balance, new rate, new remaining months);
* refinancing (再融资专项债券): a rental block whose rent pays the coupons of a 2-year bullet special bond but not
  its principal; the principal is refinanced at maturity at LPR − 1.5 % = 2 %, the new bond's coupon falls a year
  later and its principal two years later, when it is refinanced again and left outstanding at the horizon;
* sinking fund: the same kind of bullet bond, with a fund built from the surplus over the last two years.
"""

from __future__ import annotations

import numpy as np

from conftest import annuity, balance_after, recorded, scenario

DEFAULT = {"conventions": "default"}
UNITS, AREA, PRICE = 50, 80.0, 10_000.0
COST = UNITS * AREA * PRICE  # 40,000,000 yuan, no taxes or works


def rental(rent: float, financing: dict) -> dict:
    """Rent collected = 50 × 80 m² × rent × 0.8 a month from month 1, no costs."""
    return {"name": "R", "type": "rental", "units": UNITS, "area_m2": AREA, "appraisal_yuan_per_m2": PRICE,
            "acquisition_price_yuan_per_m2": PRICE, "acquisition_start_month": 0,
            "rental": {"market_rent_yuan_per_m2_month": rent, "rent_ratio": 0.8, "lease_years": 1,
                       "lease_up_months": 0, "stabilised_occupancy": 1.0, "collection_rate": 1.0,
                       "opex_yuan_per_m2_year": 0.0, "management_fee_share": 0.0, "vat_rate_on_rent": 0.0,
                       "property_tax_rate_on_rent": 0.0, "capex_reserve_share_of_rent": 0.0},
            "financing": financing}


def idle_sale_block(financing: dict) -> dict:
    """A sale block that never sells (absorption 0, no pre-subscription, no costs): CFADS = 0 every month."""
    return {"name": "S", "type": "sale", "units": UNITS, "area_m2": AREA, "appraisal_yuan_per_m2": PRICE,
            "acquisition_price_yuan_per_m2": PRICE, "acquisition_start_month": 0,
            "sale": {"margin": 0.0, "presubscription_share": 0.0, "deposit_share": 0.0, "handover_delay_months": 0,
                     "absorption_monthly": 0.0, "absorption_price_elasticity": 0.0, "sweep_share": 0.0,
                     "holding_cost_yuan_per_m2_year": 0.0, "sales_tax_rate": 0.0, "buyer_down_payment_share": 0.2},
            "financing": financing}


def run(project: dict, years: int, cures: dict | None, support=DEFAULT, **wf):
    sc = scenario([project], horizon_years=years, support=support, cures=cures,
                  waterfall_kw={"soe_support_capacity_yuan": 0.0, **wf})
    plan, m, out = recorded(sc)
    assert np.abs(m["conservation"]).max() < 1e-6, "cash not conserved"
    return plan, {k: (v[0] if v.ndim == 2 and v.shape[0] == 1 else v) for k, v in m.items()}, out


# ===================================================================================== extension (展期)
LOAN, RATE = 10_000_000.0, 0.04
EXT = {"max_times": 1, "years": 5, "rate_step_bp": 50.0, "fee_share": 0.005, "max_tenor_years": 30,
       "max_loan_to_income_value": 1.0}
EXT_BLOCK = idle_sale_block({"equity_yuan": COST - LOAN, "loans": [
    {"name": "收购贷款", "amount_yuan": LOAN, "term_years": 2, "amortisation": "annuity", "rate_type": "fixed",
     "fixed_rate": RATE}]})


def test_extension_capitalises_the_short_month_and_re_amortises(approx_yuan):
    plan, m, out = run(EXT_BLOCK, 3, {"extension": EXT})
    # month 0: the loan is drawn and owes PMT0 = PMT(10,000,000, 4 %, 24); the block earns nothing: short PMT0
    r0 = RATE / 12
    pmt0 = annuity(LOAN, RATE, 24)
    i0 = LOAN * r0
    # eligible: LTV (10,000,000 − (PMT0 − I0) + PMT0) ÷ (50 units × 80 m² × 10,000 × H = 1) = 0.25 ≤ 1; tenor
    # 24 + 60 = 84 ≤ 360 months; so PMT0 is capitalised: B = 10,000,000 − principal + PMT0 = 10,000,000 + I0 …
    b_cap = LOAN + i0
    fee = 0.005 * b_cap  # … and the fee on it
    b0 = b_cap + fee
    approx_yuan(m["loan_balance"][:1], [b0], "balance after the extension")
    assert m["short_bank"][0] == 0.0 and m["gov_hidden"][0] == 0.0
    approx_yuan(m["cure_extension"][:1], [pmt0], "service capitalised")
    # month 1: rate 4.5 %, 84 − 1 = 83 months left, PMT1 = PMT(B0, 4.5 %, 83); still short (max_times = 1), so
    # the budget pays it (no SOE money): a hidden-debt call of PMT1 every month from now on
    r1 = 0.045 / 12
    pmt1 = annuity(b0, 0.045, 83)
    assert abs(m["loan_rate_m"][1] - r1) < 1e-15
    approx_yuan(m["bank_due"][1:3], [pmt1, pmt1], "new level payment")
    b1 = b0 * (1 + r1) - pmt1
    b2 = b1 * (1 + r1) - pmt1
    approx_yuan(m["loan_balance"][1:3], [b1, b2], "re-amortised balance")
    approx_yuan(m["bank_interest"][1:3], [b0 * r1, b1 * r1], "interest at the stepped-up rate")
    approx_yuan(m["gov_hidden"][1:3], [pmt1, pmt1], "hidden-debt call after the one extension")
    s = out.scalars
    assert abs(s["cure_extension"][0] - pmt0) < 1e-6 and s["cure_extension_count"][0] == 1.0
    assert abs(s["cure_extension_fee"][0] - fee) < 1e-6


def test_extension_refused_above_the_loan_to_value_cap_or_the_tenor_cap():
    pmt0 = annuity(LOAN, RATE, 24)
    # 24 + 60 months > 72: never extended
    _, m, out = run(EXT_BLOCK, 2, {"extension": {**EXT, "max_tenor_years": 6}})
    assert out.scalars["cure_extension_count"][0] == 0 and m["cure_extension"].sum() == 0.0
    assert abs(m["gov_hidden"][0] - pmt0) < 1e-6
    # LTV cap 0.2: the balance with the unpaid instalment, B_t − (PMT0 − B_t r) + PMT0 = B_t (1 + r), must be
    # ≤ 0.2 × 40,000,000 = 8,000,000; B_t = B_0 (1 + r)^t − PMT0 ((1 + r)^t − 1) / r (the budget pays until then)
    r = RATE / 12
    first = next(t for t in range(24) if balance_after(LOAN, RATE, pmt0, t) * (1 + r) <= 8_000_000.0)
    _, m, out = run(EXT_BLOCK, 2, {"extension": {**EXT, "max_loan_to_income_value": 0.2}})
    assert first > 0 and m["cure_extension"][:first].sum() == 0.0
    assert np.allclose(m["gov_hidden"][:first], pmt0) and abs(m["cure_extension"][first] - pmt0) < 1e-6
    assert out.scalars["cure_extension_count"][0] == 1


def test_no_extension_under_the_legacy_conventions():
    _, m, out = run(EXT_BLOCK, 2, {"extension": EXT}, support={"conventions": "legacy"})
    assert out.scalars["cure_extension"][0] == 0.0 and m["gov_hidden"][0] > 0


# ===================================================================================== refinancing
BOND = 20_000_000.0


def bond_block(rent: float, term: int, coupon: float) -> dict:
    return rental(rent, {"equity_yuan": COST - BOND, "bonds": [
        {"name": "专项债", "amount_yuan": BOND, "coupon": coupon, "term_years": term, "coupon_frequency": "annual",
         "principal": "bullet"}]})


def test_refinancing_rolls_the_bullet_and_pays_its_coupon_a_year_later(approx_yuan):
    rent = 512_000.0  # 50 × 80 × 160 × 0.8 a month
    block = bond_block(160.0, 2, 0.024)
    plan, m, out = run(block, 4, {"refinancing": {"term_years": 2, "spread_over_lpr": -0.015, "max_share": 1.0}})
    T = 48
    # the special bond: coupon 480,000 at months 11 and 23, principal 20,000,000 at month 23
    due = np.zeros(T)
    due[[11, 23]] += BOND * 0.024
    due[23] += BOND
    # month 23: rent 512,000 pays the coupon and 32,000 of principal; 19,968,000 is refinanced at 3.5 % − 1.5 %
    r1 = BOND + BOND * 0.024 - rent
    c = 0.035 - 0.015
    due[35] += r1 * c  # its coupon a year later (399,360), paid from rent
    due[47] += r1 * c + r1  # coupon and principal two years later: short again, refinanced again
    r2 = r1 * c + r1 - rent
    approx_yuan(m["bond_interest"] + m["bond_principal"], due, "bond service incl. the refinancing bond")
    refi = np.zeros(T)
    refi[23], refi[47] = r1, r2
    approx_yuan(m["cure_refinancing"], refi, "principal refinanced")
    assert np.all(m["gov_bond"] == 0.0) and np.all(m["gov_hidden"] == 0.0)
    # explicit debt rolled over is a refinancing need of the budget by year, not a burden
    approx_yuan(out.yearly["refinancing"][0], [0.0, r1, 0.0, r2], "refinancing need by year")
    approx_yuan(out.scalars["refinancing_balance_end"], [r2], "refinancing bond outstanding at the horizon")
    approx_yuan(out.yearly["bond_balance"][0], [BOND, r1, r1, r2], "special bonds outstanding at year end")
    approx_yuan(m["distributions"][[35, 47]], [rent - r1 * c, 0.0], "rent after the refinancing coupon")


def test_refinancing_share_cap_leaves_the_rest_on_the_explicit_burden(approx_yuan):
    rent = 512_000.0
    _, m, _ = run(bond_block(160.0, 2, 0.024), 4, {"refinancing": {"term_years": 2, "max_share": 0.5}})
    # month 23: short 19,968,000, at most 0.5 × 20,000,000 refinanced; the rest is explicit bond burden (SOE money
    # does not pay special bonds under the default conventions)
    short = BOND + BOND * 0.024 - rent
    r1 = 0.5 * BOND
    approx_yuan(m["gov_bond"][[23]], [short - r1], "explicit burden at maturity")
    # month 47: coupon + principal of the refinancing bond 10,200,000 − 512,000 short; at most 5,000,000 refinanced
    short47 = r1 * 0.02 + r1 - rent
    approx_yuan(m["cure_refinancing"][[23, 47]], [r1, 0.5 * r1], "refinanced")
    approx_yuan(m["gov_bond"][[35, 47]], [0.0, short47 - 0.5 * r1], "burden on the refinancing bond")


# ===================================================================================== sinking fund
def test_sinking_fund_builds_over_its_window_and_pays_the_bullet(approx_yuan):
    rent = 640_000.0  # 50 × 80 × 200 × 0.8
    _, m, out = run(bond_block(200.0, 3, 0.0), 4, {"sinking_fund": {"years": 2}})
    T = 48
    # the bullet is paid in month M = 35; the window is [35 − 24, 35) = months 11 … 34, target at t
    # 20,000,000 × (t − 11 + 1) / 24, i.e. 833,333 more each month: more than the rent, so all rent goes in
    t = np.arange(T)
    window = (t >= 11) & (t < 35)
    target = np.where(window, BOND * (t - 11 + 1) / 24, 0.0)
    fund = np.where(window, rent * (t - 11 + 1), 0.0)
    assert np.all(fund <= target + 1e-6)
    approx_yuan(m["sinking_fund"], fund, "fund balance")
    approx_yuan(m["distributions"], np.where(window | (t == 35) | (t == 0), 0.0, rent), "distributions")
    # month 35: the fund (24 × 640,000 = 15,360,000) pays first, the month's rent next, the budget the rest
    paid = 24 * rent
    approx_yuan(out.scalars["cure_sinking_fund"], [paid], "principal paid from the fund")
    approx_yuan(m["gov_bond"][[35]], [BOND - paid - rent], "explicit burden left at maturity")
    approx_yuan(out.yearly["cash_balance"][0], [rent, rent * 13, 0.0, 0.0], "the fund counts in cash balances")


def test_sinking_fund_stops_at_its_target_and_pays_the_whole_bullet(approx_yuan):
    rent = 1_000_000.0  # 50 × 80 × 312.5 × 0.8
    _, m, out = run(bond_block(312.5, 3, 0.0), 4, {"sinking_fund": {"years": 2}})
    t = np.arange(48)
    window = (t >= 11) & (t < 35)
    step = BOND / 24
    approx_yuan(m["sinking_fund"], np.where(window, step * (t - 11 + 1), 0.0), "fund at its target")
    approx_yuan(m["distributions"], np.where(t == 0, 0.0, np.where(window, rent - step, rent)), "surplus over the target")
    approx_yuan(out.scalars["cure_sinking_fund"], [BOND], "the whole bullet from the fund")
    assert np.all(m["gov_bond"] == 0.0)
