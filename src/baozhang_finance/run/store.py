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
are stored as they are (no nulls: NaN stays NaN; the fields are not nullable), PLAIN, LZ4-compressed, one data page
per column chunk, so a column read back is bit for bit the concatenation of the chunks' columns. :class:`ColumnStore`
reads them through pyarrow (folders written before — snappy, nullable fields — read the same way). Pure storage:
what is computed from the columns lives in ``run/result.py`` and ``measures/``.
"""

from __future__ import annotations

import ctypes
import json
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
#: row groups per ledger part file (16 × 65,536 = 1,048,576 paths): the writer closes ``ledgers.parquet`` after
#: this many and goes on in ``ledgers.00001.parquet``, … — a Parquet writer keeps the footer of every row group it
#: wrote (≈ 300 column chunks each) until it closes, ≈ 4 MB per million paths (decision 63)
PART_ROW_GROUPS = 16
#: ledger part files a reader keeps open (their footers parsed, ≈ 4.4 MB each; least recently read closed first):
#: 10 — a 10,000,000-path store (10 parts) never reopens one; a lens that reads every part in turn costs ≈ 35 % more
#: CPU when each read reopens its part (measured: 4 parts, 2 kept open), and the reader's footers stay ≤ ≈ 44 MB
#: at any size
OPEN_PARTS = 10
#: the list of ledger parts (files, rows per row group) of a store with more than one, beside them
PARTS_FILE = "ledgers.parts.json"


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

#: glibc ``mallopt`` parameters (malloc.h): M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_TUNED = False


def keep_freed_pages() -> bool:
    """Let the C heap reuse the pages of freed arrays (glibc ``mallopt``: arrays up to 256 MB from the heap, not
    fresh ``mmap``s; up to 512 MB of free heap top kept, 64 MB of padding): the engine allocates and frees its
    month's ``(P, n)`` temporaries every month, and each fresh mapping is faulted in and zeroed by the kernel again
    (measured: ≈ 80,000 minor faults and 0.2–0.3 s of system time per 20,000 demo paths, ≈ 10 % of the engine's
    CPU; none with this). Memory is not held longer than before: the peak is the chunk's, and a summary still hands
    free pages back (:func:`release_free_memory`). Once per process, for the processes that run chunks; nothing
    on other C libraries. Returns whether it applied."""
    global _TUNED
    if _TUNED:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # pragma: no cover
        return False
    _TUNED = bool(mallopt(_M_MMAP_THRESHOLD, 256 << 20) and mallopt(_M_TRIM_THRESHOLD, 512 << 20)
                  and mallopt(_M_TOP_PAD, 64 << 20))
    return _TUNED


def ledger_column(name: str, year: int) -> str:
    """Column name of ledger ``name``, 0-based ``year``, in ``ledgers.parquet``."""
    return f"{name}/{year:02d}"


class ColumnWriter:
    """Append chunk column dicts to ``paths.parquet`` and ``ledgers.parquet`` in ``folder`` (created if needed)."""

    def __init__(self, folder: str | Path, row_group_rows: int | None = None, part_row_groups: int | None = None):
        _system_pool()
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.row_group_rows = int(row_group_rows if row_group_rows is not None else ROW_GROUP_ROWS)
        self._buffer: list[dict[str, np.ndarray]] = []
        self._buffered = 0
        self.part_row_groups = max(1, int(part_row_groups if part_row_groups is not None else PART_ROW_GROUPS))
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._parts: list[tuple[str, list[int]]] = []  # ledger part files and the rows of their row groups
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
        rg = self.row_group_rows
        buf, self._buffer, self._buffered = self._buffer, [], 0
        total = sum(len(c["path"]) for c in buf)
        take = total if final else (total // rg) * rg
        paths: dict[str, np.ndarray] = {}
        ledgers: dict[str, np.ndarray] = {}
        rest: dict[str, np.ndarray] = {}
        for k in list(buf[0]):
            parts = [c.pop(k) for c in buf]
            whole = parts[0] if len(parts) == 1 else np.concatenate(parts)  # one chunk: as it is (its layout too)
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
            table = _table(part)
            if fname == PATHS_FILE:
                if fname not in self._writers:
                    self._writers[fname] = _parquet_writer(self.folder / fname, table.schema, rg)
                self._writers[fname].write_table(table, row_group_size=rg)
                self.rows += table.num_rows
            else:  # the ledgers: one row group at a time, a new part file every part_row_groups row groups
                for a in range(0, table.num_rows, rg):
                    piece = table.slice(a, rg)
                    if fname not in self._writers or len(self._parts[-1][1]) >= self.part_row_groups:
                        self._next_part(table.schema)
                    self._writers[fname].write_table(piece, row_group_size=rg)
                    self._parts[-1][1].append(piece.num_rows)
                    del piece
            del table
            part.clear()

    def _next_part(self, schema) -> None:
        """Close the current ledger part (its footer leaves memory) and open the next: ``ledgers.parquet``, then
        ``ledgers.00001.parquet``, …"""
        w = self._writers.pop(LEDGERS_FILE, None)
        if w is not None:
            w.close()
            del w
            release_free_memory()
        name = part_file(len(self._parts))
        self._parts.append((name, []))
        self._writers[LEDGERS_FILE] = _parquet_writer(self.folder / name, schema, self.row_group_rows)

    def close(self) -> "ColumnStore":
        """Write what is buffered, close the files (and list the ledger parts when there are several) and open them
        for reading."""
        self._flush(final=True)
        for w in self._writers.values():
            w.close()
        self._writers.clear()
        if len(self._parts) > 1:
            doc = {"format": 1, "parts": [{"file": f, "row_groups": rgs} for f, rgs in self._parts]}
            tmp = self.folder / f".{PARTS_FILE}.tmp"
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, self.folder / PARTS_FILE)
        return ColumnStore(self.folder)

    def abort(self) -> None:
        """Close the open files after an error (the folder is the caller's to remove)."""
        for pw in self._writers.values():
            pw.close()
        self._writers.clear()


def part_file(k: int) -> str:
    """File name of ledger part ``k``: ``ledgers.parquet`` (the first, and the only one of a store of up to
    PART_ROW_GROUPS row groups — the layout of before), then ``ledgers.00001.parquet``, …"""
    return LEDGERS_FILE if k == 0 else f"ledgers.{k:05d}.parquet"


def _parquet_writer(path: Path, schema, rows: int):
    """A Parquet writer of the store: LZ4 (LZ4_RAW: as small as snappy on these columns, decompressed ≈ 7 times
    faster — 0.06 against 0.43 ms for 65,536 float32 values of debt service), no dictionary, no column statistics
    (a min and max per column chunk that nothing reads would grow the footer the writer keeps until it closes and
    the reader parses), one data page per column chunk of ``rows`` values (a chunk is then one page to decode)."""
    import pyarrow.parquet as pq
    kw = dict(compression="lz4", use_dictionary=False, write_statistics=False, data_page_size=64 << 20)
    try:
        return pq.ParquetWriter(path, schema, max_rows_per_page=max(int(rows), 1), **kw)
    except TypeError:  # pragma: no cover - pyarrow without max_rows_per_page: pages of its default rows
        return pq.ParquetWriter(path, schema, **kw)


def _table(cols: dict[str, np.ndarray]):
    """The columns as an Arrow table whose fields are not nullable (REQUIRED in Parquet: no definition levels to
    write or read; NaN is a value, not a null)."""
    import pyarrow as pa
    arrays = [pa.array(v) for v in cols.values()]
    return pa.Table.from_arrays(arrays, schema=pa.schema([pa.field(k, a.type, nullable=False)
                                                          for k, a in zip(cols, arrays)]))


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
        w.abort()
        raise
    store = w.close()
    del w
    release_free_memory()  # the chunks' and row groups' heap back to the system before anything reads the store
    return store


class _Source:
    """The Parquet file(s) of one table of a store: its row groups over all part files in path order (global row
    group g is row group ``local[g]`` of part ``part[g]``, its first row ``starts[g]``), the parts opened on demand
    and at most ``keep`` of them held open (least recently read closed first)."""

    def __init__(self, folder: Path, files: list[str], row_groups: list[list[int]] | None, keep: int):
        import pyarrow.parquet as pq
        self._pq = pq
        self.folder = folder
        self.files = files
        self.keep = max(1, int(keep))
        self._open: OrderedDict = OrderedDict()
        if row_groups is None:  # one file: its own footer says (and it stays open)
            pf = self.pf(0)
            row_groups = [[pf.metadata.row_group(g).num_rows for g in range(pf.metadata.num_row_groups)]]
        self.part = np.concatenate([np.full(len(r), k, np.intp) for k, r in enumerate(row_groups)]) \
            if row_groups else np.zeros(0, np.intp)
        self.local = np.concatenate([np.arange(len(r), dtype=np.intp) for r in row_groups]) \
            if row_groups else np.zeros(0, np.intp)
        self.starts = np.concatenate([[0], np.cumsum([x for r in row_groups for x in r])]).astype(np.int64)
        self.n = int(self.starts[-1])
        self.schema = self.pf(0).schema_arrow
        self.names: list[str] = list(self.schema.names)
        self.index = {c: j for j, c in enumerate(self.names)}

    def pf(self, k: int):
        """Part ``k`` as an open ``ParquetFile``."""
        f = self._open.get(k)
        if f is not None:
            self._open.move_to_end(k)
            return f
        f = self._pq.ParquetFile(self.folder / self.files[k])
        self._open[k] = f
        while len(self._open) > self.keep:
            self._open.popitem(last=False)
        return f

    def read(self, g: int, columns: list[int]):
        """Columns (by index) of global row group ``g``, as a pyarrow Table (one thread)."""
        return self.pf(int(self.part[g])).reader.read_row_group(int(self.local[g]), column_indices=columns,
                                                                  use_threads=False)

    def paths(self) -> list[Path]:
        return [self.folder / f for f in self.files]


class ColumnStore:
    """Read a column store written by :class:`ColumnWriter` (or a run folder saved from one): ``paths.parquet``,
    and ``ledgers.parquet`` with, for more than PART_ROW_GROUPS row groups, the further parts that
    ``ledgers.parts.json`` lists (a folder of before, one ledgers file, reads as one part)."""

    def __init__(self, folder: str | Path):
        _system_pool()
        self.folder = Path(folder)
        self._paths = _Source(self.folder, [PATHS_FILE], None, keep=1)
        self.n = self._paths.n
        self.columns: list[str] = list(self._paths.names)
        self._ledgers = None
        listing = self.folder / PARTS_FILE
        if listing.exists():
            doc = json.loads(listing.read_text())
            self._ledgers = _Source(self.folder, [p["file"] for p in doc["parts"]],
                                    [list(p["row_groups"]) for p in doc["parts"]], keep=OPEN_PARTS)
        elif (self.folder / LEDGERS_FILE).exists():
            self._ledgers = _Source(self.folder, [LEDGERS_FILE], None, keep=1)
        years: dict[str, int] = {}
        for c in (self._ledgers.names if self._ledgers is not None else []):
            name, _, y = c.rpartition("/")
            years[name] = max(years.get(name, 0), int(y) + 1)
        self.ledger_years = years
        self._cache: OrderedDict = OrderedDict()
        self._cached = 0

    def _rows(self, src: _Source, names: list[str], i: int) -> list[np.ndarray]:
        """Columns ``names`` of block ``i`` (rows ``[i·BLOCK, (i+1)·BLOCK)``): one row group when the file's row
        groups are blocks, else the slices of the row groups that overlap it. Read by column index on one thread
        (≈ 0.15 ms a column-block, a third of ``ParquetFile.read_row_group``); the last blocks read are kept in a
        small cache (:data:`CACHE_BYTES`), so an expression that reads a column twice reads it once. The columns
        not cached are read in one call per row group."""
        starts = src.starts
        B = _blocked.BLOCK
        a, b = i * B, min((i + 1) * B, self.n)
        out: list = [None] * len(names)
        missing = []
        for j, name in enumerate(names):
            key = (id(src), name, i)
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                out[j] = hit
            else:
                missing.append(j)
        if not missing:
            return out
        idx = [src.index[names[j]] for j in missing]
        parts: list[list] = [[] for _ in missing]
        g = int(np.searchsorted(starts, a, side="right")) - 1
        while g < len(starts) - 1 and starts[g] < b:
            t = src.read(g, idx)
            lo, hi = max(a, starts[g]) - starts[g], min(b, starts[g + 1]) - starts[g]
            for m in range(len(missing)):
                col = t.column(m)
                if lo or hi < len(col):
                    col = col.slice(lo, hi - lo)
                parts[m].extend(np.asarray(c) for c in col.chunks)
            del t
            g += 1
        for m, j in enumerate(missing):
            p = parts[m]
            arr = p[0] if len(p) == 1 else np.concatenate(p)
            self._cache[(id(src), names[j], i)] = arr
            self._cached += arr.nbytes
            out[j] = arr
        while self._cached > CACHE_BYTES and self._cache:
            self._cached -= self._cache.popitem(last=False)[1].nbytes
        return out

    def clear_cache(self) -> None:
        """Drop the column-blocks kept from earlier reads (a reader of many stores at once — a streamed province
        reads one block of every city's — keeps none, so its memory does not grow with the stores)."""
        self._cache.clear()
        self._cached = 0

    def column_block(self, name: str, i: int) -> np.ndarray:
        """Block ``i`` of per-path column ``name``."""
        return self._rows(self._paths, [name], i)[0]

    def ledger_year_block(self, name: str, year: int, i: int) -> np.ndarray:
        """Block ``i`` of ledger ``name`` in 0-based ``year`` (stored precision)."""
        return self._rows(self._ledgers, [ledger_column(name, year)], i)[0]

    def ledger_block(self, name: str, i: int) -> np.ndarray:
        """Block ``i`` of ledger ``name`` over all its years, ``(rows, years)`` (the years read in one call)."""
        cols = self._rows(self._ledgers, [ledger_column(name, y) for y in range(self.ledger_years[name])], i)
        return np.column_stack(cols) if cols else np.empty((0, 0), dtype=np.float32)

    def files(self) -> list[Path]:
        """The store's files (a saved run folder links them all)."""
        out = [self.folder / PATHS_FILE]
        if self._ledgers is not None:
            out += self._ledgers.paths()
            if (self.folder / PARTS_FILE).exists():
                out.append(self.folder / PARTS_FILE)
        return [p for p in out if p.exists()]

    def _read(self, src: _Source, name: str, n: int) -> np.ndarray:
        """One column, row group by row group, into one preallocated array (peak: the column + one row group)."""
        out = None
        at = 0
        j = src.index[name]
        for g in range(len(src.starts) - 1):
            part = src.read(g, [j]).column(0).to_numpy(zero_copy_only=False)
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
        src = self._ledgers
        if not 0 <= index < src.n:
            raise IndexError(index)
        g = int(np.searchsorted(src.starts, index, side="right")) - 1
        t = src.read(g, [src.index[ledger_column(name, y)] for y in range(Y)])
        at = int(src.starts[g])
        return np.array([t.column(y)[index - at].as_py() for y in range(Y)],
                        dtype=t.schema.field(0).type.to_pandas_dtype())

    def head(self, rows: int):
        """The first ``rows`` rows of the per-path table as a pandas DataFrame."""
        import pyarrow as pa
        batches = []
        got = 0
        pf = self._paths.pf(0)
        for b in pf.iter_batches(batch_size=min(max(rows, 1), 65_536)):
            batches.append(b)
            got += b.num_rows
            if got >= rows:
                break
        table = pa.Table.from_batches(batches, schema=pf.schema_arrow) if batches else pf.schema_arrow.empty_table()
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
