"""What every command shares: the Typer app, the consoles, one-line failures, loading a scenario, the progress bar.

Command line: ``baozhang run | check | …`` (Typer + rich).

Exit codes: 0 ok, 1 findings (policy breaches from ``check``), 2 bad input (one line naming the file, the
field and the problem; never a traceback for a user mistake), 3 the run failed on the Dask cluster (one line
naming the failed chunk and its error, or the missing workers).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from baozhang_finance import __version__
from baozhang_finance.model.support import with_conventions
from baozhang_finance.model.scenario import ScenarioError, load_scenario
from baozhang_finance.run.dask_backend import DaskBackendError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,  # help text as written: [market]
                  help="baozhang-finance: does an affordable-housing acquisition programme pay for itself?")
console = Console()
err_console = Console(stderr=True)


class UserError(Exception):
    """A user mistake: printed as one line, exit code 2."""


def fail(message: str, code: int = 2) -> None:
    """Print ``error: MESSAGE`` (the user's text literally: no markup, no :emoji: codes) and exit ``code``."""
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True,
                      emoji=False, markup=False)
    raise typer.Exit(code)


@contextmanager
def user_errors(where: object) -> Iterator[None]:
    """What a command's work may raise, as one line prefixed by ``where`` (the scenario file): a ScenarioError
    (bad input, a target no value meets) exits 2, a DaskBackendError (a run failed on the cluster, no workers,
    a lost scheduler) exits 3, a FileExistsError (the output folder appeared meanwhile) exits 2."""
    try:
        yield
    except ScenarioError as exc:
        fail(f"{where}: {exc}".replace("\n", "; "))
    except DaskBackendError as exc:
        fail(f"{where}: {exc}".replace("\n", "; "), code=3)
    except FileExistsError as exc:
        fail(str(exc))
    except OSError as exc:  # a full disk, a folder made read-only meanwhile: nothing half-written is left
        fail(f"cannot write {exc.filename or 'the output'} ({exc.strerror or type(exc).__name__}); nothing was "
             f"written for {where}")


def say(text: str) -> None:
    """Print a line of text literally (user-supplied names and paths are not read as markup)."""
    console.print(text, markup=False)


def _load(path: Path, conventions: str | None = None):
    """Load and validate a scenario; ``conventions`` (``--conventions``) replaces ``support.conventions``."""
    try:
        return with_conventions(load_scenario(path), conventions)
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


@contextmanager
def showing(bar) -> Iterator[None]:
    """Show a progress bar (None: nothing) while the block runs; it is removed even when the block fails."""
    if bar is not None:
        bar.start()
    try:
        yield
    finally:
        if bar is not None:
            bar.stop()


def finish_run(result, where, out, writers, overwrite: bool, as_json: bool, quiet: bool, printer) -> None:
    """Save the run folder (atomically, with ``writers``), then print the summary as JSON or through ``printer``."""
    if out is not None:
        with user_errors(where):
            result.save(out, extra_writers=writers, overwrite=overwrite)
    if as_json:
        sys.stdout.write(json.dumps(result.summary, indent=2, ensure_ascii=False) + "\n")
    elif not quiet:
        printer(result)
        if out is not None:
            say(f"written: {out}")


def _progress_bar(quiet: bool, total: int | None = None):
    """A rich progress callback on a terminal; None (silent) in pipes, CI or --quiet. ``total`` (the paths) shows
    from the start, so a one-chunk run reads "0/10,000" and an elapsed clock rather than "0/?".

    ``BAOZHANG_PROGRESS=lines`` prints one plain line per tick to stderr instead (``progress DONE/TOTAL``), even in
    a pipe: what a supervising program (or a test) waits for to know the run is under way."""
    if os.environ.get("BAOZHANG_PROGRESS") == "lines":
        def lines(done: int, total: int) -> None:
            sys.stderr.write(f"progress {done}/{total}\n")
            sys.stderr.flush()

        return None, lines
    if quiet or not sys.stderr.isatty() or os.environ.get("CI"):
        return None, None
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    bar = Progress(SpinnerColumn(), TextColumn("paths"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                   console=err_console, transient=True)
    task = bar.add_task("run", total=total, rate="")
    t0 = time.perf_counter()

    def cb(done: int, total: int) -> None:
        el = max(time.perf_counter() - t0, 1e-9)
        bar.update(task, completed=done, total=total, rate=f"{done / el:,.0f} paths/s")

    return bar, cb


