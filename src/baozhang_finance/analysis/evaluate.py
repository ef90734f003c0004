"""Evaluate many changed scenarios on common random numbers: the same resolved seed and chunk size for each, so
every evaluation sees the same market shocks (CRN, docs/sensitivity.md), serially or fanned out over Dask
(:func:`~baozhang_finance.run.dask_backend.map_scenarios`: one task per scenario, the same numbers either way)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from baozhang_finance.engine import loop
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.measures.metrics import metric_values
from baozhang_finance.model.fields import apply_overrides
from baozhang_finance.model.scenario import Scenario
from baozhang_finance.run.dask_backend import map_scenarios
from baozhang_finance.run.settings import RunSettings
from baozhang_finance.run.simulate import simulate

Progress = Callable[[int, int], None]


def prepare_engine(scenario: Scenario, settings: RunSettings, evaluations: int) -> str:
    """The engine an analysis of ``evaluations`` runs of ``scenario`` (or of scenarios changed from it) under
    ``settings`` runs: :func:`baozhang_finance.engine.loop.prepare_engine` for evaluations × paths paths in all —
    a long analysis compiles the kernels once, up front, and every evaluation then runs compiled; a short one runs
    the numpy stages while nothing is compiled (decision 77)."""
    s = settings.resolved(scenario)
    plan = compile_plan(scenario, stress=s.stress, deterministic=s.deterministic)
    return loop.prepare_engine(plan, max(int(evaluations), 1) * s.paths)


def run_changed(scenario: Scenario, overrides: Mapping[str, Any], settings: RunSettings, project: int | None = None,
                client=None):
    """Simulate ``scenario`` with ``overrides`` applied, under ``settings`` (resolved on the original scenario);
    with a Dask ``client`` the chunks of this one run go to the cluster (bit-identical). Returns the Result."""
    sc = apply_overrides(scenario, overrides, project=project) if overrides else scenario
    s = settings.resolved(scenario)
    extra = {"backend": "dask", "client": client} if client is not None else {}
    return simulate(sc, **s.simulate_kwargs(), **extra)


def _metrics_of(scenario: Scenario, shared: tuple[RunSettings, list[str]]) -> dict[str, float]:
    """One evaluation of a design: simulate a (changed) scenario serially and return its metrics. Module-level so
    Dask can ship it; ``shared`` = (resolved settings, metric names) is shipped once per worker."""
    settings, names = shared
    return metric_values(run_changed(scenario, {}, settings), names)


def evaluate_all(scenarios: Sequence[Scenario], settings: RunSettings, names: Sequence[str], client=None,
                 progress: Progress | None = None, labels: Sequence[str] | None = None) -> list[dict[str, float]]:
    """Metrics (``{name: value, name_se: SE}``) of every scenario, in order: a plain loop, or one Dask task per
    scenario on ``client``."""
    if scenarios:
        prepare_engine(scenarios[0], settings, len(scenarios))
    pos = {id(sc): k for k, sc in enumerate(scenarios)}
    label = (lambda sc: labels[pos[id(sc)]]) if labels is not None else None
    return map_scenarios(_metrics_of, list(scenarios), client, shared=(settings, list(names)), label=label,
                         progress=progress)
