"""Debt instruments, one module each: :mod:`.bank_loan`, :mod:`.special_bond`; the tranche base is :mod:`.base`."""

from baozhang_finance.engine.formulas import annuity_payment, equal_principal_payment, monthly_rate  # noqa: F401
from baozhang_finance.engine.instruments.bank_loan import (  # noqa: F401
    AMORTISATION_CODES,
    relending_end_month,
    relending_rollover_months,
)
from baozhang_finance.engine.instruments.special_bond import bond_schedule  # noqa: F401
