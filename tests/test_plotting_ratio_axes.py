"""Fan charts of ratios keep decimal tick labels (an LTV between 0.3 and 0.7 is not labelled 0, 0, 0, 1)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from baozhang_finance.report import charts as pl  # noqa: E402


def _yearly(quantity: str, values: list[float]) -> pd.DataFrame:
    return pd.DataFrame([{"year": i + 1, "calendar_year": 2025 + i, "quantity": quantity, "n": 10,
                          "p05": v - 0.1, "p25": v - 0.05, "p50": v, "p75": v + 0.05, "p95": v + 0.1}
                         for i, v in enumerate(values)])


def _ticks(ax) -> list[str]:
    ax.figure.canvas.draw()
    return [t.get_text() for t in ax.get_yticklabels() if t.get_text()]


def test_ltv_fan_has_decimal_ticks():
    fig, ax = plt.subplots()
    pl.fan_chart(ax, _yearly("ltv", [0.5, 0.45, 0.4]), "ltv")
    labels = _ticks(ax)
    plt.close(fig)
    assert len(set(labels)) == len(labels) >= 3, labels  # 万元 formatting rounded them all to 0 and 1
    assert any("." in t for t in labels), labels


def test_money_fan_keeps_wan_formatting():
    fig, ax = plt.subplots()
    pl.fan_chart(ax, _yearly("cash_balance", [2.0e7, 2.5e7, 3.0e7]), "cash_balance")
    labels = _ticks(ax)
    plt.close(fig)
    assert any("," in t for t in labels), labels  # 2,000 … 3,000 万元
