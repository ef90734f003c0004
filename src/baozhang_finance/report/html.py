"""Reports of a run: ``report.xlsx`` (XlsxWriter), ``charts/*.png`` (matplotlib) and ``report.html`` (one
self-contained page, images embedded as base64).

:func:`report_writers` gives the writers ``f(result, folder)`` that :meth:`Result.save` runs inside its atomic
transaction (temporary folder renamed at the end); :func:`render_reports` re-renders the reports of a saved run
(``baozhang report RUN_DIR``), again atomically.

The **median path** (中位路径) whose per-project cash flows the workbook and the waterfall chart show is the path
with the median hidden-debt PV (the lower median: index ⌊(n−1)/2⌋ of a stable sort, so ties — e.g. the many
paths with no call — resolve to the lowest path number). Its months are re-simulated exactly: the path's chunk
generator is replayed, drawing the whole chunk's innovations each month and keeping the path's row, so the
path gets bit-for-bit the random draws it had in the run (the arithmetic on one row instead of a chunk may
differ in the last bits); the replay is checked against the run's hidden-debt PV and saved yearly ledgers
before it is used.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from baozhang_finance.report.charts import WAN

#: rows of result.paths written to the workbook (a sample, not a dump)
PATHS_SAMPLE_ROWS = 1_000
#: P(hidden-debt call) above which the HTML answer is flagged (the bureau's tolerance; DESIGN §1 uses 5 %)
CALL_THRESHOLD = 0.05

REPORT_FILES = ("report.xlsx", "report.html")
CHART_FILES = ("cash_balance_fan.png", "dscr_fan.png", "hidden_debt_pv.png", "pd_curve.png", "median_waterfall.png")


# =============================================================================================== median path
@dataclasses.dataclass
class MedianPath:
    """One path re-simulated month by month: ``monthly`` holds ``(1, P, T)`` / ``(1, T)`` arrays."""

    index: int
    hidden_debt_pv: float
    monthly: dict[str, np.ndarray]
    yearly: dict[str, np.ndarray]
    scalars: dict[str, np.ndarray]


class _RowGenerator:
    """A stand-in for the chunk's ``Generator`` in a one-path replay: every draw whose leading dimension is the
    one path is drawn for the whole chunk (so the stream advances exactly as in the run) and only the path's row
    is returned."""

    def __init__(self, rng: np.random.Generator, chunk_n: int, row: int):
        self._rng, self._n, self._row = rng, chunk_n, row

    def _full(self, size):
        if size is None:
            raise RuntimeError("unexpected scalar draw in a one-path replay")
        shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        if shape[0] != 1:
            raise RuntimeError(f"unexpected draw shape {shape} in a one-path replay")
        return (self._n,) + shape[1:]

    def standard_normal(self, size=None, *args, **kwargs):
        return self._rng.standard_normal(self._full(size), *args, **kwargs)[self._row:self._row + 1]

    def random(self, size=None, *args, **kwargs):
        return self._rng.random(self._full(size), *args, **kwargs)[self._row:self._row + 1]

    def __getattr__(self, name):  # any other method would desynchronise the stream: refuse loudly
        raise RuntimeError(f"one-path replay does not support Generator.{name}")


def median_path_index(result) -> int:
    """Index (row of ``result.paths``) of the path with the lower-median hidden-debt PV."""
    pv = result.paths["hidden_debt_pv"].to_numpy(float)
    order = np.argsort(pv, kind="stable")
    return int(order[(pv.size - 1) // 2])


def replay_path(result, index: int) -> MedianPath:
    """Re-simulate path ``index`` of a run with ``record=True`` and check it against the run's ledgers."""
    from baozhang_finance.engine.loop import run_paths
    from baozhang_finance.run.simulate import chunk_generator

    run = result.run
    n_total = len(result.paths)
    chunk_size = int(run["chunk_size"])
    path_no = int(result.paths["path"].iloc[index]) if "path" in result.paths else index
    chunk, row = divmod(path_no, chunk_size)
    chunk_n = min(chunk_size, max(int(run.get("paths", n_total)), n_total) - chunk * chunk_size)
    plan = result.plan
    if plan.market.deterministic or run.get("deterministic"):
        out = run_paths(plan, 1, None, record=True)
    else:
        rng = _RowGenerator(chunk_generator(int(run["seed"]), chunk), chunk_n, row)
        out = run_paths(plan, 1, rng, record=True)
    _check_replay(result, index, out)
    return MedianPath(index=path_no, hidden_debt_pv=float(result.paths["hidden_debt_pv"].iloc[index]),
                      monthly=out.monthly, yearly=out.yearly, scalars=out.scalars)


def _check_replay(result, index: int, out) -> None:
    want = float(result.paths["hidden_debt_pv"].iloc[index])
    got = float(out.scalars["pv_hidden"][0])
    ok = np.isclose(got, want, rtol=1e-9, atol=1e-3)
    for name in ("cfads", "cash_balance", "gov_hidden"):
        ref = result.ledger(name)[index]
        ok &= bool(np.allclose(out.yearly[name][0], ref, rtol=1e-5, atol=1.0))  # ledgers are kept as float32
    if not ok:
        raise RuntimeError(f"the replay of path {index} does not reproduce the run (hidden-debt PV {got:,.2f} vs "
                           f"{want:,.2f} yuan): the engine's random draws changed")


_MEDIAN_CACHE: "weakref.WeakKeyDictionary[Any, MedianPath]" = weakref.WeakKeyDictionary()


def median_path(result) -> MedianPath:
    """The median path of a result (computed once per Result object)."""
    mp = _MEDIAN_CACHE.get(result)
    if mp is None:
        mp = replay_path(result, median_path_index(result))
        _MEDIAN_CACHE[result] = mp
    return mp


#: per-project monthly items aggregated to years for the workbook: (key, column title, how)
PROJECT_ITEMS = (
    ("rent", "rent collected 租金", "sum"),
    ("rent_subsidy", "rent subsidy 租金补贴", "sum"),
    ("sales", "sale proceeds 销售回款", "sum"),
    ("op_grants", "operating grants 运营补助", "sum"),
    ("interest_subsidy", "interest subsidy 贴息", "sum"),
    ("running_costs", "running costs 运营成本", "sum"),
    ("rent_costs", "mgmt, taxes, capex on rent 管理税费", "sum"),
    ("sales_tax", "sales taxes 销售税费", "sum"),
    ("buybacks", "buybacks 回购", "sum"),
    ("cfads", "CFADS 可偿债现金流", "sum"),
    ("bank_interest", "bank interest 银行利息", "sum"),
    ("bank_principal", "bank principal 银行本金", "sum"),
    ("prepayment", "prepayment (sweep) 提前还款", "sum"),
    ("bond_interest", "bond interest 专项债利息", "sum"),
    ("bond_principal", "bond principal 专项债本金", "sum"),
    ("distributions", "distributions 分配", "sum"),
    ("short_opex", "shortfall: costs 成本缺口", "sum"),
    ("short_bank", "shortfall: bank 银行缺口", "sum"),
    ("short_bond", "shortfall: bonds 专项债缺口", "sum"),
    ("sources", "funding drawn 融资到位", "sum"),
    ("uses", "acquisition & works 收购及改造", "sum"),
    ("dsra", "DSRA at year end 偿债准备金", "last"),
    ("cash", "retained cash at year end 留存现金", "last"),
    ("held", "units held at year end 持有套数", "last"),
    ("occupancy", "occupancy (mean) 出租率", "mean"),
)
PROGRAMME_ITEMS = (
    ("soe_support", "SOE support 国企支持", "sum"),
    ("gov_hidden", "hidden-debt call 隐性债务代偿", "sum"),
    ("gov_bond", "explicit bond burden 专项债兜底", "sum"),
    ("hpi", "house-price index at year end 房价指数", "last"),
    ("lpr", "5-year LPR (mean)", "mean"),
    ("fiscal", "fiscal revenue 财政收入", "sum"),
)


def _to_years(x: np.ndarray, how: str) -> np.ndarray:
    T = x.shape[-1]
    Y = -(-T // 12)
    pad = Y * 12 - T
    if how == "sum":
        xp = np.concatenate([x, np.zeros(x.shape[:-1] + (pad,))], axis=-1) if pad else x
        return xp.reshape(x.shape[:-1] + (Y, 12)).sum(axis=-1)
    if how == "mean":
        return np.array([x[..., 12 * y:min(12 * y + 12, T)].mean(axis=-1) for y in range(Y)]).T
    return np.array([x[..., min(12 * y + 11, T - 1)] for y in range(Y)]).T  # last


def project_cash_flows(result, mp: MedianPath | None = None) -> dict[str, pd.DataFrame]:
    """Yearly cash flows of the median path: one DataFrame per project (yuan; units and rates as they are)
    and one for the programme (support by payer, market)."""
    mp = mp or median_path(result)
    start = int(result.scenario.programme.start[:4])
    out: dict[str, pd.DataFrame] = {}
    for p, proj in enumerate(result.scenario.projects):
        cols = {}
        for key, title, how in PROJECT_ITEMS:
            cols[title] = _to_years(mp.monthly[key][0, p, :], how)
        df = pd.DataFrame(cols)
        df.insert(0, "year", np.arange(1, len(df) + 1))
        df.insert(1, "calendar_year", start + df["year"] - 1)
        out[proj.name] = df
    cols = {title: _to_years(mp.monthly[key][0, :], how) for key, title, how in PROGRAMME_ITEMS}
    df = pd.DataFrame(cols)
    df.insert(0, "year", np.arange(1, len(df) + 1))
    df.insert(1, "calendar_year", start + df["year"] - 1)
    out["programme"] = df
    return out


def waterfall_flows(mp: MedianPath) -> dict[str, float]:
    """Lifetime totals (yuan, undiscounted, positive amounts) of the median path for
    :func:`plotting.cash_waterfall`, plus ``end_cash`` (reserves + retained cash at the horizon)."""
    m = {k: v[0] for k, v in mp.monthly.items()}

    def tot(*keys):
        return float(sum(m[k].sum() for k in keys))

    return {
        "funding": tot("sources"),
        "acquisition": tot("uses"),
        "rent": tot("rent", "rent_subsidy"),
        "sales": tot("sales"),
        "grants": tot("op_grants", "interest_subsidy"),
        "operating_costs": tot("running_costs", "rent_costs", "sales_tax"),
        "buybacks": tot("buybacks"),
        "bank_service": tot("bank_due", "prepayment"),
        "bond_service": tot("bond_interest", "bond_principal"),
        "distributions": tot("distributions"),
        "soe_support": tot("soe_support"),
        "gov_bond": tot("gov_bond"),
        "gov_hidden": tot("gov_hidden"),
        "end_cash": float(m["dsra"][:, -1].sum() + m["cash"][:, -1].sum()),
    }


# =============================================================================================== flattening
def flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``[(dotted.key[i], leaf value)]`` of nested dicts and lists (leaves: numbers, strings, bools, None)."""
    rows: list[tuple[str, Any]] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            rows += flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        if not obj:
            rows.append((prefix, None))
        for i, v in enumerate(obj):
            rows += flatten(v, f"{prefix}[{i}]")
    else:
        rows.append((prefix, obj))
    return rows


def summary_unit(key: str) -> str:
    """Unit of a flattened summary key (or a per-path column): 'pct', 'yuan', 'ratio', 'years', 'count' or
    'text' — chooses the number format of the workbook."""
    comps = [c for c in key.replace("]", "").replace("[", ".").split(".") if c and not c.isdigit()]
    leaf = comps[-1] if comps else key
    if leaf in ("paths", "seed", "chunk_size", "units", "n_defaults", "n", "path", "workers", "index"):
        return "count"
    if any(c.startswith(("p_", "pd_")) for c in comps) or "peak_share_of_fiscal" in key:
        return "pct"
    if leaf.endswith("_years") or leaf == "years" or any(c in ("first_call_year", "lockup_years") for c in comps):
        return "years"
    if any(w in c for c in comps for w in ("dscr", "llcr", "coverage", "ltv", "hpi")):
        return "ratio"
    if leaf.endswith("_rate") or leaf in ("rate", "risk_weight") or any(
            w in c for c in comps for w in ("irr", "lgd", "share", "risk_weight")):
        return "pct"
    if any(w in c for c in comps for w in ("_pv", "pv_", "loss", "ead", "npv", "peak_funding", "_yuan", "collateral",
                                           "cash_balance", "support", "burden", "terminal_equity")):
        return "yuan"
    return "text"


# =============================================================================================== workbook
def write_xlsx(result, folder: str | Path, mp: MedianPath | None = None) -> Path:
    """``report.xlsx``: Guide, Summary (three lenses), Inputs, Yearly fans, Median path, Paths (sample), Manifest."""
    import xlsxwriter

    folder = Path(folder)
    path = folder / "report.xlsx"
    s = result.summary
    mp = mp or median_path(result)
    wb = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True})
    f = {
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "head": wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"}),
        "note": wb.add_format({"italic": True, "font_color": "#595959"}),
        "yuan": wb.add_format({"num_format": "#,##0"}),
        "wan": wb.add_format({"num_format": "#,##0.0"}),
        "pct": wb.add_format({"num_format": "0.00%"}),
        "ratio": wb.add_format({"num_format": "0.000"}),
        "years": wb.add_format({"num_format": "0.0"}),
        "count": wb.add_format({"num_format": "#,##0"}),
        "text": wb.add_format({}),
        "gen": wb.add_format({"num_format": "General"}),
        "bold": wb.add_format({"bold": True}),
    }

    def put(ws, r, c, v, fmt=None):
        if v is None:
            ws.write_blank(r, c, None)
        elif isinstance(v, (bool, np.bool_)):
            ws.write_boolean(r, c, bool(v))
        elif isinstance(v, (int, float, np.integer, np.floating)):
            x = float(v)
            if np.isfinite(x):
                ws.write_number(r, c, x, fmt or f["gen"])
            else:
                ws.write_blank(r, c, None)
        else:
            ws.write_string(r, c, str(v), fmt)

    # ---------------------------------------------------------------- Guide
    ws = wb.add_worksheet("Guide")
    ws.write(0, 0, f"{s['programme']['name']} — baozhang-finance report", f["title"])
    from baozhang_finance.report.tables import summary_rows

    ws.write_row(2, 0, ["lens", "metric", "value"], f["head"])
    for i, (lens, metric, value) in enumerate(summary_rows(s)):
        ws.write_row(3 + i, 0, [lens, metric, value])
    r = 4 + len(summary_rows(s))
    guide = [
        ("Summary", "every number of summary.json (three lenses), in yuan and 万元 (10k yuan)"),
        ("Inputs", "the scenario as read and validated (every field, flattened)"),
        ("Yearly", "fan-chart table: mean and p05–p95 across paths by year; money in 万元"),
        ("Median path", f"yearly cash flows per project of path {mp.index} (median hidden-debt PV), yuan"),
        ("Paths sample", f"the first {PATHS_SAMPLE_ROWS:,} of {len(result.paths):,} per-path rows "
                         "(all rows are in paths.parquet)"),
        ("Manifest", "package version, git commit, scenario SHA-256, seed, paths, chunk size, wall time"),
    ]
    ws.write_row(r, 0, ["sheet", "contents"], f["head"])
    for i, (a, b) in enumerate(guide):
        ws.write_row(r + 1 + i, 0, [a, b])
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 42)
    ws.set_column(2, 2, 60)

    # ---------------------------------------------------------------- Summary
    ws = wb.add_worksheet("Summary")
    ws.write_row(0, 0, ["section", "key", "value", "unit", "value (万元)"], f["head"])
    ws.freeze_panes(1, 0)
    rows = flatten(s)
    for i, (key, val) in enumerate(rows, start=1):
        section = key.split(".")[0].split("[")[0]
        unit = summary_unit(key) if isinstance(val, (int, float)) and not isinstance(val, bool) else "text"
        ws.write_string(i, 0, section)
        ws.write_string(i, 1, key)
        put(ws, i, 2, val, f.get(unit) if unit != "text" else None)
        ws.write_string(i, 3, {"pct": "share", "yuan": "yuan 元", "ratio": "×", "years": "years",
                               "count": "count"}.get(unit, ""))
        if unit == "yuan" and val is not None:
            ws.write_number(i, 4, float(val) / WAN, f["wan"])
    ws.autofilter(0, 0, len(rows), 4)
    ws.set_column(0, 0, 12)
    ws.set_column(1, 1, 52)
    ws.set_column(2, 2, 18)
    ws.set_column(3, 3, 9)
    ws.set_column(4, 4, 14)

    # ---------------------------------------------------------------- Inputs
    ws = wb.add_worksheet("Inputs")
    ws.write_row(0, 0, ["field", "value"], f["head"])
    ws.freeze_panes(1, 0)
    rows = flatten(result.scenario.model_dump(mode="json"))
    for i, (key, val) in enumerate(rows, start=1):
        ws.write_string(i, 0, key)
        fmt = f["yuan"] if key.endswith("_yuan") else None
        put(ws, i, 1, val, fmt)
    ws.set_column(0, 0, 64)
    ws.set_column(1, 1, 44)

    # ---------------------------------------------------------------- Yearly
    ws = wb.add_worksheet("Yearly")
    yd = result.yearly
    qcols = [c for c in ("mean", "p05", "p25", "p50", "p75", "p95") if c in yd]
    ws.write_row(0, 0, ["quantity", "unit", "year", "calendar year", "paths (n)"] + qcols, f["head"])
    ws.freeze_panes(1, 3)
    for i, row in enumerate(yd.itertuples(index=False), start=1):
        q = row.quantity
        money = q not in ("dscr", "ltv")
        ws.write_string(i, 0, q)
        ws.write_string(i, 1, "万元" if money else "×")
        ws.write_number(i, 2, int(row.year), f["count"])
        ws.write_number(i, 3, int(row.calendar_year), f["gen"])
        ws.write_number(i, 4, int(row.n), f["count"])
        for j, c in enumerate(qcols):
            v = getattr(row, c)
            put(ws, i, 5 + j, (v / WAN if money else v) if v is not None and np.isfinite(v) else None,
                f["wan"] if money else f["ratio"])
    ws.autofilter(0, 0, len(yd), 4 + len(qcols))
    ws.set_column(0, 0, 16)
    ws.set_column(1, 4, 10)
    ws.set_column(5, 4 + len(qcols), 12)

    # ---------------------------------------------------------------- Median path
    ws = wb.add_worksheet("Median path")
    tables = project_cash_flows(result, mp)
    ws.write(0, 0, f"Path {mp.index}: median hidden-debt PV = {mp.hidden_debt_pv:,.0f} yuan "
                   f"({mp.hidden_debt_pv / WAN:,.1f} 万元). Money in yuan; flows are yearly sums.", f["bold"])
    ws.write(1, 0, "Re-simulated month by month from the run's seed and chunk; checked against the run's ledgers.",
             f["note"])
    r = 3
    first_header = None
    for name, df in tables.items():
        ws.write(r, 0, name if name != "programme" else "Programme (support by payer, market)", f["bold"])
        r += 1
        ws.write_row(r, 0, list(df.columns), f["head"])
        if first_header is None:
            first_header = r
        for yi, row in enumerate(df.itertuples(index=False), start=1):
            for c, (col, v) in enumerate(zip(df.columns, row)):
                if col in ("year", "calendar_year"):
                    fmt = f["gen"]
                elif "occupancy" in col:
                    fmt = f["pct"]
                elif "index" in col or "LPR" in col:
                    fmt = f["ratio"] if "index" in col else f["pct"]
                elif "units" in col:
                    fmt = f["years"]
                else:
                    fmt = f["yuan"]
                put(ws, r + yi, c, v, fmt)
        r += len(df) + 2
    ws.freeze_panes(first_header + 1, 2)
    ws.set_column(0, 1, 9)
    ws.set_column(2, 30, 15)
    ws.set_row(first_header, 45)

    # ---------------------------------------------------------------- Paths sample
    ws = wb.add_worksheet("Paths sample")
    sample = result.paths.head(PATHS_SAMPLE_ROWS)
    ws.write_row(0, 0, list(sample.columns), f["head"])
    ws.freeze_panes(1, 1)
    for c, col in enumerate(sample.columns):
        u = summary_unit(col)
        fmt = {"yuan": f["yuan"], "pct": f["pct"], "ratio": f["ratio"]}.get(u, f["gen"])
        if col.startswith("hpi"):
            fmt = f["ratio"]
        for i, v in enumerate(sample[col].to_numpy(), start=1):
            put(ws, i, c, v.item() if hasattr(v, "item") else v, fmt)
    ws.set_column(0, len(sample.columns), 14)

    # ---------------------------------------------------------------- Manifest
    ws = wb.add_worksheet("Manifest")
    ws.write_row(0, 0, ["key", "value"], f["head"])
    for i, (k, v) in enumerate(flatten(result.manifest()), start=1):
        ws.write_string(i, 0, k)
        put(ws, i, 1, v)
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 70)
    wb.close()
    return path


# =============================================================================================== charts
def write_charts(result, folder: str | Path, mp: MedianPath | None = None) -> list[Path]:
    """``charts/*.png`` (150 dpi): cash-balance and DSCR fans, hidden-debt PV distribution, cumulative PD,
    the median path's waterfall."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from baozhang_finance.report import charts as pl

    folder = Path(folder) / "charts"
    folder.mkdir(parents=True, exist_ok=True)
    s = result.summary
    mp = mp or median_path(result)
    hd = s["hidden_debt"]
    written = []
    with matplotlib.rc_context(pl.font_rc()):
        jobs: list[tuple[str, tuple[float, float], Callable]] = [
            ("cash_balance_fan.png", (7.5, 4.0), lambda ax: pl.fan_chart(ax, result.yearly, "cash_balance")),
            ("dscr_fan.png", (7.5, 4.0), lambda ax: pl.fan_chart(ax, result.yearly, "dscr")),
            ("hidden_debt_pv.png", (7.5, 4.0), lambda ax: pl.hidden_debt_distribution(
                ax, result.paths["hidden_debt_pv"].to_numpy(float), hd["var95_pv"], hd["cvar95_pv"])),
            ("pd_curve.png", (7.5, 4.0), lambda ax: pl.pd_curve(ax, s["bank"].get("pd_cumulative", []),
                                                                result.scenario.programme.start)),
            ("median_waterfall.png", (8.5, 5.0), lambda ax: pl.cash_waterfall(
                ax, waterfall_flows(mp),
                title=pl.label(f"Median path (no. {mp.index}): lifetime cash", "中位路径资金来源与去向"))),
        ]
        for name, size, draw in jobs:
            fig, ax = plt.subplots(figsize=size, dpi=150)
            try:
                draw(ax)
                fig.tight_layout()
                fig.savefig(folder / name)
            finally:
                plt.close(fig)
            written.append(folder / name)
    return written


# =============================================================================================== HTML
def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _pct(x, d=1) -> str:
    return "—" if x is None else f"{100 * x:.{d}f} %"


def _wan(x) -> str:
    return "—" if x is None else f"{x / WAN:,.0f} 万元"


def _num(x, fmt="{:.2f}") -> str:
    return "—" if x is None else fmt.format(x)


def _g(d: dict, *keys: str, default=None):
    """The first of the dotted ``keys`` present (and not None) in the nested dict ``d``."""
    for key in keys:
        cur: Any = d
        for part in key.split("."):
            if isinstance(cur, dict) and part in cur:
                cur = cur[part]
            else:
                cur = None
                break
        if cur is not None:
            return cur
    return default


def _table(rows, head=None, cls="") -> str:
    out = [f'<table class="{cls}">']
    if head:
        out.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr></thead>")
    out.append("<tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def answer_sentence(s: dict) -> str:
    """The answer in one sentence, with its probability (plain text)."""
    hd, run = s["hidden_debt"], s["run"]
    n = int(run["paths"])
    p = float(hd["p_call"])
    se = run.get("standard_errors", {}).get("p_call")
    if p == 0.0:
        return (f"In none of the {n:,} simulated futures does the city budget have to pay the SOE's debt or costs "
                f"off its books (hidden debt, 隐性债务): the programme's own revenue, reserves and the SOE's support "
                f"cover them (95 % upper bound on the probability: {_pct(min(1.0, 3.0 / n), 2)}).")
    band = f" ± {_pct(1.96 * se)}" if se else ""
    return (f"In {_pct(p)}{band} of {n:,} simulated futures the programme cannot pay its SOE debt and costs "
            f"from its own revenue, reserves and the SOE's support, and the city budget is called on off its "
            f"books (hidden debt, 隐性债务): expected present value {_wan(hd['expected_pv'])}, "
            f"1-in-20 worst case (VaR95) {_wan(hd['var95_pv'])}.")


def _compliance_findings(result):
    """(findings rows, header, note). Uses compliance.check_scenario when that module exists."""
    try:
        from baozhang_finance.model.compliance import check_scenario
    except ImportError:
        return [], None, "The policy-compliance module (compliance.py) is not installed in this version: no rules checked."
    try:
        findings = list(check_scenario(result.scenario))
    except Exception as exc:  # a rule error must not lose the run's report
        return [], None, f"The compliance check failed: {type(exc).__name__}: {exc}"
    if not findings:
        return [], None, "No policy finding: the plan complies with the rules checked."
    recs = []
    for fd in findings:
        if dataclasses.is_dataclass(fd):
            rec = dataclasses.asdict(fd)
        elif hasattr(fd, "model_dump"):
            rec = fd.model_dump()
        elif isinstance(fd, dict):
            rec = dict(fd)
        else:
            rec = {"finding": str(fd)}
        recs.append({k: v for k, v in rec.items() if not isinstance(v, (dict, list)) or v})
    head = []
    for r in recs:
        head += [k for k in r if k not in head]
    rows = [[r.get(k, "") if r.get(k) is not None else "" for k in head] for r in recs]
    return rows, head, f"{len(recs)} finding(s): the plan breaches rules it was checked against."


def _unverifiable(result):
    try:
        from baozhang_finance.model.compliance import unverifiable
    except ImportError:
        return None
    try:
        items = list(unverifiable(result.scenario))
    except Exception:  # reported with the findings already
        return None
    if not items:
        return None
    recs = [dataclasses.asdict(u) if dataclasses.is_dataclass(u) else {"rule": str(u)} for u in items]
    head = list(recs[0])
    return head, [[r.get(k, "") for k in head] for r in recs]


def _field_rows(model) -> list[list[str]]:
    rows = []
    for name, info in type(model).model_fields.items():
        v = getattr(model, name)
        if isinstance(v, (list, dict)) or hasattr(v, "model_fields"):
            continue
        if isinstance(v, float) and name.endswith("_yuan"):
            shown = f"{v:,.0f} 元 ({v / WAN:,.0f} 万元)"
        elif isinstance(v, float):
            shown = f"{v:.6g}"
        else:
            shown = v
        rows.append([name, shown, info.description or ""])
    return rows


def _financing_rows(sc, s) -> tuple[list, list, list, list]:
    proj_rows, loan_rows, bond_rows, grant_rows = [], [], [], []
    pinfo = {p["name"]: p for p in s["programme"]["projects"]}
    for p in sc.projects:
        info = pinfo.get(p.name, {})
        fin = p.financing
        proj_rows.append([p.name, p.type, f"{p.units:,}", f"{p.area_m2:g}", f"{p.acquisition_price_yuan_per_m2:,.0f}",
                          f"{p.appraisal_yuan_per_m2:,.0f}", _wan(info.get("total_investment_yuan")),
                          _wan(fin.equity_yuan), _pct(info.get("equity_share")), _pct(info.get("capital_share"))])
        for ln in fin.loans:
            rate = (f"fixed {_pct(ln.fixed_rate, 2)}" if ln.rate_type == "fixed"
                    else f"LPR {ln.spread_over_lpr * 1e4:+.0f} bp")
            rel = (f"{_pct(ln.relending.share, 0)} at {_pct(ln.relending.rate, 2)}, "
                   f"{ln.relending.term_years} y × {ln.relending.rollovers + 1}") if ln.relending else "—"
            loan_rows.append([p.name, ln.name, _wan(ln.amount_yuan), f"{ln.term_years} y", f"{ln.grace_months} m",
                              ln.amortisation, rate, rel])
        for b in fin.bonds:
            bond_rows.append([p.name, b.name, _wan(b.amount_yuan), _pct(b.coupon, 2), f"{b.term_years} y",
                              b.coupon_frequency, b.principal, "yes" if b.counts_as_capital else "no"])
        for g in fin.grants:
            amt = g.amount_yuan + g.per_unit_yuan * p.units
            grant_rows.append([p.name, g.name, g.source, _wan(amt), "capital" if g.capital else f"operating, month {g.month}"])
    return proj_rows, loan_rows, bond_rows, grant_rows


_CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",
"Helvetica Neue",Arial,sans-serif;color:#1a1a1a;max-width:1100px;margin:0 auto;padding:24px 32px;line-height:1.45;
background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;border-bottom:2px solid #2b5797;padding-bottom:3px;margin-top:34px}
h3{font-size:16px;margin:20px 0 6px}.sub{color:#555;margin:0 0 16px}
.question{background:#f3f6fa;border-left:4px solid #2b5797;padding:10px 14px}
.answer{font-size:18px;padding:14px 16px;border-radius:6px;margin:14px 0}
.answer.bad{background:#fdecea;border:1px solid #e6a5a0}.answer.good{background:#e9f6ec;border:1px solid #9fd3aa}
.kpis{display:flex;gap:12px;flex-wrap:wrap;margin:10px 0}
.kpi{flex:1 1 180px;border:1px solid #ccd6e4;border-radius:6px;padding:8px 12px}
.kpi .v{font-size:22px;font-weight:bold}.kpi .l{font-size:12px;color:#555}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px;width:100%}
th,td{border:1px solid #d0d7e2;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#e8eef7}td.n,th.n{text-align:right}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:14px}
figure{margin:8px 0}figure img{width:100%;height:auto;border:1px solid #e3e3e3}
figcaption{font-size:12px;color:#555}.note{font-size:12px;color:#555}
footer{margin-top:40px;font-size:12px;color:#666}
"""

_IMG_SCRIPT = """
(function(){function mark(){var im=document.images,ok=im.length>0;for(var i=0;i<im.length;i++){
if(!(im[i].complete&&im[i].naturalWidth>0)){ok=false;}}
document.body.setAttribute('data-images-loaded',ok?'true':'false');
document.body.setAttribute('data-image-count',String(im.length));}
if(document.readyState==='complete'){mark();}else{window.addEventListener('load',mark);}})();
"""


def render_html(result, chart_dir: str | Path) -> str:
    """The report page as a string (PNG charts from ``chart_dir`` embedded as base64)."""
    s = result.summary
    sc = result.scenario
    hd, cov, fis, bank, soe, run = s["hidden_debt"], s["coverage"], s["fiscal"], s["bank"], s["soe"], s["run"]
    chart_dir = Path(chart_dir)
    p_call = float(hd["p_call"])
    good = p_call <= CALL_THRESHOLD

    def img(name, alt, caption):
        p = chart_dir / name
        if not p.exists():
            return ""
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        return (f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{_e(caption)}</figcaption></figure>")

    title = f"{sc.programme.name} — does it pay for itself? 能否自求平衡？"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">{_e(sc.programme.city)} · implementing SOE (实施主体): {_e(sc.programme.soe)} · '
        f"start {_e(sc.programme.start)}, horizon {sc.programme.horizon_years} years · "
        f"{run['paths']:,} Monte Carlo paths, seed {run['seed']}"
        + (f" · stress <b>{_e(run['stress'])}</b>" if run.get("stress") else "")
        + (" · deterministic (expected market path)" if run.get("deterministic") else "") + "</p>",
        "<h2>The question 问题</h2>",
        '<p class="question">When the SOE buys this housing stock and runs it as affordable housing, does the money '
        "that comes back (rent at ≤ 80 % of market, sales at cost + ≤ 5 %, subsidies) cover the debt that paid "
        "for it — and if not, who pays, and how much? Money the budget pays for SOE debt that is not government "
        "debt is hidden debt (隐性债务), which every policy document forbids.</p>",
        "<h2>The answer 结论</h2>",
        f'<p class="answer {"good" if good else "bad"}" id="answer">{_e(answer_sentence(s))}</p>',
        '<div class="kpis">',
    ]
    kpis = [
        (_pct(p_call), "P(hidden-debt call) 隐性债务代偿概率"),
        (_wan(hd["expected_pv"]), "expected hidden debt, PV 期望现值"),
        (_pct(cov["p_self_financing"]), "P(self-financing) 完全自求平衡概率"),
        (_pct(bank.get("pd_lifetime")) if bank.get("has_bank_debt") else "no loan", "bank PD, loan life 违约概率"),
        (_pct(soe["equity_irr"]["p50"]), "SOE equity IRR (median) 股权内部收益率"),
    ]
    for v, lab in kpis:
        parts.append(f'<div class="kpi"><div class="v">{_e(v)}</div><div class="l">{_e(lab)}</div></div>')
    parts.append("</div>")
    parts.append(f'<p class="note">{"Below" if good else "Above"} the {_pct(CALL_THRESHOLD, 0)} tolerance '
                 "for P(hidden-debt call) this report uses. Probabilities are Monte Carlo estimates; ± is a 95 % "
                 "interval (1.96 standard errors).</p>")

    # ---------------------------------------------------------------- fiscal lens
    se = run["standard_errors"]
    parts += [
        "<h2>Fiscal lens 财政视角 (finance bureau 财政局)</h2>",
        _table([
            ["P(self-financing: no support from anyone over the horizon)", _pct(cov["p_self_financing"])],
            ["P(hidden-debt call) ± SE", f"{_pct(hd['p_call'])} ± {_pct(se['p_call'])}"],
            ["Expected hidden debt, present value ± SE", f"{_wan(hd['expected_pv'])} ± {_wan(se['expected_pv'])}"],
            ["VaR95 / CVaR95 of the hidden-debt PV", f"{_wan(hd['var95_pv'])} / {_wan(hd['cvar95_pv'])}"],
            ["VaR99 / CVaR99", f"{_wan(_g(hd, 'var99_pv'))} / {_wan(_g(hd, 'cvar99_pv'))}"],
            ["Hidden-debt PV given a call: p50 / p95",
             f"{_wan(_g(hd, 'pv_given_call.p50'))} / {_wan(_g(hd, 'pv_given_call.p95'))}"],
            ["First call year (median, paths with a call)", _num(hd["first_call_year"]["p50"], "{:.0f}")],
            ["Peak yearly call ÷ fiscal revenue, p50 / p95",
             f"{_pct(hd['peak_share_of_fiscal_revenue']['p50'], 3)} / {_pct(hd['peak_share_of_fiscal_revenue']['p95'], 3)}"],
            ["Explicit special-bond burden (显性): P / expected PV",
             f"{_pct(fis['explicit_bond_burden']['p_call'])} / {_wan(fis['explicit_bond_burden']['expected_pv'])}"],
            ["本息覆盖倍数 bond coverage ratio: mean / p05 / p50",
             " / ".join(_num(cov["bond_coverage_ratio"].get(k)) for k in ("mean", "p05", "p50"))],
        ], ["measure", "value"]),
        "<h3>Who pays the gap 资金缺口由谁承担 (expected PV)</h3>",
        _table([[r["label"], _wan(r["expected_pv_yuan"]), _pct(r["share"])] for r in fis.get("classification", [])],
               ["payer", "expected PV", "share"]),
        '<div class="grid">',
        img("hidden_debt_pv.png", "hidden-debt PV distribution", "Hidden-debt PV per path, VaR95 and CVaR95 marked."),
        img("cash_balance_fan.png", "cash balance fan chart", "Reserves + retained cash at year end: p05–p95 fan."),
        "</div>",
    ]
    # ---------------------------------------------------------------- bank lens
    parts.append("<h2>Bank lens 银行视角 (credit officer, standalone view: no government support)</h2>")
    if bank.get("has_bank_debt"):
        dmin = _g(bank, "dscr_bank_min") or cov.get("dscr_min", {})
        rows = [
            ["Bank principal", _wan(_g(bank, "bank_principal_yuan"))],
            ["PD over the loan life / annualised",
             f"{_pct(_g(bank, 'pd_lifetime'))} / {_pct(_g(bank, 'pd_annualised'), 2)}"],
            ["Years to default p05 / p50 / p95 (defaulted paths)",
             " / ".join(_num(_g(bank, f"time_to_default.{k}_years"), "{:.1f}") for k in ("p05", "p50", "p95"))],
            ["LGD (mean, defaulted paths) / EAD (mean)",
             f"{_pct(_g(bank, 'lgd_mean'))} / {_wan(_g(bank, 'ead.mean', 'ead_mean'))}"],
            ["Expected loss / EL rate",
             f"{_wan(_g(bank, 'expected_loss'))} / {_pct(_g(bank, 'expected_loss_rate'), 2)}"],
            ["Minimum bank DSCR p05 / p50 / p95", " / ".join(_num(dmin.get(k)) for k in ("p05", "p50", "p95"))],
            ["P(minimum DSCR < 1)", _pct(_g(bank, "p_dscr_bank_min_below_1", "p_min_dscr_below_1"))],
            ["LLCR p05 / p50", f"{_num(_g(cov, 'llcr.p05'))} / {_num(_g(cov, 'llcr.p50'))}"],
            ["Peak LTV p50 / p95", f"{_pct(_g(bank, 'ltv_peak.p50'))} / {_pct(_g(bank, 'ltv_peak.p95'))}"],
            ["Grade (slotting) / risk weight", f"{_g(bank, 'grade', default='—')} / {_pct(_g(bank, 'risk_weight'), 0)}"],
        ]
        parts.append(_table([r for r in rows if r[1].replace("/", "").replace("—", "").strip()],
                            ["measure", "value"]))
    else:
        parts.append("<p>The programme has no bank loan.</p>")
    parts += ['<div class="grid">',
              img("pd_curve.png", "cumulative PD", "Cumulative probability of default by year."),
              img("dscr_fan.png", "DSCR fan chart", "DSCR by year (CFADS ÷ all debt service), p05–p95 fan; 1.0 marked."),
              "</div>"]
    # ---------------------------------------------------------------- SOE lens
    parts += [
        "<h2>SOE lens 国企视角 (implementing SOE and researchers)</h2>",
        _table([
            ["Equity IRR p05 / p50 / p95", " / ".join(_pct(soe["equity_irr"].get(k)) for k in ("p05", "p50", "p95"))],
            ["Share of paths with no defined equity IRR", _pct(_g(soe, "equity_irr_undefined_share"))],
            ["Project IRR p05 / p50 / p95", " / ".join(_pct(_g(soe, f"project_irr.{k}")) for k in ("p05", "p50", "p95"))],
            ["Equity NPV p05 / p50 / p95", " / ".join(_wan(soe["npv"].get(k)) for k in ("p05", "p50", "p95"))],
            ["Peak funding need p50 / p95", f"{_wan(soe['peak_funding_need'].get('p50'))} / {_wan(soe['peak_funding_need'].get('p95'))}"],
            ["Years of distribution lock-up: mean / p95",
             f"{_num(_g(soe, 'lockup_years.mean'), '{:.1f}')} / {_num(_g(soe, 'lockup_years.p95'), '{:.1f}')}"],
            ["P(equity NPV < 0)", _pct(_g(soe, "p_npv_negative"))],
        ], ["measure", "value"]),
        img("median_waterfall.png", "median path waterfall",
            "The median path (median hidden-debt PV): lifetime sources and uses of cash, undiscounted. "
            "Per-project yearly cash flows are in report.xlsx, sheet 'Median path'."),
    ]
    # ---------------------------------------------------------------- compliance
    rows, head, note = _compliance_findings(result)
    parts += ["<h2>Policy compliance 合规检查</h2>",
              f"<p>Rule sets: {_e(', '.join(sc.policy.rule_sets))}. {_e(note)}</p>"]
    if rows:
        parts.append(_table(rows, head, "findings"))
    unv = _unverifiable(result)
    if unv:
        parts += ["<h3>Rules that could not be checked 无法核验的规则 (the scenario lacks the figure)</h3>",
                  _table(unv[1], unv[0])]
    # ---------------------------------------------------------------- assumptions
    proj_rows, loan_rows, bond_rows, grant_rows = _financing_rows(sc, s)
    parts += [
        "<h2>Key assumptions 主要假设</h2>",
        "<h3>Projects and capital 项目与资本金</h3>",
        _table(proj_rows, ["project", "type", "units", "m²/unit", "price 元/m²", "appraisal 元/m²", "investment",
                           "equity", "equity share", "capital share"]),
    ]
    if loan_rows:
        parts += ["<h3>Bank loans 银行贷款</h3>",
                  _table(loan_rows, ["project", "loan", "amount", "term", "grace", "amortisation", "rate",
                                     "PBoC relending 再贷款"])]
    if bond_rows:
        parts += ["<h3>Special bonds 专项债</h3>",
                  _table(bond_rows, ["project", "bond", "amount", "coupon", "term", "coupons", "principal",
                                     "counts as capital"])]
    if grant_rows:
        parts += ["<h3>Grants 补助</h3>", _table(grant_rows, ["project", "grant", "source", "amount", "kind"])]
    parts += ["<h3>Waterfall 资金使用顺序</h3>", _table(_field_rows(sc.waterfall), ["field", "value", "meaning"]),
              "<h3>Market 市场参数 (annual)</h3>", _table(_field_rows(sc.market), ["field", "value", "meaning"])]
    if sc.market.stresses:
        parts.append('<p class="note">Stress overlays defined: '
                     + _e(", ".join(x.name for x in sc.market.stresses)) + ".</p>")
    # ---------------------------------------------------------------- manifest
    man = result.manifest()
    parts += ["<h2>Run manifest 运行记录</h2>",
              _table([[k, "" if v is None else (f"{v:.2f} s" if k == "wall_time_s" and isinstance(v, float) else v)]
                      for k, v in flatten(man)], ["key", "value"]),
              "<footer>baozhang-finance · summary.json, paths.parquet, yearly.csv and report.xlsx in this run folder "
              "hold every number on this page.</footer>",
              f"<script>{_IMG_SCRIPT}</script>",
              "</body></html>"]
    return "\n".join(parts)


def write_html(result, folder: str | Path) -> Path:
    folder = Path(folder)
    if not (folder / "charts").is_dir():
        write_charts(result, folder)
    path = folder / "report.html"
    path.write_text(render_html(result, folder / "charts"), encoding="utf-8")
    return path


# =============================================================================================== entry points
def report_writers() -> tuple[Callable, ...]:
    """Writers ``f(result, tmp_dir)`` that :meth:`Result.save` runs in its atomic transaction:
    charts/*.png, then report.xlsx, then report.html (which embeds the charts)."""
    return (write_charts, write_xlsx, write_html)


def render_reports(run_dir: str | Path, out: str | Path | None = None, result=None) -> Path:
    """Re-render report.xlsx, report.html and charts/ of a saved run.

    With ``out`` the reports go to that (new or empty) folder; otherwise they replace the ones in ``run_dir``.
    Either way they are written to a temporary folder first and moved into place at the end.
    """
    from baozhang_finance.run.result import Result

    run_dir = Path(run_dir)
    res = result if result is not None else Result.load(run_dir)
    target = Path(out) if out is not None else run_dir
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.report-", dir=target.parent if out is not None else target))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; a new --out folder gets the mode mkdir would
    try:
        for w in report_writers():
            w(res, tmp)
        if out is not None:
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.replace(tmp, target)
        else:
            old = target / ".charts.old"
            if old.exists():
                shutil.rmtree(old)
            if (target / "charts").exists():
                os.replace(target / "charts", old)
            os.replace(tmp / "charts", target / "charts")
            for name in REPORT_FILES:
                os.replace(tmp / name, target / name)
            shutil.rmtree(old, ignore_errors=True)
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def summary_json(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "summary.json").read_text())
