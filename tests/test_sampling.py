"""Variance reduction as a simulation option (engine/shocks.py): antithetic pairs, scrambled Sobol (rqmc) with a
Brownian-bridge order, and the standard errors that go with each — checked for coverage over many seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from baozhang_finance import load_scenario, simulate
from baozhang_finance.engine.controls import CONTROL_NAMES
from baozhang_finance.engine.shocks import Shocks, bridge_increments, sampling_groups
from baozhang_finance.measures.fiscal import HEADLINE_COLUMNS, headline_control_variates, headline_standard_errors
from baozhang_finance.measures.stats import grouped_standard_error
from baozhang_finance.model.support import with_conventions

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml"


@pytest.fixture(scope="module")
def legacy_demo():
    return with_conventions(load_scenario(DEMO), "legacy")  # calls on ≈ 80 % of paths: P(call) is informative


def _shocks(sampling, n=9, months=25, seed=3):
    return Shocks(np.random.default_rng(seed), n, event_months=(6, 12), sampling=sampling, months=months,
                  rqmc_points=4)


def test_antithetic_pairs_negate_normals_and_mirror_uniforms():
    s = _shocks("antithetic")
    ev = s.event_uniforms(2)
    assert ev.shape == (2, 9)
    np.testing.assert_array_equal(ev[:, 1::2], 1.0 - ev[:, 0:8:2])
    for t in range(1, 13):
        eps, u = s.month(t)
        assert eps.shape == (9, 7)
        np.testing.assert_array_equal(eps[1::2], -eps[0:8:2])
        if t in (6, 12):
            np.testing.assert_array_equal(u[1::2], 1.0 - u[0:8:2])
        else:
            assert u is None


def test_rqmc_shocks_are_standard_normal_and_replay_by_rows():
    n, months = 4096, 25
    s = Shocks(np.random.default_rng(5), n, event_months=(6,), sampling="rqmc", months=months, rqmc_points=1024)
    ev = s.event_uniforms(1)
    eps = np.stack([s.month(t)[0] for t in range(1, months)])  # (24, n, 7)
    assert ev.shape == (1, n) and 0 < ev.min() and ev.max() < 1
    assert abs(eps.mean()) < 0.01 and abs(eps.std() - 1.0) < 0.01
    # increments of one driver are uncorrelated across months (the bridge is exact)
    c = np.corrcoef(eps[:, :, 0])
    assert np.abs(c - np.eye(months - 1)).max() < 0.08
    r = Shocks(np.random.default_rng(5), n, event_months=(6,), sampling="rqmc", months=months,
               rqmc_points=1024).rows(slice(7, 8))
    np.testing.assert_array_equal(r.event_uniforms(1), ev[:, 7:8])
    np.testing.assert_array_equal(r.month(3)[0], eps[2, 7:8])


def test_bridge_sum_is_the_first_normal():
    z = np.random.default_rng(0).standard_normal((37, 5))
    inc = bridge_increments(z)
    np.testing.assert_allclose(inc.sum(axis=0), np.sqrt(37) * z[0], rtol=1e-12)


def test_groups_and_grouped_se():
    path = np.arange(20)
    np.testing.assert_array_equal(sampling_groups(path, 10, "antithetic")[:6], [0, 0, 1, 1, 2, 2])
    assert np.unique(sampling_groups(path, 10, "antithetic")).size == 10
    assert np.unique(sampling_groups(path, 10, "rqmc", 4)).size == 6  # 4 + 4 + 2 per chunk of 10
    x = np.random.default_rng(1).standard_normal(50)
    assert grouped_standard_error(x, np.arange(50)) == pytest.approx(x.std(ddof=1) / np.sqrt(50), rel=1e-12)


def test_mc_default_is_unchanged_and_modes_differ(legacy_demo):
    a = simulate(legacy_demo, paths=300, seed=11)
    b = simulate(legacy_demo, paths=300, seed=11, sampling="mc")
    np.testing.assert_array_equal(a.paths["hidden_debt_pv"], b.paths["hidden_debt_pv"])
    assert a.summary["run"]["sampling"] == "mc"
    assert a.summary["run"]["standard_errors"]["independent_units"] == 300
    c = simulate(legacy_demo, paths=300, seed=11, sampling="antithetic")
    assert c.summary["run"]["sampling"] == "antithetic"
    assert c.summary["run"]["standard_errors"]["independent_units"] == 150
    assert not np.array_equal(a.paths["hidden_debt_pv"], c.paths["hidden_debt_pv"])


def test_rqmc_result_replays_its_median_path(legacy_demo):
    from baozhang_finance.run.replay import median_path
    sc = legacy_demo.model_copy(update={"simulation": legacy_demo.simulation.model_copy(update={"rqmc_points": 64})})
    res = simulate(sc, paths=256, seed=4, sampling="rqmc", chunk_size=128)
    assert res.summary["run"]["standard_errors"]["independent_units"] == 4
    median_path(res)  # raises if the replay does not reproduce the run's path


def test_rqmc_hands_out_every_event_row_of_a_chunk_in_order():
    """Beitun under the default conventions asks for event uniforms twice (a loan's repricing, then the
    construction delays and overruns): reserved up front, they are distinct dimensions of the net, each uniform."""
    src = Shocks(np.random.default_rng(3), 64, event_months=(6,), sampling="rqmc", months=25, rqmc_points=16)
    src.reserve_events(3)
    first, rest = src.event_uniforms(1), src.event_uniforms(2)
    assert first.shape == (1, 64) and rest.shape == (2, 64) and not np.allclose(first, rest[0])
    for row in np.vstack([first, rest]):  # one scrambled, shifted net coordinate per 16-point replicate
        assert np.all((row > 0) & (row < 1)) and abs(row.mean() - 0.5) < 0.1
    with pytest.raises(RuntimeError, match="reserve"):
        src.event_uniforms(1)
    from baozhang_finance.run.replay import median_path
    beitun = load_scenario(DEMO.parent / "beitun.toml")
    sc = beitun.model_copy(update={"simulation": beitun.simulation.model_copy(update={"rqmc_points": 64})})
    res = simulate(sc, paths=256, seed=4, sampling="rqmc", chunk_size=128)
    assert res.summary["run"]["standard_errors"]["independent_units"] == 4
    median_path(res)  # the replay draws the same reserved rows


def test_target_se_stops_earlier_with_antithetic(legacy_demo):
    kw = dict(seed=2, chunk_size=250, target_se=0.02, max_paths=10_000)
    mc = simulate(legacy_demo, **kw)
    anti = simulate(legacy_demo, sampling="antithetic", **kw)
    for r in (mc, anti):
        se = r.summary["run"]["standard_errors"]
        assert se["p_call"] <= 0.02 and se["expected_pv"] <= 0.02 * r.summary["hidden_debt"]["expected_pv"]
    assert len(anti.paths) <= len(mc.paths)


def _coverage(sc, modes, seeds, paths, reference=None):
    """Share of runs whose ±1.96 SE interval holds the reference value, per mode and estimate. Without a
    reference, the pooled mean of all the runs (every mode is unbiased) stands in for the true value."""
    est = {m: [] for m in modes}
    for m in modes:
        for s in seeds:
            if m == "cv":  # plain MC with control variates: the adjusted estimates and their SEs
                cv = sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"control_variates": True})})
                r = simulate(cv, paths=paths, seed=s, sampling="mc", chunk_size=paths)
                a = headline_control_variates({k: r.paths[k].to_numpy() for k in HEADLINE_COLUMNS
                                               + tuple(f"cv_{k}" for k in CONTROL_NAMES)})
                est[m].append((a["p_call"]["estimate"], a["p_call"]["se"], a["expected_pv"]["estimate"],
                               a["expected_pv"]["se"]))
                continue
            r = simulate(sc, paths=paths, seed=s, sampling=m, chunk_size=paths)
            cols = {k: r.paths[k].to_numpy() for k in ("path", "hidden_call", "hidden_debt_pv",
                                                        "explicit_bond_burden_pv", "self_financing")}
            se = headline_standard_errors(cols, r.run)  # what the summary reports, without the lenses
            est[m].append((cols["hidden_call"].mean(), se["p_call"], cols["hidden_debt_pv"].mean(), se["expected_pv"]))
    arr = {m: np.array(v) for m, v in est.items()}
    if reference is None:
        reference = (np.mean([a[:, 0].mean() for a in arr.values()]), np.mean([a[:, 2].mean() for a in arr.values()]))
    out = {}
    for m, a in arr.items():
        out[m] = (float(np.mean(np.abs(a[:, 0] - reference[0]) <= 1.96 * a[:, 1])),
                  float(np.mean(np.abs(a[:, 2] - reference[1]) <= 1.96 * a[:, 3])))
    return out


def test_standard_errors_cover_quick(legacy_demo):
    """12 seeds × 3 modes × 256 paths (rqmc: 16 replicates of 16 points): ≥ 9 of 12 intervals hold the value
    (P(≤ 8 of 12) ≈ 1 % at a true coverage of 93 %). The slow test below is the real check."""
    sc = legacy_demo.model_copy(update={"simulation": legacy_demo.simulation.model_copy(update={"rqmc_points": 16})})
    cov = _coverage(sc, ("mc", "antithetic", "rqmc"), range(100, 112), 256)
    for m, (c_call, c_pv) in cov.items():
        assert c_call >= 0.75 and c_pv >= 0.75, (m, cov)


@pytest.mark.long  # ≈ 1.5 M simulated paths: several minutes; the quick version above runs by default
def test_standard_errors_cover_95_percent(legacy_demo):
    """200 seeds per mode against an independent reference (a 262,144-path rqmc run): coverage of ±1.96 SE
    within [0.90, 0.99] for P(call) and E[hidden PV] under mc, mc with control variates, antithetic and rqmc
    (32 replicates of 64)."""
    sc = legacy_demo.model_copy(update={"simulation": legacy_demo.simulation.model_copy(update={"rqmc_points": 64})})
    ref = simulate(sc, paths=262_144, seed=999, sampling="rqmc", chunk_size=8192).summary["hidden_debt"]
    cov = _coverage(sc, ("mc", "cv", "antithetic", "rqmc"), range(1000, 1200), 2048,
                    reference=(ref["p_call"], ref["expected_pv"]))
    for m, (c_call, c_pv) in cov.items():
        assert 0.90 <= c_call <= 0.99 and 0.90 <= c_pv <= 0.99, (m, cov)


@pytest.mark.slow
def test_workers_alone_use_local_processes_with_the_same_bits(legacy_demo):
    serial = simulate(legacy_demo, paths=400, seed=5, chunk_size=200, sampling="antithetic")
    procs = simulate(legacy_demo, paths=400, seed=5, chunk_size=200, sampling="antithetic", workers=2)
    assert serial.run["backend"] == "serial" and procs.run["backend"] == "processes"
    np.testing.assert_array_equal(serial.paths["hidden_debt_pv"], procs.paths["hidden_debt_pv"])
