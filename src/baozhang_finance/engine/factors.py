"""The factor shock source of a portfolio city (decision 47): common national and regional draws mixed into the
city's own standard normals, before the city's own driver correlation.

For city ``c`` (region ``r``), driver ``i`` and month ``t ≥ 1``:

.. math:: ε_{c,t,i} = a_{c,i} N_{t,i} + g_{c,i} R_{r,t,i} + \\sqrt{1 − a_{c,i}^2 − g_{c,i}^2}\\ η_{c,t,i}

* ``N_t, R_{1,t}, … R_{K−1,t}`` — the factor draws, an ``(n, K, 7)`` standard-normal array a month from
  :func:`factor_generator` ``(seed, chunk)`` — keyed by the seed and the chunk only, so path ``j`` of chunk ``i``
  sees the same factors in every city (every city of a portfolio shares the chunk size);
* ``η_{c,t}`` — the city's own ``(n, 7)`` normals: exactly the draws of its standalone :class:`Shocks`
  (``Shocks.for_plan`` on :func:`city_generator` ``(seed, c, chunk)``), relending and event uniforms included.

Each factor draw serves one driver only (``N_{t,i}`` enters driver ``i`` of every city and no other driver), so
within a city ``ε_{c,t}`` is still i.i.d. N(0, I): the city's ``market.correlation`` (Cholesky ``L_c``) then
correlates its drivers exactly as in its standalone run, and every city's marginal law — its P(call), its PV
distribution — is unchanged by the loadings. Across cities only the dependence moves:
``corr(ε_{c,t,i}, ε_{d,t,i}) = a_{c,i} a_{d,i} + g_{c,i} g_{d,i} 1[r_c = r_d]`` (``β_{cd,i}``), zero across drivers
and months, so the correlated innovations satisfy ``Cov(z_c, z_d) = L_c diag(β_cd) L_dᵀ``. With the driver first in
DRIVERS (house price, whose Cholesky row is ``e₀``) that is the house-price correlation ``β_{cd,0}`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baozhang_finance.engine.shocks import N_INNOVATIONS, Shocks

#: the spawn-key tag of the factor stream: SeedSequence(seed, spawn_key=(chunk, FACTOR_TAG))
FACTOR_TAG = 2
#: the spawn-key tag of the province's own revenue draws: SeedSequence(seed, spawn_key=(chunk, PROVINCE_TAG))
PROVINCE_TAG = 3
#: the driver whose factors move the province's revenue (DRIVERS order: house_price … fiscal)
FISCAL_DRIVER = 6


def city_generator(seed: int, city: int, chunk_index: int) -> np.random.Generator:
    """The own draws of city ``city`` in chunk ``chunk_index``: ``PCG64(SeedSequence(seed, spawn_key=(chunk,)))`` for
    city 0 — its standalone run's generator — and ``PCG64(SeedSequence([seed, city], spawn_key=(chunk,)))`` for
    city ≥ 1 (numpy zero-pads the entropy, so the second formula at city 0 is the first)."""
    entropy = seed if city == 0 else [seed, city]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=(chunk_index,))))


def factor_generator(seed: int, chunk_index: int) -> np.random.Generator:
    """The factor stream of chunk ``chunk_index``, common to every city: SeedSequence(seed, spawn_key=(chunk, 2))
    (the parameter stream of run/uncertainty.py is spawn_key (chunk, 1))."""
    ss = np.random.SeedSequence(seed, spawn_key=(chunk_index, FACTOR_TAG))
    return np.random.Generator(np.random.PCG64(ss))


@dataclass(frozen=True)
class CityLoadings:
    """A city's loadings ``(7,)`` on the national factor and on its region's factor (index ``region`` ≥ 0 of the
    portfolio's regions, −1 for none), and the number of regions of the portfolio."""

    national: np.ndarray
    regional: np.ndarray
    region: int
    n_regions: int

    @property
    def idiosyncratic(self) -> np.ndarray:
        """The weight of the city's own draw per driver: √(1 − a² − g²)."""
        return np.sqrt(np.clip(1.0 - self.national**2 - self.regional**2, 0.0, 1.0))

    @property
    def independent(self) -> bool:
        return not (np.any(self.national) or np.any(self.regional))


def factor_draw(rng: np.random.Generator, n: int, n_regions: int) -> np.ndarray:
    """One month of factor draws: ``(n, 1 + K, 7)`` standard normals (national, then the regions in order)."""
    return rng.standard_normal((n, 1 + n_regions, N_INNOVATIONS))


def mix(own: np.ndarray, factors: np.ndarray, ld: CityLoadings) -> np.ndarray:
    """``ε = a ⊙ N + g ⊙ R_r + √(1 − a² − g²) ⊙ η`` for ``own`` = η ``(n, 7)`` and the month's ``factors``."""
    eps = own * ld.idiosyncratic + factors[:, 0, :] * ld.national
    if ld.region >= 0:
        eps += factors[:, 1 + ld.region, :] * ld.regional
    return eps


class FactorShocks:
    """The shock source of one portfolio city and chunk: its own :class:`Shocks` (η, relending and event
    uniforms) with the common factors mixed into the normals (:func:`mix`). Same interface as :class:`Shocks`."""

    def __init__(self, own: Shocks, factor_rng: np.random.Generator, loadings: CityLoadings):
        if own.sampling != "mc":
            raise ValueError("factor shocks: a city with loadings samples with 'mc'")
        self.own = own
        self.n = own.n
        self.stochastic = own.stochastic
        self.sampling = "mc"
        self.factor_rng = factor_rng
        self.loadings = loadings

    def month(self, t: int):
        """``(ε_t, u_t)``: the city's own draws of month ``t`` with the month's factor draws mixed in."""
        eps, u = self.own.month(t)
        if eps is None:
            return None, u
        return mix(eps, factor_draw(self.factor_rng, self.n, self.loadings.n_regions), self.loadings), u

    def reserve_events(self, rows: int) -> None:
        self.own.reserve_events(rows)

    def event_uniforms(self, rows: int):
        """The city's own once-per-path uniforms (no factor)."""
        return self.own.event_uniforms(rows)


def city_shocks(market, n: int, seed: int, city: int, chunk_index: int, loadings: CityLoadings):
    """The shock source of city ``city``'s chunk: its standalone :class:`Shocks` when it has no loadings (bit for
    bit its own run's draws at city 0), else :class:`FactorShocks`. None-generator for a deterministic plan."""
    rng = None if market.deterministic else city_generator(seed, city, chunk_index)
    own = Shocks.for_plan(market, n, rng)
    if loadings.independent or not own.stochastic:
        return own
    return FactorShocks(own, factor_generator(seed, chunk_index), loadings)


# ------------------------------------------------------------------------------------------ the province's revenue
@dataclass(frozen=True)
class ProvinceLoadings:
    """The province's revenue shock (decision 52): annual volatility ``vol``, loadings ``national`` and ``regional``
    (on region index ``region``, −1 for none) on the fiscal driver's factors, and the portfolio's number of regions."""

    vol: float
    national: float
    regional: float
    region: int
    n_regions: int

    @property
    def idiosyncratic(self) -> float:
        """The weight of the province's own draw: √(1 − a² − g²)."""
        return float(np.sqrt(max(1.0 - self.national**2 - self.regional**2, 0.0)))


def province_generator(seed: int, chunk_index: int) -> np.random.Generator:
    """The province's own revenue draws of chunk ``chunk_index``: SeedSequence(seed, spawn_key=(chunk, 3))."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(chunk_index, PROVINCE_TAG))))


def province_revenue_factor(seed: int, chunk_index: int, n: int, months: int, pl: ProvinceLoadings) -> np.ndarray:
    """The province's revenue multiplier by programme year, ``(n, Y)``, ``Y = months // 12``.

    Month ``t ≥ 1``: ``ξ_t = a N_{t,f} + g R_{r,t,f} + √(1 − a² − g²) ν_t`` with ``N_{t,f}``, ``R_{r,t,f}`` the fiscal
    driver's national and regional factor draws of month ``t`` — the very draws the cities of the chunk see (the
    factor stream is re-drawn here from :func:`factor_generator`, one :func:`factor_draw` a month, as
    :class:`FactorShocks` does for t = 1 … T − 1) — and ``ν_t`` the province's own N(0, 1). Then
    ``ln X_t = ln X_{t−1} − σ_m²/2 + σ_m ξ_t``, ``X_0 = 1``, ``σ_m = σ/√12`` (so ``E[X_t] = 1``), and the multiplier
    of year ``y`` is the mean of ``X_t`` over its 12 months — the province's revenue of year ``y`` is
    ``R₀ (1 + g)^{y−1}`` times it (measures/province.py)."""
    factor_rng, own_rng = factor_generator(seed, chunk_index), province_generator(seed, chunk_index)
    sm = pl.vol / np.sqrt(12.0)
    years = months // 12
    log_x = np.zeros(n)
    out = np.zeros((n, years))
    out[:, 0] = 1.0  # X_0
    for t in range(1, months):
        f = factor_draw(factor_rng, n, pl.n_regions)
        xi = pl.national * f[:, 0, FISCAL_DRIVER] + pl.idiosyncratic * own_rng.standard_normal(n)
        if pl.region >= 0:
            xi += pl.regional * f[:, 1 + pl.region, FISCAL_DRIVER]
        log_x += sm * xi - 0.5 * sm * sm
        if t < years * 12:
            out[:, t // 12] += np.exp(log_x)
    return out / 12.0
