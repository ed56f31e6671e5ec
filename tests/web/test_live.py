"""A running run in the web view: the history, the DAG and the task's log follow it live, and
the app works the same over the VS Code transport (postMessage relayed to the same API)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import HERE, Browser, View, WebWorkspace, start_view, stop_view

pytestmark = pytest.mark.slow


def test_a_running_run_updates_live(
    browser_context: Any, tmp_path: Path, web_ws: WebWorkspace
) -> None:
    shutil.copy(HERE / "flows" / "live_flow.py", tmp_path / "live_flow.py")
    release = tmp_path / "release"
    env = {**web_ws.env, "LIVE_RELEASE": str(release)}
    run = subprocess.Popen(
        [sys.executable, "live_flow.py", "--quiet", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    view = start_view(tmp_path, web_ws.env)
    page = browser_context.new_page()
    browser = Browser(page, view)
    try:
        flow_dir = tmp_path / ".metaflow" / "LiveFlow"
        deadline = time.monotonic() + 60
        while not (flow_dir.exists() and any(p.name.isdigit() for p in flow_dir.iterdir())):
            assert time.monotonic() < deadline and run.poll() is None, "the run did not start"
            time.sleep(0.1)
        (run_id,) = [p.name for p in flow_dir.iterdir() if p.name.isdigit()]
        page.goto(view.url)
        browser.goto("#/LiveFlow")
        page.wait_for_selector(f"tr.run[data-run='{run_id}'][data-status=running]", timeout=30_000)

        browser.goto(f"#/LiveFlow/{run_id}")
        page.wait_for_selector(".run-header[data-status=running]")
        page.wait_for_selector("g.node[data-step=wait][data-status=running]", timeout=30_000)
        assert page.get_attribute("g.node[data-step=end]", "data-status") == "pending"
        browser.shot("live-running")

        task_dir = flow_dir / run_id / "wait"
        (task,) = [p.name for p in task_dir.iterdir() if p.name.isdigit()]
        # Metaflow writes a local task's log when the attempt ends: the page says so, then
        # shows the lines when they come, without a reload.
        browser.goto(f"#/LiveFlow/{run_id}/wait/{task}?stream=stdout")
        page.wait_for_selector("[data-rendered=task]")
        browser.wait_for("document.querySelector('.logs').innerText.includes('attempt ends')")
        assert page.get_attribute(".run-header", "data-status") == "running"
        release.write_text("go")
        page.wait_for_selector(".log-line", timeout=30_000)
        assert "tick 0" in page.inner_text(".log")
        assert run.wait(timeout=120) == 0
        browser.goto(f"#/LiveFlow/{run_id}")
        page.wait_for_selector(".run-header")
        page.wait_for_selector(".run-header[data-status=succeeded]", timeout=30_000)
        page.wait_for_selector("g.node[data-step=end][data-status=succeeded]", timeout=30_000)
        browser.shot("live-done")
        assert browser.errors == []
    finally:
        release.write_text("go")
        if run.poll() is None:
            run.kill()
        page.close()
        stop_view(view)


FAKE_VSCODE = """
window.__posted = [];
window.acquireVsCodeApi = () => ({
  postMessage(message) {
    window.__posted.push(message);
    if (message.type !== "request") return;
    // The extension's part: relay the request (here to the same API) and answer.
    fetch("/api/" + message.method, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(message.params),
    }).then(r => r.json()).then(body => window.postMessage(
      body.error ? {type: "response", id: message.id, error: body.error}
                 : {type: "response", id: message.id, result: body.result}, "*"));
  },
  getState() { return null; },
  setState(state) { window.__state = state; },
});
"""


def test_the_vscode_transport(browser_context: Any, view: View, web_ws: WebWorkspace) -> None:
    page = browser_context.new_page()
    browser = Browser(page, view)
    page.add_init_script(FAKE_VSCODE)
    try:
        page.goto(view.url)
        page.wait_for_selector("body.transport-vscode [data-rendered=home]")
        posted = page.evaluate("window.__posted")
        assert posted[0] == {"type": "ready"}
        assert any(m["type"] == "request" and m["method"] == "metaflow/flows" for m in posted)

        browser.goto(f"#/{web_ws.runs['ok']}")
        page.wait_for_selector(".run-body[data-rendered=dag]")
        page.click("g.node[data-step=train]")
        browser.wait_for("window.__posted.some(m => m.type === 'openSource')")
        (opened,) = [m for m in page.evaluate("window.__posted") if m["type"] == "openSource"]
        source = (web_ws.path / "web_flow.py").read_text().splitlines()
        assert opened["step"] == "train" and opened["path"] == str(web_ws.path / "web_flow.py")
        assert source[opened["line"]][opened["character"] :].startswith("train(self)")
        assert page.evaluate("window.__state.route").startswith(f"#/{web_ws.runs['ok']}")

        # The extension can move the view (e.g. a code lens was clicked).
        page.evaluate("window.postMessage({type: 'navigate', route: '#/SwitchFlow'}, '*')")
        page.wait_for_selector(".dag-box[data-rendered=dag]")
        assert page.evaluate("location.hash") == "#/SwitchFlow"
        browser.shot("vscode-transport")
        assert browser.errors == []
    finally:
        page.close()
