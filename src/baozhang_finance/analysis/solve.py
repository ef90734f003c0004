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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from baozhang_finance.model.fields import apply_lever, lever_range, lever_value
from baozhang_finance.model.scenario import Scenario, ScenarioError
from baozhang_finance.analysis.sensitivity import METRICS, RunSettings, get_metric

#: ``--find`` name → (lever, direction): "min" finds the smallest feasible value, "max" the largest
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
    """The answer of :func:`solve` and how it was found."""

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
    scenario: Scenario = field(repr=False)

    @property
    def n_simulations(self) -> int:
        return len(self.evaluations)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite numbers, e.g. an unbounded DSCR without debt, become None)."""
        return _json_safe(self._dict())

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


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def solve(scenario: Scenario, find: str, constraint: str | Constraint, project: int = 0, lo: float | None = None,
          hi: float | None = None, paths: int = 2000, seed: int | None = None, chunk_size: int | None = None,
          stress: str | None = None, deterministic: bool = False, xtol: float | None = None,
          resolution: float = 0.25, max_evaluations: int = 60,
          progress: Callable[[Evaluation], None] | None = None, client=None) -> SolveResult:
    """Find the smallest (``grant``, ``equity_share``, ``rent_ratio``) or largest (``max_price``, ``max_loan``)
    value of a lever of project ``project`` such that ``constraint`` holds. See the module docstring.

    The root search is sequential; with a Dask ``client`` each evaluation's chunks run on the cluster
    (``simulate(..., backend="dask")``), bit-identical to the serial evaluations."""
    from baozhang_finance.run.simulate import simulate

    if find not in FIND:
        raise ScenarioError(f"--find {find!r}: unknown (choose from {', '.join(FIND)})")
    lever, direction = FIND[find]
    con = parse_constraint(constraint) if isinstance(constraint, str) else constraint
    metric = get_metric(con.metric)
    base_value = lever_value(scenario, lever, project)
    dlo, dhi = lever_range(scenario, lever, project)
    lo = dlo if lo is None else float(lo)
    hi = dhi if hi is None else float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
        raise ScenarioError(f"--lo/--hi: need lo < hi, got {lo:g} … {hi:g}")
    if resolution < 0:
        raise ScenarioError(f"resolution: must be >= 0, got {resolution}")
    # both ends must be admissible before any simulation
    apply_lever(scenario, lever, lo, project)
    apply_lever(scenario, lever, hi, project)
    s = RunSettings(paths=paths, seed=seed, chunk_size=chunk_size, stress=stress,
                    deterministic=deterministic).resolved(scenario)
    if s.paths < 1:
        raise ScenarioError(f"--paths: must be >= 1, got {paths}")
    if xtol is None:
        xtol = (1e-9 if deterministic else 1e-4) * (hi - lo)
    t_start = time.perf_counter()
    evals: list[Evaluation] = []
    cache: dict[float, Evaluation] = {}

    def evaluate(x: float) -> Evaluation:
        if x in cache:
            return cache[x]
        t0 = time.perf_counter()
        sc = apply_lever(scenario, lever, x, project)
        res = simulate(sc, paths=s.paths, seed=s.seed, chunk_size=s.chunk_size, stress=s.stress,
                       deterministic=s.deterministic, **({"backend": "dask", "client": client} if client else {}))
        v, se = metric(res)
        e = Evaluation(float(x), float(v), float(se), con.holds(v), time.perf_counter() - t0)
        evals.append(e)
        cache[x] = e
        if progress:
            progress(e)
        return e

    # the favourable end of a "min" search is hi (more grant / equity / rent), of a "max" search lo
    want, other = (lo, hi) if direction == "min" else (hi, lo)
    first = evaluate(want)
    if first.feasible:
        return _result(find, lever, project, scenario, con, first, None, base_value, lo, hi, evals, s,
                       "lo" if direction == "min" else "hi", "the constraint holds at the end of the range",
                       t_start)
    fav = evaluate(other)
    if not fav.feasible:
        end = "upper" if direction == "min" else "lower"
        raise InfeasibleTarget(
            f"{find} of project {project} ({scenario.projects[project].name}): no value in [{lo:.6g}, {hi:.6g}] "
            f"meets {con} — even at the {end} end ({other:.6g}) {con.metric} = {fav.value:.4g} ± {fav.se:.2g} "
            f"({s.paths} paths, seed {s.seed}); widen --lo/--hi or change the plan")

    f_end, i_end = fav, first  # feasible and infeasible ends of the bracket
    # a probability from one path is a 0/1 indicator: nothing to interpolate, plain bisection
    indicator = metric.is_probability and s.paths == 1
    scale = _probit_scale(s.paths) if metric.is_probability else (lambda v: float(v))
    target_scaled = scale(con.target)

    def excess(e: Evaluation) -> float:
        """Signed distance past the target (≤ 0 where it holds), on the probit scale for probabilities."""
        v = scale(e.value)
        return v - target_scaled if con.op in ("<=", "<") else target_scaled - v

    tiny = np.finfo(float).tiny
    ef, ei = min(excess(f_end), 0.0), max(excess(i_end), tiny)
    last_side = None
    widths = [abs(i_end.x - f_end.x)]
    force_bisect = False
    stopped = "max_evaluations"
    while len(evals) < max_evaluations:
        width = abs(i_end.x - f_end.x)
        if width <= xtol:
            stopped = "xtol"
            break
        if not deterministic and s.paths > 1:
            finite = [v for v in (f_end.se, i_end.se) if math.isfinite(v)]
            se_ref = max(finite) if finite else 0.0
            near_target = (math.isfinite(f_end.se) and f_end.se > 0
                           and abs(f_end.value - con.target) <= resolution * f_end.se)
            if se_ref > 0 and (near_target or abs(i_end.value - f_end.value) <= resolution * se_ref):
                stopped = "resolution"
                break
        a, b = min(f_end.x, i_end.x), max(f_end.x, i_end.x)
        x = f_end.x - ef * (i_end.x - f_end.x) / (ei - ef)
        # a probability sitting exactly on its target is on a plateau of the step function: the secant says
        # nothing there, bisect (a continuous metric exactly on target is at the root: step across it)
        plateau = metric.is_probability and ef == 0.0
        across = False
        if force_bisect or indicator or plateau or not math.isfinite(x):
            x = 0.5 * (a + b)
        else:
            # as in Brent's method, never step closer than xtol/2 to an end: a secant point that has (nearly)
            # hit the root from one side — or sits on it (excess 0) — is followed by one just across it
            x = min(max(x, a + 0.5 * xtol), b - 0.5 * xtol)
            across = ef == 0.0
        e = evaluate(x)
        ex = excess(e)
        if across and e.feasible and ex == 0.0:
            # still exactly on target just across: the metric is flat at the target at its own numerical
            # resolution (float32 ledgers) — any closer answer is below what the metric can tell apart
            f_end, ef = e, 0.0
            stopped = "metric resolution"
            break
        if e.feasible:
            ex = min(ex, 0.0)
            if last_side == "f":  # Anderson–Björck: the retained infeasible end's value is scaled down
                m = 1.0 - ex / ef if ef < 0 else 0.5
                ei *= m if m > 0 else 0.5
            f_end, ef = e, ex
            last_side = "f"
        else:
            ex = max(ex, tiny)
            if last_side == "i":
                m = 1.0 - ex / ei
                ef *= m if m > 0 else 0.5
            i_end, ei = e, ex
            last_side = "i"
        widths.append(abs(i_end.x - f_end.x))
        # safeguard: if three steps did not halve the bracket, bisect next
        force_bisect = len(widths) >= 4 and widths[-1] > 0.5 * widths[-4]
    return _result(find, lever, project, scenario, con, f_end, i_end, base_value, lo, hi, evals, s, None, stopped,
                   t_start)


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


def _result(find, lever, project, scenario, con, f_end: Evaluation, i_end: Evaluation | None, base_value, lo, hi,
            evals, s: RunSettings, bound, stopped, t_start) -> SolveResult:
    sc = apply_lever(scenario, lever, f_end.x, project)
    return SolveResult(
        find=find, lever=lever, project=project, project_name=scenario.projects[project].name, constraint=con,
        answer=f_end.x, base_value=base_value, metric_value=f_end.value, metric_se=f_end.se,
        answer_se=_answer_se(evals, f_end, con), bound=bound, lo=lo, hi=hi,
        bracket=(f_end.x, i_end.x if i_end is not None else f_end.x), evaluations=list(evals), paths=s.paths,
        seed=s.seed, chunk_size=s.chunk_size, deterministic=s.deterministic, stopped_by=stopped,
        wall_time_s=time.perf_counter() - t_start, scenario=sc)
