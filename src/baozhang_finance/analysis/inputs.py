"""The uncertain inputs of a scenario — a field, its low and high value, its Sobol group — for tornado and Sobol.

Default ranges (docs/sensitivity.md): volatilities, prices, rents, costs, absorption, buyback hazards, grants and
equity ± ``rel`` (20 %) of the scenario's value; drifts and rates by absolute amounts the domain facts support:
house-price drifts ± 2 pp a year (tier-3 prices −3.7 % y/y in 2025, weak cities −3 to −6 %), decline length
± 1 year, rent drift ± 1.5 pp (2024 rents −0.3 to −0.6 % a quarter), LPR ± 50 bp, CPI ± 1 pp, loan and relending
rates ± 50 bp (SOE loans ≈ 2–3 % all-in), stabilised occupancy ± 5 pp (≈ 90 % market, > 95 % 保租房 REITs),
rent ratio ± 0.1 (seeds 0.8; 保租房 cap 0.9). The plan levers (rent ratio, price, grant, equity share) are clipped
to their one range in :mod:`baozhang_finance.model.levers`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from baozhang_finance.model.fields import apply_overrides, get_field, is_integer_field
from baozhang_finance.model.levers import capital_grants_yuan, get_lever
from baozhang_finance.model.scenario import Scenario, ScenarioError


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


def _within(lohi: tuple[float, float], bounds: tuple[float, float]) -> tuple[float, float]:
    return max(lohi[0], bounds[0]), min(lohi[1], bounds[1])


class _Inputs:
    """Collects inputs of one scenario; a range that is empty after rounding is left out (nothing to vary)."""

    def __init__(self, scenario: Scenario, rel: float):
        self.scenario, self.rel, self.items = scenario, rel, []
        self.R = f"± {rel:.0%}"

    def add(self, field: str, lohi: tuple[float, float], group: str, label: str, basis: str, integer: bool = False):
        base = get_field(self.scenario, field)
        lo, hi = lohi
        if integer:
            lo, hi = math.floor(lo), math.ceil(hi)
        if hi - lo <= 1e-15:
            return
        self.items.append(Input(field, float(lo), float(hi), group, label, float(base), basis, integer))

    def relative(self, field: str, base: float, group: str, label: str, integer: bool = False) -> None:
        self.add(field, _rel(base, self.rel), group, label, self.R, integer)

    def lever(self, name: str, k: int, lohi: tuple[float, float], tag: str, basis: str) -> None:
        lv = get_lever(name)
        self.add(f"{name}[{k}]", _within(lohi, lv.range(self.scenario, k)), "plan", f"{lv.label} {tag}", basis)


def _market_inputs(c: _Inputs) -> None:
    sc, m = c.scenario, c.scenario.market
    c.add("market.price_drift_annual", _absolute(m.price_drift_annual, 0.02), "house prices",
          "house-price drift 房价趋势", "± 2 pp/yr (facts §3)")
    c.relative("market.price_vol_annual", m.price_vol_annual, "house prices", "house-price volatility")
    if m.decline_years > 0:
        c.add("market.decline_drift_annual", _absolute(m.decline_drift_annual, 0.02), "house prices",
              "decline-regime drift 下行期房价", "± 2 pp/yr (facts §3: −3 to −6 %/yr)")
        c.add("market.decline_years", _absolute(m.decline_years, 1.0, 0.0), "house prices", "decline length, years",
              "± 1 year")
    c.add("market.rent_drift_annual", _absolute(m.rent_drift_annual, 0.015), "rents", "market-rent drift 租金趋势",
          "± 1.5 pp/yr (facts §3)")
    c.relative("market.rent_vol_annual", m.rent_vol_annual, "rents", "market-rent volatility")
    loans = [ln for p in sc.projects for ln in p.financing.loans]
    if any(ln.rate_type == "floating" for ln in loans):
        c.add("market.lpr_initial", _absolute(m.lpr_initial, 0.005, 0.0), "rates", "5-yr LPR at start", "± 50 bp")
        c.add("market.lpr_mean", _absolute(m.lpr_mean, 0.005, 0.0), "rates", "LPR long-run mean", "± 50 bp")
        c.relative("market.lpr_vol_annual", m.lpr_vol_annual, "rates", "LPR volatility")
    if any(ln.relending is not None for ln in loans) and m.relending_nonrenewal_prob > 0:
        c.relative("market.relending_nonrenewal_prob", m.relending_nonrenewal_prob, "rates",
                   "P(relending not renewed) 再贷款不续")
    c.add("market.cpi_drift_annual", _absolute(m.cpi_drift_annual, 0.01), "costs", "CPI inflation", "± 1 pp/yr")
    if any(p.rental is not None for p in sc.projects):
        c.relative("market.occupancy_vol_annual", m.occupancy_vol_annual, "occupancy", "occupancy volatility")
    if any(p.sale is not None for p in sc.projects):
        c.relative("market.absorption_vol_annual", m.absorption_vol_annual, "sales & buybacks",
                   "absorption volatility")


def _operations_inputs(c: _Inputs, k: int, p, tag: str) -> None:
    pre = f"projects[{k}]"
    if p.rental is not None:
        r = p.rental
        c.relative(f"{pre}.rental.market_rent_yuan_per_m2_month", r.market_rent_yuan_per_m2_month, "rents",
                   f"market rent {tag}")
        c.lever("rent_ratio", k, _absolute(r.rent_ratio, 0.1), tag, "± 0.1 (seeds 0.8; cap 0.9)")
        c.add(f"{pre}.rental.stabilised_occupancy", _absolute(r.stabilised_occupancy, 0.05, 0.01, 1.0), "occupancy",
              f"stabilised occupancy 出租率 {tag}", "± 5 pp (facts §3)")
        c.relative(f"{pre}.rental.lease_up_months", r.lease_up_months, "occupancy", f"lease-up months {tag}",
                   integer=True)
        c.relative(f"{pre}.rental.opex_yuan_per_m2_year", r.opex_yuan_per_m2_year, "costs", f"operating cost {tag}")
    if p.sale is not None:
        s = p.sale
        c.relative(f"{pre}.sale.absorption_monthly", s.absorption_monthly, "sales & buybacks",
                   f"absorption 去化速度 {tag}")
        if s.buyback is not None:
            c.relative(f"{pre}.sale.buyback.hazard_annual", s.buyback.hazard_annual, "sales & buybacks",
                       f"buyback hazard 回购 {tag}")
        c.relative(f"{pre}.sale.holding_cost_yuan_per_m2_year", s.holding_cost_yuan_per_m2_year, "costs",
                   f"holding cost {tag}")


def _plan_inputs(c: _Inputs, k: int, p, tag: str) -> None:
    sc, rel, basis = c.scenario, c.rel, c.R + ", loan balances"
    if p.financing.loans and p.acquisition_price_yuan_per_m2 > 0:
        c.lever("price", k, _rel(p.acquisition_price_yuan_per_m2, rel), tag, basis)
    if p.financing.loans:
        g = capital_grants_yuan(sc, k)
        if g > 0:
            c.lever("grant", k, _rel(g, rel), tag, basis)
        if p.financing.equity_yuan > 0:
            c.lever("equity_share", k, _rel(get_lever("equity_share").value(sc, k), rel), tag, basis)
    for j, loan in enumerate(p.financing.loans):
        lp = f"projects[{k}].financing.loans[{j}]"
        if loan.rate_type == "fixed":
            c.add(f"{lp}.fixed_rate", _absolute(loan.fixed_rate, 0.005, 0.0, 0.3), "rates",
                  f"loan rate {loan.name} {tag}", "± 50 bp (facts §1)")
        else:
            c.add(f"{lp}.spread_over_lpr", _absolute(loan.spread_over_lpr, 0.005, -0.05, 0.1), "rates",
                  f"loan spread {loan.name} {tag}", "± 50 bp (facts §1)")
        if loan.relending is not None:
            c.add(f"{lp}.relending.rate", _absolute(loan.relending.rate, 0.005, 0.0, 0.2), "rates",
                  f"relending rate {loan.name} {tag}", "± 50 bp (facts §1)")


def default_inputs(scenario: Scenario, rel: float = 0.2) -> list[Input]:
    """The uncertain inputs of a scenario with their default low/high values (module docstring). Inputs at zero
    with a relative range are left out (nothing to vary)."""
    if not 0 < rel < 1:
        raise ScenarioError(f"rel: the relative range must lie in (0, 1), got {rel}")
    c = _Inputs(scenario, rel)
    _market_inputs(c)
    for k, p in enumerate(scenario.projects):
        tag = f"[{k}] {p.name}"
        _operations_inputs(c, k, p, tag)
        _plan_inputs(c, k, p, tag)
    return c.items


def _user_range(scenario: Scenario, fld: str, lo: float, hi: float, old: Input | None, group: str | None) -> Input:
    base = get_field(scenario, fld)
    if isinstance(base, (list, dict)) or isinstance(base, bool) or not isinstance(base, (int, float)):
        raise ScenarioError(f"range {fld}: not a numeric field (value {base!r})")
    lo, hi = float(lo), float(hi)
    if not lo < hi:
        raise ScenarioError(f"range {fld}: low must be < high, got {lo:g} … {hi:g}")
    if old is not None:
        return replace(old, low=lo, high=hi, basis="user range", group=group or old.group)
    return Input(fld, lo, hi, group or "user", fld, float(base), "user range", is_integer_field(scenario, fld))


def make_inputs(scenario: Scenario, rel: float = 0.2, ranges: Mapping[str, tuple[float, float]] | None = None,
                only: Sequence[str] | None = None, groups: Mapping[str, str] | None = None) -> list[Input]:
    """Default inputs with user ranges applied: ``ranges={field: (low, high)}`` replaces a default range or adds
    a field (group "user" unless ``groups`` names one); ``only`` keeps the listed fields. Both ends of every range
    are checked against the scenario now, not in the middle of a long run."""
    by_field = {i.field: i for i in default_inputs(scenario, rel)}
    for fld, (lo, hi) in (ranges or {}).items():
        by_field[fld] = _user_range(scenario, fld, lo, hi, by_field.get(fld), (groups or {}).get(fld))
    out = list(by_field.values())
    if only:
        missing = [f for f in only if f not in by_field]
        if missing:
            raise ScenarioError(f"inputs: no such input {missing[0]!r} (inputs: {', '.join(by_field)})")
        out = [by_field[f] for f in only]
    for i in out:
        for v in (i.low, i.high):
            apply_overrides(scenario, {i.field: typed(i, v)})
    return out


def typed(inp: Input, v: float):
    """A value of an input as the scenario wants it (integers stay integral)."""
    return int(round(v)) if inp.integer else float(v)
