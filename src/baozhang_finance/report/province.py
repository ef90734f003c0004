"""The province's report (省级报告): terminal table, charts and report.html of a portfolio run, in Chinese and English.

Renders a :class:`~baozhang_finance.run.portfolio.PortfolioResult`'s summary (measures/province.py); no simulation
and no arithmetic beyond unit conversion. Money in 万元, shares in %.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from baozhang_finance.report import charts as pl
from baozhang_finance.report.format import DEFAULT_LANG, lang_of, pct, text
from baozhang_finance.report.format import wan as _wan
from baozhang_finance.report.html import HTML_LANG, _CSS, _e, _img, _table

#: the province page is wider (15 columns per city) and its numbers never break across lines
PROVINCE_CSS = ("body{max-width:1400px}table.province{font-size:12px}table.province td{white-space:nowrap}"
                "img{max-width:960px}")


def _yi(x) -> str:
    """Yuan in 亿元 (10⁸ yuan): ``2,905.8 亿元``."""
    return "—" if x is None else f"{x / 1e8:,.1f} 亿元"

#: the province report's words: key → (English, 中文)
WORDS = {
    "title": ("Province portfolio", "省级组合"),
    "city": ("city", "城市"),
    "p_call": ("P(hidden-debt call)", "隐性债务代偿概率"),
    "se": ("SE", "标准误"),
    "p_material": ("P(material call)", "重大代偿概率"),
    "e_pv": ("E[PV of calls]", "代偿现值期望"),
    "var95": ("VaR 95 %", "VaR 95 %"),
    "es95": ("ES 95 %", "ES 95 %"),
    "var99": ("VaR 99 %", "VaR 99 %"),
    "es99": ("ES 99 %", "ES 99 %"),
    "fiscal_cost": ("total fiscal cost PV", "财政总成本现值"),
    "register": ("register stock, peak mean", "隐性债务存量峰值(均值)"),
    "debt_ratio": ("债务率 contribution p50 / p95", "债务率贡献 p50 / p95"),
    "city_budget": ("paid by the city budget PV", "市级预算承担现值"),
    "transfers": ("provincial transfers PV", "省级转移支付现值"),
    "unfunded": ("unfunded PV", "无资金来源现值"),
    "province": ("province", "全省"),
    "p_any": ("P(any city called)", "任一城市被代偿概率"),
    "p_any_material": ("P(any material call)", "任一城市重大代偿概率"),
    "n_called": ("cities called", "被代偿城市数"),
    "p_sim": ("P, simulated", "概率(模拟)"),
    "p_ind": ("P, if independent", "概率(若相互独立)"),
    "p_year": ("P, most in one year", "概率(同一年最多)"),
    "share_rev": ("peak yearly government money ÷ province revenue p50 / p95 / p99",
                  "年度政府资金峰值占全省收入 p50 / p95 / p99"),
    "share_transfers": ("peak yearly transfers ÷ province revenue p50 / p95 / p99",
                        "年度转移支付峰值占全省收入 p50 / p95 / p99"),
    "top3": ("share of expected cost from the top three cities (hidden debt / total fiscal cost)",
             "前三城市占期望成本比重(隐性债务 / 财政总成本)"),
    "corr": ("mean correlation of the cities' call indicators", "城市代偿指示变量的平均相关系数"),
    "h_cities": ("Cities", "各城市"),
    "h_province": ("The province", "全省"),
    "h_count": ("How many cities are called", "被代偿城市数量分布"),
    "h_manifest": ("Run", "运行信息"),
    "paths": ("paths per city, seed", "每城市路径数、随机种子"),
    "revenue": ("province revenue, year 1; growth; volatility", "全省收入(第一年)、增长率、波动率"),
    "revenue_p5": ("province revenue in the last year, p5 / mean / p95", "末年全省收入 p5 / 均值 / p95"),
    "money_vs_revenue": ("E[PV of government money, all cities] ÷ province revenue of year 1",
                         "全部城市政府资金现值期望 ÷ 第一年全省收入"),
    "wan": ("万元", "万元"),
}


def word(key: str, lang: str = DEFAULT_LANG) -> str:
    """A word of the province report in ``lang``: English, 中文, or ``English 中文`` (both)."""
    en, zh = WORDS[key]
    return en if lang == "en" else zh if lang == "zh" else f"{en} {zh}"


def city_rows(s: dict, unit: bool = False) -> list[list[str]]:
    """The cities table's rows, formatted (the province total last); money in 万元, the unit in the head
    (``unit=True``: in every cell)."""
    wan = functools.partial(_wan, unit=unit)
    rows = []
    for r in s["cities"]:
        rows.append([r["city"], pct(r["p_call"]), pct(r["p_call_se"]), pct(r["p_call_material"]), wan(r["expected_pv"]),
                     wan(r["var95_pv"]), wan(r["es95_pv"]), wan(r["var99_pv"]), wan(r["es99_pv"]),
                     wan(r["total_fiscal_cost_pv"]), wan(r["register_peak_mean"]),
                     f"{pct(r['debt_ratio_contribution_p50'], 2)} / {pct(r['debt_ratio_contribution_p95'], 2)}",
                     wan(r["city_budget_pv"]), wan(r["transfers_pv"]), wan(r["unfunded_pv"])])
    p = s["province"]
    hd, ps = p["hidden_debt_pv"], p["payer_split"]
    rows.append([p["name"], pct(p["p_any_call"]), "", pct(p["p_any_material_call"]), wan(hd["expected"]),
                 wan(hd["var95"]), wan(hd["es95"]), wan(hd["var99"]), wan(hd["es99"]), wan(p["total_fiscal_cost_pv"]),
                 wan(max(p["register_stock_by_year"]["mean"] or [0.0])),
                 f"{pct(p['debt_ratio_contribution']['peak'].get('p50'), 2)} / "
                 f"{pct(p['debt_ratio_contribution']['peak'].get('p95'), 2)}",
                 wan(ps["city_budget"]["expected"]), wan(ps["transfers"]["expected"]), wan(ps["unfunded"]["expected"])])
    return rows


#: the cities table's columns, and which of them are money (万元)
CITY_COLUMNS = ("city", "p_call", "se", "p_material", "e_pv", "var95", "es95", "var99", "es99", "fiscal_cost",
                "register", "debt_ratio", "city_budget", "transfers", "unfunded")
MONEY_COLUMNS = frozenset({"e_pv", "var95", "es95", "var99", "es99", "fiscal_cost", "register", "city_budget",
                           "transfers", "unfunded"})


def city_head(lang: str, unit: bool = True) -> list[str]:
    """The cities table's head; ``unit``: money columns say 万元 (when the cells do not)."""
    return [word(k, lang) + (", 万元" if unit and k in MONEY_COLUMNS else "") for k in CITY_COLUMNS]


def count_rows(s: dict) -> list[list[str]]:
    """P(N cities called) simulated, under independence, and the most in one year."""
    cc = s["province"]["cities_called"]
    same = s["province"]["cities_called_same_year"]["max_in_one_year"]
    return [[str(k), pct(a, 2), pct(b, 2), pct(c, 2)]
            for k, (a, b, c) in enumerate(zip(cc["distribution"], cc["independent_law"], same))]


def province_rows(s: dict, lang: str) -> list[list[str]]:
    """The province's other measures as [label, value] rows."""
    p = s["province"]
    q = p["money_share_of_revenue_peak"]
    t = p["transfers_share_of_revenue_peak"]
    c3 = p["concentration_top3"]
    corr = p["call_correlation_mean"]
    rev = p["revenue_by_year"]
    path = p.get("revenue_path")
    growth = rev[1] / rev[0] - 1 if len(rev) > 1 and rev[0] else None
    fan = None if path is None else path["fan"]
    extra = [] if fan is None else [[word("revenue_p5", lang), " / ".join(
        f"{fan[k][-1] / 1e8:,.1f}" for k in ("p5", "mean", "p95")) + " 亿元"]]
    return [
        [word("revenue", lang), f"{_yi(rev[0] if rev else None)}; {pct(growth)}; {pct(path['vol'] if path else 0.0)}"],
        *extra,
        [word("money_vs_revenue", lang), pct(p["government_money_pv"]["expected"] / rev[0] if rev else None, 3)],
        [word("p_any", lang), pct(p["p_any_call"])],
        [word("p_any_material", lang), pct(p["p_any_material_call"])],
        [word("share_rev", lang), " / ".join(pct(q.get(k), 3) for k in ("p50", "p95", "p99"))],
        [word("share_transfers", lang), " / ".join(pct(t.get(k), 3) for k in ("p50", "p95", "p99"))],
        [word("top3", lang), f"{pct(c3['hidden_debt_pv'])} / {pct(c3['total_fiscal_cost_pv'])}"],
        [word("corr", lang), "—" if corr is None else f"{corr:.2f}"],
    ]


def province_title(s: dict, lang: str) -> str:
    """``Province portfolio: NAME`` (省级组合), with the stress overlay every city ran under, if any."""
    title = f"{word('title', lang)}: {s['portfolio']['name']}"
    if s["run"].get("stress"):
        title += text("term.stress", "zh" if lang == "zh" else "en", stress=s["run"]["stress"])
    return title


def print_province(result, console, lang: str | None = None) -> None:
    """The province's terminal table: one row per city and the province total."""
    from rich.table import Table

    lang = lang_of(lang)
    s = result.summary
    t = Table(title=province_title(s, lang))
    for h in city_head(lang)[:5] + city_head(lang)[9:10]:
        t.add_column(h, justify="right")
    for r in city_rows(s, unit=False):
        t.add_row(*(r[:5] + r[9:10]))
    console.print(t)
    for k, v in province_rows(s, lang):
        console.print(f"{k}: {v}", highlight=False)


# ------------------------------------------------------------------------------------------ charts
def calls_by_city_chart(ax, s: dict, lang: str = DEFAULT_LANG):
    """Bars: P(call) per city (± 1 SE)."""
    from matplotlib.ticker import PercentFormatter

    rows = s["cities"]
    ax.bar(range(len(rows)), [r["p_call"] for r in rows], yerr=[r["p_call_se"] or 0 for r in rows], color="#c44e52")
    ax.set_xticks(range(len(rows)), [pl.safe_text(r["city"], f"city {k}") for k, r in enumerate(rows)], rotation=45,
                  ha="right")
    ax.set_ylabel(pl.label("P(hidden-debt call)", "隐性债务代偿概率", lang))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    return ax


def count_chart(ax, s: dict, lang: str = DEFAULT_LANG):
    """Bars: the distribution of the number of cities called, simulated beside the independent law; a line: the
    most cities called in one year."""
    from matplotlib.ticker import PercentFormatter

    cc = s["province"]["cities_called"]
    same = s["province"]["cities_called_same_year"]["max_in_one_year"]
    k = range(len(cc["distribution"]))
    ax.bar([x - 0.2 for x in k], cc["distribution"], width=0.4, label=pl.label("simulated, in the horizon", "模拟(期内)", lang))
    ax.bar([x + 0.2 for x in k], cc["independent_law"], width=0.4, label=pl.label("if independent", "若相互独立", lang))
    ax.plot(list(k), same, "k.-", lw=1, label=pl.label("simulated, most in one year", "模拟(同一年最多)", lang))
    ax.set_xticks(list(k))
    ax.set_xlabel(pl.label("number of cities called", "被代偿城市数", lang))
    ax.set_ylabel(pl.label("probability", "概率", lang))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.legend()
    return ax


#: the province's charts: file name → drawing function
CHARTS: dict[str, Callable] = {"province_calls_by_city.png": calls_by_city_chart,
                               "province_cities_called.png": count_chart}


def write_province_charts(result, folder: str | Path, lang: str = DEFAULT_LANG) -> list[Path]:
    """``charts/province_*.png`` (150 dpi), labels in ``lang``."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(folder) / "charts"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with matplotlib.rc_context(pl.font_rc()):
        for name, draw in CHARTS.items():
            pl.save_png(out / name, (7.5, 4.0), functools.partial(draw, s=result.summary,
                                                                  lang=pl.chart_lang(lang)))
            written.append(out / name)
    return written


# ------------------------------------------------------------------------------------------ html
def html_province_section(s: dict, img: Callable[..., str], lang: str) -> list[str]:
    """The section of report.html on the province: the cities table, the province's measures, the counts."""
    return [
        f"<h2>{_e(word('h_cities', lang))}</h2>", _table(city_rows(s), city_head(lang), cls="province"),
        img("province_calls_by_city.png", "P(call) by city", word("p_call", lang)),
        f"<h2>{_e(word('h_province', lang))}</h2>", _table(province_rows(s, lang)),
        f"<h2>{_e(word('h_count', lang))}</h2>",
        _table(count_rows(s), [word(k, lang) for k in ("n_called", "p_sim", "p_ind", "p_year")]),
        img("province_cities_called.png", "cities called", word("h_count", lang)),
    ]


def render_province_html(result, chart_dir: str | Path, lang: str = DEFAULT_LANG) -> str:
    """The province's report page in ``lang``, charts embedded."""
    s = result.summary
    title = province_title(s, lang)

    def img(name: str, alt: str, caption: str) -> str:
        return _img(Path(chart_dir), name, alt, caption)

    run = s["run"]
    head = ["<!DOCTYPE html>", f'<html lang="{HTML_LANG[lang]}"><head><meta charset="utf-8">',
            f"<title>{_e(title)}</title><style>{_CSS}{PROVINCE_CSS}</style></head><body>", f"<h1>{_e(title)}</h1>",
            f'<p class="sub">{_e(word("paths", lang))}: {run["paths"]:,}, {run["seed"]}</p>']
    notes = [f"<p>{_e(s['portfolio']['notes'])}</p>"] if s["portfolio"].get("notes") else []
    return "\n".join(head + notes + html_province_section(s, img, lang) + ["</body></html>"])


def write_province_html(result, folder: str | Path, lang: str = DEFAULT_LANG) -> Path:
    folder = Path(folder)
    if not (folder / "charts" / "province_cities_called.png").exists():
        write_province_charts(result, folder, lang)
    path = folder / "report.html"
    path.write_text(render_province_html(result, folder / "charts", lang), encoding="utf-8")
    return path


def province_writers(lang: str | None = None) -> tuple[Callable, ...]:
    """Writers ``f(result, tmp_dir)`` for :meth:`PortfolioResult.save`: charts, then report.html."""
    lang = lang_of(lang)
    return tuple(functools.partial(w, lang=lang) for w in (write_province_charts, write_province_html))
