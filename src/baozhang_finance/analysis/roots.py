"""Bracketing root finders for a monotone feasibility boundary: where does a constraint stop holding as one
number (a lever) moves?

Both finders keep a bracket [feasible end, infeasible end] and return its feasible end, so the answer always
meets the constraint on the evaluations made. They know nothing about scenarios: ``evaluate(x)`` returns a point
with ``.x`` and ``.feasible`` (and whatever else the caller needs).

* :func:`bisect` — plain bisection to a width ``xtol`` (a feasibility test that is a 0/1 function);
* :func:`regula_falsi` — a safeguarded Illinois / Anderson–Björck regula falsi on a signed excess (≤ 0 where
  feasible), falling back to bisection whenever three steps did not halve the bracket, never stepping closer than
  ``xtol``/2 to an end (as in Brent's method), with a caller's extra stopping rule (e.g. Monte Carlo resolution).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

_TINY = np.finfo(float).tiny


def bisect(feasible: Callable[[float], bool], feasible_x: float, infeasible_x: float, xtol: float
           ) -> tuple[float, float, int]:
    """Halve [feasible_x, infeasible_x] until it is at most ``xtol`` wide. Returns (feasible end, infeasible end,
    number of tests)."""
    n = 0
    while abs(infeasible_x - feasible_x) > xtol:
        mid = 0.5 * (feasible_x + infeasible_x)
        n += 1
        if feasible(mid):
            feasible_x = mid
        else:
            infeasible_x = mid
    return feasible_x, infeasible_x, n


@dataclass
class Bracket:
    """Final bracket of :func:`regula_falsi` and why it stopped ("xtol", "resolution", "metric resolution",
    "max_evaluations")."""

    feasible: Any
    infeasible: Any
    stopped_by: str


def _next_x(f, i, ef: float, ei: float, xtol: float, bisect_now: bool) -> tuple[float, bool]:
    """Secant (regula falsi) point of the bracket, or its midpoint; True when it deliberately steps across an end
    that sits exactly on the target."""
    a, b = min(f.x, i.x), max(f.x, i.x)
    x = f.x - ef * (i.x - f.x) / (ei - ef)
    if bisect_now or not math.isfinite(x):
        return 0.5 * (a + b), False
    return min(max(x, a + 0.5 * xtol), b - 0.5 * xtol), ef == 0.0


def regula_falsi(evaluate: Callable[[float], Any], feasible: Any, infeasible: Any, excess: Callable[[Any], float],
                 xtol: float, max_evaluations: int, spent: Callable[[], int],
                 resolved: Callable[[Any, Any], bool] | None = None, bisect_only: bool = False,
                 bisect_on_target: bool = False) -> Bracket:
    """Shrink [feasible, infeasible] (two evaluated points) towards the boundary.

    ``excess(point)``: signed distance past the target, ≤ 0 where feasible (e.g. on a probit scale);
    ``spent()``: evaluations made so far (the loop stops at ``max_evaluations``); ``resolved(f, i)``: True when
    the caller can tell no finer answer (stops with "resolution"); ``bisect_only``: no secant steps (a 0/1
    indicator); ``bisect_on_target``: bisect while the feasible end sits exactly on the target (a plateau of a
    step function, where the secant says nothing).
    """
    f, i = feasible, infeasible
    ef, ei = min(excess(f), 0.0), max(excess(i), _TINY)
    last_side = None
    widths = [abs(i.x - f.x)]
    force_bisect = False
    while spent() < max_evaluations:
        if abs(i.x - f.x) <= xtol:
            return Bracket(f, i, "xtol")
        if resolved is not None and resolved(f, i):
            return Bracket(f, i, "resolution")
        plateau = bisect_on_target and ef == 0.0
        x, across = _next_x(f, i, ef, ei, xtol, force_bisect or bisect_only or plateau)
        e = evaluate(x)
        ex = excess(e)
        if across and e.feasible and ex == 0.0:
            # still exactly on target just across: the boundary is below what the function can tell apart
            return Bracket(e, i, "metric resolution")
        if e.feasible:
            ex = min(ex, 0.0)
            if last_side == "f":  # Anderson–Björck: the retained infeasible end's value is scaled down
                m = 1.0 - ex / ef if ef < 0 else 0.5
                ei *= m if m > 0 else 0.5
            f, ef, last_side = e, ex, "f"
        else:
            ex = max(ex, _TINY)
            if last_side == "i":
                m = 1.0 - ex / ei
                ef *= m if m > 0 else 0.5
            i, ei, last_side = e, ex, "i"
        widths.append(abs(i.x - f.x))
        force_bisect = len(widths) >= 4 and widths[-1] > 0.5 * widths[-4]
    return Bracket(f, i, "max_evaluations")

