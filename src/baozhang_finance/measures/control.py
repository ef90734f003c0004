"""The control-variate estimator of a mean (控制变量法), for the headline estimates of a plain Monte Carlo run.

With per-path controls ``C_i`` (K columns, :mod:`baozhang_finance.engine.controls`) whose expectation is exactly 0,
the estimate of E[Y] is the regression-adjusted mean

    Ŷ_cv = Ȳ − β̂ᵀ C̄,   β̂ = S_CC⁺ S_CY,

with the sample (co)variances S about the means (a pseudo-inverse: a control that is 0 on every path, e.g. a driver
without volatility, drops out). Its standard error is that of the regression residuals,

    SE = √( (S_YY − S_CYᵀ β̂) / ((n − K' − 1) n) ),   K' = rank of S_CC,

and the variance-reduction factor is S_YY / (S_YY − S_CYᵀ β̂) (= 1 / (1 − R²)). Estimating β̂ on the same paths
biases Ŷ_cv by O(1/n), far below the SE at the run sizes it is meant for (≥ 1,000 paths). Everything is computed
from running sums (:class:`Moments`), so a streamed run adds one block of paths at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Moments:
    """Running sums over paths of 1, Y, Y², C, C Cᵀ and C Y (float64)."""

    k: int
    n: int = 0
    sy: float = 0.0
    syy: float = 0.0
    sc: np.ndarray = field(default=None)
    scc: np.ndarray = field(default=None)
    scy: np.ndarray = field(default=None)

    def __post_init__(self):
        self.sc = np.zeros(self.k)
        self.scc = np.zeros((self.k, self.k))
        self.scy = np.zeros(self.k)

    def add(self, y: np.ndarray, c: np.ndarray) -> "Moments":
        """Add a block of paths: ``y`` (m,), ``c`` (m, K)."""
        y = np.asarray(y, dtype=np.float64)
        c = np.asarray(c, dtype=np.float64)
        self.n += y.size
        self.sy += float(y.sum())
        self.syy += float(y @ y)
        self.sc += c.sum(axis=0)
        self.scc += c.T @ c
        self.scy += c.T @ y
        return self


def control_variate_mean(m: Moments) -> dict:
    """``{"estimate", "se", "plain", "plain_se", "variance_reduction", "beta", "rank"}`` of E[Y] (module formulas)."""
    n = m.n
    ybar = m.sy / n
    cbar = m.sc / n
    s_yy = m.syy - n * ybar * ybar
    s_cc = m.scc - n * np.outer(cbar, cbar)
    s_cy = m.scy - n * cbar * ybar
    scale = np.sqrt(np.clip(np.diag(s_cc), 0.0, None))
    live = scale > 1e-12 * max(1.0, float(scale.max(initial=0.0)))  # controls that vary
    beta = np.zeros(m.k)
    rank = 0
    if live.any() and s_yy > 0:
        z = s_cc[np.ix_(live, live)] / np.outer(scale[live], scale[live])  # correlation form: well scaled
        zinv = np.linalg.pinv(z, rcond=1e-10, hermitian=True)
        rank = int(np.linalg.matrix_rank(z, tol=1e-10, hermitian=True))
        beta[live] = (zinv @ (s_cy[live] / scale[live])) / scale[live]
    explained = float(s_cy @ beta)
    resid = max(s_yy - explained, 0.0)
    dof = max(n - rank - 1, 1)
    plain_se = float(np.sqrt(max(s_yy, 0.0) / max(n - 1, 1) / n))
    return {
        "estimate": float(ybar - beta @ cbar),
        "se": float(np.sqrt(resid / dof / n)),
        "plain": float(ybar),
        "plain_se": plain_se,
        "variance_reduction": float(s_yy / resid) if resid > 0 else float("inf") if s_yy > 0 else 1.0,
        "beta": beta.tolist(),
        "rank": rank,
    }


def control_variate_means(ys: dict, controls: np.ndarray) -> dict:
    """:func:`control_variate_mean` of several quantities on the same paths' controls ``(n, K)``."""
    out = {}
    for name, y in ys.items():
        out[name] = control_variate_mean(Moments(controls.shape[1]).add(y, controls))
    return out
