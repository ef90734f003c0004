"""The house rules, checked: wings import only downward, no import circles, imports at the top of a module.

The wings, lowest first: model ← engine ← measures ← run ← analysis ← report ← cli (docs/architecture.md).
The layer contract lives in pyproject.toml ([tool.importlinter]) and is checked with import-linter; circles between
modules of the same wing are found here on grimp's import graph (import-linter's own engine).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "baozhang_finance"

#: third-party modules that may be imported inside a function: optional extras, and heavy libraries imported
#: where used so that `baozhang --help` and `baozhang check` start fast
LAZY_OK = ("dask", "distributed", "matplotlib", "pandas", "xlsxwriter", "SALib", "openpyxl", "scipy", "statsmodels", "atexit",
           "rich.progress", "rich.table", "rich.markup", "rich.console", "selenium", "numba", "pyarrow",
           "uvicorn", "webbrowser")


def test_import_layers_contract():
    exe = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(exe), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_no_import_circles_between_modules():
    graph = grimp.build_graph("baozhang_finance", cache_dir=None)
    modules = sorted(m for m in graph.modules if m != "baozhang_finance")
    edges = {m: {d for d in graph.find_modules_directly_imported_by(m) if d in graph.modules and d != m
                 and d != "baozhang_finance"} for m in modules}
    # package __init__ modules that only re-export their children are not part of a circle of real code
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(edges.get(m, ())):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack)
        stack.pop()
        state[m] = 2

    for m in modules:
        if m not in state:
            visit(m, [])
    assert not cycles, "import circles: " + "; ".join(" → ".join(c) for c in cycles)


def _function_imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import):
                    for a in sub.names:
                        yield sub.lineno, a.name, 0
                elif isinstance(sub, ast.ImportFrom):
                    yield sub.lineno, sub.module or "", sub.level


def test_no_import_inside_a_function_except_optional_or_heavy_extras():
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        for line, mod, level in _function_imports(path):
            internal = level > 0 or mod == "baozhang_finance" or mod.startswith("baozhang_finance.")
            if internal or not any(mod == ok or mod.startswith(ok + ".") for ok in LAZY_OK):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {mod or '.'}")
    assert not bad, "imports inside functions:\n" + "\n".join(bad)


def test_no_function_over_80_lines_in_the_model_and_engine_wings():
    """The wings a new instrument or cure touches stay readable: one job per function."""
    long = []
    for wing in ("model", "engine"):
        for path in sorted((PKG / wing).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    n = node.end_lineno - node.lineno + 1
                    if n > 80:
                        long.append(f"{path.relative_to(ROOT)}::{node.name} ({n} lines)")
    assert not long, "functions over 80 lines: " + ", ".join(long)
