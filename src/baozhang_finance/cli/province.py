"""``baozhang run PORTFOLIO.toml`` and ``baozhang check PORTFOLIO.toml``: what the two commands do when the file
has a ``[portfolio]`` table (commands.py detects it and calls these). Parse → run → save → print → exit code."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import typer
from rich.console import Console

from baozhang_finance.cli.common import console, err_console, fail, finish_run, say, showing, user_errors
from baozhang_finance.model.compliance import check_scenario
from baozhang_finance.model.portfolio import load_portfolio
from baozhang_finance.model.scenario import ScenarioError
from baozhang_finance.report.province import print_province, province_writers
from baozhang_finance.report.tables import print_findings
from baozhang_finance.run.portfolio import simulate_portfolio


#: the width the province table prints at when stdout is not a terminal (a pipe, a file): rich would fall back to
#: 80 columns and cut the headers ("P(hidden-… call)") and wrap the measures' lines; at this width no header of
#: either language wraps, and no line is padded to it (the table keeps its own width)
PIPE_WIDTH = 400


def table_console() -> Console:
    """The console the province's table prints on: the terminal's own, or — when stdout is not a terminal — one
    :data:`PIPE_WIDTH` columns wide on the same stdout (no colour, as any console on a pipe)."""
    if console.is_terminal:
        return console
    return Console(file=sys.stdout, width=PIPE_WIDTH)


def load(path: Path):
    """The portfolio and its cities, or one located line and exit 2."""
    try:
        return load_portfolio(path)
    except ScenarioError as exc:
        fail(str(exc).replace("\n", "; "))


def progress_bar(quiet: bool, total: int):
    """A rich bar over the (city × chunk) tasks naming the city and chunk; ``BAOZHANG_PROGRESS=lines`` prints
    ``progress DONE/TOTAL city chunk`` lines instead; None when quiet or not a terminal."""
    if os.environ.get("BAOZHANG_PROGRESS") == "lines":
        def lines(done: int, total: int, city: str, chunk: int) -> None:
            sys.stderr.write(f"progress {done}/{total} {city} {chunk}\n")
            sys.stderr.flush()

        return None, lines
    if quiet or not sys.stderr.isatty() or os.environ.get("CI"):
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.fields[where]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err_console, transient=True)
    task = bar.add_task("run", total=total, where="city × chunk")
    t0 = time.perf_counter()

    def cb(done: int, total: int, city: str, chunk: int) -> None:
        bar.update(task, completed=done, total=total, where=f"{city} · chunk {chunk + 1} ({time.perf_counter() - t0:,.0f} s)")

    return bar, cb


def refuse_options(path: Path, given: dict) -> None:
    """The run options a portfolio does not take (decision 47): one located line and exit 2 for any that was given
    (``False`` / None: not given), rather than a run that silently ignores it."""
    for name, value in given.items():
        if value not in (None, False):
            fail(f"{path}: {name}: not for a portfolio file (a province runs every city with plain Monte Carlo "
                 "for the [portfolio] paths, and streams its cities to disk by itself when they are large; "
                 "--stress and --conventions apply to every city)")


def run_portfolio(path: Path, paths, seed, chunk_size, workers, backend, client, out, overwrite, no_reports,
                  quiet, as_json, lang, stress=None, conventions=None) -> None:
    """Simulate every city of the portfolio (under ``stress`` and ``conventions`` when given), save the folder
    (summary.json, cities.csv, report.html …), print."""
    pf = load(path)
    n_paths = paths or pf.spec.portfolio.paths
    n_chunk = chunk_size or pf.spec.portfolio.chunk_size
    total = (len(pf.cities) + bool(pf.spec.province.revenue_vol)) * -(-n_paths // n_chunk)  # + the province's tasks
    bar, cb = progress_bar(quiet or as_json, total)
    if bar is None and not (quiet or as_json):
        err_console.print(f"running {len(pf.cities)} cities × {n_paths:,} paths in {total:,} tasks …", highlight=False)
    with user_errors(path), showing(bar):
        result = simulate_portfolio(pf, paths=paths, seed=seed, chunk_size=chunk_size, workers=workers,
                                    backend=backend, client=client, progress=cb, stress=stress,
                                    conventions=conventions)
    finish_run(result, path, out, () if no_reports else province_writers(lang), overwrite, as_json, quiet,
               lambda r: print_province(r, table_console(), lang))


def check_portfolio(path: Path, lang) -> None:
    """Validate the portfolio and every city's scenario, and apply each city's policy rules (exit 1 on findings)."""
    pf = load(path)
    found = False
    for c in pf.cities:
        with user_errors(f"{path}: {c.name}"):
            findings = check_scenario(c.scenario)
        print_findings(c.scenario, findings, console, source=f"{path}: {c.name}", lang=lang)
        found = found or bool(findings)
    say(f"{path}: {len(pf.cities)} cities, regions {list(pf.regions)}: valid")
    raise typer.Exit(1 if found else 0)
