"""Policy compliance: deliberately broken variants of the seed scenarios are flagged by the right rule, citing the
right document and clause; compliant files pass; unknown rule sets are input errors (exit 2)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from baozhang_finance.cli import app
from baozhang_finance.model.compliance import (
    BEITUN, FACTS, LIAONING, LOUDI, RULE_SETS, RULES, SUIHUA, WEIHAI, check_scenario, rules_for,
    sale_price_yuan_per_m2, unverifiable,
)
from baozhang_finance.model.scenario import ScenarioError, scenario_from_dict, total_uses_yuan
from baozhang_finance.report.tables import print_findings

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def data(name: str) -> dict:
    return tomllib.loads((SCENARIOS / f"{name}.toml").read_text(encoding="utf-8"))


def project(d: dict, kind: str) -> dict:
    return next(p for p in d["projects"] if p["type"] == kind)


def rebalance(d: dict, p: dict) -> None:
    """Keep sources = uses after a change to the uses: scale every capital source of the project alike."""
    from baozhang_finance.model.scenario import Project

    new_uses = total_uses_yuan(Project.model_validate(p))  # validate the project alone: sources not yet matched
    f = p["financing"]
    debts = f.get("loans", []) + f.get("bonds", []) + f.get("soe_bonds", [])
    old = f["equity_yuan"] + sum(x["amount_yuan"] for x in debts)
    old += sum(g.get("amount_yuan", 0.0) for g in f.get("grants", []) if g["capital"])
    k = new_uses / old
    f["equity_yuan"] *= k
    for x in debts:
        x["amount_yuan"] *= k
    for g in f.get("grants", []):
        if g["capital"]:
            g["amount_yuan"] *= k


def findings(d: dict):
    return check_scenario(scenario_from_dict(d))


def hit(fs, rule_id: str):
    got = [f for f in fs if f.rule_id == rule_id]
    assert got, f"{rule_id} not flagged; findings: {[f.rule_id for f in fs]}"
    return got[0]


# ------------------------------------------------------------------------------------------ the broken variants
def test_equity_15_percent_flagged_by_loudi():
    d = data("loudi")
    p = project(d, "rental")
    uses = total_uses_yuan(scenario_from_dict(data("loudi")).projects[0])
    moved = p["financing"]["equity_yuan"] - 0.15 * uses
    p["financing"]["equity_yuan"] -= moved
    p["financing"]["loans"][0]["amount_yuan"] += moved  # sources = uses still holds
    fs = findings(d)
    f = hit(fs, "loudi.equity_share")
    assert (f.document, f.clause, f.project) == (LOUDI, "§六(一)1", p["name"])
    assert (f.actual, f.limit) == ("15 %", "≥ 20 %")
    assert [x.rule_id for x in fs] == ["loudi.equity_share"]


def test_rent_ratio_095_flagged_by_loudi_and_the_national_cap():
    d = data("loudi")
    project(d, "rental")["rental"]["rent_ratio"] = 0.95
    fs = findings(d)
    f = hit(fs, "loudi.rent_ratio")
    assert (f.document, f.clause, f.actual, f.limit) == (LOUDI, "§七(一)3", "95 %", "≤ 80 %")
    assert hit(fs, "national.rent_cap").document == FACTS
    assert {x.rule_id for x in fs} == {"loudi.rent_ratio", "national.rent_cap"}


@pytest.mark.parametrize("name, rule, doc", [("loudi", "loudi.sale_margin", LOUDI),
                                             ("suihua", "suihua.sale_margin", SUIHUA),
                                             ("beitun", "beitun.sale_margin", BEITUN)])
def test_sale_margin_8_percent_flagged(name, rule, doc):
    d = data(name)
    project(d, "sale")["sale"]["margin"] = 0.08  # the margin does not change the uses
    fs = findings(d)
    f = hit(fs, rule)
    assert (f.document, f.actual, f.limit) == (doc, "8 %", "≤ 5 %")
    assert {x.rule_id for x in fs} == {rule}


def test_presubscription_80_percent_flagged_by_suihua():
    d = data("suihua")
    project(d, "sale")["sale"]["presubscription_share"] = 0.80
    fs = findings(d)
    f = hit(fs, "suihua.presubscription")
    assert (f.document, f.clause, f.actual, f.limit) == (SUIHUA, "§三(五)", "80 %", "≥ 95 %")
    assert len(fs) == 1


@pytest.mark.parametrize("name, kind, rules, doc", [
    ("suihua", "sale", {"suihua.sale_unit_area"}, SUIHUA),
    ("suihua", "rental", {"suihua.rental_unit_area"}, SUIHUA),
    ("weihai", "sale", {"weihai.unit_area"}, WEIHAI),
    ("loudi", "rental", {"loudi.unit_area", "loudi.unit_area_main"}, LOUDI),
    ("beitun", "sale", {"beitun.unit_area"}, BEITUN),
])
def test_unit_of_150_m2_flagged(name, kind, rules, doc):
    d = data(name)
    p = project(d, kind)
    p["area_m2"] = 150.0
    rebalance(d, p)
    fs = findings(d)
    assert {f.rule_id for f in fs} == rules
    for f in fs:
        assert f.document == doc and f.actual == "150 m²" and f.project == p["name"]


def test_rental_unit_of_110_m2_only_breaks_the_suihua_rental_cap():
    d = data("suihua")
    p = project(d, "rental")
    p["area_m2"] = 110.0
    rebalance(d, p)
    (f,) = findings(d)
    assert (f.rule_id, f.limit) == ("suihua.rental_unit_area", "≤ 100 m²")


def test_commingling_flagged_by_every_city_rule_set():
    for name, rule, doc in (("liaoning_2025", "liaoning.ring_fenced", LIAONING), ("suihua", "suihua.ring_fenced", SUIHUA),
                            ("weihai", "weihai.ring_fenced", WEIHAI), ("loudi", "loudi.ring_fenced", LOUDI),
                            ("beitun", "beitun.ring_fenced", BEITUN)):
        d = data(name)
        d["waterfall"]["cross_project_support"] = True
        f = hit(findings(d), rule)
        assert (f.document, f.project) == (doc, "programme")


def test_suihua_price_caps():
    d = data("suihua")
    p = project(d, "sale")
    p["acquisition_price_yuan_per_m2"] = 3100.0  # (250 + 2,600) × 1.05 = 2,992.5; replacement 3,000
    rebalance(d, p)
    fs = findings(d)
    assert {f.rule_id for f in fs} == {"suihua.price_cost_cap", "suihua.price_replacement_cap"}
    assert "2,992 yuan/m²" in hit(fs, "suihua.price_cost_cap").actual


def test_weihai_price_must_be_below_market_and_replacement():
    d = data("weihai")
    p = project(d, "rental")
    p["acquisition_price_yuan_per_m2"] = p["appraisal_yuan_per_m2"]  # 8,000 = market, above 6,600 replacement
    rebalance(d, p)
    fs = findings(d)
    assert {f.rule_id for f in fs} == {"weihai.price_below_market", "weihai.price_replacement_cap"}
    assert hit(fs, "weihai.price_below_market").actual == "100 %"


def test_loudi_closed_management_rules():
    d = data("loudi")
    bb = project(d, "sale")["sale"]["buyback"]
    bb["lockup_years"] = 3
    bb["price_rule"] = "original_indexed"
    bb["resale_margin"] = 0.10
    project(d, "sale")["sale"]["buyer_down_payment_share"] = 0.10
    project(d, "rental")["rental"]["lease_years"] = 1
    fs = findings(d)
    assert {f.rule_id for f in fs} == {"loudi.lockup", "loudi.buyback_price", "loudi.resale_margin",
                                       "loudi.down_payment", "loudi.lease_years"}
    assert hit(fs, "loudi.lockup").actual == "3 years"
    del project(d, "sale")["sale"]["buyback"]
    assert "loudi.closed_management" in {f.rule_id for f in findings(d)}


def test_beitun_sale_price_must_be_below_market():
    d = data("beitun")
    p = project(d, "sale")
    sc = scenario_from_dict(d)
    price = sale_price_yuan_per_m2(sc.projects[0])
    # hand check: (6,480,000 / 32,400 m² + 2,900) × 1.03 = (200 + 2,900) × 1.03 = 3,193 yuan/m²
    assert price == pytest.approx(3193.0)
    p["appraisal_yuan_per_m2"] = 3000.0  # the market is below the affordable price
    f = hit(findings(d), "beitun.sale_below_market")
    assert f.actual == f"{100 * 3193 / 3000:.4g} %"


def test_suihua_sweep_seniority_and_deposit():
    d = data("suihua")
    project(d, "sale")["sale"]["sweep_share"] = 0.5
    project(d, "sale")["sale"]["deposit_share"] = 0.0
    d["waterfall"]["seniority"] = "bonds_first"
    assert {f.rule_id for f in findings(d)} == {"suihua.proceeds_repay_loans", "suihua.deposit", "suihua.loans_first"}


def test_national_relending_terms():
    d = data("liaoning_2025")
    rel = d["projects"][1]["financing"]["loans"][0]["relending"]
    rel["rollovers"] = 9
    (f,) = findings(d)
    assert (f.rule_id, f.document) == ("national.relending_terms", FACTS)
    assert f.actual == "1-year term, 9 rollovers"


# ------------------------------------------------------------------------------------------ the rule table itself
def test_rule_table_is_well_formed():
    assert len({r.id for r in RULES}) == len(RULES)
    for s in RULE_SETS:
        assert rules_for([s]), f"rule set {s} is empty"
    for r in RULES:
        assert r.id.startswith(r.rule_set + ".")
        assert r.document in (LIAONING, SUIHUA, WEIHAI, LOUDI, BEITUN, FACTS)
        assert r.clause.startswith("§") and r.limit and r.requirement
        if r.rule_set != "national":
            assert r.document.endswith(".txt")


def test_unknown_rule_set_is_an_input_error(tmp_path):
    with pytest.raises(ScenarioError, match="unknown rule set 'shanghai'"):
        rules_for(["national", "shanghai"])
    text = (SCENARIOS / "loudi.toml").read_text(encoding="utf-8").replace(
        'rule_sets = ["national", "loudi"]', 'rule_sets = ["national", "shanghai"]')
    f = tmp_path / "bad.toml"
    f.write_text(text, encoding="utf-8")
    r = CliRunner().invoke(app, ["check", str(f)])
    assert r.exit_code == 2
    assert "unknown rule set 'shanghai'" in r.output


def test_cost_caps_without_a_cost_basis_are_unverifiable_not_findings():
    d = data("loudi")
    p = project(d, "sale")
    del p["cost_basis"]
    sc = scenario_from_dict(d)
    assert check_scenario(sc) == []
    (u,) = unverifiable(sc)
    assert (u.rule_id, u.document, u.project) == ("loudi.sale_price_cost_cap", LOUDI, p["name"])


# ------------------------------------------------------------------------------------------ CLI and printing
def test_cli_check_exit_codes(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["check", str(SCENARIOS / "suihua.toml")])
    assert ok.exit_code == 0 and "no findings" in ok.output
    text = (SCENARIOS / "suihua.toml").read_text(encoding="utf-8").replace(
        "presubscription_share = 0.96", "presubscription_share = 0.80")
    bad = tmp_path / "suihua_80.toml"
    bad.write_text(text, encoding="utf-8")
    r = runner.invoke(app, ["check", str(bad)])
    assert r.exit_code == 1
    assert "suihua.presubscription" in r.output and SUIHUA in r.output
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace("units = 400", "units = -4"), encoding="utf-8")
    r = runner.invoke(app, ["check", str(broken)])
    assert r.exit_code == 2 and "units" in r.output


def test_print_findings_table():
    d = data("loudi")
    project(d, "rental")["rental"]["rent_ratio"] = 0.95
    sc = scenario_from_dict(d)
    con = Console(record=True, width=200)
    print_findings(sc, check_scenario(sc), con, source="loudi-variant")
    out = con.export_text()
    for text in ("loudi.rent_ratio", LOUDI, "§七(一)3", "Rental block (配租型)", "95 %", "≤ 80 %",
                 "2 policy finding(s) under [national, loudi]"):
        assert text in out
