"""Replay paths of a run month by month, from the same shock source as the run (report/ only renders them).

A path's numbers depend only on (scenario, seed, chunk size, its chunk and row): replaying path ``k`` re-runs
the engine on one path whose shocks are row ``k`` of its chunk's :class:`~baozhang_finance.engine.shocks.Shocks`
(``shocks.rows(slice(row, row + 1))``), with ``record=True`` for the monthly series.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any

import numpy as np

from baozhang_finance.engine.loop import run_paths
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.engine.shocks import Shocks
from baozhang_finance.model.scenario import Scenario
from baozhang_finance.run.simulate import chunk_generator


@dataclasses.dataclass
class MedianPath:
    """One path re-simulated month by month: ``monthly`` holds ``(1, P, T)`` / ``(1, T)`` arrays."""

    index: int
    hidden_debt_pv: float
    monthly: dict[str, np.ndarray]
    yearly: dict[str, np.ndarray]
    scalars: dict[str, np.ndarray]


def deterministic_record(scenario: Scenario) -> dict[str, np.ndarray]:
    """Every monthly series of the deterministic path (all shocks zero, one path): the engine's own record."""
    return run_paths(compile_plan(scenario, deterministic=True), 1, None, record=True).monthly


def path_shocks(plan, seed: int, chunk_size: int, paths: int, path_no: int):
    """The shock source of path ``path_no`` alone: its row of its chunk's shocks (None when deterministic)."""
    if plan.market.deterministic:
        return None
    chunk, row = divmod(path_no, chunk_size)
    chunk_n = min(chunk_size, paths - chunk * chunk_size)
    return Shocks.for_plan(plan.market, chunk_n, chunk_generator(seed, chunk)).rows(slice(row, row + 1))


def median_path_index(result) -> int:
    """Index (row of ``result.paths``) of the path with the lower-median hidden-debt PV."""
    pv = result.paths["hidden_debt_pv"].to_numpy(float)
    order = np.argsort(pv, kind="stable")
    return int(order[(pv.size - 1) // 2])


def replay_path(result, index: int) -> MedianPath:
    """Re-simulate path ``index`` of a run with ``record=True`` and check it against the run's ledgers."""
    run = result.run
    n_total = len(result.paths)
    path_no = int(result.paths["path"].iloc[index]) if "path" in result.paths else index
    plan = result.plan
    if plan.market.deterministic or run.get("deterministic"):
        shocks = None
    else:
        shocks = path_shocks(plan, int(run["seed"]), int(run["chunk_size"]),
                             max(int(run.get("paths", n_total)), n_total), path_no)
    out = run_paths(plan, 1, shocks, record=True)
    _check_replay(result, index, out)
    return MedianPath(index=path_no, hidden_debt_pv=float(result.paths["hidden_debt_pv"].iloc[index]),
                      monthly=out.monthly, yearly=out.yearly, scalars=out.scalars)


def _check_replay(result, index: int, out) -> None:
    want = float(result.paths["hidden_debt_pv"].iloc[index])
    got = float(out.scalars["pv_hidden"][0])
    ok = np.isclose(got, want, rtol=1e-9, atol=1e-3)
    for name in ("cfads", "cash_balance", "gov_hidden"):
        ref = result.ledger_row(name, index)
        ok &= bool(np.allclose(out.yearly[name][0], ref, rtol=1e-5, atol=1.0))  # ledgers are kept as float32
    if not ok:
        raise RuntimeError(f"the replay of path {index} does not reproduce the run (hidden-debt PV {got:,.2f} vs "
                           f"{want:,.2f} yuan): the engine's random draws changed")


_MEDIAN_CACHE: "weakref.WeakKeyDictionary[Any, MedianPath]" = weakref.WeakKeyDictionary()


def median_path(result) -> MedianPath:
    """The median path of a result (computed once per Result object)."""
    mp = _MEDIAN_CACHE.get(result)
    if mp is None:
        mp = replay_path(result, median_path_index(result))
        _MEDIAN_CACHE[result] = mp
    return mp
