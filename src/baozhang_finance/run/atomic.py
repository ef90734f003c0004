"""Write an output folder atomically: build it in a temporary folder beside the target, then rename it into place.

An interrupted run (Ctrl-C, a kill, an exception) therefore leaves no half-written folder: either the old folder
(or nothing) or the complete new one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_folder_atomically(out: str | Path, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp)`` in a temporary folder beside ``out`` and rename it to ``out`` (replacing it)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700: give the folder the mode mkdir would
    try:
        write(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
