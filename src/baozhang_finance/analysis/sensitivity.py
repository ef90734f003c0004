"""Sensitivity: one-field sweeps, one-at-a-time tornado, and grouped Sobol indices — all on common random numbers.

Every model evaluation here is a full :func:`~baozhang_finance.simulate.simulate` run of a changed scenario
with the **same seed and chunk size**, so every evaluation sees the same market shocks (common random numbers,
CRN): differences between evaluations come from the changed input, not from sampling noise. (CRN holds as long
as the changed input does not change how many random numbers a month draws — relending rollover dates and
switching ``relending_nonrenewal_prob`` between zero and non-zero do; nothing in the default input list does.)

Inputs are named by *field*: a dotted scenario path (``market.price_drift_annual``) or a balanced lever
(``grant[0]``, ``equity_share[0]``, ``rent_ratio[0]``, ``price[0]``, ``loan[0]``) — see
:mod:`baozhang_finance.overrides`. Outputs are named :data:`METRICS`, each with a Monte Carlo standard error.

* :func:`sweep` — metrics over a list of values of one field (table + :func:`plot_sweep`);
* :func:`tornado` — low/high of every uncertain input, one at a time, ranked by the swing of P(hidden-debt call)
  and expected hidden-debt PV (:func:`plot_tornado`); ranges from :func:`default_inputs` (documented in
  docs/sensitivity.md), overridable;
* :func:`sobol` — first-order and total Sobol indices of input *groups* (house prices, rents, rates, occupancy,
  sales, costs, plan) with bootstrap confidence intervals, through :func:`sobol_indices`, whose ``evaluate``
  is pluggable so the same code computes the indices of an analytic function (:func:`ishigami`)
  (:func:`plot_sobol`).

No printing and no file I/O here: the CLI writes tables and charts.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from baozhang_finance.measures.catalogue import CATALOGUE
from baozhang_finance.model.fields import apply_overrides, get_field, is_integer_field, lever_range, parse_lever
from baozhang_finance.model.scenario import Scenario, ScenarioError

# ============================================================================================== metrics
#: two-sided 95 % normal quantile used for the order-statistic standard error of a quantile
_Z95 = 1.959963984540054


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
    half = _Z95 * math.sqrt(n * q * (1 - q))
    j = int(np.clip(math.floor(n * q - half), 0, n - 1))
    k = int(np.clip(math.ceil(n * q + half), 0, n - 1))
    if x[k] == x[j]:
        return value, 0.0
    return value, float((x[k] - x[j]) / (2 * _Z95))


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
    from baozhang_finance.measures.bank import path_lgd

    if result.plan.L == 0:
        return 0.0, 0.0
    loss = np.where(_col(result, "default").astype(bool), path_lgd(result) * _col(result, "ead").astype(float), 0.0)
    return _mean(loss)


def _bank_dscr(result) -> np.ndarray:
    """Minimum bank DSCR per path over the bank lens's test window (+∞ without bank service in it)."""
    from baozhang_finance.measures.bank import min_bank_dscr

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
    Metric("p_total_dscr_below_1", "P(min DSCR < 1), bank + bond service, operating window", "probability",
           lambda r: _prob(_below_1(_min_dscr(_col(r, "dscr_min")))), True),
    Metric("p_dscr_all_years_below_1", "P(min DSCR < 1), bank + bond service, every year", "probability",
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
    Metric("pd", "PD over the loans' life (standalone) 违约概率", "probability",
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
    Metric("p_bond_call", "P(explicit special-bond burden) 专项债兜底概率", "probability",
           lambda r: _prob(_col(r, "explicit_bond_call")), True),
    Metric("bond_burden_pv", "expected explicit bond-burden PV", "yuan",
           lambda r: _mean(_col(r, "explicit_bond_burden_pv"))),
    Metric("soe_support_pv", "expected SOE-support PV 国企支持现值", "yuan",
           lambda r: _mean(_col(r, "soe_support_pv"))),
    Metric("peak_funding_need_p95", "peak funding need, 95th percentile", "yuan",
           lambda r: quantile_with_se(_col(r, "peak_funding_need"), 0.95)),
    Metric("llcr_p05", "LLCR, 5th percentile", "ratio",
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


# ============================================================================================== evaluation
@dataclass(frozen=True)
class RunSettings:
    """How every evaluation is simulated: the same seed and chunk size ⇒ the same draws (CRN)."""

    paths: int = 1000
    seed: int | None = None
    chunk_size: int | None = None
    stress: str | None = None
    deterministic: bool = False

    def resolved(self, scenario: Scenario) -> "RunSettings":
        return replace(self,
                       paths=1 if self.deterministic else int(self.paths),
                       seed=int(self.seed if self.seed is not None else scenario.simulation.seed),
                       chunk_size=int(self.chunk_size if self.chunk_size is not None else scenario.simulation.chunk_size))


def run_changed(scenario: Scenario, overrides: Mapping[str, Any], settings: RunSettings, project: int | None = None):
    """Simulate ``scenario`` with ``overrides`` applied, under ``settings``; returns the Result."""
    from baozhang_finance.run.simulate import simulate

    sc = apply_overrides(scenario, overrides, project=project) if overrides else scenario
    s = settings.resolved(scenario)
    return simulate(sc, paths=s.paths, seed=s.seed, chunk_size=s.chunk_size, stress=s.stress,
                    deterministic=s.deterministic)


def _metrics_of(scenario: Scenario, shared: tuple["RunSettings", list[str]]) -> dict[str, float]:
    """One evaluation of a design: simulate a (changed) scenario serially and return its metrics. Module-level so
    Dask can ship it; ``shared`` = (resolved settings, metric names) is shipped once per worker."""
    settings, names = shared
    return metric_values(run_changed(scenario, {}, settings), names)


def _evaluate_all(scenarios: Sequence[Scenario], settings: "RunSettings", names: list[str], client=None,
                  progress: Callable[[int, int], None] | None = None, labels: Sequence[str] | None = None):
    """Metrics of every scenario, in order: a plain loop, or fanned out over a Dask ``client``
    (:func:`baozhang_finance.dask_backend.map_scenarios`: one task per scenario, same numbers either way)."""
    from baozhang_finance.run.dask_backend import map_scenarios

    pos = {id(sc): k for k, sc in enumerate(scenarios)}
    label = (lambda sc: labels[pos[id(sc)]]) if labels is not None else None
    return map_scenarios(_metrics_of, list(scenarios), client, shared=(settings, list(names)), label=label,
                         progress=progress)


def _check_metrics(metrics: Sequence[str] | None, default: Sequence[str]) -> list[str]:
    names = list(metrics) if metrics else list(default)
    for m in names:
        get_metric(m)
    return names


# ============================================================================================== sweep
def sweep(scenario: Scenario, field: str, values: Sequence[Any], paths: int = 1000, seed: int | None = None,
          metrics: Sequence[str] | None = None, chunk_size: int | None = None, stress: str | None = None,
          deterministic: bool = False, project: int | None = None,
          progress: Callable[[int, int], None] | None = None, client=None) -> pd.DataFrame:
    """Metrics of the scenario with ``field`` set to each of ``values`` (same seed and shocks for every value).

    ``client``: a ``distributed.Client`` fans the values out over Dask (one simulation per value); the numbers
    are the same as the serial loop's.

    Returns a DataFrame with columns ``field``, ``value``, then each metric and ``<metric>_se``, one row per
    value in the order given. A value the scenario refuses raises :class:`ScenarioError` naming it.
    """
    if not len(values):
        raise ScenarioError(f"sweep {field}: no values given")
    names = _check_metrics(metrics, DEFAULT_SWEEP_METRICS)
    settings = RunSettings(paths=paths, seed=seed, chunk_size=chunk_size, stress=stress, deterministic=deterministic)
    get_field(scenario, _lever_field(field, project))  # fail early on a bad field
    # validate every value before simulating any
    changed = [apply_overrides(scenario, {field: v}, project=project) for v in values]
    vals = _evaluate_all(changed, settings.resolved(scenario), names, client, progress,
                         labels=[f"{field}={v}" for v in values])
    return pd.DataFrame([{"field": field, "value": v, **m} for v, m in zip(values, vals)])


def _lever_field(field: str, project: int | None) -> str:
    lev = parse_lever(field, project)
    return f"{lev[0]}[{lev[1]}]" if lev else field


# ============================================================================================== inputs
@dataclass(frozen=True)
class Input:
    """An uncertain input: a field with a low and a high value, and the group it belongs to (Sobol)."""

    field: str
    low: float
    high: float
    group: str
    label: str
    base: float | None = None
    basis: str = ""
    integer: bool = False


#: Sobol groups, in report order
GROUPS = ("house prices", "rents", "rates", "occupancy", "sales & buybacks", "costs", "plan")


def _rel(base: float, rel: float) -> tuple[float, float]:
    return base * (1 - rel), base * (1 + rel)


def _absolute(base: float, width: float, lo_bound: float = -math.inf, hi_bound: float = math.inf) -> tuple[float, float]:
    return max(base - width, lo_bound), min(base + width, hi_bound)


def default_inputs(scenario: Scenario, rel: float = 0.2) -> list[Input]:
    """The uncertain inputs of a scenario with their default low/high values (docs/sensitivity.md).

    Volatilities, prices, rents, costs, absorption, buyback hazards, grants and equity: ± ``rel`` (20 %) of
    the scenario's value. Drifts and rates move by absolute amounts the domain facts support: house-price
    drifts ± 2 pp a year (tier-3 prices −3.7 % y/y in 2025, weak cities −3 to −6 %), decline length ± 1 year,
    rent drift ± 1.5 pp (2024 rents −0.3 to −0.6 % a quarter), LPR ± 50 bp, CPI ± 1 pp, loan and relending
    rates ± 50 bp (SOE loans ≈ 2–3 % all-in), stabilised occupancy ± 5 pp (≈ 90 % market, > 95 % 保租房
    REITs), rent ratio ± 0.1 (seeds 0.8; 保租房 cap 0.9). Inputs at zero with a relative range are left out
    (nothing to vary), as are inputs of a driver whose volatility is zero only when the range would be empty.
    """
    if not 0 < rel < 1:
        raise ScenarioError(f"rel: the relative range must lie in (0, 1), got {rel}")
    m = scenario.market
    out: list[Input] = []

    def add(field: str, lohi: tuple[float, float], group: str, label: str, basis: str, integer: bool = False):
        base = get_field(scenario, field)
        lo, hi = lohi
        if integer:
            lo, hi = math.floor(lo), math.ceil(hi)
        if hi - lo <= 1e-15:
            return
        out.append(Input(field, float(lo), float(hi), group, label, float(base), basis, integer))

    R = f"± {rel:.0%}"
    # ---- market: house prices
    add("market.price_drift_annual", _absolute(m.price_drift_annual, 0.02), "house prices",
        "house-price drift 房价趋势", "± 2 pp/yr (facts §3)")
    add("market.price_vol_annual", _rel(m.price_vol_annual, rel), "house prices", "house-price volatility", R)
    if m.decline_years > 0:
        add("market.decline_drift_annual", _absolute(m.decline_drift_annual, 0.02), "house prices",
            "decline-regime drift 下行期房价", "± 2 pp/yr (facts §3: −3 to −6 %/yr)")
        add("market.decline_years", _absolute(m.decline_years, 1.0, 0.0), "house prices", "decline length, years",
            "± 1 year")
    # ---- rents
    add("market.rent_drift_annual", _absolute(m.rent_drift_annual, 0.015), "rents", "market-rent drift 租金趋势",
        "± 1.5 pp/yr (facts §3)")
    add("market.rent_vol_annual", _rel(m.rent_vol_annual, rel), "rents", "market-rent volatility", R)
    # ---- rates
    has_floating = any(l.rate_type == "floating" for p in scenario.projects for l in p.financing.loans)
    if has_floating:
        add("market.lpr_initial", _absolute(m.lpr_initial, 0.005, 0.0), "rates", "5-yr LPR at start", "± 50 bp")
        add("market.lpr_mean", _absolute(m.lpr_mean, 0.005, 0.0), "rates", "LPR long-run mean", "± 50 bp")
        add("market.lpr_vol_annual", _rel(m.lpr_vol_annual, rel), "rates", "LPR volatility", R)
    has_relending = any(l.relending is not None for p in scenario.projects for l in p.financing.loans)
    if has_relending and m.relending_nonrenewal_prob > 0:
        add("market.relending_nonrenewal_prob", _rel(m.relending_nonrenewal_prob, rel), "rates",
            "P(relending not renewed) 再贷款不续", R)
    # ---- costs (CPI drives opex)
    add("market.cpi_drift_annual", _absolute(m.cpi_drift_annual, 0.01), "costs", "CPI inflation", "± 1 pp/yr")
    # ---- occupancy / sales volatility
    if any(p.rental is not None for p in scenario.projects):
        add("market.occupancy_vol_annual", _rel(m.occupancy_vol_annual, rel), "occupancy", "occupancy volatility", R)
    if any(p.sale is not None for p in scenario.projects):
        add("market.absorption_vol_annual", _rel(m.absorption_vol_annual, rel), "sales & buybacks",
            "absorption volatility", R)

    for k, p in enumerate(scenario.projects):
        tag = f"[{k}] {p.name}"
        pre = f"projects[{k}]"
        if p.rental is not None:
            r = p.rental
            add(f"{pre}.rental.market_rent_yuan_per_m2_month", _rel(r.market_rent_yuan_per_m2_month, rel), "rents",
                f"market rent {tag}", R)
            add(f"rent_ratio[{k}]", _absolute(r.rent_ratio, 0.1, 0.01, 1.5), "plan", f"rent ratio 租金比例 {tag}",
                "± 0.1 (seeds 0.8; cap 0.9)")
            add(f"{pre}.rental.stabilised_occupancy", _absolute(r.stabilised_occupancy, 0.05, 0.01, 1.0), "occupancy",
                f"stabilised occupancy 出租率 {tag}", "± 5 pp (facts §3)")
            add(f"{pre}.rental.lease_up_months", _rel(r.lease_up_months, rel), "occupancy", f"lease-up months {tag}",
                R, integer=True)
            add(f"{pre}.rental.opex_yuan_per_m2_year", _rel(r.opex_yuan_per_m2_year, rel), "costs",
                f"operating cost {tag}", R)
        if p.sale is not None:
            s = p.sale
            add(f"{pre}.sale.absorption_monthly", _rel(s.absorption_monthly, rel), "sales & buybacks",
                f"absorption 去化速度 {tag}", R)
            if s.buyback is not None:
                add(f"{pre}.sale.buyback.hazard_annual", _rel(s.buyback.hazard_annual, rel), "sales & buybacks",
                    f"buyback hazard 回购 {tag}", R)
            add(f"{pre}.sale.holding_cost_yuan_per_m2_year", _rel(s.holding_cost_yuan_per_m2_year, rel), "costs",
                f"holding cost {tag}", R)
        if p.financing.loans and p.acquisition_price_yuan_per_m2 > 0:
            lo, hi = _rel(p.acquisition_price_yuan_per_m2, rel)
            plo, phi = lever_range(scenario, "price", k)
            add(f"price[{k}]", (max(lo, plo), min(hi, phi)), "plan", f"acquisition price 收购价 {tag}",
                R + ", loan balances")
        if p.financing.loans:
            from baozhang_finance.model.fields import capital_grants_yuan

            g = capital_grants_yuan(scenario, k)
            if g > 0:
                glo, ghi = lever_range(scenario, "grant", k)
                lo, hi = _rel(g, rel)
                add(f"grant[{k}]", (max(lo, glo), min(hi, ghi)), "plan", f"capital grant 补助 {tag}",
                    R + ", loan balances")
            if p.financing.equity_yuan > 0:
                from baozhang_finance.model.fields import lever_value

                e = lever_value(scenario, "equity_share", k)
                elo, ehi = lever_range(scenario, "equity_share", k)
                lo, hi = _rel(e, rel)
                add(f"equity_share[{k}]", (max(lo, elo), min(hi, ehi)), "plan", f"equity share 资本金 {tag}",
                    R + ", loan balances")
        for j, loan in enumerate(p.financing.loans):
            lp = f"{pre}.financing.loans[{j}]"
            if loan.rate_type == "fixed":
                add(f"{lp}.fixed_rate", _absolute(loan.fixed_rate, 0.005, 0.0, 0.3), "rates",
                    f"loan rate {loan.name} {tag}", "± 50 bp (facts §1)")
            else:
                add(f"{lp}.spread_over_lpr", _absolute(loan.spread_over_lpr, 0.005, -0.05, 0.1), "rates",
                    f"loan spread {loan.name} {tag}", "± 50 bp (facts §1)")
            if loan.relending is not None:
                add(f"{lp}.relending.rate", _absolute(loan.relending.rate, 0.005, 0.0, 0.2), "rates",
                    f"relending rate {loan.name} {tag}", "± 50 bp (facts §1)")
    return out


def make_inputs(scenario: Scenario, rel: float = 0.2, ranges: Mapping[str, tuple[float, float]] | None = None,
                only: Sequence[str] | None = None, groups: Mapping[str, str] | None = None) -> list[Input]:
    """Default inputs with user ranges applied: ``ranges={field: (low, high)}`` replaces a default range or adds
    a field (group "user" unless ``groups`` names one); ``only`` keeps the listed fields."""
    inputs = default_inputs(scenario, rel)
    by_field = {i.field: i for i in inputs}
    for fld, (lo, hi) in (ranges or {}).items():
        base = get_field(scenario, fld)
        if isinstance(base, (list, dict)) or isinstance(base, bool) or not isinstance(base, (int, float)):
            raise ScenarioError(f"range {fld}: not a numeric field (value {base!r})")
        lo, hi = float(lo), float(hi)
        if not lo < hi:
            raise ScenarioError(f"range {fld}: low must be < high, got {lo:g} … {hi:g}")
        integer = is_integer_field(scenario, fld)
        grp = (groups or {}).get(fld)
        if fld in by_field:
            by_field[fld] = replace(by_field[fld], low=lo, high=hi, basis="user range",
                                    group=grp or by_field[fld].group)
        else:
            by_field[fld] = Input(fld, lo, hi, grp or "user", fld, float(base), "user range", integer)
    out = list(by_field.values())
    if only:
        missing = [f for f in only if f not in by_field]
        if missing:
            raise ScenarioError(f"inputs: no such input {missing[0]!r} (inputs: {', '.join(by_field)})")
        out = [by_field[f] for f in only]
    # every range must be accepted by the scenario: check both ends now, not in the middle of a long run
    for i in out:
        for v in (i.low, i.high):
            apply_overrides(scenario, {i.field: _typed(i, v)})
    return out


def _typed(inp: Input, v: float):
    return int(round(v)) if inp.integer else float(v)


# ============================================================================================== tornado
def tornado(scenario: Scenario, inputs: Sequence[Input] | None = None, paths: int = 1000, seed: int | None = None,
            metrics: Sequence[str] | None = None, chunk_size: int | None = None, stress: str | None = None,
            rel: float = 0.2, ranges: Mapping[str, tuple[float, float]] | None = None,
            progress: Callable[[int, int], None] | None = None, client=None) -> pd.DataFrame:
    """One-at-a-time low/high runs of every input, ranked by the swing of the first metric.

    ``client``: a ``distributed.Client`` fans the 1 + 2 × inputs runs out over Dask (same numbers).

    Returns one row per input: ``field, label, group, base, low, high`` and, per metric, ``<m>_base``,
    ``<m>_low``, ``<m>_high``, ``<m>_swing`` = |high − low| (and the SEs ``<m>_low_se``, ``<m>_high_se``),
    sorted by the first metric's swing, then the second's. All runs share one seed (CRN), so a swing is the
    effect of the input, not noise; the SE columns say how precisely the level itself is known.
    """
    names = _check_metrics(metrics, DEFAULT_TORNADO_METRICS)
    inputs = list(inputs) if inputs is not None else make_inputs(scenario, rel, ranges)
    if not inputs:
        raise ScenarioError("tornado: no uncertain inputs to vary")
    settings = RunSettings(paths=paths, seed=seed, chunk_size=chunk_size, stress=stress).resolved(scenario)
    total = 1 + 2 * len(inputs)
    designs = [scenario]
    labels = ["base"]
    for inp in inputs:
        for side, v in (("low", inp.low), ("high", inp.high)):
            designs.append(apply_overrides(scenario, {inp.field: _typed(inp, v)}))
            labels.append(f"{inp.field}={v}")
    results = _evaluate_all(designs, settings, names, client, progress, labels=labels)
    base = results[0]
    rows = []
    for k, inp in enumerate(inputs):
        row: dict[str, Any] = {"field": inp.field, "label": inp.label, "group": inp.group, "base": inp.base,
                               "low": inp.low, "high": inp.high, "basis": inp.basis}
        vals = {"low": results[1 + 2 * k], "high": results[2 + 2 * k]}
        for m in names:
            row[f"{m}_base"] = base[m]
            row[f"{m}_low"] = vals["low"][m]
            row[f"{m}_high"] = vals["high"][m]
            row[f"{m}_low_se"] = vals["low"][f"{m}_se"]
            row[f"{m}_high_se"] = vals["high"][f"{m}_se"]
            row[f"{m}_swing"] = abs(vals["high"][m] - vals["low"][m])
        rows.append(row)
    df = pd.DataFrame(rows)
    keys = [f"{m}_swing" for m in names]
    df = df.sort_values(keys, ascending=False, kind="mergesort").reset_index(drop=True)
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    df.attrs["settings"] = {"paths": settings.paths, "seed": settings.seed, "chunk_size": settings.chunk_size,
                            "stress": settings.stress, "metrics": names, "runs": total}
    return df


# ============================================================================================== Sobol
def ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """Ishigami function f = sin x₁ + a sin² x₂ + b x₃⁴ sin x₁ on [−π, π]³ (analytic Sobol indices known)."""
    X = np.asarray(X, dtype=float)
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> dict[str, np.ndarray]:
    """Analytic first-order and total Sobol indices of :func:`ishigami`.

    V = a²/8 + b π⁴/5 + b² π⁸/18 + 1/2; V₁ = (1 + b π⁴/5)²/2, V₂ = a²/8, V₃ = 0;
    V_T1 = V₁ + V₁₃, V₁₃ = b² π⁸ (1/18 − 1/50), V_T2 = V₂, V_T3 = V₁₃.
    """
    pi4 = math.pi**4
    v = a * a / 8 + b * pi4 / 5 + b * b * pi4 * pi4 / 18 + 0.5
    v1 = 0.5 * (1 + b * pi4 / 5) ** 2
    v2 = a * a / 8
    v13 = b * b * pi4 * pi4 * (1 / 18 - 1 / 50)
    return {"S1": np.array([v1, v2, 0.0]) / v, "ST": np.array([v1 + v13, v2, v13]) / v}


@dataclass
class SobolResult:
    """Sobol indices per input group (or per input) and metric, with confidence half-widths."""

    table: pd.DataFrame  # metric, name, S1, S1_conf, ST, ST_conf
    problem: dict[str, Any]
    X: np.ndarray
    Y: np.ndarray  # (runs, metrics)
    metrics: list[str]
    conf_level: float
    settings: dict[str, Any] = field(default_factory=dict)


def sobol_indices(problem: dict[str, Any], evaluate: Callable[[np.ndarray], np.ndarray], n_base: int = 64,
                  seed: int = 0, metrics: Sequence[str] = ("y",), conf_level: float = 0.95,
                  num_resamples: int = 200) -> SobolResult:
    """First-order and total Sobol indices with SALib: Sobol-sequence Saltelli sampling, Jansen/Saltelli
    estimators, bootstrap confidence intervals.

    ``problem`` is a SALib problem dict (``num_vars``, ``names``, ``bounds``, optional ``groups``: inputs of
    one group are resampled together, so the indices are those of the group). ``evaluate(X)`` maps the
    ``(N (G + 2), D)`` sample to outputs ``(rows,)`` or ``(rows, len(metrics))`` — a simulation per row, or an
    analytic function: the code path is the same. ``n_base`` should be a power of 2 (Sobol sequence balance).
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    if n_base < 2 or n_base & (n_base - 1):
        raise ScenarioError(f"n_base: must be a power of 2 ≥ 2 (Sobol sequence), got {n_base}")
    X = sobol_sample.sample(problem, n_base, calc_second_order=False, scramble=True, seed=seed)
    Y = np.asarray(evaluate(X), dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.shape != (X.shape[0], len(metrics)):
        raise ValueError(f"evaluate returned shape {Y.shape}, expected ({X.shape[0]}, {len(metrics)})")
    names = list(dict.fromkeys(problem["groups"])) if problem.get("groups") else list(problem["names"])
    rows = []
    for j, m in enumerate(metrics):
        y = Y[:, j]
        if np.nanstd(y) == 0 or np.isnan(y).any():
            # a constant output has no variance to apportion; NaNs (undefined metric) cannot be analysed
            why = "constant" if not np.isnan(y).any() else "undefined"
            for nm in names:
                rows.append({"metric": m, "name": nm, "S1": np.nan, "S1_conf": np.nan, "ST": np.nan,
                             "ST_conf": np.nan, "note": f"output {why} over the sample"})
            continue
        si = sobol_analyze.analyze(problem, y, calc_second_order=False, num_resamples=num_resamples,
                                   conf_level=conf_level, print_to_console=False, seed=seed)
        for i, nm in enumerate(names):
            rows.append({"metric": m, "name": nm, "S1": float(si["S1"][i]), "S1_conf": float(si["S1_conf"][i]),
                         "ST": float(si["ST"][i]), "ST_conf": float(si["ST_conf"][i]), "note": ""})
    return SobolResult(table=pd.DataFrame(rows), problem=problem, X=X, Y=Y, metrics=list(metrics),
                       conf_level=conf_level)


def sobol_problem(inputs: Sequence[Input], grouped: bool = True) -> dict[str, Any]:
    """SALib problem of uniform inputs on [low, high]; with ``grouped`` the inputs carry their group names."""
    prob: dict[str, Any] = {"num_vars": len(inputs), "names": [i.field for i in inputs],
                            "bounds": [[i.low, i.high] for i in inputs]}
    if grouped:
        prob["groups"] = [i.group for i in inputs]
    return prob


class ScenarioModel:
    """``evaluate(X)`` for :func:`sobol_indices`: each row of X sets the inputs, runs a CRN simulation, and
    returns the metrics. Rows the scenario refuses (a combination out of range) raise ScenarioError."""

    def __init__(self, scenario: Scenario, inputs: Sequence[Input], metrics: Sequence[str], settings: RunSettings,
                 progress: Callable[[int, int], None] | None = None, client=None):
        self.client = client
        self.scenario = scenario
        self.inputs = list(inputs)
        self.metrics = list(metrics)
        self.settings = settings.resolved(scenario)
        self.progress = progress
        self.runs = 0
        self.wall = 0.0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))
        out = np.empty((X.shape[0], len(self.metrics)))
        t0 = time.perf_counter()
        designs = [apply_overrides(self.scenario, {i.field: _typed(i, v) for i, v in zip(self.inputs, row)})
                   for row in X]
        results = _evaluate_all(designs, self.settings, self.metrics, self.client, self.progress,
                                labels=[f"design row {r}" for r in range(X.shape[0])])
        for r, vals in enumerate(results):
            out[r] = [vals[m] for m in self.metrics]
        self.runs += X.shape[0]
        self.wall += time.perf_counter() - t0
        return out


def sobol(scenario: Scenario, inputs: Sequence[Input] | None = None, n_base: int = 32, paths: int = 200,
          seed: int | None = None, metrics: Sequence[str] | None = None, chunk_size: int | None = None,
          stress: str | None = None, rel: float = 0.2, ranges: Mapping[str, tuple[float, float]] | None = None,
          grouped: bool = True, sample_seed: int = 0, conf_level: float = 0.95, num_resamples: int = 200,
          progress: Callable[[int, int], None] | None = None, client=None) -> SobolResult:
    """Grouped Sobol indices of the scenario's metrics (default P(hidden-debt call) and expected hidden-debt PV).

    Inputs are uniform on their tornado ranges and independent; with ``grouped`` each group (house prices,
    rents, rates, occupancy, sales & buybacks, costs, plan) is one factor, so drivers that move together are
    credited together. Cost: ``n_base × (G + 2)`` simulations of ``paths`` paths each (default 32 × 9 × 200
    paths for the demo — a few minutes on one core). Every simulation uses the same seed (CRN), so the
    model seen by SALib is deterministic; the Monte Carlo error of each run is a fixed error of the model,
    reported separately by the sweep/tornado SEs, not noise in the indices.
    """
    names = _check_metrics(metrics, DEFAULT_TORNADO_METRICS)
    inputs = list(inputs) if inputs is not None else make_inputs(scenario, rel, ranges)
    if not inputs:
        raise ScenarioError("sobol: no uncertain inputs to vary")
    problem = sobol_problem(inputs, grouped)
    if grouped and len(set(problem["groups"])) < 2:
        raise ScenarioError("sobol: need at least two input groups")
    settings = RunSettings(paths=paths, seed=seed, chunk_size=chunk_size, stress=stress)
    model = ScenarioModel(scenario, inputs, names, settings, progress, client=client)
    res = sobol_indices(problem, model, n_base=n_base, seed=sample_seed, metrics=names, conf_level=conf_level,
                        num_resamples=num_resamples)
    s = model.settings
    res.settings = {"paths": s.paths, "seed": s.seed, "chunk_size": s.chunk_size, "stress": s.stress,
                    "n_base": n_base, "runs": model.runs, "wall_time_s": model.wall, "grouped": grouped,
                    "inputs": [{"field": i.field, "group": i.group, "low": i.low, "high": i.high} for i in inputs]}
    return res


# ============================================================================================== charts
def _ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4.5))
    return ax


def plot_sweep(table: pd.DataFrame, metric: str = "p_call", ax=None, band: float = _Z95):
    """Metric against the swept value, with a ± 1.96 SE band (95 % CI of each level). Returns the Axes."""
    ax = _ax(ax)
    x = table["value"].to_numpy(float)
    y = table[metric].to_numpy(float)
    se = table[f"{metric}_se"].to_numpy(float)
    ax.plot(x, y, marker="o", color="C0")
    if np.any(se > 0):
        ax.fill_between(x, y - band * se, y + band * se, color="C0", alpha=0.2, label="95 % CI")
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(str(table["field"].iloc[0]))
    ax.set_ylabel(_metric_label(metric))
    ax.grid(alpha=0.3)
    return ax


def plot_tornado(table: pd.DataFrame, metric: str = "p_call", ax=None, top: int | None = 15):
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
    ax.barh(y, lo, color="C0", label="input at low")
    ax.barh(y, hi, color="C1", alpha=0.8, label="input at high")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{plain(lab)}  [{_fmt(l)} … {_fmt(h)}]"
                        for lab, l, h in zip(df["label"], df["low"], df["high"])], fontsize=7)
    ax.set_xlabel(f"change in {_metric_label(metric)} from base {_fmt(base)}")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_sobol(result: SobolResult | pd.DataFrame, metric: str | None = None, ax=None):
    """Bars of first-order (S1) and total (ST) Sobol indices per group with their confidence intervals."""
    ax = _ax(ax)
    table = result.table if isinstance(result, SobolResult) else result
    metric = metric or str(table["metric"].iloc[0])
    df = table[table["metric"] == metric]
    x = np.arange(len(df))
    w = 0.38
    ax.bar(x - w / 2, df["S1"], w, yerr=df["S1_conf"], capsize=3, color="C0", label="first order S1")
    ax.bar(x + w / 2, df["ST"], w, yerr=df["ST_conf"], capsize=3, color="C1", label="total ST")
    ax.set_xticks(x)
    ax.set_xticklabels([plain(n) for n in df["name"]], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"Sobol index of {_metric_label(metric)}")
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


def _metric_label(metric: str) -> str:
    """Chart label of a metric: its English label in the output catalogue (measures/catalogue.py)."""
    e = CATALOGUE.get(f"metric.{metric}")
    return e.en if e is not None else metric


def _fmt(v: float) -> str:
    v = float(v)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3g}"
    return f"{v:.4g}"
