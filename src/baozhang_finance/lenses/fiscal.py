"""Fiscal lens (财政局): the hidden-debt call, the explicit special-bond burden, and their scale against the budget.

Definitions (per path, supported view):
* hidden-debt call (隐性债务): government money paying an SOE's operating shortfall or bank debt service;
* explicit bond burden: government money paying special-bond service the project could not (the bond failed to
  self-balance, 收益与融资自求平衡) — on-budget, kept apart;
* PV at the programme discount rate, monthly end-of-month discounting.
"""

from __future__ import annotations

import numpy as np

from .. import metrics as mx


def hidden_debt_summary(result) -> dict:
    df = result.paths
    pv = df["hidden_debt_pv"].to_numpy(float)
    call = df["hidden_call"].to_numpy(bool)
    var95, cvar95 = mx.var_cvar(pv, 0.95)
    var99, cvar99 = mx.var_cvar(pv, 0.99)
    fy = df.loc[call, "first_call_year"].to_numpy(float)
    share = df["peak_call_share_of_fiscal"].to_numpy(float)
    return {
        "p_call": float(call.mean()),
        "expected_pv": float(pv.mean()),
        "var95_pv": var95,
        "cvar95_pv": cvar95,
        "var99_pv": var99,
        "cvar99_pv": cvar99,
        "first_call_year": {"p50": float(np.median(fy)) if fy.size else None,
                            "p05": float(np.quantile(fy, 0.05)) if fy.size else None},
        "peak_share_of_fiscal_revenue": {"p50": float(np.quantile(share, 0.5)), "p95": float(np.quantile(share, 0.95))},
        "p_call_by_year": p_call_by_year(result).tolist(),
    }


def p_call_by_year(result) -> np.ndarray:
    """P(a hidden-debt call in year y), y = 1..Y."""
    return (result.ledger("gov_hidden") > 1e-6).mean(axis=0)


def fiscal_summary(result) -> dict:
    df = result.paths
    return {
        "explicit_bond_burden": {
            "p_call": float(df["explicit_bond_call"].mean()),
            "expected_pv": float(df["explicit_bond_burden_pv"].mean()),
        },
        "soe_support": {"p_support": float((df["soe_support_pv"] > 0).mean()),
                        "expected_pv": float(df["soe_support_pv"].mean())},
        "classification": classification_table(result).to_dict(orient="records"),
    }


def classification_table(result):
    """Who pays the gap, in expected PV yuan and shares: explicit bond burden / SOE support / hidden-debt call."""
    import pandas as pd

    df = result.paths
    rows = [
        ("explicit_bond_burden", "显性债务负担 (special bonds)", float(df["explicit_bond_burden_pv"].mean())),
        ("soe_explicit_support", "国企自有资金支持 (SOE books)", float(df["soe_support_pv"].mean())),
        ("hidden_debt_call", "隐性债务 (hidden-debt call)", float(df["hidden_debt_pv"].mean())),
    ]
    total = sum(r[2] for r in rows)
    return pd.DataFrame(
        [{"class": k, "label": lab, "expected_pv_yuan": v, "share": (v / total) if total > 0 else 0.0}
         for k, lab, v in rows]
    )


def standard_errors(result) -> dict:
    df = result.paths
    n = len(df)
    p = float(df["hidden_call"].mean())
    return {
        "p_call": mx.mc_standard_error_prob(p, n),
        "expected_pv": mx.mc_standard_error_mean(df["hidden_debt_pv"].to_numpy(float)),
        "p_self_financing": mx.mc_standard_error_prob(float(df["self_financing"].mean()), n),
    }
