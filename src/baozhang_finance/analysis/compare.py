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
pd_lifetime                 bank.pd_lifetime (with SOE support; none: no loan)    bank
equity_irr_p50              soe.equity_irr.p50                                    SOE
==========================  ====================================================  =====================

The table printed by ``baozhang compare`` is :func:`baozhang_finance.report.tables.print_comparison` (labels and
number formats from the output catalogue).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING as _TC  # noqa: E402
if _TC:  # pandas is imported where used (start-up time)
    import pandas as pd

from baozhang_finance.analysis.output import Writer, save_folder, write_json
from baozhang_finance.model.scenario import Scenario
from baozhang_finance.run.settings import COMPARE_CHUNK_SIZE, COMPARE_PATHS, COMPARE_SEED, RunSettings
from baozhang_finance.run.simulate import simulate

#: defaults of ``baozhang compare`` (declared once in :mod:`baozhang_finance.run.settings`)
DEFAULT_PATHS = COMPARE_PATHS
DEFAULT_SEED = COMPARE_SEED
DEFAULT_CHUNK_SIZE = COMPARE_CHUNK_SIZE


@dataclass(frozen=True)
class Column:
    """One comparison column: ``get(summary)`` gives its raw number; ``catalogue`` is the output-catalogue key
    (measures/catalogue.py) its label and number format come from; ``short`` is the narrow table header."""

    key: str
    catalogue: str
    short: str
    get: Callable[[dict], Any]


def _pd(s: dict):
    b = s["bank"]
    return b.get("pd_lifetime", 0.0) if b.get("has_bank_debt") else None


COLUMNS: tuple[Column, ...] = (
    Column("total_investment_yuan", "programme.total_investment_yuan", "invest 万元",
           lambda s: s["programme"]["total_investment_yuan"]),
    Column("p_self_financing", "coverage.p_self_financing", "P(self-fin)", lambda s: s["coverage"]["p_self_financing"]),
    Column("p_hidden_call", "hidden_debt.p_call", "P(call)", lambda s: s["hidden_debt"]["p_call"]),
    Column("p_hidden_call_se", "run.standard_errors.p_call", "± SE", lambda s: s["run"]["standard_errors"]["p_call"]),
    Column("hidden_debt_pv_yuan", "hidden_debt.expected_pv", "E[hidden] PV 万元",
           lambda s: s["hidden_debt"]["expected_pv"]),
    Column("explicit_bond_burden_pv_yuan", "fiscal.explicit_bond_burden.expected_pv", "E[bond] PV 万元",
           lambda s: s["fiscal"]["explicit_bond_burden"]["expected_pv"]),
    Column("dscr_min_p05", "coverage.dscr_min.p05", "DSCRmin p05", lambda s: s["coverage"]["dscr_min"]["p05"]),
    Column("pd_lifetime", "bank.pd_lifetime", "PD life", _pd),
    Column("equity_irr_p50", "soe.equity_irr.p50", "IRR p50", lambda s: s["soe"]["equity_irr"]["p50"]),
)


#: columns of compare.csv
CSV_FIELDS = ["scenario", "programme", *[c.key for c in COLUMNS], "paths", "seed", "chunk_size"]


def summary_row(name: str, summary: dict) -> dict[str, Any]:
    """One comparison row (raw numbers) from a run's summary dict."""
    row: dict[str, Any] = {"scenario": name, "programme": summary["programme"]["name"]}
    for c in COLUMNS:
        row[c.key] = c.get(summary)
    row["paths"] = summary["run"]["paths"]
    row["seed"] = summary["run"]["seed"]
    row["chunk_size"] = summary["run"]["chunk_size"]
    return row


@dataclass
class Comparison(Sequence):
    """The rows of a comparison (one dict per scenario, in order; the object is a sequence of them), with
    ``table`` (a DataFrame), ``settings`` (paths, seed, chunk size, the same for all) and ``save``."""

    rows: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, i):
        return self.rows[i]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    @property
    def table(self) -> pd.DataFrame:
        import pandas as pd
        return pd.DataFrame(self.rows, columns=CSV_FIELDS)

    def save(self, out: str | Path, extra_writers: Iterable[Writer] = (), overwrite: bool = False) -> Path:
        """compare.csv (the rows, raw numbers) and compare.json (the settings)."""
        def write(tmp: Path) -> None:
            write_csv(self.rows, tmp / "compare.csv")
            write_json(tmp / "compare.json", {**self.settings, "scenarios": [r["scenario"] for r in self.rows]})

        return save_folder(self, out, write, extra_writers, overwrite)


def compare_scenarios(scenarios: Sequence[tuple[str, Scenario]], paths: int = DEFAULT_PATHS, seed: int = DEFAULT_SEED,
                      chunk_size: int = DEFAULT_CHUNK_SIZE, progress: Callable[[str], None] | None = None
                      ) -> Comparison:
    """Run every ``(name, scenario)`` with the same paths, seed and chunk size; one row per scenario."""
    settings = RunSettings(paths=paths, seed=seed, chunk_size=chunk_size)
    rows = []
    for name, sc in scenarios:
        if progress is not None:
            progress(name)
        res = simulate(sc, **settings.resolved(sc).simulate_kwargs())
        rows.append(summary_row(name, res.summary))
    return Comparison(rows, {"paths": paths, "seed": seed, "chunk_size": chunk_size})


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write the rows (raw numbers, yuan and shares) to a CSV file."""
    p = Path(path)
    fields = CSV_FIELDS
    with p.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
    return p
