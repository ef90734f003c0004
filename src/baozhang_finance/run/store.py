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
reads them, each column chunk directly (its bytes, its page decoded here) when it has that form — and the snappy,
nullable chunks of folders written before too — else through pyarrow; pandas and pyarrow read the files as any
Parquet file. Pure storage: what is computed from the columns lives in
``run/result.py`` and ``measures/``.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import shutil
import sys
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


def _row_group_starts(pf) -> np.ndarray:
    """First row of each row group, and the number of rows at the end."""
    md = pf.metadata
    return np.concatenate([[0], np.cumsum([md.row_group(g).num_rows for g in range(md.num_row_groups)])]).astype(np.int64)


# ------------------------------------------------------------------------------------------------ raw column chunks
#: Parquet page types and the PLAIN encoding (parquet.thrift)
_DATA_PAGE, _DATA_PAGE_V2, _PLAIN = 0, 3, 0
#: numpy dtype of the stored values, and of the column read back, for the Arrow types a column chunk is read
#: directly for (physical INT32 holds the narrow integers; BOOLEAN is bit-packed)
_RAW_TYPES = {"float": ("FLOAT", "<f4", None), "double": ("DOUBLE", "<f8", None), "int64": ("INT64", "<i8", None),
              "int32": ("INT32", "<i4", None), "uint64": ("INT64", "<u8", None), "uint32": ("INT32", "<u4", None),
              "int16": ("INT32", "<i4", "i2"), "int8": ("INT32", "<i4", "i1"), "uint16": ("INT32", "<i4", "u2"),
              "uint8": ("INT32", "<i4", "u1"), "bool": ("BOOLEAN", None, "?")}
#: the codecs (as pyarrow names them) a column chunk is read directly under: LZ4 (Parquet's LZ4_RAW, the store's;
#: the Hadoop-framed LZ4 is "LZ4_HADOOP"), SNAPPY (folders of before)
_RAW_CODECS = ("UNCOMPRESSED", "SNAPPY", "LZ4")
_CODECS: dict = {}


def _decompress(body, size: int, codec: str):
    """``body`` decompressed (``size`` bytes) under Parquet codec ``codec``."""
    c = _CODECS.get(codec)
    if c is None:
        import pyarrow as pa
        c = _CODECS[codec] = pa.Codec({"SNAPPY": "snappy", "LZ4": "lz4_raw"}[codec])
    return memoryview(c.decompress(body, size)).cast("B")


def _varint(buf, pos: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        out |= (b & 0x7F) << shift
        if b < 0x80:
            return out, pos
        shift += 7


def _thrift_skip(buf, pos: int, t: int) -> int:
    """Skip one value of compact-protocol type ``t``."""
    if t in (1, 2, 3):  # a byte, or a bool inside a list or map (in a struct, the field's type is its value)
        return pos + 1
    if t in (4, 5, 6):
        return _varint(buf, pos)[1]
    if t == 7:
        return pos + 8
    if t == 8:
        n, pos = _varint(buf, pos)
        return pos + n
    if t in (9, 10):
        h = buf[pos]
        pos += 1
        n, et = h >> 4, h & 0x0F
        if n == 15:
            n, pos = _varint(buf, pos)
        for _ in range(n):
            pos = _thrift_skip(buf, pos, et)
        return pos
    if t == 11:
        n, pos = _varint(buf, pos)
        if n:
            kv = buf[pos]
            pos += 1
            for _ in range(n):
                pos = _thrift_skip(buf, pos, kv >> 4)
                pos = _thrift_skip(buf, pos, kv & 0x0F)
        return pos
    if t == 12:
        return _thrift_struct(buf, pos)[1]
    raise ValueError(f"thrift type {t}")


def _thrift_struct(buf, pos: int) -> tuple[dict, int]:
    """A compact-protocol struct: ``{field id: value}`` of its integer and bool fields, nested structs as dicts
    (other fields skipped), and the position after it."""
    out: dict = {}
    fid = 0
    while True:
        h = buf[pos]
        pos += 1
        if h == 0:
            return out, pos
        t, d = h & 0x0F, h >> 4
        if d:
            fid += d
        else:
            v, pos = _varint(buf, pos)
            fid = (v >> 1) ^ -(v & 1)
        if t in (1, 2):
            out[fid] = t == 1
        elif t in (4, 5, 6):
            v, pos = _varint(buf, pos)
            out[fid] = (v >> 1) ^ -(v & 1)
        elif t == 12:
            out[fid], pos = _thrift_struct(buf, pos)
        else:
            pos = _thrift_skip(buf, pos, t)


def _all_defined(levels, n: int) -> bool:
    """Whether the RLE / bit-packed hybrid of ``n`` definition levels of bit width 1 holds only ones (no null)."""
    pos, left = 0, n
    while left > 0:
        h, pos = _varint(levels, pos)
        if h & 1 == 0:  # an RLE run: a count and a one-byte value
            if pos >= len(levels) or levels[pos] != 1:
                return False
            pos += 1
            left -= h >> 1
        else:  # bit-packed groups of 8 values, one byte each
            g = h >> 1
            bits = np.unpackbits(np.frombuffer(levels, np.uint8, g, pos), bitorder="little")[:left]
            if not bits.all():
                return False
            pos += g
            left -= 8 * g
    return True


def _decode_chunk(buf: bytes, rows: int, codec: str, max_def: int, stored: str | None, out: str | None):
    """The values of one column chunk read whole (``buf``): its data pages (v1 or v2, PLAIN, no null; uncompressed,
    LZ4 or snappy) parsed, the values of one page a view of ``buf`` (or of its decompressed page). None for
    anything else (the caller reads the chunk through pyarrow)."""
    pieces = []
    pos, got, size = 0, 0, len(buf)
    while pos < size:
        hdr, pos = _thrift_struct(buf, pos)
        ptype, plain_size, comp_size = hdr.get(1), hdr.get(2), hdr.get(3)
        if comp_size is None or pos + comp_size > size:
            return None
        start, end = pos, pos + comp_size
        pos = end
        if ptype == _DATA_PAGE:
            dp = hdr.get(5) or {}
            nv, enc = dp.get(1), dp.get(2)
            if enc != _PLAIN or nv is None:
                return None
            body = memoryview(buf)[start:end]
            if codec != "UNCOMPRESSED":
                body = _decompress(body, plain_size, codec)
                if len(body) != plain_size:
                    return None
            if max_def:  # v1: the definition levels, length-prefixed, before the values
                ln = int.from_bytes(body[:4], "little")
                if not _all_defined(body[4:4 + ln], nv):
                    return None
                body = body[4 + ln:]
        elif ptype == _DATA_PAGE_V2:
            dp = hdr.get(8) or {}
            nv, nulls, enc = dp.get(1), dp.get(2), dp.get(4)
            dl, rl = dp.get(5, 0), dp.get(6, 0)
            if enc != _PLAIN or nv is None or nulls != 0 or rl:
                return None
            body = memoryview(buf)[start + dl + rl:end]
            if codec != "UNCOMPRESSED" and dp.get(7, True):
                body = _decompress(body, plain_size - dl - rl, codec)
                if len(body) != plain_size - dl - rl:
                    return None
        else:  # a dictionary or index page: not written by the store
            return None
        if stored is None:  # BOOLEAN: bit-packed, least significant bit first
            if len(body) * 8 < nv:
                return None
            pieces.append(np.unpackbits(np.frombuffer(body, np.uint8), count=nv, bitorder="little").view(bool))
        else:
            it = np.dtype(stored).itemsize
            if len(body) != nv * it:
                return None
            pieces.append(np.frombuffer(body, stored))
        got += nv
    if got != rows:
        return None
    arr = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
    if out is not None and stored is not None:
        arr = arr.astype(out)
    arr.flags.writeable = False  # as pyarrow's arrays are: blocks are shared (the store's cache, a Col's memo)
    return arr


class _Part:
    """One open Parquet part file: its ``ParquetFile``, a descriptor for direct reads, and the location of each
    column chunk once looked up (``off[g, j]``: −1 not yet, −2 not readable directly). Not memory-mapped: the
    pages a mapping touched would count in the process's resident memory as long as the part stays open."""

    def __init__(self, path: Path):
        import pyarrow.parquet as pq
        self.pf = pq.ParquetFile(path)
        self.fh = open(path, "rb", buffering=0)
        g, ncols = self.pf.metadata.num_row_groups, self.pf.metadata.num_columns
        self.off = np.full((g, ncols), -1, np.int64)
        self.size = np.zeros((g, ncols), np.int64)
        self.codec = np.zeros((g, ncols), np.int8)


class _Source:
    """The Parquet file(s) of one table of a store: its row groups over all part files in path order (global row
    group g is row group ``local[g]`` of part ``part[g]``, its first row ``starts[g]``), the parts opened on demand
    and at most ``keep`` of them held open (least recently read closed first).

    A column chunk is read directly when it can be (:meth:`chunk`: one ``pread`` of its bytes, its PLAIN pages
    parsed — a few hundredths of a millisecond for 65,536 values, against ≈ 0.4 ms through
    ``read_row_group``), else through pyarrow (:meth:`read`)."""

    def __init__(self, folder: Path, files: list[str], row_groups: list[list[int]] | None, keep: int):
        self.folder = folder
        self.files = files
        self.keep = max(1, int(keep))
        self._open: OrderedDict = OrderedDict()
        first = self._part(0)
        if row_groups is None:  # one file: its own footer says (and it stays open)
            md = first.pf.metadata
            row_groups = [[md.row_group(g).num_rows for g in range(md.num_row_groups)]]
        self.part = np.concatenate([np.full(len(r), k, np.intp) for k, r in enumerate(row_groups)]) \
            if row_groups else np.zeros(0, np.intp)
        self.local = np.concatenate([np.arange(len(r), dtype=np.intp) for r in row_groups]) \
            if row_groups else np.zeros(0, np.intp)
        self.starts = np.concatenate([[0], np.cumsum([x for r in row_groups for x in r])]).astype(np.int64)
        self.n = int(self.starts[-1])
        self.schema = first.pf.schema_arrow
        self.names: list[str] = list(self.schema.names)
        self.index = {c: j for j, c in enumerate(self.names)}
        self._raw = _raw_kinds(self.schema, first.pf.schema)

    def _part(self, k: int) -> _Part:
        f = self._open.get(k)
        if f is not None:
            self._open.move_to_end(k)
            return f
        f = _Part(self.folder / self.files[k])
        self._open[k] = f
        while len(self._open) > self.keep:
            _, old = self._open.popitem(last=False)
            old.fh.close()
        return f

    def pf(self, k: int):
        """Part ``k`` as an open ``ParquetFile``."""
        return self._part(k).pf

    def read(self, g: int, columns: list[int]):
        """Columns (by index) of global row group ``g``, as a pyarrow Table (one thread)."""
        return self.pf(int(self.part[g])).reader.read_row_group(int(self.local[g]), column_indices=columns,
                                                                  use_threads=False)

    def chunk(self, g: int, j: int) -> np.ndarray | None:
        """Column ``j`` of global row group ``g`` read directly (the chunk's bytes, its pages decoded by
        :func:`_decode_chunk`; the same values as :meth:`read`), or None when it is not of a form read so."""
        kind = self._raw[j]
        if kind is None:
            return None
        p = self._part(int(self.part[g]))
        lg = int(self.local[g])
        off = int(p.off[lg, j])
        if off == -1:
            cc = p.pf.metadata.row_group(lg).column(j)
            rows = int(self.starts[g + 1] - self.starts[g])
            ok = cc.compression in _RAW_CODECS and not cc.has_dictionary_page and cc.num_values == rows \
                and cc.physical_type == kind[0]
            off = int(cc.data_page_offset) if ok else -2
            p.off[lg, j], p.size[lg, j] = off, int(cc.total_compressed_size)
            p.codec[lg, j] = _RAW_CODECS.index(cc.compression) if ok else 0
        if off < 0:
            return None
        size = int(p.size[lg, j])
        buf = os.pread(p.fh.fileno(), size, off)
        if len(buf) != size:
            return None
        try:
            return _decode_chunk(buf, int(self.starts[g + 1] - self.starts[g]), _RAW_CODECS[int(p.codec[lg, j])],
                                 kind[3], kind[1], kind[2])
        except (ValueError, IndexError, OSError):  # not a chunk this reader knows how to read: pyarrow reads it
            p.off[lg, j] = -2
            return None

    def paths(self) -> list[Path]:
        return [self.folder / f for f in self.files]


def _raw_kinds(schema, pschema) -> list:
    """Per column: (physical type, stored dtype, dtype read back, max definition level) when its chunks may be read
    directly (a flat column of a listed Arrow type, on a little-endian machine with ``os.pread``), else None."""
    if sys.byteorder != "little" or not hasattr(os, "pread") or len(pschema) != len(schema.names):
        return [None] * len(schema.names)
    out = []
    for j, field in enumerate(schema):
        spec = _RAW_TYPES.get(str(field.type))
        col = pschema.column(j)
        if spec is None or col.max_repetition_level or col.max_definition_level > 1 or col.physical_type != spec[0] \
                or col.path != field.name:
            out.append(None)
        else:
            out.append((*spec, int(col.max_definition_level)))
    return out


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
        groups are blocks, else the slices of the row groups that overlap it. Each column chunk is read directly when
        it can be (:meth:`_Source.chunk`), the others by column index on one thread, in one call per row group; the
        last blocks read are kept in a small cache (:data:`CACHE_BYTES`), so an expression that reads a column
        twice reads it once."""
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
        spans = []  # the row groups that overlap the block, and the rows of each that it takes
        g = int(np.searchsorted(starts, a, side="right")) - 1
        while g < len(starts) - 1 and starts[g] < b:
            spans.append((g, max(a, starts[g]) - starts[g], min(b, starts[g + 1]) - starts[g]))
            g += 1
        parts: list[list] = [[] for _ in missing]
        slow = []  # the columns not read directly: through pyarrow, in one call per row group
        for m, j in enumerate(missing):
            jj = src.index[names[j]]
            for g, lo, hi in spans:
                c = src.chunk(g, jj)
                if c is None:
                    parts[m] = []
                    slow.append(m)
                    break
                parts[m].append(c[lo:hi] if lo or hi < c.size else c)
        if slow:
            idx = [src.index[names[missing[m]]] for m in slow]
            for g, lo, hi in spans:
                t = src.read(g, idx)
                for k, m in enumerate(slow):
                    col = t.column(k)
                    if lo or hi < len(col):
                        col = col.slice(lo, hi - lo)
                    parts[m].extend(np.asarray(c) for c in col.chunks)
                del t
        for m, j in enumerate(missing):
            p = parts[m]
            arr = p[0] if len(p) == 1 else np.concatenate(p)
            self._cache[(id(src), names[j], i)] = arr
            self._cached += arr.nbytes
            out[j] = arr
        while self._cached > CACHE_BYTES and self._cache:
            self._cached -= self._cache.popitem(last=False)[1].nbytes
        return out

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
            part = src.chunk(g, j)
            if part is None:
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
