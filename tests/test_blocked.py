"""Blocked reductions (measures/blocked.py, decision 57): exact quantiles in bounded memory, sums in blocks, and a
streamed run's summary equal to the in-memory run's when the columns span many blocks and the quantiles go
through the radix selection (block and selection cap made small here so that a few thousand paths exercise them).
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from baozhang_finance import load_scenario, simulate
from baozhang_finance.measures import blocked as bk
from baozhang_finance.measures import stats
from baozhang_finance.run import store

ROOT = Path(__file__).resolve().parents[1]


def _columns():
    rng = np.random.default_rng(1)
    yield "normal", rng.normal(size=5_003)
    yield "mostly zero", np.where(rng.random(7_001) < 0.9, 0.0, rng.lognormal(10, 2, 7_001))
    yield "all equal", np.full(4_000, 3.25)
    yield "ties", np.round(rng.normal(size=6_000), 1)
    x = rng.normal(size=5_000)
    x[rng.random(5_000) < 0.1] = np.nan
    yield "with NaN", x
    yield "float32", rng.normal(size=3_000).astype(np.float32)
    yield "signed zeros", np.concatenate([-np.zeros(1_000), np.zeros(1_000), rng.normal(size=1_500)])
    yield "integers", rng.integers(0, 30, 4_000).astype(float)
    yield "huge", np.array([1e300, -1e300, 5.0] * 900)
    yield "infinite", np.concatenate([np.full(800, np.inf), rng.normal(size=2_000), np.full(10, -np.inf)])


QS = [(0.05, 0.5, 0.95), 0.95, 0.5, (0.0, 1.0), 0.999, (0.25, 0.75), 0.01, 0.05]


@pytest.mark.parametrize("name,x", list(_columns()), ids=[n for n, _ in _columns()])
def test_quantiles_are_numpys_bit_for_bit_through_the_radix_selection(small_blocks, name, x):
    col = bk.Col.of(x)
    assert col.nblocks > 1 and x.size > bk.SELECT_CAP
    ok = x[~np.isnan(x)]
    for q in QS:
        got, want = bk.quantile(col, q, dropnan=True), np.quantile(ok, q)
        assert np.asarray(got).dtype == np.asarray(want).dtype
        assert np.array_equal(got, want, equal_nan=True), (q, got, want)
        got, want = bk.quantile(col, q, method="inverted_cdf"), np.quantile(x, q, method="inverted_cdf")
        assert np.array_equal(got, want, equal_nan=True), (q, got, want)
        assert np.array_equal(bk.quantile(col, q), np.quantile(x, q), equal_nan=True)  # NaN in: NaN out
    assert bk.median(bk.Col.of(ok)) == np.median(ok)
    for level in (0.95, 0.99, 0.5):
        got, want = stats.expected_shortfall(col, level), _es_sorted(x, level)
        assert got == want or (np.isnan(got) and np.isnan(want))
        assert stats.value_at_risk(col, level) == float(np.quantile(x.astype(float), level, method="inverted_cdf")) \
            or np.isnan(x).any()
    assert stats.quantiles(col, (0.05, 0.5)) == {k: float(v) for k, v in zip(("p05", "p50"), np.quantile(ok, (0.05, 0.5)))}


def _es_sorted(x, level):
    """The former expected shortfall (whole sorted column)."""
    x = np.sort(np.asarray(x, dtype=float))[::-1]
    n = x.size
    m = n * (1.0 - level)
    k = int(np.floor(m + 1e-9))
    if m <= 0:
        return float(x[0])
    return float((x[:k].sum() + ((m - k) * x[k] if k < n else 0.0)) / m)


def test_order_statistics_of_a_filtered_column(small_blocks):
    rng = np.random.default_rng(3)
    x, keep = rng.lognormal(size=9_000), rng.random(9_000) < 0.5
    c = bk.Col.of(x)[bk.Col.of(keep)]
    assert c.filtered and c.size == keep.sum()
    assert np.array_equal(bk.quantile(c, (0.1, 0.9)), np.quantile(x[keep], (0.1, 0.9)))
    assert np.array_equal(np.asarray(c), x[keep])


def test_sums_in_one_block_are_numpys_and_beyond_are_sums_of_blocks(small_blocks):
    rng = np.random.default_rng(5)
    x = rng.lognormal(5, 3, 1_000)
    assert bk.mean(x) == float(np.mean(x)) and bk.std(x, 1) == float(x.std(ddof=1))
    x32 = x.astype(np.float32)
    assert bk.mean(x32) == float(np.mean(x32))
    assert bk.mean(x > 100) == float(np.mean(x > 100)) == bk.share(x > 100)
    y = rng.lognormal(5, 3, 4_321)
    want = float((np.sum(y[:1000]) + np.sum(y[1000:2000]) + np.sum(y[2000:3000]) + np.sum(y[3000:4000])
                  + np.sum(y[4000:])) / 4_321)
    assert bk.mean(y) == want
    assert bk.running_mean(y) == float(np.cumsum(y)[-1] / y.size)  # the running sum: exact across blocks
    z = y.copy()
    z[::7] = np.nan
    assert bk.running_nanmean(z) == float(np.cumsum(np.where(np.isnan(z), 0.0, z))[-1] / np.count_nonzero(~np.isnan(z)))


def test_grouped_standard_error_in_blocks(small_blocks):
    rng = np.random.default_rng(7)
    x = rng.normal(size=999)
    g = np.repeat(np.arange(500), 2)[:999]
    assert bk.grouped_standard_error(x, g) == _grouped_whole(x, g)  # one block: the former bits
    x = rng.normal(size=5_000)
    for size in (1, 2, 64, 333):
        g = np.arange(5_000) // size
        assert bk.grouped_standard_error(x, g) == pytest.approx(_grouped_whole(x, g), rel=1e-12)


def _grouped_whole(x, groups):
    _, inv = np.unique(groups, return_inverse=True)
    sums, sizes = np.bincount(inv, weights=x), np.bincount(inv)
    g = sums.size
    return float(np.sqrt(g / (g - 1) * np.sum((sums - x.mean() * sizes) ** 2)) / x.size)


def test_blocked_quantile_memory_is_bounded(small_blocks, monkeypatch):
    """A column read block by block: the selection holds a histogram and ≤ SELECT_CAP values, not the column."""
    monkeypatch.setattr(bk, "BLOCK", 10_000)
    monkeypatch.setattr(bk, "SELECT_CAP", 20_000)
    n = 2_000_000
    col = bk.Col(n, lambda i: np.random.default_rng(i).lognormal(size=min(10_000, n - i * 10_000)))
    tracemalloc.start()
    v = bk.quantile(col, (0.05, 0.5, 0.95), dropnan=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.all(np.diff(v) > 0)
    assert peak < 4_000_000  # the column is 16 MB


@pytest.mark.slow
@pytest.mark.parametrize("rows", [1_000, 700])
def test_streamed_summary_equals_in_memory_across_blocks_and_selection(small_blocks, monkeypatch, rows):
    """3,000 demo paths: 3 blocks, every quantile through the radix selection; row groups aligned with the blocks
    (1,000) or not (700, as folders written before). The in-memory run reduces the same blocks: same bits."""
    monkeypatch.setattr(store, "ROW_GROUP_ROWS", rows)
    demo = load_scenario(ROOT / "scenarios" / "demo.toml")
    mem = simulate(demo, paths=3_000, chunk_size=500, seed=5, stream=False)
    st = simulate(demo, paths=3_000, chunk_size=500, seed=5, stream=True)
    assert json.dumps(mem.summary) == json.dumps(st.summary)
    assert mem.yearly.equals(st.yearly)
    monkeypatch.setattr(bk, "BLOCK", 65_536)
    monkeypatch.setattr(bk, "SELECT_CAP", 1 << 20)
    whole = simulate(demo, paths=3_000, chunk_size=500, seed=5, stream=False)
    a, b = _flat(whole.summary), _flat(mem.summary)
    assert a.keys() == b.keys()
    for k in a:  # blocks move sums in the last bits only; quantiles, counts and shares not at all
        assert a[k] == pytest.approx(b[k], rel=1e-12, abs=1e-9, nan_ok=True), k


def _flat(obj, prefix=""):
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flat(v, f"{prefix}{k}."))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(_flat(v, f"{prefix}{i}."))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix] = float(obj)
    return out


def test_a_streamed_summary_never_holds_a_whole_column(small_blocks, monkeypatch):
    """summary and yearly of a streamed run read blocks only: no Col is materialised, no whole column or ledger is
    read from the store (3 blocks of 1,000 paths)."""
    monkeypatch.setenv("BAOZHANG_SUMMARY_WORKERS", "1")  # the reads of this process are the ones refused
    demo = load_scenario(ROOT / "scenarios" / "demo.toml")
    res = simulate(demo, paths=3_000, chunk_size=500, seed=5, stream=True)

    def refuse(*a, **k):
        raise AssertionError("a whole column was read")
    monkeypatch.setattr(bk.Col, "__array__", refuse)
    for name in ("column", "ledger_year", "ledger", "iter_ledger"):
        monkeypatch.setattr(store.ColumnStore, name, refuse)
    assert res.summary["run"]["paths"] == 3_000
    assert len(res.yearly) > 0
