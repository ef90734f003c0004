"""A streamed summary's lenses on two processes (decision 63): this process and one helper process share a queue of
named tasks (a lens, or the fan of one ``yearly`` quantity), each computed whole by one process, so every figure
has the bits it has when computed serially.

The helper is ``python -m baozhang_finance.run.lens_child`` (a fresh interpreter, not a fork: it shares no pages
with this process and re-imports no user script). It receives the run (scenario, plan, run record, the column
store's folder) once, opens its own :class:`~baozhang_finance.run.store.ColumnStore`, then computes the task names
it is sent, one at a time, and sends each result back (pickled). This process takes tasks from the front of the
queue (the costly first), a feeder thread hands the helper tasks from the back; when the queue is empty both
finish their task. A task the helper fails (an error, the helper gone) is computed here, so the helper can only
save time, never change a figure or lose one. Ctrl-C: the helper ignores SIGINT; this process stops it (EOF on
its input, then SIGTERM) and the interrupt propagates as before.

Used only for a streamed Result (memory flat in paths; the helper's own reads are one block per column it reads)
with ``BAOZHANG_SUMMARY_WORKERS`` ≠ 1 (default: 2 when the machine has ≥ 2 cores) and outside daemon processes.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

#: environment variable: processes for a streamed summary (1: serial, in this process)
WORKERS_ENV = "BAOZHANG_SUMMARY_WORKERS"
CHILD_MODULE = "baozhang_finance.run.lens_child"


def summary_workers() -> int:
    """Processes a streamed summary uses: ``$BAOZHANG_SUMMARY_WORKERS`` if set, else 2 on a machine of ≥ 2 cores;
    always 1 inside a daemon process (a pool worker)."""
    if multiprocessing.current_process().daemon:
        return 1
    v = os.environ.get(WORKERS_ENV, "").strip()
    if v:
        try:
            return max(1, int(v))
        except ValueError:
            return 1
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def run_tasks(names: Sequence[str], local: Callable[[str], Any], spec: Any, workers: int) -> dict[str, Any]:
    """``{name: local(name)}`` for every task name, computed here and (``workers`` ≥ 2) in a helper process that
    receives ``spec`` (picklable) first. ``names`` ordered from the costliest."""
    queue = collections.deque(names)
    results: dict[str, Any] = {}
    failed: list[str] = []
    child = None
    thread = None
    if workers >= 2 and len(queue) > 1:
        try:
            child = subprocess.Popen([sys.executable, "-m", CHILD_MODULE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        except OSError:  # pragma: no cover - no interpreter to start
            child = None
    if child is not None:
        thread = threading.Thread(target=_feed, args=(child, spec, queue, results, failed), daemon=True)
        thread.start()
    done = False
    try:
        while True:
            try:
                name = queue.popleft()
            except IndexError:
                break
            results[name] = local(name)
        if thread is not None:
            thread.join()
        for name in failed:
            results[name] = local(name)
        done = True
    finally:
        if child is not None:
            _stop(child, now=not done)
    return results


def _feed(child: subprocess.Popen, spec, queue: collections.deque, results: dict, failed: list) -> None:
    """The feeder thread: the run to the helper, then tasks from the back of the queue, one at a time."""
    try:
        pickle.dump(spec, child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        child.stdin.flush()
    except (OSError, pickle.PicklingError, AttributeError, TypeError):
        return
    while True:
        try:
            name = queue.pop()
        except IndexError:
            return
        try:
            pickle.dump(name, child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            child.stdin.flush()
            ok, value = pickle.load(child.stdout)
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):
            failed.append(name)
            return
        if ok:
            results[name] = value
        else:
            failed.append(name)


def _stop(child: subprocess.Popen, now: bool = False) -> None:
    """End the helper: EOF on its input (it exits, removing its run-private folders); at once (SIGTERM, on which
    it exits as well) when ``now`` — this process was interrupted or failed — or if it lingers."""
    try:
        child.stdin.close()
    except OSError:  # pragma: no cover
        pass
    try:
        if now:
            child.terminate()
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a helper that does not end on SIGTERM
        child.terminate()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if child.stdout is not None:
        child.stdout.close()
