"""``baozhang app [SCENARIO]``: start the local browser app (:mod:`baozhang_finance.cli.webapp`).

(Named serve.py, not app.py: ``baozhang_finance.cli.app`` is the Typer app every command registers on.)

The server is imported by uvicorn by name (``baozhang_finance.cli.webapp:factory``), so the other commands never
load FastAPI. It listens on 127.0.0.1 unless ``--host`` says otherwise.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Optional

import typer

from baozhang_finance.cli.common import _load, app, console, err_console, fail
from baozhang_finance.cli.options import Lang
from baozhang_finance.report.format import LANG_ENV


@app.command("app")
def app_command(
    scenario: Optional[Path] = typer.Argument(None, help="scenario TOML or workbook to open at start"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (default: this computer only)"),
    port: int = typer.Option(8765, "--port", help="port to listen on"),
    open_browser: bool = typer.Option(False, "--open", help="open the page in the default browser"),
    lang: Lang = None,
):
    """Start the browser app: open or upload a scenario, move the levers, run, read the lenses, download."""
    if not 0 < port < 65536:
        fail(f"--port: must be between 1 and 65535, got {port}")
    if scenario is not None:
        _load(scenario)  # a bad file is the usual one-line error, before anything starts
    try:
        import uvicorn
    except ImportError:
        fail("the app needs FastAPI and uvicorn: pip install 'baozhang-finance' (they are dependencies)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(f"warning: listening on {host}: anyone who can reach this address can use the app")
    _check_port(host, port)
    workdir = Path(tempfile.mkdtemp(prefix="baozhang-app-"))
    os.environ["BAOZHANG_APP_HOST"] = host
    os.environ["BAOZHANG_APP_WORKDIR"] = str(workdir)
    os.environ[LANG_ENV] = lang  # the page's report-language choice starts here
    if scenario is not None:
        os.environ["BAOZHANG_APP_SCENARIO"] = str(scenario.resolve())
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    console.print(f"baozhang app: {url}  (Ctrl+C to stop; files of this session in {workdir})", highlight=False)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        uvicorn.run("baozhang_finance.cli.webapp:factory", factory=True, host=host, port=port, log_level="warning")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _check_port(host: str, port: int) -> None:
    """One line and exit 2 when the address cannot be listened on (a port in use: another app), before the banner
    and the server start (uvicorn would print its own error and exit 3, the code of a failed Dask cluster)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a port in TIME_WAIT is free
        try:
            probe.bind((host, port))
        except OSError as exc:
            fail(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror or exc}): is another app running? "
                 "choose another --port")
