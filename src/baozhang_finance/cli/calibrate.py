"""``baozhang calibrate DATA.csv -o market.toml``: estimate the [market] block from a city's history."""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Optional

import typer

from baozhang_finance.analysis.calibration import calibrate as run_calibration
from baozhang_finance.analysis.calibration import market_toml, read_market_data
from baozhang_finance.cli.common import _load, app, console, fail
from baozhang_finance.model.scenario import Market, ScenarioError
from baozhang_finance.report.calibration import calibration_page, figure_png, fit_figure
from baozhang_finance.run.atomic import replace_file


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        replace_file(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@app.command()
def calibrate(
    data: Path = typer.Argument(..., help="tidy CSV (date, city, series, value) or an NBS 环比/同比 table"),
    out: Path = typer.Option(..., "--out", "-o", help="the [market] TOML block to write"),
    city: Optional[str] = typer.Option(None, "--city", help="the city to calibrate (when the file has several)"),
    start: Optional[str] = typer.Option(None, "--from", help="first month to use, YYYY-MM"),
    base: Optional[Path] = typer.Option(None, "--base", help="scenario whose [market] gives the fields the data cannot"),
    decline_years: Optional[float] = typer.Option(None, "--decline-years",
                                                  help="length of the decline regime from the start (default: as long again as observed)"),
    no_uncertainty: bool = typer.Option(False, "--no-uncertainty", help="omit [market.parameter_uncertainty]"),
    paths_per_draw: int = typer.Option(500, "--paths-per-draw", min=1, help="paths per parameter draw (chunk size)"),
    no_report: bool = typer.Option(False, "--no-report", help="skip the fit report (OUT.fit.png, OUT.fit.html)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output file"),
):
    """Estimate drifts, vols, the decline regime, Vasicek/OU and correlations (each with its SE) from data."""
    if out.exists() and not overwrite:
        fail(f"--out {out}: exists (use --overwrite)")
    if not out.parent.exists():
        fail(f"--out {out}: folder {out.parent} does not exist")
    base_market = None
    if base is not None:
        base_market = _load(base).market.model_dump()
    if decline_years is not None and not 0 <= decline_years <= 30:
        fail(f"--decline-years: must be in [0, 30], got {decline_years}")
    try:
        md = read_market_data(data, city=city, start=start)
        cal = run_calibration(md, base=base_market, decline_years=decline_years)
        text = market_toml(cal, uncertainty=not no_uncertainty, paths_per_draw=paths_per_draw)
        Market(**tomllib.loads(text)["market"])  # the block must validate as written
    except ScenarioError as exc:
        fail(str(exc).replace("\n", "; "))
    except (ValueError, tomllib.TOMLDecodeError) as exc:  # pragma: no cover - a bug, but still one line
        fail(f"{data}: the calibrated block does not validate: {str(exc).splitlines()[0]}")
    _write_atomic(out, text.encode("utf-8"))
    written = [str(out)]
    if not no_report:
        png = figure_png(fit_figure(cal))
        stem = out.with_suffix("")
        _write_atomic(Path(f"{stem}.fit.png"), png)
        _write_atomic(Path(f"{stem}.fit.html"), calibration_page(cal, png).encode("utf-8"))
        written += [f"{stem}.fit.png", f"{stem}.fit.html"]
    for n in cal.notes:
        console.print(f"note: {n}", highlight=False, markup=False)
    lo, hi = cal.window
    console.print(f"calibrated {data} ({cal.city or 'one city'}, {lo} – {hi}); written: {', '.join(written)}",
                  highlight=False, markup=False)
