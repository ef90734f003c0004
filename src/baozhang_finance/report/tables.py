"""Terminal tables (rich) of a Result: the three lenses side by side, concise (about 25 rows, 80 columns)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from baozhang_finance.analysis.compare import COLUMNS
from baozhang_finance.report.format import fmt, pct, pm, several, wan


def _trio(key: str, d: dict, stats=("p05", "p50", "p95")) -> str:
    return several(key, d, stats)


def summary_rows(s: dict) -> list[tuple[str, str, str]]:
    """(lens, metric, value) rows of the three-lens table, from a summary dict (DESIGN §7 keys).

    Labels stay within 31 characters and values within 26, so the table fits an 80-column terminal.
    """
    hd, cov, bank, soe, fis = s["hidden_debt"], s["coverage"], s["bank"], s["soe"], s["fiscal"]
    se = s["run"]["standard_errors"]
    bond = fis["explicit_bond_burden"]
    share = hd["peak_share_of_fiscal_revenue"]
    F, B, S = "fiscal 财政", "bank 银行", "SOE 国企"
    rows = [
        (F, "P(self-financing, no support)", fmt("coverage.p_self_financing", cov["p_self_financing"])),
        (F, "P(hidden-debt call) ± SE", pm("hidden_debt.p_call", hd["p_call"], se["p_call"])),
        (F, "hidden debt PV: mean ± SE", pm("hidden_debt.expected_pv", hd["expected_pv"], se["expected_pv"])),
        (F, "hidden debt PV: VaR95 / CVaR95", several("hidden_debt.var95_pv", hd, ("var95_pv", "cvar95_pv"))),
        (F, "hidden debt PV: VaR99 / CVaR99", several("hidden_debt.var99_pv", hd, ("var99_pv", "cvar99_pv"))),
        (F, "first call year p05/p50/p95", _trio("hidden_debt.first_call_year", hd["first_call_year"])),
        (F, "peak call ÷ fiscal rev. p50/p95", _trio("hidden_debt.peak_share_of_fiscal_revenue", share, ("p50", "p95"))),
        (F, "explicit bond burden: P / PV", f"{pct(bond['p_call'])} / {wan(bond['expected_pv'])}"),
        (F, "本息覆盖倍数 coverage p05/p50",
         _trio("coverage.bond_coverage_ratio", cov["bond_coverage_ratio"], ("p05", "p50"))),
    ]
    cls = {r["class"]: r for r in fis.get("classification", [])}
    if cls:
        rows.append((F, "gap paid by bond / SOE / hidden",
                     " / ".join(pct(cls[k]["share"], 0) for k in ("explicit_bond_burden", "soe_explicit_support",
                                                                       "hidden_debt_call") if k in cls)))
    if bank.get("has_bank_debt"):
        ttd = bank.get("time_to_default", {})
        crit = bank.get("grade_criteria", {})
        y0, y1 = bank["dscr_test_years"]
        rows += [
            (B, "PD life (standalone) / annual", f"{fmt('bank.pd_lifetime', bank['pd_lifetime'])} / {fmt('bank.pd_annualised', bank.get('pd_annualised'))}"),
            (B, "default year p05/p50/p95",
             " / ".join(fmt(f"bank.time_to_default.{k}", ttd.get(k)) for k in ("p05_years", "p50_years", "p95_years"))),
            (B, "EAD / LGD / EL (means)",
             f"{wan(bank.get('ead', {}).get('mean'))} / {pct(bank['lgd_mean'])} / {wan(bank['expected_loss'])}"),
            (B, "EL rate (EL ÷ principal)", fmt("bank.expected_loss_rate", bank.get("expected_loss_rate"))),
            (B, f"bank DSCR min y{y0}–{y1} p05/p50",
             _trio("bank.dscr_bank_min", bank["dscr_bank_min"], ("p05", "p50"))),
            (B, "P(bank DSCR min < 1)", fmt("bank.p_dscr_bank_min_below_1", bank.get("p_dscr_bank_min_below_1"))),
            (B, "peak LTV p50 / p95", _trio("bank.ltv_peak", bank["ltv_peak"], ("p50", "p95"))),
            (B, "slotting grade (risk weight)", f"{bank['grade']} ({fmt('bank.risk_weight', bank['risk_weight'])})"),
            (B, "  by PD / DSCR / LTV",
             " / ".join(crit.get(k, {}).get("category", "—") for k in ("pd_annualised", "dscr_min_p50", "ltv_peak_p50"))),
        ]
    else:
        rows.append((B, "bank debt", "none"))
    rows += [
        (B, "LLCR p05 / p50", _trio("coverage.llcr", cov["llcr"], ("p05", "p50"))),
        (S, "equity IRR p05/p50/p95", _trio("soe.equity_irr", soe["equity_irr"])),
        (S, "equity NPV p05/p50/p95", _trio("soe.npv", soe["npv"])),
        (S, "peak funding need p50/p95", _trio("soe.peak_funding_need", soe["peak_funding_need"], ("p50", "p95"))),
    ]
    lk = soe.get("lockup_years")
    if isinstance(lk, dict):
        rows.append((S, "lock-up years mean/p95 (P any)",
                     f"{_trio('soe.lockup_years', lk, ('mean', 'p95'))} ({pct(lk.get('p_any'), 0)})"))
    return rows


def print_summary(result, console: Console | None = None) -> None:
    """Print the three-lens table of a Result."""
    console = console or Console()
    s = result.summary
    r = s["run"]
    title = f"{s['programme']['name']} — {r['paths']:,} paths, seed {r['seed']}"
    if r.get("stress"):
        title += f", stress {r['stress']}"
    t = Table(title=title, show_lines=False)
    t.add_column("lens", style="bold")
    t.add_column("metric")
    t.add_column("value", justify="right")
    last = None
    for lens, metric, value in summary_rows(s):
        if last is not None and lens != last:
            t.add_section()
        t.add_row(lens if lens != last else "", metric, value)
        last = lens
    console.print(t)
    console.print("万元 = 10,000 yuan; ± = one standard error (SE); PV at the programme discount rate; bank view: standalone.", style="dim")


def print_comparison(rows: list[dict], console, paths: int, seed: int, chunk_size: int) -> None:
    """The ``baozhang compare`` table: one row per scenario (:data:`analysis.compare.COLUMNS`), money in 万元."""
    if not console.is_terminal and console.width < 132:  # a pipe or a log: do not squeeze the columns to 80
        console = Console(file=console.file, width=132, force_terminal=False, no_color=True)
    t = Table(title=escape(f"Scenario comparison — {paths:,} paths, seed {seed}, chunk size {chunk_size:,} (same for all)"),
              caption=escape("P(call), E[hidden]: hidden-debt call (fiscal); ± SE: one standard error; E[bond]: "
                             "explicit special-bond burden; PD: standalone bank view; IRR: SOE equity; "
                             "money in 万元 (PV at each programme's rate)"))
    t.add_column("scenario", style="bold", no_wrap=True)
    for c in COLUMNS:
        t.add_column(escape(c.short), justify="right", no_wrap=True)
    for r in rows:
        t.add_row(escape(r["scenario"]), *(fmt(c.catalogue, r[c.key], suffix=False) for c in COLUMNS))
    console.print(t)
