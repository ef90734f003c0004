"""Charts of a run (matplotlib, Agg backend). Each function draws on an ``Axes`` it is given and returns it.

* :func:`fan_chart` — yearly fan (p05–p95, p25–p75, median) of a quantity of ``Result.yearly``
  (cash balance in 万元, DSCR with the 1.0 line);
* :func:`hidden_debt_distribution` — histogram of the hidden-debt PV (隐性债务现值) with VaR95 / CVaR95 marked;
* :func:`pd_curve` — the bank's cumulative PD by loan year (standalone view);
* :func:`cash_waterfall` — sources-and-uses waterfall of one path's lifetime cash (the median path of the report).

Chinese labels (中文标签) are drawn with a CJK font when one is installed (Noto Sans CJK from Debian's
``fonts-noto-cjk``, Source Han, WenQuanYi, …, found through :mod:`matplotlib.font_manager`); without one every
label is English and Chinese characters are removed from names (``"Rental block A (保租房)"`` →
``"Rental block A"``), so a chart never shows tofu boxes (□). ``BAOZHANG_NO_CJK=1`` forces the English labels.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, PercentFormatter

from baozhang_finance.measures.stats import var_cvar

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


@lru_cache(maxsize=1)
def _installed_cjk_family() -> str | None:
    """The first installed CJK family of :data:`CJK_FAMILIES`, registering system CJK files matplotlib's
    cached font list does not know yet (fonts installed after the cache was built)."""
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


def label(en: str, zh: str | None = None) -> str:
    """``"中文 English"`` when a CJK font is installed, else ``"English"``."""
    return f"{zh} {en}" if zh and cjk_font() else en


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
    return FuncFormatter(lambda v, _pos: f"{v:,.0f}")


# ------------------------------------------------------------------------------------------------ fan chart
def fan_chart(ax: Axes, yearly, quantity: str = "cash_balance", scale: float | None = None,
              title: str | None = None, ylabel: str | None = None, reference: float | None = None) -> Axes:
    """Fan chart of one quantity of ``Result.yearly`` (columns year, calendar_year, quantity, p05 … p95, n).

    ``scale`` divides the values (default 10,000 → 万元 for money, 1 for ``dscr`` and ``ltv``); years with no
    defined value (``n == 0``, e.g. DSCR in years without debt service) are left out; ``reference`` draws a
    horizontal line (DSCR = 1.0 by default for ``dscr``).
    """
    ratio = quantity in ("dscr", "ltv")
    scale = scale if scale is not None else (1.0 if ratio else WAN)
    df = yearly[(yearly["quantity"] == quantity)].copy()
    if "n" in df:
        df = df[df["n"] > 0]
    df = df.dropna(subset=["p50"])
    fk = _font_kw()
    names = {
        "cash_balance": ("Cash balance (reserves + retained), 10k yuan", "现金余额（万元）"),
        "dscr": ("DSCR by year (CFADS / debt service)", "偿债覆盖率"),
        "cfads": ("CFADS, 10k yuan", "可用于偿债的现金流（万元）"),
        "cum_support": ("Cumulative external support, 10k yuan", "累计外部支持（万元）"),
        "bank_balance": ("Bank loan balance, 10k yuan", "银行贷款余额（万元）"),
        "ltv": ("Loan-to-value", "贷款价值比 LTV"),
    }
    en, zh = names.get(quantity, (quantity, None))
    if df.empty:
        ax.text(0.5, 0.5, label("no data for this quantity", "无数据"), ha="center", va="center",
                transform=ax.transAxes, **fk)
        ax.set_title(title or label(en, zh), **fk)
        return ax
    x = df["calendar_year"].to_numpy() if "calendar_year" in df else df["year"].to_numpy()
    q = {k: df[k].to_numpy(float) / scale for k in ("p05", "p25", "p50", "p75", "p95")}
    ax.fill_between(x, q["p05"], q["p95"], color="#9ecae1", alpha=0.6, lw=0, label="p05–p95")
    ax.fill_between(x, q["p25"], q["p75"], color="#4292c6", alpha=0.7, lw=0, label="p25–p75")
    ax.plot(x, q["p50"], color="#08306b", lw=1.8, label=label("median", "中位数"))
    if reference is None and quantity == "dscr":
        reference = 1.0
    if reference is not None:
        ax.axhline(reference, color="#cb181d", lw=1.0, ls="--",
                   label=f"DSCR = {reference:g}" if quantity == "dscr" else f"{reference:g}")
    if quantity == "dscr":
        top = float(np.nanmax(q["p95"])) if np.isfinite(q["p95"]).any() else 2.0
        ax.set_ylim(min(0.0, float(np.nanmin(q["p05"]))), max(2.0, min(top * 1.05, 6.0)))
    elif not ratio:  # money in 万元; ratios (LTV) keep matplotlib's decimal ticks
        ax.yaxis.set_major_formatter(_wan_formatter())
    ax.set_title(title or label(en, zh), **fk)
    if ylabel:
        ax.set_ylabel(ylabel, **fk)
    ax.set_xlabel(label("year", "年份"), **fk)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8, prop=_legend_prop())
    return ax


def _legend_prop():
    fam = cjk_font()
    return font_manager.FontProperties(family=[fam, "DejaVu Sans"], size=8) if fam else None


# ------------------------------------------------------------------------------------------------ hidden debt
def hidden_debt_distribution(ax: Axes, pv: Sequence[float], var95: float | None = None,
                             cvar95: float | None = None, bins: int = 40) -> Axes:
    """Histogram of the hidden-debt PV per path (万元), with VaR95 and CVaR95 marked.

    Paths with no call (PV = 0) are a point mass: they are stated in the legend, and the histogram shows the
    paths with a call. ``var95`` / ``cvar95`` default to the empirical 95 % quantile and tail mean.
    """
    pv = np.asarray(pv, dtype=float)
    pv = pv[np.isfinite(pv)]
    fk = _font_kw()
    ax.set_title(label("Hidden-debt call, present value per path", "隐性债务现值分布"), **fk)
    ax.set_xlabel(label("PV of government money for SOE debt / costs, 10k yuan", "现值（万元）"), **fk)
    ax.set_ylabel(label("paths", "路径数"), **fk)
    if pv.size == 0:
        return ax
    if var95 is None or cvar95 is None:
        v, c = var_cvar(pv, 0.95)
        var95 = v if var95 is None else var95
        cvar95 = c if cvar95 is None else cvar95
    pos = pv[pv > 0]
    p0 = 1.0 - pos.size / pv.size
    if pos.size == 0:
        ax.text(0.5, 0.5, label(f"no hidden-debt call on any of the {pv.size:,} paths", "所有路径均无隐性债务"),
                ha="center", va="center", transform=ax.transAxes, **fk)
        ax.set_xticks([])
        ax.set_yticks([])
        return ax
    ax.hist(pos / WAN, bins=bins, color="#6baed6", edgecolor="white", lw=0.4,
            label=label(f"paths with a call ({1 - p0:.1%})", "有代偿路径") if p0 > 0 else None)
    if p0 > 0:
        ax.plot([], [], " ", label=label(f"no call: {p0:.1%} of paths (PV = 0)", "无代偿"))
    for val, name, color, ls in ((var95, "VaR95", "#fd8d3c", "--"), (cvar95, "CVaR95", "#cb181d", "-")):
        if val is not None and np.isfinite(val):
            ax.axvline(val / WAN, color=color, ls=ls, lw=1.5, label=f"{name} = {val / WAN:,.0f}")
    ax.xaxis.set_major_formatter(_wan_formatter())
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8, prop=_legend_prop())
    return ax


# ------------------------------------------------------------------------------------------------ PD curve
def pd_curve(ax: Axes, pd_cumulative: Sequence[float], start_year: int | str | None = None) -> Axes:
    """Cumulative probability of default by the end of each programme year (standalone view, no government
    support); ``start_year`` (e.g. ``"2025-07"``) only labels the axis."""
    pdc = np.asarray(list(pd_cumulative), dtype=float)
    fk = _font_kw()
    ax.set_title(label("Bank: cumulative PD (standalone)", "银行累计违约概率"), **fk)
    ax.set_ylabel(label("cumulative PD", "累计违约概率"), **fk)
    if pdc.size == 0:
        ax.text(0.5, 0.5, label("no bank debt", "无银行贷款"), ha="center", va="center", transform=ax.transAxes,
                **fk)
        return ax
    # PD(y) = P(default before the end of programme year y): a point at the end of each year, from (0, 0)
    x = np.arange(0, pdc.size + 1)
    y = np.concatenate([[0.0], pdc])
    ax.plot(x, y, "-o", color="#54278f", lw=1.8, ms=3)
    ax.fill_between(x, 0, y, color="#9e9ac8", alpha=0.35)
    start = f" (year 1 starts {start_year})" if start_year else ""
    ax.set_xlabel(label(f"end of programme year{start}", "项目年度末"), **fk)
    ax.set_xlim(0, pdc.size + 0.5)
    ax.set_ylim(0, max(0.05, float(pdc.max()) * 1.15))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0 if pdc.max() >= 0.1 else 1))
    ax.annotate(f"{pdc[-1]:.1%}", (x[-1], y[-1]), textcoords="offset points", xytext=(-4, 6), ha="right")
    ax.grid(True, alpha=0.3)
    return ax


# ------------------------------------------------------------------------------------------------ waterfall
#: waterfall steps: (key, English, Chinese, sign)
WATERFALL_STEPS = (
    ("funding", "Funding raised", "融资到位", +1),
    ("acquisition", "Acquisition & fit-out", "收购与改造", -1),
    ("rent", "Rent + rent subsidy", "租金及补贴", +1),
    ("sales", "Sale proceeds", "销售回款", +1),
    ("grants", "Operating grants + 贴息", "运营补助与贴息", +1),
    ("operating_costs", "Operating costs & taxes", "运营成本与税费", -1),
    ("buybacks", "Buybacks", "回购支出", -1),
    ("bank_service", "Bank interest + principal", "银行本息", -1),
    ("bond_service", "Special-bond service", "专项债本息", -1),
    ("cures", "Cures: extensions, refinancing bonds", "展期与再融资债券", +1),
    ("soe_support", "SOE support", "国企支持", +1),
    ("gov_bond", "Budget: bond burden", "财政：专项债兜底", +1),
    ("gov_hidden", "Budget: hidden-debt call", "财政：隐性债务代偿", +1),
    ("distributions", "Distributions to SOE", "向国企分配", -1),
)


def cash_waterfall(ax: Axes, flows: dict[str, float], title: str | None = None) -> Axes:
    """Horizontal waterfall of one path's lifetime cash in 万元: each step of :data:`WATERFALL_STEPS` (a
    positive amount; its sign is the step's) moves the running total; the last bar is the cash left at the end
    (reserves + retained cash), which equals the sum of the steps when the flows are complete."""
    fk = _font_kw()
    keys = [s for s in WATERFALL_STEPS if abs(flows.get(s[0], 0.0)) > 0.5]
    labels, starts, widths, colors = [], [], [], []
    run = 0.0
    for key, en, zh, sign in keys:
        v = sign * abs(float(flows[key])) / WAN
        labels.append(label(en, zh))
        starts.append(run if v >= 0 else run + v)
        widths.append(abs(v))
        if key.startswith("gov_"):
            colors.append("#cb181d")
        elif key == "soe_support":
            colors.append("#fd8d3c")
        else:
            colors.append("#41ab5d" if v >= 0 else "#6baed6")
        run += v
    labels.append(label("Cash at the end", "期末现金"))
    starts.append(min(0.0, run))
    widths.append(abs(run))
    colors.append("#252525")
    y = np.arange(len(labels))[::-1]
    ax.barh(y, widths, left=starts, color=colors, height=0.65)
    span = max(max((s + w for s, w in zip(starts, widths)), default=0.0) - min(min(starts, default=0.0), 0.0), 1.0)
    for yi, s, w in zip(y, starts, widths):
        # the amount right of the bar, and right of the zero line too so it never sits on it
        x = max(s + w, 0.0) + 0.005 * span
        ax.text(x, yi, f"{w:,.0f}", va="center", ha="left", fontsize=7)
    ax.set_yticks(y, labels, **fk)
    ax.axvline(0, color="black", lw=0.8)
    ax.xaxis.set_major_formatter(_wan_formatter())
    ax.set_xlabel(label("10k yuan (lifetime totals, undiscounted)", "万元（全周期合计，未折现）"), **fk)
    ax.set_title(title or label("Median path: where the money came from and went", "中位路径：资金来源与去向"),
                 **fk)
    ax.grid(True, axis="x", alpha=0.3)
    xmin, xmax = ax.get_xlim()
    ax.set_xlim(xmin, xmax + 0.12 * (xmax - xmin))
    return ax
