"""The Result of a run: per-path table, yearly fan data, summary (three lenses), and an atomic save().

``summary`` keys follow DESIGN §7 and stay stable; more sit beside them.
"""

from __future__ import annotations

import json
import subprocess
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
from baozhang_finance.measures.stats import dscr
from baozhang_finance.run.atomic import write_folder_atomically
from baozhang_finance.measures.stats import quantiles as _q
from baozhang_finance.engine.ledgers import YEARLY_KEPT  # noqa: F401  (kept per path: the one registry)
from baozhang_finance.engine.plan import Plan
from baozhang_finance.model.scenario import Scenario, capital_share, equity_share, total_uses_yuan

FAN_QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)




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

    def __init__(self, scenario: Scenario, plan: Plan, columns: dict[str, np.ndarray], run: dict[str, Any]):
        self.scenario = scenario
        self.plan = plan
        self.run = run
        self._ledgers = {k[2:]: v for k, v in columns.items() if k.startswith("y_")}
        self._columns = {k: v for k, v in columns.items() if not k.startswith("y_")}

    # ------------------------------------------------------------------ tables
    @cached_property
    def paths(self) -> pd.DataFrame:
        # copy=False: the DataFrame takes the run's column arrays as they are, so a million-path table is held once
        import pandas as pd
        return pd.DataFrame(self._columns, copy=False)

    def ledger(self, name: str) -> np.ndarray:
        """Per-path yearly ledger ``(paths, years)`` (one of YEARLY_KEPT, or 'dscr', 'cum_support', 'ltv').

        A read-only view in the stored precision (float32 after a run: ~7 significant digits, enough for fans and
        ratios; month counts as uint8), so a million-path run makes no float64 copies; derived ledgers are new
        arrays.
        """
        if name == "dscr":
            return dscr(self.ledger("cfads"), self.ledger("debt_service"))
        if name == "cum_support":
            return np.cumsum(self.ledger("soe_support") + self.ledger("gov_hidden") + self.ledger("gov_bond"), axis=1)
        if name == "ltv":
            bal = self.ledger("bank_balance")
            col = self.ledger("collateral_value")
            return np.divide(bal, col, out=np.full_like(bal, np.nan), where=col > 0)
        view = self._ledgers[name].view()
        view.flags.writeable = False
        return view

    @cached_property
    def yearly(self) -> pd.DataFrame:
        """Fan-chart data: for each year and quantity, mean and p05/p25/p50/p75/p95 across paths."""
        import pandas as pd
        rows = []
        start_year = int(self.scenario.programme.start[:4])
        for name in ("cash_balance", "cfads", "dscr", "cum_support", "debt_service", "gov_hidden", "gov_bond",
                     "soe_support", "bank_balance", "ltv"):
            arr = self.ledger(name)
            for y in range(arr.shape[1]):
                col = arr[:, y]
                col = col[~np.isnan(col)]
                row = {"year": y + 1, "calendar_year": start_year + y, "quantity": name, "n": int(col.size)}
                if col.size:
                    qs = np.quantile(col, FAN_QUANTILES)
                    row["mean"] = float(col.mean())
                    for q, v in zip(FAN_QUANTILES, qs):
                        row[f"p{int(round(q * 100)):02d}"] = float(v)
                rows.append(row)
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ summary
    @cached_property
    def summary(self) -> dict[str, Any]:
        df = self.paths
        n = len(df)
        sc = self.scenario
        cov = {
            "p_self_financing": float(df["self_financing"].mean()),
            "bond_coverage_ratio": {"mean": _nanmean(df["bond_coverage_ratio"]), **_q(df["bond_coverage_ratio"], (0.05, 0.5))},
            "bond_coverage_after_bank": _q(df["bond_coverage_after_bank"], (0.05, 0.5)),
            "dscr_min": _q(df["dscr_min"]),
            "llcr": _q(df["llcr"], (0.05, 0.5)),
            **coverage.coverage_summary(self),
        }
        money = fiscal.government_money_summary(self)
        out = {
            "coverage": cov,
            "hidden_debt": {**fiscal.hidden_debt_summary(self), "first_shortfall_year": cures.first_shortfall_year(self),
                            **fiscal.register_summary(self), **fiscal.revenue_split(self)},
            "fiscal": {**fiscal.fiscal_summary(self), "refinancing_need_by_year": cures.refinancing_need_by_year(self),
                       "refinancing_balance_at_horizon": cures.refinancing_balance_at_horizon(self),
                       **money, "total_fiscal_cost": fiscal.total_fiscal_cost(self), "debt_ratio": fiscal.debt_ratio(self)},
            "bank": bank.bank_summary(self),
            "soe": {**soe.soe_summary(self), "exhaustion_year": cures.exhaustion_year(self), **soe.monthly_returns(self)},
            "cures": cures.cure_summary(self),
            "sale": cures.sale_summary(self),
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
                "standard_errors": fiscal.standard_errors(self),
            },
        }
        if "parameter_uncertainty" in self.run:  # per-chunk parameter draws (run/uncertainty.py)
            out["run"]["parameter_uncertainty"] = self.run["parameter_uncertainty"]
        return _clean(out)

    # ------------------------------------------------------------------ persistence
    def manifest(self) -> dict[str, Any]:
        import pandas as pd
        return _clean({
            "package": "baozhang-finance",
            "version": __version__,
            "git_commit": _git_commit(),
            "scenario": self.scenario.programme.name,
            "scenario_sha256": self.scenario.sha256(),
            "seed": self.run["seed"],
            "paths": int(len(self.paths)),
            "chunk_size": self.run["chunk_size"],
            "backend": self.run.get("backend"),
            "workers": self.run.get("workers"),
            "stress": self.run.get("stress"),
            "deterministic": self.run.get("deterministic"),
            "sampling": self.run.get("sampling", "mc"),
            "wall_time_s": self.run.get("wall_time_s"),
            "numpy": np.__version__,
            "pandas": pd.__version__,
        })

    def save(self, out_dir: str | Path, extra_writers=(), overwrite: bool = False) -> Path:
        """Write summary.json, paths.parquet, yearly.csv, ledgers.npz, scenario.json and manifest.json.

        Files are written to a temporary folder beside ``out_dir`` and renamed into place at the end, so an
        interrupted run leaves no half-written folder. ``extra_writers`` are callables ``f(result, tmp_dir)``
        (reports) run inside the same transaction.
        """
        out = Path(out_dir)
        if out.exists() and not overwrite:
            if any(out.iterdir()):
                raise FileExistsError(f"{out}: output folder exists and is not empty (use --overwrite)")

        def write(tmp: Path) -> None:
            (tmp / "summary.json").write_text(json.dumps(self.summary, indent=2, ensure_ascii=False))
            self.paths.to_parquet(tmp / "paths.parquet", index=False)
            self.yearly.to_csv(tmp / "yearly.csv", index=False)
            np.savez_compressed(tmp / "ledgers.npz", **{k: v for k, v in self._ledgers.items()})
            (tmp / "scenario.json").write_text(self.scenario.model_dump_json(indent=2))
            (tmp / "run.json").write_text(json.dumps(_clean(self.run), indent=2))
            for writer in extra_writers:
                writer(self, tmp)
            (tmp / "manifest.json").write_text(json.dumps(self.manifest(), indent=2, ensure_ascii=False))

        return write_folder_atomically(out, write)

    @classmethod
    def load(cls, out_dir: str | Path) -> "Result":
        """Re-open a saved run folder (for ``baozhang report``)."""
        import pandas as pd
        d = Path(out_dir)
        sc = Scenario.model_validate_json((d / "scenario.json").read_text())
        run = json.loads((d / "run.json").read_text())
        plan = compile_plan(sc, stress=run.get("stress"), deterministic=bool(run.get("deterministic")))
        df = pd.read_parquet(d / "paths.parquet")
        cols = {c: df[c].to_numpy() for c in df.columns}
        with np.load(d / "ledgers.npz") as z:
            for k in z.files:
                cols[f"y_{k}"] = z[k]
        return cls(scenario=sc, plan=plan, columns=cols, run=run)


def _nanmean(x) -> float | None:
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else None


def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return r.stdout.strip() or None if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None
