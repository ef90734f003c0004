"""SOE lens (实施主体): equity returns, peak funding need, lock-up of distributions.

Equity flows per year = distributions − equity contributions − SOE support; the last year adds the terminal
equity (market value of units still held × (1 − haircut) + reserves − debt outstanding).
"""

from __future__ import annotations

import numpy as np


def _q(x, qs=(0.05, 0.5, 0.95)):
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    if not x.size:
        return {f"p{int(q * 100):02d}": None for q in qs}
    return {f"p{int(round(q * 100)):02d}": float(v) for q, v in zip(qs, np.quantile(x, qs))}


def soe_summary(result) -> dict:
    df = result.paths
    irr = df["equity_irr"].to_numpy(float)
    return {
        "equity_irr": _q(irr),
        "equity_irr_undefined_share": float(np.isnan(irr).mean()),
        "project_irr": _q(df["project_irr"]),
        "npv": _q(df["equity_npv"]),
        "peak_funding_need": _q(df["peak_funding_need"], (0.5, 0.95)),
        "lockup_years": {"mean": float(df["lockup_years"].mean()), **_q(df["lockup_years"], (0.5, 0.95))},
    }
