"""The commands that run or read one scenario: ``run``, ``check``, ``compare``, ``report``.

Each: parse (shared options from :mod:`.options`) → call → save → print → exit code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from baozhang_finance.analysis.compare import compare_scenarios, write_csv
from baozhang_finance.cli.common import (_load, _progress_bar, app, console, err_console, fail, finish_run, say,
                                         showing, user_errors)
from baozhang_finance.cli.options import (
    Conventions,
    Backend,
    Sampling,
    ControlVariates,
    ChunkSize,
    Deterministic,
    Lang,
    Out,
    Overwrite,
    Paths,
    Quiet,
    ScenarioFile,
    Scheduler,
    Seed,
    Stress,
    TargetSE,
    Workers,
    check_out,
)
from baozhang_finance.cli import province
from baozhang_finance.model.compliance import check_scenario, plausibility_warnings
from baozhang_finance.model.portfolio import is_portfolio_file
from baozhang_finance.model.scenario import ScenarioError
from baozhang_finance.report.html import render_reports, report_writers
from baozhang_finance.report.tables import print_comparison, print_findings, print_summary
from baozhang_finance.report.notes import pv_rates
from baozhang_finance.run.dask_backend import DaskBackendError, make_client
from baozhang_finance.run.result import Result
from baozhang_finance.run.settings import COMPARE_CHUNK_SIZE, COMPARE_PATHS, COMPARE_SEED
from baozhang_finance.run.simulate import simulate


def _check_stress(scenario: Path, sc, stress: Optional[str]) -> None:
    if stress is not None and stress not in [s.name for s in sc.market.stresses]:
        fail(f"{scenario}: market.stresses: no stress named {stress!r} "
             f"(have {[s.name for s in sc.market.stresses]})")


def _dask_client(backend: str, scheduler: Optional[str], workers: int):
    if backend != "dask":
        return None
    try:
        return make_client(scheduler, workers)
    except (ImportError, DaskBackendError) as exc:
        fail(str(exc))


@app.command()
def run(
    scenario: ScenarioFile,
    paths: Paths = None,
    seed: Seed = None,
    chunk_size: ChunkSize = None,
    workers: Workers = 1,
    backend: Backend = None,
    scheduler: Scheduler = None,
    stress: Stress = None,
    deterministic: Deterministic = False,
    target_se: TargetSE = None,
    out: Out = None,
    overwrite: Overwrite = False,
    no_reports: bool = typer.Option(False, "--no-reports", help="skip report.xlsx, report.html and charts"),
    quiet: Quiet = False,
    as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
    conventions: Conventions = None,
    lang: Lang = None,
    sampling: Sampling = None,
    control_variates: ControlVariates = None,
    stream: Optional[bool] = typer.Option(
        None, "--stream/--no-stream", show_default=False,
        help="write the per-path table and yearly ledgers to Parquet chunk by chunk, so memory does not grow with "
             "the paths (default: from 200,000 paths on); same numbers either way"),
):
    """Simulate a scenario and print the three-lens summary (a portfolio file, with [portfolio]: every city)."""
    if is_portfolio_file(scenario):
        province.refuse_options(scenario, {"--deterministic": deterministic, "--target-se": target_se,
                                           "--sampling": sampling, "--control-variates": control_variates,
                                           "--stream/--no-stream": stream})
        check_out(out, overwrite, inputs=(scenario,))
        client = _dask_client(backend, scheduler, workers)
        try:
            return province.run_portfolio(scenario, paths, seed, chunk_size, workers, backend, client, out,
                                          overwrite, no_reports, quiet, as_json, lang, stress, conventions)
        finally:
            if client is not None:
                client.close()
    sc = _load(scenario, conventions)
    if control_variates is not None:
        sc = sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"control_variates": control_variates})})
    check_out(out, overwrite, inputs=(scenario,))
    _check_stress(scenario, sc, stress)
    if not as_json and not quiet:
        _warn_implausible(scenario, sc)
    client = _dask_client(backend, scheduler, workers)
    n_paths = 1 if deterministic else (paths if paths is not None else sc.simulation.paths)
    n_chunk = max(chunk_size if chunk_size is not None else sc.simulation.chunk_size, 1)
    bar, cb = _progress_bar(quiet or as_json, total=None if target_se is not None else n_paths)
    if bar is None and not (quiet or as_json):  # not a terminal: say what is running, once, rather than nothing
        n_chunks = -(-n_paths // n_chunk)
        err_console.print(f"running {n_paths:,} paths in {n_chunks:,} chunk{'s' if n_chunks != 1 else ''} of "
                          f"{min(n_chunk, n_paths):,} …", highlight=False)
    try:
        with user_errors(scenario), showing(bar):
            result = simulate(sc, paths=paths, seed=seed, chunk_size=chunk_size, workers=workers,
                              backend=backend, stress=stress, deterministic=deterministic, target_se=target_se,
                              progress=cb, client=client, sampling=sampling, stream=stream)
    finally:
        if client is not None:
            client.close()
    if target_se is not None and result.run.get("target_se_reached") is False and not as_json:
        err_console.print(f"warning: --target-se {target_se:g} not reached in {result.run['paths']:,} paths (the cap, "
                          f"max_paths); the standard errors reported are larger / 未达到目标标准误", highlight=False)
    finish_run(result, scenario, out, () if no_reports else report_writers(lang), overwrite, as_json, quiet,
               lambda r: print_summary(r, console, lang))


@app.command()
def check(scenario: ScenarioFile, conventions: Conventions = None, lang: Lang = None):
    """Validate a scenario and apply the policy rules of its documents (exit 1 on findings); a portfolio file:
    the portfolio and every city."""
    if is_portfolio_file(scenario):
        province.check_portfolio(scenario, lang)
    sc = _load(scenario, conventions)
    with user_errors(scenario):  # e.g. an unknown name in policy.rule_sets
        findings = check_scenario(sc)
    print_findings(sc, findings, console, source=str(scenario), lang=lang)
    _warn_implausible(scenario, sc)
    raise typer.Exit(1 if findings else 0)


def _warn_implausible(source, sc) -> None:
    """The values that look like a unit mistake (:func:`~baozhang_finance.model.compliance.plausibility_warnings`),
    one ``warning:`` line each on stderr; they change no exit code."""
    for w in plausibility_warnings(sc):
        err_console.print(f"warning: {source}: {w}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def compare(
    scenarios: list[Path] = typer.Argument(..., help="scenario TOML files"),
    paths: Paths = COMPARE_PATHS,
    seed: Seed = COMPARE_SEED,
    chunk_size: ChunkSize = COMPARE_CHUNK_SIZE,
    csv_file: Optional[Path] = typer.Option(None, "--csv", help="also write the table (raw numbers) to this CSV file"),
    quiet: Quiet = False,
    conventions: Conventions = None,
    lang: Lang = None,
):
    """Run several scenarios with the same paths and seed; one table of the headline numbers."""
    if csv_file is not None and (csv_file.is_dir() or not csv_file.parent.exists()):
        fail(f"--csv {csv_file}: not a writable file path")
    portfolios = [p for p in scenarios if is_portfolio_file(p)]
    for p in portfolios:  # `compare scenarios/*.toml` meets scenarios/liaoning_province.toml
        err_console.print(f"skipped {p}: a portfolio file (run it with `baozhang run {p}`)", markup=False, highlight=False)
    scenarios = [p for p in scenarios if p not in portfolios]
    if not scenarios:
        fail("compare: no scenario files left once the portfolio files are skipped")
    loaded = [(p.stem, _load(p, conventions)) for p in scenarios]
    names = [n for n, _ in loaded]
    if len(set(names)) != len(names):
        loaded = [(str(p), sc) for p, (_, sc) in zip(scenarios, loaded)]
    show = None if quiet or not sys.stderr.isatty() else (
        lambda name: err_console.print(f"running {name} …", markup=False))
    with user_errors("compare"):
        rows = compare_scenarios(loaded, paths=paths, seed=seed, chunk_size=chunk_size, progress=show)
    if not quiet:
        print_comparison(rows, console, paths=paths, seed=seed, chunk_size=chunk_size, lang=lang,
                         fiscal_rates=[pv_rates(sc)[0] for _, sc in loaded])
    if csv_file is not None:
        write_csv(rows, csv_file)
        if not quiet:
            say(f"written: {csv_file}")


#: files a run folder must hold for ``baozhang report`` (and one of LEDGER_FILES)
RUN_FILES = ("summary.json", "scenario.json", "run.json", "paths.parquet")
#: the yearly ledgers: ledgers.npz (a run held in memory) or ledgers.parquet (a streamed run, run/store.py)
LEDGER_FILES = ("ledgers.npz", "ledgers.parquet")


def _check_run_dir(run_dir: Path) -> dict:
    """The saved run folder is complete and its JSON documents readable; returns its summary.json."""
    if not run_dir.exists():
        fail(f"{run_dir}: no such run folder")
    if not run_dir.is_dir():
        fail(f"{run_dir}: not a folder (give the folder written by `baozhang run --out`)")
    if (run_dir / "cities.csv").is_file():
        fail(f"{run_dir}: a province run folder: `baozhang report` re-renders one scenario's run; run the portfolio "
             "again with --lang for its report in another language (the same seed gives the same numbers)")
    missing = [f for f in RUN_FILES if not (run_dir / f).is_file()]
    if not any((run_dir / f).is_file() for f in LEDGER_FILES):
        missing.append(" or ".join(LEDGER_FILES))
    if missing:
        fail(f"{run_dir}: not a run folder (missing {', '.join(missing)})")
    docs = {}
    for name in ("summary.json", "scenario.json", "run.json"):
        try:
            docs[name] = json.loads((run_dir / name).read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            fail(f"{run_dir / name}: cannot read it ({type(exc).__name__}: {exc})")
    return docs["summary.json"]


def _load_run(run_dir: Path) -> Result:
    try:
        return Result.load(run_dir)
    except ScenarioError as exc:
        fail(f"{run_dir}/scenario.json: {exc}".replace("\n", "; "))
    except Exception as exc:  # a damaged or foreign folder: one line, not a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        fail(f"{run_dir}: cannot read the saved run ({type(exc).__name__}: {first})")


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="a run folder written by `baozhang run --out`"),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="write the reports to this folder instead of RUN_DIR (atomically)"),
    overwrite: Overwrite = False,
    quiet: Quiet = False,
    as_json: bool = typer.Option(False, "--json", help="print the run's summary.json to stdout"),
    lang: Lang = None,
):
    """Re-render report.xlsx, report.html and charts/ from a saved run (no new simulation), in --lang."""
    saved = _check_run_dir(run_dir)
    if out is not None and out.resolve() == run_dir.resolve():
        out = None  # the run folder itself (`report . --out .`, `x/../run`): re-rendered in place
    check_out(out, overwrite, inputs=(run_dir,))
    result = _load_run(run_dir)
    target = render_reports(run_dir, out=out, result=result, lang=lang)
    if as_json:
        sys.stdout.write(json.dumps(saved, indent=2, ensure_ascii=False) + "\n")
    elif not quiet:
        print_summary(result, console, lang)
        say(f"written: {target / 'report.html'}, {target / 'report.xlsx'}, {target / 'charts'}")
