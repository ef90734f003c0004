"""Per-path columns reduced block by block: memory set by the block, not by the paths (issue 17 §3).

A :class:`Col` is a column over the paths (1-D) or a ledger over paths × years (2-D) that is never held whole: it
is a function from a block index ``i`` to the rows ``[i·BLOCK, (i+1)·BLOCK)`` (a slice of an in-memory array, or
a read from a run's Parquet column store). Arithmetic, comparisons and numpy ufuncs on a Col give a new Col,
evaluated block by block when reduced; ``col[mask]`` (``mask`` a boolean Col) keeps the rows where the mask holds.
An in-memory run and a streamed run wrap the same values in the same blocks, so every reduction below gives them
the same bits.

Reductions (the lenses' whole vocabulary):

* sums and means: ``S = Σ_b (pairwise sum of block b)``, the blocks added in path order, then ``S / n`` as
  ``np.mean`` divides — for n ≤ BLOCK exactly ``np.sum`` / ``np.mean`` of the whole column (numpy sums a 1-D
  array pairwise); beyond, they can differ from the whole-column figures in the last bits;
* counts, shares (``count / n``), maxima, minima and ``bincount``: exact in any order;
* the running sum in path order (:func:`running_mean`: ``arr.mean(axis=0)`` of a C-ordered table): exact, the
  block's first element continuing the previous block's sum;
* quantiles (:func:`quantile`, ``np.quantile``'s linear default and ``inverted_cdf``): exact. With at most
  :data:`SELECT_CAP` values, they are collected and the order statistics read off one sort
  (:func:`quantile_of_values`; ``np.quantile`` itself for few values, NaN, ±inf or −0); beyond, a radix selection
  over the values' order-preserving 64-bit keys finds each wanted order statistic (pass 1 counts the top 16 bits,
  each further pass counts the next 16 bits inside the bin that holds it, or collects that bin once it holds at
  most :data:`SELECT_CAP` values), then ``np.quantile``'s interpolation is applied to those order statistics with
  its own index and weight formulas;
* the expected shortfall's top-``k`` sum (:func:`expected_shortfall`): the values above the (k+1)-th largest are
  collected (k = (1 − α) n of them, 4 MB at 10,000,000 paths and α = 95 %), sorted and summed as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

#: paths per block (= the column store's row group): the unit every reduction works in
BLOCK = 65_536
#: at most this many values are collected for a quantile (8 MB of float64); more go through the radix selection
SELECT_CAP = 1 << 20
#: a Col keeps its last evaluated block when it is at most this large (a 1-D block of float64 is 512 kB)
MEMO_BYTES = 1 << 20

_SIGN = np.uint64(1 << 63)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


class Col(NDArrayOperatorsMixin):
    """A per-path column (or ``(paths, years)`` ledger) evaluated one block of :data:`BLOCK` paths at a time.

    ``fn(i)`` returns block ``i``; ``n`` is the number of paths of the source (before any row filter),
    ``nblocks`` = ⌈n / BLOCK⌉. ``filtered`` Cols (``col[mask]``) have blocks shorter than BLOCK.
    """

    __array_priority__ = 100

    def __init__(self, n: int, fn: Callable[[int], np.ndarray], filtered: bool = False):
        self.n = int(n)
        self.nblocks = -(-self.n // BLOCK)
        self._src = fn
        self._memo: tuple[int, np.ndarray] | None = None
        self.filtered = filtered
        self._dtype = None

    def _fn(self, i: int) -> np.ndarray:
        """Block ``i``; the last block evaluated is kept (read-only, ≤ :data:`MEMO_BYTES`), so an expression that
        names a Col twice (``x[~np.isnan(x)]``, ``np.where(d, lg * ead, 0)``) evaluates it once per block."""
        m = self._memo
        if m is not None and m[0] == i:
            return m[1]
        b = self._src(i)
        if isinstance(b, np.ndarray) and b.nbytes <= MEMO_BYTES:
            if b.flags.writeable and b.base is None:
                b.flags.writeable = False
            self._memo = (i, b)
        return b

    # ----------------------------------------------------------------- construction
    @classmethod
    def of(cls, arr) -> "Col":
        """A Col over an in-memory array (no copy: the blocks are slices)."""
        if isinstance(arr, Col):
            return arr
        a = np.asarray(arr)
        return cls(a.shape[0], lambda i: a[i * BLOCK:(i + 1) * BLOCK])

    def block(self, i: int) -> np.ndarray:
        return self._fn(i)

    def blocks(self) -> Iterator[np.ndarray]:
        for i in range(self.nblocks):
            yield self._fn(i)

    def map(self, fn: Callable, *others) -> "Col":
        """``fn(block, *other_blocks)`` block by block (an elementwise per-path computation of any form)."""
        srcs = [self, *others]
        return Col(self.n, lambda i: fn(*[_blk(s, i) for s in srcs]), filtered=self.filtered)

    # ----------------------------------------------------------------- array-like
    @property
    def dtype(self):
        if self._dtype is None:
            self._dtype = (self._fn(0) if self.nblocks else np.empty(0)).dtype
        return self._dtype

    @property
    def ndim(self) -> int:
        return self._fn(0).ndim if self.nblocks else 1

    @property
    def size(self) -> int:
        """Number of rows (a pass over the blocks for a filtered Col)."""
        if not self.filtered:
            return self.n
        return int(sum(b.shape[0] for b in self.blocks()))

    def __len__(self) -> int:
        return self.size

    @property
    def shape(self) -> tuple:
        if self.nblocks and self.ndim == 2:
            return (self.size, self._fn(0).shape[1])
        return (self.size,)

    def astype(self, dtype) -> "Col":
        return self.map(lambda b: b.astype(dtype, copy=False))

    def to_numpy(self, dtype=None) -> "Col":
        return self if dtype is None else self.astype(dtype)

    def year(self, y: int) -> "Col":
        """Column ``y`` of a 2-D (paths × years) Col."""
        return self.map(lambda b: b[:, y])

    def __getitem__(self, key):
        if isinstance(key, Col):  # a boolean row mask
            return Col(self.n, lambda i: self._fn(i)[key.block(i)], filtered=True)
        if isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None):
            return self.map(lambda b: b[:, key[1]])
        return np.asarray(self)[key]

    def __array__(self, dtype=None, copy=None):
        """The whole column in memory (memory ∝ paths: for callers outside the summary)."""
        parts = list(self.blocks())
        a = np.concatenate(parts) if parts else np.empty(0)
        return a if dtype is None else a.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or ufunc.nout != 1:
            return NotImplemented
        out = kwargs.pop("out", None)
        where = kwargs.pop("where", None)
        n, filt = _common(inputs + ((out[0],) if out else ()) + ((where,) if where is not None else ()))

        def fn(i):
            args = [_blk(x, i) for x in inputs]
            if out is None:
                if where is not None:
                    return ufunc(*args, where=_blk(where, i), **kwargs)
                return ufunc(*args, **kwargs)
            o = np.array(_blk(out[0], i), copy=True)
            ufunc(*args, out=o, where=True if where is None else _blk(where, i), **kwargs)
            return o
        return Col(n, fn, filtered=filt)

    def __array_function__(self, func, types, args, kwargs):
        handler = _FUNCTIONS.get(func)
        if handler is None:
            return NotImplemented
        return handler(*args, **kwargs)

    # ----------------------------------------------------------------- reductions
    def sum(self, dtype=None):
        return blocked_sum(self, dtype)

    def mean(self):
        return mean(self)

    def max(self):
        return _extreme(self, np.maximum, np.max)

    def min(self):
        return _extreme(self, np.minimum, np.min)

    def any(self) -> bool:
        return any(bool(np.any(b)) for b in self.blocks())

    def all(self) -> bool:
        return all(bool(np.all(b)) for b in self.blocks())

    def std(self, ddof: int = 0):
        return std(self, ddof)

    def __repr__(self) -> str:
        return f"<Col {self.n:,} paths{' (filtered)' if self.filtered else ''}>"


def _blk(x, i):
    """Block ``i`` of a Col; anything else (a scalar, a per-year vector) broadcasts as it is."""
    return x.block(i) if isinstance(x, Col) else x


def _common(inputs) -> tuple[int, bool]:
    cols = [x for x in inputs if isinstance(x, Col)]
    return cols[0].n, any(c.filtered for c in cols)


def as_col(x) -> Col:
    return x if isinstance(x, Col) else Col.of(x)


# ------------------------------------------------------------------------------------------------ sums, means
def blocked_sum(x, dtype=None):
    """Σ over blocks, in path order, of each block's own (pairwise) sum; 2-D: per column. None when no block."""
    acc = None
    for b in as_col(x).blocks():
        if b.ndim == 2:
            s = np.add.reduce(np.ascontiguousarray(b.T), axis=1, dtype=dtype)
        else:
            s = np.add.reduce(b, dtype=dtype)
        acc = s if acc is None else acc + s
    return acc


def _mean_dtype(dt):
    return np.dtype("f8") if issubclass(dt.type, (np.integer, np.bool_)) else None


def mean(x) -> float:
    """Mean of a column: :func:`blocked_sum` ÷ n as ``np.mean`` divides (``np.mean`` itself for n ≤ BLOCK);
    NaN for no rows."""
    c = as_col(x)
    dt = _mean_dtype(c.dtype)
    acc, n = None, 0
    for b in c.blocks():
        s = np.add.reduce(b, dtype=dt)
        acc = s if acc is None else acc + s
        n += b.shape[0]
    if not n:
        return float("nan")
    return float(acc.dtype.type(acc / np.intp(n)))


def nanmean(x) -> float | None:
    """Mean of the non-NaN values (blocked as :func:`mean`); None when there is none."""
    c = as_col(x)
    c = c[~np.isnan(c)] if c.dtype.kind == "f" else c
    m = mean(c)
    return None if np.isnan(m) and not c.size else m


def col_means_nonnan(x2d) -> tuple[list[float | None], list[int]]:
    """Per column of a 2-D Col: the mean of its non-NaN values (each block's filtered column summed pairwise in the
    column's dtype, blocks added in path order, ÷ count as ``np.mean``) and the count."""
    accs, ns = None, None
    for b in as_col(x2d).blocks():
        if accs is None:
            accs, ns = [None] * b.shape[1], [0] * b.shape[1]
        for y in range(b.shape[1]):
            v = b[:, y]
            v = v[~np.isnan(v)]
            if not v.size:
                continue
            s = np.add.reduce(v)
            accs[y] = s if accs[y] is None else accs[y] + s
            ns[y] += v.size
    if accs is None:
        return [], []
    return [float(a.dtype.type(a / np.intp(k))) if k else None for a, k in zip(accs, ns)], ns


def running_mean(x) -> float:
    """``arr.mean(axis=0)`` of one column of a C-ordered table: the running sum in path order ÷ n (exact in
    blocks: each block's cumulative sum starts from the previous total). NaN without rows."""
    tot, n = None, 0
    for b in as_col(x).blocks():
        b = np.asarray(b, dtype=float)
        if not b.size:
            continue
        tot = np.cumsum(b)[-1] if tot is None else np.cumsum(np.concatenate(([tot], b)))[-1]
        n += b.size
    return float(tot / n) if n else float("nan")


def running_nanmean(x) -> float:
    """``np.nanmean(arr, axis=0)`` for one column: running sum of the non-NaN values (NaN read as 0) ÷ their count."""
    c = as_col(x)
    ok = ~np.isnan(c.astype(float))
    cnt = count(ok)
    if not cnt:
        return float("nan")
    tot, n = None, 0
    for b in np.where(ok, c.astype(float), 0.0).blocks():
        if not b.size:
            continue
        tot = np.cumsum(b)[-1] if tot is None else np.cumsum(np.concatenate(([tot], b)))[-1]
    return float(tot / cnt)


def count(mask) -> int:
    """Number of True rows."""
    return int(sum(int(np.count_nonzero(b)) for b in as_col(mask).blocks()))


def share(mask) -> float:
    """Share of rows where ``mask`` holds (= ``mask.mean()``: count ÷ n, exact); NaN without rows."""
    c = as_col(mask)
    n = c.size
    return float(np.float64(count(c)) / np.intp(n)) if n else float("nan")


def _extreme(x, combine, reduce):
    acc = None
    for b in as_col(x).blocks():
        if b.size:
            v = reduce(b)
            acc = v if acc is None else combine(acc, v)
    if acc is None:
        raise ValueError("zero-size array to reduction operation")
    return acc


def nanmax(x) -> float:
    """``np.nanmax`` (NaN when every value is NaN)."""
    acc = None
    for b in as_col(x).blocks():
        b = b[~np.isnan(b)]
        if b.size:
            v = b.max()
            acc = v if acc is None else max(acc, v)
    return float("nan") if acc is None else acc


def std(x, ddof: int = 0) -> float:
    """``x.std(ddof)`` as numpy computes it (mean, then Σ (x − mean)² ÷ (n − ddof), √), each sum blocked."""
    c = as_col(x)
    n = c.size
    m = mean(c)
    acc = None
    for b in c.blocks():
        d = np.asarray(b, dtype=float) - m
        s = np.add.reduce(d * d)
        acc = s if acc is None else acc + s
    return float(np.sqrt(acc / max(n - ddof, 0)))


def bincount(x, minlength: int = 0) -> np.ndarray:
    """``np.bincount`` block by block (counts: exact)."""
    out = np.zeros(minlength, dtype=np.int64)
    for b in as_col(x).blocks():
        c = np.bincount(b, minlength=minlength)
        if c.size > out.size:
            out = np.concatenate([out, np.zeros(c.size - out.size, np.int64)])
        out[:c.size] += c
    return out


def grouped_standard_error(x, groups) -> float:
    """:func:`~baozhang_finance.measures.stats.grouped_standard_error` in blocks, for groups that are contiguous
    runs of paths (antithetic pairs, rqmc replicates: ids non-decreasing in path order): each block's complete
    groups are summed (``np.bincount`` with weights, as before), the rows of its last group carried into the next;
    ``Σ_g (S_g − x̄ m_g)²`` is each block's pairwise sum, blocks added in order. One block: the former bits."""
    xc, gc = as_col(x), as_col(groups)
    m = mean(xc.astype(float))
    total, G, N = None, 0, 0
    cx, cg = np.empty(0), np.empty(0, np.int64)
    last = xc.nblocks - 1
    for i in range(xc.nblocks):
        bx = np.concatenate([cx, np.asarray(xc.block(i), dtype=float)])
        bg = np.concatenate([cg, np.asarray(gc.block(i), dtype=np.int64)])
        N += xc.block(i).shape[0]
        if i < last and bg.size:
            keep = bg == bg[-1]
            cx, cg = bx[keep], bg[keep]
            bx, bg = bx[~keep], bg[~keep]
        if not bg.size:
            continue
        _, inv = np.unique(bg, return_inverse=True)
        sums = np.bincount(inv, weights=bx)
        sizes = np.bincount(inv)
        G += sums.size
        resid = sums - m * sizes
        s = np.sum(resid**2)
        total = s if total is None else total + s
    if G < 2:
        return float("nan")
    return float(np.sqrt(G / (G - 1) * total) / N)


# ------------------------------------------------------------------------------------------------ quantiles
def _keys(v: np.ndarray) -> np.ndarray:
    """Order-preserving uint64 keys of float values (−0 read as +0)."""
    u = (np.asarray(v, dtype=np.float64) + 0.0).view(np.uint64)
    return np.where(u >> np.uint64(63), ~u, u | _SIGN)


def _unkey(k) -> float:
    k = np.uint64(k)
    u = k & ~_SIGN if k & _SIGN else ~k
    return float(np.array([u], dtype=np.uint64).view(np.float64)[0])


def _valid(b: np.ndarray, dropnan: bool) -> np.ndarray:
    return b[~np.isnan(b)] if dropnan and b.dtype.kind == "f" else b


def order_statistics(x, ranks, dropnan: bool = True, first: dict | None = None) -> list:
    """The values at 0-based ``ranks`` of the sorted (non-NaN when ``dropnan``) values of a 1-D Col, in the order
    of ``ranks``, each of the column's dtype; exact, memory ≤ :data:`SELECT_CAP` values + a histogram per target.

    Radix selection on :func:`_keys`: a target is (prefix, bits fixed, rank within the prefix, collect?); each pass
    either counts the next 16 bits of the values sharing its prefix, or — once its bin holds ≤ SELECT_CAP values —
    collects that bin and selects in it. A bin whose values all share one key is resolved without collecting."""
    c = as_col(x)
    dtype = c.dtype
    todo = {int(r): [0, 0, int(r), False] for r in ranks}  # rank → [prefix, bits, rank within prefix, collect]
    found: dict[int, object] = {}
    while todo:
        groups: dict[tuple, dict] = {}
        for r, (p, bits, _, coll) in todo.items():
            groups.setdefault((p, bits, coll), {"ranks": [], "hist": None, "vals": [], "lo": None, "hi": None}
                              )["ranks"].append(r)
        if first is not None:  # the first pass's histogram, counted while the column was scanned
            groups[(0, 0, False)].update(first)
            first = None
        else:
            _count_pass(c, groups, dropnan)
        for (p, bits, coll), g in groups.items():
            if coll:
                vals = np.concatenate(g["vals"]) if g["vals"] else np.empty(0, dtype)
                vals.sort()
                for r in g["ranks"]:
                    found[r] = vals[todo.pop(r)[2]]
                continue
            if g["lo"] is not None and g["lo"] == g["hi"]:  # every value of the bin has one key: that value
                v = np.asarray(_unkey(g["lo"])).astype(dtype)[()]
                for r in g["ranks"]:
                    todo.pop(r)
                    found[r] = v
                continue
            cum = np.cumsum(g["hist"])
            for r in g["ranks"]:
                t = todo[r]
                dgt = int(np.searchsorted(cum, t[2], side="right"))
                t[2] -= int(cum[dgt - 1]) if dgt else 0
                t[0], t[1] = (p << 16) | dgt, bits + 16
                t[3] = int(g["hist"][dgt]) <= SELECT_CAP
                if t[1] == 64 and not t[3]:  # all 64 bits fixed: the key is the value
                    found[r] = np.asarray(_unkey(t[0])).astype(dtype)[()]
                    todo.pop(r)
    return [found[int(r)] for r in ranks]


def _hist_update(g: dict, ks: np.ndarray, bits: int) -> None:
    """Add keys ``ks`` (sharing the group's prefix) to its histogram of the next 16 bits and its key range."""
    if not ks.size:
        return
    d = ((ks >> np.uint64(48 - bits)) & np.uint64(0xFFFF)).astype(np.intp)
    h = np.bincount(d, minlength=1 << 16)
    g["hist"] = h if g["hist"] is None else g["hist"] + h
    lo, hi = ks.min(), ks.max()
    g["lo"] = lo if g["lo"] is None else min(g["lo"], lo)
    g["hi"] = hi if g["hi"] is None else max(g["hi"], hi)


def _count_pass(c: "Col", groups: dict, dropnan: bool) -> None:
    """One pass over the blocks: each group counts (or collects) the values sharing its prefix."""
    for b in c.blocks():
        b = _valid(b, dropnan)
        if not b.size:
            continue
        k = _keys(b)
        for (p, bits, coll), g in groups.items():
            sel = (k >> np.uint64(64 - bits)) == np.uint64(p) if bits else slice(None)
            if coll:
                g["vals"].append(b[sel])
            else:
                _hist_update(g, k[sel], bits)


def _lerp(a, b, t):
    """numpy's ``_lerp`` (numpy/lib/_function_base_impl.py): a + (b − a) t, or b − (b − a)(1 − t) where t ≥ 0.5."""
    diff_b_a = b - a
    res = np.asanyarray(np.add(a, diff_b_a * t))
    np.subtract(b, diff_b_a * (1 - t), out=res, where=t >= 0.5, casting="unsafe", dtype=type(res.dtype))
    return res[()] if res.ndim == 0 else res


def _without_nan(b: np.ndarray, dropnan: bool) -> tuple[np.ndarray, int]:
    """A block and its number of NaN rows; the NaN rows dropped when ``dropnan`` (non-float blocks: none)."""
    if b.dtype.kind != "f":
        return b, 0
    m = np.isnan(b)
    k = int(np.count_nonzero(m))
    return (b[~m] if dropnan and k else b), k


def _scan(c: Col, dropnan: bool) -> tuple[int, int, np.ndarray | None, dict | None]:
    """One pass: (rows, NaN rows, the values — NaN dropped when ``dropnan`` — if there are at most SELECT_CAP of
    them, else None, and then the first radix pass's histogram of all of them)."""
    n, nan, kept = 0, 0, 0
    parts: list | None = []
    first = None
    for b in c.blocks():
        n += b.shape[0]
        b, k = _without_nan(b, dropnan)
        nan += k
        if parts is not None:
            parts.append(b)
            kept += b.shape[0]
            if kept > SELECT_CAP:  # too many to keep: count them instead
                first = {"hist": None, "lo": None, "hi": None}
                for p in parts:
                    _hist_update(first, _keys(p), 0)
                parts = None
        else:
            _hist_update(first, _keys(b), 0)
    vals = (np.concatenate(parts) if parts else np.empty(0, dtype=c.dtype if c.nblocks else float)) \
        if parts is not None else None
    return n, nan, vals, first


def _collect(c: Col, dropnan: bool) -> np.ndarray:
    """Every (non-NaN when ``dropnan``) value of a Col, in memory."""
    parts = [_valid(b, dropnan) for b in c.blocks()]
    return np.concatenate(parts) if parts else np.empty(0, dtype=c.dtype if c.nblocks else float)


def quantile(x, q, method: str = "linear", dropnan: bool = False):
    """``np.quantile(x, q, method=method)`` (``dropnan``: of the non-NaN values), exact, in bounded memory.

    With at most :data:`SELECT_CAP` values they are collected and read off one sort (:func:`quantile_of_values`;
    numpy itself for few values, NaN, ±inf or −0); beyond, the order statistics
    numpy would read are found by :func:`order_statistics` and combined by numpy's own formulas: linear —
    virtual index (n − 1) q, neighbours ⌊·⌋ and ⌊·⌋ + 1 (both the last value at or past n − 1), weight = index −
    the lower neighbour, :func:`_lerp` (a Python-float ``q`` keeps the column's precision, as numpy's weak
    promotion does); inverted_cdf — the value at n q − 1 when that is whole, else at ⌊n q − 1⌋ + 1, at least 0.
    A column holding NaN (and not ``dropnan``) gives NaN, as numpy does."""
    c = as_col(x)
    n, nan, vals, first = _scan(c, dropnan)
    nv = n - nan if dropnan else n
    if dropnan and not nv:  # np.nanquantile of only NaN
        res = np.full(np.shape(q), np.nan)
        return res[()] if res.ndim == 0 else res
    if vals is not None:
        return quantile_of_values(vals, q, method=method)
    if not _plain_q(q):
        raise ValueError("Quantiles must be in the range [0, 1] and of type float64 here (a column beyond "
                         f"{SELECT_CAP:,} values is never collected for np.quantile)")
    weak = type(q) in (int, float)
    if nan and not dropnan:
        res = np.full(np.asanyarray(q, dtype=np.float64).shape, np.nan)
        return res[()] if res.ndim == 0 else res
    return _numpy_quantile_of(nv, q, method, c.dtype, lambda need: order_statistics(c, need, dropnan, first), weak)


def _numpy_quantile_of(nv: int, q, method: str, dtype, select, weak: bool):
    """``np.quantile`` of ``nv`` values (no NaN) from their order statistics: ``select(ranks)`` gives the values at
    the sorted 0-based ``ranks``; numpy's index, weight and :func:`_lerp` formulas (see :func:`quantile`)."""
    qa = np.asanyarray(q, dtype=np.float64)
    if method == "inverted_cdf":
        vi = nv * qa - 1
        prev = np.floor(vi)
        idx = np.maximum(np.where(vi - prev == 0, prev, prev + 1), 0).astype(np.intp)
        need = sorted(set(np.atleast_1d(idx).tolist()))
        look = dict(zip(need, select(need)))
        out = np.array([look[int(i)] for i in np.atleast_1d(idx)], dtype=dtype).reshape(qa.shape)
        return out[()] if out.ndim == 0 else out
    if method != "linear":
        raise ValueError(f"quantile: method {method!r} is not supported beyond {SELECT_CAP} values")
    vi = np.asanyarray((nv - 1) * qa)
    prev = np.floor(vi)
    nxt = prev + 1
    above, below = vi >= nv - 1, vi < 0
    prev_i = np.where(above, -1, np.where(below, 0, prev)).astype(np.intp)
    next_i = np.where(above, -1, np.where(below, 0, nxt)).astype(np.intp)
    need = sorted({int(i) % nv for i in np.concatenate([np.atleast_1d(prev_i), np.atleast_1d(next_i)])})
    look = dict(zip(need, select(need)))
    a = np.array([look[int(i) % nv] for i in np.atleast_1d(prev_i)], dtype=dtype).reshape(qa.shape)
    b = np.array([look[int(i) % nv] for i in np.atleast_1d(next_i)], dtype=dtype).reshape(qa.shape)
    gamma = np.asanyarray(vi - prev_i, dtype=vi.dtype)
    if weak:
        gamma = float(gamma)
    return _lerp(a, b, gamma)


#: collected values beyond which :func:`quantile_of_values` reads the order statistics off a sort instead of
#: calling ``np.quantile`` (below, both cost about the same)
FAST_SELECT_MIN = 1 << 12
_NEG_ZERO = {4: (np.uint32, np.uint32(1 << 31)), 8: (np.uint64, np.uint64(1 << 63))}


def quantile_of_values(vals: np.ndarray, q, method: str = "linear"):
    """``np.quantile(vals, q, method=method)`` of collected values, bit for bit: for more than
    :data:`FAST_SELECT_MIN` finite float32 or float64 values without −0, the order statistics numpy reads are
    read off the sorted values (:func:`select_in_memory`; numpy's vectorised sort of 10⁶ values takes a fifth to
    a tenth of the time of ``np.quantile``'s partition at ten ranks) and numpy's formulas applied
    (:func:`_numpy_quantile_of`); else numpy itself. An order statistic is one value whatever the selection (ties
    have equal bits) except for zeros of either sign and NaN payloads, hence the conditions."""
    if vals.size <= FAST_SELECT_MIN or vals.dtype not in (np.float32, np.float64) \
            or method not in ("linear", "inverted_cdf") or not _plain_q(q):
        return np.quantile(vals, q, method=method)
    lo, hi = vals.min(), vals.max()
    ut, neg0 = _NEG_ZERO[vals.dtype.itemsize]
    if not (np.isfinite(lo) and np.isfinite(hi)) or (lo <= 0 <= hi and bool((vals.view(ut) == neg0).any())):
        # NaN, ±inf (the NaN payloads of the interpolation) or −0 (which of the equal zeros numpy returns):
        # numpy's own bits
        return np.quantile(vals, q, method=method)
    return _numpy_quantile_of(vals.size, q, method, vals.dtype, lambda need: select_in_memory(vals, need),
                              type(q) in (int, float))


def _plain_q(q) -> bool:
    """Whether ``q`` is a Python number or a float64 or integer array-like within [0, 1] — the probabilities
    numpy's formulas are reproduced for (numpy computes the index of a float32 ``q`` in float32, and raises for
    ``q`` outside [0, 1])."""
    qa = np.asanyarray(q)
    if not (type(q) in (int, float) or qa.dtype == np.float64 or qa.dtype.kind in "iu"):
        return False
    return bool(((qa >= 0) & (qa <= 1)).all())


def select_in_memory(vals: np.ndarray, ranks) -> list:
    """The values at 0-based ``ranks`` of the sorted ``vals`` (no NaN), exact: ``vals`` sorted once (numpy's
    vectorised sort: faster than one ``kth`` partition per rank once the values hold many ties, and about as fast
    on distinct values)."""
    s = np.sort(vals)
    return [s[int(r)] for r in ranks]


def median(x):
    """``np.median``: the middle value, or the mean of the two middle values (``np.mean`` of the pair); NaN when the
    column holds NaN."""
    c = as_col(x)
    n, nan, vals, first = _scan(c, False)
    if vals is not None:
        return np.median(vals)
    if nan:
        return np.float64(np.nan)
    mid = n // 2
    pair = order_statistics(c, [mid] if n % 2 else [mid - 1, mid], dropnan=False, first=first)
    return np.mean(np.array(pair, dtype=c.dtype))


def value_at_risk(x, level: float) -> float:
    """``np.quantile(x, level, method="inverted_cdf")`` of the float64 values, in bounded memory."""
    return float(quantile(as_col(x).astype(float), level, method="inverted_cdf"))


def expected_shortfall(x, level: float) -> float:
    """:func:`~baozhang_finance.measures.stats.expected_shortfall` in bounded memory: with the values sorted from the
    largest and m = n (1 − α), k = ⌊m⌋, ES = (Σ_{i<k} x_(i) + (m − k) x_(k)) / m; the k largest are the values above
    the (k+1)-th largest (found by :func:`order_statistics`) and its ties, summed from the largest as before."""
    c = as_col(x).astype(float)
    n, nan, vals, first = _scan(c, False)
    if vals is not None:
        return _es_of_sorted(np.sort(vals)[::-1], n, level)
    if nan:
        return float("nan")
    m = n * (1.0 - level)
    k = int(np.floor(m + 1e-9))
    if m <= 0:
        return float(c.max())
    if k >= n:
        return _es_of_sorted(np.sort(_collect(c, False))[::-1], n, level)
    (t,) = order_statistics(c, [n - 1 - k], dropnan=False, first=first)  # the (k+1)-th largest, x_desc[k]
    above = np.sort(np.concatenate([b[b > t] for b in c.blocks()]))[::-1]
    top = np.concatenate([above, np.full(k - above.size, t)])
    total = top[:k].sum() + (m - k) * t
    return float(total / m)


def _es_of_sorted(x: np.ndarray, n: int, level: float) -> float:
    """The former expected shortfall on the values sorted from the largest (stats.expected_shortfall)."""
    if n == 0:
        return float("nan")
    m = n * (1.0 - level)
    k = int(np.floor(m + 1e-9))
    if m <= 0:
        return float(x[0])
    total = x[:k].sum() + ((m - k) * x[k] if k < n else 0.0)
    return float(total / m)


def fan_stats(x, qs, mean: str | None = "blocked", dropnan: bool = False) -> tuple[int, float | None, object]:
    """``(rows, mean, quantiles)`` of a 1-D Col in one pass over its blocks while its values number at most
    :data:`SELECT_CAP` (else the quantiles by :func:`quantile`'s further passes), each with the bits of the separate
    reductions: rows = ``x.size``; mean = :func:`mean` (``"blocked"``), :func:`running_mean` (``"running"``),
    :func:`running_nanmean` (``"running_nan"``) or None; quantiles = ``quantile(x, qs, dropnan=dropnan)`` (None
    without rows). What a fan of a year needs, for one evaluation of the year's expression instead of three."""
    c = as_col(x)
    dt = _mean_dtype(c.dtype) if mean == "blocked" else None
    n, acc, tot, cnt = 0, None, None, 0
    parts: list | None = []
    kept, nan = 0, 0
    for b in c.blocks():
        n += b.shape[0]
        if mean == "blocked":
            s = np.add.reduce(b, dtype=dt)
            acc = s if acc is None else acc + s
        elif mean in ("running", "running_nan"):
            f = np.asarray(b, dtype=float)
            if mean == "running_nan":
                ok = ~np.isnan(f)
                cnt += int(np.count_nonzero(ok))
                f = np.where(ok, f, 0.0)
            if f.size:
                tot = np.cumsum(f)[-1] if tot is None else np.cumsum(np.concatenate(([tot], f)))[-1]
        b, k = _without_nan(b, dropnan)
        nan += k
        if parts is not None:
            parts.append(b)
            kept += b.shape[0]
            if kept > SELECT_CAP:
                parts = None
    if mean == "blocked":
        mv = float(acc.dtype.type(acc / np.intp(n))) if n else float("nan")
    elif mean == "running":
        mv = float(tot / n) if n else float("nan")
    elif mean == "running_nan":
        mv = float(tot / cnt) if cnt else float("nan")
    else:
        mv = None
    if not n:
        return 0, mv, None
    if parts is None:
        return n, mv, quantile(c, qs, dropnan=dropnan)
    if dropnan and not n - nan:
        res = np.full(np.shape(qs), np.nan)
        return n, mv, res[()] if res.ndim == 0 else res
    vals = np.concatenate(parts) if parts else np.empty(0, dtype=c.dtype)
    return n, mv, quantile_of_values(vals, qs)


def quantile_dict(x, qs=(0.05, 0.5, 0.95)) -> dict:
    """``stats.quantiles``: ``{"p05": …}`` of the non-NaN values (None when there is none), exact."""
    keys = [f"p{int(round(q * 100)):02d}" for q in qs]
    c = as_col(x).astype(float)
    v = np.atleast_1d(quantile(c, qs, dropnan=True))  # all NaN when no value is (an extra pass only then)
    if np.isnan(v).all() and not any(bool((~np.isnan(b)).any()) for b in c.blocks()):
        return {k: None for k in keys}
    return {k: float(u) for k, u in zip(keys, v)}


_FUNCTIONS = {
    np.where: lambda cond, a, b: Col(_common((cond, a, b))[0],
                                     lambda i: np.where(_blk(cond, i), _blk(a, i), _blk(b, i)),
                                     filtered=_common((cond, a, b))[1]),
    np.clip: lambda a, lo, hi, **kw: a.map(lambda x: np.clip(x, lo, hi, **kw)),
    np.ones_like: lambda a, dtype=None: a.map(lambda x: np.ones_like(x, dtype=dtype)),
    np.full_like: lambda a, v, dtype=None: a.map(lambda x: np.full_like(x, v, dtype=dtype)),
    np.mean: lambda a, **kw: mean(a),
    np.max: lambda a, **kw: a.max(),
    np.min: lambda a, **kw: a.min(),
    np.nanmax: lambda a, **kw: nanmax(a),
    np.quantile: lambda a, q, method="linear", **kw: quantile(a, q, method=method),
    np.nanquantile: lambda a, q, **kw: quantile(a, q, dropnan=True),
    np.median: lambda a, **kw: median(a),
    np.size: lambda a, axis=None: a.size,
}
