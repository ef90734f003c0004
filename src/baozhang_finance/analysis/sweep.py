"""One-field sweep: metrics of the scenario at each of a list of values of one field, every value on the same
random draws (common random numbers). Saved as ``sweep.csv`` (the table) and ``sweep.json`` (the settings)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from typing import TYPE_CHECKING as _TC  # noqa: E402
if _TC:  # pandas is imported where used (start-up time)
    import pandas as pd

from baozhang_finance.analysis.evaluate import Progress, evaluate_all
from baozhang_finance.analysis.output import TableResult
from baozhang_finance.measures.metrics import DEFAULT_SWEEP_METRICS, check_metrics
from baozhang_finance.model.fields import apply_overrides, get_field, parse_lever
from baozhang_finance.model.scenario import Scenario, ScenarioError
from baozhang_finance.run.settings import SWEEP_PATHS, RunSettings


class SweepResult(TableResult):
    """``table``: columns ``field``, ``value``, then each metric and ``<metric>_se``, one row per value in the
    order given; ``settings``: field, values, metrics and the resolved run settings; ``source``: the scenario's
    file (recorded in sweep.json)."""

    stem = "sweep"


def _lever_field(field: str, project: int | None) -> str:
    lev = parse_lever(field, project)
    return f"{lev[0]}[{lev[1]}]" if lev else field


def sweep(scenario: Scenario, field: str, values: Sequence[Any], paths: int = SWEEP_PATHS, seed: int | None = None,
          metrics: Sequence[str] | None = None, chunk_size: int | None = None, stress: str | None = None,
          deterministic: bool = False, project: int | None = None, progress: Progress | None = None, client=None,
          source: str | None = None) -> SweepResult:
    """Metrics of the scenario with ``field`` set to each of ``values`` (same seed and shocks for every value).

    ``client``: a ``distributed.Client`` fans the values out over Dask (one simulation per value); the numbers
    are the same as the serial loop's. A value the scenario refuses raises :class:`ScenarioError` naming it,
    before anything is simulated.
    """
    import pandas as pd
    if not len(values):
        raise ScenarioError(f"sweep {field}: no values given")
    names = check_metrics(metrics, DEFAULT_SWEEP_METRICS)
    settings = RunSettings(paths=paths, seed=seed, chunk_size=chunk_size, stress=stress,
                           deterministic=deterministic).resolved(scenario)
    get_field(scenario, _lever_field(field, project))  # fail early on a bad field
    changed = [apply_overrides(scenario, {field: v}, project=project) for v in values]
    vals = evaluate_all(changed, settings, names, client, progress, labels=[f"{field}={v}" for v in values])
    table = pd.DataFrame([{"field": field, "value": v, **m} for v, m in zip(values, vals)])
    return SweepResult(table, {"field": field, "values": list(values), "metrics": names, "paths": settings.paths,
                               "seed": settings.seed, "chunk_size": settings.chunk_size, "stress": stress,
                               "deterministic": deterministic}, source)
