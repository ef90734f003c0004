"""What the answer rests on: the waterfall chart and table of an attribution (analysis/attribute.py), and its
section of report.html. Render only: the numbers are the attribution's."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from baozhang_finance.report.charts import font_rc
from baozhang_finance.report.format import DEFAULT_LANG, pct, pick, wan
from baozhang_finance.report.sensitivity import _figure, _save

MEASURE_LABEL = {"p_call": ("P(material hidden-debt call)", "重大隐性债务触发概率"),
                 "expected_pv": ("E[PV of material calls]", "重大隐性债务现值期望")}
ATTRIBUTION_FILE = "attribute.json"


def _fmt(measure: str, x: float | None) -> str:
    return pct(x) if measure == "p_call" else wan(x)


def _label(row: dict, lang: str) -> str:
    return pick(row.get("label_en", row.get("step", "")), row.get("label_zh", ""), lang)


def plot_attribution(att: dict, measure: str, ax=None, lang: str = DEFAULT_LANG):
    """Waterfall from the legacy preset to the scenario (bars = the step of each factor, in order) beside the
    order-free Shapley contribution of each factor (dots). ``att``: the content of attribute.json."""
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.figure(figsize=(9, 4.5)).subplots()
    steps, factors = att["waterfall"], att["factors"]
    scale = 1.0 if measure == "p_call" else 1e4
    prev = steps[0][f"{measure}_after"] / scale
    labels = [pick("legacy", "旧版", lang)]
    ax.bar(0, prev, color="#888888")
    for i, (st, f) in enumerate(zip(steps[1:], factors), start=1):
        now = st[f"{measure}_after"] / scale
        ax.bar(i - 0.15, now - prev, width=0.5, bottom=prev, color="#2b8cbe" if now < prev else "#e34a33")
        ax.bar(i + 0.25, f[f"{measure}_shapley"] / scale, width=0.25, bottom=prev, color="none", edgecolor="black",
               hatch="//")
        labels.append(st["step"])
        prev = now
    ax.bar(len(steps), prev, color="#444444")
    labels.append(pick("scenario", "本方案", lang))
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    en, zh = MEASURE_LABEL[measure]
    unit = "" if measure == "p_call" else pick(" (10k yuan)", "(万元)", lang)
    ax.set_ylabel(pick(en, zh, lang) + unit)
    ax.set_title(pick("From the legacy preset to the scenario: waterfall step (solid), Shapley share (hatched)",
                      "从旧版约定到本方案: 逐步变化(实心), Shapley 贡献(斜线)", lang), fontsize=9)
    return ax


def attribution_charts(att: dict, folder: Path, lang: str = DEFAULT_LANG) -> list[Path]:
    """attribute_<measure>.png for both measures, into ``folder``."""
    import matplotlib

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    with matplotlib.rc_context(font_rc()):
        for m in MEASURE_LABEL:
            fig = _figure((9, 4.8))
            plot_attribution(att, m, ax=fig.subplots(), lang=lang)
            path = folder / f"attribute_{m}.png"
            _save(fig, path)
            out.append(path)
    return out


def attribution_writer(lang: str = DEFAULT_LANG):
    """Extra writer of an AttributionResult: its charts beside attribute.json."""
    def write(result, folder: Path) -> None:
        att = {**result.settings, "factors": result.table.to_dict(orient="records"),
               "waterfall": result.waterfall.to_dict(orient="records")}
        attribution_charts(att, folder, lang)

    return write


def load(run_dir: str | Path) -> dict | None:
    p = Path(run_dir) / ATTRIBUTION_FILE
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None


SHORT = {"p_call": ("P(call)", "触发概率"), "expected_pv": ("E[PV]", "现值期望")}


def table_rows(att: dict, lang: str = DEFAULT_LANG, short: bool = False) -> tuple[list[str], list[list[str]]]:
    """Header and rows: factor, then one-at-a-time / waterfall / Shapley for each measure (``short`` headers for
    the terminal)."""
    head = [pick("convention", "约定", lang)]
    for m in MEASURE_LABEL:
        head += [f"{pick(*(SHORT if short else MEASURE_LABEL)[m], lang)}: {pick(k, z, lang)}"
                 for k, z in (("1 at a time", "单项"), ("step", "逐步"), ("Shapley", "Shapley"))]
    rows = []
    for f in att["factors"]:
        r = [f["factor"] if short else _label(f, lang)]
        for m in MEASURE_LABEL:
            r += [_fmt(m, f[f"{m}_{k}"]) for k in ("one_at_a_time", "waterfall", "shapley")]
        rows.append(r)
    return head, rows


def html_section(att: dict | None, img, lang: str = DEFAULT_LANG) -> list[str]:
    """The report.html section "What the answer rests on" (nothing when no attribution was run)."""
    if not att:
        return []
    e = html.escape
    head, rows = table_rows(att, lang)
    leg, sc = att["legacy"], att["scenario"]
    intro = pick(f"On common random numbers ({att['paths']} paths, seed {att['seed']}), each convention is switched "
                 f"from the legacy preset to the scenario's setting: P(call) {pct(leg['p_call'])} → {pct(sc['p_call'])}, "
                 f"E[PV] {wan(leg['expected_pv'])} → {wan(sc['expected_pv'])}. The Shapley column is order-free and sums "
                 "to the total change.",
                 f"在相同随机数下({att['paths']} 条路径, 种子 {att['seed']}), 逐项把约定从旧版切换为本方案设置: 触发概率 "
                 f"{pct(leg['p_call'])} → {pct(sc['p_call'])}, 现值期望 {wan(leg['expected_pv'])} → {wan(sc['expected_pv'])}。"
                 "Shapley 列与顺序无关, 合计等于总变化。", lang)
    parts = [f"<h2>{e(pick('What the answer rests on', '结论取决于什么', lang))}</h2>", f"<p>{e(intro)}</p>",
             "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
    parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows]
    parts.append("</table>")
    for m in MEASURE_LABEL:
        parts.append(img(f"attribute_{m}.png", m, pick(*MEASURE_LABEL[m], lang)))
    return parts


def attribution_summary(att: dict) -> dict[str, Any]:
    """The totals of an attribution (for a terminal line)."""
    return {"legacy": att["legacy"], "scenario": att["scenario"], "total_change": att["total_change"]}
