"""Change a scenario by name: dotted field paths and balanced plan levers → a new, validated Scenario.

Two kinds of *field* are understood everywhere a sweep, a tornado, a Sobol analysis or a solver varies an input:

* a **dotted path** into the scenario, exactly as the TOML file nests it, with ``[k]`` for the k-th entry of an
  array of tables: ``market.price_drift_annual``, ``projects[0].rental.rent_ratio``,
  ``projects[1].financing.loans[0].fixed_rate``. The value replaces the field and the whole scenario is
  validated again, so a value out of range or a plan whose sources no longer equal its uses is refused with
  the usual located message;
* a **balanced lever** on project ``k`` (``name[k]``; ``name`` alone means project 0), which keeps
  sources = uses (资金来源 = 总投资) by moving the project's *balancing loan* (its first bank loan) — or, for
  ``loan``, its equity:

  ===============  =============================================================================================
  ``grant[k]``     total capital grants of project k, yuan. Existing capital grants are scaled to the new
                   total (removed at 0); a project with none gets one new grant ("additional capital grant").
                   Bank loan −= change.
  ``equity_share[k]``  SOE own funds ÷ total investment. Equity = share × uses; bank loan −= change in equity.
  ``rent_ratio[k]``    rent charged ÷ market rent of a rental project (no balancing needed).
  ``price[k]``     acquisition price, yuan/m². Uses change by floor area × Δprice × (1 + purchase tax);
                   bank loan += change in uses.
  ``loan[k]``      the balancing loan's amount, yuan; equity −= change.
  ===============  =============================================================================================

A lever that would drive the balancing loan (or the equity) to zero or below is refused with a message that
names the lever, the project and the largest admissible change. :func:`lever_range` gives the default range a
solver searches.

Nothing here simulates; every function returns a new :class:`~baozhang_finance.scenario.Scenario` (scenarios
are immutable).
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from baozhang_finance.model.scenario import (
    Scenario,
    ScenarioError,
    floor_area_m2,
    grant_amount_yuan,
    scenario_from_dict,
    total_uses_yuan,
)

#: names of the balanced levers (see the module docstring)
LEVERS = ("grant", "equity_share", "rent_ratio", "price", "loan")

#: smallest amount a balancing loan or equity may keep, yuan (a loan must be > 0 to stay in the scenario)
MIN_BALANCE_YUAN = 1.0

_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[\s*-?\d+\s*\])*)$")
_INDEX = re.compile(r"\[\s*(-?\d+)\s*\]")
_LEVER = re.compile(r"^\s*(" + "|".join(LEVERS) + r")\s*(?:\[\s*(\d+)\s*\])?\s*$")

Token = str | int


# ---------------------------------------------------------------------------------------------- paths
def parse_field_path(path: str) -> list[Token]:
    """Split ``projects[0].rental.rent_ratio`` into ``["projects", 0, "rental", "rent_ratio"]``."""
    if not isinstance(path, str) or not path.strip():
        raise ScenarioError(f"field {path!r}: empty field path (expected e.g. market.price_drift_annual)")
    tokens: list[Token] = []
    for seg in path.strip().split("."):
        m = _SEGMENT.match(seg.strip())
        if not m:
            raise ScenarioError(
                f"field {path!r}: cannot read {seg!r} (expected name or name[k], e.g. projects[0].rental.rent_ratio)"
            )
        tokens.append(m.group(1))
        for idx in _INDEX.findall(m.group(2)):
            k = int(idx)
            if k < 0:
                raise ScenarioError(f"field {path!r}: negative index [{k}] (indices count from 0)")
            tokens.append(k)
    return tokens


def format_field_path(tokens: list[Token]) -> str:
    out = ""
    for t in tokens:
        out += f"[{t}]" if isinstance(t, int) else ("." if out else "") + t
    return out


def _walk(data: Any, tokens: list[Token], path: str) -> tuple[Any, Token]:
    """Return (container, last token) for ``tokens`` inside the dumped scenario, with located errors."""
    node = data
    for i, tok in enumerate(tokens):
        where = format_field_path(tokens[:i]) or "the scenario"
        last = i == len(tokens) - 1
        if isinstance(node, dict):
            if not isinstance(tok, str):
                raise ScenarioError(f"field {path!r}: {where} is a table, not a list: use .name, not [{tok}]")
            if tok not in node:
                close = difflib.get_close_matches(tok, list(node), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                names = ", ".join(sorted(node))
                raise ScenarioError(f"field {path!r}: {where} has no field {tok!r} ({hint}fields: {names})")
        elif isinstance(node, list):
            if not isinstance(tok, int):
                raise ScenarioError(f"field {path!r}: {where} is a list of {len(node)}: use [k], not .{tok}")
            if tok >= len(node):
                raise ScenarioError(f"field {path!r}: {where}[{tok}] is out of range ({where} has {len(node)} entries)")
        else:
            raise ScenarioError(f"field {path!r}: {where} is a value ({node!r}), it has no field {tok!r}")
        if last:
            return node, tok
        child = node[tok]
        if child is None:
            here = format_field_path(tokens[: i + 1])
            raise ScenarioError(f"field {path!r}: {here} is not set in this scenario (no such table to change)")
        node = child
    raise ScenarioError(f"field {path!r}: empty field path")  # pragma: no cover - parse_field_path forbids it


def get_field(scenario: Scenario, path: str) -> Any:
    """Value of a dotted field (or the current value of a lever) in ``scenario``."""
    lever = parse_lever(path)
    if lever is not None:
        return lever_value(scenario, *lever)
    tokens = parse_field_path(path)
    node, tok = _walk(scenario.model_dump(mode="python"), tokens, path)
    return node[tok]


def parse_lever(field: str, project: int | None = None) -> tuple[str, int] | None:
    """``("price", 1)`` for ``price[1]`` (or ``price`` with ``project=1``); None for a dotted path."""
    if not isinstance(field, str):
        return None
    m = _LEVER.match(field)
    if not m:
        return None
    k = int(m.group(2)) if m.group(2) is not None else (project if project is not None else 0)
    return m.group(1), k


def is_integer_field(scenario: Scenario, path: str) -> bool:
    """True when the dotted field currently holds an integer (months, years, units)."""
    if parse_lever(path) is not None:
        return False
    v = get_field(scenario, path)
    return isinstance(v, int) and not isinstance(v, bool)


def parse_value(text: str) -> Any:
    """A value typed on the command line: read as a TOML value (0.8, 3, true, "x", [1, 2]), else a plain string."""
    s = text.strip()
    try:
        return tomllib.loads(f"v = {s}")["v"]
    except tomllib.TOMLDecodeError:
        return s


def _coerce(current: Any, value: Any, path: str) -> Any:
    """Keep integers integral where the field is an integer; otherwise hand the value to validation as is."""
    if isinstance(current, bool) or isinstance(value, bool):
        return value
    if isinstance(current, int) and isinstance(value, float):
        if math.isfinite(value) and float(value).is_integer():
            return int(value)
        raise ScenarioError(f"field {path!r}: must be a whole number, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------- setting
def set_field(scenario: Scenario, path: str, value: Any, source: str | None = None) -> Scenario:
    """New validated Scenario with one field (dotted path or lever) set to ``value``."""
    return apply_overrides(scenario, {path: value}, source=source)


def apply_overrides(scenario: Scenario, overrides: Mapping[str, Any], source: str | None = None,
                    project: int | None = None) -> Scenario:
    """New validated Scenario with every ``{field: value}`` applied.

    Dotted paths are applied together and validated once (so two fields that must move together may be set
    in one call); levers are applied after them, in the order given. Errors are :class:`ScenarioError` with a
    one-line message naming the field.
    """
    dotted = {k: v for k, v in overrides.items() if parse_lever(k, project) is None}
    levers = [(parse_lever(k, project), v, k) for k, v in overrides.items() if parse_lever(k, project) is not None]
    sc = scenario
    if dotted:
        data = scenario.model_dump(mode="python")
        for path, value in dotted.items():
            tokens = parse_field_path(path)
            node, tok = _walk(data, tokens, path)
            current = node[tok]
            if isinstance(current, (dict, list)) and not isinstance(value, (dict, list)):
                raise ScenarioError(f"field {path!r}: is a table or list, not a single value")
            node[tok] = _coerce(current, value, path)
        label = source or "overrides " + ", ".join(f"{k}={_show(v)}" for k, v in dotted.items())
        sc = _validate(data, label)
    for (name, k), value, raw in levers:
        sc = apply_lever(sc, name, value, k, source=source)
    return sc


def _show(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)


def _validate(data: dict[str, Any], label: str) -> Scenario:
    try:
        return scenario_from_dict(data, source=label)
    except ScenarioError as exc:
        raise ScenarioError(str(exc).replace("\n", "; "), source=label, problems=exc.problems) from None


# ---------------------------------------------------------------------------------------------- levers
def _project(sc: Scenario, lever: str, k: int):
    if not 0 <= k < len(sc.projects):
        raise ScenarioError(f"lever {lever}[{k}]: no project {k} (the scenario has {len(sc.projects)}: "
                            f"0..{len(sc.projects) - 1})")
    return sc.projects[k]


def _balancing_loan(sc: Scenario, lever: str, k: int):
    p = _project(sc, lever, k)
    if not p.financing.loans:
        raise ScenarioError(f"lever {lever}[{k}]: project {k} ({p.name}) has no bank loan to balance sources = uses")
    return p.financing.loans[0]


def capital_grants_yuan(sc: Scenario, k: int) -> float:
    p = sc.projects[k]
    return float(sum(grant_amount_yuan(g, p) for g in p.financing.grants if g.capital))


def lever_value(sc: Scenario, lever: str, k: int = 0) -> float:
    """Current value of a lever on project ``k``."""
    p = _project(sc, lever, k)
    if lever == "grant":
        return capital_grants_yuan(sc, k)
    if lever == "equity_share":
        return p.financing.equity_yuan / total_uses_yuan(p)
    if lever == "rent_ratio":
        if p.rental is None:
            raise ScenarioError(f"lever rent_ratio[{k}]: project {k} ({p.name}) is a {p.type} project, not rental")
        return p.rental.rent_ratio
    if lever == "price":
        if p.acquisition_price_yuan_per_m2 <= 0:
            raise ScenarioError(f"lever price[{k}]: project {k} ({p.name}) is new-build (no acquisition price)")
        return p.acquisition_price_yuan_per_m2
    if lever == "loan":
        return _balancing_loan(sc, lever, k).amount_yuan
    raise ScenarioError(f"lever {lever!r}: unknown (levers: {', '.join(LEVERS)})")


def lever_range(sc: Scenario, lever: str, k: int = 0) -> tuple[float, float]:
    """Default search range of a lever: everything the balancing item allows, within policy-sized bounds.

    grant: [0, current grants + balancing loan − 1 yuan]; equity_share: [0, (equity + loan − 1)/uses];
    rent_ratio: [0.05, 1.0]; price: [50 %, 150 %] of the current price, capped so the loan stays > 0;
    loan: [1 yuan, loan + equity].
    """
    p = _project(sc, lever, k)
    uses = total_uses_yuan(p)
    if lever == "grant":
        loan = _balancing_loan(sc, lever, k).amount_yuan
        return 0.0, capital_grants_yuan(sc, k) + loan - MIN_BALANCE_YUAN
    if lever == "equity_share":
        loan = _balancing_loan(sc, lever, k).amount_yuan
        return 0.0, (p.financing.equity_yuan + loan - MIN_BALANCE_YUAN) / uses
    if lever == "rent_ratio":
        lever_value(sc, lever, k)
        return 0.05, 1.0
    if lever == "price":
        x0 = lever_value(sc, lever, k)
        loan = _balancing_loan(sc, lever, k).amount_yuan
        floor_lo = x0 - (loan - MIN_BALANCE_YUAN) / (floor_area_m2(p) * (1 + p.purchase_tax_rate))
        return max(0.5 * x0, floor_lo, 1e-6), 1.5 * x0
    if lever == "loan":
        loan = _balancing_loan(sc, lever, k).amount_yuan
        return MIN_BALANCE_YUAN, loan + p.financing.equity_yuan
    raise ScenarioError(f"lever {lever!r}: unknown (levers: {', '.join(LEVERS)})")


def apply_lever(sc: Scenario, lever: str, value: float, k: int = 0, source: str | None = None) -> Scenario:
    """New Scenario with lever ``lever`` of project ``k`` at ``value``, sources = uses kept (see module doc)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ScenarioError(f"lever {lever}[{k}]: value must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ScenarioError(f"lever {lever}[{k}]: value must be finite, got {value!r}")
    p = _project(sc, lever, k)
    data = sc.model_dump(mode="python")
    pd_ = data["projects"][k]
    fin = pd_["financing"]
    label = source or f"{lever}[{k}]={_show(x)}"

    def move_loan(delta: float) -> None:
        loan = fin["loans"][0]
        new = loan["amount_yuan"] + delta
        if new < MIN_BALANCE_YUAN - 1e-9:
            raise ScenarioError(
                f"lever {lever}[{k}] = {_show(x)}: the balancing loan projects[{k}].financing.loans[0] "
                f"({loan['name']}) would be {new:,.0f} yuan; it can absorb at most {loan['amount_yuan'] - MIN_BALANCE_YUAN:,.0f} "
                f"yuan (range {_show(lever_range(sc, lever, k)[0])} … {_show(lever_range(sc, lever, k)[1])})")
        loan["amount_yuan"] = max(new, MIN_BALANCE_YUAN)

    if lever == "grant":
        _balancing_loan(sc, lever, k)
        if x < 0:
            raise ScenarioError(f"lever grant[{k}]: must be >= 0, got {_show(x)}")
        g0 = capital_grants_yuan(sc, k)
        move_loan(-(x - g0))
        caps = [g for g in fin["grants"] if g["capital"]]
        others = [g for g in fin["grants"] if not g["capital"]]
        if x <= 0:
            fin["grants"] = others
        elif g0 > 0:
            f = x / g0
            for g in caps:
                g["amount_yuan"] *= f
                g["per_unit_yuan"] *= f
        else:
            fin["grants"] = others + [{"name": "additional capital grant", "source": "other", "amount_yuan": x,
                                       "per_unit_yuan": 0.0, "capital": True, "month": None}]
    elif lever == "equity_share":
        _balancing_loan(sc, lever, k)
        if x < 0:
            raise ScenarioError(f"lever equity_share[{k}]: must be >= 0, got {_show(x)}")
        new_eq = x * total_uses_yuan(p)
        move_loan(-(new_eq - fin["equity_yuan"]))
        fin["equity_yuan"] = new_eq
    elif lever == "rent_ratio":
        lever_value(sc, lever, k)
        pd_["rental"]["rent_ratio"] = x
    elif lever == "price":
        x0 = lever_value(sc, lever, k)
        _balancing_loan(sc, lever, k)
        if x <= 0:
            raise ScenarioError(f"lever price[{k}]: must be > 0 yuan/m², got {_show(x)}")
        move_loan(floor_area_m2(p) * (x - x0) * (1 + p.purchase_tax_rate))
        pd_["acquisition_price_yuan_per_m2"] = x
    elif lever == "loan":
        loan0 = _balancing_loan(sc, lever, k).amount_yuan
        if x < MIN_BALANCE_YUAN:
            raise ScenarioError(f"lever loan[{k}]: must be >= {MIN_BALANCE_YUAN:g} yuan, got {_show(x)}")
        new_eq = fin["equity_yuan"] - (x - loan0)
        if new_eq < -1e-6:
            raise ScenarioError(
                f"lever loan[{k}] = {_show(x)}: equity of project {k} would be {new_eq:,.0f} yuan; the loan can rise "
                f"by at most the equity ({fin['equity_yuan']:,.0f} yuan), to {loan0 + fin['equity_yuan']:,.0f}")
        fin["equity_yuan"] = max(new_eq, 0.0)
        fin["loans"][0]["amount_yuan"] = x
    else:
        raise ScenarioError(f"lever {lever!r}: unknown (levers: {', '.join(LEVERS)})")
    return _validate(data, label)
