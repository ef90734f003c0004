"""The oracle: a plain per-path reference implementation of the model in :mod:`baozhang_finance.engine`.

Purpose: an independent check of the vectorised engine (tests/test_reference_crosscheck.py) and the baseline of
the benchmark (benchmarks/bench_engine.py, through the shim benchmarks/reference_model.py). It is written the way a spreadsheet modeller would write it — one
path at a time, one month at a time, Python floats and lists only, no numpy arrays over paths — and follows the
engine's conventions exactly:

* the deterministic inputs (loan draw schedules, bond schedules, discount factors, rates per month, the
  correlation factor) come from the compiled :class:`~baozhang_finance.plan.Plan`, converted to Python lists;
  everything that depends on a path (the market recursions, operations, loans, waterfall, support, default,
  per-path metrics and yearly ledgers) is re-implemented here;
* the random numbers are the engine's: :func:`draw_random_numbers` reads the same shock source the engine reads,
  :class:`baozhang_finance.engine.shocks.Shocks` — for each month t ≥ 1 an ``(n, 7)`` standard-normal array, then,
  at a relending rollover month, ``n`` uniforms — from the chunk's generator
  ``Generator(PCG64(SeedSequence(seed, spawn_key=(chunk,))))``;
* trailing sums (in-place rent over the lease, 12-month CFADS and debt service for the lock-up test) are
  recomputed from each path's own history over the window, where the engine keeps running sums and rings.

The result of :func:`run_reference` is one dict per path with the same per-path quantities as
``Result.paths`` and the yearly ledgers the engine keeps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from baozhang_finance.engine.plan import MarketPlan, Plan, compile_plan
from baozhang_finance.engine.shocks import N_INNOVATIONS, Shocks
from baozhang_finance.model.scenario import Scenario
from baozhang_finance.run.simulate import chunk_generator


def draw_random_numbers(mp: MarketPlan, T: int, n: int, rng: np.random.Generator | None, event_rows: int = 0,
                        events: list | None = None):
    """The engine's random numbers for ``n`` paths, read from the engine's shock source
    (:meth:`Shocks.month`, months in order): ``eps[t]`` (n × 7 nested lists, t ≥ 1) and ``u[t]`` (n floats at
    relending rollover months, else None)."""
    shocks = Shocks.for_plan(mp, n, rng)
    if event_rows:
        ev = shocks.event_uniforms(event_rows)
        events[:] = [] if ev is None else ev.T.tolist()  # per path: the event uniforms (one per loan)
    eps: list[Any] = [None] * T
    u: list[Any] = [None] * T
    for t in range(T):
        e, uu = shocks.month(t)
        eps[t] = None if e is None else e.tolist()
        u[t] = None if uu is None else uu.tolist()
    return eps, u


class _Inputs:
    """The plan's deterministic arrays as Python lists and floats."""

    def __init__(self, plan: Plan):
        L = lambda a: np.asarray(a).tolist()  # noqa: E731
        self.T, self.Y, self.P, self.NL = plan.T, plan.Y, plan.P, plan.L
        for name in ("is_rental", "is_sale", "units", "area", "floor_area", "appraisal_m2", "available_month",
                     "acquired_units", "uses_out", "reserve_in", "equity_in", "operating_grants", "bond_interest",
                     "bond_principal", "bond_balance", "bond_forward_service", "rent0_m2", "rent_ratio",
                     "lease_months", "lease_up_months", "stab_occ", "collection", "opex_m2_m", "mgmt_share",
                     "rent_tax_share", "capex_share", "rent_subsidy_unit_m", "sale_price_m2", "presub_share",
                     "presale_cash", "presub_handover_units", "absorption_m", "absorption_elasticity", "sweep_share",
                     "holding_m2_m", "sales_tax", "has_buyback", "lockup_months", "bb_hazard_annual",
                     "bb_sensitivity", "bb_market_rule", "bb_fee", "bb_index_m", "resale_delay", "resale_margin",
                     "loan_project", "loan_draw", "loan_fixed", "loan_rate_m", "loan_spread_m", "loan_maturity",
                     "loan_amort_start", "loan_code", "loan_capitalise", "loan_rel_share", "loan_rel_rate_m",
                     "loan_rel_end", "loan_initial_rate_m", "subsidy_share", "subsidy_end", "discount_m",
                     "discount_y", "owned_month", "bond_draw", "reserve_floor"):
            setattr(self, name, L(getattr(plan, name)))
        self.bank_first = bool(plan.bank_first)
        self.dsra_months = float(plan.dsra_months)
        self.lockup_dscr = float(plan.lockup_dscr)
        self.soe_capacity = float(plan.soe_capacity)
        sp = plan.support  # conventions: legacy, or the default support policy
        self.legacy = sp.legacy
        self.soe_order = list(sp.soe_order)
        self.yearly_capacity = float(sp.yearly_capacity)
        self.distributions_return = bool(sp.distributions_return)
        self.pot_cap = float(sp.pot_cap)
        # [cures.disposal] (default conventions): a stabilised rental block sold at forward NOI ÷ cap rate
        self.fiscal_discount_m = L(sp.fiscal_discount_m)
        self.loan_reprice_p = L(plan.loan_reprice_p)
        self.cross_support = bool(plan.cross_support)
        self.tv_haircut = float(plan.tv_haircut)
        self.discount_rate = 1.0 / plan.discount_y[0] - 1.0
        mp = plan.market
        self.mp = mp
        self.chol = L(mp.chol)
        self.vols = [mp.price_vol_m, mp.rent_vol_m, mp.lpr_vol_m, mp.cpi_vol_m, mp.occ_vol_m, mp.abs_vol_m, mp.fiscal_vol_m]
        self.price_drift_m = L(mp.price_drift_m)
        self.stress_log_price = L(mp.stress_log_price)
        self.stress_log_rent = L(mp.stress_log_rent)
        self.stress_rate = L(mp.stress_rate)
        self.stress_occ = L(mp.stress_occ)
        self.events = set(int(m) for m in mp.relending_event_months)
        # derived deterministic figures, computed the way the model defines them
        NL = self.NL
        # each ring-fenced project's LLCR window (decision 72): from its owned month to its loans' last maturity,
        # discounted at its loans' draw-weighted initial rate; None for a project without bank debt
        self.llcr_window = [None] * self.P
        for i in range(self.P):
            rows = [j for j in range(NL) if self.loan_project[j] == i and sum(self.loan_draw[j]) > 0]
            if rows:
                a, b = max(self.owned_month[i], 0), max(self.loan_maturity[j] for j in rows)
                w = [sum(self.loan_draw[j]) for j in rows]
                r = sum(self.loan_initial_rate_m[j] * x for j, x in zip(rows, w)) / sum(w)
                self.llcr_window[i] = (a, b, r, rows) if b > a else None
        months_with_bonds = [t for t in range(self.T)
                             if any(self.bond_interest[i][t] + self.bond_principal[i][t] + self.bond_draw[i][t] != 0
                                    for i in range(self.P))]
        self.cov_lo, self.cov_hi = (min(months_with_bonds), max(months_with_bonds)) if months_with_bonds else (self.T, -1)
        self.has_bond = [sum(self.bond_interest[i]) + sum(self.bond_principal[i]) > 0 for i in range(self.P)]
        self.bond_service_total = sum(sum(self.bond_interest[i]) + sum(self.bond_principal[i]) for i in range(self.P))
        self.new_inventory = [self.units[i] * (1.0 - self.presub_share[i]) * (1.0 if self.is_sale[i] else 0.0)
                              for i in range(self.P)]
        self.any_sale = any(self.is_sale)
        # cures (default conventions only): the extension and refinancing bonds; the sinking fund is not here
        cures = sp.cures
        self.cure_order = [k for k in (cures.order if cures is not None else []) if getattr(cures, k) is not None]
        assert cures is None or cures.sinking_fund is None, "the oracle has no sinking fund"
        self.ext = cures.extension if cures is not None else None
        self.refi = cures.refinancing if cures is not None else None
        self.disposal = cures.disposal if cures is not None else None
        self.cures_after = cures is not None and cures.timing == "after_soe_support"
        self.loan_first = L(plan.loan_first)
        self.lpr0 = float(plan.market.lpr0)
        # refinancing slots: each month principal falls due, and from it every 12·term months inside the horizon
        self.refi_months = [set() for _ in range(self.P)]
        if self.refi is not None:
            for i in range(self.P):
                for t0 in range(self.T):
                    if self.bond_principal[i][t0] > 0:
                        t1 = t0
                        while t1 < self.T:
                            self.refi_months[i].add(t1)
                            t1 += 12 * self.refi.term_years


def _annuity(balance: float, rate: float, n_rem: int) -> float:
    n = max(float(n_rem), 1.0)
    if abs(rate) < 1e-12:
        return balance / n
    return balance * rate / (1.0 - (1.0 + rate) ** (-n))


def run_path(inp: _Inputs, eps: list, u: list, p: int, events: list | None = None) -> dict[str, Any]:
    """Simulate path ``p`` (its row in the drawn numbers) month by month; return its per-path results."""
    T, Y, P, NL = inp.T, inp.Y, inp.P, inp.NL
    mp = inp.mp
    chol, vols = inp.chol, inp.vols
    ito = [0.5 * v * v for v in vols]
    # ------------------------------------------------------------------ market state (drivers.py recursions)
    log_h = log_r = log_c = occ_d = abs_d = log_g = 0.0
    lpr = mp.lpr0
    rel_on = True
    rel_p = None  # an expected path's P(relending still renewed), after the first rollover (decision 73)
    # ------------------------------------------------------------------ model state
    bal = [0.0] * NL
    maturity = list(inp.loan_maturity)  # an extension moves it (and adds to the rate)
    rate_add = [0.0] * NL
    times = [0.0] * NL
    noi_hist = [[] for _ in range(P)]
    issues = []  # refinancing bonds: [project, month issued, amount, coupon]
    dsra = [0.0] * P
    cash = [0.0] * P
    held = [0.0] * P
    unsold = [0.0] * P
    eligible = [0.0] * P
    soe_left = inp.soe_capacity
    soe_exhausted = first_shortfall = -1
    rent_hist: list[float] = []
    handed_hist = [[] for _ in range(P)]
    bb_units_hist = [[] for _ in range(P)]
    bb_paid_hist = [[] for _ in range(P)]
    cf_hist = [[] for _ in range(P)]
    ds_hist = [[] for _ in range(P)]
    default_month = -1
    ead = collateral_at_default = 0.0
    sold_block = [False] * P  # disposal: the block was sold to a REIT / state buyer on this path
    occ_hist = [[] for _ in range(P)]
    first_call = -1
    pv_hidden = pv_bond = pv_soe = 0.0
    cum_equity = peak_funding = 0.0
    llcr_num, llcr_den = [0.0] * P, [0.0] * P
    cov_num = cov_bank = 0.0
    keys = ("cfads", "debt_service", "distributions", "equity_in", "soe_support", "gov_hidden", "gov_bond",
            "fiscal_revenue", "uses", "lockup_months", "cash_balance", "bank_balance", "collateral_value", "refinancing")
    yl = {k: [0.0] * Y for k in keys}

    for t in range(T):
        y = t // 12
        # -------------------------------------------------------------- market step
        if t > 0:
            mu = inp.price_drift_m[t - 1]
            e = eps[t]
            if e is not None:
                z = e[p]
                sh = [vols[j] * sum(z[k] * chol[j][k] for k in range(N_INNOVATIONS)) for j in range(N_INNOVATIONS)]
                log_h += mu - ito[0] + sh[0]
                log_r += mp.rent_drift_m[t - 1] - ito[1] + sh[1]
                lpr += mp.lpr_kappa_m * (mp.lpr_mean - lpr) + sh[2]
                log_c += mp.cpi_drift_m - ito[3] + sh[3]
                occ_d += -mp.occ_kappa_m * occ_d + sh[4]
                abs_d += -mp.abs_kappa_m * abs_d + sh[5]
                log_g += mp.fiscal_drift_m - ito[6] + sh[6]
            else:
                log_h += mu
                log_r += mp.rent_drift_m[t - 1]
                lpr += mp.lpr_kappa_m * (mp.lpr_mean - lpr)
                log_c += mp.cpi_drift_m
                occ_d += -mp.occ_kappa_m * occ_d
                abs_d += -mp.abs_kappa_m * abs_d
                log_g += mp.fiscal_drift_m
            if u[t] is not None:
                rel_on = rel_on and u[t][p] >= mp.relending_nonrenewal_prob
            elif t in inp.events and mp.relending_nonrenewal_prob > 0:
                rel_p = (1.0 if rel_p is None else rel_p) * (1.0 - mp.relending_nonrenewal_prob)
        if t >= mp.stress_relending_stop:
            rel_on = False
        hpi = math.exp(log_h + inp.stress_log_price[t])
        rent_idx = math.exp(log_r + inp.stress_log_rent[t])
        lpr_rep = max(lpr + inp.stress_rate[t], mp.lpr_floor)
        cpi = math.exp(log_c)
        occ_dev = occ_d + inp.stress_occ[t]
        absorption = math.exp(abs_d)
        fiscal = mp.fiscal0_m * ((1.0 - mp.fiscal_land_share) * math.exp(log_g) + mp.fiscal_land_share * hpi ** mp.fiscal_land_beta)
        rent_hist.append(rent_idx)

        # -------------------------------------------------------------- funding
        uses_t = sum(inp.uses_out[i][t] for i in range(P))
        for i in range(P):
            dsra[i] += inp.reserve_in[i][t]
        # -------------------------------------------------------------- bank loans
        bank_int = [0.0] * P
        bank_prin = [0.0] * P
        principal = [0.0] * NL
        cash_ints = [0.0] * NL
        bal_open = 0.0
        for j in range(NL):
            bal[j] += inp.loan_draw[j][t]
            base = inp.loan_rate_m[j] if inp.loan_fixed[j] else lpr_rep / 12.0 + inp.loan_spread_m[j]
            contract = inp.loan_rel_share[j] * inp.loan_rel_rate_m[j] + (1.0 - inp.loan_rel_share[j]) * base
            if inp.legacy:
                after = base  # legacy: the rate steps up to the loan's own terms when relending ends
            else:  # default: the contract rate stays unless the bank reprices (probability, or a draw per path)
                pr = inp.loan_reprice_p[j]
                rp = pr if not events else (1.0 if events[p][j] < pr else 0.0)
                after = contract + rp * (base - contract)
            if rel_p is not None:  # expected path: the two rates weighed by P(relending still on)
                w = rel_p if t < inp.loan_rel_end[j] and rel_on else 0.0
                rate = w * contract + (1.0 - w) * after
            else:
                rate = contract if t < inp.loan_rel_end[j] and rel_on else after
            rate += rate_add[j]
            interest = bal[j] * rate
            in_grace = t < inp.loan_amort_start[j]
            code = inp.loan_code[j]
            cap_int = interest if inp.loan_capitalise[j] and (in_grace or code == 3) else 0.0
            bal_pre = bal[j]
            bal[j] += cap_int
            cash_int = interest - cap_int
            n_rem = maturity[j] - t
            last = n_rem == 1
            pays = (not in_grace and n_rem >= 1) or last
            if code == 0:  # annuity (等额本息): level payment on the balance before capitalisation
                pr = _annuity(bal_pre, rate, n_rem) - cash_int
            elif code == 1:  # equal principal (等额本金)
                pr = bal[j] / max(float(n_rem), 1.0)
            else:  # interest-only / bullet: everything at the last payment
                pr = bal[j] if last else 0.0
            principal[j] = min(max(pr, 0.0), bal[j]) if pays else 0.0
            cash_ints[j] = cash_int
            bal_open += bal[j]
            i = inp.loan_project[j]
            bank_int[i] += cash_int
            bank_prin[i] += principal[j]
        bank_due = [bank_int[i] + bank_prin[i] for i in range(P)]
        for i, win in enumerate(inp.llcr_window):  # a project's LLCR denominator: its loans' balance at the open
            if win is not None and t == win[0]:
                llcr_den[i] = sum(bal[j] for j in win[3])
        bond_due = [0.0 if sold_block[i] else inp.bond_interest[i][t] + inp.bond_principal[i][t] for i in range(P)]
        refi_prin = [0.0] * P
        if inp.refi is not None:  # refinancing bonds: annual coupon R·c on each anniversary, R at 12·term
            term_m = 12 * inp.refi.term_years
            for i0, m0, amount, coupon in issues:
                k = t - m0
                if 0 < k <= term_m and k % 12 == 0:
                    bond_due[i0] += amount * coupon
                if k == term_m:
                    bond_due[i0] += amount
                    refi_prin[i0] += amount

        cfads = [0.0] * P
        sales = [0.0] * P
        for i in range(P):
            held[i] += inp.acquired_units[i][t]
            avail_m = inp.available_month[i]
            active = t >= avail_m
            # ---------------------------------------------------------- rental operations
            rent = rent_sub = rent_costs = occ = 0.0
            if inp.is_rental[i] and not sold_block[i]:
                lease = inp.lease_months[i]
                window = rent_hist[max(avail_m, t - lease + 1): t + 1] if active else []
                count = min(max(t - avail_m + 1, 1), max(lease, 1))
                inplace = sum(window) / count
                if inp.lease_up_months[i] > 0:
                    ramp = min(max((t - avail_m + 1) / max(inp.lease_up_months[i], 1), 0.0), 1.0)
                else:
                    ramp = 1.0 if active else 0.0
                occ = min(max(inp.stab_occ[i] + occ_dev, 0.0), 1.0) * ramp
                rent = inp.floor_area[i] * inp.rent0_m2[i] * inp.rent_ratio[i] * inp.collection[i] * inplace * occ
                rent_sub = inp.units[i] * inp.rent_subsidy_unit_m[i] * occ
                rent_costs = rent * (inp.mgmt_share[i] + inp.rent_tax_share[i] + inp.capex_share[i])
            running = held[i] * (inp.opex_m2_m[i] + inp.holding_m2_m[i]) * inp.area[i] * cpi
            # ---------------------------------------------------------- sale operations
            sale_i = sales_tax = bb_paid = 0.0
            if inp.is_sale[i]:
                if t == avail_m:
                    unsold[i] += inp.new_inventory[i]
                rate_abs = inp.absorption_m[i] * absorption * hpi ** inp.absorption_elasticity[i]
                sold = unsold[i] * min(rate_abs, 1.0) * (1.0 if active else 0.0)
                unsold[i] -= sold
                s = t - max(inp.lockup_months[i], 1)
                if s >= 0:
                    eligible[i] += handed_hist[i][s]
                handed = sold + inp.presub_handover_units[i][t]
                resale_cash = 0.0
                if inp.has_buyback[i]:
                    h_ann = min(inp.bb_hazard_annual[i] * (1.0 + inp.bb_sensitivity[i] * max(0.0, 1.0 - hpi)), 1.0)
                    h_m = 1.0 if h_ann >= 1.0 else 1.0 - (1.0 - h_ann) ** (1.0 / 12.0)
                    bb_units = eligible[i] * h_m
                    eligible[i] -= bb_units
                    if inp.bb_market_rule[i]:
                        bb_price = inp.appraisal_m2[i] * (1.0 - inp.bb_fee[i]) * hpi
                    else:
                        bb_price = inp.sale_price_m2[i] * math.exp(inp.bb_index_m[i] * (t - avail_m))
                    bb_paid = bb_units * inp.area[i] * bb_price
                    bb_units_hist[i].append(bb_units)
                    bb_paid_hist[i].append(bb_paid)
                    s = t - inp.resale_delay[i]
                    resale_units = bb_units_hist[i][s] if s >= 0 else 0.0
                    resale_cash = (bb_paid_hist[i][s] if s >= 0 else 0.0) * (1.0 + inp.resale_margin[i])
                    handed += resale_units
                    held[i] += bb_units
                handed_hist[i].append(handed)
                held[i] -= handed
                sale_i = sold * inp.area[i] * inp.sale_price_m2[i] + inp.presale_cash[i][t] + resale_cash
                sales_tax = sale_i * inp.sales_tax[i]
            # ---------------------------------------------------------- CFADS
            int_sub = bank_int[i] * inp.subsidy_share[i] * (1.0 if t < inp.subsidy_end[i] else 0.0)
            ops_in = rent + rent_sub + sale_i + inp.operating_grants[i][t] + int_sub
            ops_out = running + rent_costs + sales_tax + bb_paid
            cfads[i] = ops_in - ops_out
            sales[i] = sale_i
            noi_hist[i].append(rent + rent_sub - rent_costs - running)
            occ_hist[i].append(occ)

        # -------------------------------------------------------------- waterfall, per project
        short_opex = [0.0] * P
        short_sen = [0.0] * P
        short_jun = [0.0] * P
        surplus = [0.0] * P
        sweep = [0.0] * P
        for i in range(P):
            avail = cfads[i] + cash[i] + dsra[i]
            senior, junior = (bank_due[i], bond_due[i]) if inp.bank_first else (bond_due[i], bank_due[i])
            pos = max(avail, 0.0)
            paid_sen = min(pos, senior)
            paid_jun = min(pos - paid_sen, junior)
            short_opex[i] = max(-avail, 0.0)
            short_sen[i] = senior - paid_sen
            short_jun[i] = junior - paid_jun
            sur = pos - paid_sen - paid_jun
            if NL and inp.any_sale:
                bal_after = sum(bal[j] - principal[j] for j in range(NL) if inp.loan_project[j] == i)
                sweep[i] = min(inp.sweep_share[i] * sales[i], sur, bal_after)
                sur -= sweep[i]
            target = inp.dsra_months * bank_due[i] + (0.0 if sold_block[i] else inp.bond_forward_service[i][t])
            k_ahead = int(round(inp.dsra_months))
            for j in range(NL):
                m_last = maturity[j] - 1
                if (inp.loan_project[j] == i and inp.loan_code[j] in (2, 3) and m_last > t
                        and m_last - t <= k_ahead):
                    target += bal[j]
            target = max(target, inp.reserve_floor[i][t])
            dsra[i] = min(sur, target)
            surplus[i] = sur - dsra[i]
        if inp.cross_support:
            pool = sum(surplus)
            need = sum(short_opex) + sum(short_sen) + sum(short_jun)
            used = min(pool, need)
            keep_short = 1.0 - used / need if need > 0 else 1.0
            keep_pool = 1.0 - used / pool if pool > 0 else 1.0
            short_opex = [x * keep_short for x in short_opex]
            short_sen = [x * keep_short for x in short_sen]
            short_jun = [x * keep_short for x in short_jun]
            surplus = [x * keep_pool for x in surplus]
        any_locked = False
        dist_t = 0.0
        for i in range(P):
            cf_hist[i].append(cfads[i])
            ds_hist[i].append(bank_due[i] + bond_due[i])
            cf12 = sum(cf_hist[i][-12:])
            ds12 = sum(ds_hist[i][-12:])
            locked = ds12 > 1e-9 and cf12 < inp.lockup_dscr * ds12 and not sold_block[i]
            any_locked = any_locked or locked
            cash[i] = surplus[i] if locked else 0.0
            dist_t += surplus[i] - cash[i]

        # ------------------------------------------- cures (before or after SOE money), SOE support, government
        short_bank_i, short_bond_i = (short_sen, short_jun) if inp.bank_first else (short_jun, short_sen)
        allocated = False
        for phase in ("cures before SOE", "SOE", "cures after SOE"):
            if phase == "SOE":
                if inp.yearly_capacity and t > 0 and t % 12 == 0:
                    soe_left = min(soe_left + inp.yearly_capacity, inp.pot_cap)
                s_opex, s_sen, s_jun = sum(short_opex), sum(short_sen), sum(short_jun)
                s_bank, s_bond = (s_sen, s_jun) if inp.bank_first else (s_jun, s_sen)
                short = {"operating_costs": s_opex, "bank_loan": s_bank, "special_bond": s_bond}
                soe_paid = {k: 0.0 for k in short}
                soe = 0.0
                for k in inp.soe_order:  # legacy: operating costs, then the tranches by rank
                    if k in short:
                        soe_paid[k] = min(soe_left, short[k])
                        soe_left -= soe_paid[k]
                        soe += soe_paid[k]
                if any(short[k] - soe_paid[k] > 1e-6 for k in inp.soe_order if k in short) and soe_exhausted < 0:
                    soe_exhausted = t
                if sum(short.values()) > 1e-6 and first_shortfall < 0:
                    first_shortfall = t

                if inp.cures_after and inp.cure_order:  # what SOE money left short, back to the projects pro rata
                    allocated = True
                    left = {k: (1.0 - soe_paid[k] / short[k]) if short[k] > 0 else 1.0 for k in short}
                    for i in range(P):
                        short_opex[i] *= left["operating_costs"]
                        short_bank_i[i] *= left["bank_loan"]
                        short_bond_i[i] *= left["special_bond"]
                continue
            if (phase == "cures after SOE") != inp.cures_after:
                continue
            for name in inp.cure_order:
                if name == "extension" and NL:
                    ex = inp.ext
                    if inp.disposal is not None:
                        k_cap = max(inp.disposal.cap_rate + inp.disposal.cap_rate_lpr_beta * (lpr_rep - inp.lpr0), 0.005)
                    else:
                        k_cap = ex.cap_rate
                    for i in range(P):
                        sh = short_bank_i[i]
                        if sh <= 1e-6:
                            continue
                        if inp.is_rental[i]:
                            value = sum(noi_hist[i][-12:]) / k_cap
                        else:
                            value = held[i] * inp.area[i] * inp.appraisal_m2[i] * hpi
                        mine = [j for j in range(NL) if inp.loan_project[j] == i]
                        owed = sum(bal[j] - principal[j] for j in mine) + sh
                        ltv_ok = value > 0 and owed <= ex.max_loan_to_income_value * value
                        due_total = sum(cash_ints[j] + principal[j] for j in mine)
                        capitalised, all_in = 0.0, True
                        for j in mine:
                            due_j = cash_ints[j] + principal[j]
                            if due_j <= 0:
                                continue
                            ok = (ltv_ok and times[j] < ex.max_times
                                  and maturity[j] + 12 * ex.years - inp.loan_first[j] <= 12 * ex.max_tenor_years)
                            if not ok:
                                all_in = False
                                continue
                            u_j = sh * due_j / due_total
                            bal[j] += u_j + ex.fee_share * (bal[j] - principal[j] + u_j)
                            maturity[j] += 12 * ex.years
                            rate_add[j] += ex.rate_step_bp / 1e4 / 12.0
                            times[j] += 1
                            capitalised += u_j
                        short_bank_i[i] = sh - (sh if all_in and capitalised > 0 else min(capitalised, sh))
                if name == "refinancing":
                    for i in range(P):
                        if t in inp.refi_months[i]:
                            r_amt = min(short_bond_i[i], inp.refi.max_share * (inp.bond_principal[i][t] + refi_prin[i]))
                            issues.append((i, t, r_amt, max(lpr_rep + inp.refi.spread_over_lpr, 0.0)))
                            short_bond_i[i] -= r_amt
                if name != "disposal" or inp.disposal is None:
                    continue
                dz = inp.disposal
                for i in range(P):
                    short_i = short_opex[i] + short_sen[i] + short_jun[i]
                    months_let = t - inp.available_month[i] + 1
                    occ_trailing = sum(occ_hist[i][-12:]) / min(max(months_let, 1), 12)
                    if not (inp.is_rental[i] and not sold_block[i] and short_i > 1e-6 and months_let >= dz.min_operating_months
                            and occ_trailing >= dz.min_occupancy - 1e-12):
                        continue
                    cap = max(dz.cap_rate + dz.cap_rate_lpr_beta * (lpr_rep - mp.lpr0), 0.005)
                    net = max(sum(noi_hist[i][-12:]), 0.0) / cap * (1.0 - dz.transaction_cost_share)
                    loans_i = [j for j in range(NL) if inp.loan_project[j] == i]
                    bank_left = sum(bal[j] - principal[j] for j in loans_i)
                    refi_left = sum(a for i0, m0, a, _ in issues if i0 == i and m0 <= t < m0 + 12 * inp.refi.term_years) \
                        if inp.refi is not None else 0.0
                    need = short_i + bank_left + inp.bond_balance[i][t] + refi_left
                    if net <= 0.0 or net < need or short_i < dz.min_shortfall_share * need:  # not material
                        continue
                    sold_block[i] = True  # proceeds: the month's shortfall, the loans in full, the bonds redeemed, the rest out
                    short_opex[i] = short_sen[i] = short_jun[i] = 0.0
                    for j in loans_i:
                        bal[j] = principal[j]
                    sweep[i] += bank_left
                    dist_t += net - need
                    held[i] = 0.0
                    issues[:] = [(i0, m0, 0.0 if i0 == i else a, c) for i0, m0, a, c in issues]  # redeemed

        if allocated:
            gov_bank, gov_bond = sum(short_bank_i), sum(short_bond_i)
            hidden = sum(short_opex) + gov_bank
        else:
            gov_bank = s_bank - soe_paid["bank_loan"]
            gov_bond = s_bond - soe_paid["special_bond"]
            hidden = (s_opex - soe_paid["operating_costs"]) + gov_bank

        # -------------------------------------------------------------- default, pay-down
        collateral = sum(held[i] * inp.area[i] * inp.appraisal_m2[i] for i in range(P)) * hpi
        if NL:
            if gov_bank > 1e-6 and default_month < 0:
                default_month = t
                ead = bal_open + sum(bank_int)
                collateral_at_default = collateral
            for j in range(NL):
                bal[j] -= principal[j]
            if inp.any_sale:
                proj_bal = [0.0] * P
                for j in range(NL):
                    proj_bal[inp.loan_project[j]] += bal[j]
                for j in range(NL):
                    i = inp.loan_project[j]
                    share = bal[j] / (proj_bal[i] if proj_bal[i] > 0 else 1.0)
                    bal[j] = max(bal[j] - share * sweep[i], 0.0)

        # -------------------------------------------------------------- per-path metrics
        if hidden > 1e-6 and first_call < 0:
            first_call = t
        dfac = inp.discount_m[t]
        pv_hidden += hidden * inp.fiscal_discount_m[t]
        pv_bond += gov_bond * inp.fiscal_discount_m[t]
        pv_soe += soe * dfac
        equity_t = sum(inp.equity_in[i][t] for i in range(P))
        cum_equity += equity_t + soe - dist_t
        if inp.distributions_return:
            soe_left = min(soe_left + dist_t, inp.pot_cap)
        peak_funding = max(peak_funding, cum_equity)
        cf_prog = sum(cfads)
        refi_t = [sum(a for i0, m0, a, _ in issues if i0 == i and m0 == t) for i in range(P)]
        for i, win in enumerate(inp.llcr_window):  # ahead of the bank: bond service less what refinancing meets
            if win is not None and win[0] <= t < win[1]:
                ahead = 0.0 if inp.bank_first else bond_due[i] - refi_t[i]
                llcr_num[i] += (cfads[i] - ahead) * (1.0 + win[2]) ** (-(t - win[0]))
        if inp.cov_lo <= t <= inp.cov_hi:
            cov_num += sum(cfads[i] for i in range(P) if inp.has_bond[i])
            cov_bank += sum(bank_due[i] for i in range(P) if inp.has_bond[i])

        # -------------------------------------------------------------- yearly ledgers
        yl["cfads"][y] += cf_prog
        yl["debt_service"][y] += sum(bank_due) + sum(bond_due)
        yl["refinancing"][y] += sum(refi_t)
        yl["distributions"][y] += dist_t
        yl["equity_in"][y] += equity_t
        yl["soe_support"][y] += soe
        yl["gov_hidden"][y] += hidden
        yl["gov_bond"][y] += gov_bond
        yl["fiscal_revenue"][y] += fiscal
        yl["uses"][y] += uses_t + sum(inp.reserve_in[i][t] for i in range(P))
        yl["lockup_months"][y] += 1.0 if any_locked else 0.0
        if t % 12 == 11 or t == T - 1:
            yl["cash_balance"][y] = sum(dsra) + sum(cash)
            yl["bank_balance"][y] = sum(bal)
            yl["collateral_value"][y] = collateral

    # ------------------------------------------------------------------ end of horizon and per-path metrics
    terminal_assets = sum(held[i] * inp.area[i] * inp.appraisal_m2[i] for i in range(P)) * hpi * (1.0 - inp.tv_haircut)
    terminal_equity = terminal_assets + sum(dsra) + sum(cash) - sum(bal)
    equity_flows = [yl["distributions"][k] - yl["equity_in"][k] - yl["soe_support"][k] for k in range(Y)]
    equity_flows[-1] += terminal_equity
    r = inp.discount_rate
    equity_npv = sum(f * (1.0 + r) ** (-(k + 1)) for k, f in enumerate(equity_flows))
    service = [max(yl["debt_service"][k] - yl["refinancing"][k], 0.0) for k in range(Y)]  # decision 73
    dscrs = [yl["cfads"][k] / service[k] for k in range(Y) if service[k] > 0]
    shares = [yl["gov_hidden"][k] / yl["fiscal_revenue"][k] if yl["fiscal_revenue"][k] > 0 else 0.0 for k in range(Y)]
    support_total = sum(yl["soe_support"]) + sum(yl["gov_hidden"]) + sum(yl["gov_bond"])
    nan = float("nan")
    return {
        "hidden_call": first_call >= 0,
        "hidden_debt_pv": pv_hidden,
        "first_call_year": first_call // 12 + 1 if first_call >= 0 else -1,
        "peak_call_share_of_fiscal": max(shares),
        "explicit_bond_burden_pv": pv_bond,
        "soe_support_pv": pv_soe,
        "soe_exhaustion_year": soe_exhausted // 12 + 1 if soe_exhausted >= 0 else -1,
        "first_shortfall_year": first_shortfall // 12 + 1 if first_shortfall >= 0 else -1,
        "support_total": support_total,
        "dscr_min": min(dscrs) if dscrs else nan,
        "llcr": min((llcr_num[i] / llcr_den[i] for i, w in enumerate(inp.llcr_window) if w is not None and llcr_den[i] > 0),
                    default=nan),
        "bond_coverage_ratio": cov_num / inp.bond_service_total if inp.bond_service_total > 0 else nan,
        "bond_coverage_after_bank": (cov_num - cov_bank) / inp.bond_service_total if inp.bond_service_total > 0 else nan,
        "default": default_month >= 0,
        "default_month": default_month,
        "ead": ead,
        "collateral_at_default": collateral_at_default,
        "equity_npv": equity_npv,
        "peak_funding_need": peak_funding,
        "lockup_years": sum(yl["lockup_months"]) / 12.0,
        "hpi_end": hpi,
        "terminal_equity": terminal_equity,
        "yearly": yl,
    }


def run_reference(scenario: Scenario, n: int, seed: int, chunk_index: int = 0, stress: str | None = None,
                  plan: Plan | None = None) -> list[dict[str, Any]]:
    """Paths ``chunk_index·chunk … + n`` of a run with ``seed``: the engine's chunk ``chunk_index`` when its size
    is ``n``. Returns one dict per path (see :func:`run_path`)."""
    plan = plan if plan is not None else compile_plan(scenario, stress=stress)
    rng = None if plan.market.deterministic else chunk_generator(seed, chunk_index)
    events: list = []
    rows = plan.L if not plan.support.legacy else 0
    eps, u = draw_random_numbers(plan.market, plan.T, n, rng, event_rows=rows, events=events)
    inp = _Inputs(plan)
    return [run_path(inp, eps, u, p, events) for p in range(n)]
