"""Terminal tables (rich) of a Result: the three lenses side by side, concise (about 25 rows, 80 columns)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _pct(x, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f} %"


def _wan(x) -> str:
    """Yuan shown in 万元 (10,000 yuan)."""
    return "—" if x is None else f"{x / 1e4:,.0f} 万"


def _num(x, fmt="{:.2f}") -> str:
    return "—" if x is None else fmt.format(x)


def _trio(d: dict, keys=("p05", "p50", "p95"), f=_num) -> str:
    return " / ".join(f(d.get(k)) for k in keys)


def _wan3(d: dict, keys=("p05", "p50", "p95")) -> str:
    """Three amounts in 万元 with one unit: "-1,957 / -241 / 2,723 万"."""
    return " / ".join("—" if d.get(k) is None else f"{d[k] / 1e4:,.0f}" for k in keys) + " 万"


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
        (F, "P(self-financing, no support)", _pct(cov["p_self_financing"])),
        (F, "P(hidden-debt call) ± SE", f"{_pct(hd['p_call'])} ± {_pct(se['p_call'])}"),
        (F, "hidden debt PV: mean ± SE", f"{_wan(hd['expected_pv'])} ± {_wan(se['expected_pv'])}"),
        (F, "hidden debt PV: VaR95 / CVaR95", _wan3(hd, ("var95_pv", "cvar95_pv"))),
        (F, "hidden debt PV: VaR99 / CVaR99", _wan3(hd, ("var99_pv", "cvar99_pv"))),
        (F, "first call year p05/p50/p95", _trio(hd["first_call_year"], f=lambda v: _num(v, "{:.0f}"))),
        (F, "peak call ÷ fiscal rev. p50/p95", f"{_pct(share['p50'], 3)} / {_pct(share['p95'], 3)}"),
        (F, "explicit bond burden: P / PV", f"{_pct(bond['p_call'])} / {_wan(bond['expected_pv'])}"),
        (F, "本息覆盖倍数 coverage p05/p50",
         f"{_num(cov['bond_coverage_ratio']['p05'])} / {_num(cov['bond_coverage_ratio']['p50'])}"),
    ]
    cls = {r["class"]: r for r in fis.get("classification", [])}
    if cls:
        rows.append((F, "gap paid by bond / SOE / hidden",
                     " / ".join(_pct(cls[k]["share"], 0) for k in ("explicit_bond_burden", "soe_explicit_support",
                                                                       "hidden_debt_call") if k in cls)))
    if bank.get("has_bank_debt"):
        ttd = bank.get("time_to_default", {})
        crit = bank.get("grade_criteria", {})
        y0, y1 = bank["dscr_test_years"]
        rows += [
            (B, "PD life (standalone) / annual", f"{_pct(bank['pd_lifetime'])} / {_pct(bank.get('pd_annualised'), 2)}"),
            (B, "default year p05/p50/p95",
             " / ".join(_num(ttd.get(k), "{:.1f}") for k in ("p05_years", "p50_years", "p95_years"))),
            (B, "EAD / LGD / EL (means)",
             f"{_wan(bank.get('ead', {}).get('mean'))} / {_pct(bank['lgd_mean'])} / {_wan(bank['expected_loss'])}"),
            (B, "EL rate (EL ÷ principal)", _pct(bank.get("expected_loss_rate"), 2)),
            (B, f"bank DSCR min y{y0}–{y1} p05/p50",
             f"{_num(bank['dscr_bank_min']['p05'])} / {_num(bank['dscr_bank_min']['p50'])}"),
            (B, "P(bank DSCR min < 1)", _pct(bank.get("p_dscr_bank_min_below_1"))),
            (B, "peak LTV p50 / p95", f"{_pct(bank['ltv_peak']['p50'])} / {_pct(bank['ltv_peak']['p95'])}"),
            (B, "slotting grade (risk weight)", f"{bank['grade']} ({_pct(bank['risk_weight'], 0)})"),
            (B, "  by PD / DSCR / LTV",
             " / ".join(crit.get(k, {}).get("category", "—") for k in ("pd_annualised", "dscr_min_p50", "ltv_peak_p50"))),
        ]
    else:
        rows.append((B, "bank debt", "none"))
    rows += [
        (B, "LLCR p05 / p50", f"{_num(cov['llcr']['p05'])} / {_num(cov['llcr']['p50'])}"),
        (S, "equity IRR p05/p50/p95", _trio(soe["equity_irr"], f=_pct)),
        (S, "equity NPV p05/p50/p95", _wan3(soe["npv"])),
        (S, "peak funding need p50/p95", _wan3(soe["peak_funding_need"], ("p50", "p95"))),
    ]
    lk = soe.get("lockup_years")
    if isinstance(lk, dict):
        rows.append((S, "lock-up years mean/p95 (P any)",
                     f"{_num(lk.get('mean'), '{:.1f}')} / {_num(lk.get('p95'), '{:.1f}')} ({_pct(lk.get('p_any'), 0)})"))
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
    console.print("万 = 10,000 yuan; PV at the programme discount rate; bank view: standalone.", style="dim")
