"""One-at-a-time tornado: the low and high value of every uncertain input, all on the same random draws, ranked
by the swing of the first metric. Saved as ``tornado.csv`` and ``tornado.json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from typing import TYPE_CHECKING as _TC  # noqa: E402
if _TC:  # pandas is imported where used (start-up time)
    import pandas as pd

from baozhang_finance.analysis.evaluate import Progress, evaluate_all
from baozhang_finance.analysis.inputs import Input, make_inputs, typed
from baozhang_finance.analysis.output import TableResult
from baozhang_finance.measures.metrics import DEFAULT_TORNADO_METRICS, check_metrics
from baozhang_finance.model.fields import apply_overrides
from baozhang_finance.model.scenario import Scenario, ScenarioError
from baozhang_finance.run.settings import TORNADO_PATHS, RunSettings


class TornadoResult(TableResult):
    """``table``: one row per input (see :func:`tornado`); ``settings``: paths, seed, chunk size, stress, metrics,
    runs; ``source``: the scenario's file (recorded in tornado.json)."""

    stem = "tornado"


def _row(inp: Input, names: Sequence[str], base: dict, low: dict, high: dict) -> dict[str, Any]:
    row: dict[str, Any] = {"field": inp.field, "label": inp.label, "group": inp.group, "base": inp.base,
                           "low": inp.low, "high": inp.high, "basis": inp.basis}
    for m in names:
        row[f"{m}_base"] = base[m]
        row[f"{m}_low"] = low[m]
        row[f"{m}_high"] = high[m]
        row[f"{m}_low_se"] = low[f"{m}_se"]
        row[f"{m}_high_se"] = high[f"{m}_se"]
        row[f"{m}_swing"] = abs(high[m] - low[m])
    return row


def tornado(scenario: Scenario, inputs: Sequence[Input] | None = None, paths: int = TORNADO_PATHS,
            seed: int | None = None, metrics: Sequence[str] | None = None, chunk_size: int | None = None,
            stress: str | None = None, rel: float = 0.2, ranges: Mapping[str, tuple[float, float]] | None = None,
            progress: Progress | None = None, client=None, source: str | None = None) -> TornadoResult:
    """One-at-a-time low/high runs of every input, ranked by the swing of the first metric.

    ``client``: a ``distributed.Client`` fans the 1 + 2 × inputs runs out over Dask (same numbers).

    The table has one row per input: ``rank, field, label, group, base, low, high, basis`` and, per metric,
    ``<m>_base``, ``<m>_low``, ``<m>_high``, ``<m>_swing`` = |high − low| (and the SEs ``<m>_low_se``,
    ``<m>_high_se``), sorted by the first metric's swing, then the second's. All runs share one seed (CRN), so a
    swing is the effect of the input, not noise; the SE columns say how precisely the level itself is known.
    """
    import pandas as pd
    names = check_metrics(metrics, DEFAULT_TORNADO_METRICS)
    inputs = list(inputs) if inputs is not None else make_inputs(scenario, rel, ranges)
    if not inputs:
        raise ScenarioError("tornado: no uncertain inputs to vary")
    settings = RunSettings(paths=paths, seed=seed, chunk_size=chunk_size, stress=stress).resolved(scenario)
    designs, labels = [scenario], ["base"]
    for inp in inputs:
        for v in (inp.low, inp.high):
            designs.append(apply_overrides(scenario, {inp.field: typed(inp, v)}))
            labels.append(f"{inp.field}={v}")
    res = evaluate_all(designs, settings, names, client, progress, labels=labels)
    df = pd.DataFrame([_row(inp, names, res[0], res[1 + 2 * k], res[2 + 2 * k]) for k, inp in enumerate(inputs)])
    df = df.sort_values([f"{m}_swing" for m in names], ascending=False, kind="mergesort").reset_index(drop=True)
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    return TornadoResult(df, {"paths": settings.paths, "seed": settings.seed, "chunk_size": settings.chunk_size,
                              "stress": settings.stress, "metrics": names, "runs": len(designs)}, source)
