"""The command line as a user meets it, in real subprocesses: run → report round trip, --json/--quiet/--version,
one-line user errors with exit code 2 and no traceback, no progress bar in pipes, and a run killed midway leaves
no output folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from baozhang_finance import __version__

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.toml"
CLI = [sys.executable, "-c", "from baozhang_finance.cli import main; main()"]


def cli(*args, timeout=180, **kw):
    env = {**os.environ, "COLUMNS": "100"}
    env.pop("CI", None)  # the progress bar must stay silent in a pipe by itself, not only because CI is set
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env,
                          **kw)


def one_line_error(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:")
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "demo run"  # a space in the path on purpose
    proc = cli("run", DEMO, "--paths", 600, "--seed", 3, "--chunk-size", 250, "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""  # --quiet: nothing at all
    return out


def test_run_writes_the_folder_with_reports(saved_run):
    names = sorted(p.name for p in saved_run.iterdir())
    for f in ("summary.json", "paths.parquet", "yearly.csv", "manifest.json", "report.xlsx", "report.html", "charts"):
        assert f in names, names
    assert len(list((saved_run / "charts").glob("*.png"))) == 7  # report.html.CHART_FILES (decision 74)
    man = json.loads((saved_run / "manifest.json").read_text())
    assert (man["paths"], man["seed"], man["chunk_size"]) == (600, 3, 250)
    assert man["git_dirty"] in (True, False, None) and (man["git_dirty"] is None) == (man["git_commit"] is None)
    s = json.loads((saved_run / "summary.json").read_text())
    assert s["run"]["paths"] == 600 and s["run"]["seed"] == 3
    # the folder is readable like any folder the user makes (not the 0700 of a temporary folder)
    umask = os.umask(0)
    os.umask(umask)
    assert (saved_run.stat().st_mode & 0o777) == (0o777 & ~umask)


def test_report_rerenders_to_another_folder_and_prints_json(saved_run, tmp_path):
    other = tmp_path / "reports"
    proc = cli("report", saved_run, "--out", other, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads((saved_run / "summary.json").read_text())
    assert sorted(p.name for p in other.iterdir()) == ["charts", "manifest.json", "report.html", "report.xlsx"]
    assert (other / "manifest.json").read_bytes() == (saved_run / "manifest.json").read_bytes()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    one_line_error(cli("report", saved_run, "--out", other), "--out", "not empty", "--overwrite")
    assert cli("report", saved_run, "--out", other, "--overwrite", "--quiet").returncode == 0  # one of ours


def test_overwrite_never_replaces_the_users_own_files(tmp_path):
    """--overwrite replaces an earlier output folder (it holds manifest.json) and nothing else: not a folder of
    the user's files, not one holding the scenario being run, not the current folder — each refused with one
    line before anything runs, every file left in place (the newcomer review's data loss)."""
    import shutil

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("x")
    shutil.copy(DEMO, mine / "demo.toml")
    (mine / "sub").mkdir()
    before = sorted(p.name for p in mine.iterdir())
    args = ("--paths", 50, "--chunk-size", 50, "--quiet", "--overwrite")
    one_line_error(cli("run", mine / "demo.toml", "--out", mine, *args), "--out", "holds the input")
    one_line_error(cli("run", DEMO, "--out", mine, *args), "--out", "not a baozhang output folder", "manifest.json")
    one_line_error(cli("run", mine / "demo.toml", "--out", ".", *args, cwd=mine), "current folder")
    one_line_error(cli("sweep", DEMO, "--set", "projects[0].rental.rent_ratio=0.7,0.8", "--paths", 50, "--out", mine,
                       "--overwrite"), "not a baozhang output folder")
    assert sorted(p.name for p in mine.iterdir()) == before and (mine / "notes.txt").read_text() == "x"
    ours = tmp_path / "ours"
    assert cli("run", DEMO, "--out", ours, *args[:-1]).returncode == 0
    assert cli("run", DEMO, "--out", ours, *args).returncode == 0  # an earlier output folder is replaced
    sweep = ("sweep", DEMO, "--set", "projects[0].rental.rent_ratio=0.7,0.8", "--paths", 50, "--out", tmp_path / "sw")
    assert cli(*sweep).returncode == 0 and cli(*sweep, "--overwrite").returncode == 0  # an analysis folder too
    man = json.loads((tmp_path / "sw" / "manifest.json").read_text())
    assert man["version"] == __version__ and man["scenario_file_sha256"] and man["analysis"]
    assert "git_commit" in man and man["git_dirty"] in (True, False, None)


def test_overwrite_sees_real_paths(tmp_path):
    """`--out ..` from inside an earlier output folder, `x/../run` and a symlink name the folders they resolve to:
    a folder holding the current one is refused, `report RUN --out RUN/../RUN` re-renders in place (reviewer)."""
    run = tmp_path / "run1"
    args = ("--paths", 50, "--chunk-size", 50, "--quiet")
    assert cli("run", DEMO, "--out", run, *args).returncode == 0
    before = sorted(p.name for p in run.iterdir())
    one_line_error(cli("run", DEMO, "--out", "..", *args, "--overwrite", cwd=run / "charts"), "current folder")
    link = tmp_path / "link"
    link.symlink_to(run)
    one_line_error(cli("run", DEMO, "--out", link, *args, "--overwrite", cwd=run), "current folder")
    assert sorted(p.name for p in run.iterdir()) == before
    assert cli("report", run, "--out", tmp_path / "x" / ".." / "run1", "--quiet").returncode == 0
    assert sorted(p.name for p in run.iterdir()) == before  # in place: the run's data kept


def test_the_library_never_removes_a_folder_it_did_not_write(tmp_path):
    from baozhang_finance.run.atomic import write_folder_atomically

    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not a baozhang output folder"):
        write_folder_atomically(tmp_path, lambda tmp: (tmp / "manifest.json").write_text("{}"))
    assert (tmp_path / "keep.txt").read_text() == "x"
    assert not [p for p in tmp_path.parent.iterdir() if p.name.startswith(f".{tmp_path.name}.tmp-")]


def test_json_version_and_no_progress_in_a_pipe():
    proc = cli("run", DEMO, "--paths", 300, "--seed", 9, "--json")
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)
    assert s["run"]["paths"] == 300 and s["run"]["seed"] == 9
    assert proc.stderr == "", "no progress bar when stderr is a pipe"
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"baozhang-finance {__version__}"


@pytest.mark.parametrize("args, words", [
    (["run", "no/such/scenario.toml"], ["scenario.toml"]),
    (["run", DEMO, "--paths", "many"], ["--paths", "integer"]),
    (["run", DEMO, "--paths", "0"], ["--paths", ">= 1"]),
    (["run", DEMO, "--stress", "meteor"], ["meteor", "price_crash"]),
    (["run"], ["Missing argument", "scenario"]),
    (["report", "no/such/run"], ["no such run folder"]),
    (["report", ROOT / "scenarios"], ["not a run folder", "summary.json"]),
    (["report", DEMO], ["not a folder"]),
    (["report", ".", "--seed", "3"], ["No such option", "--seed", "baozhang report --help"]),
    (["frobnicate"], ["No such command"]),
])
def test_user_errors_are_one_line_exit_2(args, words, monkeypatch, capsys):
    """In-process through the console-script entry point (the same code as the installed `baozhang`)."""
    from baozhang_finance.cli import main

    monkeypatch.setattr(sys, "argv", ["baozhang"] + [str(a) for a in args])
    with pytest.raises(SystemExit) as exc:
        main()
    out, err = capsys.readouterr()
    one_line_error(subprocess.CompletedProcess(args, exc.value.code, out, err), *words)


def test_user_error_in_a_real_process():
    one_line_error(cli("run", "no/such/scenario.toml", timeout=60), "scenario.toml")


def test_report_on_a_damaged_run_folder_is_one_line(saved_run, tmp_path):
    import shutil

    bad = tmp_path / "damaged"
    shutil.copytree(saved_run, bad)
    (bad / "scenario.json").write_text("{ not json")
    one_line_error(cli("report", bad), "damaged", "scenario.json", "JSONDecodeError")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_a_run_killed_midway_leaves_no_output_folder(tmp_path, sig):
    out = tmp_path / "killed"
    # ~20–60 s of work on this machine: the signal arrives while the paths are being simulated
    proc = subprocess.Popen(CLI + ["run", str(DEMO), "--paths", "400000", "--chunk-size", "5000", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, BAOZHANG_PROGRESS="lines"),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as from a terminal
    # no fixed sleep: wait (generously) for the first progress tick, so the signal lands while paths are simulated
    first = proc.stderr.readline()
    deadline = time.monotonic() + 240
    while first and not first.startswith("progress ") and time.monotonic() < deadline:
        first = proc.stderr.readline()
    assert first.startswith("progress "), first
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert "Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    visible = [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert visible == [], visible
    if sig == signal.SIGINT:  # a handled interrupt cleans up even its hidden temporary folder
        assert list(tmp_path.iterdir()) == []


def test_report_on_a_province_folder_says_what_it_is(tmp_path):
    prov = tmp_path / "prov"
    prov.mkdir()
    (prov / "cities.csv").write_text("city\n")
    (prov / "manifest.json").write_text("{}")
    one_line_error(cli("report", prov), "a province run folder", "--lang")
