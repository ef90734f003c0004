"""Dask backend: bit-identical to serial, clear chunk-naming failures, no hangs, optional dependency.

One LocalCluster of 2 worker processes (1 thread each) is shared by the module; chunks are small (the demo
scenario at 100–1,000 paths per chunk) so the whole file stays within a few seconds of compute.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from baozhang_finance import load_scenario
from baozhang_finance import simulate
from baozhang_finance.run import dask_backend as db
from baozhang_finance.cli import app
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.run.simulate import run_chunk
from baozhang_finance.analysis.inputs import make_inputs
from baozhang_finance.analysis.sobol import ScenarioModel
from baozhang_finance.analysis.solve import solve
from baozhang_finance.analysis.sweep import sweep
from baozhang_finance.analysis.tornado import tornado
from baozhang_finance.run.settings import RunSettings

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.toml"


@pytest.fixture(scope="module")
def demo():
    return load_scenario(DEMO)


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed")
    import dask

    # one retry after a worker death (default 3) keeps the dead-worker test short
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        c = db.make_client(None, 2)
    c.wait_for_workers(2, timeout=60)
    yield c
    c.close()


def _jobs(paths: int, chunk: int, seed: int):
    return [(k, a, min(a + chunk, paths), seed) for k, a in enumerate(range(0, paths, chunk))]


# ------------------------------------------------------------------------------------------ optional extra
# (first in the file: they hide the dask modules, best done before the shared cluster's threads are running)
@pytest.fixture
def no_dask(monkeypatch):
    """Make `import dask` / `import distributed` fail as if the extra were not installed."""
    for name in list(sys.modules):
        if name == "dask" or name.startswith("dask.") or name == "distributed" or name.startswith("distributed."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "distributed", None)


def test_missing_dask_says_how_to_install(demo, no_dask):
    with pytest.raises(ImportError, match=r"install it with: pip install 'baozhang-finance\[dask\]'"):
        simulate(demo, paths=10, chunk_size=5, backend="dask")
    with pytest.raises(ImportError, match=r"baozhang-finance\[dask\]"):
        db.make_client(None, 2)
    # the serial path and map_scenarios without a client need no Dask
    assert db.map_scenarios(lambda x: x * 2, [1, 2, 3]) == [2, 4, 6]
    assert simulate(demo, paths=10, chunk_size=5, seed=1).run["paths"] == 10


def test_cli_missing_dask_is_a_one_line_error_exit_2(no_dask):
    res = CliRunner().invoke(app, ["run", str(DEMO), "--backend", "dask", "--paths", "10", "--quiet"])
    assert res.exit_code == 2, res.output
    text = res.output.strip()
    assert "\n" not in text
    assert text.startswith("error: the dask backend needs the optional dependency dask[distributed]")
    assert text.endswith("install it with: pip install 'baozhang-finance[dask]'")


# ------------------------------------------------------------------------------------------ bit-identical
def test_dask_run_is_bit_identical_to_serial(demo, client):
    ticks: list[tuple[int, int]] = []
    dask_res = simulate(demo, paths=3000, chunk_size=1000, seed=11, backend="dask", workers=2, client=client,
                        progress=lambda d, n: ticks.append((d, n)))
    serial = simulate(demo, paths=3000, chunk_size=1000, seed=11)
    pd.testing.assert_frame_equal(dask_res.paths, serial.paths, check_exact=True)
    assert dask_res.summary == serial.summary
    for name in ("cfads", "gov_hidden", "bank_balance", "cash_balance"):
        np.testing.assert_array_equal(dask_res.ledger(name), serial.ledger(name))
    # progress advanced chunk by chunk (streamed), not once at the end
    assert ticks == [(1000, 3000), (2000, 3000), (3000, 3000)]
    assert dask_res.run["backend"] == "dask"
    # both worker processes did work (2 workers, 1 thread each)
    assert len(client.nthreads()) == 2 and set(client.nthreads().values()) == {1}


def test_chunks_come_back_in_index_order_when_they_finish_out_of_order(demo, client):
    plan = compile_plan(demo)

    def first_is_slow(plan, i, a, b, s):  # a closure: cloudpickle ships it by value to the workers
        import time as _t

        if i == 0:
            _t.sleep(0.6)
        return run_chunk(plan, i, a, b, s)

    jobs = _jobs(400, 100, 5)
    got = list(db.iter_chunks_dask(plan, jobs, client=client, chunk_fn=first_is_slow))
    assert [i for i, _ in got] == [0, 1, 2, 3]
    for (i, cols), (_, a, b, s) in zip(got, jobs):
        ref = run_chunk(plan, i, a, b, s)
        np.testing.assert_array_equal(cols["path"], np.arange(a, b))
        np.testing.assert_array_equal(cols["hidden_debt_pv"], ref["hidden_debt_pv"])
        np.testing.assert_array_equal(cols["y_cfads"], ref["y_cfads"])


def test_plan_is_shipped_once_not_per_task(demo, client):
    plan = compile_plan(demo)
    fut = db.ship_once(client, plan)
    # one copy on each worker before any task runs
    assert len(client.who_has([fut])[fut.key]) == 2
    assert fut.result().T == plan.T
    # chunk tasks name the plan future as a dependency instead of carrying the arrays, and are spread over both
    # workers (every worker holds the plan, so placement follows load, not data)
    def where(plan, i, a, b, s):
        from distributed import get_worker

        return get_worker().address, run_chunk(plan, i, a, b, s)["path"].size

    futs = [client.submit(db._chunk_task, fut, i, a, b, s, where, pure=False) for i, a, b, s in _jobs(400, 100, 1)]
    ran_on = [w for w, _ in client.gather(futs)]
    assert sorted(ran_on.count(w) for w in set(ran_on)) == [2, 2]
    del futs
    fut.release()


# ------------------------------------------------------------------------------------------ failures
def test_a_failing_chunk_names_itself_and_does_not_hang(demo, client):
    plan = compile_plan(demo)

    def fails_on_3(plan, i, a, b, s):
        if i == 3:
            raise ValueError("injected failure in the engine")
        return run_chunk(plan, i, a, b, s)

    t0 = time.monotonic()
    with pytest.raises(db.ChunkFailedError) as info:
        list(db.iter_chunks_dask(plan, _jobs(600, 100, 2), client=client, chunk_fn=fails_on_3))
    assert time.monotonic() - t0 < 20
    assert str(info.value) == "chunk 3 (paths 300–399) failed: ValueError: injected failure in the engine"
    assert info.value.index == 3
    assert isinstance(info.value.__cause__, ValueError)
    # the cluster is still usable afterwards and nothing of the failed run is left behind
    got = list(db.iter_chunks_dask(plan, _jobs(200, 100, 2), client=client))
    assert [i for i, _ in got] == [0, 1]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        keys = [k for k in client.who_has() if "baozhang-chunk" in str(k)]
        if not keys:
            break
        time.sleep(0.1)
    assert keys == []


def test_through_simulate_the_error_names_the_chunk(demo, client, monkeypatch):
    import baozhang_finance.run.dask_backend as mod

    def boom(plan, i, a, b, s):
        if i == 1:
            raise FloatingPointError("overflow in month 37")
        return run_chunk(plan, i, a, b, s)

    real = mod.iter_chunks_dask
    monkeypatch.setattr(mod, "iter_chunks_dask", lambda plan, jobs, client=None, workers=1, chunk_fn=None:
                        real(plan, jobs, client=client, workers=workers, chunk_fn=boom))
    with pytest.raises(db.ChunkFailedError, match=r"^chunk 1 \(paths 1000–1999\) failed: FloatingPointError: "
                                                   r"overflow in month 37$"):
        simulate(demo, paths=3000, chunk_size=1000, seed=1, backend="dask", client=client)


def test_a_dying_worker_gives_a_clear_error_not_a_hang(demo, client):
    plan = compile_plan(demo)

    def dies_on_1(plan, i, a, b, s):
        if i == 1:
            import os as _os

            _os._exit(13)  # the worker process vanishes mid-task
        return run_chunk(plan, i, a, b, s)

    t0 = time.monotonic()
    with pytest.raises(db.ChunkFailedError, match=r"^chunk 1 \(paths 100–199\) failed: KilledWorker"):
        list(db.iter_chunks_dask(plan, _jobs(300, 100, 4), client=client, chunk_fn=dies_on_1))
    assert time.monotonic() - t0 < 45
    client.wait_for_workers(2, timeout=60)  # the nannies restart the workers


def test_no_workers_times_out_with_a_clear_error(demo):
    distributed = pytest.importorskip("distributed")
    import dask

    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as c, \
            dask.config.set({"baozhang.no-workers-timeout": 1}):
        t0 = time.monotonic()
        with pytest.raises(db.DaskBackendError, match=r"^no Dask workers for 1 s \(scheduler inproc://.*\): "
                                                      r"cannot send the plan to the cluster"):
            list(db.iter_chunks_dask(compile_plan(demo), _jobs(300, 100, 1), client=c))
        assert time.monotonic() - t0 < 15


def test_unreachable_scheduler_is_a_one_line_error(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(db, "CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(db.DaskBackendError, match=r"^--scheduler tcp://127\.0\.0\.1:9: cannot connect"):
        db.make_client("tcp://127.0.0.1:9", 1)


def test_cli_dask_backend_matches_serial(client):
    runner = CliRunner()
    args = ["run", str(DEMO), "--paths", "600", "--chunk-size", "200", "--seed", "9", "--json"]
    serial = runner.invoke(app, args)
    dask_run = runner.invoke(app, args + ["--backend", "dask", "--workers", "2",
                                          "--scheduler", client.scheduler.address])
    assert serial.exit_code == 0, serial.output
    assert dask_run.exit_code == 0, dask_run.output
    assert json.loads(dask_run.stdout) == json.loads(serial.stdout)


# ------------------------------------------------------------------------------------------ map_scenarios
def _square_plus(x, shared=None):
    return x * x + (shared or 0)


def _shared_type(x, shared):
    return type(shared).__name__


def test_map_scenarios_serial_and_dask_agree_in_order(client):
    items = list(range(7))
    ticks: list[int] = []
    assert db.map_scenarios(_square_plus, items) == [x * x for x in items]
    assert db.map_scenarios(_square_plus, items, client, progress=lambda d, n: ticks.append(d)) == \
        [x * x for x in items]
    assert ticks == list(range(1, 8))
    assert db.map_scenarios(_square_plus, items, client, shared=100) == [x * x + 100 for x in items]
    assert db.map_scenarios(_square_plus, [], client) == []
    # a tuple/dict shared object arrives whole, as the same type
    assert db.map_scenarios(_shared_type, [0, 1], client, shared=(1, 2)) == ["tuple", "tuple"]
    assert db.map_scenarios(_shared_type, [0], client, shared={"a": 1}) == ["dict"]


def test_map_scenarios_runs_simulations_and_names_a_failing_item(demo, client):
    def npv_at(rate):
        sc = demo.model_copy(update={"programme": demo.programme.model_copy(update={"discount_rate": rate})})
        if rate < 0:
            raise ValueError("negative discount rate")
        res = simulate(sc, paths=200, chunk_size=100, seed=3)
        return float(res.paths["equity_npv"].mean()), float(res.paths["hidden_debt_pv"].sum())

    rates = [0.03, 0.05]
    local = db.map_scenarios(npv_at, rates)
    remote = db.map_scenarios(npv_at, rates, client)
    assert remote == local  # the same seeded simulations, bit for bit, wherever they ran
    assert local[0][0] != local[1][0]  # and each item really used its own discount rate
    # the Result itself agrees with a direct run
    direct = simulate(demo.model_copy(update={"programme": demo.programme.model_copy(update={"discount_rate": 0.05})}),
                      paths=200, chunk_size=100, seed=3)
    assert remote[1] == (float(direct.paths["equity_npv"].mean()), float(direct.paths["hidden_debt_pv"].sum()))
    for c in (None, client):
        with pytest.raises(db.ChunkFailedError, match=r"^item 1 \(rate=-0.01\) failed: ValueError: negative"):
            db.map_scenarios(npv_at, [0.03, -0.01, 0.05], c, label=lambda r: f"rate={r}")


def test_cli_unreachable_scheduler_is_exit_2(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(db, "CONNECT_TIMEOUT_S", 1.0)
    res = CliRunner().invoke(app, ["run", str(DEMO), "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9",
                                   "--paths", "10", "--quiet"])
    assert res.exit_code == 2, res.output
    assert res.output.strip().startswith("error: --scheduler tcp://127.0.0.1:9: cannot connect to a Dask scheduler")
    assert "\n" not in res.output.strip()


def test_cli_failed_chunk_is_one_line_exit_3(client, monkeypatch):
    def boom(plan, i, a, b, s):
        if i == 2:
            raise ZeroDivisionError("division by zero")
        return run_chunk(plan, i, a, b, s)

    real = db.iter_chunks_dask
    monkeypatch.setattr(db, "iter_chunks_dask", lambda plan, jobs, client=None, workers=1, chunk_fn=None:
                        real(plan, jobs, client=client, workers=workers, chunk_fn=boom))
    res = CliRunner().invoke(app, ["run", str(DEMO), "--backend", "dask", "--scheduler", client.scheduler.address,
                                   "--paths", "500", "--chunk-size", "100", "--quiet"])
    assert res.exit_code == 3, res.output
    assert res.output.strip() == (f"error: {DEMO}: chunk 2 (paths 200–299) failed: ZeroDivisionError: "
                                  "division by zero")


def test_target_se_without_a_client_uses_one_temporary_cluster(demo, monkeypatch):
    pytest.importorskip("distributed")
    made = []
    real = db.make_client
    monkeypatch.setattr(db, "make_client", lambda address=None, workers=1, **kw: made.append(workers) or
                        real(address, workers, **kw))
    kw = dict(paths=100, chunk_size=100, seed=2, target_se=0.2, max_paths=400, workers=2)
    res = simulate(demo, backend="dask", **kw)
    ref = simulate(demo, backend="serial", **kw)
    assert made == [2]  # one cluster for every batch of the adaptive loop
    # batches of 2 chunks (workers=2), the stopping rule applied chunk by chunk: the same stopping point as serial
    assert res.run["paths"] == ref.run["paths"] and res.run["paths"] in (100, 200, 300, 400)
    pd.testing.assert_frame_equal(res.paths, ref.paths, check_exact=True)


def test_a_stalled_run_times_out_with_a_clear_error(demo, client):
    import dask

    plan = compile_plan(demo)

    def hangs(plan, i, a, b, s):
        import time as _t

        _t.sleep(4)
        return run_chunk(plan, i, a, b, s)

    t0 = time.monotonic()
    with dask.config.set({"baozhang.stall-timeout": 1}):
        with pytest.raises(db.DaskBackendError, match=r"^no task finished in 1 s; 2 of 2 outstanding "
                                                      r"\(next: chunk 0 \(paths 0–99\)\)"):
            list(db.iter_chunks_dask(plan, _jobs(200, 100, 1), client=client, chunk_fn=hangs))
    assert time.monotonic() - t0 < 4


def test_simulate_uses_the_default_client_when_none_is_given(demo, client, monkeypatch):
    distributed = pytest.importorskip("distributed")

    def no_new_cluster(*a, **k):
        raise AssertionError("should have used the default client")

    monkeypatch.setattr(db, "make_client", no_new_cluster)
    with distributed.Client(client.scheduler.address) as default:  # becomes Dask's default client
        res = simulate(demo, paths=200, chunk_size=100, seed=4, backend="dask")
        assert distributed.default_client() is default
    ref = simulate(demo, paths=200, chunk_size=100, seed=4)
    pd.testing.assert_frame_equal(res.paths, ref.paths, check_exact=True)


def test_sweep_tornado_and_sobol_fan_out_over_the_cluster(demo, client):
    """Sweeps, tornado runs and Sobol designs go through map_scenarios: same numbers on the cluster as in a loop."""
    kw = dict(paths=200, seed=5, chunk_size=100, metrics=["p_call", "hidden_debt_pv"])
    field = "projects[0].rental.rent_ratio"
    serial = sweep(demo, field, [0.7, 0.8], **kw).table
    dist = sweep(demo, field, [0.7, 0.8], client=client, **kw).table
    pd.testing.assert_frame_equal(serial, dist, check_exact=True)
    inputs = make_inputs(demo, 0.2, None)[:2]
    t_serial = tornado(demo, inputs=inputs, **kw).table
    t_dist = tornado(demo, inputs=inputs, client=client, **kw).table
    pd.testing.assert_frame_equal(t_serial, t_dist, check_exact=True)
    model = ScenarioModel(demo, inputs, kw["metrics"], RunSettings(paths=200, seed=5, chunk_size=100),
                               client=client)
    X = np.array([[i.low for i in inputs], [i.high for i in inputs]])
    local = ScenarioModel(demo, inputs, kw["metrics"], RunSettings(paths=200, seed=5, chunk_size=100))
    assert np.array_equal(model(X), local(X))


def test_solver_evaluations_run_on_the_cluster(demo, client):
    kw = dict(find="grant", constraint="p_call<=0.5", paths=200, seed=5, chunk_size=100)
    a = solve(demo, **kw)
    b = solve(demo, client=client, **kw)
    assert a.answer == b.answer and [(e.x, e.value) for e in a.evaluations] == [(e.x, e.value) for e in b.evaluations]
