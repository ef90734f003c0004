"""The balanced plan levers as a registry: one :class:`Lever` object per policy knob.

A lever on project ``k`` (``grant[k]``, ``equity_share[k]``, ``rent_ratio[k]``, ``price[k]``, ``loan[k]``) sets one
quantity of the plan and keeps sources = uses (资金来源 = 总投资) by moving the project's *balancing item*: its
first bank loan (``financing.loans[0]``), or — for ``loan`` itself — its SOE equity.

===================  ========  =========================================================================
lever                unit      what it sets; the change in uses − sources it leaves for the balancing item
===================  ========  =========================================================================
``grant[k]``         yuan      total capital grants (scaled; removed at 0; one new grant if none): −Δgrant
``equity_share[k]``  share     SOE own funds ÷ total investment: −Δequity
``rent_ratio[k]``    share     rent charged ÷ market rent of a rental project: nothing to balance
``price[k]``         yuan/m²   acquisition price: + floor area × Δprice × (1 + purchase tax)
``loan[k]``          yuan      the balancing loan's amount: −Δloan, absorbed by the equity
===================  ========  =========================================================================

Each lever says how to read its value (:meth:`Lever.value`), the **one** default range a solver searches and a
tornado or Sobol range is clipped to (:meth:`Lever.range`), and how to set it (:meth:`Lever.apply`); the one
:func:`rebalance` then moves the balancing item by the gap the lever left, refusing (with the lever, the project
and the admissible range) a loan pushed below :data:`MIN_BALANCE_YUAN` or an equity below zero.

The rent ratio's range is [0.05, 1.0] (policy-sized), inside the scenario model's own validation bound
(0, 1.5] of ``projects[k].rental.rent_ratio`` — read here from the model (:func:`model_bound`), not repeated.

Nothing here simulates; every function returns a new :class:`~baozhang_finance.model.scenario.Scenario`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import annotated_types

from baozhang_finance.model.scenario import (
    RentalOps,
    Scenario,
    ScenarioError,
    floor_area_m2,
    grant_amount_yuan,
    scenario_from_dict,
    total_uses_yuan,
)

#: smallest amount a balancing loan or equity may keep, yuan (a loan must be > 0 to stay in the scenario)
MIN_BALANCE_YUAN = 1.0


def show(v: Any) -> str:
    """A value in a message: floats to 6 significant digits, strings quoted."""
    return f"{v:.6g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)


def validate(data: dict[str, Any], label: str) -> Scenario:
    """A changed scenario dict validated again; a refusal is one line (problems kept) labelled ``label``."""
    try:
        return scenario_from_dict(data, source=label)
    except ScenarioError as exc:
        raise ScenarioError(str(exc).replace("\n", "; "), source=label, problems=exc.problems) from None


def model_bound(model, name: str) -> tuple[float, float]:
    """(low, high) of a numeric field as the scenario model declares it (gt/ge, lt/le; ±∞ when unbounded)."""
    lo, hi = -math.inf, math.inf
    for m in model.model_fields[name].metadata:
        if isinstance(m, (annotated_types.Gt, annotated_types.Ge)):
            lo = float(getattr(m, "gt", getattr(m, "ge", lo)))
        if isinstance(m, (annotated_types.Lt, annotated_types.Le)):
            hi = float(getattr(m, "lt", getattr(m, "le", hi)))
    return lo, hi


#: the scenario model's validation bound of a rent ratio, (0, 1.5]
RENT_RATIO_BOUND = model_bound(RentalOps, "rent_ratio")
#: the rent-ratio lever's range: policy-sized, inside the model's bound
RENT_RATIO_RANGE = (max(0.05, RENT_RATIO_BOUND[0]), min(1.0, RENT_RATIO_BOUND[1]))


# ---------------------------------------------------------------------------------------------- project helpers
def project_of(sc: Scenario, lever: str, k: int):
    if not 0 <= k < len(sc.projects):
        raise ScenarioError(f"lever {lever}[{k}]: no project {k} (the scenario has {len(sc.projects)}: "
                            f"0..{len(sc.projects) - 1})")
    return sc.projects[k]


def balancing_loan(sc: Scenario, lever: str, k: int):
    p = project_of(sc, lever, k)
    if not p.financing.loans:
        raise ScenarioError(f"lever {lever}[{k}]: project {k} ({p.name}) has no bank loan to balance sources = uses")
    return p.financing.loans[0]


def capital_grants_yuan(sc: Scenario, k: int) -> float:
    p = sc.projects[k]
    return float(sum(grant_amount_yuan(g, p) for g in p.financing.grants if g.capital))


# ---------------------------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Lever:
    """One balanced lever: ``value(sc, k)``, ``range(sc, k)``; ``set(sc, k, x, project_dict)`` writes the new
    value into the dumped project and returns the gap uses − sources it leaves for the ``balance`` item
    ("loan": the first bank loan, "equity": the SOE equity, None: nothing to balance)."""

    name: str
    label_en: str
    label_zh: str
    unit: str
    balance: str | None
    get: Callable[[Scenario, int], float]
    default_range: Callable[[Scenario, int], tuple[float, float]]
    set: Callable[[Scenario, int, float, dict], float]

    @property
    def label(self) -> str:
        return f"{self.label_en} {self.label_zh}"

    def value(self, sc: Scenario, k: int = 0) -> float:
        project_of(sc, self.name, k)
        return self.get(sc, k)

    def range(self, sc: Scenario, k: int = 0) -> tuple[float, float]:
        project_of(sc, self.name, k)
        return self.default_range(sc, k)

    def apply(self, sc: Scenario, value: float, k: int = 0, source: str | None = None) -> Scenario:
        """New Scenario with this lever of project ``k`` at ``value``, sources = uses kept."""
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ScenarioError(f"lever {self.name}[{k}]: value must be a number, got {value!r}") from None
        if not math.isfinite(x):
            raise ScenarioError(f"lever {self.name}[{k}]: value must be finite, got {value!r}")
        project_of(sc, self.name, k)
        data = sc.model_dump(mode="python")
        gap = self.set(sc, k, x, data["projects"][k])
        if self.balance is not None:
            rebalance(sc, self, k, x, data["projects"][k]["financing"], gap)
        return validate(data, source or f"{self.name}[{k}]={show(x)}")


def rebalance(sc: Scenario, lever: Lever, k: int, x: float, fin: dict, gap: float) -> None:
    """Sources = uses again: the balancing item of ``lever`` absorbs ``gap`` (uses − sources after the change)."""
    if lever.balance == "loan":
        loan = fin["loans"][0]
        new = loan["amount_yuan"] + gap
        if new < MIN_BALANCE_YUAN - 1e-9:
            lo, hi = lever.range(sc, k)
            raise ScenarioError(
                f"lever {lever.name}[{k}] = {show(x)}: the balancing loan projects[{k}].financing.loans[0] "
                f"({loan['name']}) would be {new:,.0f} yuan; it can absorb at most "
                f"{loan['amount_yuan'] - MIN_BALANCE_YUAN:,.0f} yuan (range {show(lo)} … {show(hi)})")
        loan["amount_yuan"] = max(new, MIN_BALANCE_YUAN)
    elif lever.balance == "equity":
        eq0 = fin["equity_yuan"]
        new = eq0 + gap
        if new < -1e-6:
            raise ScenarioError(
                f"lever {lever.name}[{k}] = {show(x)}: equity of project {k} would be {new:,.0f} yuan; the loan can "
                f"rise by at most the equity ({eq0:,.0f} yuan), to {x + gap + eq0:,.0f}")
        fin["equity_yuan"] = max(new, 0.0)


# ---- grant
def _grant_range(sc: Scenario, k: int) -> tuple[float, float]:
    return 0.0, capital_grants_yuan(sc, k) + balancing_loan(sc, "grant", k).amount_yuan - MIN_BALANCE_YUAN


def _set_grant(sc: Scenario, k: int, x: float, p: dict) -> float:
    balancing_loan(sc, "grant", k)
    if x < 0:
        raise ScenarioError(f"lever grant[{k}]: must be >= 0, got {show(x)}")
    fin = p["financing"]
    g0 = capital_grants_yuan(sc, k)
    caps = [g for g in fin["grants"] if g["capital"]]
    others = [g for g in fin["grants"] if not g["capital"]]
    if x <= 0:
        fin["grants"] = others
    elif g0 > 0:
        f = x / g0
        for g in caps:
            g["amount_yuan"] *= f
            g["per_unit_yuan"] *= f
    else:
        fin["grants"] = others + [{"name": "additional capital grant", "source": "other", "amount_yuan": x,
                                   "per_unit_yuan": 0.0, "capital": True, "month": None}]
    return -(x - g0)


# ---- equity share
def _equity_share(sc: Scenario, k: int) -> float:
    p = sc.projects[k]
    return p.financing.equity_yuan / total_uses_yuan(p)


def _equity_range(sc: Scenario, k: int) -> tuple[float, float]:
    p = sc.projects[k]
    loan = balancing_loan(sc, "equity_share", k).amount_yuan
    return 0.0, (p.financing.equity_yuan + loan - MIN_BALANCE_YUAN) / total_uses_yuan(p)


def _set_equity_share(sc: Scenario, k: int, x: float, p: dict) -> float:
    balancing_loan(sc, "equity_share", k)
    if x < 0:
        raise ScenarioError(f"lever equity_share[{k}]: must be >= 0, got {show(x)}")
    new_eq = x * total_uses_yuan(sc.projects[k])
    gap = -(new_eq - p["financing"]["equity_yuan"])
    p["financing"]["equity_yuan"] = new_eq
    return gap


# ---- rent ratio
def _rent_ratio(sc: Scenario, k: int) -> float:
    p = sc.projects[k]
    if p.rental is None:
        raise ScenarioError(f"lever rent_ratio[{k}]: project {k} ({p.name}) is a {p.type} project, not rental")
    return p.rental.rent_ratio


def _rent_range(sc: Scenario, k: int) -> tuple[float, float]:
    _rent_ratio(sc, k)
    return RENT_RATIO_RANGE


def _set_rent_ratio(sc: Scenario, k: int, x: float, p: dict) -> float:
    _rent_ratio(sc, k)
    p["rental"]["rent_ratio"] = x
    return 0.0


# ---- acquisition price
def _price(sc: Scenario, k: int) -> float:
    p = sc.projects[k]
    if p.acquisition_price_yuan_per_m2 <= 0:
        raise ScenarioError(f"lever price[{k}]: project {k} ({p.name}) is new-build (no acquisition price)")
    return p.acquisition_price_yuan_per_m2


def _price_range(sc: Scenario, k: int) -> tuple[float, float]:
    p = sc.projects[k]
    x0 = _price(sc, k)
    loan = balancing_loan(sc, "price", k).amount_yuan
    floor_lo = x0 - (loan - MIN_BALANCE_YUAN) / (floor_area_m2(p) * (1 + p.purchase_tax_rate))
    return max(0.5 * x0, floor_lo, 1e-6), 1.5 * x0


def _set_price(sc: Scenario, k: int, x: float, p: dict) -> float:
    x0 = _price(sc, k)
    balancing_loan(sc, "price", k)
    if x <= 0:
        raise ScenarioError(f"lever price[{k}]: must be > 0 yuan/m², got {show(x)}")
    proj = sc.projects[k]
    p["acquisition_price_yuan_per_m2"] = x
    return floor_area_m2(proj) * (x - x0) * (1 + proj.purchase_tax_rate)


# ---- balancing loan
def _loan(sc: Scenario, k: int) -> float:
    return balancing_loan(sc, "loan", k).amount_yuan


def _loan_range(sc: Scenario, k: int) -> tuple[float, float]:
    return MIN_BALANCE_YUAN, _loan(sc, k) + sc.projects[k].financing.equity_yuan


def _set_loan(sc: Scenario, k: int, x: float, p: dict) -> float:
    loan0 = _loan(sc, k)
    if x < MIN_BALANCE_YUAN:
        raise ScenarioError(f"lever loan[{k}]: must be >= {MIN_BALANCE_YUAN:g} yuan, got {show(x)}")
    p["financing"]["loans"][0]["amount_yuan"] = x
    return -(x - loan0)


#: every balanced lever, by name
LEVER_REGISTRY: dict[str, Lever] = {lv.name: lv for lv in (
    Lever("grant", "capital grant", "补助", "yuan", "loan", capital_grants_yuan, _grant_range, _set_grant),
    Lever("equity_share", "equity share", "资本金", "share", "loan", _equity_share, _equity_range,
          _set_equity_share),
    Lever("rent_ratio", "rent ratio", "租金比例", "share", None, _rent_ratio, _rent_range, _set_rent_ratio),
    Lever("price", "acquisition price", "收购价", "yuan/m²", "loan", _price, _price_range, _set_price),
    Lever("loan", "bank loan", "贷款", "yuan", "equity", _loan, _loan_range, _set_loan),
)}

#: names of the balanced levers
LEVERS = tuple(LEVER_REGISTRY)


def get_lever(name: str) -> Lever:
    try:
        return LEVER_REGISTRY[name]
    except KeyError:
        raise ScenarioError(f"lever {name!r}: unknown (levers: {', '.join(LEVERS)})") from None


def lever_value(sc: Scenario, lever: str, k: int = 0) -> float:
    """Current value of a lever on project ``k``."""
    return get_lever(lever).value(sc, k)


def lever_range(sc: Scenario, lever: str, k: int = 0) -> tuple[float, float]:
    """Default range of a lever: everything the balancing item allows, within policy-sized bounds.

    grant: [0, current grants + balancing loan − 1 yuan]; equity_share: [0, (equity + loan − 1)/uses];
    rent_ratio: [0.05, 1.0]; price: [50 %, 150 %] of the current price, capped so the loan stays > 0;
    loan: [1 yuan, loan + equity].
    """
    return get_lever(lever).range(sc, k)


def apply_lever(sc: Scenario, lever: str, value: float, k: int = 0, source: str | None = None) -> Scenario:
    """New Scenario with lever ``lever`` of project ``k`` at ``value``, sources = uses kept."""
    return get_lever(lever).apply(sc, value, k, source=source)
