"""What cured the shortfalls, and when the SOE's own money ran out (issue 15's summary keys).

* ``cures.<name>`` for each cure of :data:`~baozhang_finance.engine.cures.CURE_NAMES`: ``p_used`` = share of paths on
  which the cure provided money (> 1e-6 yuan), ``expected_yuan`` = mean over all paths of what it provided,
  ``p95_yuan`` its 95th percentile;
* ``soe.exhaustion_year``: ``p_exhausted`` = share of paths on which a shortfall SOE money may pay was left open
  because the SOE's pot was empty, ``p50`` = median programme year (1-based) of that event among those paths;
* ``cures.extension.expected_count``: mean number of loan extensions per path;
* ``fiscal.refinancing_need_by_year``: special-bond principal rolled into refinancing bonds (再融资专项债券) in each
  year, ``{mean, p95}`` across paths — explicit debt the budget must refinance, not a burden;
  ``fiscal.refinancing_balance_at_horizon``: refinancing bonds still outstanding at the horizon ``{mean, p95}``;
* ``sale``: the sale blocks' real risks (default conventions) — ``p_walkaway`` = share of paths on which some
  pre-subscribed buyer walked away at hand-over, ``walkaway_units`` {mean, p95} units walked away over the horizon,
  ``forfeited_deposits_yuan`` {mean} the deposits they forfeited;
* ``hidden_debt.first_shortfall_year``: the year a project first falls short after its cash, DSRA and cures — when
  the programme fails, as opposed to the first call year, when the SOE's support stops covering it.
"""

from __future__ import annotations

import numpy as np

from baozhang_finance.engine.cures import CURE_NAMES
from baozhang_finance.measures import blocked as bk
from baozhang_finance.measures.stats import year_mean

USED_YUAN = 1e-6


def cure_summary(result) -> dict:
    """``{name: {p_used, expected_yuan, p95_yuan}}`` for every cure."""
    out = {}
    for k in CURE_NAMES:
        x = result.col(f"cure_{k}_yuan").astype(float)
        out[k] = {"p_used": bk.share(x > USED_YUAN), "expected_yuan": bk.mean(x),
                  "p95_yuan": float(bk.quantile(x, 0.95))}
    out["extension"]["expected_count"] = bk.mean(result.col("cure_extension_count").astype(float))
    return out


def refinancing_need_by_year(result) -> dict:
    """Refinancing need by year ``{mean: [...], p95: [...]}``: yuan of special-bond principal refinanced."""
    out = {"mean": [], "p95": []}
    for col in result.year_cols("refinancing"):  # one year at a time; the mean as ``x.mean(axis=0)`` sums it
        x = col.astype(float)
        out["mean"].append(year_mean(x))
        out["p95"].append(float(bk.quantile(x, 0.95)))
    return out


def refinancing_balance_at_horizon(result) -> dict:
    """Refinancing bonds outstanding at the horizon ``{mean, p95}``, yuan."""
    x = result.col("refinancing_balance_end_yuan").astype(float)
    return {"mean": bk.mean(x), "p95": float(bk.quantile(x, 0.95))}


def event_year(years: np.ndarray) -> dict:
    """Share of paths on which an event (year ≥ 1; −1 = never) happened and the median year among them."""
    years = bk.as_col(years)
    hit = years > 0
    return {"p": bk.share(hit), "p50": float(bk.median(years[hit])) if hit.any() else None}


def exhaustion_year(result) -> dict:
    e = event_year(result.col("soe_exhaustion_year"))
    return {"p_exhausted": e["p"], "p50": e["p50"]}


def first_shortfall_year(result) -> dict:
    e = event_year(result.col("first_shortfall_year"))
    return {"p_shortfall": e["p"], "p50": e["p50"]}


def sale_summary(result) -> dict:
    """Walk-aways at hand-over: ``{p_walkaway, walkaway_units {mean, p95}, forfeited_deposits_yuan {mean}}``."""
    units = result.col("walkaway_units").astype(float)
    lost = result.col("forfeited_deposits_yuan").astype(float)
    return {"p_walkaway": bk.share(units > 1e-9),
            "walkaway_units": {"mean": bk.mean(units), "p95": float(bk.quantile(units, 0.95))},
            "forfeited_deposits_yuan": {"mean": bk.mean(lost)}}
