"""Metrics: the named numbers a sweep, tornado, Sobol run or solver constraint reads off a Result, each with its
Monte Carlo standard error (``value, se = METRICS[name](result)``).

A metric reads a :class:`~baozhang_finance.run.result.Result` and never simulates. Probabilities carry the
binomial SE √(p(1 − p)/N), means s/√N, quantiles a distribution-free order-statistic SE
(:func:`quantile_with_se`). Table of all metrics: docs/sensitivity.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from baozhang_finance.measures.bank import min_bank_dscr, path_lgd
from baozhang_finance.model.scenario import ScenarioError

#: two-sided 95 % normal quantile used for the order-statistic standard error of a quantile
Z95 = 1.959963984540054


def _prob(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, dtype=bool)
    n = x.size
    if n == 0:
        return float("nan"), float("nan")
    p = float(x.mean())
    return p, math.sqrt(max(p * (1 - p), 0.0) / n)


def _mean(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), 0.0
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def quantile_with_se(x: np.ndarray, q: float) -> tuple[float, float]:
    """Sample quantile (linear interpolation, numpy's default) and a distribution-free standard error.

    The 95 % confidence interval of the q-quantile is [x_(j), x_(k)] with j, k = n q ∓ 1.96 √(n q (1 − q))
    (binomial count of observations below the quantile); SE ≈ (x_(k) − x_(j)) / (2 × 1.96). NaNs are dropped
    (e.g. an undefined IRR); +∞ is kept (a minimum DSCR with no debt service): a quantile that touches it is
    +∞, and so is an SE whose interval does. One observation has SE 0.
    """
    x = np.asarray(x, dtype=float)
    x = np.sort(x[~np.isnan(x)])
    n = x.size
    if n == 0:
        return float("nan"), float("nan")
    pos = q * (n - 1)
    i = int(math.floor(pos))
    frac = pos - i
    j1 = min(i + 1, n - 1)
    if frac == 0 or x[i] == x[j1]:
        value = float(x[i])
    elif np.isinf(x[j1]) or np.isinf(x[i]):
        value = float(x[j1]) if np.isinf(x[j1]) else float(x[i])
    else:
        value = float(x[i] + frac * (x[j1] - x[i]))
    if n == 1:
        return value, 0.0
    half = Z95 * math.sqrt(n * q * (1 - q))
    j = int(np.clip(math.floor(n * q - half), 0, n - 1))
    k = int(np.clip(math.ceil(n * q + half), 0, n - 1))
    if x[k] == x[j]:
        return value, 0.0
    return value, float((x[k] - x[j]) / (2 * Z95))


def _min_dscr(x: np.ndarray) -> np.ndarray:
    """A path with no debt service to cover has an unbounded minimum DSCR: NaN → +∞ (it never breaches)."""
    x = np.asarray(x, dtype=float)
    return np.where(np.isnan(x), np.inf, x)


@dataclass(frozen=True)
class Metric:
    """One output of a run: ``value, se = metric(result)``."""

    name: str
    label: str
    unit: str
    fn: Callable[[Any], tuple[float, float]]
    is_probability: bool = False

    def __call__(self, result) -> tuple[float, float]:
        return self.fn(result)


def _col(result, name: str) -> np.ndarray:
    return result.paths[name].to_numpy()


def _expected_loss(result) -> tuple[float, float]:
    if result.plan.L == 0:
        return 0.0, 0.0
    loss = np.where(_col(result, "default").astype(bool), path_lgd(result) * _col(result, "ead").astype(float), 0.0)
    return _mean(loss)


def _bank_dscr(result) -> np.ndarray:
    """Minimum bank DSCR per path over the bank lens's test window (+∞ without bank service in it)."""
    if result.plan.L == 0:
        return np.full(len(result.paths), np.inf)
    return _min_dscr(min_bank_dscr(result))


def _all_years(result) -> str:
    """Column of the every-year programme DSCR (``dscr_min`` itself in runs saved before it was windowed)."""
    return "dscr_min_all_years" if "dscr_min_all_years" in result.paths else "dscr_min"


def _below_1(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return np.where(np.isnan(x), False, x < 1.0)


#: every metric a sweep, tornado, Sobol run or solver constraint can use
METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("p_call", "P(hidden-debt call) 隐性债务触发概率", "probability",
           lambda r: _prob(_col(r, "hidden_call")), True),
    Metric("hidden_debt_pv", "expected hidden-debt PV 隐性债务现值期望", "yuan",
           lambda r: _mean(_col(r, "hidden_debt_pv"))),
    Metric("p_dscr_below_1", "P(min bank DSCR < 1), bank lens test window", "probability",
           lambda r: _prob(_below_1(_bank_dscr(r))), True),
    Metric("p_total_dscr_below_1", "P(min DSCR < 1), bank + bond service (refinanced principal excluded), operating window", "probability",
           lambda r: _prob(_below_1(_min_dscr(_col(r, "dscr_min")))), True),
    Metric("p_dscr_all_years_below_1", "P(min DSCR < 1), bank + bond service (refinanced principal excluded), every year", "probability",
           lambda r: _prob(_below_1(_min_dscr(_col(r, _all_years(r))))), True),
    Metric("bank_dscr_min_p05", "min bank DSCR, 5th percentile", "ratio",
           lambda r: quantile_with_se(_bank_dscr(r), 0.05)),
    Metric("bank_dscr_min_p50", "min bank DSCR, median", "ratio",
           lambda r: quantile_with_se(_bank_dscr(r), 0.50)),
    Metric("dscr_min_p05", "min DSCR (bank + bonds, operating window), 5th percentile", "ratio",
           lambda r: quantile_with_se(_min_dscr(_col(r, "dscr_min")), 0.05)),
    Metric("dscr_min_p50", "min DSCR (bank + bonds, operating window), median", "ratio",
           lambda r: quantile_with_se(_min_dscr(_col(r, "dscr_min")), 0.50)),
    Metric("dscr_min_all_years_p50", "min DSCR (bank + bonds, every year), median", "ratio",
           lambda r: quantile_with_se(_min_dscr(_col(r, _all_years(r))), 0.50)),
    Metric("pd", "PD over the loans' life (with SOE support) 违约概率(含国企支持)", "probability",
           lambda r: _prob(_col(r, "default")), True),
    Metric("expected_loss", "bank expected loss 预期损失", "yuan", _expected_loss),
    Metric("equity_irr_p50", "equity IRR, median 资本金内部收益率", "rate",
           lambda r: quantile_with_se(_col(r, "equity_irr"), 0.50)),
    Metric("equity_irr_p05", "equity IRR, 5th percentile", "rate",
           lambda r: quantile_with_se(_col(r, "equity_irr"), 0.05)),
    Metric("equity_npv_p50", "equity NPV, median", "yuan",
           lambda r: quantile_with_se(_col(r, "equity_npv"), 0.50)),
    Metric("p_self_financing", "P(self-financing, no support at all)", "probability",
           lambda r: _prob(_col(r, "self_financing")), True),
    Metric("p_bond_call", "P(explicit special-bond burden) 显性债务负担(专项债)概率", "probability",
           lambda r: _prob(_col(r, "explicit_bond_call")), True),
    Metric("bond_burden_pv", "expected explicit bond-burden PV", "yuan",
           lambda r: _mean(_col(r, "explicit_bond_burden_pv"))),
    Metric("soe_support_pv", "expected SOE-support PV 国企支持现值", "yuan",
           lambda r: _mean(_col(r, "soe_support_pv"))),
    Metric("peak_funding_need_p95", "peak funding need, 95th percentile", "yuan",
           lambda r: quantile_with_se(_col(r, "peak_funding_need"), 0.95)),
    Metric("llcr_p05", "LLCR per project (bank, lowest project), 5th percentile", "ratio",
           lambda r: quantile_with_se(_col(r, "llcr"), 0.05)),
)}

#: the metrics a sweep reports unless told otherwise
DEFAULT_SWEEP_METRICS = ("p_call", "hidden_debt_pv", "bank_dscr_min_p05", "pd", "equity_irr_p50")
#: the metrics a tornado ranks by
DEFAULT_TORNADO_METRICS = ("p_call", "hidden_debt_pv")


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise ScenarioError(f"metric {name!r}: unknown (metrics: {', '.join(METRICS)})") from None


def metric_values(result, metrics: Iterable[str]) -> dict[str, float]:
    """``{name: value, name_se: standard error}`` for each metric of a Result."""
    out: dict[str, float] = {}
    for name in metrics:
        v, se = get_metric(name)(result)
        out[name] = v
        out[f"{name}_se"] = se
    return out


def check_metrics(metrics: Iterable[str] | None, default: Iterable[str]) -> list[str]:
    """The metric names asked for (or ``default``), each checked to exist."""
    names = list(metrics) if metrics else list(default)
    for m in names:
        get_metric(m)
    return names
