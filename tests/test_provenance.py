"""Every output folder's manifest says which commit made it and whether the checkout had uncommitted changes
(run/provenance.py): parsed from git's own output, checked on a real repository in a temporary folder, null outside
a checkout or without git, never an error."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from baozhang_finance.analysis.output import analysis_manifest
from baozhang_finance.run import provenance as pv

HAS_GIT = shutil.which("git") is not None


def test_parse_status_reads_the_commit_and_any_changed_tracked_file():
    sha = "c2501792d98d22b7469fcffb2cda11054f2f2f2f"
    clean = f"# branch.oid {sha}\n# branch.head main\n"
    assert pv.parse_status(clean) == {"git_commit": sha, "git_dirty": False}
    changed = clean + "1 .M N... 100644 100644 100644 aaaa bbbb src/x.py\n"
    assert pv.parse_status(changed) == {"git_commit": sha, "git_dirty": True}
    assert pv.parse_status("# branch.oid (initial)\n# branch.head main\n") == {"git_commit": None, "git_dirty": False}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false",
                           *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.skipif(not HAS_GIT, reason="git is not installed")
def test_a_real_checkout_clean_then_dirty(monkeypatch, tmp_path):
    repo = tmp_path / "clone"
    pkg = repo / "src" / "baozhang_finance"
    pkg.mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    head = _git(repo, "rev-parse", "HEAD")
    monkeypatch.setattr(pv, "PACKAGE_DIR", pkg)
    assert pv.provenance() == {"git_commit": head, "git_dirty": False}
    (repo / "out").mkdir()
    (repo / "out" / "manifest.json").write_text("{}")  # a run's output folder inside the clone: untracked
    assert pv.provenance()["git_dirty"] is False
    (pkg / "a.py").write_text("x = 2\n")
    assert pv.provenance() == {"git_commit": head, "git_dirty": True}
    _git(repo, "add", "src/baozhang_finance/a.py")  # staged counts too
    assert pv.provenance()["git_dirty"] is True
    assert pv.git_commit() == head


def test_null_outside_a_checkout_without_git_or_when_installed(monkeypatch, tmp_path):
    plain = tmp_path / "plain" / "baozhang_finance"
    plain.mkdir(parents=True)
    monkeypatch.setattr(pv, "PACKAGE_DIR", plain)
    if HAS_GIT and subprocess.run(["git", "rev-parse"], cwd=plain, capture_output=True).returncode != 0:
        assert pv.provenance() == {"git_commit": None, "git_dirty": None}
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-bin"))  # git absent: null, no exception
    monkeypatch.setattr(pv, "PACKAGE_DIR", Path(__file__).resolve().parents[1] / "src" / "baozhang_finance")
    assert pv.provenance() == {"git_commit": None, "git_dirty": None}
    monkeypatch.undo()
    installed = tmp_path / "venv" / "lib" / "python3.12" / "site-packages" / "baozhang_finance"
    monkeypatch.setattr(pv, "PACKAGE_DIR", installed)  # an installed copy is no checkout, whatever encloses it
    assert pv.checkout_dir() is None and pv.provenance() == {"git_commit": None, "git_dirty": None}


def test_a_git_that_does_not_answer_does_not_hold_up_the_run(monkeypatch):
    def slow(*a, **k):
        raise subprocess.TimeoutExpired(a[0], k.get("timeout"))

    monkeypatch.setattr(pv.subprocess, "run", slow)
    assert pv.provenance() == {"git_commit": None, "git_dirty": None}


def test_manifests_carry_both_keys():
    class Analysis:
        source = None

    man = analysis_manifest(Analysis())
    assert {"git_commit", "git_dirty"} <= set(man) and man["git_dirty"] in (True, False, None)
    assert (man["git_commit"], man["git_dirty"]) == tuple(pv.provenance().values())
