"""Bad input through the CLI: exit code 2, one line naming the file and the field path, no traceback, and no
output folder. Each case is the demo scenario with one mistake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baozhang_finance.cli import app

DEMO = (Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml").read_text(encoding="utf-8")
ROW_HP = "[1.0, 0.5, 0.2, 0.2, 0.0, 0.4, 0.6]"
ROW_RENT = "[0.5, 1.0, 0.1, 0.3, 0.3, 0.2, 0.3]"
ROW_FISCAL = "[0.6, 0.3, 0.1, 0.2, 0.0, 0.3, 1.0]"


def edit(*pairs: tuple[str, str]) -> str:
    text = DEMO
    for old, new in pairs:
        assert text.count(old) >= 1, f"demo.toml no longer contains {old!r}"
        text = text.replace(old, new, 1)
    return text


# (case, scenario text, field path that must be named, words the message must contain)
CASES = [
    ("unknown_field", edit(("units = 300 ", "units = 300\nunits_tpyo = 3 ")),
     "projects[0].units_tpyo", ["unknown field"]),
    ("wrong_type", edit(("units = 300 ", 'units = "three hundred" ')),
     "projects[0].units", ["must be an integer", "'three hundred'"]),
    ("negative_area", edit(("area_m2 = 85.0", "area_m2 = -70.0")),
     "projects[0].area_m2", ["must be > 0", "-70"]),
    ("sources_ne_uses", edit(("equity_yuan = 29_325_000.0", "equity_yuan = 25_000_000.0")),
     "projects[0].financing", ["sources 142,300,000", "uses 146,625,000", "-4,325,000"]),
    ("loan_beyond_horizon", edit(("term_years = 5 ", "term_years = 31 ")),
     "projects[1].financing.loans[0].term_years", ["month 372", "horizon (360 months)"]),
    ("correlation_not_psd", edit((ROW_HP, "[1.0, 0.99, 0.2, 0.2, 0.0, 0.4, -0.9]"),
                                 (ROW_RENT, "[0.99, 1.0, 0.1, 0.3, 0.3, 0.2, 0.3]"),
                                 (ROW_FISCAL, "[-0.9, 0.3, 0.1, 0.2, 0.0, 0.3, 1.0]")),
     "market.correlation", ["not positive semi-definite", "smallest eigenvalue"]),
]


@pytest.mark.parametrize("case,text,field,words", CASES, ids=[c[0] for c in CASES])
def test_bad_scenario_is_one_located_line(tmp_path, case, text, field, words):
    scenario = tmp_path / f"{case}.toml"
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(scenario), "--paths", "10", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), "a user mistake must not raise"
    message = " ".join(result.output.split())  # rich may wrap long lines on a narrow terminal
    assert "Traceback" not in message
    assert message.startswith("error: ") and message.count("error:") == 1
    assert f"{scenario}: {field}: " in message, message
    for w in words:
        assert w in message, (w, message)
    assert not out.exists(), "no output folder for a bad scenario"
    assert list(tmp_path.iterdir()) == [scenario], "nothing else written next to it"


def test_several_mistakes_are_all_named_on_one_line(tmp_path):
    scenario = tmp_path / "two.toml"
    scenario.write_text(edit(("area_m2 = 85.0", "area_m2 = -70.0"), ("area_m2 = 95.0", "area_m2 = 0")), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(scenario), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    message = " ".join(" ".join(lines).split())
    assert "projects[0].area_m2: must be > 0" in message and "projects[1].area_m2: must be > 0" in message
    assert re.match(r"^error: \S+two\.toml: ", message) and message.count("error:") == 1


def test_missing_file_and_bad_toml(tmp_path):
    runner = CliRunner()
    missing = tmp_path / "nope.toml"
    r = runner.invoke(app, ["run", str(missing), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and f"{missing}: file not found" in " ".join(r.output.split())
    broken = tmp_path / "broken.toml"
    broken.write_text("[programme\nname = 1\n", encoding="utf-8")
    r = runner.invoke(app, ["run", str(broken), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and f"{broken}: line 1, column 11: not valid TOML" in " ".join(r.output.split())
    assert not (tmp_path / "o").exists()


def test_subprocess_exit_code_and_stderr(tmp_path):
    """The installed console script, as a user runs it: stderr holds the one message, stdout nothing."""
    import subprocess
    import sys

    scenario = tmp_path / "neg.toml"
    scenario.write_text(CASES[2][1], encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", "from baozhang_finance.cli import main; main()", "run", str(scenario),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    err = " ".join(proc.stderr.split())
    assert err == f"error: {scenario}: projects[0].area_m2: must be > 0.0, got -70.0"
    assert not (tmp_path / "o").exists()


def test_a_portfolio_or_an_old_workbook_where_one_scenario_is_read(tmp_path):
    """A portfolio file given to a one-scenario command, and an .xls workbook: one line saying what the file is
    and what to do (was: eight lines of missing fields, or "not a text file")."""
    root = Path(__file__).resolve().parents[1]
    runner = CliRunner()
    r = runner.invoke(app, ["template", str(root / "scenarios" / "liaoning_province.toml"), "-o", str(tmp_path / "x.xlsx")])
    out = " ".join(r.output.split())
    assert r.exit_code == 2 and "a portfolio file" in out and "takes one scenario" in out and out.count("error:") == 1
    xls = tmp_path / "plan.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64)  # an OLE2 header, as Excel 97–2003 writes
    r = runner.invoke(app, ["check", str(xls)])
    assert r.exit_code == 2 and "save it as .xlsx" in " ".join(r.output.split())
    assert not (tmp_path / "x.xlsx").exists()


def test_a_percent_typed_as_a_fraction_is_warned_about(tmp_path):
    """Inside its bounds but a likely unit mistake (the newcomer review: rent_drift_annual = 0.5 meant as 0.5 %,
    a rate shift of 0.02 bp): one warning line each on stderr, the exit code unchanged; none for the bundled demo."""
    import subprocess
    import sys

    from baozhang_finance.model.compliance import plausibility_warnings
    from baozhang_finance.model.scenario import load_scenario

    root = Path(__file__).resolve().parents[1]
    assert plausibility_warnings(load_scenario(root / "scenarios" / "demo.toml")) == []
    bad = tmp_path / "pct.toml"
    bad.write_text(edit(("rent_drift_annual = 0.005 ", "rent_drift_annual = 0.5 "),
                        ("rate_shift_bp = 200", "rate_shift_bp = 0.02")), encoding="utf-8")
    ws = plausibility_warnings(load_scenario(bad))
    assert len(ws) == 2 and "market.rent_drift_annual = 0.5" in ws[0] and "0.02 is 200 bp" in ws[1]
    proc = subprocess.run([sys.executable, "-c", "from baozhang_finance.cli import main; main()", "check", str(bad)],
                          capture_output=True, text=True, timeout=120)
    warns = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning:")]
    assert proc.returncode == 0 and len(warns) == 2 and "Traceback" not in proc.stderr
