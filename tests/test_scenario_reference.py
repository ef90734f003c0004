"""docs/scenario-reference.md documents every field of every scenario table, and is exactly what the generator
(``python -m baozhang_finance.model.reference``) renders from the models."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

from pydantic import BaseModel

from baozhang_finance.model.reference import render
from baozhang_finance.model.scenario import Scenario

DOC = Path(__file__).resolve().parents[1] / "docs" / "scenario-reference.md"
REGEN = "python -m baozhang_finance.model.reference > docs/scenario-reference.md"


def _models_in(annotation) -> list[type[BaseModel]]:
    """Every pydantic model mentioned anywhere in a (possibly nested) annotation."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def all_fields(model: type[BaseModel] = Scenario, prefix: str = "") -> list[tuple[str, str]]:
    """(table path, field name) for every field below ``model``, walked independently of the generator."""
    out = []
    for name, field in model.model_fields.items():
        if prefix:
            out.append((prefix, name))
        for sub in _models_in(field.annotation):
            out += all_fields(sub, f"{prefix}.{name}" if prefix else name)
    return out


def sections(text: str) -> dict[str, set[str]]:
    """Table path → field names documented in its section (rows of the form | `name` | …)."""
    out: dict[str, set[str]] = {}
    current = None
    for line in text.splitlines():
        head = re.match(r"^## `\[\[?([\w.]+)\]\]?`", line)
        if head:
            current = out.setdefault(head.group(1), set())
            continue
        row = re.match(r"^\| `(\w+)` \|", line)
        if row and current is not None:
            current.add(row.group(1))
    return out


def missing(text: str) -> list[str]:
    doc = sections(text)
    return [f"{path}.{name}" for path, name in all_fields() if name not in doc.get(path, set())]


def test_every_field_is_documented():
    fields = all_fields()
    assert len(fields) > 120  # the walk reaches the nested tables (loans.relending, bonds.schedule, stresses, …)
    assert ("projects.financing.loans.relending", "rollovers") in fields
    assert ("projects.financing.bonds.schedule", "share") in fields
    gaps = missing(DOC.read_text(encoding="utf-8"))
    assert not gaps, f"fields missing from {DOC.name}: {gaps}; regenerate with: {REGEN}"


def test_committed_doc_matches_the_generator():
    assert DOC.read_text(encoding="utf-8") == render(), f"{DOC.name} is stale; regenerate with: {REGEN}"


def test_the_check_would_catch_a_missing_row():
    text = render()
    without = "\n".join(ln for ln in text.splitlines() if not ln.startswith("| `rollovers` |"))
    assert missing(without) == ["projects.financing.loans.relending.rollovers"]
    assert missing(text) == []


def test_rows_carry_type_default_constraints_and_description():
    text = render()
    row = next(ln for ln in text.splitlines() if ln.startswith("| `area_m2` |"))
    assert row == "| `area_m2` | number | *required* | > 0, ≤ 1000 | average floor area per unit, m² |"
    row = next(ln for ln in text.splitlines() if ln.startswith("| `horizon_years` |"))
    assert "| integer | `30` | ≥ 1, ≤ 60 |" in row
    row = next(ln for ln in text.splitlines() if ln.startswith("| `coupon_frequency` |"))
    assert 'one of `"annual"`, `"semiannual"`' in row
