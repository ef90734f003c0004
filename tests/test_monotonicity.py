"""Comparative statics of the lenses on real runs with common random numbers.

Each comparison runs the demo scenario and an edited copy (built with ``scenario_from_dict``, sources = uses kept)
with the same seed and path count, so both see the same market paths; the lens metric must move the right way
(weakly: equality is allowed, e.g. when no path is affected).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from baozhang_finance import load_scenario
from baozhang_finance import simulate
from baozhang_finance.measures import bank
from baozhang_finance.model.scenario import scenario_from_dict, total_capital_sources_yuan, total_uses_yuan
from baozhang_finance.analysis.capacity import debt_capacity

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml"
PATHS = 2000
SEED = 11


@pytest.fixture(scope="module")
def demo_dict() -> dict:
    return load_scenario(DEMO).model_dump()


@pytest.fixture(scope="module")
def base_run(demo_dict):
    return simulate(scenario_from_dict(demo_dict), paths=PATHS, seed=SEED)


def _run(d: dict):
    sc = scenario_from_dict(d)
    for p in sc.projects:  # the edit keeps sources = uses (validation enforces it; checked here explicitly)
        assert abs(total_capital_sources_yuan(p) - total_uses_yuan(p)) <= 1.0
    return simulate(sc, paths=PATHS, seed=SEED)


def test_more_equity_less_loan_lowers_p_call_and_pd(demo_dict, base_run):
    d = copy.deepcopy(demo_dict)
    f = d["projects"][0]["financing"]
    f["loans"][0]["amount_yuan"] -= 10_000_000.0
    f["equity_yuan"] += 10_000_000.0
    more_equity = _run(d)
    s0, s1 = base_run.summary, more_equity.summary
    assert s1["hidden_debt"]["p_call"] <= s0["hidden_debt"]["p_call"]
    assert s1["hidden_debt"]["expected_pv"] <= s0["hidden_debt"]["expected_pv"]
    assert s1["bank"]["pd_lifetime"] <= s0["bank"]["pd_lifetime"]
    assert all(a <= b for a, b in zip(s1["bank"]["pd_cumulative"], s0["bank"]["pd_cumulative"]))
    # the demo's rental block is thin, so the change is material, not an equality
    assert s1["hidden_debt"]["p_call"] < s0["hidden_debt"]["p_call"]


def test_higher_rent_ratio_lowers_p_call(demo_dict, base_run):
    d = copy.deepcopy(demo_dict)
    d["projects"][0]["rental"]["rent_ratio"] = 0.9
    higher_rent = _run(d)
    assert higher_rent.summary["hidden_debt"]["p_call"] <= base_run.summary["hidden_debt"]["p_call"]
    assert higher_rent.summary["bank"]["pd_lifetime"] <= base_run.summary["bank"]["pd_lifetime"]


def test_lower_house_price_drift_raises_lgd_and_el(demo_dict):
    """The rental block alone with a larger loan and harsher recovery terms, so that LGD is not zero. Its CFADS
    does not depend on house prices, so the default months are the same in both runs and only the collateral
    moves: every path's LGD is weakly higher with the lower drift."""
    d = copy.deepcopy(demo_dict)
    d["projects"] = [d["projects"][0]]
    f = d["projects"][0]["financing"]
    f["loans"][0]["amount_yuan"] += 15_000_000.0
    f["equity_yuan"] -= 15_000_000.0
    d["credit"] = {"forced_sale_haircut": 0.5, "liquidation_months": 24, "liquidation_cost_share": 0.10,
                   "recovery_discount_rate": 0.05}
    low = copy.deepcopy(d)
    low["market"]["price_drift_annual"] = -0.02
    low["market"]["decline_drift_annual"] = -0.08
    r_base, r_low = _run(d), _run(low)
    np.testing.assert_array_equal(r_base.paths["default_month"], r_low.paths["default_month"])
    lgd_base, lgd_low = bank.path_lgd(r_base), bank.path_lgd(r_low)
    assert np.all(lgd_low >= lgd_base - 1e-12)
    b0, b1 = r_base.summary["bank"], r_low.summary["bank"]
    assert b1["lgd_mean"] >= b0["lgd_mean"]
    assert b1["expected_loss"] >= b0["expected_loss"]
    assert b1["lgd_mean"] > 0.0 and b1["expected_loss"] > b0["expected_loss"]  # not a 0 ≥ 0 comparison


def test_debt_capacity_falls_with_a_stricter_alpha(demo_dict):
    """Same seed, same paths: the capacity at α = 5 % is at most the capacity at α = 20 %."""
    sc = scenario_from_dict(demo_dict)
    strict = debt_capacity(sc, project=0, alpha=0.05, paths=400, seed=SEED, tol_yuan=1e6)
    loose = debt_capacity(sc, project=0, alpha=0.20, paths=400, seed=SEED, tol_yuan=1e6)
    assert strict.loan_yuan <= loose.loan_yuan
    assert strict.p_breach <= 0.05 and loose.p_breach <= 0.20
    assert 0 < strict.loan_yuan < strict.current_loan_yuan  # the demo's rental loan is above its capacity
