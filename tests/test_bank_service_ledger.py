"""The bank DSCR's denominator is the engine's own bank service (the ``bank_service`` ledger, decision 80), not the
debt service less the special bonds' schedule — which counted an SOE corporate bond's service as bank service."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from baozhang_finance import load_scenario, simulate
from baozhang_finance.engine.loop import run_paths
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.measures import bank

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def weihai():
    return load_scenario(ROOT / "scenarios" / "weihai.toml")


def test_ledger_is_the_months_bank_service_summed_by_year(weihai):
    plan = compile_plan(weihai, deterministic=True)
    out = run_paths(plan, 1, None, record=True)
    due = out.monthly["bank_due"][0].sum(axis=0)  # (T,): Σ_p interest + scheduled principal due
    by_year = due.reshape(plan.Y, 12).sum(axis=1)
    np.testing.assert_allclose(out.yearly["bank_service"][0], by_year, rtol=1e-12, atol=1e-6)


def test_an_soe_bond_bullet_is_not_bank_service(weihai):
    r = simulate(weihai, deterministic=True)
    plan = r.plan
    soe = (plan.soe_bond_interest + plan.soe_bond_principal).sum(axis=0).reshape(plan.Y, 12).sum(axis=1)
    y = int(np.argmax(soe))  # the year the 30 m bullet falls due
    assert soe[y] > 2.5e7
    svc = bank.bank_service_by_year(r)[0]
    ds = r.ledger("debt_service")[0].astype(float)
    bond = bank.bond_service_by_year(plan)
    # debt service = bank + special bonds + SOE bonds; the bank's part excludes the SOE bond (float32 ledgers)
    assert svc[y] == pytest.approx(ds[y] - bond[y] - soe[y], rel=1e-6)
    cf = r.ledger("cfads")[0].astype(float)
    assert bank.bank_dscr(r)[0, y] == pytest.approx(cf[y] / svc[y], rel=1e-12)


def test_a_year_without_bank_service_has_no_ratio():
    r = simulate(load_scenario(ROOT / "scenarios" / "beitun.toml"), deterministic=True)
    svc = bank.bank_service_by_year(r)[0]
    d = bank.bank_dscr(r)[0]
    assert (svc == 0).any()
    assert np.isnan(d[svc == 0]).all() and np.isfinite(d[svc > 0]).all()


def test_a_run_saved_before_the_ledger_reads_the_old_formula(weihai):
    """A Result without ``bank_service`` (a folder saved before decision 80): debt service − the bond schedule."""
    from baozhang_finance.run.result import Result
    r = simulate(weihai, deterministic=True)
    cols = {**r._columns, **{f"y_{k}": v for k, v in r._ledgers.items() if k != "bank_service"}}
    old = Result(scenario=r.scenario, plan=r.plan, columns=cols, run=r.run)
    assert not old.has_ledger("bank_service")
    ds = r.ledger("debt_service")[0].astype(float)
    expect = ds - bank.bond_service_by_year(r.plan)
    expect = np.where(expect > 1.0 + 1e-6 * np.abs(ds), expect, 0.0)
    np.testing.assert_array_equal(bank.bank_service_by_year(old)[0], expect)


def test_the_bank_dscr_by_year_reads_only_the_projects_with_bank_loans():
    """liaoning_2025 has its loan on one of two projects: the yearly bank DSCR's minimum over the test years is that
    project's own (the headline per-project minimum), not the programme's CFADS over its bank service (decision 82)."""
    r = simulate(load_scenario(ROOT / "scenarios" / "liaoning_2025.toml"), deterministic=True)
    plan = r.plan
    assert len(set(np.asarray(plan.loan_project).tolist())) < plan.P
    w0, w1 = bank.dscr_test_years(r.scenario, plan)
    by_year = bank.bank_dscr(r)[0, w0:w1]
    assert np.nanmin(by_year) == pytest.approx(float(r.col("bank_dscr_min_project")[0]), rel=1e-6)
    pooled = r.ledger("cfads")[0, w0:w1].astype(float) / bank.bank_service_by_year(r)[0, w0:w1]
    assert np.nanmin(pooled) > np.nanmin(by_year) + 0.05  # the project without a loan used to lend its cash


def test_no_bank_service_in_the_test_years_is_not_a_zero_probability():
    """Beitun's bridge loan is repaid before its operating years: no path has a bank DSCR to test, so P(min bank
    DSCR < 1) is not measured (None, printed "—"), not 0 % (decision 83)."""
    r = simulate(load_scenario(ROOT / "scenarios" / "beitun.toml"), paths=200, seed=3)
    assert r.summary["bank"]["dscr_bank_min"]["p50"] is None
    assert r.summary["bank"]["p_dscr_bank_min_below_1"] is None
    demo = simulate(load_scenario(ROOT / "scenarios" / "demo.toml"), paths=200, seed=3)
    assert 0.0 <= demo.summary["bank"]["p_dscr_bank_min_below_1"] <= 1.0
