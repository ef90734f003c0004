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

The levers themselves (value, default range, apply, the one rebalance of sources = uses) are the registry in
:mod:`baozhang_finance.model.levers`; this module parses their names and routes overrides to them.

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

from baozhang_finance.model.levers import (  # noqa: F401  (re-exported: the levers' old home)
    LEVERS,
    MIN_BALANCE_YUAN,
    apply_lever,
    capital_grants_yuan,
    lever_range,
    lever_value,
    show,
    validate,
)
from baozhang_finance.model.scenario import Scenario, ScenarioError

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


_show = show
_validate = validate
