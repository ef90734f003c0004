"""What the reports' footnotes and headline choices rest on, read from the scenario and the summary (no number is
computed here):

* the two present-value rates: the budget's payments (hidden-debt calls, the explicit bond burden, government
  money) are discounted at the **fiscal** rate — the one the run's plan carries, ``plan.support.fiscal_rate``
  (:func:`engine.plan.compile_support`: ``programme.fiscal_discount_rate``, absent the local-bond yield, 2 %, under
  the default conventions, ``discount_rate`` under legacy) — and the SOE's figures (equity NPV, SOE support) at the
  programme's ``discount_rate``;
* the headline SOE return: the monthly equity IRR / NPV with the terminal value at income value (NOI ÷ cap rate:
  保租房 units may not be sold at market, docs/lenses.md), ``soe.equity_irr_monthly`` / ``soe.npv_monthly``; the
  market-value figure (``soe.equity_irr`` / ``soe.npv``) beside it. A summary without the monthly keys (an old
  run) headlines the market-value figure as before.
"""

from __future__ import annotations

from baozhang_finance.engine.plan import compile_support
from baozhang_finance.report.format import DEFAULT_LANG, pct, text

#: (headline, secondary) summary keys of the SOE return: income terminal value first, market value second
IRR_KEYS = ("soe.equity_irr_monthly", "soe.equity_irr")
NPV_KEYS = ("soe.npv_monthly", "soe.npv")


def pv_rates(source) -> tuple[float, float]:
    """(fiscal rate, programme rate): the annual rates the run discounted the government figures and the SOE's at.

    The fiscal rate is read from the compiled plan, ``plan.support.fiscal_rate`` — the rate behind
    ``fiscal_discount_m``, the factors the engine and measures/fiscal.py discount the budget's payments with
    (:func:`engine.plan.compile_support` decides it: ``programme.fiscal_discount_rate``, absent the local-bond yield
    or, under legacy, the programme rate) — so a footnote cannot disagree with the run. The programme rate is
    ``programme.discount_rate``, which :func:`engine.plan.compile_timing` compiles as it stands.

    ``source``: a Result (its plan and scenario), or a Scenario (its support compiled by ``compile_support``, the
    engine's own rule, e.g. for ``baozhang compare``'s caption before anything ran).
    """
    plan = getattr(source, "plan", None)
    scenario = getattr(source, "scenario", source)
    support = plan.support if plan is not None else compile_support(scenario, 12)
    return float(support.fiscal_rate), float(scenario.programme.discount_rate)


def income_tv_headline(s: dict) -> bool:
    """Whether the summary holds the income-value SOE return (it then is the headline)."""
    soe = s.get("soe", {})
    return isinstance(soe.get("equity_irr_monthly"), dict) and isinstance(soe.get("npv_monthly"), dict)


def cap_rate(s: dict) -> float | None:
    return (s.get("soe", {}).get("terminal_value_income") or {}).get("cap_rate")


def pv_note(source, lang: str = DEFAULT_LANG) -> str:
    """"PV: government figures … at the fiscal discount rate 2.0 %, SOE figures at the programme rate 4.0 %" — the
    rates of :func:`pv_rates` (``source``: a Result, or a Scenario)."""
    fiscal, soe = pv_rates(source)
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
