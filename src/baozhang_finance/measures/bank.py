"""Bank lens (信贷审批, standalone view): PD, time to default, EAD, LGD, expected loss, DSCR / LTV and slotting
grade.

The standalone view assumes no government support: the first month in which bank service would need government
money (after CFADS, the DSRA, retained cash and the SOE's support capacity) is the **default**. The engine reads
it off the supported simulation — the two views are identical up to that month — and records per path the
default month, the exposure (EAD) and the market value of the units the SOE holds (the collateral).

Per path (``d`` = default indicator, ``m`` = default month):

* cumulative PD by year y: PD(y) = P(m < 12 y), y = 1 … loan life (years to the last maturity);
* EAD = bank principal outstanding at the start of month m + that month's interest;
* collateral sold at month s = m + ``liquidation_months``: C_s = C_m × H_s / H_m (units held at default, valued on
  the house-price path H after the delay; H_s is interpolated log-linearly between the exact index in the default
  month and the year-end indices, and extrapolated beyond the horizon at the expected drift);
* recovery = C_s × (1 − forced-sale haircut) × (1 − liquidation costs) × (1 + r)^(−delay/12);
* LGD = clip(1 − recovery / EAD, 0, 1); EL = E[d · LGD · EAD] (yuan); EL rate = EL / bank principal;
* bank DSCR_y = CFADS_y / bank service_y when the bank is senior, (CFADS_y − bond service_y) / bank service_y when
  bonds rank first; bank service = interest + scheduled principal (sweep prepayments excluded); tested over the
  operating period (:func:`dscr_test_years`);
* LTV_y = bank balance / collateral value at year end;
* grade: supervisory slotting in the spirit of Basel specialised lending (BCBS CRE33; Basel II ¶275–286), from
  documented quantitative criteria (see :data:`GRADES` and docs/lenses.md).

Everything here reads a :class:`~baozhang_finance.result.Result` and never re-simulates (the debt capacity of a
project, which does, is an analysis: :mod:`baozhang_finance.analysis.capacity`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from baozhang_finance.measures import blocked as bk
from baozhang_finance.measures.stats import coverage_ratio
from baozhang_finance.measures.stats import quantiles as _q
from baozhang_finance.engine.plan import stabilisation_month
from baozhang_finance.model.scenario import Scenario


# ------------------------------------------------------------------------------------------------ slotting grades
@dataclass(frozen=True)
class Grade:
    """One supervisory slotting category and the quantitative criteria a loan must meet to be placed in it."""

    name: str
    max_annual_pd: float  # annualised standalone PD over the loan life
    min_dscr_p50: float  # median (across paths) of the minimum bank DSCR over the operating period
    max_ltv_p50: float  # median (across paths) of the peak year-end LTV over the loan life
    risk_weight: float  # UL risk weight, remaining maturity ≥ 2.5 years (CRE33 slotting table)
    risk_weight_short: float  # UL risk weight, remaining maturity < 2.5 years (national discretion)
    el_rate: float  # regulatory expected loss = 8 % × EL risk weight (5 / 10 / 35 / 100 / 625 %)
    external_equivalent: str


#: Slotting categories, best first. PD bounds: long-run annual default rates of the external grades the Basel
#: Committee maps the categories to (Strong ≈ BBB− or better, Good ≈ BB+/BB, Satisfactory ≈ BB−/B+, Weak ≈ B to C−);
#: DSCR and LTV bounds: common income-producing real-estate underwriting levels. Assumptions, documented in
#: docs/lenses.md; a loan takes the worst category any of its criteria gives.
GRADES = (
    Grade("Strong", 0.004, 1.35, 0.60, 0.70, 0.50, 0.004, "BBB- or better"),
    Grade("Good", 0.010, 1.20, 0.70, 0.90, 0.70, 0.008, "BB+ or BB"),
    Grade("Satisfactory", 0.030, 1.05, 0.80, 1.15, 1.15, 0.028, "BB- or B+"),
    Grade("Weak", math.inf, -math.inf, math.inf, 2.50, 2.50, 0.08, "B to C-"),
)
#: Basel keeps the "Default" category for exposures already in default (CRE33; domain-facts §5, V): a loan being
#: underwritten, however likely to default, is graded among the four performing categories — a high PD is Weak.
GRADE_NAMES = tuple(g.name for g in GRADES)
#: corporate risk weights (Basel III standardised approach for corporates by external rating, CRE20.42: BBB+ to BBB−
#: 75 %, BB+ to BB− 100 %, below BB− 150 %) for the full-recourse SOE view; the category's external equivalent picks
#: the weight (Satisfactory spans BB− and B+: the worse, 150 %)
CORPORATE_RISK_WEIGHT = {"Strong": 0.75, "Good": 1.00, "Satisfactory": 1.50, "Weak": 1.50}
#: Remaining maturity below which the short-maturity risk weights apply (years).
SHORT_MATURITY_YEARS = 2.5


def annualised_pd(pd_life: float, years: float) -> float:
    """Constant annual PD with the same lifetime PD: 1 − (1 − PD_life)^(1 / years)."""
    if years <= 0:
        return 0.0
    if pd_life >= 1.0:
        return 1.0
    return 1.0 - (1.0 - pd_life) ** (1.0 / years)


def _category_of(value: float | None, key: str) -> int:
    """Index in GRADES of the best category whose bound ``key`` the value meets (None: not applicable → 0)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0
    for i, g in enumerate(GRADES):
        bound = getattr(g, key)
        ok = value >= bound if key.startswith("min_") else value <= bound
        if ok:
            return i
    return len(GRADES) - 1


def _criterion(value: float | None, key: str) -> dict:
    """One grading criterion: its value and the category it gives — None when it was not tested (no value: no
    bank service or collateral in the test window, or a corporate grade, which reads the PD alone)."""
    tested = value is not None and not (isinstance(value, float) and math.isnan(value))
    return {"value": value, "category": GRADES[_category_of(value, key)].name if tested else None}


def grade(pd_life: float, life_years: float, dscr_p50: float | None = None, ltv_p50: float | None = None) -> dict:
    """Slotting grade from the lifetime PD, the median minimum bank DSCR and the median peak LTV.

    Each criterion places the loan in a category (a missing DSCR or LTV — no bank service or no collateral in the
    test window — does not count against it, and its category is None: not tested); the grade is the worst of them, always one of Strong / Good /
    Satisfactory / Weak (Default is for exposures already in default, not a forecast). Returns the grade, its
    risk weight (short-maturity weights when the loan life < 2.5 years), the regulatory
    EL rate and the category each criterion gave.
    """
    pd_ann = annualised_pd(pd_life, life_years)
    per = {
        "pd_annualised": _criterion(pd_ann, "max_annual_pd"),
        "dscr_min_p50": _criterion(dscr_p50, "min_dscr_p50"),
        "ltv_peak_p50": _criterion(ltv_p50, "max_ltv_p50"),
    }
    g = GRADES[max(_category_of(pd_ann, "max_annual_pd"), _category_of(dscr_p50, "min_dscr_p50"),
                   _category_of(ltv_p50, "max_ltv_p50"))]
    short = life_years < SHORT_MATURITY_YEARS
    return {"grade": g.name, "risk_weight": g.risk_weight_short if short else g.risk_weight,
            "regulatory_el_rate": g.el_rate, "external_equivalent": g.external_equivalent, "criteria": per}


# ------------------------------------------------------------------------------------------------ PD, LGD, EL
def loan_years(result) -> int:
    """Loan life in years from the programme start to the last maturity (0 without bank loans)."""
    plan = result.plan
    return int(math.ceil(plan.loan_maturity.max() / 12)) if plan.L else 0


def pd_cumulative(default_month: np.ndarray, years: int) -> np.ndarray:
    """Cumulative PD by year: PD(y) = P(default month < 12 y), y = 1..years (default month −1 = no default)."""
    dm = bk.as_col(default_month)
    n = dm.size
    # the default years counted in one pass (a count ÷ n: exact in any order), not an (n, years) table
    counts = np.cumsum(bk.bincount(dm[dm >= 0] // 12, minlength=years)[:years]) if years else np.zeros(0)
    return np.array([float(np.float64(c) / np.intp(n)) if n else float("nan") for c in counts], dtype=float)


def time_to_default(default_month: np.ndarray, years: int) -> dict:
    """Distribution of the default year (1-based) among defaulting paths: share by year and quantiles in years."""
    dm = bk.as_col(default_month)
    d = dm[dm >= 0]
    n = dm.size
    nd = d.size
    counts = bk.bincount(d // 12, minlength=years)[:years] if nd else np.zeros(years, int)
    out = {"pd_by_year": (counts / n if n else counts.astype(float)).tolist(), "n_defaults": int(nd)}
    if nd:
        yrs = (d + 1) / 12.0  # default at the end of month m: m + 1 months after the start
        for q, v in zip((0.05, 0.5, 0.95), bk.quantile(yrs, [0.05, 0.5, 0.95])):
            out[f"p{int(round(q * 100)):02d}_years"] = float(v)
        out["mean_years"] = bk.mean(yrs)
    else:
        out.update({"p05_years": None, "p50_years": None, "p95_years": None, "mean_years": None})
    return out


def lgd(ead, collateral, haircut, cost_share, delay_months, rate):
    """Loss given default: clip(1 − collateral (1 − h)(1 − c)(1 + r)^(−delay/12) / EAD, 0, 1); 0 where EAD = 0."""
    ead = _floats(ead)
    recovery = _floats(collateral) * (1 - haircut) * (1 - cost_share) * (1 + rate) ** (-delay_months / 12)
    return np.clip(1.0 - np.divide(recovery, ead, out=np.ones_like(ead), where=ead > 0), 0.0, 1.0) * (ead > 0)


def price_ratio_after(result, delay_months: int) -> tuple[np.ndarray, str]:
    """H_s / H_m per path — the house-price index at the sale month s = default month m + delay relative to the
    default month (NaN where no default) — and the basis used.

    A run records the index in the default month (``hpi_at_default``) and in the sale month (``hpi_at_sale``,
    when it falls within the horizon): the ratio is then exact. For hand-built Results with a yearly ``hpi``
    ledger instead, the known points per path are the index in the default month and the year-end indices
    (ledger ``hpi``, month 12 k + 11). The index at the sale month is interpolated log-linearly between the
    nearest known points around it; beyond the horizon it is extrapolated from the last year-end at the expected
    long-run drift of the scenario (E[H_s | H_T] = H_T e^{μ (s − T + 1) / 12}). Results without these records
    (hand-built or older runs) fall back to the index in the default month: ratio 1 (basis ``"at_default"``).
    """
    ratio, basis = _price_ratio(result, delay_months)
    return np.asarray(ratio), basis


def _price_ratio(result, delay_months: int):
    """:func:`price_ratio_after` as a :class:`~baozhang_finance.measures.blocked.Col` (block by block)."""
    df = result.paths
    if delay_months > 0 and "hpi_at_sale" in df.columns and "hpi_at_default" in df.columns and \
            delay_months == result.plan.liquidation_months:
        # exact: the engine recorded the index in the sale month; beyond the horizon, E[H_s | H_T] at the drift
        T = result.plan.T
        mu_m = float(result.plan.market.price_drift_m[-1])

        def block(dm, h_end, h_sale, h_def):
            s = dm + int(delay_months)
            beyond = s > T - 1
            s -= T - 1
            grow = np.exp(mu_m * s)
            grow *= h_end  # = h_end · e^{μ (s − T + 1)}
            at_sale = np.where(beyond, grow, h_sale)
            out = np.full(dm.size, np.nan)
            d = dm >= 0
            out[d] = at_sale[d] / h_def[d]
            return out
        c = result.col
        return (c("default_month").astype(np.int64).map(block, c("hpi_end").astype(float), c("hpi_at_sale").astype(float),
                                                         c("hpi_at_default").astype(float)), "after_delay")
    dm = df["default_month"].to_numpy(np.int64)
    out = np.full(dm.size, np.nan)
    d = dm >= 0
    if "hpi_at_default" not in df.columns or not result.has_ledger("hpi"):
        out[d] = 1.0
        return bk.Col.of(out), "at_default"
    h_dm = df["hpi_at_default"].to_numpy(float)
    if delay_months <= 0:
        out[d] = 1.0
        return bk.Col.of(out), "at_default"
    hy = result.ledger("hpi")
    n, Y = hy.shape
    T = 12 * Y
    s = dm + int(delay_months)
    idx = np.nonzero(d)[0]
    si, mi = s[idx], dm[idx]
    beyond = si > T - 1
    k = np.minimum(si // 12, Y - 1)
    m_hi = 12 * k + 11
    prev_end = 12 * k - 1
    use_dm = prev_end <= mi
    m_lo = np.where(use_dm, mi, prev_end)
    v_lo = np.where(use_dm, h_dm[idx], hy[idx, np.maximum(k - 1, 0)])
    v_hi = hy[idx, k]
    span = np.maximum(m_hi - m_lo, 1)
    w = np.clip((si - m_lo) / span, 0.0, 1.0)
    with np.errstate(divide="ignore"):
        inner = np.exp((1 - w) * np.log(v_lo) + w * np.log(v_hi))
    mu_m = float(result.plan.market.price_drift_m[-1])
    outer = hy[idx, Y - 1] * np.exp(mu_m * (si - (T - 1)))
    out[idx] = np.where(beyond, outer, inner) / h_dm[idx]
    return bk.Col.of(out), "after_delay"


def recovery_collateral(result) -> tuple[np.ndarray, str]:
    """Market value of the collateral at the sale month: C_m × H_s / H_m (per path; 0 where no default)."""
    col, basis = _recovery_collateral(result)
    return np.asarray(col), basis


def _recovery_collateral(result):
    c = result.scenario.credit
    col = result.col("collateral_at_default").astype(float)
    ratio, basis = _price_ratio(result, c.liquidation_months)
    return np.where(result.col("default_month") >= 0, col * ratio, 0.0), basis


def path_lgd(result) -> np.ndarray:
    """LGD per path (0 where the path does not default)."""
    return np.asarray(_path_lgd(result))


def _path_lgd(result):
    """:func:`path_lgd` as a Col."""
    c = result.scenario.credit
    col, _ = _recovery_collateral(result)
    return lgd(result.col("ead").astype(float), col, c.forced_sale_haircut, c.liquidation_cost_share,
               c.liquidation_months, c.recovery_discount_rate)


def _floats(x):
    return x.astype(float) if isinstance(x, bk.Col) else np.asarray(x, dtype=float)


# ------------------------------------------------------------------------------------------------ DSCR, LTV
def bond_service_by_year(plan) -> np.ndarray:
    """Special-bond service (interest + principal) by year, all projects — deterministic, from the plan."""
    m = (plan.bond_interest + plan.bond_principal).sum(axis=0)
    return np.bincount(np.arange(m.size) // 12, weights=m, minlength=plan.Y)[: plan.Y]


def bank_service_by_year(result) -> np.ndarray:
    """Bank debt service (interest + scheduled principal, excluding sweep prepayments) per path and year.

    The engine's ``bank_service`` ledger (:func:`iter_bank_service`); below 1 yuan is read as no service.
    """
    return _stack(result, iter_bank_service(result))


def iter_bank_service(result):
    """:func:`bank_service_by_year` one year at a time: the engine's ``bank_service`` ledger (bank interest +
    scheduled principal due in the year, Σ over projects; decision 80), below 1 yuan read as none. A run saved
    before that ledger existed: debt service − the special bonds' schedule, as it was then (which counts refinancing
    bonds' coupons, SOE-bond service and a sold block's redeemed bonds as bank service)."""
    if result.has_ledger("bank_service"):
        for bank in result.year_cols("bank_service"):
            yield np.where(bank > 1.0, bank.astype(float), 0.0)
        return
    bond = bond_service_by_year(result.plan)
    for y, ds in enumerate(result.year_cols("debt_service")):
        bank = ds - bond[y]
        yield np.where(bank > 1.0 + 1e-6 * np.abs(ds), bank, 0.0)


def bank_dscr(result) -> np.ndarray:
    """Bank DSCR per path and year: (CFADS of the projects with bank loans − their bond service if bonds rank
    first) / bank service (the ``bank_cfads`` and ``bank_service`` ledgers, decisions 80, 82); NaN without bank
    service. A folder saved before: the programme's CFADS."""
    return _stack(result, iter_bank_dscr(result))


def iter_bank_dscr(result):
    """:func:`bank_dscr` one year at a time."""
    plan = result.plan
    if result.has_ledger("bank_cfads"):  # the projects with bank loans only, bonds ahead deducted (decision 82)
        for cf, bank in zip(result.year_cols("bank_cfads"), iter_bank_service(result)):
            yield cf.map(lambda a, b: coverage_ratio(a, b, np.nan), bank)  # capped at DSCR_CAP
        return
    bond = bond_service_by_year(plan)
    for y, (cf, bank) in enumerate(zip(result.year_cols("cfads"), iter_bank_service(result))):
        if not plan.bank_first:
            cf = cf - bond[y]
        yield cf.map(lambda a, b: coverage_ratio(a, b, np.nan), bank)  # capped at DSCR_CAP


def _stack(result, cols) -> np.ndarray:
    """Year columns → a ``(paths, years)`` array."""
    cols = [np.asarray(c) for c in cols]
    return np.column_stack(cols) if cols else np.zeros((result.n_paths, 0))


def dscr_test_years(scenario: Scenario, plan) -> tuple[int, int]:
    """Operating period over which the bank tests DSCR, as 0-based years [start, end).

    For each loan: from the first whole year that starts after both the project's stabilisation and the end of
    the grace period, to the year of its maturity; the programme window starts at the latest such start (every
    project with bank debt is operating) and ends at the last maturity. If that leaves no year, the whole loan
    life is tested.
    """
    if plan.L == 0:
        return 0, 0
    starts, ends = [], []
    for j in range(plan.L):
        p = scenario.projects[int(plan.loan_project[j])]
        m = max(stabilisation_month(p), int(plan.loan_amort_start[j]))
        starts.append(int(math.ceil(m / 12)))
        ends.append(int(math.ceil(plan.loan_maturity[j] / 12)))
    end = min(max(ends), plan.Y)
    start = max(starts)
    if start >= end:
        start = int(min(plan.loan_first.min() // 12, end - 1))
    return start, end


def min_bank_dscr(result, window: tuple[int, int] | None = None) -> np.ndarray:
    """Minimum bank DSCR per path over the test window (NaN if no bank service in it).

    A run's Result carries ``bank_dscr_min_project``: the lowest DSCR of any ring-fenced project with bank debt, each
    over its own operating window (engine, per-project ledgers) — the bank lends to each project, so one project's
    buybacks are not set against another's loan. It is used for the default window; hand-built Results without it,
    or an explicit other window, fall back to the programme ledgers.
    """
    return np.asarray(_min_bank_dscr(result, window))


def _min_bank_dscr(result, window: tuple[int, int] | None = None):
    """:func:`min_bank_dscr` as a Col."""
    default = dscr_test_years(result.scenario, result.plan)
    if "bank_dscr_min_project" in result.paths.columns and (window is None or tuple(window) == tuple(default)):
        return result.col("bank_dscr_min_project").astype(float)
    return bk.Col.of(_min_bank_dscr_ledgers(result, window, default))


def _min_bank_dscr_ledgers(result, window, default) -> np.ndarray:
    """The programme ledgers' minimum bank DSCR (hand-built Results, or another window): whole arrays."""
    d = bank_dscr(result)
    a, b = window if window is not None else default
    w = d[:, a:b]
    has = ~np.isnan(w)
    m = np.where(has, w, np.inf).min(axis=1) if w.shape[1] else np.full(d.shape[0], np.inf)
    return np.where(has.any(axis=1), m, np.nan)


def peak_ltv(result) -> np.ndarray:
    """Highest year-end LTV per path over the years with a bank balance (inf if a balance has no collateral)."""
    return np.asarray(_peak_ltv(result))


def _peak_ltv_block(bal: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Peak LTV of a block of ``(paths, years)`` balances and collateral values (:func:`_peak_ltv_years`)."""
    return _peak_ltv_years(bal.shape[0], [bal[:, y] for y in range(bal.shape[1])],
                           [col[:, y] for y in range(col.shape[1])])


def _peak_ltv_years(n: int, bals, cols) -> np.ndarray:
    """Peak LTV of ``n`` paths, year by year: ``max_{y: B_y > 1} B_y / C_y`` (``+inf`` where ``C_y ≤ 0``) over the
    years with a balance, from their balances ``B_y`` and collateral values ``C_y``; NaN without such a year."""
    m = np.full(n, -np.inf)  # the maximum over years, taken year by year (exact: max does not round)
    anypos = np.zeros(n, dtype=bool)
    for b, c in zip(bals, cols):
        pos = b > 1.0
        ltv = np.where(pos, np.divide(b, c, out=np.full(b.shape, np.inf), where=c > 0), -np.inf)
        np.maximum(m, ltv, out=m)
        anypos |= pos
    return np.where(anypos, m, np.nan)


def _peak_ltv(result):
    """:func:`peak_ltv` as a Col, from the years' columns of both ledgers (each a contiguous read of a streamed run:
    no ``(paths, years)`` block stacked and taken apart again)."""
    bals, cols = list(result.year_cols("bank_balance")), list(result.year_cols("collateral_value"))
    if not bals:
        return result.ledger_col("bank_balance").map(_peak_ltv_block, result.ledger_col("collateral_value"))
    years = len(bals)
    return bals[0].map(lambda *b: _peak_ltv_years(b[0].shape[0], b[:years], b[years:]), *bals[1:], *cols)


def iter_ltv_by_year(result):
    """Year-end LTV per path where a bank balance is outstanding (NaN elsewhere), one year at a time."""
    for bal, ltv in zip(result.year_cols("bank_balance"), result.year_cols("ltv")):
        yield np.where(bal > 1.0, ltv, np.nan)


def _fan(cols, qs=(0.05, 0.5, 0.95)) -> dict:
    """Quantiles across paths for each year (None where no path has a value); ``cols``: the years' columns."""
    out = {f"p{int(round(q * 100)):02d}": [] for q in qs}
    for col in cols:
        col = bk.as_col(col)
        k, _, vals = bk.fan_stats(col[np.isfinite(col)], qs, mean=None)  # one pass: size and quantiles
        vals = vals if k else [None] * len(qs)
        for q, v in zip(qs, vals):
            out[f"p{int(round(q * 100)):02d}"].append(None if v is None else float(v))
    return out




# ------------------------------------------------------------------------------------------------ credit views
#: the three credit events a run records, by name: (default-month column, EAD, collateral, index at default, at sale)
CREDIT_EVENTS = {
    "with_soe_support": ("default_month", "ead", "collateral_at_default", "hpi_at_default", "hpi_at_sale"),
    "without_soe_support": ("default_month_nosupport", "ead_nosupport", "collateral_nosupport",
                            "hpi_at_default_nosupport", "hpi_at_sale_nosupport"),
    "corporate": ("default_month_corporate", "ead_corporate", "collateral_corporate", "hpi_at_default_corporate",
                  "hpi_at_sale_corporate"),
}


def event_credit(result, event: str) -> dict:
    """PD, LGD, EAD and EL of one credit event, all on the same defaults (so they are coherent: EL = mean over paths
    of 1{default} × LGD × EAD, PD = the share of paths with that default within the loan life).

    * ``with_soe_support``: bank service needs government money after CFADS, DSRA, cures and the SOE's support —
      the supported path's default (the lens's historic ``bank.pd_lifetime``);
    * ``without_soe_support``: bank service is short after CFADS, DSRA and cures, before any SOE money — the
      ring-fenced project's own default (what specialised lending slots);
    * ``corporate``: the SOE's support pot is exhausted with a shortfall it may pay still open — the operating SOE
      on full recourse cannot pay (corporate PD).
    """
    df = result.paths
    cols = CREDIT_EVENTS[event]
    years = loan_years(result)
    if cols[0] not in df.columns:
        return {"pd_lifetime": None, "pd_annualised": None}
    dm = result.col(cols[0]).astype(np.int64)
    dm = np.where((dm >= 0) & (dm < 12 * years), dm, -1)
    d = dm >= 0
    pd_life = bk.share(d) if d.size else 0.0
    c = result.scenario.credit
    if cols[0] == "default_month":  # the main event: its LGD first, before this function reads columns of its own
        lg = _path_lgd(result)
    ead = result.col(cols[1]).astype(float)
    if cols[0] != "default_month":
        col = result.col(cols[2]).astype(float)  # the same price path after the delay as the main event (exact within the horizon)
        T = result.plan.T
        mu_m = float(result.plan.market.price_drift_m[-1])
        delay = int(c.liquidation_months)

        def ratio_block(dm, h_end, h_sale, h_def):
            s = dm + delay
            h_sale = np.where(s > T - 1, h_end * np.exp(mu_m * (s - (T - 1))), h_sale)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(dm >= 0, h_sale / h_def, 1.0)
        ratio = dm.map(ratio_block, result.col("hpi_end").astype(float), result.col(cols[4]).astype(float),
                       result.col(cols[3]).astype(float))
        lg = lgd(ead, col * ratio, c.forced_sale_haircut, c.liquidation_cost_share, c.liquidation_months,
                 c.recovery_discount_rate)
    el_paths = np.where(d, lg * ead, 0.0)
    principal = float(result.plan.loan_draw.sum())
    el = bk.mean(el_paths) if el_paths.size else 0.0
    any_d = d.any()
    return {"pd_lifetime": pd_life, "pd_annualised": annualised_pd(pd_life, years),
            "lgd_mean": bk.mean(lg[d]) if any_d else None,
            "ead_mean": bk.mean(ead[d]) if any_d else None,
            "expected_loss": el, "expected_loss_rate": el / principal if principal > 0 else None}


def income_ltv(result) -> dict:
    """LTV on income value: peak over the operating years of bank balance ÷ (market value of the sale units held +
    rental NOI of the year ÷ cap rate), per path; quantiles (p50, p95). The cap rate is [cures.disposal]'s, else
    :data:`~baozhang_finance.model.support.INCOME_CAP_RATE`."""
    df = result.paths
    x = result.col("ltv_income_peak").astype(float) if "ltv_income_peak" in df else np.full(len(df), np.nan)
    return {**_q(x, (0.5, 0.95)), "cap_rate": float(result.plan.support.income_cap_rate)}


def borrower_view(result, dscr_p50, ltv_p50) -> dict:
    """The credit view of the borrower the scenario states (``credit.borrower``): a ring-fenced project is slotted on
    its PD with the SOE's support (the sponsor's support is itself a slotting factor, "strength of sponsor", CRE33)
    with the DSCR and LTV criteria, its PD without that support reported beside it; an SOE on full recourse is
    graded on its corporate PD (the SOE's exhaustion event) with corporate risk weights. PD, LGD and EL come from the
    same event."""
    kind = result.scenario.credit.borrower
    event = "with_soe_support" if kind == "project" else "corporate"
    cr = event_credit(result, event)
    years = loan_years(result)
    if kind == "project":
        g = grade(cr["pd_lifetime"] or 0.0, years, dscr_p50, ltv_p50)
        rw = g["risk_weight"]
    else:
        g = grade(cr["pd_lifetime"] or 0.0, years, None, None)
        rw = CORPORATE_RISK_WEIGHT[g["grade"]]
    return {"type": kind, "pd_event": event, **cr, "grade": g["grade"], "risk_weight": rw,
            "regulatory_el_rate": g["regulatory_el_rate"], "criteria": g["criteria"]}


# ------------------------------------------------------------------------------------------------ summary
def _loss_figures(result, years: int, principal: float) -> dict:
    """``bank_summary``'s PD, time to default, EAD, collateral at sale, LGD and EL keys, in its key order."""
    dm = result.col("default_month").astype(np.int64)
    d = dm >= 0
    any_d = d.any()
    pdc = pd_cumulative(dm, years)
    pd_life = float(pdc[-1]) if pdc.size else 0.0
    ttd = time_to_default(dm, years)
    col_sale, basis = _recovery_collateral(result)
    col_mean = bk.mean(col_sale[d]) if any_d else None
    lg = _path_lgd(result)
    ead = result.col("ead").astype(float)
    el_paths = np.where(d, lg * ead, 0.0)
    el = bk.mean(el_paths)
    n = el_paths.size
    el_se = float(bk.std(el_paths, ddof=1) / np.sqrt(n)) if n > 1 else None
    lg_d, ead_d = lg[d], ead[d]
    return {
        "pd_cumulative": pdc.tolist(),
        "pd_lifetime": pd_life,
        "pd_annualised": annualised_pd(pd_life, years),
        "time_to_default": ttd,
        "ead": {"mean": bk.mean(ead_d) if any_d else None, **_q(ead_d, (0.5, 0.95))},
        "collateral_at_sale": {"mean": col_mean},
        "lgd_mean": bk.mean(lg_d) if any_d else None,
        "lgd": _q(lg_d, (0.5, 0.95)),
        "lgd_price_basis": basis,
        "expected_loss": el,
        "expected_loss_rate": el / principal if principal > 0 else None,
        "expected_loss_se": el_se,
    }


def bank_summary(result) -> dict:
    """The bank lens of a Result (see the module docstring for every formula)."""
    plan = result.plan
    if plan.L == 0:
        return {"has_bank_debt": False, "pd_cumulative": [], "lgd_mean": None, "expected_loss": 0.0, "grade": None}
    years = loan_years(result)
    principal = float(plan.loan_draw.sum())
    loss = _loss_figures(result, years, principal)  # the per-path arrays are freed before the next step reads its own
    window = dscr_test_years(result.scenario, plan)
    dmin = _min_bank_dscr(result, window)
    dmin_ok = dmin[~np.isnan(dmin)]
    dscr_p50 = float(bk.median(dmin_ok)) if dmin_ok.size else None
    dscr_q = _q(dmin)
    # P(min bank DSCR < 1): a path without bank service in the test years counts as not below; with none on any
    # path the probability is not measured (None, printed "—"), not a reassuring 0 % (e.g. a bridge loan repaid
    # before the operating years)
    p_below = bk.share(np.where(np.isnan(dmin), False, dmin < 1.0)) if dmin_ok.size else None
    ltv_pk = _peak_ltv(result)
    ltv_ok = ltv_pk[~np.isnan(ltv_pk)]
    ltv_p50 = float(bk.median(ltv_ok)) if ltv_ok.size else None
    ltv_q = _q(ltv_pk, (0.5, 0.95))
    view = borrower_view(result, dscr_p50, ltv_p50)
    return {
        "has_bank_debt": True,
        "bank_principal_yuan": principal,
        "loan_life_years": years,
        **loss,
        "dscr_test_years": [window[0] + 1, window[1]],
        "dscr_bank_min": dscr_q,
        "p_dscr_bank_min_below_1": p_below,
        "dscr_bank_by_year": _fan(iter_bank_dscr(result)),
        "ltv_peak": ltv_q,
        "ltv_by_year": _fan(iter_ltv_by_year(result)),
        "grade": view["grade"],
        "risk_weight": view["risk_weight"],
        "regulatory_el_rate": view["regulatory_el_rate"],
        "grade_criteria": view["criteria"],
        "borrower": {k: v for k, v in view.items() if k != "criteria"},
        "pd_with_soe_support": {k: v for k, v in event_credit(result, "with_soe_support").items()},
        "pd_without_soe_support": event_credit(result, "without_soe_support"),
        "pd_corporate": event_credit(result, "corporate"),
        "ltv_income_peak": income_ltv(result),
    }
