"""Fuzz: mutated copies of the bundled scenarios through the CLI's own entry point, in process.

Each case is one bundled scenario with one mutation — a field deleted, retyped (string, boolean, list, table),
made non-finite or extreme, nested hundreds of levels deep, an unknown key added, the file truncated, binary
bytes spliced in, or saved in another encoding — run as ``baozhang run FILE --deterministic --out DIR``. Whatever
the input, the run must end in one of two ways:

- exit 0, with an output folder whose summary.json holds only finite numbers;
- exit 2, with one line ``error: FILE: <field path | line L, column C | file-level problem>: …``, no traceback
  and no output folder (nor a temporary folder beside it).

The quick profile runs in the default test run (a few seconds); the long one (10,000 cases) is marked ``long``:
``pytest -o addopts="" -m long tests/test_fuzz.py``. Its last count and result are in docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from baozhang_finance.cli import main
from baozhang_finance.model.portfolio import is_portfolio_file
from baozhang_finance.model.scenario import load_scenario, scenario_from_dict

SCENARIOS = sorted(p for p in (Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml") if not is_portfolio_file(p))  # scenarios, not portfolios
BASE = {p.name: tomllib.loads(p.read_text(encoding="utf-8")) for p in SCENARIOS}
TEXT = {p.name: p.read_bytes() for p in SCENARIOS}
TOP = ("programme", "projects", "waterfall", "policy", "credit", "market", "simulation")


# ------------------------------------------------------------------------------------------ a small TOML writer
class Raw:
    """TOML text emitted verbatim (deep nesting, huge integers)."""

    def __init__(self, text: str):
        self.text = text


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def toml_value(v) -> str:
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def to_toml(data: dict) -> bytes:
    return "\n".join(f"{_key(k)} = {toml_value(v)}" for k, v in data.items()).encode("utf-8") + b"\n"


# ------------------------------------------------------------------------------------------ mutations
def leaves(node, loc=()):
    """Every (location, value) below ``node``: table fields, list items, and the containers themselves."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((loc + (k,), v))
            out.extend(leaves(v, loc + (k,)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((loc + (i,), v))
            out.extend(leaves(v, loc + (i,)))
    return out


def _copy(v):
    return json.loads(json.dumps(v))


def _parent(data, loc):
    node = data
    for part in loc[:-1]:
        node = node[part]
    return node


def _nested(depth: int, kind: str) -> Raw:
    if kind == "array":
        return Raw("[" * depth + "1" + "]" * depth)
    return Raw("{a = " * depth + "1" + "}" * depth)


RETYPES = ("string_of", "true", "false", "list", "table", "text", "int_of", "float_of", "empty_string", "one")
EXTREMES = (0, -1, 1, 0.0, -0.0, 1e-300, -1e-300, 1e308, -1e308, 1e30, 2**63 - 1, -(2**63), 10**30, 10**19,
            1e12, 123456789.0, -0.999999, 1.000001)


@st.composite
def mutated(draw):
    """(description, file bytes) of one bundled scenario with one mutation."""
    name = draw(st.sampled_from(sorted(BASE)))
    kind = draw(st.sampled_from(("delete", "retype", "nonfinite", "extreme", "nested", "unknown", "scale",
                                 "truncate", "binary", "encoding", "dotted")))
    data = _copy(BASE[name])
    spots = leaves(data)
    if kind in ("truncate", "binary", "encoding", "dotted"):
        raw = TEXT[name]
        if kind == "truncate":
            cut = draw(st.integers(0, len(raw)))
            return f"{name}: truncated at byte {cut}", raw[:cut]
        if kind == "binary":
            at = draw(st.integers(0, len(raw)))
            junk = draw(st.binary(min_size=1, max_size=16))
            return f"{name}: {junk!r} spliced in at byte {at}", raw[:at] + junk + raw[at:]
        if kind == "dotted":
            depth = draw(st.sampled_from((2, 10, 40, 500, 20_000)))
            at = raw.index(b"\n[market]\n") + len(b"\n[market]\n")
            return f"{name}: dotted key {depth} deep", raw[:at] + b"a." * depth + b"b = 1\n" + raw[at:]
        enc = draw(st.sampled_from(("utf-8-sig", "utf-16", "gb18030", "latin-1-bytes")))
        text = raw.decode("utf-8")
        if enc == "latin-1-bytes":
            return f"{name}: utf-8 read as latin-1 and saved as utf-8", text.encode("utf-8").decode("latin-1").encode("utf-8")
        return f"{name}: saved as {enc}", text.encode(enc)
    loc, value = draw(st.sampled_from(spots))
    parent = _parent(data, loc)
    key = loc[-1]
    where = ".".join(map(str, loc))
    if kind == "delete":
        del parent[key]
        return f"{name}: {where} deleted", to_toml(data)
    if kind == "unknown":
        table = value if isinstance(value, dict) else parent if isinstance(parent, dict) else data
        new_key = draw(st.sampled_from(("units_tpyo", "x", "rate", "名称", "a b", "")))
        table[new_key] = draw(st.sampled_from((1, "x", True, [1, 2], {"y": 1})))
        return f"{name}: unknown key {new_key!r} near {where}", to_toml(data)
    if kind == "nested":
        depth = draw(st.sampled_from((2, 5, 33, 500)))
        parent[key] = _nested(depth, draw(st.sampled_from(("array", "table"))))
        return f"{name}: {where} nested {depth} deep", to_toml(data)
    if kind == "nonfinite":
        parent[key] = draw(st.sampled_from((math.inf, -math.inf, math.nan)))
    elif kind == "extreme":
        parent[key] = draw(st.sampled_from(EXTREMES + (Raw("9" * 5000), Raw("-" + "1" * 100))))
    elif kind == "scale":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{name}: unchanged", to_toml(data)
        factor = draw(st.sampled_from((0.5, 0.9, 0.99, 1.01, 1.1, 2.0, -1.0)))
        parent[key] = type(value)(value * factor) if isinstance(value, float) else int(round(value * factor))
    else:  # retype
        how = draw(st.sampled_from(RETYPES))
        parent[key] = {"string_of": str(value), "true": True, "false": False, "list": [value], "table": {"v": value},
                       "text": "three hundred", "empty_string": "", "one": 1,
                       "int_of": int(value) if isinstance(value, float) and math.isfinite(value) else 7,
                       "float_of": float(value) if isinstance(value, int) and not isinstance(value, bool) else 0.5,
                       }[how]
        kind = f"retype {how}"
    return f"{name}: {where} → {kind} {toml_value(parent[key])[:40]}", to_toml(data)


# ------------------------------------------------------------------------------------------ the oracle
LOCATED = re.compile(
    r'^(?:(?:[\w-]+|"[^"]*")(?:\.[\w-]+|\."[^"]*"|\[\d+\])*: '  # a field path (a quoted key when TOML quotes it)
    r"|line \d+(?:, column \d+)?: "  # a place in the text
    r"|\(top level\): "
    r"|not valid TOML: |saved as UTF-16|larger than |a scenario must be a table)")


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """``baozhang ARGS`` in process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["baozhang", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


def _finite(node, where="summary") -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _finite(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _finite(v, f"{where}[{i}]")
    elif isinstance(node, float):
        assert math.isfinite(node), f"{where} = {node}"


def check_case(description: str, content: bytes) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "case.toml"
        f.write_bytes(content)
        out = Path(tmp) / "run"
        code, stdout, stderr = run_cli(["run", str(f), "--deterministic", "--no-reports", "--quiet", "--out", str(out)])
        assert "Traceback" not in stderr + stdout, (description, stderr)
        if code == 0:
            summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
            _finite(summary)
        else:
            assert code == 2, (description, code, stderr)
            lines = [ln for ln in stderr.splitlines() if ln.strip()]
            message = " ".join(" ".join(lines).split())
            assert message.count("error: ") == 1 and message.startswith(f"error: {f}: "), (description, stderr)
            assert LOCATED.match(message[len(f"error: {f}: "):]), (description, message)
            assert not out.exists(), (description, "output folder on refusal")
        assert sorted(p.name for p in Path(tmp).iterdir()) in (["case.toml"], ["case.toml", "run"]), (
            description, "stray files", list(Path(tmp).iterdir()))
        return code


# ------------------------------------------------------------------------------------------ the tests
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_the_writer_round_trips_every_bundled_scenario(path):
    """The fuzz writer is faithful: a bundled scenario written back by it validates to the same content."""
    assert scenario_from_dict(tomllib.loads(to_toml(BASE[path.name]).decode())).sha256() == load_scenario(path).sha256()


QUICK = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG = settings(max_examples=int(os.environ.get("BAOZHANG_FUZZ_CASES", "10000")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@QUICK
@given(mutated())
def test_fuzz_quick(case):
    check_case(*case)


@pytest.mark.long
@LONG
@given(mutated())
def test_fuzz_long(case):
    code = check_case(*case)
    event(f"exit {code}")
