"""Chance-constrained policy solvers: the smallest grant / equity share / rent ratio, or the largest acquisition
price / bank loan, such that a risk constraint holds (e.g. P(hidden-debt call) ≤ 5 %).

``solve(scenario, find, constraint)`` varies one balanced lever of one project (see
:mod:`baozhang_finance.overrides`; the bank loan or the equity absorbs the change so sources = uses):

=================  ==========  ====================================================================
``find``           lever       direction
=================  ==========  ====================================================================
``grant``          grant[k]    smallest total capital grant (bank loan reduced by the same amount)
``equity_share``   equity_share[k]  smallest SOE equity share (bank loan reduced)
``rent_ratio``     rent_ratio[k]    smallest rent ratio (rental projects)
``max_price``      price[k]    largest acquisition price per m² (more uses → more bank loan)
``max_loan``       loan[k]     largest bank loan (equity reduced)
=================  ==========  ====================================================================

**Method.** Every evaluation is a simulation with the same seed and chunk size — common random numbers — so
the estimated metric is a deterministic function of the lever. For a probability it is a step function (it
moves by 1/N when one of the N paths flips), so the search is a bracketing one: the metric is assumed
monotone in the lever; the ends of the range are checked first (a target no value in the range meets is
refused with :class:`InfeasibleTarget`); then a safeguarded Illinois (regula falsi) iteration shrinks the
bracket [feasible end, infeasible end], falling back to bisection whenever the bracket does not halve in two
steps. It stops when

* the bracket is narrower than ``xtol`` (default 10⁻⁹ of the range when deterministic, 10⁻⁴ stochastic), or
* (stochastic runs) the metric at the feasible end is within ``resolution`` × its standard error of the
  target, or differs between the two ends of the bracket by no more than that: a finer answer would move the
  metric by less than a quarter of its Monte Carlo error — it would only locate individual paths.

The answer is the **feasible** end of the final bracket: on the solver's draws the constraint holds there.
It is reported with the metric and its standard error there, the number of simulations, and an approximate
Monte Carlo uncertainty of the answer itself (SE of the metric ÷ its slope across the solver's evaluations).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING as _TC  # noqa: E402
if _TC:  # pandas is imported where used (start-up time)
    import pandas as pd

from baozhang_finance.analysis.evaluate import prepare_engine
from baozhang_finance.analysis.output import Writer, json_safe, save_folder, write_json
from baozhang_finance.analysis.roots import Bracket, regula_falsi
from baozhang_finance.measures.metrics import METRICS, Metric, get_metric
from baozhang_finance.model.levers import get_lever
from baozhang_finance.model.scenario import Scenario, ScenarioError
from baozhang_finance.run.settings import SOLVE_PATHS, RunSettings
from baozhang_finance.run.simulate import simulate

#: ``--find`` name → (lever of :mod:`baozhang_finance.model.levers`, direction): "min" finds the smallest
#: feasible value, "max" the largest
FIND = {
    "grant": ("grant", "min"),
    "equity_share": ("equity_share", "min"),
    "rent_ratio": ("rent_ratio", "min"),
    "max_price": ("price", "max"),
    "max_loan": ("loan", "max"),
}

_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>|≤|≥)\s*([-+0-9.eE_%]+)\s*$")


class InfeasibleTarget(ScenarioError):
    """No value of the lever in the allowed range meets the constraint (CLI: exit 2)."""


@dataclass(frozen=True)
class Constraint:
    """``metric op target``, e.g. ``p_call <= 0.05``."""

    metric: str
    op: str
    target: float

    def holds(self, value: float) -> bool:
        if value is None or math.isnan(value):  # undefined (no path has the quantity): never met
            return False
        return {"<=": value <= self.target, "<": value < self.target,
                ">=": value >= self.target, ">": value > self.target}[self.op]

    def excess(self, value: float) -> float:
        """Signed distance past the target: ≤ 0 where it holds (for interpolation)."""
        return value - self.target if self.op in ("<=", "<") else self.target - value

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.target:g}"


def parse_constraint(text: str) -> Constraint:
    """``"p_call<=0.05"`` → Constraint. Operators <=, <, >=, > (≤, ≥); a trailing % divides by 100."""
    m = _CONSTRAINT.match(text or "")
    if not m:
        raise ScenarioError(f"constraint {text!r}: expected METRIC<=VALUE or METRIC>=VALUE, e.g. \"p_call<=0.05\"")
    name, op, num = m.groups()
    op = {"≤": "<=", "≥": ">="}.get(op, op)
    get_metric(name)
    try:
        target = float(num[:-1]) / 100 if num.endswith("%") else float(num)
    except ValueError:
        raise ScenarioError(f"constraint {text!r}: target {num!r} is not a number") from None
    if METRICS[name].is_probability and not 0 <= target <= 1:
        raise ScenarioError(f"constraint {text!r}: {name} is a probability; the target must lie in [0, 1]")
    return Constraint(name, op, target)


@dataclass
class Evaluation:
    x: float
    value: float
    se: float
    feasible: bool
    wall_time_s: float


@dataclass
class SolveResult:
    """The answer of :func:`solve` and how it was found; ``table`` lists the evaluations, ``save`` writes
    solve.json and scenario_solved.json."""

    find: str
    lever: str
    project: int
    project_name: str
    constraint: Constraint
    answer: float
    base_value: float
    metric_value: float
    metric_se: float
    answer_se: float | None
    bound: str | None  # "lo"/"hi" when the constraint already holds at the range's end, else None
    lo: float
    hi: float
    bracket: tuple[float, float]  # (feasible end, infeasible end)
    evaluations: list[Evaluation]
    paths: int
    seed: int
    chunk_size: int
    deterministic: bool
    stopped_by: str
    wall_time_s: float
    scenario: Scenario = field(repr=False)  # the solved scenario (lever at the answer)
    source: str | None = None  # the original scenario's file, recorded in solve.json

    @property
    def n_simulations(self) -> int:
        return len(self.evaluations)

    @property
    def settings(self) -> dict[str, Any]:
        return {"paths": self.paths, "seed": self.seed, "chunk_size": self.chunk_size,
                "deterministic": self.deterministic}

    @property
    def table(self) -> pd.DataFrame:
        """One row per evaluation, in the order made: x, value, se, feasible, wall_time_s."""
        import pandas as pd
        return pd.DataFrame([vars(e) for e in self.evaluations], columns=["x", "value", "se", "feasible",
                                                                          "wall_time_s"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite numbers, e.g. an unbounded DSCR without debt, become None)."""
        return json_safe(self._dict())

    def _dict(self) -> dict[str, Any]:
        return {
            "find": self.find, "lever": f"{self.lever}[{self.project}]", "project": self.project,
            "project_name": self.project_name, "constraint": str(self.constraint), "answer": self.answer,
            "base_value": self.base_value, "change_from_base": self.answer - self.base_value,
            "metric": self.constraint.metric, "metric_value": self.metric_value, "metric_se": self.metric_se,
            "answer_se": self.answer_se, "bound": self.bound, "range": [self.lo, self.hi],
            "bracket": list(self.bracket), "n_simulations": self.n_simulations, "paths": self.paths,
            "seed": self.seed, "chunk_size": self.chunk_size, "deterministic": self.deterministic,
            "stopped_by": self.stopped_by, "wall_time_s": self.wall_time_s,
            "evaluations": [{"x": e.x, "value": e.value, "se": e.se, "feasible": e.feasible} for e in self.evaluations],
        }

    def save(self, out: str | Path, extra_writers: Iterable[Writer] = (), overwrite: bool = False) -> Path:
        """solve.json (the answer and every evaluation) and scenario_solved.json (the plan at the answer)."""
        def write(tmp: Path) -> None:
            write_json(tmp / "solve.json", {"scenario": self.source, **self.to_dict()})
            (tmp / "scenario_solved.json").write_text(self.scenario.model_dump_json(indent=2))

        return save_folder(self, out, write, extra_writers, overwrite)


#: the simulations a solve typically spends (5–10: two ends of the range, then the bracketing search), for the
#: engine choice of the whole solve (:func:`~baozhang_finance.analysis.evaluate.prepare_engine`)
SOLVE_EVALUATIONS = 10


class _Evaluator:
    """``evaluate(x)``: simulate the scenario with the lever at x on the solver's draws (cached; every new
    evaluation recorded in ``evals`` and reported to ``progress``)."""

    def __init__(self, scenario: Scenario, lever: str, project: int, settings: RunSettings, con: Constraint,
                 progress: Callable[[Evaluation], None] | None, client=None):
        self.scenario, self.lever, self.project, self.s, self.con = scenario, get_lever(lever), project, settings, con
        self.metric: Metric = get_metric(con.metric)
        self.progress, self.client = progress, client
        self.evals: list[Evaluation] = []
        self.cache: dict[float, Evaluation] = {}

    def __call__(self, x: float) -> Evaluation:
        if x in self.cache:
            return self.cache[x]
        t0 = time.perf_counter()
        sc = self.lever.apply(self.scenario, x, self.project)
        res = simulate(sc, **self.s.simulate_kwargs(),
                       **({"backend": "dask", "client": self.client} if self.client else {}))
        v, se = self.metric(res)
        e = Evaluation(float(x), float(v), float(se), self.con.holds(v), time.perf_counter() - t0)
        self.evals.append(e)
        self.cache[x] = e
        if self.progress:
            self.progress(e)
        return e


def _search_range(scenario: Scenario, lever: str, project: int, lo: float | None, hi: float | None,
                  resolution: float) -> tuple[float, float]:
    """The range searched (the lever's own unless given), both ends checked admissible before any simulation."""
    lv = get_lever(lever)
    dlo, dhi = lv.range(scenario, project)
    lo = dlo if lo is None else float(lo)
    hi = dhi if hi is None else float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
        raise ScenarioError(f"--lo/--hi: need lo < hi, got {lo:g} … {hi:g}")
    if resolution < 0:
        raise ScenarioError(f"resolution: must be >= 0, got {resolution}")
    lv.apply(scenario, lo, project)
    lv.apply(scenario, hi, project)
    return lo, hi


def _resolution_rule(con: Constraint, resolution: float) -> Callable[[Evaluation, Evaluation], bool]:
    """Stochastic runs: stop when the feasible end is within ``resolution`` SE of the target, or the two ends
    differ by no more than that — a finer answer would only locate individual paths."""
    def resolved(f: Evaluation, i: Evaluation) -> bool:
        finite = [v for v in (f.se, i.se) if math.isfinite(v)]
        se_ref = max(finite) if finite else 0.0
        near_target = math.isfinite(f.se) and f.se > 0 and abs(f.value - con.target) <= resolution * f.se
        return se_ref > 0 and (near_target or abs(i.value - f.value) <= resolution * se_ref)

    return resolved


def _bracket_search(ev: _Evaluator, feasible: Evaluation, infeasible: Evaluation, xtol: float, resolution: float,
                    max_evaluations: int) -> Bracket:
    """Shrink the bracket with :func:`~baozhang_finance.analysis.roots.regula_falsi`: on the probit scale for a
    probability (plain bisection for a one-path 0/1 indicator), on the metric's own scale otherwise."""
    con, s, prob = ev.con, ev.s, ev.metric.is_probability
    scale = _probit_scale(s.paths) if prob else (lambda v: float(v))
    target = scale(con.target)

    def excess(e: Evaluation) -> float:
        v = scale(e.value)
        return v - target if con.op in ("<=", "<") else target - v

    stochastic = not s.deterministic and s.paths > 1
    return regula_falsi(ev, feasible, infeasible, excess, xtol, max_evaluations, spent=lambda: len(ev.evals),
                        resolved=_resolution_rule(con, resolution) if stochastic else None,
                        bisect_only=prob and s.paths == 1, bisect_on_target=prob)


def solve(scenario: Scenario, find: str, constraint: str | Constraint, project: int = 0, lo: float | None = None,
          hi: float | None = None, paths: int = SOLVE_PATHS, seed: int | None = None, chunk_size: int | None = None,
          stress: str | None = None, deterministic: bool = False, xtol: float | None = None,
          resolution: float = 0.25, max_evaluations: int = 60,
          progress: Callable[[Evaluation], None] | None = None, client=None, source: str | None = None) -> SolveResult:
    """Find the smallest (``grant``, ``equity_share``, ``rent_ratio``) or largest (``max_price``, ``max_loan``)
    value of a lever of project ``project`` such that ``constraint`` holds. See the module docstring.

    The root search is sequential; with a Dask ``client`` each evaluation's chunks run on the cluster
    (``simulate(..., backend="dask")``), bit-identical to the serial evaluations."""
    if find not in FIND:
        raise ScenarioError(f"--find {find!r}: unknown (choose from {', '.join(FIND)})")
    lever, direction = FIND[find]
    con = parse_constraint(constraint) if isinstance(constraint, str) else constraint
    get_metric(con.metric)
    base_value = get_lever(lever).value(scenario, project)
    lo, hi = _search_range(scenario, lever, project, lo, hi, resolution)
    s = RunSettings(paths=paths, seed=seed, chunk_size=chunk_size, stress=stress,
                    deterministic=deterministic).resolved(scenario)
    xtol = (1e-9 if deterministic else 1e-4) * (hi - lo) if xtol is None else xtol
    t_start = time.perf_counter()
    prepare_engine(scenario, s, SOLVE_EVALUATIONS)
    ev = _Evaluator(scenario, lever, project, s, con, progress, client)
    # the favourable end of a "min" search is hi (more grant / equity / rent), of a "max" search lo
    want, other = (lo, hi) if direction == "min" else (hi, lo)
    first = ev(want)
    if first.feasible:
        return _result(find, ev, first, None, base_value, lo, hi, "lo" if direction == "min" else "hi",
                       "the constraint holds at the end of the range", t_start)
    fav = ev(other)
    if not fav.feasible:
        end = "upper" if direction == "min" else "lower"
        raise InfeasibleTarget(
            f"{find} of project {project} ({scenario.projects[project].name}): no value in [{lo:.6g}, {hi:.6g}] "
            f"meets {con} — even at the {end} end ({other:.6g}) {con.metric} = {fav.value:.4g} ± {fav.se:.2g} "
            f"({s.paths} paths, seed {s.seed}); widen --lo/--hi or change the plan")
    b = _bracket_search(ev, fav, first, xtol, resolution, max_evaluations)
    return _result(find, ev, b.feasible, b.infeasible, base_value, lo, hi, None, b.stopped_by, t_start)


def _probit_scale(n: int) -> Callable[[float], float]:
    """Probit of a probability estimated from ``n`` paths, clipped to [1/(2n), 1 − 1/(2n)] so 0 and 1 stay finite.

    A threshold probability is close to linear in the lever on this scale (a normal-like tail), so the secant
    steps land near the root instead of creeping along the flat 0 or 1 plateaus of the raw probability.
    """
    from scipy.special import ndtri

    eps = 0.5 / max(n, 1)
    return lambda p: float(ndtri(min(max(float(p), eps), 1.0 - eps)))


def _answer_se(evals: list[Evaluation], answer: Evaluation, con: Constraint) -> float | None:
    """Approximate MC uncertainty of the answer: SE of the metric ÷ |slope| of the metric against the lever,
    the slope taken across the closest evaluations on each side that differ from the answer's metric by at
    least 2 SE (so the slope is not a single path's step)."""
    se = answer.se
    if not se or se <= 0:
        return 0.0 if se == 0 else None
    cands = [e for e in evals if abs(e.value - answer.value) >= 2 * se and e.x != answer.x]
    if not cands:
        return None
    near = min(cands, key=lambda e: abs(e.x - answer.x))
    slope = (near.value - answer.value) / (near.x - answer.x)
    return float(se / abs(slope)) if slope != 0 else None


def _result(find: str, ev: _Evaluator, f_end: Evaluation, i_end: Evaluation | None, base_value: float, lo: float,
            hi: float, bound: str | None, stopped: str, t_start: float) -> SolveResult:
    sc, s, k = ev.scenario, ev.s, ev.project
    return SolveResult(
        find=find, lever=ev.lever.name, project=k, project_name=sc.projects[k].name, constraint=ev.con,
        answer=f_end.x, base_value=base_value, metric_value=f_end.value, metric_se=f_end.se,
        answer_se=_answer_se(ev.evals, f_end, ev.con), bound=bound, lo=lo, hi=hi,
        bracket=(f_end.x, i_end.x if i_end is not None else f_end.x), evaluations=list(ev.evals), paths=s.paths,
        seed=s.seed, chunk_size=s.chunk_size, deterministic=s.deterministic, stopped_by=stopped,
        wall_time_s=time.perf_counter() - t_start, scenario=ev.lever.apply(sc, f_end.x, k))
