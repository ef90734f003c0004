"""Clean stops: SIGINT (Ctrl-C) and SIGTERM end every backend — serial, processes, Dask — within seconds, workers
included, with exit code 130 / 143, one short line and no traceback, and leave nothing behind: no process of the
run's process group, no output folder. A later run removes the temporary folder a killed (SIGKILL) run left.

No fixed sleeps: each test waits for the run's first progress tick (``BAOZHANG_PROGRESS=lines``) with a generous
timeout, then signals the whole process group, as a terminal does on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from baozhang_finance.run.atomic import OWNER_FILE, remove_stale_temporaries, write_folder_atomically

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml"
CLI = [sys.executable, "-c", "from baozhang_finance.cli import main; main()"]
START_TIMEOUT_S = 240  # a cold Dask cluster on one loaded core
STOP_TIMEOUT_S = 30  # what "within seconds" allows on a slow machine


def terminal_signals() -> None:
    """In the child, before exec: SIGINT as a terminal gives it (default), even when this test process was started
    in the background of a non-interactive shell, which ignores SIGINT — an ignored SIGINT is inherited, and Python
    then installs no KeyboardInterrupt handler, so a Ctrl-C test would wait for a run that rightly ignores it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Run:
    """A CLI run in its own process group, its stderr read line by line in a thread."""

    def __init__(self, args, tmp_path: Path):
        env = dict(os.environ, BAOZHANG_PROGRESS="lines")
        self.proc = subprocess.Popen(CLI + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, start_new_session=True, cwd=tmp_path,
                                     preexec_fn=terminal_signals)
        self.lines: list[str] = []
        self.ticked = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            if line.startswith("progress "):
                self.ticked.set()

    def wait_for_first_tick(self):
        if not self.ticked.wait(START_TIMEOUT_S):
            self.kill()
            pytest.fail(f"no progress tick within {START_TIMEOUT_S} s: {''.join(self.lines)[-2000:]}")
        assert self.proc.poll() is None, "the run finished before it could be interrupted"

    def stop(self, sig) -> tuple[int, str, float]:
        t0 = time.monotonic()
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"still running {STOP_TIMEOUT_S} s after {sig.name}")
        elapsed = time.monotonic() - t0
        self.reader.join(10)
        self.proc.stdout.close()
        return self.proc.returncode, "".join(ln for ln in self.lines if not ln.startswith("progress ")), elapsed

    def group_alive(self) -> bool:
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _stop_cleanly(tmp_path, backend, sig):
    out = tmp_path / "out"
    args = ["run", DEMO, "--paths", "400000", "--chunk-size", "5000", "--backend", backend, "--workers", "2",
            "--out", out]
    run = Run(args, tmp_path)
    try:
        run.wait_for_first_tick()
        code, err, elapsed = run.stop(sig)
        assert code == {signal.SIGINT: 130, signal.SIGTERM: 143}[sig], err
        assert "Traceback" not in err, err
        words = [ln.strip() for ln in err.splitlines() if ln.strip() and not ln.startswith("running ")]
        assert words == [{signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}[sig]], err
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while run.group_alive() and time.monotonic() < deadline:  # orphaned workers would keep the group alive
            threading.Event().wait(0.1)  # poll, bounded by the deadline
        assert not run.group_alive(), "a worker outlived the run"
        assert not out.exists()
        assert list(tmp_path.iterdir()) == [], list(tmp_path.iterdir())
    finally:
        run.kill()


QUICK = [("serial", signal.SIGTERM), ("processes", signal.SIGINT), ("processes", signal.SIGTERM),
         ("dask", signal.SIGINT)]
# the processes backend once printed a traceback from concurrent.futures' exit handler about one run in three; after
# the pool's result pipe is closed on a stop (run/simulate.py: _stop_pool) 122 of 122 stops under load and on one core
# were clean (docs/reliability.md), so it is back in the default run; the other two cases run with -m long
REST = [("serial", signal.SIGINT), ("dask", signal.SIGTERM)]


@pytest.mark.parametrize("backend,sig", QUICK, ids=[f"{b}-{s.name}" for b, s in QUICK])
def test_a_signal_stops_every_backend_cleanly(tmp_path, backend, sig):
    if backend == "dask":
        pytest.importorskip("distributed")
    _stop_cleanly(tmp_path, backend, sig)


@pytest.mark.long
@pytest.mark.parametrize("backend,sig", REST, ids=[f"{b}-{s.name}" for b, s in REST])
def test_a_signal_stops_every_backend_cleanly_rest(tmp_path, backend, sig):
    if backend == "dask":
        pytest.importorskip("distributed")
    _stop_cleanly(tmp_path, backend, sig)


def test_a_later_run_removes_the_temporary_folder_of_a_killed_one(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer exists
    stale = tmp_path / ".out.tmp-abc123"
    stale.mkdir()
    (stale / "summary.json").write_text("{}")
    (stale / OWNER_FILE).write_text(f"{dead.pid} {os.uname().nodename}")
    foreign = tmp_path / ".notes.tmp-keep"  # not ours: no owner file
    foreign.mkdir()
    live = tmp_path / ".other.tmp-live"  # ours, but its process (this one's parent) is alive
    live.mkdir()
    (live / OWNER_FILE).write_text(f"{os.getppid()} {os.uname().nodename}")

    write_folder_atomically(tmp_path / "out", lambda tmp: (tmp / "x.txt").write_text("x"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes.tmp-keep", ".other.tmp-live", "out"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.txt"]  # no owner file in the result
    assert remove_stale_temporaries(tmp_path) == []
