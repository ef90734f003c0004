"""Provincial measures (省级视角) of a portfolio run: per city (the single-city summary of each city, read, never
recomputed) and for the province as a whole.

Per path ``j``, city ``c`` and programme year ``y``: ``M_{c,j,y}`` the government money the city's programme needs
(hidden-debt call + explicit bond burden, the engine's ``gov_hidden + gov_bond``), ``F_{c,j,y}`` the city's fiscal
revenue on that path, ``called_{c,j,y} = 1[gov_hidden > 10⁻⁶]``. The order of payment (decision 48): the city's
budget pays ``B = min(M, s_c F)``; provincial transfers pay ``T_c = (M − B) · min(1, τ R_y / Σ_c (M − B))``
(``R_y = R₀ (1 + g)^{y−1}`` the province's revenue, shared pro rata when the cap binds); the rest ``U = M − B − T`` is
unfunded (arrears the model does not assign). Yearly amounts are discounted at year ends at the province's rate.
With ``province.revenue_vol > 0`` the province's revenue is a path ``R_{j,y} = R_y X_{j,y}`` (decision 52:
``X`` the yearly multiplier of engine/factors.province_revenue_factor, ``E[X] = 1``, on the fiscal factors the cities
share), and ``R_{j,y}`` replaces ``R_y`` in the transfer cap and the shares of revenue, path by path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from baozhang_finance.measures import fiscal
from baozhang_finance.measures.stats import expected_shortfall, value_at_risk
from baozhang_finance.measures.stats import quantiles as _q

#: a call smaller than this (yuan) is no call (as the engine's 1e-6 threshold)
CALL_EPS = 1e-6


@dataclass
class CityPaths:
    """What the province needs of one city's run, per path: calls, PVs and yearly arrays ``(n, Y)``."""

    name: str
    summary: dict[str, Any]
    hidden_call: np.ndarray  # (n,) bool
    material_call: np.ndarray  # (n,) bool
    hidden_pv: np.ndarray  # (n,)
    money_pv: np.ndarray  # (n,) government money PV (hidden + bond burden), the city's fiscal rate
    money_y: np.ndarray  # (n, Y) float32
    called_y: np.ndarray  # (n, Y) bool
    revenue_y: np.ndarray  # (n, Y) float32, the city's fiscal revenue
    debt_y: np.ndarray  # (n, Y) float32, special-bond balance + register stock (the 债务率 numerator)
    stock_y: np.ndarray  # (n, Y) float32, the register stock
    capacity_yuan: float  # the 债务率 denominator


def city_paths(name: str, result) -> CityPaths:
    """Reduce a city's :class:`Result` to :class:`CityPaths` with the single-city measures (fiscal.stock_by_year,
    fiscal.materiality_yuan, fiscal.debt_ratio)."""
    df = result.paths
    pv = df["hidden_debt_pv"].to_numpy(float)
    summary = result.summary
    stock = fiscal.stock_by_year(result)
    plan = result.plan
    bond_end = np.asarray(plan.bond_balance, dtype=float).sum(axis=0)[np.minimum(np.arange(plan.Y) * 12 + 11, plan.T - 1)]
    return CityPaths(
        name=name, summary=summary,
        hidden_call=df["hidden_call"].to_numpy(bool),
        material_call=pv > fiscal.materiality_yuan(result) + CALL_EPS,
        hidden_pv=pv,
        money_pv=df["government_money_pv"].to_numpy(float),
        money_y=(np.asarray(result.ledger("gov_hidden"), float) + result.ledger("gov_bond")).astype(np.float32),
        called_y=np.asarray(result.ledger("gov_hidden")) > CALL_EPS,
        revenue_y=np.asarray(result.ledger("fiscal_revenue"), dtype=np.float32),
        debt_y=(stock + bond_end[None, :]).astype(np.float32),
        stock_y=stock.astype(np.float32),
        capacity_yuan=float(summary["fiscal"]["debt_ratio"]["capacity_yuan"]),
    )


# ------------------------------------------------------------------------------------------ counts
def cities_called(called: np.ndarray) -> np.ndarray:
    """Number of cities with a hidden-debt call in the horizon, per path: ``N_j = Σ_c call_{c,j}`` (``called`` (C, n))."""
    return np.asarray(called, dtype=np.int64).sum(axis=0)


def cities_called_by_year(called_y: list[np.ndarray]) -> np.ndarray:
    """Number of cities called in the same year, per path and year: ``N_{j,y} = Σ_c called_{c,j,y}`` → (n, Y)."""
    out = np.zeros(called_y[0].shape, dtype=np.int64)
    for a in called_y:
        out += a
    return out


def count_distribution(counts: np.ndarray, n_cities: int) -> list[float]:
    """``P(N = k)`` for k = 0..C across paths."""
    counts = np.asarray(counts).ravel()
    return (np.bincount(counts, minlength=n_cities + 1)[: n_cities + 1] / max(counts.size, 1)).tolist()


def poisson_binomial(p: np.ndarray) -> np.ndarray:
    """The law of ``Σ_c X_c`` for independent ``X_c ~ Bernoulli(p_c)``: pmf over 0..C by the recursion
    ``f_c(k) = (1 − p_c) f_{c−1}(k) + p_c f_{c−1}(k − 1)`` — what the counts would be with independent cities."""
    f = np.zeros(len(p) + 1)
    f[0] = 1.0
    for c, pc in enumerate(np.asarray(p, dtype=float)):
        f[1: c + 2] = (1.0 - pc) * f[1: c + 2] + pc * f[: c + 1]
        f[0] *= 1.0 - pc
    return f


def call_correlation(called: np.ndarray) -> np.ndarray:
    """Correlation matrix of the cities' call indicators across paths (C, C); NaN where a city never or always calls."""
    x = np.asarray(called, dtype=float)
    sd = x.std(axis=1)
    xc = x - x.mean(axis=1, keepdims=True)
    cov = xc @ xc.T / max(x.shape[1], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.outer(sd, sd)


# ------------------------------------------------------------------------------------------ money
def province_revenue_by_year(revenue0: float, growth: float, years: int) -> np.ndarray:
    """``R_y = R₀ (1 + g)^{y−1}``, y = 1..Y: the province's revenue by programme year."""
    return revenue0 * (1.0 + growth) ** np.arange(years)


def discount_by_year(rate: float, years: int) -> np.ndarray:
    """Year-end discount factors ``(1 + r)^{−y}``, y = 1..Y."""
    return (1.0 + rate) ** -np.arange(1, years + 1, dtype=float)


def city_budget_part(money_y: np.ndarray, revenue_y: np.ndarray, share: float) -> np.ndarray:
    """What the city's own budget pays in a year: ``B = min(M, s F)``."""
    return np.minimum(money_y, share * np.asarray(revenue_y, dtype=float))


def transfer_ratio(residual_total: np.ndarray, cap_y: np.ndarray) -> np.ndarray:
    """Share of the cities' residual the province pays, per path and year: ``min(1, τ R_y / Σ_c (M − B))``
    (``cap_y`` (Y,) — the same cap on every path — or (n, Y), the cap on the path's revenue)."""
    cap = np.broadcast_to(cap_y, residual_total.shape)
    return np.divide(cap, residual_total, out=np.ones_like(residual_total), where=residual_total > cap)


def payer_split(cities: list[CityPaths], share: float, cap_y: np.ndarray, disc_y: np.ndarray) -> dict:
    """Per city and in total, the PV (year-end, province rate) of what the city budget, provincial transfers and
    nobody (unfunded) pay, per path, by the order of decision 48. Two passes over the cities (the residual total
    first, then each city's part), holding one city's float64 arrays at a time beside the total."""
    total = _sum_over_cities(_residual(c, share)[1] for c in cities)
    ratio = transfer_ratio(total, cap_y)
    out = {"city_budget_pv": [], "transfers_pv": [], "unfunded_pv": [], "transfers_y": np.zeros_like(total)}
    for c in cities:
        b, r = _residual(c, share)
        t = r * ratio
        out["city_budget_pv"].append(b @ disc_y)
        out["transfers_pv"].append(t @ disc_y)
        out["unfunded_pv"].append((r - t) @ disc_y)
        out["transfers_y"] += t
    return out


def _residual(c: CityPaths, share: float) -> tuple[np.ndarray, np.ndarray]:
    """A city's budget part ``B = min(M, s F)`` and residual ``M − B``, per path and year (float64)."""
    money = c.money_y.astype(float)
    budget = city_budget_part(money, c.revenue_y, share)
    return budget, money - budget


def _sum_over_cities(arrays) -> np.ndarray:
    """``Σ_c a_c`` added in city order, one array at a time (the bits of ``np.sum(list, axis=0)``, which also adds
    the cities' arrays in order, without holding them all)."""
    total = None
    for a in arrays:
        total = np.array(a, dtype=float) if total is None else np.add(total, a, out=total)
    return total


def tail(pv: np.ndarray) -> dict:
    """Expected value, VaR and ES (Acerbi–Tasche) at 95 % and 99 % of a per-path PV."""
    pv = np.asarray(pv, dtype=float)
    return {"expected": float(pv.mean()), "var95": value_at_risk(pv, 0.95), "es95": expected_shortfall(pv, 0.95),
            "var99": value_at_risk(pv, 0.99), "es99": expected_shortfall(pv, 0.99)}


def peak_share_of_revenue(amount_y: np.ndarray, revenue_y: np.ndarray) -> np.ndarray:
    """Per path, ``max_y A_{j,y} / R_y``: the province's peak yearly amount against its revenue (``revenue_y``
    (Y,) or (n, Y), the path's revenue)."""
    share = amount_y / (revenue_y if np.ndim(revenue_y) == 2 else revenue_y[None, :])
    return share.max(axis=1) if share.shape[1] else np.zeros(share.shape[0])


def concentration(expected: np.ndarray, top: int = 3) -> float | None:
    """Share of the total from the ``top`` largest cities: ``Σ_{top k} E_c / Σ_c E_c`` (None when the total is 0)."""
    e = np.sort(np.asarray(expected, dtype=float))[::-1]
    total = e.sum()
    return float(e[:top].sum() / total) if total > 0 else None


def year_fan(arr: np.ndarray) -> dict:
    """Mean, p50, p95 by year of a per-path yearly array (n, Y)."""
    return {"mean": arr.mean(axis=0).tolist(), "p50": np.quantile(arr, 0.5, axis=0).tolist(),
            "p95": np.quantile(arr, 0.95, axis=0).tolist()}


# ------------------------------------------------------------------------------------------ tables
def city_row(c: CityPaths, split: dict, k: int) -> dict:
    """One city's row of the province table, read off its own summary (and its share of the payer split)."""
    s = c.summary
    hd, fc = s["hidden_debt"], s["fiscal"]
    se = s["run"]["standard_errors"]
    return {
        "city": c.name,
        "investment_yuan": s["programme"]["total_investment_yuan"],
        "p_call": hd["p_call"], "p_call_se": se.get("p_call"),
        "p_call_material": hd["p_call_material"],
        "expected_pv": hd["expected_pv"], "var95_pv": hd["var95_pv"], "es95_pv": hd["cvar95_pv"],
        "var99_pv": hd["var99_pv"], "es99_pv": hd["cvar99_pv"],
        "explicit_bond_burden_pv": fc["explicit_bond_burden"]["expected_pv"],
        "total_fiscal_cost_pv": fc["total_fiscal_cost"]["expected_pv"],
        "register_peak_mean": max(hd["stock_by_year"]["mean"] or [0.0]),
        "debt_ratio_contribution_p50": fc["debt_ratio"]["contribution_peak"].get("p50"),
        "debt_ratio_contribution_p95": fc["debt_ratio"]["contribution_peak"].get("p95"),
        "city_budget_pv": float(split["city_budget_pv"][k].mean()),
        "transfers_pv": float(split["transfers_pv"][k].mean()),
        "unfunded_pv": float(split["unfunded_pv"][k].mean()),
    }


def province_summary(cities: list[CityPaths], province, paths: int, revenue_factor: np.ndarray | None = None) -> dict:
    """The province's summary: per-city rows, the province's P(call), PVs and tails, the register, the count of
    cities called (in the horizon and in the same year, beside the independent Poisson-binomial law), the payer
    split, the total against the province's revenue, concentration and 债务率 contributions. ``revenue_factor``
    (n, Y): the province's revenue multiplier per path (decision 52), None for the deterministic path."""
    C, Y = len(cities), cities[0].money_y.shape[1]
    rev_y = province_revenue_by_year(province.revenue_yuan, province.revenue_growth, Y)
    rev = rev_y if revenue_factor is None else rev_y[None, :] * revenue_factor
    disc_y = discount_by_year(province.discount_rate, Y)
    split = payer_split(cities, province.city_cap_share_of_revenue, province.transfer_cap_share_of_revenue * rev, disc_y)
    called = np.stack([c.hidden_call for c in cities])
    n_called = cities_called(called)
    by_year = cities_called_by_year([c.called_y for c in cities])
    money_total_y = _sum_over_cities(c.money_y.astype(float) for c in cities)
    rows = [city_row(c, split, k) for k, c in enumerate(cities)]
    p = np.array([r["p_call"] for r in rows])
    stock = _sum_over_cities(c.stock_y.astype(float) for c in cities)
    debt = _sum_over_cities(c.debt_y.astype(float) for c in cities)
    capacity = float(sum(c.capacity_yuan for c in cities))
    return {
        "cities": rows,
        "province": {
            "name": province.name, "cities": C, "paths": paths,
            "p_any_call": float(called.any(axis=0).mean()),
            "p_any_material_call": float(np.stack([c.material_call for c in cities]).any(axis=0).mean()),
            "hidden_debt_pv": tail(np.sum([c.hidden_pv for c in cities], axis=0)),
            "government_money_pv": tail(np.sum([c.money_pv for c in cities], axis=0)),
            "total_fiscal_cost_pv": float(sum(r["total_fiscal_cost_pv"] for r in rows)),
            "register_stock_by_year": year_fan(stock),
            "cities_called": {"distribution": count_distribution(n_called, C),
                              "independent_law": poisson_binomial(p).tolist(), "expected": float(n_called.mean())},
            "cities_called_same_year": {
                "max_in_one_year": count_distribution(by_year.max(axis=1) if Y else n_called * 0, C),
                "by_year_expected": by_year.mean(axis=0).tolist(),
                "p_two_or_more_by_year": (by_year >= 2).mean(axis=0).tolist()},
            "call_correlation_mean": _mean_offdiag(call_correlation(called)),
            "payer_split": {k: tail(np.sum(split[f"{k}_pv"], axis=0)) for k in ("city_budget", "transfers", "unfunded")},
            "revenue_by_year": rev_y.tolist(),
            **({} if revenue_factor is None else {"revenue_path": {"vol": province.revenue_vol, "fan": {
                **year_fan(rev), "p5": np.quantile(rev, 0.05, axis=0).tolist()}}}),
            "money_share_of_revenue_peak": _q(peak_share_of_revenue(money_total_y, rev), (0.5, 0.95, 0.99)),
            "transfers_share_of_revenue_peak": _q(peak_share_of_revenue(split["transfers_y"], rev), (0.5, 0.95, 0.99)),
            "concentration_top3": {"hidden_debt_pv": concentration([r["expected_pv"] for r in rows]),
                                   "total_fiscal_cost_pv": concentration([r["total_fiscal_cost_pv"] for r in rows])},
            "debt_ratio_contribution": {"capacity_yuan": capacity, "by_year": year_fan(debt / capacity),
                                        "peak": _q(debt.max(axis=1) / capacity, (0.5, 0.95))},
        },
    }


def _mean_offdiag(m: np.ndarray) -> float | None:
    """Mean of the finite off-diagonal entries of a correlation matrix (None when there are none)."""
    if m.shape[0] < 2:
        return None
    off = m[~np.eye(m.shape[0], dtype=bool)]
    off = off[np.isfinite(off)]
    return float(off.mean()) if off.size else None
