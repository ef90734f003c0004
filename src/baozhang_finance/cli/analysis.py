"""Command line of the sensitivity and solver tools: ``baozhang sweep | tornado | sobol | solve``.

Registered on :data:`baozhang_finance.cli.app` when :mod:`baozhang_finance.cli` is imported. Exit codes as the
rest of the CLI: 0 ok, 2 bad input or a target no value in the allowed range meets (one line, no traceback).
Output folders (``--out``) are written to a temporary folder and renamed at the end, like ``baozhang run``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from baozhang_finance.cli.common import _load, app, console, err_console, fail
from baozhang_finance.report import format as fmtr
from baozhang_finance.run.atomic import write_folder_atomically
from baozhang_finance.run.dask_backend import DaskBackendError
from baozhang_finance.model.scenario import ScenarioError


# ---------------------------------------------------------------------------------------------- helpers
def _open_client(scheduler: Optional[str], workers: int):
    """A Dask client when --scheduler or --dask-workers asks for one (closed when the process ends), else None."""
    if not scheduler and workers <= 0:
        return None
    if workers < 0:
        fail(f"--dask-workers: must be >= 0, got {workers}")
    from baozhang_finance.run.dask_backend import make_client

    try:
        client = make_client(scheduler, max(workers, 1))
    except ImportError as exc:
        fail(str(exc))
    import atexit

    atexit.register(client.close)
    return client


def _prepare(scenario: Path, out: Optional[Path], overwrite: bool, paths: int):
    """The checks every analysis command makes before simulating: load the scenario, the output folder, --paths."""
    sc = _load(scenario)
    _check_out(out, overwrite)
    if paths < 1:
        fail(f"--paths: must be >= 1, got {paths}")
    return sc


def _check_out(out: Optional[Path], overwrite: bool) -> None:
    if out is None:
        return
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        fail(f"--out {out}: folder exists and is not empty (use --overwrite)")


def _write_atomic(out: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp)`` in a temporary folder beside ``out`` and rename it into place."""
    write_folder_atomically(out, write)


def _savefig(ax, path: Path) -> None:
    fig = ax.figure
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    import matplotlib.pyplot as plt

    plt.close(fig)


def _agg() -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)


def _metrics(values: Optional[list[str]]) -> Optional[list[str]]:
    if not values:
        return None
    out = [m.strip() for v in values for m in v.split(",") if m.strip()]
    from baozhang_finance.analysis.sensitivity import get_metric

    for m in out:
        get_metric(m)
    return out


def _parse_set(text: str) -> tuple[str, list]:
    """``FIELD=v1,v2,…`` or ``FIELD=lo:hi:n`` (n evenly spaced values) → (field, values)."""
    from baozhang_finance.model.fields import parse_value

    if "=" not in text:
        raise ScenarioError(f"--set {text!r}: expected FIELD=v1,v2,… or FIELD=lo:hi:n")
    fld, rhs = text.split("=", 1)
    fld, rhs = fld.strip(), rhs.strip()
    if not fld or not rhs:
        raise ScenarioError(f"--set {text!r}: expected FIELD=v1,v2,… or FIELD=lo:hi:n")
    parts = rhs.split(":")
    if len(parts) == 3 and "," not in rhs:
        try:
            lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ScenarioError(f"--set {text!r}: lo:hi:n needs two numbers and a whole count") from None
        if n < 2:
            raise ScenarioError(f"--set {text!r}: n must be >= 2, got {n}")
        return fld, [float(v) for v in np.linspace(lo, hi, n)]
    vals = [parse_value(v) for v in rhs.split(",") if v.strip()]
    if not vals:
        raise ScenarioError(f"--set {text!r}: no values")
    return fld, vals


def _parse_ranges(items: Optional[list[str]]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for text in items or []:
        if "=" not in text:
            raise ScenarioError(f"--range {text!r}: expected FIELD=low,high")
        fld, rhs = text.split("=", 1)
        parts = [p.strip() for p in rhs.split(",")]
        try:
            lo, hi = float(parts[0]), float(parts[1])
            if len(parts) != 2:
                raise ValueError
        except (ValueError, IndexError):
            raise ScenarioError(f"--range {text!r}: expected FIELD=low,high with two numbers") from None
        out[fld.strip()] = (lo, hi)
    return out


def _fmt(v, key: Optional[str] = None) -> str:
    """A number as report/format.py prints it: by its catalogue ``key`` (``metric.p_call``, ``lever.grant``: %,
    万元, ratios) or, without one, a plain number (an input's value)."""
    return fmtr.number(v) if key is None else fmtr.fmt(key, v)


def _pm(key: str, v, se) -> str:
    """``value ± SE`` (one standard error) of a catalogue key."""
    return fmtr.pm(key, v, se)


def _span(key: str, lo, hi) -> str:
    return fmtr.span(key, lo, hi)


def _label(metric: str) -> str:
    return fmtr.label(f"metric.{metric}")


def _table(df, columns: list[str], title: str):
    from rich.table import Table

    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c, justify="right" if c not in ("field", "label", "group", "name", "metric") else "left",
                     overflow="fold")
    for _, row in df.iterrows():
        t.add_row(*[_fmt(row[c]) if not isinstance(row[c], str) else row[c] for c in columns])
    return t


def _progress(label: str, quiet: bool):
    """A one-line progress counter on stderr when it is a terminal (silent in pipes, CI, --quiet, --json)."""
    if quiet or not sys.stderr.isatty() or os.environ.get("CI"):
        return None

    def cb(done: int, total: int) -> None:
        err_console.print(f"{label}: {done}/{total} runs", end="\r", highlight=False)

    return cb


# ---------------------------------------------------------------------------------------------- sweep
@app.command()
def sweep(
    scenario: Path = typer.Argument(..., help="scenario TOML file"),
    set_: str = typer.Option(..., "--set", help="FIELD=v1,v2,… or FIELD=lo:hi:n; FIELD is a dotted path "
                             "(market.price_drift_annual, projects[0].rental.rent_ratio) or a balanced lever "
                             "(grant[k], equity_share[k], rent_ratio[k], price[k], loan[k])"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="metric(s) to report (repeat or "
                                               "comma-separate; default p_call, hidden_debt_pv, dscr_min_p05, pd, "
                                               "equity_irr_p50)"),
    paths: int = typer.Option(1000, "--paths", "-n", help="Monte Carlo paths per value"),
    seed: Optional[int] = typer.Option(None, "--seed", help="master seed, the same for every value (default: the scenario's)"),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="paths per chunk (same for every value)"),
    project: Optional[int] = typer.Option(None, "--project", "-k", help="project of a lever given without [k]"),
    stress: Optional[str] = typer.Option(None, "--stress", help="name of a stress overlay in the scenario"),
    deterministic: bool = typer.Option(False, "--deterministic", help="one path, market on its expected path"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="write sweep.csv, sweep.png, sweep.json here"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output folder"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no table"),
    dask_workers: int = typer.Option(0, "--dask-workers", help="fan the runs out over a local Dask cluster of "
                                     "N worker processes (0: run them in this process)"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="address of a Dask scheduler to fan "
                                            "the runs out to"),
    as_json: bool = typer.Option(False, "--json", help="print the table as JSON records"),
):
    """Metrics against the values of one input, every value on the same random draws (common random numbers)."""
    from baozhang_finance.analysis.sensitivity import DEFAULT_SWEEP_METRICS, sweep as run_sweep

    sc = _prepare(scenario, out, overwrite, paths)
    try:
        fld, values = _parse_set(set_)
        names = _metrics(metric) or list(DEFAULT_SWEEP_METRICS)
        if stress is not None:
            sc.stress(stress)
        client = _open_client(scheduler, dask_workers)
        df = run_sweep(sc, fld, values, client=client, paths=paths, seed=seed, metrics=names, chunk_size=chunk_size, stress=stress,
                       deterministic=deterministic, project=project, progress=_progress("sweep", quiet or as_json))
    except ScenarioError as exc:
        fail(f"{scenario}: {exc}".replace("\n", "; "))
    except DaskBackendError as exc:  # a run failed on the cluster, no workers, lost scheduler
        fail(f"{scenario}: {exc}".replace("\n", "; "), code=3)
    settings = {"scenario": str(scenario), "field": fld, "values": values, "metrics": names,
                "paths": 1 if deterministic else paths, "seed": seed if seed is not None else sc.simulation.seed,
                "chunk_size": chunk_size or sc.simulation.chunk_size, "stress": stress, "deterministic": deterministic}
    if out is not None:
        def write(tmp: Path) -> None:
            _agg()
            import matplotlib.pyplot as plt

            from baozhang_finance.analysis.sensitivity import plot_sweep

            df.to_csv(tmp / "sweep.csv", index=False)
            (tmp / "sweep.json").write_text(json.dumps(settings, indent=2, ensure_ascii=False))
            fig, axes = plt.subplots(len(names), 1, figsize=(7, 2.6 * len(names)), squeeze=False, sharex=True)
            for ax, m in zip(axes[:, 0], names):
                plot_sweep(df, m, ax=ax)
            _savefig(axes[0, 0], tmp / "sweep.png")

        _write_atomic(out, write)
    if as_json:
        sys.stdout.write(df.to_json(orient="records", force_ascii=False) + "\n")
    elif not quiet:
        show = df[["value"]].copy()
        for m in names:
            show[f"{_label(m)} ± SE"] = [_pm(f"metric.{m}", v, se) for v, se in zip(df[m], df[f"{m}_se"])]
        console.print(_table(show, list(show.columns),
                             f"sweep of {fld} ({settings['paths']} paths, seed {settings['seed']}; "
                             "value ± one standard error; money in 万元)"))
        if out is not None:
            console.print(f"written: {out}")


# ---------------------------------------------------------------------------------------------- tornado
@app.command()
def tornado(
    scenario: Path = typer.Argument(..., help="scenario TOML file"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="metrics to rank by (default p_call, "
                                               "hidden_debt_pv)"),
    paths: int = typer.Option(1000, "--paths", "-n", help="Monte Carlo paths per run"),
    seed: Optional[int] = typer.Option(None, "--seed", help="master seed, the same for every run"),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="paths per chunk"),
    rel: float = typer.Option(0.2, "--rel", help="relative low/high of inputs with a relative default range"),
    range_: Optional[list[str]] = typer.Option(None, "--range", help="FIELD=low,high: replace or add an input's range"),
    only: Optional[list[str]] = typer.Option(None, "--only", help="vary only these fields (repeat)"),
    stress: Optional[str] = typer.Option(None, "--stress", help="name of a stress overlay in the scenario"),
    top: int = typer.Option(15, "--top", help="bars in the chart"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="write tornado.csv and tornado_<metric>.png here"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output folder"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no table"),
    dask_workers: int = typer.Option(0, "--dask-workers", help="fan the runs out over a local Dask cluster of "
                                     "N worker processes (0: run them in this process)"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="address of a Dask scheduler to fan "
                                            "the runs out to"),
    as_json: bool = typer.Option(False, "--json", help="print the table as JSON records"),
):
    """One-at-a-time low/high of every uncertain input, ranked by the swing of P(hidden-debt call)."""
    from baozhang_finance.analysis.sensitivity import DEFAULT_TORNADO_METRICS, make_inputs, tornado as run_tornado

    sc = _prepare(scenario, out, overwrite, paths)
    try:
        names = _metrics(metric) or list(DEFAULT_TORNADO_METRICS)
        if stress is not None:
            sc.stress(stress)
        inputs = make_inputs(sc, rel=rel, ranges=_parse_ranges(range_), only=only)
        client = _open_client(scheduler, dask_workers)
        df = run_tornado(sc, inputs, client=client, paths=paths, seed=seed, metrics=names, chunk_size=chunk_size, stress=stress,
                         progress=_progress("tornado", quiet or as_json))
    except ScenarioError as exc:
        fail(f"{scenario}: {exc}".replace("\n", "; "))
    except DaskBackendError as exc:  # a run failed on the cluster, no workers, lost scheduler
        fail(f"{scenario}: {exc}".replace("\n", "; "), code=3)
    if out is not None:
        def write(tmp: Path) -> None:
            _agg()
            import matplotlib.pyplot as plt

            from baozhang_finance.analysis.sensitivity import plot_tornado

            df.to_csv(tmp / "tornado.csv", index=False)
            (tmp / "tornado.json").write_text(json.dumps({"scenario": str(scenario), **df.attrs["settings"]},
                                                         indent=2, ensure_ascii=False))
            for m in names:
                fig, ax = plt.subplots(figsize=(9, 0.35 * min(top, len(df)) + 1.8))
                plot_tornado(df, m, ax=ax, top=top)
                _savefig(ax, tmp / f"tornado_{m}.png")

        _write_atomic(out, write)
    if as_json:
        sys.stdout.write(df.to_json(orient="records", force_ascii=False) + "\n")
    elif not quiet:
        show = df[["rank", "label"]].copy()
        show["range"] = [f"{_fmt(a)} … {_fmt(b)}" for a, b in zip(df["low"], df["high"])]
        for m in names:
            show[_label(m)] = [_span(f"metric.{m}", a, b) for a, b in zip(df[f"{m}_low"], df[f"{m}_high"])]
        s = df.attrs["settings"]
        base = ", ".join(f"{_label(m)} = {_fmt(df[f'{m}_base'].iloc[0], f'metric.{m}')}" for m in names)
        console.print(_table(show, list(show.columns),
                             f"tornado ({s['runs']} runs × {s['paths']} paths, seed {s['seed']}; base {base}; "
                             "metric at the input's low … high)"))
        if out is not None:
            console.print(f"written: {out}")


# ---------------------------------------------------------------------------------------------- sobol
@app.command()
def sobol(
    scenario: Path = typer.Argument(..., help="scenario TOML file"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="metrics (default p_call, hidden_debt_pv)"),
    n_base: int = typer.Option(32, "--n-base", help="base sample size N (power of 2); runs = N × (groups + 2)"),
    paths: int = typer.Option(200, "--paths", "-n", help="Monte Carlo paths per run (modest: every run shares the draws)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="master seed of every simulation"),
    sample_seed: int = typer.Option(0, "--sample-seed", help="seed of the scrambled Sobol sample and the bootstrap"),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="paths per chunk"),
    rel: float = typer.Option(0.2, "--rel", help="relative low/high of inputs with a relative default range"),
    range_: Optional[list[str]] = typer.Option(None, "--range", help="FIELD=low,high: replace or add an input's range"),
    ungrouped: bool = typer.Option(False, "--ungrouped", help="one index per input instead of per group"),
    stress: Optional[str] = typer.Option(None, "--stress", help="name of a stress overlay in the scenario"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="write sobol.csv, sobol_sample.csv, sobol_<metric>.png"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output folder"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no table"),
    dask_workers: int = typer.Option(0, "--dask-workers", help="fan the runs out over a local Dask cluster of "
                                     "N worker processes (0: run them in this process)"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="address of a Dask scheduler to fan "
                                            "the runs out to"),
    as_json: bool = typer.Option(False, "--json", help="print the indices as JSON records"),
):
    """Sobol first-order and total indices of input groups (SALib), with 95 % confidence intervals."""
    from baozhang_finance.analysis.sensitivity import DEFAULT_TORNADO_METRICS, make_inputs, sobol as run_sobol

    sc = _prepare(scenario, out, overwrite, paths)
    try:
        names = _metrics(metric) or list(DEFAULT_TORNADO_METRICS)
        if stress is not None:
            sc.stress(stress)
        inputs = make_inputs(sc, rel=rel, ranges=_parse_ranges(range_))
        client = _open_client(scheduler, dask_workers)
        res = run_sobol(sc, inputs, client=client, n_base=n_base, paths=paths, seed=seed, metrics=names, chunk_size=chunk_size,
                        stress=stress, grouped=not ungrouped, sample_seed=sample_seed,
                        progress=_progress("sobol", quiet or as_json))
    except ScenarioError as exc:
        fail(f"{scenario}: {exc}".replace("\n", "; "))
    except DaskBackendError as exc:  # a run failed on the cluster, no workers, lost scheduler
        fail(f"{scenario}: {exc}".replace("\n", "; "), code=3)
    if out is not None:
        def write(tmp: Path) -> None:
            _agg()
            import matplotlib.pyplot as plt
            import pandas as pd

            from baozhang_finance.analysis.sensitivity import plot_sobol

            res.table.to_csv(tmp / "sobol.csv", index=False)
            sample = pd.DataFrame(res.X, columns=res.problem["names"])
            for j, m in enumerate(res.metrics):
                sample[m] = res.Y[:, j]
            sample.to_csv(tmp / "sobol_sample.csv", index=False)
            (tmp / "sobol.json").write_text(json.dumps({"scenario": str(scenario), **res.settings}, indent=2,
                                                       ensure_ascii=False, default=float))
            for m in res.metrics:
                fig, ax = plt.subplots(figsize=(8, 4.5))
                plot_sobol(res, m, ax=ax)
                _savefig(ax, tmp / f"sobol_{m}.png")

        _write_atomic(out, write)
    if as_json:
        sys.stdout.write(res.table.to_json(orient="records", force_ascii=False) + "\n")
    elif not quiet:
        s = res.settings
        console.print(_table(res.table, ["metric", "name", "S1", "S1_conf", "ST", "ST_conf"],
                             f"Sobol indices ({s['runs']} runs × {s['paths']} paths, N = {s['n_base']}; "
                             "conf = 95 % half-width)"))
        if out is not None:
            console.print(f"written: {out}")


# ---------------------------------------------------------------------------------------------- solve
@app.command()
def solve(
    scenario: Path = typer.Argument(..., help="scenario TOML file"),
    find: str = typer.Option(..., "--find", help="grant | equity_share | rent_ratio | max_price | max_loan"),
    constraint: str = typer.Option(..., "--constraint", "-c",
                                   help='risk constraint, e.g. "p_call<=0.05" or "p_dscr_below_1<=0.10"'),
    project: int = typer.Option(0, "--project", "-k", help="project index (0-based) whose lever is solved for"),
    lo: Optional[float] = typer.Option(None, "--lo", help="lower end of the search range (default: the lever's)"),
    hi: Optional[float] = typer.Option(None, "--hi", help="upper end of the search range (default: the lever's)"),
    paths: int = typer.Option(2000, "--paths", "-n", help="Monte Carlo paths per evaluation"),
    seed: Optional[int] = typer.Option(None, "--seed", help="master seed, the same for every evaluation"),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="paths per chunk"),
    xtol: Optional[float] = typer.Option(None, "--xtol", help="stop when the bracket is narrower than this"),
    stress: Optional[str] = typer.Option(None, "--stress", help="name of a stress overlay in the scenario"),
    deterministic: bool = typer.Option(False, "--deterministic", help="one path, market on its expected path"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="write solve.json and the solved scenario here"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output folder"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print the answer only"),
    dask_workers: int = typer.Option(0, "--dask-workers", help="fan the runs out over a local Dask cluster of "
                                     "N worker processes (0: run them in this process)"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="address of a Dask scheduler to fan "
                                            "the runs out to"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
):
    """Smallest grant / equity share / rent ratio, or largest price / loan, that meets a risk constraint."""
    from baozhang_finance.analysis.solve import FIND, solve as run_solve

    sc = _load(scenario)
    _check_out(out, overwrite)
    if find not in FIND:
        fail(f"--find {find!r}: unknown (choose from {', '.join(FIND)})")
    if paths < 1:
        fail(f"--paths: must be >= 1, got {paths}")
    cb = None
    if not (quiet or as_json) and sys.stderr.isatty() and not os.environ.get("CI"):
        def cb(e) -> None:
            err_console.print(f"  x = {e.x:.6g}: {e.value:.4g} ± {e.se:.2g} {'ok' if e.feasible else 'no'}",
                              highlight=False)
    try:
        if stress is not None:
            sc.stress(stress)
        client = _open_client(scheduler, dask_workers)
        res = run_solve(sc, find, constraint, client=client, project=project, lo=lo, hi=hi, paths=paths, seed=seed,
                        chunk_size=chunk_size, stress=stress, deterministic=deterministic, xtol=xtol, progress=cb)
    except ScenarioError as exc:
        fail(f"{scenario}: {exc}".replace("\n", "; "))
    except DaskBackendError as exc:  # a run failed on the cluster, no workers, lost scheduler
        fail(f"{scenario}: {exc}".replace("\n", "; "), code=3)
    d = res.to_dict()
    if out is not None:
        def write(tmp: Path) -> None:
            (tmp / "solve.json").write_text(json.dumps({"scenario": str(scenario), **d}, indent=2, ensure_ascii=False))
            (tmp / "scenario_solved.json").write_text(res.scenario.model_dump_json(indent=2))

        _write_atomic(out, write)
    if as_json:
        sys.stdout.write(json.dumps(d, indent=2, ensure_ascii=False) + "\n")
        return
    if quiet:
        console.print(f"{res.answer:.10g}")
        return
    c = res.constraint
    lv = f"lever.{FIND[find][0]}"
    console.print(f"[bold]{find}[/] of project {project} ({res.project_name}) with {c}: "
                  f"[bold]{_fmt(res.answer, lv)}[/] (plan: {_fmt(res.base_value, lv)}, "
                  f"change {_fmt(res.answer - res.base_value, lv)})", highlight=False)
    unc = f", answer ± {_fmt(res.answer_se, lv)} SE (Monte Carlo)" if res.answer_se else ""
    console.print(f"  {_label(c.metric)} at the answer = {_pm(f'metric.{c.metric}', res.metric_value, res.metric_se)} "
                  f"(± SE){unc}", highlight=False)
    note = f"; {res.stopped_by}" if res.bound else f"; stopped by {res.stopped_by}"
    console.print(f"  {res.n_simulations} simulations × {res.paths} paths, seed {res.seed}, "
                  f"{res.wall_time_s:.1f} s{note}", highlight=False)
    if out is not None:
        console.print(f"written: {out}")
