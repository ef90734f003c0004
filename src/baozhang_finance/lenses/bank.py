"""Bank lens (standalone view): PD, LGD, expected loss, grade.

The standalone view assumes no government support: the first month in which bank service would need government
money (after DSRA, retained cash and SOE support) is the default. It is read off the supported simulation —
the two views are identical up to that month.

* cumulative PD by year y: P(default month < 12 y);
* EAD: bank principal outstanding at the start of the default month + that month's interest;
* recovery = collateral × (1 − forced-sale haircut) × (1 − liquidation costs) ÷ (1 + r)^(delay/12), where the
  collateral is the market value of the units the SOE holds at default (units × area × appraisal × price index);
* LGD = max(0, 1 − recovery / EAD); EL = E[1{default} · LGD · EAD] (yuan); EL rate = EL / bank principal;
* grade: slotting in the spirit of Basel specialised lending (CRE33 / BCBS IPRE slotting), by lifetime PD and
  the median of the minimum DSCR; see docs/lenses.md.
"""

from __future__ import annotations

import numpy as np

#: (grade, max lifetime PD, min P50 of min-DSCR, Basel slotting risk weight)
GRADES = (
    ("Strong", 0.01, 1.35, 0.70),
    ("Good", 0.03, 1.20, 0.90),
    ("Satisfactory", 0.10, 1.05, 1.15),
    ("Weak", 0.50, 0.0, 2.50),
)


def loan_years(result) -> int:
    plan = result.plan
    return int(np.ceil(plan.loan_maturity.max() / 12)) if plan.L else 0


def pd_cumulative(default_month: np.ndarray, years: int) -> np.ndarray:
    """Cumulative PD by year: PD(y) = P(default month < 12 y), y = 1..years."""
    dm = np.asarray(default_month)
    ends = 12 * np.arange(1, years + 1)
    d = dm >= 0
    return ((dm[:, None] < ends[None, :]) & d[:, None]).mean(axis=0)


def lgd(ead, collateral, haircut, cost_share, delay_months, rate):
    """Loss given default: max(0, 1 − collateral (1 − h)(1 − c)(1 + r)^(−delay/12) / EAD)."""
    ead = np.asarray(ead, dtype=float)
    recovery = np.asarray(collateral, dtype=float) * (1 - haircut) * (1 - cost_share) * (1 + rate) ** (-delay_months / 12)
    return np.clip(1.0 - np.divide(recovery, ead, out=np.zeros_like(ead), where=ead > 0), 0.0, 1.0)


def grade(pd_life: float, dscr_p50: float | None) -> tuple[str, float]:
    """Slotting grade and its risk weight from lifetime PD and the median minimum DSCR."""
    if pd_life >= 0.5:
        return "Default", 0.0
    d = -np.inf if dscr_p50 is None or not np.isfinite(dscr_p50) else dscr_p50
    for name, max_pd, min_dscr, rw in GRADES:
        if pd_life <= max_pd and d >= min_dscr:
            return name, rw
    return "Weak", 2.50


def path_lgd(result) -> np.ndarray:
    c = result.scenario.credit
    df = result.paths
    return lgd(df["ead"].to_numpy(float), df["collateral_at_default"].to_numpy(float), c.forced_sale_haircut,
               c.liquidation_cost_share, c.liquidation_months, c.recovery_discount_rate)


def bank_summary(result) -> dict:
    plan = result.plan
    if plan.L == 0:
        return {"has_bank_debt": False, "pd_cumulative": [], "lgd_mean": None, "expected_loss": 0.0, "grade": None}
    df = result.paths
    years = loan_years(result)
    pdc = pd_cumulative(df["default_month"].to_numpy(), years)
    d = df["default"].to_numpy(bool)
    lg = path_lgd(result)
    ead = df["ead"].to_numpy(float)
    el = float(np.mean(np.where(d, lg * ead, 0.0)))
    principal = float(plan.loan_draw.sum())
    dmin = df["dscr_min"].to_numpy(float)
    dmin = dmin[~np.isnan(dmin)]
    p50 = float(np.median(dmin)) if dmin.size else None
    g, rw = grade(float(pdc[-1]) if pdc.size else 0.0, p50)
    return {
        "has_bank_debt": True,
        "bank_principal_yuan": principal,
        "pd_cumulative": pdc.tolist(),
        "pd_lifetime": float(pdc[-1]) if pdc.size else 0.0,
        "lgd_mean": float(lg[d].mean()) if d.any() else None,
        "ead_mean": float(ead[d].mean()) if d.any() else None,
        "expected_loss": el,
        "expected_loss_rate": el / principal if principal > 0 else None,
        "p_min_dscr_below_1": float((df["dscr_min"] < 1.0).mean()),
        "grade": g,
        "risk_weight": rw,
    }
