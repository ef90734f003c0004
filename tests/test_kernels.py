"""The compiled twins of the month's stages (engine/kernels) against the numpy stages, the readable reference: the
same bits — every yearly ledger, every end-of-run scalar (NaN positions and dtypes too), the monthly record — on
every bundled scenario under both conventions, deterministic and stochastic (mc, antithetic, rqmc), on expected
paths, and on the liaoning cities; a plan the twins do not cover runs on numpy. The golden and oracle suites run on
both engines with ``BAOZHANG_ENGINE_CHECK=1`` (tests/conftest.py; docs/decisions.md 56)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import engines_agree, scenario
from test_golden_rental import PROJECT

from baozhang_finance.engine import kernels
from baozhang_finance.engine.kernels import twins
from baozhang_finance.engine.loop import choose_engine, run_paths
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.engine.state import constants
from baozhang_finance.model.portfolio import is_portfolio_file
from baozhang_finance.model.scenario import load_scenario
from baozhang_finance.model.support import with_conventions
from baozhang_finance.run.chunks import chunk_generator

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")
ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted(p.stem for p in (ROOT / "scenarios").glob("*.toml") if not is_portfolio_file(p))
ALL_CITIES = sorted(p.stem for p in (ROOT / "scenarios" / "liaoning").glob("*.toml"))
CITIES = ALL_CITIES[:3]


def _scenario(path: Path, conventions: str):
    return with_conventions(load_scenario(path), conventions)


def _with_sampling(sc, sampling: str):
    return sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"sampling": sampling,
                                                                                "rqmc_points": 128})})


@pytest.mark.parametrize("conventions", ["default", "legacy"])
@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_scenario_same_bits(name, conventions):
    sc = _scenario(ROOT / "scenarios" / f"{name}.toml", conventions)
    det = compile_plan(sc, deterministic=True)
    assert choose_engine(det, "auto") == "compiled"
    engines_agree(run_paths, det, 1, None, record=True)  # the monthly record and cash conservation too
    engines_agree(run_paths, compile_plan(sc), 300, chunk_generator(20251124, 3))


@pytest.mark.parametrize("sampling", ["antithetic", "rqmc"])
@pytest.mark.parametrize("name", ["demo", "loudi", "weihai"])
def test_other_samplings_same_bits(name, sampling):
    sc = _with_sampling(_scenario(ROOT / "scenarios" / f"{name}.toml", "default"), sampling)
    engines_agree(run_paths, compile_plan(sc), 256, chunk_generator(5, 1))


@pytest.mark.parametrize("name", CITIES)
def test_liaoning_cities_same_bits(name):
    engines_agree(run_paths, compile_plan(load_scenario(ROOT / "scenarios" / "liaoning" / f"{name}.toml")), 200,
                  chunk_generator(9, 0))


#: the numpy stages a compiled run of a Liaoning plan — government-owned blocks (公租房), a sinking fund — must not
#: call (decision 69)
NO_NUMPY = ("soe_support", "_hold_gov_rows", "_restore_gov_rows", "_left_share", "government", "metrics",
            "lens_metrics", "waterfall", "dsra_refill", "cross_support", "lockup")


def _no_numpy(monkeypatch) -> None:
    """Make the numpy stages of :data:`NO_NUMPY` and the sinking fund's month raise: a compiled run that falls back
    to one fails."""
    def failing(name):
        def fail(*a, **k):
            raise AssertionError(f"the numpy {name} ran in a compiled run")
        return fail

    for name in NO_NUMPY:
        monkeypatch.setattr(twins.stages, name, failing(name))
    for name in ("pay", "build"):
        monkeypatch.setattr(twins.stages.sinking_fund, name, failing(f"sinking_fund.{name}"))


@pytest.mark.parametrize("conventions", ["default", "legacy"])
@pytest.mark.parametrize("name", ALL_CITIES)
def test_every_liaoning_city_same_bits(name, conventions, monkeypatch):
    """Every city of the province study (government-owned 公租房 blocks, a sinking fund, the cures after SOE support)
    under both conventions: 300 stochastic paths (the bulk ledgers a run keeps), the deterministic plan with its
    monthly record, expected paths; then a compiled run with the numpy SOE-support, government and metrics stages
    made to raise, and the waterfall's and the sinking fund's (their twins cover both)."""
    sc = _scenario(ROOT / "scenarios" / "liaoning" / f"{name}.toml", conventions)
    plan = compile_plan(sc)
    assert constants(plan).gov_rows is not None and choose_engine(plan, "auto") == "compiled"
    engines_agree(run_paths, plan, 300, chunk_generator(20251202, 4), yearly="bulk")
    engines_agree(run_paths, compile_plan(sc, deterministic=True), 1, None, record=True)
    engines_agree(run_paths, plan, 2, None)
    _no_numpy(monkeypatch)
    run_paths(plan, 40, chunk_generator(1, 0), yearly="bulk", engine="compiled")


@pytest.mark.parametrize("conventions", ["default", "legacy"])
def test_liaoning_2025_same_bits(conventions, monkeypatch):
    """The province's 2025 plan (a sinking fund, no government blocks) under both conventions: 300 stochastic paths
    (bulk and full ledgers), the deterministic plan with its monthly record, expected paths; no numpy waterfall."""
    sc = _scenario(ROOT / "scenarios" / "liaoning_2025.toml", conventions)
    plan = compile_plan(sc)
    engines_agree(run_paths, plan, 300, chunk_generator(20251202, 5), yearly="bulk")
    engines_agree(run_paths, plan, 300, chunk_generator(20251202, 6))
    engines_agree(run_paths, compile_plan(sc, deterministic=True), 1, None, record=True)
    engines_agree(run_paths, plan, 2, None)
    _no_numpy(monkeypatch)
    run_paths(plan, 40, chunk_generator(1, 0), yearly="bulk", engine="compiled")


@pytest.mark.parametrize("amortisation, years", [("interest_only", 12), ("bullet", 10)])
def test_sinking_fund_with_balloon_loans_same_bits(amortisation, years, monkeypatch):
    """Anshan with its bank loan repaid in one go (interest-only or bullet, inside the horizon): the sinking fund's
    target includes the loan's balance over its window and pays its principal (per path after an extension)."""
    data = tomllib.loads((ROOT / "scenarios" / "liaoning" / "anshan.toml").read_text(encoding="utf-8"))
    loan = next(p for p in data["projects"] if p["financing"].get("loans"))["financing"]["loans"][0]
    loan.update(amortisation=amortisation, term_years=years)
    sc = load_scenario(data)
    plan = compile_plan(sc)
    assert constants(plan).has_balloon and plan.support.cures.sinking_fund is not None
    engines_agree(run_paths, plan, 300, chunk_generator(20251202, 7), yearly="bulk")
    out = engines_agree(run_paths, plan, 300, chunk_generator(20251202, 8))
    assert (out.scalars["cure_sinking_fund"] > 0).any()
    engines_agree(run_paths, compile_plan(sc, deterministic=True), 1, None, record=True)
    _no_numpy(monkeypatch)
    run_paths(plan, 40, chunk_generator(1, 0), yearly="bulk", engine="compiled")


def test_expected_paths_stresses_bulk_ledgers_and_controls_same_bits():
    """No shock source on a stochastic plan (expected market paths); a stressed plan; a bulk run's ledgers (what a
    run's chunks keep) with the control variates' deviations."""
    sc = _scenario(ROOT / "scenarios" / "demo.toml", "default")
    engines_agree(run_paths, compile_plan(sc), 3, None)
    engines_agree(run_paths, compile_plan(sc, stress="price_crash"), 200, chunk_generator(3, 0))
    cv = sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"control_variates": True})})
    engines_agree(run_paths, compile_plan(cv), 200, chunk_generator(4, 2), yearly="bulk")


@pytest.mark.parametrize("conventions", ["default", "legacy"])
@pytest.mark.parametrize("name", BUNDLED + ["liaoning/anshan"])  # anshan: government-owned blocks (公租房)
def test_bulk_ledgers_same_bits(name, conventions, monkeypatch):
    """A run's chunks keep the bulk ledgers (``yearly="bulk"``): their twin (kernels.month.yearly_bulk; the numpy
    stage's monthly flows are never called) on one path and on a few hundred, on expected paths and on a
    deterministic plan, with the scenario's cures (bond service per path), SOE bonds, overruns, government blocks."""
    sc = _scenario(ROOT / "scenarios" / f"{name}.toml", conventions)
    plan = compile_plan(sc)
    for n in (1, 300):
        engines_agree(run_paths, plan, n, chunk_generator(20251124, 3), yearly="bulk")
    engines_agree(run_paths, plan, 3, None, yearly="bulk")
    engines_agree(run_paths, compile_plan(sc, deterministic=True), 1, None, yearly="bulk")

    def numpy_flows(*a, **k):
        raise AssertionError("the numpy yearly flows ran in a compiled bulk run")

    monkeypatch.setattr(twins.stages, "_yearly_debt_flows", numpy_flows)
    run_paths(plan, 50, chunk_generator(1, 0), yearly="bulk", engine="compiled")


def test_a_plan_pickled_after_a_run_leaves_its_month_tables_behind():
    """The twins' month tables (twins.MonthTables) stay in the process that made them: a plan shipped to a worker
    after a run is no larger for them, and runs the same bits there."""
    import pickle

    plan = compile_plan(_scenario(ROOT / "scenarios" / "demo.toml", "default"))
    fresh = len(pickle.dumps(plan))
    a = run_paths(plan, 40, chunk_generator(2, 0), yearly="bulk", engine="compiled")
    shipped = pickle.dumps(plan)
    assert len(shipped) < fresh * 1.1
    b = run_paths(pickle.loads(shipped), 40, chunk_generator(2, 0), yearly="bulk", engine="compiled")
    assert all(a.yearly[k].tobytes() == b.yearly[k].tobytes() for k in a.yearly)
    assert all(a.scalars[k].tobytes() == b.scalars[k].tobytes() for k in a.scalars)


def test_a_plan_the_twins_do_not_cover_runs_on_numpy():
    """Eight projects: a one-path sum over them is pairwise in numpy, so the twins step aside (the same numbers)."""
    plan = compile_plan(scenario([{**PROJECT, "name": f"block {i}"} for i in range(8)], horizon_years=10),
                        deterministic=True)
    ok, why = twins.supports(plan)
    assert not ok and "8 projects" in why
    assert choose_engine(plan, "auto") == "numpy"
    with pytest.warns(RuntimeWarning, match="8 projects"):
        assert choose_engine(plan, "compiled") == "numpy"
    a = run_paths(plan, 1, None, engine="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        b = run_paths(plan, 1, None, engine="compiled")
    for k in a.scalars:
        assert np.array_equal(a.scalars[k], b.scalars[k], equal_nan=a.scalars[k].dtype.kind == "f"), k


def test_engine_setting_and_environment(monkeypatch):
    sc = load_scenario(ROOT / "scenarios" / "demo.toml")
    assert sc.simulation.engine == "auto"
    plan = compile_plan(sc)
    monkeypatch.delenv("BAOZHANG_ENGINE", raising=False)
    assert choose_engine(plan) == "compiled"
    numpy_sc = sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"engine": "numpy"})})
    assert choose_engine(compile_plan(numpy_sc)) == "numpy"
    monkeypatch.setenv("BAOZHANG_ENGINE", "numpy")
    assert choose_engine(plan) == "numpy"
    with pytest.raises(ValueError, match="fortran"):
        choose_engine(plan, "fortran")


def test_numba_is_imported_only_when_a_run_starts():
    code = ("import sys, baozhang_finance.cli, baozhang_finance.engine.loop\n"
            "print('numba' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "BAOZHANG_ENGINE": ""})
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_golden_and_oracle_suites_on_both_engines():
    """The golden, oracle and snapshot suites with every ``run_paths`` run on both engines (bit for bit)."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_golden_*.py"))
    files += ["tests/test_reference_crosscheck.py", "tests/test_snapshot.py", "tests/test_engine_stages.py",
              "tests/test_government_owned.py", "tests/test_seed_terms.py", "tests/test_extremes.py"]
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-o", "addopts=", "-p", "no:cacheprovider",
                          *files], check=False, capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "BAOZHANG_ENGINE_CHECK": "1"})
    assert out.returncode == 0, out.stdout[-3000:]


# ---- a first run on a machine that has not compiled the kernels (decision 68) -------------------------------------
def test_cached_reads_numbas_own_index(monkeypatch, tmp_path):
    """An empty cache directory holds no kernels; the run's own cache (a compiled run just wrote it) holds them;
    kernels compiled in this process count as cached."""
    import numba

    run_paths(compile_plan(load_scenario(ROOT / "scenarios" / "demo.toml")), 20, chunk_generator(1, 0),
              yearly="bulk", engine="compiled")
    assert kernels.cached()
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    assert kernels.cached()  # compiled in this process: loaded whatever the disk holds
    monkeypatch.setattr(kernels, "K", {})  # a fresh process reads the index alone
    assert not kernels.cached()


def test_cached_needs_an_entry_for_this_cpu(monkeypatch, tmp_path):
    """numba keys a cache entry by (signature, (triple, CPU name, CPU features), code hashes): a real cache copied
    into a fresh NUMBA_CACHE_DIR reads as cached; the same index re-keyed to another CPU (a cache shared with
    another machine) does not — numba would compile again — until an entry for this CPU sits beside it; an entry
    whose data file is gone does not count."""
    import shutil

    import numba
    from numba.core.caching import FunctionCache

    run_paths(compile_plan(load_scenario(ROOT / "scenarios" / "demo.toml")), 20, chunk_generator(1, 0),
              yearly="bulk", engine="compiled")  # writes (or reads) this process's cache
    caches = lambda: [FunctionCache(getattr(month_fn, "py_func", month_fn))  # noqa: E731
                      for month_fn in (getattr(kernels.month, n) for n in kernels.CORE)]
    src = {fc.cache_path for fc in caches()}
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernels, "K", {})  # as a fresh process: the disk alone
    assert not kernels.cached()
    (dst,) = {fc.cache_path for fc in caches()}
    assert dst.startswith(str(tmp_path))
    for d in src:
        shutil.copytree(d, dst, dirs_exist_ok=True)
    assert kernels.cached()

    triple, cpu, features = kernels.cpu_key()
    assert (triple, cpu) == (numba.core.codegen.ll.get_process_triple(), numba.core.codegen.ll.get_host_cpu_name())
    other = (triple, "other-cpu" if cpu != "other-cpu" else "another-cpu", features)
    originals = {}
    for fc in caches():
        index = fc._cache_file._load_index()
        assert any(key[1] == kernels.cpu_key() for key in index), fc
        originals[fc.cache_path, fc._cache_file._index_name] = (fc, index)
        fc._cache_file._save_index({(key[0], other, key[2]): data for key, data in index.items()})
    assert not kernels.cached()  # every entry is another CPU's
    fc, index = next(iter(originals.values()))
    fc._cache_file._save_index({**index, **{(key[0], other, key[2]): data for key, data in index.items()}})
    assert not kernels.cached()  # one kernel has both CPUs' entries, the others still only the other CPU's
    for fc, index in originals.values():
        fc._cache_file._save_index({**index, **{(key[0], other, key[2]): data for key, data in index.items()}})
    assert kernels.cached()
    for data in index.values():  # the first kernel's data files of this CPU removed: the index alone is not code
        os.remove(os.path.join(fc.cache_path, data))
    assert not kernels.cached()


def test_a_small_run_on_a_cold_cache_runs_numpy_with_the_same_bits(monkeypatch):
    from baozhang_finance import simulate
    from baozhang_finance.engine import loop

    sc = load_scenario(ROOT / "scenarios" / "demo.toml")
    plan = compile_plan(sc)
    monkeypatch.delenv("BAOZHANG_ENGINE", raising=False)
    monkeypatch.setattr(kernels, "cached", lambda: False)
    assert choose_engine(plan, paths=loop.COMPILE_AT_PATHS - 1) == "numpy"
    assert choose_engine(plan, paths=loop.COMPILE_AT_PATHS) == "compiled"  # a large run pays the compile
    assert choose_engine(plan) == "compiled"  # no run size: as before
    assert choose_engine(plan, "compiled", paths=10) == "compiled"  # asked for by name
    monkeypatch.setenv("BAOZHANG_ENGINE", "compiled")
    assert choose_engine(plan, paths=10) == "compiled"
    monkeypatch.delenv("BAOZHANG_ENGINE")

    def no_twins(*a, **k):
        raise AssertionError("the compiled stages ran")

    with monkeypatch.context() as m:
        m.setattr(twins, "month_stages", no_twins)
        cold = simulate(sc, paths=300, seed=5, chunk_size=100)
        run_paths(plan, 1, None, record=True)  # a replay of one path (run/replay.py) on a plan no run chose for
    assert cold.run["engine"] == "numpy"
    monkeypatch.setattr(kernels, "cached", lambda: True)
    warm = simulate(sc, paths=300, seed=5, chunk_size=100)
    assert warm.run["engine"] == "compiled"
    pd.testing.assert_frame_equal(cold.paths, warm.paths, check_exact=True)
    for k in ("cfads", "gov_hidden", "cash_balance"):
        assert np.asarray(cold.ledger(k)).tobytes() == np.asarray(warm.ledger(k)).tobytes(), k
    assert cold.summary == warm.summary


def test_the_runs_choice_holds_in_every_chunk(monkeypatch):
    """with_engine pins the choice on the plan: a chunk (any process) runs it, whatever BAOZHANG_ENGINE says there;
    a chunk plan of drawn parameters (run/uncertainty.py) keeps it."""
    from baozhang_finance.engine.loop import with_engine
    from baozhang_finance.run import uncertainty

    sc = load_scenario(ROOT / "scenarios" / "demo.toml")
    plan = compile_plan(sc)
    pinned = with_engine(plan, "numpy")
    assert pinned.market.engine_chosen and not plan.market.engine_chosen
    monkeypatch.setenv("BAOZHANG_ENGINE", "compiled")
    assert choose_engine(pinned) == "numpy" and choose_engine(plan) == "compiled"
    assert choose_engine(pinned, "compiled") == "compiled"  # an explicit argument still wins
    assert with_engine(pinned, "numpy") is pinned
    pu = {"enabled": True, "se": {"price_drift_annual": 0.02}, "paths_per_draw": 100}
    usc = sc.model_copy(update={"market": sc.market.model_copy(update={
        "parameter_uncertainty": type(sc.market).model_fields["parameter_uncertainty"].annotation.__args__[0](**pu)})})
    drawn = uncertainty.plans(with_engine(compile_plan(usc), "numpy"), usc, None, 3, False)
    chunk = drawn.for_chunk(2)
    assert chunk.market.engine == "numpy" and chunk.market.engine_chosen
