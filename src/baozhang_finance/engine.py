"""The monthly engine: operations → financing → waterfall → support, vectorised over paths.

Every state variable has shape ``(n,)``, ``(n, P)`` (projects) or ``(n, L)`` (loans); the only Python loop is
over months. One month, per project (ring-fenced, DESIGN §5):

1. operations: rent collected + rent subsidy + sale proceeds (deposits, hand-over balances, absorbed and
   resold units) + operating grants + interest subsidy (贴息) = ``ops_in``; running costs, management, taxes,
   capex reserve, sales taxes and buybacks paid = ``ops_out``; ``CFADS = ops_in − ops_out``;
2. cash available = CFADS + retained cash + DSRA balance; it pays senior debt service, then junior
   (``waterfall.seniority``: bank first, or bonds first);
3. a share of sale proceeds prepays bank loans (mandatory prepayment / cash sweep), from what is left;
4. the DSRA is refilled to its target (``dsra_months`` × this month's bank service + the next ``dsra_months``
   of bond service); the rest is distributed to the SOE, or retained while the trailing-12-month DSCR is
   below ``lockup_dscr``;
5. shortfalls (unpaid operating costs, bank service, bond service) may be covered by other projects' surplus
   when ``cross_project_support`` is on; what remains is covered, in the order operating costs → senior →
   junior, by SOE support up to its remaining capacity and then by the government. Government money for
   operating costs and bank service is the **hidden-debt call**; for special-bond service it is the
   **explicit bond burden**.

Debt service is therefore always paid (the supported view), and the standalone (bank) view is read off the
same path: the first month in which bank service would need government money is the **default** month, with
its exposure (EAD) and collateral value recorded. Cash is conserved every month on every path:
sources + ops_in + SOE support + government support = uses + ops_out + bank service + bond service
+ prepayments + distributions + Δ(DSRA + retained cash).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import financing as fin
from .drivers import Drivers
from .plan import Plan

#: yearly ledgers kept for every path (float32 to keep 1M paths in memory), summed over the year
YEARLY_FLOWS = (
    "ops_in", "ops_out", "cfads", "rent", "sales", "grants", "buybacks", "bank_interest", "bank_principal",
    "prepayment", "bond_interest", "bond_principal", "debt_service", "distributions", "equity_in", "soe_support",
    "gov_hidden", "gov_bond", "fiscal_revenue", "uses", "lockup_months",
)
#: yearly balances kept for every path, at the end of each year
YEARLY_BALANCES = ("cash_balance", "bank_balance", "bond_balance", "collateral_value", "units_held")


@dataclass
class ChunkOutput:
    """Per-path results of one chunk: yearly ledgers ``(n, Y)`` and end-of-run scalars ``(n,)``."""

    yearly: dict[str, np.ndarray]
    scalars: dict[str, np.ndarray]
    monthly: dict[str, np.ndarray] = field(default_factory=dict)  # only when record=True


def run_paths(plan: Plan, n: int, rng: np.random.Generator | None, record: bool = False) -> ChunkOutput:
    """Simulate ``n`` paths month by month. ``rng=None`` or a deterministic plan gives expected market paths."""
    T, Y, P, L = plan.T, plan.Y, plan.P, plan.L
    drv = Drivers(plan.market, n, rng)
    f64 = np.float64
    ar_p = np.arange(P)

    # ---------------------------------------------------------------- state
    loan_bal = np.zeros((n, L))
    dsra = np.zeros((n, P))
    cash = np.zeros((n, P))
    held = np.zeros((n, P))
    unsold = np.zeros((n, P))
    eligible = np.zeros((n, P))
    pending = np.zeros((n, P))  # bought back, not yet resold
    soe_left = np.full(n, plan.soe_capacity, dtype=f64)
    lk = int(plan.lockup_months.max()) + 1
    lock_ring = np.zeros((n, P, lk))
    dk = int(plan.resale_delay.max()) + 1
    resale_units_ring = np.zeros((n, P, dk))
    resale_value_ring = np.zeros((n, P, dk))
    lr = int(plan.lease_months.max()) + 1
    rent_ring = np.zeros((n, lr))
    rent_sum = np.zeros((n, P))
    cf_ring = np.zeros((n, P, 12))
    ds_ring = np.zeros((n, P, 12))

    # per-path scalars
    default_month = np.full(n, -1, dtype=np.int64)
    ead = np.zeros(n)
    collateral_at_default = np.zeros(n)
    first_call = np.full(n, -1, dtype=np.int64)
    pv_hidden = np.zeros(n)
    pv_bond = np.zeros(n)
    pv_soe = np.zeros(n)
    cum_equity = np.zeros(n)
    peak_funding = np.zeros(n)
    llcr_num = np.zeros(n)
    llcr_den = np.zeros(n)
    cov_num = np.zeros(n)
    cov_bank = np.zeros(n)

    yearly = {k: np.zeros((n, Y)) for k in YEARLY_FLOWS + YEARLY_BALANCES}
    monthly: dict[str, np.ndarray] = {}
    if record:
        for k in ("ops_in", "ops_out", "cfads", "rent", "rent_subsidy", "sales", "op_grants", "interest_subsidy",
                  "running_costs", "rent_costs", "sales_tax", "buybacks", "bank_interest", "bank_principal",
                  "bank_due", "bond_interest", "bond_principal", "prepayment", "dsra", "cash", "distributions",
                  "short_opex", "short_bank", "short_bond", "sources", "uses", "held", "unsold", "occupancy",
                  "bb_units", "sold_units"):
            monthly[k] = np.zeros((n, P, T))
        for k in ("soe_support", "gov_hidden", "gov_bond", "hpi", "rent_index", "lpr", "cpi", "fiscal", "conservation"):
            monthly[k] = np.zeros((n, T))
        monthly["loan_balance"] = np.zeros((n, L, T))
        monthly["loan_rate_m"] = np.zeros((n, L, T))

    # ---------------------------------------------------------------- constants
    has_loans = L > 0
    onehot = plan.loan_onehot
    rental_mask = plan.is_rental.astype(f64)
    cost_m2_m = plan.opex_m2_m + plan.holding_m2_m
    rent_unit = plan.floor_area * plan.rent0_m2 * plan.rent_ratio  # yuan/month at index 1, full occupancy
    rent_cost_share = plan.mgmt_share + plan.rent_tax_share + plan.capex_share
    sale_unit_value = plan.area * plan.sale_price_m2
    acq_units = plan.acquired_units
    new_inventory = plan.units * (1.0 - plan.presub_share) * plan.is_sale
    mat_first = plan.loan_first
    llcr_start = int(max((plan.owned_month[plan.loan_project]).max(), 0)) if has_loans else T
    llcr_end = int(plan.loan_maturity.max()) if has_loans else 0
    llcr_rate = float(np.average(plan.loan_initial_rate_m, weights=plan.loan_draw.sum(axis=1))) if has_loans else 0.0
    bond_total_service = plan.bond_interest + plan.bond_principal
    bond_months = np.nonzero(bond_total_service.sum(axis=0) + plan.bond_draw.sum(axis=0))[0]
    cov_lo, cov_hi = (int(bond_months.min()), int(bond_months.max())) if bond_months.size else (T, -1)
    has_bond = (bond_total_service.sum(axis=1) > 0).astype(f64)  # (P,) projects that carry special bonds
    lockup_threshold = plan.lockup_dscr
    dsra_k = plan.dsra_months

    for t in range(T):
        ms = drv.step(t)
        y = t // 12
        # ------------------------------------------------------------ funding (deterministic)
        uses = plan.uses_out[:, t]
        dsra += plan.reserve_in[:, t]
        sources = plan.equity_in[:, t] + plan.capital_grants_in[:, t] + plan.bond_draw[:, t]
        # ------------------------------------------------------------ bank loans
        if has_loans:
            loan_bal += plan.loan_draw[:, t]
            sources = sources + plan.loan_draw[:, t] @ onehot
            base = np.where(plan.loan_fixed, plan.loan_rate_m, ms.lpr[:, None] / 12.0 + plan.loan_spread_m)
            rel_on = (t < plan.loan_rel_end) & ms.relending_on[:, None]
            rate = np.where(rel_on, plan.loan_rel_share * plan.loan_rel_rate_m + (1 - plan.loan_rel_share) * base, base)
            interest = loan_bal * rate
            in_grace = t < plan.loan_amort_start
            capitalise = plan.loan_capitalise & (in_grace | (plan.loan_code == 3))
            cap_int = np.where(capitalise, interest, 0.0)
            loan_bal += cap_int
            cash_int = interest - cap_int
            n_rem = plan.loan_maturity - t
            last = n_rem == 1
            amort = ~in_grace & (n_rem >= 1)
            annuity = fin.annuity_payment(loan_bal - cap_int, rate, n_rem) - cash_int
            principal = np.select(
                [plan.loan_code == 0, plan.loan_code == 1],
                [annuity, fin.equal_principal_payment(loan_bal, n_rem)],
                default=np.where(last, loan_bal, 0.0),
            )
            principal = np.where(amort | last, np.clip(principal, 0.0, loan_bal), 0.0)
            bal_open = loan_bal.sum(axis=1)
            bank_int_p = cash_int @ onehot
            bank_prin_p = principal @ onehot
        else:
            bal_open = np.zeros(n)
            bank_int_p = np.zeros((n, P))
            bank_prin_p = np.zeros((n, P))
        bank_due = bank_int_p + bank_prin_p
        bond_int = plan.bond_interest[:, t]
        bond_prin = plan.bond_principal[:, t]
        bond_due = np.broadcast_to(bond_int + bond_prin, (n, P))

        # ------------------------------------------------------------ rental operations
        held += acq_units[:, t]
        active = t >= plan.available_month
        drop_idx = (t - plan.lease_months) % lr
        dropping = (t - plan.lease_months >= plan.available_month) & plan.is_rental
        rent_sum += ms.rent[:, None] * (active & plan.is_rental) - rent_ring[:, drop_idx] * dropping
        rent_ring[:, t % lr] = ms.rent
        count = np.clip(t - plan.available_month + 1, 1, np.maximum(plan.lease_months, 1))
        inplace = rent_sum / count
        ramp = np.where(plan.lease_up_months > 0,
                        np.clip((t - plan.available_month + 1) / np.maximum(plan.lease_up_months, 1), 0.0, 1.0),
                        active.astype(f64)) * rental_mask
        occ = np.clip(plan.stab_occ + ms.occ_dev[:, None], 0.0, 1.0) * ramp
        billed = rent_unit * inplace * occ
        rent = billed * plan.collection
        rent_sub = plan.units * plan.rent_subsidy_unit_m * occ
        running = held * plan.area * cost_m2_m * ms.cpi[:, None]
        rent_costs = rent * rent_cost_share

        # ------------------------------------------------------------ sale operations
        unsold += new_inventory * (t == plan.available_month)
        rate_abs = np.clip(plan.absorption_m * ms.absorption[:, None] * ms.hpi[:, None] ** plan.absorption_elasticity,
                           0.0, 1.0)
        sold = unsold * rate_abs * active
        unsold -= sold
        handover = plan.presub_handover_units[:, t]
        h_ann = np.minimum(plan.bb_hazard_annual * (1.0 + plan.bb_sensitivity * np.maximum(0.0, 1.0 - ms.hpi[:, None])), 1.0)
        h_m = 1.0 - (1.0 - h_ann) ** (1.0 / 12.0)
        bb_units = eligible * h_m
        eligible -= bb_units
        bb_price = np.where(plan.bb_market_rule, plan.appraisal_m2 * ms.hpi[:, None] * (1.0 - plan.bb_fee),
                            plan.sale_price_m2 * np.exp(plan.bb_index_m * (t - plan.available_month)))
        bb_paid = bb_units * plan.area * bb_price
        slot = t % dk
        resale_units_ring[:, :, slot] = bb_units
        resale_value_ring[:, :, slot] = bb_paid
        rslot = (t - plan.resale_delay) % dk
        resale_units = resale_units_ring[:, ar_p, rslot]
        resale_cash = resale_value_ring[:, ar_p, rslot] * (1.0 + plan.resale_margin)
        pending += bb_units - resale_units
        handed = sold + handover + resale_units
        lock_ring[:, :, t % lk] = handed
        eligible += lock_ring[:, ar_p, (t - plan.lockup_months) % lk]
        held += bb_units - handed
        sales = sold * sale_unit_value + plan.presale_cash[:, t] + resale_cash
        sales_tax = sales * plan.sales_tax

        # ------------------------------------------------------------ CFADS
        int_sub = bank_int_p * plan.subsidy_share * (t < plan.subsidy_end)
        op_grants = plan.operating_grants[:, t]
        ops_in = rent + rent_sub + sales + op_grants + int_sub
        ops_out = running + rent_costs + sales_tax + bb_paid
        cfads = ops_in - ops_out

        # ------------------------------------------------------------ waterfall
        avail = cfads + cash + dsra
        if plan.bank_first:
            senior, junior = bank_due, bond_due
        else:
            senior, junior = bond_due, bank_due
        paid_sen = np.clip(avail, 0.0, senior)
        paid_jun = np.clip(avail - paid_sen, 0.0, junior)
        short_opex = np.maximum(-avail, 0.0)
        short_sen = senior - paid_sen
        short_jun = junior - paid_jun
        surplus = np.maximum(avail - paid_sen - paid_jun, 0.0)
        if has_loans:
            bal_after = (loan_bal - principal) @ onehot
            sweep = np.minimum(np.minimum(plan.sweep_share * sales, surplus), bal_after)
            surplus = surplus - sweep
        else:
            sweep = np.zeros((n, P))
        target = dsra_k * bank_due + plan.bond_forward_service[:, t]
        dsra = np.minimum(surplus, target)
        surplus = surplus - dsra
        if plan.cross_support:
            pool = surplus.sum(axis=1)
            need = (short_opex + short_sen + short_jun).sum(axis=1)
            used = np.minimum(pool, need)
            keep_short = np.where(need > 0, 1.0 - used / np.where(need > 0, need, 1.0), 1.0)[:, None]
            keep_pool = np.where(pool > 0, 1.0 - used / np.where(pool > 0, pool, 1.0), 1.0)[:, None]
            short_opex = short_opex * keep_short
            short_sen = short_sen * keep_short
            short_jun = short_jun * keep_short
            surplus = surplus * keep_pool
        # trailing-12-month DSCR lock-up
        service = bank_due + bond_due
        r12 = t % 12
        cf_ring[:, :, r12] = cfads
        ds_ring[:, :, r12] = service
        ds12 = ds_ring.sum(axis=2)
        locked = (ds12 > 0) & (cf_ring.sum(axis=2) < lockup_threshold * ds12)
        cash = np.where(locked, surplus, 0.0)
        dist = surplus - cash

        # ------------------------------------------------------------ SOE, then government
        s_opex = short_opex.sum(axis=1)
        s_sen = short_sen.sum(axis=1)
        s_jun = short_jun.sum(axis=1)
        soe_opex = np.minimum(soe_left, s_opex)
        soe_left -= soe_opex
        soe_sen = np.minimum(soe_left, s_sen)
        soe_left -= soe_sen
        soe_jun = np.minimum(soe_left, s_jun)
        soe_left -= soe_jun
        soe = soe_opex + soe_sen + soe_jun
        gov_sen = s_sen - soe_sen
        gov_jun = s_jun - soe_jun
        gov_bank, gov_bond = (gov_sen, gov_jun) if plan.bank_first else (gov_jun, gov_sen)
        hidden = (s_opex - soe_opex) + gov_bank

        # ------------------------------------------------------------ default (standalone view)
        collateral = (held * plan.area * plan.appraisal_m2).sum(axis=1) * ms.hpi
        if has_loans:
            new_default = (gov_bank > 1e-6) & (default_month < 0)
            if new_default.any():
                default_month[new_default] = t
                ead[new_default] = bal_open[new_default] + bank_int_p.sum(axis=1)[new_default]
                collateral_at_default[new_default] = collateral[new_default]
            # pay down: scheduled principal, then the sweep pro rata to the balances of each project's loans
            loan_bal -= principal
            proj_bal = loan_bal @ onehot
            share = loan_bal / np.where(proj_bal > 0, proj_bal, 1.0)[:, plan.loan_project]
            loan_bal -= share * sweep[:, plan.loan_project]
            np.maximum(loan_bal, 0.0, out=loan_bal)

        # ------------------------------------------------------------ per-path metrics
        new_call = (hidden > 1e-6) & (first_call < 0)
        first_call[new_call] = t
        dfac = plan.discount_m[t]
        pv_hidden += hidden * dfac
        pv_bond += gov_bond * dfac
        pv_soe += soe * dfac
        equity_in_t = plan.equity_in[:, t].sum()
        dist_t = dist.sum(axis=1)
        cum_equity += equity_in_t + soe - dist_t
        np.maximum(peak_funding, cum_equity, out=peak_funding)
        cf_prog = cfads.sum(axis=1)
        if llcr_start <= t < llcr_end:
            llcr_num += (cf_prog - (0.0 if plan.bank_first else bond_due.sum(axis=1))) * (1.0 + llcr_rate) ** (-(t - llcr_start))
            if t == llcr_start:
                llcr_den = bal_open
        if cov_lo <= t <= cov_hi:
            cov_num += cfads @ has_bond
            cov_bank += bank_due @ has_bond

        # ------------------------------------------------------------ yearly ledgers
        yr = yearly
        bank_int_t = bank_int_p.sum(axis=1)
        bank_prin_t = bank_prin_p.sum(axis=1)
        bond_t = float(bond_int.sum() + bond_prin.sum())
        yr["ops_in"][:, y] += ops_in.sum(axis=1)
        yr["ops_out"][:, y] += ops_out.sum(axis=1)
        yr["cfads"][:, y] += cf_prog
        yr["rent"][:, y] += rent.sum(axis=1)
        yr["sales"][:, y] += sales.sum(axis=1)
        yr["grants"][:, y] += (rent_sub + int_sub).sum(axis=1) + op_grants.sum()
        yr["buybacks"][:, y] += bb_paid.sum(axis=1)
        yr["bank_interest"][:, y] += bank_int_t
        yr["bank_principal"][:, y] += bank_prin_t
        yr["prepayment"][:, y] += sweep.sum(axis=1)
        yr["bond_interest"][:, y] += bond_int.sum()
        yr["bond_principal"][:, y] += bond_prin.sum()
        yr["debt_service"][:, y] += bank_int_t + bank_prin_t + bond_t
        yr["distributions"][:, y] += dist_t
        yr["equity_in"][:, y] += equity_in_t
        yr["soe_support"][:, y] += soe
        yr["gov_hidden"][:, y] += hidden
        yr["gov_bond"][:, y] += gov_bond
        yr["fiscal_revenue"][:, y] += ms.fiscal_m
        yr["uses"][:, y] += uses.sum() + plan.reserve_in[:, t].sum()
        yr["lockup_months"][:, y] += locked.any(axis=1)
        if t % 12 == 11 or t == T - 1:
            yr["cash_balance"][:, y] = (dsra + cash).sum(axis=1)
            yr["bank_balance"][:, y] = loan_bal.sum(axis=1) if has_loans else 0.0
            yr["bond_balance"][:, y] = plan.bond_balance[:, t].sum()
            yr["collateral_value"][:, y] = collateral
            yr["units_held"][:, y] = held.sum(axis=1)

        if record:
            mo = monthly
            for k, v in (("ops_in", ops_in), ("ops_out", ops_out), ("cfads", cfads), ("rent", rent),
                         ("rent_subsidy", rent_sub), ("sales", sales), ("op_grants", np.broadcast_to(op_grants, (n, P))),
                         ("interest_subsidy", int_sub), ("running_costs", running), ("rent_costs", rent_costs),
                         ("sales_tax", sales_tax), ("buybacks", bb_paid), ("bank_interest", bank_int_p),
                         ("bank_principal", bank_prin_p), ("bank_due", bank_due), ("bond_interest", np.broadcast_to(bond_int, (n, P))),
                         ("bond_principal", np.broadcast_to(bond_prin, (n, P))), ("prepayment", sweep), ("dsra", dsra),
                         ("cash", cash), ("distributions", dist), ("short_opex", short_opex),
                         ("short_bank", short_sen if plan.bank_first else short_jun),
                         ("short_bond", short_jun if plan.bank_first else short_sen),
                         ("sources", np.broadcast_to(sources, (n, P))), ("uses", np.broadcast_to(uses, (n, P))),
                         ("held", held), ("unsold", unsold), ("occupancy", occ), ("bb_units", bb_units),
                         ("sold_units", sold)):
                mo[k][:, :, t] = v
            mo["soe_support"][:, t] = soe
            mo["gov_hidden"][:, t] = hidden
            mo["gov_bond"][:, t] = gov_bond
            mo["hpi"][:, t] = ms.hpi
            mo["rent_index"][:, t] = ms.rent
            mo["lpr"][:, t] = ms.lpr
            mo["cpi"][:, t] = ms.cpi
            mo["fiscal"][:, t] = ms.fiscal_m
            if has_loans:
                mo["loan_balance"][:, :, t] = loan_bal
                mo["loan_rate_m"][:, :, t] = rate
            prev = mo["dsra"][:, :, t - 1].sum(axis=1) + mo["cash"][:, :, t - 1].sum(axis=1) if t > 0 else 0.0
            inflow = sources.sum() + ops_in.sum(axis=1) + soe + hidden + gov_bond
            outflow = (uses.sum() + ops_out.sum(axis=1) + bank_due.sum(axis=1) + bond_due.sum(axis=1)
                       + sweep.sum(axis=1) + dist_t)
            mo["conservation"][:, t] = inflow - outflow - ((dsra + cash).sum(axis=1) - prev)

    # ---------------------------------------------------------------- end of horizon
    hpi_end = ms.hpi
    terminal_assets = (held * plan.area * plan.appraisal_m2).sum(axis=1) * hpi_end * (1.0 - plan.tv_haircut)
    terminal_equity = terminal_assets + (dsra + cash).sum(axis=1) - (loan_bal.sum(axis=1) if has_loans else 0.0)
    scalars = {
        "default_month": default_month,
        "ead": ead,
        "collateral_at_default": collateral_at_default,
        "first_call_month": first_call,
        "pv_hidden": pv_hidden,
        "pv_bond_burden": pv_bond,
        "pv_soe_support": pv_soe,
        "peak_funding_need": peak_funding,
        "llcr": np.where(llcr_den > 0, llcr_num / np.where(llcr_den > 0, llcr_den, 1.0), np.nan),
        "bond_cfads": cov_num,
        "bond_cfads_after_bank": cov_num - cov_bank,
        "terminal_assets": terminal_assets,
        "terminal_equity": terminal_equity,
        "soe_capacity_left": soe_left,
        "hpi_end": hpi_end,
    }
    return ChunkOutput(yearly=yearly, scalars=scalars, monthly=monthly)
