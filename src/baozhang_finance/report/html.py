"""Reports of a run: ``report.xlsx`` (XlsxWriter), ``charts/*.png`` (matplotlib) and ``report.html`` (one
self-contained page, images embedded as base64).

:func:`report_writers` gives the writers ``f(result, folder)`` that :meth:`Result.save` runs inside its atomic
transaction (temporary folder renamed at the end); :func:`render_reports` re-renders the reports of a saved run
(``baozhang report RUN_DIR``), again atomically.

The **median path** (中位路径) whose per-project cash flows the workbook and the waterfall chart show is the
representative path of :func:`run.replay.representative_index`: among the paths at the (lower) median hidden-debt
PV — on most runs many paths share PV 0 — the one nearest their median SOE support PV, then nearest their median
terminal equity, then the lowest path number (decision 74; the chart caption and the sheet state the rule). Its
months are re-simulated exactly: the path's chunk
generator is replayed, drawing the whole chunk's innovations each month and keeping the path's row, so the
path gets bit-for-bit the random draws it had in the run (the arithmetic on one row instead of a chunk may
differ in the last bits); the replay is checked against the run's hidden-debt PV and saved yearly ledgers
before it is used.

Language: every writer takes ``lang`` (``"zh"``, ``"en"`` or ``"both"``, the default; docs/decisions.md) and
takes every word it writes from the output catalogue through :mod:`baozhang_finance.report.format`. The numbers
do not depend on it. In ``"zh"`` the workbook's sheets have Chinese names; in ``"en"`` and ``"both"`` the English
ones (scripts that read report.xlsx by sheet name keep working).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import functools
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from typing import TYPE_CHECKING as _TC  # noqa: E402
if _TC:  # pandas is imported where used (start-up time)
    import pandas as pd
from typing import TYPE_CHECKING as _TC_  # noqa: E402
if _TC_:  # imported where used (start-up time)
    import xlsxwriter

from baozhang_finance.measures.bank import min_bank_dscr
from baozhang_finance.measures.catalogue import entry, has
from baozhang_finance.report.attribution import attribution_charts, html_section as attribution_html
from baozhang_finance.report.attribution import load as load_attribution
from baozhang_finance.model.compliance import unverifiable
from baozhang_finance.report.findings import PLAN, all_findings, finding_message, source_text
from baozhang_finance.report import charts as pl
from baozhang_finance.report.charts import WAN
from baozhang_finance.model.labels_zh import FIELDS_ZH
from baozhang_finance.report.format import (
    DEFAULT_LANG,
    XLSX_FORMATS,
    ci95,
    fixed,
    fmt,
    grade,
    label,
    lang_of,
    number,
    pct,
    pm,
    several,
    stats_text,
    text,
    unit_text,
    wan,
)
from baozhang_finance.report.notes import income_tv_headline, pd_nosupport_by_construction, pv_note, pv_rates, tv_note
from baozhang_finance.report.tables import footnotes, headline_coverage_key, summary_rows
from baozhang_finance.run.replay import (  # noqa: F401  (re-exported for callers of old)
    MedianPath,
    median_path,
    median_path_index,
    replay_path,
)
from baozhang_finance.run.atomic import MANIFEST, why_not_replaceable
from baozhang_finance.run.result import Result

#: rows of result.paths written to the workbook (a sample, not a dump)
PATHS_SAMPLE_ROWS = 1_000
#: P(hidden-debt call) above which the HTML answer is flagged (the bureau's tolerance; DESIGN §1 uses 5 %)
CALL_THRESHOLD = 0.05

REPORT_FILES = ("report.xlsx", "report.html")
CHART_FILES = ("cash_balance_fan.png", "coverage_fan.png", "dscr_fan.png", "bank_dscr_min.png", "hidden_debt_pv.png",
               "pd_curve.png", "median_waterfall.png")


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
    ("gov_bond", "explicit bond burden 显性债务负担(专项债)", "sum"),
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


def _flow_title(key: str, title: str, lang: str) -> str:
    return title if lang == "both" else label(f"flow.{key}", lang)


def project_cash_flows(result, mp: MedianPath | None = None, lang: str = DEFAULT_LANG) -> dict[str, pd.DataFrame]:
    """Yearly cash flows of the median path: one DataFrame per project (yuan; units and rates as they are)
    and one for the programme (support by payer, market); column titles in ``lang``."""
    import pandas as pd
    mp = mp or median_path(result)
    start = int(result.scenario.programme.start[:4])
    out: dict[str, pd.DataFrame] = {}
    for p, proj in enumerate(result.scenario.projects):
        cols = {}
        for key, title, how in PROJECT_ITEMS:
            cols[_flow_title(key, title, lang)] = _to_years(mp.monthly[key][0, p, :], how)
        df = pd.DataFrame(cols)
        df.insert(0, "year", np.arange(1, len(df) + 1))
        df.insert(1, "calendar_year", start + df["year"] - 1)
        out[proj.name] = df
    cols = {_flow_title(key, title, lang): _to_years(mp.monthly[key][0, :], how)
            for key, title, how in PROGRAMME_ITEMS}
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


#: the sheets of report.xlsx: (catalogue text name) in order
SHEETS = ("guide", "summary", "inputs", "yearly", "median", "paths", "manifest")


def sheet_name(sheet: str, lang: str = DEFAULT_LANG) -> str:
    """A sheet's name: Chinese in ``"zh"``, else English (``"Median path"``)."""
    return text(f"xlsx.sheet.{sheet}", "zh" if lang == "zh" else "en")


def _heads(lang: str, *names: str) -> list[str]:
    return [text(f"col.{n}", lang) for n in names]


def _sheet_guide(wb, f, result, mp: MedianPath, lang: str) -> None:
    sh = _Sheet(wb, f, sheet_name("guide", lang))
    ws, s = sh.ws, result.summary
    ws.write(0, 0, text("xlsx.title", lang, name=s["programme"]["name"]), f["title"])
    rows = summary_rows(s, lang)
    ws.write_row(2, 0, _heads(lang, "lens", "metric", "value"), f["head"])
    for i, row in enumerate(rows):
        ws.write_row(3 + i, 0, list(row))
    for i, note in enumerate(footnotes(result, lang)):
        ws.write(3 + len(rows) + i, 0, note, f["note"])
    r = 4 + len(rows) + len(footnotes(result, lang))
    guide = [(sheet_name("summary", lang), text("xlsx.guide.summary", lang)),
             (sheet_name("inputs", lang), text("xlsx.guide.inputs", lang)),
             (sheet_name("yearly", lang), text("xlsx.guide.yearly", lang)),
             (sheet_name("median", lang), text("xlsx.guide.median", lang, index=mp.index)),
             (sheet_name("paths", lang), text("xlsx.guide.paths", lang, rows=f"{PATHS_SAMPLE_ROWS:,}",
                                              total=f"{len(result.paths):,}")),
             (sheet_name("manifest", lang), text("xlsx.guide.manifest", lang)),
             ("", text("xlsx.guide.se", lang))]
    ws.write_row(r, 0, _heads(lang, "sheet", "contents"), f["head"])
    for i, (a, b) in enumerate(guide):
        ws.write_row(r + 1 + i, 0, [a, b])
    _guide_findings(ws, f, result, r + len(guide) + 2, lang)
    sh.widths((0, 0, 14), (1, 1, 42), (2, 2, 60))


def _guide_findings(ws, f, result, r: int, lang: str) -> None:
    """The policy findings block of the Guide sheet from row ``r``: the plan's static rules and the run's
    results together (the same table as report.html's "Policy compliance")."""
    rows, head, note = _compliance_findings(result, lang)
    ws.write(r, 0, text("html.h_compliance", lang), f["bold"])
    ws.write(r + 1, 0, note, f["note"])
    if rows:
        ws.write_row(r + 2, 0, head, f["head"])
        for i, row in enumerate(rows):
            ws.write_row(r + 3 + i, 0, [str(c) for c in row])


def _label_heads(lang: str) -> list[str]:
    """The label column(s) of a sheet: "label" and "中文" in "both", one in "en" or "zh"."""
    return _heads(lang, "label", "label_zh") if lang == "both" else _heads(lang, "label")


def _labels(e, lang: str) -> list[str]:
    return [e.en, e.zh] if lang == "both" else [label(e.key, lang)]


def _sheet_summary(wb, f, result, lang: str) -> None:
    """Every summary key: section, key, value (yuan / share / ratio …), unit, value in 万元, label(s)."""
    sh = _Sheet(wb, f, sheet_name("summary", lang))
    ws = sh.ws
    heads = _heads(lang, "section", "key", "value", "unit", "value_wan") + _label_heads(lang)
    ws.write_row(0, 0, heads, f["head"])
    ws.freeze_panes(1, 0)
    rows = flatten(result.summary)
    for i, (key, val) in enumerate(rows, start=1):
        e = entry(key)
        number = isinstance(val, (int, float)) and not isinstance(val, bool)
        ws.write_string(i, 0, key.split(".")[0].split("[")[0])
        ws.write_string(i, 1, key)
        sh.put(i, 2, val, sh.unit_format(e.unit) if number else None)
        ws.write_string(i, 3, unit_text(e, lang) if number or e.unit == "flag" else "")
        if e.unit == "yuan" and number:
            ws.write_number(i, 4, float(val) / WAN, f["wan"])
        for j, lab in enumerate(_labels(e, lang)):
            ws.write_string(i, 5 + j, lab)
    ws.autofilter(0, 0, len(rows), len(heads) - 1)
    sh.widths((0, 0, 12), (1, 1, 52), (2, 2, 18), (3, 3, 9), (4, 4, 14), (5, 5, 44), (6, 6, 28))


def _sheet_inputs(wb, f, result, lang: str) -> None:
    sh = _Sheet(wb, f, sheet_name("inputs", lang))
    sh.ws.write_row(0, 0, _heads(lang, "field", "value"), f["head"])
    sh.ws.freeze_panes(1, 0)
    for i, (key, val) in enumerate(flatten(result.scenario.model_dump(mode="json")), start=1):
        sh.ws.write_string(i, 0, key)
        sh.put(i, 1, val, f["yuan"] if key.endswith("_yuan") else None)
    sh.widths((0, 0, 64), (1, 1, 44))


def _sheet_yearly(wb, f, result, lang: str) -> None:
    """The fan table: one row per quantity and year; money in 万元, ratios and shares as they are."""
    sh = _Sheet(wb, f, sheet_name("yearly", lang))
    ws, yd = sh.ws, result.yearly
    qcols = [c for c in ("mean", "p05", "p25", "p50", "p75", "p95") if c in yd]
    heads = _heads(lang, "quantity", "unit", "year", "calendar_year", "n") + qcols + _label_heads(lang)
    ws.write_row(0, 0, heads, f["head"])
    ws.freeze_panes(1, 3)
    for i, row in enumerate(yd.itertuples(index=False), start=1):
        e = entry(f"yearly.{row.quantity}")
        money = e.unit == "yuan"
        ws.write_string(i, 0, row.quantity)
        ws.write_string(i, 1, "万元" if money else unit_text(e, lang))
        ws.write_number(i, 2, int(row.year), f["count"])
        ws.write_number(i, 3, int(row.calendar_year), f["gen"])
        ws.write_number(i, 4, int(row.n), f["count"])
        for j, c in enumerate(qcols):
            v = getattr(row, c)
            ok = v is not None and np.isfinite(v)
            sh.put(i, 5 + j, (v / WAN if money else v) if ok else None, f["wan"] if money else sh.unit_format(e.unit))
        for j, lab in enumerate(_labels(e, lang)):
            ws.write_string(i, 5 + len(qcols) + j, lab)
    ws.autofilter(0, 0, len(yd), len(heads) - 1)
    sh.widths((0, 0, 16), (1, 4, 10), (5, 4 + len(qcols), 12), (5 + len(qcols), 5 + len(qcols), 36))


def _sheet_median_path(wb, f, result, mp: MedianPath, lang: str) -> None:
    """Yearly cash flows of the median path, one block per project and one for the programme (yuan)."""
    sh = _Sheet(wb, f, sheet_name("median", lang))
    ws = sh.ws
    unit_of = {_flow_title(key, title, lang): entry(f"flow.{key}").unit
               for key, title, _ in PROJECT_ITEMS + PROGRAMME_ITEMS}
    first, last = pl.year1_span(result.scenario.programme.start)
    ws.write(0, 0, text("xlsx.median_head", lang, index=mp.index, yuan=f"{mp.hidden_debt_pv:,.0f}",
                        wan=f"{mp.hidden_debt_pv / WAN:,.1f}", first=first, last=last), f["bold"])
    ws.write(1, 0, text("xlsx.median_note", lang, rule=median_rule(result, lang)), f["note"])
    r, first_header = 3, None
    for name, df in project_cash_flows(result, mp, lang).items():
        ws.write(r, 0, name if name != "programme" else text("xlsx.programme_block", lang), f["bold"])
        r += 1
        heads = [text(f"col.{c}", lang) if c in ("year", "calendar_year") else c for c in df.columns]
        ws.write_row(r, 0, heads, f["head"])
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


def median_path_number(result) -> int:
    """The path number of the median path (:func:`median_path_index`'s row), without replaying it."""
    row = median_path_index(result)
    return int(result.paths["path"].iloc[row]) if "path" in result.paths.columns else row


def median_rule(result, lang: str = DEFAULT_LANG) -> str:
    """How the median path was chosen, with the number of paths at the median hidden-debt PV (caption, sheet)."""
    pv = result.paths["hidden_debt_pv"].to_numpy(float)
    ties = int(np.count_nonzero(pv == pv[median_path_index(result)]))
    return text("median_rule", lang, n=f"{ties:,}")


def _sheet_paths(wb, f, result, lang: str) -> None:
    """The first rows of the per-path table; the header is the column key (``hidden_debt_pv``, as in
    paths.parquet), its label in ``lang`` is the cell's comment."""
    sh = _Sheet(wb, f, sheet_name("paths", lang))
    sample = result.paths.head(PATHS_SAMPLE_ROWS)
    sh.ws.write_row(0, 0, list(sample.columns), f["head"])
    for c, col in enumerate(sample.columns):
        if has(f"paths.{col}"):
            sh.ws.write_comment(0, c, label(f"paths.{col}", lang))
    sh.ws.freeze_panes(1, 1)
    for c, col in enumerate(sample.columns):
        unit = summary_unit(col)
        fmt = f["gen"] if unit in ("count", "flag", "text") else sh.unit_format(unit)
        for i, v in enumerate(sample[col].to_numpy(), start=1):
            sh.put(i, c, v.item() if hasattr(v, "item") else v, fmt)
    sh.widths((0, len(sample.columns), 14))


def _sheet_manifest(wb, f, result, lang: str) -> None:
    sh = _Sheet(wb, f, sheet_name("manifest", lang))
    sh.ws.write_row(0, 0, _heads(lang, "key", "value"), f["head"])
    for i, (k, v) in enumerate(flatten(result.manifest()), start=1):
        sh.ws.write_string(i, 0, k)
        sh.put(i, 1, v)
    sh.widths((0, 0, 18), (1, 1, 70))


def write_xlsx(result, folder: str | Path, mp: MedianPath | None = None, lang: str = DEFAULT_LANG) -> Path:
    """``report.xlsx``: Guide, Summary (three lenses), Inputs, Yearly fans, Median path, Paths (sample), Manifest
    — labels in ``lang``."""
    import xlsxwriter
    path = Path(folder) / "report.xlsx"
    mp = mp or median_path(result)
    wb = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True})
    f = _formats(wb)
    _sheet_guide(wb, f, result, mp, lang)
    _sheet_summary(wb, f, result, lang)
    _sheet_inputs(wb, f, result, lang)
    _sheet_yearly(wb, f, result, lang)
    _sheet_median_path(wb, f, result, mp, lang)
    _sheet_paths(wb, f, result, lang)
    _sheet_manifest(wb, f, result, lang)
    wb.close()
    return path


# =============================================================================================== charts
def write_charts(result, folder: str | Path, mp: MedianPath | None = None, lang: str = DEFAULT_LANG) -> list[Path]:
    """``charts/*.png`` (150 dpi): the cash-balance fan, the all-financing coverage fan (CFADS ÷ all debt service),
    the bank lens's DSCR by year and its minimum per path (:func:`measures.bank.min_bank_dscr`), the hidden-debt PV
    distribution, the cumulative PD, the median path's waterfall — over programme years, labels in ``lang``
    (English without a CJK font)."""
    import matplotlib

    matplotlib.use("Agg")
    folder = Path(folder) / "charts"
    folder.mkdir(parents=True, exist_ok=True)
    s = result.summary
    mp = mp or median_path(result)
    hd, bank = s["hidden_debt"], s["bank"]
    start, lockup = result.scenario.programme.start, float(result.plan.lockup_dscr)
    window = bank.get("dscr_test_years")
    written = []
    with matplotlib.rc_context(pl.font_rc()):
        jobs: list[tuple[str, tuple[float, float], Callable]] = [
            ("cash_balance_fan.png", (7.5, 4.0), lambda ax: pl.fan_chart(ax, result.yearly, "cash_balance",
                                                                          lang=lang, start=start)),
            ("coverage_fan.png", (7.5, 4.0), lambda ax: pl.fan_chart(ax, result.yearly, "dscr", lang=lang,
                                                                      start=start, lockup=lockup)),
            ("dscr_fan.png", (7.5, 4.0), lambda ax: pl.bank_dscr_fan(ax, bank.get("dscr_bank_by_year") or {}, window,
                                                                     lockup, start, lang)),
            ("bank_dscr_min.png", (7.5, 4.0), lambda ax: pl.bank_dscr_min_distribution(
                ax, min_bank_dscr(result) if bank.get("has_bank_debt") else [], window, lockup, lang=lang)),
            ("hidden_debt_pv.png", (7.5, 4.0), lambda ax: pl.hidden_debt_distribution(
                ax, result.paths["hidden_debt_pv"].to_numpy(float), hd["var95_pv"], hd["cvar95_pv"], lang=lang)),
            ("pd_curve.png", (7.5, 4.0), lambda ax: pl.pd_curve(ax, s["bank"].get("pd_cumulative", []),
                                                                result.scenario.programme.start, lang=lang)),
            ("median_waterfall.png", (8.5, 5.0), lambda ax: pl.cash_waterfall(
                ax, waterfall_flows(mp), title=pl.chart_text("wf_median", lang, index=mp.index), lang=lang)),
        ]
        for name, size, draw in jobs:
            pl.save_png(folder / name, size, draw)
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


def _v(s: dict, key: str, digits: int | None = None, lang: str = "en") -> str:
    """The summary value at catalogue ``key``, formatted."""
    return fmt(key, _g(s, key), digits, lang=lang)


def _vs(s: dict, key: str, stats: tuple[str, ...], lang: str = "en") -> str:
    """Several statistics of one summary quantity: ``a / b / c`` with the unit once."""
    return several(key, _g(s, key, default={}), stats, lang=lang)


def _row(s: dict, key: str, stats: tuple[str, ...] | None = None, lang: str = DEFAULT_LANG) -> list[str]:
    """A ``[label, value]`` table row of a summary key (label from the catalogue)."""
    if stats is None:
        return [label(key, lang), _v(s, key, lang=lang)]
    return [f"{label(key, lang)}: {stats_text(stats, lang)}", _vs(s, key, stats, lang)]


#: fewer calling (or non-calling) paths than this, under plain Monte Carlo: the answer's interval of P(call) is the
#: exact (Clopper–Pearson) one, not value ± 1.96 SE
EXACT_BELOW = 30


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper–Pearson) interval of a binomial proportion k / n: the beta quantiles
    B(α/2; k, n − k + 1) and B(1 − α/2; k + 1, n − k) (0 and 1 at the edges)."""
    from scipy.stats import beta
    a = 1.0 - level
    lo = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def p_call_interval(s: dict) -> tuple[float, float, str] | None:
    """(lo, hi, kind) of the answer's 95 % interval of P(call): ``"exact"`` (Clopper–Pearson on the count of
    calling paths) when that count or its complement is below :data:`EXACT_BELOW` under plain Monte Carlo (paths
    independent, no control variates), else ``"normal"`` (± 1.96 SE, clipped to [0, 1]); None without an SE."""
    hd, run = s["hidden_debt"], s["run"]
    n, p = int(run["paths"]), float(hd["p_call"])
    se = run.get("standard_errors", {}).get("p_call")
    k = int(round(p * n))
    plain = run.get("sampling", "mc") in (None, "mc") and not run.get("control_variates")
    if plain and n > 0 and min(k, n - k) < EXACT_BELOW and abs(k - p * n) < 1e-6:
        return (*clopper_pearson(k, n), "exact")
    if not se:
        return None
    return max(0.0, p - 1.959963984540054 * se), min(1.0, p + 1.959963984540054 * se), "normal"


def answer_sentence(s: dict, lang: str = DEFAULT_LANG) -> str:
    """The answer, with its probability and its 95 % interval (plain text), in ``lang``: P(call) and the hidden
    debt's expected PV with its tail — VaR95 with ES95 beside it, and when VaR95 is 0 (fewer than 1 in 20 futures
    call) saying so, with the PV a call has when it comes; then, when no future is self-financing or the budget
    pays the bonds on most, the explicit bond burden."""
    if lang == "both":
        return f"{answer_sentence(s, 'en')} {answer_sentence(s, 'zh')}"
    hd, n = s["hidden_debt"], int(s["run"]["paths"])
    p = float(hd["p_call"])
    if p == 0.0:
        main = text("html.answer_none", lang, n=f"{n:,}", bound=pct(min(1.0, 3.0 / n), 2))
    else:
        iv = p_call_interval(s)
        band = f" ({ci95('hidden_debt.p_call', iv[0], iv[1])})" if iv else ""
        var, es = hd.get("var95_pv"), hd.get("cvar95_pv")
        tail = (text("html.tail_rare", lang, var=fmt("hidden_debt.var95_pv", var), es=fmt("hidden_debt.cvar95_pv", es),
                     given=fmt("hidden_debt.pv_given_call.p50", _g(hd, "pv_given_call.p50")))
                if not var else text("html.tail", lang, var=fmt("hidden_debt.var95_pv", var),
                                     es=fmt("hidden_debt.cvar95_pv", es)))
        main = text("html.answer_some", lang, p=pct(p), band=band, n=f"{n:,}",
                    pv=fmt("hidden_debt.expected_pv", hd["expected_pv"]), tail=tail)
    return f"{main} {bond}" if (bond := _bond_sentence(s, lang)) else main


def _bond_sentence(s: dict, lang: str) -> str:
    """"P(self-financing) is 0.0 %: the budget pays the special bonds' service on 100.0 % of futures …" when no
    future is self-financing or the bond burden falls on most; "" otherwise."""
    p_self = _g(s, "coverage.p_self_financing")
    bond = _g(s, "fiscal.explicit_bond_burden", default={})
    p_bond = bond.get("p_call") or 0.0
    if p_bond > 0 and (p_self == 0 or p_bond > 0.5):
        return text("html.answer_bond", lang, p_self=pct(p_self), p_bond=pct(p_bond),
                    bond=fmt("fiscal.explicit_bond_burden.expected_pv", bond.get("expected_pv")))
    return text("html.answer_self0", lang, p_self=pct(p_self)) if p_self == 0 else ""


#: the columns of the compliance tables, in this order when present (others after them)
FINDING_COLUMNS = ("source", "rule_id", "rule_set", "document", "clause", "project", "actual", "limit", "message", "reason")


def _records(items) -> list[dict]:
    recs = []
    for fd in items:
        if dataclasses.is_dataclass(fd):
            rec = dataclasses.asdict(fd)
        elif hasattr(fd, "model_dump"):
            rec = fd.model_dump()
        elif isinstance(fd, dict):
            rec = dict(fd)
        else:
            rec = {"message": str(fd)}
        recs.append({k: v for k, v in rec.items() if not isinstance(v, (dict, list)) or v})
    return recs


def _columns(recs: list[dict], lang: str) -> tuple[list[str], list[str]]:
    """(keys, headers) of a compliance table: the catalogue's ``text.col.<key>`` where there is one."""
    keys: list[str] = []
    for r in recs:
        keys += [k for k in r if k not in keys]
    keys.sort(key=lambda k: FINDING_COLUMNS.index(k) if k in FINDING_COLUMNS else len(FINDING_COLUMNS))
    heads = [text(f"col.{k}", lang) if has(f"text.col.{k}") else k for k in keys]
    return keys, heads


def _compliance_findings(result, lang: str = DEFAULT_LANG):
    """(findings rows, header, note): the plan's static findings (compliance.check_scenario) and the run-time
    findings of the summary (``coverage.findings`` …, :func:`report.findings.run_findings`) in one table, with the
    source of each; "no policy finding" only when both are empty."""
    found, error = all_findings(result)
    notes = [text("html.check_failed", lang, error=error)] if error else []
    if not found:
        return [], None, " ".join(notes + [text("html.no_finding", lang)])
    recs = _records(found)
    for r in recs:
        r["message"] = finding_message(r, lang)
        r["source"] = source_text(r["source"], lang)
    keys, head = _columns(recs, lang)
    rows = [[r.get(k, "") if r.get(k) is not None else "" for k in keys] for r in recs]
    n_run = sum(1 for f in found if f["source"] != PLAN)
    notes.append(text("html.findings", lang, n=len(recs), plan=len(recs) - n_run, run=n_run))
    return rows, head, " ".join(notes)


def _unverifiable(result, lang: str = DEFAULT_LANG):
    try:
        items = list(unverifiable(result.scenario))
    except Exception:  # reported with the findings already
        return None
    if not items:
        return None
    recs = _records(items)
    keys, head = _columns(recs, lang)
    return head, [[r.get(k, "") for k in keys] for r in recs]


def _meaning(name: str, description: str, lang: str) -> str:
    zh = FIELDS_ZH.get(name)
    if lang == "zh":
        return zh or description
    if lang == "both" and zh:
        return f"{description} {zh}".strip()
    return description


def _field_rows(model, lang: str = DEFAULT_LANG) -> list[list[str]]:
    rows = []
    for name, info in type(model).model_fields.items():
        v = getattr(model, name)
        if isinstance(v, (list, dict)) or hasattr(v, "model_fields"):
            continue
        if isinstance(v, float) and name.endswith("_yuan"):
            shown = f"{fixed(v, 0, True)} 元 ({fixed(v / WAN, 0, True)} 万元)"
        elif isinstance(v, float):
            shown = f"{v:.6g}"
        elif isinstance(v, bool):
            shown = text("word.yes" if v else "word.no", lang)
        else:
            shown = v
        rows.append([name, shown, _meaning(name, info.description or "", lang)])
    return rows


def _described(model, name: str, shown, lang: str, prefix: str) -> list:
    info = type(model).model_fields[name]
    return [f"{prefix}.{name}", shown, _meaning(name, info.description or "", lang)]


def support_rows(sc, lang: str = DEFAULT_LANG, result=None) -> list[list]:
    """The support and cure settings the run used — [support] (conventions, what SOE money pays, whether the pot
    refills, its yearly capacity and cap), the SOE's pot from [waterfall], the PV rates, and [cures] (timing, order,
    each cure configured with its settings; none under legacy conventions, which try no cure) — as [field, value,
    meaning] rows. "Pot refills" is the effective setting: ``support.distributions_return`` or
    ``waterfall.soe_support_revolving`` under the default conventions, the latter alone under legacy
    (engine.plan.compile_support). The PV rates are the run's (``result``'s plan; without one, the scenario's support
    compiled: :func:`report.notes.pv_rates`)."""
    sp, w, cu = sc.support, sc.waterfall, sc.cures
    legacy = sp.conventions == "legacy"
    yes = lambda b: text("word.yes" if b else "word.no", lang)  # noqa: E731
    refills = (bool(result.plan.support.distributions_return) if result is not None  # what the run compiled
               else w.soe_support_revolving if legacy else (sp.distributions_return or w.soe_support_revolving))
    fiscal, soe = pv_rates(result if result is not None else sc)
    rows = [_described(sp, "conventions", sp.conventions, lang, "support"),
            _described(sp, "soe_pays", text("html.legacy_pays", lang) if legacy else ", ".join(sp.soe_pays), lang,
                       "support"),
            ["support.distributions_return | waterfall.soe_support_revolving", yes(refills),
             text("html.refills_legacy" if legacy else "html.refills", lang)],
            _described(w, "soe_support_capacity_yuan", wan(w.soe_support_capacity_yuan), lang, "waterfall")]
    if not legacy:
        rows += [_described(sp, "yearly_capacity_yuan", wan(sp.yearly_capacity_yuan), lang, "support"),
                 _described(sp, "pot_cap_yuan", wan(sp.pot_cap_yuan) if sp.pot_cap_yuan is not None
                            else text("html.no_cap", lang), lang, "support")]
    rows.append(["programme.fiscal_discount_rate | discount_rate", f"{pct(fiscal)} | {pct(soe)}",
                 text("html.pv_rates_meaning", lang)])
    return rows + _cure_rows(cu, legacy, lang)


def _cure_rows(cu, legacy: bool, lang: str) -> list[list]:
    names = ("extension", "refinancing", "sinking_fund", "disposal")
    if legacy or not cu.any():
        return [["cures", text("word.none", lang), text("html.no_cures_legacy" if legacy else "html.no_cures", lang)]]
    rows = [_described(cu, "timing", cu.timing, lang, "cures"), _described(cu, "order", ", ".join(cu.order), lang, "cures")]
    for name in names:
        cure = getattr(cu, name)
        shown = (", ".join(f"{k} = {number(v)}" for k, v in cure.model_dump().items()) if cure is not None
                 else text("html.cure_absent", lang))
        rows.append([f"cures.{name}", shown, _meaning(name, type(cu).model_fields[name].description or "", lang)])
    return rows


def _loan_rows(p, lang: str) -> list[list]:
    rows = []
    for ln in p.financing.loans:
        rate = (text("html.fixed", lang, rate=pct(ln.fixed_rate, 2)) if ln.rate_type == "fixed"
                else f"LPR {ln.spread_over_lpr * 1e4:+.0f} bp")
        rel = text("html.relending", lang, share=pct(ln.relending.share, 0), rate=pct(ln.relending.rate, 2),
                   term=ln.relending.term_years, n=ln.relending.rollovers + 1) if ln.relending else "—"
        rows.append([p.name, ln.name, wan(ln.amount_yuan), text("word.years", lang, n=ln.term_years),
                     text("word.months", lang, n=ln.grace_months), ln.amortisation, rate, rel])
    return rows


def _financing_rows(sc, s, lang: str = DEFAULT_LANG) -> tuple[list, list, list, list]:
    proj_rows, loan_rows, bond_rows, grant_rows = [], [], [], []
    pinfo = {p["name"]: p for p in s["programme"]["projects"]}
    for p in sc.projects:
        info = pinfo.get(p.name, {})
        fin = p.financing
        proj_rows.append([p.name, p.type, f"{p.units:,}", f"{p.area_m2:g}", f"{p.acquisition_price_yuan_per_m2:,.0f}",
                          f"{p.appraisal_yuan_per_m2:,.0f}", wan(info.get("total_investment_yuan")),
                          wan(fin.equity_yuan), pct(info.get("equity_share")), pct(info.get("capital_share"))])
        loan_rows += _loan_rows(p, lang)
        for b in fin.bonds:
            bond_rows.append([p.name, b.name, wan(b.amount_yuan), pct(b.coupon, 2),
                              text("word.years", lang, n=b.term_years), b.coupon_frequency, b.principal,
                              text("word.yes" if b.counts_as_capital else "word.no", lang)])
        for g in fin.grants:
            amt = g.amount_yuan + g.per_unit_yuan * p.units
            kind = text("html.capital", lang) if g.capital else text("html.operating", lang, m=g.month)
            grant_rows.append([p.name, g.name, g.source, wan(amt), kind])
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


#: the ``lang`` attribute of the page
HTML_LANG = {"zh": "zh-CN", "en": "en", "both": "en"}


def _html_head(result, lang: str) -> list[str]:
    sc, run = result.scenario, result.summary["run"]
    title = text("html.title", lang, name=sc.programme.name)
    sub = [_e(sc.programme.city), _e(text("html.soe", lang, soe=sc.programme.soe)),
           _e(text("html.horizon", lang, start=sc.programme.start, years=sc.programme.horizon_years)),
           _e(text("html.paths", lang, paths=f"{run['paths']:,}", seed=run["seed"]))]
    if run.get("stress"):
        sub.append(f"{_e(text('html.stress', lang))} <b>{_e(run['stress'])}</b>")
    if run.get("deterministic"):
        sub.append(_e(label("run.deterministic", lang)))
    return [
        "<!DOCTYPE html>",
        f'<html lang="{HTML_LANG[lang]}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">{" · ".join(sub)}</p>',
    ]


def _html_answer(s: dict, lang: str) -> list[str]:
    """The question, the one-sentence answer and the headline numbers."""
    good = float(s["hidden_debt"]["p_call"]) <= CALL_THRESHOLD
    bank = s["bank"]
    parts = [
        f"<h2>{_e(text('html.h_question', lang))}</h2>",
        f'<p class="question">{_e(text("html.question", lang))}</p>',
        f"<h2>{_e(text('html.h_answer', lang))}</h2>",
        f'<p class="answer {"good" if good else "bad"}" id="answer">{_e(answer_sentence(s, lang))}</p>',
        '<div class="kpis">',
    ]
    kpis = [(_v(s, k, lang=lang), label(k, lang)) for k in ("hidden_debt.p_call", "hidden_debt.expected_pv",
                                                           "coverage.p_self_financing")]
    kpis.append((_v(s, "bank.pd_lifetime") if bank.get("has_bank_debt") else text("html.no_loan", lang),
                 label("bank.pd_lifetime", lang)))
    if income_tv_headline(s):
        kpis.append((_v(s, "soe.equity_irr_monthly.p50"),
                     text("html.kpi_irr", lang, market=_v(s, "soe.equity_irr.p50"))))
    else:
        kpis.append((_v(s, "soe.equity_irr.p50"), label("soe.equity_irr.p50", lang)))
    for v, lab in kpis:
        parts.append(f'<div class="kpi"><div class="v">{_e(v)}</div><div class="l">{_e(lab)}</div></div>')
    parts.append("</div>")
    side = text("html.below" if good else "html.above", lang, t=pct(CALL_THRESHOLD, 0))
    iv = p_call_interval(s) if float(s["hidden_debt"]["p_call"]) > 0 else None
    n_paths = int(s["run"]["paths"])
    calls = round(float(s["hidden_debt"]["p_call"]) * n_paths)
    rest = iv is not None and iv[2] == "exact" and n_paths - calls < calls  # few paths do NOT call
    kind = "" if iv is None else " " + text("html.interval_exact_rest" if rest else f"html.interval_{iv[2]}", lang,
                                            k=f"{n_paths - calls if rest else calls:,}")
    parts.append(f'<p class="note">{_e(side)} {_e(text("html.se_note", lang))}{_e(kind)}</p>')
    return parts


def _html_fiscal(s: dict, img: Callable[..., str], lang: str, result=None, lockup: float | None = None) -> list[str]:
    se = s["run"]["standard_errors"]
    hd, fis = s["hidden_debt"], s["fiscal"]
    rows = [
        _row(s, "coverage.p_self_financing", lang=lang),
        [f"{label('hidden_debt.p_call', lang)} ± SE", pm("hidden_debt.p_call", hd["p_call"], se["p_call"])],
        [f"{label('hidden_debt.expected_pv', lang)} ± SE",
         pm("hidden_debt.expected_pv", hd["expected_pv"], se["expected_pv"])],
        [text("html.hd_var95", lang), several("hidden_debt.var95_pv", hd, ("var95_pv", "cvar95_pv"))],
        [text("html.hd_var99", lang), several("hidden_debt.var99_pv", hd, ("var99_pv", "cvar99_pv"))],
        _row(s, "hidden_debt.pv_given_call", ("p50", "p95"), lang),
        _year_row(s, "hidden_debt.first_call_year", ("p50",), lang,
                  result.scenario.programme.start if result is not None else None),
        _row(s, "hidden_debt.peak_share_of_fiscal_revenue", ("p50", "p95"), lang),
        [text("html.bond_burden", lang),
         f"{_v(s, 'fiscal.explicit_bond_burden.p_call')} / {_v(s, 'fiscal.explicit_bond_burden.expected_pv')}"],
        *_coverage_rows(s, lang),
        _row(s, "hidden_debt.p_call_material", lang=lang),
        _row(s, "hidden_debt.debt_at_first_call", ("p50", "p95"), lang),
        _row(s, "fiscal.total_government_money.expected_pv", lang=lang),
        _row(s, "fiscal.total_fiscal_cost.expected_pv", lang=lang),
    ]
    payers = [[text(f"payer.{r['class']}", lang) if has(f"text.payer.{r['class']}") else r["label"],
               fmt("fiscal.classification.expected_pv_yuan", r["expected_pv_yuan"]),
               fmt("fiscal.classification.share", r["share"])] for r in fis.get("classification", [])]
    return [
        f"<h2>{_e(text('html.h_fiscal', lang))}</h2>",
        _table(rows, [text("col.measure", lang), text("col.value", lang)]),
        *([f'<p class="note">{_e(pv_note(result, lang))}</p>'] if result is not None else []),
        f"<h3>{_e(text('html.h_payers', lang))}</h3>",
        _table(payers, [text(f"col.{c}", lang) for c in ("payer", "expected_pv", "share")]),
        '<div class="grid">',
        img("hidden_debt_pv.png", text("html.img_hidden_debt", lang), text("html.cap_hidden_debt", lang)),
        img("cash_balance_fan.png", text("html.img_cash_fan", lang), _cash_fan_caption(s, lang)),
        img("coverage_fan.png", text("html.img_coverage_fan", lang),
            text("html.cap_coverage_fan", lang, lockup=_ratio_text(lockup))),
        "</div>",
    ]


def _coverage_rows(s: dict, lang: str) -> list[list[str]]:
    """本息覆盖倍数: with market financing the coverage over all financing first (the headline, the policy's
    组合融资 test), then the bond-only ratio, labelled; without it the bond-only ratio alone
    (:func:`report.tables.headline_coverage_key`)."""
    bond = _row(s, "coverage.bond_coverage_ratio", ("mean", "p05", "p50"), lang)
    if headline_coverage_key(s) == "coverage.bond_coverage_ratio":
        return [bond]
    stats = ("p05", "p50")
    return [[f"{text('html.coverage_all', lang)}: {stats_text(stats, lang)}",
             _vs(s, "coverage.bond_coverage_all_financing", stats, lang)],
            [f"{text('html.coverage_bond_only', lang)}: {stats_text(bond_stats := ('mean', 'p05', 'p50'), lang)}",
             _vs(s, "coverage.bond_coverage_ratio", bond_stats, lang)]]


def _cash_fan_caption(s: dict, lang: str) -> str:
    """The fan's caption; when the median reserve is 0 in every year, say why instead of leaving a flat line."""
    p50 = s.get("soe", {}).get("cash_balance_fan", {}).get("p50", [])
    cap = text("html.cap_cash_fan", lang)
    if p50 and max(abs(x) for x in p50 if x is not None) == 0:
        cap += " " + text("html.cap_cash_fan_empty", lang)
    return cap


def _bank_rows(s: dict, lang: str, month0: bool = False) -> list[list[str]]:
    """The bank table; ``month0``: the "without SOE support" PD is 100 % by construction (a note says so)."""
    bank = s["bank"]
    nosupport = _row(s, "bank.pd_without_soe_support.pd_lifetime", lang=lang)
    if nosupport[1] != "—":
        nosupport[1] += f" ({text('html.pd_nosupport_month0' if month0 else 'html.pd_nosupport', lang)})"
    ttd = bank.get("time_to_default", {})
    return [
        _row(s, "bank.bank_principal_yuan", lang=lang),
        [text("html.pd_life_annual", lang), f"{_v(s, 'bank.pd_lifetime')} / {_v(s, 'bank.pd_annualised')}"],
        [text("html.years_to_default", lang),
         " / ".join(fmt(f"bank.time_to_default.{k}_years", ttd.get(f"{k}_years"), lang=lang)
                    for k in ("p05", "p50", "p95"))],
        [text("html.lgd_ead", lang), f"{_v(s, 'bank.lgd_mean')} / {_v(s, 'bank.ead.mean')}"],
        [text("html.el", lang), f"{_v(s, 'bank.expected_loss')} / {_v(s, 'bank.expected_loss_rate')}"],
        _row(s, "bank.dscr_bank_min", ("p05", "p50", "p95"), lang),
        _row(s, "bank.p_dscr_bank_min_below_1", lang=lang),
        _row(s, "coverage.llcr", ("p05", "p50"), lang),
        _row(s, "bank.ltv_peak", ("p50", "p95"), lang),
        [text("html.grade", lang), f"{grade(_g(bank, 'grade'), lang)} / {_v(s, 'bank.risk_weight')}"],
        _borrower_row(s, lang),
        nosupport,
        _row(s, "bank.pd_corporate.pd_lifetime", lang=lang),
        _row(s, "bank.ltv_income_peak", ("p50", "p95"), lang),
    ]


def _ratio_text(x) -> str:
    return "—" if x is None else f"{float(x):.2f}"


def _borrower_row(s: dict, lang: str) -> list[str]:
    kind = _g(s, "bank.borrower.type")
    shown = text(f"borrower.{kind}", lang) if kind and has(f"text.borrower.{kind}") else _v(s, "bank.borrower.type")
    return [label("bank.borrower.type", lang), shown]


def _year_row(s: dict, key: str, stats: tuple[str, ...], lang: str, start: str | None) -> list[str]:
    """A row of programme-year statistics, each with its calendar span: "29 (2053/54)", "第 29 年（2053/54）"."""
    row = _row(s, key, stats, lang)
    vals = [_g(s, f"{key}.{q}") for q in stats]
    if start and all(isinstance(v, (int, float)) and v >= 1 for v in vals):
        one = "zh" if lang == "zh" else "en"
        row[1] = " / ".join(text("year_span", one, y=fmt(f"{key}.{q}", v), span=pl.calendar_span(int(round(v)), start))
                            for q, v in zip(stats, vals))
    return row


def _html_bank(s: dict, img: Callable[..., str], lang: str, result=None) -> list[str]:
    parts = [f"<h2>{_e(text('html.h_bank', lang))}</h2>"]
    if s["bank"].get("has_bank_debt"):
        rows = _bank_rows(s, lang, result is not None and pd_nosupport_by_construction(result))
        parts.append(_table([r for r in rows if r[1].replace("/", "").replace("—", "").strip()],
                            [text("col.measure", lang), text("col.value", lang)]))
    else:
        parts.append(f"<p>{_e(text('html.no_bank', lang))}</p>")
    a, b = (s["bank"].get("dscr_test_years") or ("—", "—"))[:2]
    lockup = _ratio_text(result.plan.lockup_dscr) if result is not None else "—"
    return parts + ['<div class="grid">',
                    img("dscr_fan.png", text("html.img_dscr", lang), text("html.cap_dscr", lang, a=a, b=b, lockup=lockup)),
                    img("bank_dscr_min.png", text("html.img_dscr_min", lang), text("html.cap_dscr_min", lang, a=a, b=b)),
                    img("pd_curve.png", text("html.img_pd", lang), text("html.cap_pd", lang)),
                    "</div>"]


def _html_soe(s: dict, img: Callable[..., str], lang: str, result=None) -> list[str]:
    q3 = ("p05", "p50", "p95")
    income = [_row(s, "soe.equity_irr_monthly", q3, lang), _row(s, "soe.equity_irr", q3, lang),
              _row(s, "soe.npv_monthly", q3, lang), _row(s, "soe.npv", q3, lang)]
    if not income_tv_headline(s):
        income = [income[1], income[3]]
    rows = [
        *income,
        _row(s, "soe.equity_irr_undefined_share", lang=lang),
        _row(s, "soe.project_irr", q3, lang),
        _row(s, "soe.peak_funding_need", ("p50", "p95"), lang),
        _row(s, "soe.lockup_years", ("mean", "p95"), lang),
        _row(s, "soe.p_npv_negative", lang=lang),
        _row(s, "soe.equity_irr_standalone", q3, lang),
    ]
    note = tv_note(s, lang)
    return [
        f"<h2>{_e(text('html.h_soe', lang))}</h2>",
        _table(rows, [text("col.measure", lang), text("col.value", lang)]),
        *([f'<p class="note">{_e(note)}</p>'] if note else []),
        img("median_waterfall.png", text("html.img_waterfall", lang),
            text("html.cap_waterfall", lang, sheet=sheet_name("median", lang),
                 index=median_path_number(result) if result is not None else "—",
                 rule=median_rule(result, lang) if result is not None else "")),
    ]


def _html_compliance(result, lang: str) -> list[str]:
    rows, head, note = _compliance_findings(result, lang)
    sets = text("html.rule_sets", lang, sets=", ".join(result.scenario.policy.rule_sets))
    parts = [f"<h2>{_e(text('html.h_compliance', lang))}</h2>", f"<p>{_e(sets)} {_e(note)}</p>"]
    if rows:
        parts.append(_table(rows, head, "findings"))
    unv = _unverifiable(result, lang)
    if unv:
        parts += [f"<h3>{_e(text('html.h_unverifiable', lang))}</h3>", _table(unv[1], unv[0])]
    return parts


def _h3(name: str, lang: str) -> str:
    return f"<h3>{_e(text(name, lang))}</h3>"


def _html_assumptions(result, lang: str) -> list[str]:
    sc = result.scenario
    proj_rows, loan_rows, bond_rows, grant_rows = _financing_rows(sc, result.summary, lang)
    heads = functools.partial(_heads, lang)
    parts = [f"<h2>{_e(text('html.h_assumptions', lang))}</h2>", _h3("html.h_projects", lang),
             _table(proj_rows, heads("project", "type", "units", "area", "price", "appraisal", "investment",
                                     "equity", "equity_share", "capital_share"))]
    if loan_rows:
        parts += [_h3("html.h_loans", lang), _table(loan_rows, heads("project", "loan", "amount", "term", "grace",
                                                                     "amortisation", "rate", "relending"))]
    if bond_rows:
        parts += [_h3("html.h_bonds", lang), _table(bond_rows, heads("project", "bond", "amount", "coupon", "term",
                                                                     "coupons", "principal", "counts_as_capital"))]
    if grant_rows:
        parts += [_h3("html.h_grants", lang), _table(grant_rows, heads("project", "grant", "source", "amount", "kind"))]
    waterfall = [r for r in _field_rows(sc.waterfall, lang) if r[0] != "soe_support_revolving"]  # in "support" below
    parts += [_h3("html.h_waterfall", lang), _table(waterfall, heads("field", "value", "meaning")),
              _h3("html.h_support", lang), _table(support_rows(sc, lang, result), heads("field", "value", "meaning")),
              _h3("html.h_market", lang), _table(_field_rows(sc.market, lang), heads("field", "value", "meaning"))]
    if sc.market.stresses:
        names = ", ".join(x.name for x in sc.market.stresses)
        parts.append(f'<p class="note">{_e(text("html.stresses", lang, names=names))}</p>')
    return parts


def _html_manifest(result, lang: str) -> list[str]:
    rows = [[k, "" if v is None else (f"{v:.2f} s" if k == "wall_time_s" and isinstance(v, float) else v)]
            for k, v in flatten(result.manifest())]
    return [f"<h2>{_e(text('html.h_manifest', lang))}</h2>", _table(rows, _heads(lang, "key", "value")),
            f"<footer>{_e(text('html.footer', lang))}</footer>",
            f"<script>{_IMG_SCRIPT}</script>",
            "</body></html>"]


def _html_parameter_uncertainty(s: dict, lang: str) -> list[str]:
    """How much of the spread comes from not knowing the market parameters (calibrated SEs drawn per chunk)."""
    pu = s.get("run", {}).get("parameter_uncertainty")
    if not pu:
        return []
    share = lambda x: "—" if x is None else f"{100 * x:.0f} %"  # noqa: E731
    sd = pu.get("sd_across_draws_p_call")
    body = text("html.param_unc", lang, draws=pu["draws"], per=pu["paths_per_draw"],
                pv=share(pu.get("share_of_variance_hidden_debt_pv")), call=share(pu.get("share_of_variance_hidden_call")),
                sd="—" if sd is None else f"{100 * sd:.1f}")
    return [f"<h2>{_e(text('html.h_param_unc', lang))}</h2>", f"<p>{_e(body)}</p>"]


def render_html(result, chart_dir: str | Path, lang: str = DEFAULT_LANG, attribution: dict | None = None) -> str:
    """The report page as a string in ``lang`` (PNG charts from ``chart_dir`` embedded as base64); with an
    ``attribution`` (attribute.json of ``baozhang attribute``) the section "What the answer rests on"."""
    s = result.summary

    def img(name: str, alt: str, caption: str) -> str:
        return _img(Path(chart_dir), name, alt, caption)

    parts = (_html_head(result, lang) + _html_answer(s, lang)
             + _html_fiscal(s, img, lang, result, float(result.plan.lockup_dscr))
             + _html_bank(s, img, lang, result) + _html_soe(s, img, lang, result) + attribution_html(attribution, img, lang)
             + _html_parameter_uncertainty(s, lang) + _html_compliance(result, lang) + _html_assumptions(result, lang)
             + _html_manifest(result, lang))
    return "\n".join(parts)


def write_html(result, folder: str | Path, lang: str = DEFAULT_LANG, attribution: dict | None = None) -> Path:
    folder = Path(folder)
    if not (folder / "charts").is_dir():
        write_charts(result, folder, lang=lang)
    if attribution:
        attribution_charts(attribution, folder / "charts", lang)
    path = folder / "report.html"
    path.write_text(render_html(result, folder / "charts", lang, attribution), encoding="utf-8")
    return path


# =============================================================================================== entry points
def report_writers(lang: str | None = None) -> tuple[Callable, ...]:
    """Writers ``f(result, tmp_dir)`` that :meth:`Result.save` runs in its atomic transaction:
    charts/*.png, then report.xlsx, then report.html (which embeds the charts), all in ``lang`` (None: the
    setting, :func:`report.format.lang_of`)."""
    lang = lang_of(lang)
    return tuple(functools.partial(w, lang=lang) for w in (write_charts, write_xlsx, write_html))


def render_reports(run_dir: str | Path, out: str | Path | None = None, result=None, lang: str | None = None) -> Path:
    """Re-render report.xlsx, report.html and charts/ of a saved run, in ``lang`` (None: the setting).

    With ``out`` the reports go to that (new or empty) folder; otherwise they replace the ones in ``run_dir``.
    Either way they are written to a temporary folder first and moved into place at the end.
    """
    run_dir = Path(run_dir)
    res = result if result is not None else Result.load(run_dir)
    if out is not None and Path(out).resolve() == run_dir.resolve():
        out = None  # "x/../run" or a symlink to the run folder itself: re-render in place
    target = Path(out).resolve() if out is not None else run_dir
    why = why_not_replaceable(target, inputs=(run_dir,)) if out is not None else None
    if why is not None:  # a folder of the user's own files is never replaced
        raise FileExistsError(f"{target}: {why}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.report-", dir=target.parent if out is not None else target))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; a new --out folder gets the mode mkdir would
    att = load_attribution(run_dir)
    try:
        for w in report_writers(lang):
            w(res, tmp, attribution=att) if getattr(w, "func", None) is write_html else w(res, tmp)
        if out is not None:
            if (run_dir / MANIFEST).is_file():  # the reports' folder says how its run was made, too
                shutil.copyfile(run_dir / MANIFEST, tmp / MANIFEST)
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
