"""The bundled province scenario (scenarios/liaoning_province.toml, issue 18) and the province's stochastic revenue
(decision 52).

* every bundled file — scenarios/*.toml, the city files under scenarios/liaoning/, the portfolio itself — passes
  ``baozhang check`` (the glob is recursive: a file in a subfolder is not forgotten);
* the province scenario runs end to end through the CLI on small paths, every headline figure finite and in range;
* the province's revenue path is driven by the very fiscal factor draws the cities see: with one city loading 1 on
  the national fiscal factor (identity correlation, no land share, no growth) and the province loading 1 with the
  same volatility, the city's non-land revenue of a year is F₀ × the province's multiplier, to float32 rounding;
  its multiplier has mean 1 (E[X_t] = 1 by construction), within SE; a revenue_vol of 0 adds no task and no key.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from baozhang_finance.cli import app
from baozhang_finance.engine.factors import (
    FISCAL_DRIVER,
    ProvinceLoadings,
    factor_draw,
    factor_generator,
    province_generator,
    province_revenue_factor,
)
from baozhang_finance.model.portfolio import load_portfolio, portfolio_from_dict
from baozhang_finance.model.scenario import ScenarioError
from baozhang_finance.run.portfolio import simulate_portfolio

ROOT = Path(__file__).resolve().parents[1]
PROVINCE = ROOT / "scenarios" / "liaoning_province.toml"
FIX = ROOT / "tests" / "fixtures" / "portfolio"
BUNDLED = sorted((ROOT / "scenarios").rglob("*.toml"))


def test_the_glob_reaches_the_subfolder():
    names = {p.relative_to(ROOT / "scenarios").as_posix() for p in BUNDLED}
    assert {"liaoning_province.toml", "liaoning/shenyang.toml", "liaoning/shenfu.toml"} <= names
    assert len([n for n in names if n.startswith("liaoning/")]) == 15


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.relative_to(ROOT / "scenarios").as_posix())
def test_every_bundled_file_passes_check(path):
    r = CliRunner().invoke(app, ["check", str(path), "--lang", "en"])
    assert r.exit_code == 0, r.output


def test_the_province_file_has_its_cities_tiers_and_the_provinces_revenue_path():
    pf = load_portfolio(PROVINCE)
    assert len(pf.cities) == 15 and pf.regions == ("northeast",)
    units = sum(p.units for c in pf.cities for p in c.scenario.projects)
    assert units == 45_000  # seeds/000 §一: the 2025 tranche
    pr = pf.spec.province
    assert pr.revenue_yuan == 2.9058e11 and pr.revenue_vol == 0.04
    for c in pf.cities:  # the docs' land-revenue column is the price column: the fiscal loading equals it
        assert c.national[FISCAL_DRIVER] == c.national[0] and c.regional[FISCAL_DRIVER] == c.regional[0]
        assert np.all(c.national**2 + c.regional**2 <= 1.0)


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


@pytest.mark.slow
def test_the_province_scenario_runs_through_the_cli(tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["run", str(PROVINCE), "--paths", "200", "--chunk-size", "100", "--out", str(out),
                                 "--quiet", "--lang", "en"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert {"report.html", "cities.csv", "cities_called.csv", "manifest.json"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "manifest.json").read_text())["tasks"] == 32  # 15 cities × 2 chunks + the province's 2
    assert len(s["cities"]) == 15
    for row in s["cities"]:
        assert 0.0 <= row["p_call_material"] <= row["p_call"] <= 1.0
        assert all(_finite(row[k]) and row[k] >= 0 for k in ("expected_pv", "es95_pv", "total_fiscal_cost_pv"))
    p = s["province"]
    assert max(r["p_call"] for r in s["cities"]) <= p["p_any_call"] <= 1.0
    assert math.isclose(sum(p["cities_called"]["distribution"]), 1.0)
    assert math.isclose(sum(p["cities_called_same_year"]["max_in_one_year"]), 1.0)
    assert 0.2 <= p["concentration_top3"]["hidden_debt_pv"] <= 1.0  # three of fifteen cities: at least 3/15
    assert _finite(p["hidden_debt_pv"]["expected"]) and _finite(p["money_share_of_revenue_peak"]["p95"])
    fan = p["revenue_path"]["fan"]
    assert all(_finite(v) and v > 0 for v in fan["p5"] + fan["p95"])
    assert fan["p5"][-1] < p["revenue_by_year"][-1] < fan["p95"][-1]


# ------------------------------------------------------------------------------------------ decision 52
def test_province_revenue_factor_is_the_formula_on_the_factor_stream():
    pl = ProvinceLoadings(vol=0.05, national=0.6, regional=0.5, region=1, n_regions=2)
    n, months, seed, chunk = 50, 36, 5, 3
    got = province_revenue_factor(seed, chunk, n, months, pl)
    f_rng, own = factor_generator(seed, chunk), province_generator(seed, chunk)
    sm, log_x, x = 0.05 / math.sqrt(12), np.zeros(n), [np.ones(n)]
    for _ in range(1, months):
        f = factor_draw(f_rng, n, 2)
        xi = 0.6 * f[:, 0, 6] + math.sqrt(1 - 0.36 - 0.25) * own.standard_normal(n) + 0.5 * f[:, 2, 6]
        log_x = log_x + sm * xi - sm * sm / 2
        x.append(np.exp(log_x))
    want = np.stack(x, axis=1).reshape(n, 3, 12).mean(axis=2)
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_province_revenue_multiplier_has_mean_one():
    pl = ProvinceLoadings(vol=0.04, national=0.6, regional=0.6, region=0, n_regions=1)
    x = province_revenue_factor(20251124, 0, 20_000, 120, pl)
    se = x.std(axis=0) / math.sqrt(x.shape[0])
    assert np.all(np.abs(x.mean(axis=0) - 1.0) <= 4 * se + 1e-12), (x.mean(axis=0), se)
    assert np.all(np.diff(x.std(axis=0)) > 0)  # the spread widens year by year


def _one_city_on_the_national_fiscal_factor(vol: float) -> dict:
    city = tomllib.loads((FIX / "city_a.toml").read_text(encoding="utf-8"))
    city["market"].update(fiscal_land_share=0.0, fiscal_growth_annual=0.0, fiscal_vol_annual=0.04)
    city["market"].pop("correlation", None)  # identity: z_fiscal = ε_fiscal
    return {"portfolio": {"name": "one city on the national fiscal factor", "seed": 3, "paths": 400, "chunk_size": 200},
            "province": {"revenue_yuan": 1e10, "city_cap_share_of_revenue": 0.01, "transfer_cap_share_of_revenue": 0.01,
                         "revenue_vol": vol, "revenue_national_loading": 1.0},
            "city": [{"name": "A", "scenario": city, "national": {"fiscal": 1.0}}]}


def test_the_provinces_revenue_moves_on_the_draws_the_cities_see():
    res = simulate_portfolio(portfolio_from_dict(_one_city_on_the_national_fiscal_factor(0.04), base=FIX))
    c = res.cities[0]
    f0 = 2.0e9  # city_a.toml fiscal_revenue_yuan: its non-land revenue of year y is F₀ · mean of G_t = F₀ X_y
    np.testing.assert_allclose(c.revenue_y.astype(float), f0 * res.revenue_factor, rtol=2e-6)
    assert res.manifest()["tasks"] == 4  # 2 chunks × (1 city + the province)
    fan = res.summary["province"]["revenue_path"]["fan"]
    assert fan["p5"][-1] < res.summary["province"]["revenue_by_year"][-1] < fan["p95"][-1]


def test_zero_revenue_vol_adds_no_task_and_no_key():
    res = simulate_portfolio(portfolio_from_dict(_one_city_on_the_national_fiscal_factor(0.0), base=FIX))
    assert res.revenue_factor is None and res.manifest()["tasks"] == 2
    assert "revenue_path" not in res.summary["province"]


def test_bad_revenue_loadings_are_one_located_line():
    d = _one_city_on_the_national_fiscal_factor(0.04)
    d["province"].update(revenue_national_loading=0.8, revenue_regional_loading=0.8, revenue_region="northeast")
    with pytest.raises(ScenarioError, match="revenue_national_loading² \\+ revenue_regional_loading²"):
        portfolio_from_dict(d, base=FIX)
    d["province"].update(revenue_national_loading=0.5, revenue_regional_loading=0.5)
    with pytest.raises(ScenarioError, match="revenue_region: unknown region 'northeast'"):
        portfolio_from_dict(d, base=FIX)


def test_compare_over_the_scenarios_folder_skips_the_portfolio():
    r = CliRunner().invoke(app, ["compare", str(ROOT / "scenarios" / "demo.toml"), str(PROVINCE), "--paths", "50",
                                 "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert "skipped" in r.output and "portfolio file" in r.output
