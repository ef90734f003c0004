"""Golden financing cases, computed by hand: special bonds (专项债), PBoC relending (保障性住房再贷款) and the
loan types.

Conventions (financing.py): r = annual / 12; a loan drawn in month m pays its first instalment at the end of
month m; an annuity pays PMT = B r / (1 − (1 + r)^−n) over the n = 12·term − grace months left; relending
charges share × relending rate + (1 − share) × the loan's own rate for 12·term·(1 + rollovers) months from the
first draw, then the loan's own rate (fixed, or LPR + spread); a semiannual special bond fully issued in its
first month pays B·c/2 at months first + 5, first + 11, … and its bullet principal at first + 12·term − 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from baozhang_finance import simulate
from baozhang_finance.engine.loop import run_paths
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.run.simulate import chunk_generator
from conftest import annuity, balance_after, recorded, scenario


def rental(name="P", units=50, area=80.0, price=10_000.0, rent=20.0, start=0, financing=None):
    return {"name": name, "type": "rental", "units": units, "area_m2": area, "appraisal_yuan_per_m2": price,
            "acquisition_price_yuan_per_m2": price, "acquisition_start_month": start,
            "rental": {"market_rent_yuan_per_m2_month": rent, "rent_ratio": 0.8, "lease_years": 1,
                       "lease_up_months": 0, "stabilised_occupancy": 1.0, "collection_rate": 1.0,
                       "opex_yuan_per_m2_year": 0.0, "management_fee_share": 0.0, "vat_rate_on_rent": 0.0,
                       "property_tax_rate_on_rent": 0.0, "capex_reserve_share_of_rent": 0.0},
            "financing": financing}


def squeeze(m):
    """Drop the project axis of the one-project (1, T) arrays."""
    return {k: (v[0] if v.ndim == 2 and v.shape[0] == 1 else v) for k, v in m.items()}


# ===================================================================================== special bond
B, COUPON, FIRST = 20_000_000.0, 0.024, 3
BOND_PROJECT = rental("Bond golden", start=FIRST, financing={
    "equity_yuan": 20_000_000.0,
    "bonds": [{"name": "专项债", "amount_yuan": B, "coupon": COUPON, "term_years": 5,
               "coupon_frequency": "semiannual", "principal": "bullet"}]})
RENT_M = 50 * 80.0 * 20.0 * 0.8  # 64,000 yuan/month from month FIRST + 1, no costs
SOE_CAP = 1_000_000.0


def bond_hand(T=72, dsra_months=6):
    service = np.zeros(T)
    coupon_months = np.arange(FIRST + 5, FIRST + 60, 6)  # 8, 14, …, 62
    service[coupon_months] += B * COUPON / 2
    service[FIRST + 59] += B
    cfads = np.where(np.arange(T) >= FIRST + 1, RENT_M, 0.0)
    dsra, soe_left = 0.0, SOE_CAP
    out = {k: np.zeros(T) for k in ("dsra", "dist", "soe", "gov_bond", "target")}
    for t in range(T):
        avail = cfads[t] + dsra
        paid = min(avail, service[t])
        short = service[t] - paid
        surplus = avail - paid
        target = service[t + 1: t + 1 + dsra_months].sum()  # the next dsra_months of bond service
        dsra = min(surplus, target)
        soe = min(soe_left, short)
        soe_left -= soe
        out["dsra"][t], out["dist"][t], out["soe"][t], out["gov_bond"][t] = dsra, surplus - dsra, soe, short - soe
        out["target"][t] = target
    out.update(service=service, cfads=cfads, coupon_months=coupon_months)
    return out


def test_bond_schedule_semiannual_bullet(approx_yuan):
    sc = scenario([BOND_PROJECT], horizon_years=6, waterfall_kw={"dsra_months": 6, "soe_support_capacity_yuan": SOE_CAP})
    plan, m, out = recorded(sc)
    m = squeeze(m)
    h = bond_hand()
    expect_int = np.zeros(72)
    expect_int[h["coupon_months"]] = 240_000.0  # 20,000,000 × 2.4 % / 2
    np.testing.assert_allclose(plan.bond_interest[0], expect_int, atol=1e-6)
    assert list(np.nonzero(plan.bond_interest[0])[0]) == [8, 14, 20, 26, 32, 38, 44, 50, 56, 62]
    expect_prin = np.zeros(72)
    expect_prin[62] = B  # first + 12·5 − 1
    np.testing.assert_allclose(plan.bond_principal[0], expect_prin, atol=1e-6)
    assert plan.bond_draw[0, FIRST] == B and plan.bond_balance[0, 61] == B and plan.bond_balance[0, 62] == 0
    approx_yuan(m["bond_interest"], expect_int, "coupons")
    approx_yuan(m["bond_principal"], expect_prin, "bullet principal")
    # DSRA target = the next 6 months of bond service: a coupon is reserved from 6 months before it
    np.testing.assert_allclose(plan.bond_forward_service[0], h["target"], atol=1e-6)
    approx_yuan(m["dsra"], h["dsra"], "DSRA")
    approx_yuan(m["distributions"], h["dist"], "distributions")
    # at maturity the DSRA holds all surplus since month 56; the bullet is short; SOE 1,000,000, then the budget
    # month 55 holds the 240,000 coupon of month 56; from 56 the target is 20,240,000, so every month's 64,000
    # stays in the DSRA: 6 × 64,000 = 384,000 at the end of month 61, + 64,000 of rent in month 62
    assert m["dsra"][55] == pytest.approx(240_000.0, abs=1e-6) and m["dsra"][61] == pytest.approx(384_000.0, abs=1e-6)
    short62 = B + 240_000 - 384_000 - RENT_M  # 19,792,000
    assert m["soe_support"][62] == pytest.approx(SOE_CAP, abs=1e-6)
    assert m["gov_bond"][62] == pytest.approx(short62 - SOE_CAP, abs=1e-6)  # 18,792,000
    approx_yuan(m["gov_bond"], h["gov_bond"], "explicit bond burden")
    assert np.all(m["gov_hidden"] == 0), "a special-bond shortfall is explicit, never hidden debt"
    assert np.max(np.abs(m["conservation"])) < 1e-6
    # 本息覆盖倍数: Σ CFADS over the bond's life (months 3..62) ÷ Σ (principal + interest)
    res = simulate(sc, deterministic=True)
    assert res.paths["bond_coverage_ratio"][0] == pytest.approx(59 * RENT_M / (B + 10 * 240_000), rel=1e-12)
    assert res.paths["explicit_bond_call"][0] and not res.paths["hidden_call"][0]


def test_bond_annual_coupon_and_schedule():
    proj = rental("annual", financing={"equity_yuan": 20_000_000.0, "bonds": [
        {"name": "b", "amount_yuan": B, "coupon": 0.03, "term_years": 4, "coupon_frequency": "annual",
         "principal": "schedule", "schedule": [{"year": 2, "share": 0.25}, {"year": 4, "share": 0.75}]}]})
    plan = compile_plan(scenario([proj], horizon_years=5), deterministic=True)
    it, pr = plan.bond_interest[0], plan.bond_principal[0]
    assert list(np.nonzero(it)[0]) == [11, 23, 35, 47] and list(np.nonzero(pr)[0]) == [23, 47]
    assert it[11] == pytest.approx(600_000.0) and it[23] == pytest.approx(600_000.0)
    assert it[35] == pytest.approx(0.75 * 600_000.0) and it[47] == pytest.approx(0.75 * 600_000.0)
    assert pr[23] == pytest.approx(5_000_000.0) and pr[47] == pytest.approx(15_000_000.0)


@pytest.mark.parametrize("seniority", ["bank_first", "bonds_first"])
def test_seniority_decides_hidden_versus_explicit(seniority):
    """Same shortfall, two seniorities: the unpaid junior debt is what the budget pays, and its kind decides
    whether the call is hidden debt (bank) or an explicit bond burden (bond)."""
    proj = rental("both", rent=5.0, financing={
        "equity_yuan": 10_000_000.0,
        "loans": [{"name": "L", "amount_yuan": 10_000_000.0, "term_years": 5, "amortisation": "interest_only",
                   "rate_type": "fixed", "fixed_rate": 0.036}],
        "bonds": [{"name": "b", "amount_yuan": B, "coupon": COUPON, "term_years": 5,
                   "coupon_frequency": "semiannual"}]})
    sc = scenario([proj], horizon_years=5, waterfall_kw={"seniority": seniority, "soe_support_capacity_yuan": 0.0})
    plan, m, _ = recorded(sc)
    m = squeeze(m)
    rent = 4_000 * 5.0 * 0.8  # 16,000 a month from month 1, no costs, no reserve (dsra_months 0, no lock-up)
    bank = 10_000_000 * 0.003  # 30,000 interest a month
    t = 5  # first coupon month: 240,000 of bond interest and 30,000 of bank interest against 16,000 of rent
    assert m["cfads"][t] == pytest.approx(rent)
    if seniority == "bank_first":  # rent goes to the bank: 14,000 of it unpaid (hidden), the coupon all explicit
        assert m["gov_hidden"][t] == pytest.approx(bank - rent, abs=1e-6)
        assert m["gov_bond"][t] == pytest.approx(240_000.0, abs=1e-6)
    else:  # rent goes to the coupon: 224,000 explicit, the whole 30,000 of bank interest hidden
        assert m["gov_bond"][t] == pytest.approx(240_000 - rent, abs=1e-6)
        assert m["gov_hidden"][t] == pytest.approx(bank, abs=1e-6)
    assert m["gov_hidden"][1] == pytest.approx(bank - rent) and m["gov_bond"][1] == 0  # no coupon in month 1
    assert m["gov_hidden"][0] == pytest.approx(bank)  # month 0: no rent yet, the bank interest is a hidden call
    assert np.max(np.abs(m["conservation"])) < 1e-6


# ===================================================================================== relending
LOAN, FIXED, REL = 10_000_000.0, 0.03, 0.0175


def loan_project(loan: dict, name="R"):
    return rental(name, units=100, area=100.0, rent=40.0, financing={
        "equity_yuan": 100 * 100 * 10_000.0 - LOAN, "loans": [loan]})


RELENDING_LOAN = {"name": "L", "amount_yuan": LOAN, "term_years": 10, "amortisation": "annuity", "rate_type": "fixed",
                  "fixed_rate": FIXED, "relending": {"share": 1.0, "rate": REL, "term_years": 1, "rollovers": 2}}


def two_rate_annuity(switch: int, T=120):
    """Annuity at the relending rate for `switch` months, re-levelled at the loan's own rate after."""
    p1 = annuity(LOAN, REL, T)
    b_switch = balance_after(LOAN, REL, p1, switch)
    p2 = annuity(b_switch, FIXED, T - switch)
    due = np.where(np.arange(T) < switch, p1, p2)
    rate = np.where(np.arange(T) < switch, REL / 12, FIXED / 12)
    return due, rate, p1, p2


def test_relending_for_its_rollovers_then_the_loan_rate(approx_yuan):
    sc = scenario([loan_project(RELENDING_LOAN)], horizon_years=10)
    plan, m, _ = recorded(sc)
    m = squeeze(m)
    due, rate, p1, p2 = two_rate_annuity(12 * (1 + 2))  # 1-year term, 2 rollovers: 36 months at 1.75 %
    np.testing.assert_allclose(m["loan_rate_m"], rate, rtol=0, atol=1e-15)
    approx_yuan(m["bank_due"], due, "annuity re-levelled when relending ends")
    assert p1 == pytest.approx(LOAN * (REL / 12) / (1 - (1 + REL / 12) ** -120))
    assert p2 > p1 and m["bank_due"][35] == pytest.approx(p1, abs=0.5) and m["bank_due"][36] == pytest.approx(p2, abs=0.5)
    assert abs(m["loan_balance"][-1]) < 1e-4
    assert m["bank_interest"][0] == pytest.approx(LOAN * REL / 12)


def test_relending_stopped_by_a_stress(approx_yuan):
    sc = scenario([loan_project(RELENDING_LOAN)], horizon_years=10,
                  stresses=[{"name": "no_renewal", "relending_stops_month": 12}])
    plan, m, _ = recorded(sc, "no_renewal")
    m = squeeze(m)
    due, rate, _, _ = two_rate_annuity(12)
    np.testing.assert_allclose(m["loan_rate_m"], rate, atol=1e-15)
    approx_yuan(m["bank_due"], due, "annuity when relending is not renewed after year 1")


def test_partial_relending_on_a_floating_loan(approx_yuan):
    """60 % refinanced at 1.75 % for 12 months on an LPR − 30 bp loan, the LPR reverting 3.5 % → 3.0 %."""
    loan = {"name": "F", "amount_yuan": LOAN, "term_years": 10, "amortisation": "annuity", "rate_type": "floating",
            "spread_over_lpr": -0.003, "relending": {"share": 0.6, "rate": REL, "term_years": 1, "rollovers": 0}}
    sc = scenario([loan_project(loan)], horizon_years=10,
                  market_kw={"lpr_initial": 0.035, "lpr_mean": 0.03, "lpr_reversion": 0.5})
    plan, m, _ = recorded(sc)
    m = squeeze(m)
    t = np.arange(120)
    lpr = 0.03 + 0.005 * (1 - 0.5 / 12) ** t  # Vasicek on its expected path
    np.testing.assert_allclose(m["lpr"], lpr, rtol=1e-12)
    base = (lpr - 0.003) / 12
    rate = np.where(t < 12, 0.6 * REL / 12 + 0.4 * base, base)
    np.testing.assert_allclose(m["loan_rate_m"], rate, rtol=1e-12)
    bal, due = LOAN, np.zeros(120)
    for k in range(120):  # the level payment is recomputed every month on the balance and months left
        r = rate[k]
        due[k] = bal * r / (1 - (1 + r) ** -(120 - k))
        bal -= due[k] - bal * r
    approx_yuan(m["bank_due"], due, "floating annuity with partial relending")
    assert abs(bal) < 1e-6


def test_stochastic_non_renewal_frequencies():
    """With p = 0.5 per rollover, relending ends at month 12, 24 or 36 with probabilities p, (1−p)p, (1−p)²;
    every path must follow exactly one of the three deterministic schedules."""
    p, n = 0.5, 4000
    sc = scenario([loan_project(RELENDING_LOAN)], horizon_years=10, market_kw={"relending_nonrenewal_prob": p},
                  stresses=[{"name": "s12", "relending_stops_month": 12}, {"name": "s24", "relending_stops_month": 24}])
    out = run_paths(compile_plan(sc), n, chunk_generator(7, 0))
    interest = out.yearly["bank_interest"][:, :4]
    # the three schedules: the same plan on a path that always renews (p = 0; the expected path with p > 0 weighs
    # the rates by P(still renewed), decision 73), stopped by a stress at 12 or 24
    sure = scenario([loan_project(RELENDING_LOAN)], horizon_years=10, market_kw={"relending_nonrenewal_prob": 0.0},
                    stresses=[{"name": "s12", "relending_stops_month": 12},
                              {"name": "s24", "relending_stops_month": 24}])
    refs = [run_paths(compile_plan(sure, stress=s, deterministic=True), 1, None).yearly["bank_interest"][0, :4]
            for s in ("s12", "s24", None)]
    dist = np.stack([np.abs(interest - r).max(axis=1) for r in refs], axis=1)
    assert np.all(dist.min(axis=1) < 1e-6), "a path matched none of the three relending schedules"
    counts = np.bincount(dist.argmin(axis=1), minlength=3)
    expected = np.array([p, (1 - p) * p, (1 - p) ** 2])
    se = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(counts / n - expected) < 4 * se), (counts / n, expected)


# ===================================================================================== loan types
def test_loan_types_by_hand(approx_yuan):
    r = 0.036 / 12
    mk = lambda name, **kw: {"name": name, "amount_yuan": 2_000_000.0, "term_years": 10, "rate_type": "fixed",  # noqa: E731
                             "fixed_rate": 0.036, **kw}
    loans = [mk("annuity+grace", amortisation="annuity", grace_months=6),
             mk("annuity+capitalised grace", amortisation="annuity", grace_months=6, capitalise_interest_in_grace=True),
             mk("equal principal", amortisation="equal_principal"),
             mk("interest only", amortisation="interest_only"),
             mk("bullet", amortisation="bullet")]
    proj = rental("types", units=100, area=100.0, rent=40.0,
                  financing={"equity_yuan": 100 * 100 * 10_000.0 - 10_000_000.0, "loans": loans})
    plan, m, _ = recorded(scenario([proj], horizon_years=10))
    bal = m["loan_balance"]  # (L, T), end of month
    t = np.arange(120)
    b = 2_000_000.0
    # 1. annuity after 6 interest-only months: PMT over the 114 months left
    p = annuity(b, 0.036, 114)
    exp1 = np.where(t < 6, b, [balance_after(b, 0.036, p, k - 5) if k >= 6 else b for k in t])
    approx_yuan(bal[0], exp1, "annuity with grace")
    # 2. grace interest capitalised: B(1+r)^6 amortised over 114 months
    b6 = b * (1 + r) ** 6
    p_cap = annuity(b6, 0.036, 114)
    exp2 = np.array([b * (1 + r) ** (k + 1) if k < 6 else balance_after(b6, 0.036, p_cap, k - 5) for k in t])
    approx_yuan(bal[1], exp2, "annuity with capitalised grace")
    # 3. equal principal: B/120 a month
    approx_yuan(bal[2], b - b / 120 * (t + 1), "equal principal")
    # 4. interest only: principal at maturity; 5. bullet: interest capitalised, B(1+r)^120 at maturity
    approx_yuan(bal[3], np.where(t < 119, b, 0.0), "interest only")
    approx_yuan(bal[4], np.where(t < 119, b * (1 + r) ** (t + 1), 0.0), "bullet")
    due = (np.where(t < 6, b * r, p)  # 1
           + np.where(t < 6, 0.0, p_cap)  # 2
           + b / 120 + (b - b / 120 * t) * r  # 3
           + b * r + np.where(t == 119, b, 0.0)  # 4
           + np.where(t == 119, b * (1 + r) ** 120, 0.0))  # 5
    approx_yuan(m["bank_due"][0], due, "total bank service of the five loans")
    assert np.max(np.abs(m["conservation"][0])) < 1e-6
