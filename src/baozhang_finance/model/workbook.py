"""The input workbook (plan.xlsx): its layout, walked from the pydantic models, and its reader.

``baozhang template`` writes the workbook (:mod:`baozhang_finance.report.workbook`); every command that takes a
scenario reads it here, through :func:`baozhang_finance.model.scenario.load_scenario`, with the same validation as
a TOML file. The layout is generated from the models, like the scenario reference, so a new field appears in
the workbook without touching this module:

* one **sheet** per group of tables (:data:`SHEET_OF`; a table not listed gets a sheet of its own);
* on a sheet, one **block** per table: a header row (``[programme]``, ``[[projects]]`` in column A), then one
  row per field; column A holds the field's key (its dotted path inside the table), column B its Chinese and
  English name, columns C… the values (one column per project, loan, bond, grant or stress for an array of
  tables), then unit, allowed range, default and description;
* an optional sub-table (``rental``, ``sale.buyback``, ``cures.extension`` …) has a switch row of its own
  (TRUE / FALSE; blank = present when any of its fields is filled); a list of choices (``support.soe_pays``) is
  one row per slot (``soe_pays[1]``, ``soe_pays[2]`` …), each with a drop-down; a list of tables nested two
  arrays deep (a bond's ``schedule``) is slots of rows (``schedule[1].year``); a matrix (``market.correlation``)
  is a grid on a sheet of its own;
* a loan, bond or grant names its project in a ``project`` row.

A blank cell means "not given": the field's default applies (the default column shows it). Reading is strict:
text in a number cell, a whole-number field with a fraction, an unknown choice, a missing (deleted) row, an
unknown row or sheet — each is an error naming the sheet and cell, e.g. ``项目!C7 area_m2: must be > 0, got -70``.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import re
import types
import typing
import zipfile
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from baozhang_finance.model.labels_zh import FIELDS_ZH, TABLES_ZH

# This module sits below scenario.py (whose load_scenario calls it), so it takes the root model as an argument
# and raises its own WorkbookError, which load_scenario turns into a ScenarioError.


class WorkbookError(ValueError):
    """A workbook that cannot be read: ``problems`` are one line each, naming the sheet and cell."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = problems or [message]
        super().__init__(message)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """Strip ``X | None``; return (inner annotation, optional)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True
    return annotation, False


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool, bool]:
    """(model, is_array, optional) when a field holds a nested table or an array of tables."""
    inner, optional = _unwrap(annotation)
    if inspect.isclass(inner) and issubclass(inner, BaseModel):
        return inner, False, optional
    if typing.get_origin(inner) is list:
        (item,) = typing.get_args(inner)
        if inspect.isclass(item) and issubclass(item, BaseModel):
            return item, True, optional
    return None, False, optional

# ----------------------------------------------------------------------------------------------- geometry
COVER_SHEET = "说明"
GRID_SHEET_OF = {"market.correlation": "相关性"}
#: the sheet each table's block goes on, in sheet order (a table not listed gets a sheet named after it)
SHEET_OF: dict[str, str] = {
    "programme": "项目群", "policy": "项目群",
    "projects": "项目",
    "projects.financing.loans": "融资", "projects.financing.bonds": "融资", "projects.financing.grants": "融资",
    "waterfall": "支持与化解", "support": "支持与化解", "cures": "支持与化解", "credit": "支持与化解",
    "market": "市场", "market.stresses": "市场",
    "simulation": "模拟",
}
SHEET_TITLES: dict[str, str] = {
    "项目群": "Programme and policy", "项目": "Projects (one column per project)",
    "融资": "Financing: loans, special bonds, grants (one column each; name the project)",
    "支持与化解": "Waterfall, support policy, cures, bank recovery", "市场": "Market drivers and stress tests",
    "相关性": "Correlation of the market innovations (leave blank for independent drivers)",
    "模拟": "Simulation settings",
}
HEADER_ROW = 1  # 0-based: row 2 holds the column headings
FIRST_ROW = 2  # 0-based: blocks start on row 3
KEY_HEAD = "字段 field"
NAME_HEAD = "名称 name"
META_HEADS = ("单位 unit", "允许范围 allowed range", "默认 default", "说明 description")
TRUE_WORDS = {"true": True, "false": False, "是": True, "否": False}
#: the token that writes an empty list in the first slot of a list of choices
EMPTY_LIST = "无 none"
MAX_FILE_BYTES = 5_000_000
MAX_ROWS = 3_000
MAX_COLS = 300


def col_letter(c: int) -> str:
    """0-based column index → Excel letters (0 → A)."""
    s = ""
    c += 1
    while c:
        c, r = divmod(c - 1, 26)
        s = chr(65 + r) + s
    return s


def cell_ref(row: int, col: int) -> str:
    """0-based (row, col) → ``C7``."""
    return f"{col_letter(col)}{row + 1}"


# ----------------------------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class Row:
    """One row of a block: a field (or a switch, a slot, the project reference) of the table's items."""

    key: str  # as written in column A, relative to the block's table
    path: tuple  # where the value goes inside the item's dict (ints are 0-based list slots)
    kind: str  # "scalar" | "switch" | "slot" | "list" | "project"
    annotation: Any = None  # the value's type, without "| None"
    nullable: bool = False
    field: FieldInfo | None = None
    name: str = ""  # the field's name
    table: str = ""  # dotted table path of the field, e.g. "projects.rental"

    @property
    def choices(self) -> tuple | None:
        if typing.get_origin(self.annotation) is Literal:
            return typing.get_args(self.annotation)
        if self.annotation is bool:
            return (True, False)
        return None


@dataclass(frozen=True)
class Block:
    table: str  # dotted path: "programme", "projects", "projects.financing.loans"
    array: bool
    model: type[BaseModel]
    owner: str | None  # "projects" when the items belong to a project (loans, bonds, grants)
    owner_path: tuple  # where the list sits inside the owner's item: ("financing", "loans")
    rows: list[Row]

    @property
    def header(self) -> str:
        return f"[[{self.table}]]" if self.array else f"[{self.table}]"


@dataclass(frozen=True)
class Grid:
    table: str  # "market.correlation"
    owner: str  # "market"
    name: str  # "correlation"
    labels: tuple[str, ...]


@dataclass
class Sheet:
    name: str
    blocks: list[Block] = dc_field(default_factory=list)
    grid: Grid | None = None


def _is_matrix(annotation: Any) -> bool:
    inner, _ = _unwrap(annotation)
    if typing.get_origin(inner) is not list:
        return False
    (item,) = typing.get_args(inner)
    return typing.get_origin(item) is list


def _scalar_list_item(annotation: Any) -> Any | None:
    inner, _ = _unwrap(annotation)
    if typing.get_origin(inner) is not list:
        return None
    (item,) = typing.get_args(inner)
    if inspect.isclass(item) and issubclass(item, BaseModel):
        return None
    return item


def _rows(model: type[BaseModel], table: str, key: str, path: tuple, slots: dict[str, int],
          depth_arrays: int) -> list[Row]:
    out: list[Row] = []
    for name, f in model.model_fields.items():
        k = f"{key}{name}"
        p = path + (name,)
        sub, array, optional = _model_of(f.annotation)
        inner, nullable = _unwrap(f.annotation)
        if sub is not None and not array:
            if optional:
                out.append(Row(k, p, "switch", bool, True, f, name, f"{table}.{name}"))
            out += _rows(sub, f"{table}.{name}", f"{k}.", p, slots, depth_arrays)
        elif sub is not None and array:
            # a list of tables two arrays deep (a bond's schedule) becomes slots of rows in the item's column
            n = slots.get(f"{table}.{name}", 0)
            for i in range(n):
                out += _rows(sub, f"{table}.{name}", f"{k}[{i + 1}].", p + (i,), slots, depth_arrays + 1)
        elif _is_matrix(f.annotation):
            continue  # a grid sheet of its own
        elif (item := _scalar_list_item(f.annotation)) is not None and typing.get_origin(item) is Literal:
            for i in range(len(typing.get_args(item))):
                out.append(Row(f"{k}[{i + 1}]", p + (i,), "slot", item, False, f, name, table))
        elif item is not None:
            out.append(Row(k, p, "list", item, nullable, f, name, table))
        else:
            out.append(Row(k, p, "scalar", inner, nullable, f, name, table))
    return out


def _list_tables(model: type[BaseModel], table: str, path: tuple, arrays: int):
    """(table path, model, path inside the item) of every list of tables below ``model`` at most one array deep."""
    for name, f in model.model_fields.items():
        sub, array, _ = _model_of(f.annotation)
        if sub is None:
            continue
        t, p = f"{table}.{name}", path + (name,)
        if array and arrays == 0:
            yield t, sub, p
        elif not array:
            yield from _list_tables(sub, t, p, arrays)


def layout(root: type[BaseModel], slots: dict[str, int] | None = None,
           grid_labels: dict[str, tuple[str, ...]] | None = None) -> list[Sheet]:
    """The data sheets of the workbook of ``root`` (the Scenario model), in order, each with its blocks and rows.

    ``slots`` gives the number of slot groups of each list of tables nested two arrays deep, by table path
    (``{"projects.financing.bonds.schedule": 2}``): the writer counts them in the data, the reader in the sheet.
    ``grid_labels`` names the rows and columns of a matrix (``{"market.correlation": DRIVERS}``)."""
    slots = slots or {}
    grid_labels = grid_labels or {}
    blocks: list[Block] = []
    grids: list[Grid] = []
    for name, f in root.model_fields.items():
        sub, array, _ = _model_of(f.annotation)
        if sub is None:
            continue
        blocks.append(Block(name, array, sub, None, (), _rows(sub, name, "", (), slots, 1 if array else 0)))
        if array:  # lists of tables inside each item (a project's loans): blocks of their own, owned by the item
            for t, m, p in _list_tables(sub, name, (), 0):
                blocks.append(Block(t, True, m, name, p, [Row("project", (), "project", str)] +
                                    _rows(m, t, "", (), slots, 2)))
        else:
            for t, m, p in _list_tables(sub, name, (), 0):
                blocks.append(Block(t, True, m, None, p, _rows(m, t, "", (), slots, 1)))
            for fname, ff in sub.model_fields.items():
                if _is_matrix(ff.annotation):
                    t = f"{name}.{fname}"
                    grids.append(Grid(t, name, fname, tuple(grid_labels.get(t, ()))))
    sheets: dict[str, Sheet] = {}
    for b in blocks:
        sheet = SHEET_OF.get(b.table) or TABLES_ZH.get(b.table, b.table)[:31]
        sheets.setdefault(sheet, Sheet(sheet)).blocks.append(b)
    order = list(dict.fromkeys(SHEET_OF.values()))
    names = [n for n in order if n in sheets] + [n for n in sheets if n not in order]
    for g in grids:  # a grid sheet goes right after the sheet of the table that holds it
        sheet = GRID_SHEET_OF.get(g.table) or TABLES_ZH.get(g.table, g.table)[:31]
        sheets[sheet] = Sheet(sheet, grid=g)
        owner = SHEET_OF.get(g.owner) or g.owner
        names.insert(names.index(owner) + 1 if owner in names else len(names), sheet)
    return [sheets[n] for n in names]


def label(row_or_table: Row | str) -> str:
    """Chinese and English name of a row or a table."""
    if isinstance(row_or_table, str):
        zh = TABLES_ZH.get(row_or_table, "")
        return f"{zh} {row_or_table}".strip()
    r = row_or_table
    if r.kind == "project":
        return "所属项目 project (name)"
    zh = FIELDS_ZH.get(r.name, "")
    tail = r.key.rsplit(".", 1)[-1] if r.kind != "slot" else r.key
    return f"{zh} {tail}".strip() if zh else tail


_UNITS = (("_yuan_per_m2_month", "元/m²/月"), ("_yuan_per_m2_year", "元/m²/年"), ("_yuan_per_m2", "元/m²"),
          ("_yuan_per_unit_month", "元/套/月"), ("_per_unit_yuan", "元/套"), ("_yuan", "元"), ("_m2", "m²"),
          ("_bp", "基点 bp"), ("_months", "月 months"), ("_month", "月序号 month index"), ("_years", "年 years"),
          ("_annual", "年率 per year"), ("_share", "比例 share (0–1)"), ("_rate", "年率 rate"), ("_ratio", "比例 ratio"),
          ("_prob", "概率 probability"))


def unit_of(r: Row) -> str:
    """A unit read off the field's name (money in yuan, areas in m², months, shares as fractions)."""
    if r.kind in ("switch", "project"):
        return ""
    n = r.name
    if n == "per_unit_yuan":
        return "元/套"
    if n in ("month", "start_month", "year"):
        return {"month": "月序号 month index", "start_month": "月序号 month index", "year": "年序号 bond year"}[n]
    if n in ("months", "years"):
        return {"months": "月 months", "years": "年 years"}[n]
    if n in ("share", "margin", "coupon", "rate", "fixed_rate", "spread_over_lpr", "cap_rate", "discount_rate",
             "lpr_initial", "lpr_mean", "lpr_floor", "probability", "reprice_probability", "min_occupancy",
             "stabilised_occupancy", "collection_rate", "price_change", "rent_change", "occupancy_shift"):
        return "小数 fraction (0.8 = 80%)"
    for suffix, unit in _UNITS:
        if n.endswith(suffix):
            return unit
    return ""


def range_of(r: Row) -> str:
    """Allowed values: the field's bounds or its choices."""
    if r.kind == "switch":
        return "TRUE / FALSE（空=有值即启用 blank = on when filled）"
    if r.kind == "project":
        return "项目表中的项目名称 a project's name"
    ch = r.choices
    if ch is not None:
        text = " / ".join("TRUE" if c is True else "FALSE" if c is False else str(c) for c in ch)
        return text + (f"（第1格可填 {EMPTY_LIST} = 空列表）" if r.kind == "slot" and r.path[-1] == 0 else "")
    parts = []
    for m in (r.field.metadata if r.field else []):
        for attr, sym in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            v = getattr(m, attr, None)
            if v is not None:
                parts.append(f"{sym} {v:g}" if isinstance(v, (int, float)) else f"{sym} {v}")
        if getattr(m, "pattern", None) is not None:
            parts.append("YYYY-MM" if "\\d{4}" in m.pattern else f"pattern {m.pattern}")
    kind = {int: "整数 whole number", float: "数字 number", str: "文本 text"}.get(r.annotation, "")
    if r.kind == "list":
        kind = "逗号分隔 comma-separated"
    return ", ".join([kind] + parts) if kind else ", ".join(parts)


def default_of(r: Row) -> str:
    """The default, as text ('必填 required' when there is none)."""
    f = r.field
    if r.kind == "project":
        return "必填 required"
    if f is None:
        return ""
    if r.kind == "switch":
        return "FALSE（不启用 off）"
    if f.is_required():
        return "必填 required"
    value = f.default_factory() if f.default_factory is not None else f.default
    if r.kind == "slot":
        i = r.path[-1]
        return str(value[i]) if isinstance(value, list) and i < len(value) else ""
    if value is None:
        return "空 blank"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "[]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def description_of(r: Row) -> str:
    if r.kind == "project":
        return "the project (its name on sheet 项目) this item belongs to"
    return " ".join((r.field.description or "").split()) if r.field else ""


# ----------------------------------------------------------------------------------------------- values → dict
def slot_counts(root: type[BaseModel], data: dict[str, Any]) -> dict[str, int]:
    """The slot groups a scenario dict (``model_dump()``) needs, by table path: ``{"projects.financing.bonds.schedule":
    2}`` when the longest bond schedule has two repayments."""
    out: dict[str, int] = {}
    for sheet in layout(root):
        for b in sheet.blocks:
            if b.owner is None:
                continue
            for name, f in b.model.model_fields.items():
                sub, array, _ = _model_of(f.annotation)
                if sub is None or not array:
                    continue
                n = 0
                for p in data.get(b.owner) or []:
                    for item in _get(p, b.owner_path) or []:
                        n = max(n, len(item.get(name) or []))
                out[f"{b.table}.{name}"] = n
    return out


# ----------------------------------------------------------------------------------------------- reading
class _Problems:
    def __init__(self, source: str):
        self.source = source
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            shown = self.items[:25]
            if len(self.items) > 25:
                shown.append(f"{self.source}: … and {len(self.items) - 25} more")
            raise WorkbookError("\n".join(shown), problems=shown)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


def _show(v: Any) -> str:
    """A cell's value as the user typed it, briefly."""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, str):
        return repr(v if len(v) <= 60 else v[:60] + "…")
    if isinstance(v, (_dt.datetime, _dt.date)):
        return f"a date ({v:%Y-%m-%d})"
    return repr(v)


def _numeric_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value.replace(",", ""))
    except ValueError:
        return False
    return True


def convert(value: Any, r: Row) -> Any:
    """A cell's value as the field's type, or ValueError naming what is wrong. No silent coercion: a number
    must be a number cell, text a text cell; a whole number stored as 5.0 reads as 5; a date typed into a
    YYYY-MM text field (Excel turns "2025-01" into a date) reads as "2025-01" when it is the first of a month."""
    ann = r.annotation
    if isinstance(value, str) and value.startswith("="):
        raise ValueError(f"a formula ({value[:40]!r}): type the value itself")
    if ann is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS:
            return TRUE_WORDS[value.strip().lower()]
        raise ValueError(f"must be TRUE or FALSE, got {_show(value)}")
    if ann is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = " (text: type the number into the cell without quotes)" if _numeric_text(value) else ""
            raise ValueError(f"must be a whole number, got {_show(value)}{hint}")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"must be a whole number, got {value!r}")
            return int(value)
        return value
    if ann is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = " (text: type the number into the cell without quotes)" if _numeric_text(value) else ""
            raise ValueError(f"must be a number, got {_show(value)}{hint}")
        return value
    if ann is str or typing.get_origin(ann) is Literal:
        if isinstance(value, _dt.datetime) and r.field is not None and any(
                "\\d{4}-" in (getattr(m, "pattern", None) or "") for m in r.field.metadata):
            if value.day == 1 and value.time() == _dt.time(0):
                return f"{value.year:04d}-{value.month:02d}"
        if not isinstance(value, str):
            raise ValueError(f"must be text, got {_show(value)} (format the cell as text)")
        return value
    return value


def _set(d: dict, path: tuple, value: Any) -> None:
    node: Any = d
    for a, b in zip(path, path[1:]):
        if isinstance(a, int):
            while len(node) <= a:
                node.append({})
            node = node[a]
        else:
            node = node.setdefault(a, [] if isinstance(b, int) else {})
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
        node[last] = value
    else:
        node[last] = value


def _get(d: dict, path: tuple) -> Any:
    node: Any = d
    for a in path:
        if isinstance(node, dict) and a in node:
            node = node[a]
        elif isinstance(node, list) and isinstance(a, int) and a < len(node):
            node = node[a]
        else:
            return None
    return node


def _del(d: dict, path: tuple) -> None:
    parent = _get(d, path[:-1]) if len(path) > 1 else d
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def _loc(prefix: str, path: tuple) -> str:
    out = prefix
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + str(part))
    return out


_SLOT_KEY = re.compile(r"(?:^|\.)([A-Za-z_]\w*)\[(\d+)\]\.")


@dataclass
class _SheetData:
    name: str
    rows: list[tuple]  # the sheet's cells, 0-based rows of values
    meta_col: int  # first metadata column (values are columns 2 … meta_col − 1)


def _read_sheet(ws, problems: _Problems) -> _SheetData | None:
    if ws.max_row > MAX_ROWS or ws.max_column > MAX_COLS:
        problems.add(f"{ws.title}!A1", f"sheet has {ws.max_row} rows × {ws.max_column} columns; a template sheet "
                                       f"has at most {MAX_ROWS} × {MAX_COLS}")
        return None
    rows = [tuple(c for c in r) for r in ws.iter_rows(values_only=True)]
    head = rows[HEADER_ROW] if len(rows) > HEADER_ROW else ()
    if not head or head[0] != KEY_HEAD:
        problems.add(f"{ws.title}!A{HEADER_ROW + 1}", f"expected the heading {KEY_HEAD!r} here (the sheet's "
                                                     "layout was changed; start from a fresh template)")
        return None
    try:
        meta = list(head).index(META_HEADS[0])
    except ValueError:
        problems.add(f"{ws.title}!{cell_ref(HEADER_ROW, 2)}", f"no {META_HEADS[0]!r} heading in row "
                                                              f"{HEADER_ROW + 1} (the layout was changed)")
        return None
    return _SheetData(ws.title, rows, meta)


def _open_workbook(p: Path, src: str):
    """The workbook at ``p``, opened read-only for its values, or WorkbookError when it is no input workbook."""
    import openpyxl

    if not p.exists():
        raise WorkbookError(f"{src}: file not found")
    if p.is_dir():
        raise WorkbookError(f"{src}: is a directory, not a scenario file")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise WorkbookError(f"{src}: {size:,} bytes; an input workbook is at most {MAX_FILE_BYTES:,}")
    try:
        with zipfile.ZipFile(p) as z:
            unpacked = sum(i.file_size for i in z.infolist())
        if unpacked > 20 * MAX_FILE_BYTES:
            raise WorkbookError(f"{src}: unpacks to {unpacked:,} bytes; not an input workbook")
        return openpyxl.load_workbook(p, data_only=True)
    except WorkbookError:
        raise
    except Exception as exc:  # not a zip, not a workbook, damaged: one line
        first = (str(exc).strip().splitlines() or [""])[0][:120]
        raise WorkbookError(f"{src}: not an Excel workbook (.xlsx) the template wrote "
                            f"({type(exc).__name__}: {first})") from None


def _check_sheet_names(wb, sheets: list[Sheet], problems: _Problems) -> None:
    """Note every sheet that is not part of the template, and every template sheet that is missing."""
    expected = [COVER_SHEET] + [s.name for s in sheets]
    for name in wb.sheetnames:
        if name not in expected:
            problems.add(f"{name}!A1", f"sheet {name!r} is not part of the template (expected sheets: "
                                       f"{', '.join(expected)}); delete it or copy its figures into the template")
    for name in expected[1:]:
        if name not in wb.sheetnames:
            problems.add(f"{name}!A1", "sheet is missing (deleted or renamed); start from a fresh template")


def _slots_seen(sheets: list[Sheet], read: dict[str, _SheetData | None]) -> dict[str, int]:
    """The slot counts seen in the sheets (a bond's ``schedule[3].year`` → 3), by table path."""
    slots: dict[str, int] = {}
    by_table: dict[str, Block] = {b.table: b for s in sheets for b in s.blocks}
    for s in sheets:
        sd = read.get(s.name)
        if sd is None:
            continue
        table = None
        for r in sd.rows[FIRST_ROW:]:
            key = r[0] if r else None
            if isinstance(key, str) and key.startswith("["):
                table = key.strip("[]")
            elif isinstance(key, str) and table in by_table:
                for m in _SLOT_KEY.finditer(key):
                    slots[f"{table}.{m.group(1)}"] = max(slots.get(f"{table}.{m.group(1)}", 0), int(m.group(2)))
    return slots


def _add_cells(cells: dict, prefix: str, item_cells: dict[str, tuple]) -> None:
    """Record the cell of every location of one item, below the item's location ``prefix``."""
    for loc, ref in item_cells.items():
        cells[prefix + ("" if loc.startswith("[") else ".") + loc] = ref


def _assign_owned(data: dict, cells: dict, owned: list, problems: _Problems) -> None:
    """Put each loan, bond and grant into the project it names."""
    names = [p.get("name") for p in data.get("projects", [])]
    for block, items in owned:
        counts: dict[int, int] = {}
        for ref_cell, item, head_cell, item_cells in items:
            ref = item.pop("__project__", None)
            if _blank(ref):
                problems.add(ref_cell, "name the project this item belongs to")
                continue
            if ref not in names or names.count(ref) > 1:
                problems.add(ref_cell, f"no single project named {_show(ref)} on sheet 项目 "
                                       f"(projects: {', '.join(map(str, names))})")
                continue
            i = names.index(ref)
            j = counts.get(i, 0)
            counts[i] = j + 1
            prefix = _loc("projects", (i,) + block.owner_path + (j,))
            target = data["projects"][i]
            _set(target, block.owner_path + (j,), item)
            cells[prefix] = head_cell
            _add_cells(cells, prefix, item_cells)


def workbook_to_dict(path: str | Path, root: type[BaseModel], source: str | None = None,
                     grid_labels: dict[str, tuple[str, ...]] | None = None) -> tuple[dict[str, Any], dict[str, tuple]]:
    """The scenario dict a workbook holds, and the cell of every location (``"projects[0].units"`` →
    ``("项目", "C7", "units")``) for :func:`locate`. Raises :class:`WorkbookError` naming the sheet and cell."""
    p = Path(path)
    src = source or str(p)
    problems = _Problems(src)
    wb = _open_workbook(p, src)

    sheets = layout(root, grid_labels=grid_labels)
    _check_sheet_names(wb, sheets, problems)
    problems.raise_if_any()

    read = {s.name: _read_sheet(wb[s.name], problems) for s in sheets if s.blocks}
    problems.raise_if_any()

    sheets = layout(root, _slots_seen(sheets, read), grid_labels)
    data: dict[str, Any] = {}
    cells: dict[str, tuple] = {}
    owned: list[tuple[Block, list[tuple[str, dict, str, dict]]]] = []
    project_cols: list[str] = []
    for s in sheets:
        if s.blocks:
            _read_blocks(s, read[s.name], data, cells, owned, project_cols, problems)
        if s.grid is not None:
            _read_grid(wb[s.name], s.grid, data, cells, problems)
    problems.raise_if_any()

    _assign_owned(data, cells, owned, problems)
    problems.raise_if_any()
    return data, cells


def _item_columns(sd: _SheetData) -> range:
    return range(2, sd.meta_col)


def _read_blocks(sheet: Sheet, sd: _SheetData, data: dict, cells: dict, owned: list, project_cols: list,
                 problems: _Problems) -> None:
    by_header = {b.header: b for b in sheet.blocks}
    # split the sheet into blocks by their header rows
    spans: list[tuple[Block, int, list[int]]] = []
    current: tuple[Block, int, list[int]] | None = None
    for i in range(FIRST_ROW, len(sd.rows)):
        r = sd.rows[i]
        key = r[0] if r else None
        values = [v for v in r[2:sd.meta_col]] if r else []
        if _blank(key):
            if any(not _blank(v) for v in values):
                c = next(c for c in _item_columns(sd) if c < len(r) and not _blank(r[c]))
                problems.add(f"{sd.name}!{cell_ref(i, c)}", "a value on a row with no field key in column A "
                                                            "(a deleted or moved row?)")
            continue
        if not isinstance(key, str):
            problems.add(f"{sd.name}!{cell_ref(i, 0)}", f"not a field key: {_show(key)}")
            continue
        if key.startswith("["):
            block = by_header.get(key.strip())
            if block is None:
                problems.add(f"{sd.name}!{cell_ref(i, 0)}", f"unknown table {key!r} on this sheet "
                                                            f"(expected {', '.join(by_header)})")
                current = None
                continue
            if any(b is block for b, _, _ in spans):
                problems.add(f"{sd.name}!{cell_ref(i, 0)}", f"table {key} appears twice")
            current = (block, i, [])
            spans.append(current)
            continue
        if current is None:
            problems.add(f"{sd.name}!{cell_ref(i, 0)}", f"field {key!r} outside any table block")
            continue
        current[2].append(i)
    for block in sheet.blocks:
        if not any(b is block for b, _, _ in spans):
            problems.add(f"{sd.name}!A{FIRST_ROW + 1}", f"table {block.header} is missing from the sheet")
    for block, head_i, row_is in spans:
        _read_block(block, sd, head_i, row_is, data, cells, owned, problems)


def _row_positions(block: Block, sd: _SheetData, head_i: int, row_is: list[int],
                   problems: _Problems) -> dict[str, int]:
    """The sheet row of each field key of a block; notes unknown, repeated and missing rows."""
    expected = {r.key: r for r in block.rows}
    at: dict[str, int] = {}
    for i in row_is:
        key = sd.rows[i][0].strip()
        if key not in expected:
            problems.add(f"{sd.name}!{cell_ref(i, 0)}", f"{key}: unknown field of {block.header} (not in the scenario "
                                                        "reference; check the spelling)")
        elif key in at:
            problems.add(f"{sd.name}!{cell_ref(i, 0)}", f"{key}: row appears twice (also row {at[key] + 1})")
        else:
            at[key] = i
    for key in expected:
        if key not in at:
            problems.add(f"{sd.name}!{cell_ref(head_i, 0)}", f"{block.header} {key}: the row is missing (deleted?); "
                                                              "restore it from a fresh template")
    return at


def _cell_value(sd: _SheetData, i: int, c: int) -> Any:
    """The value of the cell at 0-based (row ``i``, column ``c``), None beyond the row's end."""
    r = sd.rows[i]
    return r[c] if c < len(r) else None


def _check_one_column(block: Block, sd: _SheetData, row_is: list[int], problems: _Problems) -> None:
    """Note every value of a single table's block that is not in column C."""
    for i in row_is:
        for c in _item_columns(sd):
            if c != 2 and not _blank(_cell_value(sd, i, c)):
                problems.add(f"{sd.name}!{cell_ref(i, c)}", f"{block.header} has one value per field, in column C")


def _read_list(item: dict, r: Row, v: Any, where: str, problems: _Problems) -> None:
    """Set a list field from its comma-separated text cell."""
    if not isinstance(v, str):
        problems.add(where, f"must be comma-separated text, got {_show(v)}")
        return
    parts = [x.strip() for x in v.split(",")]
    if any(x == "" for x in parts):
        problems.add(where, f"an empty name in the list {v!r}")
        return
    try:
        _set(item, r.path, [convert(x, Row(r.key, r.path, "scalar", r.annotation)) for x in parts])
    except ValueError as exc:
        problems.add(where, str(exc))


def _read_cells(block: Block, sd: _SheetData, at: dict[str, int], c: int, problems: _Problems):
    """Read one item's column: (item, its cells, its switch rows, its slot values, the project cell)."""
    item: dict[str, Any] = {}
    item_cells: dict[str, tuple] = {}
    switches: list[tuple[Row, Any, str]] = []
    slots: dict[tuple, list[tuple[int, Any, str]]] = {}
    ref_cell = None
    for r in block.rows:
        i = at[r.key]
        ref = (sd.name, cell_ref(i, c), r.key)
        where = f"{sd.name}!{cell_ref(i, c)} {r.key}"
        v = _cell_value(sd, i, c)
        loc = _loc("", r.path)
        if r.kind == "project":
            item["__project__"] = v
            ref_cell = where
            continue
        item_cells[loc] = ref
        if r.kind == "switch":
            switches.append((r, v, where))
            continue
        if _blank(v):
            continue
        if r.kind == "slot":
            slots.setdefault(r.path[:-1], []).append((r.path[-1], v, where, r, ref))
            continue
        if r.kind == "list":
            _read_list(item, r, v, where, problems)
            continue
        try:
            _set(item, r.path, convert(v, r))
        except ValueError as exc:
            problems.add(where, str(exc))
    return item, item_cells, switches, slots, ref_cell


def _fill_slots(item: dict, slots: dict[tuple, list], problems: _Problems) -> None:
    """Set each list of choices from its filled slots (first slot on, no gaps; ``EMPTY_LIST`` for none)."""
    for base, got in slots.items():
        got.sort(key=lambda t: t[0])
        idx = [g[0] for g in got]
        if idx != list(range(len(idx))):
            problems.add(got[0][2], "fill the slots from the first one, without gaps")
            continue
        values = []
        for k, v, where, r, ref in got:
            if k == 0 and isinstance(v, str) and v.strip() == EMPTY_LIST:
                if len(got) > 1:
                    problems.add(where, f"{EMPTY_LIST!r} means an empty list: leave the other slots blank")
                break
            try:
                values.append(convert(v, r))
            except ValueError as exc:
                problems.add(where, str(exc))
        _set(item, base, values)


def _apply_switches(item: dict, switches: list[tuple[Row, Any, str]], problems: _Problems) -> None:
    """Switch each optional sub-table on or off, innermost first (blank: on when any of its fields is filled)."""
    for r, v, where in sorted(switches, key=lambda t: -len(t[0].path)):
        if _blank(v):
            on = isinstance(_get(item, r.path), dict)
        else:
            try:
                on = convert(v, r)
            except ValueError as exc:
                problems.add(where, str(exc))
                continue
        if on:
            if not isinstance(_get(item, r.path), dict):
                _set(item, r.path, {})
        else:
            _del(item, r.path)  # a switched-off table: its figures are kept in the sheet but not read


def _read_item(block: Block, sd: _SheetData, at: dict[str, int], c: int, problems: _Problems):
    """The item in column ``c`` of a block: (item, its cells, the project cell)."""
    item, item_cells, switches, slots, ref_cell = _read_cells(block, sd, at, c, problems)
    _fill_slots(item, slots, problems)
    # table-list slots (a bond's schedule): the list of dicts may have holes where a slot group was blank
    _compact_lists(item)
    _apply_switches(item, switches, problems)
    return item, item_cells, ref_cell


def _add_owned(block: Block, owned: list, entry: tuple) -> None:
    """File an item that belongs to a project (a loan, bond, grant) under its block, for :func:`_assign_owned`."""
    owned_items = next((x for b, x in owned if b is block), None)
    if owned_items is None:
        owned_items = []
        owned.append((block, owned_items))
    owned_items.append(entry)


def _store_array(block: Block, sd: _SheetData, head_i: int, items: list, data: dict, cells: dict) -> None:
    """Put the items of an array of tables into ``data``, and their cells into ``cells``."""
    prefix = block.table if "." not in block.table else None
    lst = []
    for k, (item, item_cells, head) in enumerate(items):
        lst.append(item)
        if prefix is not None:
            cells[f"{prefix}[{k}]"] = head
            _add_cells(cells, f"{prefix}[{k}]", item_cells)
    if "." in block.table:  # a top-level table's list (market.stresses)
        owner, name = block.table.split(".", 1)
        data.setdefault(owner, {})[name] = lst
        for k, (item, item_cells, head) in enumerate(items):
            cells[f"{block.table}[{k}]"] = head
            _add_cells(cells, f"{block.table}[{k}]", item_cells)
    elif lst or block.table not in data:
        data[block.table] = lst
    if not items:
        cells[block.table] = (sd.name, cell_ref(head_i, 2), block.header)


def _read_block(block: Block, sd: _SheetData, head_i: int, row_is: list[int], data: dict, cells: dict,
                owned: list, problems: _Problems) -> None:
    """Read one block of a sheet into ``data`` (or ``owned``, for items that belong to a project)."""
    at = _row_positions(block, sd, head_i, row_is, problems)
    if len(at) != len({r.key for r in block.rows}):
        return
    cols = list(_item_columns(sd)) if block.array else [2]
    if not block.array:
        _check_one_column(block, sd, row_is, problems)
    items = []
    for c in cols:
        if block.array and all(_blank(_cell_value(sd, at[k], c)) for k in at):
            continue  # an unused column
        item, item_cells, ref_cell = _read_item(block, sd, at, c, problems)
        head = (sd.name, cell_ref(head_i, c), block.header)
        if block.owner is not None:
            _add_owned(block, owned, (ref_cell, item, head, item_cells))
            continue
        items.append((item, item_cells, head))
    if block.owner is not None:
        return
    if block.array:
        _store_array(block, sd, head_i, items, data, cells)
    else:
        item, item_cells, head = items[0]
        data.setdefault(block.table, {}).update(item)
        cells[block.table] = head
        _add_cells(cells, f"{block.table}", item_cells)


def _compact_lists(node: Any) -> None:
    """Drop the blank slot groups ({} or None) of lists of tables."""
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, list) and any(isinstance(x, dict) for x in v):
                node[k] = [x for x in v if x]
            _compact_lists(node[k])
    elif isinstance(node, list):
        for x in node:
            _compact_lists(x)


def _read_grid(ws, grid: Grid, data: dict, cells: dict, problems: _Problems) -> None:
    n = len(grid.labels)
    rows = [tuple(r) for r in ws.iter_rows(min_row=FIRST_ROW + 1, max_row=FIRST_ROW + n, values_only=True)]
    values: list[list[Any]] = []
    blanks, filled = [], False
    for i in range(n):
        r = rows[i] if i < len(rows) else ()
        line = []
        for j in range(n):
            v = r[j + 1] if j + 1 < len(r) else None
            ref = cell_ref(FIRST_ROW + i, j + 1)
            if _blank(v):
                blanks.append(ref)
                line.append(None)
                continue
            filled = True
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                problems.add(f"{ws.title}!{ref} {grid.name}[{i}][{j}]", f"must be a number, got {_show(v)}")
            line.append(v)
            cells[f"{grid.table}[{i}][{j}]"] = (ws.title, ref, f"{grid.name}[{i}][{j}]")
        values.append(line)
    extra = [(i, j) for i, r in enumerate(ws.iter_rows(values_only=True)) for j, v in enumerate(r)
             if not _blank(v) and i >= FIRST_ROW and j >= 1 and (i >= FIRST_ROW + n or j > n)]
    for i, j in extra[:3]:
        problems.add(f"{ws.title}!{cell_ref(i, j)}", f"outside the {n}×{n} grid (B{FIRST_ROW + 1}:"
                                                     f"{cell_ref(FIRST_ROW + n - 1, n)}); clear it")
    cells[grid.table] = (ws.title, f"B{FIRST_ROW + 1}", grid.name)
    if not filled:
        return
    if blanks:
        problems.add(f"{ws.title}!{blanks[0]} {grid.name}", f"the grid is partly blank ({len(blanks)} empty cells); "
                                                            "fill every cell, or clear the whole grid")
        return
    data.setdefault(grid.owner, {})[grid.name] = values


def workbook_notes(path: str | Path, cells: dict[str, tuple]) -> dict[str, str]:
    """The cell comments of a workbook (the source notes of its figures) by location, for the TOML export."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    out: dict[str, str] = {}
    for loc, (sheet, ref, _) in cells.items():
        if sheet in wb.sheetnames:
            c = wb[sheet][ref].comment
            if c is not None and c.text and c.text.strip():
                out[loc] = " ".join(c.text.split())
    return out


# ----------------------------------------------------------------------------------------------- errors → cells
_WHERE = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.*)$", re.S)
_SPLIT = re.compile(r"; (?=[A-Za-z_][\w]*(?:\[\d+\])?(?:\.[\w]+(?:\[\d+\])*)*: )")


def _cell_for(where: str, cells: dict[str, tuple]) -> tuple | None:
    w = where
    while w:
        if w in cells:
            return cells[w]
        cut = max(w.rfind("."), w.rfind("["))
        w = w[:cut] if cut > 0 else ""
    return None


def locate(problems: list[str], cells: dict[str, tuple], source: str) -> list[str]:
    """Validation problems (``source: field.path: message``) with every field path replaced by the sheet and cell
    it was read from: ``source: 项目!C7 area_m2: must be > 0, got -70``."""
    out = []
    for problem in problems:
        text = problem.removeprefix(f"{source}: ")
        m = _WHERE.match(text)
        pieces = []
        if m:
            where, rest = m.group(1), m.group(2)
            parts = _SPLIT.split(rest)
            pieces.append((where, parts[0]))
            for extra in parts[1:]:
                mm = _WHERE.match(extra)
                pieces.append((mm.group(1), mm.group(2)) if mm else (where, extra))
        else:
            pieces.append(("", text))
        for where, msg in pieces:
            hit = _cell_for(where, cells) if where else None
            if hit is None:
                out.append(f"{source}: {where + ': ' if where else ''}{msg}")
                continue
            sheet, ref, key = hit
            exact = cells.get(where) == hit
            shown = key if exact else f"{key} ({where})"
            out.append(f"{source}: {sheet}!{ref} {shown}: {msg}")
    return out


# ----------------------------------------------------------------------------------------------- source notes
_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\- ]+?)\s*\]\]?\s*(?:#.*)?$")
_KEYLINE = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*=")


def _comment(line: str) -> str | None:
    quote = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[i + 1:].strip() or None
        i += 1
    return None


def toml_notes(text: str) -> dict[str, str]:
    """The comment at the end of each ``key = value`` line of a scenario TOML file, by location
    (``"projects[1].rental.rent_ratio"`` → ``"seeds/003 §五: 80 % of market"``): the source notes of the figures."""
    notes: dict[str, str] = {}
    index: dict[str, int] = {}
    current = ""
    for line in text.splitlines():
        h = _HEADER.match(line)
        if h:
            path = h.group(2).replace(" ", "")
            if h.group(1) == "[[":
                index[path] = index.get(path, -1) + 1
                for k in list(index):
                    if k.startswith(path + "."):
                        del index[k]
            parts = path.split(".")
            loc = ""
            for n in range(1, len(parts) + 1):
                pre = ".".join(parts[:n])
                loc += ("." if loc else "") + parts[n - 1]
                if pre in index:
                    loc += f"[{index[pre]}]"
            current = loc
            continue
        k = _KEYLINE.match(line)
        if k:
            c = _comment(line)
            if c:
                notes[f"{current}.{k.group(1)}" if current else k.group(1)] = c
    return notes
