"""Control variates (engine/controls.py, measures/control.py): controls of known mean 0, the regression estimator,
the same simulation bits, honest standard errors, the stopping rule and the clear error outside plain MC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from baozhang_finance import load_scenario, simulate
from baozhang_finance.engine.controls import CONTROL_NAMES
from baozhang_finance.measures.control import Moments, control_variate_mean
from baozhang_finance.measures.fiscal import HEADLINE_COLUMNS, headline_control_variates
from baozhang_finance.model.scenario import ScenarioError
from baozhang_finance.model.support import with_conventions
from baozhang_finance.run.settings import RunSettings

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml"


def _cv(sc, on=True):
    return sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"control_variates": on})})


@pytest.fixture(scope="module")
def legacy_demo():
    return with_conventions(load_scenario(DEMO), "legacy")


def test_controls_have_mean_zero(legacy_demo):
    """Each control is a linear function of the shocks (or an exact renewal indicator minus its probability):
    its sample mean over 20,000 paths lies within 4 SE of 0 (Bonferroni over the controls: a false alarm ≈ 0.06 %)."""
    sc = legacy_demo.model_copy(update={"market": legacy_demo.market.model_copy(update={"relending_nonrenewal_prob": 0.3})})
    r = simulate(_cv(sc), paths=20_000, seed=41)
    for k in CONTROL_NAMES:
        c = r.paths[f"cv_{k}"].to_numpy()
        assert c.std() > 0, k  # every driver of the demo is stochastic, relending may stop
        assert abs(c.mean()) <= 4.0 * c.std(ddof=1) / np.sqrt(c.size), k


def test_control_variates_leave_every_simulated_number_unchanged(legacy_demo):
    plain = simulate(legacy_demo, paths=300, seed=3, chunk_size=150)
    cv = simulate(_cv(legacy_demo), paths=300, seed=3, chunk_size=150)
    for col in plain.paths.columns:
        assert np.array_equal(plain.paths[col].to_numpy(), cv.paths[col].to_numpy(), equal_nan=True), col
    s, t = plain.summary, cv.summary
    assert s["hidden_debt"]["var95_pv"] == t["hidden_debt"]["var95_pv"]
    adj = t["run"]["control_variates"]
    assert adj["p_call"]["plain"] == s["hidden_debt"]["p_call"]
    assert adj["expected_pv"]["plain"] == s["hidden_debt"]["expected_pv"]
    assert t["hidden_debt"]["expected_pv"] == adj["expected_pv"]["estimate"]
    assert t["run"]["standard_errors"]["expected_pv"] == adj["expected_pv"]["se"]
    assert adj["expected_pv"]["variance_reduction"] > 1.5  # the legacy demo's calls follow rents and prices


def test_estimator_on_a_known_regression():
    """y = 2 + 3 c₀ − c₁ + e with E[c] = 0: the estimate is within 4 SE of 2, the SE is σ_e / √n, the reduction
    Var(y) / Var(e); a control that never varies drops out; y exactly linear in the controls has SE 0."""
    rng = np.random.default_rng(0)
    n = 50_000
    c = np.column_stack([rng.normal(size=n), rng.normal(size=n), np.zeros(n)])
    e = rng.normal(scale=0.5, size=n)
    y = 2.0 + 3.0 * c[:, 0] - c[:, 1] + e
    out = control_variate_mean(Moments(3).add(y[: n // 2], c[: n // 2]).add(y[n // 2:], c[n // 2:]))
    assert out["rank"] == 2
    assert abs(out["estimate"] - 2.0) <= 4 * out["se"]
    assert out["se"] == pytest.approx(0.5 / np.sqrt(n), rel=0.02)
    assert out["variance_reduction"] == pytest.approx((9 + 1 + 0.25) / 0.25, rel=0.05)
    assert out["beta"][:2] == pytest.approx([3.0, -1.0], abs=0.01) and out["beta"][2] == 0.0
    exact = control_variate_mean(Moments(3).add(5.0 + c[:, 0], c))  # E[y] = 5 exactly, whatever the sample
    assert exact["estimate"] == pytest.approx(5.0, abs=1e-10) and exact["se"] < 1e-7


def test_control_variate_standard_errors_cover(legacy_demo):
    """24 runs of 512 paths against a 40,000-path control-variate reference: the ±1.96 SE intervals of P(call) and
    E[hidden PV] hold it in ≥ 19 of 24 runs (P(≤ 18 of 24) ≈ 1 % at 93 % true coverage; the reference's own SE
    is ≈ 1/9 of a run's)."""
    sc = _cv(legacy_demo)
    ref = simulate(sc, paths=40_000, seed=7).summary["hidden_debt"]
    hits = np.zeros(2)
    for s in range(24):
        r = simulate(sc, paths=512, seed=500 + s, chunk_size=512)
        est = headline_control_variates({k: r.paths[k].to_numpy() for k in HEADLINE_COLUMNS
                                         + tuple(f"cv_{k}" for k in CONTROL_NAMES)})
        hits += [abs(est["p_call"]["estimate"] - ref["p_call"]) <= 1.96 * est["p_call"]["se"],
                 abs(est["expected_pv"]["estimate"] - ref["expected_pv"]) <= 1.96 * est["expected_pv"]["se"]]
    assert (hits >= 19).all(), hits


def test_target_se_stops_earlier_with_control_variates(legacy_demo):
    plain = simulate(legacy_demo, target_se=0.01, chunk_size=500, seed=9)
    cv = simulate(_cv(legacy_demo), target_se=0.01, chunk_size=500, seed=9)
    assert len(cv.paths) < len(plain.paths)
    se = cv.summary["run"]["standard_errors"]
    assert se["expected_pv"] <= 0.01 * cv.summary["run"]["control_variates"]["expected_pv"]["plain"]


def test_control_variates_need_plain_monte_carlo(legacy_demo):
    with pytest.raises(ValueError, match="control_variates needs sampling"):
        legacy_demo.simulation.model_validate({"sampling": "rqmc", "control_variates": True})
    with pytest.raises(ScenarioError, match="control_variates: needs sampling = 'mc'"):
        RunSettings(sampling="antithetic").resolved(_cv(legacy_demo))
