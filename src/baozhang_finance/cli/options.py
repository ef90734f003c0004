"""The command-line options the commands share, declared once: name, short flag, help text and validation.

Each is an ``Annotated`` Typer type; a command takes it as a parameter and gives its own default as the function
default (``paths: Paths = SWEEP_PATHS``). Validation lives here too, one line naming the option, exit 2:
paths ≥ 1, seed in [0, 2**63), chunk size ≥ 1, workers ≥ 1, Dask workers ≥ 0, target SE in (0, 0.5] (as
option callbacks), the language (``--lang`` zh | en | both, default ``$BAOZHANG_LANG``, else both), and the output folder (:func:`check_out`, which needs ``--overwrite`` too).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from baozhang_finance.cli.common import fail
from baozhang_finance.report.format import LANG_ENV, LANGS, lang_of
from baozhang_finance.run.atomic import why_not_replaceable
from baozhang_finance.run.settings import SEED_LIMIT


def _at_least(option: str, low: int):
    def check(value):
        if value is not None and value < low:
            fail(f"{option}: must be >= {low}, got {value}")
        return value

    return check


def _seed(value):
    if value is not None and not 0 <= value < SEED_LIMIT:
        fail(f"--seed: must be >= 0 and < 2**63, got {value}")
    return value


def _target_se(value):
    if value is not None and not 0 < value <= 0.5:
        fail(f"--target-se: must lie in (0, 0.5], got {value}")
    return value


def _backend(value):
    if value is not None and value not in ("serial", "processes", "dask"):
        fail(f"--backend: must be serial, processes or dask, got {value!r}")
    return value


def _conventions(value):
    if value is not None and value not in ("default", "legacy"):
        fail(f"--conventions: must be default or legacy, got {value!r}")
    return value


def _lang(value):
    """--lang, else $BAOZHANG_LANG, else both: the one language setting of every report and table."""
    try:
        return lang_of(value.strip().lower() if isinstance(value, str) else value)
    except ValueError:
        where = "--lang" if value else LANG_ENV
        fail(f"{where}: must be zh, en or both, got {value or os.environ.get(LANG_ENV)!r}")


ScenarioFile = Annotated[Path, typer.Argument(help="scenario TOML file")]
Paths = Annotated[Optional[int], typer.Option(
    "--paths", "-n", callback=_at_least("--paths", 1),
    help="Monte Carlo paths per simulation (every value / run / evaluation of an analysis; run: default the "
         "scenario's)")]
Seed = Annotated[Optional[int], typer.Option(
    "--seed", callback=_seed, help="master seed, the same for every simulation (default: the scenario's)")]
ChunkSize = Annotated[Optional[int], typer.Option(
    "--chunk-size", callback=_at_least("--chunk-size", 1),
    help="paths per chunk, the same for every simulation (default: the scenario's)")]
Conventions = Annotated[Optional[str], typer.Option(
    "--conventions", callback=_conventions,
    help="default | legacy: replace the scenario's support.conventions (legacy = the first version's: SOE money "
         "on special bonds, a pot that never refills, automatic relending step-up, no cure)")]
Stress = Annotated[Optional[str], typer.Option("--stress", help="name of a stress overlay in the scenario")]
Deterministic = Annotated[bool, typer.Option("--deterministic", help="one path, market on its expected path")]
Out = Annotated[Optional[Path], typer.Option("--out", "-o", help="output folder (written atomically)")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="replace an existing output folder")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress, no table")]
Json = Annotated[bool, typer.Option("--json", help="print the result as JSON to stdout")]
DaskWorkers = Annotated[int, typer.Option(
    "--dask-workers", callback=_at_least("--dask-workers", 0),
    help="fan the runs out over a local Dask cluster of N worker processes (0: run them in this process)")]
Scheduler = Annotated[Optional[str], typer.Option("--scheduler", help="address of a Dask scheduler to run on")]
def _choice(name: str, value, allowed):
    if value is not None and value not in allowed:
        raise typer.BadParameter(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value


Workers = Annotated[int, typer.Option("--workers", "-w", callback=_at_least("--workers", 1),
                                      help="worker processes: N > 1 alone runs N local processes (results do not "
                                           "depend on it)")]
Backend = Annotated[Optional[str], typer.Option(
    "--backend", callback=_backend,
    help="serial | processes | dask (default: processes when --workers > 1, else serial)")]
Sampling = Annotated[Optional[str], typer.Option(
    "--sampling", callback=lambda v: _choice("--sampling", v, ("mc", "antithetic", "rqmc")),
    help="mc | antithetic | rqmc: how the shocks are drawn (default: the scenario's simulation.sampling); "
         "the standard errors follow it")]
ControlVariates = Annotated[Optional[bool], typer.Option(
    "--control-variates/--no-control-variates", show_default=False,
    help="mc only: adjust P(call), E[hidden-debt PV], E[bond-burden PV] and P(self-financing) by the market drivers' "
         "deviations from their expected paths (known mean 0), with their SEs (default: the scenario's "
         "simulation.control_variates)")]
TargetSE = Annotated[Optional[float], typer.Option("--target-se", callback=_target_se,
                                                   help="add chunks until SE(P(call)) ≤ this and SE(E[hidden-debt PV]) ≤ "
                                                        "this × its mean, or 1,000,000 paths (or the run's --paths "
                                                        "if larger) are reached; run.json says whether the target "
                                                        "was reached (target_se_reached)")]
Metrics = Annotated[Optional[list[str]], typer.Option(
    "--metric", "-m", help="metric(s) to report or rank by (repeat or comma-separate; see docs/sensitivity.md)")]
Rel = Annotated[float, typer.Option("--rel", help="relative low/high of inputs with a relative default range")]
Ranges = Annotated[Optional[list[str]], typer.Option("--range", help="FIELD=low,high: replace or add an input's "
                                                                     "range")]


Lang = Annotated[Optional[str], typer.Option(
    "--lang", callback=_lang, show_default=False,
    help=f"language of the tables, reports and charts: {' | '.join(LANGS)} (default: ${LANG_ENV}, else both)")]


def check_out(out: Optional[Path], overwrite: bool, option: str = "--out", inputs=()) -> None:
    """The output folder can be written: not a file, empty unless ``--overwrite`` — which replaces only an earlier
    output folder, never the current folder, one holding ``inputs`` or a folder of the user's own files
    (:func:`~baozhang_finance.run.atomic.why_not_replaceable`) — and a folder can really be made in its nearest
    existing parent (a probe folder is created and removed: permission bits alone do not tell a read-only or
    pseudo file system, nor root's rights)."""
    if out is None:
        return
    if out.exists() and not out.is_dir():
        fail(f"{option} {out}: exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        fail(f"{option} {out}: folder exists and is not empty (use --overwrite to replace an earlier output folder)")
    why = why_not_replaceable(out, inputs)
    if why is not None:
        fail(f"{option} {out}: {why}")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        fail(f"{option} {out}: cannot be created ({parent} is not a writable folder)")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".baozhang-probe-", dir=parent))
    except OSError as exc:
        fail(f"{option} {out}: cannot be created in {parent} ({exc.strerror or type(exc).__name__})")
