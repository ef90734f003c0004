"""Command line of the sensitivity and solver tools: ``baozhang sweep | tornado | sobol | solve``.

Registered on :data:`baozhang_finance.cli.app` when :mod:`baozhang_finance.cli` is imported. Exit codes as the
rest of the CLI: 0 ok, 2 bad input or a target no value in the allowed range meets (one line, no traceback),
3 a run failed on the Dask cluster. Each command: parse the options (shared ones from :mod:`.options`) → call the
analysis → ``result.save(out, extra_writers=<charts from report.sensitivity>)`` (atomically, the analysis owns
its files) → print → exit code.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
from typing import TYPE_CHECKING as _TC  # noqa: E402
if _TC:  # pandas is imported where used (start-up time)
    import pandas as pd
import typer
from rich.markup import escape

from baozhang_finance.analysis.inputs import make_inputs
from baozhang_finance.analysis.solve import FIND, solve as run_solve
from baozhang_finance.analysis.sobol import sobol as run_sobol
from baozhang_finance.analysis.sweep import sweep as run_sweep
from baozhang_finance.analysis.tornado import tornado as run_tornado
from baozhang_finance.cli.common import _load, app, console, err_console, fail, say, user_errors
from baozhang_finance.cli.options import (
    Conventions,
    ChunkSize,
    DaskWorkers,
    Deterministic,
    Json,
    Lang,
    Metrics,
    Out,
    Overwrite,
    Paths,
    Quiet,
    Ranges,
    Rel,
    Scheduler,
    ScenarioFile,
    Seed,
    Stress,
    check_out,
)
from baozhang_finance.measures.metrics import DEFAULT_SWEEP_METRICS, DEFAULT_TORNADO_METRICS, get_metric
from baozhang_finance.model.fields import parse_value
from baozhang_finance.model.scenario import ScenarioError
from baozhang_finance.report import format as fmtr
from baozhang_finance.report.sensitivity import sobol_charts, sweep_chart, tornado_charts
from baozhang_finance.run.dask_backend import make_client
from baozhang_finance.run.settings import SOBOL_PATHS, SOLVE_PATHS, SWEEP_PATHS, TORNADO_PATHS
from baozhang_finance.analysis.attribute import ATTRIBUTE_PATHS, attribute as run_attribute
from baozhang_finance.analysis.output import write_json
from baozhang_finance.report.attribution import attribution_writer, table_rows
from baozhang_finance.report.html import render_reports

LeverProject = Annotated[Optional[int], typer.Option("--project", "-k",
                                                     help="project of a lever given without [k]")]


# ---------------------------------------------------------------------------------------------- helpers
def _open_client(scheduler: Optional[str], workers: int):
    """A Dask client when --scheduler or --dask-workers asks for one (closed when the process ends), else None."""
    if not scheduler and workers <= 0:
        return None
    try:
        client = make_client(scheduler, max(workers, 1))
    except ImportError as exc:
        fail(str(exc))
    atexit.register(client.close)
    return client


def _prepare(scenario, out, overwrite: bool, stress: Optional[str], conventions: Optional[str] = None):
    """The checks every analysis command makes before simulating: the scenario (with ``--conventions``), the
    output folder, the stress."""
    sc = _load(scenario, conventions)
    check_out(out, overwrite, inputs=(scenario,))
    if stress is not None:
        with user_errors(scenario):
            sc.stress(stress)
    return sc


def _metrics(values: Optional[list[str]], default) -> list[str]:
    if not values:
        return list(default)
    out = [m.strip() for v in values for m in v.split(",") if m.strip()]
    for m in out:
        get_metric(m)
    return out


def _literal(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells print literally in a rich table (project names, fields: not markup)."""
    return df.apply(lambda col: col.map(lambda v: escape(v) if isinstance(v, str) else v))


def _json_records(df: pd.DataFrame) -> None:
    sys.stdout.write(df.to_json(orient="records", force_ascii=False) + "\n")


def _parse_set(text: str) -> tuple[str, list]:
    """``FIELD=v1,v2,…`` or ``FIELD=lo:hi:n`` (n evenly spaced values) → (field, values)."""
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


def _label(metric: str, lang: str = "en") -> str:
    """A metric's label; English in "both" (the column headers are long enough in one language)."""
    return fmtr.label(f"metric.{metric}", "zh" if lang == "zh" else "en")


def _one(lang: str) -> str:
    """Titles and sentences of a terminal table in one language: Chinese in "zh", else English."""
    return "zh" if lang == "zh" else "en"


#: the columns of the analysis tables with a header in the catalogue (``text.col.<name>``)
_HEADS = {"value": "value", "rank": "rank", "label": "label", "range": "range", "metric": "metric", "name": "name",
          "S1": "s1", "S1_conf": "s1_conf", "ST": "st", "ST_conf": "st_conf"}


def _table(df, columns: list[str], title: str, lang: str = "en"):
    from rich.table import Table

    t = Table(title=title, show_lines=False)
    for c in columns:
        head = fmtr.text(f"col.{_HEADS[c]}", lang) if c in _HEADS else c
        t.add_column(escape(head), justify="right" if c not in ("field", "label", "group", "name", "metric") else "left",
                     overflow="fold")
    for _, row in df.iterrows():
        t.add_row(*[_fmt(row[c]) if not isinstance(row[c], str) else row[c] for c in columns])
    return t


def _progress(label: str, quiet: bool):
    """A one-line progress counter on stderr when it is a terminal (silent in pipes, CI, --quiet, --json)."""
    if quiet or not sys.stderr.isatty() or os.environ.get("CI"):
        return None

    def cb(done: int, total: int) -> None:
        err_console.print(f"{label}: {done}/{total} runs", end="\r", highlight=False, markup=False)

    return cb


def _written(out) -> None:
    if out is not None:
        say(f"written: {out}")


# ---------------------------------------------------------------------------------------------- sweep
@app.command()
def sweep(
    scenario: ScenarioFile,
    set_: str = typer.Option(..., "--set", help="FIELD=v1,v2,… or FIELD=lo:hi:n; FIELD is a dotted path "
                             "(market.price_drift_annual, projects[0].rental.rent_ratio) or a balanced lever "
                             "(grant[k], equity_share[k], rent_ratio[k], price[k], loan[k])"),
    metric: Metrics = None,
    paths: Paths = SWEEP_PATHS,
    seed: Seed = None,
    chunk_size: ChunkSize = None,
    project: LeverProject = None,
    stress: Stress = None,
    deterministic: Deterministic = False,
    out: Out = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
    dask_workers: DaskWorkers = 0,
    scheduler: Scheduler = None,
    as_json: Json = False,
    conventions: Conventions = None,
    lang: Lang = None,
):
    """Metrics against the values of one input, every value on the same random draws (common random numbers).
    --out: sweep.csv, sweep.json, sweep.png."""
    sc = _prepare(scenario, out, overwrite, stress, conventions)
    with user_errors(scenario):
        fld, values = _parse_set(set_)
        names = _metrics(metric, DEFAULT_SWEEP_METRICS)
        res = run_sweep(sc, fld, values, client=_open_client(scheduler, dask_workers), paths=paths, seed=seed,
                        metrics=names, chunk_size=chunk_size, stress=stress, deterministic=deterministic,
                        project=project, progress=_progress("sweep", quiet or as_json), source=str(scenario))
        if out is not None:
            res.save(out, extra_writers=[functools.partial(sweep_chart, lang=lang)], overwrite=overwrite)
    df, s = res.table, res.settings
    if as_json:
        _json_records(df)
    elif not quiet:
        show = df[["value"]].copy()
        for m in names:
            show[f"{_label(m, lang)} ± SE"] = [_pm(f"metric.{m}", v, se) for v, se in zip(df[m], df[f"{m}_se"])]
        console.print(_table(_literal(show), list(show.columns),
                             escape(fmtr.text("term.sweep_title", _one(lang), field=fld, paths=s["paths"],
                                              seed=s["seed"])), lang))
        _written(out)


# ---------------------------------------------------------------------------------------------- attribute
@app.command()
def attribute(
    scenario: ScenarioFile,
    paths: Paths = ATTRIBUTE_PATHS,
    seed: Seed = None,
    chunk_size: ChunkSize = None,
    inputs: int = typer.Option(0, "--inputs", help="also swing this many of the most uncertain inputs (ranked by "
                               "their P(call) swing) low → high on the scenario"),
    into: Optional[str] = typer.Option(None, "--into", help="a saved run folder: write the attribution into it and "
                                       "re-render its report.html with the section 'What the answer rests on'"),
    out: Out = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
    as_json: Json = False,
    lang: Lang = None,
):
    """What the answer rests on: each convention switched from the legacy preset to the scenario's settings on
    common random numbers (one at a time, waterfall, Shapley). --out: attribute.csv, attribute_waterfall.csv,
    attribute.json, attribute_<measure>.png."""
    sc = _prepare(scenario, out, overwrite, None, None)
    with user_errors(scenario):
        res = run_attribute(sc, paths=paths, seed=seed, chunk_size=chunk_size, inputs=inputs,
                            progress=_progress("attribute", quiet or as_json), source=str(scenario))
        if out is not None:
            res.save(out, extra_writers=[attribution_writer(fmtr.lang_of(lang))], overwrite=overwrite)
        if into is not None:
            _attribute_into(res, into, lang)
    att = {**res.settings, "factors": res.table.to_dict(orient="records"),
           "waterfall": res.waterfall.to_dict(orient="records")}
    if as_json:
        sys.stdout.write(json.dumps(att, ensure_ascii=False, default=float) + "\n")
    elif not quiet:
        from rich.table import Table

        head, rows = table_rows(att, _one(fmtr.lang_of(lang)), short=True)
        t = Table(title=escape(f"{sc.programme.name}: what the answer rests on ({res.settings['runs']} runs, "
                               f"{res.settings['paths']} paths, seed {res.settings['seed']})"))
        for i, h in enumerate(head):
            t.add_column(escape(h), overflow="fold", no_wrap=i == 0)
        for r in rows:
            t.add_row(*(escape(c) for c in r))
        console.print(t)
        _written(out)


def _attribute_into(res, run_dir: str, lang) -> None:
    """Write attribute.json into a saved run folder and re-render its reports (the section appears in report.html)."""
    d = Path(run_dir)
    if not (d / "summary.json").is_file():
        raise ScenarioError(f"--into {run_dir}: not a saved run folder (no summary.json)")
    write_json(d / "attribute.json", {"scenario": res.source, **res.settings,
                                      "factors": res.table.to_dict(orient="records"),
                                      "waterfall": res.waterfall.to_dict(orient="records")})
    render_reports(d, lang=lang)


# ---------------------------------------------------------------------------------------------- tornado
@app.command()
def tornado(
    scenario: ScenarioFile,
    metric: Metrics = None,
    paths: Paths = TORNADO_PATHS,
    seed: Seed = None,
    chunk_size: ChunkSize = None,
    rel: Rel = 0.2,
    range_: Ranges = None,
    only: Optional[list[str]] = typer.Option(None, "--only", help="vary only these fields (repeat)"),
    stress: Stress = None,
    top: int = typer.Option(15, "--top", help="bars in the chart"),
    out: Out = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
    dask_workers: DaskWorkers = 0,
    scheduler: Scheduler = None,
    as_json: Json = False,
    conventions: Conventions = None,
    lang: Lang = None,
):
    """One-at-a-time low/high of every uncertain input, ranked by the swing of P(hidden-debt call).
    --out: tornado.csv, tornado.json, tornado_<metric>.png."""
    sc = _prepare(scenario, out, overwrite, stress, conventions)
    with user_errors(scenario):
        names = _metrics(metric, DEFAULT_TORNADO_METRICS)
        inputs = make_inputs(sc, rel=rel, ranges=_parse_ranges(range_), only=only)
        res = run_tornado(sc, inputs, client=_open_client(scheduler, dask_workers), paths=paths, seed=seed,
                          metrics=names, chunk_size=chunk_size, stress=stress,
                          progress=_progress("tornado", quiet or as_json), source=str(scenario))
        if out is not None:
            res.save(out, extra_writers=[tornado_charts(top, lang)], overwrite=overwrite)
    df, s = res.table, res.settings
    if as_json:
        _json_records(df)
    elif not quiet:
        show = df[["rank", "label"]].copy()
        show["range"] = [f"{_fmt(a)} … {_fmt(b)}" for a, b in zip(df["low"], df["high"])]
        for m in names:
            show[_label(m, lang)] = [_span(f"metric.{m}", a, b) for a, b in zip(df[f"{m}_low"], df[f"{m}_high"])]
        base = ", ".join(f"{_label(m, lang)} = {_fmt(df[f'{m}_base'].iloc[0], f'metric.{m}')}" for m in names)
        console.print(_table(_literal(show), list(show.columns),
                             escape(fmtr.text("term.tornado_title", _one(lang), runs=s["runs"], paths=s["paths"],
                                              seed=s["seed"], base=base)), lang))
        _written(out)


# ---------------------------------------------------------------------------------------------- sobol
@app.command()
def sobol(
    scenario: ScenarioFile,
    metric: Metrics = None,
    n_base: int = typer.Option(32, "--n-base", help="base sample size N (power of 2); runs = N × (groups + 2)"),
    paths: Paths = SOBOL_PATHS,
    seed: Seed = None,
    sample_seed: int = typer.Option(0, "--sample-seed", help="seed of the scrambled Sobol sample and the bootstrap"),
    chunk_size: ChunkSize = None,
    rel: Rel = 0.2,
    range_: Ranges = None,
    ungrouped: bool = typer.Option(False, "--ungrouped", help="one index per input instead of per group"),
    stress: Stress = None,
    out: Out = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
    dask_workers: DaskWorkers = 0,
    scheduler: Scheduler = None,
    as_json: Json = False,
    conventions: Conventions = None,
    lang: Lang = None,
):
    """Sobol first-order and total indices of input groups (SALib), with 95 % confidence intervals.
    --out: sobol.csv, sobol_sample.csv, sobol.json, sobol_<metric>.png."""
    sc = _prepare(scenario, out, overwrite, stress, conventions)
    with user_errors(scenario):
        names = _metrics(metric, DEFAULT_TORNADO_METRICS)
        inputs = make_inputs(sc, rel=rel, ranges=_parse_ranges(range_))
        res = run_sobol(sc, inputs, client=_open_client(scheduler, dask_workers), n_base=n_base, paths=paths,
                        seed=seed, metrics=names, chunk_size=chunk_size, stress=stress, grouped=not ungrouped,
                        sample_seed=sample_seed, progress=_progress("sobol", quiet or as_json), source=str(scenario))
        if out is not None:
            res.save(out, extra_writers=[functools.partial(sobol_charts, lang=lang)], overwrite=overwrite)
    if as_json:
        _json_records(res.table)
    elif not quiet:
        s = res.settings
        console.print(_table(_literal(res.table), ["metric", "name", "S1", "S1_conf", "ST", "ST_conf"],
                             escape(fmtr.text("term.sobol_title", _one(lang), runs=s["runs"], paths=s["paths"],
                                              n=s["n_base"])), lang))
        unresolved = int((res.table["note"] != "").sum())
        if unresolved:
            err_console.print(f"warning: {unresolved} of {len(res.table)} indices are not resolved by this sample "
                              f"(negative S1 or a 95 % interval wider than the estimate): raise --n-base "
                              f"(now {s['n_base']}) or --paths", highlight=False, markup=False)
        _written(out)


# ---------------------------------------------------------------------------------------------- solve
def _solve_progress(quiet: bool):
    if quiet or not sys.stderr.isatty() or os.environ.get("CI"):
        return None

    def cb(e) -> None:
        err_console.print(f"  x = {e.x:.6g}: {e.value:.4g} ± {e.se:.2g} {'ok' if e.feasible else 'no'}",
                          highlight=False, markup=False)

    return cb


def _print_solved(res, find: str, project: int, out, lang: str = "en") -> None:
    c, one = res.constraint, _one(lang)
    lv = f"lever.{FIND[find][0]}"
    what = find if lang != "zh" else fmtr.label(lv, "zh")
    console.print(fmtr.text("term.solved", one, find=f"[bold]{escape(what)}[/]", k=project,
                            name=escape(res.project_name), constraint=escape(str(c)),
                            answer=f"[bold]{_fmt(res.answer, lv)}[/]", base=_fmt(res.base_value, lv),
                            change=_fmt(res.answer - res.base_value, lv)), highlight=False)
    unc = fmtr.text("term.solved_unc", one, se=_fmt(res.answer_se, lv)) if res.answer_se else ""
    console.print(fmtr.text("term.solved_metric", one, metric=_label(c.metric, lang), unc=unc,
                            value=_pm(f"metric.{c.metric}", res.metric_value, res.metric_se)),
                  highlight=False, markup=False)
    note = f"; {res.stopped_by}" if res.bound else fmtr.text("term.stopped_by", one, why=res.stopped_by)
    console.print(fmtr.text("term.solved_runs", one, n=res.n_simulations, paths=res.paths, seed=res.seed,
                            secs=f"{res.wall_time_s:.1f}", note=note), highlight=False, markup=False)
    _written(out)


@app.command()
def solve(
    scenario: ScenarioFile,
    find: str = typer.Option(..., "--find", help="grant | equity_share | rent_ratio | max_price | max_loan"),
    constraint: str = typer.Option(..., "--constraint", "-c",
                                   help='risk constraint, e.g. "p_call<=0.05" or "p_dscr_below_1<=0.10"'),
    project: int = typer.Option(0, "--project", "-k", help="project index (0-based) whose lever is solved for"),
    lo: Optional[float] = typer.Option(None, "--lo", help="lower end of the search range (default: the lever's)"),
    hi: Optional[float] = typer.Option(None, "--hi", help="upper end of the search range (default: the lever's)"),
    paths: Paths = SOLVE_PATHS,
    seed: Seed = None,
    chunk_size: ChunkSize = None,
    xtol: Optional[float] = typer.Option(None, "--xtol", help="stop when the bracket is narrower than this"),
    stress: Stress = None,
    deterministic: Deterministic = False,
    out: Out = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
    dask_workers: DaskWorkers = 0,
    scheduler: Scheduler = None,
    as_json: Json = False,
    conventions: Conventions = None,
    lang: Lang = None,
):
    """Smallest grant / equity share / rent ratio, or largest price / loan, that meets a risk constraint.
    --out: solve.json, scenario_solved.json. --quiet prints the answer only."""
    sc = _prepare(scenario, out, overwrite, stress, conventions)
    if find not in FIND:
        fail(f"--find {find!r}: unknown (choose from {', '.join(FIND)})")
    with user_errors(scenario):
        res = run_solve(sc, find, constraint, client=_open_client(scheduler, dask_workers), project=project, lo=lo,
                        hi=hi, paths=paths, seed=seed, chunk_size=chunk_size, stress=stress,
                        deterministic=deterministic, xtol=xtol, progress=_solve_progress(quiet or as_json),
                        source=str(scenario))
        if out is not None:
            res.save(out, overwrite=overwrite)
    if as_json:
        sys.stdout.write(json.dumps(res.to_dict(), indent=2, ensure_ascii=False) + "\n")
    elif quiet:
        say(f"{res.answer:.10g}")
    else:
        _print_solved(res, find, project, out, lang)
