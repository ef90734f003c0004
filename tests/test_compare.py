"""`baozhang compare`: same seed and paths for every scenario, numbers read from Result.summary, table and CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baozhang_finance import load_scenario
from baozhang_finance import simulate
from baozhang_finance.cli import app
from baozhang_finance.analysis.compare import COLUMNS, compare_scenarios, summary_row, write_csv

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _summary(pd_life=0.12, has_bank=True) -> dict:
    """A hand-made summary with the DESIGN §7 keys compare reads."""
    return {
        "programme": {"name": "P", "total_investment_yuan": 1.0e8},
        "coverage": {"p_self_financing": 0.25, "dscr_min": {"p05": 0.81, "p50": 1.1, "p95": 1.4}},
        "hidden_debt": {"p_call": 0.3, "expected_pv": 2.5e6},
        "fiscal": {"explicit_bond_burden": {"p_call": 0.1, "expected_pv": 4.0e5}},
        "bank": {"has_bank_debt": has_bank, "pd_lifetime": pd_life},
        "soe": {"equity_irr": {"p05": -0.01, "p50": 0.035, "p95": 0.07}},
        "run": {"paths": 100, "seed": 5, "chunk_size": 100, "standard_errors": {"p_call": 0.0458}},
    }


def test_summary_row_reads_the_design_keys():
    row = summary_row("x", _summary())
    assert row == {"scenario": "x", "programme": "P", "total_investment_yuan": 1.0e8, "p_self_financing": 0.25,
                   "p_hidden_call": 0.3, "p_hidden_call_se": 0.0458, "hidden_debt_pv_yuan": 2.5e6,
                   "explicit_bond_burden_pv_yuan": 4.0e5, "dscr_min_p05": 0.81, "pd_lifetime": 0.12,
                   "equity_irr_p50": 0.035, "paths": 100, "seed": 5, "chunk_size": 100}
    assert summary_row("y", _summary(has_bank=False))["pd_lifetime"] is None  # no bank loan: no PD


def test_compare_uses_the_same_run_settings_as_simulate():
    names = ("suihua", "beitun")
    scs = [(n, load_scenario(SCENARIOS / f"{n}.toml")) for n in names]
    rows = compare_scenarios(scs, paths=60, seed=11, chunk_size=30)
    assert [r["scenario"] for r in rows] == list(names)
    for (n, sc), row in zip(scs, rows):
        s = simulate(sc, paths=60, seed=11, chunk_size=30).summary
        assert row == summary_row(n, s)
        assert (row["paths"], row["seed"], row["chunk_size"]) == (60, 11, 30)


def test_write_csv_round_trip(tmp_path):
    rows = [summary_row("a", _summary()), summary_row("b", _summary(has_bank=False))]
    f = write_csv(rows, tmp_path / "cmp.csv")
    with f.open(encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert [r["scenario"] for r in got] == ["a", "b"]
    assert float(got[0]["p_hidden_call"]) == 0.3 and got[1]["pd_lifetime"] == ""
    assert set(c.key for c in COLUMNS) <= set(got[0])


def test_cli_compare_table_and_csv(tmp_path):
    out = tmp_path / "cmp.csv"
    r = CliRunner().invoke(app, ["compare", str(SCENARIOS / "suihua.toml"), str(SCENARIOS / "loudi.toml"),
                                 "--paths", "40", "--seed", "3", "--csv", str(out)])
    assert r.exit_code == 0, r.output
    assert "40 paths, seed 3" in r.output and "suihua" in r.output and "loudi" in r.output
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(x["scenario"], x["paths"], x["seed"]) for x in rows] == [("suihua", "40", "3"), ("loudi", "40", "3")]
    s = simulate(load_scenario(SCENARIOS / "loudi.toml"), paths=40, seed=3, chunk_size=10_000).summary
    assert float(rows[1]["p_hidden_call"]) == pytest.approx(s["hidden_debt"]["p_call"], abs=0)


@pytest.mark.parametrize("args, needle", [
    (["--paths", "0"], "--paths"),
    (["--csv", "/no/such/folder/x.csv"], "--csv"),
])
def test_cli_compare_bad_options(args, needle):
    r = CliRunner().invoke(app, ["compare", str(SCENARIOS / "suihua.toml"), *args])
    assert r.exit_code == 2 and needle in r.output


def test_cli_compare_invalid_scenario_exits_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((SCENARIOS / "beitun.toml").read_text(encoding="utf-8").replace("units = 360", "units = 0"),
                   encoding="utf-8")
    r = CliRunner().invoke(app, ["compare", str(SCENARIOS / "suihua.toml"), str(bad), "--paths", "10"])
    assert r.exit_code == 2 and "bad.toml" in r.output and "units" in r.output
