"""Readers for the market history a calibration starts from (I/O lives here and in the CLI only).

Two forms are read:

* a **tidy CSV**: columns ``date`` (``YYYY-MM``; ``YYYY`` for a yearly figure), ``city`` (optional), ``series``,
  ``value``. Series are named as the drivers are — ``house_price``, ``rent``, ``cpi``, ``absorption``, ``fiscal``
  (levels, > 0), ``lpr`` (a decimal rate, 0.035 not 3.5), ``occupancy`` (a share in [0, 1]) — or, for the NBS
  chain indices, ``<driver>_mom`` (环比, 上月=100) and ``<driver>_yoy`` (同比, 上年同月=100), converted to levels
  by :func:`chain_to_levels`. Lines starting with ``#`` are comments.
* an **NBS 70-city table** (国家统计局 70 个大中城市住宅销售价格指数) in wide form: ``date``, ``city`` and one or
  both of the chain columns ``mom`` / ``yoy`` (headers ``环比``, ``同比``, ``上月=100``, ``上年同月=100`` are
  accepted), read by :func:`read_nbs_chain`.

Every problem is a :class:`CalibrationError` (a :class:`~baozhang_finance.model.scenario.ScenarioError`) whose
one-line message names the file, the line or series and the problem. Nothing is coerced silently: a value that
is not a number, a duplicated month, a rate given in per cent, an index ≤ 0 all stop the read. Gaps (missing
months) are kept as gaps and reported in :attr:`MarketData.notes`.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from typing import TYPE_CHECKING as _TC  # noqa: E402
if _TC:  # pandas is imported where used (start-up time)
    import pandas as pd

from baozhang_finance.model.scenario import DRIVERS, ScenarioError

#: series whose value is a level index (log changes are modelled)
LEVEL_SERIES = ("house_price", "rent", "cpi", "absorption", "fiscal")
#: series whose value is a rate or share (levels are modelled)
RATE_SERIES = ("lpr", "occupancy")
#: drivers with an NBS-style chain-index form
CHAIN_SERIES = ("house_price", "rent", "cpi")
KNOWN_SERIES = tuple(DRIVERS)

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_YEAR = re.compile(r"^(\d{4})$")
_NBS_HEADERS = {"mom": "mom", "环比": "mom", "上月=100": "mom", "yoy": "yoy", "同比": "yoy", "上年同月=100": "yoy"}


class CalibrationError(ScenarioError):
    """Market data that cannot be used; the message names the file, the line or series and the problem."""


@dataclass
class MarketData:
    """Validated series of one city.

    ``monthly[name]`` is a float Series on a monthly :class:`pandas.PeriodIndex` (gaps absent, not NaN);
    ``yearly[name]`` the same on an annual PeriodIndex (fiscal revenue is often only yearly).
    """

    source: str
    city: str | None
    monthly: dict[str, pd.Series] = field(default_factory=dict)
    yearly: dict[str, pd.Series] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def window(self) -> tuple[str, str]:
        """First and last month covered by any series, ``YYYY-MM``."""
        import pandas as pd
        starts, ends = [], []
        for s in self.monthly.values():
            starts.append(s.index.min())
            ends.append(s.index.max())
        for s in self.yearly.values():
            starts.append(pd.Period(f"{s.index.min().year}-01", "M"))
            ends.append(pd.Period(f"{s.index.max().year}-12", "M"))
        return str(min(starts)), str(max(ends))

    def names(self) -> list[str]:
        return [n for n in KNOWN_SERIES if n in self.monthly or n in self.yearly]


def _month(text: str, where: str) -> pd.Period:
    import pandas as pd
    m = _MONTH.match(text)
    if not m:
        raise CalibrationError(f"{where}: date {text!r} is not YYYY-MM")
    return pd.Period(text, "M")


def _number(text: str, where: str) -> float:
    try:
        x = float(text)
    except (TypeError, ValueError):
        raise CalibrationError(f"{where}: value {text!r} is not a number") from None
    if not math.isfinite(x):
        raise CalibrationError(f"{where}: value {text!r} is not finite")
    return x


def _rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, cells) of a CSV, skipping blank and ``#`` comment lines."""
    if not path.exists():
        raise CalibrationError(f"{path}: file not found", source=str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CalibrationError(f"{path}: not UTF-8 text: {exc}", source=str(path)) from None
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in next(csv.reader([line]))]
        if header is None:
            header = [c.lower() if c.isascii() else c for c in cells]
            continue
        rows.append((lineno, cells))
    if header is None:
        raise CalibrationError(f"{path}: no header line (expected date, city, series, value)", source=str(path))
    return header, rows


def chain_to_levels(dates: list[pd.Period], mom: list[float | None], yoy: list[float | None],
                    where: str = "series") -> tuple[pd.Series, list[str]]:
    """Levels (base 100) from NBS chain indices: 环比 ``mom`` (上月=100) and 同比 ``yoy`` (上年同月=100).

    Notes
    -----
    With month-on-month values, the month before the first one is the base, ``L₋₁ = 100``, and
    ``L_t = L_{t−1} · mom_t / 100``. A month whose ``mom`` is missing is filled from the year-on-year value,
    ``L_t = L_{t−12} · yoy_t / 100``, when the level twelve months earlier is known; otherwise it stays a gap
    and the chain restarts after it (``L_t = L_{t−1}`` is never assumed). With year-on-year values only, the
    first twelve months are unknown: they are set on an even path ``L_k = 100 · (yoy_{12}/100)^{k/12}``
    (stated in the returned notes), and later months follow ``L_t = L_{t−12} · yoy_t / 100``.

    Returns the level series on a monthly PeriodIndex and the notes (fallbacks used).
    """
    import pandas as pd
    notes: list[str] = []
    if len(set(dates)) != len(dates):
        raise CalibrationError(f"{where}: duplicated dates in the chain index")
    order = np.argsort([d.ordinal for d in dates])
    dates = [dates[i] for i in order]
    mom = [mom[i] for i in order]
    yoy = [yoy[i] for i in order]
    by_m = dict(zip(dates, mom))
    by_y = dict(zip(dates, yoy))
    for d, v in [*by_m.items(), *by_y.items()]:
        if v is not None and not 50.0 < v < 150.0:
            raise CalibrationError(f"{where}: chain value {v} at {d} is outside (50, 150): expected previous period = 100")
    has_mom = any(v is not None for v in mom)
    levels: dict[pd.Period, float] = {}
    first, last = dates[0], dates[-1]
    if has_mom:
        start = next(d for d in dates if by_m.get(d) is not None)
        levels[start - 1] = 100.0
        t = start
        filled = 0
        while t <= last:
            m, y = by_m.get(t), by_y.get(t)
            if m is not None and (t - 1) in levels:
                levels[t] = levels[t - 1] * m / 100.0
            elif y is not None and (t - 12) in levels:
                levels[t] = levels[t - 12] * y / 100.0
                filled += 1
            elif m is not None:
                raise CalibrationError(f"{where}: the 环比 chain has a gap before {t} that 同比 cannot fill; "
                                       "give the missing months or split the series")
            t += 1
        if filled:
            notes.append(f"{where}: {filled} month(s) without 环比 filled from 同比 (L_t = L_t-12 · yoy/100)")
        s = pd.Series(levels).sort_index()
    else:
        g = by_y.get(first + 12)
        if g is None:
            raise CalibrationError(f"{where}: 同比 only, and no value twelve months after the first ({first + 12})")
        for k in range(12):
            levels[first + k] = 100.0 * (g / 100.0) ** (k / 12.0)
        t = first + 12
        while t <= last:
            y = by_y.get(t)
            if y is not None and (t - 12) in levels:
                levels[t] = levels[t - 12] * y / 100.0
            t += 1
        notes.append(f"{where}: 同比 only: the first 12 months are set on an even path at the first year's rate "
                     f"(assumption); their month-on-month changes are not data")
        s = pd.Series(levels).sort_index()
    s.index = pd.PeriodIndex(s.index, freq="M")
    return s.astype(float), notes


def read_tidy_csv(path: str | Path, city: str | None = None, start: str | None = None) -> MarketData:
    """Read a tidy CSV (``date, city, series, value``) into :class:`MarketData` (see the module docstring)."""
    p = Path(path)
    header, rows = _rows(p)
    need = {"date", "series", "value"}
    if not need <= set(header):
        raise CalibrationError(f"{p}: header must name date, series, value (and optionally city), got {header}",
                               source=str(p))
    ix = {h: header.index(h) for h in header}
    start_p = _month(start, f"{p}: --from") if start else None
    if city is None and "city" in ix:
        present = sorted({cells[ix["city"]] for _, cells in rows if len(cells) == len(header)})
        if len(present) > 1:
            raise CalibrationError(f"{p}: {len(present)} cities ({', '.join(present)}): choose one with --city",
                                   source=str(p))
    raw, yearly_raw, cities = _collect_rows(p, header, rows, city, start_p)
    if city is None and len(cities) > 1:
        raise CalibrationError(f"{p}: {len(cities)} cities ({', '.join(sorted(cities))}): choose one with --city",
                               source=str(p))
    if city is not None and city not in cities:
        raise CalibrationError(f"{p}: no rows for city {city!r} (have {', '.join(sorted(cities))})", source=str(p))
    data = MarketData(source=str(p), city=city if city is not None else (next(iter(cities)) or None))
    _chains_to_levels(p, raw, data)
    _add_series(p, raw, yearly_raw, data)
    if not data.monthly and not data.yearly:
        raise CalibrationError(f"{p}: no data rows" + (f" for city {city!r}" if city else "")
                               + (f" from {start}" if start else ""), source=str(p))
    return data


def _collect_rows(p: Path, header: list, rows: list, city: str | None, start_p) -> tuple[dict, dict, dict]:
    """The rows of the chosen city from ``start_p`` on, checked one by one: ``raw`` {series: {month: (value,
    line)}}, ``yearly_raw`` {series: {year: (value, line)}} (fiscal only) and the rows per city."""
    ix = {h: header.index(h) for h in header}
    cities: dict[str, int] = {}
    raw: dict[str, dict] = {}
    yearly_raw: dict[str, dict[int, tuple[float, int]]] = {}
    chain_ok = {f"{s}_{k}" for s in CHAIN_SERIES for k in ("mom", "yoy")}
    for lineno, cells in rows:
        where = f"{p}:{lineno}"
        if len(cells) != len(header):
            raise CalibrationError(f"{where}: {len(cells)} fields, the header has {len(header)}", source=str(p))
        c = cells[ix["city"]] if "city" in ix else ""
        cities[c] = cities.get(c, 0) + 1
        if city is not None and c != city:
            continue
        name = cells[ix["series"]]
        if name not in KNOWN_SERIES and name not in chain_ok:
            raise CalibrationError(f"{where}: unknown series {name!r} (known: {', '.join(KNOWN_SERIES)}, "
                                   f"or {{house_price,rent,cpi}}_{{mom,yoy}})", source=str(p))
        value = _number(cells[ix["value"]], f"{where}: {name}")
        d = cells[ix["date"]]
        if _YEAR.match(d):
            if name != "fiscal":
                raise CalibrationError(f"{where}: {name}: yearly date {d!r}; only fiscal may be yearly (use YYYY-MM)",
                                       source=str(p))
            year = int(d)
            if start_p is not None and year < start_p.year:
                continue
            seen = yearly_raw.setdefault(name, {})
            if year in seen:
                raise CalibrationError(f"{where}: {name}: duplicated year {year} (also on line {seen[year][1]})",
                                       source=str(p))
            seen[year] = (value, lineno)
            continue
        month = _month(d, where)
        if start_p is not None and month < start_p:
            continue
        seen_m = raw.setdefault(name, {})
        if month in seen_m:
            raise CalibrationError(f"{where}: {name}: duplicated date {d} (also on line {seen_m[month][1]})",
                                   source=str(p))
        seen_m[month] = (value, lineno)
    return raw, yearly_raw, cities


def _chains_to_levels(p: Path, raw: dict, data: MarketData) -> None:
    """Chain indices (环比 ``_mom``, 同比 ``_yoy``) of a series → its levels in ``raw`` (notes into ``data``)."""
    for base in CHAIN_SERIES:
        mom, yoy = raw.pop(f"{base}_mom", {}), raw.pop(f"{base}_yoy", {})
        if not mom and not yoy:
            continue
        if base in raw:
            raise CalibrationError(f"{p}: {base} is given both as levels and as a chain index; give one",
                                   source=str(p))
        dates = sorted(set(mom) | set(yoy))
        lv, notes = chain_to_levels(dates, [mom[d][0] if d in mom else None for d in dates],
                                    [yoy[d][0] if d in yoy else None for d in dates], where=f"{p}: {base}")
        raw[base] = {d: (v, 0) for d, v in lv.items()}
        data.notes += notes


def _add_series(p: Path, raw: dict, yearly_raw: dict, data: MarketData) -> None:
    """The monthly and yearly series of ``data``, their values checked, gaps noted."""
    import pandas as pd
    for name, seen_m in raw.items():
        s = pd.Series({d: v for d, (v, _) in seen_m.items()}).sort_index()
        s.index = pd.PeriodIndex(s.index, freq="M")
        _check_values(p, name, s, {d: ln for d, (_, ln) in seen_m.items()})
        data.monthly[name] = s
        span = s.index.max().ordinal - s.index.min().ordinal + 1
        if span > len(s):
            data.notes.append(f"{name}: {span - len(s)} missing month(s) in {s.index.min()}–{s.index.max()} "
                              "(changes across a gap are not used)")
    for name, seen_y in yearly_raw.items():
        if name in data.monthly:
            raise CalibrationError(f"{p}: {name} is given both monthly and yearly; give one", source=str(p))
        s = pd.Series({pd.Period(str(y), "Y"): v for y, (v, _) in seen_y.items()}).sort_index()
        s.index = pd.PeriodIndex(s.index, freq="Y")
        _check_values(p, name, s, {pd.Period(str(y), "Y"): ln for y, (_, ln) in seen_y.items()})
        data.yearly[name] = s


def _check_values(p: Path, name: str, s: pd.Series, lines: dict) -> None:
    def at(d) -> str:
        ln = lines.get(d, 0)
        return f"{p}:{ln}" if ln else f"{p}: {name} at {d}"

    if name in LEVEL_SERIES:
        bad = s[s <= 0]
        if len(bad):
            raise CalibrationError(f"{at(bad.index[0])}: {name}: value {bad.iloc[0]} must be > 0 (a level index)",
                                   source=str(p))
    elif name == "lpr":
        bad = s[(s < 0) | (s >= 0.3)]
        if len(bad):
            raise CalibrationError(f"{at(bad.index[0])}: lpr: value {bad.iloc[0]} is not a decimal rate in [0, 0.3) "
                                   "(rates are decimals: 0.035, not 3.5)", source=str(p))
    elif name == "occupancy":
        bad = s[(s < 0) | (s > 1)]
        if len(bad):
            raise CalibrationError(f"{at(bad.index[0])}: occupancy: value {bad.iloc[0]} is not a share in [0, 1]",
                                   source=str(p))


def read_nbs_chain(path: str | Path, series: str = "house_price", city: str | None = None,
                   start: str | None = None) -> MarketData:
    """Read an NBS 70-city style table (``date, city, 环比/mom, 同比/yoy``) of one series into levels."""
    p = Path(path)
    if series not in CHAIN_SERIES:
        raise CalibrationError(f"{p}: series {series!r} has no chain-index form (one of {', '.join(CHAIN_SERIES)})")
    header, rows = _rows(p)
    cols = {_NBS_HEADERS[h]: i for i, h in enumerate(header) if h in _NBS_HEADERS}
    if "date" not in header or not cols:
        raise CalibrationError(f"{p}: header must name date and 环比/mom and/or 同比/yoy, got {header}", source=str(p))
    idate = header.index("date")
    icity = header.index("city") if "city" in header else None
    start_p = _month(start, f"{p}: --from") if start else None
    dates, mom, yoy, cities, lines = [], [], [], set(), {}
    for lineno, cells in rows:
        where = f"{p}:{lineno}"
        c = cells[icity] if icity is not None else ""
        cities.add(c)
        if city is not None and c != city:
            continue
        d = _month(cells[idate], where)
        if start_p is not None and d < start_p:
            continue
        if d in lines:
            raise CalibrationError(f"{where}: duplicated date {d} (also on line {lines[d]})", source=str(p))
        lines[d] = lineno
        vals = {}
        for k, i in cols.items():
            cell = cells[i] if i < len(cells) else ""
            vals[k] = None if cell == "" else _number(cell, f"{where}: {k}")
        dates.append(d)
        mom.append(vals.get("mom"))
        yoy.append(vals.get("yoy"))
    if city is None and len(cities) > 1:
        raise CalibrationError(f"{p}: {len(cities)} cities: choose one with --city", source=str(p))
    if not dates:
        raise CalibrationError(f"{p}: no data rows" + (f" for city {city!r}" if city else ""), source=str(p))
    lv, notes = chain_to_levels(dates, mom, yoy, where=f"{p}: {series}")
    data = MarketData(source=str(p), city=city or (next(iter(cities)) or None), monthly={series: lv}, notes=notes)
    return data


def read_market_data(path: str | Path, city: str | None = None, start: str | None = None) -> MarketData:
    """Read a tidy CSV, or an NBS chain table when the header has 环比/同比 columns instead of ``series``."""
    header, _ = _rows(Path(path))
    if "series" not in header and any(h in _NBS_HEADERS for h in header):
        return read_nbs_chain(path, city=city, start=start)
    return read_tidy_csv(path, city=city, start=start)
