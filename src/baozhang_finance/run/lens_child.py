"""The helper process of a streamed summary (:mod:`baozhang_finance.run.lens_pool`): reads the run, then task
names, from its standard input (pickled), and writes ``(True, value)`` or ``(False, traceback)`` for each to its
original standard output (anything else printed goes to standard error). Ends at EOF."""

from __future__ import annotations

import os
import pickle
import signal
import sys
import traceback

from baozhang_finance.measures import blocked as bk
from baozhang_finance.run.result import Result
from baozhang_finance.run.store import ColumnStore


def _terminate(signum, frame):  # SIGTERM: exit normally, so the run-private folders made here are removed
    raise SystemExit(143)


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops this process
    signal.signal(signal.SIGTERM, _terminate)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints to stderr, never into the result pipe
    inp = sys.stdin.buffer
    try:
        scenario, plan, run, folder, settings = pickle.load(inp)
    except EOFError:
        return 0
    for k, v in settings.items():  # the parent's block and selection cap (tests make them small)
        setattr(bk, k, v)
    res = Result(scenario=scenario, plan=plan, columns=None, run=run, store=ColumnStore(folder))
    while True:
        try:
            name = pickle.load(inp)
        except EOFError:
            return 0
        try:
            msg = (True, res.lens_task(name))
        except Exception:  # the parent computes it again itself, and raises there if it must
            msg = (False, traceback.format_exc())
        try:
            pickle.dump(msg, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
        except (OSError, pickle.PicklingError):
            return 1


if __name__ == "__main__":
    sys.exit(main())
