"""Solver cost in units of one simulation: time of `solve` ÷ time of one `simulate` of the same size.

Each solver evaluation is one full simulation with the same paths and seed (common random numbers), so the
ratio is essentially the number of evaluations the bracketing search needs (goal ≤ 10). Runs the demo
scenario: the smallest capital grant on the rental block with P(hidden-debt call) ≤ 5 %, the smallest equity
share with the same target, and the largest bank loan with P(min bank DSCR < 1) ≤ 10 % at a planned grant.

    python benchmarks/bench_solver.py [--paths 2000] [--seed 1] [--repeat 3]

The last line is ``solver_over_one_simulation=<x>`` (the mean ratio over the three problems).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from baozhang_finance import load_scenario
from baozhang_finance import simulate
from baozhang_finance.model.fields import apply_lever
from baozhang_finance.analysis.solve import solve

ROOT = Path(__file__).resolve().parents[1]


def one_simulation(sc, paths: int, seed: int, repeat: int) -> float:
    """Best-of-``repeat`` wall time of one simulation (the machine is shared: the minimum is the cost; the
    solve is timed the same way)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        simulate(sc, paths=paths, seed=seed)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3,
                    help="repeats of the one-simulation timing (best taken); the solve is timed repeat − 1 times")
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "demo.toml"))
    args = ap.parse_args()

    sc = load_scenario(args.scenario)
    problems = [
        ("grant", "p_call<=0.05", 0, sc),
        ("equity_share", "p_call<=0.05", 0, sc),
        ("max_loan", "p_dscr_below_1<=0.10", 0, apply_lever(sc, "grant", 45e6, 0)),
    ]
    ratios = []
    print(f"scenario {args.scenario}, {args.paths} paths, seed {args.seed}")
    for find, con, k, s in problems:
        one = one_simulation(s, args.paths, args.seed, args.repeat)
        walls = []
        for _ in range(max(1, args.repeat - 1)):
            t0 = time.perf_counter()
            res = solve(s, find, con, project=k, paths=args.paths, seed=args.seed)
            walls.append(time.perf_counter() - t0)
        wall = min(walls)
        ratio = wall / one
        ratios.append(ratio)
        print(f"{find:13s} {con:22s} answer={res.answer:.6g} metric={res.metric_value:.4g}±{res.metric_se:.2g} "
              f"simulations={res.n_simulations:2d} one_sim={one:.3f}s solve={wall:.2f}s ratio={ratio:.2f}")
    print(f"solver_over_one_simulation={statistics.mean(ratios):.2f}")


if __name__ == "__main__":
    main()
