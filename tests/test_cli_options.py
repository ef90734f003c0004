"""Command-line options are validated like scenario fields: one located line, exit 2, nothing written; the user's
text is printed literally (no rich markup, no :emoji: codes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_fuzz import run_cli

DEMO = str(Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml")

CASES = [
    (["run", DEMO, "--seed", "-1"], "error: --seed: must be >= 0 and < 2**63, got -1"),
    (["run", DEMO, "--paths", "0"], "error: --paths: must be >= 1, got 0"),
    (["run", DEMO, "--chunk-size", "0"], "error: --chunk-size: must be >= 1, got 0"),
    (["run", DEMO, "--workers", "0"], "error: --workers: must be >= 1, got 0"),
    (["run", DEMO, "--target-se", "0"], "error: --target-se: must lie in (0, 0.5]"),
    (["run", DEMO, "--target-se", "-0.01"], "error: --target-se: must lie in (0, 0.5]"),
    (["run", DEMO, "--target-se", "nan"], "error: --target-se: must lie in (0, 0.5]"),
    (["run", DEMO, "--backend", "threads"], "error: --backend: must be serial, processes or dask"),
    (["compare", DEMO, "--seed", "-5"], "error: --seed: must be >= 0 and < 2**63, got -5"),
    (["sweep", DEMO, "--set", "a:b:c"], "--set 'a:b:c': expected FIELD=v1,v2"),
    (["sweep", DEMO, "--set", "[bold]x[/bold]=1,2"], "field '[bold]x[/bold]'"),
]


@pytest.mark.parametrize("args,expected", CASES, ids=[" ".join(a[2:]) for a, _ in CASES])
def test_a_bad_option_is_one_located_line(args, expected):
    code, out, err = run_cli(args)
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert expected in lines[0], lines[0]


def test_an_unwritable_out_is_refused_before_running(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_cli(["run", DEMO, "--deterministic", "--out", str(blocker / "run")])
    assert code == 2 and err.startswith(f"error: --out {blocker / 'run'}: ") and "not a writable folder" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs a /proc pseudo file system")
def test_an_out_on_a_file_system_that_takes_no_folder_is_refused_before_running():
    # /proc passes a permission check for root but takes no new folder: the probe, not os.access, decides
    code, out, err = run_cli(["run", DEMO, "--deterministic", "--out", "/proc/baozhang-run"])
    assert code == 2 and err.startswith("error: --out /proc/baozhang-run: cannot be created"), err
    assert "running" not in out + err


def test_the_writability_probe_leaves_nothing(tmp_path):
    code, _, err = run_cli(["run", DEMO, "--deterministic", "--out", str(tmp_path / "run")])
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_rule_set_check_rejects_is_rejected_by_run_too(tmp_path):
    f = tmp_path / "x.toml"
    f.write_text(Path(DEMO).read_text(encoding="utf-8").replace('rule_sets = ["national", "loudi"]',
                                                                 'rule_sets = ["national", "nosuchcity"]'))
    for cmd in ("run", "check"):
        code, _, err = run_cli([cmd, str(f), "--deterministic"] if cmd == "run" else [cmd, str(f)])
        assert code == 2 and f"{f}: policy.rule_sets[1]: unknown rule set 'nosuchcity'" in err, err


def test_help_shows_bracketed_text_as_written():
    """Help text is printed as written: rich markup would eat "[portfolio]", "[market]" and "E[…]" as tags."""
    from typer.testing import CliRunner

    from baozhang_finance.cli import app

    run = CliRunner().invoke(app, ["run", "--help"])
    text = " ".join(run.output.split())  # the lines as wrapped, joined
    assert run.exit_code == 0 and "with [portfolio]" in text and "E[hidden-debt PV]" in text
    cal = " ".join(CliRunner().invoke(app, ["calibrate", "--help"]).output.split())
    assert "the [market] TOML block" in cal and "[market.parameter_uncertainty]" in cal
