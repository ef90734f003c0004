"""Seeded statistical tests of the market drivers and of the support probability against analytic answers.

Every tolerance is ``4 × SE`` with the standard error estimated from the sample itself (never hand-tuned), so a
failure means the recursion or the correlation is wrong, not that the seed was unlucky (a 4-SE miss has
probability ≈ 6e-5 per check). The analytic answers are computed here from the *scenario* fields (annual
parameters), not from the compiled plan, so the conversion annual → monthly in plan.py is checked too.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from baozhang_finance import simulate
from baozhang_finance.engine.drivers import Drivers
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.model.scenario import DRIVERS, load_scenario, scenario_from_dict

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml"


@pytest.fixture(scope="module")
def demo():
    return load_scenario(DEMO)


def _with_market(sc, **changes):
    data = sc.model_dump()
    data["market"].update(changes)
    return scenario_from_dict(data)


def _se_var(x: np.ndarray) -> tuple[float, float]:
    """Sample variance (ddof=1) and its standard error √((m₄ − s⁴)/n), both from the sample."""
    d = x - x.mean()
    v = float(d.var(ddof=1))
    m4 = float(np.mean(d**4))
    return v, math.sqrt(max(m4 - v * v, 0.0) / x.size)


def _assert_within(est: float, truth: float, se: float, k: float = 4.0, what: str = "") -> None:
    assert se > 0, what
    assert abs(est - truth) <= k * se, f"{what}: estimate {est:.6g}, analytic {truth:.6g}, SE {se:.3g} ({(est - truth) / se:+.2f} SE)"


# --------------------------------------------------------------------------------------- house-price index
def test_house_price_index_mean_and_variance_match_lognormal(demo):
    """E[H_t] = exp(Σ_{s<t} μ_s/12) with the decline regime; Var[H_t] = E[H_t]² (exp(σ² t/12) − 1)."""
    m = demo.market
    plan = compile_plan(demo)
    n = 40_000
    drv = Drivers(plan.market, n, np.random.default_rng(20251124))
    checks = {24: None, 120: None}  # inside the decline regime, and at year 10
    for t in range(121):
        ms = drv.step(t)
        if t in checks:
            checks[t] = ms.hpi.copy()
    sigma2 = m.price_vol_annual**2
    for t, h in checks.items():
        drift = sum((m.decline_drift_annual if s < m.decline_years * 12 else m.price_drift_annual) / 12.0 for s in range(t))
        mean_true = math.exp(drift)
        var_true = mean_true**2 * math.expm1(sigma2 * t / 12.0)
        _assert_within(float(h.mean()), mean_true, float(h.std(ddof=1) / math.sqrt(n)), what=f"E[H_{t}]")
        v, se_v = _se_var(h)
        _assert_within(v, var_true, se_v, what=f"Var[H_{t}]")
    # year 10 of the demo: 3 years at −4 % then 7 at +1 % → E[H_120] = e^−0.05, hand-checked
    assert math.isclose(sum((-0.04 if s < 36 else 0.01) / 12 for s in range(120)), -0.05, abs_tol=1e-12)


# --------------------------------------------------------------------------------------- correlation
def test_innovation_correlation_recovered_from_market_state(demo):
    """The standardised shocks of month 1, recovered from the reported market state, have the scenario's
    correlation matrix (SE of a sample correlation ≈ (1 − ρ²)/√n) and unit variance (SE ≈ √(2/n))."""
    m = demo.market
    plan = compile_plan(demo)
    mp = plan.market
    n = 100_000
    drv = Drivers(mp, n, np.random.default_rng(7))
    drv.step(0)
    ms = drv.step(1)
    r12 = math.sqrt(12.0)
    vol = {
        "house_price": m.price_vol_annual / r12, "rent": m.rent_vol_annual / r12, "lpr": m.lpr_vol_annual / r12,
        "cpi": m.cpi_vol_annual / r12, "occupancy": m.occupancy_vol_annual / r12,
        "absorption": m.absorption_vol_annual / r12, "fiscal": m.fiscal_vol_annual / r12,
    }
    # invert one step of each recursion from its month-0 state (all indices 1, deviations 0, LPR = lpr_initial)
    f0 = demo.programme.fiscal_revenue_yuan / 12.0
    s, beta = m.fiscal_land_share, m.fiscal_land_beta
    log_g = np.log((ms.fiscal_m / f0 - s * ms.hpi**beta) / (1.0 - s))
    raw = {
        "house_price": np.log(ms.hpi) - m.decline_drift_annual / 12.0 + 0.5 * vol["house_price"] ** 2,
        "rent": np.log(ms.rent) - (m.rent_decline_drift_annual if m.rent_decline_years > 0 else m.rent_drift_annual) / 12.0
        + 0.5 * vol["rent"] ** 2,
        "lpr": ms.lpr - m.lpr_initial - m.lpr_reversion / 12.0 * (m.lpr_mean - m.lpr_initial),
        "cpi": np.log(ms.cpi) - m.cpi_drift_annual / 12.0 + 0.5 * vol["cpi"] ** 2,
        "occupancy": ms.occ_dev,
        "absorption": np.log(ms.absorption),
        "fiscal": log_g - m.fiscal_growth_annual / 12.0 + 0.5 * vol["fiscal"] ** 2,
    }
    z = np.column_stack([raw[k] / vol[k] for k in DRIVERS])
    sd = z.std(axis=0, ddof=1)
    for k, name in enumerate(DRIVERS):
        _assert_within(float(sd[k] ** 2), 1.0, math.sqrt(2.0 / n), what=f"Var of standardised {name} shock")
        _assert_within(float(z[:, k].mean()), 0.0, 1.0 / math.sqrt(n), what=f"mean of {name} shock")
    corr = np.corrcoef(z, rowvar=False)
    target = np.asarray(m.correlation)
    for i in range(len(DRIVERS)):
        for j in range(i + 1, len(DRIVERS)):
            rho = target[i, j]
            _assert_within(float(corr[i, j]), rho, (1.0 - rho**2) / math.sqrt(n), what=f"corr({DRIVERS[i]}, {DRIVERS[j]})")


# --------------------------------------------------------------------------------------- Vasicek and OU
def test_vasicek_lpr_and_ou_deviations_match_exact_ar1_moments(demo):
    """The code steps monthly, so the moments are those of the exact AR(1) with φ = 1 − κ/12:
    E[r_t] = θ + φ^t (r₀ − θ), Var[r_t] = (σ²/12) (1 − φ^{2t}) / (1 − φ²); the occupancy and absorption
    deviations are the same recursion around 0 from 0. The reported LPR is floored, so the floor is set to 0 and
    the mean to 5 %, 4.6 SD above it (with θ = 2.8 % and σ = 1 %, the 1.4 % of paths floored at 0 bias the
    sample variance by −2.7 SE: the test sees that); the vol is raised so the test has power."""
    sc = _with_market(demo, lpr_floor=0.0, lpr_vol_annual=0.008, lpr_initial=0.035, lpr_mean=0.05, lpr_reversion=0.3)
    m = sc.market
    plan = compile_plan(sc)
    n = 40_000
    drv = Drivers(plan.market, n, np.random.default_rng(11))
    t_h = 60
    for t in range(t_h + 1):
        ms = drv.step(t)

    def ar1(x0, theta, kappa_annual, vol_annual, t):
        phi = 1.0 - kappa_annual / 12.0
        mean = theta + phi**t * (x0 - theta)
        var = vol_annual**2 / 12.0 * (1.0 - phi ** (2 * t)) / (1.0 - phi**2)
        return mean, var

    for name, x, (mean_t, var_t) in (
        ("LPR", ms.lpr, ar1(m.lpr_initial, m.lpr_mean, m.lpr_reversion, m.lpr_vol_annual, t_h)),
        ("occupancy deviation", ms.occ_dev, ar1(0.0, 0.0, m.occupancy_reversion, m.occupancy_vol_annual, t_h)),
        ("log absorption", np.log(ms.absorption), ar1(0.0, 0.0, m.absorption_reversion, m.absorption_vol_annual, t_h)),
    ):
        _assert_within(float(x.mean()), mean_t, float(x.std(ddof=1) / math.sqrt(n)), what=f"E[{name}_{t_h}]")
        v, se_v = _se_var(x)
        _assert_within(v, var_t, se_v, what=f"Var[{name}_{t_h}]")
    # after 5 years the mean is still 33 bp below θ (φ^60 · (r₀ − θ)), 30 SE of the sample mean: the test sees r₀
    assert ar1(0.035, 0.05, 0.3, 0.008, 60)[0] == pytest.approx(0.05 - 0.015 * (1 - 0.3 / 12) ** 60, rel=1e-12)
    assert 0.05 - ar1(0.035, 0.05, 0.3, 0.008, 60)[0] > 30 * math.sqrt(ar1(0.035, 0.05, 0.3, 0.008, 60)[1] / n)


# --------------------------------------------------------------------------------------- P(support), closed form
# A one-year rental whose only randomness is occupancy. Market rent and CPI are frozen (vol 0, drift 0), running
# costs are 0, the only debt is an interest-free bullet loan of D repaid at the end of month 11, there is no DSRA,
# no retained cash, no SOE capacity. Then CFADS_11 = R · clip(occ* + d₁₁, 0, 1) with
#   R = units · area · rent · rent_ratio · collection · (1 − mgmt − VAT − property tax − capex),
# and the government (hidden debt) pays D − CFADS_11 when positive. d₁₁ = σ_m Σ φ^{11−s} z_s is exactly normal
# with variance σ_m² Σ_{j<11} φ^{2j}, so
#   P(call) = Φ(k),  k = (D/R − occ*) / s,   E[call] = R ((D/R − occ*) Φ(k) + s φ(k))   (clip at 0: 4.5 SD away).
SUPPORT = dict(units=200, area=80.0, rent=20.0, ratio=0.8, collection=0.95, mgmt=0.06, vat=0.015, ptax=0.04,
               capex=0.03, occ=0.90, occ_vol=0.30, occ_kappa=1.0, q=0.75)


def _support_scenario():
    c = SUPPORT
    r_month = c["units"] * c["area"] * c["rent"] * c["ratio"] * c["collection"] * (
        1 - c["mgmt"] - c["vat"] - c["ptax"] - c["capex"])
    debt = c["q"] * r_month
    uses = c["units"] * c["area"] * 5000.0
    data = {
        "programme": {"name": "one-year rental", "city": "test", "soe": "test", "start": "2025-01",
                      "horizon_years": 1, "discount_rate": 0.04, "fiscal_revenue_yuan": 1e9},
        "projects": [{
            "name": "R", "type": "rental", "units": c["units"], "area_m2": c["area"],
            "appraisal_yuan_per_m2": 5000.0, "acquisition_price_yuan_per_m2": 5000.0,
            "rental": {"market_rent_yuan_per_m2_month": c["rent"], "rent_ratio": c["ratio"], "lease_years": 1,
                       "lease_up_months": 0, "stabilised_occupancy": c["occ"], "collection_rate": c["collection"],
                       "opex_yuan_per_m2_year": 0.0, "management_fee_share": c["mgmt"], "vat_rate_on_rent": c["vat"],
                       "property_tax_rate_on_rent": c["ptax"], "capex_reserve_share_of_rent": c["capex"]},
            "financing": {"equity_yuan": uses - debt, "loans": [{
                "name": "bullet", "amount_yuan": debt, "term_years": 1, "amortisation": "bullet",
                "rate_type": "fixed", "fixed_rate": 0.0}]},
        }],
        "waterfall": {"dsra_months": 0, "lockup_dscr": 0.0, "soe_support_capacity_yuan": 0.0,
                      "terminal_value_haircut": 0.0},
        # legacy: distributions leave the programme, so the bullet is met only from the last month's cash
        "support": {"conventions": "legacy"},
        "market": {"price_drift_annual": 0.0, "price_vol_annual": 0.1, "rent_drift_annual": 0.0, "rent_vol_annual": 0.0,
                   "lpr_initial": 0.03, "lpr_mean": 0.03, "lpr_reversion": 0.0, "lpr_vol_annual": 0.0,
                   "cpi_drift_annual": 0.0, "cpi_vol_annual": 0.0, "occupancy_reversion": c["occ_kappa"],
                   "occupancy_vol_annual": c["occ_vol"], "absorption_reversion": 0.0, "absorption_vol_annual": 0.0,
                   "fiscal_growth_annual": 0.0, "fiscal_vol_annual": 0.0, "fiscal_land_share": 0.0,
                   "fiscal_land_beta": 0.0},
    }
    return scenario_from_dict(data), r_month, debt


def test_probability_of_hidden_debt_call_matches_normal_cdf():
    sc, r_month, debt = _support_scenario()
    c = SUPPORT
    phi = 1.0 - c["occ_kappa"] / 12.0
    s = c["occ_vol"] / math.sqrt(12.0) * math.sqrt(sum(phi ** (2 * j) for j in range(11)))
    k = (c["q"] - c["occ"]) / s
    p_true = float(norm.cdf(k))
    call_true = r_month * ((c["q"] - c["occ"]) * norm.cdf(k) + s * norm.pdf(k)) * 1.04 ** -1.0  # paid end of month 11
    assert 0.15 < p_true < 0.35  # a probability the test can resolve

    n = 20_000
    res = simulate(sc, paths=n, seed=99, chunk_size=5_000)
    df = res.paths
    p_hat = res.summary["hidden_debt"]["p_call"]
    _assert_within(p_hat, p_true, math.sqrt(p_hat * (1 - p_hat) / n), what="P(hidden-debt call)")
    pv = df["hidden_debt_pv"].to_numpy()
    _assert_within(float(pv.mean()), call_true, float(pv.std(ddof=1) / math.sqrt(n)), what="E[PV hidden debt]")
    # the standalone view sees the same event: default in month 11 on the whole balance, and nothing else
    calls = df["hidden_call"].to_numpy()
    assert np.array_equal(df["default"].to_numpy(), calls)
    assert set(df.loc[calls, "default_month"]) == {11}
    np.testing.assert_allclose(df.loc[calls, "ead"], debt, rtol=1e-12)
    assert set(df.loc[calls, "first_call_year"]) == {1}
    assert res.summary["bank"]["pd_cumulative"][-1] == pytest.approx(p_hat, abs=1e-12)
    # a shortfall is exactly the unpaid part of D: D − CFADS_11
    short = df.loc[calls, "hidden_debt_pv"].to_numpy() * 1.04
    cf11 = debt - short
    assert np.all(cf11 >= -1e-6) and np.all(cf11 < debt)
