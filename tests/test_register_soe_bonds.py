"""The hidden-debt register counts the SOE's corporate bonds beside its bank loans (measures/fiscal.py
stock_by_year, run/chunks.py debt_at_first_call): both are SOE debt the government would be taking over."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from baozhang_finance import simulate
from baozhang_finance.engine.loop import run_paths
from baozhang_finance.measures import fiscal
from baozhang_finance.model.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
BOND = 10_000_000.0


def _demo(soe_bond: bool):
    d = tomllib.loads((ROOT / "scenarios" / "demo.toml").read_text(encoding="utf-8"))
    p = d["projects"][0]
    if soe_bond:  # 10 m yuan of the rental block's equity raised as a 30-year bullet corporate bond instead
        p["financing"]["equity_yuan"] -= BOND
        p["financing"]["soe_bonds"] = [{"name": "企业债", "amount_yuan": BOND, "coupon": 0.03, "term_years": 30,
                                        "coupon_frequency": "annual", "principal": "bullet"}]
    p["rental"]["market_rent_yuan_per_m2_month"] *= 0.5  # the block cannot serve its debt: the budget is called
    d["support"]["yearly_capacity_yuan"] = 0.0
    return scenario_from_dict(d)


@pytest.fixture(scope="module")
def run():
    return simulate(_demo(True), deterministic=True)


def test_the_bond_is_outstanding_in_full_after_the_purchase(run):
    bal = run.plan.soe_bond_balance.sum(axis=0)
    assert bal[2] == pytest.approx(BOND) and bal[12 * 30 - 2] == pytest.approx(BOND)  # drawn with the uses (3 months)


def test_register_is_bank_debt_plus_soe_bonds_from_the_first_call_year(run):
    fy = int(run.col("first_call_year")[0])
    assert fy >= 1
    stock = fiscal.stock_by_year(run)[0]
    bank = run.ledger("bank_balance")[0].astype(float)
    np.testing.assert_array_equal(stock[: fy - 1], 0.0)
    soe = np.where(np.arange(1, 31) < 30, BOND, 0.0)  # the bullet is repaid in the last month of year 30
    np.testing.assert_allclose(stock[fy - 1:], bank[fy - 1:] + soe[fy - 1:], rtol=0, atol=1e-6)


def test_debt_at_the_first_call_includes_the_bonds(run):
    """Bank balance at the opening of the call month (the engine's monthly record: the closing balance of the
    month before) + the bond outstanding then."""
    out = run_paths(run.plan, 1, None, record=True)
    t = int(out.scalars["first_call_month"][0])
    assert 3 <= t < 12 * 30
    bank_open = float(out.monthly["loan_balance"][0, :, t - 1].sum())
    assert float(run.col("debt_at_first_call")[0]) == pytest.approx(bank_open + BOND, rel=1e-12)
