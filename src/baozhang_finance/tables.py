"""Terminal tables (rich) of a Result: the three lenses side by side, concise (about 30 rows, 80 columns)."""

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


def summary_rows(s: dict) -> list[tuple[str, str, str]]:
    """(lens, metric, value) rows of the three-lens table, from a summary dict (DESIGN §7 keys)."""
    hd, cov, bank, soe, fis = s["hidden_debt"], s["coverage"], s["bank"], s["soe"], s["fiscal"]
    se = s["run"]["standard_errors"]
    bond = fis["explicit_bond_burden"]
    rows = [
        ("fiscal 财政", "P(self-financing: no support at all)", _pct(cov["p_self_financing"])),
        ("fiscal 财政", "P(hidden-debt call 隐性债务) ± SE", f"{_pct(hd['p_call'])} ± {_pct(se['p_call'])}"),
        ("fiscal 财政", "hidden debt PV: expected ± SE", f"{_wan(hd['expected_pv'])} ± {_wan(se['expected_pv'])}"),
        ("fiscal 财政", "hidden debt PV: VaR95 / CVaR95", f"{_wan(hd['var95_pv'])} / {_wan(hd['cvar95_pv'])}"),
        ("fiscal 财政", "hidden debt PV: VaR99 / CVaR99", f"{_wan(hd.get('var99_pv'))} / {_wan(hd.get('cvar99_pv'))}"),
        ("fiscal 财政", "first call year p05 / p50 / p95",
         _trio(hd["first_call_year"], f=lambda v: _num(v, "{:.0f}"))),
        ("fiscal 财政", "peak yearly call / fiscal revenue p50 / p95",
         f"{_pct(hd['peak_share_of_fiscal_revenue']['p50'], 3)} / {_pct(hd['peak_share_of_fiscal_revenue']['p95'], 3)}"),
        ("fiscal 财政", "explicit bond burden 显性: P / expected PV", f"{_pct(bond['p_call'])} / {_wan(bond['expected_pv'])}"),
        ("fiscal 财政", "本息覆盖倍数 bond coverage p05 / p50",
         f"{_num(cov['bond_coverage_ratio']['p05'])} / {_num(cov['bond_coverage_ratio']['p50'])}"),
    ]
    cls = {r["class"]: r for r in fis.get("classification", [])}
    if cls:
        rows.append(("fiscal 财政", "who pays the gap: bond / SOE / hidden (PV share)",
                     " / ".join(_pct(cls[k]["share"], 0) for k in ("explicit_bond_burden", "soe_explicit_support",
                                                                       "hidden_debt_call") if k in cls)))
    if bank.get("has_bank_debt"):
        ttd = bank.get("time_to_default", {})
        crit = bank.get("grade_criteria", {})
        rows += [
            ("bank 银行", "PD over the loan life (standalone) / annualised",
             f"{_pct(bank['pd_lifetime'])} / {_pct(bank.get('pd_annualised'), 2)}"),
            ("bank 银行", "time to default p05 / p50 / p95 (years)",
             " / ".join(_num(ttd.get(k), "{:.1f}") for k in ("p05_years", "p50_years", "p95_years"))),
            ("bank 银行", "EAD mean / LGD mean / expected loss",
             f"{_wan(bank.get('ead', {}).get('mean'))} / {_pct(bank['lgd_mean'])} / {_wan(bank['expected_loss'])}"),
            ("bank 银行", "expected loss rate (EL / principal)", _pct(bank.get("expected_loss_rate"), 2)),
            ("bank 银行", f"bank DSCR min, years {bank['dscr_test_years'][0]}–{bank['dscr_test_years'][1]}: p05 / p50",
             f"{_num(bank['dscr_bank_min']['p05'])} / {_num(bank['dscr_bank_min']['p50'])}"),
            ("bank 银行", "P(bank DSCR min < 1)", _pct(bank.get("p_dscr_bank_min_below_1"))),
            ("bank 银行", "peak LTV p50 / p95", f"{_pct(bank['ltv_peak']['p50'])} / {_pct(bank['ltv_peak']['p95'])}"),
            ("bank 银行", "slotting grade (risk weight)", f"{bank['grade']} ({_pct(bank['risk_weight'], 0)})"),
            ("bank 银行", "  by PD / DSCR / LTV",
             " / ".join(crit.get(k, {}).get("category", "—") for k in ("pd_annualised", "dscr_min_p50", "ltv_peak_p50"))),
        ]
    else:
        rows.append(("bank 银行", "bank debt", "none"))
    rows += [
        ("bank 银行", "LLCR p05 / p50", f"{_num(cov['llcr']['p05'])} / {_num(cov['llcr']['p50'])}"),
        ("SOE 国企", "equity IRR p05 / p50 / p95", _trio(soe["equity_irr"], f=_pct)),
        ("SOE 国企", "equity NPV p05 / p50 / p95", _trio(soe["npv"], f=_wan)),
        ("SOE 国企", "peak funding need p50 / p95",
         f"{_wan(soe['peak_funding_need']['p50'])} / {_wan(soe['peak_funding_need']['p95'])}"),
    ]
    lk = soe.get("lockup_years")
    if isinstance(lk, dict):
        rows.append(("SOE 国企", "years in lock-up: mean / p95 (P any)",
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
    console.print("万 = 10,000 yuan; PV at the programme discount rate; bank view standalone (no government support).",
                  style="dim")
