"""Financial metrics, one function per quantity, vectorised over paths (rows).

Sign convention: inflows to the party whose metric it is are positive. Yearly arrays have shape ``(n, Y)``;
year ``k`` (0-based) flows are taken at the end of year ``k + 1`` when discounting from the programme start.
"""

from __future__ import annotations

import numpy as np

from baozhang_finance.measures import blocked as bk
from baozhang_finance.engine.formulas import (  # noqa: F401  (one copy: the formulas the engine calls)
    bond_coverage_ratio,
    cfads,
    coverage_ratio,
    dscr,
    llcr,
    min_dscr,
    npv,
    present_value_monthly,
)
from baozhang_finance.measures.irr import irr_rows, rate_grid


def irr(flows, lo: float = -0.99, hi: float = 10.0, grid: int = 240, tol: float = 1e-12):
    """Internal rate of return per row, vectorised: the r solving Σ_k f_k (1 + r)^−k = 0 (k from 0).

    Same definition as ``numpy_financial.irr``: where several roots exist, the one closest to zero is taken;
    where there is none in (lo, hi), NaN (IRR undefined, e.g. flows that never turn positive). The roots are
    bracketed on a grid of rates (denser near zero) and refined by safeguarded Newton steps, row by row in
    compiled code (:mod:`baozhang_finance.measures.irr`).
    """
    return irr_rows(flows, rate_grid(lo, hi, grid, 0.05), tol)


def irr_periodic(flows, lo: float = -0.2, hi: float = 0.3, grid: int = 48, tol: float = 1e-12, iters: int = 60):
    """Per-period IRR per row of flows at equally spaced dates (monthly flows → a monthly rate).

    The r solving Σ_k f_k (1 + r)^−k = 0 (k from 0), the root closest to zero where several exist (as
    :func:`irr` and ``numpy_financial.irr``), NaN where none lies in (lo, hi): bracketed on a grid of rates (dense
    within 0.5 % of zero), refined by safeguarded Newton steps (:mod:`baozhang_finance.measures.irr`). Annualise
    a monthly rate as (1 + r)^12 − 1.
    """
    return irr_rows(flows, rate_grid(lo, hi, grid, 0.005), tol, iters)


def annual_irr_of_monthly(flows_m):
    """Annual IRR of monthly flows: (1 + r_m)^12 − 1 with r_m = :func:`irr_periodic` (NaN where undefined)."""
    return np.expm1(12.0 * np.log1p(irr_periodic(flows_m)))


def npv_monthly(annual_rate: float, flows_m):
    """NPV of end-of-month flows at an annual rate: Σ_t f_t (1 + R)^−(t+1)/12 (t from 0)."""
    return present_value_monthly(flows_m, annual_rate)


def peak_funding_need(equity_in, soe_support, distributions):
    """Peak funding need: max_t Σ_{s≤t} (equity_s + SOE support_s − distributions_s), over the last axis.

    The most the SOE has had to put in, net of what it has taken out, at any point (≥ 0).
    """
    cum = np.cumsum(np.asarray(equity_in) + np.asarray(soe_support) - np.asarray(distributions), axis=-1)
    return np.maximum(cum.max(axis=-1), 0.0)


def value_at_risk(losses, level: float) -> float:
    """VaR_α: the α-quantile of the losses, smallest x with F_n(x) ≥ α (numpy 'inverted_cdf'; exact, in blocks:
    :func:`~baozhang_finance.measures.blocked.value_at_risk`)."""
    return bk.value_at_risk(losses, level)


def expected_shortfall(losses, level: float) -> float:
    """CVaR_α (expected shortfall): the mean of the worst (1 − α) share of the sample.

    With the losses sorted from the largest, L_(1) ≥ L_(2) ≥ …, and m = n (1 − α):
    ES = (Σ_{i ≤ ⌊m⌋} L_(i) + (m − ⌊m⌋) L_(⌊m⌋+1)) / m  (Acerbi & Tasche 2002).
    Unlike E[L | L ≥ VaR], this does not collapse to the overall mean when VaR = 0 because fewer than (1 − α) of
    the paths have a call: with 2 % of paths calling, CVaR95 is the mean over the worst 5 %, i.e. E[L] / 0.05.
    Computed in bounded memory (:func:`~baozhang_finance.measures.blocked.expected_shortfall`: the ⌊m⌋ largest
    values only). NaN when a loss is NaN or there is none.
    """
    return bk.expected_shortfall(losses, level)


def var_cvar(losses, level: float = 0.95):
    """Value at risk and expected shortfall of a loss sample at ``level`` α.

    VaR_α = the α-quantile of the losses (numpy 'inverted_cdf': the smallest x with F_n(x) ≥ α);
    CVaR_α = expected shortfall, the mean of the worst (1 − α) share of the sample (Acerbi & Tasche 2002): with the
    losses sorted from the largest and m = n (1 − α), ES = (Σ_{i ≤ ⌊m⌋} L_(i) + (m − ⌊m⌋) L_(⌊m⌋+1)) / m.
    Unlike E[L | L ≥ VaR], it does not collapse to the overall mean when fewer than (1 − α) of the paths lose.
    """
    return value_at_risk(losses, level), expected_shortfall(losses, level)


def quantiles(x, qs=(0.05, 0.5, 0.95)) -> dict:
    """Sample quantiles as a dict ``{"p05": …, "p50": …}``, ignoring NaN (undefined values); None when empty.
    ``np.quantile`` of the non-NaN values, exact in bounded memory (:func:`~baozhang_finance.measures.blocked.quantile`)."""
    return bk.quantile_dict(x, qs)


def year_mean(col) -> float:
    """Mean over paths of one year of a ``(paths, years)`` ledger, summed as ``arr.mean(axis=0)`` sums a C-ordered
    table: a running sum in path order (not numpy's pairwise sum of a 1-D array), ÷ n — so a ledger read one year
    at a time (a streamed run) gives the bits of the whole-table mean. NaN when there is no path.

    .. math:: \\bar x_y = (\\dots((x_{1y} + x_{2y}) + x_{3y}) \\dots + x_{ny}) / n
    """
    return bk.running_mean(col)


def year_nanmean(col) -> float:
    """``np.nanmean(arr, axis=0)`` for one year: the running sum of the non-NaN values (NaN read as 0) in path order
    ÷ their count (NaN when none)."""
    return bk.running_nanmean(col)


def mc_standard_error_mean(x):
    """Monte Carlo standard error of a sample mean: s / √n (s: ``std(ddof=1)``, its sums in blocks)."""
    c = bk.as_col(x).astype(float)
    n = c.size
    return float(bk.std(c, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")


def grouped_standard_error(x, groups) -> float:
    """Standard error of the mean of ``x`` when its rows come in independent groups (antithetic pairs, rqmc
    replicates; each row its own group under plain MC): with group sums ``S_g``, sizes ``m_g``, ``G`` groups and
    ``N = Σ m_g`` rows, ``SE² = G / (G − 1) · Σ_g (S_g − x̄ m_g)² / N²`` (the ratio estimator's variance; for
    groups of one row it is s²/N). NaN with fewer than 2 groups. The groups are contiguous runs of rows (as
    :func:`~baozhang_finance.engine.shocks.sampling_groups` makes them); summed in blocks
    (:func:`~baozhang_finance.measures.blocked.grouped_standard_error`)."""
    return bk.grouped_standard_error(x, groups)


def mc_standard_error_prob(p: float, n: int):
    """Standard error of an estimated probability: √(p (1 − p) / n)."""
    return float(np.sqrt(max(p * (1 - p), 0.0) / n)) if n > 0 else float("nan")
