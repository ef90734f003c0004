"""The three lenses on hand-built Results: every number is computed here by hand from the per-path columns.

A Result is built as ``Result(scenario, plan, columns, run)`` with known per-path columns and yearly ``y_*``
ledgers; the column set is taken from a one-path run of the same scenario (so new engine columns do not break
these tests) and every column a lens reads is overwritten with values chosen here.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from rich.console import Console

from baozhang_finance import Result
from baozhang_finance import simulate
from baozhang_finance.measures import bank, fiscal, soe
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.run.result import YEARLY_KEPT
from baozhang_finance.model.scenario import ScenarioError
from baozhang_finance.report.tables import print_summary, summary_rows

from conftest import market, programme, waterfall
from baozhang_finance.model.scenario import scenario_from_dict
from baozhang_finance.analysis.capacity import debt_capacity

Y = 10  # horizon years of the hand scenario
LOAN = 60_000_000.0
USES = 100 * 100 * 9000.0  # 100 units × 100 m² × 9,000 yuan/m², no taxes, no renovation


def rental_project(loan: float = LOAN, **kw) -> dict:
    p = {
        "name": "R", "type": "rental", "units": 100, "area_m2": 100.0, "appraisal_yuan_per_m2": 10_000.0,
        "acquisition_price_yuan_per_m2": 9_000.0, "acquisition_start_month": 0, "acquisition_months": 1,
        "rental": {"market_rent_yuan_per_m2_month": 30.0, "rent_ratio": 0.8, "lease_years": 1, "lease_up_months": 0,
                   "stabilised_occupancy": 1.0, "collection_rate": 1.0, "opex_yuan_per_m2_year": 0.0,
                   "management_fee_share": 0.0, "vat_rate_on_rent": 0.0, "property_tax_rate_on_rent": 0.0,
                   "capex_reserve_share_of_rent": 0.0},
        "financing": {"equity_yuan": USES - loan,
                      "loans": [{"name": "L", "amount_yuan": loan, "term_years": Y, "amortisation": "annuity",
                                 "rate_type": "fixed", "fixed_rate": 0.03}]},
    }
    p.update(kw)
    return p


def hand_scenario(credit: dict | None = None, market_kw: dict | None = None, loan: float = LOAN):
    data = {"programme": programme(Y), "projects": [rental_project(loan)], "waterfall": waterfall(),
            "market": market(**(market_kw or {}))}
    if credit:
        data["credit"] = credit
    return scenario_from_dict(data)


def hand_result(sc, n: int, **overrides) -> Result:
    """A Result of ``n`` paths: the column set of a one-path run, tiled, then overwritten by ``overrides``."""
    base = simulate(sc, deterministic=True)
    cols = {}
    for k, v in base._columns.items():
        cols[k] = np.repeat(np.asarray(v), n, axis=0)
    for k, v in base._ledgers.items():
        cols[f"y_{k}"] = np.repeat(np.asarray(v, dtype=np.float64), n, axis=0)
    cols["path"] = np.arange(n)
    cols.pop("bank_dscr_min_project", None)  # hand-built ledgers define the bank DSCR (programme fallback)
    cols.pop("hpi_at_sale", None)  # … and the price path after default (interpolated from a yearly hpi ledger)
    # neutral defaults: nobody defaults, nothing is called
    cols.update({"default_month": np.full(n, -1), "default": np.zeros(n, bool), "ead": np.zeros(n),
                 "collateral_at_default": np.zeros(n), "hpi_at_default": np.full(n, np.nan),
                 "hidden_call": np.zeros(n, bool), "hidden_debt_pv": np.zeros(n), "first_call_year": np.full(n, -1),
                 "y_gov_hidden": np.zeros((n, Y)), "y_gov_bond": np.zeros((n, Y))})
    for k, v in overrides.items():
        cols[k] = np.asarray(v)
    if "default_month" in overrides:
        cols["default"] = cols["default_month"] >= 0
    plan = compile_plan(sc)
    if "y_debt_service" in overrides and "y_bank_service" not in overrides:  # hand debt service: bank = total − bonds
        cols["y_bank_service"] = cols["y_debt_service"] - bank.bond_service_by_year(plan)[None, :]
    if "y_cfads" in overrides and "y_bank_cfads" not in overrides:  # hand CFADS: the bank's = the programme's
        bonds = 0.0 if plan.bank_first else bank.bond_service_by_year(plan)[None, :]
        cols["y_bank_cfads"] = cols["y_cfads"] - bonds
    for k in YEARLY_KEPT:
        assert cols[f"y_{k}"].shape == (n, Y), k
    return Result(scenario=sc, plan=plan, columns=cols, run={"seed": 7, "chunk_size": n, "paths": n})


# ------------------------------------------------------------------------------------------------ bank: PD
def test_pd_cumulative_and_time_to_default_by_hand():
    sc = hand_scenario()
    dm = np.array([-1, 5, 12, 30, 119, -1, -1, -1, -1, -1])
    r = hand_result(sc, 10, default_month=dm)
    b = bank.bank_summary(r)
    # PD(y) = share of paths with default month < 12 y
    expected = [1 / 10, 2 / 10, 3 / 10, 3 / 10, 3 / 10, 3 / 10, 3 / 10, 3 / 10, 3 / 10, 4 / 10]
    assert b["loan_life_years"] == 10
    assert b["pd_cumulative"] == pytest.approx(expected, abs=1e-12)
    assert b["pd_lifetime"] == pytest.approx(0.4)
    assert b["pd_annualised"] == pytest.approx(1 - 0.6 ** 0.1)
    ttd = b["time_to_default"]
    assert ttd["pd_by_year"] == pytest.approx([0.1, 0.1, 0.1, 0, 0, 0, 0, 0, 0, 0.1])
    # default years (end of month m → (m + 1) / 12): 0.5, 13/12, 31/12, 10 → median of 4 = mean of middle two
    yrs = sorted([6 / 12, 13 / 12, 31 / 12, 120 / 12])
    assert ttd["p50_years"] == pytest.approx((yrs[1] + yrs[2]) / 2)
    assert ttd["mean_years"] == pytest.approx(sum(yrs) / 4)


# ------------------------------------------------------------------------------------------------ bank: LGD, EL
CREDIT = {"forced_sale_haircut": 0.3, "liquidation_months": 24, "liquidation_cost_share": 0.05,
          "recovery_discount_rate": 0.04}


def test_lgd_on_the_price_path_after_the_delay_by_hand():
    """Three defaults: sale month inside the horizon (interpolated between year ends), beyond it (extrapolated
    at the drift), and one whose collateral covers the exposure (LGD 0)."""
    mu = 0.012  # expected annual drift → 0.001 per month
    sc = hand_scenario(CREDIT, {"price_drift_annual": mu})
    n = 4
    hpi = np.ones((n, Y))
    hpi[0, 2], hpi[0, 3] = 0.80, 0.80 * math.exp(0.12)  # path 0: default month 17, sale month 41
    hpi[1, 9] = 0.70  # path 1: default month 100, sale month 124 > 119
    r = hand_result(
        sc, n,
        default_month=[17, 100, 30, -1],
        ead=[50e6, 30e6, 10e6, 0.0],
        collateral_at_default=[60e6, 35e6, 90e6, 0.0],
        hpi_at_default=[0.90, 0.75, 1.0, np.nan],
        y_hpi=hpi,
    )
    # path 0: year ends 35 (year index 2) and 47 (index 3) bracket month 41: w = 6/12 → H = 0.8 e^{0.06}
    h0 = 0.80 * math.exp(0.06)
    # path 1: beyond the horizon (month 119 = last year end): H = 0.70 e^{0.001 × (124 − 119)}
    h1 = 0.70 * math.exp(0.001 * 5)
    # path 2: year ends 47, 59 bracket 54 with both indices 1 → H = 1
    ratios = [h0 / 0.90, h1 / 0.75, 1.0]
    disc = 1.04 ** (-24 / 12)
    rec = [c * q * 0.7 * 0.95 * disc for c, q in zip([60e6, 35e6, 90e6], ratios)]
    lgd = [max(0.0, 1 - rec[0] / 50e6), max(0.0, 1 - rec[1] / 30e6), max(0.0, 1 - rec[2] / 10e6)]
    assert lgd[0] > 0 and lgd[1] > 0 and lgd[2] == 0.0  # the test exercises both branches
    ratio, basis = bank.price_ratio_after(r, 24)
    assert basis == "after_delay"
    assert ratio[:3] == pytest.approx(ratios, rel=1e-12)
    assert np.isnan(ratio[3])
    assert bank.path_lgd(r) == pytest.approx(lgd + [0.0], rel=1e-12, abs=1e-15)
    b = bank.bank_summary(r)
    assert b["lgd_price_basis"] == "after_delay"
    assert b["lgd_mean"] == pytest.approx(sum(lgd) / 3)
    el = (lgd[0] * 50e6 + lgd[1] * 30e6 + 0.0) / n
    assert b["expected_loss"] == pytest.approx(el)
    assert b["expected_loss_rate"] == pytest.approx(el / LOAN)
    assert b["ead"]["mean"] == pytest.approx(30e6)


def test_lgd_anchors_on_the_default_month_when_the_sale_falls_in_the_same_year():
    """Delay 6: default month 40, sale month 46; the known points are month 40 (exact) and the year end 47."""
    sc = hand_scenario({**CREDIT, "liquidation_months": 6})
    hpi = np.ones((1, Y))
    hpi[0, 3] = 0.84
    r = hand_result(sc, 1, default_month=[40], ead=[1e6], collateral_at_default=[1e6], hpi_at_default=[0.91],
                    y_hpi=hpi)
    w = 6 / 7
    h = math.exp((1 - w) * math.log(0.91) + w * math.log(0.84))
    ratio, _ = bank.price_ratio_after(r, 6)
    assert ratio[0] == pytest.approx(h / 0.91, rel=1e-12)


def test_lgd_falls_back_to_the_default_month_price_without_the_records():
    sc = hand_scenario(CREDIT)
    r = hand_result(sc, 2, default_month=[10, -1], ead=[50e6, 0.0], collateral_at_default=[60e6, 0.0])
    del r._columns["hpi_at_default"]
    r.__dict__.pop("paths", None)
    ratio, basis = bank.price_ratio_after(r, 24)
    assert basis == "at_default" and ratio[0] == 1.0
    expected = 1 - 60e6 * 0.7 * 0.95 * 1.04 ** -2 / 50e6
    assert bank.path_lgd(r)[0] == pytest.approx(expected)


# ------------------------------------------------------------------------------------------------ bank: DSCR, LTV, grade
def test_bank_dscr_window_ltv_and_grade_by_hand():
    sc = hand_scenario()
    n = 10
    ds = np.full((n, Y), 4e6)
    mins = np.array([1.50, 1.40, 1.30, 1.25, 1.22, 1.21, 1.10, 1.00, 0.95, 0.90])
    cf = np.tile(np.linspace(2.0, 1.6, Y), (n, 1)) * 4e6
    cf[:, 5] = mins * 4e6  # the minimum in year 6
    cf[:, 0] = -1e6  # year 1 (acquisition) is outside the operating-period test
    bal = np.tile(np.linspace(60e6, 0.0, Y), (n, 1))
    col = np.full((n, Y), 200e6)  # later years: LTV ≤ 0.27
    peak = np.array([0.50, 0.55, 0.60, 0.62, 0.64, 0.66, 0.68, 0.72, 0.75, 0.90])
    col[:, 0] = 60e6 / peak  # LTV peaks in year 1 at `peak`
    dm = np.array([-1] * 9 + [50])  # lifetime PD 10 %
    r = hand_result(sc, n, y_cfads=cf, y_debt_service=ds, y_bank_balance=bal, y_collateral_value=col,
                    default_month=dm, ead=[0] * 9 + [40e6], collateral_at_default=[0] * 9 + [80e6],
                    hpi_at_default=[np.nan] * 9 + [1.0])
    # stabilisation month 1 (available at 1, no lease-up), no grace → first whole year after it: index 1
    assert bank.dscr_test_years(sc, r.plan) == (1, 10)
    d = bank.bank_dscr(r)
    assert d[:, 0] == pytest.approx(np.full(n, -0.25))
    assert bank.min_bank_dscr(r) == pytest.approx(mins)
    assert bank.peak_ltv(r) == pytest.approx(peak)
    b = bank.bank_summary(r)
    assert b["dscr_test_years"] == [2, 10]
    p50_dscr = (1.22 + 1.21) / 2
    p50_ltv = (0.64 + 0.66) / 2
    assert b["dscr_bank_min"]["p50"] == pytest.approx(p50_dscr)
    assert b["p_dscr_bank_min_below_1"] == pytest.approx(0.2)
    assert b["ltv_peak"]["p50"] == pytest.approx(p50_ltv)
    # criteria: annual PD 1 − 0.9^(1/10) = 1.05 % > 1.0 % → Satisfactory; DSCR 1.215 ≥ 1.20 → Good;
    # LTV 0.65 ≤ 0.70 → Good; the worst is Satisfactory: risk weight 115 %, regulatory EL 2.8 %
    assert b["grade_criteria"]["pd_annualised"]["category"] == "Satisfactory"
    assert b["grade_criteria"]["dscr_min_p50"]["category"] == "Good"
    assert b["grade_criteria"]["ltv_peak_p50"]["category"] == "Good"
    assert (b["grade"], b["risk_weight"], b["regulatory_el_rate"]) == ("Satisfactory", 1.15, 0.028)
    # LTV fan: year 1 median of 60e6 / (60e6 / peak) = median of peak
    assert b["ltv_by_year"]["p50"][0] == pytest.approx(p50_ltv)
    assert b["ltv_by_year"]["p50"][-1] is None  # nothing outstanding at the end of year 10


@pytest.mark.parametrize(
    "pd_life, years, dscr, ltv, expected",
    [
        (0.0, 10, 1.50, 0.50, ("Strong", 0.70)),
        (1 - (1 - 0.0039) ** 10, 10, 1.35, 0.60, ("Strong", 0.70)),  # annual PD 0.39 %, DSCR and LTV on the bounds
        (0.05, 10, 1.50, 0.50, ("Good", 0.90)),  # annual PD 1 − 0.95^0.1 = 0.51 %
        (0.20, 10, 2.00, 0.30, ("Satisfactory", 1.15)),  # annual PD 1 − 0.8^0.1 = 2.21 %
        (0.30, 10, 2.00, 0.30, ("Weak", 2.50)),  # annual PD 1 − 0.7^0.1 = 3.5 %
        (0.0, 10, 1.00, 0.50, ("Weak", 2.50)),  # DSCR below 1.05
        (0.0, 10, 1.10, 0.50, ("Satisfactory", 1.15)),
        (0.0, 10, 1.50, 0.85, ("Weak", 2.50)),  # LTV above 80 %
        (0.0, 10, 1.50, 0.75, ("Satisfactory", 1.15)),
        (0.5, 10, 2.00, 0.10, ("Weak", 2.50)),  # the median path defaults: Weak (Basel keeps Default for loans in default)
        (0.0, 2, 1.30, 0.65, ("Good", 0.70)),  # loan life < 2.5 years: short-maturity weight of Good is 70 %
        (0.0, 2, 1.50, 0.50, ("Strong", 0.50)),
        (0.0, 10, None, None, ("Strong", 0.70)),  # no DSCR / LTV to test: PD decides
    ],
)
def test_grade_criteria(pd_life, years, dscr, ltv, expected):
    g = bank.grade(pd_life, years, dscr, ltv)
    assert (g["grade"], g["risk_weight"]) == expected
    el = {"Strong": 0.004, "Good": 0.008, "Satisfactory": 0.028, "Weak": 0.08, "Default": 0.5}
    assert g["regulatory_el_rate"] == el[expected[0]]
    for key, value in (("dscr_min_p50", dscr), ("ltv_peak_p50", ltv)):  # a criterion not tested has no category
        assert (g["criteria"][key]["category"] is None) == (value is None)


def test_no_bank_debt():
    data = {"programme": programme(Y), "projects": [rental_project(0.0)], "waterfall": waterfall(), "market": market()}
    data["projects"][0]["financing"] = {"equity_yuan": USES}
    sc = scenario_from_dict(data)
    r = simulate(sc, paths=5, seed=1)
    b = r.summary["bank"]
    assert b == {"has_bank_debt": False, "pd_cumulative": [], "lgd_mean": None, "expected_loss": 0.0, "grade": None}
    rows = summary_rows(r.summary)
    assert ("bank 银行", "bank debt", "none") in rows


# ------------------------------------------------------------------------------------------------ fiscal
def test_fiscal_var_cvar_first_call_and_classification_by_hand():
    sc = hand_scenario()
    n = 20
    pv = np.zeros(n)
    pv[3], pv[11] = 10e6, 30e6
    fy = np.full(n, -1)
    fy[3], fy[11] = 4, 7
    gh = np.zeros((n, Y))
    gh[3, 3], gh[3, 4], gh[11, 6] = 1e6, 2e6, 5e6
    fisc = np.full((n, Y), 1e9)
    share = gh.max(axis=1) / 1e9
    bond_pv = np.zeros(n)
    bond_pv[:4] = 5e6
    soe_pv = np.full(n, 1e6)
    r = hand_result(sc, n, hidden_debt_pv=pv, hidden_call=pv > 0, first_call_year=fy, y_gov_hidden=gh,
                    y_fiscal_revenue=fisc, peak_call_share_of_fiscal=share, explicit_bond_burden_pv=bond_pv,
                    explicit_bond_call=bond_pv > 0, soe_support_pv=soe_pv, soe_support_pv_fiscal=soe_pv)
    h = fiscal.hidden_debt_summary(r)
    assert h["p_call"] == pytest.approx(0.1)
    assert h["expected_pv"] == pytest.approx(40e6 / 20)
    # sorted: 18 zeros, 10e6, 30e6. F(0) = 0.90, F(10e6) = 0.95 → VaR95 = 10e6; VaR99 = 30e6
    assert h["var95_pv"] == 10e6 and h["var99_pv"] == 30e6
    # ES95: worst 20 × 5 % = 1 path → 30e6; ES99: worst 0.2 path → 30e6
    assert h["cvar95_pv"] == pytest.approx(30e6) and h["cvar99_pv"] == pytest.approx(30e6)
    assert h["first_call_year"]["p50"] == pytest.approx(5.5)
    assert h["first_call_year"]["share_by_year"] == pytest.approx([0, 0, 0, 0.05, 0, 0, 0.05, 0, 0, 0])
    assert h["p_call_by_year"] == pytest.approx([0, 0, 0, 0.05, 0.05, 0, 0.05, 0, 0, 0])
    assert h["p_call_cumulative"] == pytest.approx([0, 0, 0, 0.05, 0.05, 0.05, 0.1, 0.1, 0.1, 0.1])
    # peak share: 18 zeros, 2e-3, 5e-3 → p50 = 0; p95 at position 0.95 × 19 = 18.05: 2e-3 + 0.05 × 3e-3
    assert h["peak_share_of_fiscal_revenue"]["p50"] == 0.0
    assert h["peak_share_of_fiscal_revenue"]["p95"] == pytest.approx(2e-3 + 0.05 * 3e-3)
    f = fiscal.fiscal_summary(r)
    assert f["explicit_bond_burden"]["p_call"] == pytest.approx(0.2)
    assert f["explicit_bond_burden"]["expected_pv"] == pytest.approx(1e6)
    cls = {row["class"]: row for row in f["classification"]}
    total = 1e6 + 1e6 + 2e6  # bond 20e6/20, SOE 1e6, hidden 40e6/20
    assert cls["explicit_bond_burden"]["share"] == pytest.approx(1e6 / total)
    assert cls["soe_explicit_support"]["share"] == pytest.approx(1e6 / total)
    assert cls["hidden_debt_call"]["share"] == pytest.approx(2e6 / total)
    assert cls["hidden_debt_call"]["expected_pv_yuan"] == pytest.approx(2e6)
    assert cls["soe_explicit_support"]["probability"] == 1.0


def test_expected_shortfall_with_fractional_tail_and_no_call():
    # 40 paths, one call of 40: ES95 over the worst 2 paths = (40 + 0) / 2; TCE would give the mean, 1
    x = np.zeros(40)
    x[7] = 40.0
    assert fiscal.expected_shortfall(x, 0.95) == pytest.approx(20.0)
    assert fiscal.value_at_risk(x, 0.95) == 0.0
    # fractional: n = 30, worst 1.5 paths of [9, 6, 3, 0…] → (9 + 0.5 × 6) / 1.5 = 8
    y = np.zeros(30)
    y[:3] = [3.0, 9.0, 6.0]
    assert fiscal.expected_shortfall(y, 0.95) == pytest.approx(8.0)
    assert fiscal.expected_shortfall(np.zeros(10), 0.95) == 0.0


# ------------------------------------------------------------------------------------------------ SOE
def test_soe_cash_fan_and_lockup_by_hand():
    sc = hand_scenario()
    n = 4
    cash = np.tile(np.array([[1.0], [2.0], [3.0], [4.0]]), (1, Y)) * 1e6
    lock = np.zeros((n, Y))
    lock[0, :2] = 12
    lock[1, 0] = 6
    r = hand_result(sc, n, y_cash_balance=cash, y_lockup_months=lock, lockup_years=lock.sum(axis=1) / 12,
                    peak_funding_need=[1e6, 2e6, 3e6, 4e6], equity_irr=[0.01, 0.02, np.nan, 0.04],
                    equity_npv=[-1e6, 0.0, 1e6, 2e6])
    s = soe.soe_summary(r)
    assert s["cash_balance_fan"]["p50"] == pytest.approx([2.5e6] * Y)
    assert s["cash_balance_fan"]["mean"] == pytest.approx([2.5e6] * Y)
    assert s["lockup_years"]["mean"] == pytest.approx((2 + 0.5) / 4)
    assert s["lockup_years"]["p_any"] == pytest.approx(0.5)
    assert s["lockup_years"]["share_locked_by_year"][:3] == pytest.approx([0.5, 0.25, 0.0])
    assert s["peak_funding_need"]["p50"] == pytest.approx(2.5e6)
    assert s["equity_irr"]["p50"] == pytest.approx(0.02)  # median of the three defined IRRs
    assert s["equity_irr_undefined_share"] == pytest.approx(0.25)
    assert s["p_npv_negative"] == pytest.approx(0.25)


# ------------------------------------------------------------------------------------------------ summary contract
DESIGN_KEYS = {
    "coverage": ["p_self_financing", ("bond_coverage_ratio", ["mean", "p05", "p50"]), ("dscr_min", ["p05", "p50", "p95"]),
                 ("llcr", ["p05", "p50"])],
    "hidden_debt": ["p_call", "expected_pv", "var95_pv", "cvar95_pv", ("first_call_year", ["p50"]),
                    ("peak_share_of_fiscal_revenue", ["p50", "p95"])],
    "fiscal": [("explicit_bond_burden", ["p_call", "expected_pv"])],
    "bank": ["pd_cumulative", "lgd_mean", "expected_loss", "grade"],
    "soe": [("equity_irr", ["p05", "p50", "p95"]), ("npv", ["p05", "p50", "p95"]), ("peak_funding_need", ["p50", "p95"])],
    "run": ["paths", "seed", "chunk_size", ("standard_errors", ["p_call", "expected_pv"])],
}


def test_summary_carries_every_design_key_and_prints(tmp_path):
    from pathlib import Path

    from baozhang_finance import load_scenario

    demo = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml")
    r = simulate(demo, paths=300, seed=3)
    s = json.loads(json.dumps(r.summary))  # JSON-serialisable
    for section, keys in DESIGN_KEYS.items():
        for k in keys:
            if isinstance(k, tuple):
                for sub in k[1]:
                    assert sub in s[section][k[0]], f"{section}.{k[0]}.{sub}"
            else:
                assert k in s[section], f"{section}.{k}"
    assert isinstance(s["bank"]["pd_cumulative"], list) and len(s["bank"]["pd_cumulative"]) == 30
    assert s["bank"]["grade"] in ("Strong", "Good", "Satisfactory", "Weak")
    buf = io.StringIO()
    print_summary(r, Console(file=buf, width=80))
    lines = buf.getvalue().splitlines()
    # every (metric, value) pair fits on one line of an 80-column terminal: no row wraps
    for _, metric, value in summary_rows(s):
        assert any(metric in line and value in line for line in lines), (metric, value)


# ------------------------------------------------------------------------------------------------ debt capacity
def test_debt_capacity_equals_the_hand_annuity_on_a_riskless_market():
    """No volatility: every path is the same, so the capacity is the annuity whose yearly service equals the
    operating-period CFADS. Rent 100 units × 100 m² × 30 × 0.8 × 12 = 2,880,000 a year, no costs; a 10-year
    3 % annuity drawn in month 0 pays 12 × PMT every year."""
    sc = hand_scenario()
    cfads = 100 * 100 * 30.0 * 0.8 * 12
    r = 0.03 / 12
    per_yuan = 12 * r / (1 - (1 + r) ** -120)
    hand = cfads / per_yuan
    cap = debt_capacity(sc, project=0, alpha=0.1, paths=20, seed=5, tol_yuan=1_000.0)
    assert cap.binding == "criterion"
    assert cap.test_years == (2, 10)
    assert hand - 1_000.0 <= cap.loan_yuan <= hand + 1e-6
    assert cap.equity_yuan == pytest.approx(USES - cap.loan_yuan)
    assert cap.p_breach == 0.0 and cap.dscr_min_p50 >= 1.0
    # the median criterion at 1.25 gives the annuity whose service is CFADS / 1.25
    cap2 = debt_capacity(sc, project=0, p50_target=1.25, paths=20, seed=5, tol_yuan=1_000.0)
    assert hand / 1.25 - 1_000.0 <= cap2.loan_yuan <= hand / 1.25 + 1e-6
    # an equity floor of 80 % binds before the DSCR: loan = 20 % of uses
    cap3 = debt_capacity(sc, project=0, min_equity_share=0.8, paths=20, seed=5)
    assert cap3.binding == "equity_floor" and cap3.loan_yuan == pytest.approx(0.2 * USES)


def test_debt_capacity_errors_name_the_field():
    data = {"programme": programme(Y), "projects": [rental_project(0.0)], "waterfall": waterfall(), "market": market()}
    data["projects"][0]["financing"] = {"equity_yuan": USES}
    sc = scenario_from_dict(data)
    with pytest.raises(ScenarioError, match=r"projects\[0\]\.financing\.loans: project 'R' has no bank loan"):
        debt_capacity(sc, project=0)
    with pytest.raises(ScenarioError, match="project must be 0..0"):
        debt_capacity(hand_scenario(), project=3)
    with pytest.raises(ScenarioError, match="alpha"):
        debt_capacity(hand_scenario(), alpha=1.5)
