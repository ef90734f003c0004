"""Fit report of a calibration: charts on the ax they are given, and a self-contained HTML section / page.

Charts: :func:`moments_chart` (data vs fitted monthly mean and sd of each driver), :func:`qq_chart` (residual
quantiles against the normal), :func:`acf_chart` (autocorrelation of the residuals, with ±1.96/√n bands: the
engine assumes none for the log-normal drivers). :func:`calibration_section` returns an HTML ``<section>`` with
the charts embedded as base64 PNG and the table of estimates with their SEs; :func:`calibration_page` wraps it
in a page. Rendering only: the caller writes the files.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np


def moments_chart(ax, cal):
    """Monthly sd of each driver's changes in the data vs the fitted model (√12-scaled vol / √12)."""
    names = [n for n in cal.residuals if n in cal.fitted]
    data_sd = [float(np.std(cal.residuals[n], ddof=1)) if "data_sd_m" not in cal.fitted[n]
               else cal.fitted[n]["data_sd_m"] for n in names]
    fit_sd = [float(np.std(cal.residuals[n], ddof=1)) for n in names]
    x = np.arange(len(names))
    ax.bar(x - 0.2, data_sd, 0.4, label="data: sd of changes")
    ax.bar(x + 0.2, fit_sd, 0.4, label="model: sd of innovations")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_title("data vs fitted: spread per period")
    ax.legend(fontsize=8)
    return ax


def qq_chart(ax, resid, name: str = ""):
    """Normal QQ plot of standardised residuals."""
    from scipy import stats
    r = np.asarray(resid, dtype=float)
    z = (r - r.mean()) / r.std(ddof=1)
    (osm, osr), (slope, icpt, _) = stats.probplot(z, dist="norm")
    ax.plot(osm, osr, ".", ms=3)
    ax.plot(osm, slope * np.asarray(osm) + icpt, lw=1)
    ax.set_title(f"QQ {name}", fontsize=9)
    ax.set_xlabel("normal quantile", fontsize=8)
    return ax


def acf_chart(ax, resid, name: str = "", lags: int = 12):
    """Autocorrelation of residuals at lags 1..``lags`` with the ±1.96/√n band."""
    from statsmodels.tsa.stattools import acf

    r = np.asarray(resid, dtype=float)
    a = acf(r, nlags=min(lags, len(r) - 2), fft=False)[1:]
    ax.bar(np.arange(1, len(a) + 1), a, width=0.6)
    band = 1.96 / np.sqrt(len(r))
    ax.axhline(band, ls="--", lw=0.8, c="grey")
    ax.axhline(-band, ls="--", lw=0.8, c="grey")
    ax.set_ylim(-1, 1)
    ax.set_title(f"ACF {name}", fontsize=9)
    return ax


def fit_figure(cal):
    """One figure (matplotlib ``Figure``): the moments chart, then a QQ and an ACF panel per fitted driver."""
    from matplotlib.figure import Figure
    names = list(cal.residuals)
    fig = Figure(figsize=(10, 2.4 * (len(names) + 1)))
    gs = fig.add_gridspec(len(names) + 1, 2)
    moments_chart(fig.add_subplot(gs[0, :]), cal)
    for i, n in enumerate(names, start=1):
        qq_chart(fig.add_subplot(gs[i, 0]), cal.residuals[n], n)
        acf_chart(fig.add_subplot(gs[i, 1]), cal.residuals[n], n)
    fig.tight_layout()
    return fig


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def calibration_section(cal, png: bytes | None = None) -> str:
    """An HTML ``<section>`` (self-contained: the chart is embedded) with the estimates, SEs and notes."""
    png = png if png is not None else figure_png(fit_figure(cal))
    e = html.escape
    rows = "".join(
        f"<tr><td><code>{e(k)}</code></td><td>{v.value:.6g}</td><td>{'' if v.se is None else f'{v.se:.3g}'}</td>"
        f"<td>{v.n or ''}</td><td>{e(v.how)}</td></tr>" for k, v in cal.params.items())
    notes = "".join(f"<li>{e(n)}</li>" for n in cal.notes)
    brk = ""
    if cal.break_info:
        b = cal.break_info
        brk = (f"<p>House-price break (房价拐点) at <b>{e(b['date'])}</b>, 95 % interval {e(b['ci'][0])} – "
               f"{e(b['ci'][1])}, sup-F {b['sup_f']:.1f}.</p>")
    img = base64.b64encode(png).decode()
    return (f"<section id='calibration'><h2>Market calibration 市场参数校准 — {e(cal.city or '')}</h2>"
            f"<p>Data {e(cal.source)}, window {e(cal.window[0])} – {e(cal.window[1])}.</p>{brk}"
            "<table border='1' cellspacing='0' cellpadding='3'><tr><th>field</th><th>estimate</th><th>SE</th>"
            f"<th>n</th><th>how</th></tr>{rows}</table><ul>{notes}</ul>"
            f"<img alt='fit diagnostics' src='data:image/png;base64,{img}'/></section>")


def calibration_page(cal, png: bytes | None = None) -> str:
    """A whole self-contained HTML page holding :func:`calibration_section`."""
    return ("<!doctype html><html><head><meta charset='utf-8'><title>calibration</title></head><body>"
            + calibration_section(cal, png) + "</body></html>")
