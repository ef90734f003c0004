"""Scale-out on Dask (分布式计算): chunks of paths, or whole scenarios, fanned out over a Dask cluster.

Two entry points:

* :func:`iter_chunks_dask` — the ``backend="dask"`` of :func:`baozhang_finance.simulate`. The compiled
  :class:`~baozhang_finance.plan.Plan` is sent once to every worker (:func:`ship_once`,
  ``client.scatter(plan, broadcast=True)``) and every chunk task takes that future, so only
  ``(chunk_index, start, stop, seed)`` travels per task.
  Results stream back as they complete (``as_completed``) and are released **in chunk-index order** through a
  reorder buffer, so the caller's concatenation — and hence every number — is bit-identical to a serial run with
  the same scenario, seed and chunk size, whatever the number of workers or the order they finish in.
* :func:`map_scenarios` — ``fn(item)`` for each item of a sweep, a solver's evaluations or a Sobol design, on the
  same cluster (or serially in-process when no client is given), results in item order.

Failures never hang: an exception inside a task is re-raised as :class:`ChunkFailedError` naming the chunk
(``chunk 3 (paths 30000–39999) failed: ValueError: …``) after the other tasks are cancelled; a worker that dies
mid-task is retried on another worker up to Dask's ``distributed.scheduler.allowed-failures`` times and then
reported the same way (``KilledWorker``); a cluster with no workers for ``baozhang.no-workers-timeout`` seconds
(default 60), a lost scheduler, or no task finishing for ``baozhang.stall-timeout`` seconds (default 1800) raise
:class:`DaskBackendError`. Both timeouts are ordinary Dask config keys (``dask.config.set`` or the environment
variables ``DASK_BAOZHANG__NO_WORKERS_TIMEOUT`` / ``DASK_BAOZHANG__STALL_TIMEOUT``).

Dask is an optional extra: this module imports without it and raises an :class:`ImportError` carrying the
install command (``pip install 'baozhang-finance[dask]'``) only when a Dask function is actually used.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from concurrent.futures import CancelledError
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from baozhang_finance.run.chunks import run_chunk

INSTALL_HINT = "pip install 'baozhang-finance[dask]'"

#: seconds without any worker before giving up (dask config key ``baozhang.no-workers-timeout``)
NO_WORKERS_TIMEOUT_S = 60.0
#: seconds without any task finishing before giving up (dask config key ``baozhang.stall-timeout``)
STALL_TIMEOUT_S = 1800.0
#: seconds allowed to connect to an existing scheduler
CONNECT_TIMEOUT_S = 20.0
_POLL_S = 0.02
_HEALTH_EVERY_S = 2.0

Job = tuple[int, int, int, int]  # (chunk_index, start, stop, seed)


class DaskBackendError(RuntimeError):
    """The Dask backend could not finish: no workers, a lost scheduler, a stall or a failed task."""


class ChunkFailedError(DaskBackendError):
    """A task raised (or its workers kept dying); the message names the chunk or item and the cause."""

    def __init__(self, message: str, index: int):
        super().__init__(message)
        self.index = index


# ------------------------------------------------------------------------------------------ import guard
def require_dask():
    """Import ``dask.distributed`` or raise an ImportError that says how to install it."""
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError as exc:
        raise ImportError(
            f"the dask backend needs the optional dependency dask[distributed], which is not installed "
            f"({exc.name or exc}); install it with: {INSTALL_HINT}"
        ) from exc
    return distributed


def _config_seconds(key: str, default: float) -> float | None:
    import dask
    from dask.utils import parse_timedelta

    value = dask.config.get(key, default)
    if value is None:
        return None
    return float(parse_timedelta(value, default="s"))


# ------------------------------------------------------------------------------------------ clients
def make_client(address: str | None = None, workers: int = 1, **cluster_kwargs):
    """A Dask client: ``Client(address)`` for an existing scheduler, else a new local cluster.

    With no address, a ``LocalCluster`` of ``workers`` worker **processes** with one thread each (the engine is
    NumPy-vectorised and holds the GIL between array operations, so threads would not scale), on free local ports
    (the scheduler and its HTTP/dashboard server alike, so clusters started side by side do not collide). Closing the returned client also shuts that cluster down.
    ``cluster_kwargs`` are passed to ``LocalCluster`` (e.g. ``memory_limit``).
    """
    distributed = require_dask()
    if address:
        try:
            return distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise DaskBackendError(
                f"--scheduler {address}: cannot connect to a Dask scheduler there within "
                f"{CONNECT_TIMEOUT_S:.0f} s ({type(exc).__name__}: {exc})"
            ) from exc
    if int(workers) < 1:
        raise DaskBackendError(f"workers: must be >= 1, got {workers}")
    # ":0": the scheduler's HTTP server (health checks, and the dashboard if bokeh is installed) on a free port,
    # so several clusters on one machine never fight over 8787
    opts = {"n_workers": int(workers), "threads_per_worker": 1, "processes": True, "dashboard_address": ":0",
            "silence_logs": logging.ERROR}
    opts.update(cluster_kwargs)
    # Client() with no address starts the LocalCluster itself and shuts it down in client.close()
    with _children_ignore_sigint():
        return distributed.Client(set_as_default=False, **opts)


@contextmanager
def _children_ignore_sigint():
    """Start worker processes with SIGINT ignored (the disposition survives spawn's exec, and Python then installs
    no KeyboardInterrupt handler): Ctrl-C reaches the whole process group, and the client process alone should
    handle it — closing the cluster — instead of every worker printing a traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _resolve_client(client, workers: int):
    """(client, owned): the given client, else Dask's current default client, else a temporary local one."""
    distributed = require_dask()
    if client is not None:
        return client, False
    try:
        return distributed.default_client(), False
    except ValueError:
        return make_client(None, max(int(workers), 1)), True


@contextmanager
def client_for(client=None, workers: int = 1):
    """Context manager: the given client, else Dask's default client, else a temporary local cluster (closed
    on exit) of ``workers`` processes."""
    client, owned = _resolve_client(client, workers)
    try:
        yield client
    finally:
        if owned:
            client.close()


# ------------------------------------------------------------------------------------------ plan shipping
def ship_once(client, obj, name: str = "plan"):
    """Put ``obj`` (the compiled plan, or a sweep's shared object) on every worker once; returns its future.

    ``client.scatter(obj, broadcast=True)``: one copy per current worker, sent before any task runs, and tasks
    take the future as an argument, so ``obj`` never travels with a task. Because every worker holds it, the
    scheduler places tasks by load, not by where the data sit. A worker that joins later fetches it from a peer
    on its first task. (If every worker holding it dies, the run stops with a clear error naming the chunk.)
    """
    timeout = _config_seconds("baozhang.no-workers-timeout", NO_WORKERS_TIMEOUT_S)
    try:
        # wrapped in a list so that a tuple, list or dict is shipped whole, not scattered element by element
        return client.scatter([obj], broadcast=True, hash=False, timeout=timeout)[0]
    except TimeoutError as exc:
        raise DaskBackendError(
            f"no Dask workers for {timeout or 0:.0f} s (scheduler {_address(client)}): cannot send the {name} to "
            f"the cluster; start workers or check the cluster") from exc


def _chunk_task(plan, chunk_index: int, start: int, stop: int, seed: int, chunk_fn: Callable):
    return chunk_fn(plan, chunk_index, start, stop, seed)


# ------------------------------------------------------------------------------------------ streaming core
def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _stream_in_order(client, futures: Sequence, names: Sequence[str]) -> Iterator[tuple[int, Any]]:
    """Yield ``(position, result)`` in position order as futures complete; cancel the rest on any failure (the
    steps: :class:`_OrderedStream`)."""
    stream = _OrderedStream(client, futures, names)
    try:
        while stream.nxt < stream.n:
            batch = stream.completed.next_batch(block=False)
            if not batch:
                stream.idle(time.monotonic())
                time.sleep(_POLL_S)
                continue
            stream.take(batch)
            while stream.nxt in stream.ready:
                k, value = stream.nxt, stream.fetch_next()
                yield k, value
                stream.nxt += 1
    except GeneratorExit:  # the consumer stopped early: do not leave work running on the cluster
        stream.cancel_pending()
        raise


class _OrderedStream:
    """The reorder buffer of :func:`_stream_in_order`: futures that finished (``ready``) wait until every earlier
    position has been yielded; a stall, a cluster without workers or a failed task aborts with the located error
    after cancelling what is still pending."""

    def __init__(self, client, futures: Sequence, names: Sequence[str]):
        distributed = require_dask()
        self.client, self.names, self.n = client, names, len(futures)
        self.pos_of = {f.key: k for k, f in enumerate(futures)}
        self.pending = {k: f for k, f in enumerate(futures)}
        self.ready: dict[int, Any] = {}
        self.nxt = 0
        self.no_workers_timeout = _config_seconds("baozhang.no-workers-timeout", NO_WORKERS_TIMEOUT_S)
        self.stall_timeout = _config_seconds("baozhang.stall-timeout", STALL_TIMEOUT_S)
        self.completed = distributed.as_completed(list(futures), loop=client.loop)
        self.last_progress = self.last_health = time.monotonic()
        self.no_workers_since: float | None = None

    def cancel_pending(self) -> None:
        remaining = list(self.pending.values())
        self.pending.clear()
        self.ready.clear()
        if remaining:
            try:
                self.client.cancel(remaining)
            except Exception:  # the scheduler may already be gone; the error raised after is what matters
                pass

    def abort(self, error: BaseException):
        self.cancel_pending()
        raise error

    def idle(self, now: float) -> None:
        """Nothing finished since the last look: give up after the stall timeout, or once the cluster has had no
        workers for the no-workers timeout (checked every few seconds)."""
        outstanding = f"{self.n - self.nxt} of {self.n}"
        if self.stall_timeout is not None and now - self.last_progress > self.stall_timeout:
            self.abort(DaskBackendError(
                f"no task finished in {self.stall_timeout:.0f} s; {outstanding} outstanding (next: "
                f"{self.names[self.nxt]}); raise dask config 'baozhang.stall-timeout' for very long tasks"))
        if now - self.last_health < _HEALTH_EVERY_S:
            return
        self.last_health = now
        if _worker_count(self.client) != 0:
            self.no_workers_since = None
            return
        self.no_workers_since = self.no_workers_since or now
        if self.no_workers_timeout is not None and now - self.no_workers_since > self.no_workers_timeout:
            self.abort(DaskBackendError(
                f"no Dask workers for {self.no_workers_timeout:.0f} s (scheduler {_address(self.client)}, client "
                f"status {self.client.status!r}); {outstanding} tasks unfinished (next: {self.names[self.nxt]})"))

    def take(self, batch) -> None:
        """Finished futures into the reorder buffer; an errored or cancelled one aborts the run."""
        self.last_progress = time.monotonic()
        for fut in batch:
            k = self.pos_of[fut.key]
            if fut.status == "error":
                exc = fut.exception()
                self.abort(_chained(ChunkFailedError(f"{self.names[k]} failed: {_describe(exc)}", k), exc))
            if fut.status == "cancelled":
                self.abort(_root_cause(self.pending, self.names, k) or _lost(self.client, self.names[k], k, None))
            self.ready[k] = fut

    def fetch_next(self) -> Any:
        """The result of position ``nxt`` (normally immediate; if the worker holding it died, Dask recomputes it:
        a bounded wait)."""
        k = self.nxt
        fut = self.ready.pop(k)
        try:
            value = fut.result(timeout=self.stall_timeout)
        except TimeoutError as exc:
            self.abort(_chained(DaskBackendError(
                f"{self.names[k]} finished but could not be fetched within {self.stall_timeout:.0f} s "
                f"(its worker died and it was not recomputed)"), exc))
        except Exception as exc:  # lost between completion and gather (worker died holding it)
            if isinstance(exc, CancelledError) or "Cancelled" in type(exc).__name__:
                self.abort(_root_cause(self.pending, self.names, k) or _lost(self.client, self.names[k], k, exc))
            self.abort(_chained(ChunkFailedError(f"{self.names[k]} failed: {_describe(exc)}", k), exc))
        self.pending.pop(k, None)
        fut.release()
        return value


def _root_cause(pending: dict, names: Sequence[str], lost_index: int, wait_s: float = 3.0):
    """When a chunk is lost because a worker died, the chunk that killed it (KilledWorker) is the real news:
    wait briefly for an errored task among the others and report that one instead."""
    deadline = time.monotonic() + wait_s
    while True:
        for k, f in sorted(pending.items()):
            if k != lost_index and f.status == "error":
                exc = f.exception()
                return _chained(ChunkFailedError(f"{names[k]} failed: {_describe(exc)}", k), exc)
        if time.monotonic() >= deadline or not any(f.status == "pending" for f in pending.values()):
            return None
        time.sleep(0.05)


def _lost(client, name: str, index: int, exc: BaseException | None) -> ChunkFailedError:
    why = f" ({_describe(exc)})" if exc is not None else ""
    err = ChunkFailedError(
        f"{name} was lost on the cluster{why}: the worker holding it or its inputs died, or the connection to the "
        f"scheduler {_address(client)} was lost; rerun (results do not depend on where chunks run)", index)
    return _chained(err, exc) if exc is not None else err


def _chained(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


def _worker_count(client) -> int:
    if client.status != "running":
        return 0
    try:
        return len(client.nthreads())
    except Exception:
        return 0


def _address(client) -> str:
    try:
        return str(client.scheduler.address)
    except Exception:
        return "?"


# ------------------------------------------------------------------------------------------ public API
def chunk_name(chunk_index: int, start: int, stop: int) -> str:
    """``chunk 3 (paths 30000–39999)`` — how errors name a chunk (paths inclusive)."""
    return f"chunk {chunk_index} (paths {start}–{stop - 1})"


def iter_chunks_dask(plan, jobs: Iterable[Job], client=None, workers: int = 1,
                     chunk_fn: Callable = run_chunk) -> Iterator[tuple[int, dict]]:
    """Run ``chunk_fn(plan, i, start, stop, seed)`` (default :func:`simulate.run_chunk`) for each job on Dask.

    ``jobs`` = ``[(chunk_index, start, stop, seed), …]``. Yields ``(chunk_index, columns)`` in the order of
    ``jobs`` (index order) as soon as the next chunk in order is back, so progress callbacks advance while later
    chunks still run. ``client``: a ``distributed.Client``; if None, Dask's current default client, else a
    temporary local cluster of ``workers`` processes that is shut down at the end. ``chunk_fn`` must be
    picklable (module-level, or a closure cloudpickle can ship); tests use it to inject failures.
    """
    jobs = [tuple(int(x) for x in job) for job in jobs]
    if not jobs:
        return
    client, owned = _resolve_client(client, workers)
    try:
        plan_future = ship_once(client, plan)
        token = uuid.uuid4().hex[:10]
        futures = [client.submit(_chunk_task, plan_future, i, a, b, s, chunk_fn, key=f"baozhang-chunk-{token}-{i}",
                                 pure=False, retries=0) for i, a, b, s in jobs]
        names = [chunk_name(i, a, b) for i, a, b, _ in jobs]
        try:
            for k, cols in _stream_in_order(client, futures, names):
                yield jobs[k][0], cols
        finally:
            plan_future.release()
    finally:
        if owned:
            client.close()


def _apply(fn: Callable, item, shared, with_shared: bool):
    return fn(item, shared) if with_shared else fn(item)


_NO_SHARED = object()


def map_scenarios(fn: Callable, items: Iterable, client=None, *, shared: Any = _NO_SHARED,
                  label: Callable[[Any], str] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> list:
    """``[fn(item) for item in items]`` fanned out over Dask, results in item order.

    For sweeps (one scenario per grid point), a solver's evaluations (one trial parameter per item) and Sobol /
    Morris designs (one row per item). ``fn`` runs on a worker, so it must be picklable (a module-level
    function, or a closure cloudpickle can ship) and should run the model serially inside
    (``simulate(..., backend="serial")``) — the parallelism is across items. Return something small (a summary
    dict, a few floats) rather than a whole :class:`Result` when items are many.

    ``client``: a ``distributed.Client`` → one task per item on that cluster; ``None`` → a plain in-process loop
    (no Dask needed, same results, same error messages), so callers can take ``client=None`` as their default.
    ``shared``: a large object every call needs (a base scenario, a compiled plan, a design matrix): shipped
    once per worker (:func:`ship_once`) and passed as ``fn(item, shared)``. ``label(item)`` names an item in
    error messages (default ``item <position>``). ``progress(done, total)`` is called as results come back, in
    order.

    Raises :class:`ChunkFailedError` (``item 4 (city=Loudi) failed: ValueError: …``) when a call raises; the
    remaining tasks are cancelled. ``ChunkFailedError.index`` is the item's position.
    """
    items = list(items)
    total = len(items)
    with_shared = shared is not _NO_SHARED
    names = [f"item {k}" + (f" ({label(it)})" if label is not None else "") for k, it in enumerate(items)]
    out: list = []
    if total == 0:
        return out
    if client is None:
        for k, it in enumerate(items):
            try:
                out.append(_apply(fn, it, shared if with_shared else None, with_shared))
            except Exception as exc:
                raise ChunkFailedError(f"{names[k]} failed: {_describe(exc)}", k) from exc
            if progress:
                progress(k + 1, total)
        return out
    require_dask()
    shared_future = ship_once(client, shared, "shared") if with_shared else None
    token = uuid.uuid4().hex[:10]
    try:
        futures = [client.submit(_apply, fn, it, shared_future, with_shared, key=f"baozhang-item-{token}-{k}",
                                 pure=False, retries=0) for k, it in enumerate(items)]
        for k, value in _stream_in_order(client, futures, names):
            out.append(value)
            if progress:
                progress(k + 1, total)
    finally:
        if shared_future is not None:
            shared_future.release()
    return out
