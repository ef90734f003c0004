"""Command line: ``baozhang run | check | compare | report | sweep | tornado | sobol | solve | calibrate`` (Typer + rich).

Exit codes: 0 ok, 1 findings (policy breaches from ``check``), 2 bad input (one line naming the file, the
field and the problem; never a traceback for a user mistake), 3 the run failed on the Dask cluster.
``common`` declares the app and what the commands share; ``commands`` and ``analysis`` register on it.
"""

from __future__ import annotations

import logging
import signal
import sys
import warnings

import typer

try:  # Typer >= 0.26 vendors click as typer._click; older Typer uses click itself
    from typer._click import exceptions as cx
except ImportError:  # pragma: no cover
    from click import exceptions as cx

from baozhang_finance.cli import analysis, calibrate, commands, inputs, serve  # noqa: F401  (register the commands on `app`)
from baozhang_finance.cli.common import app, console, err_console

__all__ = ["app", "main"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so every clean-up path runs; exit code 143."""


_SIGTERM_RECEIVED = False


def _quiet_dask_shutdown(*loggers: str) -> None:
    """What an interrupted Dask run prints on its way out — distributed's and tornado's errors, and the
    "coroutine … was never awaited" warning of the tornado future the signal cut short — is the interruption
    itself, not news for the user."""
    for name in loggers:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message=r"coroutine .* was never awaited", category=RuntimeWarning)


def _on_sigterm(signum, frame):  # pragma: no cover - exercised in a subprocess by tests/test_signals.py
    global _SIGTERM_RECEIVED
    _SIGTERM_RECEIVED = True
    # SIGTERM to the process group also ends the Dask workers: the scheduler's "lost worker" errors are the
    # shutdown itself, not news for the user
    _quiet_dask_shutdown("distributed")
    raise Terminated()


def _on_sigint(signum, frame):  # pragma: no cover - exercised in a subprocess by tests/test_signals.py
    # Ctrl-C reaches the whole process group, Dask's workers too; when it lands inside one of distributed's
    # blocking calls, distributed's own clean-up callback fails (a NameError in ``utils.sync``'s ``cancel``,
    # printed by tornado as a traceback). Those errors are the interruption itself, not news for the user.
    _quiet_dask_shutdown("distributed", "tornado.application")
    raise KeyboardInterrupt()


def _terminated(exc: BaseException) -> bool:
    # click turns KeyboardInterrupt into Abort, so the flag, not the exception type, tells SIGTERM from Ctrl-C
    return _SIGTERM_RECEIVED or isinstance(exc, Terminated)


def main() -> None:  # console script
    """Run the app; usage mistakes (unknown option, missing argument, bad value) print one line, exit 2.

    SIGINT (Ctrl-C) and SIGTERM stop every backend, workers included, and exit 130 and 143."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        previous_int = signal.signal(signal.SIGINT, _on_sigint) \
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler else None
    except ValueError:  # not the main thread (an embedding application): leave SIGTERM and SIGINT alone
        previous = previous_int = None
    try:
        _run_app()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)


def _run_app() -> None:
    no_args = getattr(cx, "NoArgsIsHelpError", ())

    try:
        rv = app(prog_name="baozhang", standalone_mode=False)
    except no_args as exc:
        console.print(exc.ctx.get_help() if exc.ctx else str(exc), highlight=False, markup=False)
        sys.exit(0)
    except cx.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "baozhang"
        msg = exc.format_message().replace("\n", " ").strip().rstrip(".")
        fail_line = f"error: {msg} (see '{where} --help')"
        err_console.print(fail_line, highlight=False, soft_wrap=True, markup=False)
        sys.exit(2)
    except cx.ClickException as exc:
        err_console.print(f"error: {exc.format_message()}", highlight=False, soft_wrap=True, markup=False)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt) as exc:
        if _terminated(exc):
            err_console.print("terminated", highlight=False, markup=False)
            sys.exit(143)
        err_console.print("interrupted", highlight=False, markup=False)
        sys.exit(130)
    if rv == 130 and _SIGTERM_RECEIVED:  # Typer returns 130 for an abort outside standalone mode
        err_console.print("terminated", highlight=False, markup=False)
        sys.exit(143)
    if rv == 130:
        err_console.print("interrupted", highlight=False, markup=False)
    sys.exit(rv if isinstance(rv, int) else 0)
