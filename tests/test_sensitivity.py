"""Overrides, CRN sweeps, tornado, Sobol indices (Ishigami through the same code path), charts and the CLI."""

from __future__ import annotations

import json
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from baozhang_finance import load_scenario
from baozhang_finance import simulate  # noqa: E402
from baozhang_finance.model.fields import (  # noqa: E402
    apply_lever,
    apply_overrides,
    get_field,
    lever_range,
    lever_value,
    parse_field_path,
    parse_value,
    set_field,
)
from baozhang_finance.model.scenario import ScenarioError, total_capital_sources_yuan, total_uses_yuan  # noqa: E402
from baozhang_finance.analysis.inputs import GROUPS, Input, default_inputs, make_inputs  # noqa: E402
from baozhang_finance.run.settings import RunSettings  # noqa: E402
from baozhang_finance.analysis.sobol import (  # noqa: E402
    ScenarioModel,
    ishigami,
    ishigami_indices,
    sobol,
    sobol_indices,
    sobol_problem,
)
from baozhang_finance.analysis.sweep import sweep  # noqa: E402
from baozhang_finance.analysis.tornado import tornado  # noqa: E402
from baozhang_finance.measures.metrics import METRICS, metric_values, quantile_with_se  # noqa: E402
from baozhang_finance.report.sensitivity import plot_sobol, plot_sweep, plot_tornado  # noqa: E402
from test_solve import stochastic  # noqa: E402

DEMO = "scenarios/demo.toml"


def midrisk():
    """The solver tests' volatile rental project with a 66 m capital grant: P(hidden-debt call) ≈ 0.2–0.3."""
    return apply_lever(stochastic(), "grant", 66e6)


@pytest.fixture(scope="module")
def demo():
    from pathlib import Path

    return load_scenario(Path(__file__).resolve().parents[1] / DEMO)


# ------------------------------------------------------------------------------------------------ overrides
def test_field_paths_and_values(demo):
    assert parse_field_path("projects[0].financing.loans[1].relending.rate") == [
        "projects", 0, "financing", "loans", 1, "relending", "rate"]
    assert get_field(demo, "projects[0].rental.rent_ratio") == 0.8
    assert get_field(demo, "market.correlation")[0][1] == 0.5
    sc = set_field(demo, "market.price_drift_annual", -0.02)
    assert sc.market.price_drift_annual == -0.02 and demo.market.price_drift_annual == 0.01  # new object
    assert sc.projects == demo.projects
    # integers stay integers; a fractional value for an integer field is refused
    assert set_field(demo, "projects[0].rental.lease_up_months", 6.0).projects[0].rental.lease_up_months == 6
    assert parse_value("0.7") == 0.7 and parse_value("3") == 3 and parse_value("true") is True
    assert parse_value("annuity") == "annuity" and parse_value("[1, 2]") == [1, 2]


@pytest.mark.parametrize("path,value,message", [
    ("projects[0].rentl.rent_ratio", 0.7, "projects[0] has no field 'rentl' (did you mean 'rental'?"),
    ("projects[2].units", 10, "projects[2] is out of range (projects has 2 entries)"),
    ("projects[1].rental.rent_ratio", 0.7, "projects[1].rental is not set in this scenario"),
    ("projects.units", 3, "projects is a list of 2: use [k], not .units"),
    ("market[0]", 3, "market is a table, not a list"),
    ("market.price_drift_annual.x", 3, "market.price_drift_annual is a value"),
    ("projects[0].rental.rent_ratio", 2.0, "projects[0].rental.rent_ratio: must be <= 1.5, got 2.0"),
    ("projects[0].rental.lease_up_months", 6.5, "must be a whole number, got 6.5"),
    ("projects[0].acquisition_price_yuan_per_m2", 6000.0, "projects[0].financing: sources"),
    ("projects[0]..x", 1, "cannot read ''"),
    ("projects[0].rental", 0.7, "is a table or list, not a single value"),
])
def test_field_errors_name_the_field(demo, path, value, message):
    with pytest.raises(ScenarioError) as exc:
        set_field(demo, path, value)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("lever,k", [("grant", 0), ("equity_share", 0), ("equity_share", 1), ("price", 0),
                                     ("price", 1), ("loan", 0), ("loan", 1), ("grant", 1)])
def test_levers_keep_sources_equal_to_uses(demo, lever, k):
    lo, hi = lever_range(demo, lever, k)
    for x in (lo, 0.5 * (lo + hi), hi):
        sc = apply_lever(demo, lever, x, k)
        p = sc.projects[k]
        assert lever_value(sc, lever, k) == pytest.approx(x, rel=1e-12, abs=1e-9)
        assert total_capital_sources_yuan(p) == pytest.approx(total_uses_yuan(p), abs=1e-6)
        assert sc.projects[1 - k] == demo.projects[1 - k]


def test_lever_arithmetic(demo):
    p0 = demo.projects[0]
    loan0 = p0.financing.loans[0].amount_yuan
    # grant: the existing 29.3 m central grant is scaled; the loan falls by the increase
    sc = apply_lever(demo, "grant", 40e6, 0)
    assert sc.projects[0].financing.grants[0].amount_yuan == pytest.approx(40e6)
    assert sc.projects[0].financing.loans[0].amount_yuan == pytest.approx(loan0 - (40e6 - 29_325_000.0))
    # a project with no grant gets one; zero removes capital grants
    assert len(apply_lever(demo, "grant", 1e6, 1).projects[1].financing.grants) == 1
    assert apply_lever(demo, "grant", 0.0, 0).projects[0].financing.grants == []
    # price: uses change by floor area × Δprice × (1 + tax), all of it on the loan
    p1 = demo.projects[1]
    sc = apply_lever(demo, "price", 5300.0, 1)
    d_uses = 200 * 95.0 * 100.0 * 1.01
    assert sc.projects[1].financing.loans[0].amount_yuan == pytest.approx(p1.financing.loans[0].amount_yuan + d_uses)
    # loan up, equity down
    sc = apply_lever(demo, "loan", loan0 + 1e6, 0)
    assert sc.projects[0].financing.equity_yuan == pytest.approx(p0.financing.equity_yuan - 1e6)
    with pytest.raises(ScenarioError, match="equity of project 0 would be"):
        apply_lever(demo, "loan", loan0 + p0.financing.equity_yuan + 10.0, 0)
    with pytest.raises(ScenarioError, match="project 1 .* is a sale project, not rental"):
        apply_lever(demo, "rent_ratio", 0.7, 1)
    with pytest.raises(ScenarioError, match="no project 3"):
        apply_lever(demo, "grant", 1.0, 3)
    # levers by name in apply_overrides, with or without the index
    a = apply_overrides(demo, {"rent_ratio[0]": 0.7, "market.rent_drift_annual": 0.0})
    assert a.projects[0].rental.rent_ratio == 0.7 and a.market.rent_drift_annual == 0.0
    assert apply_overrides(demo, {"price": 5300.0}, project=1) == apply_lever(demo, "price", 5300.0, 1)


# ------------------------------------------------------------------------------------------------ metrics
def test_quantile_standard_error_matches_the_normal_theory():
    """For N(0,1) samples the SE of the median is √(π/2)/√n (asymptotic): the order-statistic SE agrees."""
    x = np.random.default_rng(5).standard_normal(40_000)
    v, se = quantile_with_se(x, 0.5)
    assert abs(v) < 4 * se
    assert se == pytest.approx(math.sqrt(math.pi / 2) / math.sqrt(x.size), rel=0.1)
    assert quantile_with_se(np.array([3.0]), 0.05) == (3.0, 0.0)
    assert all(math.isnan(t) for t in quantile_with_se(np.array([np.nan]), 0.5))


def test_metrics_agree_with_the_summary(demo):
    res = simulate(demo, paths=300, seed=4)
    vals = metric_values(res, list(METRICS))
    s = res.summary
    assert vals["p_call"] == s["hidden_debt"]["p_call"]
    assert vals["p_call_se"] == pytest.approx(s["run"]["standard_errors"]["p_call"])
    assert vals["hidden_debt_pv"] == pytest.approx(s["hidden_debt"]["expected_pv"])
    assert vals["pd"] == pytest.approx(s["bank"]["pd_lifetime"])
    assert vals["p_dscr_below_1"] == pytest.approx(s["bank"]["p_dscr_bank_min_below_1"])
    assert vals["bank_dscr_min_p05"] == pytest.approx(s["bank"]["dscr_bank_min"]["p05"])
    assert vals["p_total_dscr_below_1"] == pytest.approx(float((res.paths["dscr_min"] < 1).mean()))
    assert vals["dscr_min_p05"] == pytest.approx(s["coverage"]["dscr_min"]["p05"])
    assert vals["equity_irr_p50"] == pytest.approx(s["soe"]["equity_irr"]["p50"])
    assert vals["expected_loss"] == pytest.approx(s["bank"]["expected_loss"])
    assert vals["p_self_financing"] == pytest.approx(s["coverage"]["p_self_financing"])


# ------------------------------------------------------------------------------------------------ sweep
def test_sweep_uses_common_random_numbers():
    sc = midrisk()
    ratios = [0.7, 0.8, 0.8, 0.9]
    df = sweep(sc, "rent_ratio[0]", ratios, paths=300, seed=9, metrics=["p_call", "hidden_debt_pv", "dscr_min_p05"]).table
    assert list(df["value"]) == ratios
    assert {"p_call", "p_call_se", "hidden_debt_pv_se"} <= set(df.columns)
    # the same value twice gives identical numbers (same draws); each row is a plain simulate() with that seed
    assert df.iloc[1].drop(["value"]).equals(df.iloc[2].drop(["value"]))
    direct = simulate(set_field(sc, "projects[0].rental.rent_ratio", 0.9), paths=300, seed=9)
    assert df["p_call"].iloc[3] == direct.summary["hidden_debt"]["p_call"]
    # on common draws more rent can only help, path by path: the metrics are monotone, not just on average
    assert df["p_call"].is_monotonic_decreasing and df["hidden_debt_pv"].is_monotonic_decreasing
    assert df["dscr_min_p05"].is_monotonic_increasing
    with pytest.raises(ScenarioError, match="must be <= 1.5"):
        sweep(sc, "rent_ratio[0]", [0.5, 2.0], paths=10)
    with pytest.raises(ScenarioError, match="metric 'p_calls': unknown"):
        sweep(sc, "rent_ratio[0]", [0.5], paths=10, metrics=["p_calls"])


# ------------------------------------------------------------------------------------------------ tornado
def test_default_inputs_cover_the_demo(demo):
    inputs = default_inputs(demo)
    fields = {i.field for i in inputs}
    for f in ("market.price_drift_annual", "market.decline_drift_annual", "rent_ratio[0]", "price[0]", "price[1]",
              "grant[0]", "equity_share[0]", "projects[0].rental.stabilised_occupancy",
              "projects[1].sale.absorption_monthly", "projects[0].financing.loans[0].spread_over_lpr",
              "projects[1].financing.loans[0].fixed_rate", "market.lpr_initial"):
        assert f in fields, f
    assert {i.group for i in inputs} <= set(GROUPS)
    by = {i.field: i for i in inputs}
    assert (by["market.price_drift_annual"].low, by["market.price_drift_annual"].high) == pytest.approx((-0.01, 0.03))
    assert (by["price[0]"].low, by["price[0]"].high) == pytest.approx((4400.0, 6600.0))
    assert (by["projects[0].rental.stabilised_occupancy"].low,
            by["projects[0].rental.stabilised_occupancy"].high) == pytest.approx((0.88, 0.98))
    # user ranges replace a default or add a field; a range the scenario refuses fails before any run
    ins = make_inputs(demo, ranges={"market.price_drift_annual": (-0.05, 0.0), "credit.forced_sale_haircut": (0.2, 0.4)})
    by = {i.field: i for i in ins}
    assert (by["market.price_drift_annual"].low, by["market.price_drift_annual"].basis) == (-0.05, "user range")
    assert by["credit.forced_sale_haircut"].group == "user"
    with pytest.raises(ScenarioError, match="must be <= 1.5"):
        make_inputs(demo, ranges={"projects[0].rental.rent_ratio": (0.5, 2.0)})
    with pytest.raises(ScenarioError, match="low must be < high"):
        make_inputs(demo, ranges={"market.price_vol_annual": (0.2, 0.1)})


def test_tornado_ranks_by_swing():
    sc = midrisk()
    inputs = [
        Input("rent_ratio[0]", 0.7, 0.9, "plan", "rent ratio"),
        Input("projects[0].rental.opex_yuan_per_m2_year", 20.0, 28.0, "costs", "opex"),
        Input("market.price_vol_annual", 0.05, 0.15, "house prices", "price vol"),  # no effect on a rental's calls
    ]
    res = tornado(sc, inputs, paths=200, seed=2)
    df = res.table
    assert list(df["field"]) == ["rent_ratio[0]", "projects[0].rental.opex_yuan_per_m2_year", "market.price_vol_annual"]
    assert list(df["rank"]) == [1, 2, 3]
    # house-price volatility moves no cash flow of a rental project: with common draws its swing is exactly 0
    assert df["p_call_swing"].iloc[2] == 0.0 and df["hidden_debt_pv_swing"].iloc[2] == 0.0
    # each end is exactly a simulate() of the changed scenario with the same seed
    lo = simulate(set_field(sc, "projects[0].rental.rent_ratio", 0.7), paths=200, seed=2)
    assert df["p_call_low"].iloc[0] == lo.summary["hidden_debt"]["p_call"]
    assert df["p_call_swing"].iloc[0] == abs(df["p_call_high"].iloc[0] - df["p_call_low"].iloc[0]) > 0
    assert res.settings["runs"] == 7


# ------------------------------------------------------------------------------------------------ Sobol
def test_sobol_ishigami_through_the_same_code_path():
    """Analytic Ishigami indices (a = 7, b = 0.1): S1 = 0.314, 0.442, 0; ST = 0.558, 0.442, 0.244, recovered
    by sobol_indices — the function the scenario analysis calls — within twice the bootstrap CI half-width."""
    exact = ishigami_indices()
    assert exact["S1"] == pytest.approx([0.3139, 0.4424, 0.0], abs=1e-4)
    assert exact["ST"] == pytest.approx([0.5576, 0.4424, 0.2437], abs=1e-4)
    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-math.pi, math.pi]] * 3}
    res = sobol_indices(problem, ishigami, n_base=2048, seed=3, num_resamples=300)
    t = res.table
    assert list(t["name"]) == ["x1", "x2", "x3"]
    for kind in ("S1", "ST"):
        err = np.abs(t[kind].to_numpy() - exact[kind])
        conf = t[f"{kind}_conf"].to_numpy()
        assert np.all(conf > 0) and np.all(conf < 0.1)
        assert np.all(err <= 2 * conf), (kind, err, conf)
    assert res.X.shape == (2048 * 5, 3) and res.Y.shape == (2048 * 5, 1)
    # reproducible: same seed, same sample and indices
    again = sobol_indices(problem, ishigami, n_base=2048, seed=3, num_resamples=300)
    assert np.array_equal(again.X, res.X) and again.table.equals(res.table)
    with pytest.raises(ScenarioError, match="power of 2"):
        sobol_indices(problem, ishigami, n_base=100)


def test_sobol_groups_on_a_scenario():
    """Grouped indices of a simulated scenario: a group that moves no cash flow has ST = 0 exactly (CRN make the
    model deterministic), and the groups that matter share the variance."""
    sc = midrisk()
    inputs = [
        Input("rent_ratio[0]", 0.75, 0.9, "plan", "rent ratio"),
        Input("equity_share[0]", 0.2, 0.3, "plan", "equity share"),
        Input("projects[0].rental.opex_yuan_per_m2_year", 18.0, 30.0, "costs", "opex"),
        Input("market.price_vol_annual", 0.05, 0.15, "house prices", "price vol"),
        Input("market.price_drift_annual", -0.03, 0.03, "house prices", "price drift"),
    ]
    res = sobol(sc, inputs, n_base=8, paths=100, seed=5, metrics=["hidden_debt_pv"])
    t = res.table.set_index("name")
    assert list(t.index) == ["plan", "costs", "house prices"]
    assert res.settings["runs"] == 8 * (3 + 2)
    assert t.loc["house prices", "ST"] == 0.0 and t.loc["house prices", "S1"] == pytest.approx(0.0, abs=1e-12)
    assert t.loc["plan", "ST"] > t.loc["costs", "ST"] > 0
    # the evaluator is the same object a user can call: one row = one CRN simulation
    model = ScenarioModel(sc, inputs, ["hidden_debt_pv"], RunSettings(paths=100, seed=5))
    y = model(res.X[:2])
    assert np.array_equal(y[:, 0], res.Y[:2, 0])
    assert sobol_problem(inputs)["groups"] == ["plan", "plan", "costs", "house prices", "house prices"]


# ------------------------------------------------------------------------------------------------ charts
def test_charts_return_axes():
    import matplotlib.pyplot as plt

    sw = pd.DataFrame({"field": ["rent_ratio[0]"] * 3, "value": [0.7, 0.8, 0.9], "p_call": [0.5, 0.3, 0.1],
                       "p_call_se": [0.02, 0.02, 0.01]})
    ax = plot_sweep(sw, "p_call", lang="en")
    assert ax.get_xlabel() == "rent_ratio[0]" and "hidden-debt" in ax.get_ylabel()
    tor = pd.DataFrame({"label": ["a (隐性)", "b"], "low": [1.0, 2.0], "high": [2.0, 3.0], "p_call_base": [0.3, 0.3],
                        "p_call_low": [0.5, 0.25], "p_call_high": [0.1, 0.35], "p_call_swing": [0.4, 0.1]})
    ax = plot_tornado(tor, "p_call", lang="en")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1].startswith("a ") and "隐" not in labels[-1]  # largest swing on top, English: no CJK glyphs
    sob = pd.DataFrame({"metric": ["p_call"] * 2, "name": ["plan", "rents"], "S1": [0.5, 0.2], "S1_conf": [0.1, 0.1],
                        "ST": [0.6, 0.3], "ST_conf": [0.1, 0.1]})
    ax = plot_sobol(sob)
    assert len(ax.patches) == 4
    plt.close("all")


# ------------------------------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def runner():
    from baozhang_finance.cli import app

    return CliRunner(), app


def test_cli_sweep_and_solve(runner, tmp_path, demo):
    from pathlib import Path

    r, app = runner
    path = str(Path(__file__).resolve().parents[1] / DEMO)
    out = tmp_path / "sw"
    res = r.invoke(app, ["sweep", path, "--set", "rent_ratio[0]=0.7,0.9", "--paths", "40", "--seed", "1",
                         "--metric", "p_call,pd", "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "sweep.csv")
    assert list(df["value"]) == [0.7, 0.9] and list(df.columns[:4]) == ["field", "value", "p_call", "p_call_se"]
    assert (out / "sweep.png").stat().st_size > 1000
    assert json.loads((out / "sweep.json").read_text())["seed"] == 1
    res = r.invoke(app, ["sweep", path, "--set", "projects[0].rentl.rent_ratio=0.7", "--paths", "10"])
    assert res.exit_code == 2 and "did you mean 'rental'" in res.output
    res = r.invoke(app, ["sweep", path, "--set", "market.price_drift_annual=-0.02:0.02:3", "--paths", "10",
                         "--metric", "p_call", "--json"])
    assert res.exit_code == 0 and [row["value"] for row in json.loads(res.output)] == [-0.02, 0.0, 0.02]
    # solve: deterministic demo, minimum grant on the rental block for min bank DSCR ≥ 1 (a 0/1 indicator)
    res = r.invoke(app, ["solve", path, "--find", "grant", "--constraint", "p_dscr_below_1<=0.5",
                         "--deterministic", "--xtol", "100000", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    from baozhang_finance.measures.bank import min_bank_dscr

    assert min_bank_dscr(simulate(apply_lever(demo, "grant", d["answer"], 0), deterministic=True))[0] >= 1.0
    assert min_bank_dscr(simulate(apply_lever(demo, "grant", d["bracket"][1], 0), deterministic=True))[0] < 1.0
    assert 0 < d["bracket"][0] - d["bracket"][1] <= 100000
    # a target no value meets: one line, exit 2
    res = r.invoke(app, ["solve", path, "--find", "rent_ratio", "--constraint", "p_call<=0.05", "--deterministic",
                         "--hi", "0.6", "--conventions", "legacy"])
    assert res.exit_code == 2
    assert "no value in [0.05, 0.6] meets p_call<=0.05" in " ".join(res.output.split())
    res = r.invoke(app, ["solve", path, "--find", "subsidy", "--constraint", "p_call<=0.05"])
    assert res.exit_code == 2 and "--find 'subsidy'" in res.output


def test_cli_tornado_and_sobol(runner, tmp_path):
    from pathlib import Path

    r, app = runner
    path = str(Path(__file__).resolve().parents[1] / DEMO)
    out = tmp_path / "tor"
    res = r.invoke(app, ["tornado", path, "--paths", "20", "--seed", "3", "--only", "rent_ratio[0]", "--only",
                         "market.price_vol_annual", "--range", "market.price_vol_annual=0.03,0.09", "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "tornado.csv")
    assert set(df["field"]) == {"rent_ratio[0]", "market.price_vol_annual"}
    assert df.loc[df["field"] == "market.price_vol_annual", "low"].iloc[0] == 0.03
    assert (out / "tornado_p_call.png").exists() and (out / "tornado_hidden_debt_pv.png").exists()
    res = r.invoke(app, ["tornado", path, "--range", "market.price_vol_annual=0.1"])
    assert res.exit_code == 2 and "FIELD=low,high" in res.output
    out = tmp_path / "sob"
    res = r.invoke(app, ["sobol", path, "--n-base", "2", "--paths", "10", "--metric", "p_call", "--out", str(out)])
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "sobol.csv")
    assert set(t["name"]) == set(GROUPS)
    assert len(pd.read_csv(out / "sobol_sample.csv")) == 2 * (len(GROUPS) + 2)
    res = r.invoke(app, ["sobol", path, "--n-base", "3"])
    assert res.exit_code == 2 and "power of 2" in res.output
