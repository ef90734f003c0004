"""One chunk of paths: its generator, its bounds, the engine run and the per-path columns it reduces to.

Chunk ``i`` covers paths ``[i·chunk, min((i+1)·chunk, paths))`` and draws from
``Generator(PCG64(SeedSequence(seed, spawn_key=(i,))))``, so a chunk's numbers depend only on (scenario, seed,
chunk size, i). Every executor (serial, processes, Dask) calls :func:`run_chunk`.
"""

from __future__ import annotations

import numpy as np

from baozhang_finance.engine.cures import CURE_NAMES
from baozhang_finance.engine.ledgers import KEPT_DTYPE, YEARLY_KEPT
from baozhang_finance.engine.loop import run_paths
from baozhang_finance.engine.plan import Plan
from baozhang_finance.measures import stats as mx
from baozhang_finance.run import uncertainty


def chunk_generator(seed: int, chunk_index: int) -> np.random.Generator:
    """The generator of one chunk: PCG64 seeded by SeedSequence(seed, spawn_key=(chunk_index,))."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(chunk_index,))))


def chunk_bounds(paths: int, chunk_size: int) -> list[tuple[int, int]]:
    return [(s, min(s + chunk_size, paths)) for s in range(0, paths, chunk_size)]


def run_chunk(plan: Plan, chunk_index: int, start: int, stop: int, seed: int) -> dict[str, np.ndarray]:
    """Simulate one chunk and reduce it to per-path columns and float32 yearly ledgers."""
    n = stop - start
    plan = uncertainty.chunk_plan(plan, chunk_index)  # a per-chunk parameter draw, when the scenario asks for one
    rng = None if plan.market.deterministic else chunk_generator(seed, chunk_index)
    out = run_paths(plan, n, rng)
    return per_path_columns(plan, out, start)


def per_path_columns(plan: Plan, out, start: int) -> dict[str, np.ndarray]:
    """Per-path metrics from one chunk's ledgers (float64), plus the yearly ledgers kept (float32)."""
    y = out.yearly
    s = out.scalars
    n = y["cfads"].shape[0]
    support = y["soe_support"] + y["gov_hidden"] + y["gov_bond"]
    gov_total = (y["gov_hidden"] + y["gov_bond"]).sum(axis=1)
    w0, w1 = plan.dscr_window
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
        "support_total": support.sum(axis=1),
        "self_financing": (gov_total <= 1e-6) & (s["peak_funding_need"] <= float(plan.equity_in.sum()) + 1.0),
        "dscr_min": mx.min_dscr(y["cfads"][:, w0:w1], y["debt_service"][:, w0:w1]),
        "dscr_min_all_years": mx.min_dscr(y["cfads"], y["debt_service"]),
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
    }
    for k in YEARLY_KEPT:
        cols[f"y_{k}"] = y[k].astype(KEPT_DTYPE[k])  # float32; months locked (0–12) as uint8
    return cols


def _year_of(month: np.ndarray) -> np.ndarray:
    """Programme year (1-based) of a month index, −1 where the event never happened."""
    return np.where(month >= 0, month // 12 + 1, -1)


def _discount_rate(plan: Plan) -> float:
    # disc_y[0] = (1 + r)^-1
    return float(1.0 / plan.discount_y[0] - 1.0)
