"""Chance-constrained solvers: closed-form answers in deterministic mode, and the stochastic contract
(constraint holds at the answer within its SE, fails just beyond, same seed → same answer)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from baozhang_finance import simulate
from baozhang_finance.model.fields import apply_lever, lever_value
from baozhang_finance.model.scenario import ScenarioError, total_capital_sources_yuan, total_uses_yuan
from baozhang_finance.measures.metrics import METRICS
from baozhang_finance.analysis.solve import InfeasibleTarget, parse_constraint, solve
from conftest import annuity, scenario

# ------------------------------------------------------------------------------------------------ the case
UNITS, AREA = 100, 100.0
FLOOR = UNITS * AREA  # 10,000 m²
PRICE = 10_000.0  # yuan/m² → uses = 100,000,000 yuan
USES = FLOOR * PRICE
MARKET_RENT, RATIO, OCC, COLLECT = 30.0, 0.8, 0.9, 0.95
MGMT, VAT, PTAX = 0.05, 0.015, 0.04
OPEX_Y = 24.0
RATE, TERM = 0.036, 10
EQUITY = 20_000_000.0
LOAN0 = USES - EQUITY  # 80 m: far more debt than the rent can carry


def project(**fin) -> dict:
    return {
        "name": "Rental closed form", "type": "rental", "units": UNITS, "area_m2": AREA,
        "appraisal_yuan_per_m2": 11_000.0, "acquisition_price_yuan_per_m2": PRICE,
        "rental": {"market_rent_yuan_per_m2_month": MARKET_RENT, "rent_ratio": RATIO, "lease_years": 3,
                   "lease_up_months": 0, "stabilised_occupancy": OCC, "collection_rate": COLLECT,
                   "opex_yuan_per_m2_year": OPEX_Y, "management_fee_share": MGMT, "vat_rate_on_rent": VAT,
                   "property_tax_rate_on_rent": PTAX, "capex_reserve_share_of_rent": 0.0},
        "financing": {"equity_yuan": EQUITY,
                      "loans": [{"name": "rental purchase loan", "amount_yuan": LOAN0, "term_years": TERM,
                                 "amortisation": "annuity", "rate_type": "fixed", "fixed_rate": RATE}],
                      **fin},
    }


def closed_form():
    """The loans at which the minimum DSCR is exactly 1, from the inputs alone.

    Bought in month 0 and let from month 1 at full occupancy (no lease-up), flat market: monthly net rent
    NR = floor × rent × ratio × occupancy × collection × (1 − management − VAT − property tax); running cost
    C = floor × opex / 12 from month 0. The annuity PMT is level from month 0 to 119 (annuity factor
    a = r / (1 − (1 + r)^−120), r = 3.6 %/12).

    * bank lens and programme ``dscr_min`` (tested over the operating years 2–10, after stabilisation, no bonds
      here): DSCR is constant,
      12 (NR − C) / 12 PMT, so DSCR = 1 ⇔ PMT = NR − C ⇔ L_bank = (NR − C) / a;
    * every year (``dscr_min_all_years``): year 1 has 11 months of rent but 12 of costs and payments, so it is the
      lowest: (11 NR − 12 C) / (12 PMT) = 1 ⇔ L_all = (11 NR − 12 C) / (12 a).
    """
    nr = FLOOR * MARKET_RENT * RATIO * OCC * COLLECT * (1 - MGMT - VAT - PTAX)
    c = FLOOR * OPEX_Y / 12
    a = annuity(1.0, RATE, 12 * TERM)
    return {"nr": nr, "c": c, "a": a, "pmt": (11 * nr - 12 * c) / 12,
            "loan": (11 * nr - 12 * c) / 12 / a, "loan_bank": (nr - c) / a}


def make(**market_kw):
    return scenario([project()], horizon_years=TERM, market_kw=market_kw or None)


def test_closed_form_matches_the_engine():
    """At the closed-form loans the engine's own minimum DSCRs are 1 (so the solver tests test the search)."""
    from baozhang_finance.measures.bank import dscr_test_years, min_bank_dscr

    cf = closed_form()
    res = simulate(apply_lever(make(), "loan", cf["loan"]), deterministic=True)
    dscr = res.ledger("dscr")[0]
    assert dscr.argmin() == 0
    assert res.paths["dscr_min_all_years"].iloc[0] == pytest.approx(1.0, abs=1e-12)
    assert dscr[1] == pytest.approx((cf["nr"] - cf["c"]) / cf["pmt"], rel=1e-12)
    res = simulate(apply_lever(make(), "loan", cf["loan_bank"]), deterministic=True)
    assert dscr_test_years(res.scenario, res.plan) == (1, TERM)
    assert min_bank_dscr(res)[0] == pytest.approx(1.0, abs=1e-12)
    assert res.paths["dscr_min"].iloc[0] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("constraint,loan", [("p_dscr_below_1<=0.10", "loan_bank"), ("bank_dscr_min_p50>=1", "loan_bank"),
                                             ("p_total_dscr_below_1<=0.10", "loan_bank"),
                                             ("p_dscr_all_years_below_1<=0.1", "loan"),
                                             ("dscr_min_all_years_p50>=1.0", "loan")])
def test_min_grant_closed_form(constraint, loan):
    """Min capital grant with min DSCR ≥ 1: grant = uses − equity − L (the grant replaces loan yuan for yuan)."""
    cf = closed_form()
    expected = USES - EQUITY - cf[loan]
    res = solve(make(), "grant", constraint, deterministic=True, xtol=0.5)
    assert res.answer == pytest.approx(expected, abs=3.0)  # float32 ledgers: DSCR resolved to ≈ 1e-7 (1.5 yuan)
    assert res.constraint.holds(res.metric_value)
    assert res.metric_se == 0.0 and res.paths == 1
    # the answer's scenario still balances, with the grant where the loan was
    p = res.scenario.projects[0]
    assert total_capital_sources_yuan(p) == pytest.approx(total_uses_yuan(p), abs=1e-6)
    assert p.financing.loans[0].amount_yuan == pytest.approx(cf[loan], abs=3.0)
    # a continuous metric converges in far fewer simulations than bisection on a 0/1 indicator (≈ 27 halvings)
    if "_p50" in constraint:
        assert res.n_simulations <= 12


def test_other_levers_closed_form():
    """The same L_bank gives the minimum equity share, the maximum loan, the maximum price and the minimum rent
    ratio for a median minimum bank DSCR of 1."""
    cf = closed_form()
    sc = make()
    c = "bank_dscr_min_p50>=1.0"
    lb = cf["loan_bank"]
    # tolerances: the kept yearly ledgers are float32 (relative 6e-8), so a DSCR of 1 is resolved to ≈ 1e-7 —
    # about 1.5 yuan of a 15 m loan; the answers must sit within 3 yuan (or its equivalent) of the closed form
    eq = solve(sc, "equity_share", c, deterministic=True, xtol=1e-9)
    assert eq.answer == pytest.approx((USES - lb) / USES, abs=3.0 / USES)
    ml = solve(sc, "max_loan", c, deterministic=True, xtol=0.5)
    assert ml.answer == pytest.approx(lb, abs=3.0)
    # more price → more loan, yuan for yuan of floor area × Δprice: L(p) = L0 + floor (p − p0)
    mp = solve(sc, "max_price", c, deterministic=True, lo=2500.0, hi=PRICE, xtol=1e-6)
    assert mp.answer == pytest.approx(PRICE + (lb - LOAN0) / FLOOR, abs=3.0 / FLOOR)
    # rent ratio with a loan of 1.25 L_bank: NR(ratio) − C = PMT(1.25 L_bank), NR linear in the ratio
    loan1 = 1.25 * lb
    nr_per_ratio = cf["nr"] / RATIO
    rr = solve(apply_lever(sc, "loan", loan1), "rent_ratio", c, deterministic=True, lo=0.5, hi=1.5, xtol=1e-10)
    assert rr.answer == pytest.approx((loan1 * cf["a"] + cf["c"]) / nr_per_ratio, rel=3e-7)
    assert 0.8 < rr.answer < 1.5
    # continuous metrics: a handful of simulations each, not ~30 halvings
    assert max(r.n_simulations for r in (eq, ml, mp, rr)) <= 12


def test_bound_and_infeasible():
    cf = closed_form()
    sc = apply_lever(make(), "loan", 0.5 * cf["loan"])  # already safe with no grant at all
    res = solve(sc, "grant", "dscr_min_p50>=1.0", deterministic=True)
    assert res.answer == 0.0 and res.bound == "lo" and res.n_simulations == 1
    # at rent ratio 1 and the plan's 80 m loan the (constant) bank DSCR is (NR(1) − C) / PMT(80 m)
    cf = closed_form()
    best = (cf["nr"] / RATIO - cf["c"]) / (LOAN0 * cf["a"])
    with pytest.raises(InfeasibleTarget) as exc:
        solve(make(), "rent_ratio", "bank_dscr_min_p50>=3", deterministic=True, lo=0.1, hi=1.0)
    msg = str(exc.value)
    assert "\n" not in msg
    assert (f"no value in [0.1, 1] meets bank_dscr_min_p50>=3 — even at the upper end (1) "
            f"bank_dscr_min_p50 = {best:.4g}") in msg


def test_constraint_parsing_and_bad_input():
    c = parse_constraint(" p_call <= 5% ")
    assert (c.metric, c.op, c.target) == ("p_call", "<=", 0.05)
    assert parse_constraint("dscr_min_p05≥1.1").op == ">="
    for bad, what in [("p_cal<=0.05", "unknown"), ("p_call=0.05", "expected"), ("p_call<=1.5", "probability"),
                      ("", "expected")]:
        with pytest.raises(ScenarioError, match=what):
            parse_constraint(bad)
    with pytest.raises(ScenarioError, match="--find 'subsidy'"):
        solve(make(), "subsidy", "p_call<=0.05")
    with pytest.raises(ScenarioError, match="lo < hi"):
        solve(make(), "grant", "p_call<=0.05", lo=5.0, hi=1.0)
    with pytest.raises(ScenarioError, match="balancing loan"):
        solve(make(), "grant", "p_call<=0.05", hi=USES)  # more grant than the loan it replaces


# ------------------------------------------------------------------------------------------------ stochastic
def stochastic():
    """The closed-form project under a volatile market. The SOE can cover 300,000 yuan in all (the first month's
    costs come before any rent); the government covers the rest — a hidden-debt call."""
    return scenario([project()], horizon_years=TERM,
                    market_kw={"rent_vol_annual": 0.08, "occupancy_vol_annual": 0.06, "occupancy_reversion": 1.0,
                               "cpi_vol_annual": 0.01, "rent_drift_annual": -0.005},
                    waterfall_kw={"soe_support_capacity_yuan": 300_000.0})


PATHS, SEED = 1000, 11


def test_stochastic_solver_contract():
    sc = stochastic()
    target = 0.10
    res = solve(sc, "grant", f"p_call<={target}", paths=PATHS, seed=SEED)
    assert res.bound is None and res.stopped_by in ("resolution", "xtol")
    assert res.constraint.holds(res.metric_value)
    se = METRICS["p_call"]
    # reproducible: the same seed gives the same answer, bit for bit
    again = solve(sc, "grant", f"p_call<={target}", paths=PATHS, seed=SEED)
    assert again.answer == res.answer and again.n_simulations == res.n_simulations
    # on the solver's own draws: holds at the answer, fails at the other end of the final bracket
    at = simulate(apply_lever(sc, "grant", res.answer), paths=PATHS, seed=SEED)
    assert se(at)[0] == res.metric_value <= target
    beyond_same = simulate(apply_lever(sc, "grant", res.bracket[1]), paths=PATHS, seed=SEED)
    assert res.bracket[1] < res.answer and se(beyond_same)[0] > target
    # independent draws (another seed): within 2 SE of the difference of two estimates at the answer …
    p_ind, se_ind = se(simulate(apply_lever(sc, "grant", res.answer), paths=PATHS, seed=SEED + 1))
    assert p_ind <= target + 2 * math.hypot(res.metric_se, se_ind)
    # … and violated a little below it: the answer's MC uncertainty × 6 (≈ 4 SE of the difference in p)
    assert res.answer_se is not None and 0 < res.answer_se < 0.05 * res.answer
    below = res.answer - 6 * res.answer_se
    p_b, se_b = se(simulate(apply_lever(sc, "grant", below), paths=PATHS, seed=SEED + 1))
    assert p_b > target
    # every simulation is accounted for, and the solve is cheap: well under the 60-evaluation cap
    assert res.n_simulations == len(res.evaluations) <= 16


def test_max_loan_monotone_and_levers_balance():
    sc = stochastic()
    res = solve(sc, "max_loan", "p_dscr_below_1<=0.2", paths=400, seed=3)
    p = res.scenario.projects[0]
    assert lever_value(res.scenario, "loan") == res.answer
    assert total_capital_sources_yuan(p) == pytest.approx(total_uses_yuan(p), abs=1e-6)
    xs = np.array([e.x for e in res.evaluations])
    vs = np.array([e.value for e in res.evaluations])
    order = np.argsort(xs)
    assert np.all(np.diff(vs[order]) >= 0), "P(bank DSCR < 1) must not fall as the loan grows (common draws)"
