"""The monthly engine: a chunk of ``n`` paths, month by month, in stages (:mod:`baozhang_finance.engine.stages`).

Every state variable has shape ``(P, n)`` (projects), ``(L, n)`` (loans) or ``(n,)``; the only Python loop is
over months. One month, per project (ring-fenced, DESIGN §5):

1. market: the drivers advance with the month's shocks (:mod:`~baozhang_finance.engine.shocks`, passed in);
2. funding and loans: uses, reserve, sources; interest, capitalisation and scheduled principal of every bank
   loan; special-bond service from its schedule (one module per instrument, :mod:`~baozhang_finance.engine.instruments`);
3. rental operations, then sale operations (absorption, lock-up ring, buybacks, resale);
4. CFADS = ops_in − ops_out;
5. waterfall: cash available = CFADS + retained cash + DSRA pays the ranked tranches (``waterfall.seniority``:
   bank first, or bonds first); a share of sale proceeds prepays bank loans (sweep); the DSRA is refilled to its
   target; other projects' surplus covers shortfalls when ``cross_project_support`` is on; the rest is
   distributed to the SOE, or retained while the trailing-12-month DSCR is below ``lockup_dscr``;
6. cures (:mod:`~baozhang_finance.engine.cures`): the cures the scenario configures, in its order, reduce the
   shortfalls first (none under the legacy conventions);
   support: what is still short is covered by SOE support from its pot, on the classes the support policy lets it
   pay, in that order (legacy: operating costs → tranches by rank), and then by the government. Government money
   for operating costs and bank service is the **hidden-debt call**; for special-bond service the **explicit bond
   burden**;
7. default: the standalone (bank) view read off the same path — the first month bank service would need
   government money is the **default** month, with its exposure (EAD) and collateral value; loans are repaid;
8. per-path metrics, yearly ledgers and (``record=True``) the monthly record.

Cash is conserved every month on every path: sources + ops_in + SOE support + government support = uses + ops_out
+ bank service + bond service + prepayments + distributions + Δ(DSRA + retained cash).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from baozhang_finance.engine import kernels, stages
from baozhang_finance.engine.kernels import twins
from baozhang_finance.engine.cures import CURE_NAMES, cures_after_soe, cures_before_soe, refinancing
from baozhang_finance.engine.drivers import Drivers
from baozhang_finance.engine.formulas import coverage_ratio, min_project_llcr
from baozhang_finance.engine.ledgers import YEARLY_BALANCES, YEARLY_FLOWS  # noqa: F401  (re-exported)
from baozhang_finance.engine.plan import Plan
from baozhang_finance.engine.state import State, constants

#: the stages of a month, in order (after the market step)
MONTH = (stages.funding, stages.loans, stages.rental, stages.sales, stages.cfads, stages.waterfall, cures_before_soe,
         stages.soe_support, cures_after_soe, stages.government, stages.default, stages.metrics, stages.yearly)


@dataclass
class ChunkOutput:
    """Per-path results of one chunk: yearly ledgers ``(n, Y)`` and end-of-run scalars ``(n,)``."""

    yearly: dict[str, np.ndarray]
    scalars: dict[str, np.ndarray]
    monthly: dict[str, np.ndarray] = field(default_factory=dict)  # only when record=True


#: the engine settings ([simulation] engine, the environment variable BAOZHANG_ENGINE)
ENGINES = ("auto", "numpy", "compiled")


#: a run of fewer paths than this, on a machine that has not compiled the kernels yet, runs the numpy stages: they
#: cost ≈ 0.05 CPU ms a path more than the compiled ones (decision 68), a first compile ≈ 15–35 s
COMPILE_AT_PATHS = 200_000


def choose_engine(plan: Plan, engine: str | None = None, paths: int | None = None) -> str:
    """The engine that runs ``plan``: ``"compiled"`` (the stages' numba twins, :mod:`~baozhang_finance.engine.
    kernels`) or ``"numpy"`` (the stages themselves, the reference). ``engine`` (default: the environment
    variable ``BAOZHANG_ENGINE``, else the plan's ``[simulation] engine``): ``"numpy"``; ``"auto"`` — compiled when
    numba is installed, loads the kernels and the twins cover the plan
    (:func:`~baozhang_finance.engine.kernels.twins.supports`), except for a run of ``paths`` < ``COMPILE_AT_PATHS``
    while numba's cache holds no compiled kernels (:func:`~baozhang_finance.engine.kernels.cached`): compiling
    would cost more than it saves; ``"compiled"`` — compiled, with a warning saying why when it cannot. Both give
    the same bits."""
    if engine is None and getattr(plan.market, "engine_chosen", False):
        want = plan.market.engine  # the run chose it (with_engine): every chunk runs that one
    else:
        want = engine or os.environ.get("BAOZHANG_ENGINE") or getattr(plan.market, "engine", "auto")
    if want not in ENGINES:
        raise ValueError(f"engine: {want!r} is not one of {', '.join(ENGINES)}")
    if want == "numpy":
        return "numpy"
    ok, why = twins.supports(plan)
    if not kernels.AVAILABLE:
        ok, why = False, "numba is not installed"
    elif ok and want == "auto" and paths is not None and paths < COMPILE_AT_PATHS and not kernels.cached():
        return "numpy"  # a first compile for a small run: the numpy stages finish sooner, with the same bits
    elif ok:
        try:  # imports numba and compiles (or loads the cached) kernels, once per process
            kernels.load()
        except Exception as exc:  # noqa: BLE001 - a numba that cannot compile here: the numpy stages run
            ok, why = False, f"numba could not load the kernels ({type(exc).__name__}: {exc})"
    if not ok and want == "compiled":
        warnings.warn(f"engine compiled: {why}; the numpy engine runs this plan", RuntimeWarning, stacklevel=3)
    return "compiled" if ok else "numpy"


def with_engine(plan: Plan, engine: str) -> Plan:
    """``plan`` with its engine set to the one a run chose (:func:`choose_engine` with the run's paths), so that
    every chunk, in any process, runs that one (``BAOZHANG_ENGINE`` was read by that choice, not again)."""
    if plan.market.engine == engine and plan.market.engine_chosen:
        return plan
    return replace(plan, market=replace(plan.market, engine=engine, engine_chosen=True))


def prepare_engine(plan: Plan, total_paths: int) -> str:
    """The engine for work of many runs of ``plan`` (or of plans changed from it: an analysis's evaluations),
    ``total_paths`` paths in all: :func:`choose_engine` for that total. When it is the compiled one and this
    process has not compiled the kernels (:func:`~baozhang_finance.engine.kernels.cached`), they are compiled now,
    by two paths of ``plan`` on the compiled stages, so that each run of the work — small on its own, under
    ``auto`` — finds them compiled and runs compiled, instead of each running the numpy stages (decision 77).
    The same numbers either way."""
    choice = choose_engine(plan, paths=total_paths)
    if choice == "compiled" and not kernels.cached():
        run_paths(with_engine(plan, "compiled"), 2, np.random.default_rng(0), yearly="bulk")
    return choice


def run_paths(plan: Plan, n: int, shocks=None, record: bool = False, yearly: str = "all",
              engine: str | None = None) -> ChunkOutput:
    """Simulate ``n`` paths month by month.

    ``shocks``: a :class:`~baozhang_finance.engine.shocks.Shocks` source (or its ``rows(...)``), a chunk's
    ``np.random.Generator`` (wrapped in one), or None — expected market paths, as for a deterministic plan.
    Outputs are path-major (``(n, Y)``, ``(n, P, T)``). ``yearly``: ``"all"`` yearly ledgers or the ``"bulk"``
    run's (:data:`~baozhang_finance.engine.ledgers.BULK_YEARLY`).
    ``engine``: numpy stages or their compiled twins (:func:`choose_engine` for ``n`` paths unless the plan carries
    its run's choice, :func:`with_engine`; the same numbers).
    """
    c = constants(plan)
    drv = Drivers(plan.market, n, shocks)
    st = State.start(plan, c, n, record, drv.shocks, yearly)
    month, step = MONTH + ((stages.record,) if record else ()), Drivers.step
    if choose_engine(plan, engine, paths=n) == "compiled":  # a run's chunk: the run's choice (with_engine)
        month, step = twins.month_stages(month), twins.market_step
    m = stages.Month()
    for t in range(plan.T):
        m = stages.Month()
        m.ms = step(drv, t)
        for stage in month:
            stage(st, c, plan, t, m)
    st.yearly["bank_service"][:] = bank_service_by_year(st)
    st.yearly["bank_cfads"][:] = bank_cfads_by_year(plan, st)
    scalars = end_of_horizon(st, plan, m)
    if drv.controls is not None:  # control variates (engine/controls.py): (n, K), mean exactly 0
        scalars["controls"] = drv.controls.values()
    return ChunkOutput(yearly={k: np.ascontiguousarray(v.T) for k, v in st.yearly.items()},
                       scalars=scalars, monthly=st.monthly)


def end_of_horizon(st: State, plan: Plan, m) -> dict[str, np.ndarray]:
    """End-of-run scalars per path: terminal assets ``Σ held · area · appraisal · H_T · (1 − haircut)``, terminal
    equity = assets + DSRA + cash (+ sinking fund) − bank balance, refinancing bonds outstanding, the bank's LLCR (the lowest project's, :func:`~baozhang_finance.engine.formulas.
    min_project_llcr`), bond coverage sums, and the
    accumulated metrics."""
    mt = st.metrics
    c = constants(plan)
    hpi_end = m.ms.hpi
    terminal_assets = (c.collateral_unit @ st.held) * hpi_end * (1.0 - plan.tv_haircut)
    reserves = (st.dsra + st.cash).sum(axis=0)
    if st.sink is not None:  # the sinking fund is the project's cash too
        reserves = reserves + st.sink.fund.sum(axis=0)
    terminal_equity = terminal_assets + reserves - (st.loan_bal.sum(axis=0) if c.has_loans else 0.0)
    return {
        "default_month": mt["default_month"],
        "ead": mt["ead"],
        "collateral_at_default": mt["collateral_at_default"],
        "hpi_at_default": mt["hpi_at_default"],
        "hpi_at_sale": mt["hpi_at_sale"],
        "first_call_month": mt["first_call"],
        "pv_hidden": mt["pv_hidden"],
        "pv_bond_burden": mt["pv_bond"],
        "pv_soe_support": mt["pv_soe"],
        "pv_soe_support_fiscal": mt["pv_soe_fiscal"],
        "peak_funding_need": mt["peak_funding"],
        "llcr": min_project_llcr(mt["llcr_num"], mt["llcr_den"], c.llcr_bank),
        "bond_cfads": mt["cov_num"],
        "bond_cfads_after_bank": mt["cov_num"] - mt["cov_bank"],
        "terminal_assets": terminal_assets,
        "terminal_equity": terminal_equity,
        "soe_capacity_left": st.soe_left,
        "soe_exhaustion_month": mt["soe_exhausted"],
        "first_shortfall_month": mt["first_shortfall"],
        **{f"cure_{k}": mt[f"cure_{k}"] for k in CURE_NAMES},
        "cure_extension_count": mt["cure_extension_count"],
        "cure_extension_fee": mt["cure_extension_fee"],
        "refinancing_balance_end": (refinancing.balance(st.refi, plan.T - 1) if st.refi is not None
                                    else np.zeros(st.n)),
        "disposal_month": first_disposal_month(st),
        "walkaway_units": mt["walkaway_units"],
        "forfeited_deposits": mt["forfeited_deposits"],
        "hpi_end": hpi_end,
        "pv_gov_buyback": mt["pv_gov_buyback"],
        "pv_gov_resale": mt["pv_gov_resale"],
        "pv_gov_owned_opex": mt["pv_gov_owned_opex"],
        "pv_gov_owned_income": mt["pv_gov_owned_income"],
        "bank_dscr_min_project": min_project_bank_dscr(plan, st.proj_cfads, st.proj_bank),
        **{k: mt[k] for k in ("stock_at_call", "pv_gov_bank", "pv_budgeted", "bank_short_first", "noi12",
                              "cov_residual")},
        **{f"{x}_{k}": mt[f"{x}_{k}"] for k in ("nosupport", "corporate")
           for x in ("ead", "collateral", "hpi_at_default", "hpi_at_sale")},
        "terminal_assets_sale": ((c.collateral_unit * plan.is_sale) @ st.held) * hpi_end * (1.0 - plan.tv_haircut),
        "terminal_cash": (st.dsra + st.cash).sum(axis=0),
        "bank_balance_end": st.loan_bal.sum(axis=0) if c.has_loans else np.zeros(st.n),
        "equity_m": mt["equity_m"].T,  # (n, T)
        "gov_m": mt["gov_m"].T,
    }


def bank_service_by_year(st: State) -> np.ndarray:
    """The ``bank_service`` ledger ``(Y, n)``: bank service due in each year, Σ_p Σ_{t ∈ y} (interest + scheduled
    principal)_{p,t} — the bank DSCR's denominator, from the per-project sums the engine keeps (``proj_bank``; the
    same in both engines), not the debt service less the special bonds' schedule (which counted refinancing
    bonds' coupons, SOE-bond service and a sold block's redeemed bonds as bank service; decision 80)."""
    return st.proj_bank.sum(axis=1)


def bond_service_by_project_year(plan: Plan) -> np.ndarray:
    """Scheduled special-bond service (interest + principal) per project and programme year, ``(P, Y)``."""
    return (plan.bond_interest + plan.bond_principal).reshape(plan.P, plan.Y, 12).sum(axis=2)


def bank_cfads_by_year(plan: Plan, st: State) -> np.ndarray:
    """The ``bank_cfads`` ledger ``(Y, n)``: the CFADS available to the bank in each year, over the projects with
    bank loans only, Σ_{p has loans} (CFADS_{p,y} − bond service_{p,y} if the bonds rank first) — the bank DSCR's
    numerator beside :func:`bank_service_by_year` (a ring-fenced project without bank debt lends the bank nothing;
    decision 82)."""
    P = plan.P
    has = np.zeros(P, dtype=bool)
    if len(plan.loan_project):
        has[np.asarray(plan.loan_project, dtype=np.int64)] = True
    cf = st.proj_cfads[:, has, :]
    if not plan.bank_first:
        cf = cf - bond_service_by_project_year(plan)[has].T[:, :, None]
    return cf.sum(axis=1)


def first_disposal_month(st: State) -> np.ndarray:
    """Per path, the month of the first disposal of a block (cures.disposal), −1 when none was sold."""
    if st.disposal is None:
        return np.full(st.n, -1, dtype=np.int64)
    mo = st.disposal.month
    return np.where((mo >= 0).any(axis=0), np.where(mo >= 0, mo, np.iinfo(np.int64).max).min(axis=0), -1)


def min_project_bank_dscr(plan: Plan, cfads_ypn: np.ndarray, bank_ypn: np.ndarray) -> np.ndarray:
    """Per path, the lowest bank DSCR of any ring-fenced project with bank debt over its own test window:
    min_p min_{y ∈ window_p} (CFADS_{p,y} − bond service_{p,y} if bonds rank first) / bank service_{p,y}."""
    n = cfads_ypn.shape[2]
    out = np.full(n, np.inf)
    found = np.zeros(n, dtype=bool)
    bond_y = bond_service_by_project_year(plan)
    for p in range(plan.P):  # projects, once per chunk
        a, b = plan.bank_windows[p]
        if b <= a:
            continue
        cf = cfads_ypn[a:b, p]
        if not plan.bank_first:
            cf = cf - bond_y[p, a:b, None]
        bank = bank_ypn[a:b, p]
        out = np.minimum(out, coverage_ratio(cf, bank, np.inf).min(axis=0))
        found |= (bank > 0).any(axis=0)
    return np.where(found, out, np.nan)


_min_project_bank_dscr = min_project_bank_dscr  # the name of old
