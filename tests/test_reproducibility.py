"""Reproducibility: (scenario, seed, chunk size) → the same bits, whatever the run, the chunk order, the backend
or the number of workers; another seed → other numbers; ``target_se`` stops at a whole number of chunks and
then equals a fixed run of that many paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from baozhang_finance import simulate
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.model.scenario import load_scenario
from baozhang_finance.model.support import with_conventions
from baozhang_finance.run.simulate import chunk_bounds, chunk_generator, run_chunk

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml"
PATHS, CHUNK, SEED = 600, 200, 4242


@pytest.fixture(scope="module")
def demo():
    """The demo under the legacy conventions: many paths call, so the hidden-debt PVs differ from path to path
    and the adaptive stop has something to estimate."""
    return with_conventions(load_scenario(DEMO), "legacy")


@pytest.fixture(scope="module")
def base(demo):
    return simulate(demo, paths=PATHS, seed=SEED, chunk_size=CHUNK)


def _ledgers(res):
    return {k: res.ledger(k) for k in res._ledgers}


def _assert_same(a, b):
    pd.testing.assert_frame_equal(a.paths, b.paths, check_exact=True)
    la, lb = _ledgers(a), _ledgers(b)
    assert la.keys() == lb.keys()
    for k in la:
        assert np.array_equal(la[k], lb[k], equal_nan=True), k
    assert json.dumps(a.summary, sort_keys=True) == json.dumps(b.summary, sort_keys=True)
    pd.testing.assert_frame_equal(a.yearly, b.yearly, check_exact=True)


def test_repeated_runs_write_identical_files(demo, base, tmp_path):
    again = simulate(demo, paths=PATHS, seed=SEED, chunk_size=CHUNK)
    _assert_same(base, again)
    d1, d2 = base.save(tmp_path / "a"), again.save(tmp_path / "b")
    for name in ("summary.json", "yearly.csv", "scenario.json"):
        assert (d1 / name).read_bytes() == (d2 / name).read_bytes(), name
    pd.testing.assert_frame_equal(pd.read_parquet(d1 / "paths.parquet"), pd.read_parquet(d2 / "paths.parquet"),
                                  check_exact=True)
    with np.load(d1 / "ledgers.npz") as z1, np.load(d2 / "ledgers.npz") as z2:
        assert sorted(z1.files) == sorted(z2.files)
        for k in z1.files:
            assert np.array_equal(z1[k], z2[k]), k
    # the run is not degenerate: paths differ from one another
    assert base.paths["hidden_debt_pv"].nunique() > PATHS // 2


def test_chunk_order_does_not_matter(demo, base):
    """Chunks run in reverse order, each on its own, reassemble into the same table: a chunk's numbers depend on
    its index only (Generator(PCG64(SeedSequence(seed, spawn_key=(i,)))))."""
    plan = compile_plan(demo)
    bounds = chunk_bounds(PATHS, CHUNK)
    assert bounds == [(0, 200), (200, 400), (400, 600)]
    parts = {i: run_chunk(plan, i, a, b, SEED) for i, (a, b) in reversed(list(enumerate(bounds)))}
    for col in ("path", "hidden_debt_pv", "default_month", "dscr_min", "equity_npv", "y_cfads"):
        merged = np.concatenate([parts[i][col] for i in range(len(bounds))])
        got = base.paths[col].to_numpy() if not col.startswith("y_") else base._ledgers[col[2:]]
        assert np.array_equal(merged, got, equal_nan=True), col
    # the generator of chunk i is the documented one
    g = chunk_generator(SEED, 2)
    ref = np.random.Generator(np.random.PCG64(np.random.SeedSequence(SEED, spawn_key=(2,))))
    assert np.array_equal(g.standard_normal(5), ref.standard_normal(5))


def test_processes_backend_with_two_workers_matches_serial(demo, base):
    par = simulate(demo, paths=PATHS, seed=SEED, chunk_size=CHUNK, backend="processes", workers=2)
    assert par.run["backend"] == "processes" and par.run["workers"] == 2
    _assert_same(base, par)


def test_different_seed_gives_different_numbers(demo, base):
    other = simulate(demo, paths=PATHS, seed=SEED + 1, chunk_size=CHUNK)
    a, b = base.paths, other.paths
    assert not np.array_equal(a["hidden_debt_pv"], b["hidden_debt_pv"])
    assert (a["hpi_end"] != b["hpi_end"]).mean() > 0.99
    assert base.summary["hidden_debt"]["expected_pv"] != other.summary["hidden_debt"]["expected_pv"]


def test_target_se_stops_at_whole_chunks_and_equals_fixed_run(demo):
    target = 0.06  # the demo's relative SE of E[PV] needs ≈ 400 paths: stops after a few chunks of 200
    res = simulate(demo, seed=SEED, chunk_size=CHUNK, target_se=target, max_paths=4_000)
    n = len(res.paths)
    assert n % CHUNK == 0 and 2 * CHUNK <= n < 4_000
    assert res.run["paths"] == n
    se = res.summary["run"]["standard_errors"]
    assert se["p_call"] <= target
    assert se["expected_pv"] <= target * res.summary["hidden_debt"]["expected_pv"]
    # one chunk fewer would not have been enough (the rule stops at the first whole chunk that meets it)
    fewer = res.paths.iloc[: n - CHUNK]
    if len(fewer) >= 2:
        p = fewer["hidden_call"].mean()
        pv = fewer["hidden_debt_pv"].to_numpy()
        se_p = np.sqrt(p * (1 - p) / len(fewer))
        rel = pv.std(ddof=1) / np.sqrt(pv.size) / pv.mean()
        assert se_p > target or rel > target
    fixed = simulate(demo, paths=n, seed=SEED, chunk_size=CHUNK)
    pd.testing.assert_frame_equal(res.paths, fixed.paths, check_exact=True)
    fs, rs = fixed.summary, res.summary
    assert json.dumps(fs["hidden_debt"], sort_keys=True) == json.dumps(rs["hidden_debt"], sort_keys=True)
    assert json.dumps(fs["bank"], sort_keys=True) == json.dumps(rs["bank"], sort_keys=True)


def test_target_se_stop_does_not_depend_on_the_workers(demo):
    """Chunks computed ahead by a parallel batch are dropped past the stopping chunk: same paths, same numbers."""
    kw = dict(seed=11, chunk_size=200, target_se=0.02, max_paths=4000)
    serial = simulate(demo, **kw)
    pooled = simulate(demo, workers=2, backend="processes", **kw)
    assert len(serial.paths) == len(pooled.paths) < 4000
    pd.testing.assert_frame_equal(serial.paths, pooled.paths, check_exact=True)


def test_process_pool_results_come_in_order_with_a_bounded_window():
    """The processes backend hands a pool at most ``window`` chunks ahead of the one the caller takes (Executor.map
    would submit all at once, and a caller that falls behind would hold every finished chunk): results in job
    order, each job run once, never more than ``window`` waiting besides the one in the caller's hands."""
    from concurrent.futures import Future

    from baozhang_finance.run import simulate as sim

    class Pool:  # runs a job when submitted; counts the jobs out
        def __init__(self):
            self.out = 0
            self.peak = 0

        def submit(self, fn, job):
            self.out += 1
            self.peak = max(self.peak, self.out)
            fut = Future()
            fut.set_result((job[0], job[0] * 10))
            return fut

    pool = Pool()
    jobs = [(i, None, None, None, None) for i in range(23)]
    got = []
    for i, value in sim._in_order(pool, jobs, 5):
        pool.out -= 1  # taken
        got.append((i, value))
    assert got == [(i, 10 * i) for i in range(23)]
    assert pool.peak == 5 + 1
    assert sim.AHEAD_PER_WORKER >= 2  # every worker has its next chunk queued while the caller takes one
