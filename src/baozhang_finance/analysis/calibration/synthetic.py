"""Synthetic market history from the engine's own driver equations (for tests, examples and the notebook).

:func:`simulate_history` runs :class:`baozhang_finance.engine.drivers.Drivers` for one path over ``months``
months with a given ``[market]`` table and returns it as :class:`MarketData`, so a calibration can be checked
against the parameters that made the data. The engine's decline regime comes first (months
``< 12·decline_years`` at ``decline_drift_annual``), so a history made with ``decline_drift_annual > 0`` and
``price_drift_annual < 0`` looks like the 2015–25 record: a boom, then a decline.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from baozhang_finance.analysis.calibration.data import MarketData
from baozhang_finance.engine.drivers import Drivers
from baozhang_finance.engine.plan import compile_market
from baozhang_finance.model.scenario import Market

#: the market a synthetic example city is drawn from (a boom to the break, then a decline)
EXAMPLE_MARKET = {
    "price_drift_annual": -0.04, "price_vol_annual": 0.03, "decline_years": 6.5, "decline_drift_annual": 0.06,
    "rent_drift_annual": 0.01, "rent_vol_annual": 0.03, "lpr_initial": 0.049, "lpr_mean": 0.04,
    "lpr_reversion": 0.5, "lpr_vol_annual": 0.003, "lpr_floor": 0.0, "cpi_drift_annual": 0.02,
    "cpi_vol_annual": 0.008, "occupancy_reversion": 1.5, "occupancy_vol_annual": 0.04, "absorption_reversion": 2.0,
    "absorption_vol_annual": 0.3, "fiscal_growth_annual": 0.03, "fiscal_vol_annual": 0.04, "fiscal_land_share": 0.3,
    "fiscal_land_beta": 1.5,
    "correlation": [
        [1.0, 0.5, 0.2, 0.2, 0.0, 0.4, 0.3],
        [0.5, 1.0, 0.1, 0.3, 0.3, 0.2, 0.2],
        [0.2, 0.1, 1.0, 0.3, 0.0, 0.0, 0.1],
        [0.2, 0.3, 0.3, 1.0, 0.0, 0.0, 0.2],
        [0.0, 0.3, 0.0, 0.0, 1.0, 0.0, 0.0],
        [0.4, 0.2, 0.0, 0.0, 0.0, 1.0, 0.2],
        [0.3, 0.2, 0.1, 0.2, 0.0, 0.2, 1.0],
    ],
}


def simulate_history(market: dict, months: int = 120, seed: int = 0, start: str = "2015-01",
                     stabilised_occupancy: float = 0.9, fiscal_revenue_yuan: float = 5e9,
                     city: str = "synthetic") -> MarketData:
    """One path of the engine's drivers as monthly series (levels: house_price, rent, cpi = 100 at the start)."""
    m = Market(**market)
    sc = SimpleNamespace(market=m, programme=SimpleNamespace(fiscal_revenue_yuan=fiscal_revenue_yuan))
    mp = compile_market(sc, months, np.array([], dtype=int), None, False)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    d = Drivers(mp, 1, rng)
    rec = {k: np.empty(months) for k in ("house_price", "rent", "lpr", "cpi", "occupancy", "absorption", "fiscal")}
    for t in range(months):
        s = d.step(t)
        rec["house_price"][t] = 100 * s.hpi[0]
        rec["rent"][t] = 100 * s.rent[0]
        rec["lpr"][t] = d.lpr[0]  # the unfloored Vasicek state (the engine reports it floored)
        rec["cpi"][t] = 100 * s.cpi[0]
        rec["occupancy"][t] = stabilised_occupancy + s.occ_dev[0]
        rec["absorption"][t] = s.absorption[0]
        rec["fiscal"][t] = s.fiscal_m[0]
    idx = pd.period_range(start, periods=months, freq="M")
    return MarketData(source=f"synthetic(seed={seed})", city=city,
                      monthly={k: pd.Series(v, index=idx) for k, v in rec.items()})


def to_tidy(data: MarketData) -> pd.DataFrame:
    """Long table ``date, city, series, value`` (what :func:`~.data.read_tidy_csv` reads)."""
    rows = []
    for name, s in data.monthly.items():
        rows += [(str(d), data.city or "", name, float(v)) for d, v in s.items()]
    for name, s in data.yearly.items():
        rows += [(str(d.year), data.city or "", name, float(v)) for d, v in s.items()]
    return pd.DataFrame(rows, columns=["date", "city", "series", "value"])
