"""What the engine carries from month to month, and what it computes once per plan.

:class:`Constants` are figures of the plan reshaped for broadcasting (``(P, 1)`` per project, ``(L, 1)`` per loan),
computed once per plan and cached on it. :class:`State` holds the month-to-month arrays of one chunk of ``n``
paths, laid out project-major — ``(P, n)``, ``(L, n)`` — so per-project rows are contiguous and sums over projects
are row additions; the per-path metrics accumulated over the horizon; and the yearly ledgers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from baozhang_finance.engine.formulas import discount_factor
from baozhang_finance.engine.ledgers import names, yearly_names
from baozhang_finance.engine.cures import CURE_NAMES, disposal, extension, refinancing, sinking_fund
from baozhang_finance.engine.plan import Plan
from baozhang_finance.engine.seed_terms import path_weights

f64 = np.float64


def col(a) -> np.ndarray:
    """(P,) → (P, 1) float64, for broadcasting against (P, n)."""
    return np.asarray(a, dtype=f64)[:, None]


class Constants:
    """Per-plan constants of the month (no path dimension). Use :func:`constants` to get the cached copy."""

    def __init__(self, plan: Plan):
        self.T, self.Y, self.P, self.L = plan.T, plan.Y, plan.P, plan.L
        self.ar_p = np.arange(plan.P)
        self.any_buyback = bool(plan.has_buyback.any())
        self.any_sale = bool(plan.is_sale.any())
        self.any_rental = bool(plan.is_rental.any())
        self.has_loans = plan.L > 0
        self.tranches = plan.tranches
        self._operations(plan)
        self._sales(plan)
        self._loans(plan)
        self._metrics(plan)
        self._seeds(plan)

    def _seeds(self, plan: Plan) -> None:
        """SOE bonds, buyback acceptance and payer, construction risk (engine/seed_terms.py)."""
        self.has_soe_bond = bool(plan.any_soe_bond)
        self.bb_accept = col(plan.bb_acceptance)
        self.bb_gov = col(plan.bb_government)
        self.bb_soe = 1.0 - self.bb_gov
        self.bb_partial = bool(np.any(plan.bb_acceptance < 1.0))
        self.any_gov_buyback = bool(np.any(plan.bb_government > 0))
        # government-owned blocks (owner = "government"): their rows, or None when every block is the SOE's
        self.gov_rows = np.flatnonzero(plan.gov_owned) if plan.gov_owned.any() else None
        self.soe_rows = np.flatnonzero(~plan.gov_owned)
        self.construction_risk = bool(plan.construction_risk)
        self.avail_delayed = plan.available_delayed
        # the delayed pre-sale cash, as presale_in above (deposits + balances when held in escrow)
        self.presale_in_delayed = (plan.presale_deposit_delayed + plan.presale_balance_delayed if self.any_escrow
                                   else plan.presale_cash_delayed)

    def _operations(self, plan: Plan) -> None:
        self.lk = int(plan.lockup_months.max()) + 1
        self.lock_eff = np.maximum(plan.lockup_months, 1)  # read before this month's write: a lag ≥ one month
        self.dk = int(plan.resale_delay.max()) + 1
        self.lr = int(plan.lease_months.max()) + 1
        self.is_rental = plan.is_rental
        self.area = col(plan.area)
        self.cost_m2_m = col(plan.opex_m2_m + plan.holding_m2_m) * self.area
        self.rent_unit = col(plan.floor_area * plan.rent0_m2 * plan.rent_ratio * plan.collection)
        self.rent_cost_share = col(plan.mgmt_share + plan.rent_tax_share + plan.capex_share)
        self.collateral_unit = plan.area * plan.appraisal_m2  # (P,)
        self.stab_occ = col(plan.stab_occ)
        self.rent_sub_unit = col(plan.units * plan.rent_subsidy_unit_m)
        self.subsidy_share = col(plan.subsidy_share)
        self.lease_months = plan.lease_months
        self.lease_div = np.maximum(plan.lease_months, 1)
        self.lease_up = np.maximum(plan.lease_up_months, 1)
        self.has_lease_up = plan.lease_up_months > 0
        self.avail_m = plan.available_month

    def _sales(self, plan: Plan) -> None:
        self.sale_unit_value = col(plan.area * plan.sale_price_m2)
        self.new_inventory = plan.units * (1.0 - plan.presub_share) * plan.is_sale
        self.absorption_m = col(plan.absorption_m)
        self.elasticity = col(plan.absorption_elasticity)
        self.any_elastic = bool(np.any(plan.absorption_elasticity != 0))
        self.sales_tax_rate = col(plan.sales_tax)
        self.sweep_share = col(plan.sweep_share)
        self.bb_hazard = col(plan.bb_hazard_annual)
        self.bb_sens = col(plan.bb_sensitivity)
        self.bb_market = col(plan.bb_market_rule.astype(f64))
        self.bb_market_price = col(plan.appraisal_m2 * (1.0 - plan.bb_fee))
        self.resale_factor = col(1.0 + plan.resale_margin)
        self.bb_rows = np.nonzero(plan.has_buyback)[0]
        # default conventions: walk-aways at hand-over, deposits in escrow, the buyback reserve (none under legacy)
        self.any_walkaway = bool(plan.has_walkaway.any())
        self.walk_rows = np.nonzero(plan.has_walkaway)[0]
        self.any_escrow = bool(plan.escrow_balance.any())
        self.presale_in = plan.presale_deposit + plan.presale_balance if self.any_escrow else plan.presale_cash
        self.reserve_share = col(plan.buyback_reserve_share)
        self.any_reserve = bool(plan.buyback_reserve_share.any())

    def _loans(self, plan: Plan) -> None:
        self.onehot_t = plan.loan_onehot.T.copy()  # (P, L): project totals = onehot_t @ loan rows
        self.loan_fixed = plan.loan_fixed[:, None]
        self.loan_rate_m = plan.loan_rate_m[:, None]
        self.loan_spread_m = plan.loan_spread_m[:, None]
        self.rel_share = plan.loan_rel_share[:, None]
        self.rel_part = (plan.loan_rel_share * plan.loan_rel_rate_m)[:, None]
        code = plan.loan_code
        self.code = code
        self.annuity_rows = np.nonzero(code == 0)[0]
        self.is_equal = (code == 1)[:, None]
        self.balloon = (code == 2) | (code == 3)  # interest-only and bullet loans repay their principal in one go
        self.has_balloon = self.has_loans and bool(self.balloon.any())
        self.dsra_window = int(round(plan.dsra_months))

    def _metrics(self, plan: Plan) -> None:
        T, has_loans = plan.T, self.has_loans
        self._llcr(plan)
        bond_total_service = plan.bond_interest + plan.bond_principal
        bond_months = np.nonzero(bond_total_service.sum(axis=0) + plan.bond_draw.sum(axis=0))[0]
        self.cov_lo, self.cov_hi = (int(bond_months.min()), int(bond_months.max())) if bond_months.size else (T, -1)
        self.has_bond = bond_total_service.sum(axis=1) > 0  # (P,) projects that carry special bonds


    def _llcr(self, plan: Plan) -> None:
        """Each ring-fenced project's LLCR window (decision 72): a project p with bank debt (loans drawn) is tested
        from ``t₀_p = max(owned month of p, 0)`` to the last maturity of its loans ``t₁_p`` (exclusive: the first
        month after the last payment), discounted at its loans' draw-weighted initial monthly rate ``r_p``;
        ``llcr_df[p, t] = (1 + r_p)^{−(t − t₀_p)}`` in the window, 0 outside it and for projects without bank
        debt; ``llcr_open_at``: month → the projects whose window opens then (their opening balance is read)."""
        P, T = plan.P, plan.T
        self.llcr_bank = np.zeros(P, dtype=bool)
        self.llcr_start_p = np.full(P, T, dtype=np.int64)
        self.llcr_end_p = np.zeros(P, dtype=np.int64)
        self.llcr_rate_p = np.zeros(P)
        self.llcr_rows = [np.zeros(0, dtype=np.int64) for _ in range(P)]
        self.llcr_df = np.zeros((P, T))
        self.llcr_open_at: dict[int, np.ndarray] = {}
        if self.has_loans:
            drawn = plan.loan_draw.sum(axis=1)
            for p in range(P):  # projects, once per plan
                rows = np.nonzero((plan.loan_project == p) & (drawn > 0))[0]
                if rows.size == 0:
                    continue
                a, b = int(max(plan.owned_month[p], 0)), int(plan.loan_maturity[rows].max())
                if b <= a:
                    continue
                self.llcr_bank[p], self.llcr_start_p[p], self.llcr_end_p[p], self.llcr_rows[p] = True, a, b, rows
                self.llcr_rate_p[p] = float(np.average(plan.loan_initial_rate_m[rows], weights=drawn[rows]))
                k = np.arange(b - a, dtype=float)
                self.llcr_df[p, a:b] = discount_factor(self.llcr_rate_p[p], k)
                self.llcr_open_at.setdefault(a, []).append(p)
        self.llcr_open_at = {t: np.array(v, dtype=np.int64) for t, v in self.llcr_open_at.items()}
        on = self.llcr_bank.any()
        self.llcr_lo = int(self.llcr_start_p[self.llcr_bank].min()) if on else T
        self.llcr_hi = int(self.llcr_end_p[self.llcr_bank].max()) if on else 0


def constants(plan: Plan) -> Constants:
    """The plan's :class:`Constants`, computed on first use and kept on the (frozen) plan."""
    c = plan.__dict__.get("_engine_constants")
    if c is None:
        c = Constants(plan)
        plan.__dict__["_engine_constants"] = c
    return c


@dataclass
class State:
    """Month-to-month arrays of one chunk, per-path metrics and ledgers. Build with :meth:`start`."""

    n: int
    loan_bal: np.ndarray  # (L, n) bank loan balances
    dsra: np.ndarray  # (P, n) debt-service reserve
    cash: np.ndarray  # (P, n) cash retained under the lock-up
    held: np.ndarray  # (P, n) units the SOE holds
    unsold: np.ndarray  # (P, n) sale units in inventory
    eligible: np.ndarray  # (P, n) sold units past their lock-up, not bought back
    pending: np.ndarray  # (P, n) bought back, not yet resold
    soe_left: np.ndarray  # (n,) SOE support capacity left
    lock_ring: np.ndarray | None  # (lk, P, n) units handed over, by month mod lk
    resale_units_ring: np.ndarray | None  # (dk, P, n)
    resale_value_ring: np.ndarray | None  # (dk, P, n)
    rent_ring: np.ndarray  # (lr, n) rent index by month mod lr
    rent_sum: np.ndarray  # (P, n) Σ rent index over the leases in place
    cf_ring: np.ndarray  # (12, P, n) CFADS of the last 12 months
    ds_ring: np.ndarray  # (12, P, n) debt service of the last 12 months
    cf12: np.ndarray  # (P, n)
    ds12: np.ndarray  # (P, n)
    zeros_pn: np.ndarray  # (P, n) shared zeros (never written)
    metrics: dict[str, np.ndarray] = field(default_factory=dict)  # (n,) per-path accumulators
    yearly: dict[str, np.ndarray] = field(default_factory=dict)  # (Y, n): rows of yearly_block
    yearly_block: np.ndarray | None = None  # (K, Y, n) the yearly ledgers, in the order of yearly_names(...)
    proj_cfads: np.ndarray | None = None  # (Y, P, n) per-project yearly CFADS
    proj_bank: np.ndarray | None = None  # (Y, P, n) per-project yearly bank service
    monthly: dict[str, np.ndarray] = field(default_factory=dict)  # only when recording
    reprice: np.ndarray | None = None  # (L, n) float: 1 where the bank reprices when relending ends (default
    #                                    conventions; the probability itself on expected paths), None under legacy
    ext: object = None  # cures.extension.ExtensionState when [cures.extension] is configured
    refi: object = None  # cures.refinancing.RefinancingState when [cures.refinancing] is configured
    sink: object = None  # cures.sinking_fund.SinkingFundState when [cures.sinking_fund] is configured
    disposal: object | None = None  # cures.disposal.DisposalState when [cures.disposal] is configured, else None
    bb_reserve: np.ndarray | None = None  # (P, n) buyback reserve (default conventions, a share > 0), else None
    delayed: np.ndarray | None = None  # (P, n) 1 where a new build's completion is delayed (expected paths: the
    #                                    probability); None without construction risk
    overrun: np.ndarray | None = None  # (P, n) 1 where its cost overruns (expected paths: the probability)

    @classmethod
    def start(cls, plan: Plan, c: Constants, n: int, record: bool, shocks=None, yearly: str = "all") -> "State":
        P, L, T, Y = plan.P, plan.L, plan.T, plan.Y
        z = lambda: np.zeros((P, n))  # noqa: E731
        st = cls(
            n=n, loan_bal=np.zeros((L, n)), dsra=z(), cash=z(), held=z(), unsold=z(), eligible=z(), pending=z(),
            soe_left=np.full(n, plan.soe_capacity, dtype=f64),
            lock_ring=np.zeros((c.lk, P, n)) if c.any_sale else None,
            resale_units_ring=np.zeros((c.dk, P, n)) if c.any_buyback else None,
            resale_value_ring=np.zeros((c.dk, P, n)) if c.any_buyback else None,
            rent_ring=np.zeros((c.lr, n)), rent_sum=z(), cf_ring=np.zeros((12, P, n)), ds_ring=np.zeros((12, P, n)),
            cf12=z(), ds12=z(), zeros_pn=z(),
        )
        reprice_rows = L if not plan.support.legacy and c.has_loans else 0
        if shocks is not None and reprice_rows + 2 * P * c.construction_risk:  # every once-per-path row, in order
            shocks.reserve_events(reprice_rows + 2 * P * c.construction_risk)
        if reprice_rows:
            u = shocks.event_uniforms(L) if shocks is not None else None
            p = plan.loan_reprice_p[:, None]
            st.reprice = np.broadcast_to(p, (L, n)).copy() if u is None else (u < p).astype(f64)
        cures = plan.support.cures
        if cures is not None:
            st.ext = extension.start(plan, n) if cures.extension is not None and c.has_loans else None
            st.refi = refinancing.start(plan, n) if cures.refinancing is not None else None
            st.sink = sinking_fund.start(plan, n) if cures.sinking_fund is not None else None
            st.disposal = disposal.start(plan, n)
        if c.any_reserve:
            st.bb_reserve = z()
        if c.construction_risk:  # after the repricing draws: P delay rows, then P overrun rows
            u = shocks.event_uniforms(2 * P) if shocks is not None else None
            st.delayed, st.overrun = path_weights(plan, u, n)
        st.metrics = start_metrics(n, P)
        st.metrics["equity_m"] = np.zeros((T, n))  # the SOE's equity flow of each month (distributions − in)
        st.metrics["gov_m"] = np.zeros((T, n))  # government money of each month (hidden call + bond burden)
        kinds = yearly_names(yearly)  # one (K, Y, n) block, a ledger per row: the yearly twin's one argument
        st.yearly_block = np.zeros((len(kinds), Y, n))
        st.yearly = {k: st.yearly_block[j] for j, k in enumerate(kinds)}
        st.proj_cfads = np.zeros((Y, P, n))
        st.proj_bank = np.zeros((Y, P, n))
        if record:
            st.monthly = {k: np.zeros((n, P, T)) for k in names("monthly", "project")}
            st.monthly.update({k: np.zeros((n, T)) for k in names("monthly", "programme")})
            st.monthly.update({k: np.zeros((n, L, T)) for k in names("monthly", "loan")})
        return st


def start_metrics(n: int, P: int = 1) -> dict[str, np.ndarray]:
    """Per-path accumulators: default record, first call, PVs of support, funding need, the projects' LLCR sums
    ``(P, n)`` and coverage sums."""
    neg = lambda: np.full(n, -1, dtype=np.int64)  # noqa: E731
    return {
        "default_month": neg(), "ead": np.zeros(n), "collateral_at_default": np.zeros(n),
        "hpi_at_default": np.full(n, np.nan),  # house-price index in the default month (LGD price path)
        "hpi_at_sale": np.full(n, np.nan),  # … and when the bank sells: default + liquidation_months (if ≤ T − 1)
        "sale_month": neg(), "first_call": neg(), "pv_hidden": np.zeros(n), "pv_bond": np.zeros(n),
        "pv_soe": np.zeros(n), "pv_soe_fiscal": np.zeros(n), "cum_equity": np.zeros(n), "peak_funding": np.zeros(n),
        "llcr_num": np.zeros((P, n)), "llcr_den": np.zeros((P, n)), "cov_num": np.zeros(n), "cov_bank": np.zeros(n),
        "soe_exhausted": neg(),  # first month SOE money ran out with a shortfall it may pay still open
        "first_shortfall": neg(),  # first month any project is short after its cash, DSRA and cures
        **{f"cure_{k}": np.zeros(n) for k in CURE_NAMES},  # yuan each cure provided over the horizon
        "cure_extension_count": np.zeros(n), "cure_extension_fee": np.zeros(n),  # extensions granted, fees capitalised
        "walkaway_units": np.zeros(n),  # pre-subscribed units whose buyers walked away at hand-over
        "forfeited_deposits": np.zeros(n),  # deposits those buyers forfeited, yuan
        # buybacks the government pays (Beitun): PV of payments and of resale proceeds back to the budget
        "pv_gov_buyback": np.zeros(n), "pv_gov_resale": np.zeros(n),
        "pv_gov_owned_opex": np.zeros(n), "pv_gov_owned_income": np.zeros(n),
        # measures of the three lenses (measures/fiscal.py, bank.py, soe.py)
        "stock_at_call": np.zeros(n),  # bank balance at the open of the first-call month (the debt taken over)
        "pv_gov_bank": np.zeros(n),  # PV of government money on bank service (the rest of pv_hidden: operating gaps)
        "pv_budgeted": np.zeros(n),  # PV of budgeted subsidies paid: rent subsidy, 贴息, operating grants
        "bank_short_first": neg(),  # first month bank service is short after cash and DSRA (and cures before SOE), before SOE money
        "noi12": np.zeros(n),  # NOI of the rental projects over the last 12 months of the horizon
        "cov_residual": np.zeros(n),  # market value of the bond projects' units in the bond's last month
        **{f"{x}_{k}": (neg() if x == "sale_month" else np.zeros(n) if x in ("ead", "collateral") else np.full(n, np.nan))
           for k in ("nosupport", "corporate") for x in ("ead", "collateral", "hpi_at_default", "hpi_at_sale",
                                                        "sale_month")},  # the bank lens's other credit events
    }
