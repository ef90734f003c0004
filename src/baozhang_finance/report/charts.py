"""Charts of a run (matplotlib, Agg backend). Each function draws on an ``Axes`` it is given and returns it.

* :func:`fan_chart` — yearly fan (p05–p95, p25–p75, median) of a quantity of ``Result.yearly``
  (cash balance in 万元; ``dscr``: CFADS ÷ all debt service, the 本息覆盖倍数 of all financing, with 1.0 and the
  lock-up line);
* :func:`bank_dscr_fan` — the bank lens's DSCR by year (CFADS available to the bank ÷ bank service), its test
  window, 1.0 and the lock-up line; :func:`bank_dscr_min_distribution` — the lens's headline, the minimum bank DSCR
  per path (lowest ring-fenced project over the test window);
* :func:`hidden_debt_distribution` — histogram of the hidden-debt PV (隐性债务现值) with VaR95 / CVaR95 marked;
* :func:`pd_curve` — the bank's cumulative PD by loan year (with the SOE's support, no government support);
* :func:`cash_waterfall` — sources-and-uses waterfall of one path's lifetime cash (the median path of the report).

Chinese labels (中文标签) are drawn with a CJK font when one is installed (Noto Sans CJK from Debian's
``fonts-noto-cjk``, Source Han, WenQuanYi, …, found through :mod:`matplotlib.font_manager`); without one every
label is English and Chinese characters are removed from names (``"Rental block A (保租房)"`` →
``"Rental block A"``), so a chart never shows tofu boxes (□). ``BAOZHANG_NO_CJK=1`` forces the English labels.

Time axis (decision 74): every chart with years has **programme years** on its x axis — year y = months
12(y − 1) … 12y − 1 from ``programme.start``, the years of the ledgers, the summary (first call year, DSCR test
years, PD by year) and the workbook — with the calendar span of each year under its number (``2029/30`` for a
July start, ``2029`` for a January one) and the span of year 1 in the axis label (:func:`year_axis`). A point at
year y is the year's flow or its year-end balance; the PD curve's point at y is the PD by the end of year y.

Language: every function takes ``lang`` — ``"zh"`` Chinese labels, ``"en"`` English, ``"both"`` (the default)
"中文 English" — and takes its words from the output catalogue (``text.chart.*``, :func:`chart_text`); without a CJK
font ``"zh"`` and ``"both"`` fall back to the English labels.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from typing import TYPE_CHECKING as _TC_  # noqa: E402
if _TC_:  # imported where used (start-up time)
    from matplotlib import font_manager
    from matplotlib.axes import Axes
    from matplotlib.ticker import FuncFormatter
    from matplotlib.ticker import PercentFormatter

from baozhang_finance.measures.catalogue import entry
from baozhang_finance.measures.stats import var_cvar
from baozhang_finance.report.format import DEFAULT_LANG, fixed, pct

# No matplotlib.use() here: the functions draw on Axes they are given, so a notebook keeps its inline backend;
# report.py and the CLI select the Agg backend themselves.

#: CJK font families in order of preference (Simplified Chinese first)
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Noto Sans CJK TC", "Noto Sans CJK JP", "Droid Sans Fallback", "AR PL UMing CN",
    "Microsoft YaHei", "SimHei", "PingFang SC",
)
_CJK_FILE_HINTS = ("notosanscjk", "notoserifcjk", "sourcehansans", "wqy", "droidsansfallback", "uming", "ukai")
_CJK_RE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+")

WAN = 1e4  # 万元: yuan per 10,000
#: a "中文 English" chart label longer than this (characters) puts the English on a second line
WRAP_BOTH = 64


@lru_cache(maxsize=1)
def _installed_cjk_family() -> str | None:
    """The first installed CJK family of :data:`CJK_FAMILIES`, registering system CJK files matplotlib's
    cached font list does not know yet (fonts installed after the cache was built)."""
    from matplotlib import font_manager
    names = {f.name for f in font_manager.fontManager.ttflist}
    hit = next((fam for fam in CJK_FAMILIES if fam in names), None)
    if hit:
        return hit
    try:
        files = font_manager.findSystemFonts()
    except Exception:  # pragma: no cover - a broken fontconfig: behave as if no font
        files = []
    for font_file in files:
        if any(h in os.path.basename(font_file).lower().replace("-", "") for h in _CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(font_file)
            except Exception:  # pragma: no cover - unreadable font file
                continue
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((fam for fam in CJK_FAMILIES if fam in names), None)


def cjk_font() -> str | None:
    """The CJK font family used for Chinese labels, or None (English labels) — also None when
    ``BAOZHANG_NO_CJK`` is set to a non-empty value other than ``0``."""
    if os.environ.get("BAOZHANG_NO_CJK", "") not in ("", "0"):
        return None
    return _installed_cjk_family()


def font_rc() -> dict:
    """rcParams for :func:`matplotlib.rc_context`: the CJK family first (Latin glyphs fall back to DejaVu Sans)."""
    fam = cjk_font()
    rc = {"axes.unicode_minus": False, "font.size": 9}
    if fam:
        rc["font.family"] = "sans-serif"
        rc["font.sans-serif"] = [fam, "DejaVu Sans"]
    return rc


def save_png(path, size: tuple[float, float], draw) -> None:
    """One chart to a PNG at 150 dpi: a figure of ``size`` inches, ``draw(ax)``, tight layout; the figure is always
    closed (matplotlib imported here: the CLI's start-up does not pay for it)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, dpi=150)
    try:
        draw(ax)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def label(en: str, zh: str | None = None, lang: str = DEFAULT_LANG) -> str:
    """A chart label in ``lang``: ``"中文 English"`` (both), ``"中文"`` (zh) or ``"English"`` (en); English whatever
    ``lang`` says when no CJK font is installed (or there is no Chinese)."""
    if lang == "en" or not zh or not cjk_font():
        return en
    if lang == "zh":
        return zh
    return f"{zh}\n{en}" if len(zh) + len(en) > WRAP_BOTH else f"{zh} {en}"


def chart_text(name: str, lang: str = DEFAULT_LANG, /, **fields) -> str:
    """The catalogue's ``text.chart.<name>`` as a chart label in ``lang`` (see :func:`label`)."""
    e = entry(f"text.chart.{name}")
    return label(e.en.format(**fields), e.zh.format(**fields), lang)


def chart_lang(lang: str) -> str:
    """The language a chart is actually drawn in: ``"en"`` without a CJK font."""
    return lang if cjk_font() else "en"


def safe_text(text: str, fallback: str = "") -> str:
    """``text`` as it can be drawn: unchanged with a CJK font; without one, CJK characters and the brackets they
    leave empty are removed, and an empty result becomes ``fallback``."""
    if cjk_font():
        return text
    out = _CJK_RE.sub("", text)
    out = re.sub(r"\(\s*\)|（\s*）|\[\s*\]", "", out)
    out = re.sub(r"\s{2,}", " ", out).strip(" -—·:;,")
    return out or fallback


def _font_kw() -> dict:
    fam = cjk_font()
    return {"fontfamily": [fam, "DejaVu Sans"]} if fam else {}


def _wan_formatter() -> FuncFormatter:
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda v, _pos: f"{v:,.0f}")


def _ym(start) -> tuple[int, int]:
    """(year, month) of a programme start ``"2025-07"`` (``"2025"``: January)."""
    text_ = str(start)
    return int(text_[:4]), int(text_[5:7]) if len(text_) >= 7 else 1


def calendar_span(year: int, start: str | None) -> str:
    """The calendar span of programme year ``year`` (1-based) of a programme starting ``start`` (``"2025-07"``):
    ``"2029"`` when the programme starts in January, else ``"2029/30"`` (July 2029 to June 2030); "" without a
    start."""
    if not start or year < 1:
        return ""
    y0, m0 = _ym(start)
    first = y0 + year - 1
    return f"{first}" if m0 == 1 else f"{first}/{(first + 1) % 100:02d}"


def year1_span(start: str) -> tuple[str, str]:
    """(first month, last month) of programme year 1: ``("2025-07", "2026-06")``."""
    y0, m0 = _ym(start)
    last_y, last_m = (y0, 12) if m0 == 1 else (y0 + 1, m0 - 1)
    return f"{y0}-{m0:02d}", f"{last_y}-{last_m:02d}"


def year_axis(ax: Axes, start: str | None, lang: str = DEFAULT_LANG, end_of_year: bool = False) -> Axes:
    """The one time axis of the charts: programme years 1, 2, … as integer ticks, each with its calendar span
    under it (:func:`calendar_span`), and an axis label giving the span of year 1 (``end_of_year``: the points are
    at the end of each year, as a cumulative PD's)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10], min_n_ticks=4))

    def tick(v, _pos):
        y = int(round(v))
        if abs(v - y) > 1e-9 or y < 0:
            return ""
        span = calendar_span(y, start)
        return f"{y}\n{span}" if span else f"{y}"

    ax.xaxis.set_major_formatter(FuncFormatter(tick))
    kind = "year_axis_end" if end_of_year else "year_axis"
    if start:
        first, last = year1_span(start)
        ax.set_xlabel(chart_text(f"{kind}_start", lang, first=first, last=last), **_font_kw())
    else:
        ax.set_xlabel(chart_text(kind, lang), **_font_kw())
    return ax


def _ref_line(ax: Axes, value: float, name: str, lang: str, color: str, ls: str) -> None:
    """A horizontal reference line with its legend entry ``text.chart.<name>`` (the value filled in)."""
    ax.axhline(value, color=color, lw=1.0, ls=ls, label=chart_text(name, lang, v=f"{value:g}"))


def _ratio_ylim(ax: Axes, lo, hi) -> None:
    """y limits of a coverage ratio: from min(0, lowest p05) to the highest p95 (+5 %), at least 2, at most 6."""
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    top = float(np.nanmax(hi)) if np.isfinite(hi).any() else 2.0
    bottom = float(np.nanmin(lo)) if np.isfinite(lo).any() else 0.0
    ax.set_ylim(min(0.0, bottom), max(2.0, min(top * 1.05, 6.0)))


# ------------------------------------------------------------------------------------------------ fan chart
#: quantities with a fan-chart title in the catalogue (``text.chart.fan.<quantity>``)
FAN_TITLES = ("cash_balance", "dscr", "cfads", "cum_support", "bank_balance", "ltv")


def fan_chart(ax: Axes, yearly, quantity: str = "cash_balance", scale: float | None = None,
              title: str | None = None, ylabel: str | None = None, reference: float | None = None,
              lang: str = DEFAULT_LANG, start: str | None = None, lockup: float | None = None) -> Axes:
    """Fan chart of one quantity of ``Result.yearly`` (columns year, calendar_year, quantity, p05 … p95, n) over
    programme years (:func:`year_axis`; ``start``, e.g. ``"2025-07"``, adds the calendar spans).

    ``scale`` divides the values (default 10,000 → 万元 for money, 1 for ``dscr`` and ``ltv``); years with no
    defined value (``n == 0``, e.g. DSCR in years without debt service) are left out; ``reference`` draws a
    horizontal line (1.0 by default for ``dscr``, CFADS ÷ all debt service — the 本息覆盖倍数 of all financing,
    not the bank's DSCR: :func:`bank_dscr_fan`); ``lockup`` draws the distribution lock-up threshold
    (``waterfall.lockup_dscr``, which the engine tests per project on the trailing 12 months' service due,
    gross: a bullet the refinancing rolls counts there, not in this chart's ratio).
    """
    ratio = quantity in ("dscr", "ltv")
    scale = scale if scale is not None else (1.0 if ratio else WAN)
    df = yearly[(yearly["quantity"] == quantity)].copy()
    if "n" in df:
        df = df[df["n"] > 0]
    df = df.dropna(subset=["p50"])
    fk = _font_kw()
    head = chart_text(f"fan.{quantity}", lang) if quantity in FAN_TITLES else quantity
    if df.empty:
        ax.text(0.5, 0.5, chart_text("no_data", lang), ha="center", va="center",
                transform=ax.transAxes, **fk)
        ax.set_title(title or head, **fk)
        return ax
    x = df["year"].to_numpy()
    q = {k: df[k].to_numpy(float) / scale for k in ("p05", "p25", "p50", "p75", "p95")}
    ax.fill_between(x, q["p05"], q["p95"], color="#9ecae1", alpha=0.6, lw=0, label="p05–p95")
    ax.fill_between(x, q["p25"], q["p75"], color="#4292c6", alpha=0.7, lw=0, label="p25–p75")
    ax.plot(x, q["p50"], color="#08306b", lw=1.8, label=chart_text("median", lang))
    if reference is None and quantity == "dscr":
        reference = 1.0
    if reference is not None:
        _ref_line(ax, reference, "ref_one" if reference == 1.0 else "ref", lang, "#cb181d", "--")
    if lockup is not None and quantity == "dscr":
        _ref_line(ax, lockup, "ref_lockup_all", lang, "#fd8d3c", ":")
    if quantity == "dscr":
        _ratio_ylim(ax, q["p05"], q["p95"])
    elif not ratio:  # money in 万元; ratios (LTV) keep matplotlib's decimal ticks
        ax.yaxis.set_major_formatter(_wan_formatter())
    ax.set_title(title or head, **fk)
    if ylabel:
        ax.set_ylabel(ylabel, **fk)
    year_axis(ax, start, lang)
    ax.set_xlim(0.5, float(x.max()) + 0.5)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8, prop=_legend_prop())
    return ax


# ------------------------------------------------------------------------------------------------ bank DSCR
def bank_dscr_fan(ax: Axes, by_year: dict, window: Sequence[int] | None = None, lockup: float | None = None,
                  start: str | None = None, lang: str = DEFAULT_LANG) -> Axes:
    """The bank lens's DSCR by programme year: ``by_year`` = summary ``bank.dscr_bank_by_year`` (``p05`` /
    ``p50`` / ``p95`` lists, one value per year, None where no path has bank service), i.e.
    :func:`measures.bank.iter_bank_dscr` — CFADS available to the bank (after bond service when bonds rank first)
    ÷ bank service (interest + scheduled principal). ``window`` = ``bank.dscr_test_years`` ([first, last], 1-based)
    is shaded; 1.0 and the lock-up threshold ``lockup`` are drawn. Values above the axis cap (6) are clipped."""
    fk = _font_kw()
    ax.set_title(chart_text("bank_dscr_title", lang), **fk)
    qs = {k: np.array([np.nan if v is None else float(v) for v in (by_year or {}).get(k, [])]) for k in
          ("p05", "p50", "p95")}
    n = min((a.size for a in qs.values()), default=0)
    ok = np.isfinite(qs["p50"][:n]) if n else np.zeros(0, dtype=bool)
    if not ok.any():
        ax.text(0.5, 0.5, chart_text("no_data", lang), ha="center", va="center", transform=ax.transAxes, **fk)
        return ax
    x = np.arange(1, n + 1)[ok]
    lo, mid, hi = (qs[k][:n][ok] for k in ("p05", "p50", "p95"))
    if window is not None and len(window) == 2 and window[1] >= window[0]:
        ax.axvspan(window[0] - 0.5, window[1] + 0.5, color="#f0f0f0", zorder=0,
                   label=chart_text("bank_dscr_window", lang, a=window[0], b=window[1]))
    ax.fill_between(x, lo, hi, color="#9ecae1", alpha=0.7, lw=0, label="p05–p95")
    ax.plot(x, mid, color="#08306b", lw=1.8, label=chart_text("median", lang))
    _ref_line(ax, 1.0, "ref_one", lang, "#cb181d", "--")
    if lockup is not None:
        _ref_line(ax, lockup, "ref_lockup_all", lang, "#fd8d3c", ":")
    _ratio_ylim(ax, lo, hi)
    _off_scale(ax, x, mid)
    ax.set_ylabel(chart_text("bank_dscr_y", lang), **fk)
    year_axis(ax, start, lang)
    ax.set_xlim(0.5, float(x.max()) + 0.5)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=7, prop=_legend_prop())
    return ax


def _off_scale(ax: Axes, x, mid) -> None:
    """The median's value written at the top of the axes in the years it is above the axis cap."""
    top = ax.get_ylim()[1]
    for xi, v in zip(x, mid):
        if np.isfinite(v) and v > top:
            ax.annotate(f"↑ {v:.1f}", (xi, top), textcoords="offset points", xytext=(3, -10), fontsize=7,
                        color="#08306b")


def bank_dscr_min_distribution(ax: Axes, dmin: Sequence[float], window: Sequence[int] | None = None,
                               lockup: float | None = None, bins: int = 40, lang: str = DEFAULT_LANG) -> Axes:
    """Histogram of the bank lens's headline DSCR: per path the minimum bank DSCR of any ring-fenced project with
    bank debt over its test window (:func:`measures.bank.min_bank_dscr`); 1.0 and the lock-up threshold marked,
    P(minimum < 1) and the median in the legend; paths without bank service in the window (NaN) are left out and
    counted. Values above 3 are drawn in the last bin (the legend says so)."""
    fk = _font_kw()
    d = np.asarray(dmin, dtype=float)
    ok = d[np.isfinite(d)]
    ax.set_title(chart_text("bank_min_title", lang), **fk)
    if window is not None and len(window) == 2:
        ax.set_xlabel(chart_text("bank_min_x", lang, a=window[0], b=window[1]), **fk)
    ax.set_ylabel(chart_text("share_of_paths", lang), **fk)
    if ok.size == 0:
        ax.text(0.5, 0.5, chart_text("no_data", lang), ha="center", va="center", transform=ax.transAxes, **fk)
        return ax
    from matplotlib.ticker import PercentFormatter
    top = min(3.0, max(1.5, float(ok.max()) * 1.05))
    shown = np.minimum(ok, top)
    heights, _, _ = ax.hist(shown, bins=bins, range=(min(0.0, float(shown.min())), top), color="#6baed6",
                            edgecolor="white", lw=0.4, weights=np.full(ok.size, 1.0 / ok.size),
            label=chart_text("bank_min_below", lang, p=pct(float((ok < 1.0).mean()))))
    ax.axvline(1.0, color="#cb181d", ls="--", lw=1.2, label=chart_text("ref_one", lang, v="1"))
    if lockup is not None:
        ax.axvline(lockup, color="#fd8d3c", ls=":", lw=1.4, label=chart_text("ref_lockup_all", lang, v=f"{lockup:g}"))
    med = float(np.median(ok))
    ax.axvline(med, color="#08306b", lw=1.4, label=chart_text("median_is", lang, v=f"{med:.2f}"))
    if (ok > top).any():
        ax.plot([], [], " ", label=chart_text("bank_min_clipped", lang, v=f"{top:g}"))
    if ok.size < d.size:
        ax.plot([], [], " ", label=chart_text("bank_min_none", lang, n=f"{d.size - ok.size:,}"))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, float(np.max(heights)) * 1.7)  # room above the bars for the legend
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize=7, prop=_legend_prop())
    return ax


def _legend_prop():
    from matplotlib import font_manager
    fam = cjk_font()
    return font_manager.FontProperties(family=[fam, "DejaVu Sans"], size=8) if fam else None


# ------------------------------------------------------------------------------------------------ hidden debt
def hidden_debt_distribution(ax: Axes, pv: Sequence[float], var95: float | None = None,
                             cvar95: float | None = None, bins: int = 40, lang: str = DEFAULT_LANG) -> Axes:
    """Histogram of the hidden-debt PV per path (万元), with VaR95 and CVaR95 marked.

    Paths with no call (PV = 0) are a point mass: they are stated in the legend, and the histogram shows the
    paths with a call. ``var95`` / ``cvar95`` default to the empirical 95 % quantile and tail mean.
    """
    pv = np.asarray(pv, dtype=float)
    pv = pv[np.isfinite(pv)]
    fk = _font_kw()
    ax.set_title(chart_text("hd_title", lang), **fk)
    ax.set_xlabel(chart_text("hd_x", lang), **fk)
    ax.set_ylabel(chart_text("hd_y", lang), **fk)
    if pv.size == 0:
        return ax
    if var95 is None or cvar95 is None:
        v, c = var_cvar(pv, 0.95)
        var95 = v if var95 is None else var95
        cvar95 = c if cvar95 is None else cvar95
    pos = pv[pv > 0]
    p0 = 1.0 - pos.size / pv.size
    if pos.size == 0:
        ax.text(0.5, 0.5, chart_text("hd_none", lang, n=f"{pv.size:,}"),
                ha="center", va="center", transform=ax.transAxes, **fk)
        ax.set_xticks([])
        ax.set_yticks([])
        return ax
    ax.hist(pos / WAN, bins=bins, color="#6baed6", edgecolor="white", lw=0.4,
            label=chart_text("hd_with", lang, p=pct(1 - p0)) if p0 > 0 else None)
    if p0 > 0:
        ax.plot([], [], " ", label=chart_text("hd_without", lang, p=pct(p0)))
    for val, name, color, ls in ((var95, "VaR95", "#fd8d3c", "--"), (cvar95, "CVaR95", "#cb181d", "-")):
        if val is not None and np.isfinite(val):
            ax.axvline(val / WAN, color=color, ls=ls, lw=1.5,
                       label=chart_text("hd_mark", "zh" if lang == "both" else lang, name=name,
                                        v=fixed(val / WAN, 0, True)))  # "both": "= 58 万元" once, not twice
    from matplotlib.ticker import MaxNLocator
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # a count of paths: no 0.5 path
    ax.xaxis.set_major_formatter(_wan_formatter())
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8, prop=_legend_prop())
    return ax


# ------------------------------------------------------------------------------------------------ PD curve
def pd_curve(ax: Axes, pd_cumulative: Sequence[float], start_year: int | str | None = None,
             lang: str = DEFAULT_LANG) -> Axes:
    """Cumulative probability of default by the end of each programme year (with the SOE's support, no government
    support), on the charts' programme-year axis (:func:`year_axis`; ``start_year``, e.g. ``"2025-07"``, adds the
    calendar spans)."""
    from matplotlib.ticker import PercentFormatter
    pdc = np.asarray(list(pd_cumulative), dtype=float)
    fk = _font_kw()
    ax.set_title(chart_text("pd_title", lang), **fk)
    ax.set_ylabel(chart_text("pd_y", lang), **fk)
    if pdc.size == 0:
        ax.text(0.5, 0.5, chart_text("pd_none", lang), ha="center", va="center", transform=ax.transAxes,
                **fk)
        return ax
    # PD(y) = P(default before the end of programme year y): a point at the end of each year, from (0, 0)
    x = np.arange(0, pdc.size + 1)
    y = np.concatenate([[0.0], pdc])
    ax.plot(x, y, "-o", color="#54278f", lw=1.8, ms=3)
    ax.fill_between(x, 0, y, color="#9e9ac8", alpha=0.35)
    year_axis(ax, str(start_year) if start_year else None, lang, end_of_year=True)
    ax.set_xlim(0, pdc.size + 0.5)
    ax.set_ylim(0, max(0.05, float(pdc.max()) * 1.15))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0 if pdc.max() >= 0.1 else 1))
    ax.annotate(pct(pdc[-1]), (x[-1], y[-1]), textcoords="offset points", xytext=(-4, 6), ha="right")
    ax.grid(True, alpha=0.3)
    return ax


# ------------------------------------------------------------------------------------------------ waterfall
#: waterfall steps: (key, sign); the label is the catalogue's ``text.chart.wf.<key>``
WATERFALL_STEPS = (
    ("funding", +1), ("acquisition", -1), ("rent", +1), ("sales", +1), ("grants", +1), ("operating_costs", -1),
    ("buybacks", -1), ("bank_service", -1), ("bond_service", -1), ("cures", +1), ("soe_support", +1),
    ("gov_bond", +1), ("gov_hidden", +1), ("distributions", -1),
)


def cash_waterfall(ax: Axes, flows: dict[str, float], title: str | None = None, lang: str = DEFAULT_LANG) -> Axes:
    """Horizontal waterfall of one path's lifetime cash in 万元: each step of :data:`WATERFALL_STEPS` (a
    positive amount; its sign is the step's) moves the running total; the last bar is the cash left at the end
    (reserves + retained cash), which equals the sum of the steps when the flows are complete."""
    fk = _font_kw()
    keys = [s for s in WATERFALL_STEPS if abs(flows.get(s[0], 0.0)) > 0.5]
    labels, starts, widths, colors = [], [], [], []
    run = 0.0
    for key, sign in keys:
        v = sign * abs(float(flows[key])) / WAN
        labels.append(chart_text(f"wf.{key}", lang))
        starts.append(run if v >= 0 else run + v)
        widths.append(abs(v))
        if key.startswith("gov_"):
            colors.append("#cb181d")
        elif key == "soe_support":
            colors.append("#fd8d3c")
        else:
            colors.append("#41ab5d" if v >= 0 else "#6baed6")
        run += v
    labels.append(chart_text("wf.end_cash", lang))
    starts.append(min(0.0, run))
    widths.append(abs(run))
    colors.append("#252525")
    y = np.arange(len(labels))[::-1]
    ax.barh(y, widths, left=starts, color=colors, height=0.65)
    span = max(max((s + w for s, w in zip(starts, widths)), default=0.0) - min(min(starts, default=0.0), 0.0), 1.0)
    signs = [("+" if sign > 0 else "−") for _, sign in keys] + [""]
    for yi, s, w, sgn in zip(y, starts, widths, signs):
        # the amount right of the bar, and right of the zero line too so it never sits on it
        x = max(s + w, 0.0) + 0.005 * span
        ax.text(x, yi, sgn + fixed(w, 0, True), va="center", ha="left", fontsize=7)
    ax.set_yticks(y, labels, **fk)
    ax.axvline(0, color="black", lw=0.8)
    ax.xaxis.set_major_formatter(_wan_formatter())
    ax.set_xlabel(chart_text("wf_x", lang), **fk)
    # right-aligned: the long bar labels push the axes right, and a centred title wider than the axes is clipped
    ax.set_title(title or chart_text("wf_title", lang), **fk)
    ax.title.set_horizontalalignment("right")
    ax.title.set_x(1.0)
    ax.grid(True, axis="x", alpha=0.3)
    from matplotlib.patches import Patch
    kinds = (("#41ab5d", "wf_in"), ("#6baed6", "wf_out"), ("#fd8d3c", "wf_soe"), ("#cb181d", "wf_budget"),
             ("#252525", "wf.end_cash"))
    used = set(colors)
    ax.legend(handles=[Patch(color=c, label=chart_text(k, lang)) for c, k in kinds if c in used],
              loc="lower right", fontsize=7, prop=_legend_prop())
    xmin, xmax = ax.get_xlim()
    ax.set_xlim(xmin, xmax + 0.12 * (xmax - xmin))
    return ax
