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
"""

from __future__ import annotations

import hashlib
import json
import time
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
from baozhang_finance.model.portfolio import Portfolio
from baozhang_finance.model.scenario import Scenario, ScenarioError
from baozhang_finance.model.support import with_conventions
from baozhang_finance.run.atomic import write_folder_atomically
from baozhang_finance.run.chunks import chunk_bounds, per_path_columns
from baozhang_finance.run.result import Result, _clean, _git_commit
from baozhang_finance.run.simulate import _iter_chunks, resolve_backend, run_info
from baozhang_finance.run.store import keep_freed_pages

#: progress(done tasks, total tasks, city name, chunk index)
Progress = Callable[[int, int, str, int], None]


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
                       stress: str | None = None, conventions: str | None = None) -> "PortfolioResult":
    """Run every city of a portfolio on common factor draws and return a :class:`PortfolioResult`.

    ``paths``, ``seed``, ``chunk_size``: default the ``[portfolio]`` table's. ``backend``: serial | processes |
    dask (None: processes when ``workers`` > 1). ``keep_results``: keep each city's full :class:`Result` (tests,
    small runs); otherwise only its summary and the province's per-path arrays are kept. ``stress``: a stress
    overlay every city defines, applied to all (a province-wide stress test); ``conventions``: ``"default"`` or
    ``"legacy"`` for every city (None: as each city's file says)."""
    info = portfolio.spec.portfolio
    paths, seed = int(paths or info.paths), int(info.seed if seed is None else seed)
    chunk_size = int(chunk_size or info.chunk_size)
    backend = resolve_backend(backend, workers)
    scenarios, pp = compile_portfolio(portfolio, paths, seed, chunk_size, stress, conventions)
    bounds = chunk_bounds(paths, chunk_size)
    C, m = len(scenarios), len(bounds)
    total = m * (C + (pp.province is not None))
    t0 = time.perf_counter()
    cities, results, columns = [], [], {}
    revenue_factor = None if pp.province is None else np.empty((paths, pp.plans[0].Y))
    with closing(_iter_chunks(pp, bounds * (total // m), 0, seed, workers, backend, client,
                              chunk_fn=portfolio_task)) as stream:
        for task, cols in stream:
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
            if chunk == m - 1:
                res = Result(scenarios[city], pp.plans[city], columns,
                             _run_info(paths, seed, chunk_size, backend, workers, scenarios[city],
                                       time.perf_counter() - t0, stress, pp.plans[city].market.engine))
                cities.append(pm.city_paths(portfolio.cities[city].name, res))
                if keep_results:
                    results.append(res)
                columns = {}
            if progress:
                progress(task + 1, total, portfolio.cities[city].name, chunk)
    run = _run_info(paths, seed, chunk_size, backend, workers, scenarios[0], time.perf_counter() - t0, stress)
    return PortfolioResult(portfolio, cities, run, results, revenue_factor)


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
            "package": "baozhang-finance", "version": __version__, "git_commit": _git_commit(),
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
