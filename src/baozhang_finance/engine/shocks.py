"""The shock source the engine reads: the standard normals and uniforms of one chunk.

Randomness is passed in, never drawn inside a stage. A :class:`Shocks` draws lazily, month by month, from the
chunk's generator in exactly the order the model has always used — for each month ``t ≥ 1`` an ``(n, 7)``
standard-normal array ``ε_t`` (order :data:`baozhang_finance.model.scenario.DRIVERS`), then, at a relending
rollover month, ``n`` uniforms ``u_t`` (even when the non-renewal probability is 0, so that varying it keeps the
other draws common) — so a chunk's numbers depend only on (scenario, seed, chunk size, chunk index).
Month 0 and deterministic plans draw nothing.

Events that happen once per path (a bank repricing a loan when relending ends, …) draw their uniforms from a
second stream, :meth:`Shocks.event_uniforms`: a generator on the chunk generator's bit generator *jumped* once
(``bit_generator.jumped()``, 2^127 steps ahead for PCG64), taken before any monthly draw — so the monthly stream
is untouched (every legacy number stays the same) and the event draws depend only on the chunk, in the order
the engine asks for them (fixed by the plan).

**Sampling** (``[simulation] sampling``, carried on the market plan):

* ``"mc"`` — plain Monte Carlo, the draws above (the default; every number of old).
* ``"antithetic"`` — paths come in pairs ``(2k, 2k+1)`` of a chunk: path 2k+1 gets ``−ε_t`` where path 2k gets
  ``ε_t`` (from one ``(⌈n/2⌉, 7)`` draw a month) and ``1 − u`` where it gets ``u`` (relending and event
  uniforms alike). An odd chunk leaves its last path unpaired. Standard errors come from the pair means
  (:func:`sampling_groups`).
* ``"rqmc"`` — randomized quasi-Monte Carlo: the chunk is cut into blocks of ``rqmc_points`` paths (a power of
  2); each block is one independent replicate — the chunk's LMS-scrambled Sobol net (``scipy.stats.qmc``, the
  scramble seeded from the chunk generator) under the replicate's own random digital shift (:func:`rqmc_points`),
  over ``d = event rows + relending months + 7 (T − 1)`` dimensions.
  The first dimensions are the once-per-path event uniforms, then the relending uniforms, then the normals
  (inverse-normal transform, ``scipy.special.ndtri``) in **Brownian-bridge order**: dimensions ``7k + i`` are
  the ``k``-th bridge node of driver ``i`` (node 0 = the driver's sum of all its monthly shocks, node 1 its
  mid-point, …), and the monthly shocks are the increments of the bridge — exactly i.i.d. N(0, 1) per path,
  so the estimator is unbiased, with the coarse shape of each path on the best Sobol coordinates. The points
  of a chunk are made on its first draw (``event_uniforms`` or the first month). Standard errors come from the
  replicate means (:func:`sampling_groups`).

Replaying path ``k`` of a chunk is ``shocks.rows(slice(k, k + 1))``: the same draws for the whole chunk, of
which only the path's rows are returned. The per-path oracle (tests/oracle.py) reads the same source.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

N_INNOVATIONS = 7
SAMPLINGS = ("mc", "antithetic", "rqmc")
#: Sobol points per replicate unless the scenario says otherwise
RQMC_POINTS = 1024
_TINY = 2.0**-53


class Shocks:
    """Lazily drawn shocks of ``n`` paths; call :meth:`month` once per month, in increasing order."""

    def __init__(self, rng: np.random.Generator | None, n: int, event_months=(), stochastic: bool = True,
                 sampling: str = "mc", months: int | None = None, rqmc_points: int = RQMC_POINTS):
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling: {sampling!r} is not one of {', '.join(SAMPLINGS)}")
        self.rng = rng
        self.n = n
        self.events = frozenset(int(m) for m in event_months)
        self.stochastic = bool(stochastic) and rng is not None
        self.sampling = sampling if self.stochastic else "mc"
        self._events = np.random.Generator(rng.bit_generator.jumped()) if self.stochastic else None
        self.months = months
        self.rqmc_points = int(rqmc_points)
        self._q = None  # rqmc: the chunk's transformed points, made on first use
        self._event_rows: int | None = None  # rqmc: the event rows the chunk asks for in all (reserve_events)
        self._event_next = 0  # rqmc: the next event row to hand out

    @classmethod
    def for_plan(cls, market, n: int, rng: np.random.Generator | None) -> "Shocks":
        """The shock source of a chunk of ``n`` paths of a plan's market (none when it is deterministic)."""
        return cls(rng, n, market.relending_event_months, stochastic=not market.deterministic,
                   sampling=getattr(market, "sampling", "mc"), months=len(market.stress_log_price),
                   rqmc_points=getattr(market, "rqmc_points", RQMC_POINTS))

    def month(self, t: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(ε_t, u_t)`` of month ``t``: ``(n, 7)`` standard normals (None at t = 0 or without shocks) and
        ``(n,)`` uniforms at relending rollover months (else None)."""
        if not self.stochastic or t == 0:
            return None, None
        if self.sampling == "rqmc":
            q = self._points(0)
            return q["eps"][t - 1], (q["relend"][q["relend_index"][t]] if t in self.events else None)
        if self.sampling == "antithetic":
            h = (self.n + 1) // 2
            eps = _pairs(self.rng.standard_normal((h, N_INNOVATIONS)), self.n, lambda z: -z)
            u = _pairs(self.rng.random(h), self.n, lambda v: 1.0 - v) if t in self.events else None
            return eps, u
        eps = self.rng.standard_normal((self.n, N_INNOVATIONS))
        u = self.rng.random(self.n) if t in self.events else None
        return eps, u

    def reserve_events(self, rows: int) -> None:
        """Say, before the first draw, how many event rows the chunk will ask for in all (its calls to
        :meth:`event_uniforms` then hand them out in order). rqmc makes them one block of its net's dimensions;
        mc and antithetic draw each call as it comes, so the reservation changes none of their numbers."""
        if self._q is not None:
            raise RuntimeError("rqmc: event rows must be reserved before the first draw")
        self._event_rows = int(rows)

    def event_uniforms(self, rows: int) -> np.ndarray | None:
        """``(rows, n)`` uniforms from the event stream (None without shocks: the engine then uses expectations)."""
        if self._events is None:
            return None
        if self.sampling == "rqmc":
            q = self._points(self._event_rows if self._event_rows is not None else rows)
            a, b = self._event_next, self._event_next + rows
            if b > q["event_rows"]:
                raise RuntimeError(f"rqmc: {b} event rows asked for, {q['event_rows']} made: reserve them all "
                                   "(reserve_events) before the first draw")
            self._event_next = b
            return q["events"][a:b]
        if self.sampling == "antithetic":
            h = (self.n + 1) // 2
            return _pairs(self._events.random((h, rows)), self.n, lambda v: 1.0 - v).T.copy()
        return self._events.random((rows, self.n))

    def rows(self, index) -> "RowShocks":
        """The same stream restricted to rows ``index`` (a slice keeps the 2-D shape): a replay of some paths."""
        return RowShocks(self, index)

    # ------------------------------------------------------------------ rqmc
    def _points(self, event_rows: int) -> dict:
        if self._q is None:
            if self.months is None:
                raise ValueError("rqmc: the shock source needs the number of months (Shocks.for_plan)")
            self._q = rqmc_points(self.rng, self.n, self.months, sorted(self.events), event_rows,
                                  self.rqmc_points)
        return self._q


class RowShocks:
    """Rows of a parent :class:`Shocks`: draws the whole chunk each month (the stream advances as in the run) and
    returns the selected rows."""

    def __init__(self, parent: Shocks, index):
        self.parent = parent
        self.index = index
        self.stochastic = parent.stochastic
        self.n = len(range(parent.n)[index]) if isinstance(index, slice) else int(np.size(index))

    def reserve_events(self, rows: int) -> None:
        self.parent.reserve_events(rows)

    def event_uniforms(self, rows: int):
        u = self.parent.event_uniforms(rows)
        return None if u is None else u[:, self.index]

    def month(self, t: int):
        eps, u = self.parent.month(t)
        return (None if eps is None else eps[self.index]), (None if u is None else u[self.index])


def _pairs(first: np.ndarray, n: int, mirror) -> np.ndarray:
    """Interleave a draw for the even rows with its mirror for the odd rows: rows 2k, 2k+1 are a pair."""
    out = np.empty((n,) + first.shape[1:])
    out[0::2] = first
    out[1::2] = mirror(first[: n // 2])
    return out


# ---------------------------------------------------------------------------------------------- rqmc
@lru_cache(maxsize=8)
def bridge_schedule(k: int) -> tuple[tuple[int, int, int, float, float, float], ...]:
    """Brownian-bridge construction of ``W_1 … W_k`` (W_0 = 0), coarse to fine: for the j-th normal, the node it
    sets, its left and right neighbours already set and the weights ``W_node = a W_left + b W_right + s z``."""
    out = [(k, 0, 0, 0.0, 0.0, float(np.sqrt(k)))]
    queue = [(0, k)]
    while queue:
        nxt = []
        for lo, hi in queue:
            if hi - lo < 2:
                continue
            mid = (lo + hi) // 2
            a, b = (hi - mid) / (hi - lo), (mid - lo) / (hi - lo)
            out.append((mid, lo, hi, a, b, float(np.sqrt((mid - lo) * (hi - mid) / (hi - lo)))))
            nxt += [(lo, mid), (mid, hi)]
        queue = nxt
    return tuple(out)


def bridge_increments(z: np.ndarray) -> np.ndarray:
    """``z`` ``(k, …)`` i.i.d. N(0, 1) in bridge order → the ``k`` increments ``W_t − W_{t−1}`` (i.i.d. N(0, 1))."""
    k = z.shape[0]
    w = np.zeros((k + 1,) + z.shape[1:])
    for j, (node, lo, hi, a, b, s) in enumerate(bridge_schedule(k)):
        w[node] = a * w[lo] + b * w[hi] + s * z[j]
    return np.diff(w, axis=0)


def rqmc_points(rng: np.random.Generator, n: int, months: int, event_months, event_rows: int,
                block: int) -> dict:
    """The chunk's scrambled-Sobol shocks: ``eps`` ``(T − 1, n, 7)``, the relending uniforms ``(E, n)`` and the
    event uniforms ``(event_rows, n)``.

    One LMS-scrambled Sobol net of ``block`` points per chunk (``scipy.stats.qmc.Sobol``, 30 bits, seeded from
    the chunk generator); replicate ``r`` (paths ``[r·block, (r+1)·block)``) is that net under its own random
    *digital shift* (XOR of every coordinate's 30 bits with an independent uniform integer). Each shifted point
    is uniform on [0, 1)^d whatever the scramble, so every replicate mean is unbiased and the replicates are
    i.i.d. given the net: the standard error of their mean is honest. (A fresh scramble per replicate costs
    ≈ 60 ms for d ≈ 2,500 — more than simulating the block.) The last replicate of a chunk may be shorter: it
    takes the first points of the net."""
    from scipy.special import ndtri
    from scipy.stats import qmc

    k = months - 1
    e = len(event_months)
    d = event_rows + e + N_INNOVATIONS * k
    block = min(block, 1 << int(np.ceil(np.log2(max(n, 1)))))
    net = qmc.Sobol(d, scramble=True, bits=30, seed=rng).random_base2(int(np.log2(block)))
    net = np.rint(net * 2.0**30).astype(np.uint32)
    eps = np.empty((k, n, N_INNOVATIONS))
    relend = np.empty((e, n))
    events = np.empty((event_rows, n))
    for a in range(0, n, block):
        b = min(a + block, n)
        shift = rng.integers(0, 2**30, size=d, dtype=np.uint32)
        u = np.bitwise_xor(net[: b - a], shift) * 2.0**-30
        np.clip(u, _TINY, 1.0 - _TINY, out=u)
        events[:, a:b] = u[:, :event_rows].T
        relend[:, a:b] = u[:, event_rows:event_rows + e].T
        z = np.ascontiguousarray(ndtri(u[:, event_rows + e:]).reshape(b - a, k, N_INNOVATIONS).transpose(1, 0, 2))
        eps[:, a:b] = bridge_increments(z)
    return {"eps": eps, "relend": relend, "events": events, "event_rows": event_rows,
            "relend_index": {int(m): i for i, m in enumerate(event_months)}}


def sampling_groups(path: np.ndarray, chunk_size: int, sampling: str, rqmc_points: int = RQMC_POINTS) -> np.ndarray:
    """The independent unit each path belongs to: itself (mc), its antithetic pair, or its rqmc replicate.
    Means over these units are i.i.d. (pairs, replicates), so the standard error is computed from them."""
    path = np.asarray(path, dtype=np.int64)
    if sampling == "mc":
        return path
    chunk, local = np.divmod(path, int(chunk_size))
    if sampling == "antithetic":
        return chunk * chunk_size + local // 2
    if sampling == "rqmc":
        per_chunk = -(-int(chunk_size) // int(rqmc_points))
        return chunk * per_chunk + local // int(rqmc_points)
    raise ValueError(f"sampling: {sampling!r} is not one of {', '.join(SAMPLINGS)}")
