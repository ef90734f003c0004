"""Golden case 1, computed by hand: one rental project whose reserve fills, is drawn, and whose shortfall then
exhausts the SOE's support capacity so that the government (hidden-debt call) pays.

Every expected number below is written from the scenario inputs with the conventions the engine documents:
rent = area × market rent × rent_ratio × occupancy × collection; running costs on the units held, growing
with CPI (deterministic CPI = exp(π t / 12)); the loan is drawn in month 0 and pays its first annuity
PMT = B r / (1 − (1 + r)^−n) at the end of month 0; DSRA target = dsra_months × this month's bank service;
distributions are retained while the trailing-12-month CFADS < lockup_dscr × trailing-12-month service;
a shortfall is covered by the SOE up to its capacity, then by the government.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from baozhang_finance import simulate
from conftest import annuity, balance_after, recorded, scenario

UNITS, AREA = 100, 100.0
FLOOR = UNITS * AREA  # 10,000 m²
PRICE = 10_000.0  # yuan/m²
RESERVE = 1_000_000.0
MARKET_RENT, RENT_RATIO, OCC, COLLECT = 30.0, 0.8, 0.9, 0.95
MGMT, VAT, PTAX = 0.05, 0.015, 0.04
OPEX_Y = 24.0  # yuan/m²/year
CPI = 0.012
LOAN, RATE, TERM = 15_000_000.0, 0.036, 10
DSRA_MONTHS, LOCKUP, SOE_CAP = 6, 1.05, 300_000.0
SHOCK_MONTH, SHOCK = 24, -0.5  # occupancy 0.9 → 0.4 from month 24 (stress overlay)
T = 120

PROJECT = {
    "name": "Rental golden", "type": "rental", "units": UNITS, "area_m2": AREA, "appraisal_yuan_per_m2": 11_000.0,
    "acquisition_price_yuan_per_m2": PRICE, "upfront_reserve_yuan": RESERVE,
    "rental": {"market_rent_yuan_per_m2_month": MARKET_RENT, "rent_ratio": RENT_RATIO, "lease_years": 3,
               "lease_up_months": 0, "stabilised_occupancy": OCC, "collection_rate": COLLECT,
               "opex_yuan_per_m2_year": OPEX_Y, "management_fee_share": MGMT, "vat_rate_on_rent": VAT,
               "property_tax_rate_on_rent": PTAX, "capex_reserve_share_of_rent": 0.0},
    "financing": {"equity_yuan": FLOOR * PRICE + RESERVE - LOAN,
                  "loans": [{"name": "rental purchase loan", "amount_yuan": LOAN, "term_years": TERM,
                             "amortisation": "annuity", "rate_type": "fixed", "fixed_rate": RATE}]},
}


def make():
    return scenario([PROJECT], horizon_years=10, market_kw={"cpi_drift_annual": CPI},
                    waterfall_kw={"dsra_months": DSRA_MONTHS, "lockup_dscr": LOCKUP,
                                  "soe_support_capacity_yuan": SOE_CAP},
                    stresses=[{"name": "vacancy", "occupancy_shift": SHOCK, "occupancy_start_month": SHOCK_MONTH}])


def hand():
    """The case month by month, from the inputs above (no engine output used)."""
    t = np.arange(T)
    occ = np.where(t < 1, 0.0, np.where(t < SHOCK_MONTH, OCC, OCC + SHOCK))  # let from month 1 (bought in month 0)
    rent = FLOOR * MARKET_RENT * RENT_RATIO * occ * COLLECT
    rent_costs = rent * (MGMT + VAT + PTAX)
    opex = FLOOR * OPEX_Y / 12.0 * np.exp(CPI / 12.0 * t)
    cfads = rent - rent_costs - opex
    pmt = annuity(LOAN, RATE, 12 * TERM)
    target = DSRA_MONTHS * pmt
    out = {k: np.zeros(T) for k in ("dsra", "cash", "dist", "soe", "gov", "draw", "locked")}
    dsra = cash = 0.0
    soe_left = SOE_CAP
    for m in range(T):
        if m == 0:
            dsra += RESERVE  # the upfront reserve is funded into the DSRA at close
        before = dsra
        avail = cfads[m] + dsra + cash
        paid = min(max(avail, 0.0), pmt)
        short = pmt - paid
        surplus = max(avail - paid, 0.0)
        dsra = min(surplus, target)
        surplus -= dsra
        cf12 = cfads[max(0, m - 11): m + 1].sum()
        ds12 = pmt * min(m + 1, 12)
        locked = cf12 < LOCKUP * ds12
        cash = surplus if locked else 0.0
        soe = min(soe_left, short)
        soe_left -= soe
        out["dsra"][m], out["cash"][m], out["dist"][m] = dsra, cash, surplus - cash
        out["soe"][m], out["gov"][m], out["locked"][m] = soe, short - soe, locked
        out["draw"][m] = max(before - dsra, 0.0) if m > 0 else 0.0
    out.update(rent=rent, opex=opex, cfads=cfads, pmt=pmt, rent_costs=rent_costs)
    return out


@pytest.fixture(scope="module")
def run():
    plan, m, out = recorded(make(), "vacancy")
    return plan, {k: (v[0] if v.ndim == 2 else v) for k, v in m.items()}, out


def test_inputs_as_written():
    h = hand()
    # month 5: 10,000 m² × 30 × 0.8 × 0.9 × 0.95 = 205,200 yuan collected; costs 10.5 % of it
    assert h["rent"][5] == pytest.approx(205_200.0, abs=1e-6)
    assert h["rent"][SHOCK_MONTH] == pytest.approx(91_200.0, abs=1e-6)  # occupancy 0.4
    assert h["rent_costs"][5] == pytest.approx(21_546.0, abs=1e-6)
    assert h["opex"][0] == pytest.approx(20_000.0, abs=1e-9)  # 24 yuan/m²/yr ÷ 12 × 10,000 m²
    # annuity: r = 0.003, n = 120 → PMT = 45,000 / (1 − 1.003^−120)
    assert h["pmt"] == pytest.approx(45_000.0 / (1 - 1.003 ** -120), rel=1e-12)
    assert h["pmt"] == pytest.approx(149_032.49, abs=0.01)


def test_operations_to_the_yuan(run, approx_yuan):
    plan, m, _ = run
    h = hand()
    approx_yuan(m["rent"], h["rent"], "rent collected")
    approx_yuan(m["rent_costs"], h["rent_costs"], "management + VAT + property tax")
    approx_yuan(m["running_costs"], h["opex"], "opex growing with CPI")
    approx_yuan(m["cfads"], h["cfads"], "CFADS")
    assert np.allclose(m["occupancy"], np.where(np.arange(T) < 1, 0, np.where(np.arange(T) < SHOCK_MONTH, OCC, 0.4)))


def test_annuity_service_to_the_yuan(run, approx_yuan):
    plan, m, _ = run
    h = hand()
    pmt = h["pmt"]
    approx_yuan(m["bank_due"], np.full(T, pmt), "annuity service (first payment at the end of the draw month)")
    # interest of month t on the balance after t payments; the first is 15,000,000 × 0.003 = 45,000
    bal = np.array([balance_after(LOAN, RATE, pmt, k) for k in range(T)])
    approx_yuan(m["bank_interest"], bal * RATE / 12, "interest")
    assert m["bank_interest"][0] == pytest.approx(45_000.0, abs=1e-6)
    approx_yuan(m["bank_principal"], pmt - bal * RATE / 12, "principal")
    approx_yuan(m["loan_balance"], [balance_after(LOAN, RATE, pmt, k + 1) for k in range(T)], "balance")
    assert abs(m["loan_balance"][-1]) < 1e-4  # fully repaid in month 119


def test_dsra_lockup_support_to_the_yuan(run, approx_yuan):
    plan, m, out = run
    h = hand()
    approx_yuan(m["dsra"], h["dsra"], "DSRA balance")
    approx_yuan(m["cash"], h["cash"], "cash retained under lock-up")
    approx_yuan(m["distributions"], h["dist"], "distributions")
    approx_yuan(m["soe_support"], h["soe"], "SOE support")
    approx_yuan(m["gov_hidden"], h["gov"], "government support (hidden-debt call)")
    assert np.all(m["gov_bond"] == 0)  # no special bond: nothing is explicit
    assert np.max(np.abs(m["conservation"])) < 1e-6


def test_the_story_in_months(run):
    """The arc the case was built for, with the months worked out from the inputs."""
    plan, m, out = run
    h = hand()
    pmt, cf_good = h["pmt"], h["cfads"]
    target = DSRA_MONTHS * pmt
    # DSRA: 1,000,000 − 20,000 − PMT at the end of month 0, then + (CFADS − PMT) ≈ +14,600 a month → full in month 5
    filled = RESERVE - 20_000.0 - pmt + np.cumsum(cf_good[1:] - pmt)
    full_month = 1 + int(np.argmax(filled >= target))
    assert full_month == 5
    assert m["dsra"][full_month - 1] < target - 1 and m["dsra"][full_month] == pytest.approx(target, abs=1e-6)
    # lock-up: trailing-12 DSCR is below 1.05 until month 12 (month 0 had no rent), so cash is retained in 5..11
    assert h["locked"][:12].all() and not h["locked"][12:SHOCK_MONTH].any()
    assert m["cash"][11] > 0 and m["cash"][12] == 0 and m["distributions"][12] > m["distributions"][13] > 0
    # vacancy from month 24: CFADS ≈ 61,100 < PMT → DSRA drawn by PMT − CFADS each month
    draws = -np.diff(m["dsra"])
    assert np.all(draws[: SHOCK_MONTH - 1] <= 1e-9)
    np.testing.assert_allclose(draws[SHOCK_MONTH - 1: 33], pmt - h["cfads"][SHOCK_MONTH:34], atol=0.5)
    # the DSRA (≈ 894,195) lasts 894,195 / ≈ 87,950 ≈ 10.2 months: empty in month 34, when the SOE starts paying
    assert m["dsra"][33] > 0 and m["dsra"][34] == 0
    first_soe = int(np.argmax(m["soe_support"] > 0))
    assert first_soe == 34
    assert m["soe_support"][34] == pytest.approx(pmt - h["cfads"][34] - m["dsra"][33], abs=0.5)
    # SOE capacity 300,000 runs out in month 37 (73,773 + 88,121 + 88,142 = 250,036 before it), government from then
    assert m["soe_support"][:37].sum() < SOE_CAP < m["soe_support"][:38].sum() + 1e-6
    assert m["soe_support"][:38].sum() == pytest.approx(SOE_CAP, abs=1e-6)
    first_gov = int(np.argmax(m["gov_hidden"] > 0))
    assert first_gov == 37
    assert m["gov_hidden"][37] == pytest.approx(pmt - h["cfads"][37] - (SOE_CAP - m["soe_support"][:37].sum()), abs=0.5)
    assert np.all(m["soe_support"][38:] == 0)
    np.testing.assert_allclose(m["gov_hidden"][38:], pmt - h["cfads"][38:], atol=0.5)
    # standalone (bank) view: default in the first month the bank needs government money
    assert out.scalars["default_month"][0] == 37 and out.scalars["first_call_month"][0] == 37
    assert out.scalars["soe_capacity_left"][0] == pytest.approx(0.0, abs=1e-6)


def test_result_ledgers_and_dscr():
    """Through simulate(): yearly DSCR, hidden-debt PV and first call year from the same hand numbers."""
    res = simulate(make(), deterministic=True, stress="vacancy")
    h = hand()
    cf_y = h["cfads"].reshape(10, 12).sum(axis=1)
    ds_y = 12 * h["pmt"]
    dscr = res.ledger("dscr")[0]
    np.testing.assert_allclose(dscr, cf_y / ds_y, rtol=1e-6)  # float32 ledgers
    # year 1: (11 × (205,200 − 21,546) − Σ opex) / (12 PMT); years 3+: occupancy 0.4
    assert dscr[0] == pytest.approx((11 * (205_200 - 21_546) - h["opex"][:12].sum()) / ds_y, rel=1e-6)
    assert res.paths["dscr_min"][0] == pytest.approx(cf_y.min() / ds_y, rel=1e-9)
    assert dscr.argmin() == 9 and cf_y.min() / ds_y < 0.42
    disc = 1.04 ** (-(np.arange(T) + 1) / 12.0)  # end-of-month discounting at the programme rate
    assert res.paths["hidden_debt_pv"][0] == pytest.approx(float((h["gov"] * disc).sum()), rel=1e-9)
    assert res.paths["soe_support_pv"][0] == pytest.approx(float((h["soe"] * disc).sum()), rel=1e-9)
    assert res.paths["first_call_year"][0] == 37 // 12 + 1 == 4
    assert bool(res.paths["hidden_call"][0]) and not bool(res.paths["self_financing"][0])
    assert res.summary["hidden_debt"]["p_call"] == 1.0
    assert math.isclose(float(res.ledger("gov_hidden")[0].sum()), float(h["gov"].sum()), rel_tol=1e-6)
