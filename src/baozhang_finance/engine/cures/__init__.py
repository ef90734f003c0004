"""Cures: what is tried on a short month before any government money ([cures], model/support.py).

The cures stage of the month runs after SOE support (``[cures].timing = "after_soe_support"``, the default: an SOE
pays from its own pot before it restructures a loan or sells a block) or right after the waterfall
(``"before_soe_support"``), on what is still short (``m.short_opex`` and ``m.short[kind]``, ``(P, n)``), and always
before the government: each cure the scenario configures, in ``cures.order``, may reduce those
shortfalls, with its own ledger (``m.cure[name]``: yuan of cash the cure brought into the month, ``(n,)``, an
inflow of the month's cash conservation; and ``metrics["cure_<name>"]``) and its own state (``st.ext``,
``st.refi``, ``st.sink``, created by :func:`baozhang_finance.engine.state.State.start`). Under the legacy
conventions, or when the scenario names no cure, the stage does nothing.

A cure is one module here with ``NAME`` and ``month(st, c, plan, t, m)``; register it in :data:`CURES`. The
cures that change an instrument's terms also hook into the stages: an extension's per-path maturity and rate
add-on are read by :func:`baozhang_finance.engine.instruments.bank_loan.month`; refinancing-bond service enters
the bond due in :func:`baozhang_finance.engine.stages.loans`; the sinking fund is a reserve of the waterfall
(:func:`baozhang_finance.engine.stages.waterfall`), so its ``month`` does nothing.
"""

from __future__ import annotations

from baozhang_finance.engine.cures import disposal, extension, refinancing, sinking_fund

#: the cures a scenario may configure; each has a per-path total ``metrics["cure_<name>"]`` (yuan it provided over
#: the horizon: loan service capitalised by an extension, bond principal refinanced, bullet principal paid from the
#: sinking fund, net disposal proceeds of the blocks sold), a column ``cure_<name>_yuan`` of the run and
#: the summary key ``cures.<name>`` {p_used, expected_yuan}
CURE_NAMES = ("extension", "refinancing", "sinking_fund", "disposal")

#: cure name → its month function (filled by the cure modules as they are added)
CURES: dict = {extension.NAME: extension.month, refinancing.NAME: refinancing.month,
               sinking_fund.NAME: sinking_fund.month, disposal.NAME: disposal.month}


def cures_before_soe(st, c, plan, t: int, m) -> None:
    """The cures stage when ``[cures].timing = "before_soe_support"``; it also starts the month's cure ledger."""
    m.cure = {}
    cfg = plan.support.cures
    if cfg is not None and cfg.timing == "before_soe_support":
        cures(st, c, plan, t, m)


def cures_after_soe(st, c, plan, t: int, m) -> None:
    """The cures stage when ``[cures].timing = "after_soe_support"`` (the default): on what SOE money left short."""
    cfg = plan.support.cures
    if cfg is not None and cfg.timing == "after_soe_support":
        cures(st, c, plan, t, m)


def cures(st, c, plan, t: int, m) -> None:
    """Apply the configured cures in their order; each reduces ``m.short*`` and records what it did."""
    cfg = plan.support.cures
    if cfg is None:
        return
    for name in cfg.order:
        if getattr(cfg, name, None) is not None and name in CURES:
            CURES[name](st, c, plan, t, m)
