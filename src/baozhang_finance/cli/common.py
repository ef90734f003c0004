"""What every command shares: the Typer app, the consoles, one-line failures, loading a scenario, the progress bar.

Command line: ``baozhang run | check | …`` (Typer + rich).

Exit codes: 0 ok, 1 findings (policy breaches from ``check``), 2 bad input (one line naming the file, the
field and the problem; never a traceback for a user mistake), 3 the run failed on the Dask cluster (one line
naming the failed chunk and its error, or the missing workers).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from baozhang_finance import __version__
from baozhang_finance.model.scenario import ScenarioError, load_scenario

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="baozhang-finance: does an affordable-housing acquisition programme pay for itself?")
console = Console()
err_console = Console(stderr=True)


class UserError(Exception):
    """A user mistake: printed as one line, exit code 2."""


def fail(message: str, code: int = 2) -> None:
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _load(path: Path):
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        fail(str(exc).replace("\n", "; "))


def _version(value: bool):
    if value:
        console.print(f"baozhang-finance {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")):
    """baozhang-finance command line."""


def _progress_bar(quiet: bool):
    """A rich progress callback on a terminal; None (silent) in pipes, CI or --quiet."""
    import os

    if quiet or not sys.stderr.isatty() or os.environ.get("CI"):
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("paths"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                   TimeRemainingColumn(), console=err_console, transient=True)
    task = bar.add_task("run", total=None, rate="")
    import time

    t0 = time.perf_counter()

    def cb(done: int, total: int) -> None:
        el = max(time.perf_counter() - t0, 1e-9)
        bar.update(task, completed=done, total=total, rate=f"{done / el:,.0f} paths/s")

    return bar, cb


