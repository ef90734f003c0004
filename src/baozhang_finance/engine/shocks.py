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

Replaying path ``k`` of a chunk is ``shocks.rows(slice(k, k + 1))``: the same draws for the whole chunk, of
which only the path's rows are returned. The per-path oracle (tests/oracle.py) reads the same source.
"""

from __future__ import annotations

import numpy as np

N_INNOVATIONS = 7


class Shocks:
    """Lazily drawn shocks of ``n`` paths; call :meth:`month` once per month, in increasing order."""

    def __init__(self, rng: np.random.Generator | None, n: int, event_months=(), stochastic: bool = True):
        self.rng = rng
        self.n = n
        self.events = frozenset(int(m) for m in event_months)
        self.stochastic = bool(stochastic) and rng is not None
        self._events = np.random.Generator(rng.bit_generator.jumped()) if self.stochastic else None

    @classmethod
    def for_plan(cls, market, n: int, rng: np.random.Generator | None) -> "Shocks":
        """The shock source of a chunk of ``n`` paths of a plan's market (none when it is deterministic)."""
        return cls(rng, n, market.relending_event_months, stochastic=not market.deterministic)

    def month(self, t: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(ε_t, u_t)`` of month ``t``: ``(n, 7)`` standard normals (None at t = 0 or without shocks) and
        ``(n,)`` uniforms at relending rollover months (else None)."""
        if not self.stochastic or t == 0:
            return None, None
        eps = self.rng.standard_normal((self.n, N_INNOVATIONS))
        u = self.rng.random(self.n) if t in self.events else None
        return eps, u

    def event_uniforms(self, rows: int) -> np.ndarray | None:
        """``(rows, n)`` uniforms from the event stream (None without shocks: the engine then uses expectations)."""
        if self._events is None:
            return None
        return self._events.random((rows, self.n))

    def rows(self, index) -> "RowShocks":
        """The same stream restricted to rows ``index`` (a slice keeps the 2-D shape): a replay of some paths."""
        return RowShocks(self, index)


class RowShocks:
    """Rows of a parent :class:`Shocks`: draws the whole chunk each month (the stream advances as in the run) and
    returns the selected rows."""

    def __init__(self, parent: Shocks, index):
        self.parent = parent
        self.index = index
        self.stochastic = parent.stochastic
        self.n = len(range(parent.n)[index]) if isinstance(index, slice) else int(np.size(index))

    def event_uniforms(self, rows: int):
        u = self.parent.event_uniforms(rows)
        return None if u is None else u[:, self.index]

    def month(self, t: int):
        eps, u = self.parent.month(t)
        return (None if eps is None else eps[self.index]), (None if u is None else u[self.index])
