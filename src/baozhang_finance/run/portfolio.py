"""A portfolio run (省级组合): every (city × chunk) is one task, on the executors of :mod:`run.simulate`.

Task ``k`` is city ``k // m``, chunk ``k % m`` (``m`` chunks per city, the same paths in every city). It runs the
city's compiled plan on :func:`engine.factors.city_shocks` — the city's own draws keyed by (seed, city, chunk) with
the common factors keyed by (seed, chunk) mixed in — so a task's numbers depend only on (portfolio, seed, chunk
size, k), never on the backend or the number of workers: serial, processes and Dask return the same bits. The
compiled plans and loadings are shipped once per worker (``_iter_chunks``' initializer / ``ship_once``); a worker
holds one chunk of one city at a time.

Tasks are released in index order, so the parent completes the cities one by one: when a city's last chunk is in,
its :class:`Result` is built (every single-city measure, unchanged), reduced to what the province needs
(:func:`measures.province.city_paths`) and dropped. City 0 with no loadings is bit for bit its standalone run.

A large portfolio streams (decision 76): each city's reduction is written to its own Parquet column store
(:class:`StoredCityPaths`, in a run-private folder removed with the result) as soon as it is made, so the parent
holds one city at a time whatever the number of cities; the province's measures read the cities block by block
(:func:`measures.province.province_summary`) and give the same bits as from memory.
"""

from __future__ import annotations

import hashlib
import json
import time
import weakref
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from baozhang_finance import __version__
from baozhang_finance.engine.factors import CityLoadings, ProvinceLoadings, city_shocks, province_revenue_factor
from baozhang_finance.engine.loop import choose_engine, run_paths, with_engine
from baozhang_finance.engine.plan import Plan, compile_plan
from baozhang_finance.measures import province as pm
from baozhang_finance.measures.province import PATH_FIELDS, YEAR_FIELDS, CityPaths
from baozhang_finance.model.portfolio import Portfolio
from baozhang_finance.model.scenario import Scenario, ScenarioError
from baozhang_finance.model.support import with_conventions
from baozhang_finance.run.atomic import write_folder_atomically
from baozhang_finance.run.chunks import chunk_bounds, per_path_columns
from baozhang_finance.run.provenance import provenance
from baozhang_finance.run.result import Result, _clean, store_root
from baozhang_finance.run.simulate import _iter_chunks, resolve_backend, run_info
from baozhang_finance.run.store import (ColumnWriter, RunFolder, keep_freed_pages, remove_run_folder,
                                        remove_stale_run_folders)

#: progress(done tasks, total tasks, city name, chunk index)
Progress = Callable[[int, int, str, int], None]

#: a portfolio streams its cities' reductions to Parquet when, held in memory, they would take at least this many
#: bytes (:func:`reduction_bytes`; decision 76 — measured in docs/benchmarks.md, "A province")
STREAM_BYTES = 256 << 20


def reduction_bytes(cities: int, paths: int, years: int) -> int:
    """Bytes the cities' :class:`~baozhang_finance.measures.province.CityPaths` take in memory: per city and path,
    4 yearly float32 arrays and 1 bool (17 bytes a year), 2 float64 PVs and 2 bool flags (18 bytes)."""
    return int(cities) * int(paths) * (17 * int(years) + 18)


def stream_wanted(stream: bool | None, cities: int, paths: int, years: int) -> bool:
    """``stream`` when given; else whether the reductions would take :data:`STREAM_BYTES` or more."""
    return bool(stream) if stream is not None else reduction_bytes(cities, paths, years) >= STREAM_BYTES


class StoredCityPaths:
    """A city's :class:`~baozhang_finance.measures.province.CityPaths` written to a column store (run/store.py:
    ``paths.parquet`` with the per-path fields, ``ledgers.parquet`` with the yearly ones, row groups of one block)
    in ``folder``: the same ``name``, ``summary``, ``capacity_yuan``, ``n``, ``years`` and blocks, read from the
    files one block at a time (the store keeps no block after a read: the province reads one of every city's), and
    each field read whole on demand (``c.money_y``: for tests and notebooks, not for the summary). ``owner``: the
    run folder the files live in, kept alive (and removed) with the cities that read it."""

    def __init__(self, cp: CityPaths, folder: Path, owner: RunFolder | None = None):
        w = ColumnWriter(folder)
        try:
            for i in range(-(-cp.n // pm.BLOCK)):
                a = i * pm.BLOCK
                cols = {"path": np.arange(a, min(cp.n, a + pm.BLOCK), dtype=np.int64)}
                cols.update({f: cp.block(f, i) for f in PATH_FIELDS})
                cols.update({f"y_{f}": cp.block(f, i) for f in YEAR_FIELDS})
                w.append(cols)
        except BaseException:
            w.abort()
            raise
        self.store = w.close()
        self.owner = owner
        self.name, self.summary, self.capacity_yuan = cp.name, cp.summary, cp.capacity_yuan
        self.n, self.years = cp.n, cp.years

    def block(self, field: str, i: int) -> np.ndarray:
        """Rows of block ``i`` of ``field``: ``(rows,)`` or, for a yearly field, ``(rows, years)``."""
        out = self.store.ledger_block(field, i) if field in YEAR_FIELDS else self.store.column_block(field, i)
        self.store.clear_cache()
        return out

    def year_block(self, field: str, y: int, i: int) -> np.ndarray:
        """Year ``y`` of the yearly ``field``, rows of block ``i``."""
        out = self.store.ledger_year_block(field, y, i)
        self.store.clear_cache()
        return out

    def __getattr__(self, field: str):
        if field in PATH_FIELDS:
            return self.store.column(field)
        if field in YEAR_FIELDS:
            return self.store.ledger(field)
        raise AttributeError(field)


def _run_folder() -> tuple[RunFolder, weakref.finalize]:
    """A run-private folder for a streamed portfolio's cities (stale ones of killed runs cleared first), removed
    when the last object holding it (the cities, the result) is gone — or at once by calling the finalizer
    returned beside it (once: its lock's file descriptor is closed once)."""
    remove_stale_run_folders(store_root())
    rf = RunFolder(store_root())
    return rf, weakref.finalize(rf, remove_run_folder, str(rf.path), rf._fd)


@dataclass(frozen=True)
class PortfolioPlan:
    """What every worker holds: the cities' compiled plans and loadings, the chunks per city, and the province's
    revenue loadings (None: its revenue is deterministic and there are no province tasks)."""

    plans: tuple[Plan, ...]
    loadings: tuple[CityLoadings, ...]
    chunks_per_city: int
    province: ProvinceLoadings | None = None


def portfolio_task(pp: PortfolioPlan, task: int, start: int, stop: int, seed: int) -> dict[str, np.ndarray]:
    """One (city × chunk) task: the city's chunk on its factor shock source, reduced to its per-path columns
    (as :func:`run.chunks.run_chunk`) plus the city's yearly fiscal revenue (``y_fiscal_revenue``, float32).
    Tasks after the cities' (``city == len(plans)``) are the province's revenue path of chunk ``chunk``
    (decision 52): ``{"province_revenue_factor": (n, Y)}``."""
    city, chunk = divmod(task, pp.chunks_per_city)
    if city == len(pp.plans):
        return {"province_revenue_factor": province_revenue_factor(seed, chunk, stop - start, pp.plans[0].T, pp.province)}
    plan = pp.plans[city]
    keep_freed_pages()  # as run_chunk: the month's temporaries reuse the heap's pages
    shocks = city_shocks(plan.market, stop - start, seed, city, chunk, pp.loadings[city])
    out = run_paths(plan, stop - start, shocks, yearly="bulk")
    cols = per_path_columns(plan, out, start)
    cols["y_fiscal_revenue"] = out.yearly["fiscal_revenue"].astype(np.float32)
    return cols


def _city_scenario(sc: Scenario, paths: int, seed: int, chunk_size: int) -> Scenario:
    """The city's scenario with the portfolio's run settings in its ``[simulation]`` (what its Result records)."""
    sim = sc.simulation.model_copy(update={"paths": paths, "seed": seed, "chunk_size": chunk_size})
    return sc.model_copy(update={"simulation": sim})


def compile_portfolio(portfolio: Portfolio, paths: int, seed: int, chunk_size: int, stress: str | None = None,
                      conventions: str | None = None) -> tuple[list[Scenario], PortfolioPlan]:
    """The cities' scenarios (run settings and ``conventions`` applied) and the :class:`PortfolioPlan` the workers
    run, every city under the stress overlay ``stress`` (each city must define it: its ``[[market.stresses]]``)."""
    scenarios = [_city_scenario(with_conventions(c.scenario, conventions), paths, seed, chunk_size)
                 for c in portfolio.cities]
    if stress is not None:
        for c, sc in zip(portfolio.cities, scenarios):
            names = [x.name for x in sc.market.stresses]
            if stress not in names:
                raise ScenarioError(f"city {c.name!r}: market.stresses: no stress named {stress!r} "
                                    f"(have {names}): a province-wide stress must be defined by every city",
                                    source=portfolio.source)
    plans = tuple(compile_plan(sc, stress=stress) for sc in scenarios)
    plans = tuple(with_engine(p, choose_engine(p, paths=paths * len(plans))) for p in plans)  # one choice a city
    k = len(portfolio.regions)
    loadings = tuple(CityLoadings(c.national, c.regional, c.region, k) for c in portfolio.cities)
    return scenarios, PortfolioPlan(plans, loadings, len(chunk_bounds(paths, chunk_size)),
                                    province_loadings(portfolio))


def province_loadings(portfolio: Portfolio) -> ProvinceLoadings | None:
    """The province's revenue loadings from its [province] table; None when ``revenue_vol`` is 0 (decision 52)."""
    pr = portfolio.spec.province
    if not pr.revenue_vol:
        return None
    region = -1 if pr.revenue_region is None else portfolio.regions.index(pr.revenue_region)
    return ProvinceLoadings(pr.revenue_vol, pr.revenue_national_loading, pr.revenue_regional_loading, region,
                            len(portfolio.regions))


def _run_info(paths: int, seed: int, chunk_size: int, backend: str, workers: int, sc: Scenario, wall: float,
              stress: str | None = None, engine: str | None = None) -> dict:
    """A city's (or the portfolio's) run record: a fixed run of the portfolio's settings (no target SE), under
    the stress overlay ``stress`` if any; ``conventions`` of the (first) city; ``engine``: the month's stages that
    ran."""
    info = run_info(paths=paths, seed=seed, chunk_size=chunk_size, backend=backend, workers=workers, stress=stress,
                    deterministic=False, sampling=sc.simulation.sampling, scenario=sc, target_se=None, wall=wall,
                    engine=engine)
    info["conventions"] = sc.support.conventions
    return info


def simulate_portfolio(portfolio: Portfolio, paths: int | None = None, seed: int | None = None,
                       chunk_size: int | None = None, workers: int = 1, backend: str | None = None,
                       client=None, progress: Progress | None = None, keep_results: bool = False,
                       stress: str | None = None, conventions: str | None = None,
                       stream: bool | None = None) -> "PortfolioResult":
    """Run every city of a portfolio on common factor draws and return a :class:`PortfolioResult`.

    ``paths``, ``seed``, ``chunk_size``: default the ``[portfolio]`` table's. ``backend``: serial | processes |
    dask (None: processes when ``workers`` > 1). ``keep_results``: keep each city's full :class:`Result` (tests,
    small runs); otherwise only its summary and the province's per-path arrays are kept. ``stress``: a stress
    overlay every city defines, applied to all (a province-wide stress test); ``conventions``: ``"default"`` or
    ``"legacy"`` for every city (None: as each city's file says). ``stream``: write each city's reduction to
    Parquet as it is made (:class:`StoredCityPaths`) — None: when they would take :data:`STREAM_BYTES` or more in
    memory; the summary's numbers are the same either way."""
    info = portfolio.spec.portfolio
    paths, seed = int(paths or info.paths), int(info.seed if seed is None else seed)
    chunk_size = int(chunk_size or info.chunk_size)
    backend = resolve_backend(backend, workers)
    scenarios, pp = compile_portfolio(portfolio, paths, seed, chunk_size, stress, conventions)
    bounds = chunk_bounds(paths, chunk_size)
    t0 = time.perf_counter()
    folder, remove = (_run_folder() if stream_wanted(stream, len(scenarios), paths, pp.plans[0].Y)
                      else (None, None))
    try:
        cities, results, revenue_factor = _run_tasks(
            portfolio, scenarios, pp, bounds, seed, progress, keep_results, folder,
            lambda sc, plan: _run_info(paths, seed, chunk_size, backend, workers, sc, time.perf_counter() - t0,
                                       stress, plan.market.engine),
            dict(workers=workers, backend=backend, client=client))
    except BaseException:
        if remove is not None:
            remove()  # a failed or interrupted run leaves no folder behind
        raise
    run = _run_info(paths, seed, chunk_size, backend, workers, scenarios[0], time.perf_counter() - t0, stress)
    return PortfolioResult(portfolio, cities, run, results, revenue_factor)


def _run_tasks(portfolio: Portfolio, scenarios: list[Scenario], pp: PortfolioPlan, bounds, seed: int,
               progress: Progress | None, keep_results: bool, folder: RunFolder | None, city_run, execute: dict):
    """The (city × chunk) tasks in index order → (the cities' reductions, their Results when ``keep_results``,
    the province's revenue multiplier or None). A city's columns fill as its chunks come in; at its last chunk its
    Result is built (``city_run(scenario, plan)``: its run record), reduced, and — with a ``folder`` — the
    reduction is written to its column store there and dropped from memory."""
    C, m, paths = len(scenarios), len(bounds), bounds[-1][1]
    total = m * (C + (pp.province is not None))
    cities, results, columns = [], [], {}
    revenue_factor = None if pp.province is None else np.empty((paths, pp.plans[0].Y))
    with closing(_iter_chunks(pp, bounds * (total // m), 0, seed, chunk_fn=portfolio_task, **execute)) as tasks:
        for task, cols in tasks:
            city, chunk = divmod(task, m)
            a, b = bounds[chunk]
            if city == C:
                revenue_factor[a:b] = cols["province_revenue_factor"]
                if progress:
                    progress(task + 1, total, portfolio.spec.province.name, chunk)
                continue
            columns = columns or {k: np.empty((paths,) + v.shape[1:], dtype=v.dtype) for k, v in cols.items()}
            for k, v in cols.items():
                columns[k][a:b] = v
            del cols
            if chunk == m - 1:
                res = Result(scenarios[city], pp.plans[city], columns, city_run(scenarios[city], pp.plans[city]))
                columns = {}
                reduced = pm.city_paths(portfolio.cities[city].name, res)
                if keep_results:
                    results.append(res)
                del res  # the city's tables go now, before the next city's fill up
                if folder is not None:
                    reduced = StoredCityPaths(reduced, folder.path / f"city_{city:05d}", folder)
                cities.append(reduced)
                del reduced
            if progress:
                progress(task + 1, total, portfolio.cities[city].name, chunk)
    return cities, results, revenue_factor


class PortfolioResult:
    """A portfolio run: the cities' reduced paths and summaries, the province summary, tables and ``save()``."""

    def __init__(self, portfolio: Portfolio, cities: list[pm.CityPaths], run: dict[str, Any], results=(),
                 revenue_factor: np.ndarray | None = None):
        self.portfolio = portfolio
        self.cities = cities
        self.run = run
        self.results = list(results)
        self.revenue_factor = revenue_factor  # (n, Y) the province's revenue multiplier, None when deterministic
        self._summary: dict | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """summary.json: the province's measures (measures/province.py), each city's summary, the run."""
        if self._summary is None:
            prov = pm.province_summary(self.cities, self.portfolio.spec.province, self.run["paths"],
                                       self.revenue_factor)
            info = self.portfolio.spec.portfolio
            self._summary = _clean({
                "portfolio": {"name": info.name, "notes": info.notes, "sources": list(info.sources),
                              "regions": list(self.portfolio.regions)},
                **prov,
                "city_summaries": {c.name: c.summary for c in self.cities},
                # what the numbers depend on (the backend and the workers, which they do not, are in the manifest)
                "run": {k: self.run.get(k) for k in ("paths", "seed", "chunk_size", "stress")},
            })
        return self._summary

    def cities_table(self):
        """One row per city (measures.province.city_row), as a DataFrame."""
        import pandas as pd
        return pd.DataFrame(self.summary["cities"])

    def calls_table(self):
        """P(N cities called) for N = 0..C: over the horizon (simulated and independent law) and the most in one year."""
        import pandas as pd
        cc = self.summary["province"]["cities_called"]
        same = self.summary["province"]["cities_called_same_year"]["max_in_one_year"]
        return pd.DataFrame({"cities_called": range(len(cc["distribution"])), "p_horizon": cc["distribution"],
                             "p_horizon_independent": cc["independent_law"], "p_max_in_one_year": same})

    def manifest(self) -> dict[str, Any]:
        import pandas as pd
        return _clean({
            "package": "baozhang-finance", "version": __version__, **provenance(),
            "portfolio": self.portfolio.spec.portfolio.name,
            "portfolio_sha256": self.portfolio_sha256(),
            "cities": [{"name": c.name, "scenario_sha256": c.scenario.sha256()} for c in self.portfolio.cities],
            **{k: self.run.get(k) for k in ("seed", "paths", "chunk_size", "backend", "workers", "stress",
                                            "wall_time_s")},
            "tasks": (len(self.cities) + (self.revenue_factor is not None)) * -(-self.run["paths"] // self.run["chunk_size"]),
            "numpy": np.__version__, "pandas": pd.__version__,
        })

    def portfolio_sha256(self) -> str:
        """SHA-256 of the portfolio's tables and its cities' scenario hashes (what the numbers depend on)."""
        doc = {"spec": self.portfolio.spec.model_dump(mode="json", exclude={"city"}),
               "cities": [[c.name, c.scenario.sha256(), c.region, c.national.tolist(), c.regional.tolist()]
                          for c in self.portfolio.cities]}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def save(self, out_dir: str | Path, extra_writers=(), overwrite: bool = False) -> Path:
        """Write summary.json, cities.csv, cities_called.csv, run.json, manifest.json (and ``extra_writers``:
        report.html, charts) into one folder, atomically."""
        out = Path(out_dir)
        if out.exists() and not overwrite and any(out.iterdir()):
            raise FileExistsError(f"{out}: output folder exists and is not empty (use --overwrite)")

        def write(tmp: Path) -> None:
            (tmp / "summary.json").write_text(json.dumps(self.summary, indent=2, ensure_ascii=False))
            self.cities_table().to_csv(tmp / "cities.csv", index=False)
            self.calls_table().to_csv(tmp / "cities_called.csv", index=False)
            (tmp / "run.json").write_text(json.dumps(_clean(self.run), indent=2))
            for writer in extra_writers:
                writer(self, tmp)
            (tmp / "manifest.json").write_text(json.dumps(self.manifest(), indent=2, ensure_ascii=False))

        return write_folder_atomically(out, write)
