"""Run settings: the one place where paths, seed, chunk size, stress and the deterministic switch are resolved.

Every entry point — :func:`~baozhang_finance.run.simulate.simulate`, the analyses (sweep, tornado, Sobol, solve,
debt capacity, compare) and the command line — states what it was given as a :class:`RunSettings` and calls
:meth:`RunSettings.resolved`: what was not given comes from the scenario's ``[simulation]`` table; a
deterministic run is one path. Two evaluations with the same resolved seed and chunk size draw the same
numbers (common random numbers, docs/seeds.md).

The per-tool defaults (how many paths an analysis spends per evaluation) sit here too, so the library and the
CLI cannot drift apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from baozhang_finance.model.scenario import Scenario, ScenarioError
from baozhang_finance.run import uncertainty

#: Monte Carlo paths per evaluation each tool uses unless told otherwise
SWEEP_PATHS = 1000
TORNADO_PATHS = 1000
SOBOL_PATHS = 200
SOLVE_PATHS = 2000
CAPACITY_PATHS = 2000
#: ``baozhang compare``: 2,000 paths × 360 months ≈ 0.7 M path-months per scenario (about 1–3 s each), and a
#: fixed seed and chunk size so that every scenario of a comparison is run on the same settings
COMPARE_PATHS = 2_000
COMPARE_SEED = 20251124
COMPARE_CHUNK_SIZE = 10_000

#: ``simulate()`` streams the per-path table and yearly ledgers to a Parquet column store from this many paths on
#: (in memory they take ≈ 1.4 kB per path: ≈ 280 MB here; analyses and small runs stay in memory, where the summary
#: is ≈ 2× faster than reading Parquet back) — docs/decisions.md 53
STREAM_PATHS = 200_000

#: largest master seed + 1 (numpy's SeedSequence takes any non-negative integer; the CLI keeps it to 63 bits)
SEED_LIMIT = 2**63


@dataclass(frozen=True)
class RunSettings:
    """How a scenario is simulated. ``None`` means "the scenario's own" (``scenario.simulation``)."""

    paths: int | None = None
    seed: int | None = None
    chunk_size: int | None = None
    stress: str | None = None
    deterministic: bool = False
    sampling: str | None = None  # mc | antithetic | rqmc (None: the scenario's [simulation].sampling)

    def resolved(self, scenario: Scenario) -> "RunSettings":
        """Every setting filled in (one path when deterministic) and checked: paths ≥ 1, chunk size ≥ 1."""
        sim = scenario.simulation
        chunk = uncertainty.chunk_size(scenario, self.chunk_size)  # paths_per_draw when parameters are drawn
        out = replace(self,
                      paths=1 if self.deterministic else int(self.paths if self.paths is not None else sim.paths),
                      seed=int(self.seed if self.seed is not None else sim.seed),
                      chunk_size=int(chunk if chunk is not None else sim.chunk_size),
                      sampling=str(self.sampling if self.sampling is not None else sim.sampling))
        if out.paths < 1:
            raise ScenarioError(f"paths: must be >= 1, got {out.paths}")
        if out.chunk_size < 1:
            raise ScenarioError(f"chunk_size: must be >= 1, got {out.chunk_size}")
        if out.sampling not in ("mc", "antithetic", "rqmc"):
            raise ScenarioError(f"sampling: must be mc, antithetic or rqmc, got {out.sampling!r}")
        if sim.control_variates and out.sampling != "mc":
            raise ScenarioError(f"simulation.control_variates: needs sampling = 'mc', the run asks for {out.sampling!r} "
                                "(turn control variates off or sample with mc)")
        return out

    def simulate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~baozhang_finance.run.simulate.simulate`."""
        return {"paths": self.paths, "seed": self.seed, "chunk_size": self.chunk_size, "stress": self.stress,
                "deterministic": self.deterministic, "sampling": self.sampling}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
