"""One registry of the engine's ledgers: what is accumulated, at which level, and what a run keeps per path.

Each :class:`Ledger` is a name, a kind and a level:

* ``kind = "flow"``: summed over each year, ``(n, Y)``; ``"balance"``: its value at the end of each year, ``(n, Y)``;
  ``"monthly"``: a series of the monthly record (``record=True``, a replayed or deterministic path only);
* ``level`` of a monthly series: ``"project"`` ``(n, P, T)``, ``"programme"`` ``(n, T)`` or ``"loan"`` ``(n, L, T)``;
* ``kept``: the yearly ledger is kept for every path in the :class:`~baozhang_finance.run.result.Result`, with
  ``dtype`` (float32 keeps a million paths in memory; the months locked up, 0–12, fit a uint8).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ledger:
    name: str
    kind: str  # "flow" | "balance" | "monthly"
    kept: bool = False
    dtype: str = "float32"
    level: str = "programme"  # for "monthly": "project" | "programme" | "loan"


def _flows(names: str, kept: str = "") -> list[Ledger]:
    return [Ledger(k, "flow", k in kept.split(), "uint8" if k == "lockup_months" else "float32") for k in names.split()]


def _balances(names: str, kept: str = "") -> list[Ledger]:
    return [Ledger(k, "balance", k in kept.split()) for k in names.split()]


def _monthly(names: str, level: str) -> list[Ledger]:
    return [Ledger(k, "monthly", level=level) for k in names.split()]


LEDGERS: tuple[Ledger, ...] = tuple(
    _flows("ops_in ops_out cfads rent sales grants buybacks bank_interest bank_principal prepayment bond_interest "
           "bond_principal debt_service distributions equity_in soe_support gov_hidden gov_bond fiscal_revenue uses "
           "lockup_months refinancing disposal_proceeds soe_bond_interest soe_bond_principal overrun gov_buybacks "
           "gov_resale fiscal_land noi gov_owned_opex gov_owned_income bank_service "
           "bank_cfads",
           kept="cfads debt_service gov_hidden gov_bond soe_support lockup_months refinancing bank_service bank_cfads")
    + _balances("cash_balance bank_balance bond_balance collateral_value units_held hpi escrow_balance buyback_reserve "
                "soe_bond_balance collateral_rental",
                kept="cash_balance bank_balance collateral_value")
    + _monthly("ops_in ops_out cfads rent rent_subsidy sales op_grants interest_subsidy running_costs rent_costs "
               "sales_tax buybacks bank_interest bank_principal bank_due bond_interest bond_principal prepayment dsra "
               "cash distributions short_opex short_bank short_bond sources uses held unsold occupancy bb_units "
               "sold_units sinking_fund disposal bond_redemption walkaway_units escrow buyback_reserve soe_bond_interest "
               "soe_bond_principal short_soe_bond overrun", "project")
    + _monthly("soe_support gov_hidden gov_bond hpi rent_index lpr cpi fiscal conservation cure_extension "
               "cure_refinancing cure_disposal gov_buybacks gov_resale gov_owned_opex", "programme")
    + _monthly("loan_balance loan_rate_m", "loan")
)


def names(kind: str, level: str | None = None) -> tuple[str, ...]:
    """Names of the ledgers of a kind (and, for monthly series, a level), in registry order."""
    return tuple(x.name for x in LEDGERS if x.kind == kind and (level is None or x.level == level))


#: yearly ledgers the engine accumulates for every path
YEARLY_FLOWS = names("flow")
YEARLY_BALANCES = names("balance")
#: yearly ledgers a run keeps per path, in the order of the Result's columns, and their dtypes
YEARLY_KEPT = ("cfads", "debt_service", "cash_balance", "gov_hidden", "gov_bond", "soe_support", "bank_balance",
               "collateral_value", "lockup_months", "refinancing", "bank_service", "bank_cfads")
#: the yearly ledgers a bulk run accumulates: the ones :func:`baozhang_finance.run.chunks.per_path_columns` (and a
#: portfolio's city task) read; the others (operating income and costs, rent, sales, grants, buybacks, bank and
#: bond service by part, prepayments, disposals, overruns, the government's buybacks and own income, bond, escrow
#: and SOE-bond balances, units held, the price index) are the full picture of a replay or a test (``"all"``)
BULK_YEARLY = ("cfads", "debt_service", "gov_hidden", "gov_bond", "soe_support", "lockup_months", "refinancing", "uses",
               "distributions", "equity_in", "gov_owned_opex", "fiscal_revenue", "fiscal_land", "noi", "cash_balance",
               "bank_balance", "collateral_value", "collateral_rental", "bank_service", "bank_cfads")
KEPT_DTYPE = {x.name: x.dtype for x in LEDGERS if x.kind != "monthly" and x.kept}
assert set(YEARLY_KEPT) == set(KEPT_DTYPE) and set(YEARLY_KEPT) <= set(BULK_YEARLY)


def yearly_names(which: str) -> tuple[str, ...]:
    """The yearly ledgers a run accumulates: ``"all"`` (every flow and balance) or ``"bulk"``
    (:data:`BULK_YEARLY`)."""
    if which == "all":
        return YEARLY_FLOWS + YEARLY_BALANCES
    if which == "bulk":
        return BULK_YEARLY
    raise ValueError(f"yearly ledgers: 'all' or 'bulk', not {which!r}")
