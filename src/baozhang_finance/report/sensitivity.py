"""Charts of the sensitivity analyses: sweep, tornado and Sobol bars (each takes an ``ax`` and returns it), and the
extra writers that put them into an analysis's output folder (``result.save(out, extra_writers=[...])``).

Chart text comes from the output catalogue (``text.chart.*``, ``metric.*``) in ``lang`` (zh | en | both, the
default). Without a CJK font (:func:`report.charts.cjk_font`) the charts are English and the inputs' Chinese
names are removed (:func:`plain`) — never tofu boxes; tables and CSV files keep the Chinese terms. The writers draw
on a :class:`matplotlib.figure.Figure` of their own (no pyplot state, any backend).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from typing import TYPE_CHECKING as _TC  # noqa: E402
if _TC:  # pandas is imported where used (start-up time)
    import pandas as pd

from baozhang_finance.measures.catalogue import CATALOGUE
from baozhang_finance.measures.metrics import Z95
from baozhang_finance.report.charts import chart_lang, chart_text, font_rc
from baozhang_finance.report.format import DEFAULT_LANG, pick


def _ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt  # matplotlib imported where used (start-up speed)

        _, ax = plt.subplots(figsize=(7, 4.5))
    return ax


def plot_sweep(table: pd.DataFrame, metric: str = "p_call", ax=None, band: float = Z95, lang: str = DEFAULT_LANG):
    """Metric against the swept value, with a ± 1.96 SE band (95 % CI of each level). Returns the Axes."""
    ax = _ax(ax)
    x = table["value"].to_numpy(float)
    y = table[metric].to_numpy(float)
    se = table[f"{metric}_se"].to_numpy(float)
    ax.plot(x, y, marker="o", color="C0")
    if np.any(se > 0):
        ax.fill_between(x, y - band * se, y + band * se, color="C0", alpha=0.2, label=chart_text("ci95", lang))
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(str(table["field"].iloc[0]))
    ax.set_ylabel(_metric_label(metric, lang))
    ax.grid(alpha=0.3)
    return ax


def plot_tornado(table: pd.DataFrame, metric: str = "p_call", ax=None, top: int | None = 15,
                 lang: str = DEFAULT_LANG):
    """Tornado: for each input, the metric at its low (blue) and high (orange) value relative to the base run,
    largest swing on top. Returns the Axes."""
    ax = _ax(ax)
    df = table.sort_values(f"{metric}_swing", ascending=False, kind="mergesort")
    if top:
        df = df.head(top)
    df = df.iloc[::-1]
    base = float(df[f"{metric}_base"].iloc[0]) if len(df) else 0.0
    y = np.arange(len(df))
    lo = df[f"{metric}_low"].to_numpy(float) - base
    hi = df[f"{metric}_high"].to_numpy(float) - base
    ax.barh(y, lo, color="C0", label=chart_text("low", lang))
    ax.barh(y, hi, color="C1", alpha=0.8, label=chart_text("high", lang))
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{_name(lab, lang)}  [{_fmt(l)} … {_fmt(h)}]"
                        for lab, l, h in zip(df["label"], df["low"], df["high"])], fontsize=7)
    ax.set_xlabel(chart_text("change", lang, metric=_metric_label(metric, lang), base=_fmt(base)))
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_sobol(result, metric: str | None = None, ax=None, lang: str = DEFAULT_LANG):
    """Bars of first-order (S1) and total (ST) Sobol indices per group with their confidence intervals."""
    import pandas as pd
    ax = _ax(ax)
    table = result if isinstance(result, pd.DataFrame) else result.table
    metric = metric or str(table["metric"].iloc[0])
    df = table[table["metric"] == metric]
    x = np.arange(len(df))
    w = 0.38
    ax.bar(x - w / 2, df["S1"], w, yerr=df["S1_conf"], capsize=3, color="C0", label=chart_text("s1", lang))
    ax.bar(x + w / 2, df["ST"], w, yerr=df["ST_conf"], capsize=3, color="C1", label=chart_text("st", lang))
    ax.set_xticks(x)
    ax.set_xticklabels([_name(n, lang) for n in df["name"]], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(chart_text("sobol_y", lang, metric=_metric_label(metric, lang)))
    ax.axhline(0, color="k", lw=0.8)
    ax.legend(loc="best", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return ax


_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+")


def plain(text: str) -> str:
    """Chart text without Chinese characters (and the brackets they leave empty): matplotlib's default font has
    no CJK glyphs, so charts are labelled in English; tables and CSV files keep the Chinese terms."""
    out = _CJK.sub("", str(text))
    out = re.sub(r"\(\s*\)|（\s*）|\[\s*\]", "", out)
    return re.sub(r"\s{2,}", " ", out).strip(" -—·:;,")


def _name(text: str, lang: str) -> str:
    """An input's or group's name as a chart shows it: as it is with a CJK font, else :func:`plain`; in English
    the Chinese part is dropped too."""
    return plain(text) if chart_lang(lang) == "en" else str(text)


def _metric_label(metric: str, lang: str = "en") -> str:
    """Chart label of a metric: its label in the output catalogue (measures/catalogue.py), English without a CJK
    font."""
    e = CATALOGUE.get(f"metric.{metric}")
    return metric if e is None else pick(e.en, e.zh, chart_lang(lang))


def _fmt(v: float) -> str:
    v = float(v)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3g}"
    return f"{v:.4g}"


# ---------------------------------------------------------------------------------------------- writers
def _figure(figsize):
    from matplotlib.figure import Figure  # matplotlib imported where used (start-up speed)

    return Figure(figsize=figsize)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=130)


def sweep_chart(result, folder: Path, lang: str = DEFAULT_LANG) -> None:
    """Extra writer of a SweepResult: sweep.png, one panel per metric against the swept value."""
    import matplotlib  # matplotlib imported where used (start-up speed)

    names = result.metrics
    with matplotlib.rc_context(font_rc()):
        fig = _figure((7, 2.6 * len(names)))
        axes = fig.subplots(len(names), 1, squeeze=False, sharex=True)
        for ax, m in zip(axes[:, 0], names):
            plot_sweep(result.table, m, ax=ax, lang=lang)
        _save(fig, folder / "sweep.png")


def tornado_charts(top: int | None = 15, lang: str = DEFAULT_LANG):
    """Extra writer of a TornadoResult: tornado_<metric>.png per metric, the ``top`` largest swings."""
    def write(result, folder: Path) -> None:
        import matplotlib  # matplotlib imported where used (start-up speed)

        df = result.table
        with matplotlib.rc_context(font_rc()):
            for m in result.metrics:
                fig = _figure((9, 0.35 * min(len(df) if top is None else top, len(df)) + 1.8))
                plot_tornado(df, m, ax=fig.subplots(), top=top, lang=lang)
                _save(fig, folder / f"tornado_{m}.png")

    return write


def sobol_charts(result, folder: Path, lang: str = DEFAULT_LANG) -> None:
    """Extra writer of a SobolResult: sobol_<metric>.png per metric."""
    import matplotlib  # matplotlib imported where used (start-up speed)

    with matplotlib.rc_context(font_rc()):
        for m in result.metrics:
            fig = _figure((8, 4.5))
            plot_sobol(result, m, ax=fig.subplots(), lang=lang)
            _save(fig, folder / f"sobol_{m}.png")
