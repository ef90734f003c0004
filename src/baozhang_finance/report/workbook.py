"""Write the input workbook (``baozhang template``): a blank or filled plan.xlsx a bureau analyst can fill in Excel.

The layout comes from :func:`baozhang_finance.model.workbook.layout` (walked from the pydantic models), so the
writer and the reader (:mod:`baozhang_finance.model.workbook`) agree by construction. Labels, units, ranges,
defaults and descriptions are locked; value cells are unlocked and yellow; every choice field (a ``Literal``, a
boolean, a table switch, a project reference) has a drop-down list. A figure's source note (the comment on its line
of the TOML file) becomes the comment of its cell. Also :func:`write_toml`, the way back (workbook → TOML).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING as _TC_  # noqa: E402
if _TC_:  # imported where used (start-up time)
    import xlsxwriter

from baozhang_finance.model import workbook as wbm
from baozhang_finance.model.labels_zh import TABLES_ZH
from baozhang_finance.model.scenario import GRID_LABELS, Scenario
from baozhang_finance.run.atomic import replace_file

#: value columns given to an array of tables beyond the items it has (room for another project, loan, …)
SPARE_COLUMNS = 1
MIN_COLUMNS = 3
#: slot groups of a nested list of tables (a bond's repayment schedule) in a template
MIN_SLOTS = 3

COVER_ZH = """保障房收购项目资金平衡测算 — 输入工作簿
baozhang-finance input workbook

使用步骤
1. 在各工作表的黄色单元格中填写数值（C列起；项目、贷款、专项债、补助、压力情景每个占一列）。灰色的字段名、单位、允许范围、默认值和说明已锁定。
2. 空白单元格表示“未填写”：采用“默认 default”列的默认值；“必填 required”的字段不可空白。
3. 金额单位为元，面积为平方米，利率和比例为小数（0.8 表示 80%），月份为自项目群起始月起算的序号（0 = 起始月）。
4. 带下拉箭头的单元格只能选列表中的值。可选子表（如“配租运营 rental”“贷款展期 cures.extension”）有一行开关：TRUE 启用、FALSE 不启用（其下数值保留但不读取）、空白 = 有数值即启用。
5. 每笔贷款、专项债、补助在“融资”表中写明所属项目（与“项目”表中的项目名称一致）。
6. 保存后运行：baozhang check plan.xlsx（校验与政策合规），baozhang run plan.xlsx --out runs/plan（测算），或在浏览器中打开：baozhang app plan.xlsx。
7. 出错时，提示会写明工作表和单元格，例如：项目!C7 area_m2: must be > 0, got -70。请不要删除行、改名或新增工作表。

How to use
1. Fill the yellow cells on each sheet (from column C; each project, loan, special bond, grant and stress test has a column of its own). Keys, names, units, ranges, defaults and descriptions are locked.
2. A blank cell means "not given": the default in column "默认 default" applies; a "必填 required" field must be filled.
3. Money in yuan, areas in m², rates and shares as fractions (0.8 = 80 %), months as indices from the programme start (0 = the start month).
4. Cells with a drop-down take only the values listed. An optional sub-table (rental operations, a loan extension cure …) has a switch row: TRUE on, FALSE off (its figures are kept but not read), blank = on when any of its fields is filled.
5. Each loan, bond and grant on sheet 融资 names its project (the name on sheet 项目).
6. Save, then: baozhang check plan.xlsx (validation and policy findings), baozhang run plan.xlsx --out runs/plan (the simulation), or open it in the browser: baozhang app plan.xlsx.
7. An error names the sheet and the cell, e.g. 项目!C7 area_m2: must be > 0, got -70. Do not delete rows, rename sheets or add sheets.
"""


def _items(block: wbm.Block, data: dict[str, Any]) -> list[tuple[dict, str, str]]:
    """(item dict, header label, location prefix) of each item of a block."""
    if not block.array:
        return [(data.get(block.table) or {}, "值 value", block.table)]
    short = TABLES_ZH.get(block.table, block.table.rsplit(".", 1)[-1])
    if block.owner is not None:
        out = []
        for i, p in enumerate(data.get(block.owner) or []):
            node: Any = p
            for part in block.owner_path:
                node = (node or {}).get(part) if isinstance(node, dict) else None
            for j, item in enumerate(node or []):
                item = {**item, "__project__": p.get("name")}
                out.append((item, f"{short} {len(out) + 1}", wbm._loc(block.owner, (i,) + block.owner_path + (j,))))
        return out
    if "." in block.table:
        owner, name = block.table.split(".", 1)
        lst = (data.get(owner) or {}).get(name) or []
    else:
        lst = data.get(block.table) or []
    return [(item, str(item.get("name") or f"{short} {k + 1}"), f"{block.table}[{k}]") for k, item in enumerate(lst)]


def write_workbook(path: str | Path, scenario: Scenario | None = None, notes: dict[str, str] | None = None,
                   source: str | None = None) -> Path:
    """Write the workbook to ``path`` (atomically): blank when ``scenario`` is None, else filled with its values.

    ``notes`` (location → text, e.g. from :func:`baozhang_finance.model.workbook.toml_notes`) become cell comments."""
    import xlsxwriter
    path = Path(path)
    data = scenario.model_dump(mode="python") if scenario is not None else {}
    notes = notes or {}
    slots = {k: max(v, MIN_SLOTS) for k, v in wbm.slot_counts(Scenario, data).items()}
    sheets = wbm.layout(Scenario, slots, GRID_LABELS)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".xlsx", dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    try:
        wb = xlsxwriter.Workbook(tmp, {"strings_to_numbers": False, "strings_to_formulas": False,
                                       "strings_to_urls": False})
        wb.set_properties({"title": "baozhang-finance input workbook", "comments": source or ""})
        f = _formats(wb)
        _cover(wb, f, scenario, source)
        names_ref = None
        for sheet in sheets:
            if sheet.grid is not None:
                _grid(wb, f, sheet, data)
            else:
                names_ref = _data_sheet(wb, f, sheet, data, notes, names_ref)
        wb.close()
        replace_file(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _formats(wb) -> dict[str, Any]:
    return {
        "title": wb.add_format({"bold": True, "font_size": 13, "locked": True}),
        "head": wb.add_format({"bold": True, "bg_color": "#1f4e79", "font_color": "white", "locked": True,
                               "text_wrap": True, "valign": "top"}),
        "block": wb.add_format({"bold": True, "bg_color": "#d9e1f2", "locked": True}),
        "key": wb.add_format({"font_color": "#555555", "locked": True, "font_name": "Consolas"}),
        "label": wb.add_format({"locked": True}),
        "meta": wb.add_format({"font_color": "#555555", "locked": True, "text_wrap": False}),
        "num": wb.add_format({"locked": False, "bg_color": "#fff2cc", "border": 1, "border_color": "#bfbfbf"}),
        "text": wb.add_format({"locked": False, "bg_color": "#fff2cc", "border": 1, "border_color": "#bfbfbf",
                               "num_format": "@"}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top", "locked": True}),
    }


def _data_sheet(wb, f, sheet: wbm.Sheet, data: dict, notes: dict[str, str], names_ref: str | None) -> str | None:
    """One sheet of blocks; returns the range of the project names (for the project drop-downs) once it is known."""
    ws = wb.add_worksheet(sheet.name)
    blocks = [(b, _items(b, data)) for b in sheet.blocks]
    ncols = max(max(len(items) + SPARE_COLUMNS, MIN_COLUMNS) if b.array else 1 for b, items in blocks)
    meta = 2 + ncols
    ws.write(0, 0, f"{sheet.name} — {wbm.SHEET_TITLES.get(sheet.name, sheet.name)}", f["title"])
    ws.write_row(wbm.HEADER_ROW, 0, [wbm.KEY_HEAD, wbm.NAME_HEAD], f["head"])
    for c in range(ncols):
        ws.write(wbm.HEADER_ROW, 2 + c, f"值 value {c + 1}" if ncols > 1 else "值 value", f["head"])
    ws.write_row(wbm.HEADER_ROW, meta, list(wbm.META_HEADS), f["head"])
    r = wbm.FIRST_ROW
    for block, items in blocks:
        _block_header(ws, f, r, block, items, ncols, meta)
        r += 1
        used = ncols if block.array else 1
        for row in block.rows:
            ws.write(r, 0, row.key, f["key"])
            ws.write(r, 1, wbm.label(row), f["label"])
            for c in range(used):
                _value(ws, f, r, 2 + c, row, items[c] if c < len(items) else None, notes)
            ws.write_row(r, meta, [wbm.unit_of(row), wbm.range_of(row), wbm.default_of(row),
                                   wbm.description_of(row)], f["meta"])
            _validation(ws, r, used, row, names_ref)
            if block.table == "projects" and row.key == "name":
                names_ref = f"='{sheet.name}'!$C${r + 1}:${wbm.col_letter(1 + ncols)}${r + 1}"
            r += 1
        r += 1  # a blank row between blocks
    for first, last, width in ((0, 0, 34), (1, 1, 30), (2, 1 + ncols, 18), (meta, meta, 16),
                               (meta + 1, meta + 1, 30), (meta + 2, meta + 2, 16), (meta + 3, meta + 3, 90)):
        ws.set_column(first, last, width)
    ws.freeze_panes(wbm.FIRST_ROW, 2)
    ws.protect("", {"format_cells": True, "format_columns": True, "format_rows": True,
                    "insert_columns": True, "select_locked_cells": True, "select_unlocked_cells": True})
    return names_ref


def _block_header(ws, f, r: int, block: wbm.Block, items, ncols: int, meta: int) -> None:
    ws.write(r, 0, block.header, f["block"])
    ws.write(r, 1, wbm.label(block.table), f["block"])
    for c in range(ncols):
        if block.array:
            text = items[c][1] if c < len(items) else f"（可新增 spare）{c + 1}"
        else:
            text = items[0][1] if c == 0 else ""
        ws.write(r, 2 + c, text, f["block"])
    for c in range(4):
        ws.write_blank(r, meta + c, None, f["block"])


def _value(ws, f, r: int, c: int, row: wbm.Row, item, notes: dict[str, str]) -> None:
    fmt = f["text"] if row.annotation is str or (row.choices and row.annotation is not bool) else f["num"]
    if item is None:
        ws.write_blank(r, c, None, fmt)
        return
    d, _, prefix = item
    if row.kind == "project":
        ws.write_string(r, c, str(d.get("__project__") or ""), f["text"])
        return
    v = wbm._get(d, row.path)
    if row.kind == "switch":
        ws.write_boolean(r, c, isinstance(v, dict), f["num"])
    elif row.kind == "slot":
        full = wbm._get(d, row.path[:-1])
        if isinstance(full, list) and not full and row.path[-1] == 0:
            ws.write_string(r, c, wbm.EMPTY_LIST, f["text"])
        elif v is None:
            ws.write_blank(r, c, None, fmt)
        else:
            ws.write_string(r, c, str(v), f["text"])
    elif v is None:
        ws.write_blank(r, c, None, fmt)
    elif row.kind == "list":
        ws.write_string(r, c, ", ".join(map(str, v)), f["text"])
    elif isinstance(v, bool):
        ws.write_boolean(r, c, v, fmt)
    elif isinstance(v, (int, float)):
        if isinstance(v, int) and abs(v) >= 2**53:
            raise ValueError(f"{prefix}.{row.key}: {v} has more digits than a spreadsheet cell keeps")
        ws.write_number(r, c, v, fmt)
    else:
        ws.write_string(r, c, str(v), f["text"])
    loc = prefix + ("" if not row.path or isinstance(row.path[0], int) else ".") + wbm._loc("", row.path)
    note = notes.get(loc)
    if note:
        ws.write_comment(r, c, note, {"x_scale": 2, "y_scale": 1.2})


def _validation(ws, r: int, used: int, row: wbm.Row, names_ref: str | None) -> None:
    first, last = 2, 1 + used
    if row.kind == "project":
        if names_ref:
            ws.data_validation(r, first, r, last, {"validate": "list", "source": names_ref,
                                                   "error_title": "项目 project",
                                                   "error_message": "选择“项目”表中的项目名称 pick a project's name"})
        return
    ch = row.choices
    if ch is not None:
        values = ["TRUE" if x is True else "FALSE" if x is False else str(x) for x in ch]
        if row.kind == "slot" and row.path[-1] == 0:
            values.append(wbm.EMPTY_LIST)
        ws.data_validation(r, first, r, last, {"validate": "list", "source": values,
                                               "error_title": "可选值 allowed values",
                                               "error_message": " / ".join(values)[:255]})
        return
    rng = wbm.range_of(row)
    if rng:
        ws.data_validation(r, first, r, last, {"validate": "any", "input_title": row.key[:32],
                                               "input_message": rng[:255]})


def _grid(wb, f, sheet: wbm.Sheet, data: dict) -> None:
    g = sheet.grid
    ws = wb.add_worksheet(sheet.name)
    value = (data.get(g.owner) or {}).get(g.name)
    n = len(g.labels) or (len(value) if value else 0)
    labels = list(g.labels) or [str(i + 1) for i in range(n)]
    ws.write(0, 0, f"{sheet.name} — {wbm.SHEET_TITLES.get(sheet.name, g.table)} ({g.table})", f["title"])
    ws.write(wbm.HEADER_ROW, 0, f"{wbm.label(g.table)}", f["head"])
    ws.write_row(wbm.HEADER_ROW, 1, labels, f["head"])
    for i in range(n):
        ws.write(wbm.FIRST_ROW + i, 0, labels[i], f["head"])
        for j in range(n):
            if value:
                ws.write_number(wbm.FIRST_ROW + i, 1 + j, value[i][j], f["num"])
            else:
                ws.write_blank(wbm.FIRST_ROW + i, 1 + j, None, f["num"])
    ws.write(wbm.FIRST_ROW + n + 1, 0, "对称、对角线为1、半正定；全部空白 = 各因素相互独立。Symmetric, unit diagonal, positive "
                                        "semi-definite; leave all blank for independent drivers.", f["label"])
    ws.set_column(0, 0, 22)
    ws.set_column(1, n, 12)
    ws.protect("", {"format_cells": True, "format_columns": True, "format_rows": True,
                    "select_locked_cells": True, "select_unlocked_cells": True})


def _cover(wb, f, scenario: Scenario | None, source: str | None) -> None:
    ws = wb.add_worksheet(wbm.COVER_SHEET)
    lines = COVER_ZH.splitlines()
    ws.write(0, 0, lines[0], f["title"])
    for i, line in enumerate(lines[1:], start=1):
        ws.write(i, 0, line, f["wrap"] if line else f["label"])
    r = len(lines) + 1
    if scenario is not None:
        ws.write(r, 0, f"本工作簿来自 filled from: {source or scenario.programme.name} — {scenario.programme.name}",
                 f["label"])
    ws.set_column(0, 0, 160)
    ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True, "format_columns": True})
    ws.activate()


# ----------------------------------------------------------------------------------------------- back to TOML
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items() if x is not None) + " }"
    raise TypeError(type(v))


def to_toml(scenario: Scenario, notes: dict[str, str] | None = None) -> str:
    """The scenario as a TOML file (every value written, None left out), each figure with its note as a comment."""
    notes = notes or {}
    out: list[str] = [f"# {scenario.programme.name} — written by baozhang-finance from a workbook or a scenario"]

    def is_tables(v):
        return isinstance(v, list) and v and all(isinstance(x, dict) for x in v)

    def emit(d: dict, path: str, loc: str, array: bool) -> None:
        if path:
            out.append("")
            out.append(f"[[{path}]]" if array else f"[{path}]")
        for k, v in d.items():
            if v is None or isinstance(v, dict) or is_tables(v):
                continue
            line = f"{k} = {_toml_value(v)}"
            note = notes.get(f"{loc}.{k}" if loc else k)
            out.append(f"{line}  # {note}" if note else line)
        for k, v in d.items():
            if isinstance(v, dict):
                emit(v, f"{path}.{k}" if path else k, f"{loc}.{k}" if loc else k, False)
        for k, v in d.items():
            if is_tables(v):
                for i, item in enumerate(v):
                    emit(item, f"{path}.{k}" if path else k, (f"{loc}.{k}" if loc else k) + f"[{i}]", True)

    emit(scenario.model_dump(mode="python"), "", "", False)
    return "\n".join(out) + "\n"


def write_toml(path: str | Path, scenario: Scenario, notes: dict[str, str] | None = None) -> Path:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(to_toml(scenario, notes))
        replace_file(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
