"""Terminal tables (rich) of a Result: the three lenses side by side, concise (about 25 rows, 80 columns); the
``baozhang compare`` table and the ``baozhang check`` findings.

Every label comes from the output catalogue (``text.term.*``, ``text.col.*``) in ``lang``: ``"zh"`` Chinese,
``"en"`` English; ``"both"`` keeps a row on one line of an 80-column terminal: English metric labels with the lens
and the column headers in both languages.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from baozhang_finance.analysis.compare import COLUMNS
from baozhang_finance.model.compliance import rules_for, unverifiable
from baozhang_finance.report.findings import PLAN, all_findings, finding_message, source_text
from baozhang_finance.report.format import fmt, grade, pct, pm, several, text, wan
from baozhang_finance.report.notes import income_tv_headline, pv_note, tv_note


def _short(name: str, lang: str) -> str:
    """A terminal label: one language, English in "both" (the lens column carries the Chinese)."""
    return text(name, "zh" if lang == "zh" else "en")


def _trio(key: str, d: dict, stats=("p05", "p50", "p95"), lang: str = "en") -> str:
    return several(key, d, stats, lang=lang)


def summary_rows(s: dict, lang: str = "both") -> list[tuple[str, str, str]]:
    """(lens, metric, value) rows of the three-lens table, from a summary dict (DESIGN §7 keys).

    Labels stay within 31 characters and values within 26, so the table fits an 80-column terminal.
    """
    hd, cov, bank, soe, fis = s["hidden_debt"], s["coverage"], s["bank"], s["soe"], s["fiscal"]
    se = s["run"]["standard_errors"]
    bond = fis["explicit_bond_burden"]
    share = hd["peak_share_of_fiscal_revenue"]
    F, B, S = (text(f"term.{k}", lang) for k in ("fiscal", "bank", "soe"))
    t = lambda name, **kw: text(name, "zh" if lang == "zh" else "en", **kw)  # noqa: E731
    rows = [
        (F, t("term.p_self"), fmt("coverage.p_self_financing", cov["p_self_financing"])),
        (F, t("term.p_call"), pm("hidden_debt.p_call", hd["p_call"], se["p_call"])),
        (F, t("term.pv"), pm("hidden_debt.expected_pv", hd["expected_pv"], se["expected_pv"])),
        (F, t("term.var95"), several("hidden_debt.var95_pv", hd, ("var95_pv", "cvar95_pv"))),
        (F, t("term.var99"), several("hidden_debt.var99_pv", hd, ("var99_pv", "cvar99_pv"))),
        (F, t("term.first_call"), _trio("hidden_debt.first_call_year", hd["first_call_year"])),
        (F, t("term.peak_share"), _trio("hidden_debt.peak_share_of_fiscal_revenue", share, ("p50", "p95"))),
        (F, t("term.bond"), f"{pct(bond['p_call'])} / {wan(bond['expected_pv'])}"),
    ] + coverage_rows(s, lang)
    cls = {r["class"]: r for r in fis.get("classification", [])}
    if cls:
        rows.append((F, t("term.gap"),
                     " / ".join(pct(cls[k]["share"], 0) for k in ("explicit_bond_burden", "soe_explicit_support",
                                                                       "hidden_debt_call") if k in cls)))
    if bank.get("has_bank_debt"):
        ttd = bank.get("time_to_default", {})
        crit = bank.get("grade_criteria", {})
        y0, y1 = bank["dscr_test_years"]
        rows += [
            (B, t("term.pd"), f"{fmt('bank.pd_lifetime', bank['pd_lifetime'])} / {fmt('bank.pd_annualised', bank.get('pd_annualised'))}"),
            (B, t("term.default_year"),
             " / ".join(fmt(f"bank.time_to_default.{k}", ttd.get(k), lang=lang) for k in ("p05_years", "p50_years", "p95_years"))),
            (B, t("term.ead_lgd_el"),
             f"{wan(bank.get('ead', {}).get('mean'))} / {pct(bank['lgd_mean'])} / {wan(bank['expected_loss'])}"),
            (B, t("term.el_rate"), fmt("bank.expected_loss_rate", bank.get("expected_loss_rate"))),
            (B, t("term.dscr", y0=y0, y1=y1),
             _trio("bank.dscr_bank_min", bank["dscr_bank_min"], ("p05", "p50"))),
            (B, t("term.p_dscr"), fmt("bank.p_dscr_bank_min_below_1", bank.get("p_dscr_bank_min_below_1"))),
            (B, t("term.ltv"), _trio("bank.ltv_peak", bank["ltv_peak"], ("p50", "p95"))),
            (B, t("term.grade"), f"{grade(bank['grade'], lang)} ({fmt('bank.risk_weight', bank['risk_weight'])})"),
            (B, t("term.grade_by"),
             " / ".join(grade(crit.get(k, {}).get("category"), lang) for k in ("pd_annualised", "dscr_min_p50", "ltv_peak_p50"))),
        ]
    else:
        rows.append((B, t("term.bank_debt"), t("word.none")))
    rows += [
        (B, t("term.llcr"), _trio("coverage.llcr", cov["llcr"], ("p05", "p50"))),
        *soe_return_rows(s, lang),
        (S, t("term.funding"), _trio("soe.peak_funding_need", soe["peak_funding_need"], ("p50", "p95"))),
    ]
    lk = soe.get("lockup_years")
    if isinstance(lk, dict):
        rows.append((S, t("term.lockup"), text("term.lockup_p", "zh" if lang == "zh" else "en",
                                               years=_trio('soe.lockup_years', lk, ('mean', 'p95'), lang),
                                               p=pct(lk.get('p_any'), 0))))
    return rows


def soe_return_rows(s: dict, lang: str = "both") -> list[tuple[str, str, str]]:
    """The SOE return rows: the monthly equity IRR and NPV with the terminal value at income value (the headline,
    :mod:`report.notes`), each with the market-value figure under it; an old summary without them: the
    market-value rows as before."""
    S, soe = text("term.soe", lang), s["soe"]
    t = lambda name: text(name, "zh" if lang == "zh" else "en")  # noqa: E731
    market = [(S, t("term.irr"), _trio("soe.equity_irr", soe["equity_irr"])),
              (S, t("term.npv"), _trio("soe.npv", soe["npv"]))]
    if not income_tv_headline(s):
        return market
    return [(S, t("term.irr_income"), _trio("soe.equity_irr_monthly", soe["equity_irr_monthly"])),
            (S, t("term.market_tv"), market[0][2]),
            (S, t("term.npv_income"), _trio("soe.npv_monthly", soe["npv_monthly"])),
            (S, t("term.market_tv"), market[1][2])]


def footnotes(result, lang: str = "both") -> list[str]:
    """The notes under the three-lens table (and in the xlsx Guide): units and SE, the two PV rates with their
    values, the income terminal value of the SOE return."""
    one = "zh" if lang == "zh" else "en"
    notes = [text("term.footnote", one), pv_note(result, one), tv_note(result.summary, one)]
    return [n for n in notes if n]


def headline_coverage_key(s: dict) -> str:
    """The summary key of the headline 本息覆盖倍数: ``coverage.bond_coverage_all_financing`` (the policy's 组合融资
    test: CFADS ÷ bond + bank service) when the programme has bank loans and that test differs from the bond-only
    ratio (the bond projects carry bank service); else ``coverage.bond_coverage_ratio`` (bonds alone)."""
    cov, bank = s.get("coverage", {}), s.get("bank", {})
    allf, bond = cov.get("bond_coverage_all_financing") or {}, cov.get("bond_coverage_ratio") or {}
    if bank.get("has_bank_debt") and allf.get("p50") is not None and \
            (allf.get("p05"), allf.get("p50")) != (bond.get("p05"), bond.get("p50")):
        return "coverage.bond_coverage_all_financing"
    return "coverage.bond_coverage_ratio"


def coverage_rows(s: dict, lang: str = "both") -> list[tuple[str, str, str]]:
    """The 本息覆盖倍数 rows of the three-lens table: with market financing the coverage over all financing, then
    the bond-only ratio labelled "bonds only, before bank service"; without it the bond-only ratio alone."""
    F, cov = text("term.fiscal", lang), s["coverage"]
    t = lambda name: text(name, "zh" if lang == "zh" else "en")  # noqa: E731
    bond = (F, "本息覆盖倍数 coverage p05/p50" if lang == "both" else t("term.coverage"),
            _trio("coverage.bond_coverage_ratio", cov["bond_coverage_ratio"], ("p05", "p50")))
    if headline_coverage_key(s) == "coverage.bond_coverage_ratio":
        return [bond]
    return [(F, t("term.coverage_all_both" if lang == "both" else "term.coverage_all"), _trio("coverage.bond_coverage_all_financing",
                                              cov["bond_coverage_all_financing"], ("p05", "p50"))),
            (F, t("term.coverage_bond_only"), bond[2])]


def print_summary(result, console: Console | None = None, lang: str = "both") -> None:
    """Print the three-lens table of a Result in ``lang`` (zh | en | both)."""
    console = console or Console()
    s = result.summary
    r = s["run"]
    one = "zh" if lang == "zh" else "en"
    title = text("term.title", one, name=s["programme"]["name"], paths=f"{r['paths']:,}", seed=r["seed"])
    if r.get("stress"):
        title += text("term.stress", one, stress=r["stress"])
    t = Table(title=escape(title), show_lines=False)
    t.add_column(text("col.lens", lang), style="bold")
    t.add_column(text("col.metric", lang))
    t.add_column(text("col.value", lang), justify="right")
    last = None
    for lens, metric, value in summary_rows(s, lang):
        if last is not None and lens != last:
            t.add_section()
        t.add_row(lens if lens != last else "", metric, value)
        last = lens
    console.print(t)
    for note in footnotes(result, lang):
        console.print(note, style="dim", markup=False)
    for line in findings_lines(result, lang):
        console.print(line, markup=False, highlight=False)


def findings_lines(result, lang: str = "both") -> list[str]:
    """The policy findings under the three-lens table: the plan's static rules and the run's results
    (``coverage.findings`` …) together, one line each; one line "no policy finding" only when both are empty."""
    one = "zh" if lang == "zh" else "en"
    found, error = all_findings(result)
    lines = [text("html.check_failed", one, error=error)] if error else []
    if not found:
        return lines + [text("term.no_policy_finding", one)]
    n_run = sum(1 for f in found if f["source"] != PLAN)
    lines.append(text("term.policy_findings", one, n=len(found), plan=len(found) - n_run, run=n_run))
    for f in found:
        lines.append(text("term.finding_line", one, source=source_text(f["source"], one), rule=f.get("rule_id", ""),
                          actual=f.get("actual", ""), limit=f.get("limit", ""), message=finding_message(f, one)))
    return lines


def print_comparison(rows: list[dict], console, paths: int, seed: int, chunk_size: int, lang: str = "both",
                     fiscal_rates: list[float] | None = None) -> None:
    """The ``baozhang compare`` table: one row per scenario (:data:`analysis.compare.COLUMNS`), money in 万元;
    short column headers from the catalogue (``text.compare.<column>``), Chinese in ``lang="zh"``; the caption
    states the fiscal discount rate of the government PVs (``fiscal_rates``: one per scenario, :func:`report.notes
    .pv_rates`; "of each programme" when they differ or are not given)."""
    if not console.is_terminal and console.width < 132:  # a pipe or a log: do not squeeze the columns to 80
        console = Console(file=console.file, width=132, force_terminal=False, no_color=True)
    one = "zh" if lang == "zh" else "en"
    same = fiscal_rates and len(set(fiscal_rates)) == 1
    fiscal = text("term.compare_rate_one", one, rate=pct(fiscal_rates[0])) if same else text("term.compare_rate_each", one)
    t = Table(title=escape(text("term.compare_title", one, paths=f"{paths:,}", seed=seed, chunk=f"{chunk_size:,}")),
              caption=escape(text("term.compare_caption", one, fiscal=fiscal)))
    t.add_column(text("col.scenario", lang), style="bold", no_wrap=True)
    for c in COLUMNS:
        t.add_column(escape(text(f"compare.{c.key}", one)), justify="right", no_wrap=True)
    for r in rows:
        t.add_row(escape(r["scenario"]), *(fmt(c.catalogue, r[c.key], suffix=False) for c in COLUMNS))
    console.print(t)


def print_findings(sc, findings: list, console, source: str | None = None, lang: str = "both") -> None:
    """``baozhang check``: the findings as a rich table (or a one-line all-clear), then any unverifiable rules;
    headers and sentences in ``lang`` (the rule's own message and document names as the rule set writes them)."""
    one = "zh" if lang == "zh" else "en"
    name = source or sc.programme.name
    sets = ", ".join(sc.policy.rule_sets)
    n_rules = len(rules_for(sc.policy.rule_sets))
    if not console.is_terminal and console.width < 132:  # a pipe or a log: do not squeeze the table to 80 columns
        console = Console(file=console.file, width=132, force_terminal=False, no_color=True)
    if not findings:
        console.print(text("term.compliant", one, name=name, n=n_rules, sets=sets), markup=False, highlight=False)
    else:
        t = Table(title=escape(text("term.findings", one, name=name, n=len(findings), sets=sets)), show_lines=False)
        for col in ("rule_id", "document", "clause", "project", "actual", "limit"):
            t.add_column(text(f"col.{col}", lang), overflow="fold", no_wrap=col in ("rule_id", "document", "clause"))
        for f in findings:
            t.add_row(*(escape(x) for x in (f.rule_id, f.document, f.clause, f.project, f.actual, f.limit)))
        console.print(t)
        for f in findings:
            console.print(f"  {f.rule_id}: {f.message}", highlight=False, markup=False)
    for n in unverifiable(sc):
        console.print(text("term.not_verifiable", one, rule=n.rule_id, document=n.document, clause=n.clause,
                           project=n.project, reason=n.reason), style="dim", highlight=False, markup=False)
