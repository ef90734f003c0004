"""Shared helpers: small scenario dicts built in code, and a recorded deterministic run."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from baozhang_finance.engine.loop import run_paths
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.model.scenario import scenario_from_dict


def programme(horizon_years: int = 10, **kw) -> dict:
    out = {"name": "test", "city": "test city", "soe": "test SOE", "start": "2025-01", "horizon_years": horizon_years,
           "discount_rate": 0.04, "fiscal_revenue_yuan": 1.2e9}
    out.update(kw)
    return out


def market(**kw) -> dict:
    """A flat market: no drift anywhere, so the deterministic path has every index at 1 (override per test)."""
    out = {"price_drift_annual": 0.0, "price_vol_annual": 0.0, "rent_drift_annual": 0.0, "rent_vol_annual": 0.0,
           "lpr_initial": 0.035, "lpr_mean": 0.035, "lpr_reversion": 0.0, "lpr_vol_annual": 0.0,
           "cpi_drift_annual": 0.0, "cpi_vol_annual": 0.0, "occupancy_reversion": 0.0, "occupancy_vol_annual": 0.0,
           "absorption_reversion": 0.0, "absorption_vol_annual": 0.0, "fiscal_growth_annual": 0.0,
           "fiscal_vol_annual": 0.0, "fiscal_land_share": 0.0, "fiscal_land_beta": 0.0}
    out.update(kw)
    return out


def waterfall(**kw) -> dict:
    out = {"seniority": "bank_first", "dsra_months": 0, "lockup_dscr": 0.0, "soe_support_capacity_yuan": 1e12,
           "terminal_value_haircut": 0.3}
    out.update(kw)
    return out


def scenario(projects: list[dict], horizon_years: int = 10, market_kw: dict | None = None, waterfall_kw: dict | None = None,
             stresses: list[dict] | None = None, support: dict | None = None, cures: dict | None = None):
    """A scenario from parts. ``support`` defaults to the legacy conventions: the golden cases of the first version
    were computed by hand under them (tests of the default support policy and the cures pass their own)."""
    data = {"programme": programme(horizon_years), "projects": copy.deepcopy(projects),
            "waterfall": waterfall(**(waterfall_kw or {})), "market": market(**(market_kw or {})),
            "support": support if support is not None else {"conventions": "legacy"}}
    if cures:
        data["cures"] = cures
    if stresses:
        data["market"]["stresses"] = stresses
    return scenario_from_dict(data)


def recorded(sc, stress: str | None = None):
    """One deterministic path with the monthly arrays; returns (plan, monthly dict with the path axis dropped)."""
    plan = compile_plan(sc, stress=stress, deterministic=True)
    out = run_paths(plan, 1, None, record=True)
    return plan, {k: v[0] for k, v in out.monthly.items()}, out


def annuity(balance: float, annual_rate: float, n: int) -> float:
    """PMT = B r / (1 − (1 + r)^−n), r = annual / 12 — written out here, independent of the package."""
    r = annual_rate / 12.0
    return balance * r / (1.0 - (1.0 + r) ** (-n))


def balance_after(balance: float, annual_rate: float, pmt: float, months: int) -> float:
    """Balance of an annuity loan after ``months`` level payments: B(1+r)^m − PMT((1+r)^m − 1)/r."""
    r = annual_rate / 12.0
    g = (1.0 + r) ** months
    return balance * g - pmt * (g - 1.0) / r


@pytest.fixture
def approx_yuan():
    """Compare money to the yuan (absolute 0.5 yuan), with a message naming the month."""

    def check(actual, expected, what: str):
        actual = np.asarray(actual, dtype=float)
        expected = np.asarray(expected, dtype=float)
        bad = np.nonzero(np.abs(actual - expected) > 0.5)[0]
        assert bad.size == 0, (f"{what}: first mismatch at index {bad[0]}: engine {actual[bad[0]]:,.2f} "
                               f"vs hand {expected[bad[0]]:,.2f}")

    return check


def pytest_collection_modifyitems(config, items):
    """Tests marked ``long`` (the 10,000-case fuzz profile, the rest of the signal matrix) run only when asked for
    with ``-m long`` — also when ``-o addopts=""`` drops the default ``-m "not long"``."""
    if "long" in (config.option.markexpr or "").replace("not long", ""):
        return
    skip = pytest.mark.skip(reason="long: run with -m long")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


def _same_bits(a: dict, b: dict, what: str) -> list[str]:
    """Names of the arrays of ``a`` whose bytes (dtype, shape, every bit: the sign of a zero, NaN) differ from
    ``b``'s."""
    bad = [f"{what}: missing {k}" for k in set(a) ^ set(b)]
    for k in set(a) & set(b):
        x, y = np.ascontiguousarray(a[k]), np.ascontiguousarray(b[k])
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            bad.append(f"{what}.{k}")
    return bad


def engines_agree(run, plan, n, shocks=None, record=False, engine=None, **kw):
    """``run_paths`` on the numpy stages and on their compiled twins with the same draws; fails on a differing bit.
    Returns the numpy run (the caller's shock source advanced once)."""
    import copy

    from baozhang_finance.engine.loop import choose_engine
    twin = copy.deepcopy(shocks)
    a = run(plan, n, shocks, record, engine="numpy", **kw)
    if choose_engine(plan, "auto") != "compiled":
        return a
    b = run(plan, n, twin, record, engine="compiled", **kw)
    bad = (_same_bits(a.yearly, b.yearly, "yearly") + _same_bits(a.scalars, b.scalars, "scalars")
           + _same_bits(a.monthly, b.monthly, "monthly"))
    assert not bad, f"compiled != numpy on {len(bad)} arrays: {sorted(bad)[:12]}"
    return a


@pytest.fixture(autouse=True)
def _engine_check(monkeypatch):
    """With ``BAOZHANG_ENGINE_CHECK=1`` every ``run_paths`` of a test runs on both engines and must agree bit for bit
    (docs/decisions.md 56): ``BAOZHANG_ENGINE_CHECK=1 pytest tests/test_golden_*.py``."""
    import os
    import sys

    if os.environ.get("BAOZHANG_ENGINE_CHECK") != "1":
        yield
        return
    from baozhang_finance.engine import loop
    original = loop.run_paths

    def checked(plan, n, shocks=None, record=False, engine=None, **kw):
        return engines_agree(original, plan, n, shocks, record, engine, **kw)

    for mod in list(sys.modules.values()):
        if getattr(mod, "run_paths", None) is original:
            monkeypatch.setattr(mod, "run_paths", checked)
    yield


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 1,000 paths, selections of at most 700 values, row groups of 1,000 rows: the blocked reductions'
    and the column store's many-block paths on small runs (tests/test_blocked.py, test_store_parts.py)."""
    from baozhang_finance.measures import blocked as bk
    from baozhang_finance.run import store

    monkeypatch.setattr(bk, "BLOCK", 1_000)
    monkeypatch.setattr(bk, "SELECT_CAP", 700)
    monkeypatch.setattr(store, "ROW_GROUP_ROWS", 1_000)
