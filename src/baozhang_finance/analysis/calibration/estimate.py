"""Estimate the ``[market]`` block from a city's history (no I/O; see :mod:`.data` for the readers).

Each driver is fitted in the form :mod:`baozhang_finance.engine.drivers` simulates, with statsmodels OLS:

* log-normal drivers (house price, rent, CPI, non-land fiscal revenue): ``x_t = Δln X_t = μ/12 − σ²/24 + σ/√12 ε``;
  ``μ̂ = 12 x̄ + σ̂²/2``, ``σ̂ = √12 s``; SE(μ̂) from the Newey–West (HAC) variance of x̄, SE(σ̂) = σ̂/√(2(n−k)).
* the decline regime of house prices: one break in the mean of ``x_t`` (sup-F over 15–85 % of the sample,
  Andrews 1993 5 % critical value 8.85), the two regime means by OLS on regime dummies (HAC), the date's 95 %
  interval by Bai (1997): ``k̂ ± (⌊11 σ̂²/δ̂²⌋ + 1)`` months.
* Vasicek / OU drivers (LPR, occupancy deviation, log absorption): ``y_{t+1} = a + b y_t + e`` (OLS on the
  months with both ends observed), Kendall bias correction ``b_c = b̂ + (1 + 3b̂)/n``; ``κ = 12(1 − b)``,
  ``θ = a/(1 − b)``, ``σ = √12 s_e``; SEs by the delta method from the OLS covariance.
* correlation of innovations: pairwise Pearson over the months both residual series have, then the nearest
  correlation matrix (Higham 2002, :func:`statsmodels.stats.correlation_tools.corr_nearest`);
  SE(ρ̂) = (1 − ρ̂²)/√(n − 3).

The formulas with references are in ``docs/calibration.md``. Every estimate carries its SE; an estimate that
cannot be made (no data, a constant series, a unit root) raises :class:`CalibrationError` or falls back to a
stated value recorded in :attr:`Calibration.notes` — never a NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from typing import TYPE_CHECKING as _TC  # noqa: E402
if _TC:  # pandas is imported where used (start-up time)
    import pandas as pd

from baozhang_finance.analysis.calibration.data import CalibrationError, MarketData
from baozhang_finance.model.scenario import DRIVERS

MIN_MONTHS = 24
#: Andrews (1993) asymptotic 5 % critical value of sup-F, one parameter, 15 % trimming
SUP_F_CRIT_5PCT = 8.85
#: Bai (1997): 97.5 % quantile of argmax(W(s) − |s|/2), for the 95 % interval of a break date
BAI_C95 = 11.0
#: defaults for what the data cannot tell (used only without a base scenario); each is an assumption
ASSUMED = {
    "lpr_floor": 0.015,
    "fiscal_land_share": 0.30,
    "fiscal_land_beta": 1.5,
    "relending_nonrenewal_prob": 0.05,
    "occupancy_reversion": 1.0,
    "occupancy_vol_annual": 0.05,
    "absorption_reversion": 2.0,
    "absorption_vol_annual": 0.30,
    "rent_drift_annual": 0.005,
    "rent_vol_annual": 0.04,
    "lpr_initial": 0.035,
    "lpr_mean": 0.033,
    "lpr_reversion": 0.3,
    "lpr_vol_annual": 0.004,
    "cpi_drift_annual": 0.015,
    "cpi_vol_annual": 0.01,
    "fiscal_growth_annual": 0.03,
    "fiscal_vol_annual": 0.05,
}
#: the field bounds of :class:`~baozhang_finance.model.scenario.Market` an estimate is clipped to (stated)
BOUNDS = {
    "price_drift_annual": (-0.5, 0.5), "decline_drift_annual": (-0.5, 0.5), "rent_drift_annual": (-0.5, 0.5),
    "price_vol_annual": (0, 1), "rent_vol_annual": (0, 1), "lpr_initial": (0, 0.2), "lpr_mean": (0, 0.2),
    "lpr_reversion": (0, 5), "lpr_vol_annual": (0, 0.1), "cpi_drift_annual": (-0.1, 0.3), "cpi_vol_annual": (0, 0.2),
    "occupancy_reversion": (0, 12), "occupancy_vol_annual": (0, 1), "absorption_reversion": (0, 12),
    "absorption_vol_annual": (0, 3), "fiscal_growth_annual": (-0.3, 0.3), "fiscal_vol_annual": (0, 1),
    "decline_years": (0, 30),
}


@dataclass
class Estimate:
    """One parameter: value, standard error (None = not estimated), how it was obtained."""

    value: float
    se: float | None
    how: str
    n: int = 0


@dataclass
class Calibration:
    """The estimated market block, with SEs, diagnostics and the data window."""

    city: str | None
    source: str
    window: tuple[str, str]
    params: dict[str, Estimate]
    correlation: np.ndarray
    correlation_se: np.ndarray  # NaN-free: 0 where not estimated (see correlation_n)
    correlation_n: np.ndarray  # overlapping months of each pair (0 = not estimated, set to 0)
    break_info: dict | None
    residuals: dict[str, pd.Series] = field(default_factory=dict)  # standardised-by-nothing innovations
    fitted: dict[str, dict] = field(default_factory=dict)  # per driver: data vs fitted moments
    notes: list[str] = field(default_factory=list)

    def market_dict(self) -> dict:
        """The ``[market]`` fields as a plain dict (what a scenario's market table would hold)."""
        out = {k: float(e.value) for k, e in self.params.items()}
        out["correlation"] = [[float(x) for x in row] for row in self.correlation]
        return out

    def standard_errors(self) -> dict[str, float]:
        return {k: float(e.se) for k, e in self.params.items() if e.se is not None and e.se > 0}


# ------------------------------------------------------------------------------------------ estimators
def log_changes(s: pd.Series) -> pd.Series:
    """One-month log changes of a level series; a change across a missing month is dropped."""
    import pandas as pd
    s = s.sort_index()
    full = s.reindex(pd.period_range(s.index.min(), s.index.max(), freq=s.index.freq))
    return np.log(full).diff().dropna()


def _hac_lags(n: int) -> int:
    return max(1, int(4 * (n / 100.0) ** (2.0 / 9.0)))


def lognormal_fit(x: pd.Series, periods_per_year: int = 12, name: str = "series") -> dict:
    """Drift μ and volatility σ (annual) of ``Δln X`` under ``x = μ/m − σ²/(2m) + σ/√m ε`` (m periods a year).

    ``μ̂ = m x̄ + σ̂²/2``, ``σ̂ = √m s``; SE(μ̂)² = m² SE_HAC(x̄)² + σ̂⁴/(2n), SE(σ̂) = σ̂/√(2(n−1)).
    """
    import pandas as pd
    import statsmodels.api as sm  # heavy: imported where used (baozhang --help stays fast)

    n = len(x)
    m = periods_per_year
    res = sm.OLS(x.to_numpy(), np.ones((n, 1))).fit(cov_type="HAC", cov_kwds={"maxlags": _hac_lags(n)})
    s = float(np.std(res.resid, ddof=1))
    if not s > 0:
        raise CalibrationError(f"{name}: the series is constant over its window (volatility 0): cannot estimate")
    sigma = math.sqrt(m) * s
    mu = m * float(res.params[0]) + 0.5 * sigma**2
    se_mu = math.sqrt((m * float(res.bse[0])) ** 2 + sigma**4 / (2 * n))
    se_sigma = sigma / math.sqrt(2 * (n - 1))
    return {"mu": mu, "se_mu": se_mu, "sigma": sigma, "se_sigma": se_sigma, "n": n,
            "resid": pd.Series(res.resid, index=x.index), "mean": float(x.mean()), "sd": s}


def find_break(x: pd.Series, trim: float = 0.15) -> dict:
    """One break in the mean of ``x`` by least squares (sup-F); both regime means with HAC SEs.

    ``k̂ = argmin_k SSR(k)``, ``F(k) = (SSR₀ − SSR(k)) / (SSR(k)/(n − 2))``, significant when
    ``sup F > 8.85`` (Andrews 1993, 5 %). The 95 % interval of the date is ``k̂ ± (⌊11 σ̂²/δ̂²⌋ + 1)`` months
    (Bai 1997), δ̂ the shift of the monthly mean.
    """
    import pandas as pd
    import statsmodels.api as sm

    v = x.to_numpy()
    n = len(v)
    lo, hi = max(2, int(trim * n)), min(n - 2, int((1 - trim) * n))
    c = np.concatenate([[0.0], np.cumsum(v)])
    c2 = np.concatenate([[0.0], np.cumsum(v**2)])
    k = np.arange(lo, hi + 1)
    ssr = (c2[k] - c[k] ** 2 / k) + ((c2[n] - c2[k]) - (c[n] - c[k]) ** 2 / (n - k))
    ssr0 = c2[n] - c[n] ** 2 / n
    f = (ssr0 - ssr) / (ssr / (n - 2))
    j = int(np.argmax(f))
    kb = int(k[j])
    X = np.column_stack([np.arange(n) < kb, np.arange(n) >= kb]).astype(float)
    res = sm.OLS(v, X).fit(cov_type="HAC", cov_kwds={"maxlags": _hac_lags(n)})
    delta = float(res.params[1] - res.params[0])
    s2 = float(np.sum(res.resid**2) / (n - 2))
    half = int(math.floor(BAI_C95 * s2 / delta**2)) + 1 if delta != 0 else n
    return {"k": kb, "date": x.index[kb], "sup_f": float(f[j]), "significant": bool(f[j] > SUP_F_CRIT_5PCT),
            "means": (float(res.params[0]), float(res.params[1])), "se_means": (float(res.bse[0]), float(res.bse[1])),
            "resid": pd.Series(res.resid, index=x.index), "sd": math.sqrt(s2), "ci_months": half,
            "ci": (x.index[max(kb - half, 0)], x.index[min(kb + half, n - 1)]), "n": n,
            "f_path": pd.Series(f, index=x.index[k])}


def ar1_fit(y: pd.Series, name: str = "series", bias_correct: bool = True) -> dict:
    """Vasicek / OU on monthly data: ``y_{t+1} = a + b y_t + e``, ``κ = 12(1 − b)``, ``θ = a/(1 − b)``, ``σ = √12 s``.

    OLS on the pairs of consecutive observed months (statsmodels), Kendall's bias correction of ``b``
    (``b + (1 + 3b)/n``); delta-method SEs: SE(κ) = 12 SE(b), SE(θ)² = gᵀ Σ g with
    ``g = (1/(1 − b), a/(1 − b)²)``, SE(σ) = σ/√(2(n − 2)).
    """
    import pandas as pd
    import statsmodels.api as sm

    y = y.sort_index()
    full = y.reindex(pd.period_range(y.index.min(), y.index.max(), freq="M"))
    pair = pd.DataFrame({"y1": full.shift(-1), "y0": full}).dropna()
    n = len(pair)
    if n < MIN_MONTHS - 1:
        raise CalibrationError(f"{name}: only {n} consecutive month pairs (need {MIN_MONTHS - 1})")
    if float(np.std(pair["y0"])) == 0.0:
        raise CalibrationError(f"{name}: the series is constant over its window: cannot estimate its dynamics")
    res = sm.OLS(pair["y1"].to_numpy(), sm.add_constant(pair["y0"].to_numpy())).fit()
    a, b = float(res.params[0]), float(res.params[1])
    cov = np.asarray(res.cov_params())
    s = float(np.sqrt(res.scale))
    if not s > 0:
        raise CalibrationError(f"{name}: the series has no innovations (a deterministic path): cannot estimate")
    b_raw = b
    if bias_correct:
        b = min(b + (1 + 3 * b) / n, 1.0)
        a = float(pair["y1"].mean() - b * pair["y0"].mean())
    kappa = 12.0 * (1.0 - b)
    se_kappa = 12.0 * math.sqrt(cov[1, 1])
    if 1.0 - b > 1e-9:
        theta = a / (1.0 - b)
        g = np.array([1.0 / (1.0 - b), a / (1.0 - b) ** 2])
        se_theta = float(math.sqrt(max(g @ cov @ g, 0.0)))
    else:
        theta, se_theta = float(full.dropna().iloc[-1]), None
    sigma = math.sqrt(12.0) * s
    resid = pd.Series(res.resid, index=pair.index + 1)
    return {"kappa": kappa, "se_kappa": se_kappa, "theta": theta, "se_theta": se_theta, "sigma": sigma,
            "se_sigma": sigma / math.sqrt(2 * (n - 2)), "b": b, "b_raw": b_raw, "n": n, "resid": resid,
            "last": float(full.dropna().iloc[-1]), "mean": float(y.mean())}


def nearest_correlation(c: np.ndarray) -> np.ndarray:
    """The nearest valid correlation matrix (Higham 2002) via statsmodels, made exactly symmetric, unit-diagonal."""
    from statsmodels.stats.correlation_tools import corr_nearest

    lam = np.linalg.eigvalsh(c)
    if lam.min() >= 1e-10:
        return c
    out = corr_nearest(c, threshold=1e-10, n_fact=200)
    out = 0.5 * (out + out.T)
    np.fill_diagonal(out, 1.0)
    return out


# ------------------------------------------------------------------------------------------ the block
def _months(s: pd.Series) -> int:
    return int(s.index.max().ordinal - s.index.min().ordinal + 1)


def _need(data: MarketData, name: str) -> None:
    s = data.monthly[name]
    if len(s) < MIN_MONTHS:
        raise CalibrationError(f"{data.source}: {name}: only {len(s)} months of data (need at least {MIN_MONTHS})",
                               source=data.source)


def _clip(params: dict[str, Estimate], notes: list[str]) -> None:
    for k, e in params.items():
        lo, hi = BOUNDS.get(k, (-math.inf, math.inf))
        if not lo <= e.value <= hi:
            notes.append(f"{k}: estimate {e.value:.4g} outside the field's range [{lo}, {hi}], clipped")
            e.value = float(min(max(e.value, lo), hi))
            e.how += "; clipped to the field range"


def calibrate(data: MarketData, base: dict | None = None, decline_years: float | None = None) -> Calibration:
    """Estimate the market block from :class:`MarketData`.

    Parameters
    ----------
    data : the city's series (house_price required; the others optional).
    base : a scenario's ``[market]`` table (dict) for the fields the data cannot give (land share and beta,
        relending non-renewal, the LPR floor, drivers without data); without it, :data:`ASSUMED` is used.
    decline_years : length of the decline regime from the programme start. The data give the decline's drift and
        its start date, not how long it will last: the default is the decline's observed length so far (as long
        again as it has lasted — an assumption, stated in the notes).
    """
    src = data.source
    notes = list(data.notes)
    fallback = dict(ASSUMED)
    if base:
        fallback.update({k: v for k, v in base.items() if k in ASSUMED})
    from_what = "base scenario" if base else "built-in assumption"
    P: dict[str, Estimate] = {}
    resid: dict = {}  # name → pandas Series of residuals
    fitted: dict[str, dict] = {}
    if "house_price" not in data.monthly:
        raise CalibrationError(f"{src}: no house_price series (monthly): it is the one series a calibration needs",
                               source=src)
    for name, s in data.monthly.items():
        _need(data, name)
        if float(s.std()) == 0.0:
            raise CalibrationError(f"{src}: {name}: the series is constant ({s.iloc[0]}) over {len(s)} months: "
                                   "cannot estimate; drop it to use the assumption", source=src)

    fit = _Fit(P, resid, fitted, notes, src, fallback, from_what)
    brk = _fit_house_price(fit, data, decline_years)
    _fit_rent_cpi(fit, data)
    _fit_lpr(fit, data)
    _fit_occupancy_absorption(fit, data)
    _fit_fiscal(fit, data)
    P["relending_nonrenewal_prob"] = Estimate(fallback["relending_nonrenewal_prob"], None,
                                              f"a policy event, not in the data: {from_what}")
    _clip(P, notes)

    corr, corr_se, corr_n = _correlation(resid, data, notes)
    order = ["price_drift_annual", "price_vol_annual", "decline_years", "decline_drift_annual", "rent_drift_annual",
             "rent_vol_annual", "lpr_initial", "lpr_mean", "lpr_reversion", "lpr_vol_annual", "lpr_floor",
             "cpi_drift_annual", "cpi_vol_annual", "occupancy_reversion", "occupancy_vol_annual",
             "absorption_reversion", "absorption_vol_annual", "fiscal_growth_annual", "fiscal_vol_annual",
             "fiscal_land_share", "fiscal_land_beta", "relending_nonrenewal_prob"]
    params = {k: P[k] for k in order}
    for k, e in params.items():
        if not (math.isfinite(e.value) and (e.se is None or math.isfinite(e.se))):  # pragma: no cover - guarded above
            raise CalibrationError(f"{src}: {k}: the estimate is not finite ({e.value}, SE {e.se})", source=src)
    return Calibration(city=data.city, source=src, window=data.window(), params=params, correlation=corr,
                       correlation_se=corr_se, correlation_n=corr_n, break_info=brk, residuals=resid,
                       fitted=fitted, notes=notes)


@dataclass
class _Fit:
    """What the fits of :func:`calibrate` fill in: estimates, residuals, fit diagnostics and notes, and what they
    fall back on."""

    P: dict
    resid: dict
    fitted: dict
    notes: list
    src: str
    fallback: dict
    from_what: str


def _fit_house_price(fit: _Fit, data: MarketData, decline_years: float | None) -> dict | None:
    """House prices: a break in the drift (sup-F), the decline regime; else one log-normal fit."""
    P, resid, fitted, notes, src = fit.P, fit.resid, fit.fitted, fit.notes, fit.src
    x = log_changes(data.monthly["house_price"])
    br = find_break(x)
    brk = None
    if br["significant"]:
        m0, m1 = br["means"]
        se0, se1 = br["se_means"]
        sig = math.sqrt(12.0) * br["sd"]
        n0, n1 = br["k"], br["n"] - br["k"]
        mu0, mu1 = 12 * m0 + 0.5 * sig**2, 12 * m1 + 0.5 * sig**2
        se_sig2 = sig**2 / math.sqrt(2 * br["n"])
        se_mu0, se_mu1 = math.hypot(12 * se0, se_sig2), math.hypot(12 * se1, se_sig2)
        P["price_vol_annual"] = Estimate(sig, sig / math.sqrt(2 * (br["n"] - 2)), "√12 · sd of Δln H about the regime means", br["n"])
        brk = {"date": str(br["date"]), "ci": (str(br["ci"][0]), str(br["ci"][1])), "sup_f": br["sup_f"],
               "mu_before": mu0, "se_before": se_mu0, "mu_after": mu1, "se_after": se_mu1,
               "n_before": n0, "n_after": n1}
        if mu1 < 0 and mu1 < mu0:
            observed = n1 / 12.0
            dy = observed if decline_years is None else float(decline_years)
            P["decline_drift_annual"] = Estimate(mu1, se_mu1, f"drift of Δln H after the break ({br['date']})", n1)
            P["price_drift_annual"] = Estimate(mu0, se_mu0, f"drift before the break ({br['date']}); the recovery drift "
                                               "is not identified by the data: review", n0)
            P["decline_years"] = Estimate(round(dy * 4) / 4, None,
                                          ("observed length of the decline so far, as long again (assumption)"
                                           if decline_years is None else "given (--decline-years)"))
            notes.append(f"house_price: decline regime from {br['date']} (95 % interval {brk['ci'][0]}–{brk['ci'][1]}, "
                         f"sup-F {br['sup_f']:.1f}); price_drift_annual after it is the pre-break drift (review)")
        else:
            P["price_drift_annual"] = Estimate(mu1, se_mu1, f"drift of Δln H since the break ({br['date']})", n1)
            P["decline_years"] = Estimate(0.0, None, "no decline in the current regime")
            P["decline_drift_annual"] = Estimate(0.0, None, "no decline regime")
            notes.append(f"house_price: break at {br['date']} (sup-F {br['sup_f']:.1f}); the current regime is not a "
                         "decline, its drift is used")
        resid["house_price"] = br["resid"]
        fitted["house_price"] = {"data_mean_m": float(x.mean()), "data_sd_m": float(x.std(ddof=1)),
                                 "fit_sd_m": br["sd"], "regime_means_m": br["means"]}
    else:
        f = lognormal_fit(x, name=f"{src}: house_price")
        P["price_drift_annual"] = Estimate(f["mu"], f["se_mu"], "12 x̄ + σ²/2 of Δln H (no significant break)", f["n"])
        P["price_vol_annual"] = Estimate(f["sigma"], f["se_sigma"], "√12 · sd of Δln H", f["n"])
        P["decline_years"] = Estimate(0.0, None, f"no significant break (sup-F {br['sup_f']:.1f} ≤ {SUP_F_CRIT_5PCT})")
        P["decline_drift_annual"] = Estimate(0.0, None, "no decline regime")
        resid["house_price"] = f["resid"]
        fitted["house_price"] = {"data_mean_m": f["mean"], "data_sd_m": f["sd"], "fit_sd_m": f["sd"]}
    return brk


def _fit_rent_cpi(fit: _Fit, data: MarketData) -> None:
    """Rent and CPI: log-normal (drift 12 x̄ + σ²/2, vol √12 sd); without data the fallback."""
    P, resid, fitted, src, fallback, from_what = fit.P, fit.resid, fit.fitted, fit.src, fit.fallback, fit.from_what
    for name, drift, vol in (("rent", "rent_drift_annual", "rent_vol_annual"), ("cpi", "cpi_drift_annual", "cpi_vol_annual")):
        if name in data.monthly:
            xx = log_changes(data.monthly[name])
            f = lognormal_fit(xx, name=f"{src}: {name}")
            P[drift] = Estimate(f["mu"], f["se_mu"], f"12 x̄ + σ²/2 of Δln {name}", f["n"])
            P[vol] = Estimate(f["sigma"], f["se_sigma"], f"√12 · sd of Δln {name}", f["n"])
            resid[name] = f["resid"]
            fitted[name] = {"data_mean_m": f["mean"], "data_sd_m": f["sd"], "fit_sd_m": f["sd"]}
        else:
            for k in (drift, vol):
                P[k] = Estimate(fallback[k], None, f"no {name} data: {from_what}")


def _fit_lpr(fit: _Fit, data: MarketData) -> None:
    """LPR: Vasicek by an AR(1) on the monthly level (Kendall-corrected); κ = 0 when no reversion."""
    P, resid, fitted, notes = fit.P, fit.resid, fit.fitted, fit.notes
    src, fallback, from_what = fit.src, fit.fallback, fit.from_what
    if "lpr" in data.monthly:
        f = ar1_fit(data.monthly["lpr"], name=f"{src}: lpr")
        P["lpr_initial"] = Estimate(f["last"], None, "last observed LPR", 1)
        if f["kappa"] <= 0:
            P["lpr_reversion"] = Estimate(0.0, f["se_kappa"], "no mean reversion found (b ≥ 1): κ = 0", f["n"])
            P["lpr_mean"] = Estimate(f["last"], None, "κ = 0: the mean is not identified; last value used", f["n"])
            notes.append("lpr: no mean reversion in the data (unit root); lpr_reversion = 0, lpr_mean = last value")
        else:
            P["lpr_reversion"] = Estimate(f["kappa"], f["se_kappa"], "12(1 − b), AR(1) by OLS, Kendall-corrected", f["n"])
            P["lpr_mean"] = Estimate(f["theta"], f["se_theta"], "a/(1 − b)", f["n"])
        P["lpr_vol_annual"] = Estimate(f["sigma"], f["se_sigma"], "√12 · sd of the AR(1) residuals", f["n"])
        resid["lpr"] = f["resid"]
        fitted["lpr"] = {"data_mean": f["mean"], "b": f["b"], "b_raw": f["b_raw"]}
    else:
        for k in ("lpr_initial", "lpr_mean", "lpr_reversion", "lpr_vol_annual"):
            P[k] = Estimate(fallback[k], None, f"no lpr data: {from_what}")
    P["lpr_floor"] = Estimate(fallback["lpr_floor"], None, f"not in the data: {from_what}")


def _fit_occupancy_absorption(fit: _Fit, data: MarketData) -> None:
    """Occupancy and absorption (in logs): Ornstein–Uhlenbeck by AR(1)."""
    P, resid, fitted, notes = fit.P, fit.resid, fit.fitted, fit.notes
    src, fallback, from_what = fit.src, fit.fallback, fit.from_what
    for name, kap, vol, transform in (("occupancy", "occupancy_reversion", "occupancy_vol_annual", None),
                                      ("absorption", "absorption_reversion", "absorption_vol_annual", np.log)):
        if name in data.monthly:
            series = data.monthly[name]
            f = ar1_fit(transform(series) if transform else series, name=f"{src}: {name}")
            P[kap] = Estimate(max(f["kappa"], 0.0), f["se_kappa"], "12(1 − b), AR(1) by OLS, Kendall-corrected", f["n"])
            P[vol] = Estimate(f["sigma"], f["se_sigma"], "√12 · sd of the AR(1) residuals", f["n"])
            resid[name] = f["resid"]
            fitted[name] = {"data_mean": f["mean"], "b": f["b"], "b_raw": f["b_raw"]}
            if name == "occupancy":
                notes.append(f"occupancy: mean {f['mean']:.3f} over the window (projects.rental.stabilised_occupancy "
                             "is a project field: not written)")
        else:
            P[kap] = Estimate(fallback[kap], None, f"no {name} data: {from_what}")
            P[vol] = Estimate(fallback[vol], None, f"no {name} data: {from_what}")


def _fit_fiscal(fit: _Fit, data: MarketData) -> None:
    """Fiscal revenue F = F₀((1 − s) G + s H^β): G log-normal, recovered with s and β assumed."""
    import pandas as pd
    P, resid, fitted, notes = fit.P, fit.resid, fit.fitted, fit.notes
    src, fallback, from_what = fit.src, fit.fallback, fit.from_what
    s_land, beta = float(fallback["fiscal_land_share"]), float(fallback["fiscal_land_beta"])
    P["fiscal_land_share"] = Estimate(s_land, None, f"not identified by total revenue alone: {from_what}")
    P["fiscal_land_beta"] = Estimate(beta, None, f"not identified by total revenue alone: {from_what}")
    if "fiscal" in data.monthly or "fiscal" in data.yearly:
        yearly = "fiscal" not in data.monthly
        F = data.yearly["fiscal"] if yearly else data.monthly["fiscal"]
        h = data.monthly["house_price"]
        if yearly:
            hy = h.groupby(h.index.year).mean()
            hy.index = pd.PeriodIndex([pd.Period(str(y), "Y") for y in hy.index], freq="Y")
            h = hy
        common = F.index.intersection(h.index)
        if len(common) < (5 if yearly else MIN_MONTHS):
            raise CalibrationError(f"{src}: fiscal: only {len(common)} {'years' if yearly else 'months'} overlap the "
                                   f"house-price series (need {5 if yearly else MIN_MONTHS})", source=src)
        Fc, hc = F.loc[common], h.loc[common]
        g = (Fc / Fc.iloc[0] - s_land * (hc / hc.iloc[0]) ** beta) / (1.0 - s_land) if s_land < 1 else None
        if g is None or (g <= 0).any():
            raise CalibrationError(f"{src}: fiscal: non-land revenue (F/F₀ − s·H^β)/(1 − s) is ≤ 0 with land share "
                                   f"{s_land} and beta {beta}: revise them in the base scenario", source=src)
        full = g.reindex(pd.period_range(g.index.min(), g.index.max(), freq=g.index.freq))
        xg = np.log(full).diff().dropna()
        f = lognormal_fit(xg, periods_per_year=1 if yearly else 12, name=f"{src}: fiscal")
        P["fiscal_growth_annual"] = Estimate(f["mu"], f["se_mu"], "drift of Δln G, G = (F/F₀ − s H^β)/(1 − s)"
                                             + (" (yearly data)" if yearly else ""), f["n"])
        P["fiscal_vol_annual"] = Estimate(f["sigma"], f["se_sigma"], "sd of Δln G" + (" (yearly)" if yearly else " × √12"), f["n"])
        resid["fiscal"] = f["resid"]
        fitted["fiscal"] = {"data_mean": f["mean"], "data_sd": f["sd"], "yearly": yearly}
        notes.append(f"fiscal: latest {'year' if yearly else 'month'} {F.index.max()} revenue {F.iloc[-1]:.6g} "
                     "(programme.fiscal_revenue_yuan is a programme field: not written)")
    else:
        for k in ("fiscal_growth_annual", "fiscal_vol_annual"):
            P[k] = Estimate(fallback[k], None, f"no fiscal data: {from_what}")


def _correlation(resid: dict[str, pd.Series], data: MarketData, notes: list[str]):
    """Pairwise correlation of innovations over the months both have; yearly fiscal pairs use yearly sums."""
    import pandas as pd
    k = len(DRIVERS)
    c, se, nn = np.eye(k), np.zeros((k, k)), np.zeros((k, k), dtype=int)
    yearly_fiscal = "fiscal" in resid and resid["fiscal"].index.freqstr.startswith("Y")
    for i in range(k):
        for j in range(i + 1, k):
            a, b = DRIVERS[i], DRIVERS[j]
            if a not in resid or b not in resid:
                continue
            ra, rb = resid[a], resid[b]
            if yearly_fiscal and "fiscal" in (a, b):
                other = ra if b == "fiscal" else rb
                fy = resid["fiscal"]
                counts = other.groupby(other.index.year).count()
                sums = other.groupby(other.index.year).sum()[counts == 12]
                sums.index = pd.PeriodIndex([pd.Period(str(y), "Y") for y in sums.index], freq="Y")
                ra, rb = (sums, fy) if b == "fiscal" else (fy, sums)
            both = pd.concat([ra, rb], axis=1, join="inner").dropna()
            n = len(both)
            if n < 8 or both.iloc[:, 0].std() == 0 or both.iloc[:, 1].std() == 0:
                notes.append(f"correlation {a}–{b}: only {n} common periods: set to 0")
                continue
            r = float(np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1])
            c[i, j] = c[j, i] = r
            se[i, j] = se[j, i] = (1 - r * r) / math.sqrt(max(n - 3, 1))
            nn[i, j] = nn[j, i] = n
    fixed = nearest_correlation(c)
    moved = float(np.max(np.abs(fixed - c)))
    if moved > 0:
        notes.append(f"correlation: pairwise matrix not positive semi-definite; nearest correlation matrix used "
                     f"(largest change {moved:.3f})")
    missing = [d for d in DRIVERS if d not in resid]
    if missing:
        notes.append(f"correlation: no data for {', '.join(missing)}: their innovations are independent (0)")
    return _round_psd(fixed), se, nn


def _round_psd(c: np.ndarray, digits: int = 4) -> np.ndarray:
    """Round to ``digits`` decimals for the file, shrinking towards I just enough that the rounded matrix stays PSD."""
    for w in (0.0, 1e-4, 1e-3, 1e-2, 0.05):
        r = np.round((1 - w) * c + w * np.eye(len(c)), digits)
        if np.linalg.eigvalsh(r).min() >= -1e-12:
            return r
    return np.eye(len(c))  # pragma: no cover - shrinking by 5 % always suffices for a PSD input
