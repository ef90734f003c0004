"""The column store of a run (issue 17 §3, "memory flat in paths"): per-path columns and yearly ledgers appended
to Parquet chunk by chunk, read back one column (or one ledger-year) at a time.

A chunk from :func:`~baozhang_finance.run.chunks.run_chunk` is a dict of per-path columns (``path``,
``hidden_debt_pv``, …) and yearly ledgers ``y_<name>`` of shape ``(paths, years)``. :class:`ColumnWriter` appends
chunks, in chunk order, to two files of a folder:

* ``paths.parquet`` — one column per per-path quantity (the same table ``Result.save`` writes for an in-memory
  run);
* ``ledgers.parquet`` — one column per ledger and year, named ``<name>/<yy>`` (0-based year), in the stored
  precision (float32; months locked as uint8).

Rows are buffered to row groups of exactly :data:`ROW_GROUP_ROWS` paths (the last one shorter), the block of
:mod:`baozhang_finance.measures.blocked`: block ``i`` of a column is row group ``i`` (one read), and the files hold
the same values, in the same order, whatever backend or worker count produced the chunks (folders written
before, with row groups at chunk boundaries, are read by slicing the row groups that overlap a block). The values
are stored as they are (no nulls: NaN stays NaN), so a column read back is bit for bit the concatenation of the
chunks' columns. :class:`ColumnStore` reads them. Pure storage: what is computed from the columns lives in
``run/result.py`` and ``measures/``.
"""

from __future__ import annotations

import ctypes
import os
import platform
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from baozhang_finance.measures import blocked as _blocked

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
from typing import TYPE_CHECKING as _TC
if _TC:  # pyarrow is imported where used (start-up time)
    import pyarrow.parquet as pq

PATHS_FILE = "paths.parquet"
LEDGERS_FILE = "ledgers.parquet"
#: paths per Parquet row group (= the reductions' block; chunks are buffered until they fill it): large enough that
#: reading one column of 10,000,000 paths is ≈ 150 reads, small enough that the buffer (≈ 1.4 kB per path) stays
#: ≈ 90 MB
ROW_GROUP_ROWS = _blocked.BLOCK
#: bytes of recently read column-blocks a store keeps (≈ 60 float64 blocks)
CACHE_BYTES = 32 << 20


def _system_pool() -> None:
    """Arrow allocates through malloc, not its bundled mimalloc pool: mimalloc keeps the pages of every row group
    it encoded or decoded (measured: RSS grew ≈ 0.5 kB per path streamed), malloc returns them."""
    import pyarrow as pa
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc ``malloc_trim``): a streamed summary frees thousands
    of column blocks of ≈ 0.5 MB, and the heap they leave behind would otherwise keep growing the RSS with the
    number of blocks (measured: 4,000,000 paths, 349 → see docs/benchmarks.md). Nothing on other C libraries."""
    global _TRIM
    if _TRIM is None:
        _TRIM = False
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            try:
                _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
            except (OSError, AttributeError):  # pragma: no cover
                _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM = None


def ledger_column(name: str, year: int) -> str:
    """Column name of ledger ``name``, 0-based ``year``, in ``ledgers.parquet``."""
    return f"{name}/{year:02d}"


class ColumnWriter:
    """Append chunk column dicts to ``paths.parquet`` and ``ledgers.parquet`` in ``folder`` (created if needed)."""

    def __init__(self, folder: str | Path, row_group_rows: int | None = None):
        _system_pool()
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.row_group_rows = int(row_group_rows if row_group_rows is not None else ROW_GROUP_ROWS)
        self._buffer: list[dict[str, np.ndarray]] = []
        self._buffered = 0
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.rows = 0
        self.ledger_years: dict[str, int] = {}

    def append(self, cols: dict[str, np.ndarray]) -> None:
        """Add one chunk's columns (the next chunk in path order)."""
        if not self.ledger_years:
            self.ledger_years = {k[2:]: int(v.shape[1]) for k, v in cols.items() if k.startswith("y_")}
        self._buffer.append(cols)
        self._buffered += len(cols["path"])
        if self._buffered >= self.row_group_rows:
            self._flush()

    def _flush(self, final: bool = False) -> None:
        """Write the buffered rows as row groups of exactly ``row_group_rows`` paths (all of them when ``final``);
        the rest stays buffered. Columns are moved out of the buffer one at a time, so the flush holds the buffer
        plus one ledger, not the buffer twice."""
        if not self._buffer:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq
        rg = self.row_group_rows
        buf, self._buffer, self._buffered = self._buffer, [], 0
        total = sum(len(c["path"]) for c in buf)
        take = total if final else (total // rg) * rg
        paths: dict[str, np.ndarray] = {}
        ledgers: dict[str, np.ndarray] = {}
        rest: dict[str, np.ndarray] = {}
        for k in list(buf[0]):
            parts = [c.pop(k) for c in buf]
            whole = np.concatenate(parts)
            del parts
            if take < total:
                rest[k] = whole[take:].copy()
                whole = whole[:take]
            if k.startswith("y_"):
                for y in range(whole.shape[1]):
                    ledgers[ledger_column(k[2:], y)] = np.ascontiguousarray(whole[:, y])
            else:
                paths[k] = whole
            del whole
        del buf
        if rest:
            self._buffer, self._buffered = [rest], total - take
        if not take:
            return
        for fname, part in ((PATHS_FILE, paths), (LEDGERS_FILE, ledgers)):
            if not part:
                continue
            table = pa.table({k: pa.array(v) for k, v in part.items()})
            if fname not in self._writers:
                # no column statistics: ~800 ledger columns × a row group each would keep ≈ 0.2 MB of footer per
                # row group in memory until the file is closed (and again when it is opened)
                self._writers[fname] = pq.ParquetWriter(self.folder / fname, table.schema, compression="snappy",
                                                         use_dictionary=False, write_statistics=False)
            self._writers[fname].write_table(table, row_group_size=rg)
            self.rows += table.num_rows if fname == PATHS_FILE else 0
            del table
            part.clear()

    def close(self) -> "ColumnStore":
        """Write what is buffered, close the files and open them for reading."""
        self._flush(final=True)
        for w in self._writers.values():
            w.close()
        self._writers.clear()
        return ColumnStore(self.folder)


def write_chunks(chunks: Iterable[dict[str, np.ndarray]], folder: str | Path,
                 progress=None) -> "ColumnStore":
    """Stream chunk column dicts (in path order) into a column store in ``folder``; memory stays one chunk plus a
    row group, whatever the number of chunks. ``progress(rows_written)`` is called after every chunk."""
    w = ColumnWriter(folder)
    try:
        for cols in chunks:
            w.append(cols)
            if progress:
                progress(w.rows + w._buffered)
    except BaseException:
        for pw in w._writers.values():
            pw.close()
        raise
    return w.close()


def _row_group_starts(pf) -> np.ndarray:
    """First row of each row group, and the number of rows at the end."""
    md = pf.metadata
    return np.concatenate([[0], np.cumsum([md.row_group(g).num_rows for g in range(md.num_row_groups)])]).astype(np.int64)


class ColumnStore:
    """Read a column store written by :class:`ColumnWriter` (or a run folder saved from one)."""

    def __init__(self, folder: str | Path):
        import pyarrow.parquet as pq
        _system_pool()
        self.folder = Path(folder)
        self._paths = pq.ParquetFile(self.folder / PATHS_FILE)
        self.n = int(self._paths.metadata.num_rows)
        self.columns: list[str] = list(self._paths.schema_arrow.names)
        lf = self.folder / LEDGERS_FILE
        self._ledgers = pq.ParquetFile(lf) if lf.exists() else None
        years: dict[str, int] = {}
        for c in (self._ledgers.schema_arrow.names if self._ledgers is not None else []):
            name, _, y = c.rpartition("/")
            years[name] = max(years.get(name, 0), int(y) + 1)
        self.ledger_years = years
        self._starts = {id(pf): _row_group_starts(pf) for pf in (self._paths, self._ledgers) if pf is not None}
        self._index = {id(pf): {c: j for j, c in enumerate(pf.schema_arrow.names)}
                       for pf in (self._paths, self._ledgers) if pf is not None}
        self._cache: OrderedDict = OrderedDict()
        self._cached = 0

    def _rows(self, pf: pq.ParquetFile, names: list[str], i: int) -> list[np.ndarray]:
        """Columns ``names`` of block ``i`` (rows ``[i·BLOCK, (i+1)·BLOCK)``): one row group when the file's row
        groups are blocks, else the slices of the row groups that overlap it. Read by column index on one thread
        (≈ 0.15 ms a column-block, a third of ``ParquetFile.read_row_group``); the last blocks read are kept in a
        small cache (:data:`CACHE_BYTES`), so an expression that reads a column twice reads it once."""
        starts = self._starts[id(pf)]
        index = self._index[id(pf)]
        B = _blocked.BLOCK
        a, b = i * B, min((i + 1) * B, self.n)
        out = []
        for name in names:
            key = (id(pf), name, i)
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                out.append(hit)
                continue
            g = int(np.searchsorted(starts, a, side="right")) - 1
            parts = []
            while g < len(starts) - 1 and starts[g] < b:
                col = pf.reader.read_row_group(g, column_indices=[index[name]], use_threads=False).column(0)
                lo, hi = max(a, starts[g]) - starts[g], min(b, starts[g + 1]) - starts[g]
                if lo or hi < len(col):
                    col = col.slice(lo, hi - lo)
                parts.extend(np.asarray(c) for c in col.chunks)
                g += 1
            arr = parts[0] if len(parts) == 1 else np.concatenate(parts)
            self._cache[key] = arr
            self._cached += arr.nbytes
            while self._cached > CACHE_BYTES and self._cache:
                self._cached -= self._cache.popitem(last=False)[1].nbytes
            out.append(arr)
        return out

    def column_block(self, name: str, i: int) -> np.ndarray:
        """Block ``i`` of per-path column ``name``."""
        return self._rows(self._paths, [name], i)[0]

    def ledger_year_block(self, name: str, year: int, i: int) -> np.ndarray:
        """Block ``i`` of ledger ``name`` in 0-based ``year`` (stored precision)."""
        return self._rows(self._ledgers, [ledger_column(name, year)], i)[0]

    def ledger_block(self, name: str, i: int) -> np.ndarray:
        """Block ``i`` of ledger ``name`` over all its years, ``(rows, years)``."""
        cols = self._rows(self._ledgers, [ledger_column(name, y) for y in range(self.ledger_years[name])], i)
        return np.column_stack(cols) if cols else np.empty((0, 0), dtype=np.float32)

    def files(self) -> list[Path]:
        return [p for p in (self.folder / PATHS_FILE, self.folder / LEDGERS_FILE) if p.exists()]

    @staticmethod
    def _read(pf: pq.ParquetFile, name: str, n: int) -> np.ndarray:
        """One column, row group by row group, into one preallocated array (peak: the column + one row group)."""
        out = None
        at = 0
        for g in range(pf.metadata.num_row_groups):
            part = pf.read_row_group(g, columns=[name]).column(0).to_numpy(zero_copy_only=False)
            if out is None:
                out = np.empty(n, dtype=part.dtype)
            out[at:at + part.size] = part
            at += part.size
        return out if out is not None else np.empty(0)

    def column(self, name: str) -> np.ndarray:
        """The per-path column ``name`` over all paths."""
        if name not in self.columns:
            raise KeyError(name)
        return self._read(self._paths, name, self.n)

    def ledger_year(self, name: str, year: int) -> np.ndarray:
        """Ledger ``name`` in 0-based ``year`` over all paths (stored precision)."""
        if name not in self.ledger_years:
            raise KeyError(name)
        return self._read(self._ledgers, ledger_column(name, year), self.n)

    def iter_ledger(self, name: str) -> Iterator[np.ndarray]:
        for y in range(self.ledger_years[name]):
            yield self.ledger_year(name, y)

    def ledger(self, name: str) -> np.ndarray:
        """The whole ledger ``(paths, years)`` — memory ∝ paths: for analyses, not for the summary."""
        Y = self.ledger_years[name]
        out = None
        for y in range(Y):
            col = self.ledger_year(name, y)
            if out is None:
                out = np.empty((self.n, Y), dtype=col.dtype)
            out[:, y] = col
        return out if out is not None else np.empty((self.n, 0), dtype=np.float32)

    def ledger_row(self, name: str, index: int) -> np.ndarray:
        """Ledger ``name`` of path row ``index`` over the years (reads only the row group that holds it)."""
        Y = self.ledger_years[name]
        at = 0
        for g in range(self._ledgers.metadata.num_row_groups):
            rows = self._ledgers.metadata.row_group(g).num_rows
            if index < at + rows:
                t = self._ledgers.read_row_group(g, columns=[ledger_column(name, y) for y in range(Y)])
                return np.array([t.column(y)[index - at].as_py() for y in range(Y)],
                                dtype=t.schema.field(0).type.to_pandas_dtype())
            at += rows
        raise IndexError(index)

    def head(self, rows: int):
        """The first ``rows`` rows of the per-path table as a pandas DataFrame."""
        import pyarrow as pa
        batches = []
        got = 0
        for b in self._paths.iter_batches(batch_size=min(max(rows, 1), 65_536)):
            batches.append(b)
            got += b.num_rows
            if got >= rows:
                break
        table = pa.Table.from_batches(batches, schema=self._paths.schema_arrow) if batches else \
            self._paths.schema_arrow.empty_table()
        return table.slice(0, rows).to_pandas()


# ------------------------------------------------------------------------------------------------ run-private folders
RUN_PREFIX = "baozhang-run-"
OWNER_LOCK = "owner.lock"


class RunFolder:
    """A run-private folder ``baozhang-run-*`` under ``root`` (None: the system's temporary folder), owned by this
    process for as long as the object lives: ``owner.lock`` inside holds this process's id and an exclusive
    ``flock`` on it. The kernel drops the lock when the process ends, however it ends (SIGKILL included), so
    :func:`remove_stale_run_folders` can tell a dead run's folder from a live one's without trusting process ids.
    The lock file is locked under a temporary name and renamed into place, so no one sees it unlocked."""

    def __init__(self, root: str | Path | None = None):
        self.path = Path(tempfile.mkdtemp(prefix=RUN_PREFIX, dir=root))
        tmp = self.path / f".{OWNER_LOCK}.tmp"
        self._fd = os.open(tmp, os.O_CREAT | os.O_RDWR, 0o600)
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.write(self._fd, f"{os.getpid()}\n".encode())
        os.replace(tmp, self.path / OWNER_LOCK)

    def remove(self) -> None:
        """Delete the folder and release the lock (idempotent)."""
        remove_run_folder(str(self.path), self._fd)
        self._fd = -1


def remove_run_folder(path: str, fd: int) -> None:
    """Remove a run folder, then close (unlock) its lock file descriptor: the folder is gone before it looks stale."""
    shutil.rmtree(path, ignore_errors=True)
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


def remove_stale_run_folders(root: str | Path | None = None) -> list[Path]:
    """Delete the ``baozhang-run-*`` folders under ``root`` (None: the system's temporary folder) whose owner is
    gone: ``owner.lock`` exists and can be locked (its process ended — killed, crashed — without removing it).
    Folders of live runs (locked), and folders without a lock file (being created, or made by older versions of
    the package, whose owner cannot be told), are left alone. Returns the folders removed."""
    if fcntl is None:  # pragma: no cover - no flock (Windows): leave everything
        return []
    base = Path(root) if root is not None else Path(tempfile.gettempdir())
    removed = []
    try:
        candidates = [p for p in base.iterdir() if p.name.startswith(RUN_PREFIX) and p.is_dir()]
    except OSError:
        return []
    for d in candidates:
        try:
            fd = os.open(d / OWNER_LOCK, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: a live run
            os.close(fd)
            continue
        try:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
        finally:
            os.close(fd)
    return removed
