"""Reports of a run: report.xlsx read back with openpyxl, the charts, report.html opened in headless Chromium,
the median path's replay, the waterfall's closure, CJK labels or their clean English fallback."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from baozhang_finance import load_scenario
from baozhang_finance import simulate
from baozhang_finance.report import charts as pl
from baozhang_finance.report import html as rp

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.toml"
PATHS, SEED, CHUNK = 800, 11, 300  # three chunks: the median path's replay must find its chunk and row
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CJK_RE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    res = simulate(load_scenario(DEMO), paths=PATHS, seed=SEED, chunk_size=CHUNK)
    out = tmp_path_factory.mktemp("report") / "run"
    res.save(out, extra_writers=rp.report_writers())
    return res, out


# ------------------------------------------------------------------------------------------------ run folder
def test_run_folder_holds_every_file(run):
    _, out = run
    for name in ("summary.json", "paths.parquet", "yearly.csv", "manifest.json", "report.xlsx", "report.html"):
        assert (out / name).is_file(), name
    pngs = sorted(p.name for p in (out / "charts").glob("*.png"))
    assert pngs == sorted(rp.CHART_FILES)
    for p in (out / "charts").glob("*.png"):
        head = p.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        assert w >= 900 and h >= 500, (p.name, w, h)  # 150 dpi × (7.5 × 4 in) at least
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "temporary folder left behind"


# ------------------------------------------------------------------------------------------------ workbook
def test_xlsx_summary_equals_summary_json(run):
    openpyxl = pytest.importorskip("openpyxl")
    _, out = run
    want = dict(rp.flatten(json.loads((out / "summary.json").read_text())))
    wb = openpyxl.load_workbook(out / "report.xlsx", read_only=True)
    assert wb.sheetnames == ["Guide", "Summary", "Inputs", "Yearly", "Median path", "Paths sample", "Manifest"]
    rows = list(wb["Summary"].iter_rows(min_row=2, values_only=True))
    got = {r[1]: r[2] for r in rows}
    assert set(got) == set(want)
    compared = 0
    for key, v in want.items():
        if isinstance(v, bool) or v is None or isinstance(v, str):
            assert got[key] == v, key
        else:
            # XlsxWriter writes 16 significant digits (Excel itself keeps 15)
            assert got[key] == pytest.approx(v, rel=1e-15, abs=0.0), key
            compared += 1
    assert compared > 100
    # the 万元 column is the yuan value / 10,000
    wan = {r[1]: r[4] for r in rows if r[3] == "yuan 元" and r[2] is not None}
    assert wan["hidden_debt.expected_pv"] == pytest.approx(want["hidden_debt.expected_pv"] / 1e4, rel=1e-14)
    wb.close()


def test_xlsx_inputs_yearly_sample_and_formats(run):
    openpyxl = pytest.importorskip("openpyxl")
    res, out = run
    wb = openpyxl.load_workbook(out / "report.xlsx")
    inputs = {r[0]: r[1] for r in wb["Inputs"].iter_rows(min_row=2, values_only=True)}
    assert inputs["projects[0].financing.loans[0].amount_yuan"] == 58_650_000.0
    assert inputs["projects[1].sale.margin"] == 0.03
    assert inputs["market.correlation[0][6]"] == 0.6
    ws = wb["Summary"]
    assert ws.freeze_panes == "A2"
    fmt = {ws.cell(r, 2).value: ws.cell(r, 3).number_format for r in range(2, ws.max_row + 1)}
    assert fmt["hidden_debt.p_call"] == "0.00%"
    assert fmt["hidden_debt.expected_pv"] == "#,##0"
    assert fmt["coverage.dscr_min.p50"] == "0.000"
    # yearly fans: money in 万元
    yd = res.yearly
    row = yd[(yd["quantity"] == "cfads") & (yd["year"] == 5)].iloc[0]
    hit = [r for r in wb["Yearly"].iter_rows(min_row=2, values_only=True) if r[0] == "cfads" and r[2] == 5][0]
    assert hit[1] == "万元"
    assert hit[8] == pytest.approx(row["p50"] / 1e4, rel=1e-12)
    # a capped sample, not a dump
    sample = wb["Paths sample"]
    assert sample.max_row == 1 + min(rp.PATHS_SAMPLE_ROWS, PATHS)
    header = [c.value for c in sample[1]]
    col = header.index("hidden_debt_pv") + 1
    assert sample.cell(2 + 7, col).value == pytest.approx(float(res.paths["hidden_debt_pv"].iloc[7]), rel=1e-15)
    assert wb["Yearly"].column_dimensions["A"].width > 10


def test_xlsx_median_path_cash_flows_match_the_run(run):
    openpyxl = pytest.importorskip("openpyxl")
    res, out = run
    idx = rp.median_path_index(res)
    pv = res.paths["hidden_debt_pv"].to_numpy()
    assert pv[idx] == np.sort(pv)[(PATHS - 1) // 2]  # the lower median
    mp = rp.median_path(res)
    tables = rp.project_cash_flows(res, mp)
    cf = sum(df["CFADS 可偿债现金流"].to_numpy() for name, df in tables.items() if name != "programme")
    # the per-project flows of the replay add up to the run's own yearly ledger of that path (kept as float32)
    np.testing.assert_allclose(cf, res.ledger("cfads")[idx], rtol=1e-6, atol=1.0)
    np.testing.assert_allclose(tables["programme"]["hidden-debt call 隐性债务代偿"], res.ledger("gov_hidden")[idx],
                               rtol=1e-6, atol=1.0)
    wb = openpyxl.load_workbook(out / "report.xlsx", read_only=True)
    ws = list(wb["Median path"].iter_rows(values_only=True))
    assert f"Path {mp.index}:" in ws[0][0]
    first = res.scenario.projects[0].name
    start = next(i for i, r in enumerate(ws) if r[0] == first)
    header = ws[start + 1]
    year1 = ws[start + 2]
    j = header.index("rent collected 租金")
    assert year1[0] == 1 and year1[1] == 2025
    assert year1[j] == pytest.approx(tables[first]["rent collected 租金"].iloc[0], rel=1e-12)
    wb.close()


def test_replay_reproduces_any_path_and_refuses_a_wrong_one(run):
    res, _ = run
    for i in (299, 300, PATHS - 1):  # last row of chunk 0, first of chunk 1, last of the short last chunk
        mp = rp.replay_path(res, i)
        # the same draws; vectorised arithmetic over 1 row instead of 300 may differ in the last bits
        assert mp.scalars["pv_hidden"][0] == pytest.approx(res.paths["hidden_debt_pv"].iloc[i], rel=1e-12, abs=1e-6)
        assert mp.scalars["default_month"][0] == res.paths["default_month"].iloc[i]
    bad = simulate(load_scenario(DEMO), paths=40, seed=SEED, chunk_size=20)
    bad.run["seed"] = SEED + 1  # the replay would draw another market: it must notice, not report it
    with pytest.raises(RuntimeError, match="does not reproduce"):
        rp.replay_path(bad, int(np.argmax(bad.paths["hidden_debt_pv"].to_numpy())))


def test_waterfall_of_the_median_path_closes(run):
    res, _ = run
    flows = rp.waterfall_flows(rp.median_path(res))
    signed = sum(sign * flows[key] for key, sign in pl.WATERFALL_STEPS)
    scale = flows["funding"]
    assert signed == pytest.approx(flows["end_cash"], abs=1e-9 * scale)
    # the demo has no upfront reserve: funding raised = acquisition uses = total investment 246,413,000 yuan
    assert flows["funding"] == pytest.approx(146_625_000 + 99_788_000, rel=1e-12)
    assert flows["acquisition"] == pytest.approx(flows["funding"], rel=1e-12)
    mp = rp.median_path(res)
    assert flows["gov_hidden"] == pytest.approx(float(res.ledger("gov_hidden")[mp.index].sum()), rel=1e-6, abs=1.0)


# ------------------------------------------------------------------------------------------------ charts
def _texts(fig):
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def _draw_all(res):
    import matplotlib
    import matplotlib.pyplot as plt

    mp = rp.median_path(res)
    figs = []
    with matplotlib.rc_context(pl.font_rc()):
        for draw in (lambda ax: pl.fan_chart(ax, res.yearly, "cash_balance"),
                     lambda ax: pl.fan_chart(ax, res.yearly, "dscr"),
                     lambda ax: pl.hidden_debt_distribution(ax, res.paths["hidden_debt_pv"]),
                     lambda ax: pl.pd_curve(ax, res.summary["bank"]["pd_cumulative"], "2025-07"),
                     lambda ax: pl.cash_waterfall(ax, rp.waterfall_flows(mp),
                                                  title=pl.safe_text("中位路径 Median path (保租房)"))):
            fig, ax = plt.subplots(figsize=(6, 3.5))
            assert draw(ax) is ax
            fig.canvas.draw()
            figs.append(fig)
    return figs


def test_charts_without_a_cjk_font_are_english_and_tofu_free(run, monkeypatch):
    import matplotlib.pyplot as plt

    res, _ = run
    monkeypatch.setenv("BAOZHANG_NO_CJK", "1")
    assert pl.cjk_font() is None
    assert pl.safe_text("Rental block A (保租房)") == "Rental block A"
    assert pl.safe_text("专项债", "bond 1") == "bond 1"
    assert pl.label("median", "中位数") == "median"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figs = _draw_all(res)
    missing = [str(w.message) for w in caught if "missing from" in str(w.message).lower()]
    assert not missing, missing
    for fig in figs:
        assert not any(CJK_RE.search(t) for t in _texts(fig)), _texts(fig)
        plt.close(fig)


@pytest.mark.skipif(pl.cjk_font() is None, reason="no CJK font installed (apt-get install fonts-noto-cjk)")
def test_cjk_font_installed_after_matplotlibs_font_cache_is_found(monkeypatch):
    """CI installs fonts-noto-cjk with apt after matplotlib may have cached its font list: the detection must
    still find the font files and register them."""
    from matplotlib import font_manager

    no_cjk = [f for f in font_manager.fontManager.ttflist if f.name not in pl.CJK_FAMILIES and "CJK" not in f.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", no_cjk)
    assert pl._installed_cjk_family.__wrapped__() in pl.CJK_FAMILIES


@pytest.mark.skipif(pl.cjk_font() is None, reason="no CJK font installed (apt-get install fonts-noto-cjk)")
def test_charts_with_a_cjk_font_draw_chinese_glyphs(run):
    import matplotlib.pyplot as plt

    res, _ = run
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figs = _draw_all(res)
    missing = [str(w.message) for w in caught if "missing from" in str(w.message).lower()]
    assert not missing, missing
    titles = [fig.axes[0].get_title() for fig in figs]
    assert all(CJK_RE.search(t) for t in titles), titles
    assert "中位数" in " ".join(_texts(figs[0]))
    for fig in figs:
        plt.close(fig)


# ------------------------------------------------------------------------------------------------ HTML
def test_html_is_self_contained_and_answers_the_question(run):
    res, out = run
    page = (out / "report.html").read_text(encoding="utf-8")
    s = json.loads((out / "summary.json").read_text())
    assert f"<title>{res.scenario.programme.name}" in page
    assert page.count('src="data:image/png;base64,') == len(rp.CHART_FILES)
    assert not re.search(r'(src|href)="(https?:|//|file:)', page), "external reference in a self-contained page"
    p = s["hidden_debt"]["p_call"]
    answer = re.search(r'id="answer">([^<]+)<', page).group(1)
    assert f"{100 * p:.1f} %" in answer and f"{PATHS:,} simulated futures" in answer
    assert f"{s['hidden_debt']['expected_pv'] / 1e4:,.0f} 万元" in answer
    for heading in ("Fiscal lens", "Bank lens", "SOE lens", "Policy compliance", "Key assumptions", "Run manifest"):
        assert heading in page
    assert res.scenario.projects[0].financing.loans[0].name in page  # financing assumptions
    assert "price_drift_annual" in page and "lpr_initial" in page  # market parameters
    assert json.loads((out / "manifest.json").read_text())["scenario_sha256"] in page


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_html_renders_in_headless_chromium(run, tmp_path):
    from PIL import Image

    res, out = run
    url = (out / "report.html").resolve().as_uri()
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
              f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "shot.png"
    subprocess.run(common + [f"--screenshot={shot}", "--window-size=1200,2000", url], capture_output=True,
                   timeout=90, check=True)
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape == (2000, 1200)
    dark = (img < 200).mean()
    assert 0.02 < dark < 0.6, f"screenshot looks blank or solid: {dark:.3f} of pixels dark"
    assert img.std() > 20
    dom = subprocess.run(common + ["--dump-dom", "--virtual-time-budget=5000", url], capture_output=True,
                         text=True, timeout=90, check=True).stdout
    assert f"<title>{res.scenario.programme.name}" in dom
    assert 'data-images-loaded="true"' in dom, "an embedded chart did not load"
    assert f'data-image-count="{len(rp.CHART_FILES)}"' in dom


# ------------------------------------------------------------------------------------------------ re-render
def test_render_reports_replaces_in_place_atomically(run, tmp_path):
    res, out = run
    run_dir = tmp_path / "copy"
    shutil.copytree(out, run_dir)
    (run_dir / "report.html").write_text("stale")
    (run_dir / "charts" / "stale.png").write_bytes(b"x")
    rp.render_reports(run_dir, result=res)
    assert (run_dir / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in (run_dir / "charts").iterdir()) == sorted(rp.CHART_FILES)
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".")], "temporary files left behind"
