"""The policy findings of a run, as every report shows them: the static rules of the plan
(:func:`model.compliance.check_scenario`, read from the scenario alone) **and** the run-time findings the summary
holds (``coverage.findings`` — the 本息覆盖倍数 floor and ceiling on the simulated medians — and any other
``findings`` list of summary.json). A report says "no policy finding" only when both are empty.

Each finding is a dict with the columns of :class:`model.compliance.Finding` plus ``source``: ``"plan"`` (the
static check) or the dotted summary section it came from (``"coverage"``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from baozhang_finance.model.compliance import check_scenario
from baozhang_finance.measures.catalogue import has
from baozhang_finance.report.format import DEFAULT_LANG, label, text

#: the source of a static finding (a rule read off the scenario, before any simulation)
PLAN = "plan"


def run_findings(summary: dict) -> list[dict]:
    """Every finding a ``findings`` list of the summary holds (``coverage.findings`` …), each with ``source`` =
    the dotted section it sits in; in the summary's order."""
    out: list[dict] = []

    def walk(node: Any, where: str) -> None:
        if not isinstance(node, dict):
            return
        for k, v in node.items():
            here = f"{where}.{k}" if where else str(k)
            if k == "findings" and isinstance(v, list):
                out.extend({"source": where or "summary", **_record(f)} for f in v)
            else:
                walk(v, here)

    walk(summary, "")
    return out


def plan_findings(scenario) -> list[dict]:
    """The static findings of :func:`check_scenario` as dicts with ``source = "plan"`` (an exception propagates:
    the caller says the check failed)."""
    return [{"source": PLAN, **_record(f)} for f in check_scenario(scenario)]


def all_findings(result) -> tuple[list[dict], str | None]:
    """(findings, error): the plan's static findings then the run's; ``error`` is the static check's exception
    text when it failed (the run-time findings are still returned)."""
    error = None
    try:
        static = plan_findings(result.scenario)
    except Exception as exc:  # a rule error must not lose the run's report
        static, error = [], f"{type(exc).__name__}: {exc}"
    return static + run_findings(result.summary), error


def _record(f: Any) -> dict:
    if dataclasses.is_dataclass(f):
        return dataclasses.asdict(f)
    if isinstance(f, dict):
        return dict(f)
    return {"message": str(f)}


def source_text(source: str, lang: str = DEFAULT_LANG) -> str:
    """Where a finding comes from, in ``lang``: "plan (static rules)" or "run result (summary.json coverage)"."""
    if source == PLAN:
        return text("finding.plan", lang)
    return text("finding.run", lang, where=source)


def finding_message(f: dict, lang: str = DEFAULT_LANG) -> str:
    """A finding's sentence in ``lang``: a run-time coverage finding (``coverage.floor.<measure>`` /
    ``coverage.ceiling.<measure>``) from the catalogue's label of the measure; any other as its rule writes it."""
    parts = str(f.get("rule_id", "")).split(".")
    if lang == "both" and len(parts) == 3 and parts[0] == "coverage":
        return f"{finding_message(f, 'en')} {finding_message(f, 'zh')}"
    if len(parts) == 3 and parts[0] == "coverage" and parts[1] in ("floor", "ceiling") and has(f"coverage.{parts[2]}"):
        limit = str(f.get("limit", "")).lstrip("≥≤ ").strip()
        return text(f"finding.coverage.{parts[1]}", lang, measure=label(f"coverage.{parts[2]}", lang),
                    actual=f.get("actual", ""), limit=limit)
    return str(f.get("message", ""))
