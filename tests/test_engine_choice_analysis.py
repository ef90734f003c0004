"""An analysis chooses its engine once, for all its evaluations (decision 77): a long one compiles the kernels up
front and every evaluation then runs compiled; a short one runs the numpy stages while nothing is compiled."""

from __future__ import annotations

import numpy as np
import pytest

from baozhang_finance.analysis import evaluate
from baozhang_finance.analysis.sweep import sweep
from baozhang_finance.engine import kernels, loop
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.model.scenario import load_scenario
from baozhang_finance.run.settings import RunSettings

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_scenario():
    return load_scenario(ROOT / "scenarios" / "demo.toml")


def test_the_total_of_an_analysis_decides(demo_scenario, monkeypatch):
    monkeypatch.setattr(kernels, "cached", lambda: False)  # a machine that has compiled nothing yet
    monkeypatch.delenv("BAOZHANG_ENGINE", raising=False)
    s = RunSettings(paths=1000)
    below = loop.COMPILE_AT_PATHS // 1000 - 1
    assert evaluate.prepare_engine(demo_scenario, s, below) == "numpy"
    assert evaluate.prepare_engine(demo_scenario, s, below + 1) == "compiled"


def test_after_preparing_each_small_run_runs_compiled(demo_scenario, monkeypatch):
    monkeypatch.delenv("BAOZHANG_ENGINE", raising=False)
    plan = compile_plan(demo_scenario)
    assert loop.prepare_engine(plan, loop.COMPILE_AT_PATHS) == "compiled"
    assert kernels.cached()  # compiled in this process (or on disk): a small run now takes the compiled stages
    assert loop.choose_engine(plan, paths=10) == "compiled"


def test_an_analysis_gives_the_same_numbers_whichever_engine_it_chose(demo_scenario, monkeypatch):
    kw = dict(field="market.rent_vol_annual", values=[0.05, 0.1], paths=200, seed=7)
    monkeypatch.setenv("BAOZHANG_ENGINE", "compiled")  # each evaluation on the compiled stages …
    assert loop.choose_engine(compile_plan(demo_scenario), paths=200) == "compiled"
    compiled = sweep(demo_scenario, **kw).table
    monkeypatch.setenv("BAOZHANG_ENGINE", "numpy")  # … and on the numpy stages: the same table, bit for bit
    assert loop.choose_engine(compile_plan(demo_scenario), paths=200) == "numpy"
    numpy_ = sweep(demo_scenario, **kw).table
    for col in compiled.columns:
        if col != "field":
            np.testing.assert_array_equal(compiled[col].to_numpy(), numpy_[col].to_numpy())
