"""A provincial run: ~15 cities × paths on 1 and 2 workers, peak memory per worker, and the arithmetic of a national
(300-city × 1,000,000-path) study on a cluster from the measured cost per city-path.

Usage (from the repository root)::

    python benchmarks/bench_province.py --quick          # 15 cities × 4,000 paths (≈ 3 minutes on 2 cores)
    python benchmarks/bench_province.py                  # 15 cities × 100,000 paths (≈ 1.5 hours serial + parallel)
    python benchmarks/bench_province.py --cities 15 --paths 20000 --chunk-size 5000

The cities are the demo programme (scenarios/demo.toml, 30-year horizon) repeated, as inline scenarios, on one
national and one regional factor (house price, rent, fiscal loadings 0.5 / 0.4): the cost of a city-path is the cost
of the engine on a demo-sized programme. Each configuration runs in a fresh Python process so that its peak RSS
(``ru_maxrss`` of the process, and of its worker processes via RUSAGE_CHILDREN) is its own.

The projection: ``c`` = serial wall seconds ÷ (cities × paths) is core-seconds per city-path; a national study is
``N = 300 × 10⁶`` city-paths, i.e. ``N c / 3600`` core-hours, ``N c / (W e)`` seconds on ``W`` cores at parallel
efficiency ``e`` (the measured 2-worker efficiency), at an assumed price per core-hour. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: assumed cloud price per vCPU-hour (on-demand compute-optimised instances, 2025: ≈ US$0.04–0.05; assumption)
PRICE_PER_CORE_HOUR_USD = 0.045
NATIONAL_CITIES, NATIONAL_PATHS = 300, 1_000_000


def portfolio_dict(cities: int, paths: int, chunk_size: int) -> dict:
    demo = tomllib.loads((ROOT / "scenarios" / "demo.toml").read_text(encoding="utf-8"))
    return {
        "portfolio": {"name": f"benchmark: {cities} demo cities", "seed": 20251124, "paths": paths,
                      "chunk_size": chunk_size},
        "province": {"name": "benchmark province", "revenue_yuan": 2.0e11, "revenue_growth": 0.02,
                     "city_cap_share_of_revenue": 0.01, "transfer_cap_share_of_revenue": 0.02},
        "factors": {"regions": ["northeast"], "default_national": {"house_price": 0.5, "rent": 0.5, "fiscal": 0.5},
                    "default_regional": {"house_price": 0.4, "rent": 0.4, "fiscal": 0.4}},
        "city": [{"name": f"city {k}", "scenario": demo, "region": "northeast"} for k in range(cities)],
    }


def one(cities: int, paths: int, chunk_size: int, workers: int) -> dict:
    """Run one configuration in this process; wall time and peak RSS (MiB) of this process and its children."""
    from baozhang_finance.model.portfolio import portfolio_from_dict
    from baozhang_finance.run.portfolio import simulate_portfolio

    pf = portfolio_from_dict(portfolio_dict(cities, paths, chunk_size), source="bench", base=ROOT)
    t0 = time.perf_counter()
    res = simulate_portfolio(pf, workers=workers, backend="processes" if workers > 1 else "serial")
    s = res.summary
    wall = time.perf_counter() - t0
    return {"workers": workers, "wall_s": wall,
            "peak_rss_parent_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_rss_worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if workers > 1 else None,
            "p_any_call": s["province"]["p_any_call"], "expected_pv": s["province"]["hidden_debt_pv"]["expected"]}


def projection(c: float, efficiency: float) -> dict:
    """The national study from ``c`` core-seconds per city-path: core-hours, hours on 100 / 1,000 cores, cost."""
    n = NATIONAL_CITIES * NATIONAL_PATHS
    core_h = n * c / 3600
    return {"city_paths": n, "core_seconds_per_city_path": c, "core_hours": core_h,
            "hours_on_100_cores": core_h / (100 * efficiency), "hours_on_1000_cores": core_h / (1000 * efficiency),
            "cost_usd": core_h * PRICE_PER_CORE_HOUR_USD / efficiency, "price_per_core_hour_usd": PRICE_PER_CORE_HOUR_USD,
            "parallel_efficiency": efficiency}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="15 cities × 4,000 paths")
    ap.add_argument("--cities", type=int, default=15)
    ap.add_argument("--paths", type=int, default=None)
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # run one configuration (workers)
    a = ap.parse_args()
    paths = a.paths or (4_000 if a.quick else 100_000)
    chunk = a.chunk_size or (2_000 if a.quick else 10_000)
    if a.one is not None:
        print(json.dumps(one(a.cities, paths, chunk, a.one)))
        return
    runs = []
    for w in (1, 2):
        cmd = [sys.executable, __file__, "--one", str(w), "--cities", str(a.cities), "--paths", str(paths),
               "--chunk-size", str(chunk)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"workers={w}: {runs[-1]['wall_s']:.1f} s, peak RSS parent {runs[-1]['peak_rss_parent_mib']:.0f} MiB, "
              f"worker {runs[-1]['peak_rss_worker_mib'] or runs[-1]['peak_rss_parent_mib']:.0f} MiB", flush=True)
    assert runs[0]["expected_pv"] == runs[1]["expected_pv"], "1 and 2 workers must give the same bits"
    c = runs[0]["wall_s"] / (a.cities * paths)
    eff = runs[0]["wall_s"] / (2 * runs[1]["wall_s"])
    proj = projection(c, eff)
    print(f"{c * 1e3:.3f} ms per city-path; 2-worker speed-up {runs[0]['wall_s'] / runs[1]['wall_s']:.2f}x "
          f"(efficiency {eff:.0%}); national 300 × 1M: {proj['core_hours']:,.0f} core-hours, "
          f"{proj['hours_on_1000_cores'] * 60:.0f} min on 1,000 cores, ≈ US${proj['cost_usd']:,.0f}")
    print(json.dumps({"cities": a.cities, "paths": paths, "chunk_size": chunk, "runs": runs, "national": proj}))


if __name__ == "__main__":
    main()
