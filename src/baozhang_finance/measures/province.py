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

By blocks of paths (decision 76): the measures read every city one block of :data:`BLOCK` paths at a time
(``city.block(field, i)``, ``city.year_block(field, y, i)``) — a :class:`CityPaths` in memory, or a city's Parquet
files in a streamed run — and never hold a city whole; what they keep is the province's per-path vectors (n,) and
counts. Every figure is computed in an order that does not depend on the blocks (sums over cities in city order,
PVs summed over years in order, counts exact, quantiles and the register's running mean exact as
``np.quantile`` / ``arr.mean(axis=0)``; a city's payer split mean blocked as :mod:`measures.blocked`'s), so memory
and Parquet give the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from baozhang_finance.measures import blocked as bk
from baozhang_finance.measures import fiscal
from baozhang_finance.measures.stats import expected_shortfall, value_at_risk
from baozhang_finance.measures.stats import quantiles as _q

#: a call smaller than this (yuan) is no call (as the engine's 1e-6 threshold)
CALL_EPS = 1e-6


#: CityPaths' per-path fields ``(n,)`` and yearly fields ``(n, Y)`` (what a streamed portfolio writes per city)
PATH_FIELDS = ("hidden_call", "material_call", "hidden_pv", "money_pv")
YEAR_FIELDS = ("money_y", "called_y", "revenue_y", "debt_y", "stock_y")
#: paths per block of the province's measures (the column store's row group, measures/blocked.py)
BLOCK = bk.BLOCK


@dataclass
class CityPaths:
    """What the province needs of one city's run, per path: calls, PVs and yearly arrays ``(n, Y)``.

    The province's measures read it one block of :data:`BLOCK` paths at a time (:meth:`block`,
    :meth:`year_block`); a streamed portfolio hands them an object with the same three attributes and two methods
    whose blocks are read from the city's Parquet files (run/portfolio.py ``StoredCityPaths``)."""

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

    @property
    def n(self) -> int:
        return int(self.hidden_pv.shape[0])

    @property
    def years(self) -> int:
        return int(self.money_y.shape[1])

    def block(self, field: str, i: int) -> np.ndarray:
        """Rows ``[i·BLOCK, (i+1)·BLOCK)`` of ``field`` (a view)."""
        return getattr(self, field)[i * BLOCK:(i + 1) * BLOCK]

    def year_block(self, field: str, y: int, i: int) -> np.ndarray:
        """Year ``y`` (0-based) of the yearly ``field``, rows of block ``i``."""
        return getattr(self, field)[i * BLOCK:(i + 1) * BLOCK, y]


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


def cities_called_by_year(called_y) -> np.ndarray:
    """Number of cities called in the same year, per path and year: ``N_{j,y} = Σ_c called_{c,j,y}`` → (n, Y)
    (``called_y``: the cities' (n, Y) arrays, any iterable, read one at a time)."""
    out = None
    for a in called_y:
        if out is None:
            out = np.zeros(np.shape(a), dtype=np.int64)
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


def call_co_counts(called: np.ndarray) -> np.ndarray:
    """``N_{cd} = Σ_j call_{c,j} call_{d,j}``, the paths on which cities c and d are both called (``called``
    (C, n) bool; the diagonal is each city's count). Summed as 0/1 products in float32 over at most
    :data:`BLOCK` paths at a time: every partial sum is an integer below 2²⁴, exact in any order, so the counts do
    not depend on the blocks or on BLAS."""
    x = np.asarray(called, dtype=bool)
    out = np.zeros((x.shape[0], x.shape[0]), dtype=np.int64)
    for a in range(0, x.shape[1], BLOCK):
        f = x[:, a:a + BLOCK].astype(np.float32)
        out += np.rint(f @ f.T).astype(np.int64)
    return out


def correlation_of_counts(co: np.ndarray, n: int) -> np.ndarray:
    """Correlation matrix of the call indicators from their co-counts ``N`` over ``n`` paths (C, C):
    ``ρ_cd = (n N_cd − N_cc N_dd) / √(N_cc (n − N_cc) · N_dd (n − N_dd))`` — the Pearson correlation of 0/1
    variables, its numerator and the variances exact integers; NaN where a city never or always calls."""
    k = np.diag(co).astype(float)
    cov = n * np.asarray(co, dtype=float) - np.outer(k, k)
    var = k * (n - k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.sqrt(np.outer(var, var))


def call_correlation(called: np.ndarray) -> np.ndarray:
    """Correlation matrix of the cities' call indicators across paths (C, C); NaN where a city never or always
    calls (:func:`correlation_of_counts` of :func:`call_co_counts`)."""
    x = np.asarray(called, dtype=bool)
    return correlation_of_counts(call_co_counts(x), x.shape[1])


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


#: who pays the government money, in the order of decision 48 (the payer split's keys)
PAYERS = ("city_budget", "transfers", "unfunded")


def city_residual(money_y: np.ndarray, revenue_y: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """A city's budget part ``B = min(M, s F)`` and residual ``M − B``, per path and year (float64)."""
    money = np.asarray(money_y).astype(float)
    budget = city_budget_part(money, revenue_y, share)
    return budget, money - budget


def pv_by_year(amount_y: np.ndarray, disc_y: np.ndarray) -> np.ndarray:
    """Per path, ``PV_j = Σ_y A_{j,y} v_y`` (year-end factors ``v_y``), the years added in order (a running sum
    along each row). A path's PV has the same bits whatever block it is computed in; a BLAS matrix–vector
    product's (``A @ v``) depend on the rows it is given and on its thread count (measured: 100,003 paths, 1 and
    2 OpenBLAS threads differ), so the province does not use one."""
    a = np.asarray(amount_y, dtype=float)
    if not a.shape[1]:
        return np.zeros(a.shape[0])
    return np.ascontiguousarray(np.cumsum(a * disc_y, axis=1)[:, -1])


def payer_split(cities, share: float, cap: np.ndarray, disc_y: np.ndarray, i: int) -> dict:
    """Block ``i`` of the payer split (decision 48): per path, the PV (year-end, province rate) of what the city
    budgets, provincial transfers and nobody (unfunded) pay, summed over the cities (``city_budget`` …), each
    city's block sum of its own (``city_budget_sums`` …: pairwise, for the blocked mean), and per path and year
    Σ_c T_c (``transfers_y``) and the government money Σ_c M_c (``money_y``). ``cap`` = τ R: (Y,) or the block's
    (rows, Y). Two passes over the cities (the residual total first, then each city's part), holding one city's
    block beside the totals."""
    total = money = None
    for c in cities:
        m = np.asarray(c.block("money_y", i)).astype(float)
        r = city_residual(m, c.block("revenue_y", i), share)[1]
        total = r if total is None else np.add(total, r, out=total)
        money = m if money is None else np.add(money, m, out=money)
    ratio = transfer_ratio(total, cap)
    out: dict = {"money_y": money, "transfers_y": np.zeros_like(total)}
    for key in PAYERS:
        out[key], out[f"{key}_sums"] = None, []
    for c in cities:
        b, r = city_residual(c.block("money_y", i), c.block("revenue_y", i), share)
        t = r * ratio
        for key, part in zip(PAYERS, (b, t, r - t)):
            pv = pv_by_year(part, disc_y)
            out[f"{key}_sums"].append(np.add.reduce(pv))
            out[key] = pv if out[key] is None else np.add(out[key], pv, out=out[key])
        out["transfers_y"] += t
    return out


def _sum_over_cities(arrays) -> np.ndarray:
    """``Σ_c a_c`` added in city order, one array at a time (the bits of ``np.sum(list, axis=0)``, which also adds
    the cities' arrays in order, without holding them all)."""
    total = None
    for a in arrays:
        total = np.array(a, dtype=float) if total is None else np.add(total, a, out=total)
    return total


def blocked_mean(sums: list, n: int) -> float:
    """``Σ_b S_b / n`` with ``S_b`` the pairwise sums of a column's blocks, added in path order: the mean of
    :func:`measures.blocked.mean` (``np.mean`` itself for n ≤ BLOCK)."""
    acc = None
    for s in sums:
        acc = s if acc is None else acc + s
    return float(acc.dtype.type(acc / np.intp(n))) if n else float("nan")


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


def year_fan(year_col, years: int, more: tuple[float, ...] = ()) -> dict:
    """Mean, p50, p95 by year of a per-path yearly quantity, ``year_col(y)`` its year ``y`` as a
    :class:`measures.blocked.Col`: the mean as ``arr.mean(axis=0)`` of the (n, Y) table sums (the running sum in
    path order), the quantiles ``np.quantile``'s, exact (:func:`measures.blocked.fan_stats`); ``more``: further
    quantiles, keyed ``p5`` … after those."""
    qs = (0.5, 0.95) + tuple(more)
    keys = ["mean", "p50", "p95"] + [f"p{q * 100:g}" for q in more]
    out: dict = {k: [] for k in keys}
    for y in range(years):
        _, mean, q = bk.fan_stats(year_col(y), qs, mean="running")
        for k, v in zip(keys, [mean, *np.atleast_1d(q)]):
            out[k].append(float(v))
    return out


def province_year(cities, field: str, y: int, n: int, scale: float | None = None) -> "bk.Col":
    """Year ``y`` of ``Σ_c field_c`` (float64, in city order; ÷ ``scale`` when given), as a Col read one block of
    each city at a time."""
    def block(i: int) -> np.ndarray:
        total = _sum_over_cities(np.asarray(c.year_block(field, y, i)).astype(float) for c in cities)
        return total if scale is None else total / scale
    return bk.Col(n, block)


# ------------------------------------------------------------------------------------------ the paths, by blocks
def province_paths(cities, province, rev_y: np.ndarray, disc_y: np.ndarray, capacity: float,
                   revenue_factor: np.ndarray | None = None) -> dict:
    """One pass over the paths, :data:`BLOCK` at a time, reading each city's block (never a city whole): the
    province's per-path vectors (n,) — Σ_c hidden-debt PV, Σ_c government money PV, the payer split's three PVs,
    the peak yearly government money and transfers ÷ the province's revenue, the peak 债务率 contribution, any
    call, any material call, the number of cities called and the most in one year — and the counts a summary
    reads (cities called by year, two or more by year, the co-counts of the call indicators, each city's block
    sums of its payer split). Memory: these vectors and one block per city at a time, whatever the cities."""
    C, Y, n = len(cities), cities[0].years, cities[0].n
    share, tau = province.city_cap_share_of_revenue, province.transfer_cap_share_of_revenue
    out: dict = {k: np.empty(n) for k in ("hidden_pv", "money_pv", *PAYERS, "money_peak_share",
                                           "transfers_peak_share", "debt_peak")}
    out.update(any_call=np.empty(n, bool), any_material=np.empty(n, bool), n_called=np.empty(n, np.int64),
               max_in_one_year=np.empty(n, np.int64), called_by_year=np.zeros(Y, np.int64),
               two_or_more_by_year=np.zeros(Y, np.int64), co_counts=np.zeros((C, C), np.int64),
               city_sums={k: [[] for _ in cities] for k in PAYERS})
    for i in range(-(-n // BLOCK)):
        a, b = i * BLOCK, min(n, (i + 1) * BLOCK)
        rev = rev_y if revenue_factor is None else rev_y[None, :] * revenue_factor[a:b]
        split = payer_split(cities, share, tau * rev, disc_y, i)
        for key in PAYERS:
            out[key][a:b] = split[key]
            for k, s in enumerate(split[f"{key}_sums"]):
                out["city_sums"][key][k].append(s)
        out["money_peak_share"][a:b] = peak_share_of_revenue(split["money_y"], rev)
        out["transfers_peak_share"][a:b] = peak_share_of_revenue(split["transfers_y"], rev)
        del split
        out["debt_peak"][a:b] = _sum_over_cities(np.asarray(c.block("debt_y", i)).astype(float)
                                                 for c in cities).max(axis=1) / capacity
        out["hidden_pv"][a:b] = _sum_over_cities(c.block("hidden_pv", i) for c in cities)
        out["money_pv"][a:b] = _sum_over_cities(c.block("money_pv", i) for c in cities)
        called = np.stack([np.asarray(c.block("hidden_call", i), dtype=bool) for c in cities])
        out["any_call"][a:b] = called.any(axis=0)
        out["n_called"][a:b] = cities_called(called)
        out["co_counts"] += call_co_counts(called)
        del called
        out["any_material"][a:b] = np.stack([np.asarray(c.block("material_call", i), dtype=bool)
                                             for c in cities]).any(axis=0)
        by_year = cities_called_by_year(c.block("called_y", i) for c in cities)
        out["max_in_one_year"][a:b] = by_year.max(axis=1) if Y else 0
        out["called_by_year"] += by_year.sum(axis=0)
        out["two_or_more_by_year"] += np.count_nonzero(by_year >= 2, axis=0)
    return out


# ------------------------------------------------------------------------------------------ tables
def city_row(c: CityPaths, split_pv: dict) -> dict:
    """One city's row of the province table, read off its own summary (and the means of its payer split,
    ``split_pv``: ``{"city_budget": …, "transfers": …, "unfunded": …}``)."""
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
        "city_budget_pv": split_pv["city_budget"],
        "transfers_pv": split_pv["transfers"],
        "unfunded_pv": split_pv["unfunded"],
    }


def province_summary(cities, province, paths: int, revenue_factor: np.ndarray | None = None) -> dict:
    """The province's summary: per-city rows, the province's P(call), PVs and tails, the register, the count of
    cities called (in the horizon and in the same year, beside the independent Poisson-binomial law), the payer
    split, the total against the province's revenue, concentration and 债务率 contributions. ``revenue_factor``
    (n, Y): the province's revenue multiplier per path (decision 52), None for the deterministic path.

    ``cities``: :class:`CityPaths`, or objects with the same blocks read from files (a streamed portfolio): the
    paths are read by blocks (:func:`province_paths`, then one year of the register and 债务率 at a time), so
    both give the same bits (decision 76)."""
    C, Y, n = len(cities), cities[0].years, cities[0].n
    rev_y = province_revenue_by_year(province.revenue_yuan, province.revenue_growth, Y)
    disc_y = discount_by_year(province.discount_rate, Y)
    capacity = float(sum(c.capacity_yuan for c in cities))
    pp = province_paths(cities, province, rev_y, disc_y, capacity, revenue_factor)
    rows = [city_row(c, {key: blocked_mean(pp["city_sums"][key][k], n) for key in PAYERS})
            for k, c in enumerate(cities)]
    p = np.array([r["p_call"] for r in rows])
    n_called = pp["n_called"]
    if revenue_factor is None:
        revenue_path = {}
    else:
        rev_fan = year_fan(lambda y: bk.Col(n, lambda i: rev_y[y] * revenue_factor[i * BLOCK:(i + 1) * BLOCK, y]),
                           Y, more=(0.05,))
        revenue_path = {"revenue_path": {"vol": province.revenue_vol, "fan": rev_fan}}
    return {
        "cities": rows,
        "province": {
            "name": province.name, "cities": C, "paths": paths,
            "p_any_call": float(pp["any_call"].mean()),
            "p_any_material_call": float(pp["any_material"].mean()),
            "hidden_debt_pv": tail(pp["hidden_pv"]),
            "government_money_pv": tail(pp["money_pv"]),
            "total_fiscal_cost_pv": float(sum(r["total_fiscal_cost_pv"] for r in rows)),
            "register_stock_by_year": year_fan(lambda y: province_year(cities, "stock_y", y, n), Y),
            "cities_called": {"distribution": count_distribution(n_called, C),
                              "independent_law": poisson_binomial(p).tolist(), "expected": float(n_called.mean())},
            "cities_called_same_year": {
                "max_in_one_year": count_distribution(pp["max_in_one_year"], C),
                "by_year_expected": (pp["called_by_year"].astype(float) / n).tolist(),
                "p_two_or_more_by_year": (pp["two_or_more_by_year"].astype(float) / n).tolist()},
            "call_correlation_mean": _mean_offdiag(correlation_of_counts(pp["co_counts"], n)),
            "payer_split": {k: tail(pp[k]) for k in PAYERS},
            "revenue_by_year": rev_y.tolist(),
            **revenue_path,
            "money_share_of_revenue_peak": _q(pp["money_peak_share"], (0.5, 0.95, 0.99)),
            "transfers_share_of_revenue_peak": _q(pp["transfers_peak_share"], (0.5, 0.95, 0.99)),
            "concentration_top3": {"hidden_debt_pv": concentration([r["expected_pv"] for r in rows]),
                                   "total_fiscal_cost_pv": concentration([r["total_fiscal_cost_pv"] for r in rows])},
            "debt_ratio_contribution": {
                "capacity_yuan": capacity,
                "by_year": year_fan(lambda y: province_year(cities, "debt_y", y, n, capacity), Y),
                "peak": _q(pp["debt_peak"], (0.5, 0.95))},
        },
    }


def _mean_offdiag(m: np.ndarray) -> float | None:
    """Mean of the finite off-diagonal entries of a correlation matrix (None when there are none)."""
    if m.shape[0] < 2:
        return None
    off = m[~np.eye(m.shape[0], dtype=bool)]
    off = off[np.isfinite(off)]
    return float(off.mean()) if off.size else None
