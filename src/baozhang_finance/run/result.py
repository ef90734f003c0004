"""The Result of a run: per-path table, yearly fan data, summary (three lenses), and an atomic save().

``summary`` keys follow DESIGN §7 and stay stable; more sit beside them.
"""

from __future__ import annotations

import json
import os
import shutil
import weakref
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from typing import TYPE_CHECKING as _TC  # noqa: E402
if _TC:  # pandas is imported where used (start-up time)
    import pandas as pd

from baozhang_finance import __version__
from baozhang_finance.engine.plan import compile_plan
from baozhang_finance.measures import bank, coverage, cures, fiscal, soe
from baozhang_finance.measures import blocked as bk
from baozhang_finance.measures.blocked import Col
from baozhang_finance.measures.stats import dscr
from baozhang_finance.run import lens_pool
from baozhang_finance.run.atomic import write_folder_atomically
from baozhang_finance.run.provenance import provenance
from baozhang_finance.run.store import (LEDGERS_FILE, PATHS_FILE, ColumnStore, RunFolder, release_free_memory,
                                        remove_run_folder, remove_stale_run_folders, write_chunks)
from baozhang_finance.measures.stats import quantiles as _q
from baozhang_finance.engine.cures import refinancing
from baozhang_finance.engine.ledgers import YEARLY_KEPT  # noqa: F401  (kept per path: the one registry)
from baozhang_finance.engine.plan import Plan
from baozhang_finance.model.scenario import Scenario, capital_share, equity_share, total_uses_yuan

FAN_QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)

#: where run-private column stores are made (``BAOZHANG_STORE_DIR``, else the system's temporary folder)
STORE_DIR_ENV = "BAOZHANG_STORE_DIR"


def store_root() -> str | None:
    """Parent folder of run-private column stores: ``$BAOZHANG_STORE_DIR`` (created if needed) or the system's
    temporary folder. A 10,000,000-path run writes ≈ 11 GB there."""
    d = os.environ.get(STORE_DIR_ENV)
    if d:
        Path(d).mkdir(parents=True, exist_ok=True)
    return d or None


class StoredPaths:
    """The per-path table of a streamed run, read from ``paths.parquet`` one column at a time.

    Supports what the lenses, reports and analyses use of a DataFrame: ``df["col"]`` (a pandas Series, read on
    demand and not cached), ``df[["a", "b"]]``, ``"col" in df``, ``df.columns``, ``len(df)``, ``df.shape``,
    ``df.head(n)``; anything else through :meth:`to_pandas` (the whole table in memory).
    """

    def __init__(self, store: ColumnStore):
        self._store = store

    @property
    def columns(self):
        import pandas as pd
        return pd.Index(self._store.columns)

    def __len__(self) -> int:
        return self._store.n

    @property
    def shape(self) -> tuple[int, int]:
        return (self._store.n, len(self._store.columns))

    def __contains__(self, name) -> bool:
        return name in self._store.columns

    def __iter__(self):
        return iter(self._store.columns)

    def __getitem__(self, key):
        import pandas as pd
        if isinstance(key, str):
            return pd.Series(self._store.column(key), name=key, copy=False)
        return pd.DataFrame({k: self._store.column(k) for k in key}, copy=False)

    def head(self, n: int = 5):
        return self._store.head(n)

    def to_pandas(self):
        """The whole per-path table as a DataFrame (memory ∝ paths)."""
        return self[list(self._store.columns)]

    def __repr__(self) -> str:
        return f"<StoredPaths {self._store.n:,} paths × {len(self._store.columns)} columns in {self._store.folder}>"




def _clean(obj: Any) -> Any:
    """JSON-safe: NaN/inf → None, numpy scalars → Python."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if np.isfinite(f) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


class Result:
    """Outcome of :func:`baozhang_finance.simulate`.

    Attributes: ``scenario``, ``plan``, ``run`` (settings and wall time), ``paths`` (one row per path),
    ``yearly`` (fan data: year × quantity × quantiles), ``summary`` (nested dict), and ``ledger(name)``
    for the raw per-path yearly arrays ``(paths, years)``.
    """

    def __init__(self, scenario: Scenario, plan: Plan, columns: dict[str, np.ndarray] | None, run: dict[str, Any],
                 store: ColumnStore | None = None, owns_store: bool = False):
        self.scenario = scenario
        self.plan = plan
        self.run = run
        self._store = store
        self._derived_cache: dict[str, Result] = {}
        self._yearly_parts: dict[str, list] | None = None
        if store is not None:  # streamed: the columns and ledgers live in the store's Parquet files
            self._ledgers: dict[str, np.ndarray] = {}
            self._columns: dict[str, np.ndarray] = {}
            if isinstance(owns_store, RunFolder):  # a run-private folder: removed with the Result (save() links first)
                weakref.finalize(self, remove_run_folder, str(owns_store.path), owns_store._fd)
            elif owns_store:
                weakref.finalize(self, shutil.rmtree, str(store.folder), True)
        else:
            columns = columns or {}
            self._ledgers = {k[2:]: v for k, v in columns.items() if k.startswith("y_")}
            self._columns = {k: v for k, v in columns.items() if not k.startswith("y_")}

    @classmethod
    def from_chunks(cls, scenario: Scenario, plan: Plan, chunks: Iterable[dict[str, np.ndarray]],
                    run: dict[str, Any], folder: str | Path | None = None, progress=None) -> "Result":
        """A Result backed by a column store: ``chunks`` (chunk column dicts of :func:`run.chunks.run_chunk`, in
        path order) are appended to Parquet in ``folder`` as they arrive (a new run-private folder under
        :func:`store_root` when None, removed with the Result), so memory stays one chunk whatever the paths.
        ``run["paths"]`` is set to the paths written."""
        own = folder is None
        if own:  # the next run clears the folders of runs that were killed before they could remove theirs
            remove_stale_run_folders(store_root())
        rf = RunFolder(store_root()) if own else None
        where = rf.path if own else Path(folder)
        try:
            st = write_chunks(chunks, where, progress=progress)
        except BaseException:
            if own:
                rf.remove()
            raise
        run = {**run, "paths": st.n, "streamed": True}
        return cls(scenario=scenario, plan=plan, columns=None, run=run, store=st, owns_store=rf if own else False)

    @property
    def streamed(self) -> bool:
        """True when the per-path table and ledgers are read from Parquet (:mod:`baozhang_finance.run.store`)."""
        return self._store is not None

    @property
    def n_paths(self) -> int:
        if self._store is not None:
            return self._store.n
        return len(next(iter(self._columns.values()))) if self._columns else 0

    # ------------------------------------------------------------------ tables
    @cached_property
    def paths(self) -> pd.DataFrame:
        """One row per path. In memory: a DataFrame holding the run's arrays (no copy). Streamed: a
        :class:`StoredPaths` that reads one column at a time (``df["col"]`` is a Series; ``to_pandas()`` loads all)."""
        if self._store is not None:
            return StoredPaths(self._store)
        # copy=False: the DataFrame takes the run's column arrays as they are, so a million-path table is held once
        import pandas as pd
        return pd.DataFrame(self._columns, copy=False)

    def has_ledger(self, name: str) -> bool:
        return name in (self._store.ledger_years if self._store is not None else self._ledgers)

    def ledger_names(self) -> list[str]:
        return list(self._store.ledger_years if self._store is not None else self._ledgers)

    def ledger_years(self, name: str) -> int:
        """Number of years of a kept ledger."""
        if self._store is not None:
            return self._store.ledger_years[name]
        return int(self._ledgers[name].shape[1])

    def ledger(self, name: str) -> np.ndarray:
        """Per-path yearly ledger ``(paths, years)`` (one of YEARLY_KEPT, or 'dscr', 'cum_support', 'ltv').

        A read-only view in the stored precision (float32 after a run: ~7 significant digits, enough for fans and
        ratios; month counts as uint8), so a million-path run makes no float64 copies; derived ledgers are new
        arrays. A streamed run loads the whole ledger (memory ∝ paths): the summary reads
        :meth:`iter_ledger` instead, one year at a time.
        """
        if name == "dscr":
            return dscr(self.ledger("cfads"), self.ledger("debt_service"), self._refinanced(self.ledger))
        if name == "cum_support":
            return np.cumsum(self.ledger("soe_support") + self.ledger("gov_hidden") + self.ledger("gov_bond"), axis=1)
        if name == "ltv":
            bal = self.ledger("bank_balance")
            col = self.ledger("collateral_value")
            return np.divide(bal, col, out=np.full_like(bal, np.nan), where=col > 0)
        view = self._store.ledger(name) if self._store is not None else self._ledgers[name].view()
        view.flags.writeable = False
        return view

    def _refinanced(self, read):
        """The principal a DSCR nets out of debt service, ``(paths, years)`` (:func:`~baozhang_finance.engine.cures.
        refinancing.refinanceable`, decisions 73 and 81), None without [cures.refinancing]."""
        if not self.has_ledger("refinancing"):
            return refinancing.refinanceable(self.plan, np.zeros((self.n_paths, self.plan.Y)))
        return refinancing.refinanceable(self.plan, read("refinancing"))

    def _refinanced_year(self, year: int, read):
        """:meth:`_refinanced` of one year; ``read(y)``: the ``refinancing`` ledger's column of year y."""
        if not self.has_ledger("refinancing"):
            return refinancing.refinanceable_year(self.plan, year, lambda y: 0.0)
        return refinancing.refinanceable_year(self.plan, year, read)

    def ledger_year(self, name: str, year: int) -> np.ndarray:
        """Column ``year`` (0-based) of a kept ledger over all paths, in the stored precision (read-only)."""
        col = self._store.ledger_year(name, year) if self._store is not None else self._ledgers[name][:, year]
        col.flags.writeable = False
        return col

    def ledger_row(self, name: str, index: int) -> np.ndarray:
        """Kept ledger ``name`` of the path in row ``index``, over the years (``ledger(name)[index]``)."""
        if self._store is not None:
            return self._store.ledger_row(name, index)
        return self._ledgers[name][index]

    def iter_ledger(self, name: str) -> Iterator[np.ndarray]:
        """The columns of :meth:`ledger` ``(name)`` year by year — each bit for bit ``ledger(name)[:, y]`` — holding
        one year (a few columns for derived ledgers) at a time."""
        if name == "dscr":
            for y, (cf, ds) in enumerate(zip(self.iter_ledger("cfads"), self.iter_ledger("debt_service"))):
                yield dscr(cf, ds, self._refinanced_year(y, lambda k: self.ledger_year("refinancing", k)))
        elif name == "cum_support":
            acc = None
            for a, b, c in zip(self.iter_ledger("soe_support"), self.iter_ledger("gov_hidden"),
                               self.iter_ledger("gov_bond")):
                x = a + b + c
                acc = x if acc is None else acc + x  # np.cumsum(axis=1) adds year by year in this order
                yield acc
        elif name == "ltv":
            for bal, col in zip(self.iter_ledger("bank_balance"), self.iter_ledger("collateral_value")):
                yield np.divide(bal, col, out=np.full_like(bal, np.nan), where=col > 0)
        else:
            for y in range(self.ledger_years(name)):
                yield self.ledger_year(name, y)

    # ------------------------------------------------------------------ blocked columns (the summary's reads)
    def col(self, name: str) -> Col:
        """Per-path column ``name`` as a :class:`~baozhang_finance.measures.blocked.Col`: read block by block from the
        column store (streamed), or slices of the array (in memory) — the same blocks, so the same reductions."""
        if self._store is not None:
            if name not in self._store.columns:
                raise KeyError(name)
            st = self._store
            return Col(st.n, lambda i: st.column_block(name, i))
        return Col.of(self._columns[name])

    def ledger_col(self, name: str) -> Col:
        """Ledger ``name`` (kept, or 'dscr', 'cum_support', 'ltv') as a 2-D Col of ``(paths, years)`` blocks — each
        block bit for bit those rows of :meth:`ledger`."""
        if name == "dscr":
            if self.has_ledger("refinancing") and refinancing.config(self.plan) is not None:
                plan = self.plan
                return self.ledger_col("cfads").map(
                    lambda cf, ds, f: dscr(cf, ds, refinancing.refinanceable(plan, f)),
                    self.ledger_col("debt_service"), self.ledger_col("refinancing"))
            return self.ledger_col("cfads").map(dscr, self.ledger_col("debt_service"))
        if name == "cum_support":  # np.cumsum(axis=1) adds year by year, as iter_ledger does
            return self.ledger_col("soe_support").map(lambda a, b, c: np.cumsum(a + b + c, axis=1),
                                                      self.ledger_col("gov_hidden"), self.ledger_col("gov_bond"))
        if name == "ltv":
            return self.ledger_col("bank_balance").map(_ltv, self.ledger_col("collateral_value"))
        if self._store is not None:
            st = self._store
            if name not in st.ledger_years:
                raise KeyError(name)
            return Col(st.n, lambda i: st.ledger_block(name, i))
        return Col.of(self._ledgers[name])

    def year_col(self, name: str, year: int) -> Col:
        """Column ``year`` of ledger ``name`` as a 1-D Col (kept ledgers, 'dscr' and 'ltv': one ledger-year read;
        'cum_support': every year up to ``year``)."""
        if name == "dscr":
            cfg = refinancing.config(self.plan)
            k = int(cfg.term_years) if cfg is not None else 0
            if cfg is not None and self.has_ledger("refinancing") and year >= k:
                plan = self.plan
                return self.year_col("cfads", year).map(
                    lambda cf, ds, f: dscr(cf, ds, refinancing.refinanceable_year(plan, year, lambda _: f)),
                    self.year_col("debt_service", year), self.year_col("refinancing", year - k))
            rolled = self._refinanced_year(year, lambda _: 0.0)
            return self.year_col("cfads", year).map(lambda cf, ds: dscr(cf, ds, rolled),
                                                    self.year_col("debt_service", year))
        if name == "ltv":
            return self.year_col("bank_balance", year).map(_ltv, self.year_col("collateral_value", year))
        if name == "cum_support" and not self.has_ledger(name):
            return self._derived(name).year_col(name, year)
        if self._store is not None:
            st = self._store
            if name not in st.ledger_years:
                raise KeyError(name)
            return Col(st.n, lambda i: st.ledger_year_block(name, year, i))
        return Col.of(self._ledgers[name][:, year])

    def _derived(self, name: str) -> "Result":
        """A derived ledger (``cum_support``: a running sum over years) kept as a ledger of its own, so that one of
        its years is one read: streamed, written once to a run-private column store (block by block); in memory,
        the whole array (the run is in memory anyway)."""
        if name not in self._derived_cache:
            if self._store is None:
                self._derived_cache[name] = Result(self.scenario, self.plan, {f"y_{name}": self.ledger(name)}, self.run)
            else:
                led = self.ledger_col(name)
                block = led.block if name != "cum_support" else self._cum_support_block
                rf = RunFolder(store_root())
                try:
                    st = write_chunks(({"path": np.arange(b.shape[0]), f"y_{name}": b}
                                       for b in map(block, range(led.nblocks))), rf.path)
                except BaseException:
                    rf.remove()
                    raise
                self._derived_cache[name] = Result(self.scenario, self.plan, None, self.run, store=st, owns_store=rf)
        return self._derived_cache[name]

    def _cum_support_block(self, i: int) -> np.ndarray:
        """Block ``i`` of ``cum_support`` from the years' columns of a streamed run, bit for bit the block of
        :meth:`ledger_col` (x_y = soe_support + gov_hidden + gov_bond, then the running sum x_0 + x_1 + … in the
        ledgers' precision, as ``np.cumsum(axis=1)`` adds), laid out year-major (``(years, rows)`` transposed): each
        year a contiguous column, which the column store writes as it is — no ``(rows, years)`` block to stack and
        take apart, no cumulative sum along a strided axis."""
        st = self._store
        out = acc = None
        years = st.ledger_years["soe_support"]
        for y in range(years):
            x = st.ledger_year_block("soe_support", y, i) + st.ledger_year_block("gov_hidden", y, i) \
                + st.ledger_year_block("gov_bond", y, i)
            acc = x if acc is None else acc + x
            if out is None:
                out = np.empty((years, x.shape[0]), dtype=x.dtype).T
            out[:, y] = acc
        return out if out is not None else np.empty((0, 0), np.float32)

    def year_cols(self, name: str) -> Iterator[Col]:
        """:meth:`year_col` for every year of the ledger."""
        base = name if self.has_ledger(name) else \
            {"dscr": "cfads", "ltv": "bank_balance", "cum_support": "soe_support"}.get(name, name)
        for y in range(self.ledger_years(base)):
            yield self.year_col(name, y)

    @cached_property
    def yearly(self) -> pd.DataFrame:
        """Fan-chart data: for each year and quantity, mean and p05/p25/p50/p75/p95 across paths (the non-NaN values
        of the year: :func:`~baozhang_finance.measures.blocked.col_means_nonnan` and exact quantiles, block by
        block). A streamed run computes the quantities on two processes (:mod:`~baozhang_finance.run.lens_pool`),
        together with the summary when that is asked first."""
        import pandas as pd
        names = [f"yearly:{q}" for q in FAN_NAMES]
        vals = self._yearly_parts if self._yearly_parts is not None else self._lens_values(names)
        self._yearly_parts = None
        return pd.DataFrame([row for k in names for row in vals[k]])

    # ------------------------------------------------------------------ summary
    def lens_task(self, name: str):
        """One task of the summary: a lens (:data:`SUMMARY_TASKS`) or ``yearly:<quantity>`` (its fan rows). A
        streamed run hands the heap's free pages back after each (store.release_free_memory)."""
        if name.startswith("yearly:"):
            out = _yearly_rows(self, name[len("yearly:"):])
        else:
            out = SUMMARY_TASKS[name](self)
        if self._store is not None:
            release_free_memory()
        return out

    def _lens_values(self, names: list[str]) -> dict[str, Any]:
        """``{name: lens_task(name)}``; a streamed run on :func:`lens_pool.summary_workers` processes."""
        workers = lens_pool.summary_workers() if self._store is not None else 1
        spec = (self.scenario, self.plan, self.run, str(self._store.folder),
                {"BLOCK": bk.BLOCK, "SELECT_CAP": bk.SELECT_CAP}) if workers > 1 else None
        return lens_pool.run_tasks(names, self.lens_task, spec, workers)

    @cached_property
    def summary(self) -> dict[str, Any]:
        """The three lenses and the run (DESIGN §7). A streamed run computes its lenses — and the ``yearly`` fan,
        unless already computed — on two processes (decision 63); every figure is computed whole by one of them."""
        n = self.n_paths
        sc = self.scenario
        names = [k for k in SUMMARY_TASKS if k != "control_variates" or self.run.get("control_variates")]
        with_yearly = self._store is not None and "yearly" not in self.__dict__
        fan = [f"yearly:{q}" for q in FAN_NAMES] if with_yearly else []
        order = sorted(names + fan, key=lambda k: -_TASK_COST.get(k, 1.0))
        v = self._lens_values(order)
        if with_yearly:
            self._yearly_parts = {k: v[k] for k in fan}
        cov = {**v["coverage_head"], **v["coverage"]}
        out = {
            "coverage": cov,
            "hidden_debt": {**v["hidden_debt"], "first_shortfall_year": v["first_shortfall_year"],
                            **v["register"], **v["revenue_split"]},
            "fiscal": {**v["fiscal"], "refinancing_need_by_year": v["refinancing_need_by_year"],
                       "refinancing_balance_at_horizon": v["refinancing_balance_at_horizon"],
                       **v["government_money"], "total_fiscal_cost": v["total_fiscal_cost"],
                       "debt_ratio": v["debt_ratio"]},
            "bank": v["bank"],
            "soe": {**v["soe"], "exhaustion_year": v["exhaustion_year"], **v["monthly_returns"]},
            "cures": v["cures"],
            "sale": v["sale"],
            "programme": {
                "name": sc.programme.name,
                "city": sc.programme.city,
                "total_investment_yuan": float(sum(total_uses_yuan(p) for p in sc.projects)),
                "projects": [
                    {"name": p.name, "type": p.type, "units": p.units, "total_investment_yuan": total_uses_yuan(p),
                     "equity_share": equity_share(p), "capital_share": capital_share(p)}
                    for p in sc.projects
                ],
            },
            "run": {
                "paths": n,
                "seed": self.run["seed"],
                "chunk_size": self.run["chunk_size"],
                "stress": self.run.get("stress"),
                "deterministic": self.run.get("deterministic", False),
                "sampling": self.run.get("sampling", "mc"),
                "standard_errors": v["standard_errors"],
            },
        }
        if "parameter_uncertainty" in self.run:  # per-chunk parameter draws (run/uncertainty.py)
            out["run"]["parameter_uncertainty"] = self.run["parameter_uncertainty"]
        if self.run.get("control_variates"):  # the four headline estimates, regression-adjusted (decision 60)
            cv = v["control_variates"]
            out["run"]["control_variates"] = cv
            out["hidden_debt"]["p_call"] = cv["p_call"]["estimate"]
            out["hidden_debt"]["expected_pv"] = cv["expected_pv"]["estimate"]
            out["fiscal"]["explicit_bond_burden"]["expected_pv"] = cv["expected_pv_bond_burden"]["estimate"]
            out["coverage"]["p_self_financing"] = cv["p_self_financing"]["estimate"]
        return _clean(out)

    # ------------------------------------------------------------------ persistence
    def manifest(self) -> dict[str, Any]:
        import pandas as pd
        return _clean({
            "package": "baozhang-finance",
            "version": __version__,
            **provenance(),  # git_commit, git_dirty
            "scenario": self.scenario.programme.name,
            "scenario_sha256": self.scenario.sha256(),
            "seed": self.run["seed"],
            "paths": int(self.n_paths),
            "streamed": self.streamed,
            "chunk_size": self.run["chunk_size"],
            "backend": self.run.get("backend"),
            "workers": self.run.get("workers"),
            "stress": self.run.get("stress"),
            "deterministic": self.run.get("deterministic"),
            "sampling": self.run.get("sampling", "mc"),
            "control_variates": bool(self.run.get("control_variates", False)),
            "engine": self.run.get("engine"),
            "wall_time_s": self.run.get("wall_time_s"),
            "numpy": np.__version__,
            "pandas": pd.__version__,
        })

    def save(self, out_dir: str | Path, extra_writers=(), overwrite: bool = False) -> Path:
        """Write summary.json, paths.parquet, yearly.csv, the ledgers, scenario.json, run.json and manifest.json.

        The ledgers are ``ledgers.npz`` for an in-memory run and ``ledgers.parquet`` (one column per ledger and
        year, :mod:`baozhang_finance.run.store`) for a streamed one, whose Parquet files are hard-linked (or
        copied) into the folder as they are. Files are written to a temporary folder beside ``out_dir`` and
        renamed into place at the end, so an interrupted run leaves no half-written folder. ``extra_writers`` are
        callables ``f(result, tmp_dir)`` (reports) run inside the same transaction.
        """
        out = Path(out_dir)
        if out.exists() and not overwrite:
            if any(out.iterdir()):
                raise FileExistsError(f"{out}: output folder exists and is not empty (use --overwrite)")

        def write(tmp: Path) -> None:
            (tmp / "summary.json").write_text(json.dumps(self.summary, indent=2, ensure_ascii=False))
            if self._store is not None:
                for f in self._store.files():
                    _link_or_copy(f, tmp / f.name)
            else:
                self.paths.to_parquet(tmp / PATHS_FILE, index=False)
                np.savez_compressed(tmp / "ledgers.npz", **{k: v for k, v in self._ledgers.items()})
            self.yearly.to_csv(tmp / "yearly.csv", index=False)
            (tmp / "scenario.json").write_text(self.scenario.model_dump_json(indent=2))
            (tmp / "run.json").write_text(json.dumps(_clean(self.run), indent=2))
            for writer in extra_writers:
                writer(self, tmp)
            (tmp / "manifest.json").write_text(json.dumps(self.manifest(), indent=2, ensure_ascii=False))

        return write_folder_atomically(out, write)

    @classmethod
    def load(cls, out_dir: str | Path) -> "Result":
        """Re-open a saved run folder (for ``baozhang report``). A streamed run's folder (``ledgers.parquet``) is
        opened lazily, backed by its own Parquet files; an in-memory run's folder is read into memory."""
        import pandas as pd
        d = Path(out_dir)
        sc = Scenario.model_validate_json((d / "scenario.json").read_text())
        run = json.loads((d / "run.json").read_text())
        plan = compile_plan(sc, stress=run.get("stress"), deterministic=bool(run.get("deterministic")))
        if (d / LEDGERS_FILE).exists():
            return cls(scenario=sc, plan=plan, columns=None, run=run, store=ColumnStore(d))
        df = pd.read_parquet(d / PATHS_FILE)
        cols = {c: df[c].to_numpy() for c in df.columns}
        with np.load(d / "ledgers.npz") as z:
            for k in z.files:
                cols[f"y_{k}"] = z[k]
        return cls(scenario=sc, plan=plan, columns=cols, run=run)


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (same file system: instant, no extra space), else copy it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _nanmean(x) -> float | None:
    """Mean of the non-NaN values (blocked), None without any."""
    return bk.nanmean(bk.as_col(x).astype(float))


def _ltv(bal, col):
    return np.divide(bal, col, out=np.full_like(bal, np.nan), where=col > 0)


#: the quantities of ``Result.yearly``, in its row order
FAN_NAMES = ("cash_balance", "cfads", "dscr", "cum_support", "debt_service", "gov_hidden", "gov_bond", "soe_support",
             "bank_balance", "ltv")


def _yearly_rows(result: Result, name: str) -> list[dict]:
    """The ``yearly`` rows of one quantity: per year n, mean and the fan quantiles of its non-NaN values."""
    rows = []
    start_year = int(result.scenario.programme.start[:4])
    for y, col in enumerate(result.year_cols(name)):
        k, m, qs = bk.fan_stats(col[~np.isnan(col)], FAN_QUANTILES)  # one pass: size, mean, quantiles
        row = {"year": y + 1, "calendar_year": start_year + y, "quantity": name, "n": int(k)}
        if k:
            row["mean"] = m
            for q, v in zip(FAN_QUANTILES, qs):
                row[f"p{int(round(q * 100)):02d}"] = float(v)
        rows.append(row)
    return rows


def _coverage_head(result: Result) -> dict:
    """The first keys of ``summary.coverage`` (the per-path coverage columns)."""
    c = result.col
    return {
        "p_self_financing": bk.mean(c("self_financing")),
        "bond_coverage_ratio": {"mean": _nanmean(c("bond_coverage_ratio")),
                                **_q(c("bond_coverage_ratio"), (0.05, 0.5))},
        "bond_coverage_after_bank": _q(c("bond_coverage_after_bank"), (0.05, 0.5)),
        "dscr_min": _q(c("dscr_min")),
        "llcr": _q(c("llcr"), (0.05, 0.5)),
    }


#: the summary's lenses by task name (each a function of the Result; ``Result.summary`` puts them together)
SUMMARY_TASKS = {
    "coverage_head": _coverage_head,
    "coverage": coverage.coverage_summary,
    "government_money": fiscal.government_money_summary,
    "hidden_debt": fiscal.hidden_debt_summary,
    "first_shortfall_year": cures.first_shortfall_year,
    "register": fiscal.register_summary,
    "revenue_split": fiscal.revenue_split,
    "fiscal": fiscal.fiscal_summary,
    "refinancing_need_by_year": cures.refinancing_need_by_year,
    "refinancing_balance_at_horizon": cures.refinancing_balance_at_horizon,
    "total_fiscal_cost": fiscal.total_fiscal_cost,
    "debt_ratio": fiscal.debt_ratio,
    "bank": bank.bank_summary,
    "soe": soe.soe_summary,
    "exhaustion_year": cures.exhaustion_year,
    "monthly_returns": soe.monthly_returns,
    "cures": cures.cure_summary,
    "sale": cures.sale_summary,
    "standard_errors": fiscal.standard_errors,
    "control_variates": fiscal.control_variate_summary,
}
#: relative cost of the tasks (CPU s at 1,000,000 demo paths, decision 66), to hand out the costly ones first
_TASK_COST: dict[str, float] = {
    "bank": 2.5, "debt_ratio": 0.7, "register": 0.6, "yearly:dscr": 0.6, "soe": 0.57, "yearly:cum_support": 0.45,
    "refinancing_need_by_year": 0.37, "yearly:ltv": 0.31, "yearly:cfads": 0.24, "yearly:bank_balance": 0.21,
    "yearly:soe_support": 0.21, "yearly:cash_balance": 0.19, "yearly:debt_service": 0.19, "government_money": 0.19,
    "yearly:gov_bond": 0.17, "coverage_head": 0.14, "yearly:gov_hidden": 0.12, "monthly_returns": 0.12,
    "fiscal": 0.11, "hidden_debt": 0.11, "coverage": 0.08, "cures": 0.05, "standard_errors": 0.02, "sale": 0.01,
    "revenue_split": 0.01, "total_fiscal_cost": 0.01, "refinancing_balance_at_horizon": 0.01,
    "first_shortfall_year": 0.01, "exhaustion_year": 0.01}
