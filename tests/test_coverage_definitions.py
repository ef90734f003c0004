"""The bank's LLCR per ring-fenced project (decision 72), the programme DSCR net of the special-bond principal that
refinancing bonds meet, and the expected path's relending (decision 73) — each checked by hand against the
recorded monthly cash flows of a deterministic run, on both engines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from baozhang_finance import load_scenario, simulate
from baozhang_finance.engine.formulas import dscr, min_project_llcr
from baozhang_finance.engine.loop import run_paths
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.model.fields import apply_overrides

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml"
ENGINES = ("numpy", "compiled")


def _record(sc, engine="numpy"):
    plan = compile_plan(sc, deterministic=True)
    return plan, run_paths(plan, 1, None, record=True, engine=engine)


def _project_llcr(plan, out, p):
    """LLCR_p by hand: Σ_{t₀ ≤ t < t₁} (CFADS_{p,t} − bonds ahead_{p,t}) (1 + r_p)^−(t − t₀) ÷ D₀_p, with t₀ the
    project's owned month, t₁ its loans' last maturity, r_p its loans' draw-weighted initial monthly rate and D₀_p
    its loans' balance at the open of t₀ (no draw or capitalisation in t₀ here: the close of t₀ − 1)."""
    mo = out.monthly
    rows = np.nonzero(plan.loan_project == p)[0]
    a, b = int(max(plan.owned_month[p], 0)), int(plan.loan_maturity[rows].max())
    w = plan.loan_draw[rows].sum(axis=1)
    r = float((plan.loan_initial_rate_m[rows] * w).sum() / w.sum())
    assert plan.bank_first  # the bank first: no bond service ahead of it
    cf = mo["cfads"][0, p, a:b]
    assert plan.loan_draw[rows, a].sum() == 0.0
    d0 = mo["loan_balance"][0, rows, a - 1].sum()
    return float((cf * (1.0 + r) ** -np.arange(b - a, dtype=float)).sum() / d0)


def _bond_project(plan) -> int:
    (p,) = np.nonzero((plan.bond_interest + plan.bond_principal).sum(axis=1) > 0)[0]
    return int(p)


# ------------------------------------------------------------------------------------------------ LLCR (72)
def test_min_project_llcr_by_hand():
    num = np.array([[120.0, 50.0, 0.0], [90.0, 300.0, 0.0], [10.0, 10.0, 10.0]])
    den = np.array([[100.0, 100.0, 0.0], [100.0, 100.0, 0.0], [1.0, 1.0, 1.0]])
    tested = np.array([True, True, False])  # the third project has no bank debt: never the bank's LLCR
    out = min_project_llcr(num, den, tested)
    assert out[0] == pytest.approx(0.9)  # min(1.2, 0.9)
    assert out[1] == pytest.approx(0.5)  # min(0.5, 3.0)
    assert np.isnan(out[2])  # no bank debt outstanding at the test date: NaN, as before (no loan to cover)


@pytest.mark.parametrize("engine", ENGINES)
def test_demo_llcr_is_the_lowest_ring_fenced_project(engine):
    sc = load_scenario(DEMO)
    plan, out = _record(sc, engine)
    rental, sale = _project_llcr(plan, out, 0), _project_llcr(plan, out, 1)
    # the rental block's 30-year loan on its own rent: 5,716.6 万 discounted ÷ 5,865 万 opening balance
    assert rental == pytest.approx(0.974700, abs=1e-6)
    # the sale block's 5-year bridge loan on its own hand-over proceeds
    assert sale == pytest.approx(1.255907, abs=1e-6)
    assert out.scalars["llcr"][0] == pytest.approx(min(rental, sale), rel=1e-12)
    # the programme pooled (all CFADS ÷ all opening debt) was 1.115: the sale block's proceeds covered the rental loan
    mo = out.monthly
    a, b = 3, 360
    pooled = (mo["cfads"][0, :, a:b].sum(axis=0) * (1 + 0.0225 / 12) ** -np.arange(b - a, dtype=float)).sum()
    assert pooled / mo["loan_balance"][0, :, a - 1].sum() > 1.1


@pytest.mark.parametrize("engine", ENGINES)
def test_llcr_with_bonds_first_deducts_the_bonds_net_of_refinancing(engine):
    sc = apply_overrides(load_scenario(DEMO), {"waterfall.seniority": "bonds_first"})
    plan, out = _record(sc, engine)
    assert not plan.bank_first
    mo = out.monthly
    p = _bond_project(plan)
    rows = np.nonzero(plan.loan_project == p)[0]
    a, b = int(max(plan.owned_month[p], 0)), int(plan.loan_maturity[rows].max())
    refi = mo["cure_refinancing"][0, a:b]
    assert refi.sum() > 0  # the 30-year bullet is refinanced in the last month of the window
    ahead = mo["bond_interest"][0, p, a:b] + mo["bond_principal"][0, p, a:b] - refi
    v = (1.0 + plan.loan_initial_rate_m[rows[0]]) ** -np.arange(b - a, dtype=float)
    llcr_p = ((mo["cfads"][0, p, a:b] - ahead) * v).sum() / mo["loan_balance"][0, rows, a - 1].sum()
    other = [q for q in range(plan.P) if q != p]
    others = []
    for q in other:  # no bonds on the other project: its own CFADS
        rq = np.nonzero(plan.loan_project == q)[0]
        aq, bq = int(max(plan.owned_month[q], 0)), int(plan.loan_maturity[rq].max())
        vq = (1.0 + plan.loan_initial_rate_m[rq[0]]) ** -np.arange(bq - aq, dtype=float)
        others.append((mo["cfads"][0, q, aq:bq] * vq).sum() / mo["loan_balance"][0, rq, aq - 1].sum())
    assert out.scalars["llcr"][0] == pytest.approx(min([llcr_p, *others]), rel=1e-12)
    assert llcr_p < 0.974700  # the bond coupons ranked ahead lower the rental block's LLCR


def test_llcr_is_nan_without_bank_debt():
    sc = load_scenario(DEMO)
    data = sc.model_dump(mode="python")
    for p in data["projects"]:  # no bank loans: the equity takes the loans' place, sources = uses
        p["financing"]["equity_yuan"] += sum(ln["amount_yuan"] for ln in p["financing"]["loans"])
        p["financing"]["loans"] = []
    sc = type(sc).model_validate(data)
    out = run_paths(compile_plan(sc, deterministic=True), 1, None)
    assert np.isnan(out.scalars["llcr"][0])


# ------------------------------------------------------------------------------------------------ DSCR (73)
def _yearly_by_hand(plan, out):
    mo, Y = out.monthly, plan.Y
    y = lambda x: x.reshape(-1, Y, 12).sum(axis=-1)  # noqa: E731
    cf = y(mo["cfads"][0].sum(axis=0)[None])[0]
    service = y((mo["bank_due"][0] + mo["bond_interest"][0] + mo["bond_principal"][0]).sum(axis=0)[None])[0]
    refi = y(mo["cure_refinancing"][0][None])[0]
    return cf, service, refi


@pytest.mark.parametrize("engine", ENGINES)
def test_programme_dscr_nets_the_refinanced_bullet(engine):
    """A 10-year bullet special bond refinanced by 5-year 再融资债券 (rolled again every 5 years): the year of the bullet
    covers only what CFADS pays; the refinancing bonds' coupons count in the years after."""
    sc = apply_overrides(load_scenario(DEMO), {"projects[0].financing.bonds[0].term_years": 10,
                                               "cures.refinancing.term_years": 5})
    plan, out = _record(sc, engine)
    cf, service, refi = _yearly_by_hand(plan, out)
    rolled = np.array([9, 14, 19, 24, 29])  # years 10, 15, …, 30: the bullet, then each 5-year refinancing bond
    np.testing.assert_allclose(refi[rolled], 29_325_000.0)
    assert np.delete(refi, rolled).sum() == 0.0
    # year 10 by hand: CFADS ÷ (service due − the principal the new bonds pay)
    net = service - refi
    assert service[9] > 29_325_000.0 > net[9] > 0
    assert cf[9] / service[9] < 0.1  # the old definition: the bullet as if paid from rent
    assert cf[9] / net[9] == pytest.approx(0.787, abs=1e-3)
    # the refinancing bonds' own coupons are debt service of the project in years 11–15 (the original is repaid)
    assert (plan.bond_interest + plan.bond_principal)[:, 120:180].sum() == 0.0
    bonds_y11 = (out.monthly["bond_interest"][0, :, 120:132]).sum()
    assert bonds_y11 > 0 and net[10] == pytest.approx(service[10])
    res = simulate(sc, deterministic=True)
    w0, w1 = plan.dscr_window
    expected = np.where(net > 0, cf / np.where(net > 0, net, 1.0), np.nan)
    assert res.paths["dscr_min"].iloc[0] == pytest.approx(np.nanmin(expected[w0:w1]), rel=1e-9)
    assert res.paths["dscr_min_all_years"].iloc[0] == pytest.approx(np.nanmin(expected), rel=1e-9)
    np.testing.assert_allclose(res.ledger("dscr")[0], expected, rtol=1e-5)  # float32 ledgers


def test_demo_year_30_dscr_without_the_refinanced_bullet():
    res = simulate(load_scenario(DEMO), deterministic=True)
    d = res.ledger("dscr")[0]
    assert res.ledger("refinancing")[0][29] == pytest.approx(29_325_000.0)
    assert d[29] == pytest.approx(0.804, abs=1e-3)  # was 0.08: the 2,932.5 万 bullet counted as paid from rent
    gross = dscr(res.ledger("cfads")[0], res.ledger("debt_service")[0])
    assert gross[29] < 0.1
    assert np.array_equal(d[:29], gross[:29])  # no refinancing before year 30: the same ratio


def test_dscr_service_by_hand():
    assert dscr(np.array([50.0]), np.array([1_050.0]), np.array([1_000.0]))[0] == pytest.approx(1.0)
    assert np.isnan(dscr(np.array([50.0]), np.array([1_000.0]), np.array([1_000.0]))[0])  # nothing left to cover
    assert dscr(np.array([50.0]), np.array([100.0]))[0] == pytest.approx(0.5)


# ------------------------------------------------------------------------------------------------ relending (73)
@pytest.mark.parametrize("engine", ENGINES)
def test_expected_path_weighs_relending_by_its_renewal_probability(engine):
    """Demo rental loan: 100 % relent at 2.25 %, 1-year terms, 4 rollovers (months 12, 24, 36, 48), p = 0.05 of
    no renewal at each; the bank reprices with probability 0.5. Expected rate in month t of relending year k:
    S·r_c + (1 − S)·(r_c + 0.5·(r − r_c)), S = 0.95^k; from month 60 (the term's end) r_c + 0.5·(r − r_c)."""
    plan, out = _record(load_scenario(DEMO), engine)
    mo = out.monthly
    lpr = mo["lpr"][0]
    base = lpr / 12.0 - 0.005 / 12.0
    contract = 0.0225 / 12.0
    after = contract + 0.5 * (base - contract)
    t = np.arange(plan.T)
    k = np.clip(t // 12, 0, 4)
    S = np.where(t < 60, 0.95 ** k, 0.0)
    expected = S * contract + (1.0 - S) * after
    np.testing.assert_allclose(mo["loan_rate_m"][0, 0], expected, rtol=1e-12)
    assert mo["loan_rate_m"][0, 0, 12] * 12 == pytest.approx(0.0225 + 0.05 * 0.5 * (lpr[12] - 0.005 - 0.0225))


def test_expected_path_is_the_mean_of_the_stochastic_renewals():
    """The expected path's survival S_t against the share of stochastic paths still relent (p = 0.05)."""
    from baozhang_finance.engine.drivers import Drivers
    from baozhang_finance.run.simulate import chunk_generator

    plan = compile_plan(load_scenario(DEMO))
    n = 20_000
    drv = Drivers(plan.market, n, chunk_generator(11, 0))
    exp = Drivers(plan.market, 1, None)
    for t in range(61):
        ms, me = drv.step(t), exp.step(t)
        if t in (12, 24, 36, 48, 60):
            share = ms.relending_on.mean()
            s = float(me.relending_p[0])
            assert s == pytest.approx(0.95 ** min(t // 12, 4))
            assert abs(share - s) < 4 * np.sqrt(s * (1 - s) / n)


@pytest.mark.parametrize("seniority", ["bank_first", "bonds_first"])
def test_llcr_and_relending_same_bits_on_both_engines(seniority):
    """The per-project LLCR sums (bonds ahead, net of refinancing) and the expected path's relending weight: the
    compiled twins give the numpy stages' bytes (stochastic paths and the expected path)."""
    from baozhang_finance.run.simulate import chunk_generator

    sc = apply_overrides(load_scenario(DEMO), {"waterfall.seniority": seniority,
                                               "projects[0].financing.bonds[0].term_years": 10,
                                               "cures.refinancing.term_years": 5})
    for plan, n, rng in ((compile_plan(sc), 200, lambda: chunk_generator(5, 0)),
                         (compile_plan(sc, deterministic=True), 1, lambda: None)):
        a = run_paths(plan, n, rng(), engine="numpy").scalars
        b = run_paths(plan, n, rng(), engine="compiled").scalars
        for k in ("llcr", "pv_hidden", "pv_soe_support", "bank_dscr_min_project", "terminal_equity"):
            assert np.array_equal(a[k], b[k], equal_nan=True), k
        assert np.isfinite(a["llcr"]).all()


def test_dscr_rises_with_the_projects_cash_when_a_bullet_is_refinanceable():
    """Decision 81: the DSCR nets the principal the refinancing stands ready to roll (max_share × the maturing
    principal, fixed before the year), not what the year's shortfall made it — so more rent never lowers it.
    (Netting the amount actually refinanced gave year 10: 0.987 at rent × 1.2, 0.805 at × 1.5, 0.894 at × 1.8.)"""
    base = load_scenario(DEMO)
    year10 = []
    for k in (1.2, 1.5, 1.8):
        rent = base.projects[0].rental.market_rent_yuan_per_m2_month * k
        sc = apply_overrides(base, {"projects[0].financing.bonds[0].term_years": 10,
                                    "cures.refinancing.term_years": 5,
                                    "projects[0].rental.market_rent_yuan_per_m2_month": rent})
        res = simulate(sc, deterministic=True)
        cf, ds = res.ledger("cfads")[0].astype(float), res.ledger("debt_service")[0].astype(float)
        bullet = 29_325_000.0  # max_share 1 × the 10-year bullet, whatever the year's cash
        assert res.ledger("dscr")[0][9] == pytest.approx(cf[9] / (ds[9] - bullet), rel=1e-6)
        year10.append(res.ledger("dscr")[0][9])
    assert year10[0] < year10[1] < year10[2]
