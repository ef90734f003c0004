"""Standard error per second of the sampling modes (mc, mc with control variates, antithetic, rqmc) — what a user feels.

Usage (from the repository root)::

    python benchmarks/bench_sampling.py                          # demo and loudi, default and legacy conventions
    python benchmarks/bench_sampling.py --paths 4096 --seeds 16 --scenario scenarios/loudi.toml

For every scenario and seed the four modes run back to back (interleaved, so that the machine's load hits them
alike), each ``--paths`` paths in one chunk, timed in CPU seconds (``time.process_time``). Per mode and output
(P(call), E[hidden-debt PV], E[bond-burden PV]):

* ``sd`` — the spread of the estimate across the seeds (the honest error, whatever the estimator says);
* ``se`` — the mean standard error the run reported (``run.standard_errors``: per path, pair or replicate);
* ``eff`` — efficiency against mc, ``(sd²_mc · t_mc) / (sd² · t)``: how many times fewer CPU seconds the mode
  needs for the same standard error (SE per second squared, relative).

The last line is machine-readable: ``eff_<scenario>_<mode>_<output>=x`` for every cell.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from baozhang_finance import load_scenario, simulate
from baozhang_finance.engine.controls import CONTROL_NAMES
from baozhang_finance.measures.fiscal import HEADLINE_COLUMNS, headline_control_variates, headline_standard_errors
from baozhang_finance.model.support import with_conventions

ROOT = Path(__file__).resolve().parents[1]
MODES = ("mc", "cv", "antithetic", "rqmc")  # cv: plain mc with [simulation] control_variates (decision 60)
OUTPUTS = (("p_call", "hidden_call"), ("expected_pv", "hidden_debt_pv"),
           ("expected_pv_bond_burden", "explicit_bond_burden_pv"))


def one_run(sc, paths: int, seed: int, mode: str) -> tuple[float, dict, dict]:
    t0 = time.process_time()
    if mode == "cv":
        sc = sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"control_variates": True})})
    r = simulate(sc, paths=paths, seed=seed, chunk_size=paths, sampling="mc" if mode == "cv" else mode)
    names = ("path",) + HEADLINE_COLUMNS + (tuple(f"cv_{k}" for k in CONTROL_NAMES) if mode == "cv" else ())
    cols = {k: r.paths[k].to_numpy() for k in names}
    if mode == "cv":
        adj = headline_control_variates(cols)
        est, se = {k: adj[k]["estimate"] for k, _ in OUTPUTS}, {k: adj[k]["se"] for k, _ in OUTPUTS}
    else:
        est, se = {k: float(np.mean(cols[c])) for k, c in OUTPUTS}, headline_standard_errors(cols, r.run)
    return time.process_time() - t0, est, se


def bench(name: str, sc, paths: int, seeds: int) -> dict:
    est = {m: [] for m in MODES}
    ses = {m: [] for m in MODES}
    cpu = {m: 0.0 for m in MODES}
    simulate(sc, paths=256, seed=0, sampling="rqmc")  # warm-up: imports (scipy), caches
    for s in range(seeds):
        for m in MODES:
            t, e, se = one_run(sc, paths, 1000 + s, m)
            cpu[m] += t
            est[m].append(e)
            ses[m].append(se)
    out = {}
    print(f"\n{name}: {paths:,} paths per run, {seeds} seeds per mode (CPU s per run: "
          + ", ".join(f"{m} {cpu[m] / seeds:.2f}" for m in MODES) + ")")
    print(f"{'output':26s} {'mode':11s} {'mean':>14s} {'sd (seeds)':>12s} {'SE reported':>12s} {'Var ratio':>9s} {'eff':>7s}")
    for key, _ in OUTPUTS:
        sd = {m: float(np.std([e[key] for e in est[m]], ddof=1)) for m in MODES}
        for m in MODES:
            mean = float(np.mean([e[key] for e in est[m]]))
            se = float(np.nanmean([x[key] for x in ses[m]]))
            vr = sd["mc"] ** 2 / sd[m] ** 2 if sd[m] > 0 else float("nan")
            eff = vr * cpu["mc"] / cpu[m] if sd[m] > 0 else float("nan")
            out[f"eff_{name}_{m}_{key}"] = eff
            print(f"{key:26s} {m:11s} {mean:14.6g} {sd[m]:12.4g} {se:12.4g} {vr:9.2f} {eff:7.2f}")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paths", type=int, default=4096)
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--scenario", action="append", default=None,
                    help="scenario file(s); default: demo and loudi, each under default and legacy conventions")
    args = ap.parse_args(argv)
    if args.scenario:
        cases = [(Path(p).stem, load_scenario(p)) for p in args.scenario]
    else:
        demo = load_scenario(ROOT / "scenarios" / "demo.toml")
        loudi = load_scenario(ROOT / "scenarios" / "loudi.toml")
        cases = [("demo", demo), ("demo_legacy", with_conventions(demo, "legacy")),
                 ("loudi", loudi), ("loudi_legacy", with_conventions(loudi, "legacy"))]
    line = {}
    for name, sc in cases:
        line.update(bench(name, sc, args.paths, args.seeds))
    print(" ".join(f"{k}={v:.2f}" for k, v in line.items()))


if __name__ == "__main__":
    main()
