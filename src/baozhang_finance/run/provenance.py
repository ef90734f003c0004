"""Where the code of a run came from, for every output folder's ``manifest.json`` (a run's, an analysis's, a
portfolio's): the git commit of the package's own checkout and whether its working tree held uncommitted changes.

One ``git status`` per call (``--porcelain=v2 --branch`` prints the commit too; ≈ 20 ms on this repository), with
a timeout, never an error: a run does not fail, nor wait long, for its provenance. ``git_dirty`` counts tracked
files changed (staged or not) anywhere in the checkout; untracked files do not count — a run's own output folders
inside the clone would otherwise mark every later run dirty.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

#: the package's own folder (``src/baozhang_finance`` of a clone under an editable install)
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: longest wait for git, seconds (then the manifest says null)
GIT_TIMEOUT_S = 3.0
_UNKNOWN = {"git_commit": None, "git_dirty": None}


def checkout_dir() -> Path | None:
    """The folder git is asked about: the package's own folder when it runs from a source checkout; None for an
    installed copy (under ``site-packages`` / ``dist-packages``), which git would place in whatever repository
    happens to enclose the environment."""
    if {"site-packages", "dist-packages"} & set(PACKAGE_DIR.parts):
        return None
    return PACKAGE_DIR


def provenance() -> dict[str, str | bool | None]:
    """``{"git_commit": sha or None, "git_dirty": True / False or None}`` of the package's checkout.

    ``git_dirty`` is None, like the commit, when the package is not in a git checkout, git is absent, or git does
    not answer within :data:`GIT_TIMEOUT_S` (then the commit alone is asked for, ``git rev-parse HEAD``)."""
    here = checkout_dir()
    if here is None:
        return dict(_UNKNOWN)
    out = _git(here, "--no-optional-locks", "status", "--porcelain=v2", "--branch", "--untracked-files=no")
    if out is not None:
        return parse_status(out)
    return {"git_commit": _git(here, "rev-parse", "HEAD") or None, "git_dirty": None}


def git_commit() -> str | None:
    """The commit of the package's checkout (None outside one): :func:`provenance`'s ``git_commit``."""
    return provenance()["git_commit"]


def parse_status(out: str) -> dict[str, str | bool | None]:
    """The commit and the dirty flag from ``git status --porcelain=v2 --branch``: the ``# branch.oid <sha>``
    header (``(initial)`` before the first commit: None), and any non-header line is a changed tracked file."""
    commit, dirty = None, False
    for line in out.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.split(" ", 2)[2].strip()
            commit = None if oid == "(initial)" else oid
        elif line.strip() and not line.startswith("#"):
            dirty = True
    return {"git_commit": commit, "git_dirty": dirty}


def _git(cwd: Path, *args: str) -> str | None:
    """git's standard output (stripped), or None when git is absent, fails or times out."""
    try:
        r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL,
                           timeout=GIT_TIMEOUT_S, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    return r.stdout.decode("utf-8", "replace").strip()
