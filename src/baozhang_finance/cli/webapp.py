"""The browser app behind ``baozhang app``: a small FastAPI service and one plain HTML/JS page (``cli/static``).

A user opens a bundled scenario or uploads a TOML file or an input workbook, changes the main levers (rent ratio,
equity share, capital grant, the first loan's term and rate, the SOE's support capacity, each cure on or off),
runs with a progress bar, reads the three lenses, the fan charts and what the answer rests on, and downloads
report.html, report.xlsx and the filled workbook (plus the scenario as TOML).

What keeps it safe on a bureau's desktop:

* it listens on 127.0.0.1 unless told otherwise, and then refuses requests whose Host is not the loopback name
  (no DNS rebinding);
* every browser gets a session cookie (random, HttpOnly, SameSite=Strict); its scenarios, jobs and files live
  in its own temporary folder, under random ids, and a request for another session's job is "not found";
* the server never reads a path given by the browser: a bundled scenario is picked by name from a list the server
  made, an upload is read from its bytes (size-limited, .toml or .xlsx only) and validated like a file, a
  download is one of a fixed set of names;
* a lever is applied through :mod:`baozhang_finance.model.fields` (sources = uses kept, the whole scenario
  validated again), so a value out of range is the usual located message, never a traceback.

A figure's source note (the policy clause or fact its value comes from) is shown only beside the value it was
written for: a value changed in the app — by the user, or moved by a change of theirs (sources = uses) — is said to
be the user's, with the default and the default's source beside it, on the page, in "what the answer rests on"
and in the downloaded plan.toml / plan.xlsx (:func:`changed_fields`, :func:`notes_after_changes`).
"""

from __future__ import annotations

import ipaddress
import os
import json
import math
import re
import secrets
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from baozhang_finance.cli.inputs import scenario_notes
from baozhang_finance.model import fields as fl
from baozhang_finance.model import workbook as wbm
from baozhang_finance.model.labels_zh import FIELDS_ZH, TABLES_ZH
from baozhang_finance.model.portfolio import is_portfolio_file
from baozhang_finance.model.scenario import Scenario, ScenarioError, load_scenario, scenario_from_dict
from baozhang_finance.report.format import lang_of
from baozhang_finance.report.html import answer_sentence, report_writers
from baozhang_finance.report.tables import headline_coverage_key
from baozhang_finance.report.workbook import write_toml, write_workbook
from baozhang_finance.run.simulate import simulate

#: largest upload, bytes (a filled workbook is ~60 kB, a scenario TOML ~10 kB)
MAX_UPLOAD_BYTES = 2_000_000
#: most paths one run in the app may ask for (the command line has no such cap)
MAX_PATHS = 200_000
#: simultaneous simulations (the machine's cores are shared); others wait in the queue
MAX_RUNNING = 2
#: sessions kept, and how long an idle one lives, seconds
MAX_SESSIONS = 64
SESSION_TTL_S = 4 * 3600
MAX_JOBS_PER_SESSION = 30
COOKIE = "bz_session"
STATIC = ("index.html", "app.js", "app.css")
CHARTS = ("cash_balance_fan.png", "dscr_fan.png", "hidden_debt_pv.png", "pd_curve.png", "median_waterfall.png")
DOWNLOADS = {"report.html": "text/html; charset=utf-8",
             "report.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "plan.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "plan.toml": "application/toml; charset=utf-8", "summary.json": "application/json"}
_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# matplotlib's pyplot is not thread-safe: one report at a time (simulations still run side by side)
_REPORT_LOCK = threading.Lock()


def bundled_scenarios() -> dict[str, Path]:
    """The scenarios shipped beside the package (``scenarios/*.toml`` of the source tree, portfolio files left
    out), by file stem."""
    here = Path(__file__).resolve()
    for root in (here.parents[3] / "scenarios", here.parents[1] / "scenarios"):
        if root.is_dir():
            return {p.stem: p for p in sorted(root.glob("*.toml")) if not is_portfolio_file(p)}
    return {}


# ---------------------------------------------------------------------------------------------- levers
@dataclass(frozen=True)
class Lever:
    id: str  # a balanced lever ("rent_ratio[0]") or a dotted field path ("waterfall.soe_support_capacity_yuan")
    label: str
    value: float
    lo: float
    hi: float
    step: float
    integer: bool = False
    unit: str = ""
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "value": self.value, "min": self.lo, "max": self.hi,
                "step": self.step, "integer": self.integer, "unit": self.unit, "note": self.note}


def _bounds(sc: Scenario, path: str) -> tuple[float, float]:
    """A field's own bounds (ge/gt/le/lt) from its pydantic metadata, open ends as ±inf."""
    lo, hi = -math.inf, math.inf
    model: Any = type(sc)
    for tok in re.sub(r"\[\d+\]", "", path).split("."):
        f = model.model_fields[tok]
        sub, _, _ = wbm._model_of(f.annotation)
        if sub is not None:
            model = sub
            continue
        for m in f.metadata:
            lo = max(lo, getattr(m, "ge", None) if getattr(m, "ge", None) is not None else
                     (getattr(m, "gt", None) if getattr(m, "gt", None) is not None else -math.inf))
            hi = min(hi, getattr(m, "le", None) if getattr(m, "le", None) is not None else
                     (getattr(m, "lt", None) if getattr(m, "lt", None) is not None else math.inf))
    return lo, hi


def levers(sc: Scenario, notes: dict[str, str]) -> list[Lever]:
    """The main levers of a scenario, with their current values and sensible ranges."""
    out: list[Lever] = []
    for k, p in enumerate(sc.projects):
        tag = f" — {p.name}"
        if p.rental is not None:
            out.append(Lever(f"rent_ratio[{k}]", f"租金折扣率 rent ratio{tag}", p.rental.rent_ratio, 0.1, 1.5, 0.01,
                             unit="× market rent", note=notes.get(f"projects[{k}].rental.rent_ratio", "")))
        if p.financing.loans:
            lo, hi = fl.lever_range(sc, "equity_share", k)
            out.append(Lever(f"equity_share[{k}]", f"资本金比例 equity share{tag}",
                             round(fl.lever_value(sc, "equity_share", k), 6), 0.0, round(hi, 6), 0.01,
                             unit="of investment", note=notes.get(f"projects[{k}].financing.equity_yuan", "")))
            out.append(Lever(f"grant[{k}]", f"资本性补助 capital grant{tag}", fl.lever_value(sc, "grant", k), 0.0,
                             max(fl.lever_range(sc, "grant", k)[1], 0.0), 1e6, unit="元 yuan"))
            loan = p.financing.loans[0]
            base = f"projects[{k}].financing.loans[0]"
            out.append(Lever(f"{base}.term_years", f"贷款期限 loan term ({loan.name}){tag}", loan.term_years, 1,
                             min(40, sc.programme.horizon_years), 1, integer=True, unit="年 years",
                             note=notes.get(f"{base}.term_years", "")))
            if loan.rate_type == "fixed":
                out.append(Lever(f"{base}.fixed_rate", f"贷款利率 loan rate ({loan.name}){tag}", loan.fixed_rate,
                                 0.0, 0.3, 0.0005, unit="per year", note=notes.get(f"{base}.fixed_rate", "")))
            else:
                out.append(Lever(f"{base}.spread_over_lpr", f"LPR加点 spread over LPR ({loan.name}){tag}",
                                 loan.spread_over_lpr, -0.05, 0.1, 0.0005, unit="per year",
                                 note=notes.get(f"{base}.spread_over_lpr", "")))
    cap = sc.waterfall.soe_support_capacity_yuan
    lo, hi = _bounds(sc, "waterfall.soe_support_capacity_yuan")
    out.append(Lever("waterfall.soe_support_capacity_yuan", "国企兜底能力 SOE support capacity", cap, max(lo, 0.0),
                     hi if math.isfinite(hi) else 1e13, 1e6, unit="元 yuan",
                     note=notes.get("waterfall.soe_support_capacity_yuan", "")))
    return out


def cure_names(sc: Scenario) -> list[str]:
    """The cures a scenario may switch on or off: the optional tables of [cures] that have all-default values."""
    names = []
    for name, f in type(sc.cures).model_fields.items():
        sub, array, optional = wbm._model_of(f.annotation)
        if sub is not None and not array and optional:
            try:
                sub()
            except Exception:  # a cure with required fields cannot be switched on blind
                continue
            names.append(name)
    return names


def apply_changes(sc: Scenario, values: dict[str, Any], cures: dict[str, Any], source: str) -> tuple[Scenario, list[str]]:
    """The scenario with the page's levers and cure switches applied; and the list of what changed.

    Only the levers this scenario offers are accepted; each value must be a number (an integer for an integer
    field) within the lever's range; the scenario is validated again after every change."""
    offered = {lv.id: lv for lv in levers(sc, {})}
    changed: list[str] = []
    for key, value in values.items():
        lv = offered.get(key)
        if lv is None:
            raise ScenarioError(f"{source}: {key}: not a lever of this scenario")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ScenarioError(f"{source}: {key}: must be a number, got {value!r}")
        if lv.integer and (not float(value).is_integer()):
            raise ScenarioError(f"{source}: {key}: must be a whole number, got {value!r}")
        if value == lv.value:
            continue
        if not (lv.lo <= value <= lv.hi):
            raise ScenarioError(f"{source}: {key}: must lie in [{lv.lo:g}, {lv.hi:g}], got {value!r}")
        parsed = fl.parse_lever(key)
        if parsed is not None:
            sc = fl.apply_lever(sc, parsed[0], float(value), parsed[1], source=source)
        else:
            sc = fl.set_field(sc, key, int(value) if lv.integer else float(value), source=source)
        changed.append(f"{lv.label}: {_shown(lv.value)} → {_shown(value)}")
    allowed = cure_names(sc)
    for name, on in cures.items():
        if name not in allowed:
            raise ScenarioError(f"{source}: cures.{name}: not a cure this app can switch")
        if not isinstance(on, bool):
            raise ScenarioError(f"{source}: cures.{name}: must be true or false, got {on!r}")
        now = getattr(sc.cures, name) is not None
        if on == now:
            continue
        data = sc.model_dump()
        sub, _, _ = wbm._model_of(type(sc.cures).model_fields[name].annotation)
        data["cures"][name] = sub().model_dump() if on else None
        sc = scenario_from_dict(data, source=source)
        changed.append(f"{TABLES_ZH.get('cures.' + name, name)} cures.{name}: {'on 启用' if on else 'off 停用'}")
    return sc, changed


# ---------------------------------------------------------------------------------------------- sessions and jobs
@dataclass
class Job:
    id: str
    folder: Path
    state: str = "queued"  # queued | running | reports | done | error
    done: int = 0
    total: int = 0
    error: str | None = None
    result: dict[str, Any] | None = None
    started: float = field(default_factory=time.time)


@dataclass
class Opened:
    scenario: Scenario
    notes: dict[str, str]
    name: str


@dataclass
class Session:
    id: str
    folder: Path
    opened: dict[str, Opened] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    seen: float = field(default_factory=time.time)


class Store:
    """Sessions by cookie, each with its own temporary folder; old ones are removed."""

    def __init__(self, root: Path):
        self.root = root
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()

    def new(self) -> Session:
        with self.lock:
            self._expire()
            sid = secrets.token_urlsafe(24)
            folder = self.root / f"s-{secrets.token_hex(8)}"
            folder.mkdir(mode=0o700)
            s = self.sessions[sid] = Session(sid, folder)
            return s

    def get(self, sid: str | None) -> Session | None:
        with self.lock:
            s = self.sessions.get(sid or "")
            if s is not None:
                s.seen = time.time()
            return s

    def _expire(self) -> None:
        now = time.time()
        old = sorted(self.sessions.values(), key=lambda s: s.seen)
        for s in old:
            busy = any(j.state in ("queued", "running", "reports") for j in s.jobs.values())
            if not busy and (now - s.seen > SESSION_TTL_S or len(self.sessions) >= MAX_SESSIONS):
                self.sessions.pop(s.id, None)
                shutil.rmtree(s.folder, ignore_errors=True)


def _clean_name(name: str | None, default: str) -> str:
    """A file name as shown back to the user: its last component, printable, short."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in "<>:\"|?*")[:80].strip()
    return base or default


def _summary_view(summary: dict[str, Any]) -> dict[str, Any]:
    return summary  # the page picks what it shows; the whole summary is small and JSON-safe


def _shown(v: Any) -> str:
    """A scenario value as the page shows a default: whole numbers with thousands separators, 6 digits else."""
    if v is None:
        return "无 none"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:.6g}"


def _flat(obj: Any, path: str = "") -> dict[str, Any]:
    """A scenario's ``model_dump()`` as dotted field paths (``projects[0].rental.rent_ratio``) → leaf values."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flat(v, f"{path}.{k}" if path else str(k)))
        return out or {path: obj}
    if isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flat(v, f"{path}[{i}]"))
        return out
    return {path: obj}


def changed_fields(base: Scenario, sc: Scenario) -> dict[str, tuple[Any, Any]]:
    """The field paths whose value differs between the scenario as opened and as run: path → (default, now)
    (a table switched on or off: its fields, the missing side None)."""
    a, b = _flat(base.model_dump()), _flat(sc.model_dump())
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def changed_note(default: Any, source: str, yours: bool = True) -> str:
    """What stands beside a changed value instead of its default's source note (zh + en)."""
    who = "用户取值(本次调整) the user's value, changed in the app" if yours else \
        "随本次调整而变 moved by a change made in the app (sources = uses)"
    return f"{who}; 默认 default: {_shown(default)}" + (f" — 来源 source: {source}" if source else "")


def notes_after_changes(base: Scenario, sc: Scenario, notes: dict[str, str]) -> dict[str, str]:
    """The source notes for the scenario as run: a changed field's note says it is the user's value and gives
    the default with its source (the downloaded plan.toml / plan.xlsx)."""
    out = dict(notes)
    for path, (default, _) in changed_fields(base, sc).items():
        out[path] = "baozhang app: " + changed_note(default, notes.get(path, ""))
    return out


def _rests_on(sc: Scenario, notes: dict[str, str], changed: list[str], base: Scenario | None = None,
              touched: frozenset[str] = frozenset()) -> list[dict[str, str]]:
    """What the answer rests on: the levers and the main market and support assumptions, with their sources. A
    lever whose value is not the one the file gave (``base``) has no source of its own: its row says whose value
    it is (the user's when the lever is in ``touched``, else moved by the user's change) and gives the default
    with the default's source."""
    defaults = {lv.id: lv for lv in levers(base if base is not None else sc, notes)}
    rows = []
    for lv in levers(sc, notes):
        d = defaults.get(lv.id)
        source = lv.note or ""
        if d is not None and lv.value != d.value:
            source = changed_note(d.value, d.note, yours=lv.id in touched)
        rows.append({"what": lv.label, "value": f"{_shown(lv.value)} {lv.unit}".strip(), "source": source})
    m = sc.market
    for name in ("price_drift_annual", "price_vol_annual", "decline_years", "decline_drift_annual",
                 "rent_drift_annual", "lpr_initial", "fiscal_growth_annual"):
        rows.append({"what": f"{FIELDS_ZH.get(name, '')} market.{name}", "value": f"{getattr(m, name):.4g}",
                     "source": notes.get(f"market.{name}", "")})
    rows.append({"what": "口径 support.conventions", "value": sc.support.conventions,
                 "source": notes.get("support.conventions", "")})
    rows.append({"what": "化解措施 cures on", "value": ", ".join(
        n for n in cure_names(sc) if getattr(sc.cures, n) is not None) or "none 无", "source": ""})
    for c in changed:
        rows.append({"what": "本次调整 changed in the app", "value": c, "source": "本次会话 this session"})
    return rows


def _run_job(job: Job, sc: Scenario, notes: dict[str, str], changed: list[str], paths: int, seed: int,
             chunk: int, source: str, sem: threading.Semaphore, lang: str = "both", base: Scenario | None = None,
             touched: frozenset[str] = frozenset()) -> None:
    with sem:
        try:
            job.state = "running"
            job.total = paths

            def progress(done: int, total: int) -> None:
                job.done, job.total = done, total

            result = simulate(sc, paths=paths, seed=seed, chunk_size=chunk, progress=progress)
            job.state = "reports"
            with _REPORT_LOCK:
                result.save(job.folder / "run", extra_writers=report_writers(lang))
            run_notes = notes_after_changes(base, sc, notes) if base is not None else notes
            write_workbook(job.folder / "plan.xlsx", sc, run_notes, source=source)
            write_toml(job.folder / "plan.toml", sc, run_notes)
            s = result.summary
            job.result = {
                "summary": _summary_view(s),
                "answer": answer_sentence(s, lang),
                "lang": lang,
                "rests_on": _rests_on(sc, notes, changed, base, touched),
                "coverage_headline": headline_coverage_key(s),  # decision 70: all financing only beside bank debt
                "charts": [c for c in CHARTS if (job.folder / "run" / "charts" / c).is_file()],
                "downloads": list(DOWNLOADS),
                "command": f"baozhang run plan.toml --paths {paths} --seed {seed} --chunk-size {chunk}",
                "programme": sc.programme.name,
            }
            job.state = "done"
        except ScenarioError as exc:
            job.error, job.state = str(exc), "error"
        except Exception as exc:  # a failure of ours, not the user's: one line on the page, details in the log
            job.error, job.state = f"the run failed ({type(exc).__name__}: {exc})", "error"


# ---------------------------------------------------------------------------------------------- the service
def create_app(default: Path | None = None, workdir: Path | None = None, host: str = "127.0.0.1",
               allowed_hosts: tuple[str, ...] = ()) -> FastAPI:
    """The FastAPI application. ``default`` is a scenario opened at start (validated by the caller)."""
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="baozhang-app-"))
    root.mkdir(parents=True, exist_ok=True)
    store = Store(root)
    bundled = bundled_scenarios()
    if default is not None:
        bundled = {f"{default.stem} (started with)": default, **bundled}
    app = FastAPI(title="baozhang-finance", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.root = root
    app.state.store = store
    _add_guard(app, _is_loopback(host), {"127.0.0.1", "localhost", "::1", "[::1]", *allowed_hosts})
    _add_page_routes(app, store, bundled, default is not None)
    _add_open_routes(app, store, bundled)
    _add_run_route(app, store, ThreadPoolExecutor(max_workers=4, thread_name_prefix="baozhang-job"),
                   threading.Semaphore(MAX_RUNNING))
    _add_job_routes(app, store)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    return app


def _add_guard(app: FastAPI, loopback: bool, hosts: set[str]) -> None:
    """Answer only on the loopback host names (DNS rebinding) and send the security headers on every response."""

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if loopback:
            name = (request.headers.get("host") or "").rsplit(":", 1)[0] if not (
                request.headers.get("host") or "").startswith("[") else request.headers["host"].split("]")[0] + "]"
            if name not in hosts:
                return JSONResponse({"error": "this app answers only on its loopback address"}, status_code=400)
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if "content-security-policy" not in response.headers:
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "frame-ancestors 'none'")
        return response


def _session(store: "Store", request: Request) -> "Session":
    """The request's session (its cookie), or 401."""
    s = store.get(request.cookies.get(COOKIE))
    if s is None:
        raise HTTPException(401, "no session: reload the page")
    return s


def _static(name: str) -> Response:
    text = (files("baozhang_finance.cli") / "static" / name).read_text(encoding="utf-8")
    kind = {"html": "text/html", "js": "text/javascript", "css": "text/css"}[name.rsplit(".", 1)[1]]
    return Response(text, media_type=f"{kind}; charset=utf-8")


def _add_page_routes(app: FastAPI, store: "Store", bundled: dict[str, Path], has_default: bool) -> None:
    """The page, its static files, the health check and the list of bundled scenarios."""

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request):
        s = store.get(request.cookies.get(COOKIE)) or store.new()
        resp = _static("index.html")
        resp.set_cookie(COOKIE, s.id, httponly=True, samesite="strict", max_age=SESSION_TTL_S)
        return resp

    @app.get("/static/{name}")
    def static_file(name: str):
        if name not in STATIC:
            raise HTTPException(404, "not found")
        return _static(name)

    @app.get("/api/health")
    def health():
        return {"ok": True}

    @app.get("/api/scenarios")
    def scenarios(request: Request):
        _session(store, request)
        return {"scenarios": list(bundled), "default": next(iter(bundled), None) if has_default else None}


def _opened_view(s: "Session", sc: Scenario, notes: dict[str, str], name: str) -> dict[str, Any]:
    """Keep an opened scenario in the session and describe it to the page: projects, levers, cures, run defaults."""
    oid = secrets.token_urlsafe(12)
    s.opened[oid] = Opened(sc, notes, name)
    return {"id": oid, "name": name, "programme": sc.programme.name, "city": sc.programme.city,
            "projects": [{"name": p.name, "type": p.type, "units": p.units} for p in sc.projects],
            "levers": [lv.as_json() for lv in levers(sc, notes)],
            "cures": [{"id": n, "label": f"{TABLES_ZH.get('cures.' + n, n)} {n}",
                       "on": getattr(sc.cures, n) is not None} for n in cure_names(sc)],
            "paths": min(sc.simulation.paths, 2000), "seed": sc.simulation.seed, "chunk_size": 500,
            "lang": lang_of()}


def _add_open_routes(app: FastAPI, store: "Store", bundled: dict[str, Path]) -> None:
    """Open a bundled scenario or an uploaded scenario file / input workbook (checked, then deleted)."""

    @app.post("/api/open")
    async def open_bundled(request: Request):
        s = _session(store, request)
        body = await _json(request)
        name = body.get("name")
        if not isinstance(name, str) or name not in bundled:
            raise HTTPException(404, f"no bundled scenario named {name!r}")
        path = bundled[name]
        try:
            sc = load_scenario(path)
        except ScenarioError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return _opened_view(s, sc, scenario_notes(path), path.name)

    @app.post("/api/upload")
    async def upload(request: Request, file: UploadFile = File(...)):
        s = _session(store, request)
        shown = _clean_name(file.filename, "upload")
        suffix = Path(shown).suffix.lower()
        if suffix not in (".toml", ".xlsx"):
            return JSONResponse({"error": f"{shown}: upload a scenario .toml file or an input workbook .xlsx"},
                                status_code=400)
        raw = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(raw) > MAX_UPLOAD_BYTES:
            return JSONResponse({"error": f"{shown}: larger than {MAX_UPLOAD_BYTES:,} bytes"}, status_code=413)
        target = s.folder / f"upload-{secrets.token_hex(6)}{suffix}"
        target.write_bytes(raw)
        try:
            sc = load_scenario(target)
            notes = scenario_notes(target)
        except ScenarioError as exc:
            return JSONResponse({"error": str(exc).replace(str(target), shown)}, status_code=400)
        finally:
            target.unlink(missing_ok=True)
        return _opened_view(s, sc, notes, shown)


def _add_run_route(app: FastAPI, store: "Store", pool: ThreadPoolExecutor, sem: threading.Semaphore) -> None:
    """Start a run of an opened scenario with the page's levers and cures, in the background (a job)."""

    @app.post("/api/run")
    async def run(request: Request):
        s = _session(store, request)
        body = await _json(request)
        op = s.opened.get(body.get("id") if isinstance(body.get("id"), str) else "")
        if op is None:
            raise HTTPException(404, "open a scenario first")
        if len(s.jobs) >= MAX_JOBS_PER_SESSION:
            oldest = min(s.jobs.values(), key=lambda j: j.started)
            if oldest.state in ("done", "error"):
                s.jobs.pop(oldest.id)
                shutil.rmtree(oldest.folder, ignore_errors=True)
            else:
                return JSONResponse({"error": "too many runs in this session; wait for one to finish"}, 429)
        values, cures = body.get("levers") or {}, body.get("cures") or {}
        if not isinstance(values, dict) or not isinstance(cures, dict):
            return JSONResponse({"error": "levers and cures must be objects"}, status_code=400)
        try:
            paths = _int(body.get("paths", 2000), "paths", 1, MAX_PATHS)
            seed = _int(body.get("seed", op.scenario.simulation.seed), "seed", 0, 2**63 - 1)
            chunk = _int(body.get("chunk_size", 500), "chunk_size", 1, 1_000_000)
            sc, changed = apply_changes(op.scenario, values, cures, op.name)
            lang = lang_of(body.get("lang") if isinstance(body.get("lang"), str) else None)
        except ValueError as exc:  # a ScenarioError, or a language that is not zh, en or both
            return JSONResponse({"error": str(exc).replace("\n", "; ")}, status_code=400)
        jid = secrets.token_urlsafe(12)
        folder = s.folder / f"job-{secrets.token_hex(8)}"
        folder.mkdir(mode=0o700)
        job = s.jobs[jid] = Job(jid, folder, total=paths)
        defaults = {lv.id: lv.value for lv in levers(op.scenario, {})}
        touched = frozenset(k for k, v in values.items() if v != defaults.get(k))  # the levers the user moved
        pool.submit(_run_job, job, sc, op.notes, changed, paths, seed, chunk, op.name, sem, lang, op.scenario, touched)
        return {"job": jid}


def _add_job_routes(app: FastAPI, store: "Store") -> None:
    """A job's state, its charts and its downloads (report.html inline with its own policy)."""

    def job_of(request: Request, jid: str) -> Job:
        s = _session(store, request)
        job = s.jobs.get(jid) if _ID.match(jid or "") else None
        if job is None:
            raise HTTPException(404, "no such run in this session")
        return job

    @app.get("/api/job/{jid}")
    def job_status(request: Request, jid: str):
        job = job_of(request, jid)
        return {"state": job.state, "done": job.done, "total": job.total, "error": job.error,
                "result": job.result if job.state == "done" else None}

    @app.get("/api/job/{jid}/chart/{name}")
    def chart(request: Request, jid: str, name: str):
        job = job_of(request, jid)
        if name not in CHARTS or job.state != "done":
            raise HTTPException(404, "not found")
        return FileResponse(job.folder / "run" / "charts" / name, media_type="image/png")

    @app.get("/api/job/{jid}/file/{name}")
    def download(request: Request, jid: str, name: str, inline: int = 0):
        job = job_of(request, jid)
        if name not in DOWNLOADS or job.state != "done":
            raise HTTPException(404, "not found")
        path = job.folder / (name if name.startswith("plan.") else f"run/{name}")
        if name == "report.html" and inline:
            # the report is a self-contained page with inline styles and a small script of its own
            headers = {"Content-Security-Policy": ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                                                   "script-src 'unsafe-inline'")}
            return FileResponse(path, media_type=DOWNLOADS[name], headers=headers)
        return FileResponse(path, media_type=DOWNLOADS[name], filename=name)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > 100_000:
        raise HTTPException(413, "request too large")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise HTTPException(400, "not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "expected a JSON object")
    return body


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise ScenarioError(f"{name}: must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise ScenarioError(f"{name}: must lie in [{lo:,}, {hi:,}], got {int(value):,}")
    return int(value)


def _is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def factory() -> FastAPI:
    """The app as ``baozhang app`` starts it (uvicorn imports this by name, so the CLI does not load FastAPI):
    settings from BAOZHANG_APP_SCENARIO, BAOZHANG_APP_HOST and BAOZHANG_APP_WORKDIR."""
    scenario = os.environ.get("BAOZHANG_APP_SCENARIO")
    workdir = os.environ.get("BAOZHANG_APP_WORKDIR")
    return create_app(Path(scenario) if scenario else None, Path(workdir) if workdir else None,
                      host=os.environ.get("BAOZHANG_APP_HOST", "127.0.0.1"))
