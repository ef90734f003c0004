"""The output catalogue names every output a user reads, and the formatters print it one way."""

import glob

import pytest

from baozhang_finance.measures.metrics import METRICS
from baozhang_finance.analysis.solve import FIND
from baozhang_finance.measures.catalogue import CATALOGUE, UNITS, entry, has
from baozhang_finance.model.portfolio import is_portfolio_file
from baozhang_finance.model.scenario import load_scenario
from baozhang_finance.report import format as F
from baozhang_finance.report.html import PROGRAMME_ITEMS, PROJECT_ITEMS, flatten
from baozhang_finance.run.result import YEARLY_KEPT
from baozhang_finance.run.simulate import simulate


@pytest.fixture(scope="module", params=sorted(p for p in glob.glob("scenarios/*.toml") if not is_portfolio_file(p)))
def result(request):
    return simulate(load_scenario(request.param), paths=50)


def test_every_summary_key_path_column_and_ledger_has_an_entry(result):
    missing = [k for k, _ in flatten(result.summary) if not has(k)]
    missing += [f"paths.{c}" for c in result.paths.columns if not has(f"paths.{c}")]
    missing += [f"yearly.{q}" for q in result.yearly["quantity"].unique() if not has(f"yearly.{q}")]
    assert not missing, f"outputs without a catalogue entry (add them to measures/catalogue.py): {missing}"


def test_every_metric_lever_ledger_and_median_path_item_has_an_entry():
    assert [m for m in METRICS if not has(f"metric.{m}")] == []
    assert [lv for lv, _ in FIND.values() if not has(f"lever.{lv}")] == []
    assert [q for q in (*YEARLY_KEPT, "dscr", "ltv", "cum_support") if not has(f"yearly.{q}")] == []
    assert [k for k, *_ in PROJECT_ITEMS + PROGRAMME_ITEMS if not has(f"flow.{k}")] == []


def test_entries_are_complete():
    for k, e in CATALOGUE.items():
        assert e.key == k and e.unit in UNITS and e.en.strip() and e.zh.strip(), k


def test_unknown_key_is_a_clear_error():
    with pytest.raises(KeyError, match="not in the output catalogue.*hidden_debt.p_call"):
        entry("hidden_debt.p_cal")
    assert entry("fiscal.classification[2].share").unit == "share"


def test_shares_and_counts_are_not_years():
    assert entry("soe.lockup_years.p_any").unit == "share"
    assert entry("soe.lockup_years.share_locked_by_year").unit == "share"
    assert entry("hidden_debt.first_call_year.n_calls").unit == "count"
    assert entry("soe.lockup_years.p95").unit == "years"


def test_formatters():
    assert F.fmt("hidden_debt.p_call", 0.1234) == "12.3 %"
    assert F.fmt("hidden_debt.expected_pv", 12_345_678) == "1,235 万元"
    assert F.fmt("coverage.dscr_min.p05", 1.2345) == "1.23"
    assert F.fmt("coverage.dscr_min.p05", float("inf")) == "∞"
    assert F.fmt("coverage.dscr_min.p05", None) == "—" and F.fmt("soe.npv.p50", float("nan")) == "—"
    assert F.fmt("run.paths", 10000) == "10,000"
    assert F.pm("hidden_debt.p_call", 0.1234, 0.0051) == "12.3 ± 0.5 %"
    assert F.pm("metric.hidden_debt_pv", 2_021_259, 78_530) == "202 ± 8 万元"
    assert F.pm("hidden_debt.p_call", 0.1, 0.0) == "10.0 %"
    assert F.span("metric.hidden_debt_pv", 2_010_000, 2_360_000) == "201 … 236 万元"
    assert F.span("metric.p_call", 0.72, 0.76) == "72.0 … 76.0 %"
    assert F.ci95("hidden_debt.p_call", 0.01, 0.03) == "[1.0 %, 3.0 %] 95 %"
    assert F.several("soe.npv", {"p05": -19_570_000, "p50": 0, "p95": 27_230_000}, ("p05", "p50", "p95")) \
        == "-1,957 / 0 / 2,723 万元"
    assert F.label("metric.pd", "both") == "PD over the loans' life (with SOE support) 违约概率 PD(含国企支持)"
    assert F.label("bank.lgd_mean", "zh").startswith("违约损失率 LGD")
    assert F.xlsx_format("hidden_debt.p_call") == "0.00%" and F.unit_text("soe.lockup_years.p_any") == "share"
    assert F.number(2021259.3) == "2,021,259" and F.number(0.25) == "0.25"


def test_median_path_titles_are_the_catalogue_labels():
    for key, title, _ in PROJECT_ITEMS + PROGRAMME_ITEMS:
        e = entry(f"flow.{key}")
        assert title in (f"{e.en} {e.zh}", e.en), (key, title)


def test_report_functions_are_of_readable_size():
    import ast
    from pathlib import Path

    import baozhang_finance.report as pkg

    long = []
    for f in Path(pkg.__file__).parent.glob("*.py"):
        for n in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(n, ast.FunctionDef) and n.end_lineno - n.lineno + 1 > 60:
                long.append(f"{f.name}:{n.name} ({n.end_lineno - n.lineno + 1} lines)")
    assert not long, long
