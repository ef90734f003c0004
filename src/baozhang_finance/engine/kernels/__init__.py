"""Compiled twins of the month's stages (numba), one kernel per stage, called once a month on the whole state.

Each twin (:mod:`~baozhang_finance.engine.kernels.twins`) has the signature of the numpy stage it mirrors
(:mod:`baozhang_finance.engine.stages`, :mod:`baozhang_finance.engine.cures`), prepares the stage's arrays and calls
one ``@njit`` kernel (:mod:`~baozhang_finance.engine.kernels.month`) that loops over the paths (projects and loans
outside) and fuses all of the stage's numpy operations, without temporaries. The kernels repeat the numpy stage's
IEEE operations in the same order — ``+ − × ÷``, ``np.minimum`` / ``np.maximum`` with their NaN and signed-zero
rules, axis-0 sums added row by row — so that a compiled run has the numpy engine's bits, byte for byte;
``exp`` / ``log`` / ``**`` and matrix products with real weights stay in numpy (SVML and BLAS round differently
from numba's libm and loops) and are passed in.

numba is imported when a run first asks for the compiled engine (:func:`load`), never at import:
``baozhang --help`` does not pay for it. The kernels are plain Python functions until then.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading

from baozhang_finance.engine.kernels import month

#: numba is installed (the compiled engine can run)
AVAILABLE = importlib.util.find_spec("numba") is not None

#: the kernels' compile options: cached on disk, no FMA contraction or reassociation (fastmath off), numpy's
#: division semantics (x / 0 → ±inf or NaN, no exception), no bounds checks
OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy", "boundscheck": False}

#: name → compiled kernel, filled by :func:`load`
K: dict = {}
_LOCK = threading.Lock()  # one compile per process, whichever thread starts first (a threaded backend)


def load() -> dict:
    """Compile (or load from numba's cache) every kernel on first use; returns :data:`K`. The helpers are compiled
    first (inlined where called) and each compiled function takes the place of the plain one in
    :mod:`~baozhang_finance.engine.kernels.month`, so that a kernel calling another calls the compiled one."""
    if K:
        return K
    with _LOCK:
        if K:
            return K
        numba = importlib.import_module("numba")
        for name in month.HELPERS:
            setattr(month, name, numba.njit(inline="always", **OPTIONS)(getattr(month, name)))
        jit = numba.njit(**OPTIONS)
        compiled = {}
        for name in month.KERNELS:
            compiled[name] = jit(getattr(month, name))
            setattr(month, name, compiled[name])
        K.update(compiled)  # all at once: a caller never sees a part of them
    return K
