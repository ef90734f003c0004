"""Compiled twins of the month's stages (numba), one kernel per stage, called once a month on the whole state.

Each twin (:mod:`~baozhang_finance.engine.kernels.twins`) has the signature of the numpy stage it mirrors
(:mod:`baozhang_finance.engine.stages`, :mod:`baozhang_finance.engine.cures`), prepares the stage's arrays and calls
one ``@njit`` kernel that loops over the paths (projects and loans inside) and fuses all of the stage's numpy
operations into one pass, without temporaries. The kernels repeat the numpy stage's IEEE operations in the same
order — ``+ − × ÷``, ``np.minimum`` / ``np.maximum`` with their NaN rule (:mod:`._num`), axis-0 sums added row by
row — so that a compiled run has the numpy engine's bits; ``exp`` / ``log`` / ``**`` and matrix products with real
weights stay in numpy (SVML and BLAS round differently from numba's libm and loops) and are passed in.

numba is imported when a run first asks for the compiled engine (:func:`load`), never at import:
``baozhang --help`` does not pay for it. The kernels are plain Python functions until then.
"""

from __future__ import annotations

import importlib
import importlib.util

from baozhang_finance.engine.kernels import _num, cures, loans, metrics, operations, support, waterfall

#: numba is installed (the compiled engine can run)
AVAILABLE = importlib.util.find_spec("numba") is not None

#: the kernels' compile options: cached on disk, no FMA contraction or reassociation (fastmath off), numpy's
#: division semantics (x / 0 → ±inf or NaN, no exception), no bounds checks
OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy", "boundscheck": False}

MODULES = (cures, loans, metrics, operations, support, waterfall)

#: name → compiled kernel, filled by :func:`load`
K: dict = {}


def load() -> dict:
    """Compile (or load from numba's cache) every kernel on first use; returns :data:`K`. The helpers of
    :mod:`._num` are compiled first and put in place of the plain functions the kernel modules imported."""
    if K:
        return K
    numba = importlib.import_module("numba")
    helpers = {name: numba.njit(inline="always", **OPTIONS)(fn) for name, fn in _num.HELPERS.items()}
    jit = numba.njit(**OPTIONS)
    for mod in MODULES:
        for name, h in helpers.items():
            if name in vars(mod):
                setattr(mod, name, h)
        for name in mod.KERNELS:  # a kernel calling another finds the compiled one in its module
            K[name] = jit(getattr(mod, name))
            setattr(mod, name, K[name])
    return K
