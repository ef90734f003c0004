"""The number formatters of every report, table and terminal output, driven by the output catalogue.

One style everywhere:

* money in 万元 (yuan ÷ 10,000) with thousands separators: ``1,234 万元``;
* shares (probabilities, rates, IRR, LTV) in per cent: ``12.3 %``;
* ratios (DSCR, LLCR, coverage) as ``1.23`` (∞ when there is no debt service to cover);
* counts with thousands separators, durations in years with one decimal, programme years as whole numbers;
* ``value ± SE`` always means **one** standard error (write the label with "± SE"); a 95 % interval is written
  ``[lo, hi] 95 %`` (:func:`ci95`);
* a missing value (None, NaN) is ``—``;
* rounding is half up (14,662.5 万元 → ``14,663``; Python's ``round`` and format specs round half to even), and a
  nonzero probability or amount never prints as zero: a value that would round to ``0.0 %`` / ``0 万元`` at the
  key's digits gets two significant digits (0.0004 → ``0.04 %``), and ``value ± SE`` takes the digits its SE needs
  (two significant digits of the SE when it leads with 1 or 2, else one: ``1.48 ± 0.20 万元``).

:func:`fmt` formats a number by its catalogue key (:mod:`baozhang_finance.measures.catalogue`), :func:`label`
gives its label; the unit-level helpers (:func:`wan`, :func:`pct`, :func:`ratio`, :func:`number`) are for numbers
the catalogue does not name (scenario inputs).

Language: every label and every word around the numbers comes from the catalogue in English, Chinese or both
(``lang`` = ``"en"``, ``"zh"`` or ``"both"``); :func:`lang_of` resolves the setting (the ``--lang`` option, else the
environment variable ``BAOZHANG_LANG``, else ``"both"``, docs/decisions.md), :func:`label` gives a key's label and
:func:`text` a ``text.<name>`` entry with its placeholders filled.
"""

from __future__ import annotations

import math
import os
from decimal import ROUND_HALF_UP, Context, Decimal
from collections.abc import Mapping, Sequence
from typing import Any

from baozhang_finance.measures.catalogue import DIGITS, Entry, entry, stat_label
from baozhang_finance.measures.catalogue import has as entry_exists

#: the languages of the outputs; "both" is English then Chinese (the default: one file for a bilingual audience)
LANGS = ("zh", "en", "both")
DEFAULT_LANG = "both"
LANG_ENV = "BAOZHANG_LANG"

WAN = 1e4  # yuan per 万元
DASH = "—"
Z95 = 1.959963984540054

#: Excel number format per unit (report.xlsx keeps money in yuan in the Summary sheet)
XLSX_FORMATS = {"yuan": "#,##0", "yuan_per_m2": "#,##0", "share": "0.00%", "ratio": "0.000", "index": "0.000",
                "years": "0.0", "year": "0", "months": "0", "count": "#,##0"}
#: the unit column of report.xlsx
UNIT_TEXT = {"yuan": "yuan 元", "yuan_per_m2": "元/m²", "share": "share", "ratio": "×", "index": "index",
             "years": "years", "year": "year no.", "months": "months", "count": "count", "flag": "yes/no",
             "text": ""}


def _real(x: Any) -> float | None:
    """``x`` as a float, or None when it is missing or not a number."""
    if x is None or isinstance(x, (str, bytes)):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


# ------------------------------------------------------------------------------------------ rounding
def fixed(v: float, digits: int, sep: bool = False) -> str:
    """``v`` with ``digits`` decimals, rounded half up (of the float's exact value), thousands separators if
    ``sep``: ``fixed(2932.5, 0, True)`` → ``2,933``."""
    if not math.isfinite(v):
        return f"{v}"
    ctx = Context(prec=max(28, len(str(int(abs(v)))) + max(digits, 0) + 2))  # room for any float's digits
    q = Decimal(v).quantize(Decimal(1).scaleb(-max(digits, 0)), rounding=ROUND_HALF_UP, context=ctx)
    return f"{q:,.{max(digits, 0)}f}" if sep else f"{q:.{max(digits, 0)}f}"


def small_digits(v: float, digits: int) -> int:
    """The decimals ``v`` is shown with: ``digits``, or two significant digits when ``v`` is nonzero and would
    round to zero at ``digits`` (0.04 at 1 decimal → 3)."""
    if v == 0 or not math.isfinite(v) or Decimal(fixed(v, digits)) != 0:
        return digits
    return max(digits, 1 - math.floor(math.log10(abs(v))))


def nonzero(v: float, digits: int, sep: bool = False) -> str:
    """:func:`fixed`, except that a nonzero value never prints as zero: it gets two significant digits, trailing
    zeros dropped (0.0004 × 100 → ``0.04``)."""
    d = small_digits(v, digits)
    out = fixed(v, d, sep)
    return out.rstrip("0").rstrip(".") if d > digits and "." in out else out


def se_digits(se: float, digits: int) -> int:
    """Decimals for ``value ± SE``: ``digits`` unless the SE would print as zero; then the SE's first significant
    digit, or its second when the first is 1 or 2 (0.20 → 2, 0.02 → 3, 0.04 → 2)."""
    if se == 0 or not math.isfinite(se) or Decimal(fixed(se, digits)) != 0:
        return digits
    first = -math.floor(math.log10(abs(se)))
    lead = int(f"{abs(se):e}"[0])
    return max(digits, first + (1 if lead <= 2 else 0))


# ------------------------------------------------------------------------------------------ unit level
def wan(x: Any, digits: int = 0, unit: bool = True) -> str:
    """Yuan in 万元: ``1,234 万元`` (``unit=False``: ``1,234``); a nonzero amount never prints as 0."""
    v = _real(x)
    if v is None:
        return DASH
    s = nonzero(v / WAN, digits, sep=True)
    return s + " 万元" if unit else s


def pct(x: Any, digits: int = 1) -> str:
    """A share in per cent: ``12.3 %``; a nonzero share never prints as 0 (0.0004 → ``0.04 %``)."""
    v = _real(x)
    return DASH if v is None else f"{nonzero(100 * v, digits)} %"


def ratio(x: Any, digits: int = 2) -> str:
    v = _real(x)
    if v is None:
        return DASH
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return fixed(v, digits)


def count(x: Any) -> str:
    v = _real(x)
    return DASH if v is None else fixed(v, 0, True)


def number(x: Any) -> str:
    """A number the catalogue does not name (a scenario input): 4 significant digits, thousands separators from
    100,000 up, no exponent for ordinary sizes."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    v = _real(x)
    if v is None:
        return DASH if x is None or not isinstance(x, str) else x
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if isinstance(x, int) or (v == int(v) and abs(v) >= 1e4):
        return f"{v:,.0f}"
    if v != 0 and abs(v) < 1e-3:
        return f"{v:.3g}"
    return f"{v:,.0f}" if abs(v) >= 1e5 else f"{v:.4g}"


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def lang_of(lang: str | None = None) -> str:
    """The output language: ``lang`` when given, else ``$BAOZHANG_LANG``, else ``"both"`` (``ValueError`` for
    anything but zh, en or both)."""
    if lang is None or lang == "":
        lang = os.environ.get(LANG_ENV, "").strip().lower() or DEFAULT_LANG
    return check_lang(lang)


def pick(en: str, zh: str, lang: str) -> str:
    """``en``, ``zh`` or both (English then Chinese; one of them when they are the same)."""
    if lang == "en":
        return en
    if lang == "zh":
        return zh
    check_lang(lang)
    return en if en == zh else f"{en} {zh}"


def text(name: str, lang: str = DEFAULT_LANG, /, **fields: Any) -> str:
    """The catalogue's ``text.<name>`` in ``lang``, its ``{placeholders}`` filled from ``fields``."""
    e = entry(f"text.{name}")
    return pick(e.en.format(**fields), e.zh.format(**fields), lang)


def grade(name: Any, lang: str = DEFAULT_LANG) -> str:
    """A slotting grade (Strong … Default) in ``lang``: 优 / 良 / 中 / 差 / 违约 in Chinese, the name otherwise."""
    if name is None:
        return DASH
    key = f"text.grade.{name}"
    return text(f"grade.{name}", "zh") if lang == "zh" and entry_exists(key) else str(name)


def stats_text(stats: Sequence[str], lang: str = DEFAULT_LANG) -> str:
    """``p05 / p50`` in English, ``5%分位 / 中位数`` in Chinese."""
    if lang == "zh":
        return " / ".join(stat_label(st, "zh") for st in stats)
    return " / ".join(stats)


def by_unit(unit: str, x: Any, digits: int | None = None, suffix: bool = True, lang: str = "en") -> str:
    """Format ``x`` as a number of ``unit`` (a catalogue unit)."""
    d = DIGITS.get(unit, 0) if digits is None else digits
    if unit == "yuan":
        return wan(x, d, suffix)
    if unit == "yuan_per_m2":
        v = _real(x)
        return DASH if v is None else fixed(v, d, True) + (" 元/m²" if suffix else "")
    if unit == "share":
        return pct(x, d)
    if unit in ("ratio", "index"):
        return ratio(x, d)
    if unit == "years":
        v = _real(x)
        return DASH if v is None else fixed(v, d) + ((" 年" if lang == "zh" else " y") if suffix else "")
    if unit in ("year", "months", "count"):
        v = _real(x)
        return DASH if v is None else fixed(v, d, True)
    if unit == "flag":
        return DASH if x is None else text("word.yes" if x else "word.no", lang if lang != "both" else "en")
    return DASH if x is None else (number(x) if _real(x) is not None else str(x))


# ------------------------------------------------------------------------------------------ catalogue level
def fmt(key: str, value: Any, digits: int | None = None, suffix: bool = True, lang: str = "en") -> str:
    """``value`` formatted as the catalogue's ``key`` says (``suffix=False``: no "万元" / "y", for a table whose
    header gives the unit; ``lang="zh"``: years as "年", flags as 是 / 否)."""
    e = entry(key)
    return by_unit(e.unit, value, e.places if digits is None else digits, suffix, lang)


def pm(key: str, value: Any, se: Any, digits: int | None = None) -> str:
    """``value ± SE`` (one standard error) in the key's unit; the value alone when the SE is 0 or missing."""
    s = _real(se)
    if s is None or s == 0 or math.isinf(s):
        return fmt(key, value, digits)
    e = entry(key)
    d = e.places if digits is None else digits
    v = _real(value)
    if v is None:
        return DASH
    if e.unit == "yuan":  # the SE sets the digits when it would print as 0: "1.48 ± 0.20 万元"; so does the value
        dd = max(se_digits(s / WAN, d), small_digits(v / WAN, d))
        return f"{fixed(v / WAN, dd, True)} ± {fixed(s / WAN, dd, True)} 万元"
    if e.unit == "share":  # the unit once: "12.3 ± 0.5 %", "0.040 ± 0.020 %"
        dd = max(se_digits(100 * s, max(d, 1)), small_digits(100 * v, max(d, 1)))
        return f"{fixed(100 * v, dd)} ± {fixed(100 * s, dd)} %"
    dd = se_digits(s, d)
    return f"{fmt(key, value, dd, False)} ± {fmt(key, se, dd)}"


def span(key: str, lo: Any, hi: Any, digits: int | None = None) -> str:
    """Two values of one quantity (a low … high pair) with the unit once: ``201 … 236 万元``, ``72.0 … 76.0 %``."""
    e = entry(key)
    d = e.places if digits is None else digits
    if e.unit == "yuan":
        return f"{wan(lo, d, False)} … {wan(hi, d)}"
    if e.unit == "share" and _real(lo) is not None and _real(hi) is not None:
        dd = _common_digits(100 * _real(lo), 100 * _real(hi), d)
        return f"{fixed(100 * _real(lo), dd)} … {fixed(100 * _real(hi), dd)} %"
    return f"{fmt(key, lo, d)} … {fmt(key, hi, d)}"


def _common_digits(a: float, b: float, digits: int) -> int:
    """One number of decimals for two ends of a range, enough that neither nonzero end prints as 0."""
    return max(small_digits(a, digits), small_digits(b, digits))


def ci95(key: str, lo: Any, hi: Any, digits: int | None = None) -> str:
    """A 95 % interval: ``[1.2 %, 3.4 %] 95 %``; both ends with the same decimals, enough for a small nonzero
    end (``[0.011 %, 0.102 %] 95 %``)."""
    e = entry(key)
    d = e.places if digits is None else digits
    a, b = _real(lo), _real(hi)
    if e.unit in ("share", "yuan") and a is not None and b is not None:
        k = 100 if e.unit == "share" else 1 / WAN
        d = _common_digits(k * a, k * b, d)
        if e.unit == "share":
            return f"[{fixed(100 * a, d)} %, {fixed(100 * b, d)} %] 95 %"
    return f"[{fmt(key, lo, d)}, {fmt(key, hi, d)}] 95 %"


def ci95_from_se(key: str, value: Any, se: Any, digits: int | None = None, lo_bound: float | None = None,
                 hi_bound: float | None = None) -> str:
    """The normal 95 % interval ``value ± 1.96 SE`` written as ``[lo, hi] 95 %`` (clipped to the bounds)."""
    v, s = _real(value), _real(se)
    if v is None or s is None:
        return DASH
    lo, hi = v - Z95 * s, v + Z95 * s
    if lo_bound is not None:
        lo = max(lo, lo_bound)
    if hi_bound is not None:
        hi = min(hi, hi_bound)
    return ci95(key, lo, hi, digits)


def several(key: str, values: Mapping[str, Any] | Sequence[Any], stats: Sequence[str] | None = None,
            digits: int | None = None, lang: str = "en") -> str:
    """Several values of one quantity with the unit once: ``-1,957 / -241 / 2,723 万元``, ``1.2 % / 3.4 %``."""
    vals = [values.get(k) for k in stats] if isinstance(values, Mapping) else list(values)
    e = entry(key)
    if e.unit == "yuan":
        d = e.places if digits is None else digits
        return " / ".join(wan(v, d, False) for v in vals) + " 万元"
    return " / ".join(fmt(key, v, digits, lang=lang) for v in vals)


def label(key: str, lang: str = "en") -> str:
    """The label of ``key``: ``"en"``, ``"zh"`` or ``"both"`` (English then Chinese)."""
    e = entry(key)
    if lang not in LANGS:
        raise ValueError(f"label: lang must be 'en', 'zh' or 'both', got {lang!r}")
    return pick(e.en, e.zh, lang)


def label_with_unit(key: str, lang: str = "en") -> str:
    """The label with the unit a table column shows: "expected hidden-debt PV, 万元"."""
    e = entry(key)
    text = label(key, lang)
    return f"{text}, 万元" if e.unit == "yuan" else text


def xlsx_format(key_or_entry: str | Entry) -> str | None:
    """Excel number format of a key (None for text and flags)."""
    e = key_or_entry if isinstance(key_or_entry, Entry) else entry(key_or_entry)
    return XLSX_FORMATS.get(e.unit)


def unit_text(key_or_entry: str | Entry, lang: str = "en") -> str:
    """The unit column of report.xlsx ("" for text); ``lang="zh"``: 元, 比例, 倍 …"""
    e = key_or_entry if isinstance(key_or_entry, Entry) else entry(key_or_entry)
    if e.unit == "text" or lang != "zh":
        return UNIT_TEXT[e.unit]
    return text(f"unit.{e.unit}", "zh")
