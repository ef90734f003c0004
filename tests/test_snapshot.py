"""Bit-for-bit snapshot of today's numbers: a refactor must not move any of them.

For the demo (600 paths, seed 20251124, chunk 250): every column of the per-path table and every yearly ledger;
for each bundled scenario: its summary (300 paths, seed 7, chunk 150), its deterministic summary and every monthly
series of its deterministic path. Each is kept as a SHA-256 of the raw bytes (the bit-for-bit check) and as a
digest (sum, sum of squares, min, max, NaN count). On the machine fingerprint that wrote the file (numpy version,
CPU features, the BLAS kernel OpenBLAS chose) the hashes must match exactly; on another machine, whose SIMD maths
and BLAS kernels may differ in the last bit, the digests and values must match to 1e-9 relative (1e-6 absolute:
a micro-yuan — a balance that should be 0 can be a last-bit residue of 1e-8 yuan on one machine and 5e-8 on the
next). A model change that moves a number on purpose rewrites the file with
``python tests/test_snapshot.py --write`` and says what moved in docs/decisions.md.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy as np
import pytest

from baozhang_finance import load_scenario
from baozhang_finance import simulate

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = Path(__file__).with_name("snapshots") / "snapshot.json"
#: the bundled scenarios as they were before the support policy and cures (issue 15), run under --conventions legacy:
#: their numbers must never move
LEGACY = Path(__file__).with_name("fixtures") / "legacy"
SCENARIOS = sorted(p.stem for p in LEGACY.glob("*.toml"))


def _legacy(name: str):
    from baozhang_finance.model.support import with_conventions

    return with_conventions(load_scenario(LEGACY / f"{name}.toml"), "legacy")


#: absolute tolerance of the comparison on another machine (values in yuan: a micro-yuan)
ATOL = 1e-6


def fingerprint() -> str:
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as feats
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as feats
    on = ",".join(sorted(k for k, v in feats.items() if v))
    return (f"numpy {np.__version__} {platform.machine()} {hashlib.sha256(on.encode()).hexdigest()[:12]} "
            f"blas {blas_core()}")


def blas_core() -> str:
    """The BLAS kernel numpy's OpenBLAS chose on this CPU (``openblas_get_corename``: SkylakeX, Zen, Haswell, …):
    the engine's matrix products round by it, and numpy's CPU features do not tell it (a Zen 4 and a Skylake-X
    both read as AVX-512 to numpy yet may run different dgemm kernels). "?" when it cannot be read."""
    import ctypes
    import glob
    import os
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename64_",
                     "openblas_get_corename"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return (fn() or b"?").decode("ascii", "replace")
    return "?"


def _entry(a) -> dict:
    a = np.ascontiguousarray(np.asarray(a))
    h = hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()
    x = a.astype(np.float64).ravel()
    fin = x[np.isfinite(x)]
    dig = [float(fin.sum()), float((fin * fin).sum()), float(fin.min()) if fin.size else 0.0,
           float(fin.max()) if fin.size else 0.0, int(x.size - fin.size)]
    return {"sha": h, "digest": dig}


def _flatten(obj, prefix="") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}{i}."))
    elif isinstance(obj, (bool, np.bool_)):
        out[prefix[:-1]] = float(obj)
    elif isinstance(obj, (int, float, np.integer, np.floating)):
        out[prefix[:-1]] = float(obj)
    elif obj is None:
        out[prefix[:-1]] = float("nan")
    return out


def _summary_entry(summary: dict) -> dict:
    """Every number of a summary by its flattened key (exact floats): keys added later are ignored, keys kept
    must keep their values."""
    return {"values": {k: (None if v != v else v) for k, v in _flatten(summary).items()}}


def _record(sc) -> dict[str, np.ndarray]:
    """Every monthly series of the deterministic path (the engine's own record)."""
    try:
        from baozhang_finance.run.replay import deterministic_record
    except ImportError:  # before the package moved
        from baozhang_finance.engine.loop import run_paths
        from baozhang_finance.engine.plan import compile_plan

        def deterministic_record(sc):
            return run_paths(compile_plan(sc, deterministic=True), 1, None, record=True).monthly
    return deterministic_record(sc)


def demo_entries() -> dict:
    res = simulate(_legacy("demo"), paths=600, seed=20251124, chunk_size=250)
    out = {f"paths.{c}": _entry(res.paths[c].to_numpy()) for c in res.paths.columns}  # new columns are ignored
    out.update({f"ledger.{k}": _entry(res.ledger(k)) for k in sorted(res._ledgers)})
    return out


def scenario_entries(name: str) -> dict:
    sc = _legacy(name)
    res = simulate(sc, paths=300, seed=7, chunk_size=150)
    det = simulate(sc, deterministic=True)
    out = {"summary": _summary_entry(res.summary), "deterministic_summary": _summary_entry(det.summary)}
    out.update({f"monthly.{k}": _entry(v) for k, v in sorted(_record(sc).items())})
    return out


def all_entries() -> dict:
    return {"fingerprint": fingerprint(), "demo_paths": demo_entries(),
            **{name: scenario_entries(name) for name in SCENARIOS}}


def _moved(old: dict, new: dict, exact: bool) -> list[str]:
    bad = []
    for k, e in old.items():
        n = new.get(k)
        if n is None:
            bad.append(k)
        elif "values" in e:
            for key, v in e["values"].items():
                w = n["values"].get(key, "missing")
                if w == "missing" or (v is None) != (w is None):
                    bad.append(f"{k}:{key}")
                elif v is not None and (v != w if exact else not np.isclose(v, w, rtol=1e-9, atol=ATOL)):
                    bad.append(f"{k}:{key}")
        elif exact:
            if n["sha"] != e["sha"]:
                bad.append(k)
        elif not np.allclose(n["digest"], e["digest"], rtol=1e-9, atol=ATOL, equal_nan=True):
            bad.append(k)
    return sorted(bad)


@pytest.fixture(scope="module")
def snapshot() -> dict:
    return json.loads(SNAPSHOT.read_text())


def test_demo_paths_and_ledgers_unchanged(snapshot):
    moved = _moved(snapshot["demo_paths"], demo_entries(), snapshot["fingerprint"] == fingerprint())
    assert not moved, f"demo numbers moved: {moved}"


@pytest.mark.parametrize("name", SCENARIOS)
def test_bundled_scenario_unchanged(snapshot, name):
    moved = _moved(snapshot[name], scenario_entries(name), snapshot["fingerprint"] == fingerprint())
    assert not moved, f"{name}: numbers moved: {moved}"


if __name__ == "__main__" and "--write" in sys.argv:
    SNAPSHOT.write_text(json.dumps(all_entries(), indent=0, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
