"""Bond coverage as approvals compute it (本息覆盖倍数), and the compliance flags on it (issue 16).

Per path, over the bond's life (first draw to last service month), undiscounted, projects that carry special bonds:

* ``bond_coverage_ratio`` = Σ CFADS ÷ Σ (bond principal + interest) — the bond alone (as before);
* ``bond_coverage_all_financing`` = Σ CFADS ÷ Σ (bond principal + interest + the bond projects' bank service) — the
  test with the project's other financing, as an approval that sees the whole financing plan computes it;
* ``…_with_residual``: the numerator adds the residual value, the market value of the bond projects' units in the
  bond's last month (残值 / 处置收入); labelled apart because a residual only pays if the units are sold.
"""

from __future__ import annotations

import numpy as np

from baozhang_finance.measures.stats import quantiles as _q
from baozhang_finance.model.compliance import check_coverage

COVERAGE_KEYS = ("bond_coverage_all_financing", "bond_coverage_all_financing_with_residual",
                 "bond_coverage_with_residual")


def coverage_summary(result) -> dict:
    """``coverage.<key>`` {p05, p50} for each of :data:`COVERAGE_KEYS` and ``coverage.findings`` (compliance)."""
    df = result.paths
    out = {k: _q(result.col(k), (0.05, 0.5)) for k in COVERAGE_KEYS if k in df}
    values = {"bond_coverage_ratio": _q(result.col("bond_coverage_ratio"), (0.5,))["p50"]}
    values.update({k: v["p50"] for k, v in out.items()})
    out["findings"] = [f.__dict__ for f in check_coverage(result.scenario, values)]
    return out


def p50(x) -> float | None:
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    return float(np.median(x)) if x.size else None
