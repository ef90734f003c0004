"""Peak memory and wall time of large runs, in memory and streamed to the column store (issue 17 §3).

    python benchmarks/bench_memory.py                                  # 200,000 and 800,000 paths, streamed, 1 worker
    python benchmarks/bench_memory.py --paths 1000000 --workers 1 2 --modes memory stream
    python benchmarks/bench_memory.py --paths 10000000 --workers 2 --modes stream
    python benchmarks/bench_memory.py --paths 1000000 10000000 --modes synthetic   # the summary phase, no engine

Each (paths, workers, mode) runs in a fresh subprocess: ``simulate()`` on the demo scenario (chunk 10,000, the
default backend for the worker count: serial for 1, local processes for 2), then ``Result.summary`` and
``Result.yearly``. The subprocess reports its own peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), the
largest peak RSS of its worker processes (``RUSAGE_CHILDREN``: the largest child that has ended — the simulation's
workers and the summary's helper process, decision 63), the RSS after imports, and wall and CPU times of the run
and of the summary (``summary_s`` is ``summary`` + ``yearly``; ``summary_main_cpu_s`` this process's CPU in it,
``summary_helper_cpu_s`` the helper's). One line per run; the last line is
``peak_rss_mb_max=<MB> peak_rss_ratio_largest_over_smallest=<x>`` over the streamed runs (main process peak,
1 worker if run, else the first worker count).

``--modes synthetic`` measures the two phases of a streamed run apart, without simulating every path (a real
10,000,000-path run takes ≈ 50 CPU minutes): a first subprocess simulates ``--base-paths`` real demo paths (chunk
10,000) and writes a column store of ``--paths`` paths by repeating those chunks in order (the ``path`` column
renumbered; same schema, same values, each repeated paths / base-paths times) — the writer's part of the
simulation phase (its row-group buffer and the Parquet footer it keeps); a second, fresh subprocess opens that
store as a streamed Result and computes ``summary`` and ``yearly`` — the summary phase. Each reports its own
peak RSS (the writer's includes the base chunks it holds, the same at every size). Repeated values are harder,
not easier, for the exact quantiles (long runs of ties), and the blocked reductions read the same number of
blocks as a real run's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, resource, sys, time
t_import = time.perf_counter()
from baozhang_finance import load_scenario, simulate
rss_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
sc = load_scenario(sys.argv[1])
paths, workers, mode, chunk = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
c0, t0 = time.process_time(), time.perf_counter()
res = simulate(sc, paths=paths, chunk_size=chunk, seed=20251201, workers=workers, stream=(mode == "stream"))
t1, c1 = time.perf_counter(), time.process_time()
rss_run = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
s = res.summary
y = res.yearly
t2, c2 = time.perf_counter(), time.process_time()
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"paths": paths, "workers": workers, "mode": mode, "streamed": res.streamed,
                  "simulate_s": t1 - t0, "summary_s": t2 - t1, "main_cpu_s": c2 - c0,
                  "summary_main_cpu_s": c2 - c1,
                  "summary_helper_cpu_s": ch.ru_utime + ch.ru_stime - ch1.ru_utime - ch1.ru_stime,
                  "workers_cpu_s": ch1.ru_utime + ch1.ru_stime,
                  "rss_after_imports_mb": rss_imports, "rss_peak_after_simulate_mb": rss_run,
                  "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "worker_rss_peak_mb": ch.ru_maxrss / 1024 if workers > 1 else None,
                  "p_call": s["hidden_debt"]["p_call"], "se_p_call": s["run"]["standard_errors"]["p_call"],
                  "loadavg": os.getloadavg()}))
"""


WRITE = r"""
import json, resource, sys, time
import numpy as np
from baozhang_finance import load_scenario
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.run.chunks import chunk_bounds, run_chunk
from baozhang_finance.run.store import ColumnWriter
sc = load_scenario(sys.argv[1])
paths, base_paths, chunk, folder = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
plan = compile_plan(sc)
c0 = time.process_time()
base = [run_chunk(plan, i, a, b, 20251201) for i, (a, b) in enumerate(chunk_bounds(base_paths, chunk))]
c1, t1 = time.process_time(), time.perf_counter()
rss_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
w = ColumnWriter(folder)
done = 0
while done < paths:
    for c in base:
        k = min(len(c["path"]), paths - done)
        cols = {key: v[:k].copy() for key, v in c.items()}
        cols["path"] = np.arange(done, done + k, dtype=np.int64)
        w.append(cols)
        done += k
        if done >= paths:
            break
w.close()
print(json.dumps({"base_cpu_s": c1 - c0, "write_s": time.perf_counter() - t1, "rss_after_base_mb": rss_base,
                  "rss_peak_write_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

SUMMARY = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from baozhang_finance import load_scenario
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.run.result import Result
from baozhang_finance.run.simulate import run_info
from baozhang_finance.run.store import ColumnStore
sc = load_scenario(sys.argv[1])
rss_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
st = ColumnStore(sys.argv[2])
run = run_info(paths=st.n, seed=20251201, chunk_size=10_000, backend="serial", workers=1, stress=None,
               deterministic=False, sampling="mc", scenario=sc, target_se=None, wall=0.0)
res = Result(scenario=sc, plan=compile_plan(sc), columns=None, run={**run, "streamed": True}, store=st)
rss_open = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
c0, t1 = time.process_time(), time.perf_counter()
s = res.summary
y = res.yearly
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"paths": st.n, "summary_s": time.perf_counter() - t1, "summary_cpu_s": time.process_time() - c0,
                  "summary_helper_cpu_s": ch.ru_utime + ch.ru_stime,
                  "helper_rss_peak_mb": ch.ru_maxrss / 1024,
                  "rss_after_imports_mb": rss_imports, "rss_after_open_mb": rss_open,
                  "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "p_call": s["hidden_debt"]["p_call"], "cvar95": s["hidden_debt"]["cvar95_pv"]}))
"""


def run_synthetic(scenario: str, paths: int, base_paths: int, chunk: int) -> dict:
    """The writer phase and the summary phase of a ``paths``-path streamed run, from repeated real chunks."""
    root = os.environ.get("BAOZHANG_STORE_DIR") or None
    with tempfile.TemporaryDirectory(prefix="bench-memory-synthetic-", dir=root) as d:
        out = {}
        for script, args in ((WRITE, [str(paths), str(base_paths), str(chunk), d]), (SUMMARY, [d])):
            r = subprocess.run([sys.executable, "-c", script, scenario, *args], capture_output=True, text=True,
                               check=False)
            if r.returncode != 0:
                raise RuntimeError(r.stderr[-3000:])
            out.update(json.loads(r.stdout.strip().splitlines()[-1]))
        out["store_bytes"] = sum(f.stat().st_size for f in Path(d).iterdir())
    return out


def run_one(scenario: str, paths: int, workers: int, mode: str, chunk: int) -> dict:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as d:
        env["BAOZHANG_STORE_DIR"] = env.get("BAOZHANG_STORE_DIR", d)
        out = subprocess.run([sys.executable, "-c", CHILD, scenario, str(paths), str(workers), mode, str(chunk)],
                             capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "demo.toml"))
    ap.add_argument("--paths", type=int, nargs="+", default=[200_000, 800_000])
    ap.add_argument("--workers", type=int, nargs="+", default=[1])
    ap.add_argument("--modes", nargs="+", default=["stream"], choices=["memory", "stream", "synthetic"])
    ap.add_argument("--chunk-size", type=int, default=10_000)
    ap.add_argument("--base-paths", type=int, default=100_000, help="synthetic: real paths repeated")
    args = ap.parse_args(argv)
    peaks: dict[int, float] = {}
    for n in args.paths:
        if "synthetic" in args.modes:
            r = run_synthetic(args.scenario, n, args.base_paths, args.chunk_size)
            print(f"paths={n:,} mode=synthetic base_paths={args.base_paths:,} base_cpu_s={r['base_cpu_s']:.1f} "
                  f"write_s={r['write_s']:.1f} rss_after_base_mb={r['rss_after_base_mb']:.0f} "
                  f"rss_peak_write_mb={r['rss_peak_write_mb']:.0f} summary_s={r['summary_s']:.1f} "
                  f"summary_cpu_s={r['summary_cpu_s']:.1f} summary_helper_cpu_s={r['summary_helper_cpu_s']:.1f} "
                  f"helper_rss_peak_mb={r['helper_rss_peak_mb']:.0f} rss_after_imports_mb={r['rss_after_imports_mb']:.0f} "
                  f"rss_after_open_mb={r['rss_after_open_mb']:.0f} rss_peak_summary_mb={r['rss_peak_mb']:.0f} "
                  f"store_gb={r['store_bytes'] / 1e9:.2f} p_call={r['p_call']:.5f} load={os.getloadavg()[0]:.1f}",
                  flush=True)
            peaks[n] = r["rss_peak_mb"]
        for w in args.workers:
            for mode in [m for m in args.modes if m != "synthetic"]:
                r = run_one(args.scenario, n, w, mode, args.chunk_size)
                print(f"paths={n:,} workers={w} mode={mode} simulate_s={r['simulate_s']:.1f} "
                      f"summary_s={r['summary_s']:.1f} main_cpu_s={r['main_cpu_s']:.1f} "
                      f"summary_main_cpu_s={r['summary_main_cpu_s']:.1f} "
                      f"summary_helper_cpu_s={r['summary_helper_cpu_s']:.1f} "
                      f"workers_cpu_s={r['workers_cpu_s']:.1f} rss_after_imports_mb={r['rss_after_imports_mb']:.0f} "
                      f"rss_peak_after_simulate_mb={r['rss_peak_after_simulate_mb']:.0f} "
                      f"rss_peak_mb={r['rss_peak_mb']:.0f} worker_rss_peak_mb="
                      f"{'-' if r['worker_rss_peak_mb'] is None else format(r['worker_rss_peak_mb'], '.0f')} "
                      f"p_call={r['p_call']:.5f}±{r['se_p_call']:.5f} load={r['loadavg'][0]:.1f}", flush=True)
                if mode == "stream" and w == args.workers[0]:
                    peaks[n] = r["rss_peak_mb"]
    if peaks:
        lo, hi = min(peaks), max(peaks)
        print(f"peak_rss_mb_max={max(peaks.values()):.0f} peak_rss_ratio_largest_over_smallest="
              f"{peaks[hi] / peaks[lo]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
