"""The column store (run/store.py, decisions 53–54): a streamed run gives the numbers of an in-memory run bit for
bit, its folder re-opens lazily, and its memory does not grow with the paths.

Small runs (the demo, 1,200–2,400 paths in chunks of 250–400, row groups of 500–700 paths so that chunks and row
groups do not line up) keep this file within seconds; the memory test runs 100,000 and 400,000 paths in
subprocesses and is marked ``long``.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from baozhang_finance import load_scenario, simulate
from baozhang_finance.cli import app
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.run import simulate as sim_mod
from baozhang_finance.run import store
from baozhang_finance.run.chunks import chunk_bounds, run_chunk
from baozhang_finance.run.result import Result, StoredPaths

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.toml"


@pytest.fixture(scope="module")
def demo():
    return load_scenario(DEMO)


@pytest.fixture(autouse=True)
def small_row_groups(monkeypatch):
    monkeypatch.setattr(store, "ROW_GROUP_ROWS", 700)  # several row groups, not aligned with the chunks


@pytest.fixture(scope="module")
def in_memory(demo):
    return simulate(demo, paths=2_400, chunk_size=400, seed=11, stream=False)


def _same(a: Result, b: Result) -> None:
    assert json.dumps(a.summary) == json.dumps(b.summary)  # summary.json, bit for bit (and key order)
    pd.testing.assert_frame_equal(a.yearly, b.yearly, check_exact=True)
    pd.testing.assert_frame_equal(a.paths if isinstance(a.paths, pd.DataFrame) else a.paths.to_pandas(),
                                  b.paths if isinstance(b.paths, pd.DataFrame) else b.paths.to_pandas(),
                                  check_exact=True)
    assert sorted(a.ledger_names()) == sorted(b.ledger_names())
    for k in a.ledger_names():
        x, y = a.ledger(k), b.ledger(k)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes(), k


def test_streamed_serial_run_is_the_in_memory_run_bit_for_bit(demo, in_memory):
    res = simulate(demo, paths=2_400, chunk_size=400, seed=11, stream=True)
    assert res.streamed and not in_memory.streamed
    assert isinstance(res.paths, StoredPaths) and len(res.paths) == 2_400
    _same(in_memory, res)


def test_streamed_processes_run_is_the_in_memory_serial_run_bit_for_bit(demo, in_memory):
    res = simulate(demo, paths=2_400, chunk_size=400, seed=11, workers=2, backend="processes", stream=True)
    assert res.streamed
    _same(in_memory, res)


def test_streamed_dask_run_is_the_in_memory_serial_run_bit_for_bit(demo, in_memory):
    pytest.importorskip("distributed")
    res = simulate(demo, paths=2_400, chunk_size=400, seed=11, workers=2, backend="dask", stream=True)
    assert res.streamed
    _same(in_memory, res)


def test_saved_streamed_folder_reloads_lazily_with_the_same_numbers(demo, in_memory, tmp_path):
    res = simulate(demo, paths=2_400, chunk_size=400, seed=11, stream=True)
    res.save(tmp_path / "run")
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert "ledgers.parquet" in files and "paths.parquet" in files and "ledgers.npz" not in files
    back = Result.load(tmp_path / "run")
    assert back.streamed
    _same(in_memory, back)
    assert json.loads((tmp_path / "run" / "summary.json").read_text()) == json.loads(json.dumps(in_memory.summary))
    # the per-path table is the same file a pandas reader expects
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "run" / "paths.parquet"), in_memory.paths,
                                  check_exact=True)
    # the median-path replay reads one row of the ledgers
    assert np.array_equal(back.ledger_row("cfads", 17), in_memory.ledger("cfads")[17])


def test_report_renders_from_a_streamed_folder(demo, tmp_path):
    r = CliRunner().invoke(app, ["run", str(DEMO), "--paths", "600", "--chunk-size", "200", "--seed", "3",
                                 "--stream", "--out", str(tmp_path / "run"), "--no-reports", "--quiet"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "run" / "ledgers.parquet").is_file()
    r = CliRunner().invoke(app, ["report", str(tmp_path / "run"), "--out", str(tmp_path / "rep"), "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "rep" / "report.html").is_file()


def test_the_run_private_folder_goes_with_the_result(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("BAOZHANG_STORE_DIR", str(tmp_path / "stores"))
    res = simulate(demo, paths=600, chunk_size=200, seed=3, stream=True)
    folder = res._store.folder
    assert folder.parent == tmp_path / "stores" and (folder / "paths.parquet").is_file()
    res.save(tmp_path / "out")  # hard links (or copies): the saved folder outlives the Result
    del res
    gc.collect()
    assert not folder.exists()
    assert Result.load(tmp_path / "out").n_paths == 600


def test_when_a_run_streams(demo, monkeypatch):
    monkeypatch.setattr(sim_mod, "STREAM_PATHS", 500)
    assert simulate(demo, paths=600, chunk_size=300, seed=1).streamed  # auto: from STREAM_PATHS on
    assert not simulate(demo, paths=400, chunk_size=200, seed=1).streamed
    assert not simulate(demo, paths=600, chunk_size=300, seed=1, stream=False).streamed
    assert not simulate(demo, deterministic=True).streamed
    # --target-se: in memory until STREAM_PATHS paths have run, then streamed (its rule reads running sums)
    assert not simulate(demo, paths=400, chunk_size=200, seed=1, target_se=0.5, max_paths=400).streamed
    assert simulate(demo, paths=600, chunk_size=300, seed=1, target_se=0.001, max_paths=900).streamed


def test_an_adaptive_run_streams_with_the_numbers_of_the_in_memory_adaptive_run(demo, monkeypatch):
    """--target-se past STREAM_PATHS: the chunks so far and the rest go to the column store; it stops at the same
    chunk and its summary is the in-memory adaptive run's, bit for bit (serial and 2 processes)."""
    monkeypatch.setattr(sim_mod, "STREAM_PATHS", 500)
    kw = dict(seed=11, chunk_size=200, target_se=0.3, max_paths=4_000)  # stops at 2,400 paths
    mem = simulate(demo, stream=False, **kw)
    assert not mem.streamed and 600 <= mem.n_paths < 4_000
    for extra in ({}, {"workers": 2, "backend": "processes"}):
        st = simulate(demo, **kw, **extra)
        assert st.streamed and st.n_paths == mem.n_paths == st.run["paths"]
        assert json.dumps(st.summary) == json.dumps(mem.summary)
        assert st.run["target_se_reached"] is True and st.run["max_paths"] == 4_000
    assert mem.run["target_se_reached"] is True
    capped = simulate(demo, stream=False, **{**kw, "target_se": 0.001, "max_paths": 400})  # cannot reach it
    assert capped.n_paths == 400 and capped.run["target_se_reached"] is False
    fixed = simulate(demo, paths=mem.n_paths, seed=11, chunk_size=200, stream=False)
    pd.testing.assert_frame_equal(fixed.paths, mem.paths, check_exact=True)


@pytest.mark.parametrize("sampling", ["mc", "antithetic", "rqmc"])
def test_running_standard_errors_are_the_two_pass_ones(demo, sampling):
    """The stopping rule's running estimators agree with headline_standard_errors on the whole columns."""
    from baozhang_finance.measures.fiscal import RunningStandardErrors, headline_standard_errors

    res = simulate(demo, paths=1_200, chunk_size=300, seed=4, sampling=sampling, stream=False)
    cols = {k: res.paths[k].to_numpy() for k in ("path", "hidden_call", "hidden_debt_pv", "explicit_bond_burden_pv",
                                                  "self_financing")}
    run = {"sampling": sampling, "chunk_size": 300, "rqmc_points": res.run["rqmc_points"]}
    rs = RunningStandardErrors(run)
    for a in range(0, 1_200, 300):
        rs.add({k: v[a:a + 300] for k, v in cols.items()})
    want, got = headline_standard_errors(cols, run), rs.standard_errors()
    assert got["independent_units"] == want["independent_units"]
    for k in ("p_call", "expected_pv", "expected_pv_bond_burden", "p_self_financing"):
        assert got[k] == pytest.approx(want[k], rel=1e-13, nan_ok=True), k


def test_a_stream_of_chunks_becomes_a_result_in_any_folder(demo, in_memory, tmp_path):
    """What a per-city worker (run/portfolio.py) needs: chunk column dicts in, a lazily backed Result out."""
    plan = compile_plan(demo)
    chunks = (run_chunk(plan, i, a, b, 11) for i, (a, b) in enumerate(chunk_bounds(2_400, 400)))
    run = dict(in_memory.run)
    res = Result.from_chunks(demo, plan, chunks, run, folder=tmp_path / "city")
    assert res.streamed and res.n_paths == 2_400 and (tmp_path / "city" / "ledgers.parquet").is_file()
    _same(in_memory, res)
    del res
    gc.collect()
    assert (tmp_path / "city" / "paths.parquet").is_file()  # a folder given by the caller is the caller's


CHILD = r"""
import json, resource, sys
from baozhang_finance import load_scenario, simulate
res = simulate(load_scenario(sys.argv[1]), paths=int(sys.argv[2]), chunk_size=5_000, seed=5, stream=True)
res.summary, res.yearly
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "streamed": res.streamed}))
"""


def _peak_mb(paths: int, tmp_path: Path) -> float:
    env = {**__import__("os").environ, "BAOZHANG_STORE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(DEMO), str(paths)], capture_output=True, text=True,
                         env=env, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["streamed"]
    return r["peak_mb"]


@pytest.mark.long
def test_memory_does_not_grow_with_paths(tmp_path):
    """Peak RSS of 400,000 streamed paths vs 100,000: in memory the 300,000 more paths would hold ≈ 420 MB more
    (1.4 kB per path); streamed, the summary reads a few columns at a time (≈ 75 B per path at its peak)."""
    small = _peak_mb(100_000, tmp_path)
    large = _peak_mb(400_000, tmp_path)
    assert large - small < 100, (small, large)  # MB


_HOLD = r"""
import sys, time
from baozhang_finance.run.store import RunFolder
f = RunFolder(sys.argv[1])
(f.path / "paths.parquet").write_bytes(b"x" * 100)
print(f.path, flush=True)
time.sleep(600)
"""


def test_the_next_run_removes_the_folders_of_killed_runs_and_no_live_ones(tmp_path, monkeypatch, demo):
    """A SIGKILLed run cannot remove its ``baozhang-run-*`` folder; the next streamed run does, by its unlocked
    ``owner.lock`` (the kernel drops a dead process's flock). A live run's folder and a folder without a lock
    (older versions; one being made) stay."""
    import signal

    root = tmp_path / "store"
    root.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", _HOLD, str(root)], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        dead, live = (Path(p.stdout.readline().strip()) for p in procs)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(timeout=10)
        legacy = root / "baozhang-run-legacy"
        legacy.mkdir()
        assert dead.exists() and live.exists()
        monkeypatch.setenv("BAOZHANG_STORE_DIR", str(root))
        res = simulate(demo, paths=600, chunk_size=300, seed=3, stream=True)
        assert not dead.exists()
        assert live.exists() and legacy.exists()
        mine = res._store.folder
        assert mine.exists() and (mine / store.OWNER_LOCK).exists()
        assert store.remove_stale_run_folders(root) == []  # its own folder is live too
        del res
        gc.collect()
        assert not mine.exists()
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=10)
