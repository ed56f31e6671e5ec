"""The extension in a real VS Code: code-server (VS Code OSS in a browser, installed from the npm
registry by editors/vscode/e2e/install.sh) with the packaged .vsix, driven in Debian's Chromium.
A workspace with a real run of WebFlow: the lenses come from the real server, the DAG lens opens
the view in a webview panel (its requests relayed to the server), the key runs the file's flow."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import ARTIFACTS, WebWorkspace

from .conftest import EXTENSION

pytestmark = pytest.mark.slow

CODE_SERVER = EXTENSION / "e2e" / "node_modules" / ".bin" / "code-server"


@dataclass
class CodeServer:
    """A running code-server with the extension installed."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to code-server's process group (its extension host, file watchers, the language
    server), then SIGKILL to whatever is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=5)


@pytest.fixture(scope="module")
def vsix(extension_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The extension packaged by vsce (offline: --no-dependencies, the bundle has them)."""
    out = tmp_path_factory.mktemp("vsix") / "metaflow-lsp.vsix"
    proc = subprocess.run(
        [
            str(extension_build / "node_modules" / ".bin" / "vsce"),
            "package",
            "--no-dependencies",
            "--skip-license",
            "-o",
            str(out),
        ],
        cwd=extension_build,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def code_server(
    vsix: Path, editor_ws: WebWorkspace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CodeServer]:
    """code-server serving the workspace, the .vsix installed, settings pointing at this
    checkout's metaflow-lsp and Python."""
    if not CODE_SERVER.exists():
        pytest.fail(
            f"{CODE_SERVER} is missing: run scripts/setup.sh --tests (editors/vscode/e2e/install.sh)"
        )
    root = tmp_path_factory.mktemp("code-server")
    user, extensions = root / "user", root / "extensions"
    (user / "User").mkdir(parents=True)
    bin_dir = Path(sys.executable).parent
    env = {
        **editor_ws.env,
        "XDG_CONFIG_HOME": str(root / "config"),
        "XDG_DATA_HOME": str(root / "data"),
    }
    install = subprocess.run(
        [str(CODE_SERVER), "--extensions-dir", str(extensions), "--user-data-dir", str(user)]
        + ["--install-extension", str(vsix)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    settings = {
        "metaflow.server.command": str(bin_dir / "metaflow-lsp"),
        "metaflow.python": str(bin_dir / "python"),
        "workbench.startupEditor": "none",
        "security.workspace.trust.enabled": False,
        "telemetry.telemetryLevel": "off",
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "workbench.tips.enabled": False,
    }
    (user / "User" / "settings.json").write_text(json.dumps(settings, indent=2))
    port = free_port()
    log = root / "code-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(CODE_SERVER), "--auth", "none", "--bind-addr", f"127.0.0.1:{port}"]
            + ["--disable-telemetry", "--disable-update-check", "--disable-workspace-trust"]
            + ["--extensions-dir", str(extensions), "--user-data-dir", str(user)]
            + [str(editor_ws.path)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
        yield CodeServer(url, proc, log)
    finally:
        stop_group(proc)


def webview_frame(page: Any) -> Any:
    """The Metaflow view's document: VS Code's webview iframe, then its active frame."""
    return page.frame_locator("iframe.webview").frame_locator("iframe")


@pytest.fixture(scope="module")
def workbench(
    browser_context: Any, code_server: CodeServer, editor_ws: WebWorkspace
) -> Iterator[Any]:
    """One VS Code window for the module, with web_flow.py open and the server's lenses shown.
    (A second window opened right after the first may start its extension host before it has
    read the user settings: one window, as a user has.)"""
    page = browser_context.new_page()
    try:
        page.goto(f"{code_server.url}/?folder={editor_ws.path}")
        page.wait_for_selector(".monaco-workbench", timeout=60_000)
        page.click(
            ".explorer-folders-view .monaco-list-row:has-text('web_flow.py')", timeout=30_000
        )
        page.locator(".codelens-decoration a", has_text="DAG").first.wait_for(timeout=90_000)
    except BaseException:
        failed(page)
        page.close()
        raise
    yield page
    page.close()


def focus_editor(page: Any) -> None:
    """Click into the flow's text near its top left: the middle of a long, narrow editor can
    lie under its scrollbar (a click there does not reach the text)."""
    editor = page.locator(".editor-group-container .monaco-editor .view-lines").first
    editor.click(position={"x": 30, "y": 10})


def failed(page: Any) -> None:
    """A screenshot of the window as it was when a test failed."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "vscode-code-server-failed.png"))


def test_the_dag_lens_opens_the_view_in_a_webview(workbench: Any, editor_ws: WebWorkspace) -> None:
    page = workbench
    try:
        run_id = editor_ws.runs["ok"].split("/")[1]
        # The lenses are the real server's: the flow's last run, and the DAG action.
        assert f"run {run_id}" in page.locator(".codelens-decoration").first.inner_text()
        page.locator(".codelens-decoration a", has_text="DAG").first.click()
        view = webview_frame(page)
        view.locator(".dag-box[data-rendered=dag]").wait_for(timeout=60_000)
        assert view.locator("g.node[data-step=train]").count() == 1
        view.locator(f"tr.run[data-run='{run_id}']").wait_for(timeout=30_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "vscode-code-server-dag.png"))
    except BaseException:
        failed(page)
        raise


def test_the_key_runs_the_flow_and_the_runs_panel_lists_it(
    workbench: Any, editor_ws: WebWorkspace
) -> None:
    page = workbench
    runs_dir = editor_ws.path / ".metaflow" / "WebFlow"
    before = {p.name for p in runs_dir.iterdir() if p.name.isdigit()}
    run_id = editor_ws.runs["ok"].split("/")[1]
    try:
        focus_editor(page)
        page.keyboard.press("Control+Alt+R")
        # A notification when the run ends ...
        toast = page.locator(".notification-toast", has_text="succeeded")
        toast.wait_for(timeout=120_000)
        (new_run,) = {p.name for p in runs_dir.iterdir() if p.name.isdigit()} - before
        assert f"WebFlow/{new_run} succeeded" in toast.inner_text()
        # ... its output in the "Metaflow" Output channel ...
        output = page.locator(".part.panel").inner_text().replace("\xa0", " ")
        assert f"run-1 succeeded: WebFlow/{new_run} succeeded" in output, output[-2000:]
        assert "Task finished successfully." in output
        page.screenshot(path=str(ARTIFACTS / "vscode-code-server-run.png"))
        # ... one notification: the server's own copy of the message is dropped ...
        time.sleep(1)
        assert page.locator(".notification-toast", has_text=f"WebFlow/{new_run}").count() == 1
        # ... and "Show in view" opens the new run in the webview.
        toast.locator("a.monaco-button", has_text="Show in view").click()
        view = webview_frame(page)
        view.locator(".run-header[data-status=succeeded]").wait_for(timeout=60_000)
        assert new_run in view.locator(".run-header").inner_text()
        # ctrl+alt+s spins the step under the cursor (found by the server's metaflow.stepAt).
        source = (editor_ws.path / "web_flow.py").read_text().splitlines()
        line = source.index('        print("scores", self.scores)') + 1
        focus_editor(page)
        page.keyboard.press("Control+G")
        page.keyboard.type(f"{line}:10")
        page.keyboard.press("Enter")
        page.keyboard.press("Control+Alt+S")
        spun = page.locator(".notification-toast", has_text="spun from")
        spun.wait_for(timeout=90_000)
        assert "succeeded" in spun.inner_text() and "/end/" in spun.inner_text(), spun.inner_text()
        # The runs side panel lists the flow and, newest first, its runs.
        page.click(".activitybar [aria-label='Metaflow']")
        rows = page.locator(".part.sidebar .monaco-list-row")
        rows.filter(has_text="WebFlow").first.click()
        rows.filter(has_text=new_run).wait_for(timeout=30_000)
        texts = rows.all_inner_texts()
        assert [i for i, t in enumerate(texts) if new_run in t] < [
            i for i, t in enumerate(texts) if run_id in t
        ], texts
        # A run opens in the view.
        rows.filter(has_text=run_id).click()
        view.locator(f".run-header:has-text('{run_id}')").wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "vscode-code-server-runs.png"))
    except BaseException:
        failed(page)
        raise
