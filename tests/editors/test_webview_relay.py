"""The real web app in Chromium, in the extension's own webview page (its HTML and nonce CSP),
talking postMessage to the extension's relay (editors/vscode/src/relay.ts, run by node) and
through it to the real language server: app ↔ relay ↔ server end to end, without VS Code.

`acquireVsCodeApi().postMessage` is bridged to the relay's stdin with `page.expose_function`; the
relay's messages come back with `window.postMessage`, as VS Code delivers them to a webview."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import ARTIFACTS, WebWorkspace

pytestmark = pytest.mark.slow

ORIGIN = "https://webview.test"
FAKE_VSCODE = """
(() => {
  let state = null;
  window.acquireVsCodeApi = () => ({
    postMessage(message) { window.__toExtension(JSON.stringify(message)); },
    getState() { return state; },
    setState(value) { state = value; },
  });
})();
"""


@dataclass
class Webview:
    """A page of the app in the extension's webview HTML, and the relay process behind it."""

    page: Any
    relay: subprocess.Popen[str]
    inbox: queue.Queue[dict[str, Any]]
    host: list[dict[str, Any]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def pump(self) -> None:
        """Deliver what the relay said: to the webview (window.postMessage), or to the host."""
        while True:
            try:
                line = self.inbox.get_nowait()
            except queue.Empty:
                return
            if line["to"] == "webview":
                self.page.evaluate("m => window.postMessage(m, '*')", line["message"])
            else:
                self.host.append(line)

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll a JS expression (pumping the relay's answers) until it is truthy."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            self.pump()
            value = self.page.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression} (last: {value!r})")

    def goto(self, route: str) -> None:
        """What the extension does when a lens or the runs panel names a pathspec."""
        self.page.evaluate("r => window.postMessage({type: 'navigate', route: r}, '*')", route)


@pytest.fixture
def webview(
    browser_context: Any, extension_build: Path, editor_ws: WebWorkspace
) -> Iterator[Webview]:
    """The relay (node) against a real server for the workspace, and a page that talks to it."""
    relay = subprocess.Popen(
        ["node", str(extension_build / "dist-test" / "bridge.js"), str(editor_ws.path), ORIGIN],
        cwd=editor_ws.path,
        env={
            **editor_ws.env,
            "METAFLOW_LSP": str(Path(sys.executable).parent / "metaflow-lsp"),
            "METAFLOW_LSP_PYTHON": sys.executable,
        },
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert relay.stdout is not None and relay.stdin is not None
    first = relay.stdout.readline()
    if not first:
        relay.kill()
        pytest.fail(f"the relay did not start: {relay.stderr.read() if relay.stderr else ''}")
    html = json.loads(first)["html"]
    inbox: queue.Queue[dict[str, Any]] = queue.Queue()

    def read() -> None:
        assert relay.stdout is not None
        for line in relay.stdout:
            inbox.put(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    static = extension_build / "media" / "static"
    types = {"app.js": "text/javascript", "app.css": "text/css"}

    def serve(route: Any) -> None:
        name = route.request.url.removeprefix(ORIGIN + "/").split("?")[0]
        if name == "":
            route.fulfill(status=200, content_type="text/html", body=html)
        elif name in types:
            route.fulfill(status=200, content_type=types[name], body=(static / name).read_bytes())
        else:
            route.fulfill(status=404, body="")

    page = browser_context.new_page()
    view = Webview(page, relay, inbox)
    page.on("console", lambda message: view.console.append(f"{message.type}: {message.text}"))

    def to_extension(text: str) -> None:
        assert relay.stdin is not None
        relay.stdin.write(text + "\n")
        relay.stdin.flush()

    page.route(f"{ORIGIN}/**", serve)
    page.expose_function("__toExtension", to_extension)
    page.add_init_script(FAKE_VSCODE)
    page.goto(ORIGIN + "/")
    try:
        yield view
    finally:
        page.close()
        relay.stdin.close()
        try:
            relay.wait(timeout=20)
        except subprocess.TimeoutExpired:
            relay.kill()
            relay.wait(timeout=5)


def test_the_app_talks_to_the_server_through_the_relay(
    webview: Webview, editor_ws: WebWorkspace
) -> None:
    page = webview.page
    run = editor_ws.runs["ok"]
    # The home view lists the workspace's flow: metaflow/flows went app → relay → server.
    webview.wait_for("document.querySelector('body.transport-vscode [data-rendered=home]')")
    assert "WebFlow" in page.inner_text("#app")
    assert {"to": "host", "kind": "ready"} in webview.host

    # A lens or the runs panel navigates: the run's DAG renders from the server's answers.
    webview.goto(f"#/{run}")
    webview.wait_for("document.querySelector('.run-body[data-rendered=dag]')")
    assert page.get_attribute("g.node[data-step=train]", "data-status") == "succeeded"
    webview.wait_for("true", timeout=0.5)
    assert any(m.get("kind") == "route" and m["route"].startswith(f"#/{run}") for m in webview.host)

    # Clicking a step asks the extension to show its def (0-based line, code points).
    page.click("g.node[data-step=train]")
    webview.wait_for("true", timeout=1)
    (opened,) = [m["location"] for m in webview.host if m.get("kind") == "openSource"]
    source = (editor_ws.path / "web_flow.py").read_text().splitlines()
    assert opened["path"] == str(editor_ws.path / "web_flow.py") and opened["step"] == "train"
    assert source[opened["line"]][opened["character"] :].startswith("train(self)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "vscode-webview-dag.png"))

    # The server's errors reach the panel as they are, not a blank page.
    webview.goto("#/WebFlow/123")
    webview.wait_for("document.querySelector('.error')")
    assert "WebFlow/123" in page.inner_text(".error")
    violations = [c for c in webview.console if "Content Security Policy" in c]
    assert violations == []


def test_a_card_runs_its_scripts_in_the_sandboxed_frame(
    webview: Webview, editor_ws: WebWorkspace
) -> None:
    page = webview.page
    (task,) = editor_ws.tasks("ok")["report"]
    pathspec = f"{editor_ws.runs['ok']}/report/{task}"
    webview.wait_for("document.querySelector('[data-rendered=home]')")
    webview.goto(f"#/{pathspec}?tab=cards")
    webview.wait_for("document.querySelector('iframe.card')")
    frame_el = page.query_selector("iframe.card")
    assert frame_el is not None and frame_el.get_attribute("sandbox") == "allow-scripts"
    frame = frame_el.content_frame()
    assert frame is not None
    # metaflow/card came through the relay (srcdoc); its scripts carry the page's nonce and ran
    # under the webview's CSP: the card draws its task's pathspec.
    deadline = time.monotonic() + 30
    while not frame.evaluate(f"!!document.body && document.body.innerText.includes({pathspec!r})"):
        assert time.monotonic() < deadline, f"the card did not draw {pathspec}: {webview.console}"
        webview.pump()
        time.sleep(0.1)
    # An opaque origin: the app (and the editor's API it holds) is out of the card's reach.
    assert frame.evaluate("window.origin") == "null"
    assert (
        frame.evaluate(
            "(() => { try { return window.parent.document.title } catch (e) { return 'blocked' } })()"
        )
        == "blocked"
    )
    page.screenshot(path=str(ARTIFACTS / "vscode-webview-card.png"))
