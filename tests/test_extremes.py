"""Extreme but valid inputs: the demo scenario pushed to the edges of what a user may legitimately model.

0 % occupancy, a −90 % price fall, 20 % interest rates, one unit, 50 projects, a 1-year and a 50-year horizon,
correlations of 0.99. Each must validate, and then run with finite results: the deterministic path conserves
cash every month (the engine's ``conservation`` series: inflows − outflows − change in cash and reserves), and a
small Monte Carlo run gives finite numbers and probabilities in [0, 1]. Documented in docs/reliability.md.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from baozhang_finance import simulate
from baozhang_finance.model.scenario import DRIVERS, scenario_from_dict, total_uses_yuan
from conftest import recorded

DEMO = tomllib.loads((Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml").read_text(encoding="utf-8"))
MONEY = ("equity_yuan", "amount_yuan", "upfront_reserve_yuan", "land_cost_yuan")


def _scale_money(project: dict, factor: float) -> None:
    """Scale every absolute amount of a project (its sources and lump-sum uses), keeping sources = uses."""
    stack = [project]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if k in MONEY and isinstance(v, (int, float)):
                    node[k] = v * factor
                else:
                    stack.append(v)
        elif isinstance(node, list):
            stack.extend(node)


def zero_occupancy(d):
    d["market"]["stresses"] = [{"name": "empty", "occupancy_shift": -1.0, "occupancy_start_month": 0}]
    return d, "empty"


def price_minus_90(d):
    d["market"]["stresses"] = [{"name": "crash", "price_change": -0.9, "price_start_month": 0, "price_months": 12,
                                "rent_change": -0.9}]
    return d, "crash"


def rates_20(d):
    d["market"].update(lpr_initial=0.2, lpr_mean=0.2, lpr_floor=0.2)
    d["projects"][1]["financing"]["loans"][0]["fixed_rate"] = 0.2
    d["projects"][0]["financing"]["loans"][0]["relending"]["rate"] = 0.2
    return d, None


def one_unit(d):
    for p in d["projects"]:
        _scale_money(p, 1 / p["units"])
        p["units"] = 1
    return d, None


def fifty_projects(d):
    base = d["projects"]
    d["projects"] = []
    for i in range(50):
        p = copy.deepcopy(base[i % 2])
        p["name"] = f"{p['name']} #{i}"
        d["projects"].append(p)
    return d, None


def horizon_1(d):
    d["programme"]["horizon_years"] = 1
    for p in d["projects"]:
        for loan in p["financing"]["loans"]:
            loan["term_years"] = 1
            loan["grace_months"] = min(loan.get("grace_months", 0), 6)
        for bond in p["financing"].get("bonds", []):
            bond["term_years"] = 1
    d["market"]["stresses"] = []
    return d, None


def horizon_50(d):
    d["programme"]["horizon_years"] = 50
    return d, "price_crash"


def correlation_99(d):
    n = len(DRIVERS)
    d["market"]["correlation"] = [[1.0 if i == j else 0.99 for j in range(n)] for i in range(n)]
    return d, None


CASES = [zero_occupancy, price_minus_90, rates_20, one_unit, fifty_projects, horizon_1, horizon_50, correlation_99]
PROBABILITY = re.compile(r"^(p_|pd_)|^share_")


def _walk(node, where=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{where}.{k}" if where else k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{where}[{i}]")
    else:
        yield where, node


@pytest.mark.parametrize("make", CASES, ids=[c.__name__ for c in CASES])
def test_extreme_but_valid_inputs_run_finite_and_conserve_cash(make):
    data, stress = make(copy.deepcopy(DEMO))
    sc = scenario_from_dict(data, source=make.__name__)
    _, monthly, _ = recorded(sc, stress=stress)
    scale = max(total_uses_yuan(p) for p in sc.projects)
    for name, series in monthly.items():
        assert np.all(np.isfinite(series)), f"{make.__name__}: monthly {name} not finite"
    assert np.max(np.abs(monthly["conservation"])) <= 1e-9 * scale + 1e-6, "cash not conserved"

    result = simulate(sc, paths=64, chunk_size=64, stress=stress)
    for where, value in _walk(result.summary):
        if isinstance(value, float):
            assert math.isfinite(value), f"{make.__name__}: summary {where} = {value}"
            leaf = re.sub(r"\[\d+\]$", "", where).rsplit(".", 1)[-1]
            if PROBABILITY.search(leaf):
                assert 0.0 <= value <= 1.0, f"{make.__name__}: {where} = {value} is not a probability"
