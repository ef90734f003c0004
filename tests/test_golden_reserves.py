"""Golden checks of the DSRA target's look-ahead (interest-only principal falling due) and of the upfront reserve
kept as the DSRA floor until stabilisation. Numbers computed by hand from the inputs."""

from __future__ import annotations

import numpy as np

from conftest import recorded, scenario

UNITS, AREA, PRICE = 100, 100.0, 10_000.0          # 10,000 m², purchase 100,000,000 yuan
RENT = 30.0                                         # yuan/m²/month at 100 % rent ratio: 300,000 a month


def rental(loan: dict, equity: float, reserve: float = 0.0, lease_up: int = 0) -> dict:
    return {
        "name": "R", "type": "rental", "units": UNITS, "area_m2": AREA, "appraisal_yuan_per_m2": PRICE,
        "acquisition_price_yuan_per_m2": PRICE, "upfront_reserve_yuan": reserve,
        "rental": {"market_rent_yuan_per_m2_month": RENT, "rent_ratio": 1.0, "lease_years": 1, "lease_up_months": lease_up,
                   "stabilised_occupancy": 1.0, "collection_rate": 1.0, "opex_yuan_per_m2_year": 0.0,
                   "management_fee_share": 0.0, "vat_rate_on_rent": 0.0, "property_tax_rate_on_rent": 0.0,
                   "capex_reserve_share_of_rent": 0.0},
        "financing": {"equity_yuan": equity, "loans": [loan]},
    }


def test_dsra_target_sees_interest_only_principal_coming():
    # 40 m interest-only at 3 % for 3 years: interest 100,000 a month, principal 40 m at the end of month 35.
    loan = {"name": "io", "amount_yuan": 40e6, "term_years": 3, "amortisation": "interest_only", "rate_type": "fixed",
            "fixed_rate": 0.03}
    sc = scenario([rental(loan, equity=60e6)], horizon_years=5, waterfall_kw={"dsra_months": 3, "lockup_dscr": 0.0})
    _, m, _ = recorded(sc)
    interest = 40e6 * 0.03 / 12                                   # 100,000
    cfads = UNITS * AREA * RENT                                    # 300,000 a month from month 1
    assert np.allclose(m["bank_interest"][0, 1:35], interest)
    # months 1..31: target = 3 × 100,000; the DSRA sits at its target after the first month of surplus
    assert np.isclose(m["dsra"][0, 10], 3 * interest)
    # months 32, 33, 34 see the 40 m principal within 3 months: the DSRA traps every yuan of surplus
    for t in (32, 33, 34):
        assert m["distributions"][0, t] == 0.0
    # month 32 keeps all of its surplus: 300,000 + 300,000 (DSRA brought forward) − 100,000 interest
    assert np.isclose(m["dsra"][0, 32], 3 * interest + (cfads - interest))
    assert np.isclose(m["dsra"][0, 34], 3 * interest + 3 * (cfads - interest))
    # month 35: the balloon drains the DSRA (500,000 + 600,000 + 300,000 − 100,000 − 40 m short): SOE pays the rest
    short = 40e6 + interest - (m["dsra"][0, 34] + cfads)
    assert np.isclose(m["soe_support"][35], short)


def test_upfront_reserve_is_kept_until_stabilisation():
    # 50 m annuity at 3 % over 5 years; 12-month lease-up; a 3 m reserve funded at close.
    loan = {"name": "a", "amount_yuan": 50e6, "term_years": 5, "amortisation": "annuity", "rate_type": "fixed",
            "fixed_rate": 0.03}
    sc = scenario([rental(loan, equity=53e6, reserve=3e6, lease_up=12)], horizon_years=6,
                  waterfall_kw={"dsra_months": 0, "lockup_dscr": 0.0})
    _, m, _ = recorded(sc)
    # month 0: the 3 m reserve is deposited; with dsra_months = 0 the old rule released it at once
    assert m["distributions"][0, 0] == 0.0
    # before stabilisation (month 1 + 12 = 13) rent ramps up, (t/12) × 300,000 in month t, below the service …
    pmt = 50e6 * (0.03 / 12) / (1 - (1 + 0.03 / 12) ** -60)
    assert np.isclose(m["bank_due"][0, 1], pmt)
    full_rent = UNITS * AREA * RENT
    # … so the reserve is drawn month by month by the gap, and no SOE money is needed while it lasts
    dsra = 3e6 - pmt  # month 0: the first payment (end of the draw month) comes before any rent
    assert np.isclose(m["dsra"][0, 0], dsra) and m["soe_support"][0] == 0.0
    for t in (1, 2):
        dsra -= pmt - t / 12 * full_rent
        assert np.isclose(m["dsra"][0, t], dsra), t
        assert m["soe_support"][t] == 0.0
    # month 3: the reserve is used up; the SOE covers what it cannot
    short = pmt - 3 / 12 * full_rent - dsra
    assert m["dsra"][0, 3] == 0.0 and np.isclose(m["soe_support"][3], short)
    # after stabilisation (full rent 300,000 < service) the SOE pays the gap every month
    assert m["dsra"][0, 20] == 0.0 and np.isclose(m["soe_support"][20], pmt - full_rent)
