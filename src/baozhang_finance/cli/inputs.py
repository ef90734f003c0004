"""``baozhang template``: the input workbook a finance bureau fills in Excel, and the way back to TOML.

``baozhang template -o plan.xlsx`` writes a blank workbook; ``baozhang template scenarios/loudi.toml -o plan.xlsx``
one filled with a scenario (its TOML comments become the cells' source notes); ``baozhang template plan.xlsx -o
plan.toml`` writes the workbook's scenario back as TOML. Every command that takes a scenario reads a workbook too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from baozhang_finance.cli.common import _load, app, console, fail
from baozhang_finance.model import workbook as wbm
from baozhang_finance.model.scenario import GRID_LABELS, Scenario
from baozhang_finance.report.workbook import write_toml, write_workbook


def scenario_notes(path: Path) -> dict[str, str]:
    """The source notes of a scenario file's figures: TOML line comments, or a workbook's cell comments."""
    try:
        if path.suffix.lower() == ".xlsx":
            _, cells = wbm.workbook_to_dict(path, Scenario, grid_labels=GRID_LABELS)
            return wbm.workbook_notes(path, cells)
        return wbm.toml_notes(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, wbm.WorkbookError):
        return {}


@app.command()
def template(
    scenario: Optional[Path] = typer.Argument(None, help="scenario TOML or workbook to fill it with (blank without)"),
    out: Path = typer.Option(..., "--out", "-o", help="plan.xlsx (the workbook) or plan.toml (back to TOML)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing file"),
):
    """Write the input workbook (Chinese/English, drop-downs, locked labels), or a workbook's scenario as TOML."""
    suffix = out.suffix.lower()
    if suffix not in (".xlsx", ".toml"):
        fail(f"--out {out}: give a .xlsx (workbook) or .toml file name")
    if out.exists() and out.is_dir():
        fail(f"--out {out}: is a folder")
    if out.exists() and not overwrite:
        fail(f"--out {out}: file exists (use --overwrite)")
    if not out.parent.exists() if str(out.parent) else False:
        fail(f"--out {out}: folder {out.parent} does not exist")
    sc = _load(scenario) if scenario is not None else None
    notes = scenario_notes(scenario) if scenario is not None else {}
    if suffix == ".toml":
        if sc is None:
            fail("--out *.toml: give the scenario (a workbook or TOML file) to write as TOML")
        write_toml(out, sc, notes)
    else:
        write_workbook(out, sc, notes, source=str(scenario) if scenario else None)
    console.print(f"written: {out}")
