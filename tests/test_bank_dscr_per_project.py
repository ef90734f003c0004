"""The bank tests each ring-fenced project's loan on that project's own CFADS: the per-path minimum over projects
with bank debt, each over its own operating window, checked against the recorded monthly cash flows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from baozhang_finance import load_scenario
from baozhang_finance.model.support import with_conventions
from baozhang_finance import simulate
from baozhang_finance.engine.loop import run_paths
from baozhang_finance.measures import bank
from baozhang_finance.engine.plan import compile_plan

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml"


def test_per_project_bank_dscr_matches_the_recorded_cash_flows():
    sc = load_scenario(DEMO)
    plan = compile_plan(sc, deterministic=True)
    out = run_paths(plan, 1, None, record=True)
    cf = out.monthly["cfads"][0]  # (P, T)
    due = out.monthly["bank_due"][0]
    cf_y = cf.reshape(plan.P, plan.Y, 12).sum(axis=2)
    due_y = due.reshape(plan.P, plan.Y, 12).sum(axis=2)
    expected = np.inf
    for p in range(plan.P):
        a, b = plan.bank_windows[p]
        for y in range(a, b):
            if due_y[p, y] > 0:
                expected = min(expected, cf_y[p, y] / due_y[p, y])
    assert np.isfinite(expected)
    assert out.scalars["bank_dscr_min_project"][0] == pytest.approx(expected, rel=1e-12)
    res = simulate(sc, deterministic=True)
    assert bank.min_bank_dscr(res)[0] == pytest.approx(expected, rel=1e-12)
    # the rental block (project 0) tests years 3..30, the sale block's bridge loan years 2..5
    assert plan.bank_windows.tolist() == [[2, 30], [1, 5]]


def test_price_index_recorded_at_the_bank_sale_month():
    """hpi_at_sale is the index in month default + liquidation_months, read from the recorded monthly path."""
    from baozhang_finance.run.simulate import chunk_generator

    sc = with_conventions(load_scenario(DEMO), "legacy")  # legacy: many paths default, so many sales to check
    plan = compile_plan(sc)
    out = run_paths(plan, 300, chunk_generator(3, 0), record=True)
    dm = out.scalars["default_month"]
    s = dm + plan.liquidation_months
    inside = (dm >= 0) & (s <= plan.T - 1)
    assert inside.sum() > 10
    rows = np.nonzero(inside)[0]
    assert np.array_equal(out.scalars["hpi_at_sale"][rows], out.monthly["hpi"][rows, s[rows]])
    assert np.all(np.isnan(out.scalars["hpi_at_sale"][dm < 0]))
