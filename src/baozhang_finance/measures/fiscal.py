"""Fiscal lens (财政局): the hidden-debt call, the explicit special-bond burden, and their scale against the budget.

Definitions (per path, supported view):

* hidden-debt call (隐性债务): government money paying an SOE's operating shortfall or bank debt service after the
  SOE's own support capacity is used up — money the budget pays for debt that is not government debt;
* explicit bond burden (显性债务负担): government money paying special-bond service the project could not (the
  bond failed to self-balance, 收益与融资自求平衡) — on-budget debt, kept apart in every output;
* SOE explicit support (国企自有资金支持): the SOE's own money, on its books;
* PV at the programme discount rate, end-of-month discounting from the programme start.

Across paths: P(call) = share of paths with any call; VaR_α = the α-quantile of the PV of calls (smallest x with
F(x) ≥ α); CVaR_α = expected shortfall, the mean of the worst (1 − α) share of outcomes (Acerbi–Tasche estimator,
which stays right when most paths have no call at all — see :func:`expected_shortfall`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from baozhang_finance.measures import stats as mx
from baozhang_finance.measures.stats import expected_shortfall, value_at_risk
from baozhang_finance.measures.stats import quantiles as _q


def p_call_by_year(result) -> np.ndarray:
    """P(a hidden-debt call in year y), y = 1..Y (a path can call in several years)."""
    return (result.ledger("gov_hidden") > 1e-6).mean(axis=0)


def p_call_cumulative(result) -> np.ndarray:
    """P(first hidden-debt call by the end of year y), y = 1..Y; the last entry is P(call) over the horizon."""
    fy = result.paths["first_call_year"].to_numpy(np.int64)
    Y = result.plan.Y
    return ((fy[:, None] >= 1) & (fy[:, None] <= np.arange(1, Y + 1)[None, :])).mean(axis=0)


def first_call_year_distribution(result) -> dict:
    """First-call year (1-based) among calling paths: share of all paths by year and quantiles (None: no call)."""
    fy = result.paths["first_call_year"].to_numpy(np.int64)
    Y = result.plan.Y
    called = fy[fy >= 1]
    counts = np.bincount(called - 1, minlength=Y)[:Y] if called.size else np.zeros(Y, int)
    out = {"share_by_year": (counts / max(fy.size, 1)).tolist(), "n_calls": int(called.size)}
    out.update(_q(called, (0.05, 0.5, 0.95)) if called.size else {"p05": None, "p50": None, "p95": None})
    return out


# ------------------------------------------------------------------------------------------------ summaries
def hidden_debt_summary(result) -> dict:
    """DESIGN §7 ``hidden_debt``: probability, size (expected, VaR, CVaR of the PV), timing and scale of calls."""
    df = result.paths
    pv = df["hidden_debt_pv"].to_numpy(float)
    call = df["hidden_call"].to_numpy(bool)
    share = df["peak_call_share_of_fiscal"].to_numpy(float)
    out = {
        "p_call": float(call.mean()),
        "expected_pv": float(pv.mean()),
        "var95_pv": value_at_risk(pv, 0.95),
        "cvar95_pv": expected_shortfall(pv, 0.95),
        "var99_pv": value_at_risk(pv, 0.99),
        "cvar99_pv": expected_shortfall(pv, 0.99),
        "pv_given_call": _q(pv[call], (0.5, 0.95)),
        "first_call_year": first_call_year_distribution(result),
        "peak_share_of_fiscal_revenue": {**_q(share, (0.5, 0.95, 0.99)), "max": float(share.max()) if share.size else None},
        "p_call_by_year": p_call_by_year(result).tolist(),
        "p_call_cumulative": p_call_cumulative(result).tolist(),
    }
    return out


def fiscal_summary(result) -> dict:
    """DESIGN §7 ``fiscal``: the explicit special-bond burden kept apart, SOE support, and who pays the gap."""
    df = result.paths
    bond_pv = df["explicit_bond_burden_pv"].to_numpy(float)
    soe_pv = df["soe_support_pv"].to_numpy(float)
    return {
        "explicit_bond_burden": {
            "p_call": float(df["explicit_bond_call"].mean()),
            "expected_pv": float(bond_pv.mean()),
            "var95_pv": value_at_risk(bond_pv, 0.95),
            "cvar95_pv": expected_shortfall(bond_pv, 0.95),
            "p_call_by_year": (result.ledger("gov_bond") > 1e-6).mean(axis=0).tolist(),
        },
        "soe_support": {"p_support": float((soe_pv > 0).mean()), "expected_pv": float(soe_pv.mean()),
                        "p95_pv": value_at_risk(soe_pv, 0.95)},
        "classification": classification_table(result).to_dict(orient="records"),
        "government_buybacks": government_buybacks(result),
    }


def government_buybacks(result) -> dict:
    """Buybacks the government pays (Beitun seeds/004 §四(三)): a budgeted obligation — neither a hidden-debt call
    nor the SOE's cash. P(any payment), expected PV of the payments, of the resale proceeds returning to the budget,
    and of the net (payments − resale), discounted like the budget's other payments."""
    df = result.paths
    if "gov_buyback_pv" not in df:
        return {"p_any": 0.0, "expected_pv": 0.0, "expected_resale_pv": 0.0, "expected_net_pv": 0.0}
    paid = df["gov_buyback_pv"].to_numpy(float)
    back = df["gov_resale_pv"].to_numpy(float)
    return {"p_any": float(df["gov_buyback_any"].mean()), "expected_pv": float(paid.mean()),
            "expected_resale_pv": float(back.mean()), "expected_net_pv": float((paid - back).mean())}


def classification_table(result) -> pd.DataFrame:
    """Who pays the gap: explicit bond burden / SOE explicit support / hidden-debt call.

    One row per class with the probability that any is paid, the expected PV (yuan) and its share of the total
    expected PV of outside money (0 when nothing is ever paid).
    """
    df = result.paths
    rows = [
        ("explicit_bond_burden", "显性债务负担 explicit special-bond burden", df["explicit_bond_burden_pv"], df["explicit_bond_call"]),
        ("soe_explicit_support", "国企自有资金支持 SOE explicit support", df["soe_support_pv"], df["soe_support_pv"] > 0),
        ("hidden_debt_call", "隐性债务 hidden-debt call", df["hidden_debt_pv"], df["hidden_call"]),
    ]
    vals = [float(np.asarray(v, dtype=float).mean()) for _, _, v, _ in rows]
    total = sum(vals)
    return pd.DataFrame([
        {"class": k, "label": lab, "probability": float(np.asarray(p, dtype=bool).mean()), "expected_pv_yuan": v,
         "share": (v / total) if total > 0 else 0.0}
        for (k, lab, _, p), v in zip(rows, vals)
    ])


def standard_errors(result) -> dict:
    """Monte Carlo standard errors of the headline fiscal estimates: √(p(1−p)/n) and s/√n."""
    df = result.paths
    n = len(df)
    p = float(df["hidden_call"].mean())
    return {
        "p_call": mx.mc_standard_error_prob(p, n),
        "expected_pv": mx.mc_standard_error_mean(df["hidden_debt_pv"].to_numpy(float)),
        "p_self_financing": mx.mc_standard_error_prob(float(df["self_financing"].mean()), n),
    }
