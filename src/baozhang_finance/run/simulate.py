"""Chunked, seeded Monte Carlo: serial, local processes or Dask, always bit-identical.

Chunk ``i`` covers paths ``[i·chunk, min((i+1)·chunk, paths))`` and draws from
``Generator(PCG64(SeedSequence(seed, spawn_key=(i,))))``. A chunk's numbers therefore depend only on
(scenario, seed, chunk size, i) — never on the backend or the number of workers — and chunks are merged by
concatenation in index order, so every backend returns the same bits.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from itertools import islice

import numpy as np

from baozhang_finance.engine.loop import choose_engine, with_engine
from baozhang_finance.engine.plan import Plan, compile_plan
from baozhang_finance.measures import fiscal
from baozhang_finance.measures.blocked import Col
from baozhang_finance.model.scenario import Scenario, ScenarioError
from baozhang_finance.run import dask_backend, uncertainty
from baozhang_finance.run.chunks import chunk_bounds, chunk_generator, per_path_columns, run_chunk  # noqa: F401
from baozhang_finance.run.result import Result
from baozhang_finance.run.settings import STREAM_PATHS, RunSettings

Progress = Callable[[int, int], None]


# ------------------------------------------------------------------------------------------ backends
_WORKER_PLAN: Plan | None = None


def _init_worker(plan: Plan) -> None:
    global _WORKER_PLAN
    # Ctrl-C reaches the whole process group: the parent handles it and stops the workers (no worker traceback)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler (inherited through fork)
    _WORKER_PLAN = plan


def _stop_pool(ex: ProcessPoolExecutor) -> None:
    """Stop a process pool now: cancel what is queued, terminate the workers (kill those that linger)."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    writer = getattr(getattr(ex, "_result_queue", None), "_writer", None)  # shutdown() forgets the queue
    _quiet_thread(getattr(ex, "_executor_manager_thread", None))
    ex.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():  # pragma: no cover - a worker that ignores SIGTERM
            proc.kill()
            proc.join(timeout=5)
    # A worker terminated while sending a result leaves half a message in the result pipe; the pool's manager
    # thread then blocks reading the rest for ever (and the interpreter joins it at exit). The workers are gone:
    # closing our copy of the pipe's write end turns that read into EOF, and the thread ends as for a broken pool.
    if writer is not None:
        try:
            writer.close()
        except OSError:  # pragma: no cover
            pass


def _quiet_thread(thread) -> None:
    """The pool's manager thread fails (broken pool, closed pipe) once we stop the pool on purpose: that error is
    expected, so it is not printed as a traceback; every other thread's errors are reported as before."""
    if thread is None:
        return
    previous = threading.excepthook

    def hook(args) -> None:
        if args.thread is not thread:
            previous(args)

    threading.excepthook = hook


def _worker_chunk(args):
    i, a, b, seed, chunk_fn = args
    return i, chunk_fn(_WORKER_PLAN, i, a, b, seed)


#: chunks handed to a process pool ahead of the one the caller waits for, per worker: enough that no worker waits
#: while the caller takes a result, few enough that finished chunks never pile up in the caller (a busy machine)
AHEAD_PER_WORKER = 3


def _in_order(ex: ProcessPoolExecutor, jobs: list, window: int):
    """``ex.map(_worker_chunk, jobs)`` with at most ``window`` jobs submitted and not yet taken: results come in
    job order, and the caller holds at most ``window`` finished chunks however far it falls behind (``Executor.map``
    submits every job at once, so a slow consumer would hold every chunk done meanwhile)."""
    todo = iter(jobs)
    pending: deque = deque(ex.submit(_worker_chunk, job) for job in islice(todo, max(1, window)))
    while pending:
        done = pending.popleft().result()
        job = next(todo, None)
        if job is not None:
            pending.append(ex.submit(_worker_chunk, job))
        yield done


def _iter_chunks(plan: Plan, bounds, first_index: int, seed: int, workers: int, backend: str, client=None,
                 chunk_fn: Callable = run_chunk):
    """Yield (chunk_index, columns) in index order. ``chunk_fn(plan, i, start, stop, seed)`` (default
    :func:`run_chunk`; a module-level function) runs one task: run/portfolio.py passes its (city × chunk) task."""
    jobs = [(first_index + k, a, b, seed) for k, (a, b) in enumerate(bounds)]
    if backend == "serial" or workers <= 1 and backend == "processes":
        for i, a, b, s in jobs:
            yield i, chunk_fn(plan, i, a, b, s)
    elif backend == "processes":
        ex = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(plan,))
        try:
            yield from _in_order(ex, [job + (chunk_fn,) for job in jobs], AHEAD_PER_WORKER * workers)
        except BaseException:  # an interrupt, a termination, a failed chunk, the consumer stopping early
            _stop_pool(ex)
            raise
        ex.shutdown(wait=True)
    elif backend == "dask":
        yield from dask_backend.iter_chunks_dask(plan, jobs, client=client, workers=workers, chunk_fn=chunk_fn)
    else:
        raise ScenarioError(f"backend: unknown backend {backend!r} (serial, processes, dask)")


def simulate(
    scenario: Scenario,
    paths: int | None = None,
    seed: int | None = None,
    chunk_size: int | None = None,
    workers: int = 1,
    backend: str | None = None,
    stress: str | None = None,
    deterministic: bool = False,
    target_se: float | None = None,
    max_paths: int | None = None,
    progress: Progress | None = None,
    client=None,
    sampling: str | None = None,
    stream: bool | None = None,
) -> Result:
    """Run the Monte Carlo and return a :class:`Result`.

    ``deterministic=True`` runs one path with every market input on its expected path (no shocks).
    ``target_se`` keeps adding chunks until the standard error of P(hidden-debt call) is ≤ ``target_se`` and the
    standard error of the expected hidden-debt PV is ≤ ``target_se`` × its mean (relative), or ``max_paths``
    is reached; the paths run are then a whole number of chunks, identical to a fixed run of that size.
    ``sampling`` (``"mc"``, ``"antithetic"``, ``"rqmc"``; default the scenario's ``[simulation].sampling``) says
    how the shocks are drawn (:mod:`baozhang_finance.engine.shocks`); every standard error follows it.
    ``backend`` None: local processes when ``workers`` > 1, else serial.
    ``stream``: write the per-path table and yearly ledgers to a run-private Parquet column store chunk by chunk
    (:mod:`baozhang_finance.run.store`) instead of holding them in memory, so that memory is set by the chunk,
    not by the paths; the Result reads them back one column at a time, and its numbers are bit for bit those of
    an in-memory run. None (default): stream when ``paths`` ≥ :data:`~baozhang_finance.run.settings.STREAM_PATHS`
    (under ``target_se``, once STREAM_PATHS paths have run: its stopping rule reads running sums, not the columns;
    never for the deterministic path).
    """
    s = RunSettings(paths, seed, chunk_size, stress, deterministic, sampling).resolved(scenario)
    paths, seed, chunk_size = s.paths, s.seed, s.chunk_size
    if s.sampling != scenario.simulation.sampling:
        scenario = scenario.model_copy(update={"simulation": scenario.simulation.model_copy(update={"sampling": s.sampling})})
    backend = resolve_backend(backend, workers)
    if backend == "dask" and client is None and target_se is not None and not deterministic:
        # the adaptive loop runs many batches: one cluster for all of them, not one per batch
        with dask_backend.client_for(None, workers) as client:
            return simulate(scenario, paths=paths, seed=seed, chunk_size=chunk_size, workers=workers,
                            backend=backend, stress=stress, target_se=target_se, max_paths=max_paths,
                            progress=progress, client=client, sampling=s.sampling, stream=stream)
    plan = compile_plan(scenario, stress=stress, deterministic=deterministic)
    cap = int(max_paths if max_paths is not None else max(paths, 1_000_000))  # an adaptive run's most paths
    size = 1 if deterministic else (paths if target_se is None else cap)
    plan = with_engine(plan, choose_engine(plan, paths=size))  # one choice for the run (adaptive: its cap)
    chunks = uncertainty.plans(plan, scenario, stress, seed, deterministic)  # plan itself unless parameters are drawn
    t0 = time.perf_counter()
    execute = dict(seed=seed, workers=workers, backend=backend, client=client)
    info = dict(seed=seed, chunk_size=chunk_size, backend=backend, workers=workers, stress=stress,
                deterministic=deterministic, sampling=s.sampling, scenario=scenario, target_se=target_se,
                engine=plan.market.engine)
    if (target_se is None or deterministic) and _stream_wanted(stream, paths, deterministic, target_se):
        with closing(_fixed_chunks(chunks, paths, chunk_size, **execute)) as stream_:
            res = Result.from_chunks(scenario, plan, stream_, run_info(paths=paths, wall=0.0, **info),
                                     progress=(lambda done: progress(done, paths)) if progress else None)
        return _streamed_record(res, t0, chunks is not plan, chunk_size)
    target: dict = {}  # an adaptive run's stopping record (_target_record)
    if target_se is None or deterministic:
        with closing(_fixed_chunks(chunks, paths, chunk_size, **execute)) as stream_:
            columns = _fill_columns(stream_, paths, progress)
    else:
        columns, target = _adaptive_run(scenario, plan, chunks, cap, target_se, stream, progress, info, t0, execute)
        if isinstance(columns, Result):
            return columns
        paths = len(columns["path"])
    record = run_info(paths=paths, wall=time.perf_counter() - t0, **info)
    record.update(target)
    if chunks is not plan:
        record["parameter_uncertainty"] = uncertainty.run_record(
            *(Col.of(columns[k]) for k in ("hidden_debt_pv", "hidden_call", "path")), chunk_size)
    return Result(scenario=scenario, plan=plan, columns=columns, run=record)


def resolve_backend(backend: str | None, workers: int) -> str:
    """The executor a run uses: as given, but local processes when None and ``workers`` > 1, and serial for one
    worker of local processes (or None)."""
    if workers < 1:
        raise ScenarioError(f"workers: must be >= 1, got {workers}")
    if backend is None:
        backend = "processes" if workers > 1 else "serial"
    return "serial" if backend == "processes" and workers == 1 else backend


def _fixed_chunks(chunks, paths: int, chunk_size: int, seed: int, workers: int, backend: str, client):
    """Every chunk's columns of a fixed-size run, in index order. The caller wraps it in closing(), as it wraps
    the executor: an interrupt while a chunk is being stored (outside the generator) must still stop the workers
    now, not when the traceback that references the generator is freed (after exit's thread joins)."""
    with closing(_iter_chunks(chunks, chunk_bounds(paths, chunk_size), 0, seed, workers, backend, client)) as stream:
        for _, cols in stream:
            yield cols


def _fill_columns(chunk_columns, paths: int, progress: Progress | None) -> dict[str, np.ndarray]:
    """Preallocated columns filled chunk by chunk: peak memory stays ≈ the final table, never twice it."""
    columns: dict[str, np.ndarray] = {}
    done = 0
    for cols in chunk_columns:
        n = len(cols["path"])
        if not columns:
            columns = {k: np.empty((paths,) + v.shape[1:], dtype=v.dtype) for k, v in cols.items()}
        for k, v in cols.items():
            columns[k][done:done + n] = v
        done += n
        if progress:
            progress(done, paths)
    return columns


def _adaptive_run(scenario, plan, chunks, cap: int, target_se: float, stream, progress, info: dict, t0: float,
                  execute: dict):
    """``target_se``'s run: ``(columns, stopping record)`` in memory, or — once STREAM_PATHS paths have run (never
    with ``stream=False``, from the start with ``stream=True``) — ``(streamed Result, record)``, its record in
    ``Result.run``."""
    sim, chunk_size = scenario.simulation, info["chunk_size"]
    se_run = {"sampling": info["sampling"], "chunk_size": chunk_size, "rqmc_points": sim.rqmc_points,
              "control_variates": sim.control_variates}
    stream_from = None if stream is False else (0 if stream else STREAM_PATHS)
    status: dict = {}  # the stopping rule's outcome, set as the chunks run

    def streamed(rest) -> Result:  # from STREAM_PATHS paths on: the chunks so far and the rest to Parquet
        res = Result.from_chunks(scenario, plan, rest, run_info(paths=0, wall=0.0, **info))
        res.run.update(_target_record(status, cap))
        return _streamed_record(res, t0, chunks is not plan, chunk_size)
    columns = _adaptive(chunks, chunk_size, cap, target_se, se_run, progress, stream_from, streamed, status=status,
                        **execute)
    return columns, _target_record(status, cap)


def _target_record(status: dict, cap: int) -> dict:
    """What the run record says of an adaptive run's stopping rule: whether the target was reached, and the cap
    (``max_paths``) it stopped at otherwise."""
    return {"target_se_reached": bool(status.get("reached", False)), "max_paths": int(cap)}


def _adaptive_chunks(chunks, chunk_size: int, cap: int, target_se: float, se_run: dict, progress: Progress | None,
                     seed: int, workers: int, backend: str, client, status: dict | None = None):
    """Chunks added (a batch of ``workers`` at a time) until the standard errors reach ``target_se`` or ``cap``
    paths, yielded in index order; the stopping test runs after every chunk in index order, so where the run stops
    never depends on the workers (chunks computed ahead past the stopping chunk are dropped). The test reads running
    pieces of the estimators (:class:`~baozhang_finance.measures.fiscal.RunningStandardErrors`), not the columns,
    so the chunks can go to the column store as they come."""
    running = fiscal.RunningStandardErrors(se_run)
    done, next_chunk, reached = 0, 0, False
    batch = max(workers, 1)
    while done < cap and not reached:
        bounds = []
        for k in range(batch):
            a = (next_chunk + k) * chunk_size
            if a >= cap:
                break
            bounds.append((a, min(a + chunk_size, cap)))
        with closing(_iter_chunks(chunks, bounds, next_chunk, seed, workers, backend, client)) as stream:
            for _, cols in stream:
                if reached:
                    continue
                running.add(cols)
                done += len(cols["path"])
                reached = _se_reached(running, target_se)
                yield cols
        next_chunk += len(bounds)
        if status is not None:
            status["reached"] = reached
        if progress:
            progress(done, cap)


def _adaptive(chunks, chunk_size: int, cap: int, target_se: float, se_run: dict, progress: Progress | None,
              stream_from: int | None, make_result, status: dict | None = None, **execute):
    """An adaptive run's chunks: held in memory (the columns dict), or — once ``stream_from`` paths have run
    (``None``: never) — handed with the rest of the run to ``make_result`` (a column store)."""
    gen = _adaptive_chunks(chunks, chunk_size, cap, target_se, se_run, progress, status=status, **execute)
    parts: list[dict[str, np.ndarray]] = []
    done = 0
    with closing(gen):
        for cols in gen:
            parts.append(cols)
            done += len(cols["path"])
            if stream_from is not None and done >= stream_from:
                def drain():
                    while parts:
                        yield parts.pop(0)
                    yield from gen
                return make_result(drain())
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _streamed_record(res: Result, t0: float, drawn: bool, chunk_size: int) -> Result:
    """A streamed Result's run record completed: its wall time and, when parameters were drawn per chunk, the
    draws' record (from three of its columns, read block by block)."""
    res.run["wall_time_s"] = time.perf_counter() - t0
    if drawn:
        res.run["parameter_uncertainty"] = uncertainty.run_record(
            *(res.col(k) for k in ("hidden_debt_pv", "hidden_call", "path")), chunk_size)
    return res


def _stream_wanted(stream: bool | None, paths: int, deterministic: bool, target_se) -> bool:
    """Whether a fixed-size run goes through the column store: as asked, else from STREAM_PATHS paths on (an
    adaptive run decides as it goes: :func:`_adaptive`)."""
    if deterministic or target_se is not None:
        return False
    return bool(stream) if stream is not None else paths >= STREAM_PATHS


def run_info(*, paths, seed, chunk_size, backend, workers, stress, deterministic, sampling, scenario, target_se,
              wall, engine: str | None = None) -> dict:
    """The run record (``Result.run``, run.json); ``engine``: the month's stages that ran, ``"compiled"`` (their
    numba twins) or ``"numpy"`` (:func:`~baozhang_finance.engine.loop.choose_engine`)."""
    return {
        "paths": paths,
        "seed": seed,
        "chunk_size": chunk_size,
        "backend": backend,
        "workers": workers,
        "stress": stress,
        "deterministic": deterministic,
        "sampling": sampling,
        "rqmc_points": scenario.simulation.rqmc_points,
        "control_variates": bool(scenario.simulation.control_variates and not deterministic),
        "engine": engine,
        "target_se": target_se,
        "wall_time_s": wall,
        "cpu_count": os.cpu_count(),
    }


def _se_reached(running, target: float) -> bool:
    """The stopping rule of ``target_se``: SE of P(call) ≤ target and SE of E[hidden PV] ≤ target × its mean,
    with the standard errors of the run's sampling (pairs, replicates: at least 8 independent units)."""
    if running.n < 2:
        return False
    se = running.standard_errors()
    if running.sampling != "mc" and se["independent_units"] < 8:
        return False
    mean = running.mean("expected_pv")
    rel = se["expected_pv"] / mean if mean > 0 else 0.0
    return se["p_call"] <= target and rel <= target
