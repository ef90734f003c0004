"""Vectorisation benchmark: one engine call over 10,000 paths versus 10,000 one-path calls.

In deterministic mode every path sees the same (expected) market, so a vectorised run of N paths must give N
identical rows — the check that no path-dependent state leaks across rows — and its cost is the price of the
array arithmetic alone. The one-path cost is measured on a sample of single runs and scaled to N.

    python benchmarks/bench_vectorised.py [SCENARIO] [--paths 10000] [--singles 50]

The last line is ``vectorised_speedup=<x>``: (N × time of one single-path run) ÷ (time of the N-path run).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from baozhang_finance import load_scenario
from baozhang_finance.engine.loop import run_paths
from baozhang_finance.engine.plan import compile_plan

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml"


def identical_rows(out) -> list[str]:
    """Names of the ledgers / scalars whose rows are not all bit-identical to row 0 (empty = all identical)."""
    bad = []
    for kind, table in (("yearly", out.yearly), ("scalar", out.scalars)):
        for k, v in table.items():
            v = np.asarray(v)
            first = v[:1]
            same = (v == first) | (np.isnan(v) & np.isnan(first)) if v.dtype.kind == "f" else (v == first)
            if not np.all(same):
                bad.append(f"{kind}:{k}")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default=str(DEMO))
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--singles", type=int, default=50, help="single-path runs timed to estimate their cost")
    args = ap.parse_args(argv)

    sc = load_scenario(args.scenario)
    plan = compile_plan(sc, deterministic=True)
    run_paths(plan, 1, None)  # warm-up (imports, caches)

    t0 = time.perf_counter()
    out = run_paths(plan, args.paths, None)
    t_vec = time.perf_counter() - t0
    bad = identical_rows(out)
    rows = out.yearly["cfads"].shape[0]
    print(f"scenario: {args.scenario} ({plan.P} projects, {plan.L} loans, {plan.T} months)")
    print(f"vectorised: {rows:,} paths in {t_vec:.3f} s ({rows / t_vec:,.0f} paths/s)")
    if bad:
        print(f"NOT identical across the {rows:,} deterministic rows: {', '.join(bad)}")
    else:
        print(f"identical rows: all {rows:,} deterministic rows equal bit for bit "
              f"({len(out.yearly)} yearly ledgers, {len(out.scalars)} scalars)")

    single = []
    for _ in range(args.singles):
        t0 = time.perf_counter()
        one = run_paths(plan, 1, None)
        single.append(time.perf_counter() - t0)
    t_one = float(np.median(single))
    assert np.array_equal(one.yearly["cfads"][0], out.yearly["cfads"][0]), "single-path run differs from the vectorised row"
    t_singles = t_one * args.paths
    speedup = t_singles / t_vec
    print(f"single path: median {t_one * 1e3:.2f} ms over {args.singles} runs → {args.paths:,} runs ≈ {t_singles:.1f} s")
    print(f"cost ratio (singles ÷ vectorised): {speedup:.1f}")
    print(f"vectorised_speedup={speedup:.1f}")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
