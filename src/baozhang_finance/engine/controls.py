"""Control variates of the market drivers: per-path quantities whose expectation is exactly zero.

With ``[simulation] control_variates = true`` (plain Monte Carlo only) the market step also keeps, per path, the
deviation of each driver's Gaussian state from its expected path — a linear function of the month's shocks, so
its expectation is exactly 0 whatever the correlations, volatilities or per-chunk parameter draws:

* log price, log rent, log CPI, log fiscal growth (random walks): ``δ_t = δ_{t−1} + z_t`` (the drift and the Itô
  term are deterministic, so ``ln X_t − E ln X_t = Σ_{s≤t} z_s``);
* LPR (Vasicek) and the occupancy and absorption states (Ornstein–Uhlenbeck, started at their mean path):
  ``δ_t = (1 − κ) δ_{t−1} + z_t``;
* relending renewal: ``1{renewed at every rollover so far} − (1 − p)^{k(t)}`` (k(t) rollovers up to month t; the
  uniforms are exact, so its mean is 0), before any stress overlay.

The controls of a path (:data:`CONTROL_NAMES`) are the averages of these deviations over months 1 … T − 1, and the
log price and log rent deviations at the last month. :mod:`baozhang_finance.measures.control` regresses each
headline quantity on them (Ȳ − β̂ᵀ C̄). They do not touch the simulation: every other number is the same bits.
"""

from __future__ import annotations

import numpy as np

#: the per-path control columns (``cv_<name>``), in order
CONTROL_NAMES = ("price", "rent", "lpr", "cpi", "occupancy", "absorption", "fiscal", "price_end", "rent_end",
                 "relending")


class MarketControls:
    """Running sums of the drivers' deviations from their expected paths, for ``n`` paths."""

    def __init__(self, mp, n: int):
        self.mp = mp
        self.dev = np.zeros((7, n))  # price, rent, lpr, cpi, occupancy, absorption, fiscal
        self.sums = np.zeros((7, n))
        self.renewed = np.ones(n)  # 1 while every rollover so far renewed
        self.renew_sum = np.zeros(n)
        self.p_renewed = 1.0  # (1 − p)^k(t)
        self.months = 0
        self._keep = np.array([1.0, 1.0, 1.0 - mp.lpr_kappa_m, 1.0, 1.0 - mp.occ_kappa_m, 1.0 - mp.abs_kappa_m, 1.0])

    def step(self, shocks: np.ndarray, u) -> None:
        """Month t ≥ 1: ``δ ← keep · δ + z`` per driver (``shocks``: the month's (n, 7) vol-scaled innovations);
        at a rollover (``u``: its uniforms) the renewal indicator and its expectation."""
        self.dev *= self._keep[:, None]
        self.dev += shocks.T
        self.sums += self.dev
        if u is not None:
            self.renewed *= u >= self.mp.relending_nonrenewal_prob
            self.p_renewed *= 1.0 - self.mp.relending_nonrenewal_prob
        self.renew_sum += self.renewed - self.p_renewed
        self.months += 1

    def values(self) -> np.ndarray:
        """The controls ``(n, K)`` in the order of :data:`CONTROL_NAMES` (zeros for a one-month horizon)."""
        k = max(self.months, 1)
        return np.column_stack([*(self.sums / k), self.dev[0], self.dev[1], self.renew_sum / k])
