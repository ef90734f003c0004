"""Golden case 2, computed by hand: one sale project (配售型) with pre-subscription deposits, a hand-over
balance, absorbed sales, the cash sweep prepaying the acquisition loan, one buyback and its resale.

Conventions (engine / plan docstrings): sale price per m² = cost per m² × (1 + margin); deposits on the
pre-subscribed units arrive in the first month of the purchase, their balance at hand-over (available month +
handover delay); unsold units sell at ``absorption_monthly`` × H^elasticity from the available month; holding
costs are paid on the units held at the start of the month; a share of sale proceeds prepays the bank loan
from what is left after scheduled service; units handed over in month h become eligible for a buyback in month
h + 12·lockup_years (a 1-year lock-up: exactly 12 months later), when the monthly hazard 1 − (1 − h)^(1/12) applies;
a bought-back unit is paid at appraisal × H_t × (1 − fees) and resold ``resale_delay`` months later at that
price × (1 + resale_margin). The deterministic house-price index is H_t = exp(μ t / 12).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from baozhang_finance import simulate
from conftest import recorded, scenario

UNITS, AREA = 100, 100.0
ACQ, TAX, APPRAISAL = 8_000.0, 0.01, 9_000.0
MARGIN, PRESUB, DEPOSIT, DELAY = 0.05, 0.9, 0.1, 12
HOLD_Y, SALES_TAX, SWEEP = 12.0, 0.03, 1.0
FEE, RESALE_DELAY, RESALE_MARGIN = 0.05, 6, 0.02
LOAN, RATE = 60_000_000.0, 0.03
MU = -0.06  # house prices fall 6 %/yr (deterministic path)
T = 24

PROJECT = {
    "name": "Sale golden", "type": "sale", "units": UNITS, "area_m2": AREA, "appraisal_yuan_per_m2": APPRAISAL,
    "acquisition_price_yuan_per_m2": ACQ, "purchase_tax_rate": TAX,
    "sale": {"margin": MARGIN, "presubscription_share": PRESUB, "deposit_share": DEPOSIT,
             "handover_delay_months": DELAY, "absorption_monthly": 1.0, "absorption_price_elasticity": 0.0,
             "sweep_share": SWEEP, "holding_cost_yuan_per_m2_year": HOLD_Y, "sales_tax_rate": SALES_TAX,
             "buyer_down_payment_share": 0.2,
             "buyback": {"lockup_years": 1, "hazard_annual": 1.0, "price_sensitivity": 0.0,
                         "price_rule": "market_minus_fees", "fee_share": FEE, "resale_delay_months": RESALE_DELAY,
                         "resale_margin": RESALE_MARGIN}},
    "financing": {"equity_yuan": UNITS * AREA * ACQ * (1 + TAX) - LOAN,
                  "loans": [{"name": "保障性住房收购贷款", "amount_yuan": LOAN, "term_years": 2,
                             "amortisation": "interest_only", "rate_type": "fixed", "fixed_rate": RATE}]},
}


def make():
    return scenario([PROJECT], horizon_years=2, market_kw={"price_drift_annual": MU})


@pytest.fixture(scope="module")
def m():
    plan, mo, out = recorded(make())
    return {k: (v[0] if v.ndim == 2 else v) for k, v in mo.items()}


# ------------------------------------------------------------------------------------------ by hand
PRICE_M2 = ACQ * (1 + TAX) * (1 + MARGIN)  # 8,080 × 1.05 = 8,484 yuan/m²
UNIT_PRICE = PRICE_M2 * AREA  # 848,400 yuan
PRESUB_VALUE = UNITS * PRESUB * UNIT_PRICE  # 90 units: 76,356,000
DEPOSITS = PRESUB_VALUE * DEPOSIT  # month 0
BALANCE_AT_HANDOVER = PRESUB_VALUE * (1 - DEPOSIT)  # month 1 + 12 = 13
ABSORBED = 10 * UNIT_PRICE  # the 10 unsold units all sell in month 1 (absorption 1, elasticity 0)
HOLD_UNIT_M = HOLD_Y / 12 * AREA  # 100 yuan per unit-month
BB_MONTH = 1 + 12  # handed over in month 1, eligible 12 months later in month 13, hazard 1 → all 10 in month 13
BB_PAID = 10 * AREA * APPRAISAL * math.exp(MU / 12 * BB_MONTH) * (1 - FEE)
RESALE_MONTH = BB_MONTH + RESALE_DELAY
RESALE = BB_PAID * (1 + RESALE_MARGIN)


def hand():
    r = RATE / 12
    sales = np.zeros(T)
    sales[0], sales[1], sales[13], sales[RESALE_MONTH] = DEPOSITS, ABSORBED, BALANCE_AT_HANDOVER, RESALE
    held_start = np.zeros(T)  # units held at the start of the month (after the purchase in month 0)
    held_start[0:2], held_start[2:14], held_start[14:RESALE_MONTH + 1] = 100, 90, 10
    buyback = np.zeros(T)
    buyback[BB_MONTH] = BB_PAID
    cfads = sales * (1 - SALES_TAX) - held_start * HOLD_UNIT_M - buyback
    interest, sweep, soe, dist, bal_end = (np.zeros(T) for _ in range(5))
    bal = LOAN
    for t in range(T):
        interest[t] = bal * r
        left = cfads[t] - interest[t]
        if left < 0:
            soe[t] = -left  # SOE covers holding costs, interest and the buyback (capacity unlimited here)
        else:
            sweep[t] = min(SWEEP * sales[t], left, bal)
            dist[t] = left - sweep[t]
        bal -= sweep[t]
        bal_end[t] = bal
    return dict(sales=sales, cfads=cfads, interest=interest, sweep=sweep, soe=soe, dist=dist, bal=bal_end,
                tax=sales * SALES_TAX, hold=held_start * HOLD_UNIT_M)


def test_prices_as_written():
    assert PRICE_M2 == pytest.approx(8_484.0)
    assert DEPOSITS == pytest.approx(7_635_600.0)
    assert BALANCE_AT_HANDOVER == pytest.approx(68_720_400.0)
    assert ABSORBED == pytest.approx(8_484_000.0)
    h = hand()
    # month 0: deposits × 0.97 − 10,000 holding − 150,000 interest all prepay the loan
    assert h["sweep"][0] == pytest.approx(7_635_600 * 0.97 - 10_000 - 150_000)
    assert BB_PAID == pytest.approx(9_000 * 1_000 * 0.95 * math.exp(-0.065), rel=1e-12)


def test_sales_and_costs_to_the_yuan(m, approx_yuan):
    h = hand()
    approx_yuan(m["sales"], h["sales"], "deposits, absorbed sales, hand-over balance, resale")
    approx_yuan(m["sales_tax"], h["tax"], "sales tax")
    approx_yuan(m["running_costs"], h["hold"], "holding costs of units held")
    approx_yuan(m["cfads"], h["cfads"], "CFADS")
    expect_bb = np.zeros(T)
    expect_bb[BB_MONTH] = 10.0
    np.testing.assert_allclose(m["bb_units"], expect_bb, atol=1e-12)  # exactly one buyback, all 10 units
    approx_yuan(m["buybacks"], np.where(np.arange(T) == BB_MONTH, BB_PAID, 0.0), "buyback paid")
    assert m["sold_units"][1] == pytest.approx(10.0) and m["sold_units"].sum() == pytest.approx(10.0)
    assert m["held"][BB_MONTH] == pytest.approx(10.0) and m["held"][RESALE_MONTH] == pytest.approx(0.0)


def test_sweep_and_loan_to_the_yuan(m, approx_yuan):
    h = hand()
    approx_yuan(m["bank_interest"], h["interest"], "interest on the swept-down balance")
    assert m["bank_interest"][0] == pytest.approx(150_000.0)
    approx_yuan(m["bank_principal"], np.zeros(T), "no scheduled principal before maturity")
    approx_yuan(m["prepayment"], h["sweep"], "cash sweep")
    approx_yuan(m["loan_balance"], h["bal"], "loan balance")
    assert h["bal"][12] == pytest.approx(LOAN - h["sweep"][0] - h["sweep"][1])
    assert m["loan_balance"][13] == 0.0 and h["sweep"][13] == pytest.approx(h["bal"][12])  # hand-over repays it


def test_support_and_distributions_to_the_yuan(m, approx_yuan):
    h = hand()
    approx_yuan(m["soe_support"], h["soe"], "SOE support (interest + holding in months 2–12, then the buyback)")
    approx_yuan(m["distributions"], h["dist"], "distributions")
    # the buyback falls in the hand-over month: the balance paid by the 90 buyers funds it, no SOE money that month
    assert m["soe_support"][BB_MONTH] == 0.0 and m["buybacks"][BB_MONTH] == pytest.approx(BB_PAID)
    assert m["distributions"][RESALE_MONTH] == pytest.approx(RESALE * 0.97 - 1_000, abs=0.5)
    assert np.all(m["gov_hidden"] == 0) and np.all(m["gov_bond"] == 0)
    assert np.max(np.abs(m["conservation"])) < 1e-6


def test_yearly_ledgers():
    res = simulate(make(), deterministic=True)
    h = hand()
    np.testing.assert_allclose(res.ledger("soe_support")[0], h["soe"].reshape(2, 12).sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(res.ledger("bank_balance")[0], [h["bal"][11], h["bal"][23]], atol=8)  # float32
    assert res.paths["support_total"][0] == pytest.approx(h["soe"].sum(), rel=1e-9)
    assert not res.paths["hidden_call"][0] and not res.paths["default"][0]
