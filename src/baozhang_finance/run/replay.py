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
from baozhang_finance.run import uncertainty
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


#: the keys that choose among the paths at the median hidden-debt PV, in order (columns of ``Result.paths``)
REPRESENTATIVE_KEYS = ("soe_support_pv", "terminal_equity")


def representative_index(hidden_pv, *keys) -> int:
    """Row of the representative path: at the median hidden-debt PV, then nearest the medians of ``keys``.

    Notes
    -----
    With ``H`` the hidden-debt PV of the ``n`` paths, ``m_H = H_(⌊(n−1)/2⌋)`` the lower median (an order statistic,
    so a path has it exactly) and ``C = {i : H_i = m_H}`` the paths at it (on most runs many paths share
    ``H = 0``), the representative path is

    .. math:: i^* = \\operatorname{lexmin}_{i \\in C}
              \\bigl(|K^1_i - \\operatorname{med}_C K^1|,\\; |K^2_i - \\operatorname{med}_C K^2|,\\; \\dots,\\; i\\bigr)

    — nearest the median (over ``C``, the midpoint of the two middle values when ``|C|`` is even) of the first key,
    ties broken by the second key the same way, remaining ties by the lowest row. A NaN key value is farthest.
    Deterministic: the same paths give the same row, whatever order a sort left them in.

    Examples
    --------
    >>> representative_index([0, 0, 0, 5, 9], [3.0, 1.0, 2.0, 0.0, 0.0])  # H median 0; SOE PV median of 3, 1, 2 = 2
    2
    """
    h = np.asarray(hidden_pv, dtype=float)
    if h.size == 0:
        raise ValueError("no paths to choose a representative path from")
    m = np.sort(h, kind="stable")[(h.size - 1) // 2]
    cand = np.flatnonzero(h == m)
    dist = []
    for k in keys:
        v = np.asarray(k, dtype=float)[cand]
        med = np.nanmedian(v) if np.isfinite(v).any() else np.nan
        d = np.abs(v - med)
        dist.append(np.where(np.isnan(d), np.inf, d))
    order = np.lexsort((cand, *reversed(dist)))  # np.lexsort: the last key is the primary one
    return int(cand[order[0]])


def median_path_index(result) -> int:
    """Row of ``result.paths`` of the representative ("median") path: :func:`representative_index` of the
    hidden-debt PV and :data:`REPRESENTATIVE_KEYS` (SOE support PV, then terminal equity; a key the table lacks —
    an old run — is left out)."""
    paths = result.paths
    keys = [paths[k].to_numpy(float) for k in REPRESENTATIVE_KEYS if k in paths.columns]
    return representative_index(paths["hidden_debt_pv"].to_numpy(float), *keys)


def replay_path(result, index: int) -> MedianPath:
    """Re-simulate path ``index`` of a run with ``record=True`` and check it against the run's ledgers."""
    run = result.run
    n_total = len(result.paths)
    path_no = int(result.paths["path"].iloc[index]) if "path" in result.paths else index
    plan = result.plan
    if plan.market.deterministic or run.get("deterministic"):
        shocks = None
    else:
        if uncertainty.active(result.scenario):  # the path's chunk ran on its own drawn market parameters
            plan = uncertainty.plans(plan, result.scenario, run.get("stress"), int(run["seed"]), False).for_chunk(
                path_no // int(run["chunk_size"]))
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
    """The representative ("median") path of a result, :func:`median_path_index`, replayed (once per Result
    object)."""
    mp = _MEDIAN_CACHE.get(result)
    if mp is None:
        mp = replay_path(result, median_path_index(result))
        _MEDIAN_CACHE[result] = mp
    return mp
