"""What the reports' footnotes and headline choices rest on, read from the scenario and the summary (no number is
computed here):

* the two present-value rates: the budget's payments (hidden-debt calls, the explicit bond burden, government
  money) are discounted at the **fiscal** rate — ``programme.fiscal_discount_rate``, absent: the local-bond yield
  (:data:`model.support.LOCAL_BOND_YIELD`, 2 %) under the default conventions, ``discount_rate`` under legacy (as
  :func:`engine.plan.compile_support` sets it) — and the SOE's figures (equity NPV, SOE support) at the
  programme's ``discount_rate``;
* the headline SOE return: the monthly equity IRR / NPV with the terminal value at income value (NOI ÷ cap rate:
  保租房 units may not be sold at market, docs/lenses.md), ``soe.equity_irr_monthly`` / ``soe.npv_monthly``; the
  market-value figure (``soe.equity_irr`` / ``soe.npv``) beside it. A summary without the monthly keys (an old
  run) headlines the market-value figure as before.
"""

from __future__ import annotations

from baozhang_finance.model.support import LOCAL_BOND_YIELD
from baozhang_finance.report.format import DEFAULT_LANG, pct, text

#: (headline, secondary) summary keys of the SOE return: income terminal value first, market value second
IRR_KEYS = ("soe.equity_irr_monthly", "soe.equity_irr")
NPV_KEYS = ("soe.npv_monthly", "soe.npv")


def pv_rates(scenario) -> tuple[float, float]:
    """(fiscal rate, programme rate): the annual rates of the government figures' PVs and of the SOE's."""
    prog = scenario.programme
    fiscal = prog.fiscal_discount_rate
    if fiscal is None:
        fiscal = prog.discount_rate if scenario.support.conventions == "legacy" else LOCAL_BOND_YIELD
    return float(fiscal), float(prog.discount_rate)


def income_tv_headline(s: dict) -> bool:
    """Whether the summary holds the income-value SOE return (it then is the headline)."""
    soe = s.get("soe", {})
    return isinstance(soe.get("equity_irr_monthly"), dict) and isinstance(soe.get("npv_monthly"), dict)


def cap_rate(s: dict) -> float | None:
    return (s.get("soe", {}).get("terminal_value_income") or {}).get("cap_rate")


def pv_note(scenario, lang: str = DEFAULT_LANG) -> str:
    """"PV: government figures … at the fiscal discount rate 2.0 %, SOE figures at the programme rate 4.0 %"."""
    fiscal, soe = pv_rates(scenario)
    return text("note.pv_rates", lang, fiscal=_nb(pct(fiscal)), soe=_nb(pct(soe)))


def tv_note(s: dict, lang: str = DEFAULT_LANG) -> str:
    """The income-terminal-value note of the headline SOE return ("" when the summary has no such figure)."""
    if not income_tv_headline(s):
        return ""
    cap = cap_rate(s)
    return text("note.income_tv", lang, cap=_nb(pct(cap)) if cap is not None else "—")


def _nb(x: str) -> str:
    """A number and its unit kept on one line (a no-break space): ``4.2 %`` does not wrap between 4.2 and %."""
    return x.replace(" ", "\u00a0")


def pd_nosupport_by_construction(result) -> bool:
    """Whether ``bank.pd_without_soe_support`` is 100 % by construction: every path defaults in month 0 of that
    view (``default_month_nosupport`` = 0 on every path) — the bank's service needs SOE money before any rent comes
    in (e.g. interest in the renovation months), so the figure says nothing about credit quality."""
    try:
        m = result.col("default_month_nosupport")
    except (KeyError, AttributeError, ValueError):
        return False
    return len(m) > 0 and bool((m == 0).all())
