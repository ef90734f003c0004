"""``--lang zh | en | both``: every word a user reads comes from the catalogue in the language asked for.

report.html, report.xlsx, a chart and the terminal tables in Chinese hold the Chinese labels and no English-only
heading, in English no Chinese heading; the numbers are the same in every language; the setting comes from
``--lang``, else ``BAOZHANG_LANG``, else "both"; a saved run re-renders in Chinese; the Chinese page renders in
headless Chromium; the app passes its choice to the reports it writes.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import string
import subprocess
import time
import warnings
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from baozhang_finance import load_scenario, simulate
from baozhang_finance.cli import app
from baozhang_finance.measures.catalogue import CATALOGUE
from baozhang_finance.report import charts as pl
from baozhang_finance.report import format as F
from baozhang_finance.report import html as rp
from baozhang_finance.report.tables import print_summary, summary_rows

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.toml"
CJK = re.compile(r"[\u4e00-\u9fff]")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
#: the English headings of the page and the workbook (none may appear in Chinese)
EN_HEADINGS = ("The question", "The answer", "Fiscal lens", "Bank lens", "SOE lens", "Policy compliance",
               "Key assumptions", "Run manifest", "does it pay for itself", "Who pays the gap", "Projects and capital",
               "Bank loans", "Waterfall", "Market (annual)")
ZH_HEADINGS = ("问题", "结论", "财政视角", "银行视角", "国企视角", "合规检查", "主要假设", "运行记录", "能否自求平衡")


def _fields(s: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(s) if f}


@pytest.fixture(scope="module")
def result():
    return simulate(load_scenario(DEMO), paths=300, seed=5, chunk_size=150)


@pytest.fixture(scope="module")
def folders(result, tmp_path_factory):
    """The run saved with its reports in each language."""
    out = {}
    for lang in ("zh", "en", "both"):
        out[lang] = tmp_path_factory.mktemp(f"lang-{lang}") / "run"
        result.save(out[lang], extra_writers=rp.report_writers(lang))
    return out


# ------------------------------------------------------------------------------------------------ the catalogue
def test_every_text_entry_has_both_languages_and_the_same_placeholders():
    texts = {k: e for k, e in CATALOGUE.items() if k.startswith("text.")}
    assert len(texts) > 200
    for k, e in texts.items():
        assert e.unit == "text" and e.en.strip() and e.zh.strip(), k
        assert _fields(e.en) == _fields(e.zh), (k, e.en, e.zh)
    # Chinese where there are words: the entries that are the same in both are symbols or units
    same = sorted(k for k, e in texts.items() if e.en == e.zh)
    assert same == ["text.col.label_zh", "text.stats", "text.unit.wan", "text.unit.yuan_per_m2"], same


def test_the_setting_option_then_environment_then_both(monkeypatch):
    monkeypatch.delenv("BAOZHANG_LANG", raising=False)
    assert F.lang_of() == "both" and F.lang_of("zh") == "zh"
    monkeypatch.setenv("BAOZHANG_LANG", "EN")
    assert F.lang_of() == "en" and F.lang_of("zh") == "zh"
    monkeypatch.setenv("BAOZHANG_LANG", "fr")
    with pytest.raises(ValueError, match="zh, en, both"):
        F.lang_of()
    assert F.text("html.h_answer", "zh") == "结论" and F.text("html.h_answer", "en") == "The answer"
    assert F.text("html.h_answer", "both") == "The answer 结论"
    assert F.text("term.title", "zh", name="x", paths="10", seed=1) == "x — 10 条路径，随机种子 1"


# ------------------------------------------------------------------------------------------------ report.html
def _headings(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<(?:h1|h2|h3|th)>(.*?)</(?:h1|h2|h3|th)>", page)]


def test_html_in_chinese_has_chinese_headings_and_no_english_ones(result, folders):
    page = (folders["zh"] / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page
    for h in ZH_HEADINGS:
        assert h in page, h
    for h in EN_HEADINGS:
        assert h not in page, h
    name = result.scenario.programme.name
    for h in _headings(page):
        assert CJK.search(h.replace(name, "")), f"heading without Chinese: {h!r}"
    answer = re.search(r'id="answer">([^<]+)<', page).group(1)
    assert "种未来情形" in answer and "simulated futures" not in answer
    assert f"{100 * result.summary['hidden_debt']['p_call']:.1f} %" in answer


def test_html_in_english_has_no_chinese_heading(result, folders):
    page = (folders["en"] / "report.html").read_text(encoding="utf-8")
    for h in EN_HEADINGS:
        assert h in page, h
    names = [result.scenario.programme.name, result.scenario.programme.city] + [p.name for p in result.scenario.projects]
    for h in _headings(page):
        for n in names + ["万元", "元/m²"]:  # names, and the units every language writes in Chinese
            h = h.replace(n, "")
        assert not CJK.search(h), f"Chinese in an English heading: {h!r}"
    answer = re.search(r'id="answer">([^<]+)<', page).group(1)
    assert "simulated futures" in answer and not CJK.search(answer.replace("万元", ""))


def test_both_keeps_english_then_chinese(folders):
    page = (folders["both"] / "report.html").read_text(encoding="utf-8")
    assert "Fiscal lens (finance bureau) 财政视角（财政局）" in page and "The answer 结论" in page


def test_the_numbers_do_not_depend_on_the_language(result, folders):
    """The same KPI values on every page, the same summary in every workbook (the snapshot test guards the model)."""
    openpyxl = pytest.importorskip("openpyxl")
    kpis = {lang: re.findall(r'<div class="v">([^<]+)</div>', (f / "report.html").read_text(encoding="utf-8"))
            for lang, f in folders.items()}
    assert kpis["zh"][:3] == kpis["en"][:3] == kpis["both"][:3]
    values = {}
    for lang, f in folders.items():
        wb = openpyxl.load_workbook(f / "report.xlsx", read_only=True)
        values[lang] = [(r[1], r[2]) for r in wb.worksheets[1].iter_rows(min_row=2, values_only=True)]
        wb.close()
    assert values["zh"] == values["en"] == values["both"]
    assert json.loads((folders["zh"] / "summary.json").read_text()) == json.loads(
        (folders["en"] / "summary.json").read_text())


# ------------------------------------------------------------------------------------------------ report.xlsx
def test_xlsx_in_chinese_and_in_english(folders):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.load_workbook(folders["zh"] / "report.xlsx", read_only=True)
    assert wb.sheetnames == ["说明", "汇总", "输入", "逐年", "中位路径", "路径样本", "运行记录"]
    head = next(wb["汇总"].iter_rows(max_row=1, values_only=True))
    assert head == ("部分", "键", "数值", "单位", "数值（万元）", "名称")
    rows = {r[1]: r for r in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert rows["hidden_debt.p_call"][5] == "隐性债务触发概率" and rows["hidden_debt.p_call"][3] == "比例"
    assert all(CJK.search(str(h)) for h in next(wb["逐年"].iter_rows(max_row=1, values_only=True))
               if h not in ("mean", "p05", "p25", "p50", "p75", "p95"))
    guide = list(wb["说明"].iter_rows(values_only=True))
    assert "测算报告" in guide[0][0] and ("视角", "指标", "数值") == guide[2][:3]
    median = list(wb["中位路径"].iter_rows(values_only=True))
    assert median[0][0].startswith("第 ") and any(r and r[0] == "项目群（各方支持、市场）" for r in median)
    wb.close()
    wb = openpyxl.load_workbook(folders["en"] / "report.xlsx", read_only=True)
    assert wb.sheetnames == ["Guide", "Summary", "Inputs", "Yearly", "Median path", "Paths sample", "Manifest"]
    head = next(wb["Summary"].iter_rows(max_row=1, values_only=True))
    assert head == ("section", "key", "value", "unit", "value (万元)", "label")
    rows = {r[1]: r for r in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    assert rows["hidden_debt.p_call"][5] == "P(hidden-debt call)"
    assert not any(CJK.search(str(r[5] or "")) for k, r in rows.items() if not k.startswith("programme.name"))
    wb.close()


# ------------------------------------------------------------------------------------------------ charts
def _chart_texts(fig) -> list[str]:
    out = []
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in ax.get_yticklabels()]
        leg = ax.get_legend()
        if leg is not None:
            out += [t.get_text() for t in leg.get_texts()]
    return [t for t in out if t]


def _draw(result, lang):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hd = result.summary["hidden_debt"]
    figs = []
    with matplotlib.rc_context(pl.font_rc()):
        for draw in (lambda ax: pl.hidden_debt_distribution(ax, result.paths["hidden_debt_pv"].to_numpy(float),
                                                            hd["var95_pv"], hd["cvar95_pv"], lang=lang),
                     lambda ax: pl.fan_chart(ax, result.yearly, "cash_balance", lang=lang),
                     lambda ax: pl.cash_waterfall(ax, {"funding": 1e8, "acquisition": 9e7, "rent": 2e7}, lang=lang)):
            fig, ax = plt.subplots(figsize=(6, 3.5))
            draw(ax)
            fig.canvas.draw()
            figs.append(fig)
    return figs


@pytest.mark.skipif(pl.cjk_font() is None, reason="no CJK font installed (apt-get install fonts-noto-cjk)")
def test_charts_in_chinese_and_in_english(result):
    import matplotlib.pyplot as plt

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        zh = _draw(result, "zh")
    assert not [w for w in caught if "missing from" in str(w.message).lower()]
    assert zh[0].axes[0].get_title() == CATALOGUE["text.chart.hd_title"].zh
    assert zh[1].axes[0].get_title() == CATALOGUE["text.chart.fan.cash_balance"].zh
    assert [t.get_text() for t in zh[2].axes[0].get_yticklabels()][0] == "融资到位"
    for fig in zh:
        assert all(CJK.search(t) for t in (fig.axes[0].get_title(), fig.axes[0].get_xlabel()))
    en = _draw(result, "en")
    for fig in en:
        assert not any(CJK.search(t) for t in _chart_texts(fig)), _chart_texts(fig)
    plt.close("all")


def test_charts_in_chinese_without_a_cjk_font_fall_back_to_english(result, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("BAOZHANG_NO_CJK", "1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figs = _draw(result, "zh")
    assert not [w for w in caught if "missing from" in str(w.message).lower()]
    assert figs[0].axes[0].get_title() == CATALOGUE["text.chart.hd_title"].en
    for fig in figs:
        assert not any(CJK.search(t) for t in _chart_texts(fig)), _chart_texts(fig)
    plt.close("all")


def test_saved_charts_differ_by_language(folders):
    """The PNGs of report_writers("zh") and ("en") are drawn with different labels (same data)."""
    a = (folders["zh"] / "charts" / "hidden_debt_pv.png").read_bytes()
    b = (folders["en"] / "charts" / "hidden_debt_pv.png").read_bytes()
    assert (a != b) == (pl.cjk_font() is not None)


# ------------------------------------------------------------------------------------------------ terminal
def _printed(result, lang) -> list[str]:
    buf = io.StringIO()
    print_summary(result, Console(file=buf, width=80), lang)
    return buf.getvalue().splitlines()


def test_terminal_summary_in_chinese_and_in_english(result):
    zh = _printed(result, "zh")
    body = "\n".join(zh[1:])  # the title line holds the programme's name
    for word in ("视角", "指标", "数值", "财政", "银行", "国企", "隐性债务触发概率", "资本金IRR"):
        assert word in body, word
    for word in ("P(hidden-debt call)", "lens", "fiscal", "equity IRR", "standard error"):
        assert word not in body, word
    for _, metric, value in summary_rows(result.summary, "zh"):  # every row on one line of 80 columns
        assert any(metric in line and value in line for line in zh), (metric, value)
    en = "\n".join(_printed(result, "en")[1:])
    assert "P(hidden-debt call)" in en and not CJK.search(en.replace("万元", ""))
    both = "\n".join(_printed(result, "both"))
    assert "fiscal 财政" in both and "P(hidden-debt call)" in both


# ------------------------------------------------------------------------------------------------ command line
def test_cli_report_re_renders_a_saved_run_in_chinese(folders, tmp_path, monkeypatch):
    openpyxl = pytest.importorskip("openpyxl")
    monkeypatch.delenv("BAOZHANG_LANG", raising=False)
    run = tmp_path / "run"
    shutil.copytree(folders["en"], run)
    r = CliRunner().invoke(app, ["report", str(run), "--lang", "zh"])
    assert r.exit_code == 0, r.output
    assert "隐性债务触发概率" in r.output
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "财政视角" in page and "Fiscal lens" not in page
    assert openpyxl.load_workbook(run / "report.xlsx", read_only=True).sheetnames[0] == "说明"
    # the environment variable is the default; --lang wins over it
    monkeypatch.setenv("BAOZHANG_LANG", "en")
    r = CliRunner().invoke(app, ["report", str(run), "--quiet"])
    assert r.exit_code == 0 and "Fiscal lens" in (run / "report.html").read_text(encoding="utf-8")
    r = CliRunner().invoke(app, ["report", str(run), "--quiet", "--lang", "both"])
    assert r.exit_code == 0 and "Fiscal lens (finance bureau) 财政视角" in (run / "report.html").read_text("utf-8")


def test_cli_bad_language_is_one_line_exit_2(tmp_path, monkeypatch):
    monkeypatch.delenv("BAOZHANG_LANG", raising=False)
    r = CliRunner().invoke(app, ["check", str(DEMO), "--lang", "fr"])
    assert r.exit_code == 2 and "--lang: must be zh, en or both, got 'fr'" in r.output
    monkeypatch.setenv("BAOZHANG_LANG", "de")
    r = CliRunner().invoke(app, ["check", str(DEMO)])
    assert r.exit_code == 2 and "BAOZHANG_LANG: must be zh, en or both, got 'de'" in r.output


def test_cli_check_and_compare_in_chinese(monkeypatch):
    monkeypatch.delenv("BAOZHANG_LANG", raising=False)
    r = CliRunner().invoke(app, ["check", str(DEMO), "--lang", "zh"])
    assert r.exit_code in (0, 1) and ("合规" in r.output)
    assert "compliant" not in r.output and "policy finding" not in r.output
    r = CliRunner().invoke(app, ["compare", str(DEMO), "--paths", "40", "--chunk-size", "40", "--lang", "zh"])
    assert r.exit_code == 0, r.output
    assert "情景比较" in r.output and "触发概率" in r.output and "Scenario comparison" not in r.output


def test_every_command_that_prints_or_writes_a_report_takes_lang():
    import typer.main

    cmd = typer.main.get_command(app)
    for name in ("run", "check", "compare", "report", "sweep", "tornado", "sobol", "solve", "app"):
        opts = {o for p in cmd.commands[name].params for o in getattr(p, "opts", [])}
        assert "--lang" in opts, name


# ------------------------------------------------------------------------------------------------ browser and app
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_chinese_report_renders_in_headless_chromium(result, folders, tmp_path):
    import numpy as np
    from PIL import Image

    url = (folders["zh"] / "report.html").resolve().as_uri()
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
              f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(common + ["--dump-dom", "--virtual-time-budget=5000", url], capture_output=True,
                         text=True, timeout=90, check=True).stdout
    assert f"<title>{result.scenario.programme.name} — 能否自求平衡？</title>" in dom
    assert 'data-images-loaded="true"' in dom and "财政视角（财政局）" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(common + [f"--screenshot={shot}", "--window-size=1200,1600", url], capture_output=True,
                   timeout=90, check=True)
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert 0.02 < (img < 200).mean() < 0.6 and img.std() > 20, "screenshot looks blank or solid"


def test_app_passes_its_language_to_the_reports(tmp_path):
    from fastapi.testclient import TestClient

    from baozhang_finance.cli.webapp import create_app

    with TestClient(create_app(workdir=tmp_path), base_url="http://127.0.0.1") as c:
        c.get("/")
        opened = c.post("/api/open", json={"name": "demo"}).json()
        assert opened["lang"] in ("zh", "en", "both")
        r = c.post("/api/run", json={"id": opened["id"], "paths": 50, "chunk_size": 50, "lang": "xx"})
        assert r.status_code == 400 and "zh, en, both" in r.json()["error"]
        job = c.post("/api/run", json={"id": opened["id"], "paths": 50, "chunk_size": 50, "lang": "zh"}).json()["job"]
        t0 = time.time()
        while (st := c.get(f"/api/job/{job}").json())["state"] not in ("done", "error") and time.time() - t0 < 120:
            time.sleep(0.2)
        assert st["state"] == "done", st
        assert st["result"]["lang"] == "zh" and "种未来情形" in st["result"]["answer"]
        page = c.get(f"/api/job/{job}/file/report.html").text
        assert "财政视角" in page and "Fiscal lens" not in page
