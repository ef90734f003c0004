"""SOE lens (实施主体): equity returns, peak funding need, cash balance, lock-up of distributions.

Per path:

* equity flows by year = distributions − equity contributions − SOE support; the last year adds the terminal
  equity (market value of units still held × (1 − terminal haircut) + reserves − bank debt outstanding);
  equity IRR solves Σ_k f_k (1 + r)^−(k+1) = 0 (NaN where undefined, e.g. flows that never turn positive);
  equity NPV = Σ_k f_k (1 + d)^−(k+1) at the programme discount rate d;
* peak funding need = max_t Σ_{s≤t} (equity_s + SOE support_s − distributions_s): the most the SOE has had in,
  net of what it has taken out;
* cash balance (DSRA + cash retained under lock-up) at each year end — the fan;
* years in lock-up = months in which distributions were blocked because the trailing-12-month DSCR of a
  project was below ``waterfall.lockup_dscr``, ÷ 12.
"""

from __future__ import annotations

import numpy as np

from baozhang_finance.measures import blocked as bk
from baozhang_finance.measures.stats import quantiles as _q




def fan(arr, qs=(0.05, 0.25, 0.5, 0.75, 0.95)) -> dict:
    """Mean and quantiles across paths (NaN ignored) for each year: lists of length Y. ``arr``: a ``(paths, years)``
    ledger or its columns one year at a time (the mean summed as ``np.nanmean(arr, axis=0)`` sums it)."""
    cols = arr.T if isinstance(arr, np.ndarray) else arr
    out = {"mean": [], **{f"p{int(round(q * 100)):02d}": [] for q in qs}}
    for col in cols:
        x = bk.as_col(col).astype(float)
        if not x.size:
            return {k: [] for k in out}
        _, m, vals = bk.fan_stats(x, qs, mean="running_nan", dropnan=True)  # = year_nanmean and the quantiles
        out["mean"].append(m)
        for q, v in zip(qs, vals):
            out[f"p{int(round(q * 100)):02d}"].append(float(v))
    return out


def lockup_distribution(result) -> dict:
    """Years in lock-up per path: mean, quantiles, P(any lock-up) and the share of paths locked in each year."""
    ly = result.col("lockup_years").astype(float)
    out = {"mean": bk.mean(ly), **_q(ly), "p_any": bk.share(ly > 0)}
    if result.has_ledger("lockup_months"):
        out["share_locked_by_year"] = [bk.share(m > 0) for m in result.year_cols("lockup_months")]
    return out


def soe_summary(result) -> dict:
    """DESIGN §7 ``soe``: equity IRR and NPV, peak funding need, plus the cash fan and lock-up years."""
    irr = result.col("equity_irr").astype(float)
    pfn = result.col("peak_funding_need").astype(float)
    return {
        "equity_irr": _q(irr),
        "equity_irr_undefined_share": bk.share(np.isnan(irr)),
        "project_irr": _q(result.col("project_irr")),
        "npv": _q(result.col("equity_npv")),
        "p_npv_negative": bk.share(result.col("equity_npv").astype(float) < 0),
        "peak_funding_need": {"mean": bk.mean(pfn), **_q(pfn, (0.5, 0.95))},
        "cash_balance_fan": fan(result.year_cols("cash_balance")),
        "lockup_years": lockup_distribution(result),
    }


def monthly_returns(result) -> dict:
    """Equity IRR and NPV on monthly flows at their dates (issue 16), each view labelled:

    * ``equity_irr_monthly`` — supported view: f_t = distributions − equity − SOE support in month t, the last month
      adding the terminal value at income value (sale units held × market × (1 − haircut) + rental NOI of the last 12
      months ÷ cap rate + reserves − bank debt); IRR = (1 + r_m)^12 − 1 with Σ_t f_t (1 + r_m)^−t = 0;
    * ``equity_irr_monthly_no_tv`` — the same flows without any terminal value;
    * ``equity_irr_standalone`` — government money is not the SOE's income: f_t − (hidden-debt call + bond burden)_t,
      with the terminal value at income value;
    * NPVs of the same flows at the programme rate, end-of-month discounting.
    The annual-bucket ``soe.equity_irr`` / ``soe.npv`` stay as they were (market terminal value, yearly buckets).
    """
    out = {}
    for key, col in (("equity_irr_monthly", "equity_irr_monthly"), ("equity_irr_monthly_no_tv", "equity_irr_monthly_no_tv"),
                     ("equity_irr_standalone", "equity_irr_standalone")):
        x = result.col(col).astype(float)
        out[key] = {**_q(x), "undefined_share": bk.share(np.isnan(x)) if x.size else None}
    for key, col in (("npv_monthly", "equity_npv_monthly"), ("npv_monthly_no_tv", "equity_npv_monthly_no_tv"),
                     ("npv_standalone", "equity_npv_standalone")):
        out[key] = _q(result.col(col))
    out["terminal_value_income"] = {**_q(result.col("terminal_value_income"), (0.5,)),
                                    "cap_rate": float(result.plan.support.income_cap_rate)}
    return out
