"""A block the government owns (``owner = "government"``; Liaoning seeds/000 §二: 公租房 bought by 各地区政府, §三:
保租房 by a chosen SOE). On budget: SOE money never pays its gaps, its operating gaps are explicit budget spending
(not a hidden-debt call), its bond gaps the explicit bond burden, its distributions return to the budget, and it may
not borrow from a bank. Numbers by hand (docs/decisions.md 50)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from baozhang_finance import simulate
from conftest import recorded, scenario

DEFAULT = {"conventions": "default", "distributions_return": True}
T = 36  # three-year horizon


def v(t: int) -> float:
    """End-of-month discount factor at the 2 % local-bond yield: 1.02^−(t+1)/12 (written out, not the package's)."""
    return 1.02 ** (-(t + 1) / 12.0)


def block(name: str, opex_m2_year: float, **kw) -> dict:
    """10 units × 100 m² bought for 10,000 yuan/m² in month 0 (paid that month), let from month 1 at 1 yuan/m²/month
    × 0.8 → rent 800 a month; running cost ``opex_m2_year``/12 × 1,000 m² a month from month 0."""
    p = {"name": name, "type": "rental", "units": 10, "area_m2": 100.0, "appraisal_yuan_per_m2": 12_000.0,
         "acquisition_price_yuan_per_m2": 10_000.0,
         "rental": {"market_rent_yuan_per_m2_month": 1.0, "rent_ratio": 0.8, "lease_years": 3, "lease_up_months": 0,
                    "stabilised_occupancy": 1.0, "collection_rate": 1.0, "opex_yuan_per_m2_year": opex_m2_year,
                    "management_fee_share": 0.0, "vat_rate_on_rent": 0.0, "property_tax_rate_on_rent": 0.0,
                    "capex_reserve_share_of_rent": 0.0},
         "financing": {"equity_yuan": 10_000_000.0}}
    p.update(kw)
    return p


def gov_block(opex_m2_year: float = 24.0) -> dict:
    """The government's block: budget funds 2 m, central grant 3 m, a 5 m special bond at 2 % annual, 3-year bullet."""
    return block("G", opex_m2_year, owner="government", financing={
        "equity_yuan": 2e6, "grants": [{"name": "central", "source": "central", "amount_yuan": 3e6, "capital": True}],
        "bonds": [{"name": "SB", "amount_yuan": 5e6, "coupon": 0.02, "term_years": 3, "coupon_frequency": "annual",
                   "principal": "bullet"}]})


def run(projects, capacity=5_000.0, cures=None):
    sc = scenario(projects, horizon_years=3, waterfall_kw={"soe_support_capacity_yuan": capacity}, support=DEFAULT,
                  cures=cures)
    return recorded(sc)


@pytest.mark.parametrize("cures", [None, {"timing": "after_soe_support", "refinancing": {"max_share": 0.0001}}],
                         ids=["no-cures", "cures-after-soe"])
def test_government_block_gaps_are_explicit_and_soe_money_stays_with_the_soe(cures):
    """G and S lose 2,000 in month 0 (cost, no rent yet) and 2,000 − 800 = 1,200 a month after. The SOE's pot of
    5,000 pays S only: 2,000 + 1,200 + 1,200 + 600 (months 0–3), then S's gap is a hidden call (600 in month 3,
    1,200 after). G's gap is explicit spending from month 0: PV = 2,000 v₀ + Σ₁³⁵ 1,200 v_t. G's bond (no cash to
    pay it) is explicit bond burden: 100,000 in months 11 and 23, 5,100,000 in month 35 — PV 5,000,000 exactly
    (a par bond at the discount rate). With the cures after SOE support, refinancing acts on the government's bond
    too: 0.01 % of the 5 m principal (500) is rolled over, so month 35 is 5,099,500."""
    plan, mo, out = run([gov_block(), block("S", 24.0)], cures=cures)
    rolled = 500.0 if cures else 0.0
    soe = np.zeros(T)
    soe[:4] = [2000, 1200, 1200, 600]
    hidden = np.full(T, 1200.0)
    hidden[:4] = [0, 0, 0, 600]
    topup = np.full(T, 1200.0)
    topup[0] = 2000.0
    assert np.allclose(mo["soe_support"], soe)
    assert np.allclose(mo["gov_hidden"], hidden)
    assert np.allclose(mo["gov_owned_opex"], topup)
    bond = np.zeros(T)
    bond[[11, 23, 35]] = [100_000, 100_000, 5_100_000 - rolled]
    assert np.allclose(mo["gov_bond"], bond)
    assert out.scalars["pv_gov_owned_opex"][0] == pytest.approx(2000 * v(0) + sum(1200 * v(t) for t in range(1, T)))
    assert out.scalars["pv_hidden"][0] == pytest.approx(600 * v(3) + sum(1200 * v(t) for t in range(4, T)))
    assert out.scalars["pv_bond_burden"][0] == pytest.approx(5e6 - rolled * v(35))
    assert np.allclose(mo["short_opex"][0], topup)  # the record shows the government block's gap
    assert np.abs(mo["conservation"]).max() < 1e-4


def test_same_block_owned_by_the_soe_is_a_hidden_call():
    """The same G under the SOE: the pot of 5,000 pays G and S together (2 × 2,000, then 1,000 of month 1) and every
    yuan after is a hidden call — the owner, not the cash flow, decides the class."""
    g = gov_block()
    g["owner"] = "soe"
    _, mo, out = run([g, block("S", 24.0)])
    assert np.allclose(mo["soe_support"][:3], [4000, 1000, 0])
    assert mo["gov_hidden"][1] == pytest.approx(2400 - 1000)
    assert mo["gov_hidden"][2:].min() == pytest.approx(2400)
    assert out.scalars["pv_gov_owned_opex"][0] == 0.0


def test_government_block_income_returns_to_the_budget():
    """G without costs or bond (budget funds 10 m): 800 a month from month 1 is distributed to the budget, PV
    Σ₁³⁵ 800 v_t; the SOE's pot neither grows by it nor pays anything; the SOE's equity flows do not see G."""
    g = block("G", 0.0, owner="government")
    _, mo, out = run([g, block("S", 0.0)], capacity=5_000.0)
    assert out.scalars["pv_gov_owned_income"][0] == pytest.approx(sum(800 * v(t) for t in range(1, T)))
    assert out.scalars["soe_capacity_left"][0] == pytest.approx(5_000.0 + 35 * 800)  # only S's distributions return
    assert np.allclose(out.scalars["equity_m"][0][1:], 800.0)  # S's distributions, S's equity in month 0
    assert out.scalars["equity_m"][0][0] == pytest.approx(-10e6)
    assert np.abs(mo["conservation"]).max() < 1e-4


def test_fiscal_summary_reports_government_owned_blocks():
    """fiscal.government_owned: capital = budget funds 2 m drawn in month 0 (2e6 v₀); top-ups as above; the total
    fiscal cost adds both."""
    sc = scenario([gov_block(), block("S", 24.0)], horizon_years=3,
                  waterfall_kw={"soe_support_capacity_yuan": 5_000.0}, support=DEFAULT)
    res = simulate(sc, paths=8, seed=1)
    g = res.summary["fiscal"]["government_owned"]
    assert g["blocks"] == 1
    assert g["capital_pv"] == pytest.approx(2e6 * v(0))
    assert g["p_operating_topup"] == 1.0
    assert g["expected_operating_topup_pv"] == pytest.approx(2000 * v(0) + sum(1200 * v(t) for t in range(1, T)))
    tfc = res.summary["fiscal"]["total_fiscal_cost"]
    assert tfc["government_owned_capital_pv"] == pytest.approx(g["capital_pv"])
    assert tfc["government_owned_operating_pv"] == pytest.approx(g["expected_operating_topup_pv"])


def test_government_block_may_not_borrow_from_a_bank_or_share_cash():
    g = gov_block()
    g["financing"] = {"equity_yuan": 5e6, "loans": [{"name": "L", "amount_yuan": 5e6, "term_years": 3,
                                                      "amortisation": "annuity", "rate_type": "fixed", "fixed_rate": 0.03}]}
    with pytest.raises(ValueError, match="borrows only by special bonds"):
        scenario([g], horizon_years=3, support=DEFAULT)
    with pytest.raises(ValueError, match="cross_project_support"):
        scenario([gov_block(), block("S", 24.0)], horizon_years=3, support=DEFAULT,
                 waterfall_kw={"cross_project_support": True})


def test_no_government_block_changes_nothing():
    """Every block the SOE's: the government-owned accumulators stay zero (the snapshot guards the rest)."""
    _, mo, out = run([block("S", 24.0)])
    assert out.scalars["pv_gov_owned_opex"][0] == 0.0 and out.scalars["pv_gov_owned_income"][0] == 0.0
    assert mo["gov_owned_opex"].sum() == 0.0
    assert copy.deepcopy(block("S", 0.0))["name"] == "S"
