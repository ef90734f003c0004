"""The staged engine's parts: shock source, ranked tranches, sub-plans, one copy of the formulas, one ledger registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from baozhang_finance.engine import formulas, ledgers
from baozhang_finance.engine.instruments import bank_loan, special_bond
from baozhang_finance.engine.instruments.base import ranked
from baozhang_finance.engine.loop import run_paths
from baozhang_finance.engine.plan import SUBPLANS, compile_plan
from baozhang_finance.engine.shocks import Shocks
from baozhang_finance.measures import stats
from baozhang_finance.model.scenario import load_scenario
from baozhang_finance.model.support import with_conventions
from baozhang_finance.run.simulate import chunk_generator

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml"


def test_rows_of_a_shock_source_are_the_rows_of_the_chunk():
    plan = compile_plan(load_scenario(DEMO))
    full = Shocks.for_plan(plan.market, 5, chunk_generator(3, 0))
    row = Shocks.for_plan(plan.market, 5, chunk_generator(3, 0)).rows(slice(2, 3))
    for t in range(40):
        e, u = full.month(t)
        er, ur = row.month(t)
        assert (e is None) == (er is None) and (u is None) == (ur is None)
        if e is not None:
            assert np.array_equal(e[2:3], er)
        if u is not None:
            assert np.array_equal(u[2:3], ur)


def test_replaying_a_row_reproduces_the_path_bit_for_bit():
    plan = compile_plan(load_scenario(DEMO))
    chunk = run_paths(plan, 4, chunk_generator(5, 0))
    one = run_paths(plan, 1, Shocks.for_plan(plan.market, 4, chunk_generator(5, 0)).rows(slice(1, 2)))
    assert np.allclose(one.scalars["pv_hidden"], chunk.scalars["pv_hidden"][1:2], rtol=1e-12, atol=0)


def test_seniority_presets_rank_the_tranches():
    both = (bank_loan.TRANCHE, special_bond.TRANCHE)
    assert [t.kind for t in ranked(both, "bank_first")] == ["bank_loan", "special_bond"]
    assert [t.kind for t in ranked(both, "bonds_first")] == ["special_bond", "bank_loan"]
    assert bank_loan.TRANCHE.government_class == "hidden" and special_bond.TRANCHE.government_class == "bond"
    assert bank_loan.TRANCHE.soe_may_pay and special_bond.TRANCHE.soe_may_pay  # today's default


def test_flat_plan_attributes_are_the_sub_plans_fields():
    plan = compile_plan(load_scenario(DEMO))
    for sub, cls in SUBPLANS.items():
        for name in cls.__dataclass_fields__:
            assert getattr(plan, name) is getattr(getattr(plan, sub), name)


def test_measures_use_the_engines_formulas():
    for name in ("cfads", "dscr", "min_dscr", "llcr", "npv", "present_value_monthly", "bond_coverage_ratio"):
        assert getattr(stats, name) is getattr(formulas, name)


def test_one_ledger_registry():
    assert set(ledgers.YEARLY_KEPT) <= set(ledgers.YEARLY_FLOWS + ledgers.YEARLY_BALANCES)
    assert len({(x.name, x.kind) for x in ledgers.LEDGERS}) == len(ledgers.LEDGERS)


BUNDLED = sorted(p for p in (DEMO.parent).glob("*.toml") if p.stem != "liaoning_province") + [
    DEMO.parent / "liaoning" / "shenyang.toml"]  # government-owned blocks


def test_a_bulk_run_keeps_only_the_ledgers_it_reads_with_the_same_bits():
    """``yearly="bulk"`` accumulates :data:`ledgers.BULK_YEARLY` only; each of them, and every end-of-run
    scalar, is bit for bit the full run's (both conventions, every bundled scenario)."""
    for path in BUNDLED:
        for conv in ("default", "legacy"):
            plan = compile_plan(with_conventions(load_scenario(path), conv))
            full = run_paths(plan, 48, chunk_generator(11, 0))
            bulk = run_paths(plan, 48, chunk_generator(11, 0), yearly="bulk")
            assert tuple(bulk.yearly) == ledgers.BULK_YEARLY, path.name
            for k, v in bulk.yearly.items():
                assert np.array_equal(v, full.yearly[k]), (path.name, conv, k)
            for k, v in full.scalars.items():
                assert np.array_equal(bulk.scalars[k], v, equal_nan=True), (path.name, conv, k)
