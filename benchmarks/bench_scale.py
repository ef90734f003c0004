"""Scaling of the Dask backend from 1 to 2 worker processes (issue 10).

    python benchmarks/bench_scale.py                      # demo scenario, 200,000 paths, chunks of 10,000
    python benchmarks/bench_scale.py --paths 400000 --workers 1 2 4

For each worker count a fresh LocalCluster (processes, 1 thread each) is started, warmed up on one small chunk
(imports, first-touch of the plan), then timed on the full run. Both runs must give the same per-path table bit
for bit. Prints one line per worker count, then the speedup; the last line is ``dask_speedup_2_workers=<x>``
(time with 1 worker ÷ time with 2). On a shared machine the number is noisy: other processes take cores too, so
each line also reports the CPU seconds the workers actually got and ``cores_obtained`` = worker CPU ÷ wall time
(≈ the number of workers on an idle machine; well below it means the cores were busy with something else), and
the line before the last gives ``cpu_based_speedup_estimate_2_workers`` = CPU seconds of the 1-worker run ÷ CPU
seconds of the busiest of the 2 workers — the speedup the same work would show with a core per worker (it
includes the distribution overhead and load imbalance, not the contention).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

from baozhang_finance import load_scenario
from baozhang_finance import simulate
from baozhang_finance.run.dask_backend import make_client

ROOT = Path(__file__).resolve().parents[1]


def _loadavg() -> str:
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "n/a"


def timed_run(scenario, workers: int, paths: int, chunk_size: int, seed: int):
    client = make_client(None, workers)
    try:
        client.wait_for_workers(workers, timeout=120)
        simulate(scenario, paths=min(chunk_size, 500), chunk_size=min(chunk_size, 500), seed=seed,
                 backend="dask", client=client)  # warm-up: imports and the plan on the workers
        cpu0 = client.run(time.process_time)
        t0 = time.perf_counter()
        res = simulate(scenario, paths=paths, chunk_size=chunk_size, seed=seed, backend="dask", workers=workers,
                       client=client)
        wall = time.perf_counter() - t0
        cpu1 = client.run(time.process_time)
        per_worker = [cpu1[w] - cpu0[w] for w in cpu1 if w in cpu0]
        return wall, per_worker, res
    finally:
        client.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "demo.toml"))
    ap.add_argument("--paths", type=int, default=200_000)
    ap.add_argument("--chunk-size", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=20250701)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)
    if 1 not in args.workers or 2 not in args.workers:
        ap.error("--workers must include 1 and 2 (the speedup is time(1) / time(2))")
    sc = load_scenario(args.scenario)
    print(f"scenario={Path(args.scenario).name} paths={args.paths:,} chunk_size={args.chunk_size:,} "
          f"chunks={-(-args.paths // args.chunk_size)} cpu_count={os.cpu_count()} load_before={_loadavg()}")
    times: dict[int, float] = {}
    busiest: dict[int, float] = {}
    total_cpu: dict[int, float] = {}
    ref = None
    for w in sorted(set(args.workers)):
        wall, per_worker, res = timed_run(sc, w, args.paths, args.chunk_size, args.seed)
        cpu = sum(per_worker)
        times[w] = wall
        busiest[w] = max(per_worker)
        total_cpu[w] = cpu
        if ref is None:
            ref = res.paths
        else:
            pd.testing.assert_frame_equal(res.paths, ref, check_exact=True)
        print(f"workers={w} wall_s={wall:.2f} paths_per_s={args.paths / wall:,.0f} "
              f"speedup={times[min(times)] / wall:.2f} worker_cpu_s={cpu:.1f} cores_obtained={cpu / wall:.2f} "
              f"load={_loadavg()} p_call={res.summary['hidden_debt']['p_call']:.4f}",
              flush=True)
    print("per-path tables identical across worker counts: yes")
    # Not a measurement of wall time: what the speedup would be if each worker had a core to itself, from the CPU
    # the workers used (total CPU with 1 worker ÷ CPU of the busiest worker with 2: overhead + load imbalance).
    print(f"cpu_based_speedup_estimate_2_workers={total_cpu[1] / busiest[2]:.2f} "
          f"(cpu overhead of 2 workers vs 1: {100 * (total_cpu[2] / total_cpu[1] - 1):+.1f} %)")
    print(f"dask_speedup_2_workers={times[1] / times[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
