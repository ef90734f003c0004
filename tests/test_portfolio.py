"""Portfolios (issue 18): a province of city programmes on a factor model of their markets.

Small synthetic cities (tests/fixtures/portfolio/city_*.toml: one rental block, 10 years, P(call) ≈ 9–15 %) keep
every run to a few seconds. What is checked: a one-city portfolio is its city's own run bit for bit; with zero
loadings the number of cities called follows the Poisson-binomial law of their separate probabilities (within SE);
with positive loadings the call indicators are positively correlated and each city's marginal law is unchanged;
serial, processes and Dask give the same bits; bad input is one located line, exit 2, no output folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from baozhang_finance import load_scenario, simulate
from baozhang_finance.cli import app
from baozhang_finance.engine.factors import CityLoadings, city_shocks
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.measures import province as pm
from baozhang_finance.model.portfolio import load_portfolio
from baozhang_finance.model.scenario import DRIVERS, ScenarioError
from baozhang_finance.model.support import with_conventions
from baozhang_finance.run.portfolio import simulate_portfolio

FIX = Path(__file__).resolve().parent / "fixtures" / "portfolio"


@pytest.fixture(scope="module")
def independent():
    return simulate_portfolio(load_portfolio(FIX / "three_independent.toml"), paths=6000, chunk_size=1500)


@pytest.fixture(scope="module")
def loaded():
    return simulate_portfolio(load_portfolio(FIX / "three_loaded.toml"), paths=6000, chunk_size=1500)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# ------------------------------------------------------------------------------------------ one city
def test_one_city_portfolio_is_its_standalone_run_bit_for_bit():
    pf = load_portfolio(FIX / "one_city.toml")
    res = simulate_portfolio(pf, keep_results=True).results[0]
    alone = simulate(load_scenario(FIX / "city_a.toml"), paths=1000, seed=7, chunk_size=500)
    for k, v in alone._columns.items():
        assert _same(res._columns[k], v), k
    for k, v in alone._ledgers.items():
        assert _same(res._ledgers[k], v), k
    assert json.dumps(res.summary["hidden_debt"]) == json.dumps(alone.summary["hidden_debt"])


def test_a_province_wide_stress_and_conventions_are_each_citys_bit_for_bit():
    """``stress`` and ``conventions`` apply to every city: a one-city portfolio under both is the city's standalone
    run under both; a stress some city lacks is one located error."""
    pf = load_portfolio(FIX / "one_city.toml")
    res = simulate_portfolio(pf, keep_results=True, stress="rent_fall", conventions="legacy").results[0]
    sc = with_conventions(load_scenario(FIX / "city_a.toml"), "legacy")
    alone = simulate(sc, paths=1000, seed=7, chunk_size=500, stress="rent_fall")
    for k, v in alone._columns.items():
        assert _same(res._columns[k], v), k
    assert res.run["stress"] == "rent_fall" and res.run["conventions"] == "legacy"
    plain = simulate(load_scenario(FIX / "city_a.toml"), paths=1000, seed=7, chunk_size=500)
    assert alone.summary["hidden_debt"]["p_call"] > plain.summary["hidden_debt"]["p_call"]
    with pytest.raises(ScenarioError, match="city 'B': market.stresses: no stress named 'rent_fall'"):
        simulate_portfolio(load_portfolio(FIX / "three_independent.toml"), paths=100, stress="rent_fall")


@pytest.mark.parametrize("option", [["--deterministic"], ["--target-se", "0.01"], ["--sampling", "rqmc"],
                                    ["--control-variates"], ["--stream"]])
def test_run_options_a_portfolio_does_not_take_are_refused(tmp_path, option):
    r = CliRunner().invoke(app, ["run", str(FIX / "one_city.toml"), "--paths", "100", "--out", str(tmp_path / "o"),
                                 *option])
    assert r.exit_code == 2 and f"{option[0].split('/')[0]}" in r.output and "not for a portfolio file" in r.output
    assert not (tmp_path / "o").exists()


def test_one_city_through_the_cli_matches_the_standalone_cli(tmp_path):
    runner = CliRunner()
    a = runner.invoke(app, ["run", str(FIX / "one_city.toml"), "--json", "--paths", "600", "--chunk-size", "300"])
    b = runner.invoke(app, ["run", str(FIX / "city_a.toml"), "--json", "--paths", "600", "--chunk-size", "300",
                            "--seed", "7"])
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    pa, pb = json.loads(a.stdout), json.loads(b.stdout)
    assert pa["city_summaries"]["A"]["hidden_debt"] == pb["hidden_debt"]


# ------------------------------------------------------------------------------------------ independence
def _within(observed: np.ndarray, law: np.ndarray, n: int, z: float = 4.0) -> None:
    se = np.sqrt(np.maximum(law * (1 - law), 1e-12) / n) + 1.0 / n
    assert np.all(np.abs(observed - law) <= z * se), (observed, law, se)


def test_zero_loadings_count_of_cities_called_is_poisson_binomial(independent):
    n = independent.run["paths"]
    called = np.stack([c.hidden_call for c in independent.cities])
    law = pm.poisson_binomial(called.mean(axis=1))
    _within(np.bincount(pm.cities_called(called), minlength=4) / n, law, n)
    # in a given year: the year with most calls, each city's probability of a call in that year
    by_year = pm.cities_called_by_year([c.called_y for c in independent.cities])
    y = int(by_year.mean(axis=0).argmax())
    p_y = np.array([c.called_y[:, y].mean() for c in independent.cities])
    _within(np.bincount(by_year[:, y], minlength=4) / n, pm.poisson_binomial(p_y), n)
    assert abs(independent.summary["province"]["call_correlation_mean"]) < 4 / np.sqrt(n)


def test_positive_loadings_correlate_the_calls_and_keep_each_city_marginal(independent, loaded):
    n = loaded.run["paths"]
    corr = pm.call_correlation(np.stack([c.hidden_call for c in loaded.cities]))
    assert np.all(corr[~np.eye(3, dtype=bool)] > 4 / np.sqrt(n)), corr
    law = np.array(loaded.summary["province"]["cities_called"]["independent_law"])
    sim = np.array(loaded.summary["province"]["cities_called"]["distribution"])
    assert sim[3] > law[3] + 4 * np.sqrt(law[3] / n)  # all three called together far more often
    for a, b in zip(independent.summary["cities"], loaded.summary["cities"]):  # loadings move no marginal law
        assert abs(a["p_call"] - b["p_call"]) <= 4 * np.hypot(a["p_call_se"], b["p_call_se"]), (a, b)


def test_factor_shocks_have_the_stated_correlation():
    """corr(ε_c, ε_d) on driver i is a_c a_d + g_c g_d; within a city the drivers stay uncorrelated, unit variance."""
    plan = compile_plan(load_scenario(FIX / "city_a.toml"))
    a, b = np.zeros(7), np.zeros(7)
    a[0], b[0] = 0.6, 0.8
    ga = np.zeros(7)
    ga[0] = 0.5
    la, lb = CityLoadings(a, ga, 0, 1), CityLoadings(b, ga, 0, 1)
    n = 40_000
    ea, _ = city_shocks(plan.market, n, 3, 0, 0, la).month(1)
    eb, _ = city_shocks(plan.market, n, 3, 1, 0, lb).month(1)
    assert abs(np.corrcoef(ea[:, 0], eb[:, 0])[0, 1] - (0.6 * 0.8 + 0.25)) < 4 / np.sqrt(n)
    assert np.allclose(ea.var(axis=0), 1.0, atol=5 * np.sqrt(2 / n))
    within = np.corrcoef(ea.T)[~np.eye(7, dtype=bool)]
    assert np.all(np.abs(within) < 4 / np.sqrt(n))
    assert abs(np.corrcoef(ea[:, 1], eb[:, 1])[0, 1]) < 4 / np.sqrt(n)  # unloaded drivers: independent


# ------------------------------------------------------------------------------------------ measures
def test_poisson_binomial_and_transfer_ratio_by_hand():
    assert np.allclose(pm.poisson_binomial([0.5, 0.5]), [0.25, 0.5, 0.25])
    assert np.allclose(pm.poisson_binomial([0.1, 0.2, 0.0]), [0.72, 0.26, 0.02, 0.0])
    r = pm.transfer_ratio(np.array([[0.0, 50.0, 200.0]]), np.array([100.0, 100.0, 100.0]))
    assert np.allclose(r, [[1.0, 1.0, 0.5]])
    assert pm.concentration([5, 1, 1, 3]) == pytest.approx(0.9)


def test_payer_split_adds_up_to_the_government_money(loaded):
    s = loaded.summary
    prov = loaded.portfolio.spec.province
    Y = loaded.cities[0].money_y.shape[1]
    disc = pm.discount_by_year(prov.discount_rate, Y)
    for c, row in zip(loaded.cities, s["cities"]):
        total = float((c.money_y.astype(float) @ disc).mean())
        assert row["city_budget_pv"] + row["transfers_pv"] + row["unfunded_pv"] == pytest.approx(total, rel=1e-9)
        assert row["transfers_pv"] > 0  # the fixtures' caps bind: the province pays part
    assert s["province"]["total_fiscal_cost_pv"] == pytest.approx(sum(r["total_fiscal_cost_pv"] for r in s["cities"]))


# ------------------------------------------------------------------------------------------ backends
def _bits(res) -> str:
    """summary.json's bytes: the run's record in it holds what the numbers depend on, not the backend or workers."""
    return json.dumps(res.summary, sort_keys=True, ensure_ascii=False)


def test_serial_processes_and_dask_give_the_same_bits():
    pytest.importorskip("distributed")
    pf = load_portfolio(FIX / "three_loaded.toml")
    kw = dict(paths=900, chunk_size=300)
    serial = simulate_portfolio(pf, **kw)
    procs = simulate_portfolio(pf, workers=2, backend="processes", **kw)
    dask = simulate_portfolio(pf, workers=2, backend="dask", **kw)
    assert _bits(serial) == _bits(procs) == _bits(dask)
    for a, b, c in zip(serial.cities, procs.cities, dask.cities):
        assert _same(a.money_y, b.money_y) and _same(a.money_y, c.money_y)
        assert _same(a.hidden_pv, b.hidden_pv) and _same(a.hidden_pv, c.hidden_pv)


def test_run_writes_the_folder(tmp_path):
    out = tmp_path / "prov"
    r = CliRunner().invoke(app, ["run", str(FIX / "three_loaded.toml"), "--paths", "400", "--chunk-size", "200",
                                 "--out", str(out), "--lang", "en"])
    assert r.exit_code == 0, r.output
    for f in ("summary.json", "manifest.json", "cities.csv", "cities_called.csv", "report.html",
              "charts/province_cities_called.png"):
        assert (out / f).is_file(), f
    man = json.loads((out / "manifest.json").read_text())
    assert man["tasks"] == 6 and len(man["cities"]) == 3
    assert "Cities" in (out / "report.html").read_text()


# ------------------------------------------------------------------------------------------ bad input
def _portfolio(tmp_path: Path, cities: str, factors: str = "") -> Path:
    text = (FIX / "three_independent.toml").read_text(encoding="utf-8").split("[[city]]")[0]
    for name in ("city_a.toml", "city_b.toml", "city_c.toml", "city_long.toml"):
        (tmp_path / name).write_text((FIX / name).read_text(encoding="utf-8"), encoding="utf-8")
    p = tmp_path / "bad.toml"
    p.write_text(text + factors + cities, encoding="utf-8")
    return p


BAD = [
    ("unknown_file", '[[city]]\nname = "A"\nfile = "city_z.toml"\n', "", "city[0].file", ["city_z.toml", "not found"]),
    ("loadings_over_one", '[[city]]\nname = "A"\nfile = "city_a.toml"\nregion = "ne"\n'
     'national = { rent = 0.8 }\nregional = { rent = 0.7 }\n', '[factors]\nregions = ["ne"]\n',
     "city[0] (A) loadings.rent", ["1.13 > 1"]),
    ("mismatched_horizon", '[[city]]\nname = "A"\nfile = "city_a.toml"\n[[city]]\nname = "L"\nfile = "city_long.toml"\n',
     "", "city[1] (L) programme", ["horizon 12 years", "horizon 10 years"]),
    ("unknown_driver", '[[city]]\nname = "A"\nfile = "city_a.toml"\nnational = { prices = 0.5 }\n', "",
     "city[0]", ["unknown driver 'prices'"]),
    ("unknown_region", '[[city]]\nname = "A"\nfile = "city_a.toml"\nregion = "south"\n', "", "city[0].region",
     ["unknown region 'south'"]),
]


@pytest.mark.parametrize("case,cities,factors,field,words", BAD, ids=[b[0] for b in BAD])
def test_bad_portfolio_is_one_located_line(tmp_path, case, cities, factors, field, words):
    p = _portfolio(tmp_path, cities, factors)
    out = tmp_path / "out"
    for cmd in (["run", str(p), "--out", str(out)], ["check", str(p)]):
        r = CliRunner().invoke(app, cmd)
        assert r.exit_code == 2, r.output
        msg = " ".join(r.output.split())
        assert msg.startswith(f"error: {p}: ") and field in msg, msg
        assert all(w in msg for w in words), msg
        assert "Traceback" not in r.output and len([x for x in r.output.splitlines() if x.strip()]) <= 3
    assert not out.exists()


def test_every_driver_name_is_a_loading_key():
    pf = load_portfolio(FIX / "three_loaded.toml")
    assert pf.cities[2].national[DRIVERS.index("house_price")] == 0.7
    assert pf.cities[2].regional[DRIVERS.index("rent")] == 0.6  # the default, for a driver the city did not name
