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
   of bond service + interest-only / bullet principal falling due within them; never below the upfront reserve
   before stabilisation); the rest is distributed to the SOE, or retained while the trailing-12-month DSCR is
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

from baozhang_finance.engine import instruments as fin
from baozhang_finance.engine.drivers import Drivers
from baozhang_finance.engine.plan import Plan

#: yearly ledgers kept for every path (float32 to keep 1M paths in memory), summed over the year
YEARLY_FLOWS = (
    "ops_in", "ops_out", "cfads", "rent", "sales", "grants", "buybacks", "bank_interest", "bank_principal",
    "prepayment", "bond_interest", "bond_principal", "debt_service", "distributions", "equity_in", "soe_support",
    "gov_hidden", "gov_bond", "fiscal_revenue", "uses", "lockup_months",
)
#: yearly balances kept for every path, at the end of each year
YEARLY_BALANCES = ("cash_balance", "bank_balance", "bond_balance", "collateral_value", "units_held", "hpi")


@dataclass
class ChunkOutput:
    """Per-path results of one chunk: yearly ledgers ``(n, Y)`` and end-of-run scalars ``(n,)``."""

    yearly: dict[str, np.ndarray]
    scalars: dict[str, np.ndarray]
    monthly: dict[str, np.ndarray] = field(default_factory=dict)  # only when record=True


def run_paths(plan: Plan, n: int, rng, record: bool = False) -> ChunkOutput:
    """Simulate ``n`` paths month by month. ``rng=None`` or a deterministic plan gives expected market paths.

    Internally arrays are laid out project-major, ``(P, n)`` and ``(L, n)``, so that per-project rows are
    contiguous and sums over projects are row additions; outputs are path-major (``(n, Y)``, ``(n, P, T)``).
    """
    T, Y, P, L = plan.T, plan.Y, plan.P, plan.L
    drv = Drivers(plan.market, n, rng)
    f64 = np.float64
    ar_p = np.arange(P)[:, None]
    col = lambda a: np.asarray(a, dtype=f64)[:, None]  # noqa: E731  (P,) → (P, 1) for broadcasting

    # ---------------------------------------------------------------- state, (P, n) / (L, n)
    loan_bal = np.zeros((L, n))
    dsra = np.zeros((P, n))
    cash = np.zeros((P, n))
    held = np.zeros((P, n))
    unsold = np.zeros((P, n))
    eligible = np.zeros((P, n))
    pending = np.zeros((P, n))  # bought back, not yet resold
    soe_left = np.full(n, plan.soe_capacity, dtype=f64)
    any_buyback = bool(plan.has_buyback.any())
    any_sale = bool(plan.is_sale.any())
    any_rental = bool(plan.is_rental.any())
    lk = int(plan.lockup_months.max()) + 1
    lock_eff = np.maximum(plan.lockup_months, 1)  # read before this month's write, so a lag of at least one month
    dk = int(plan.resale_delay.max()) + 1
    lock_ring = np.zeros((lk, P, n)) if any_sale else None
    resale_units_ring = np.zeros((dk, P, n)) if any_buyback else None
    resale_value_ring = np.zeros((dk, P, n)) if any_buyback else None
    lr = int(plan.lease_months.max()) + 1
    rent_ring = np.zeros((lr, n))
    rent_sum = np.zeros((P, n))
    cf_ring = np.zeros((12, P, n))
    ds_ring = np.zeros((12, P, n))
    cf12 = np.zeros((P, n))
    ds12 = np.zeros((P, n))

    # per-path scalars
    default_month = np.full(n, -1, dtype=np.int64)
    ead = np.zeros(n)
    collateral_at_default = np.zeros(n)
    hpi_at_default = np.full(n, np.nan)  # house-price index in the default month (LGD price path)
    hpi_at_sale = np.full(n, np.nan)  # … and in the month the bank sells: default + liquidation_months (if ≤ T − 1)
    sale_month = np.full(n, -1, dtype=np.int64)
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

    yearly = {k: np.zeros((Y, n)) for k in YEARLY_FLOWS + YEARLY_BALANCES}
    proj_cfads = np.zeros((Y, P, n))  # per-project yearly CFADS and bank service: the bank tests each ring-fenced loan
    proj_bank = np.zeros((Y, P, n))
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
    onehot_t = plan.loan_onehot.T.copy()  # (P, L): project totals = onehot_t @ loan rows
    lp = plan.loan_project
    is_rental = plan.is_rental
    area = col(plan.area)
    cost_m2_m = col(plan.opex_m2_m + plan.holding_m2_m) * area
    rent_unit = col(plan.floor_area * plan.rent0_m2 * plan.rent_ratio * plan.collection)  # collected, index 1, full
    rent_cost_share = col(plan.mgmt_share + plan.rent_tax_share + plan.capex_share)
    sale_unit_value = col(plan.area * plan.sale_price_m2)
    collateral_unit = plan.area * plan.appraisal_m2  # (P,)
    stab_occ = col(plan.stab_occ)
    rent_sub_unit = col(plan.units * plan.rent_subsidy_unit_m)
    new_inventory = plan.units * (1.0 - plan.presub_share) * plan.is_sale
    absorption_m = col(plan.absorption_m)
    elasticity = col(plan.absorption_elasticity)
    any_elastic = bool(np.any(plan.absorption_elasticity != 0))
    sales_tax_rate = col(plan.sales_tax)
    sweep_share = col(plan.sweep_share)
    subsidy_share = col(plan.subsidy_share)
    bb_hazard = col(plan.bb_hazard_annual)
    bb_sens = col(plan.bb_sensitivity)
    bb_market = col(plan.bb_market_rule.astype(f64))
    bb_market_price = col(plan.appraisal_m2 * (1.0 - plan.bb_fee))
    resale_factor = col(1.0 + plan.resale_margin)
    lease_months = plan.lease_months
    lease_div = np.maximum(lease_months, 1)
    lease_up = np.maximum(plan.lease_up_months, 1)
    has_lease_up = plan.lease_up_months > 0
    avail_m = plan.available_month
    loan_fixed = plan.loan_fixed[:, None]
    loan_rate_m = plan.loan_rate_m[:, None]
    loan_spread_m = plan.loan_spread_m[:, None]
    rel_share = plan.loan_rel_share[:, None]
    rel_part = (plan.loan_rel_share * plan.loan_rel_rate_m)[:, None]
    code = plan.loan_code
    annuity_rows = np.nonzero(code == 0)[0]
    bb_rows = np.nonzero(plan.has_buyback)[0]
    is_equal = (code == 1)[:, None]
    llcr_start = int(max((plan.owned_month[lp]).max(), 0)) if has_loans else T
    llcr_end = int(plan.loan_maturity.max()) if has_loans else 0
    llcr_rate = float(np.average(plan.loan_initial_rate_m, weights=plan.loan_draw.sum(axis=1))) if has_loans else 0.0
    bond_total_service = plan.bond_interest + plan.bond_principal
    bond_months = np.nonzero(bond_total_service.sum(axis=0) + plan.bond_draw.sum(axis=0))[0]
    cov_lo, cov_hi = (int(bond_months.min()), int(bond_months.max())) if bond_months.size else (T, -1)
    has_bond = bond_total_service.sum(axis=1) > 0  # (P,) projects that carry special bonds
    lockup_threshold = plan.lockup_dscr
    soe_revolving = plan.soe_revolving
    dsra_k = plan.dsra_months
    dsra_window = int(round(plan.dsra_months))
    balloon = (code == 2) | (code == 3)  # interest-only and bullet loans repay their principal in one go
    has_balloon = has_loans and bool(balloon.any())
    zeros_pn = np.zeros((P, n))

    for t in range(T):
        ms = drv.step(t)
        y = t // 12
        hpi = ms.hpi
        # ------------------------------------------------------------ funding (deterministic)
        uses = plan.uses_out[:, t]
        dsra += plan.reserve_in[:, t][:, None]
        sources = plan.equity_in[:, t] + plan.capital_grants_in[:, t] + plan.bond_draw[:, t]
        # ------------------------------------------------------------ bank loans, (L, n)
        if has_loans:
            draw = plan.loan_draw[:, t]
            loan_bal += draw[:, None]
            sources = sources + plan.loan_onehot.T @ draw
            base = np.where(loan_fixed, loan_rate_m, ms.lpr / 12.0 + loan_spread_m)
            rel_on = (t < plan.loan_rel_end)[:, None] & ms.relending_on
            rate = np.where(rel_on, rel_part + (1.0 - rel_share) * base, base)
            interest = loan_bal * rate
            in_grace = t < plan.loan_amort_start
            capitalise = (plan.loan_capitalise & (in_grace | (code == 3)))[:, None]
            cap_int = np.where(capitalise, interest, 0.0)
            bal_pre = loan_bal.copy()
            loan_bal += cap_int
            cash_int = interest - cap_int
            n_rem = plan.loan_maturity - t
            last = (n_rem == 1)[:, None]
            pays = (~in_grace & (n_rem >= 1))[:, None] | last
            n_rem_c = n_rem[:, None]
            principal = np.where(is_equal, fin.equal_principal_payment(loan_bal, n_rem_c), np.where(last, loan_bal, 0.0))
            if annuity_rows.size:  # only annuity loans pay the (costly) level payment
                principal[annuity_rows] = (fin.annuity_payment(bal_pre[annuity_rows], rate[annuity_rows],
                                                               n_rem_c[annuity_rows]) - cash_int[annuity_rows])
            principal = np.where(pays, np.minimum(np.maximum(principal, 0.0), loan_bal), 0.0)
            bal_open = loan_bal.sum(axis=0)
            bank_int_p = onehot_t @ cash_int
            bank_prin_p = onehot_t @ principal
        else:
            bal_open = np.zeros(n)
            bank_int_p = zeros_pn
            bank_prin_p = zeros_pn
        bank_due = bank_int_p + bank_prin_p
        bond_int = plan.bond_interest[:, t]
        bond_prin = plan.bond_principal[:, t]
        bond_due = (bond_int + bond_prin)[:, None]

        # ------------------------------------------------------------ rental operations
        held += plan.acquired_units[:, t][:, None]
        active = t >= avail_m
        if any_rental:
            rent_ring_slot = t % lr
            act_r = active & is_rental
            dropping = (t - lease_months >= avail_m) & is_rental
            if act_r.any():
                rent_sum[act_r] += ms.rent
            if dropping.any():
                rent_sum[dropping] -= rent_ring[(t - lease_months[dropping]) % lr]
            rent_ring[rent_ring_slot] = ms.rent
            count = np.clip(t - avail_m + 1, 1, lease_div)
            ramp = np.where(has_lease_up, np.clip((t - avail_m + 1) / lease_up, 0.0, 1.0), active) * is_rental
            occ = np.minimum(np.maximum(stab_occ + ms.occ_dev, 0.0), 1.0) * col(ramp)
            rent = rent_unit * (rent_sum / col(count)) * occ
            rent_sub = rent_sub_unit * occ
            rent_costs = rent * rent_cost_share
        else:
            occ = rent = rent_sub = rent_costs = zeros_pn
        running = held * cost_m2_m * ms.cpi

        # ------------------------------------------------------------ sale operations
        if any_sale:
            if np.any(t == avail_m):
                unsold += (new_inventory * (t == avail_m))[:, None]
            abs_rate = absorption_m * ms.absorption
            if any_elastic:
                abs_rate = abs_rate * hpi ** elasticity
            sold = unsold * np.minimum(abs_rate, 1.0) * col(active)
            unsold -= sold
            handover = plan.presub_handover_units[:, t][:, None]
            # units handed over exactly lockup_months ago become eligible for a buyback this month (a unit handed over
            # in month h may ask from month h + 12·lockup_years; with no lock-up, from the month after hand-over)
            eligible += lock_ring[(t - lock_eff) % lk, ar_p[:, 0]]
            handed = sold + handover
            if any_buyback:
                # monthly hazard h_m = 1 − (1 − h)^(1/12), h = min(1, hazard × (1 + s × max(0, 1 − H)))
                h_ann = np.minimum(bb_hazard[bb_rows] * (1.0 + bb_sens[bb_rows] * np.maximum(0.0, 1.0 - hpi)), 1.0)
                bb_units = zeros_pn.copy()
                # h = 1: every eligible owner sells back this month (h_m = 1; clamping h below 1 gave h_m ≈ 0.953)
                h_m = np.where(h_ann >= 1.0, 1.0, -np.expm1(np.log1p(-np.where(h_ann >= 1.0, 0.0, h_ann)) / 12.0))
                bb_units[bb_rows] = eligible[bb_rows] * h_m
                eligible -= bb_units
                orig = col(plan.sale_price_m2 * np.exp(plan.bb_index_m * (t - avail_m)))
                bb_price = bb_market * (bb_market_price * hpi) + (1.0 - bb_market) * orig
                bb_paid = bb_units * area * bb_price
                slot = t % dk
                resale_units_ring[slot] = bb_units
                resale_value_ring[slot] = bb_paid
                rslot = (t - plan.resale_delay) % dk
                resale_units = resale_units_ring[rslot, ar_p[:, 0]]
                resale_cash = resale_value_ring[rslot, ar_p[:, 0]] * resale_factor
                pending += bb_units - resale_units
                handed = handed + resale_units
                held += bb_units
            else:
                bb_units = bb_paid = resale_cash = zeros_pn
            lock_ring[t % lk] = handed
            held -= handed
            sales = sold * sale_unit_value + plan.presale_cash[:, t][:, None] + resale_cash
            sales_tax = sales * sales_tax_rate
        else:
            sold = bb_units = bb_paid = sales = sales_tax = zeros_pn

        # ------------------------------------------------------------ CFADS
        int_sub = bank_int_p * subsidy_share * col(t < plan.subsidy_end) if has_loans else zeros_pn
        op_grants = plan.operating_grants[:, t][:, None]
        ops_in = rent + rent_sub + sales + op_grants + int_sub
        ops_out = running + rent_costs + sales_tax + bb_paid
        cfads = ops_in - ops_out

        # ------------------------------------------------------------ waterfall, per project
        avail = cfads + cash + dsra
        if plan.bank_first:
            senior, junior = bank_due, bond_due
        else:
            senior, junior = bond_due, bank_due
        pos = np.maximum(avail, 0.0)
        paid_sen = np.minimum(pos, senior)
        paid_jun = np.minimum(pos - paid_sen, junior)
        short_opex = np.maximum(-avail, 0.0)
        short_sen = senior - paid_sen
        short_jun = junior - paid_jun
        surplus = pos - paid_sen - paid_jun
        if has_loans and any_sale:
            bal_after = onehot_t @ (loan_bal - principal)
            sweep = np.minimum(np.minimum(sweep_share * sales, surplus), bal_after)
            surplus = surplus - sweep
        else:
            sweep = zeros_pn
        # DSRA target: dsra_months × this month's bank service + bond service of the next dsra_months months
        # + principal of interest-only / bullet loans maturing within them; never below the upfront reserve
        # before stabilisation (it carries the months before the first rent or hand-over)
        target = dsra_k * bank_due + plan.bond_forward_service[:, t][:, None]
        if has_balloon:
            ahead = balloon & (plan.loan_maturity - 1 > t) & (plan.loan_maturity - 1 - t <= dsra_window)
            if ahead.any():
                target = target + onehot_t[:, ahead] @ loan_bal[ahead]
        target = np.maximum(target, plan.reserve_floor[:, t][:, None])
        dsra = np.minimum(surplus, target)
        surplus = surplus - dsra
        if plan.cross_support:
            pool = surplus.sum(axis=0)
            need = (short_opex + short_sen + short_jun).sum(axis=0)
            used = np.minimum(pool, need)
            keep_short = np.where(need > 0, 1.0 - used / np.where(need > 0, need, 1.0), 1.0)
            keep_pool = np.where(pool > 0, 1.0 - used / np.where(pool > 0, pool, 1.0), 1.0)
            short_opex = short_opex * keep_short
            short_sen = short_sen * keep_short
            short_jun = short_jun * keep_short
            surplus = surplus * keep_pool
        # trailing-12-month DSCR lock-up (running sums over a 12-month ring)
        service = bank_due + bond_due
        r12 = t % 12
        cf12 += cfads - cf_ring[r12]
        ds12 += service - ds_ring[r12]
        cf_ring[r12] = cfads
        ds_ring[r12] = service
        locked = (ds12 > 1e-9) & (cf12 < lockup_threshold * ds12)
        cash = np.where(locked, surplus, 0.0)
        dist = surplus - cash

        # ------------------------------------------------------------ SOE, then government (programme level)
        s_opex = short_opex.sum(axis=0)
        s_sen = short_sen.sum(axis=0)
        s_jun = short_jun.sum(axis=0)
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
        collateral = (collateral_unit @ held + plan.work_in_progress[:, t].sum()) * hpi
        if has_loans:
            new_default = (gov_bank > 1e-6) & (default_month < 0)
            if new_default.any():
                default_month[new_default] = t
                ead[new_default] = (bal_open + bank_int_p.sum(axis=0))[new_default]
                collateral_at_default[new_default] = collateral[new_default]
                hpi_at_default[new_default] = hpi[new_default]
                sale_month[new_default] = t + plan.liquidation_months
        if has_loans:
            selling = sale_month == t
            if selling.any():
                hpi_at_sale[selling] = hpi[selling]
            # pay down: scheduled principal, then the sweep pro rata to the balances of each project's loans
            loan_bal -= principal
            if any_sale:
                proj_bal = onehot_t @ loan_bal
                share = loan_bal / np.where(proj_bal > 0, proj_bal, 1.0)[lp]
                loan_bal -= share * sweep[lp]
                np.maximum(loan_bal, 0.0, out=loan_bal)

        # ------------------------------------------------------------ per-path metrics
        new_call = (hidden > 1e-6) & (first_call < 0)
        if new_call.any():
            first_call[new_call] = t
        dfac = plan.discount_m[t]
        pv_hidden += hidden * dfac
        pv_bond += gov_bond * dfac
        pv_soe += soe * dfac
        equity_in_t = plan.equity_in[:, t].sum()
        dist_t = dist.sum(axis=0)
        cum_equity += equity_in_t + soe - dist_t
        if soe_revolving:  # distributions restore the SOE's free cash, up to its stated capacity
            np.minimum(soe_left + dist_t, plan.soe_capacity, out=soe_left)
        np.maximum(peak_funding, cum_equity, out=peak_funding)
        cf_prog = cfads.sum(axis=0)
        if llcr_start <= t < llcr_end:
            llcr_num += (cf_prog - (0.0 if plan.bank_first else bond_due.sum())) * (1.0 + llcr_rate) ** (-(t - llcr_start))
            if t == llcr_start:
                llcr_den = bal_open
        if cov_lo <= t <= cov_hi:
            cov_num += cfads[has_bond].sum(axis=0)
            cov_bank += bank_due[has_bond].sum(axis=0)

        # ------------------------------------------------------------ yearly ledgers, (Y, n)
        yr = yearly
        bank_int_t = bank_int_p.sum(axis=0)
        bank_prin_t = bank_prin_p.sum(axis=0)
        bond_t = float(bond_int.sum() + bond_prin.sum())
        yr["ops_in"][y] += ops_in.sum(axis=0)
        yr["ops_out"][y] += ops_out.sum(axis=0)
        yr["cfads"][y] += cf_prog
        proj_cfads[y] += cfads
        proj_bank[y] += bank_due
        yr["rent"][y] += rent.sum(axis=0)
        yr["sales"][y] += sales.sum(axis=0)
        yr["grants"][y] += (rent_sub + int_sub).sum(axis=0) + op_grants.sum()
        yr["buybacks"][y] += bb_paid.sum(axis=0)
        yr["bank_interest"][y] += bank_int_t
        yr["bank_principal"][y] += bank_prin_t
        yr["prepayment"][y] += sweep.sum(axis=0)
        yr["bond_interest"][y] += bond_int.sum()
        yr["bond_principal"][y] += bond_prin.sum()
        yr["debt_service"][y] += bank_int_t + bank_prin_t + bond_t
        yr["distributions"][y] += dist_t
        yr["equity_in"][y] += equity_in_t
        yr["soe_support"][y] += soe
        yr["gov_hidden"][y] += hidden
        yr["gov_bond"][y] += gov_bond
        yr["fiscal_revenue"][y] += ms.fiscal_m
        yr["uses"][y] += uses.sum() + plan.reserve_in[:, t].sum()
        yr["lockup_months"][y] += locked.any(axis=0)
        if t % 12 == 11 or t == T - 1:
            yr["cash_balance"][y] = (dsra + cash).sum(axis=0)
            yr["bank_balance"][y] = loan_bal.sum(axis=0) if has_loans else 0.0
            yr["bond_balance"][y] = plan.bond_balance[:, t].sum()
            yr["collateral_value"][y] = collateral
            yr["units_held"][y] = held.sum(axis=0)
            yr["hpi"][y] = hpi

        if record:
            mo = monthly
            for k, v in (("ops_in", ops_in), ("ops_out", ops_out), ("cfads", cfads), ("rent", rent),
                         ("rent_subsidy", rent_sub), ("sales", sales), ("op_grants", op_grants),
                         ("interest_subsidy", int_sub), ("running_costs", running), ("rent_costs", rent_costs),
                         ("sales_tax", sales_tax), ("buybacks", bb_paid), ("bank_interest", bank_int_p),
                         ("bank_principal", bank_prin_p), ("bank_due", bank_due), ("bond_interest", bond_int[:, None]),
                         ("bond_principal", bond_prin[:, None]), ("prepayment", sweep), ("dsra", dsra),
                         ("cash", cash), ("distributions", dist), ("short_opex", short_opex),
                         ("short_bank", short_sen if plan.bank_first else short_jun),
                         ("short_bond", short_jun if plan.bank_first else short_sen),
                         ("sources", sources[:, None]), ("uses", uses[:, None]),
                         ("held", held), ("unsold", unsold), ("occupancy", occ), ("bb_units", bb_units),
                         ("sold_units", sold)):
                mo[k][:, :, t] = np.broadcast_to(v, (P, n)).T
            mo["soe_support"][:, t] = soe
            mo["gov_hidden"][:, t] = hidden
            mo["gov_bond"][:, t] = gov_bond
            mo["hpi"][:, t] = hpi
            mo["rent_index"][:, t] = ms.rent
            mo["lpr"][:, t] = ms.lpr
            mo["cpi"][:, t] = ms.cpi
            mo["fiscal"][:, t] = ms.fiscal_m
            if has_loans:
                mo["loan_balance"][:, :, t] = loan_bal.T
                mo["loan_rate_m"][:, :, t] = rate.T
            prev = mo["dsra"][:, :, t - 1].sum(axis=1) + mo["cash"][:, :, t - 1].sum(axis=1) if t > 0 else 0.0
            inflow = sources.sum() + ops_in.sum(axis=0) + soe + hidden + gov_bond
            outflow = (uses.sum() + ops_out.sum(axis=0) + bank_due.sum(axis=0) + np.broadcast_to(bond_due, (P, n)).sum(axis=0)
                       + sweep.sum(axis=0) + dist_t)
            mo["conservation"][:, t] = inflow - outflow - ((dsra + cash).sum(axis=0) - prev)

    # ---------------------------------------------------------------- end of horizon
    hpi_end = ms.hpi
    terminal_assets = (collateral_unit @ held) * hpi_end * (1.0 - plan.tv_haircut)
    terminal_equity = terminal_assets + (dsra + cash).sum(axis=0) - (loan_bal.sum(axis=0) if has_loans else 0.0)
    scalars = {
        "default_month": default_month,
        "ead": ead,
        "collateral_at_default": collateral_at_default,
        "hpi_at_default": hpi_at_default,
        "hpi_at_sale": hpi_at_sale,
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
    scalars["bank_dscr_min_project"] = _min_project_bank_dscr(plan, proj_cfads, proj_bank)
    yearly_out = {k: np.ascontiguousarray(v.T) for k, v in yearly.items()}
    return ChunkOutput(yearly=yearly_out, scalars=scalars, monthly=monthly)


def _min_project_bank_dscr(plan: Plan, cfads_ypn: np.ndarray, bank_ypn: np.ndarray) -> np.ndarray:
    """Per path, the lowest bank DSCR of any ring-fenced project with bank debt over its own test window:
    min_p min_{y ∈ window_p} (CFADS_{p,y} − bond service_{p,y} if bonds rank first) / bank service_{p,y}."""
    n = cfads_ypn.shape[2]
    out = np.full(n, np.inf)
    found = np.zeros(n, dtype=bool)
    bond_y = (plan.bond_interest + plan.bond_principal).reshape(plan.P, plan.Y, 12).sum(axis=2)  # (P, Y)
    for p in range(plan.P):  # projects, once per chunk
        a, b = plan.bank_windows[p]
        if b <= a:
            continue
        cf = cfads_ypn[a:b, p]
        if not plan.bank_first:
            cf = cf - bond_y[p, a:b, None]
        bank = bank_ypn[a:b, p]
        has = bank > 0
        ratio = np.where(has, cf / np.where(has, bank, 1.0), np.inf)
        out = np.minimum(out, ratio.min(axis=0))
        found |= has.any(axis=0)
    return np.where(found, out, np.nan)
