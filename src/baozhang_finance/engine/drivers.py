"""Market drivers, stepped one month at a time and vectorised over paths.

State per path (all arrays of shape ``(n,)``):

* house-price index ``H``: log-normal, ``ln H_{t+1} = ln H_t + μ_t/12 − σ²/24 + σ/√12 · z₀`` so that
  ``E[H_t] = exp(Σ μ_s/12)`` — the drift μ is the expected growth, with an initial decline regime
  (``decline_years`` at ``decline_drift_annual``) for the northern cities the seeds describe;
* market-rent index ``R``: log-normal in the same form (z₁);
* 5-year LPR ``r``: Vasicek (mean-reverting), ``r_{t+1} = r_t + κ/12 (θ − r_t) + σ/√12 · z₂``, reported floored;
* CPI index: log-normal (z₃);
* occupancy deviation ``d``: Ornstein–Uhlenbeck around 0 (z₄); the engine uses clip(stabilised + d, 0, 1);
* absorption shock ``a``: OU in logs (z₅); the absorption multiplier is ``exp(a) · H^elasticity``;
* fiscal revenue ``F = F₀ · ((1 − s) G + s H^β)``, ``G`` log-normal (z₆): land revenue co-moves with prices;
* relending renewal: at each rollover month the PBoC tool is not renewed with probability ``p``; once stopped
  it stays stopped. On an expected path (no shocks: ``--deterministic``, a plan run without a generator) the
  state is its expectation, the probability that relending is still on, ``S_t = (1 − p)^{k(t)}`` after ``k(t)``
  rollovers (``relending_p``; decision 73 — before, the expected path always renewed).

The innovations ``z = C^{1/2} ε`` are correlated by the scenario's correlation matrix (order
:data:`baozhang_finance.scenario.DRIVERS`). Month 0 is the start (all indices 1); a step is taken before each
later month, so ``H_t`` has ``t`` steps. Stress overlays add deterministic log shifts (prices, rents) and
additive shifts (rate, occupancy) on top of the stochastic state. Randomness only comes from the shock source
(:class:`baozhang_finance.engine.shocks.Shocks`) handed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baozhang_finance.engine.controls import MarketControls
from baozhang_finance.engine.plan import MarketPlan
from baozhang_finance.engine.shocks import N_INNOVATIONS, Shocks  # noqa: F401  (N_INNOVATIONS re-exported)


@dataclass
class MarketState:
    """Market state of one month for ``n`` paths."""

    hpi: np.ndarray
    rent: np.ndarray
    lpr: np.ndarray
    cpi: np.ndarray
    occ_dev: np.ndarray
    absorption: np.ndarray
    fiscal_m: np.ndarray  # fiscal revenue of this month, yuan
    relending_on: np.ndarray  # bool
    fiscal_land_m: np.ndarray | None = None  # the land (government-fund) part of fiscal_m, yuan
    relending_p: np.ndarray | None = None  # expected path: P(relending still renewed) (n,), None with shocks


class Drivers:
    """Correlated market processes for ``n`` paths; call :meth:`step` once per month, in order."""

    def __init__(self, mp: MarketPlan, n: int, shocks):
        """``shocks``: a :class:`Shocks` source (or, for callers of old, a ``Generator`` or None)."""
        if shocks is None or isinstance(shocks, np.random.Generator):
            shocks = Shocks.for_plan(mp, n, shocks)
        self.mp = mp
        self.n = n
        self.shocks = shocks
        self.log_h = np.zeros(n)
        self.log_r = np.zeros(n)
        self.lpr = np.full(n, mp.lpr0)
        self.log_c = np.zeros(n)
        self.occ = np.zeros(n)
        self.abs = np.zeros(n)
        self.log_g = np.zeros(n)
        self.relending_on = np.ones(n, dtype=bool)
        self.relending_p = None  # an expected path's probability that relending is still on (after a rollover)
        self._rollovers = frozenset(int(m) for m in mp.relending_event_months)
        vols = np.array([mp.price_vol_m, mp.rent_vol_m, mp.lpr_vol_m, mp.cpi_vol_m, mp.occ_vol_m, mp.abs_vol_m,
                         mp.fiscal_vol_m])
        # scale the correlation factor by the vols once: z @ (chol * vols[:, None]).T gives vol-scaled shocks
        self._scaled_chol_t = (mp.chol * vols[:, None]).T.copy()
        self._ito = 0.5 * vols**2
        # the drivers' deviations from their expected paths, when the run asks for control variates
        self.controls = MarketControls(mp, n) if mp.control_variates and not mp.deterministic else None

    def step(self, t: int) -> MarketState:
        """Advance to month ``t`` with the shock source's ``(ε_t, u_t)`` and return the market state."""
        eps, u = self.shocks.month(t)
        return self.advance(t, eps, u)

    def advance(self, t: int, eps, u) -> MarketState:
        """Advance to month ``t`` with the month's shocks ``(ε_t, u_t)`` (:meth:`step`)."""
        mp = self.mp
        if t > 0:
            mu = mp.price_drift_m[t - 1]
            if eps is not None:
                shocks = eps @ self._scaled_chol_t
                ito = self._ito
                self.log_h += mu - ito[0] + shocks[:, 0]
                self.log_r += mp.rent_drift_m[t - 1] - ito[1] + shocks[:, 1]
                self.lpr += mp.lpr_kappa_m * (mp.lpr_mean - self.lpr) + shocks[:, 2]
                self.log_c += mp.cpi_drift_m - ito[3] + shocks[:, 3]
                self.occ += -mp.occ_kappa_m * self.occ + shocks[:, 4]
                self.abs += -mp.abs_kappa_m * self.abs + shocks[:, 5]
                self.log_g += mp.fiscal_drift_m - ito[6] + shocks[:, 6]
            else:
                self.log_h += mu
                self.log_r += mp.rent_drift_m[t - 1]
                self.lpr += mp.lpr_kappa_m * (mp.lpr_mean - self.lpr)
                self.log_c += mp.cpi_drift_m
                self.occ += -mp.occ_kappa_m * self.occ
                self.abs += -mp.abs_kappa_m * self.abs
                self.log_g += mp.fiscal_drift_m
            if u is not None:
                self.relending_on &= u >= mp.relending_nonrenewal_prob
            else:
                self.expected_renewal(t)
            if self.controls is not None:
                self.controls.step(shocks if eps is not None else np.zeros((self.n, N_INNOVATIONS)), u)
        if t >= mp.stress_relending_stop:
            self.relending_on[:] = False
        hpi = np.exp(self.log_h + mp.stress_log_price[t])
        return self.state(hpi, np.exp(self.log_r + mp.stress_log_rent[t]),
                          np.maximum(self.lpr + mp.stress_rate[t], mp.lpr_floor), self.occ + mp.stress_occ[t])

    def expected_renewal(self, t: int) -> None:
        """An expected path's relending at a rollover month: ``S_t = S_{t−1} · (1 − p)`` (``relending_p``; none while
        ``p`` = 0, so a plan that never fails to renew keeps its numbers)."""
        mp = self.mp
        if mp.relending_nonrenewal_prob > 0 and t in self._rollovers:
            prev = self.relending_p if self.relending_p is not None else np.ones(self.n)
            self.relending_p = prev * (1.0 - mp.relending_nonrenewal_prob)

    def state(self, hpi, rent, lpr, occ_dev) -> MarketState:
        """The month's market state from its price and rent indices, rate and occupancy deviation: CPI, absorption
        and fiscal revenue ``F₀ · ((1 − s) · G + s · H^β)`` (its land part ``F₀ · s · H^β``) from the state."""
        mp = self.mp
        h_beta = hpi**mp.fiscal_land_beta
        land = mp.fiscal0_m * mp.fiscal_land_share * h_beta
        fiscal = mp.fiscal0_m * ((1.0 - mp.fiscal_land_share) * np.exp(self.log_g) + mp.fiscal_land_share * h_beta)
        return MarketState(hpi=hpi, rent=rent, lpr=lpr, cpi=np.exp(self.log_c), occ_dev=occ_dev,
                           absorption=np.exp(self.abs), fiscal_m=fiscal, relending_on=self.relending_on,
                           fiscal_land_m=land, relending_p=self.relending_p)
