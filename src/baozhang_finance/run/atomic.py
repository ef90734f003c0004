"""Write an output folder atomically: build it in a temporary folder beside the target, then rename it into place.

An interrupted run (Ctrl-C, a kill, an exception) therefore leaves no half-written folder: either the old folder
(or nothing) or the complete new one.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path


#: a file in each temporary folder naming the process that made it: "<pid> <host>"
OWNER_FILE = ".baozhang-owner"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove temporary folders a killed run left in ``folder`` (SIGKILL, a power cut: no clean-up ran).

    Only folders of our own making: named ``.<name>.tmp-…`` and holding an owner file whose process, on this
    host, no longer exists. Returns what was removed."""
    removed = []
    host = socket.gethostname()
    try:
        candidates = [p for p in Path(folder).glob(".*.tmp-*") if p.is_dir()]
    except OSError:
        return removed
    for tmp in candidates:
        try:
            pid_text, _, owner_host = (tmp / OWNER_FILE).read_text(encoding="utf-8").strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            continue  # not ours, or being created right now
        if owner_host == host and pid != os.getpid() and not _alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def write_folder_atomically(out: str | Path, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp)`` in a temporary folder beside ``out`` and rename it to ``out`` (replacing it).

    Stale temporary folders of earlier, killed runs in the same parent folder are removed first."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    (tmp / OWNER_FILE).write_text(f"{os.getpid()} {socket.gethostname()}", encoding="utf-8")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700: give the folder the mode mkdir would
    try:
        write(tmp)
        (tmp / OWNER_FILE).unlink()
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
