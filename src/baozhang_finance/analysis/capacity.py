"""Debt capacity (最大可贷额度) of one project: the largest bank loan that keeps the bank's DSCR criterion, found on
common random numbers. It re-simulates, so it is an analysis, not a measure (it moved here from measures/bank.py).

**Why both this and** ``solve --find max_loan``: they answer different questions. ``debt_capacity`` is the
*bank's* sizing of one project **ring-fenced** — simulated alone, *all* its loans scaled together (mix kept),
criterion P(min bank DSCR < threshold) ≤ α or a median minimum DSCR, SOE equity floored at a share of the
investment. ``solve --find max_loan`` is the *programme's* question — every project simulated together, only the
balancing (first) loan of one project moves through the ``loan`` lever, against any metric constraint. They share
the bracketing machinery (:mod:`baozhang_finance.analysis.roots`, plain bisection here: the breach indicator of a
path is a 0/1 function of the loan) and the run settings (:class:`~baozhang_finance.run.settings.RunSettings`).
For a one-project programme with one loan, no floor and constraint ``p_dscr_below_1 <= α`` they agree to their
tolerances.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from baozhang_finance.analysis.evaluate import prepare_engine
from baozhang_finance.analysis.output import Writer, json_safe, save_folder, write_json
from baozhang_finance.analysis.roots import bisect
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.measures.bank import dscr_test_years, min_bank_dscr
from baozhang_finance.model.scenario import Scenario, ScenarioError, grant_amount_yuan, scenario_from_dict, total_uses_yuan
from baozhang_finance.run.settings import CAPACITY_PATHS, RunSettings
from baozhang_finance.run.simulate import simulate


@dataclass(frozen=True)
class DebtCapacity:
    """Largest bank loan of one project meeting a DSCR criterion, on common random numbers."""

    project: str
    criterion: str  # "p_breach" (P(min DSCR < threshold) ≤ alpha) or "p50" (P50 min DSCR ≥ p50_target)
    loan_yuan: float  # the debt capacity
    equity_yuan: float  # SOE equity that balances sources = uses at that loan
    current_loan_yuan: float
    max_loan_yuan: float  # the loan at the equity floor (upper end of the search)
    p_breach: float | None  # P(min bank DSCR < threshold) at the capacity
    dscr_min_p50: float | None  # median minimum bank DSCR at the capacity
    binding: str  # "criterion", "equity_floor" (every loan up to the floor passes) or "none_feasible"
    test_years: tuple[int, int]  # 1-based first and last year of the DSCR test
    iterations: int
    paths: int
    seed: int
    chunk_size: int | None = field(default=None, compare=False)
    source: str | None = field(default=None, compare=False)

    @property
    def settings(self) -> dict[str, Any]:
        return {"paths": self.paths, "seed": self.seed, "chunk_size": self.chunk_size}

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("source")
        return d

    def save(self, out: str | Path, extra_writers: Iterable[Writer] = (), overwrite: bool = False) -> Path:
        """capacity.json (the capacity, its criterion and the run settings)."""
        return save_folder(self, out, lambda tmp: write_json(tmp / "capacity.json",
                                                             {"scenario": self.source, **json_safe(self.to_dict())}),
                           extra_writers, overwrite)


def _other_sources(proj) -> float:
    f = proj.financing
    return sum(b.amount_yuan for b in f.bonds) + sum(grant_amount_yuan(g, proj) for g in f.grants if g.capital)


def _project_scenario(scenario: Scenario, project: int, loan_total: float) -> Scenario:
    """The project alone, its loans scaled to ``loan_total`` (mix kept) and equity = uses − other sources − loans."""
    data = scenario.model_dump()
    p = data["projects"][project]
    amounts = np.array([ln["amount_yuan"] for ln in p["financing"]["loans"]], dtype=float)
    for ln, a in zip(p["financing"]["loans"], amounts / amounts.sum() * loan_total):
        ln["amount_yuan"] = float(a)
    proj = scenario.projects[project]
    p["financing"]["equity_yuan"] = float(total_uses_yuan(proj) - _other_sources(proj) - loan_total)
    data["projects"] = [p]
    return scenario_from_dict(data, source=f"debt_capacity(projects[{project}])")


def _check(scenario: Scenario, project: int, alpha: float, min_equity_share: float, paths: int) -> None:
    if not 0 <= project < len(scenario.projects):
        raise ScenarioError(f"debt_capacity: project must be 0..{len(scenario.projects) - 1}, got {project}")
    proj = scenario.projects[project]
    if not proj.financing.loans:
        raise ScenarioError(f"projects[{project}].financing.loans: project {proj.name!r} has no bank loan to size")
    if not 0 < alpha < 1:
        raise ScenarioError(f"debt_capacity: alpha must be in (0, 1), got {alpha}")
    if not 0 <= min_equity_share < 1:
        raise ScenarioError(f"debt_capacity: min_equity_share must be in [0, 1), got {min_equity_share}")
    if paths < 10:
        raise ScenarioError(f"debt_capacity: paths must be >= 10, got {paths}")


class _LoanTest:
    """``test(loan)`` → (meets the criterion, P(breach), median min bank DSCR), cached per loan amount."""

    def __init__(self, scenario, project, settings: RunSettings, alpha, dscr_threshold, p50_target):
        self.scenario, self.project, self.s = scenario, project, settings
        self.alpha, self.threshold, self.p50_target = alpha, dscr_threshold, p50_target
        self.cache: dict[float, tuple[bool, float, float | None]] = {}

    def __call__(self, loan: float) -> tuple[bool, float, float | None]:
        if loan not in self.cache:
            res = simulate(_project_scenario(self.scenario, self.project, loan), paths=self.s.paths, seed=self.s.seed,
                           chunk_size=self.s.chunk_size, stress=self.s.stress)
            dmin = min_bank_dscr(res)
            breach = float(np.mean(np.where(np.isnan(dmin), False, dmin < self.threshold)))
            ok_vals = dmin[~np.isnan(dmin)]
            p50 = float(np.median(ok_vals)) if ok_vals.size else None
            ok = (p50 is None or p50 >= self.p50_target) if self.p50_target is not None else breach <= self.alpha
            self.cache[loan] = (ok, breach, p50)
        return self.cache[loan]


def debt_capacity(scenario: Scenario, project: int = 0, alpha: float = 0.1, paths: int = CAPACITY_PATHS,
                  seed: int | None = None, dscr_threshold: float = 1.0, p50_target: float | None = None,
                  min_equity_share: float = 0.0, tol_yuan: float | None = None, chunk_size: int | None = None,
                  stress: str | None = None, source: str | None = None) -> DebtCapacity:
    """Largest bank loan of ``projects[project]`` that keeps P(min bank DSCR < ``dscr_threshold``) ≤ ``alpha``
    (or, if ``p50_target`` is given, keeps the median minimum bank DSCR ≥ ``p50_target``).

    The rest of the plan is held fixed: bonds and capital grants stay, the loans are scaled together (their mix
    kept), and the difference goes to SOE equity so that sources = uses; the equity may not fall below
    ``min_equity_share`` × total investment. The project is simulated alone (ring-fenced: its CFADS and bank
    service do not depend on the other projects) with the same ``seed`` at every trial loan — common random
    numbers — so the breach indicator of each path is monotone in the loan and bisection on the loan amount
    converges to the capacity of that sample. DSCR is the bank DSCR over the operating period
    (:func:`~baozhang_finance.measures.bank.dscr_test_years`). Stops when the bracket is narrower than
    ``tol_yuan`` (default 0.1 % of the project's investment, at least 10,000 yuan); the capacity returned is the
    feasible end of the bracket.
    """
    _check(scenario, project, alpha, min_equity_share, paths)
    proj = scenario.projects[project]
    s = RunSettings(paths=paths, seed=seed, chunk_size=chunk_size, stress=stress).resolved(scenario)
    uses, other = total_uses_yuan(proj), _other_sources(proj)
    hi = uses - other - min_equity_share * uses
    current = float(sum(ln.amount_yuan for ln in proj.financing.loans))
    tol = float(tol_yuan) if tol_yuan is not None else max(1e4, 1e-3 * uses)
    criterion = "p50" if p50_target is not None else "p_breach"
    base = _project_scenario(scenario, project, current)
    window = dscr_test_years(base, compile_plan(base))  # does not depend on the loan amount
    test = _LoanTest(scenario, project, s, alpha, dscr_threshold, p50_target)
    common = dict(project=proj.name, criterion=criterion, current_loan_yuan=current, max_loan_yuan=max(hi, 0.0),
                  test_years=(window[0] + 1, window[1]), paths=int(paths), seed=s.seed, chunk_size=s.chunk_size,
                  source=source)
    if hi <= 0:
        return DebtCapacity(loan_yuan=0.0, equity_yuan=float(uses - other), p_breach=None, dscr_min_p50=None,
                            binding="none_feasible", iterations=0, **common)
    prepare_engine(base, s, 2 + math.ceil(math.log2(max(hi / tol, 1.0))))  # the end, then bisection to tol
    ok_hi, breach, p50 = test(hi)
    if ok_hi:
        lo, binding, n = hi, "equity_floor", 0
    else:
        lo, _, n = bisect(lambda loan: test(loan)[0], 0.0, hi, tol)
        breach, p50, binding = (None, None, "none_feasible") if lo == 0.0 else (*test(lo)[1:], "criterion")
    common["max_loan_yuan"] = float(hi)
    return DebtCapacity(loan_yuan=float(lo), equity_yuan=float(uses - other - lo), p_breach=breach, dscr_min_p50=p50,
                        binding=binding, iterations=1 + n, **common)
