"""Portfolio files (省级组合): many city programmes, a provincial block and a factor model of their markets.

A portfolio is a TOML file with a ``[portfolio]`` table (how :func:`is_portfolio_data` tells it from a scenario):

.. code-block:: toml

    [portfolio]
    name = "Liaoning 2025 tranche"
    seed = 20251124            # optional; paths and chunk_size too (the run's defaults)

    [province]                 # who pays a city's shortfall: the city budget first, then provincial transfers
    name = "辽宁省"
    revenue_yuan = 2.0e11      # the province's own general-budget revenue at the start (省本级一般公共预算收入)
    revenue_growth = 0.02
    revenue_vol = 0.04                    # optional: a log-normal revenue path on the fiscal factors (decision 52)
    revenue_national_loading = 0.6
    city_cap_share_of_revenue = 0.03      # a city pays up to 3 % of its own fiscal revenue of the year
    transfer_cap_share_of_revenue = 0.05  # the province transfers up to 5 % of its revenue of the year

    [factors]
    regions = ["northeast"]
    default_national = { house_price = 0.5, rent = 0.4, fiscal = 0.4 }
    default_regional = { house_price = 0.4, rent = 0.3 }

    [[city]]
    name = "Shenyang"
    file = "liaoning/shenyang.toml"       # a normal scenario file, relative to the portfolio file …
    region = "northeast"

    [[city]]
    name = "Dalian"
    scenario = { ... }                    # … or an inline scenario table
    region = "northeast"
    national = { house_price = 0.6 }      # the city's own loadings (replace the defaults driver by driver)

**Factor model** (decision 47). For city ``c`` and driver ``i`` (order
:data:`~baozhang_finance.model.scenario.DRIVERS`), month ``t``:
``ε_{c,t,i} = a_{c,i} N_{t,i} + g_{c,i} R_{r(c),t,i} + √(1 − a²_{c,i} − g²_{c,i}) η_{c,t,i}`` with the national
factor ``N``, the factor ``R_r`` of the city's region and the city's own draws ``η``, all i.i.d. N(0, 1); so
``a² + g² ≤ 1`` per driver is the whole validity condition (positive semi-definite by construction). A city with
no loadings (``independent = true``, or no defaults and none of its own) keeps exactly its standalone draws.

**Alignment.** Every city shares the programme start month and horizon of the first city (month ``t`` is the same
calendar month in every city, so the factor draws of month ``t`` are common in calendar time); a mismatch is a
located error. Errors are one line naming the file and the field (exit 2 in the CLI), as for a scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, ValidationError, model_validator

from baozhang_finance.model.scenario import (
    DRIVERS,
    MAX_SEED,
    MAX_YUAN,
    Scenario,
    ScenarioError,
    _Model,
    check_structure,
    decode_scenario_bytes,
    format_validation_error,
    load_scenario,
    parse_scenario_text,
    read_scenario_bytes,
    scenario_from_dict,
)

#: loadings sum-of-squares tolerance (rounding in the file's decimals)
LOADING_TOLERANCE = 1e-9
#: most cities in one portfolio (a national study has ~300 prefecture-level cities)
MAX_CITIES = 1000


class PortfolioInfo(_Model):
    """[portfolio] — the study's name, its run defaults, notes and sources."""

    name: str = Field(description="name of the portfolio study")
    seed: int = Field(20251124, ge=0, le=MAX_SEED, description="master seed of the run (the cities' own seeds are not used)")
    paths: int = Field(2000, ge=1, le=100_000_000, description="Monte Carlo paths per city (the same paths in every city)")
    chunk_size: int = Field(10_000, ge=1, le=1_000_000, description="paths per chunk; every (city × chunk) is a task")
    notes: str = Field("", description="free text: what the portfolio is and its labelled assumptions")
    sources: list[str] = Field(default_factory=list, description="sources of the figures (documents, yearbooks)")


class Province(_Model):
    """[province] — the province's revenue and the order in which a city's shortfall is met (decision 48)."""

    name: str = Field("province", description="the province (省)")
    revenue_yuan: float = Field(gt=0, le=MAX_YUAN, description="the province's own general-budget revenue per year at the start, yuan (省本级一般公共预算收入)")
    revenue_growth: float = Field(0.0, ge=-0.2, le=0.2, description="annual growth of the province's revenue")
    city_cap_share_of_revenue: float = Field(ge=0, le=1, description="each year a city's budget pays its government money up to this share of its own fiscal revenue of that year, before the province steps in")
    transfer_cap_share_of_revenue: float = Field(ge=0, le=1, description="each year provincial transfers pay what the cities' budgets could not, up to this share of the province's revenue of that year (shared pro rata); the rest is unfunded")
    discount_rate: float = Field(0.02, ge=-0.05, le=0.5, description="annual rate discounting the province's yearly amounts (year-end), the local-bond yield")
    revenue_vol: float = Field(0.0, ge=0, le=0.5, description="annual volatility of the province's revenue (decision 52): 0 keeps it on its deterministic growth path; > 0 makes it log-normal around that path, driven by the fiscal factors")
    revenue_national_loading: float = Field(1.0, ge=-1, le=1, description="loading of the province's revenue shock on the national factor of the fiscal driver")
    revenue_regional_loading: float = Field(0.0, ge=-1, le=1, description="loading of the province's revenue shock on the fiscal factor of revenue_region; the rest, 1 − a² − g², is the province's own draw")
    revenue_region: str | None = Field(None, description="the region whose factor the province's revenue loads on (one of factors.regions)")

    @model_validator(mode="after")
    def _revenue_loadings(self) -> "Province":
        ss = self.revenue_national_loading**2 + self.revenue_regional_loading**2
        if ss > 1.0 + LOADING_TOLERANCE:
            raise ValueError(f"revenue_national_loading² + revenue_regional_loading² = {ss:.4g} > 1")
        if self.revenue_regional_loading and self.revenue_region is None:
            raise ValueError("revenue_region: a regional loading of the province's revenue needs its region")
        return self


def _check_loadings(value: dict[str, float] | None, where: str) -> None:
    for k, v in (value or {}).items():
        if k not in DRIVERS:
            raise ValueError(f"{where}: unknown driver {k!r} (known: {', '.join(DRIVERS)})")
        if not -1.0 <= v <= 1.0:
            raise ValueError(f"{where}.{k}: a loading must be within [-1, 1], got {v!r}")


class Factors(_Model):
    """[factors] — the common factors: a national one and one per region, and default loadings per driver."""

    regions: list[str] = Field(default_factory=list, description="the regional factors, e.g. [\"northeast\"]; their order fixes the draws")
    default_national: dict[str, float] = Field(default_factory=dict, description="loading on the national factor per driver, for cities that give none")
    default_regional: dict[str, float] = Field(default_factory=dict, description="loading on the city's regional factor per driver, for cities that give none")

    @model_validator(mode="after")
    def _valid(self) -> "Factors":
        if len(set(self.regions)) != len(self.regions):
            raise ValueError(f"regions: names must be unique, got {self.regions}")
        _check_loadings(self.default_national, "default_national")
        _check_loadings(self.default_regional, "default_regional")
        return self


class CityEntry(_Model):
    """[[city]] — one city programme: a scenario file or an inline scenario, its region and its loadings."""

    name: str = Field(description="the city's name in the province's tables")
    file: str | None = Field(None, description="a scenario file (TOML or .xlsx), relative to the portfolio file")
    scenario: dict[str, Any] | None = Field(None, description="an inline scenario table (instead of file)")
    region: str | None = Field(None, description="the city's region (one of factors.regions)")
    national: dict[str, float] | None = Field(None, description="loadings on the national factor per driver (absent: factors.default_national)")
    regional: dict[str, float] | None = Field(None, description="loadings on the regional factor per driver (absent: factors.default_regional)")
    independent: bool = Field(False, description="true: no loadings at all — the city's shocks are exactly its standalone draws")

    @model_validator(mode="after")
    def _valid(self) -> "CityEntry":
        if (self.file is None) == (self.scenario is None):
            raise ValueError("file: give exactly one of file (a scenario file) or scenario (an inline table)")
        _check_loadings(self.national, "national")
        _check_loadings(self.regional, "regional")
        return self


class PortfolioFile(_Model):
    """A whole portfolio file (the cities' scenarios still unread)."""

    portfolio: PortfolioInfo
    province: Province
    factors: Factors = Field(default_factory=Factors)
    city: list[CityEntry] = Field(min_length=1, max_length=MAX_CITIES, description="the cities")

    @model_validator(mode="after")
    def _names(self) -> "PortfolioFile":
        names = [c.name for c in self.city]
        if len(set(names)) != len(names):
            raise ValueError(f"city: city names must be unique, got {names}")
        region = self.province.revenue_region
        if region is not None and region not in self.factors.regions:
            raise ValueError(f"province.revenue_region: unknown region {region!r} (factors.regions: {self.factors.regions})")
        return self


@dataclass(frozen=True)
class City:
    """A city of a loaded portfolio: its validated scenario, region index and loadings ``(7,)`` per factor."""

    name: str
    scenario: Scenario
    region: int  # index in factors.regions, −1 for none
    national: np.ndarray
    regional: np.ndarray

    @property
    def independent(self) -> bool:
        """No loadings: the city's shocks are its standalone draws."""
        return not (np.any(self.national) or np.any(self.regional))


@dataclass(frozen=True)
class Portfolio:
    """A loaded portfolio: the file's tables and the cities with their scenarios."""

    spec: PortfolioFile
    cities: tuple[City, ...]
    source: str

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self.spec.factors.regions)


def is_portfolio_data(data: Any) -> bool:
    """A parsed file is a portfolio when it has a ``[portfolio]`` table."""
    return isinstance(data, dict) and "portfolio" in data


def is_portfolio_file(path: str | Path) -> bool:
    """Whether a file is a portfolio TOML (a ``[portfolio]`` table); False for anything unreadable or a workbook."""
    p = Path(path)
    if p.suffix.lower() == ".xlsx" or not p.is_file():
        return False
    try:
        data = parse_scenario_text(decode_scenario_bytes(read_scenario_bytes(p), str(p)), str(p))
    except ScenarioError:
        return False
    return is_portfolio_data(data)


def loading_vector(values: dict[str, float] | None) -> np.ndarray:
    """The loadings ``(7,)`` in DRIVERS order (0 for a driver not named)."""
    out = np.zeros(len(DRIVERS))
    for k, v in (values or {}).items():
        out[DRIVERS.index(k)] = float(v)
    return out


def _fail(source: str, where: str, what: str) -> ScenarioError:
    return ScenarioError(f"{source}: {where}: {what}", source=source)


def _city_loadings(spec: PortfolioFile, k: int, source: str) -> tuple[int, np.ndarray, np.ndarray]:
    """(region index, national, regional) of city ``k``, checked: a known region, a²+g² ≤ 1 per driver."""
    c = spec.city[k]
    where = f"city[{k}]"
    if c.independent:
        return -1, np.zeros(len(DRIVERS)), np.zeros(len(DRIVERS))
    nat = loading_vector(c.national if c.national is not None else spec.factors.default_national)
    reg = loading_vector(c.regional if c.regional is not None else spec.factors.default_regional)
    region = -1
    if c.region is not None:
        if c.region not in spec.factors.regions:
            raise _fail(source, f"{where}.region", f"unknown region {c.region!r} (factors.regions: {spec.factors.regions})")
        region = spec.factors.regions.index(c.region)
    elif np.any(reg):
        raise _fail(source, f"{where}.regional", "regional loadings need the city's region (city.region)")
    ss = nat**2 + reg**2
    bad = np.flatnonzero(ss > 1.0 + LOADING_TOLERANCE)
    if bad.size:
        i = int(bad[0])
        raise _fail(source, f"{where} ({c.name}) loadings.{DRIVERS[i]}",
                    f"national² + regional² = {ss[i]:.4g} > 1 (national {nat[i]:g}, regional {reg[i]:g}); "
                    "the rest, 1 − a² − g², is the city's own share")
    return region, nat, reg


def _city_scenario(c: CityEntry, k: int, base: Path, source: str) -> Scenario:
    """The city's scenario: its file (relative to the portfolio file) or its inline table."""
    if c.scenario is not None:
        return scenario_from_dict(c.scenario, source=f"{source}: city[{k}].scenario")
    path = (base / c.file) if not Path(c.file).is_absolute() else Path(c.file)
    if not path.is_file():
        raise _fail(source, f"city[{k}].file", f"{c.file!r}: file not found (looked for {path})")
    return load_scenario(path)


def _check_alignment(cities: list[City], source: str) -> None:
    """Every city shares the first city's programme start and horizon; cities with loadings sample with mc."""
    first = cities[0].scenario.programme
    for k, c in enumerate(cities):
        pr = c.scenario.programme
        if (pr.start, pr.horizon_years) != (first.start, first.horizon_years):
            raise _fail(source, f"city[{k}] ({c.name}) programme",
                        f"start {pr.start}, horizon {pr.horizon_years} years ≠ {cities[0].name}'s start {first.start}, "
                        f"horizon {first.horizon_years} years; the cities of a portfolio share both (decision 47)")
        if not c.independent and c.scenario.simulation.sampling != "mc":
            raise _fail(source, f"city[{k}] ({c.name}) simulation.sampling",
                        f"{c.scenario.simulation.sampling!r}: a city with factor loadings samples with 'mc'")
        pu = c.scenario.market.parameter_uncertainty
        if pu is not None and pu.enabled and pu.se:
            raise _fail(source, f"city[{k}] ({c.name}) market.parameter_uncertainty",
                        "per-chunk parameter draws are not supported in a portfolio yet; set enabled = false")


def portfolio_from_dict(data: dict[str, Any], source: str = "<dict>", base: str | Path = ".") -> Portfolio:
    """Validate a parsed portfolio and load its cities' scenarios; :class:`ScenarioError` with a located message."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a portfolio must be a table", source=source)
    check_structure(data, source)
    try:
        spec = PortfolioFile.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(exc, source) from None
    cities = []
    for k, c in enumerate(spec.city):
        region, nat, reg = _city_loadings(spec, k, source)
        cities.append(City(c.name, _city_scenario(c, k, Path(base), source), region, nat, reg))
    _check_alignment(cities, source)
    return Portfolio(spec=spec, cities=tuple(cities), source=source)


def load_portfolio(path: str | Path) -> Portfolio:
    """Read and validate a portfolio TOML file and its cities' scenario files."""
    p = Path(path)
    data = parse_scenario_text(decode_scenario_bytes(read_scenario_bytes(p), str(p)), str(p))
    if not is_portfolio_data(data):
        raise ScenarioError(f"{p}: not a portfolio file (no [portfolio] table)", source=str(p))
    return portfolio_from_dict(data, source=str(p), base=p.parent)
