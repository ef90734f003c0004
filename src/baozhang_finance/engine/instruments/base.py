"""Ranked tranches: what the waterfall and the support stage read of a debt instrument.

Every debt instrument of a project is a **tranche**: a claim on the project's cash that the waterfall pays in
order of ``rank`` (0 first), after operating costs. What is still unpaid after the project's cash, its DSRA and
(when allowed) other projects' surplus is covered, in the order operating costs → tranches by rank, first by SOE
support — for tranches whose ``soe_may_pay`` is true — and then by the government. The tranche's
``government_class`` says what a government payment of it is:

* ``"hidden"`` — money the budget pays for debt that is not government debt: the **hidden-debt call**
  (bank loans); an unmet shortfall on a ``"hidden"`` tranche is also the standalone (bank) view's default;
* ``"bond"`` — service of explicit government debt that failed to self-balance: the **explicit bond burden**
  (special bonds).

``waterfall.seniority`` is a preset of ranks (:data:`SENIORITY_PRESETS`): ``"bank_first"`` ranks bank loans 0,
SOE corporate bonds 1 and special bonds 2; ``"bonds_first"`` special bonds 0, bank loans 1, SOE bonds 2 (the SOE's
own bonds always after the bank that lends against the units; docs/decisions.md).

A new instrument (an SOE corporate bond 公司信用类债券, a refinancing bond, a shareholder loan, …) is one module
in this package plus its scenario table in :mod:`baozhang_finance.model.scenario`. The module must provide:

1. ``TRANCHE``: a :class:`Tranche` with its ``kind`` (the name the presets and ledgers use), its government
   class and whether SOE support may pay it; its rank comes from the scenario's seniority preset (add the kind
   to :data:`SENIORITY_PRESETS`) or the instrument's own table;
2. a compile function, called from :mod:`baozhang_finance.engine.plan`, that turns the scenario table into
   per-month arrays (draws, deterministic schedules) or per-instrument constants (rates, terms, rules) —
   annual rates become monthly there and nowhere else;
3. a month function, called from the loans stage of :mod:`baozhang_finance.engine.stages`, that returns the
   service due this month per project, shape ``(P, n)``, split into interest and principal, using the formulas
   of :mod:`baozhang_finance.engine.formulas` (one copy), and updates its balances in the state;
4. its ledgers (interest, principal, balance) in :data:`baozhang_finance.engine.ledgers.LEDGERS`, and its share
   of the month's cash conservation (draws are sources, service is a use).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

GOVERNMENT_CLASSES = ("hidden", "bond")


@dataclass(frozen=True)
class Tranche:
    """One ranked claim in the waterfall.

    Attributes
    ----------
    kind : the instrument ("bank_loan", "special_bond", …)
    rank : 0 is paid first
    government_class : "hidden" (a government payment is a hidden-debt call) or "bond" (explicit bond burden)
    soe_may_pay : whether SOE support money may pay this tranche's shortfall
    """

    kind: str
    rank: int = 0
    government_class: str = "hidden"
    soe_may_pay: bool = True

    def __post_init__(self):
        if self.government_class not in GOVERNMENT_CLASSES:
            raise ValueError(f"government_class: one of {GOVERNMENT_CLASSES}, got {self.government_class!r}")


#: ``waterfall.seniority`` presets → rank of each instrument kind
SENIORITY_PRESETS = {
    "bank_first": {"bank_loan": 0, "soe_bond": 1, "special_bond": 2},
    "bonds_first": {"special_bond": 0, "bank_loan": 1, "soe_bond": 2},
}


def ranked(tranches, seniority: str) -> tuple[Tranche, ...]:
    """The tranches with their ranks from the seniority preset, in paying order (stable on equal ranks)."""
    ranks = SENIORITY_PRESETS[seniority]
    out = [replace(tr, rank=ranks.get(tr.kind, tr.rank)) for tr in tranches]
    return tuple(sorted(out, key=lambda tr: tr.rank))
