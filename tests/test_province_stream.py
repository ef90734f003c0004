"""A streamed province (decision 76): each city's reduction written to Parquet, the province's measures read by
blocks of paths — the same bits as from memory, whatever the backend; the run folder removed; the table readable
in a pipe.

What is checked: the province's measures on synthetic cities of several blocks (the block shrunk to 1,000 paths so
that 2,500 paths make three) are the same numbers from memory and from the cities' Parquet files, and the
per-path formulas agree with whole-array arithmetic (B + T + U = the government money's PV; Σ_c hidden PV's tail;
the register's fan = ``arr.mean(axis=0)`` and ``np.quantile``); a real portfolio's summary.json is byte for byte the
same in memory and streamed, serially and on two processes; the automatic choice follows the bytes; a failed run
leaves no folder; the pipe's table has whole headers.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from baozhang_finance.cli import app
from baozhang_finance.measures import blocked as bk
from baozhang_finance.measures import province as pm
from baozhang_finance.model.portfolio import load_portfolio
from baozhang_finance.run import portfolio as rp
from baozhang_finance.run import store
from baozhang_finance.run.portfolio import StoredCityPaths, simulate_portfolio

FIX = Path(__file__).resolve().parent / "fixtures" / "portfolio"


@pytest.fixture
def small_block(monkeypatch):
    """Blocks of 1,000 paths (the measures' and the store's), so that a few thousand paths cross block edges."""
    for mod, name in ((bk, "BLOCK"), (pm, "BLOCK"), (store, "ROW_GROUP_ROWS")):
        monkeypatch.setattr(mod, name, 1000)
    return 1000


class Province:
    """The [province] fields the measures read."""
    name = "test province"
    revenue_yuan = 5.0e6
    revenue_growth = 0.03
    discount_rate = 0.02
    city_cap_share_of_revenue = 0.05
    transfer_cap_share_of_revenue = 0.02
    revenue_vol = 0.04


def _summary(s: dict) -> dict:
    """A city's summary with the keys city_row reads."""
    return {"programme": {"total_investment_yuan": 1e8},
            "hidden_debt": {"p_call": s, "p_call_material": s / 2, "expected_pv": 1e5 * s, "var95_pv": 1.0,
                            "cvar95_pv": 2.0, "var99_pv": 3.0, "cvar99_pv": 4.0, "stock_by_year": {"mean": [1.0]}},
            "fiscal": {"explicit_bond_burden": {"expected_pv": 5.0}, "total_fiscal_cost": {"expected_pv": 7.0 * s},
                       "debt_ratio": {"contribution_peak": {"p50": 0.01, "p95": 0.02}}},
            "run": {"standard_errors": {"p_call": 0.01}}}


def synthetic_cities(C: int = 4, n: int = 2500, Y: int = 7, seed: int = 3) -> list[pm.CityPaths]:
    rng = np.random.default_rng(seed)
    out = []
    for c in range(C):
        called = rng.random((n, Y)) < 0.05 + 0.03 * c
        money = np.where(called, rng.lognormal(11, 1, (n, Y)), 0.0).astype(np.float32)
        pv = (money.astype(float) * 0.9).sum(axis=1)
        out.append(pm.CityPaths(
            name=f"c{c}", summary=_summary(float(called.any(axis=1).mean())), hidden_call=called.any(axis=1),
            material_call=pv > 1e5, hidden_pv=pv, money_pv=pv * 1.1, money_y=money, called_y=called,
            revenue_y=rng.lognormal(14, 0.2, (n, Y)).astype(np.float32),
            debt_y=rng.lognormal(15, 0.3, (n, Y)).astype(np.float32),
            stock_y=rng.lognormal(13, 0.5, (n, Y)).astype(np.float32), capacity_yuan=1e7 * (c + 1)))
    return out


def stored(cities, tmp_path: Path) -> list[StoredCityPaths]:
    return [StoredCityPaths(c, tmp_path / f"city_{k}") for k, c in enumerate(cities)]


def _bits(s: dict) -> str:
    return json.dumps(rp._clean(s), sort_keys=True)


# ------------------------------------------------------------------------------------------ the measures by blocks
@pytest.mark.parametrize("with_revenue_path", [False, True])
def test_memory_and_parquet_give_the_same_numbers_over_several_blocks(tmp_path, small_block, with_revenue_path):
    cities = synthetic_cities()
    n, Y = cities[0].n, cities[0].years
    rf = np.random.default_rng(9).lognormal(0, 0.05, (n, Y)) if with_revenue_path else None
    files = stored(cities, tmp_path)
    assert all(c.store.n == n for c in files) and -(-n // small_block) == 3
    a = pm.province_summary(cities, Province, n, rf)
    b = pm.province_summary(files, Province, n, rf)
    assert _bits(a) == _bits(b)
    assert ("revenue_path" in a["province"]) == with_revenue_path
    for c, f in zip(cities, files):  # the files hold the very arrays, dtype and all
        for name in pm.PATH_FIELDS + pm.YEAR_FIELDS:
            x, y = getattr(c, name), getattr(f, name)
            assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), name


def test_the_blocked_measures_are_the_whole_array_formulas(small_block):
    cities = synthetic_cities()
    n, Y = cities[0].n, cities[0].years
    s = pm.province_summary(cities, Province, n)
    p = s["province"]
    disc = pm.discount_by_year(Province.discount_rate, Y)
    for c, row in zip(cities, s["cities"]):  # every yuan of government money is paid by someone: B + T + U = M
        total = float((c.money_y.astype(float) @ disc).mean())
        assert row["city_budget_pv"] + row["transfers_pv"] + row["unfunded_pv"] == pytest.approx(total, rel=1e-12)
    hidden = np.sum([c.hidden_pv for c in cities], axis=0)  # tails and fans: exact, whatever the blocks
    assert p["hidden_debt_pv"]["var95"] == np.quantile(hidden, 0.95, method="inverted_cdf")
    assert p["hidden_debt_pv"]["expected"] == float(hidden.mean())
    stock = np.sum([c.stock_y.astype(float) for c in cities], axis=0)
    assert p["register_stock_by_year"]["mean"] == stock.mean(axis=0).tolist()
    assert p["register_stock_by_year"]["p95"] == np.quantile(stock, 0.95, axis=0).tolist()
    called = np.stack([c.hidden_call for c in cities])
    n_called = called.sum(axis=0)
    assert p["cities_called"]["distribution"] == (np.bincount(n_called, minlength=5) / n).tolist()
    by_year = np.sum([c.called_y for c in cities], axis=0)
    assert p["cities_called_same_year"]["by_year_expected"] == by_year.mean(axis=0).tolist()
    assert p["call_correlation_mean"] == pytest.approx(
        np.corrcoef(called.astype(float))[~np.eye(4, dtype=bool)].mean(), rel=1e-12)
    # the transfers: the province's cap τ R_y binds in some years and is never exceeded
    transfers = p["transfers_share_of_revenue_peak"]
    assert 0 < transfers["p99"] <= Province.transfer_cap_share_of_revenue * (1 + 1e-12)


def test_pv_by_year_by_hand_and_the_same_bits_in_any_block():
    assert pm.pv_by_year(np.array([[1.0, 2.0], [4.0, 0.0]]), np.array([0.5, 0.25])).tolist() == [1.0, 2.0]
    assert pm.pv_by_year(np.zeros((3, 0)), np.zeros(0)).tolist() == [0.0, 0.0, 0.0]
    a = np.random.default_rng(1).standard_normal((70_001, 30)) * 1e6
    d = pm.discount_by_year(0.02, 30)
    whole = pm.pv_by_year(a, d)
    parts = np.concatenate([pm.pv_by_year(a[i:i + 4097], d) for i in range(0, len(a), 4097)])
    assert whole.tobytes() == parts.tobytes()
    np.testing.assert_allclose(whole, a @ d, rtol=1e-12, atol=1e-3)


def test_correlation_of_counts_by_hand():
    x = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0]], dtype=bool)
    co = pm.call_co_counts(x)
    assert co.tolist()[0] == [2, 1, 2, 0, 0] and co[3, 3] == 2
    r = pm.correlation_of_counts(co, 4)
    assert r[0, 1] == 0.0 and r[0, 2] == 1.0 and r[0, 3] == -1.0  # independent, equal, opposite
    assert np.isnan(r[4, 0]) and np.isnan(r[0, 4])  # a city never called has no correlation


# ------------------------------------------------------------------------------------------ a real portfolio
def test_a_portfolio_streamed_serially_and_on_two_processes_is_its_in_memory_run(tmp_path, monkeypatch):
    monkeypatch.setenv("BAOZHANG_STORE_DIR", str(tmp_path / "stores"))
    pf = load_portfolio(FIX / "three_loaded.toml")
    kw = dict(paths=900, chunk_size=300)
    memory = simulate_portfolio(pf, stream=False, **kw)
    serial = simulate_portfolio(pf, stream=True, **kw)
    procs = simulate_portfolio(pf, stream=True, workers=2, backend="processes", **kw)
    assert not isinstance(memory.cities[0], StoredCityPaths)
    assert isinstance(serial.cities[0], StoredCityPaths) and isinstance(procs.cities[0], StoredCityPaths)
    want = json.dumps(memory.summary, indent=2, ensure_ascii=False)  # summary.json's bytes
    assert json.dumps(serial.summary, indent=2, ensure_ascii=False) == want
    assert json.dumps(procs.summary, indent=2, ensure_ascii=False) == want
    out_a, out_b = memory.save(tmp_path / "a"), serial.save(tmp_path / "b")
    for f in ("summary.json", "cities.csv", "cities_called.csv"):
        assert (out_a / f).read_bytes() == (out_b / f).read_bytes(), f
    folders = list((tmp_path / "stores").iterdir())
    assert len(folders) == 2 and all(len(list(f.glob("city_*"))) == 3 for f in folders)
    del serial, procs
    gc.collect()
    assert not list((tmp_path / "stores").iterdir())  # removed with the results


def test_the_automatic_choice_follows_the_reductions_bytes(tmp_path, monkeypatch):
    assert rp.reduction_bytes(15, 1_000_000, 30) == 15 * 1_000_000 * (17 * 30 + 18)  # ≈ 7.9 GB
    assert rp.stream_wanted(None, 15, 100_000, 30) and not rp.stream_wanted(None, 15, 10_000, 30)
    assert rp.stream_wanted(True, 1, 1, 1) and not rp.stream_wanted(False, 300, 10**6, 30)
    monkeypatch.setenv("BAOZHANG_STORE_DIR", str(tmp_path))
    monkeypatch.setattr(rp, "STREAM_BYTES", 1)
    res = simulate_portfolio(load_portfolio(FIX / "one_city.toml"), paths=200, chunk_size=100)
    assert isinstance(res.cities[0], StoredCityPaths)


def test_a_failed_streamed_run_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("BAOZHANG_STORE_DIR", str(tmp_path))

    def stop(done, total, city, chunk):
        if done == 4:  # after city A's two chunks are on disk and one of B's is in
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate_portfolio(load_portfolio(FIX / "three_loaded.toml"), paths=400, chunk_size=200, stream=True,
                           progress=stop)
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------ the table in a pipe
@pytest.mark.parametrize("lang,headers", [("en", ["P(hidden-debt call)", "total fiscal cost PV, 万元"]),
                                          ("zh", ["隐性债务代偿概率", "财政总成本现值, 万元"])])
def test_the_province_table_in_a_pipe_has_whole_headers(lang, headers):
    r = CliRunner().invoke(app, ["run", str(FIX / "three_loaded.toml"), "--paths", "200", "--chunk-size", "100",
                                 "--lang", lang])
    assert r.exit_code == 0, r.output
    assert "…" not in r.stdout, r.stdout
    lines = r.stdout.splitlines()
    head = next(x for x in lines if headers[0] in x)
    assert all(h in head for h in headers), head  # one header row: nothing wrapped
    assert any("│ Synthetic province │" in x for x in lines), r.stdout  # the province's row on one line
