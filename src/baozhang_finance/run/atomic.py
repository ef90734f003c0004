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

#: the file every output folder of this package holds: a folder without it is never replaced
MANIFEST = "manifest.json"


def why_not_replaceable(out: str | Path, inputs=()) -> str | None:
    """Why a new output folder may not take the place of ``out`` (None: it may): ``out`` is the current folder or
    holds it; it holds one of ``inputs`` (the scenario being run); or it is a non-empty folder without
    :data:`MANIFEST` — not an earlier output folder of this package, so its files are the user's."""
    out = Path(out).resolve()  # real paths: "run/charts/..", a symlink, "x/../run" are the folders they name
    if Path.cwd().resolve().is_relative_to(out):
        return "is the current folder (or holds it): choose a new folder"
    if not out.exists():
        return None
    if not out.is_dir():
        return "exists and is not a folder"
    for x in inputs:
        if x is not None and Path(x).resolve().is_relative_to(out):
            return f"holds the input {x}: choose another folder"
    if any(out.iterdir()) and not (out / MANIFEST).is_file():
        return (f"holds files that are not a baozhang output folder (no {MANIFEST}); --overwrite replaces only an "
                "earlier output folder: choose another folder")
    return None


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


def file_mode() -> int:
    """The mode a new file gets from ``open()`` under the process's umask (``0o666 & ~umask``)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def replace_file(tmp: str | Path, path: str | Path) -> Path:
    """Move a finished temporary file (``tempfile.mkstemp``: mode 0600) to ``path``, with the mode a file made by
    ``open()`` would have — a colleague on a shared drive can read it as any other file of the user's."""
    os.chmod(tmp, file_mode())
    os.replace(tmp, path)
    return Path(path)


def write_folder_atomically(out: str | Path, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp)`` in a temporary folder beside ``out`` and rename it to ``out`` (replacing it — only an
    earlier output folder: :func:`why_not_replaceable`, else ``FileExistsError`` before anything is written).

    Stale temporary folders of earlier, killed runs in the same parent folder are removed first."""
    out = Path(out).resolve()  # the real folder: its temporary sibling is beside it, never inside it
    why = why_not_replaceable(out)
    if why is not None:  # never rmtree a folder that is not one of ours (a user's files, the current folder)
        raise FileExistsError(f"{out}: {why}")
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
