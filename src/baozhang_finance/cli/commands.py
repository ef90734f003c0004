"""The commands that run or read one scenario: ``run``, ``check``, ``compare``, ``report``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from baozhang_finance.cli.common import _load, _progress_bar, app, console, err_console, fail
from baozhang_finance.model.scenario import ScenarioError

@app.command()
def run(
    scenario: Path = typer.Argument(..., help="scenario TOML file"),
    paths: Optional[int] = typer.Option(None, "--paths", "-n", help="Monte Carlo paths (default: the scenario's)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="master seed (default: the scenario's)"),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="paths per chunk"),
    workers: int = typer.Option(1, "--workers", "-w", help="worker processes (results do not depend on it)"),
    backend: str = typer.Option("serial", "--backend", help="serial | processes | dask"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (backend dask)"),
    stress: Optional[str] = typer.Option(None, "--stress", help="name of a stress overlay in the scenario"),
    deterministic: bool = typer.Option(False, "--deterministic", help="one path, market on its expected path"),
    target_se: Optional[float] = typer.Option(None, "--target-se", help="add chunks until P(call) SE ≤ this"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (written atomically)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output folder"),
    no_reports: bool = typer.Option(False, "--no-reports", help="skip report.xlsx, report.html and charts"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar, no table"),
    as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
):
    """Simulate a scenario and print the three-lens summary."""
    from baozhang_finance.run.simulate import simulate

    sc = _load(scenario)
    if out is not None and out.exists() and not overwrite and out.is_dir() and any(out.iterdir()):
        fail(f"--out {out}: folder exists and is not empty (use --overwrite)")
    if out is not None and out.exists() and not out.is_dir():
        fail(f"--out {out}: exists and is not a folder")
    if stress is not None and stress not in [s.name for s in sc.market.stresses]:
        fail(f"{scenario}: market.stresses: no stress named {stress!r} "
             f"(have {[s.name for s in sc.market.stresses]})")
    if paths is not None and paths < 1:
        fail(f"--paths: must be >= 1, got {paths}")
    client = None
    backend_errors: tuple = ()
    if backend == "dask":
        from baozhang_finance.run.dask_backend import DaskBackendError, make_client

        backend_errors = (DaskBackendError,)
        try:
            client = make_client(scheduler, workers)
        except (ImportError, DaskBackendError) as exc:
            fail(str(exc))
    bar, cb = _progress_bar(quiet or as_json)
    try:
        if bar is not None:
            bar.start()
        try:
            result = simulate(sc, paths=paths, seed=seed, chunk_size=chunk_size, workers=workers, backend=backend,
                              stress=stress, deterministic=deterministic, target_se=target_se, progress=cb,
                              client=client)
        finally:
            if bar is not None:
                bar.stop()
    except ScenarioError as exc:
        fail(f"{scenario}: {exc}")
    except backend_errors as exc:  # a chunk failed on the cluster, no workers, lost scheduler
        fail(f"{scenario}: {exc}", code=3)
    finally:
        if client is not None:
            client.close()
    if out is not None:
        writers = ()
        if not no_reports:
            try:
                from baozhang_finance.report.html import report_writers

                writers = report_writers()
            except ImportError:
                writers = ()
        result.save(out, extra_writers=writers, overwrite=overwrite)
    if as_json:
        sys.stdout.write(json.dumps(result.summary, indent=2, ensure_ascii=False) + "\n")
    elif not quiet:
        from baozhang_finance.report.tables import print_summary

        print_summary(result, console)
        if out is not None:
            console.print(f"written: {out}")


@app.command()
def check(scenario: Path = typer.Argument(..., help="scenario TOML file")):
    """Validate a scenario and apply the policy rules of its documents (exit 1 on findings)."""
    sc = _load(scenario)
    try:
        from baozhang_finance.model.compliance import check_scenario, print_findings
    except ImportError:
        console.print(f"{scenario}: valid scenario ({len(sc.projects)} projects)")
        return
    try:
        findings = check_scenario(sc)
    except ScenarioError as exc:  # e.g. an unknown name in policy.rule_sets
        fail(f"{scenario}: {exc}")
    print_findings(sc, findings, console, source=str(scenario))
    raise typer.Exit(1 if findings else 0)


@app.command()
def compare(
    scenarios: list[Path] = typer.Argument(..., help="scenario TOML files"),
    paths: int = typer.Option(2_000, "--paths", "-n", help="Monte Carlo paths per scenario (same for all)"),
    seed: int = typer.Option(20251124, "--seed", help="master seed (same for all)"),
    chunk_size: int = typer.Option(10_000, "--chunk-size", help="paths per chunk (same for all)"),
    csv_file: Optional[Path] = typer.Option(None, "--csv", help="also write the table (raw numbers) to this CSV file"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no table"),
):
    """Run several scenarios with the same paths and seed; one table of the headline numbers."""
    from baozhang_finance.analysis.compare import compare_scenarios, write_csv
    from baozhang_finance.report.tables import print_comparison

    if paths < 1:
        fail(f"--paths: must be >= 1, got {paths}")
    if chunk_size < 1:
        fail(f"--chunk-size: must be >= 1, got {chunk_size}")
    if csv_file is not None and (csv_file.is_dir() or not csv_file.parent.exists()):
        fail(f"--csv {csv_file}: not a writable file path")
    loaded = [(p.stem, _load(p)) for p in scenarios]
    names = [n for n, _ in loaded]
    if len(set(names)) != len(names):
        loaded = [(str(p), sc) for p, (_, sc) in zip(scenarios, loaded)]
    show = None if quiet or not sys.stderr.isatty() else (lambda name: err_console.print(f"running {name} …"))
    rows = compare_scenarios(loaded, paths=paths, seed=seed, chunk_size=chunk_size, progress=show)
    if not quiet:
        print_comparison(rows, console, paths=paths, seed=seed, chunk_size=chunk_size)
    if csv_file is not None:
        write_csv(rows, csv_file)
        if not quiet:
            console.print(f"written: {csv_file}")


#: files a run folder must hold for ``baozhang report``
RUN_FILES = ("summary.json", "scenario.json", "run.json", "paths.parquet", "ledgers.npz")


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="a run folder written by `baozhang run --out`"),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="write the reports to this folder instead of RUN_DIR (atomically)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --out folder"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no table"),
    as_json: bool = typer.Option(False, "--json", help="print the run's summary.json to stdout"),
):
    """Re-render report.xlsx, report.html and charts/ from a saved run (no new simulation)."""
    if not run_dir.exists():
        fail(f"{run_dir}: no such run folder")
    if not run_dir.is_dir():
        fail(f"{run_dir}: not a folder (give the folder written by `baozhang run --out`)")
    missing = [f for f in RUN_FILES if not (run_dir / f).is_file()]
    if missing:
        fail(f"{run_dir}: not a run folder (missing {', '.join(missing)})")
    if out is not None and out.exists():
        if not out.is_dir():
            fail(f"--out {out}: exists and is not a folder")
        if any(out.iterdir()) and not overwrite:
            fail(f"--out {out}: folder exists and is not empty (use --overwrite)")
        if out.resolve() == run_dir.resolve():
            out = None
    from baozhang_finance.report.html import render_reports
    from baozhang_finance.run.result import Result

    docs = {}
    for name in ("summary.json", "scenario.json", "run.json"):
        try:
            docs[name] = json.loads((run_dir / name).read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            fail(f"{run_dir / name}: cannot read it ({type(exc).__name__}: {exc})")
    saved = docs["summary.json"]
    try:
        result = Result.load(run_dir)
    except ScenarioError as exc:
        fail(f"{run_dir}/scenario.json: {exc}".replace("\n", "; "))
    except Exception as exc:  # a damaged or foreign folder: one line, not a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        fail(f"{run_dir}: cannot read the saved run ({type(exc).__name__}: {first})")
    target = render_reports(run_dir, out=out, result=result)
    if as_json:
        sys.stdout.write(json.dumps(saved, indent=2, ensure_ascii=False) + "\n")
    elif not quiet:
        from baozhang_finance.report.tables import print_summary

        print_summary(result, console)
        console.print(f"written: {target / 'report.html'}, {target / 'report.xlsx'}, {target / 'charts'}")


