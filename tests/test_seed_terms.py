"""Seed rules that change the engine (issue 15 item 7): SOE corporate bonds, Loudi's negotiated buyback, Beitun's
government buybacks, Suihua's acquisition condition, Beitun's construction delay and overrun — and the 保本微利 /
pre-allocation compliance rules. Numbers by hand; every case runs under the default conventions unless it says
legacy, and checks cash conservation."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from baozhang_finance.engine.loop import run_paths
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.engine.shocks import Shocks
from baozhang_finance.engine.state import State, constants
from baozhang_finance.model.compliance import check_scenario, unverifiable
from conftest import recorded, scenario

DEFAULT = {"conventions": "default", "distributions_return": False}
LEGACY = {"conventions": "legacy"}


def rental(**kw) -> dict:
    """10 units × 100 m², bought for 10,000 yuan/m² in month 0; rent 1 yuan/m²/month × 0.8, no costs."""
    p = {"name": "R", "type": "rental", "units": 10, "area_m2": 100.0, "appraisal_yuan_per_m2": 12_000.0,
         "acquisition_price_yuan_per_m2": 10_000.0,
         "rental": {"market_rent_yuan_per_m2_month": 1.0, "rent_ratio": 0.8, "lease_years": 3, "lease_up_months": 0,
                    "stabilised_occupancy": 1.0, "collection_rate": 1.0, "opex_yuan_per_m2_year": 0.0,
                    "management_fee_share": 0.0, "vat_rate_on_rent": 0.0, "property_tax_rate_on_rent": 0.0,
                    "capex_reserve_share_of_rent": 0.0},
         "financing": {"equity_yuan": 10_000_000.0}}
    p.update(kw)
    return p


def sale(buyback: dict | None = None, **kw) -> dict:
    """100 units × 100 m² bought for 8,000 yuan/m² in month 0, all pre-subscribed, handed over in month 1."""
    p = {"name": "S", "type": "sale", "units": 100, "area_m2": 100.0, "appraisal_yuan_per_m2": 10_000.0,
         "acquisition_price_yuan_per_m2": 8_000.0,
         "sale": {"margin": 0.03, "presubscription_share": 1.0, "deposit_share": 0.1, "handover_delay_months": 0,
                  "absorption_monthly": 0.0, "absorption_price_elasticity": 0.0, "sweep_share": 0.0,
                  "holding_cost_yuan_per_m2_year": 0.0, "sales_tax_rate": 0.0, "buyer_down_payment_share": 0.2},
         "financing": {"equity_yuan": 80_000_000.0}}
    if buyback is not None:
        p["sale"]["buyback"] = {"lockup_years": 1, "hazard_annual": 0.12, "price_sensitivity": 0.0,
                                "price_rule": "market_minus_fees", "fee_share": 0.05, "resale_delay_months": 6,
                                "resale_margin": 0.02, **buyback}
    p.update(kw)
    return p


def conserved(mo):
    assert np.abs(mo["conservation"]).max() < 1e-4


# ------------------------------------------------------------------------------------------ SOE bonds
B, C = 8_000_000.0, 0.04


def soe_bonded(**bond):
    p = rental()
    p["financing"] = {"equity_yuan": 2_000_000.0, "soe_bonds": [
        {"name": "公司债", "amount_yuan": B, "coupon": C, "term_years": 3, "coupon_frequency": "annual", **bond}]}
    return p


def test_soe_bond_bullet_by_hand_and_its_shortfall_is_hidden_debt():
    """Bullet, annual coupon: interest Σ_12 B·c/12 = B·c = 320,000 at months 11, 23, 35; principal B at month 35.
    Rent 1,000 m² × 1 × 0.8 = 800 a month from month 1; the SOE has no money, so the government pays
    coupon − 800 in months 11 and 23 and coupon + B − 800 in month 35 — a hidden-debt call (SOE debt), no bond
    burden."""
    sc = scenario([soe_bonded()], horizon_years=4, support=DEFAULT, waterfall_kw={"soe_support_capacity_yuan": 0.0})
    plan, mo, out = recorded(sc)
    interest = mo["soe_bond_interest"][0]
    principal = mo["soe_bond_principal"][0]
    coupon = B * C  # 320,000
    for t in range(48):
        assert interest[t] == pytest.approx(coupon if t in (11, 23, 35) else 0.0, abs=1e-6)
        assert principal[t] == pytest.approx(B if t == 35 else 0.0, abs=1e-6)
    rent = 1000 * 1.0 * 0.8
    for t, due in ((11, coupon), (23, coupon), (35, coupon + B)):
        assert mo["short_soe_bond"][0, t] == pytest.approx(due - rent, abs=1e-6)
        assert mo["gov_hidden"][t] == pytest.approx(due - rent, abs=1e-6)
    assert mo["gov_bond"].sum() == 0.0
    assert mo["sources"][0, 0] == pytest.approx(10_000_000.0)  # equity + SOE bond = uses
    assert out.yearly["soe_bond_interest"][0].tolist() == pytest.approx([coupon, coupon, coupon, 0.0])
    assert out.yearly["soe_bond_balance"][0].tolist() == pytest.approx([B, B, 0.0, 0.0])
    assert out.yearly["debt_service"][0, 2] == pytest.approx(coupon + B)
    assert out.scalars["pv_hidden"][0] > 0
    conserved(mo)


def test_soe_money_pays_soe_bonds_before_the_government():
    sc = scenario([soe_bonded()], horizon_years=4, support=DEFAULT, waterfall_kw={"soe_support_capacity_yuan": 1e9})
    _, mo, _ = recorded(sc)
    assert mo["gov_hidden"].sum() == 0.0
    assert mo["soe_support"].sum() == pytest.approx(3 * (B * C - 800) + B)
    sc = scenario([soe_bonded()], horizon_years=4, waterfall_kw={"soe_support_capacity_yuan": 1e9},
                  support={"conventions": "default", "soe_pays": ["operating_costs", "bank_debt"]})
    _, mo, _ = recorded(sc)
    assert mo["gov_hidden"].sum() == pytest.approx(3 * (B * C - 800) + B)  # SOE money may not pay it


def test_soe_bond_ranks_after_the_bank_and_before_special_bonds():
    plan = compile_plan(scenario([soe_bonded()], horizon_years=4, support=DEFAULT))
    assert [tr.kind for tr in plan.tranches] == ["bank_loan", "soe_bond", "special_bond"]
    assert {tr.kind: tr.government_class for tr in plan.tranches}["soe_bond"] == "hidden"
    plan = compile_plan(scenario([soe_bonded()], horizon_years=4, support=DEFAULT,
                                 waterfall_kw={"seniority": "bonds_first"}))
    assert [tr.kind for tr in plan.tranches] == ["special_bond", "bank_loan", "soe_bond"]


def test_soe_bond_schedule_and_sources_equal_uses():
    p = soe_bonded(principal="schedule", schedule=[{"year": 1, "share": 0.5}, {"year": 3, "share": 0.5}])
    _, mo, _ = recorded(scenario([p], horizon_years=4, support=DEFAULT))
    assert mo["soe_bond_principal"][0, 11] == pytest.approx(B / 2)
    # year 2 coupon on the half left: 12 × (B/2)·c/12
    assert mo["soe_bond_interest"][0, 23] == pytest.approx(B / 2 * C)
    conserved(mo)
    bad = copy.deepcopy(p)
    bad["financing"]["soe_bonds"][0]["amount_yuan"] = B / 2
    with pytest.raises(ValueError, match="sources"):
        scenario([bad], horizon_years=4)


# ------------------------------------------------------------------------------------------ buybacks
def _h_m(h):
    return 1.0 - (1.0 - h) ** (1.0 / 12.0)


def test_loudi_acceptance_share_by_hand():
    """Units handed over in month 1 may ask from month 13: requests 100·h_m, accepted a·100·h_m; month 14 the pool
    is 100·(1 − h_m) (refused owners leave it), accepted a·100·(1 − h_m)·h_m. Paid at 10,000·0.95 per m²."""
    a = 0.4
    _, mo, _ = recorded(scenario([sale({"acceptance_share": a})], horizon_years=3, support=DEFAULT))
    hm = _h_m(0.12)
    assert mo["bb_units"][0, 12] == 0.0
    assert mo["bb_units"][0, 13] == pytest.approx(a * 100 * hm)
    assert mo["bb_units"][0, 14] == pytest.approx(a * 100 * (1 - hm) * hm)
    assert mo["buybacks"][0, 13] == pytest.approx(a * 100 * hm * 100 * 10_000 * 0.95)
    conserved(mo)
    _, legacy, _ = recorded(scenario([sale({"acceptance_share": a})], horizon_years=3, support=LEGACY))
    assert legacy["bb_units"][0, 13] == pytest.approx(100 * hm)  # legacy: a put, whatever the file says


def test_beitun_government_pays_buybacks_and_gets_the_resale():
    """payer = government: the project pays nothing and keeps nothing; the budget pays a·units·area·price in month
    13 and gets it back × 1.02 six months later; the SOE's holding does not change."""
    sc = scenario([sale({"payer": "government"})], horizon_years=3, support=DEFAULT)
    plan, mo, out = recorded(sc)
    hm = _h_m(0.12)
    paid13 = 100 * hm * 100 * 10_000 * 0.95
    assert mo["buybacks"].sum() == 0.0
    assert mo["gov_buybacks"][13] == pytest.approx(paid13)
    assert mo["gov_resale"][19] == pytest.approx(paid13 * 1.02)
    assert np.allclose(mo["held"][0, 1:], 0.0)
    assert mo["gov_hidden"].sum() == 0.0
    conserved(mo)
    v = plan.support.fiscal_discount_m
    expected = sum(mo["gov_buybacks"][t] * v[t] for t in range(36))
    assert out.scalars["pv_gov_buyback"][0] == pytest.approx(expected)


def test_government_buybacks_in_the_fiscal_summary():
    from baozhang_finance import simulate

    res = simulate(scenario([sale({"payer": "government"})], horizon_years=3, support=DEFAULT), paths=20, seed=3)
    g = res.summary["fiscal"]["government_buybacks"]
    assert g["p_any"] == 1.0 and g["expected_pv"] > 0 and g["expected_resale_pv"] > 0


# ------------------------------------------------------------------------------------------ acquisition condition
def test_suihua_condition_not_met_means_not_bought():
    short = sale(acquisition_condition_share=0.95)
    short["sale"]["presubscription_share"] = 0.9
    short["name"] = "short"
    met = sale(acquisition_condition_share=0.95, name="met")
    met["sale"]["presubscription_share"] = 0.96
    plan, mo, _ = recorded(scenario([short, met], horizon_years=3, support=DEFAULT))
    assert plan.not_bought.tolist() == [True, False]
    for k in ("sources", "uses", "sales", "held", "buybacks", "distributions"):
        assert np.abs(mo[k][0]).max() == 0.0, k
    assert mo["uses"][1, 0] == pytest.approx(80_000_000.0)
    conserved(mo)
    plan, mo, _ = recorded(scenario([short, met], horizon_years=3, support=LEGACY))
    assert not plan.not_bought.any() and mo["uses"][0, 0] > 0  # legacy: always bought


def test_rental_pre_allocation_condition():
    none = rental(acquisition_condition_share=0.95)
    plan, mo, _ = recorded(scenario([none], horizon_years=2, support=DEFAULT))
    assert plan.not_bought.tolist() == [True] and mo["rent"].sum() == 0.0 and mo["uses"].sum() == 0.0
    ok = rental(acquisition_condition_share=0.95)
    ok["rental"]["pre_allocation_share"] = 0.95
    plan, mo, _ = recorded(scenario([ok], horizon_years=2, support=DEFAULT))
    assert plan.not_bought.tolist() == [False] and mo["rent"][0, 1] == pytest.approx(800.0)


# ------------------------------------------------------------------------------------------ construction risk
def new_build(**risk):
    p = sale()
    p.pop("acquisition_price_yuan_per_m2")
    p["construction"] = {"land_cost_yuan": 0.0, "construction_cost_yuan_per_m2": 8_000.0, "start_month": 0,
                         "months": 10, **risk}
    return p


def test_delay_shifts_hand_over_and_overrun_is_soe_equity():
    """Delay 6 months for sure: a new build's deposits are escrowed until completion (预售资金监管, default
    conventions), so deposit 0.1 · value and balance 0.9 · value both reach the project at completion — month 10 + 6
    instead of 10; an overrun of 10 % for sure adds 0.1 · 80 m = 8 m of uses and of SOE equity, 0.8 m a month over
    the 10 build months."""
    base = recorded(scenario([new_build()], horizon_years=3, support=DEFAULT))[1]
    value = 100 * 100 * 8_000 * 1.03
    assert base["sales"][0, 10] == pytest.approx(value)
    plan, mo, out = recorded(scenario([new_build(delay_months=6, delay_probability=1.0, overrun_share=0.1,
                                                 overrun_probability=1.0)], horizon_years=3, support=DEFAULT))
    assert mo["sales"][0, 10] == 0.0 and mo["sales"][0, 16] == pytest.approx(value)
    assert mo["escrow"][0, 15] == pytest.approx(0.1 * value) and mo["escrow"][0, 16] == 0.0
    assert plan.acquired_delayed[0].nonzero()[0].tolist() == [16]  # in hand at completion, handed over at once
    assert mo["overrun"][0, :10] == pytest.approx(np.full(10, 800_000.0))
    assert out.yearly["equity_in"][0].sum() == pytest.approx(80_000_000.0 + 8_000_000.0)
    conserved(mo)
    # expected path: probability-weighted
    plan, mo, out = recorded(scenario([new_build(delay_months=6, delay_probability=0.25, overrun_share=0.1,
                                                 overrun_probability=0.5)], horizon_years=3, support=DEFAULT))
    assert mo["sales"][0, 10] == pytest.approx(0.75 * value)
    assert mo["sales"][0, 16] == pytest.approx(0.25 * value)
    assert out.yearly["equity_in"][0].sum() == pytest.approx(80_000_000.0 + 0.5 * 8_000_000.0)
    conserved(mo)
    # legacy: nothing acts
    _, mo, _ = recorded(scenario([new_build(delay_months=6, delay_probability=1.0, overrun_share=0.1,
                                            overrun_probability=1.0)], horizon_years=3, support=LEGACY))
    assert mo["sales"][0, 10] == pytest.approx(0.9 * value) and mo["overrun"].sum() == 0.0  # legacy: no escrow


def test_delay_probability_within_standard_errors_and_conservation_on_paths():
    p_d, p_o, n = 0.3, 0.2, 4000
    sc = scenario([new_build(delay_months=6, delay_probability=p_d, overrun_share=0.1, overrun_probability=p_o)],
                  horizon_years=3, support=DEFAULT, market_kw={"price_vol_annual": 0.1, "absorption_vol_annual": 0.3})
    plan = compile_plan(sc)
    st = State.start(plan, constants(plan), n, False, Shocks(np.random.default_rng(5), n))
    for w, p in ((st.delayed, p_d), (st.overrun, p_o)):
        assert abs(w.mean() - p) < 4 * math.sqrt(p * (1 - p) / n)
    assert abs(np.corrcoef(st.delayed[0], st.overrun[0])[0, 1]) < 4 / math.sqrt(n)  # independent draws
    out = run_paths(plan, 200, np.random.default_rng(9), record=True)
    assert np.abs(out.monthly["conservation"]).max() < 1e-3
    eq = out.yearly["equity_in"].sum(axis=1)
    assert set(np.round(eq / 1e6, 6)) <= {80.0, 88.0}


def test_rental_new_build_delay_is_refused():
    p = rental()
    p.pop("acquisition_price_yuan_per_m2")
    p["construction"] = {"land_cost_yuan": 0.0, "construction_cost_yuan_per_m2": 10_000.0, "start_month": 0,
                         "months": 10, "delay_months": 3, "delay_probability": 0.5}
    with pytest.raises(ValueError, match="sale-type new builds only"):
        scenario([p], horizon_years=3)


# ------------------------------------------------------------------------------------------ compliance
def with_rules(projects, rule_sets, **kw):
    sc = scenario(projects, horizon_years=4, **kw)
    return sc.model_copy(update={"policy": sc.policy.model_copy(update={"rule_sets": rule_sets})})


def test_weihai_break_even_rent():
    """NOI = 12 · 1,000 m² · rent · 0.8; debt cost = 8 m · 4 % = 320,000 a year. Rent 1 → NOI 9,600 < 320,000
    (a finding); rent 34 → NOI 326,400 ≥ 320,000 (passes)."""
    ids = lambda sc: [f.rule_id for f in check_scenario(sc)]  # noqa: E731
    assert "weihai.break_even_rent" in ids(with_rules([soe_bonded()], ["weihai"]))
    p = soe_bonded()
    p["rental"]["market_rent_yuan_per_m2_month"] = 34.0
    assert "weihai.break_even_rent" not in ids(with_rules([p], ["weihai"]))
    f = [f for f in check_scenario(with_rules([soe_bonded()], ["weihai"])) if f.rule_id == "weihai.break_even_rent"][0]
    assert f.document == "002_c6a4dd734eb8d23e.txt" and f.clause == "§一" and "9,600" in f.actual


def test_weihai_thin_margin():
    ids = lambda sc: [f.rule_id for f in check_scenario(sc)]  # noqa: E731
    assert "weihai.thin_margin" not in ids(with_rules([sale({})], ["weihai"]))
    p = sale({})
    p["sale"]["margin"] = 0.08
    assert "weihai.thin_margin" in ids(with_rules([p], ["weihai"]))


def test_suihua_pre_allocation_rule():
    p = rental()
    sc = with_rules([p], ["suihua"])
    assert [u.rule_id for u in unverifiable(sc) if u.rule_id == "suihua.pre_allocation"]
    p["rental"]["pre_allocation_share"] = 0.9
    assert "suihua.pre_allocation" in [f.rule_id for f in check_scenario(with_rules([p], ["suihua"]))]
    p["rental"]["pre_allocation_share"] = 0.96
    assert "suihua.pre_allocation" not in [f.rule_id for f in check_scenario(with_rules([p], ["suihua"]))]


def test_beitun_government_buyback_rule():
    ids = lambda sc: [f.rule_id for f in check_scenario(sc)]  # noqa: E731
    assert "beitun.government_buyback" in ids(with_rules([sale({})], ["beitun"]))
    assert "beitun.government_buyback" not in ids(with_rules([sale({"payer": "government"})], ["beitun"]))
