"""Every notebook in notebooks/ is committed clean: no outputs, no execution counts, no widget state.

The notebooks are executed by ``pytest`` itself (nbmake, ``--nbmake`` in pyproject.toml), which does not write
outputs back; this test keeps executed copies (with stale numbers and megabytes of PNG) out of the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_notebooks_exist():
    names = {p.name for p in PATHS}
    assert {"finance_bureau_loudi.ipynb", "bank_credit_suihua.ipynb", "research_compare_cities.ipynb"} <= names


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_is_stripped(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb.get("nbformat") == 4, f"{path.name}: not an nbformat-4 notebook"
    assert "widgets" not in nb.get("metadata", {}), f"{path.name}: notebook metadata holds widget state"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{path.name}: no code cells"
    for i, cell in enumerate(nb["cells"]):
        where = f"{path.name} cell {i}"
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{where}: has outputs (strip them before committing)"
            assert cell.get("execution_count") is None, f"{where}: execution_count is {cell.get('execution_count')}"
        else:
            assert "outputs" not in cell and "execution_count" not in cell, f"{where}: markdown cell with outputs"
        meta = cell.get("metadata", {})
        assert "widgets" not in meta, f"{where}: widget state in the cell metadata"
        assert "execution" not in meta, f"{where}: execution timings in the cell metadata"
        assert not any(a.get("data") for a in cell.get("attachments", {}).values()), f"{where}: attachments"


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_is_valid(path: Path):
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.read(path, as_version=4))
