"""Calibration of the [market] block: recovery on the engine's own drivers, readers, bad data, the CLI, the
written block pasted into a scenario, and per-chunk parameter uncertainty in a run."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from baozhang_finance import load_scenario, simulate
from baozhang_finance.analysis.calibration import (
    CalibrationError, calibrate, chain_to_levels, market_toml, read_market_data, read_tidy_csv)
from baozhang_finance.analysis.calibration.synthetic import EXAMPLE_MARKET, example_city_csv, simulate_history, to_tidy
from baozhang_finance.model.scenario import DRIVERS, Market
from baozhang_finance.run import uncertainty

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example_city_synthetic.csv"
BREAK_K = int(EXAMPLE_MARKET["decline_years"] * 12)  # changes 0..k-1 are the first regime

# the engine's first regime is the "decline" regime; in the example it is the boom, so the calibration maps
# the boom's drift to price_drift_annual (the pre-break drift) and the later decline to decline_drift_annual
TRUTH = dict(EXAMPLE_MARKET)
TRUTH["price_drift_annual"], TRUTH["decline_drift_annual"] = EXAMPLE_MARKET["decline_drift_annual"], EXAMPLE_MARKET["price_drift_annual"]


def _cal(seed, months=150):
    return calibrate(simulate_history(EXAMPLE_MARKET, months=months, seed=seed))


# ------------------------------------------------------------------------------------------ recovery
@pytest.mark.parametrize("seed", [0, 1, 3, 4])
def test_every_parameter_recovered_within_3_se(seed):
    cal = _cal(seed)
    estimated = {k: e for k, e in cal.params.items() if e.se is not None}
    assert len(estimated) == 16
    for k, e in estimated.items():
        assert abs(e.value - TRUTH[k]) <= 3 * e.se, (k, e.value, TRUTH[k], e.se)
    c = np.asarray(EXAMPLE_MARKET["correlation"])
    off = ~np.eye(len(DRIVERS), dtype=bool)
    assert np.all(np.abs(cal.correlation - c)[off] <= 3 * cal.correlation_se[off] + 1e-3)


def test_standard_errors_cover_at_the_stated_rate():
    """Over 30 histories, |estimate − truth| ≤ 2 SE for ≥ 85 % of them, for every estimated parameter.

    (Seed 2 is a known failure of the delta-method SE of lpr_mean: κ̂ = 1.95 against 0.5 makes SE(θ̂) too
    small; coverage, not any one seed, is the property.) The Vasicek κ̂ and θ̂ of a persistent LPR (b ≈ 0.96)
    under-cover in 150 months — the OLS SE ignores the skew of a near-unit-root estimate — so they are held to
    75 %; docs/calibration.md says so."""
    z = {}
    for seed in range(30):
        for k, e in _cal(seed).params.items():
            if e.se is not None:
                z.setdefault(k, []).append((e.value - TRUTH[k]) / e.se)
    for k, v in z.items():
        v = np.abs(np.array(v))
        floor = 0.75 if k in ("lpr_reversion", "lpr_mean") else 0.85
        assert np.mean(v <= 2) >= floor, (k, np.mean(v <= 2))
        assert np.median(v) < 1.2, k  # SEs not grossly too large either (median |z| of N(0,1) is 0.67)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_break_date_found_within_a_few_months(seed):
    market = dict(EXAMPLE_MARKET, price_vol_annual=0.02)  # a clear break: 10 pp/yr shift against 2 % vol
    cal = calibrate(simulate_history(market, months=150, seed=seed))
    b = cal.break_info
    assert abs(b["n_before"] - BREAK_K) <= 6  # Bai interval here ≈ ±8 months
    first_after = pd.Period("2015-01", "M") + BREAK_K + 1  # H_t has t steps; change t uses drift of t − 1
    assert pd.Period(b["ci"][0], "M") <= first_after <= pd.Period(b["ci"][1], "M")
    assert cal.params["decline_drift_annual"].value < 0 < cal.params["price_drift_annual"].value


def test_no_break_when_there_is_none():
    market = dict(EXAMPLE_MARKET, decline_years=0.0, decline_drift_annual=0.0, price_drift_annual=0.02)
    cal = calibrate(simulate_history(market, months=150, seed=5))
    assert cal.break_info is None or cal.params["decline_years"].value == 0.0
    e = cal.params["price_drift_annual"]
    assert abs(e.value - 0.02) <= 3 * e.se


# ------------------------------------------------------------------------------------------ readers
def test_chain_index_levels_by_hand():
    d = list(pd.period_range("2024-01", periods=4, freq="M"))
    # 环比: 2023-12 = 100 (base); 100 · 1.01 = 101; 101 · 0.98 = 98.98; 2024-03 has no 环比 and no 同比 base → error
    lv, notes = chain_to_levels(d[:3], [101.0, 98.0, 102.0], [None, None, None])
    assert list(lv.index.astype(str)) == ["2023-12", "2024-01", "2024-02", "2024-03"]
    np.testing.assert_allclose(lv.to_numpy(), [100.0, 101.0, 98.98, 100.9596], rtol=0, atol=1e-12)
    assert notes == []


def test_chain_index_gap_filled_from_yoy_by_hand():
    d = list(pd.period_range("2023-01", periods=14, freq="M"))
    mom = [100.0] * 14
    mom[12] = None  # 2024-01 missing 环比: filled from 同比 with the level of 2023-01 (100 · 1.0 = 100) · 1.05
    yoy = [None] * 14
    yoy[12] = 105.0
    lv, notes = chain_to_levels(d, mom, yoy)
    assert lv[pd.Period("2024-01", "M")] == pytest.approx(105.0, abs=1e-12)
    assert lv[pd.Period("2024-02", "M")] == pytest.approx(105.0, abs=1e-12)
    assert "filled from 同比" in notes[0]


def test_yoy_only_is_a_stated_fallback():
    d = list(pd.period_range("2023-01", periods=13, freq="M"))
    lv, notes = chain_to_levels(d, [None] * 13, [None] * 12 + [110.0])
    assert lv[pd.Period("2024-01", "M")] == pytest.approx(110.0)
    assert lv[pd.Period("2023-07", "M")] == pytest.approx(100 * 1.1**0.5)
    assert "assumption" in notes[0]


def test_example_file_is_marked_synthetic_and_current():
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.startswith("# SYNTHETIC DATA")
    assert text == example_city_csv(), "regenerate: python -m baozhang_finance.analysis.calibration.synthetic"
    md = read_market_data(EXAMPLE)
    assert set(md.monthly) == {"house_price", "rent", "cpi", "lpr", "occupancy"} and set(md.yearly) == {"fiscal"}
    assert any("3 missing month" in n for n in md.notes)
    assert str(md.monthly["lpr"].index.min()) == "2019-08"  # different start dates kept


def test_from_filters_and_city_required(tmp_path):
    df = to_tidy(simulate_history(EXAMPLE_MARKET, months=60, seed=1, city="A"))
    df2 = df.copy()
    df2["city"] = "B"
    p = tmp_path / "two.csv"
    pd.concat([df, df2]).to_csv(p, index=False)
    with pytest.raises(CalibrationError, match="2 cities"):
        read_tidy_csv(p)
    md = read_tidy_csv(p, city="B", start="2017-01")
    assert str(md.monthly["house_price"].index.min()) == "2017-01"


# ------------------------------------------------------------------------------------------ bad data
def _write(tmp_path, rows, name="bad.csv"):
    p = tmp_path / name
    p.write_text("date,city,series,value\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return p


def _good_rows(n=36, series="house_price"):
    idx = pd.period_range("2020-01", periods=n, freq="M")
    rng = np.random.default_rng(0)
    v = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return [f"{d},X,{series},{x:.5f}" for d, x in zip(idx, v)]


@pytest.mark.parametrize("mutate, match", [
    (lambda r: r[:5] + ["2020-06,X,house_price,abc"] + r[6:], r"bad\.csv:7: house_price: value 'abc' is not a number"),
    (lambda r: r + [r[3]], r"bad\.csv:38: house_price: duplicated date 2020-04 \(also on line 5\)"),
    (lambda r: [f"{x.rsplit(',', 1)[0]},100" for x in r], r"house_price: the series is constant"),
    (lambda r: r[:20], r"house_price: only 20 months of data \(need at least 24\)"),
    (lambda r: r + ["2020-01,X,lpr,3.5"], r"bad\.csv:38: lpr: value 3.5 is not a decimal rate"),
    (lambda r: r + ["2020-01,X,prices,1"], r"unknown series 'prices'"),
    (lambda r: r + ["2020-13,X,rent,1"], r"date '2020-13' is not YYYY-MM"),
    (lambda r: [x.replace("house_price", "rent") for x in r], r"no house_price series"),
])
def test_bad_data_is_one_line_error(tmp_path, mutate, match):
    p = _write(tmp_path, mutate(_good_rows()))
    with pytest.raises(CalibrationError, match=match) as ei:
        calibrate(read_market_data(p))
    assert "\n" not in str(ei.value) and str(p.name) in str(ei.value)


def test_cli_bad_data_exit_2_no_output(tmp_path):
    p = _write(tmp_path, _good_rows()[:10])
    out = tmp_path / "market.toml"
    r = subprocess.run([sys.executable, "-c", "from baozhang_finance.cli import main; main()", "calibrate", str(p), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert "only 10 months" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 or "only 10 months" in r.stderr.replace("\n", " ")
    assert not out.exists() and list(tmp_path.iterdir()) == [p]


# ------------------------------------------------------------------------------------------ the block
def test_cli_writes_a_block_that_pastes_into_a_scenario(tmp_path):
    from typer.testing import CliRunner

    from baozhang_finance.cli import app

    out = tmp_path / "market.toml"
    r = CliRunner().invoke(app, ["calibrate", str(EXAMPLE), "-o", str(out), "--base", str(ROOT / "scenarios/loudi.toml")])
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    assert "data window 2015-01 – 2025-06" in text and "SE " in text and "nan" not in text.lower()
    assert (tmp_path / "market.fit.png").stat().st_size > 1000
    html = (tmp_path / "market.fit.html").read_text(encoding="utf-8")
    assert "<section id='calibration'>" in html and "data:image/png;base64," in html
    block = tomllib.loads(text)["market"]
    Market(**block)
    # paste: replace loudi's [market] table (keeping its stresses) with the block and load the scenario
    scen = (ROOT / "scenarios/loudi.toml").read_text(encoding="utf-8")
    start = scen.index("\n[market]\n")
    end = scen.index("\n[[market.stresses]]")
    pasted = scen[:start] + "\n" + text + scen[end:]
    f = tmp_path / "loudi_calibrated.toml"
    f.write_text(pasted, encoding="utf-8")
    sc = load_scenario(f)
    assert sc.market.fiscal_land_share == load_scenario(ROOT / "scenarios/loudi.toml").market.fiscal_land_share
    assert sc.market.parameter_uncertainty.se["price_drift_annual"] > 0
    assert sc.market.stresses  # loudi's stresses survive the paste


def test_block_text_round_trips_the_estimates():
    cal = _cal(0)
    block = tomllib.loads(market_toml(cal))["market"]
    for k, e in cal.params.items():
        assert block[k] == pytest.approx(e.value, abs=1e-6)
    np.testing.assert_allclose(block["correlation"], cal.correlation)


# ------------------------------------------------------------------------------------------ uncertainty
def _uncertain_scenario(se=None, enabled=True):
    sc = load_scenario(ROOT / "scenarios/loudi.toml")
    pu = {"enabled": enabled, "paths_per_draw": 100,
          "se": se if se is not None else {"price_drift_annual": 0.02, "decline_drift_annual": 0.02}}
    d = sc.model_dump()
    d["market"]["parameter_uncertainty"] = pu
    d["support"]["conventions"] = "legacy"  # legacy: Loudi calls on many paths, so the draws visibly move the PVs
    return load_scenario(d)


def test_parameter_draws_separate_stream_and_reproducible():
    sc = _uncertain_scenario()
    a = uncertainty.draw_market(sc, seed=7, chunk_index=3)
    assert a == uncertainty.draw_market(sc, seed=7, chunk_index=3)
    assert a != uncertainty.draw_market(sc, seed=7, chunk_index=4)
    # the parameter stream is not the chunk's shock stream
    from baozhang_finance.run.simulate import chunk_generator

    u = uncertainty.parameter_generator(7, 3).standard_normal(2)
    assert not np.allclose(u, chunk_generator(7, 3).standard_normal(2))
    z = (np.array([a["decline_drift_annual"], a["price_drift_annual"]])
         - [sc.market.decline_drift_annual, sc.market.price_drift_annual]) / 0.02
    np.testing.assert_allclose(z, u, atol=1e-12)


def test_run_with_parameter_uncertainty():
    sc = _uncertain_scenario()
    off = _uncertain_scenario(enabled=False)
    r = simulate(sc, paths=400, seed=3)
    r0 = simulate(off, paths=400, seed=3, chunk_size=100)
    assert r.run["chunk_size"] == 100  # paths_per_draw when the run does not choose
    rec = r.summary["run"]["parameter_uncertainty"]
    assert rec["draws"] == 4 and 0.0 <= rec["share_of_variance_hidden_debt_pv"] <= 1.0
    assert "parameter_uncertainty" not in r0.summary["run"]
    assert not np.array_equal(r.paths["hidden_debt_pv"].to_numpy(), r0.paths["hidden_debt_pv"].to_numpy())
    # zero SEs: the draws change nothing, the main shocks are the same bits
    zero = simulate(_uncertain_scenario(se={"price_drift_annual": 0.0}), paths=400, seed=3)
    np.testing.assert_array_equal(zero.paths["hidden_debt_pv"].to_numpy(), r0.paths["hidden_debt_pv"].to_numpy())


@pytest.mark.slow
def test_parameter_uncertainty_same_bits_across_backends():
    sc = _uncertain_scenario()
    a = simulate(sc, paths=400, seed=3)
    b = simulate(sc, paths=400, seed=3, workers=2, backend="processes")
    np.testing.assert_array_equal(a.paths["hidden_debt_pv"].to_numpy(), b.paths["hidden_debt_pv"].to_numpy())


def test_spread_share_law_of_total_variance():
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(50), 200)
    theta = rng.normal(0, 1.0, 50)[ids]  # between variance 1, within 1: share 0.5
    x = theta + rng.normal(0, 1.0, ids.size)
    s = uncertainty.spread_share(x, ids)
    assert s["share_of_variance"] == pytest.approx(0.5, abs=0.15)  # SE of a 50-draw variance ≈ 0.1


def test_chunk_spread_share_read_in_blocks_is_the_whole_column_figure():
    """The run record's share, read block by block (chunks straddling the 65,536-path blocks, a short last chunk),
    is the whole-column figure: chunk means and variances bit for bit, Var(X) to the last bits."""
    from baozhang_finance.measures.blocked import Col

    rng = np.random.default_rng(1)
    n, chunk = 200_001, 7_000
    ids = np.arange(n) // chunk
    x = rng.normal(0, 1.0, n) + rng.normal(0, 0.3, ids.max() + 1)[ids]
    whole = uncertainty.spread_share(x, ids)
    blocked = uncertainty.chunk_spread_share(Col.of(x), Col.of(np.arange(n)), chunk)
    assert blocked["draws"] == whole["draws"] == 29
    assert blocked["sd_of_chunk_means"] == whole["sd_of_chunk_means"]
    assert blocked["share_of_variance"] == pytest.approx(whole["share_of_variance"], rel=1e-12)
    small = uncertainty.chunk_spread_share(Col.of(x[:60_000]), Col.of(np.arange(60_000)), chunk)
    assert small == uncertainty.spread_share(x[:60_000], ids[:60_000])  # one block: np.var itself


def test_report_says_how_much_of_the_spread_comes_from_the_parameters(tmp_path):
    from baozhang_finance.report.html import render_html

    r = simulate(_uncertain_scenario(), paths=400, seed=3)
    rec = r.summary["run"]["parameter_uncertainty"]
    page = render_html(r, tmp_path, lang="en")
    assert "<h2>Parameter uncertainty</h2>" in page and f"drawn {rec['draws']} times" in page
    assert f"{100 * rec['share_of_variance_hidden_debt_pv']:.0f} %" in page
    assert "参数不确定性" in render_html(r, tmp_path, lang="zh")
    assert "Parameter uncertainty" not in render_html(simulate(_uncertain_scenario(enabled=False), paths=100, seed=3),
                                                       tmp_path, lang="en")


def test_the_median_path_of_a_run_with_drawn_parameters_replays(tmp_path):
    """The replay runs the path's chunk on that chunk's drawn market parameters (it used to raise "the engine's
    random draws changed", and `baozhang run` then wrote no folder)."""
    from baozhang_finance.run.replay import median_path, replay_path

    r = simulate(_uncertain_scenario(), paths=400, seed=3)
    for i in (0, 150, 399):  # rows of chunks 0, 1 and 3
        mp = replay_path(r, i)
        assert mp.hidden_debt_pv == pytest.approx(float(r.paths["hidden_debt_pv"].iloc[i]))
    assert median_path(r).index >= 0
    from baozhang_finance.report.html import report_writers
    r.save(tmp_path / "out", extra_writers=report_writers("both"))  # as `baozhang run` saves it: charts, xlsx, html
    for name in ("manifest.json", "report.html", "report.xlsx"):
        assert (tmp_path / "out" / name).exists()
