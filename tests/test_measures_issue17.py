"""Issue 17: measures a finance bureau, a bank and an SOE would sign, and what the answer rests on — hand checks."""

from __future__ import annotations

import math

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baozhang_finance.analysis.attribute import attribute, legacy_gap, shapley
from baozhang_finance.engine.formulas import DSCR_CAP, coverage_ratio
from baozhang_finance.engine.loop import run_paths
from baozhang_finance.measures import bank, fiscal
from baozhang_finance.measures.stats import annual_irr_of_monthly, irr_periodic
from baozhang_finance.model.fields import apply_overrides
from baozhang_finance.model.scenario import load_scenario
from baozhang_finance.run.simulate import simulate

STABLE = ("hidden_debt.p_call_material", "hidden_debt.exceedance", "hidden_debt.stock_by_year.p50",
          "hidden_debt.stock_by_year.p95", "fiscal.total_fiscal_cost.expected_pv", "fiscal.total_government_money.p_call",
          "fiscal.total_government_money.expected_pv", "coverage.bond_coverage_all_financing.p05",
          "coverage.bond_coverage_all_financing.p50", "soe.equity_irr_standalone.p05", "soe.equity_irr_standalone.p50",
          "soe.equity_irr_standalone.p95")
RATE, AMOUNT = 0.03, 58_650_000.0


def _get(d, key):
    for k in key.split("."):
        d = d[k]
    return d


@pytest.fixture(scope="module")
def simple():
    """The demo's rental block alone: one fixed-rate 3 % annuity loan drawn in month 0, no grace, no relending, rent at
    35 % of market so the budget is called; deterministic (the expected market path)."""
    sc = load_scenario("scenarios/demo.toml")
    p0 = sc.projects[0]
    loan = p0.financing.loans[0].model_copy(update={"relending": None, "rate_type": "fixed", "fixed_rate": RATE,
                                                     "grace_months": 0, "spread_over_lpr": None})
    p0 = p0.model_copy(update={"financing": p0.financing.model_copy(update={"loans": [loan]}), "acquisition_months": 1})
    sc = sc.model_validate(sc.model_copy(update={"projects": [p0]}).model_dump())
    return apply_overrides(sc, {"projects[0].rental.rent_ratio": 0.35})


def _annuity_balance(k: int) -> float:
    i = RATE / 12
    a = AMOUNT * i / (1 - (1 + i) ** -360)
    return AMOUNT * (1 + i) ** k - a * ((1 + i) ** k - 1) / i


def test_register_is_the_loan_balance_from_the_first_call_on(simple):
    r = simulate(simple, deterministic=True)
    fy = int(r.paths["first_call_year"].iloc[0])
    assert fy >= 2  # the call comes after the first year, so there are zero years before it
    stock = fiscal.stock_by_year(r)[0]
    for y in range(1, r.plan.Y + 1):
        want = _annuity_balance(12 * y) if y >= fy else 0.0
        assert stock[y - 1] == pytest.approx(max(want, 0.0), rel=1e-6, abs=5.0), y
    # the debt taken over at the first call: the balance at the open of the first-call month (hand annuity)
    rec = run_paths(r.plan, 1, None, record=True).monthly
    m = int(np.argmax(rec["gov_hidden"][0] > 1e-6))
    assert r.paths["debt_at_first_call"].iloc[0] == pytest.approx(_annuity_balance(m), rel=1e-9)
    s = r.summary["hidden_debt"]
    assert s["stock_by_year"]["p50"][fy - 1] == pytest.approx(_annuity_balance(12 * fy), rel=1e-6)
    # the stock dwarfs the PV of the calls (MOF registers the balance, not the PV of payments)
    assert s["debt_at_first_call"]["p50"] > r.paths["hidden_debt_pv"].iloc[0]


def test_coverage_with_bank_debt_by_hand():
    sc = load_scenario("scenarios/demo.toml")
    r = simulate(sc, deterministic=True)
    rec = run_paths(r.plan, 1, None, record=True).monthly
    plan = r.plan
    bond = plan.bond_interest + plan.bond_principal
    months = np.nonzero(bond.sum(axis=0) + plan.bond_draw.sum(axis=0))[0]
    lo, hi = months.min(), months.max()
    has = bond.sum(axis=1) > 0
    cf = rec["cfads"][0][has][:, lo:hi + 1].sum()
    bank_service = rec["bank_due"][0][has][:, lo:hi + 1].sum()
    want = cf / (bond.sum() + bank_service)
    assert r.paths["bond_coverage_all_financing"].iloc[0] == pytest.approx(want, rel=1e-9)
    assert r.paths["bond_coverage_ratio"].iloc[0] == pytest.approx(cf / bond.sum(), rel=1e-9)
    assert want < r.paths["bond_coverage_ratio"].iloc[0]  # the bank's service only lowers it
    s = r.summary["coverage"]
    assert s["bond_coverage_all_financing"]["p50"] == pytest.approx(want, rel=1e-9)
    # the demo cites a 1.2 floor: coverage with all financing is below it, flagged by compliance
    assert any(f["rule_id"] == "coverage.floor.bond_coverage_all_financing" for f in s["findings"])


def test_coverage_ceiling_flags_implausible_values():
    from baozhang_finance.model.compliance import check_coverage

    sc = load_scenario("scenarios/demo.toml")
    found = check_coverage(sc, {"bond_coverage_ratio": 5.0, "bond_coverage_all_financing": 1.25})
    assert [f.rule_id for f in found] == ["coverage.ceiling.bond_coverage_ratio"]
    assert check_coverage(sc, {"bond_coverage_ratio": 1.19})[0].rule_id == "coverage.floor.bond_coverage_ratio"


def test_monthly_irr_matches_numpy_financial_on_random_flows():
    rng = np.random.default_rng(5)
    f = rng.normal(0.3, 1.0, (40, 240))
    f[:, 0] = -50.0
    f[:, -1] += 40.0
    got = irr_periodic(f)
    want = np.array([npf.irr(x) for x in f])
    assert np.allclose(got, want, rtol=0, atol=1e-10)
    assert np.isnan(irr_periodic(-np.ones((1, 24))))[0]  # never positive: undefined


def test_monthly_equity_irr_of_a_run_against_numpy_financial(simple):
    sc = load_scenario("scenarios/demo.toml")
    r = simulate(sc, deterministic=True)
    plan = r.plan
    rec = run_paths(plan, 1, None, record=True).monthly
    flows = rec["distributions"][0].sum(axis=0) - plan.equity_in.sum(axis=0) - rec["soe_support"][0]
    flows = flows.copy()
    flows[-1] += r.paths["terminal_value_income"].iloc[0]
    want = (1 + npf.irr(flows)) ** 12 - 1
    assert r.paths["equity_irr_monthly"].iloc[0] == pytest.approx(want, abs=1e-9)
    standalone = flows - rec["gov_hidden"][0] - rec["gov_bond"][0]
    assert r.paths["equity_irr_standalone"].iloc[0] == pytest.approx((1 + npf.irr(standalone)) ** 12 - 1, abs=1e-9)
    assert annual_irr_of_monthly(flows[None, :])[0] == pytest.approx(want, abs=1e-9)


def test_income_value_ltv_by_hand(simple):
    r = simulate(simple, deterministic=True)
    plan = r.plan
    out = run_paths(plan, 1, None)
    y = out.yearly
    cap = plan.support.income_cap_rate
    assert cap == simple.cures.disposal.cap_rate
    a = plan.dscr_window[0]
    bal, noi = y["bank_balance"][0], y["noi"][0]
    want = max(bal[k] / (noi[k] / cap) for k in range(a, plan.Y) if bal[k] > 1.0)
    assert r.paths["ltv_income_peak"].iloc[0] == pytest.approx(want, rel=1e-9)
    assert r.summary["bank"]["ltv_income_peak"]["p50"] == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("pd_life, years, dscr, ltv, expect", [
    (1 - (1 - 0.0039999) ** 10, 10, 1.35, 0.60, "Strong"),  # every criterion on the Strong bounds
    (1 - (1 - 0.0041) ** 10, 10, 1.35, 0.60, "Good"),  # annual PD just above 0.4 %
    (0.0, 10, 1.3499, 0.60, "Good"),
    (0.0, 10, 1.05, 0.80, "Satisfactory"),
    (0.0, 10, 1.0499, 0.5, "Weak"),
    (0.0, 10, 2.0, 0.8001, "Weak"),
    (0.5, 10, 2.0, 0.1, "Weak"),  # a lifetime PD of 50 % is Weak, never an ex-ante "Default"
    (1.0, 10, 2.0, 0.1, "Weak"),
])
def test_grades_at_their_boundaries(pd_life, years, dscr, ltv, expect):
    g = bank.grade(pd_life, years, dscr, ltv)
    assert g["grade"] == expect
    assert g["grade"] in bank.GRADE_NAMES and g["risk_weight"] > 0 and g["regulatory_el_rate"] < 0.5


def test_credit_views_are_coherent_and_named():
    for name in ("demo", "liaoning_2025"):
        r = simulate(load_scenario(f"scenarios/{name}.toml"), paths=200)
        b = r.summary["bank"]
        assert b["grade"] in bank.GRADE_NAMES
        for view in ("pd_with_soe_support", "pd_without_soe_support", "pd_corporate", "borrower"):
            v = b[view]
            if v["pd_lifetime"] and v["lgd_mean"] is not None:  # EL = mean of 1{d} LGD EAD, same defaults
                assert v["expected_loss"] <= v["pd_lifetime"] * v["ead_mean"] + 1e-6
            elif v["pd_lifetime"] == 0:
                assert v["expected_loss"] == 0
        assert b["pd_with_soe_support"]["pd_lifetime"] == pytest.approx(b["pd_lifetime"])
        assert b["pd_without_soe_support"]["pd_lifetime"] >= b["pd_with_soe_support"]["pd_lifetime"]
    assert b["borrower"]["type"] == "soe_full_recourse" and b["borrower"]["pd_event"] == "corporate"


def test_shapley_by_hand():
    v = {frozenset(): 0.0, frozenset("a"): 1.0, frozenset("b"): 2.0, frozenset("ab"): 5.0}
    phi = shapley(v, ["a", "b"])
    assert phi == pytest.approx({"a": 2.0, "b": 3.0})  # ½·1 + ½·(5 − 2), ½·2 + ½·(5 − 1)
    v3 = {frozenset(S): float(len(S) ** 2) for S in ("", "a", "b", "c", "ab", "ac", "bc", "abc")}
    phi3 = shapley(v3, ["a", "b", "c"])
    assert sum(phi3.values()) == pytest.approx(9.0) and phi3["a"] == pytest.approx(3.0)  # symmetric game


def test_attribution_sums_to_the_total_change_and_starts_at_legacy():
    sc = load_scenario("scenarios/demo.toml")
    assert legacy_gap(sc, paths=120) == {"p_call": 0.0, "expected_pv": 0.0}
    res = attribute(sc, paths=120)
    s = res.settings
    for m in ("p_call", "expected_pv"):
        assert res.table[f"{m}_shapley"].sum() == pytest.approx(s["total_change"][m], abs=1e-9)
        assert res.table[f"{m}_waterfall"].sum() == pytest.approx(s["total_change"][m], abs=1e-9)
        assert res.waterfall[f"{m}_after"].iloc[-1] == pytest.approx(s["scenario"][m])
    legacy = simulate(sc.model_copy(update={"support": sc.support.model_copy(update={"conventions": "legacy"})}),
                      paths=120)
    assert s["legacy"]["p_call"] == pytest.approx(legacy.summary["hidden_debt"]["p_call"])
    full = simulate(sc, paths=120)
    assert s["scenario"]["p_call"] == pytest.approx(full.summary["hidden_debt"]["p_call_material"])
    assert "materiality" in s["factors"] and "soe_pays" in s["factors"]


def test_stable_keys_and_exceedance():
    r = simulate(load_scenario("scenarios/demo.toml"), paths=300)
    s = r.summary
    for k in STABLE:
        _get(s, k)
    ex = s["hidden_debt"]["exceedance"]
    probs = [e["probability"] for e in ex]
    assert probs == sorted(probs, reverse=True)  # P(PV > x) falls with x
    assert ex[0]["share_of_investment"] == 0 and ex[0]["probability"] == pytest.approx(s["hidden_debt"]["p_call"])
    mat = next(e for e in ex if e["share_of_investment"] == r.scenario.policy.materiality_share_of_investment)
    assert mat["probability"] == pytest.approx(s["hidden_debt"]["p_call_material"])
    t = s["fiscal"]["total_fiscal_cost"]
    assert t["expected_pv"] >= s["fiscal"]["total_government_money"]["expected_pv"] >= s["hidden_debt"]["expected_pv"]
    classes = {c["class"]: c["expected_pv_yuan"] for c in s["fiscal"]["government_money_by_class"]}
    assert classes["hidden_debt_call"] + classes["unbudgeted_subsidy"] == pytest.approx(s["hidden_debt"]["expected_pv"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=12), st.lists(st.floats(0, 1e9), min_size=1, max_size=12))
def test_no_dscr_above_the_cap(cf, ds):
    n = min(len(cf), len(ds))
    d = coverage_ratio(np.array(cf[:n]), np.array(ds[:n]))
    assert np.all(np.isnan(d) | (d <= DSCR_CAP))


def test_no_dscr_above_the_cap_in_any_output():
    for name in ("demo", "beitun", "weihai"):
        r = simulate(load_scenario(f"scenarios/{name}.toml"), paths=100)
        for c in ("dscr_min", "dscr_min_all_years", "bank_dscr_min_project"):
            x = r.paths[c].to_numpy(float)
            assert np.all(np.isnan(x) | (x <= DSCR_CAP)), (name, c)
        assert np.nanmax(np.where(np.isfinite(r.ledger("dscr")), r.ledger("dscr"), 0)) <= DSCR_CAP
        fan = r.summary["bank"].get("dscr_bank_by_year", {})
        assert all(v is None or v <= DSCR_CAP for q in fan.values() for v in q), name
        for key in ("dscr_min",):
            assert all(v is None or v <= DSCR_CAP for v in r.summary["coverage"][key].values())
        assert not math.isinf(np.nanmax(r.paths["dscr_min"].to_numpy(float), initial=0))


def test_attribute_command_writes_files_and_the_report_section(tmp_path):
    import json
    import subprocess
    import sys

    cli = [sys.executable, "-c", "from baozhang_finance.cli import main; main()"]
    run_dir = tmp_path / "run"
    out = tmp_path / "att"
    subprocess.run(cli + ["run", "scenarios/demo.toml", "--paths", "40", "--out", str(run_dir), "--quiet"],
                   check=True, capture_output=True, timeout=300)
    proc = subprocess.run(cli + ["attribute", "scenarios/demo.toml", "--paths", "30", "--out", str(out), "--into",
                                 str(run_dir)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for name in ("attribute.csv", "attribute_waterfall.csv", "attribute.json", "attribute_p_call.png",
                 "attribute_expected_pv.png"):
        assert (out / name).is_file(), name
    att = json.loads((out / "attribute.json").read_text())
    assert att["legacy"]["p_call"] >= att["scenario"]["p_call"]
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "What the answer rests on" in page and 'alt="p_call" src="data:image/png;base64,' in page  # chart embedded
    assert "soe_pays" in proc.stdout


def test_refinancing_principal_owed_at_the_horizon_is_a_fiscal_cost():
    """The demo rolls its bullet special bond into refinancing bonds: the principal still owed when the model stops
    is the budget's debt — E[B_T] · v_T at the fiscal rate, in the total fiscal cost (finance review, decision 71)."""
    r = simulate(load_scenario("scenarios/demo.toml"), paths=400, seed=3)
    t = r.summary["fiscal"]["total_fiscal_cost"]
    b_end = r.paths["refinancing_balance_end_yuan"].to_numpy(float)
    assert b_end.mean() > 0
    v_end = (1.0 + r.plan.support.fiscal_rate) ** -30.0  # end of month 360: 30 years of 12 months
    assert t["refinancing_outstanding_at_horizon_pv"] == pytest.approx(b_end.mean() * v_end, rel=1e-12)
    parts = [v for k, v in t.items() if k.endswith("_pv") and k != "expected_pv"]
    assert t["expected_pv"] == pytest.approx(sum(parts), rel=1e-12)


def test_who_pays_the_gap_adds_pvs_at_one_rate():
    """The split of the gap (bond burden / SOE support / hidden call) takes every class at the fiscal rate: the
    SOE row is Σ_t soe_t · v^fiscal_t (on the deterministic path, by hand from the monthly record), its own
    programme-rate PV stays under soe.support (finance review #6, decision 71)."""
    from baozhang_finance.engine.plan import compile_plan
    from baozhang_finance.engine.loop import run_paths

    sc = load_scenario("scenarios/demo.toml")
    plan = compile_plan(sc, deterministic=True)
    out = run_paths(plan, 1, None, record=True)
    soe = np.asarray(out.monthly["soe_support"], dtype=float).reshape(-1)
    v_f = np.asarray(plan.support.fiscal_discount_m, dtype=float)
    v_p = np.asarray(plan.discount_m, dtype=float)
    assert soe.sum() > 0 and plan.support.fiscal_rate != sc.programme.discount_rate
    assert out.scalars["pv_soe_support_fiscal"][0] == pytest.approx(float(soe @ v_f), rel=1e-12)
    assert out.scalars["pv_soe_support"][0] == pytest.approx(float(soe @ v_p), rel=1e-12)
    r = simulate(sc, paths=300, seed=4)
    rows = {row["class"]: row for row in r.summary["fiscal"]["classification"]}
    assert rows["soe_explicit_support"]["expected_pv_yuan"] == pytest.approx(r.paths["soe_support_pv_fiscal"].mean())
    assert sum(row["share"] for row in rows.values()) == pytest.approx(1.0)
