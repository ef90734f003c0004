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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter

from baozhang_finance.measures.catalogue import entry, has
from baozhang_finance.model.compliance import check_scenario, unverifiable
from baozhang_finance.report import charts as pl
from baozhang_finance.report.charts import WAN
from baozhang_finance.report.format import XLSX_FORMATS, ci95_from_se, fmt, label, pct, pm, several, unit_text, wan
from baozhang_finance.report.tables import summary_rows
from baozhang_finance.run.replay import (  # noqa: F401  (re-exported for callers of old)
    MedianPath,
    median_path,
    median_path_index,
    replay_path,
)
from baozhang_finance.run.result import Result

#: rows of result.paths written to the workbook (a sample, not a dump)
PATHS_SAMPLE_ROWS = 1_000
#: P(hidden-debt call) above which the HTML answer is flagged (the bureau's tolerance; DESIGN §1 uses 5 %)
CALL_THRESHOLD = 0.05

REPORT_FILES = ("report.xlsx", "report.html")
CHART_FILES = ("cash_balance_fan.png", "dscr_fan.png", "hidden_debt_pv.png", "pd_curve.png", "median_waterfall.png")


# =============================================================================================== median path
# the replay itself lives in run/replay.py; the report only renders it


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
        "bond_service": tot("bond_interest", "bond_principal", "bond_redemption"),
        "distributions": tot("distributions"),
        "soe_support": tot("soe_support"),
        "gov_bond": tot("gov_bond"),
        "gov_hidden": tot("gov_hidden"),
        "cures": tot("cure_extension", "cure_refinancing", "cure_disposal"),
        "end_cash": float(m["dsra"][:, -1].sum() + m["cash"][:, -1].sum() + m["sinking_fund"][:, -1].sum()
                          + m["buyback_reserve"][:, -1].sum()),
    }


# =============================================================================================== flattening and workbook
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
    """Catalogue unit of a flattened summary key or a per-path column (``paths.<col>`` or the bare column name):
    yuan, share, ratio, index, years, year, months, count, flag or text (see measures/catalogue.py)."""
    if has(key):
        return entry(key).unit
    if has(f"paths.{key}"):
        return entry(f"paths.{key}").unit
    return "text"


class _Sheet:
    """A worksheet with the workbook's cell formats: one number format per catalogue unit."""

    def __init__(self, wb, formats: dict, name: str):
        self.ws, self.f = wb.add_worksheet(name), formats

    def unit_format(self, unit: str):
        return self.f.get(unit, self.f["gen"])

    def put(self, r: int, c: int, v, fmt=None) -> None:
        ws = self.ws
        if v is None:
            ws.write_blank(r, c, None)
        elif isinstance(v, (bool, np.bool_)):
            ws.write_boolean(r, c, bool(v))
        elif isinstance(v, (int, float, np.integer, np.floating)):
            x = float(v)
            if np.isfinite(x):
                ws.write_number(r, c, x, fmt or self.f["gen"])
            else:
                ws.write_blank(r, c, None)
        else:
            ws.write_string(r, c, str(v), fmt)

    def widths(self, *spec: tuple[int, int, float]) -> None:
        for first, last, w in spec:
            self.ws.set_column(first, last, w)


def _formats(wb) -> dict:
    f = {
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "head": wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"}),
        "note": wb.add_format({"italic": True, "font_color": "#595959"}),
        "wan": wb.add_format({"num_format": "#,##0.0"}),
        "gen": wb.add_format({"num_format": "General"}),
        "bold": wb.add_format({"bold": True}),
    }
    for unit, num_format in XLSX_FORMATS.items():
        f[unit] = wb.add_format({"num_format": num_format})
    return f


def _sheet_guide(wb, f, result, mp: MedianPath) -> None:
    sh = _Sheet(wb, f, "Guide")
    ws, s = sh.ws, result.summary
    ws.write(0, 0, f"{s['programme']['name']} — baozhang-finance report", f["title"])
    rows = summary_rows(s)
    ws.write_row(2, 0, ["lens", "metric", "value"], f["head"])
    for i, row in enumerate(rows):
        ws.write_row(3 + i, 0, list(row))
    r = 4 + len(rows)
    guide = [
        ("Summary", "every number of summary.json (three lenses) with its label (English, 中文) and unit; "
                    "money in yuan and 万元 (10k yuan); shares as %"),
        ("Inputs", "the scenario as read and validated (every field, flattened)"),
        ("Yearly", "fan-chart table: mean and p05–p95 across paths by year; money in 万元"),
        ("Median path", f"yearly cash flows per project of path {mp.index} (median hidden-debt PV), yuan"),
        ("Paths sample", f"the first {PATHS_SAMPLE_ROWS:,} of {len(result.paths):,} per-path rows "
                         "(all rows are in paths.parquet)"),
        ("Manifest", "package version, git commit, scenario SHA-256, seed, paths, chunk size, wall time"),
        ("", "± in the tables is one standard error (SE) of the Monte Carlo estimate"),
    ]
    ws.write_row(r, 0, ["sheet", "contents"], f["head"])
    for i, (a, b) in enumerate(guide):
        ws.write_row(r + 1 + i, 0, [a, b])
    sh.widths((0, 0, 14), (1, 1, 42), (2, 2, 60))


def _sheet_summary(wb, f, result) -> None:
    """Every summary key: section, key, value (yuan / share / ratio …), unit, value in 万元, label, 中文."""
    sh = _Sheet(wb, f, "Summary")
    ws = sh.ws
    ws.write_row(0, 0, ["section", "key", "value", "unit", "value (万元)", "label", "中文"], f["head"])
    ws.freeze_panes(1, 0)
    rows = flatten(result.summary)
    for i, (key, val) in enumerate(rows, start=1):
        e = entry(key)
        number = isinstance(val, (int, float)) and not isinstance(val, bool)
        ws.write_string(i, 0, key.split(".")[0].split("[")[0])
        ws.write_string(i, 1, key)
        sh.put(i, 2, val, sh.unit_format(e.unit) if number else None)
        ws.write_string(i, 3, unit_text(e) if number or e.unit == "flag" else "")
        if e.unit == "yuan" and number:
            ws.write_number(i, 4, float(val) / WAN, f["wan"])
        ws.write_string(i, 5, e.en)
        ws.write_string(i, 6, e.zh)
    ws.autofilter(0, 0, len(rows), 6)
    sh.widths((0, 0, 12), (1, 1, 52), (2, 2, 18), (3, 3, 9), (4, 4, 14), (5, 5, 44), (6, 6, 28))


def _sheet_inputs(wb, f, result) -> None:
    sh = _Sheet(wb, f, "Inputs")
    sh.ws.write_row(0, 0, ["field", "value"], f["head"])
    sh.ws.freeze_panes(1, 0)
    for i, (key, val) in enumerate(flatten(result.scenario.model_dump(mode="json")), start=1):
        sh.ws.write_string(i, 0, key)
        sh.put(i, 1, val, f["yuan"] if key.endswith("_yuan") else None)
    sh.widths((0, 0, 64), (1, 1, 44))


def _sheet_yearly(wb, f, result) -> None:
    """The fan table: one row per quantity and year; money in 万元, ratios and shares as they are."""
    sh = _Sheet(wb, f, "Yearly")
    ws, yd = sh.ws, result.yearly
    qcols = [c for c in ("mean", "p05", "p25", "p50", "p75", "p95") if c in yd]
    ws.write_row(0, 0, ["quantity", "unit", "year", "calendar year", "paths (n)"] + qcols + ["label", "中文"],
                 f["head"])
    ws.freeze_panes(1, 3)
    for i, row in enumerate(yd.itertuples(index=False), start=1):
        e = entry(f"yearly.{row.quantity}")
        money = e.unit == "yuan"
        ws.write_string(i, 0, row.quantity)
        ws.write_string(i, 1, "万元" if money else unit_text(e))
        ws.write_number(i, 2, int(row.year), f["count"])
        ws.write_number(i, 3, int(row.calendar_year), f["gen"])
        ws.write_number(i, 4, int(row.n), f["count"])
        for j, c in enumerate(qcols):
            v = getattr(row, c)
            ok = v is not None and np.isfinite(v)
            sh.put(i, 5 + j, (v / WAN if money else v) if ok else None, f["wan"] if money else sh.unit_format(e.unit))
        ws.write_string(i, 5 + len(qcols), e.en)
        ws.write_string(i, 6 + len(qcols), e.zh)
    ws.autofilter(0, 0, len(yd), 6 + len(qcols))
    sh.widths((0, 0, 16), (1, 4, 10), (5, 4 + len(qcols), 12), (5 + len(qcols), 5 + len(qcols), 36))


def _sheet_median_path(wb, f, result, mp: MedianPath) -> None:
    """Yearly cash flows of the median path, one block per project and one for the programme (yuan)."""
    sh = _Sheet(wb, f, "Median path")
    ws = sh.ws
    unit_of = {title: entry(f"flow.{key}").unit for key, title, _ in PROJECT_ITEMS + PROGRAMME_ITEMS}
    ws.write(0, 0, f"Path {mp.index}: median hidden-debt PV = {mp.hidden_debt_pv:,.0f} yuan "
                   f"({mp.hidden_debt_pv / WAN:,.1f} 万元). Money in yuan; flows are yearly sums.", f["bold"])
    ws.write(1, 0, "Re-simulated month by month from the run's seed and chunk; checked against the run's ledgers.",
             f["note"])
    r, first_header = 3, None
    for name, df in project_cash_flows(result, mp).items():
        ws.write(r, 0, name if name != "programme" else "Programme (support by payer, market)", f["bold"])
        r += 1
        ws.write_row(r, 0, list(df.columns), f["head"])
        first_header = r if first_header is None else first_header
        fmts = [f["gen"] if col in ("year", "calendar_year") else sh.unit_format(unit_of.get(col, "yuan"))
                for col in df.columns]
        for yi, row in enumerate(df.itertuples(index=False), start=1):
            for c, v in enumerate(row):
                sh.put(r + yi, c, v, fmts[c])
        r += len(df) + 2
    ws.freeze_panes(first_header + 1, 2)
    sh.widths((0, 1, 9), (2, 30, 15))
    ws.set_row(first_header, 45)


def _sheet_paths(wb, f, result) -> None:
    sh = _Sheet(wb, f, "Paths sample")
    sample = result.paths.head(PATHS_SAMPLE_ROWS)
    sh.ws.write_row(0, 0, list(sample.columns), f["head"])
    sh.ws.freeze_panes(1, 1)
    for c, col in enumerate(sample.columns):
        unit = summary_unit(col)
        fmt = f["gen"] if unit in ("count", "flag", "text") else sh.unit_format(unit)
        for i, v in enumerate(sample[col].to_numpy(), start=1):
            sh.put(i, c, v.item() if hasattr(v, "item") else v, fmt)
    sh.widths((0, len(sample.columns), 14))


def _sheet_manifest(wb, f, result) -> None:
    sh = _Sheet(wb, f, "Manifest")
    sh.ws.write_row(0, 0, ["key", "value"], f["head"])
    for i, (k, v) in enumerate(flatten(result.manifest()), start=1):
        sh.ws.write_string(i, 0, k)
        sh.put(i, 1, v)
    sh.widths((0, 0, 18), (1, 1, 70))


def write_xlsx(result, folder: str | Path, mp: MedianPath | None = None) -> Path:
    """``report.xlsx``: Guide, Summary (three lenses), Inputs, Yearly fans, Median path, Paths (sample), Manifest."""
    path = Path(folder) / "report.xlsx"
    mp = mp or median_path(result)
    wb = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True})
    f = _formats(wb)
    _sheet_guide(wb, f, result, mp)
    _sheet_summary(wb, f, result)
    _sheet_inputs(wb, f, result)
    _sheet_yearly(wb, f, result)
    _sheet_median_path(wb, f, result, mp)
    _sheet_paths(wb, f, result)
    _sheet_manifest(wb, f, result)
    wb.close()
    return path


# =============================================================================================== charts
def write_charts(result, folder: str | Path, mp: MedianPath | None = None) -> list[Path]:
    """``charts/*.png`` (150 dpi): cash-balance and DSCR fans, hidden-debt PV distribution, cumulative PD,
    the median path's waterfall."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def _v(s: dict, key: str, digits: int | None = None) -> str:
    """The summary value at catalogue ``key``, formatted."""
    return fmt(key, _g(s, key), digits)


def _vs(s: dict, key: str, stats: tuple[str, ...]) -> str:
    """Several statistics of one summary quantity: ``a / b / c`` with the unit once."""
    return several(key, _g(s, key, default={}), stats)


def _row(s: dict, key: str, stats: tuple[str, ...] | None = None, lang: str = "both") -> list[str]:
    """A ``[label, value]`` table row of a summary key (label from the catalogue)."""
    if stats is None:
        return [label(key, lang), _v(s, key)]
    return [f"{label(key, lang)}: {' / '.join(stats)}", _vs(s, key, stats)]


def answer_sentence(s: dict) -> str:
    """The answer in one sentence, with its probability and its 95 % interval (plain text)."""
    hd, run = s["hidden_debt"], s["run"]
    n = int(run["paths"])
    p = float(hd["p_call"])
    se = run.get("standard_errors", {}).get("p_call")
    if p == 0.0:
        return (f"In none of the {n:,} simulated futures does the city budget have to pay the SOE's debt or costs "
                f"off its books (hidden debt, 隐性债务): the programme's own revenue, reserves and the SOE's support "
                f"cover them (95 % upper bound on the probability: {pct(min(1.0, 3.0 / n), 2)}).")
    band = f" ({ci95_from_se('hidden_debt.p_call', p, se, lo_bound=0.0, hi_bound=1.0)})" if se else ""
    return (f"In {pct(p)}{band} of {n:,} simulated futures the programme cannot pay its SOE debt and costs "
            f"from its own revenue, reserves and the SOE's support, and the city budget is called on off its "
            f"books (hidden debt, 隐性债务): expected present value {fmt('hidden_debt.expected_pv', hd['expected_pv'])}, "
            f"1-in-20 worst case (VaR95) {fmt('hidden_debt.var95_pv', hd['var95_pv'])}.")


def _compliance_findings(result):
    """(findings rows, header, note) of compliance.check_scenario."""
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
                          f"{p.appraisal_yuan_per_m2:,.0f}", wan(info.get("total_investment_yuan")),
                          wan(fin.equity_yuan), pct(info.get("equity_share")), pct(info.get("capital_share"))])
        for ln in fin.loans:
            rate = (f"fixed {pct(ln.fixed_rate, 2)}" if ln.rate_type == "fixed"
                    else f"LPR {ln.spread_over_lpr * 1e4:+.0f} bp")
            rel = (f"{pct(ln.relending.share, 0)} at {pct(ln.relending.rate, 2)}, "
                   f"{ln.relending.term_years} y × {ln.relending.rollovers + 1}") if ln.relending else "—"
            loan_rows.append([p.name, ln.name, wan(ln.amount_yuan), f"{ln.term_years} y", f"{ln.grace_months} m",
                              ln.amortisation, rate, rel])
        for b in fin.bonds:
            bond_rows.append([p.name, b.name, wan(b.amount_yuan), pct(b.coupon, 2), f"{b.term_years} y",
                              b.coupon_frequency, b.principal, "yes" if b.counts_as_capital else "no"])
        for g in fin.grants:
            amt = g.amount_yuan + g.per_unit_yuan * p.units
            grant_rows.append([p.name, g.name, g.source, wan(amt), "capital" if g.capital else f"operating, month {g.month}"])
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


def _img(chart_dir: Path, name: str, alt: str, caption: str) -> str:
    p = chart_dir / name
    if not p.exists():
        return ""
    data = base64.b64encode(p.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _html_head(result) -> list[str]:
    sc, run = result.scenario, result.summary["run"]
    title = f"{sc.programme.name} — does it pay for itself? 能否自求平衡？"
    return [
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
    ]


def _html_answer(s: dict) -> list[str]:
    """The question, the one-sentence answer and the headline numbers."""
    good = float(s["hidden_debt"]["p_call"]) <= CALL_THRESHOLD
    bank = s["bank"]
    parts = [
        "<h2>The question 问题</h2>",
        '<p class="question">When the SOE buys this housing stock and runs it as affordable housing, does the money '
        "that comes back (rent at ≤ 80 % of market, sales at cost + ≤ 5 %, subsidies) cover the debt that paid "
        "for it — and if not, who pays, and how much? Money the budget pays for SOE debt that is not government "
        "debt is hidden debt (隐性债务), which every policy document forbids.</p>",
        "<h2>The answer 结论</h2>",
        f'<p class="answer {"good" if good else "bad"}" id="answer">{_e(answer_sentence(s))}</p>',
        '<div class="kpis">',
    ]
    kpis = [(_v(s, k), label(k, "both")) for k in ("hidden_debt.p_call", "hidden_debt.expected_pv",
                                                    "coverage.p_self_financing")]
    kpis.append((_v(s, "bank.pd_lifetime") if bank.get("has_bank_debt") else "no loan", label("bank.pd_lifetime", "both")))
    kpis.append((_v(s, "soe.equity_irr.p50"), label("soe.equity_irr.p50", "both")))
    for v, lab in kpis:
        parts.append(f'<div class="kpi"><div class="v">{_e(v)}</div><div class="l">{_e(lab)}</div></div>')
    parts.append("</div>")
    parts.append(f'<p class="note">{"Below" if good else "Above"} the {pct(CALL_THRESHOLD, 0)} tolerance '
                 "for P(hidden-debt call) this report uses. Probabilities are Monte Carlo estimates; in the tables "
                 "below “± SE” is one standard error, and an interval written [lo, hi] 95 % is a 95 % interval "
                 "(± 1.96 standard errors).</p>")
    return parts


def _html_fiscal(s: dict, img: Callable[..., str]) -> list[str]:
    se = s["run"]["standard_errors"]
    hd, fis = s["hidden_debt"], s["fiscal"]
    rows = [
        _row(s, "coverage.p_self_financing"),
        [f"{label('hidden_debt.p_call', 'both')} ± SE", pm("hidden_debt.p_call", hd["p_call"], se["p_call"])],
        [f"{label('hidden_debt.expected_pv', 'both')} ± SE",
         pm("hidden_debt.expected_pv", hd["expected_pv"], se["expected_pv"])],
        ["Hidden-debt PV: VaR95 / CVaR95", several("hidden_debt.var95_pv", hd, ("var95_pv", "cvar95_pv"))],
        ["Hidden-debt PV: VaR99 / CVaR99", several("hidden_debt.var99_pv", hd, ("var99_pv", "cvar99_pv"))],
        _row(s, "hidden_debt.pv_given_call", ("p50", "p95")),
        _row(s, "hidden_debt.first_call_year", ("p50",)),
        _row(s, "hidden_debt.peak_share_of_fiscal_revenue", ("p50", "p95")),
        ["Explicit special-bond burden 专项债显性负担 (显性): P / expected PV",
         f"{_v(s, 'fiscal.explicit_bond_burden.p_call')} / {_v(s, 'fiscal.explicit_bond_burden.expected_pv')}"],
        _row(s, "coverage.bond_coverage_ratio", ("mean", "p05", "p50")),
    ]
    payers = [[r["label"], fmt("fiscal.classification.expected_pv_yuan", r["expected_pv_yuan"]),
               fmt("fiscal.classification.share", r["share"])] for r in fis.get("classification", [])]
    return [
        "<h2>Fiscal lens 财政视角 (finance bureau 财政局)</h2>",
        _table(rows, ["measure", "value"]),
        "<h3>Who pays the gap 资金缺口由谁承担 (expected PV)</h3>",
        _table(payers, ["payer", "expected PV", "share"]),
        '<div class="grid">',
        img("hidden_debt_pv.png", "hidden-debt PV distribution", "Hidden-debt PV per path, VaR95 and CVaR95 marked."),
        img("cash_balance_fan.png", "cash balance fan chart", "Reserves + retained cash at year end: p05–p95 fan."),
        "</div>",
    ]


def _html_bank(s: dict, img: Callable[..., str]) -> list[str]:
    bank = s["bank"]
    parts = ["<h2>Bank lens 银行视角 (credit officer, standalone view: no government support)</h2>"]
    if bank.get("has_bank_debt"):
        ttd = bank.get("time_to_default", {})
        rows = [
            _row(s, "bank.bank_principal_yuan"),
            ["PD over the loan life / annualised 违约概率 PD",
             f"{_v(s, 'bank.pd_lifetime')} / {_v(s, 'bank.pd_annualised')}"],
            ["Years to default p05 / p50 / p95 (defaulted paths)",
             " / ".join(fmt(f"bank.time_to_default.{k}_years", ttd.get(f"{k}_years")) for k in ("p05", "p50", "p95"))],
            ["LGD (mean, defaulted paths) / EAD (mean) 违约损失率 / 违约风险暴露",
             f"{_v(s, 'bank.lgd_mean')} / {_v(s, 'bank.ead.mean')}"],
            ["Expected loss / EL rate 预期损失", f"{_v(s, 'bank.expected_loss')} / {_v(s, 'bank.expected_loss_rate')}"],
            _row(s, "bank.dscr_bank_min", ("p05", "p50", "p95")),
            _row(s, "bank.p_dscr_bank_min_below_1"),
            _row(s, "coverage.llcr", ("p05", "p50")),
            _row(s, "bank.ltv_peak", ("p50", "p95")),
            ["Grade (slotting) / risk weight 监管分类 / 风险权重",
             f"{_g(bank, 'grade', default='—')} / {_v(s, 'bank.risk_weight')}"],
        ]
        parts.append(_table([r for r in rows if r[1].replace("/", "").replace("—", "").strip()],
                            ["measure", "value"]))
    else:
        parts.append("<p>The programme has no bank loan.</p>")
    return parts + ['<div class="grid">',
                    img("pd_curve.png", "cumulative PD", "Cumulative probability of default by year."),
                    img("dscr_fan.png", "DSCR fan chart",
                        "DSCR by year (CFADS ÷ all debt service), p05–p95 fan; 1.0 marked."),
                    "</div>"]


def _html_soe(s: dict, img: Callable[..., str]) -> list[str]:
    rows = [
        _row(s, "soe.equity_irr", ("p05", "p50", "p95")),
        _row(s, "soe.equity_irr_undefined_share"),
        _row(s, "soe.project_irr", ("p05", "p50", "p95")),
        _row(s, "soe.npv", ("p05", "p50", "p95")),
        _row(s, "soe.peak_funding_need", ("p50", "p95")),
        _row(s, "soe.lockup_years", ("mean", "p95")),
        _row(s, "soe.p_npv_negative"),
    ]
    return [
        "<h2>SOE lens 国企视角 (implementing SOE and researchers)</h2>",
        _table(rows, ["measure", "value"]),
        img("median_waterfall.png", "median path waterfall",
            "The median path (median hidden-debt PV): lifetime sources and uses of cash, undiscounted. "
            "Per-project yearly cash flows are in report.xlsx, sheet 'Median path'."),
    ]


def _html_compliance(result) -> list[str]:
    rows, head, note = _compliance_findings(result)
    parts = ["<h2>Policy compliance 合规检查</h2>",
             f"<p>Rule sets: {_e(', '.join(result.scenario.policy.rule_sets))}. {_e(note)}</p>"]
    if rows:
        parts.append(_table(rows, head, "findings"))
    unv = _unverifiable(result)
    if unv:
        parts += ["<h3>Rules that could not be checked 无法核验的规则 (the scenario lacks the figure)</h3>",
                  _table(unv[1], unv[0])]
    return parts


def _html_assumptions(result) -> list[str]:
    sc = result.scenario
    proj_rows, loan_rows, bond_rows, grant_rows = _financing_rows(sc, result.summary)
    parts = [
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
    return parts


def _html_manifest(result) -> list[str]:
    rows = [[k, "" if v is None else (f"{v:.2f} s" if k == "wall_time_s" and isinstance(v, float) else v)]
            for k, v in flatten(result.manifest())]
    return ["<h2>Run manifest 运行记录</h2>", _table(rows, ["key", "value"]),
            "<footer>baozhang-finance · summary.json, paths.parquet, yearly.csv and report.xlsx in this run folder "
            "hold every number on this page.</footer>",
            f"<script>{_IMG_SCRIPT}</script>",
            "</body></html>"]


def render_html(result, chart_dir: str | Path) -> str:
    """The report page as a string (PNG charts from ``chart_dir`` embedded as base64)."""
    s = result.summary

    def img(name: str, alt: str, caption: str) -> str:
        return _img(Path(chart_dir), name, alt, caption)

    parts = (_html_head(result) + _html_answer(s) + _html_fiscal(s, img) + _html_bank(s, img) + _html_soe(s, img)
             + _html_compliance(result) + _html_assumptions(result) + _html_manifest(result))
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
