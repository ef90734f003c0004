"""Golden cases computed by hand (issue 15), all under ``support = {"conventions": "default"}``:

1. a stabilised rental block sold to a 保租房 REIT at income value = forward NOI ÷ cap rate when a bond bullet makes
   it short: the shortfall, the bank loan in full and the remaining special bond are repaid from the net proceeds,
   the rest is distributed to the SOE, and the block has no rent, costs, debt or bond service afterwards;
2. pre-subscribed buyers walking away at hand-over when the affordable price is above market: deposits kept, the
   hand-over balance received for the others only, walked units back in the inventory and absorbed later;
3. new-build deposits held in escrow (预售资金监管) until completion, released to the SOE in the available month;
4. a buyback paid first from the buyback reserve (a share of sale proceeds), the reserve released at the horizon.

Every expected number is written below from the inputs and the formulas in docs/model.md ("Disposal", "Sale
blocks"); nothing is read from the engine except the series compared. Cash is conserved every month.
"""

from __future__ import annotations

import numpy as np
import pytest

from baozhang_finance import simulate
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.engine.loop import run_paths
from conftest import recorded, scenario

DEFAULT = {"conventions": "default"}


def _m(sc):
    plan, mo, out = recorded(sc)
    return plan, {k: (v[0] if v.ndim == 2 and v.shape[0] else v) for k, v in mo.items()}, out


# ============================================================================ 1. disposal of a rental block
UNITS, AREA, PRICE = 100, 50.0, 5_000.0
FLOOR = UNITS * AREA  # 5,000 m²
RENT_M2, OPEX_Y = 20.0, 12.0  # rent 100,000 / month, running costs 5,000 / month
LOAN, RATE = 15_000_000.0, 0.03  # interest-only, 37,500 / month, 5 years
BOND_A, BOND_B, COUPON = 2_000_000.0, 3_000_000.0, 0.02  # semi-annual coupons 20,000 + 30,000; A a 3-, B a 5-year bullet
CAP, TC, MIN_OP = 0.04, 0.02, 24

RENTAL = {
    "name": "保租房 block", "type": "rental", "units": UNITS, "area_m2": AREA, "appraisal_yuan_per_m2": 6_000.0,
    "acquisition_price_yuan_per_m2": PRICE,
    "rental": {"market_rent_yuan_per_m2_month": RENT_M2, "rent_ratio": 1.0, "lease_years": 1, "lease_up_months": 0,
               "renovation_months": 0, "stabilised_occupancy": 1.0, "collection_rate": 1.0,
               "opex_yuan_per_m2_year": OPEX_Y, "management_fee_share": 0.0, "vat_rate_on_rent": 0.0,
               "property_tax_rate_on_rent": 0.0, "capex_reserve_share_of_rent": 0.0},
    "financing": {"equity_yuan": FLOOR * PRICE - LOAN - BOND_A - BOND_B,
                  "loans": [{"name": "住房租赁团体购房贷款", "amount_yuan": LOAN, "term_years": 5,
                             "amortisation": "interest_only", "rate_type": "fixed", "fixed_rate": RATE}],
                  "bonds": [{"name": "A", "amount_yuan": BOND_A, "coupon": COUPON, "term_years": 3,
                             "coupon_frequency": "semiannual", "principal": "bullet"},
                            {"name": "B", "amount_yuan": BOND_B, "coupon": COUPON, "term_years": 5,
                             "coupon_frequency": "semiannual", "principal": "bullet"}]},
}
# the hand computations below try the disposal before SOE money (an ample SOE would otherwise pay the bank's part
# first; the default order, after SOE support, is tested on its own at the end)
CURES = {"timing": "before_soe_support",
         "disposal": {"buyer": "reit", "cap_rate": CAP, "cap_rate_lpr_beta": 1.0, "transaction_cost_share": TC,
                      "min_operating_months": MIN_OP, "min_occupancy": 0.9}}
SALE_MONTH = 35  # bond A's bullet (month 0 + 36 − 1)


def disposal_by_hand():
    T = 60
    t = np.arange(T)
    rent = np.where(t >= 1, FLOOR * RENT_M2, 0.0)  # bought in month 0, let from month 1
    running = np.full(T, FLOOR * OPEX_Y / 12)
    interest = np.full(T, LOAN * RATE / 12)  # 37,500
    coupons = np.where((t + 1) % 6 == 0, (BOND_A + BOND_B) * COUPON / 2, 0.0)  # 50,000 at months 5, 11, …
    bullet = np.where(t == SALE_MONTH, BOND_A, 0.0)
    after = t > SALE_MONTH
    rent[after] = running[after] = interest[after] = coupons[after] = 0.0
    noi = rent - running  # 95,000 a month once let
    short = np.maximum(interest + coupons + bullet - noi, 0.0)
    forward_noi = noi[SALE_MONTH - 11: SALE_MONTH + 1].sum()  # 12 × 95,000 = 1,140,000
    value = forward_noi / CAP  # 28,500,000
    net = value * (1 - TC)  # 27,930,000
    need = short[SALE_MONTH] + LOAN + BOND_B  # 1,992,500 + 15,000,000 + 3,000,000
    dist = np.maximum(noi - interest - coupons - bullet, 0.0)
    dist[SALE_MONTH] = net - need
    soe = short.copy()
    soe[SALE_MONTH] = 0.0  # the proceeds pay the month's shortfall
    return dict(rent=rent, running=running, interest=interest, coupons=coupons, short=short, dist=dist, soe=soe,
                forward_noi=forward_noi, value=value, net=net, need=need)


@pytest.fixture(scope="module")
def sold():
    return _m(scenario([RENTAL], horizon_years=5, support=DEFAULT, cures=CURES))


def test_income_value_by_hand():
    h = disposal_by_hand()
    assert h["forward_noi"] == pytest.approx(1_140_000.0)
    assert h["value"] == pytest.approx(28_500_000.0)
    assert h["net"] == pytest.approx(27_930_000.0)
    assert h["short"][SALE_MONTH] == pytest.approx(37_500 + 2_050_000 - 95_000)  # 1,992,500
    assert h["need"] == pytest.approx(19_992_500.0)
    assert h["dist"][SALE_MONTH] == pytest.approx(7_937_500.0)
    assert h["short"][0] == pytest.approx(5_000 + 37_500)  # month 0: no rent yet, the SOE pays


def test_block_sold_debt_repaid_rest_distributed(sold, approx_yuan):
    plan, m, out = sold
    h = disposal_by_hand()
    T = plan.T
    disposal = np.zeros(T)
    disposal[SALE_MONTH] = h["net"]
    approx_yuan(m["disposal"], disposal, "net disposal proceeds")
    approx_yuan(m["rent"], h["rent"], "rent (none after the sale)")
    approx_yuan(m["running_costs"], h["running"], "running costs (none after the sale)")
    approx_yuan(m["bank_interest"], h["interest"], "bank interest")
    prepay = np.where(np.arange(T) == SALE_MONTH, LOAN, 0.0)
    approx_yuan(m["prepayment"], prepay, "the bank loan prepaid in full from the proceeds")
    approx_yuan(m["loan_balance"], np.where(np.arange(T) < SALE_MONTH, LOAN, 0.0), "loan balance")
    approx_yuan(m["bond_interest"], h["coupons"], "bond coupons (none after the sale)")
    approx_yuan(m["bond_principal"], np.where(np.arange(T) == SALE_MONTH, BOND_A, 0.0), "bond A's bullet")
    approx_yuan(m["bond_redemption"], np.where(np.arange(T) == SALE_MONTH, BOND_B, 0.0), "bond B redeemed")
    approx_yuan(m["distributions"], h["dist"], "distributions (the rest of the proceeds in the sale month)")
    approx_yuan(m["soe_support"], h["soe"], "SOE support")
    assert np.all(m["gov_hidden"] == 0) and np.all(m["gov_bond"] == 0)
    assert m["held"][SALE_MONTH:].max() == 0.0 and m["held"][SALE_MONTH - 1] == pytest.approx(UNITS)
    assert np.max(np.abs(m["conservation"])) < 1e-6
    assert out.scalars["cure_disposal"][0] == pytest.approx(h["net"])
    assert out.scalars["disposal_month"][0] == SALE_MONTH


def test_disposal_ledgers_and_columns():
    res = simulate(scenario([RENTAL], horizon_years=5, support=DEFAULT, cures=CURES), deterministic=True)
    assert res.paths["disposal_year"][0] == SALE_MONTH // 12 + 1 == 3
    assert res.paths["cure_disposal_yuan"][0] == pytest.approx(27_930_000.0)
    assert res.summary["cures"]["disposal"]["p_used"] == 1.0
    bank = res.ledger("bank_balance")[0]
    assert bank[1] == pytest.approx(LOAN) and bank[2] == 0.0  # repaid in year 3 (month 35)


def test_no_sale_when_proceeds_do_not_cover_the_debt():
    """A cap rate of 8 %: value 14.25 m × 0.98 = 13.965 m < 19.99 m of need in month 35 and < 17.97 m in month 59:
    the block is kept; bond A's unpaid bullet is the budget's explicit burden (SOE money does not pay bonds)."""
    cures = {**CURES, "disposal": {**CURES["disposal"], "cap_rate": 0.08}}
    plan, m, out = _m(scenario([RENTAL], horizon_years=5, support=DEFAULT, cures=cures))
    assert m["disposal"].max() == 0.0 and out.scalars["disposal_month"][0] == -1
    assert m["gov_bond"][SALE_MONTH] == pytest.approx(2_050_000 - (95_000 - 37_500), abs=0.5)


def test_no_sale_before_stabilisation_nor_under_legacy():
    """36 operating months required: month 35 is only the 35th month let, so bond A's bullet is the budget's; the
    block is sold at the next short month, month 59 (the loan's and bond B's maturity): short = 15,037,500 +
    3,030,000 − 95,000 = 17,972,500 = the need (no debt left after the month), 9,957,500 distributed."""
    cures = {**CURES, "disposal": {**CURES["disposal"], "min_operating_months": 36}}
    _, m, _ = _m(scenario([RENTAL], horizon_years=5, support=DEFAULT, cures=cures))
    assert m["disposal"][SALE_MONTH] == 0.0 and m["gov_bond"][SALE_MONTH] == pytest.approx(1_992_500, abs=0.5)
    assert m["disposal"][59] == pytest.approx(27_930_000, abs=0.5)
    assert m["distributions"][59] == pytest.approx(27_930_000 - 17_972_500, abs=0.5)
    assert m["gov_bond"][59] == 0.0 and m["gov_hidden"][59] == 0.0
    _, m, _ = _m(scenario([RENTAL], horizon_years=5, support={"conventions": "legacy"}, cures=CURES))
    assert m["disposal"].max() == 0.0 and m["bond_redemption"].max() == 0.0


def test_cap_rate_moves_with_the_lpr():
    """LPR 100 bp above its start from month 1 (a stress shift): cap rate 5 %, value 22.8 m, net 22.344 m ≥ need."""
    sc = scenario([RENTAL], horizon_years=5, support=DEFAULT, cures=CURES,
                  stresses=[{"name": "rates", "rate_shift_bp": 100, "rate_start_month": 1}])
    plan = compile_plan(sc, stress="rates", deterministic=True)
    out = run_paths(plan, 1, None, record=True)
    net = 12 * 95_000 / (CAP + 0.01) * (1 - TC)
    assert out.monthly["disposal"][0, 0, SALE_MONTH] == pytest.approx(net, abs=0.5)


# ============================================================================ 2. walk-away at hand-over
S_UNITS, S_AREA, S_PRICE, S_APPRAISAL = 100, 100.0, 8_000.0, 9_000.0
PRESUB, DEPOSIT, DELAY, ABSORB = 0.8, 0.1, 3, 0.5
BASE, SENS, CRASH = 0.05, 2.0, -0.25  # H = 0.75 from month 1


def sale_project(**sale_kw):
    sale = {"margin": 0.0, "presubscription_share": PRESUB, "deposit_share": DEPOSIT, "handover_delay_months": DELAY,
            "absorption_monthly": ABSORB, "absorption_price_elasticity": 0.0, "sweep_share": 0.0,
            "holding_cost_yuan_per_m2_year": 0.0, "sales_tax_rate": 0.0, "buyer_down_payment_share": 0.2}
    sale.update(sale_kw)
    return {"name": "配售型", "type": "sale", "units": S_UNITS, "area_m2": S_AREA,
            "appraisal_yuan_per_m2": S_APPRAISAL, "acquisition_price_yuan_per_m2": S_PRICE, "sale": sale,
            "financing": {"equity_yuan": S_UNITS * S_AREA * S_PRICE}}


def walkaway_by_hand():
    T = 12
    unit = S_AREA * S_PRICE  # 800,000 (margin 0)
    handover = 1 + DELAY  # available month 1, hand-over month 4
    gap = (S_PRICE - S_APPRAISAL * (1 + CRASH)) / S_PRICE  # (8,000 − 6,750) / 8,000 = 0.15625
    h = min(1.0, BASE + SENS * gap)  # 0.3625
    walked = S_UNITS * PRESUB * h  # 29 units
    sales, sold = np.zeros(T), np.zeros(T)
    sales[0] = S_UNITS * PRESUB * unit * DEPOSIT  # 6.4 m deposits
    sales[handover] = S_UNITS * PRESUB * unit * (1 - DEPOSIT) * (1 - h)  # balance of the 51 who complete
    unsold = 0.0
    for t in range(1, T):
        if t == 1:
            unsold += S_UNITS * (1 - PRESUB)  # 20 units enter the inventory at availability
        sold[t] = unsold * ABSORB
        unsold -= sold[t]
        if t == handover:
            unsold += walked  # back in the inventory after this month's absorption
    sales += sold * unit
    return dict(h=h, walked=walked, sales=sales, sold=sold, forfeited=walked * unit * DEPOSIT)


def test_walkaway_at_a_price_above_market(approx_yuan):
    sc = scenario([sale_project(walkaway={"base_share": BASE, "gap_sensitivity": SENS})], horizon_years=1,
                  support=DEFAULT, stresses=[{"name": "crash", "price_change": CRASH, "price_start_month": 1,
                                              "price_months": 1}])
    plan = compile_plan(sc, stress="crash", deterministic=True)
    out = run_paths(plan, 1, None, record=True)
    m = {k: (v[0, 0] if v.ndim == 3 and v.shape[1] else v[0]) for k, v in out.monthly.items()}
    h = walkaway_by_hand()
    assert h["h"] == pytest.approx(0.3625) and h["walked"] == pytest.approx(29.0)
    assert h["forfeited"] == pytest.approx(2_320_000.0)
    assert h["sales"][4] == pytest.approx(57_600_000 * 0.6375 + 1.25 * 800_000)
    approx_yuan(m["sales"], h["sales"], "deposits, the completing buyers' balance, absorbed sales")
    np.testing.assert_allclose(m["sold_units"], h["sold"], atol=1e-9)
    assert m["walkaway_units"][4] == pytest.approx(29.0) and m["walkaway_units"].sum() == pytest.approx(29.0)
    assert m["sold_units"][5] == pytest.approx((1.25 + 29.0) * ABSORB)  # the walked units sell from month 5
    assert out.scalars["walkaway_units"][0] == pytest.approx(29.0)
    assert out.scalars["forfeited_deposits"][0] == pytest.approx(2_320_000.0)
    assert np.max(np.abs(m["conservation"])) < 1e-6


def test_no_walkaway_at_a_price_below_market_or_under_legacy():
    wa = {"walkaway": {"base_share": 0.0, "gap_sensitivity": SENS}}
    _, m, out = _m(scenario([sale_project(**wa)], horizon_years=1, support=DEFAULT))  # V = 9,000 > P = 8,000
    assert m["walkaway_units"].sum() == 0.0
    sc = scenario([sale_project(walkaway={"base_share": BASE, "gap_sensitivity": SENS})], horizon_years=1,
                  stresses=[{"name": "crash", "price_change": CRASH, "price_start_month": 1, "price_months": 1}])
    out = run_paths(compile_plan(sc, stress="crash", deterministic=True), 1, None, record=True)  # legacy
    assert out.monthly["walkaway_units"].sum() == 0.0
    assert out.monthly["sales"][0, 0, 4] == pytest.approx(57_600_000 + 1.25 * 800_000)


# ============================================================================ 3. deposits in escrow
def new_build(**sale_kw):
    sale = {"margin": 0.0, "presubscription_share": 1.0, "deposit_share": 0.2, "handover_delay_months": 2,
            "absorption_monthly": 0.0, "absorption_price_elasticity": 0.0, "sweep_share": 0.0,
            "holding_cost_yuan_per_m2_year": 0.0, "sales_tax_rate": 0.0, "buyer_down_payment_share": 0.2}
    sale.update(sale_kw)
    return {"name": "new build", "type": "sale", "units": 100, "area_m2": 100.0, "appraisal_yuan_per_m2": 6_000.0,
            "acquisition_price_yuan_per_m2": 0.0,
            "construction": {"land_cost_yuan": 0.0, "construction_cost_yuan_per_m2": 5_000.0, "start_month": 0,
                             "months": 12},
            "sale": sale, "financing": {"equity_yuan": 50_000_000.0}}


def test_escrowed_deposits_released_at_completion(approx_yuan):
    T = 24
    deposits = 100 * 100 * 5_000 * 0.2  # 10 m on a price of 5,000 / m² (cost, margin 0)
    balance = 100 * 100 * 5_000 * 0.8  # 40 m at hand-over, month 12 + 2
    _, m, _ = _m(scenario([new_build()], horizon_years=2, support=DEFAULT))
    expect = np.zeros(T)
    expect[12], expect[14] = deposits, balance  # released when the units are available (month 12)
    approx_yuan(m["sales"], expect, "escrow: deposits reach the SOE at completion")
    approx_yuan(m["escrow"], np.where(np.arange(T) < 12, deposits, 0.0), "escrow balance (not the SOE's cash)")
    assert np.max(np.abs(m["conservation"])) < 1e-6
    for support, escrow in (({"conventions": "legacy"}, None), (DEFAULT, False)):  # paid out before building
        _, m, _ = _m(scenario([new_build(deposits_in_escrow=escrow)], horizon_years=2, support=support))
        expect = np.zeros(T)
        expect[0], expect[14] = deposits, balance
        approx_yuan(m["sales"], expect, f"no escrow ({support['conventions']})")
        assert m["escrow"].max() == 0.0


# ============================================================================ 4. buyback paid from the reserve
def test_buyback_paid_from_the_reserve(approx_yuan):
    """100 units at 800,000, all pre-subscribed (deposit 10 % in month 0, balance at hand-over in month 1); 10 % of
    sale proceeds into the reserve (8 m by month 1); a 1-year lock-up, hazard 1: all 100 units bought back in
    month 13 at 9,000 × 0.75 … here at appraisal 8,000 × H (H = 1, no fee) = 80 m: 8 m from the reserve, 72 m short
    (the SOE pays); resold in month 19 at 80 m (8 m into the reserve, 72 m distributed); the reserve is released
    in the last month (8 m distributed)."""
    bb = {"lockup_years": 1, "hazard_annual": 1.0, "price_sensitivity": 0.0, "price_rule": "market_minus_fees",
          "fee_share": 0.0, "resale_delay_months": 6, "resale_margin": 0.0}
    p = sale_project(presubscription_share=1.0, handover_delay_months=0, absorption_monthly=0.0, buyback=bb,
                     buyback_reserve_share=0.1)
    p["appraisal_yuan_per_m2"] = S_PRICE
    _, m, _ = _m(scenario([p], horizon_years=2, support=DEFAULT))
    T = 24
    sales, bbp, reserve, dist, soe = (np.zeros(T) for _ in range(5))
    sales[0], sales[1], sales[19] = 8_000_000, 72_000_000, 80_000_000
    bbp[13] = 80_000_000
    reserve[0], reserve[1:13], reserve[19:23] = 800_000, 8_000_000, 8_000_000
    dist[0], dist[1], dist[19], dist[23] = 7_200_000, 64_800_000, 72_000_000, 8_000_000
    soe[13] = 80_000_000 - 8_000_000
    approx_yuan(m["sales"], sales, "sales")
    approx_yuan(m["buybacks"], bbp, "buyback paid")
    approx_yuan(m["buyback_reserve"], reserve, "buyback reserve balance")
    approx_yuan(m["distributions"], dist, "distributions")
    approx_yuan(m["soe_support"], soe, "SOE support: the buyback less what the reserve paid")
    assert np.max(np.abs(m["conservation"])) < 1e-6
    _, m0, _ = _m(scenario([p], horizon_years=2, support={"conventions": "legacy"}))
    assert m0["buyback_reserve"].max() == 0.0 and m0["soe_support"][13] == pytest.approx(80_000_000, abs=0.5)


def test_after_soe_support_the_soe_pays_its_own_debt_first_and_the_block_is_sold_for_the_bond():
    """Default timing (cures after SOE support), cap rate 8 %: in month 59 the SOE (ample pot) pays the bank's
    bullet of 15 m itself — SOE money pays its own debt — and what it may not pay, special-bond B's bullet and
    coupon, is cured by selling the block: 1,140,000 ÷ 8 % × (1 − 2 %) = 13,965,000, which covers the bond's
    shortfall and principal. The budget pays nothing."""
    cures = {"disposal": {**CURES["disposal"], "cap_rate": 0.08}}
    plan, m, out = _m(scenario([RENTAL], horizon_years=5, support=DEFAULT, cures=cures))
    assert out.scalars["disposal_month"][0] == 59
    assert m["disposal"][59] == pytest.approx(1_140_000 / 0.08 * (1 - TC), abs=0.5)
    assert m["soe_support"][59] == pytest.approx(LOAN - (95_000 - 37_500), abs=0.5)  # the bank bullet less the month NOI left after interest
    assert m["gov_bond"].sum() == pytest.approx(2_050_000 - (95_000 - 37_500), abs=0.5)  # month 35, as above
    assert m["gov_bond"][59] == 0.0 and m["gov_hidden"].sum() == 0.0
