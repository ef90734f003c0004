"""The input workbook (``baozhang template``): every bundled scenario round-trips through it (and back to TOML), a
blank template filled by a script runs, and each kind of bad cell is one located error with exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from baozhang_finance.cli import app
from baozhang_finance.model import workbook as wbm
from baozhang_finance.model.portfolio import is_portfolio_file
from baozhang_finance.model.scenario import GRID_LABELS, Scenario, ScenarioError, load_scenario, scenario_from_dict
from baozhang_finance.report.workbook import to_toml, write_workbook

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*.toml") if not is_portfolio_file(p))  # scenarios, not portfolios
DEMO = ROOT / "scenarios" / "demo.toml"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_bundled_scenario_round_trips(path, tmp_path):
    sc = load_scenario(path)
    notes = wbm.toml_notes(path.read_text(encoding="utf-8"))
    book = write_workbook(tmp_path / "plan.xlsx", sc, notes, source=str(path))
    back = load_scenario(book)
    assert back.model_dump() == sc.model_dump()
    assert back.sha256() == sc.sha256()
    # … and on to TOML, the source notes carried as comments
    text = to_toml(back, wbm.toml_notes(path.read_text(encoding="utf-8")))
    assert scenario_from_dict(tomllib.loads(text)).model_dump() == sc.model_dump()
    assert "# " in text.splitlines()[3] or any("  # " in ln for ln in text.splitlines())


def test_every_field_has_a_row():
    """Walked from the models: every field of every table has a row (or a switch, slots, a block or the grid)."""
    from baozhang_finance.model.reference import tables

    sheets = wbm.layout(Scenario, {"projects.financing.bonds.schedule": 1, "projects.financing.soe_bonds.schedule": 1},
                        GRID_LABELS)
    rows = [r for s in sheets for b in s.blocks for r in b.rows]
    have = {(r.table, r.name) for r in rows} | {(r.table, "") for r in rows}
    have |= {(b.table, "") for s in sheets for b in s.blocks} | {(s.grid.table, "") for s in sheets if s.grid}
    missing = [f"{t.path}.{name}" for t in tables() for name in t.model.model_fields
               if (t.path, name) not in have and (f"{t.path}.{name}", "") not in have]
    assert not missing, missing


def test_demo_workbook_has_dropdowns_protection_and_notes(tmp_path):
    book = write_workbook(tmp_path / "plan.xlsx", load_scenario(DEMO), wbm.toml_notes(DEMO.read_text("utf-8")))
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames[0] == wbm.COVER_SHEET and "工作簿" in wb[wbm.COVER_SHEET]["A1"].value
    ws = wb["项目"]
    assert ws.protection.sheet
    lists = [dv for dv in ws.data_validations.dataValidation if dv.type == "list"]
    assert any('"rental,sale"' == dv.formula1 for dv in lists)
    key_col = {c.value: c.row for c in ws["A"] if c.value}
    rr = key_col["rental.rent_ratio"]
    assert ws.cell(rr, 3).value == 0.8 and ws.cell(rr, 3).protection.locked is False
    assert ws.cell(rr, 1).protection.locked is not False
    assert ws.cell(rr, 3).comment is not None  # the TOML comment is the source note


def _fill(ws, key: str, values: list, block: str | None = None) -> None:
    """Write values into columns C, D, … of the row whose key (column A) is ``key`` (in ``block``)."""
    current = None
    for row in ws.iter_rows(min_row=1):
        a = row[0].value
        if isinstance(a, str) and a.startswith("["):
            current = a
        elif a == key and (block is None or current == block):
            for j, v in enumerate(values):
                ws.cell(row[0].row, 3 + j, v)
            return
    raise KeyError(key)


def test_blank_template_filled_by_a_script_runs(tmp_path):
    runner = CliRunner()
    blank = tmp_path / "blank.xlsx"
    res = runner.invoke(app, ["template", "-o", str(blank)])
    assert res.exit_code == 0, res.output
    wb = openpyxl.load_workbook(blank)
    p = wb["项目群"]
    for k, v in {"name": "脚本填写", "city": "某市", "soe": "某市安居公司", "start": "2026-01",
                 "discount_rate": 0.04, "fiscal_revenue_yuan": 5e9}.items():
        _fill(p, k, [v], "[programme]")
    pr = wb["项目"]
    area, units, price = 90.0, 200, 5000.0
    uses = area * units * price
    for k, v in {"name": "租赁一期", "type": "rental", "units": units, "area_m2": area, "appraisal_yuan_per_m2": 6000,
                 "acquisition_price_yuan_per_m2": price, "rental.market_rent_yuan_per_m2_month": 18,
                 "rental.rent_ratio": 0.8, "rental.lease_years": 3, "rental.lease_up_months": 6,
                 "rental.stabilised_occupancy": 0.92, "rental.collection_rate": 0.97,
                 "rental.opex_yuan_per_m2_year": 20, "rental.management_fee_share": 0.05,
                 "rental.vat_rate_on_rent": 0.015, "rental.property_tax_rate_on_rent": 0.04,
                 "rental.capex_reserve_share_of_rent": 0.02, "financing.equity_yuan": uses * 0.2}.items():
        _fill(pr, k, [v])
    fi = wb["融资"]
    for k, v in {"project": "租赁一期", "name": "团体购房贷款", "amount_yuan": uses * 0.8, "term_years": 25,
                 "amortisation": "annuity", "rate_type": "fixed", "fixed_rate": 0.03}.items():
        _fill(fi, k, [v], "[[projects.financing.loans]]")
    for k, v in {"dsra_months": 6, "lockup_dscr": 1.05, "soe_support_capacity_yuan": 1e7,
                 "terminal_value_haircut": 0.3}.items():
        _fill(wb["支持与化解"], k, [v], "[waterfall]")
    flat = {"price_drift_annual": 0.0, "price_vol_annual": 0.05, "rent_drift_annual": 0.01, "rent_vol_annual": 0.03,
            "lpr_initial": 0.035, "lpr_mean": 0.035, "lpr_reversion": 0.2, "lpr_vol_annual": 0.005,
            "cpi_drift_annual": 0.01, "cpi_vol_annual": 0.01, "occupancy_reversion": 1.0,
            "occupancy_vol_annual": 0.02, "absorption_reversion": 1.0, "absorption_vol_annual": 0.1,
            "fiscal_growth_annual": 0.02, "fiscal_vol_annual": 0.05, "fiscal_land_share": 0.3, "fiscal_land_beta": 1.0}
    for k, v in flat.items():
        _fill(wb["市场"], k, [v], "[market]")
    plan = tmp_path / "plan.xlsx"
    wb.save(plan)
    sc = load_scenario(plan)
    assert sc.projects[0].financing.loans[0].amount_yuan == uses * 0.8
    assert sc.simulation.paths == 10_000  # a blank cell takes the default
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", str(plan), "-n", "200", "--out", str(out), "--no-reports", "--quiet"])
    assert res.exit_code == 0, res.output
    assert (out / "summary.json").is_file()


@pytest.fixture(scope="module")
def demo_book(tmp_path_factory):
    return write_workbook(tmp_path_factory.mktemp("wb") / "demo.xlsx", load_scenario(DEMO))


def _row_of(ws, key: str, block: str | None = None) -> int:
    current = None
    for c in ws["A"]:
        if isinstance(c.value, str) and c.value.startswith("["):
            current = c.value
        elif c.value == key and (block is None or current == block):
            return c.row
    raise KeyError(key)


def _edit(demo_book, tmp_path, change) -> Path:
    wb = openpyxl.load_workbook(demo_book)
    change(wb)
    bad = tmp_path / "bad.xlsx"
    wb.save(bad)
    return bad


BAD_CELLS = {
    "text in a number": (lambda wb: wb["项目"].cell(_row_of(wb["项目"], "units"), 3, "三百"),
                         ["项目!C6 units: must be a whole number, got '三百'"]),
    "value out of range": (lambda wb: wb["项目"].cell(_row_of(wb["项目"], "area_m2"), 4, -70),
                           ["项目!D7 area_m2: must be > 0", "got -70"]),
    "unknown choice": (lambda wb: wb["融资"].cell(_row_of(wb["融资"], "amortisation"), 3, "balloon"),
                       ["融资!C", " amortisation: ", "'balloon'"]),
    "deleted row": (lambda wb: wb["市场"].delete_rows(_row_of(wb["市场"], "lpr_mean")),
                    ["市场!A", "lpr_mean: the row is missing"]),
    "extra sheet": (lambda wb: wb.create_sheet("Sheet1"), ["Sheet1!A1", "not part of the template"]),
    "fraction in a whole number": (lambda wb: wb["模拟"].cell(_row_of(wb["模拟"], "paths"), 3, 10.5),
                                   ["模拟!C", " paths: must be a whole number, got 10.5"]),
    "unknown project": (lambda wb: wb["融资"].cell(_row_of(wb["融资"], "project"), 3, "no such"),
                        ["融资!C", "no single project named 'no such'"]),
    "sources and uses": (lambda wb: wb["项目"].cell(_row_of(wb["项目"], "financing.equity_yuan"), 3, 1.0),
                         ["项目!C", "sources", "≠ uses"]),
}


@pytest.mark.parametrize("case", list(BAD_CELLS))
def test_a_bad_cell_is_one_located_error_and_no_output(case, demo_book, tmp_path):
    change, words = BAD_CELLS[case]
    bad = _edit(demo_book, tmp_path, change)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(bad)
    text = str(exc.value)
    for w in words:
        assert w in text, (w, text)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(bad), "-n", "50", "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert not out.exists()
    assert "Traceback" not in res.output


def test_cli_error_in_a_real_process(demo_book, tmp_path):
    bad = _edit(demo_book, tmp_path, BAD_CELLS["value out of range"][0])
    env = {**os.environ}
    proc = subprocess.run([sys.executable, "-c", "from baozhang_finance.cli import main; main()", "check", str(bad)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "项目!D" in lines[0] and "area_m2: must be > 0" in lines[0], proc.stderr


def test_switched_off_table_is_not_read_and_template_to_toml(demo_book, tmp_path):
    def off(wb):
        ws = wb["项目"]
        ws.cell(_row_of(ws, "sale.walkaway"), 4, False)  # the sale project's walk-away switch
        ws.cell(_row_of(ws, "sale.walkaway.base_share"), 4, 0.3)  # kept in the sheet, not read
    bad = _edit(demo_book, tmp_path, off)
    sc = load_scenario(bad)
    assert sc.projects[1].sale.walkaway is None
    res = CliRunner().invoke(app, ["template", str(bad), "-o", str(tmp_path / "plan.toml")])
    assert res.exit_code == 0, res.output
    assert load_scenario(tmp_path / "plan.toml").model_dump() == sc.model_dump()
    res = CliRunner().invoke(app, ["template", str(bad), "-o", str(tmp_path / "plan.toml")])
    assert res.exit_code == 2 and "use --overwrite" in res.output


def test_templates_get_the_mode_of_any_new_file(tmp_path):
    """A workbook or TOML written through a temporary file reads like any file the user makes (umask), not 0600."""
    import os

    from baozhang_finance.run.atomic import file_mode

    for name in ("plan.xlsx", "plan.toml"):
        res = CliRunner().invoke(app, ["template", str(ROOT / "scenarios" / "demo.toml"), "-o", str(tmp_path / name)])
        assert res.exit_code == 0, res.output
        assert (os.stat(tmp_path / name).st_mode & 0o777) == file_mode(), name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
