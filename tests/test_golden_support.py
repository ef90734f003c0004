"""Golden cases of the support policy ([support], docs/model.md §6b), by hand.

One idle sale block (CFADS = 0 every month: it never sells, no costs) bought for 40 m, financed by equity, a 2-year
interest-only bank loan of 10 m at 4 % and a 2-year bullet special bond of 6 m at 3 % with annual coupons — so every
month the bank's interest (10 m × 4 % / 12 = 33,333.33) is short, the bond coupon (180,000) is short in months 11
and 23, and both principals in month 23. The SOE's pot is 500,000. Flat market, no DSRA, no lock-up.

* default conventions (``soe_pays`` = operating costs, bank debt, SOE bonds): the SOE pays the bank's interest until
  its pot is empty — 15 months × 33,333.33 = 500,000 exactly — and never the special bond: its coupons and principal
  are the explicit bond burden from the start (180,000 in month 11); from month 15 on the bank's interest, and in
  month 23 its 10 m principal, are the hidden-debt call;
* ``soe_pays`` with ``special_bonds`` ranked first: after 11 months of interest (366,666.67) the pot's last
  133,333.33 goes to the month-11 coupon first, so the bond burden that month is 46,666.67 and the bank's interest
  is called from month 11, four months sooner: SOE money on the government's bonds moves a shortfall onto the
  hidden side;
* ``yearly_capacity_yuan`` = 200,000: at month 12 the pot grows by 200,000, carrying six more months of interest.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import recorded, scenario

UNITS, AREA, PRICE = 50, 80.0, 10_000.0
COST = UNITS * AREA * PRICE  # 40,000,000
LOAN, RATE, BOND, COUPON = 10_000_000.0, 0.04, 6_000_000.0, 0.03
INTEREST = LOAN * RATE / 12  # 33,333.33 a month
POT = 500_000.0

BLOCK = {"name": "S", "type": "sale", "units": UNITS, "area_m2": AREA, "appraisal_yuan_per_m2": PRICE,
         "acquisition_price_yuan_per_m2": PRICE, "acquisition_start_month": 0,
         "sale": {"margin": 0.0, "presubscription_share": 0.0, "deposit_share": 0.0, "handover_delay_months": 0,
                  "absorption_monthly": 0.0, "absorption_price_elasticity": 0.0, "sweep_share": 0.0,
                  "holding_cost_yuan_per_m2_year": 0.0, "sales_tax_rate": 0.0, "buyer_down_payment_share": 0.2},
         "financing": {"equity_yuan": COST - LOAN - BOND,
                       "loans": [{"name": "bank", "amount_yuan": LOAN, "term_years": 2, "amortisation": "interest_only",
                                  "rate_type": "fixed", "fixed_rate": RATE}],
                       "bonds": [{"name": "专项债", "amount_yuan": BOND, "coupon": COUPON, "term_years": 2,
                                  "coupon_frequency": "annual"}]}}


def run(support: dict):
    sc = scenario([BLOCK], horizon_years=3, support={"conventions": "default", **support},
                  waterfall_kw={"soe_support_capacity_yuan": POT})
    _, m, _ = recorded(sc)
    assert np.abs(m["conservation"]).max() < 1e-6, "cash not conserved"
    return m


def by_hand(order: list[str], yearly: float = 0.0):
    """The month-by-month split of the shortfalls between the SOE's pot and the budget, written out."""
    T = 36
    bank = np.array([INTEREST + (LOAN if t == 23 else 0.0) if t < 24 else 0.0 for t in range(T)])
    bond = np.array([BOND * COUPON if t in (11, 23) else 0.0 for t in range(T)]) + np.where(np.arange(T) == 23, BOND, 0.0)
    left, soe, hidden, explicit = POT, np.zeros(T), np.zeros(T), np.zeros(T)
    for t in range(T):
        if yearly and t > 0 and t % 12 == 0:
            left += yearly
        short = {"bank_debt": bank[t], "special_bonds": bond[t]}
        paid = {}
        for k in order:
            if k in short:
                paid[k] = min(left, short[k])
                left -= paid[k]
        soe[t] = sum(paid.values())
        hidden[t] = bank[t] - paid.get("bank_debt", 0.0)
        explicit[t] = bond[t] - paid.get("special_bonds", 0.0)
    return soe, hidden, explicit


@pytest.mark.parametrize("support, order, yearly", [
    ({}, ["operating_costs", "bank_debt", "soe_bonds"], 0.0),
    ({"soe_pays": ["special_bonds", "bank_debt", "operating_costs"]}, ["special_bonds", "bank_debt"], 0.0),
    ({"yearly_capacity_yuan": 200_000.0}, ["bank_debt"], 200_000.0),
])
def test_support_order_and_pot_by_hand(support, order, yearly, approx_yuan):
    m = run(support)
    soe, hidden, explicit = by_hand(order, yearly)
    approx_yuan(m["soe_support"], soe, "SOE support")
    approx_yuan(m["gov_hidden"], hidden, "hidden-debt call")
    approx_yuan(m["gov_bond"], explicit, "explicit bond burden")


def test_the_default_pot_runs_out_after_fifteen_months_of_interest():
    m = run({})
    assert m["soe_support"][:15].sum() == pytest.approx(POT, abs=0.5)
    first_call = int(np.argmax(m["gov_hidden"] > 1e-6))
    assert first_call == 15 and m["gov_bond"][11] == pytest.approx(BOND * COUPON, abs=0.5)
    # SOE money on the bonds, ranked first: the call starts sooner
    m2 = run({"soe_pays": ["special_bonds", "bank_debt", "operating_costs"]})
    assert int(np.argmax(m2["gov_hidden"] > 1e-6)) == 11
    assert m2["gov_bond"][11] == pytest.approx(BOND * COUPON - (POT - 11 * INTEREST), abs=0.5)
