"""One chunk of paths: its generator, its bounds, the engine run and the per-path columns it reduces to.

Chunk ``i`` covers paths ``[i·chunk, min((i+1)·chunk, paths))`` and draws from
``Generator(PCG64(SeedSequence(seed, spawn_key=(i,))))``, so a chunk's numbers depend only on (scenario, seed,
chunk size, i). Every executor (serial, processes, Dask) calls :func:`run_chunk`.
"""

from __future__ import annotations

import numpy as np

from baozhang_finance.engine.cures import CURE_NAMES, refinancing
from baozhang_finance.engine.controls import CONTROL_NAMES
from baozhang_finance.engine.ledgers import KEPT_DTYPE, YEARLY_KEPT
from baozhang_finance.engine.loop import run_paths
from baozhang_finance.engine.plan import Plan
from baozhang_finance.measures import stats as mx
from baozhang_finance.run import uncertainty
from baozhang_finance.run.store import keep_freed_pages


def chunk_generator(seed: int, chunk_index: int) -> np.random.Generator:
    """The generator of one chunk: PCG64 seeded by SeedSequence(seed, spawn_key=(chunk_index,))."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(chunk_index,))))


def chunk_bounds(paths: int, chunk_size: int) -> list[tuple[int, int]]:
    return [(s, min(s + chunk_size, paths)) for s in range(0, paths, chunk_size)]


def run_chunk(plan: Plan, chunk_index: int, start: int, stop: int, seed: int) -> dict[str, np.ndarray]:
    """Simulate one chunk and reduce it to per-path columns and float32 yearly ledgers."""
    n = stop - start
    keep_freed_pages()  # the month's temporaries reuse the heap's pages (once per process; run/store.py)
    plan = uncertainty.chunk_plan(plan, chunk_index)  # a per-chunk parameter draw, when the scenario asks for one
    rng = None if plan.market.deterministic else chunk_generator(seed, chunk_index)
    out = run_paths(plan, n, rng, yearly="bulk")
    return per_path_columns(plan, out, start)


def debt_at_first_call(plan: Plan, first_call_month: np.ndarray, bank_at_call: np.ndarray) -> np.ndarray:
    """Per path, the SOE's debt outstanding when the first call comes (0 without a call): its bank balance at the
    opening of the call month plus its corporate bonds outstanding then, ``Σ_p B^SOE_{p, t−1}`` (0 at t = 0; the
    bonds' schedule is deterministic, engine/instruments/soe_bond.py)."""
    bal = np.asarray(plan.soe_bond_balance, dtype=float)
    soe_open = np.concatenate([[0.0], bal.sum(axis=0)[:-1]]) if bal.size else np.zeros(plan.T)
    t = np.asarray(first_call_month)
    return np.where(t >= 0, bank_at_call + soe_open[np.maximum(t, 0)], 0.0)


def per_path_columns(plan: Plan, out, start: int) -> dict[str, np.ndarray]:
    """Per-path metrics from one chunk's ledgers (float64), plus the yearly ledgers kept (float32)."""
    y = out.yearly
    s = out.scalars
    n = y["cfads"].shape[0]
    support = y["soe_support"] + y["gov_hidden"] + y["gov_bond"]
    gov_total = (y["gov_hidden"] + y["gov_bond"]).sum(axis=1)
    if plan.gov_owned.any():  # the budget's top-ups of its own blocks are government money too
        gov_total = gov_total + y["gov_owned_opex"].sum(axis=1)
    w0, w1 = plan.dscr_window
    rolled = refinancing.refinanceable(plan, y["refinancing"])  # the principal a DSCR nets out (decision 81)
    fiscal = y["fiscal_revenue"]
    share = np.divide(y["gov_hidden"], fiscal, out=np.zeros_like(fiscal), where=fiscal > 0)
    equity_flows = y["distributions"] - y["equity_in"] - y["soe_support"]
    equity_flows[:, -1] += s["terminal_equity"]
    project_flows = y["cfads"] - y["uses"]
    project_flows[:, -1] += s["terminal_assets"]
    bond_service_total = float(plan.bond_interest.sum() + plan.bond_principal.sum())
    first_call = s["first_call_month"]
    cols = {
        "path": np.arange(start, start + n, dtype=np.int64),
        "hidden_call": first_call >= 0,
        "hidden_debt_pv": s["pv_hidden"],
        "first_call_year": np.where(first_call >= 0, first_call // 12 + 1, -1),
        "peak_call_share_of_fiscal": share.max(axis=1),
        "first_shortfall_year": _year_of(s["first_shortfall_month"]),
        "soe_exhausted": s["soe_exhaustion_month"] >= 0,
        **{f"cure_{k}_yuan": s[f"cure_{k}"] for k in CURE_NAMES},
        "cure_extension_count": s["cure_extension_count"],
        "cure_extension_fee_yuan": s["cure_extension_fee"],
        "refinancing_balance_end_yuan": s["refinancing_balance_end"],
        "disposal_year": _year_of(s["disposal_month"]),
        "walkaway_units": s["walkaway_units"],
        "forfeited_deposits_yuan": s["forfeited_deposits"],
        "soe_exhaustion_year": _year_of(s["soe_exhaustion_month"]),
        "explicit_bond_call": y["gov_bond"].sum(axis=1) > 1e-6,
        "explicit_bond_burden_pv": s["pv_bond_burden"],
        "soe_support_pv": s["pv_soe_support"],
        "soe_support_pv_fiscal": s["pv_soe_support_fiscal"],
        "support_total": support.sum(axis=1),
        "self_financing": (gov_total <= 1e-6) & (s["peak_funding_need"] <= float(plan.equity_in.sum()) + 1.0),
        "dscr_min": mx.min_dscr(y["cfads"][:, w0:w1], y["debt_service"][:, w0:w1],
                                None if rolled is None else rolled[:, w0:w1]),
        "dscr_min_all_years": mx.min_dscr(y["cfads"], y["debt_service"], rolled),
        "bank_dscr_min_project": s["bank_dscr_min_project"],
        "llcr": s["llcr"],
        "bond_coverage_ratio": (s["bond_cfads"] / bond_service_total) if bond_service_total > 0 else np.full(n, np.nan),
        "bond_coverage_after_bank": (s["bond_cfads_after_bank"] / bond_service_total) if bond_service_total > 0 else np.full(n, np.nan),
        "default": s["default_month"] >= 0,
        "default_month": s["default_month"],
        "ead": s["ead"],
        "collateral_at_default": s["collateral_at_default"],
        "hpi_at_default": s["hpi_at_default"],
        "hpi_at_sale": s["hpi_at_sale"],
        "equity_npv": mx.npv(_discount_rate(plan), equity_flows),
        "equity_irr": mx.irr(np.concatenate([np.zeros((n, 1)), equity_flows], axis=1)),
        "project_irr": mx.irr(np.concatenate([np.zeros((n, 1)), project_flows], axis=1)),
        "peak_funding_need": s["peak_funding_need"],
        "lockup_years": y["lockup_months"].sum(axis=1) / 12.0,
        "hpi_end": s["hpi_end"],
        "terminal_equity": s["terminal_equity"],
        "gov_buyback_pv": s["pv_gov_buyback"],
        "gov_resale_pv": s["pv_gov_resale"],
        "gov_buyback_any": s["pv_gov_buyback"] > 1e-6,
        "gov_owned_opex_pv": s["pv_gov_owned_opex"],
        "gov_owned_income_pv": s["pv_gov_owned_income"],
        "gov_owned_opex_any": s["pv_gov_owned_opex"] > 1e-6,
    }
    cols.update(lens_columns(plan, out))
    if "controls" in s:  # control variates (engine/controls.py), one column each
        for j, name in enumerate(CONTROL_NAMES):
            cols[f"cv_{name}"] = np.ascontiguousarray(s["controls"][:, j])
    for k in YEARLY_KEPT:
        cols[f"y_{k}"] = y[k].astype(KEPT_DTYPE[k])  # float32; months locked (0–12) as uint8
    return cols


def lens_columns(plan: Plan, out) -> dict[str, np.ndarray]:
    """Per-path columns of the issue-17 measures (docs/lenses.md): the debt taken over at the first call, the
    government money by class, budgeted subsidies, calls against general and land revenue, bond coverage over all
    financing, monthly equity IRR / NPV (supported and standalone, with and without a terminal value at income
    value), income-value LTV and the bank's other credit events."""
    y, s = out.yearly, out.scalars
    n = y["cfads"].shape[0]
    cap = float(plan.support.income_cap_rate)
    land = y["fiscal_land"]  # the land-tied part of fiscal revenue (s F₀ H^β); measures rescale it to fund revenue
    calls = y["gov_hidden"]
    bond_service_total = float(plan.bond_interest.sum() + plan.bond_principal.sum())
    all_service = bond_service_total + s["bond_cfads"] - s["bond_cfads_after_bank"]  # bonds + the bond projects' bank
    tv_income = s["terminal_assets_sale"] + s["noi12"] / cap + s["terminal_cash"] - s["bank_balance_end"]
    eq = s["equity_m"]
    gov = s["gov_m"]
    with_tv = eq.copy()
    with_tv[:, -1] += tv_income
    standalone = with_tv - gov
    r_disc = _discount_rate(plan)
    income_col = y["collateral_value"] - y["collateral_rental"] + np.maximum(y["noi"], 0.0) / cap
    bal = y["bank_balance"]
    pos = bal > 1.0
    pos[:, : plan.dscr_window[0]] = False  # income value is read once the blocks operate (the bank's test window)
    ltv_inc = np.where(pos, np.divide(bal, income_col, out=np.full(bal.shape, np.inf), where=income_col > 0), -np.inf)
    cols = {
        "debt_at_first_call": debt_at_first_call(plan, s["first_call_month"], s["stock_at_call"]),
        "gov_debt_service_pv": s["pv_gov_bank"],
        "unbudgeted_subsidy_pv": np.maximum(s["pv_hidden"] - s["pv_gov_bank"], 0.0),
        "budgeted_subsidy_pv": s["pv_budgeted"],
        "government_money_pv": s["pv_hidden"] + s["pv_bond_burden"],
        "government_call": (s["first_call_month"] >= 0) | (y["gov_bond"].sum(axis=1) > 1e-6),
        "peak_call_share_of_land_revenue": _peak_share(calls, land),
        "bond_coverage_all_financing": _ratio(s["bond_cfads"], all_service, n),
        "bond_coverage_all_financing_with_residual": _ratio(s["bond_cfads"] + s["cov_residual"], all_service, n),
        "bond_coverage_with_residual": _ratio(s["bond_cfads"] + s["cov_residual"], bond_service_total, n),
        "terminal_value_income": tv_income,
        "equity_irr_monthly": mx.annual_irr_of_monthly(with_tv),
        "equity_irr_monthly_no_tv": mx.annual_irr_of_monthly(eq),
        "equity_irr_standalone": mx.annual_irr_of_monthly(standalone),
        "equity_npv_monthly": mx.npv_monthly(r_disc, with_tv),
        "equity_npv_monthly_no_tv": mx.npv_monthly(r_disc, eq),
        "equity_npv_standalone": mx.npv_monthly(r_disc, standalone),
        "ltv_income_peak": np.where(pos.any(axis=1), ltv_inc.max(axis=1), np.nan) if bal.shape[1] else np.full(n, np.nan),
        "default_month_nosupport": s["bank_short_first"],
        "default_month_corporate": np.where(plan.L > 0, s["soe_exhaustion_month"], -1),
    }
    for k in ("nosupport", "corporate"):
        for x in ("ead", "collateral", "hpi_at_default", "hpi_at_sale"):
            cols[f"{x}_{k}"] = s[f"{x}_{k}"]
    return cols


def _peak_share(calls: np.ndarray, revenue: np.ndarray) -> np.ndarray:
    """max_y call_y / revenue_y (0 in years without revenue)."""
    share = np.divide(calls, revenue, out=np.zeros_like(calls), where=revenue > 0)
    return share.max(axis=1) if share.shape[1] else np.zeros(calls.shape[0])


def _ratio(num: np.ndarray, den, n: int) -> np.ndarray:
    den = np.broadcast_to(np.asarray(den, dtype=float), (n,))
    return np.divide(num, den, out=np.full(n, np.nan), where=den > 0)


def _year_of(month: np.ndarray) -> np.ndarray:
    """Programme year (1-based) of a month index, −1 where the event never happened."""
    return np.where(month >= 0, month // 12 + 1, -1)


def _discount_rate(plan: Plan) -> float:
    # disc_y[0] = (1 + r)^-1
    return float(1.0 / plan.discount_y[0] - 1.0)
