"""What the reports headline and how they label it (decision 70): the run-time policy findings beside the static
ones, the coverage over all financing as the headline 本息覆盖倍数 when there is bank debt, the SOE return at
income terminal value, the PV rates of the footnotes, one label for ``bank.pd_lifetime``, small probabilities and
money that do not round to zero, and the support settings among the key assumptions. No number changes: only the
words and the choice of the headline key."""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from baozhang_finance import load_scenario, simulate
from baozhang_finance.report import findings as fd
from baozhang_finance.report import html as rp
from baozhang_finance.report.tables import findings_lines, print_summary

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.toml"


@pytest.fixture(scope="module")
def demo():
    return simulate(load_scenario(DEMO), paths=400, seed=7)


def _page(result, tmp_path, lang="both") -> str:
    return rp.render_html(result, tmp_path, lang)


def _no_findings(result):
    """A copy of ``result`` whose summary holds no run-time finding."""
    r = copy.copy(result)
    r.summary = copy.deepcopy(result.summary)
    r.summary["coverage"]["findings"] = []
    return r


# ------------------------------------------------------------------------------------------------ #2 findings
def test_run_findings_walks_every_findings_list():
    s = {"coverage": {"findings": [{"rule_id": "a", "actual": "0.6"}]},
         "bank": {"x": {"findings": [{"rule_id": "b"}]}}, "run": {"paths": 3}}
    assert [(f["source"], f["rule_id"]) for f in fd.run_findings(s)] == [("coverage", "a"), ("bank.x", "b")]
    assert fd.run_findings({"coverage": {"p05": 1.0}}) == []


def test_html_lists_the_run_time_coverage_finding(demo, tmp_path):
    f = demo.summary["coverage"]["findings"]
    assert f and f[0]["rule_id"] == "coverage.floor.bond_coverage_all_financing"  # the demo's 组合融资 test fails
    page = _page(demo, tmp_path, "en")
    section = page[page.index("<h2>Policy compliance"):page.index("<h2>Key assumptions")]
    assert "coverage.floor.bond_coverage_all_financing" in section
    assert "run result (summary.json coverage)" in section and f"<td>{f[0]['actual']}</td>" in section
    assert "No policy finding" not in page
    zh = _page(demo, tmp_path, "zh")
    assert "无合规问题" not in zh and "运行结果（summary.json coverage）" in zh


def test_no_policy_finding_only_when_both_are_empty(demo, tmp_path):
    clean = _no_findings(demo)
    if fd.plan_findings(clean.scenario):
        pytest.skip("the demo has static findings")
    assert "No policy finding" in _page(clean, tmp_path, "en")
    assert findings_lines(clean, "en") == [
        "No policy finding: neither the plan's rules nor the run's coverage tests flag anything."]


def test_terminal_and_xlsx_guide_show_the_run_time_finding(demo, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    buf = io.StringIO()
    print_summary(demo, Console(file=buf, width=80), "en")
    out = buf.getvalue()
    assert "Policy findings: 1 (0 from the plan's rules, 1 from the run's results):" in out
    assert "coverage.floor.bond_coverage_all_financing" in out
    rp.write_xlsx(demo, tmp_path, lang="en")
    ws = openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)["Guide"]
    cells = [c for row in ws.iter_rows(values_only=True) for c in row if c]
    assert "Policy compliance" in cells and "coverage.floor.bond_coverage_all_financing" in cells


# ------------------------------------------------------------------------------------------------ #1 coverage
def test_headline_coverage_is_all_financing_when_there_is_bank_debt(demo, tmp_path):
    from baozhang_finance.report.tables import headline_coverage_key, summary_rows

    s = demo.summary
    assert s["bank"]["has_bank_debt"] and headline_coverage_key(s) == "coverage.bond_coverage_all_financing"
    rows = [(m, v) for _, m, v in summary_rows(s, "en")]
    allf, bond = s["coverage"]["bond_coverage_all_financing"], s["coverage"]["bond_coverage_ratio"]
    i = [m for m, _ in rows].index("coverage, all financing p05/p50")
    assert rows[i][1] == f"{allf['p05']:.2f} / {allf['p50']:.2f}"
    assert rows[i + 1] == ("bonds only, before bank service", f"{bond['p05']:.2f} / {bond['p50']:.2f}")
    assert ("  仅专项债,未扣银行本息", rows[i + 1][1]) in [(m, v) for _, m, v in summary_rows(s, "zh")]
    page = _page(demo, tmp_path, "en")
    fiscal = page[page.index("<h2>Fiscal lens"):page.index("<h2>Bank lens")]
    a = fiscal.index("bond coverage over all financing (bonds + bank service)")
    b = fiscal.index("bond coverage, bonds only, before bank service")
    assert a < b and fiscal.count("combined-financing test") == 1


def test_headline_coverage_is_the_bond_ratio_without_bank_debt(demo):
    from baozhang_finance.report.tables import coverage_rows, headline_coverage_key

    s = copy.deepcopy(demo.summary)
    s["bank"]["has_bank_debt"] = False
    assert headline_coverage_key(s) == "coverage.bond_coverage_ratio"
    assert [m for _, m, _ in coverage_rows(s, "en")] == ["bond coverage p05/p50"]
    s = copy.deepcopy(demo.summary)  # bank debt, but none in the bond projects: the two ratios are the same
    s["coverage"]["bond_coverage_all_financing"] = {k: s["coverage"]["bond_coverage_ratio"][k] for k in ("p05", "p50")}
    assert headline_coverage_key(s) == "coverage.bond_coverage_ratio"


# ------------------------------------------------------------------------------------------------ #7 SOE return
def test_headline_soe_return_is_at_income_terminal_value(demo, tmp_path):
    from baozhang_finance.report.tables import summary_rows

    soe = demo.summary["soe"]
    rows = [(m, v) for _, m, v in summary_rows(demo.summary, "en")]
    names = [m for m, _ in rows]
    i = names.index("equity IRR, income TV p05/50/95")
    pc = lambda x: f"{100 * x:.1f} %"  # noqa: E731
    assert rows[i][1] == " / ".join(pc(soe["equity_irr_monthly"][k]) for k in ("p05", "p50", "p95"))
    assert rows[i + 1] == ("  market-value TV p05/50/95",
                           " / ".join(pc(soe["equity_irr"][k]) for k in ("p05", "p50", "p95")))
    j = names.index("equity NPV, income TV p05/50/95")
    assert rows[j][1].split(" / ")[1] == f"{soe['npv_monthly']['p50'] / 1e4:,.0f}"
    page = _page(demo, tmp_path, "en")
    tile = re.findall(r'<div class="v">([^<]+)</div><div class="l">([^<]+)</div>', page)[-1]
    assert tile[0] == pc(soe["equity_irr_monthly"]["p50"])
    assert tile[1] == f"equity IRR, median, terminal value at income value (at market value: {pc(soe['equity_irr']['p50'])})"
    assert "cannot be sold at market" in page


def test_an_old_summary_without_monthly_returns_headlines_the_market_value(demo):
    from baozhang_finance.report.tables import soe_return_rows

    s = copy.deepcopy(demo.summary)
    del s["soe"]["equity_irr_monthly"], s["soe"]["npv_monthly"]
    assert [m for _, m, _ in soe_return_rows(s, "en")] == ["equity IRR p05/p50/p95", "equity NPV p05/p50/p95"]


# ------------------------------------------------------------------------------------------------ #5 PV rates
def test_footnotes_state_both_pv_rates_with_their_values(demo, tmp_path):
    from baozhang_finance.report.notes import pv_rates
    from baozhang_finance.report.tables import footnotes

    assert pv_rates(demo.scenario) == (0.02, 0.04)  # the demo: fiscal rate absent → the local-bond yield
    notes = " ".join(footnotes(demo, "en")).replace("\u00a0", " ")
    assert "government figures (hidden debt, bond burden, government money) at the fiscal discount rate 2.0 %" in notes
    assert "SOE figures (equity NPV, SOE support) at the programme discount rate 4.0 %" in notes
    assert "PV at the programme discount rate" not in notes
    zh = " ".join(footnotes(demo, "zh")).replace("\u00a0", " ")
    assert "按财政折现率 2.0 % 折现" in zh and "按项目折现率 4.0 % 折现" in zh
    assert "at the fiscal discount rate 2.0 %" in _page(demo, tmp_path, "en").replace("\u00a0", " ")
    legacy = demo.scenario.model_copy(update={"support": demo.scenario.support.model_copy(
        update={"conventions": "legacy"})})
    assert pv_rates(legacy) == (0.02, 0.04)  # the demo states fiscal_discount_rate = 0.02 itself
    prog = legacy.programme.model_copy(update={"fiscal_discount_rate": None})
    assert pv_rates(legacy.model_copy(update={"programme": prog})) == (0.04, 0.04)  # legacy: the programme rate


# ------------------------------------------------------------------------------------------------ #10 PD label
def test_one_label_for_the_pd_with_soe_support_and_the_month0_note(demo, tmp_path):
    from baozhang_finance.measures.catalogue import CATALOGUE
    from baozhang_finance.report.notes import pd_nosupport_by_construction

    for key in ("bank.pd_lifetime", "metric.pd", "text.term.pd", "text.chart.pd_title", "text.html.h_bank",
                "text.html.pd_life_annual"):
        e = CATALOGUE[key]
        assert "with SOE support" in e.en or "with the SOE's support" in e.en, key
        assert "含国企支持" in e.zh, key
    text_all = " ".join(e.en for e in CATALOGUE.values())
    assert "(standalone)" not in text_all and "standalone view" not in text_all
    assert pd_nosupport_by_construction(demo)  # the demo's renovation-month interest needs SOE money in month 0
    page = _page(demo, tmp_path, "en")
    assert "100 % by construction: every path needs SOE money in month 0" in page


# ------------------------------------------------------------------------------------------------ #14 small values
def test_small_probabilities_and_money_do_not_round_to_zero():
    from baozhang_finance.report import format as F

    assert F.pct(0.0004) == "0.04 %" and F.fmt("hidden_debt.p_call", 0.0004) == "0.04 %"
    assert F.pct(0.0) == "0.0 %" and F.wan(0) == "0 万元"
    assert F.pm("hidden_debt.p_call", 0.0004, 0.0002) == "0.040 ± 0.020 %"  # Loudi: was "0.0 ± 0.0 %"
    assert F.pm("hidden_debt.expected_pv", 14_800, 2_000) == "1.48 ± 0.20 万元"  # the demo: was "1 ± 0 万元"
    assert F.pm("hidden_debt.p_call", 0.1234, 0.0051) == "12.3 ± 0.5 %"  # an SE that shows keeps the digits
    assert F.fmt("hidden_debt.expected_pv", 4_000) == "0.4 万元"
    assert F.ci95("hidden_debt.p_call", 0.000109, 0.00102) == "[0.011 %, 0.102 %] 95 %"


def test_display_rounds_half_up():
    from baozhang_finance.report import format as F

    assert F.wan(146_625_000) == "14,663 万元" and F.wan(29_325_000) == "2,933 万元"  # half-even gave 14,662 / 2,932
    assert F.ratio(0.125) == "0.13" and F.pct(0.00125, 2) == "0.13 %"


def test_exact_interval_when_few_paths_call():
    s = {"hidden_debt": {"p_call": 4 / 10_000, "expected_pv": 600.0, "var95_pv": 0.0, "cvar95_pv": 12_027.0,
                         "pv_given_call": {"p50": 1_265_390.0}},
         "run": {"paths": 10_000, "sampling": "mc", "standard_errors": {"p_call": 2e-4}},
         "coverage": {"p_self_financing": 0.0},
         "fiscal": {"explicit_bond_burden": {"p_call": 1.0, "expected_pv": 7_545_581.0}}}
    lo, hi, kind = rp.p_call_interval(s)
    assert kind == "exact" and lo == pytest.approx(1.0899e-4, rel=1e-3) and hi == pytest.approx(1.0240e-3, rel=1e-3)
    from scipy.stats import beta  # the definition, independently
    assert lo == pytest.approx(beta.ppf(0.025, 4, 9_997)) and hi == pytest.approx(beta.ppf(0.975, 5, 9_996))
    a = rp.answer_sentence(s, "en")
    assert a.startswith("In 0.04 % ([0.011 %, 0.102 %] 95 %) of 10,000 simulated futures")
    assert "fewer than 1 in 20 futures call, so VaR95 is 0 万元; the mean of the worst 1 in 20 (ES95) is 1 万元" in a
    assert "a call, when it comes, has a median PV of 127 万元" in a
    assert "1-in-20 worst case" not in a
    assert ("P(self-financing) is 0.0 %, and the budget pays the special bonds' service on 100.0 % of futures "
            "(explicit bond burden, expected PV 755 万元)") in a
    s["run"]["sampling"] = "antithetic"  # paths not independent: the SE's normal interval
    assert rp.p_call_interval(s)[2] == "normal"


def test_answer_names_the_interval_and_the_bond_burden(demo, tmp_path):
    page = _page(demo, tmp_path, "en")
    n_calls = round(demo.summary["hidden_debt"]["p_call"] * 400)
    assert f"exact (Clopper–Pearson) 95 % interval, as only {n_calls} paths call" in page
    answer = re.search(r'id="answer">([^<]+)<', page).group(1)
    assert "ES95" in answer and "budget pays the special bonds" in answer


# ------------------------------------------------------------------------------------------------ #12 #13 #15 labels
def test_labels_say_what_the_figures_count():
    from baozhang_finance.measures.catalogue import CATALOGUE as C

    assert "any project" in C["soe.lockup_years"].en and "任一项目" in C["soe.lockup_years"].zh
    assert "any project" in C["text.term.lockup"].en and "任一项目" in C["text.term.lockup"].zh
    e = C["hidden_debt.debt_at_first_call.expected"]
    assert "mean over all paths (0 where no call)" in e.en and "全部路径均值" in e.zh
    e = C["hidden_debt.debt_at_first_call.p50"]
    assert "over the paths with a call" in e.en and "仅触发路径" in e.zh and e.zh.endswith("中位数")
    e = C["hidden_debt.first_shortfall_year.p_shortfall"]
    assert "before SOE support" in e.en and "after cures" not in e.en and "国企支持之前" in e.zh
    assert "budget" in C["text.term.gap"].en and "paid by bond" not in C["text.term.gap"].en
    assert not [k for k, e in C.items() if "专项债兜底" in e.zh]
    assert C["flow.gov_bond"].zh == C["yearly.gov_bond"].zh == "显性债务负担(专项债)"


def test_waterfall_title_is_not_clipped(demo):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from baozhang_finance.report import charts as pl

    fig, ax = plt.subplots(figsize=(8.5, 5.0), dpi=150)
    flows = rp.waterfall_flows(rp.median_path(demo))
    pl.cash_waterfall(ax, flows, title=pl.chart_text("wf_median", "both", index=123), lang="both")
    fig.tight_layout()
    fig.canvas.draw()
    assert ax.get_title()
    box = ax.title.get_window_extent()
    assert 0 <= box.x0 and box.x1 <= fig.bbox.x1 + 0.5
    plt.close(fig)


# ------------------------------------------------------------------------------------------------ #4 assumptions
def test_key_assumptions_show_the_support_and_cures_the_run_used(demo, tmp_path):
    page = _page(demo, tmp_path, "en")
    section = page[page.index("<h2>Key assumptions"):page.index("<h2>Run manifest")]
    sp = demo.scenario.support
    assert sp.conventions == "default" and sp.distributions_return
    assert "Support and cures (the settings this run used)" in section
    assert "<td>support.conventions</td><td>default</td>" in section
    assert ("<td>support.distributions_return | waterfall.soe_support_revolving</td><td>yes</td>"
            "<td>the SOE&#x27;s support pot refills") in section
    assert "<td>support.soe_pays</td><td>operating_costs, bank_debt, soe_bonds</td>" in section
    assert f"<td>cures.timing</td><td>{demo.scenario.cures.timing}</td>" in section
    assert "<td>soe_support_revolving</td>" not in section  # the stale legacy field is not shown on its own
    rows = {r[0]: r[1] for r in rp.support_rows(demo.scenario.model_copy(update={"support": sp.model_copy(
        update={"conventions": "legacy"})}), "en")}
    assert rows["support.distributions_return | waterfall.soe_support_revolving"] == (
        "yes" if demo.scenario.waterfall.soe_support_revolving else "no")
    assert rows["cures"] == "none"


def test_a_nonzero_mean_never_prints_as_zero_beside_a_larger_se():
    from baozhang_finance.report.format import pm

    assert pm("hidden_debt.expected_pv", 3000, 20000) == "0.30 ± 2.00 万元"  # was "0 ± 2 万元"
    assert pm("hidden_debt.expected_pv", 14800, 2000) == "1.48 ± 0.20 万元"
