"""What a block is worth to a lender or a buyer, per project and path: income value and market value.

* trailing-12-month NOI (net operating income) ``NOI12 = Σ_{last 12 months} (rent + rent subsidy − rent-linked
  costs − running costs)``, kept in a 12-month ring (:class:`TrailingNOI`);
* income value of a rental block ``V = NOI12 ÷ k``, k the cap rate (:func:`cap_rate`);
* market value of a sale block ``V = units held × area × appraisal × H_t`` (H the house-price index).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the lowest cap rate an income value uses (a floor against a cap rate driven to 0 by a low LPR)
MIN_CAP_RATE = 0.005


@dataclass
class TrailingNOI:
    """Running 12-month sum of NOI per project, ``(P, n)``, with its ring ``(12, P, n)``."""

    ring: np.ndarray
    total: np.ndarray

    @classmethod
    def start(cls, P: int, n: int) -> "TrailingNOI":
        return cls(ring=np.zeros((12, P, n)), total=np.zeros((P, n)))

    def add(self, t: int, noi: np.ndarray) -> None:
        """``NOI12 += NOI_t − NOI_{t−12}``."""
        r = t % 12
        self.total += noi - self.ring[r]
        self.ring[r] = noi


def month_noi(m) -> np.ndarray:
    """NOI of the month per project: rent + rent subsidy − rent-linked costs − running costs."""
    return m.rent + m.rent_sub - m.rent_costs - m.running


def cap_rate(cures_cfg, lpr, lpr0: float):
    """Cap rate of the income value, per path: with [cures.disposal]
    ``k = max(cap_rate + β (LPR_t − LPR_0), 0.5 %)`` (the disposal's own cap rate, moving with rates); without it,
    the extension's constant ``cap_rate``."""
    d = cures_cfg.disposal
    if d is not None:
        return np.maximum(d.cap_rate + d.cap_rate_lpr_beta * (lpr - lpr0), MIN_CAP_RATE)
    return np.full(np.shape(lpr), cures_cfg.extension.cap_rate)


def block_value(c, held, noi12, cap, hpi) -> np.ndarray:
    """Value per project ``(P, n)``: rental ``NOI12 ÷ k``; sale ``held × area × appraisal × H``."""
    income = noi12 / cap
    market = c.collateral_unit[:, None] * held * hpi
    return np.where(c.is_rental[:, None], income, market)
