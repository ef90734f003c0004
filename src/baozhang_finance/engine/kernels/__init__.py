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
import os
import threading

from baozhang_finance.engine.kernels import month

#: numba is installed (the compiled engine can run)
AVAILABLE = importlib.util.find_spec("numba") is not None

#: the kernels' compile options: cached on disk, no FMA contraction or reassociation (fastmath off), numpy's
#: division semantics (x / 0 → ±inf or NaN, no exception), no bounds checks
OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy", "boundscheck": False}

#: kernels every compiled plan calls each month whatever its features (their cache says whether this machine has
#: compiled the engine before; a feature's own kernels compile, a few seconds each, when a plan first needs them)
CORE = ("fiscal", "cfads", "waterfall_pay", "waterfall_keep", "metrics_main", "yearly_bulk")

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


def cached() -> bool:
    """Whether numba's on-disk cache holds the :data:`CORE` kernels compiled from today's source for this machine,
    or kernels were compiled in this process — i.e. loading the kernels costs about a second, not the ≈ 15–35 s of
    a first compile.

    numba's cache index (``<function>-<line>.pyXY.nbi``, valid only for today's ``month.py`` stamp) maps
    ``(signature, codegen.magic_tuple(), (bytecode hash, closure hash))`` to a data file, the magic tuple being
    (target triple, CPU name, CPU features) — :func:`cpu_key`. An entry is usable here only when all three parts
    match this machine (and its data file exists): a cache copied from, or shared with, another CPU model or feature
    set reads as not cached, as numba would recompile it at first use. Any signature will do (a kernel's argument
    types follow the plan). False when numba is missing, cannot cache here, or its cache API is not the one this
    reads (then a caller treats the kernels as not compiled yet)."""
    if not AVAILABLE:
        return False
    if any(getattr(k, "signatures", None) for k in K.values()):
        return True  # compiled in this process already (a long-lived app after a large run; no writable cache)
    try:
        caching = importlib.import_module("numba.core.caching")
        codegen = _codegen()
        for name in CORE:
            fn = getattr(month, name)
            fc = caching.FunctionCache(getattr(fn, "py_func", fn))
            _, here, code = fc._index_key(None, codegen)  # this CPU's key, today's function
            index = fc._cache_file._load_index()
            if not any(key[1] == here and key[2] == code and os.path.isfile(os.path.join(fc.cache_path, data))
                       for key, data in index.items()):
                return False
        return True
    except Exception:  # noqa: BLE001 - another numba's internals, no writable cache: "not compiled yet"
        return False


def cpu_key() -> tuple | None:
    """The CPU part of numba's cache key on this machine, ``(triple, cpu name, cpu features)`` — what numba's CPU
    codegen's ``magic_tuple()`` returns (``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` honoured); None without numba."""
    if not AVAILABLE:
        return None
    return _codegen().magic_tuple()


def _codegen():
    """numba's CPU codegen (the one its dispatchers key the cache with); creating it does not compile anything."""
    registry = importlib.import_module("numba.core.registry")
    return registry.cpu_target.target_context.codegen()
