"""How an analysis result saves itself: its tables and settings, then the extra writers (charts), all in one
atomic folder (:func:`~baozhang_finance.run.atomic.write_folder_atomically`), as :meth:`Result.save` does."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from baozhang_finance import __version__
from baozhang_finance.run.atomic import MANIFEST, write_folder_atomically
from baozhang_finance.run.provenance import provenance

#: an extra writer: ``writer(result, folder)`` writes more files (charts) into the folder being built
Writer = Callable[[Any, Path], None]


def save_folder(result: Any, out: str | Path, write: Callable[[Path], None], extra_writers: Iterable[Writer] = (),
                overwrite: bool = False) -> Path:
    """Write ``write(tmp)`` then every ``writer(result, tmp)`` into a temporary folder renamed to ``out``.

    Refuses (``FileExistsError``) a path that is a file, or a non-empty folder unless ``overwrite``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a folder")
    if out.exists() and not overwrite and any(out.iterdir()):
        raise FileExistsError(f"{out}: output folder exists and is not empty (use --overwrite)")
    writers = list(extra_writers)

    def write_all(tmp: Path) -> None:
        write(tmp)
        for writer in writers:
            writer(result, tmp)
        write_json(tmp / MANIFEST, analysis_manifest(result))

    return write_folder_atomically(out, write_all)


def analysis_manifest(result: Any) -> dict:
    """How an analysis folder was made: package, version, git commit and whether the checkout was dirty
    (:func:`~baozhang_finance.run.provenance.provenance`), the analysis, its scenario file and that file's SHA-256
    (the bytes it read), the scenario's own SHA-256 when the result holds it (as a run's manifest), numpy and
    pandas versions."""
    source = getattr(result, "source", None)
    digest = None
    if isinstance(source, (str, Path)) and Path(source).is_file():
        digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    scenario = getattr(result, "scenario", None)
    return {"package": "baozhang-finance", "version": __version__, **provenance(),  # git_commit, git_dirty
            "analysis": type(result).__name__,
            "scenario_file": str(source) if isinstance(source, (str, Path)) else None, "scenario_file_sha256": digest,
            "scenario_sha256": scenario.sha256() if hasattr(scenario, "sha256") else None,
            "numpy": np.__version__, "pandas": pd.__version__}


def write_json(path: Path, obj: Any, **kw) -> None:
    """Indented UTF-8 JSON (Chinese text kept as is)."""
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, **kw))


def json_safe(obj: Any) -> Any:
    """Non-finite floats (an unbounded DSCR without debt) → None, recursively."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


@dataclass
class TableResult:
    """An analysis result that is one table and its settings: saved as ``<stem>.csv`` and ``<stem>.json`` (with the
    scenario's file as ``scenario``), then the extra writers. Subclasses set :attr:`stem`."""

    table: pd.DataFrame
    settings: dict[str, Any]
    source: str | None = None
    stem: ClassVar[str] = "table"

    @property
    def metrics(self) -> list[str]:
        return list(self.settings["metrics"])

    def save(self, out: str | Path, extra_writers: Iterable[Writer] = (), overwrite: bool = False) -> Path:
        """``<stem>.csv`` and ``<stem>.json`` (then ``extra_writers``, e.g. the charts of report.sensitivity)."""
        def write(tmp: Path) -> None:
            self.table.to_csv(tmp / f"{self.stem}.csv", index=False)
            write_json(tmp / f"{self.stem}.json", {"scenario": self.source, **self.settings})

        return save_folder(self, out, write, extra_writers, overwrite)
