"""Throughput of the vectorised engine against the per-path loop and against drawing the random numbers alone.

Usage (from the repository root)::

    python benchmarks/bench_engine.py                     # demo, 20,000 paths, 300 reference paths
    python benchmarks/bench_engine.py --paths 50000 --ref-paths 500
    python benchmarks/bench_engine.py --million           # also: peak memory of a 1,000,000-path run (minutes)
    python benchmarks/bench_engine.py --profile           # also: where the engine's time goes (cProfile)

It measures, in one run and on the same scenario and seed:

* ``numpy engine`` and ``compiled engine``: :func:`baozhang_finance.engine.run_paths` over the run's chunks (default
  chunk size) with the numpy stages or their compiled twins (``engine="numpy"`` / ``"compiled"``, engine/kernels;
  the same bits), i.e. the monthly model for every path, without the per-path metrics and summary;
* ``simulate``: the whole :func:`baozhang_finance.simulate` (engine + per-path metrics incl. IRRs) and
  ``Result.summary`` (three lenses);
* ``rng only``: the same generator calls as the engine (per chunk, per month t ≥ 1 an (n, 7) standard-normal
  array, uniforms at relending rollovers), nothing else — the floor any engine must pay;
* ``per-path loop``: tests/oracle.py (via the shim benchmarks/reference_model.py; pure Python, one path at a time) on ``--ref-paths`` paths,
  scaled per path to the engine's path count.

The last line is machine-readable, for the default engine (compiled when numba is installed):
``engine=<name> speedup_vs_per_path_loop=<x> engine_over_rng_only=<y> path_months_per_s=<z>``.
Wall-clock figures depend on the machine and on its load; run it on an idle machine for the docs.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from reference_model import run_reference  # noqa: E402

from baozhang_finance import simulate  # noqa: E402
from baozhang_finance.engine.drivers import N_INNOVATIONS  # noqa: E402
from baozhang_finance.engine.loop import choose_engine, run_paths  # noqa: E402
from baozhang_finance.engine.shocks import Shocks  # noqa: E402
from baozhang_finance.engine.plan import compile_plan  # noqa: E402
from baozhang_finance.model.scenario import load_scenario  # noqa: E402
from baozhang_finance.model.support import with_conventions  # noqa: E402
from baozhang_finance.run.simulate import chunk_bounds, chunk_generator  # noqa: E402
from baozhang_finance.run.store import keep_freed_pages  # noqa: E402


def time_engine(plan, paths: int, chunk: int, seed: int, engine: str = "numpy") -> float:
    """CPU seconds (``time.process_time``: less sensitive to the other jobs on a shared machine than wall time)."""
    t0 = time.process_time()
    for i, (a, b) in enumerate(chunk_bounds(paths, chunk)):
        run_paths(plan, b - a, chunk_generator(seed, i), yearly="bulk", engine=engine)  # as a run's chunks do
    return time.process_time() - t0


def time_rng_only(plan, paths: int, chunk: int, seed: int) -> float:
    """CPU seconds of the shock source alone: mc — the raw generator calls; antithetic / rqmc — ``Shocks``
    (pairs; scrambled Sobol + inverse normal + bridge) month by month, exactly what the engine reads."""
    mp = plan.market
    events = set(int(m) for m in mp.relending_event_months)
    uniforms = not mp.deterministic
    t0 = time.process_time()
    for i, (a, b) in enumerate(chunk_bounds(paths, chunk)):
        rng = chunk_generator(seed, i)
        n = b - a
        if mp.sampling != "mc":
            sh = Shocks.for_plan(mp, n, rng)
            if not plan.support.legacy and plan.L:
                sh.event_uniforms(plan.L)
            for t in range(1, plan.T):
                sh.month(t)
            continue
        for t in range(1, plan.T):
            rng.standard_normal((n, N_INNOVATIONS))
            if uniforms and t in events:
                rng.random(n)
    return time.process_time() - t0


def million_run(scenario_path: str, seed: int) -> dict:
    """Peak RSS of a 1,000,000-path run with the default chunk size, measured in a fresh subprocess."""
    code = (
        "import json, resource, time\n"
        "from baozhang_finance import load_scenario, simulate\n"
        f"sc = load_scenario({scenario_path!r})\n"
        "rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "t0 = time.perf_counter()\n"
        f"res = simulate(sc, paths=1_000_000, seed={seed})\n"
        "t1 = time.perf_counter()\n"
        "s = res.summary\n"
        "t2 = time.perf_counter()\n"
        "print(json.dumps({'paths': len(res.paths), 'chunk_size': res.run['chunk_size'],\n"
        "    'simulate_s': t1 - t0, 'summary_s': t2 - t1, 'maxrss_mb_before': rss0 / 1024,\n"
        "    'maxrss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,\n"
        "    'p_call': s['hidden_debt']['p_call'], 'se_p_call': s['run']['standard_errors']['p_call']}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def section_times(plan, paths: int, chunk: int, seed: int, engine: str = "numpy") -> dict[str, float]:
    """CPU time by stage of the month: the run with every stage of ``engine.loop.MONTH`` (numpy, or its compiled
    twin) and the drivers' step wrapped in a timer. Returns seconds by stage."""
    from baozhang_finance.engine import drivers
    from baozhang_finance.engine import loop
    from baozhang_finance.engine.kernels import twins

    totals: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*a, **k):
            t0 = time.process_time()
            out = fn(*a, **k)
            totals[name] = totals.get(name, 0.0) + time.process_time() - t0
            return out
        return wrapper

    month, step, table, twin_step = loop.MONTH, drivers.Drivers.step, dict(twins.TWINS), twins.market_step
    loop.MONTH = tuple(timed(f.__name__, f) for f in month)
    twins.TWINS.clear()  # the timed numpy stage → the timed twin
    twins.TWINS.update({w: timed(f.__name__, table.get(f, f)) for f, w in zip(month, loop.MONTH)})
    drivers.Drivers.step = timed("market (shocks + drivers)", step)
    twins.market_step = timed("market (shocks + drivers)", twin_step)
    try:
        for i, (a, b) in enumerate(chunk_bounds(paths, chunk)):
            loop.run_paths(plan, b - a, chunk_generator(seed, i), yearly="bulk", engine=engine)
    finally:
        loop.MONTH, drivers.Drivers.step, twins.market_step = month, step, twin_step
        twins.TWINS.clear()
        twins.TWINS.update(table)
    return totals


def profile_engine(plan, paths: int, chunk: int, seed: int, top: int = 25) -> str:
    prof = cProfile.Profile()
    prof.enable()
    time_engine(plan, paths, chunk, seed)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "demo.toml"))
    ap.add_argument("--paths", type=int, default=20_000, help="engine paths (default 20,000)")
    ap.add_argument("--ref-paths", type=int, default=300, help="paths for the per-path reference loop (default 300)")
    ap.add_argument("--chunk-size", type=int, default=None, help="default: the scenario's [simulation].chunk_size")
    ap.add_argument("--seed", type=int, default=20251124)
    ap.add_argument("--million", action="store_true", help="also measure peak memory of a 1,000,000-path run")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of the engine run")
    ap.add_argument("--stages", action="store_true", help="also print the CPU time of each stage, both engines")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the minimum of each is reported")
    ap.add_argument("--sampling", default="mc", choices=("mc", "antithetic", "rqmc"))
    ap.add_argument("--conventions", default=None, choices=("default", "legacy"))
    args = ap.parse_args(argv)

    sc_mc = with_conventions(load_scenario(args.scenario), args.conventions)
    sc = sc_mc.model_copy(update={"simulation": sc_mc.simulation.model_copy(update={"sampling": args.sampling})})
    chunk = args.chunk_size or sc.simulation.chunk_size
    plan = compile_plan(sc)
    plan_mc = compile_plan(sc_mc)
    T = plan.T
    print(f"scenario {Path(args.scenario).name}: {plan.P} projects, {plan.L} loans, {T} months; "
          f"{args.paths:,} paths in chunks of {chunk:,}; sampling {args.sampling}; numpy {np.__version__}; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}; times in CPU seconds")

    # the C heap's policy of every process that runs chunks (run/chunks.py: freed pages reused, no fresh mmaps)
    heap = "freed pages kept (keep_freed_pages)" if keep_freed_pages() else "the C library's default"
    print(f"C heap: {heap}")
    default = choose_engine(plan)
    engines = ["numpy"] + (["compiled"] if default == "compiled" else [])
    time_engine(plan, min(args.paths, 500), chunk, args.seed)  # warm-up (imports, caches)
    if "compiled" in engines:  # the first call loads the cached kernels (or compiles them): timed apart
        t0 = time.perf_counter()
        time_engine(plan, min(args.paths, 500), chunk, args.seed, "compiled")
        print(f"compiled engine: numba import + kernels loaded (or compiled) in {time.perf_counter() - t0:.1f} s")
    # interleaved (rng, numpy engine, compiled engine, loop, …): the load of the shared machine hits all alike;
    # the minimum of each over the rounds
    rng_t, ref_t, eng_t = [], [], {e: [] for e in engines}
    for _ in range(args.rounds):
        rng_t.append(time_rng_only(plan, args.paths, chunk, args.seed))
        for e in engines:
            eng_t[e].append(time_engine(plan, args.paths, chunk, args.seed, e))
        t0 = time.process_time()
        run_reference(sc_mc, args.ref_paths, args.seed, plan=plan_mc)  # the oracle draws plain MC
        ref_t.append(time.process_time() - t0)
    rng_s, ref_s = min(rng_t), min(ref_t)
    eng = {e: min(v) for e, v in eng_t.items()}
    t0 = time.process_time()
    res = simulate(sc, paths=args.paths, seed=args.seed, chunk_size=chunk)
    sim_s = time.process_time() - t0
    t0 = time.process_time()
    _ = res.summary
    sum_s = time.process_time() - t0

    pm = args.paths * T
    ref_per_path = ref_s / args.ref_paths
    loop_s = ref_per_path * args.paths
    print(f"simulate (+metrics, {res.run['engine']}) {sim_s:8.2f} s   {pm / sim_s:12,.0f} path-months/s")
    print(f"Result.summary         {sum_s:8.2f} s")
    print(f"per-path loop          {ref_s:8.2f} s   for {args.ref_paths} paths = {ref_per_path * 1e3:.1f} ms/path "
          f"→ {loop_s:,.0f} s for {args.paths:,} paths")
    print(f"table ({args.paths:,} paths × {T} months, CPU seconds, one process, "
          f"min of {args.rounds} interleaved rounds):")
    print(f"  {'':18s} {'CPU s':>8s} {'path-months/s':>14s} {'× RNG alone':>12s} {'speed-up vs loop':>17s}")
    rows = [("per-path loop", loop_s)] + [(f"{e} engine", eng[e]) for e in engines] + [("RNG alone", rng_s)]
    for label, sec in rows:
        print(f"  {label:18s} {sec:8.2f} {pm / sec:14,.0f} {sec / rng_s:12.2f} {loop_s / sec:17.1f}")
    if "compiled" in eng:
        print(f"  compiled / numpy CPU time: {eng['compiled'] / eng['numpy']:.2f}")
    if args.profile:
        print(profile_engine(plan, args.paths, chunk, args.seed))
    if args.stages:
        secs = {e: section_times(plan, args.paths, chunk, args.seed, e) for e in engines}
        names = sorted(secs["numpy"], key=lambda k: -secs["numpy"][k])
        print(f"month by stage (CPU s, {args.paths:,} paths): " + "  ".join(f"{e:>9s}" for e in engines))
        for k in names + ["total"]:
            vals = [sum(v.values()) if k == "total" else v.get(k, 0.0) for v in secs.values()]
            print(f"  {k:28s} " + "  ".join(f"{x:9.3f}" for x in vals))
    if args.million:
        m = million_run(args.scenario, args.seed)
        print(f"1,000,000 paths (chunk {m['chunk_size']:,}): simulate {m['simulate_s']:.0f} s, summary "
              f"{m['summary_s']:.0f} s, peak RSS {m['maxrss_mb']:,.0f} MB (after imports {m['maxrss_mb_before']:,.0f} MB); "
              f"p_call {m['p_call']:.4f} ± {m['se_p_call']:.4f}")
    e = engines[-1]
    print(f"engine={e} speedup_vs_per_path_loop={loop_s / eng[e]:.0f} engine_over_rng_only={eng[e] / rng_s:.2f} "
          f"path_months_per_s={pm / eng[e]:.0f}")


if __name__ == "__main__":
    main()
