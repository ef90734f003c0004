"""Fiscal lens (财政局): the hidden-debt call, the explicit special-bond burden, and their scale against the budget.

Definitions (per path, supported view):

* hidden-debt call (隐性债务): government money paying an SOE's operating shortfall or bank debt service after the
  SOE's own support capacity is used up — money the budget pays for debt that is not government debt;
* explicit bond burden (显性债务负担): government money paying special-bond service the project could not (the
  bond failed to self-balance, 收益与融资自求平衡) — on-budget debt, kept apart in every output;
* SOE explicit support (国企自有资金支持): the SOE's own money, on its books;
* PV, end-of-month discounting from the programme start: the budget's payments (hidden-debt call, explicit bond
  burden, government money) at ``programme.fiscal_discount_rate`` (absent: the local-bond yield, 2 %, under the
  default conventions; ``discount_rate`` under legacy); the SOE's money (SOE support) at ``programme.discount_rate``.

Across paths: P(call) = share of paths with any call; VaR_α = the α-quantile of the PV of calls (smallest x with
F(x) ≥ α); CVaR_α = expected shortfall, the mean of the worst (1 − α) share of outcomes (Acerbi–Tasche estimator,
which stays right when most paths have no call at all — see :func:`expected_shortfall`).
"""

from __future__ import annotations

import numpy as np
from typing import TYPE_CHECKING as _TC  # noqa: E402
if _TC:  # pandas is imported where used (start-up time)
    import pandas as pd

from baozhang_finance.engine.controls import CONTROL_NAMES
from baozhang_finance.engine.shocks import RQMC_POINTS, sampling_groups
from baozhang_finance.measures import blocked as bk
from baozhang_finance.measures import stats as mx
from baozhang_finance.measures.control import Moments, control_variate_mean
from baozhang_finance.measures.stats import expected_shortfall, value_at_risk
from baozhang_finance.measures.stats import quantiles as _q
from baozhang_finance.model.scenario import total_uses_yuan


def p_call_by_year(result) -> np.ndarray:
    """P(a hidden-debt call in year y), y = 1..Y (a path can call in several years)."""
    return _p_year(result, "gov_hidden")


def _p_year(result, ledger: str) -> np.ndarray:
    """Share of paths with more than 1e-6 yuan in ledger ``ledger``, year by year (one year read at a time)."""
    return np.array([bk.share(col > 1e-6) for col in result.year_cols(ledger)], dtype=float)


def p_call_cumulative(result) -> np.ndarray:
    """P(first hidden-debt call by the end of year y), y = 1..Y; the last entry is P(call) over the horizon."""
    fy = result.col("first_call_year").astype(np.int64)
    # one pass: the first-call years counted (a count ÷ n: exact in any order), not an (n, Y) table
    Y = result.plan.Y
    counts = bk.bincount(np.where(fy >= 1, fy, 0), minlength=Y + 1)[1:Y + 1]
    n = fy.size
    return np.array([float(np.float64(c) / np.intp(n)) if n else float("nan") for c in np.cumsum(counts)], dtype=float)


def first_call_year_distribution(result) -> dict:
    """First-call year (1-based) among calling paths: share of all paths by year and quantiles (None: no call)."""
    fy = result.col("first_call_year").astype(np.int64)
    Y = result.plan.Y
    called = fy[fy >= 1]
    n_calls = called.size
    counts = bk.bincount(called - 1, minlength=Y)[:Y] if n_calls else np.zeros(Y, int)
    out = {"share_by_year": (counts / max(fy.size, 1)).tolist(), "n_calls": int(n_calls)}
    out.update(_q(called, (0.05, 0.5, 0.95)) if n_calls else {"p05": None, "p50": None, "p95": None})
    return out


# ------------------------------------------------------------------------------------------------ summaries
def hidden_debt_summary(result) -> dict:
    """DESIGN §7 ``hidden_debt``: probability, size (expected, VaR, CVaR of the PV), timing and scale of calls."""
    pv = result.col("hidden_debt_pv").astype(float)
    call = result.col("hidden_call").astype(bool)
    out = {
        "p_call": bk.share(call),
        "expected_pv": bk.mean(pv),
        "var95_pv": value_at_risk(pv, 0.95),
        "cvar95_pv": expected_shortfall(pv, 0.95),
        "var99_pv": value_at_risk(pv, 0.99),
        "cvar99_pv": expected_shortfall(pv, 0.99),
        "pv_given_call": _q(pv[call], (0.5, 0.95)),
    }
    del pv, call  # one column at a time: memory stays a few columns whatever the paths
    out["first_call_year"] = first_call_year_distribution(result)
    share = result.col("peak_call_share_of_fiscal").astype(float)
    out.update({
        "peak_share_of_fiscal_revenue": {**_q(share, (0.5, 0.95, 0.99)), "max": float(share.max()) if share.size else None},
        "p_call_by_year": p_call_by_year(result).tolist(),
        "p_call_cumulative": p_call_cumulative(result).tolist(),
    })
    return out


def fiscal_summary(result) -> dict:
    """DESIGN §7 ``fiscal``: the explicit special-bond burden kept apart, SOE support, and who pays the gap."""
    bond_pv = result.col("explicit_bond_burden_pv").astype(float)
    soe_pv = result.col("soe_support_pv").astype(float)
    return {
        "explicit_bond_burden": {
            "p_call": bk.share(result.col("explicit_bond_call").astype(bool)),
            "expected_pv": bk.mean(bond_pv),
            "var95_pv": value_at_risk(bond_pv, 0.95),
            "cvar95_pv": expected_shortfall(bond_pv, 0.95),
            "p_call_by_year": _p_year(result, "gov_bond").tolist(),
        },
        "soe_support": {"p_support": bk.share(soe_pv > 0), "expected_pv": bk.mean(soe_pv),
                        "p95_pv": value_at_risk(soe_pv, 0.95)},
        "classification": classification_table(result).to_dict(orient="records"),
        "government_buybacks": government_buybacks(result),
        "government_owned": government_owned(result),
    }


def government_owned(result) -> dict:
    """Blocks the government owns (``owner = "government"``; Liaoning seeds/000 §二: 公租房 bought by 各地区政府): on
    budget, so their gaps are explicit spending, not hidden debt. Capital = the budget's own funds put in
    (the blocks' equity, PV of its draws ``Σ_t equity_{g,t} v_t``); operating top-ups = PV of the operating gaps the
    budget pays ``Σ_t short_{g,t} v_t`` (their bond gaps are in the explicit bond burden); income = PV of the
    blocks' distributions returned to the budget ``Σ_t dist_{g,t} v_t``; net = capital + top-ups − income.
    P(any top-up), expected PVs, discounted at the fiscal rate."""
    df, plan = result.paths, result.plan
    rows = np.flatnonzero(np.asarray(plan.gov_owned, dtype=bool))
    if "gov_owned_opex_pv" not in df or rows.size == 0:
        return {"blocks": 0, "capital_pv": 0.0, "p_operating_topup": 0.0, "expected_operating_topup_pv": 0.0,
                "expected_income_pv": 0.0, "expected_net_pv": 0.0}
    v = np.asarray(plan.support.fiscal_discount_m, dtype=float)
    capital = float((np.asarray(plan.equity_in)[rows] @ v).sum())
    top = bk.mean(result.col("gov_owned_opex_pv").astype(float))
    income = bk.mean(result.col("gov_owned_income_pv").astype(float))
    return {"blocks": int(rows.size), "capital_pv": capital,
            "p_operating_topup": bk.mean(result.col("gov_owned_opex_any")),
            "expected_operating_topup_pv": top, "expected_income_pv": income,
            "expected_net_pv": float(capital + np.float64(top) - np.float64(income))}


def government_buybacks(result) -> dict:
    """Buybacks the government pays (Beitun seeds/004 §四(三)): a budgeted obligation — neither a hidden-debt call
    nor the SOE's cash. P(any payment), expected PV of the payments, of the resale proceeds returning to the budget,
    and of the net (payments − resale), discounted like the budget's other payments."""
    df = result.paths
    if "gov_buyback_pv" not in df:
        return {"p_any": 0.0, "expected_pv": 0.0, "expected_resale_pv": 0.0, "expected_net_pv": 0.0}
    paid = result.col("gov_buyback_pv").astype(float)
    back = result.col("gov_resale_pv").astype(float)
    return {"p_any": bk.mean(result.col("gov_buyback_any")), "expected_pv": bk.mean(paid),
            "expected_resale_pv": bk.mean(back), "expected_net_pv": bk.mean(paid - back)}


def classification_table(result) -> pd.DataFrame:
    """Who pays the gap: explicit bond burden / SOE explicit support / hidden-debt call.

    One row per class with the probability that any is paid, the expected PV (yuan) and its share of the total
    expected PV of outside money (0 when nothing is ever paid) — every class at the fiscal rate, so that the
    shares add like with like (the SOE's support at the programme rate is ``soe.support``'s figure).
    """
    import pandas as pd
    c = result.col
    soe = "soe_support_pv_fiscal" if "soe_support_pv_fiscal" in result.paths else "soe_support_pv"  # older folders
    rows = [
        ("explicit_bond_burden", "显性债务负担 explicit special-bond burden", c("explicit_bond_burden_pv"), c("explicit_bond_call")),
        ("soe_explicit_support", "国企自有资金支持 SOE explicit support", c(soe), c("soe_support_pv") > 0),
        ("hidden_debt_call", "隐性债务 hidden-debt call", c("hidden_debt_pv"), c("hidden_call")),
    ]
    vals = [bk.mean(v.astype(float)) for _, _, v, _ in rows]
    total = sum(vals)
    return pd.DataFrame([
        {"class": k, "label": lab, "probability": bk.share(p.astype(bool)), "expected_pv_yuan": v,
         "share": (v / total) if total > 0 else 0.0}
        for (k, lab, _, p), v in zip(rows, vals)
    ])


def standard_errors(result) -> dict:
    """Standard errors of the headline fiscal estimates, by the run's sampling (:func:`headline_standard_errors`)."""
    names = HEADLINE_COLUMNS + (("path",) if result.run.get("sampling", "mc") != "mc" else ())
    if result.run.get("control_variates"):
        names += tuple(f"cv_{k}" for k in CONTROL_NAMES)
    return headline_standard_errors({k: result.col(k) for k in names}, result.run)


#: the per-path columns of the four headline estimates
HEADLINE_COLUMNS = ("hidden_call", "hidden_debt_pv", "explicit_bond_burden_pv", "self_financing")


def _headline_fields(cols: dict) -> dict:
    """The four headline quantities as blocked columns (:mod:`~baozhang_finance.measures.blocked`)."""
    return {"p_call": bk.as_col(cols["hidden_call"]).astype(float), "expected_pv": bk.as_col(cols["hidden_debt_pv"]),
            "expected_pv_bond_burden": bk.as_col(cols["explicit_bond_burden_pv"]),
            "p_self_financing": bk.as_col(cols["self_financing"]).astype(float)}


def headline_control_variates(cols: dict) -> dict:
    """The four headline estimates adjusted by control variates (:mod:`baozhang_finance.measures.control`):
    per quantity ``{estimate, se, plain, plain_se, variance_reduction, beta, rank}``; the probabilities' estimates
    are kept in [0, 1]. The running sums are added block by block (one block: the former bits)."""
    fields = _headline_fields(cols)
    cvs = [bk.as_col(cols[f"cv_{k}"]).astype(float) for k in CONTROL_NAMES]
    moments = {k: Moments(len(cvs)) for k in fields}
    for i in range(fields["p_call"].nblocks):
        controls = np.column_stack([c.block(i) for c in cvs])
        for k, y in fields.items():
            moments[k].add(y.block(i), controls)
    out = {k: control_variate_mean(m) for k, m in moments.items()}
    for k in ("p_call", "p_self_financing"):
        out[k]["estimate"] = min(max(out[k]["estimate"], 0.0), 1.0)
    return out


def headline_standard_errors(cols: dict, run: dict) -> dict:
    """Standard errors of P(call), E[hidden-debt PV], E[bond-burden PV] and P(self-financing).

    Plain MC: √(p(1−p)/n) and s/√n; with control variates (``run["control_variates"]``) the regression
    residuals' SE (:func:`headline_control_variates`). Antithetic and rqmc: the paths are not independent, their
    *groups* are (pairs; replicates of ``rqmc_points`` paths), so the SE is that of the mean over groups
    (:func:`~baozhang_finance.measures.stats.grouped_standard_error`); ``independent_units`` says how many."""
    sampling = run.get("sampling") or "mc"
    fields = _headline_fields(cols)
    n = fields["p_call"].size
    if sampling == "mc" and run.get("control_variates"):
        out = {k: v["se"] for k, v in headline_control_variates(cols).items()}
        out["independent_units"] = n
        return out
    if sampling == "mc":
        out = {k: (mx.mc_standard_error_prob(bk.mean(v), n) if k.startswith("p_")
                   else mx.mc_standard_error_mean(v)) for k, v in fields.items()}
        out["independent_units"] = n
        return out
    chunk, points = int(run["chunk_size"]), int(run.get("rqmc_points", RQMC_POINTS))
    groups = bk.as_col(cols["path"]).map(lambda p: sampling_groups(p, chunk, sampling, points))
    out = {k: mx.grouped_standard_error(v, groups) for k, v in fields.items()}
    out["independent_units"] = _distinct_runs(groups)
    return out


def control_variate_summary(result) -> dict:
    """``run.control_variates`` of a summary: per headline quantity the plain and the adjusted estimate, their
    SEs and the variance-reduction factor 1 / (1 − R²)."""
    cols = {k: result.col(k) for k in HEADLINE_COLUMNS + tuple(f"cv_{k}" for k in CONTROL_NAMES)}
    keep = ("estimate", "se", "plain", "plain_se", "variance_reduction")
    return {k: {x: v[x] for x in keep} for k, v in headline_control_variates(cols).items()}


class RunningStandardErrors:
    """:func:`headline_standard_errors` of all the chunks added so far, from running pieces (no column kept): what
    the ``target_se`` stopping rule reads after every chunk, so that an adaptive run can stream its columns.

    Per chunk, its groups (paths under mc; antithetic pairs; rqmc replicates — a group never spans two chunks) give
    their sums ``S_g`` and sizes ``m_g``; a set of groups is kept as ``T = Σ S_g``, ``M = Σ m_g``, ``D = Σ m_g²``,
    ``E = Σ m_g S_g`` and ``F = Σ_g (S_g − x̄ m_g)²`` about its own mean ``x̄ = T / M`` (two passes inside the
    chunk). Two sets merge exactly in algebra (Chan, Golub & LeVeque's update, for groups of any size): with the
    merged mean ``x̄``, each set's ``F`` about ``x̄`` is ``F_i + 2 (x̄_i − x̄)(E_i − x̄_i D_i) + (x̄_i − x̄)² D_i``. Then
    ``SE = √(G/(G−1) · F) / N`` (mc: ``s/√n``; a share under mc: ``√(p(1−p)/n)`` from the count). In floating point
    this agrees with the two-pass formula on the whole columns to ≈ 1e-15 relative (not bit for bit): the rule stops
    at the same chunk unless a standard error lies within that of its target. With control variates (mc), each
    estimate's :class:`~baozhang_finance.measures.control.Moments` — running sums already — are added chunk by
    chunk and give the regression residuals' SE."""

    FIELDS = (("p_call", "hidden_call"), ("expected_pv", "hidden_debt_pv"),
              ("expected_pv_bond_burden", "explicit_bond_burden_pv"), ("p_self_financing", "self_financing"))

    def __init__(self, run: dict):
        self.sampling = run.get("sampling") or "mc"
        self.chunk = int(run["chunk_size"])
        self.points = int(run.get("rqmc_points", RQMC_POINTS))
        self.n = 0
        self.groups = 0
        self.sets: dict[str, tuple | None] = {k: None for k, _ in self.FIELDS}
        self.counts = {k: 0 for k, _ in self.FIELDS}
        self.cv = bool(run.get("control_variates")) and self.sampling == "mc"
        self.moments = {k: Moments(len(CONTROL_NAMES)) for k, _ in self.FIELDS} if self.cv else {}

    def add(self, cols: dict) -> None:
        """Add one chunk's columns (``path`` and the four fields' columns)."""
        x0 = np.asarray(cols["hidden_call"])
        self.n += x0.size
        g = sampling_groups(np.asarray(cols["path"]), self.chunk, self.sampling, self.points)
        _, inv = np.unique(g, return_inverse=True)
        sizes = np.bincount(inv).astype(float)
        self.groups += sizes.size
        for key, col in self.FIELDS:
            x = np.asarray(cols[col], dtype=float)
            self.counts[key] += int(np.count_nonzero(x)) if key.startswith("p_") else 0
            S = np.bincount(inv, weights=x)
            T, M = float(S.sum()), float(sizes.sum())
            xb = T / M
            part = (T, M, float((sizes * sizes).sum()), float((sizes * S).sum()), float(np.sum((S - xb * sizes) ** 2)))
            self.sets[key] = part if self.sets[key] is None else _merge_sets(self.sets[key], part)
        if self.cv:
            controls = np.column_stack([np.asarray(cols[f"cv_{k}"], dtype=float) for k in CONTROL_NAMES])
            for key, col in self.FIELDS:
                self.moments[key].add(np.asarray(cols[col], dtype=float), controls)

    def standard_errors(self) -> dict:
        """The dict of :func:`headline_standard_errors` for the rows added."""
        if self.cv:
            out = {k: control_variate_mean(m)["se"] for k, m in self.moments.items()}
            out["independent_units"] = self.n
            return out
        out = {}
        for key, _ in self.FIELDS:
            if self.sampling == "mc" and key.startswith("p_"):
                out[key] = mx.mc_standard_error_prob(float(np.float64(self.counts[key]) / np.intp(self.n)), self.n)
                continue
            G = self.groups
            F = self.sets[key][4] if self.sets[key] is not None else float("nan")
            out[key] = float(np.sqrt(G / (G - 1) * F) / self.n) if G >= 2 else float("nan")
        out["independent_units"] = self.groups if self.sampling != "mc" else self.n
        return out

    def mean(self, key: str = "expected_pv") -> float:
        T, M = self.sets[key][:2]
        return T / M


def _merge_sets(a: tuple, b: tuple) -> tuple:
    """Two sets of groups (T, M, D, E, F) → their union (see :class:`RunningStandardErrors`)."""
    T, M = a[0] + b[0], a[1] + b[1]
    xb = T / M
    F = 0.0
    for Ti, Mi, Di, Ei, Fi in (a, b):
        d = Ti / Mi - xb
        F += Fi + 2.0 * d * (Ei - (Ti / Mi) * Di) + d * d * Di
    return (T, M, a[2] + b[2], a[3] + b[3], F)


def _distinct_runs(groups) -> int:
    """Number of distinct group ids of contiguous runs (ids non-decreasing in path order), block by block."""
    total, last = 0, None
    for b in bk.as_col(groups).blocks():
        if not b.size:
            continue
        u = np.unique(b)
        total += u.size - (1 if last is not None and u[0] == last else 0)
        last = u[-1]
    return total


# ------------------------------------------------------------------------------------------------ issue 16
#: thresholds of the exceedance curve, as shares of the programme's total investment (the materiality is added)
EXCEEDANCE_SHARES = (0.0, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.10, 0.20, 0.50)

#: the classes of government money and the MOF wording each follows (docs/lenses.md §2, domain-facts §4)
MONEY_CLASSES = (
    ("hidden_debt_call", "隐性债务代偿 hidden-debt call: budget money repaying an SOE's bank debt",
     "债务由财政资金偿还 — debt raised outside the debt limit that fiscal funds repay (MOF wording, domain-facts §4)",
     "gov_debt_service_pv"),
    ("unbudgeted_subsidy", "预算外补助 unbudgeted subsidy of operating or buyback gaps",
     "未列入预算的运营补贴 — a subsidy the budget did not plan, not a repayment of debt (domain-facts §4: kept apart "
     "from scheduled, budgeted subsidies)", "unbudgeted_subsidy_pv"),
    ("explicit_bond_burden", "显性债务负担 explicit special-bond burden",
     "专项债券 on-budget debt whose project income fell short (收益与融资自求平衡 failed)", "explicit_bond_burden_pv"),
)

#: 债务率 warning bands (debt ÷ comprehensive fiscal capacity). ASSUMPTION — secondary sources, not verified against
#: the issuing bodies: the MOF's 100 % warning line (财预〔2016〕152号 emergency-response framework as commonly cited;
#: the IMF quotes a 100–120 % range) and the red / orange / yellow / green bands of the 2021 debt-risk classification
#: as reported in the financial press (绿 < 120 %, 黄 120–200 %, 橙 200–300 %, 红 ≥ 300 %)
DEBT_RATIO_BANDS = (("green", 0.0, 1.2), ("yellow", 1.2, 2.0), ("orange", 2.0, 3.0), ("red", 3.0, float("inf")))
DEBT_RATIO_WARNING_LINE = 1.0


def investment_yuan(result) -> float:
    """The programme's total investment (uses), yuan."""
    return float(sum(total_uses_yuan(p) for p in result.scenario.projects))


def materiality_yuan(result) -> float:
    """The materiality threshold: ``policy.materiality_share_of_investment`` × total investment (yuan)."""
    return float(result.scenario.policy.materiality_share_of_investment) * investment_yuan(result)


def exceedance(pv: np.ndarray, investment: float, extra_shares=()) -> list[dict]:
    """P(PV > x) at x = share × investment for each share of :data:`EXCEEDANCE_SHARES` (and ``extra_shares``)."""
    pv = bk.as_col(pv).astype(float)
    shares = sorted(set(EXCEEDANCE_SHARES) | {float(s) for s in extra_shares})
    thr = np.array([s * investment + (1e-6 if s == 0 else 0.0) for s in shares])
    above = np.zeros(len(shares), dtype=np.int64)  # one pass: every threshold's count
    for b in pv.blocks():
        above += np.count_nonzero(b[:, None] > thr[None, :], axis=0)
    n = pv.size
    return [{"threshold_yuan": s * investment, "share_of_investment": s,
             "probability": float(np.float64(a) / np.intp(n)) if n else 0.0} for s, a in zip(shares, above)]


def soe_bond_balance_by_year(plan) -> np.ndarray:
    """The SOE corporate bonds (``[[projects.financing.soe_bonds]]``) outstanding at each programme year end,
    ``Σ_p B^SOE_{p, 12y + 11}``, ``(Y,)``: their schedule is deterministic (engine/instruments/soe_bond.py), the
    same on every path; zeros without SOE bonds."""
    bal = np.asarray(plan.soe_bond_balance, dtype=float)
    if not bal.size:
        return np.zeros(plan.Y)
    return bal[:, 11::12].sum(axis=0)[: plan.Y]


def stock_by_year(result) -> np.ndarray:
    """The contingent-liability register, per path and year: the SOE's debt outstanding at each year end from the
    year of the first call on (0 before it and on paths without a call) — its bank loans plus its corporate bonds
    (:func:`soe_bond_balance_by_year`), the stock of debt the government would be taking over, as MOF registers
    hidden debt (a balance, not a PV); special bonds are explicit government debt, not in the register."""
    fy = result.col("first_call_year").astype(np.int64)
    return np.column_stack([np.asarray(c) for c in iter_stock(result, fy)]) if result.ledger_years("bank_balance") \
        else np.zeros((fy.size, 0))


def iter_stock(result, fy):
    """:func:`stock_by_year` one year at a time, as Cols (``fy``: the first-call year per path, −1 without a call)."""
    soe = soe_bond_balance_by_year(result.plan)
    for y, bal in enumerate(result.year_cols("bank_balance")):
        yield np.where((fy >= 1) & (y + 1 >= fy), bal.astype(float) + soe[y], 0.0)


def _year_fan(cols, qs=(0.5, 0.95)) -> dict:
    """Mean (as ``arr.mean(axis=0)``) and quantiles of each year's column; empty lists when there is no path."""
    out = {"mean": [], **{f"p{int(round(q * 100)):02d}": [] for q in qs}}
    for col in cols:
        k, m, vals = bk.fan_stats(col, list(qs), mean="running")  # one pass: size, year_mean, quantiles
        if not k:
            return {k: [] for k in out}
        out["mean"].append(m)
        for q, v in zip(qs, vals):
            out[f"p{int(round(q * 100)):02d}"].append(float(v))
    return out


def register_summary(result) -> dict:
    """``hidden_debt.stock_by_year`` {mean, p50, p95} (all paths) and its fan given a call, the debt at the first
    call {expected, p50, p95 given a call}, and the materiality keys."""
    df = result.paths
    call = result.col("hidden_call").astype(bool)
    fy = result.col("first_call_year").astype(np.int64)
    stock, given = _year_fan(iter_stock(result, fy)), {"mean": [], "p50": [], "p95": []}
    if call.any():
        given = _year_fan(s[call] for s in iter_stock(result, fy))
    at_call = result.col("debt_at_first_call").astype(float) if "debt_at_first_call" in df else \
        bk.Col.of(np.zeros(len(df)))
    pv = result.col("hidden_debt_pv").astype(float)
    inv = investment_yuan(result)
    thr = materiality_yuan(result)
    return {
        "stock_by_year": stock,
        "stock_by_year_given_call": given,
        "debt_at_first_call": {"expected": bk.mean(at_call) if at_call.size else 0.0, **_q(at_call[call], (0.5, 0.95))},
        "materiality_yuan": thr,
        "materiality_share_of_investment": float(result.scenario.policy.materiality_share_of_investment),
        "p_call_material": bk.share(pv > thr + 1e-6) if pv.size else 0.0,
        "exceedance": exceedance(pv, inv, (result.scenario.policy.materiality_share_of_investment,)),
    }


def government_money_summary(result) -> dict:
    """Government money by class (each with its MOF wording), the exceedance curve of each class, and the total."""
    inv = investment_yuan(result)
    thr = materiality_yuan(result)
    rows, curves = [], {}
    for key, label, wording, col in MONEY_CLASSES:
        pv = result.col(col).astype(float)
        rows.append({"class": key, "label": label, "mof_wording": wording, "probability": bk.share(pv > 1e-6),
                     "expected_pv_yuan": bk.mean(pv), "p_material": bk.share(pv > thr + 1e-6)})
        curves[key] = exceedance(pv, inv)
    total = result.col("government_money_pv").astype(float)
    curves["total_government_money"] = exceedance(total, inv)
    return {
        "government_money_by_class": rows,
        "exceedance_by_class": curves,
        "total_government_money": {"p_call": bk.mean(result.col("government_call")), "expected_pv": bk.mean(total),
                                   "p_material": bk.share(total > thr + 1e-6),
                                   "var95_pv": value_at_risk(total, 0.95), "cvar95_pv": expected_shortfall(total, 0.95)},
    }


_GOVERNMENT_SOURCES = ("central", "provincial", "municipal", "housing_provident_fund")


def _government_capital_grants_pv(result) -> float:
    """PV at the fiscal rate of the capital grants from government sources (central, provincial, municipal, 公积金),
    drawn as the plan draws each project's capital grants (pro rata with its uses)."""
    sc, plan = result.scenario, result.plan
    v = np.asarray(plan.support.fiscal_discount_m, dtype=float)
    total = 0.0
    for i, p in enumerate(sc.projects):
        caps = [g for g in p.financing.grants if g.capital]
        amt = sum(g.amount_yuan + g.per_unit_yuan * p.units for g in caps)
        gov = sum(g.amount_yuan + g.per_unit_yuan * p.units for g in caps if g.source in _GOVERNMENT_SOURCES)
        if amt > 0:
            total += float(plan.capital_grants_in[i] @ v) * gov / amt
    return total


def _land_at_allocated_cost_pv(result) -> float:
    """PV at the fiscal rate of allocated land (划拨) put into new-build projects, valued at its allocated cost — a lower
    bound of the land revenue the city forgoes (the market price of the land is not in the scenario)."""
    v = np.asarray(result.plan.support.fiscal_discount_m, dtype=float)
    out = 0.0
    for p in result.scenario.projects:
        if p.construction is not None and p.construction.land_cost_yuan > 0:
            out += p.construction.land_cost_yuan * float(v[min(p.construction.start_month, v.size - 1)])
    return out


def total_fiscal_cost(result) -> dict:
    """The programme's total fiscal cost, PV at the fiscal rate: budgeted capital grants from government sources +
    budgeted operating support paid (rent subsidy, 贴息, operating grants) + allocated land at cost + unbudgeted
    government money (hidden-debt call, unbudgeted subsidy, explicit bond burden) + the explicit debt the programme
    leaves outstanding at the horizon (:func:`refinancing_outstanding_pv`) + for government-owned blocks the
    budget's own capital and its operating top-ups (gross: their rent income is in ``fiscal.government_owned``)."""
    parts = {
        "capital_grants_pv": _government_capital_grants_pv(result),
        "budgeted_operating_support_pv": bk.mean(result.col("budgeted_subsidy_pv")),
        "land_at_allocated_cost_pv": _land_at_allocated_cost_pv(result),
        "unbudgeted_government_money_pv": bk.mean(result.col("government_money_pv")),
        "refinancing_outstanding_at_horizon_pv": refinancing_outstanding_pv(result),
    }
    owned = government_owned(result)
    if owned["blocks"]:  # the budget's own blocks: its capital and operating top-ups (their income is not netted)
        parts["government_owned_capital_pv"] = owned["capital_pv"]
        parts["government_owned_operating_pv"] = owned["expected_operating_topup_pv"]
    total = sum(parts.values())
    hidden = bk.mean(result.col("hidden_debt_pv"))
    return {"expected_pv": total, **parts,
            "multiple_of_expected_hidden_debt": (total / hidden) if hidden > 0 else None}


def refinancing_outstanding_pv(result) -> float:
    """PV at the fiscal rate of the refinancing bonds (再融资债券) still outstanding at the horizon:
    ``E[B_T] · v_T``, ``B_T`` a path's refinancing balance after the last month and ``v_T`` the fiscal discount
    factor of the last month's end. The special bonds they rolled over were repaid with them, so the principal is
    still the budget's debt when the model stops: explicit debt, owed whatever the project's assets (the SOE's, not
    the budget's) are worth then. 0 without refinancing (the scheduled special bonds mature within the horizon)."""
    if "refinancing_balance_end_yuan" not in result.paths:
        return 0.0
    v_end = float(np.asarray(result.plan.support.fiscal_discount_m, dtype=float)[-1])
    return bk.mean(result.col("refinancing_balance_end_yuan").astype(float)) * v_end


def revenue_split(result) -> dict:
    """Peak yearly hidden-debt call against government-fund (land) revenue; the share against general-budget revenue
    is ``hidden_debt.peak_share_of_fiscal_revenue``. With ``policy.government_fund_revenue_yuan`` = G₀ the land-tied part
    s·F₀·H^β of the model's fiscal revenue is rescaled to G₀·H^β (exact: the ratio scales by s·F₀/G₀)."""
    sc = result.scenario
    share = result.col("peak_call_share_of_land_revenue").astype(float)
    s, f0 = sc.market.fiscal_land_share, sc.programme.fiscal_revenue_yuan
    g0 = sc.policy.government_fund_revenue_yuan
    if g0:
        share = share * (s * f0 / g0) if s > 0 else np.full_like(share, np.nan)
        basis = "government_fund_revenue_yuan"
    else:
        basis = "land-tied part of fiscal_revenue_yuan (fiscal_land_share)"
    return {"peak_share_of_land_revenue": {**_q(share, (0.5, 0.95, 0.99)),
                                           "max": float(bk.nanmax(share)) if share.size and np.isfinite(share).any() else None},
            "land_revenue_basis": basis}


def debt_ratio(result) -> dict:
    """The programme's contribution to the city's 债务率 = debt ÷ comprehensive fiscal capacity, by year: special-bond
    balance (explicit debt) + the register's stock (hidden debt taken over) over the capacity at the start
    (``policy.comprehensive_fiscal_capacity_yuan``, else general + fund revenue: an upper bound); with
    ``policy.city_debt_yuan`` also the city's ratio and its band. Bands and the 100 % line are assumptions
    (:data:`DEBT_RATIO_BANDS`)."""
    sc, plan = result.scenario, result.plan
    pol = sc.policy
    cap = pol.comprehensive_fiscal_capacity_yuan or (sc.programme.fiscal_revenue_yuan + (pol.government_fund_revenue_yuan or 0.0))
    basis = "comprehensive_fiscal_capacity_yuan" if pol.comprehensive_fiscal_capacity_yuan else \
        "fiscal_revenue_yuan + government_fund_revenue_yuan (transfers excluded: upper bound)"
    bond_end = np.asarray(plan.bond_balance, dtype=float).sum(axis=0)[np.minimum(np.arange(plan.Y) * 12 + 11, plan.T - 1)]
    fy = result.col("first_call_year").astype(np.int64)
    fan = _year_fan((bond_end[y] + stock) / cap for y, stock in enumerate(iter_stock(result, fy)))

    def peak_of(f, *bal):  # the largest year's contribution per path, year by year as the fan computes them
        peak = np.full(f.shape[0], -np.inf) if bal else np.zeros(f.shape[0])
        for y, b in enumerate(bal):
            stock = np.where((f >= 1) & (y + 1 >= f), np.asarray(b, dtype=float), 0.0)
            np.maximum(peak, (bond_end[y] + stock) / cap, out=peak)
        return peak

    peak = fy.map(peak_of, *result.year_cols("bank_balance"))  # the years' columns (contiguous reads)
    out = {"capacity_yuan": float(cap), "capacity_basis": basis,
           "contribution_by_year": fan, "contribution_peak": _q(peak, (0.5, 0.95)),
           "warning_line": DEBT_RATIO_WARNING_LINE,
           "bands": [{"band": b, "lower": lo, "upper": hi if np.isfinite(hi) else None} for b, lo, hi in DEBT_RATIO_BANDS],
           "bands_status": "assumption (secondary sources; verify with the provincial finance department)"}
    if pol.city_debt_yuan is not None:
        city = pol.city_debt_yuan / cap + float(bk.quantile(peak, 0.95)) if peak.size else pol.city_debt_yuan / cap
        out["city_ratio_p95"] = city
        out["city_ratio_before"] = pol.city_debt_yuan / cap
        out["city_band_p95"] = next(b for b, lo, hi in DEBT_RATIO_BANDS if lo <= city < hi)
    return out
