"""Shim: the per-path reference model (the oracle) lives in tests/oracle.py; the benchmarks import it from here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("oracle", Path(__file__).resolve().parents[1] / "tests" / "oracle.py")
_oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_oracle)

run_reference = _oracle.run_reference
run_path = _oracle.run_path
draw_random_numbers = _oracle.draw_random_numbers
