"""The browser app (``baozhang app``): its service without a browser (sessions kept apart, uploads limited and
validated, no path from the browser read), then the page in a real headless Chromium driven by Selenium."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from baozhang_finance.cli.webapp import MAX_UPLOAD_BYTES, create_app
from baozhang_finance.model.fields import set_field
from baozhang_finance.model.scenario import load_scenario, scenario_from_dict
from baozhang_finance.report.workbook import to_toml, write_workbook

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.toml"
CLI = [sys.executable, "-c", "from baozhang_finance.cli import main; main()"]
DOC_IMG = ROOT / "docs" / "img"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _bad_workbook(path: Path) -> Path:
    """The demo workbook with area_m2 = −70 in the second project's column."""
    write_workbook(path, load_scenario(DEMO))
    wb = openpyxl.load_workbook(path)
    ws = wb["项目"]
    row = next(c.row for c in ws["A"] if c.value == "area_m2")
    ws.cell(row, 4, -70)
    wb.save(path)
    return path


# ---------------------------------------------------------------------------------------------- the service
@pytest.fixture(scope="module")
def service(tmp_path_factory):
    app = create_app(workdir=tmp_path_factory.mktemp("app"))
    with TestClient(app, base_url="http://127.0.0.1") as a, TestClient(app, base_url="http://127.0.0.1") as b:
        a.get("/")
        b.get("/")
        yield app, a, b


def _wait(client, job, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        st = client.get(f"/api/job/{job}").json()
        if st["state"] in ("done", "error"):
            return st
        time.sleep(0.2)
    raise AssertionError("run did not finish")


def test_sessions_are_apart_and_downloads_are_a_fixed_set(service):
    app, a, b = service
    opened = a.post("/api/open", json={"name": "demo"}).json()
    assert {lv["id"] for lv in opened["levers"]} >= {"rent_ratio[0]", "equity_share[0]", "grant[0]",
                                                     "waterfall.soe_support_capacity_yuan"}
    assert {c["id"] for c in opened["cures"]} == {"extension", "refinancing", "sinking_fund", "disposal"}
    # a lever out of its range, an unknown lever, a non-number: refused with a message, nothing started
    for levers, word in (({"rent_ratio[0]": 9.0}, "rent_ratio[0]"), ({"programme.name": 1}, "not a lever"),
                         ({"rent_ratio[0]": "0.7"}, "must be a number")):
        r = a.post("/api/run", json={"id": opened["id"], "levers": levers, "paths": 10})
        assert r.status_code == 400 and word in r.json()["error"], r.text
    r = a.post("/api/run", json={"id": opened["id"], "levers": {"rent_ratio[0]": 0.75},
                                 "cures": {"extension": True}, "paths": 200, "seed": 3, "chunk_size": 100})
    job = r.json()["job"]
    st = _wait(a, job)
    assert st["state"] == "done", st
    assert st["done"] == st["total"] == 200
    res = st["result"]
    assert 0.0 <= res["summary"]["hidden_debt"]["p_call"] <= 1.0
    assert any("0.8 → 0.75" in row["value"] for row in res["rests_on"])
    assert a.get(f"/api/job/{job}/file/plan.toml").text.count("rent_ratio = 0.75") == 1
    assert a.get(f"/api/job/{job}/file/report.xlsx").status_code == 200
    assert a.get(f"/api/job/{job}/chart/dscr_fan.png").headers["content-type"] == "image/png"
    # the other session sees neither the run nor the scenario
    assert b.get(f"/api/job/{job}").status_code == 404
    assert b.post("/api/run", json={"id": opened["id"], "paths": 10}).status_code == 404
    # no path from the browser is read
    for name in ("..%2Fsummary.json", "%2Fetc%2Fpasswd", "run.json", "../../plan.toml"):
        assert a.get(f"/api/job/{job}/file/{name}").status_code == 404
    assert a.post("/api/open", json={"name": "/etc/passwd"}).status_code == 404
    assert a.post("/api/open", json={"name": "../scenarios/demo"}).status_code == 404
    # no cookie, no session; a foreign Host is refused (DNS rebinding)
    assert TestClient(app, base_url="http://127.0.0.1").get("/api/scenarios").status_code == 401
    assert TestClient(app, base_url="http://evil.example").get("/api/health").status_code == 400


def test_uploads_are_limited_and_validated(service, tmp_path):
    _, a, _ = service
    bad = _bad_workbook(tmp_path / "bad plan.xlsx")
    r = a.post("/api/upload", files={"file": ("../../bad plan.xlsx", bad.read_bytes())})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err.startswith("bad plan.xlsx: 项目!D7 area_m2: must be > 0"), err
    assert str(tmp_path) not in err and "upload-" not in err  # the server's own paths stay its own
    r = a.post("/api/upload", files={"file": ("plan.exe", b"MZ")})
    assert r.status_code == 400 and ".toml" in r.json()["error"]
    r = a.post("/api/upload", files={"file": ("big.toml", b"#" * (MAX_UPLOAD_BYTES + 1))})
    assert r.status_code == 413
    r = a.post("/api/upload", files={"file": ("plan.toml", b"[programme\nname = 1")})
    assert r.status_code == 400 and r.json()["error"].startswith("plan.toml: ")
    r = a.post("/api/upload", files={"file": ("demo.toml", DEMO.read_bytes())})
    assert r.status_code == 200 and r.json()["programme"].startswith("Demo")


def _bond_only(tmp_path: Path) -> Path:
    """The demo's first project alone, its bank loan replaced by equity: special bonds, no bank debt."""
    data = load_scenario(DEMO).model_dump()
    p = data["projects"][0]
    p["financing"]["equity_yuan"] += sum(loan["amount_yuan"] for loan in p["financing"]["loans"])
    p["financing"]["loans"] = []
    data["projects"] = [p]
    path = tmp_path / "bond_only.toml"
    path.write_text(to_toml(scenario_from_dict(data, source="bond-only")), encoding="utf-8")
    return path


def test_a_changed_lever_carries_no_source_of_its_own(service):
    """A source note belongs to the file's value: an unchanged lever keeps it; a changed one says it is the user's
    value and gives the default with its source — in what the answer rests on and in the downloaded plan.toml."""
    _, a, _ = service
    opened = a.post("/api/open", json={"name": "demo"}).json()
    note = next(lv["note"] for lv in opened["levers"] if lv["id"] == "rent_ratio[0]")
    assert note.startswith("seeds/003 §五")
    grant = next(lv for lv in opened["levers"] if lv["id"] == "grant[0]")
    r = a.post("/api/run", json={"id": opened["id"], "levers": {"rent_ratio[0]": 0.75, "grant[0]": grant["value"] + 1e6},
                                 "paths": 100, "seed": 3, "chunk_size": 100})
    st = _wait(a, r.json()["job"])
    assert st["state"] == "done", st
    rows = {row["what"]: row for row in st["result"]["rests_on"]}
    rent = next(row for what, row in rows.items() if what.startswith("租金折扣率"))
    assert rent["value"].startswith("0.75")
    assert rent["source"] == f"用户取值(本次调整) the user's value, changed in the app; 默认 default: 0.8 — 来源 source: {note}"
    term = next(row for what, row in rows.items() if what.startswith("贷款期限") and "Rental block A" in what)
    assert term["source"] == next(lv["note"] for lv in opened["levers"] if lv["id"].endswith("loans[0].term_years"))
    assert not term["source"].startswith("用户取值")
    toml = a.get(f"/api/job/{r.json()['job']}/file/plan.toml").text
    line = next(ln for ln in toml.splitlines() if ln.startswith("rent_ratio = 0.75"))
    assert "用户取值" in line and "默认 default: 0.8" in line and "seeds/003 §五" in line
    # the first loan moved with the grant (sources = uses): its amount's note is no longer "40 % of investment" alone
    amount = [ln for ln in toml.splitlines() if ln.startswith("amount_yuan =") and "默认 default: 58,650,000" in ln]
    assert len(amount) == 1 and "40 % of investment" in amount[0], amount


def test_the_headline_coverage_follows_decision_70(service, tmp_path):
    """The page is told which 本息覆盖倍数 heads the fiscal lens: all financing where bank loans sit beside the
    bonds (the demo), the bond coverage for a bond-only programme (as report/tables.py decides)."""
    _, a, _ = service
    demo = a.post("/api/open", json={"name": "demo"}).json()
    bond = a.post("/api/upload", files={"file": ("bond_only.toml", _bond_only(tmp_path).read_bytes())}).json()
    heads = {}
    for name, opened in (("demo", demo), ("bond_only", bond)):
        r = a.post("/api/run", json={"id": opened["id"], "paths": 100, "seed": 3, "chunk_size": 100})
        st = _wait(a, r.json()["job"])
        assert st["state"] == "done", st
        s = st["result"]["summary"]
        heads[name] = st["result"]["coverage_headline"]
        assert s["bank"]["has_bank_debt"] is (name == "demo")
    assert heads == {"demo": "coverage.bond_coverage_all_financing", "bond_only": "coverage.bond_coverage_ratio"}


NODE = shutil.which("node")
APP_JS = ROOT / "src" / "baozhang_finance" / "cli" / "static" / "app.js"


def _js(expr: str):
    """``expr`` evaluated in node after app.js (no DOM: the page's pure functions only)."""
    script = ("const fs = require('fs'), vm = require('vm');"
              "const ctx = {document: {addEventListener() {}}, console};"
              "vm.createContext(ctx); vm.runInContext(fs.readFileSync(process.argv[1], 'utf8'), ctx);"
              "process.stdout.write(JSON.stringify(vm.runInContext(process.argv[2], ctx)));")
    out = subprocess.run([NODE, "-e", script, str(APP_JS), expr], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_pages_lever_note_and_coverage_rows():
    lv = '{id: "rent_ratio[0]", value: 0.8, unit: "× market rent", note: "seeds/003 §五: rent = 80 %"}'
    assert _js(f"leverNote({lv}, 0.8)") == "来源 source: seeds/003 §五: rent = 80 %"
    assert _js(f"leverNote({lv}, 0.7)") == \
        "用户取值 your value (默认 default: 0.8 × market rent; 来源 source: seeds/003 §五: rent = 80 %)"
    assert _js(f"leverNote({lv}, NaN)").startswith("用户取值")  # an emptied field is not the default
    assert _js('leverNote({value: 0, unit: "元 yuan", note: ""}, 0)') == ""
    assert _js('leverNote({value: 0, unit: "元 yuan", note: ""}, 5e6)') == "用户取值 your value (默认 default: 0 元 yuan)"
    paths = "(k) => coverageRows(k).map((r) => [r[0], r[1]])"
    both = _js(f"({paths})('coverage.bond_coverage_all_financing')")
    assert [p for _, p in both] == ["coverage.bond_coverage_all_financing.p50", "coverage.bond_coverage_ratio.p50"]
    assert "bonds only, before bank service" in both[1][0]
    alone = _js(f"({paths})('coverage.bond_coverage_ratio')")
    assert alone == [["本息覆盖倍数 bond coverage p50", "coverage.bond_coverage_ratio.p50"]]


#: a few lines of DOM for node: elements by id, created on first use; an input's value is a string, as in a browser
_DOM = """
const els = {};
function mk(tag) { return {tag, children: [], listeners: {}, dataset: {}, hidden: false, textContent: "", _v: "",
  set value(v) { this._v = String(v); }, get value() { return this._v; }, set innerHTML(v) { this.children = []; },
  appendChild(c) { this.children.push(c); if (c.id) els[c.id] = c; return c; },
  addEventListener(t, f) { (this.listeners[t] = this.listeners[t] || []).push(f); }}; }
const document = {createElement: mk, createTextNode: (t) => ({t}), addEventListener() {}, querySelectorAll: () => [],
  getElementById: (id) => els[id] || (els[id] = mk("div"))};
"""


def _page(steps: str):
    """``steps`` run in node on app.js with :data:`_DOM`; returns what they ``return`` (JSON)."""
    script = ("const fs = require('fs'), vm = require('vm');" + _DOM +
              "const ctx = {document, console, els}; vm.createContext(ctx);"
              "vm.runInContext(fs.readFileSync(process.argv[1], 'utf8'), ctx);"
              "process.stdout.write(JSON.stringify((function () {" + "\n" + "%s" + "\n" + "})()));")
    out = subprocess.run([NODE, "-e", script % steps, str(APP_JS)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_page_shows_a_source_only_beside_the_default_and_the_coverage_of_decision_70():
    """Without a browser: the lever panel's note follows the input (typed 0.7: the user's value and the default's
    source; back to 0.80: the source), and the fiscal lens shows the coverage rows the server's headline names."""
    got = _page("""
      ctx.renderOpened({name: "demo.toml", programme: "P", city: "C", projects: [], cures: [], paths: 1, seed: 1,
        chunk_size: 1, levers: [{id: "rent_ratio[0]", label: "rent", value: 0.8, min: 0.1, max: 1.5, integer: false,
                                 unit: "× market rent", note: "seeds/003 §五"}]});
      const input = els["lever-rent_ratio-0-"], note = els["lever-rent_ratio-0--note"], seen = [note.textContent];
      for (const v of ["0.7", "0.80"]) { input.value = v; input.listeners.input.forEach((f) => f()); seen.push(note.textContent); }
      const rows = {};
      for (const head of ["coverage.bond_coverage_all_financing", "coverage.bond_coverage_ratio"]) {
        delete els["coverage-bond-only"];
        ctx.renderResult("j", {summary: {coverage: {bond_coverage_ratio: {p50: 1.67}, bond_coverage_all_financing: {p50: 0.6}}},
                               answer: "", charts: [], downloads: [], rests_on: [], command: "", coverage_headline: head});
        rows[head] = [els["coverage"].textContent, els["coverage-bond-only"] ? els["coverage-bond-only"].textContent : null];
      }
      return {seen, rows};""")
    assert got["seen"] == ["来源 source: seeds/003 §五",
                           "用户取值 your value (默认 default: 0.8 × market rent; 来源 source: seeds/003 §五)",
                           "来源 source: seeds/003 §五"]
    assert got["rows"] == {"coverage.bond_coverage_all_financing": ["0.60", "1.67"],
                           "coverage.bond_coverage_ratio": ["1.67", None]}


def test_every_row_the_page_shows_has_chinese_and_english():
    import re

    js = APP_JS.read_text(encoding="utf-8")
    labels = re.findall(r'^\s*\["([^"]+)", "[a-z_.]+\.[a-z_.0-9]+"', js, flags=re.M)
    assert len(labels) >= 20, labels
    bad = [s for s in labels if not (re.search(r"[\u4e00-\u9fff]", s) and re.search(r"\b[a-z]{4,}\b", s))]
    assert not bad, bad


# ---------------------------------------------------------------------------------------------- in a browser
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    env = {**os.environ}
    proc = subprocess.Popen(CLI + ["app", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    url = f"http://127.0.0.1:{port}"
    t0 = time.time()
    while True:
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            if proc.poll() is not None or time.time() - t0 > 30:
                out, err = proc.communicate(timeout=5)
                raise AssertionError(f"app did not start: {err.decode()[-2000:]}")
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Chromium or chromedriver not installed (apt-get install chromium chromium-driver; "
                    ".ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1280,2200", "--lang=zh-CN"):
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _shot(driver, tmp_path: Path, name: str) -> Path:
    """A screenshot, kept with the test; copied to docs/img when BAOZHANG_DOC_SCREENSHOTS=1 (the bureau guide)."""
    path = tmp_path / name
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    if os.environ.get("BAOZHANG_DOC_SCREENSHOTS") == "1":
        DOC_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOC_IMG / name)
    return path


def test_app_in_a_browser_matches_the_command_line(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait

    d = browser
    wait = WebDriverWait(d, 120)
    d.get(server + "/")
    wait.until(lambda drv: drv.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    Select(d.find_element(By.ID, "bundled")).select_by_value("demo")
    d.find_element(By.ID, "open-bundled").click()
    rent = wait.until(EC.visibility_of_element_located((By.ID, "lever-rent_ratio-0-")))
    assert float(rent.get_attribute("value")) == 0.8
    for el, value in ((rent, "0.7"), (d.find_element(By.ID, "paths"), "1000"), (d.find_element(By.ID, "seed"), "7"),
                      (d.find_element(By.ID, "chunk"), "250")):
        el.clear()
        el.send_keys(value)
    _shot(d, tmp_path, "app-levers.png")
    d.find_element(By.ID, "run").click()
    wait.until(EC.visibility_of_element_located((By.ID, "results")))
    bar = d.find_element(By.ID, "progress")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "1000"
    p_page = float(d.find_element(By.ID, "p-call").get_attribute("data-value"))
    assert "%" in d.find_element(By.ID, "p-call").text
    charts = d.find_elements(By.CSS_SELECTOR, "#charts img")
    assert len(charts) == 5
    wait.until(lambda drv: all(drv.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", im)
                               for im in charts))
    assert "0.8 → 0.7" in d.find_element(By.ID, "rests-on").text
    _shot(d, tmp_path, "app-result.png")

    # the same scenario, seed, paths and chunk size on the command line
    sc = set_field(load_scenario(DEMO), "projects[0].rental.rent_ratio", 0.7)
    plan = tmp_path / "plan.toml"
    plan.write_text(to_toml(sc), encoding="utf-8")
    proc = subprocess.run(CLI + ["run", str(plan), "--paths", "1000", "--seed", "7", "--chunk-size", "250", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["hidden_debt"]["p_call"] == p_page

    # the report opens in the same browser: text rendered, the charts present
    href = d.find_element(By.ID, "view-report").get_attribute("href")
    d.get(href)
    wait.until(EC.presence_of_element_located((By.TAG_NAME, "h2")))
    body = d.find_element(By.TAG_NAME, "body").text
    assert "结论" in body and "hidden debt" in body.lower()
    imgs = d.find_elements(By.CSS_SELECTOR, "img")
    assert len(imgs) >= 5 and all(d.execute_script("return arguments[0].naturalWidth > 0", im) for im in imgs)
    _shot(d, tmp_path, "report-html.png")


def test_app_upload_of_a_bad_workbook_shows_the_located_error(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    wait = WebDriverWait(d, 60)
    d.get(server + "/")
    wait.until(lambda drv: drv.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    bad = _bad_workbook(tmp_path / "plan.xlsx")
    d.find_element(By.ID, "upload-file").send_keys(str(bad))
    d.find_element(By.ID, "upload").click()
    box = wait.until(EC.visibility_of_element_located((By.ID, "error")))
    assert "plan.xlsx: 项目!D7 area_m2: must be > 0" in box.text, box.text
    assert not d.find_element(By.ID, "levers-section").is_displayed()
    _shot(d, tmp_path, "app-upload-error.png")


def test_a_port_in_use_is_one_line_and_exit_2():
    """A second app on a port already listened on: one located line, exit 2 (not uvicorn's error and exit 3, the
    code of a failed Dask cluster), and no banner."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-c", "from baozhang_finance.cli import main; main()", "app",
                               "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"--port {port}" in lines[0] and "Traceback" not in proc.stderr
    assert "baozhang app:" not in proc.stdout
