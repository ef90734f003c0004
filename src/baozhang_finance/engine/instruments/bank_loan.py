"""Bank loans (住房租赁团体购房贷款 / 保障性住房收购贷款) and PBoC relending.

Conventions (DESIGN §4): an annual rate ``R`` is a nominal rate compounded monthly, so the monthly rate is
``R / 12``. A draw happens at the start of a month, interest for that month accrues on the balance after
the draw, and payments are made at the end of the month. A loan drawn in month ``m`` therefore makes its
first payment at the end of month ``m`` — one month after disbursement. In the month a bank loan is a tranche
of government class ``"hidden"`` (a government payment of its service is a hidden-debt call) — see
:mod:`baozhang_finance.engine.instruments.base`; its month (interest, capitalisation, scheduled principal) is
:func:`baozhang_finance.engine.stages.loans`.
"""

from __future__ import annotations

from baozhang_finance.engine.instruments.base import Tranche

AMORTISATION_CODES = {"annuity": 0, "equal_principal": 1, "interest_only": 2, "bullet": 3}


def relending_end_month(first_month: int, term_years: int, rollovers: int) -> int:
    """First month without relending: first draw + term × (1 + rollovers) years."""
    return first_month + 12 * term_years * (1 + rollovers)


def relending_rollover_months(first_month: int, term_years: int, rollovers: int) -> list[int]:
    """Months at which the relending is up for renewal (the start of each renewed term)."""
    return [first_month + 12 * term_years * k for k in range(1, rollovers + 1)]




TRANCHE = Tranche(kind="bank_loan", government_class="hidden", soe_may_pay=True)
