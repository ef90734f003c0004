"""The reports' charts and the median path (decision 74): the bank chart plots the bank lens's own DSCR (by year and
its per-path minimum) and the all-debt chart is labelled as the coverage of all financing; the median path is chosen
by a stated, deterministic rule; every chart has programme years on its x axis with the calendar span below; the
footnotes' PV rates are the plan's. No number of summary.json changes."""

from __future__ import annotations

import types
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from baozhang_finance import load_scenario, simulate  # noqa: E402
from baozhang_finance.measures.bank import min_bank_dscr  # noqa: E402
from baozhang_finance.report import charts as pl  # noqa: E402
from baozhang_finance.report import html as rp  # noqa: E402
from baozhang_finance.report.format import pct  # noqa: E402
from baozhang_finance.run.replay import median_path_index, representative_index  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.toml"


@pytest.fixture(scope="module")
def demo():
    return simulate(load_scenario(DEMO), paths=400, seed=7)


@pytest.fixture
def ax():
    fig, a = plt.subplots(figsize=(7.5, 4.0))
    yield a
    plt.close(fig)


def _labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _ticks(ax) -> list[str]:
    ax.figure.canvas.draw()
    return [t.get_text() for t in ax.get_xticklabels() if t.get_text()]


# ------------------------------------------------------------------------------------------------ median path
class TestRepresentativeIndex:
    def test_a_unique_median_is_taken_whatever_the_other_keys(self):
        assert representative_index([5.0, 1.0, 3.0], [9.0, 9.0, 0.0]) == 2  # lower median of 1, 3, 5 is 3

    def test_even_count_takes_the_lower_median(self):
        assert representative_index([4.0, 1.0, 3.0, 2.0]) == 3  # sorted 1, 2, 3, 4: index (4 − 1) // 2 = 1 → 2.0

    def test_ties_at_the_median_go_to_the_path_nearest_the_second_keys_median(self):
        # six paths: four without a call (PV 0), the lower median is 0; their SOE PVs 10, 40, 20, 30 → median 25
        h = [0.0, 7.0, 0.0, 0.0, 9.0, 0.0]
        soe = [10.0, 0.0, 40.0, 20.0, 0.0, 30.0]
        # |S − 25| = 15, 15, 5, 5 for rows 0, 2, 3, 5: rows 3 and 5 tie; terminal equity decides
        eq = [0.0, 0.0, 0.0, 100.0, 0.0, 60.0]  # over the four: 0, 0, 100, 60 → median 30; |E − 30| = 70 vs 30
        assert representative_index(h, soe, eq) == 5
        assert representative_index(h, soe) == 3  # without the third key: the lower row of the tie
        assert representative_index(h) == 0  # without any key: the lowest row at the median

    def test_the_order_of_the_rows_does_not_matter(self):
        rng = np.random.default_rng(3)
        h = np.where(rng.random(101) < 0.7, 0.0, rng.random(101))
        soe, eq = rng.random(101), rng.random(101)
        i = representative_index(h, soe, eq)
        perm = rng.permutation(101)
        j = representative_index(h[perm], soe[perm], eq[perm])
        assert perm[j] == i  # the same path, wherever it sits (no tie left on the continuous keys)
        at = np.flatnonzero(h == 0.0)
        assert i == at[np.argmin(np.abs(soe[at] - np.median(soe[at])))]

    def test_nan_key_values_are_farthest(self):
        assert representative_index([0.0] * 4, [np.nan, 2.0, 9.0, 3.0]) == 3  # median of 2, 9, 3 = 3
        assert representative_index([0.0] * 4, [np.nan, 2.0, 4.0, np.nan]) == 1  # 2 and 4 tie around 3: lower row
        assert representative_index([0.0] * 3, [np.nan] * 3) == 0  # no value at all: the lowest row

    def test_no_paths_is_an_error(self):
        with pytest.raises(ValueError, match="no paths"):
            representative_index([])


def test_the_demos_median_path_follows_the_rule(demo):
    p = demo.paths
    h, soe, eq = (p[c].to_numpy(float) for c in ("hidden_debt_pv", "soe_support_pv", "terminal_equity"))
    i = median_path_index(demo)
    at = np.flatnonzero(h == np.sort(h)[(h.size - 1) // 2])
    assert at.size > 100 and i in at  # the demo: most paths have no call, all at PV 0
    d = np.abs(soe[at] - np.median(soe[at]))
    assert abs(soe[i] - np.median(soe[at])) == d.min()
    assert i != at[0]  # the old rule took the first of the ties, whatever its SOE support


def test_the_rule_is_stated_on_the_page_and_in_the_workbook(demo, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    rp.write_charts(demo, tmp_path, lang="en")
    page = rp.render_html(demo, tmp_path / "charts", "en")
    n0 = int(np.count_nonzero(demo.paths["hidden_debt_pv"].to_numpy() == 0.0))
    rule = (f"among the paths at the median hidden-debt PV ({n0:,} of them here), the one nearest their median SOE "
            "support PV, then nearest their median terminal equity, then the lowest path number.")
    assert rule in page
    assert f"The median path, no. {rp.median_path(demo).index}:" in page
    rp.write_xlsx(demo, tmp_path, lang="en")
    ws = list(openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)["Median path"].iter_rows(values_only=True))
    assert rule in ws[1][0]
    assert "year 1 = 2025-07 to 2026-06" in ws[0][0]
    zh = rp.render_html(demo, tmp_path / "charts", "zh")
    assert "国企支持现值最接近其中位数者" in zh


# ------------------------------------------------------------------------------------------------ bank DSCR
def test_the_bank_chart_plots_the_bank_lenss_dscr_by_year(demo, ax):
    bank = demo.summary["bank"]
    pl.bank_dscr_fan(ax, bank["dscr_bank_by_year"], bank["dscr_test_years"], 1.05, "2025-07", lang="en")
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "median")
    p50 = np.array([np.nan if v is None else v for v in bank["dscr_bank_by_year"]["p50"]])
    ok = np.isfinite(p50)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, p50.size + 1)[ok])
    np.testing.assert_array_equal(line.get_ydata(), p50[ok])
    assert "CFADS available to the bank ÷ bank service" in ax.get_title()
    labels = _labels(ax)
    a, b = bank["dscr_test_years"]
    assert f"bank test years {a}–{b}" in labels
    assert "1.0: cash just covers the service" in labels and "lock-up 1.05 (on all debt service)" in labels


def test_the_minimum_chart_is_the_lenss_headline(demo, ax):
    bank = demo.summary["bank"]
    d = min_bank_dscr(demo)
    pl.bank_dscr_min_distribution(ax, d, bank["dscr_test_years"], 1.05, lang="en")
    heights = [p.get_height() for p in ax.patches]
    assert sum(heights) == pytest.approx(1.0)  # shares of the paths with bank service
    labels = _labels(ax)
    assert f"paths: P(minimum < 1) = {pct(bank['p_dscr_bank_min_below_1'])}" in labels
    assert f"median {bank['dscr_bank_min']['p50']:.2f}" in labels


def test_the_all_debt_chart_is_labelled_as_such(demo, ax):
    pl.fan_chart(ax, demo.yearly, "dscr", lang="en", start="2025-07", lockup=1.05)
    assert ax.get_title() == "Debt-service coverage, all financing (CFADS ÷ bond + bank service; bullets refinancing rolls excluded)"
    assert pl.chart_text("fan.dscr", "zh").startswith("本息覆盖倍数（组合融资")


def test_the_page_shows_the_bank_dscr_in_the_bank_lens_and_all_debt_coverage_in_the_fiscal(demo, tmp_path):
    rp.write_charts(demo, tmp_path, lang="en")
    page = rp.render_html(demo, tmp_path / "charts", "en")
    fiscal = page[page.index("<h2>Fiscal lens"):page.index("<h2>Bank lens")]
    bank = page[page.index("<h2>Bank lens"):page.index("<h2>SOE lens")]
    assert 'alt="debt-service coverage, all financing, by programme year"' in fiscal
    assert "本息覆盖倍数, all financing" in fiscal and "Not the bank&#x27;s DSCR" in fiscal
    assert 'alt="bank DSCR by programme year"' in bank and 'alt="minimum bank DSCR per path"' in bank
    a, b = demo.summary["bank"]["dscr_test_years"]
    assert f"the bank&#x27;s test years {a}–{b} shaded" in bank
    assert "CFADS ÷ all debt service" not in bank


# ------------------------------------------------------------------------------------------------ time axis
def test_calendar_spans_of_programme_years():
    assert pl.calendar_span(5, "2025-07") == "2029/30"
    assert pl.calendar_span(5, "2025-01") == "2029"
    assert pl.calendar_span(1, "2099-12") == "2099/00"
    assert pl.year1_span("2025-07") == ("2025-07", "2026-06")
    assert pl.year1_span("2025-01") == ("2025-01", "2025-12")
    assert pl.calendar_span(0, "2025-07") == "" and pl.calendar_span(3, None) == ""


def _yearly(quantity: str, n: int = 12) -> pd.DataFrame:
    return pd.DataFrame([{"year": i + 1, "calendar_year": 2025 + i, "quantity": quantity, "n": 10,
                          "p05": 1.0, "p25": 1.1, "p50": 1.2, "p75": 1.3, "p95": 1.4} for i in range(n)])


def test_every_chart_with_years_has_programme_years_with_the_calendar_below(ax):
    pl.fan_chart(ax, _yearly("dscr"), "dscr", lang="en", start="2025-07")
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "median")
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 13))  # programme years, not 2025 … 2036
    assert "2\n2026/27" in _ticks(ax) and "10\n2034/35" in _ticks(ax)
    assert ax.get_xlabel() == "programme year (year 1 = 2025-07 to 2026-06; calendar year below)"
    ax.clear()
    pl.pd_curve(ax, [0.0] * 11 + [0.0125], "2025-07", lang="en")
    assert "4\n2028/29" in _ticks(ax)
    assert ax.get_xlabel().startswith("end of programme year (year 1 = 2025-07 to 2026-06")
    ax.clear()
    by_year = {k: [1.0] * 12 for k in ("p05", "p50", "p95")}
    pl.bank_dscr_fan(ax, by_year, [2, 12], 1.05, "2025-01", lang="en")
    assert "4\n2028" in _ticks(ax)


def test_the_pd_chart_rounds_as_the_tables(ax):
    pl.pd_curve(ax, [0.005, 0.0125], "2025-07", lang="en")
    assert [t.get_text() for t in ax.texts] == [pct(0.0125)] == ["1.3 %"]  # Python's :.1% said 1.2 %


# ------------------------------------------------------------------------------------------------ labels
def test_waterfall_amounts_carry_their_sign_and_a_colour_key(ax):
    pl.cash_waterfall(ax, {"funding": 1e8, "acquisition": 9e7, "rent": 2e7, "soe_support": 1e6}, lang="en")
    assert [t.get_text() for t in ax.texts] == ["+10,000", "−9,000", "+2,000", "+100", "3,100"]
    assert _labels(ax) == ["inflow (+)", "outflow (−)", "SOE support (+)", "Cash at the end"]


def test_hidden_debt_counts_are_whole_paths(ax):
    pl.hidden_debt_distribution(ax, [0.0] * 90 + [1e5, 2e5, 2e5, 5e5], lang="en")
    ax.figure.canvas.draw()
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    assert all(float(t).is_integer() for t in ticks), ticks
    assert any(lab.startswith("CVaR95 = ") and lab.endswith(" 10k yuan") for lab in _labels(ax))


# ------------------------------------------------------------------------------------------------ PV rates
def test_pv_rates_are_the_plans(demo):
    from baozhang_finance.report.notes import pv_note, pv_rates

    assert pv_rates(demo) == (demo.plan.support.fiscal_rate, demo.scenario.programme.discount_rate) == (0.02, 0.04)
    # a plan compiled with another rate than the scenario's fallback would give: the footnote follows the plan
    other = types.SimpleNamespace(plan=types.SimpleNamespace(support=types.SimpleNamespace(
        fiscal_rate=0.031, distributions_return=True)),
                                  scenario=demo.scenario)
    assert pv_rates(other) == (0.031, 0.04)
    assert "fiscal discount rate 3.1\u00a0%" in pv_note(other, "en")
    rows = {r[0]: r[1] for r in rp.support_rows(demo.scenario, "en", other)}
    assert rows["programme.fiscal_discount_rate | discount_rate"] == "3.1 % | 4.0 %"
