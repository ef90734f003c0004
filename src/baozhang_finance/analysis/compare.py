"""Compare scenarios side by side: one row per scenario, the headline numbers of the three lenses.

Every scenario is run with the **same** number of paths, master seed and chunk size, so differences between rows
come from the scenarios, not from the run settings. The numbers are read from :attr:`Result.summary`
(DESIGN §7 keys):

==========================  ====================================================  =====================
column                      summary key                                           lens
==========================  ====================================================  =====================
p_self_financing            coverage.p_self_financing                             fiscal
p_hidden_call               hidden_debt.p_call (± run.standard_errors.p_call)      fiscal
hidden_debt_pv_yuan         hidden_debt.expected_pv                               fiscal
explicit_bond_burden_pv     fiscal.explicit_bond_burden.expected_pv               fiscal
dscr_min_p05                coverage.dscr_min.p05                                 bank
pd_lifetime                 bank.pd_lifetime (standalone view; 0 without loans)   bank
equity_irr_p50              soe.equity_irr.p50                                    SOE
==========================  ====================================================  =====================
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baozhang_finance.model.scenario import Scenario

#: defaults of ``baozhang compare``: 2,000 paths × 360 months ≈ 0.7 M path-months per scenario (about 1–3 s each)
DEFAULT_PATHS = 2_000
DEFAULT_SEED = 20251124
DEFAULT_CHUNK_SIZE = 10_000


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    get: Callable[[dict], Any]
    fmt: Callable[[Any], str]


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _wan(x) -> str:
    return "—" if x is None else f"{x / 1e4:,.0f}"


def _ratio(x) -> str:
    return "—" if x is None else f"{x:.2f}"


def _pd(s: dict):
    b = s["bank"]
    return b.get("pd_lifetime", 0.0) if b.get("has_bank_debt") else None


COLUMNS: tuple[Column, ...] = (
    Column("total_investment_yuan", "invest 万", lambda s: s["programme"]["total_investment_yuan"], _wan),
    Column("p_self_financing", "P(self-fin)", lambda s: s["coverage"]["p_self_financing"], _pct),
    Column("p_hidden_call", "P(call)", lambda s: s["hidden_debt"]["p_call"], _pct),
    Column("p_hidden_call_se", "±SE", lambda s: s["run"]["standard_errors"]["p_call"], _pct),
    Column("hidden_debt_pv_yuan", "E[hidden] PV 万", lambda s: s["hidden_debt"]["expected_pv"], _wan),
    Column("explicit_bond_burden_pv_yuan", "E[bond] PV 万",
           lambda s: s["fiscal"]["explicit_bond_burden"]["expected_pv"], _wan),
    Column("dscr_min_p05", "DSCRmin p05", lambda s: s["coverage"]["dscr_min"]["p05"], _ratio),
    Column("pd_lifetime", "PD life", _pd, _pct),
    Column("equity_irr_p50", "IRR p50", lambda s: s["soe"]["equity_irr"]["p50"], _pct),
)


def summary_row(name: str, summary: dict) -> dict[str, Any]:
    """One comparison row (raw numbers) from a run's summary dict."""
    row: dict[str, Any] = {"scenario": name, "programme": summary["programme"]["name"]}
    for c in COLUMNS:
        row[c.key] = c.get(summary)
    row["paths"] = summary["run"]["paths"]
    row["seed"] = summary["run"]["seed"]
    row["chunk_size"] = summary["run"]["chunk_size"]
    return row


def compare_scenarios(scenarios: Sequence[tuple[str, Scenario]], paths: int = DEFAULT_PATHS, seed: int = DEFAULT_SEED,
                      chunk_size: int = DEFAULT_CHUNK_SIZE, progress: Callable[[str], None] | None = None
                      ) -> list[dict[str, Any]]:
    """Run every ``(name, scenario)`` with the same paths, seed and chunk size; return one row per scenario."""
    from baozhang_finance.run.simulate import simulate

    rows = []
    for name, sc in scenarios:
        if progress is not None:
            progress(name)
        res = simulate(sc, paths=paths, seed=seed, chunk_size=chunk_size)
        rows.append(summary_row(name, res.summary))
    return rows


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write the rows (raw numbers, yuan and shares) to a CSV file."""
    p = Path(path)
    fields = ["scenario", "programme", *[c.key for c in COLUMNS], "paths", "seed", "chunk_size"]
    with p.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
    return p


def print_comparison(rows: list[dict[str, Any]], console, paths: int, seed: int, chunk_size: int) -> None:
    """A rich table: one row per scenario."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if not console.is_terminal and console.width < 132:  # a pipe or a log: do not squeeze the columns to 80
        console = Console(file=console.file, width=132, force_terminal=False, no_color=True)
    t = Table(title=escape(f"Scenario comparison — {paths:,} paths, seed {seed}, chunk size {chunk_size:,} (same for all)"),
              caption=escape("P(call), E[hidden]: hidden-debt call (fiscal); E[bond]: explicit special-bond burden; "
                             "PD: standalone bank view; IRR: SOE equity; money in 万元 (PV at each programme's rate)"))
    t.add_column("scenario", style="bold", no_wrap=True)
    for c in COLUMNS:
        t.add_column(escape(c.label), justify="right", no_wrap=True)
    for r in rows:
        t.add_row(escape(r["scenario"]), *(c.fmt(r[c.key]) for c in COLUMNS))
    console.print(t)
