"""Grouped Sobol indices: first-order and total indices of input *groups* (house prices, rents, rates, occupancy,
sales, costs, plan) with bootstrap confidence intervals (SALib), all evaluations on common random numbers.

:func:`sobol_indices` takes a pluggable ``evaluate``, so the same code computes the indices of an analytic function
(:func:`ishigami`, whose indices are known) and of the scenario (:class:`ScenarioModel`). Saved as ``sobol.csv``,
``sobol_sample.csv`` and ``sobol.json``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from typing import TYPE_CHECKING as _TC  # noqa: E402
if _TC:  # pandas is imported where used (start-up time)
    import pandas as pd

from baozhang_finance.analysis.evaluate import evaluate_all
from baozhang_finance.analysis.inputs import Input, make_inputs, typed
from baozhang_finance.analysis.output import Writer, save_folder, write_json
from baozhang_finance.measures.metrics import DEFAULT_TORNADO_METRICS, check_metrics
from baozhang_finance.model.fields import apply_overrides
from baozhang_finance.model.scenario import Scenario, ScenarioError
from baozhang_finance.run.settings import SOBOL_PATHS, RunSettings


def ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """Ishigami function f = sin x₁ + a sin² x₂ + b x₃⁴ sin x₁ on [−π, π]³ (analytic Sobol indices known)."""
    X = np.asarray(X, dtype=float)
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> dict[str, np.ndarray]:
    """Analytic first-order and total Sobol indices of :func:`ishigami`.

    V = a²/8 + b π⁴/5 + b² π⁸/18 + 1/2; V₁ = (1 + b π⁴/5)²/2, V₂ = a²/8, V₃ = 0;
    V_T1 = V₁ + V₁₃, V₁₃ = b² π⁸ (1/18 − 1/50), V_T2 = V₂, V_T3 = V₁₃.
    """
    pi4 = math.pi**4
    v = a * a / 8 + b * pi4 / 5 + b * b * pi4 * pi4 / 18 + 0.5
    v1 = 0.5 * (1 + b * pi4 / 5) ** 2
    v2 = a * a / 8
    v13 = b * b * pi4 * pi4 * (1 / 18 - 1 / 50)
    return {"S1": np.array([v1, v2, 0.0]) / v, "ST": np.array([v1 + v13, v2, v13]) / v}


@dataclass
class SobolResult:
    """Sobol indices per input group (or per input) and metric, with confidence half-widths."""

    table: pd.DataFrame  # metric, name, S1, S1_conf, ST, ST_conf
    problem: dict[str, Any]
    X: np.ndarray
    Y: np.ndarray  # (runs, metrics)
    metrics: list[str]
    conf_level: float
    settings: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    def sample_table(self) -> pd.DataFrame:
        """The design (one column per input) with the metric of every row beside it (sobol_sample.csv)."""
        import pandas as pd
        sample = pd.DataFrame(self.X, columns=self.problem["names"])
        for j, m in enumerate(self.metrics):
            sample[m] = self.Y[:, j]
        return sample

    def save(self, out: str | Path, extra_writers: Iterable[Writer] = (), overwrite: bool = False) -> Path:
        """sobol.csv, sobol_sample.csv and sobol.json (then ``extra_writers``, e.g. report.sensitivity.sobol_charts)."""
        def write(tmp: Path) -> None:
            self.table.to_csv(tmp / "sobol.csv", index=False)
            self.sample_table().to_csv(tmp / "sobol_sample.csv", index=False)
            write_json(tmp / "sobol.json", {"scenario": self.source, **self.settings}, default=float)

        return save_folder(self, out, write, extra_writers, overwrite)


def sobol_indices(problem: dict[str, Any], evaluate: Callable[[np.ndarray], np.ndarray], n_base: int = 64,
                  seed: int = 0, metrics: Sequence[str] = ("y",), conf_level: float = 0.95,
                  num_resamples: int = 200) -> SobolResult:
    """First-order and total Sobol indices with SALib: Sobol-sequence Saltelli sampling, Jansen/Saltelli
    estimators, bootstrap confidence intervals.

    ``problem`` is a SALib problem dict (``num_vars``, ``names``, ``bounds``, optional ``groups``: inputs of
    one group are resampled together, so the indices are those of the group). ``evaluate(X)`` maps the
    ``(N (G + 2), D)`` sample to outputs ``(rows,)`` or ``(rows, len(metrics))`` — a simulation per row, or an
    analytic function: the code path is the same. ``n_base`` should be a power of 2 (Sobol sequence balance).
    """
    import pandas as pd
    from SALib.analyze import sobol as sobol_analyze  # SALib imported where used: a slow import (start-up)
    from SALib.sample import sobol as sobol_sample

    if n_base < 2 or n_base & (n_base - 1):
        raise ScenarioError(f"n_base: must be a power of 2 ≥ 2 (Sobol sequence), got {n_base}")
    X = sobol_sample.sample(problem, n_base, calc_second_order=False, scramble=True, seed=seed)
    Y = np.asarray(evaluate(X), dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.shape != (X.shape[0], len(metrics)):
        raise ValueError(f"evaluate returned shape {Y.shape}, expected ({X.shape[0]}, {len(metrics)})")
    names = list(dict.fromkeys(problem["groups"])) if problem.get("groups") else list(problem["names"])
    rows = []
    for j, m in enumerate(metrics):
        y = Y[:, j]
        if np.nanstd(y) == 0 or np.isnan(y).any():
            # a constant output has no variance to apportion; NaNs (undefined metric) cannot be analysed
            why = "constant" if not np.isnan(y).any() else "undefined"
            for nm in names:
                rows.append({"metric": m, "name": nm, "S1": np.nan, "S1_conf": np.nan, "ST": np.nan,
                             "ST_conf": np.nan, "note": f"output {why} over the sample"})
            continue
        si = sobol_analyze.analyze(problem, y, calc_second_order=False, num_resamples=num_resamples,
                                   conf_level=conf_level, print_to_console=False, seed=seed)
        for i, nm in enumerate(names):
            row = {"metric": m, "name": nm, "S1": float(si["S1"][i]), "S1_conf": float(si["S1_conf"][i]),
                   "ST": float(si["ST"][i]), "ST_conf": float(si["ST_conf"][i])}
            rows.append({**row, "note": resolution_note(row)})
    return SobolResult(table=pd.DataFrame(rows), problem=problem, X=X, Y=Y, metrics=list(metrics),
                       conf_level=conf_level)


def resolution_note(row: dict) -> str:
    """Why an index is not resolved by the sample: a negative first-order estimate beyond its interval, or an
    interval wider than the estimate itself (the estimate is then indistinguishable from 0). Empty when fine."""
    notes = []
    if row["S1"] < 0:
        notes.append("S1 < 0 (sampling error)")
    if row["S1_conf"] > abs(row["S1"]) or row["ST_conf"] > abs(row["ST"]):
        notes.append("interval wider than the estimate")
    return "; ".join(notes) + ("; raise n_base" if notes else "")


def sobol_problem(inputs: Sequence[Input], grouped: bool = True) -> dict[str, Any]:
    """SALib problem of uniform inputs on [low, high]; with ``grouped`` the inputs carry their group names."""
    prob: dict[str, Any] = {"num_vars": len(inputs), "names": [i.field for i in inputs],
                            "bounds": [[i.low, i.high] for i in inputs]}
    if grouped:
        prob["groups"] = [i.group for i in inputs]
    return prob


class ScenarioModel:
    """``evaluate(X)`` for :func:`sobol_indices`: each row of X sets the inputs, runs a CRN simulation, and
    returns the metrics. Rows the scenario refuses (a combination out of range) raise ScenarioError."""

    def __init__(self, scenario: Scenario, inputs: Sequence[Input], metrics: Sequence[str], settings: RunSettings,
                 progress: Callable[[int, int], None] | None = None, client=None):
        self.client = client
        self.scenario = scenario
        self.inputs = list(inputs)
        self.metrics = list(metrics)
        self.settings = settings.resolved(scenario)
        self.progress = progress
        self.runs = 0
        self.wall = 0.0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))
        out = np.empty((X.shape[0], len(self.metrics)))
        t0 = time.perf_counter()
        designs = [apply_overrides(self.scenario, {i.field: typed(i, v) for i, v in zip(self.inputs, row)})
                   for row in X]
        results = evaluate_all(designs, self.settings, self.metrics, self.client, self.progress,
                                labels=[f"design row {r}" for r in range(X.shape[0])])
        for r, vals in enumerate(results):
            out[r] = [vals[m] for m in self.metrics]
        self.runs += X.shape[0]
        self.wall += time.perf_counter() - t0
        return out


def sobol(scenario: Scenario, inputs: Sequence[Input] | None = None, n_base: int = 32, paths: int = SOBOL_PATHS,
          seed: int | None = None, metrics: Sequence[str] | None = None, chunk_size: int | None = None,
          stress: str | None = None, rel: float = 0.2, ranges: Mapping[str, tuple[float, float]] | None = None,
          grouped: bool = True, sample_seed: int = 0, conf_level: float = 0.95, num_resamples: int = 200,
          progress: Callable[[int, int], None] | None = None, client=None, source: str | None = None) -> SobolResult:
    """Grouped Sobol indices of the scenario's metrics (default P(hidden-debt call) and expected hidden-debt PV).

    Inputs are uniform on their tornado ranges and independent; with ``grouped`` each group (house prices,
    rents, rates, occupancy, sales & buybacks, costs, plan) is one factor, so drivers that move together are
    credited together. Cost: ``n_base × (G + 2)`` simulations of ``paths`` paths each (default 32 × 9 × 200
    paths for the demo — a few minutes on one core). Every simulation uses the same seed (CRN), so the
    model seen by SALib is deterministic; the Monte Carlo error of each run is a fixed error of the model,
    reported separately by the sweep/tornado SEs, not noise in the indices.
    """
    names = check_metrics(metrics, DEFAULT_TORNADO_METRICS)
    inputs = list(inputs) if inputs is not None else make_inputs(scenario, rel, ranges)
    if not inputs:
        raise ScenarioError("sobol: no uncertain inputs to vary")
    problem = sobol_problem(inputs, grouped)
    if grouped and len(set(problem["groups"])) < 2:
        raise ScenarioError("sobol: need at least two input groups")
    settings = RunSettings(paths=paths, seed=seed, chunk_size=chunk_size, stress=stress)
    model = ScenarioModel(scenario, inputs, names, settings, progress, client=client)
    res = sobol_indices(problem, model, n_base=n_base, seed=sample_seed, metrics=names, conf_level=conf_level,
                        num_resamples=num_resamples)
    s = model.settings
    res.settings = {"paths": s.paths, "seed": s.seed, "chunk_size": s.chunk_size, "stress": s.stress,
                    "n_base": n_base, "runs": model.runs, "wall_time_s": model.wall, "grouped": grouped,
                    "inputs": [{"field": i.field, "group": i.group, "low": i.low, "high": i.high} for i in inputs]}
    res.source = source
    return res
