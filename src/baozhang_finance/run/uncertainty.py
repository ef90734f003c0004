"""Parameter uncertainty at the run level: a per-chunk draw of the calibrated market parameters.

When a scenario has ``[market.parameter_uncertainty]`` (written by ``baozhang calibrate``) and it is enabled,
chunk ``i`` simulates with its own market parameters

.. math:: θ_i = \\operatorname{clip}(θ̂ + \\mathrm{SE} ⊙ u_i,\\ \\text{field range}),\\qquad u_i \\sim N(0, I),

drawn from a separate stream ``Generator(PCG64(SeedSequence(seed, spawn_key=(i, 1))))`` — the main shocks of
the chunk (``spawn_key=(i,)``) are untouched, and the draw depends only on (scenario, seed, chunk size, i), so
every backend and worker count still returns the same bits. The parameters are drawn independently (the
estimates' covariance is not carried) and the correlation matrix is kept at its point value.

**Chunking.** One draw per chunk: the number of parameter draws is the number of chunks. When the run does not
set a chunk size, ``paths_per_draw`` (default 500: 20 draws for 10 000 paths) is used instead of
``simulation.chunk_size``. Smaller chunks give more draws (a better picture of the parameter spread) at some
cost in speed. :func:`spread_share` says how much of the variance of the hidden-debt PV (and of the call
indicator) comes from the parameter draws, by the law of total variance across chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baozhang_finance.engine.loop import with_engine
from baozhang_finance.engine.plan import Plan, compile_plan
from baozhang_finance.measures import blocked as bk
from baozhang_finance.measures.blocked import Col
from baozhang_finance.model.scenario import Market, Scenario


def active(scenario: Scenario, deterministic: bool = False) -> bool:
    pu = scenario.market.parameter_uncertainty
    return bool(pu is not None and pu.enabled and pu.se and not deterministic)


def chunk_size(scenario: Scenario, given: int | None) -> int | None:
    """The run's chunk size: ``paths_per_draw`` when parameters are drawn and the run did not choose one."""
    if given is None and active(scenario):
        return scenario.market.parameter_uncertainty.paths_per_draw
    return given


def parameter_generator(seed: int, chunk_index: int) -> np.random.Generator:
    """The parameter stream of one chunk, separate from its shocks: SeedSequence(seed, spawn_key=(chunk, 1))."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(chunk_index, 1))))


def _bounds(name: str) -> tuple[float, float]:
    lo, hi = -np.inf, np.inf
    for m in Market.model_fields[name].metadata:
        lo = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else lo
        hi = getattr(m, "le", None) if getattr(m, "le", None) is not None else hi
    return float(lo), float(hi)


def draw_market(scenario: Scenario, seed: int, chunk_index: int) -> dict[str, float]:
    """The market parameters of chunk ``chunk_index`` (names in sorted order, so the draw never depends on dict order)."""
    pu = scenario.market.parameter_uncertainty
    rng = parameter_generator(seed, chunk_index)
    names = sorted(pu.se)
    u = rng.standard_normal(len(names))
    out = {}
    for k, z in zip(names, u):
        lo, hi = _bounds(k)
        out[k] = float(np.clip(getattr(scenario.market, k) + pu.se[k] * z, lo, hi))
    return out


@dataclass
class DrawnPlans:
    """What the executors ship instead of one Plan: the base plan and how to compile a chunk's own."""

    base: Plan
    scenario: Scenario
    stress: str | None
    seed: int

    def for_chunk(self, chunk_index: int) -> Plan:
        drawn = draw_market(self.scenario, self.seed, chunk_index)
        market = self.scenario.market.model_copy(update=drawn)
        plan = compile_plan(self.scenario.model_copy(update={"market": market}), stress=self.stress)
        return with_engine(plan, self.base.market.engine) if self.base.market.engine_chosen else plan


def plans(plan: Plan, scenario: Scenario, stress: str | None, seed: int, deterministic: bool):
    """The plan (or plan source) the chunks run: ``plan`` itself unless parameters are drawn."""
    return DrawnPlans(plan, scenario, stress, seed) if active(scenario, deterministic) else plan


def chunk_plan(plan, chunk_index: int) -> Plan:
    """The Plan of one chunk: hook called by :func:`baozhang_finance.run.simulate.run_chunk`."""
    return plan.for_chunk(chunk_index) if isinstance(plan, DrawnPlans) else plan


def spread_share(values: np.ndarray, chunk_ids: np.ndarray) -> dict[str, float]:
    """Share of Var(values) that comes from the chunk-level parameter draws (law of total variance).

    ``Var(X) = E[Var(X | θ)] + Var(E[X | θ])``; the between-chunk variance of chunk means is corrected for its
    Monte Carlo part, ``E[Var(X|θ)]/n_chunk``: ``share = max(Var_between − mean(s_i²/n_i), 0) / Var(X)``.
    """
    values = np.asarray(values, dtype=float)
    groups = [values[chunk_ids == i] for i in np.unique(chunk_ids)]
    return _share(groups, values.var(ddof=1) if len(groups) >= 2 else 0.0)


def chunk_spread_share(col: Col, paths: Col, chunk_size: int) -> dict[str, float]:
    """:func:`spread_share` of a per-path column read block by block (memory set by the block and the chunk, not by
    the paths): chunk ``i`` is the rows with ``path // chunk_size == i`` (the rows are in path order); each chunk's
    mean and variance as numpy computes them on that chunk's values, Var(X) as :func:`~baozhang_finance.measures.
    blocked.std` sums (``np.var`` itself up to one block of paths)."""
    col = col.astype(float)
    groups = list(_chunk_values(col, paths, chunk_size))
    if len(groups) < 2:
        return _share(groups, 0.0)
    m = bk.mean(col)
    return _share(groups, float(bk.blocked_sum((col - m) * (col - m)) / (col.size - 1)))


def _chunk_values(col: Col, paths: Col, chunk_size: int):
    """The values of each chunk in turn, gathered across blocks (a chunk may straddle two blocks)."""
    carry, carry_id = None, None
    for v, p in zip(col.blocks(), paths.blocks()):
        ids = p // chunk_size
        cuts = np.flatnonzero(np.diff(ids)) + 1
        for j, part in enumerate(np.split(v, cuts)):
            cid = ids[0 if j == 0 else cuts[j - 1]]
            if carry is not None and cid == carry_id:
                carry = np.concatenate([carry, part])
                continue
            if carry is not None:
                yield carry
            carry, carry_id = part, cid
    if carry is not None:
        yield carry


def _share(groups: list[np.ndarray], total: float) -> dict[str, float]:
    """The law-of-total-variance share from each chunk's values and the whole column's variance ``total``."""
    if len(groups) < 2:
        return {"draws": int(len(groups)), "share_of_variance": None, "sd_of_chunk_means": None}
    means = np.array([g.mean() for g in groups])
    within = np.array([g.var(ddof=1) / max(g.size, 1) for g in groups])
    between = means.var(ddof=1) - within.mean()
    share = float(min(max(between, 0.0) / total, 1.0)) if total > 0 else 0.0
    return {"draws": int(len(groups)), "share_of_variance": share, "sd_of_chunk_means": float(means.std(ddof=1))}


def run_record(pv: Col, call: Col, paths: Col, chunk_size: int) -> dict:
    """What the run records about the parameter draws: draws and the share of the spread they explain (the
    hidden-debt PV and call columns and the path column, read block by block)."""
    pv_s = chunk_spread_share(pv, paths, chunk_size)
    call_s = chunk_spread_share(call, paths, chunk_size)
    return {"draws": pv_s["draws"], "paths_per_draw": int(chunk_size),
            "share_of_variance_hidden_debt_pv": pv_s["share_of_variance"],
            "share_of_variance_hidden_call": call_s["share_of_variance"],
            "sd_across_draws_p_call": call_s["sd_of_chunk_means"]}
