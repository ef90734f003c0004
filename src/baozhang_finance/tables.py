"""Terminal tables (rich) of a Result: the three lenses side by side, concise."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def _wan(x) -> str:
    return "—" if x is None else f"{x / 1e4:,.0f} 万"


def _num(x, fmt="{:.2f}") -> str:
    return "—" if x is None else fmt.format(x)


def summary_rows(s: dict) -> list[tuple[str, str, str]]:
    """(lens, metric, value) rows of the three-lens table."""
    hd, cov, bank, soe, fis = s["hidden_debt"], s["coverage"], s["bank"], s["soe"], s["fiscal"]
    se = s["run"]["standard_errors"]
    rows = [
        ("fiscal", "P(self-financing: no support at all)", _pct(cov["p_self_financing"])),
        ("fiscal", "P(hidden-debt call) ± SE", f"{_pct(hd['p_call'])} ± {_pct(se['p_call'])}"),
        ("fiscal", "expected hidden debt (PV) ± SE", f"{_wan(hd['expected_pv'])} ± {_wan(se['expected_pv'])}"),
        ("fiscal", "VaR95 / CVaR95 of hidden debt (PV)", f"{_wan(hd['var95_pv'])} / {_wan(hd['cvar95_pv'])}"),
        ("fiscal", "first call year (median)", _num(hd["first_call_year"]["p50"], "{:.0f}")),
        ("fiscal", "peak call / fiscal revenue (p95)", _pct(hd["peak_share_of_fiscal_revenue"]["p95"])),
        ("fiscal", "explicit bond burden: P / PV", f"{_pct(fis['explicit_bond_burden']['p_call'])} / {_wan(fis['explicit_bond_burden']['expected_pv'])}"),
        ("fiscal", "本息覆盖倍数 bond coverage (p50)", _num(cov["bond_coverage_ratio"]["p50"])),
        ("bank", "min DSCR p05 / p50", f"{_num(cov['dscr_min']['p05'])} / {_num(cov['dscr_min']['p50'])}"),
        ("bank", "LLCR p50", _num(cov["llcr"]["p50"])),
    ]
    if bank.get("has_bank_debt"):
        rows += [
            ("bank", "PD over the loan life (standalone)", _pct(bank["pd_lifetime"])),
            ("bank", "LGD mean / expected loss", f"{_pct(bank['lgd_mean'])} / {_wan(bank['expected_loss'])}"),
            ("bank", "grade (risk weight)", f"{bank['grade']} ({_pct(bank['risk_weight'])})"),
        ]
    rows += [
        ("SOE", "equity IRR p05 / p50 / p95", " / ".join(_pct(soe["equity_irr"][k]) for k in ("p05", "p50", "p95"))),
        ("SOE", "equity NPV p50", _wan(soe["npv"]["p50"])),
        ("SOE", "peak funding need p50 / p95", f"{_wan(soe['peak_funding_need']['p50'])} / {_wan(soe['peak_funding_need']['p95'])}"),
    ]
    return rows


def print_summary(result, console: Console | None = None) -> None:
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
        t.add_row(lens if lens != last else "", metric, value)
        last = lens
    console.print(t)
