"""Real Metaflow runs, `metaflow-lsp view` serving them, and a real headless Chromium.

One workspace per session holds WebFlow (a foreach with a retried step, a card, and values
that look like HTML) with a run that succeeds and one that fails, SwitchFlow with one run,
and ParallelFlow (source only). Metaflow runs with USERNAME=tester and an empty METAFLOW_HOME.
Chromium is Debian's (/usr/bin/chromium), driven by Playwright, kept off the network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = '<img src=x onerror="window.__pwned=1"></script><script>window.__pwned=2</script>'


def metaflow_env(home: Path) -> dict[str, str]:
    """No METAFLOW_* of the developer's, an empty home, USERNAME=tester."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    env.update(USERNAME="tester", METAFLOW_HOME=str(home), PYTHONUNBUFFERED="1")
    return env


@dataclass
class WebWorkspace:
    """The flows, their runs (label -> pathspec) and the environment to read them."""

    path: Path
    home: Path
    runs: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """The environment for Metaflow and metaflow-lsp."""
        return metaflow_env(self.home)

    def run(self, label: str, flow_file: str, flow: str, *args: str, ok: bool = True) -> str:
        """Make a run and remember its pathspec."""
        root = self.path / ".metaflow" / flow
        before = {p.name for p in root.iterdir()} if root.exists() else set()
        proc = subprocess.run(
            [sys.executable, flow_file, "--quiet", "run", *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
            stdin=subprocess.DEVNULL,
        )
        assert (proc.returncode == 0) == ok, proc.stderr[-3000:]
        (run_id,) = {p.name for p in root.iterdir() if p.name.isdigit()} - before
        self.runs[label] = f"{flow}/{run_id}"
        return self.runs[label]

    def tasks(self, label: str) -> dict[str, list[str]]:
        """Step -> task ids of a run, from the datastore's directories."""
        flow, run_id = self.runs[label].split("/")
        run_dir = self.path / ".metaflow" / flow / run_id
        return {
            step.name: sorted((t.name for t in step.iterdir() if t.name.isdigit()), key=int)
            for step in run_dir.iterdir()
            if step.is_dir() and not step.name.startswith("_")
        }


@pytest.fixture(scope="session")
def web_ws(tmp_path_factory: pytest.TempPathFactory) -> WebWorkspace:
    """The session's workspace and its runs (made once)."""
    path = tmp_path_factory.mktemp("webws")
    home = tmp_path_factory.mktemp("webws-home")
    for name in ("web_flow.py", "parallel_flow.py"):
        shutil.copy(HERE / "flows" / name, path / name)
    shutil.copy(ROOT / "examples" / "switch_flow.py", path / "switch_flow.py")
    ws = WebWorkspace(path, home)
    ws.run("ok", "web_flow.py", "WebFlow")
    ws.run("failed", "web_flow.py", "WebFlow", "--fail", "true", ok=False)
    ws.run("switch", "switch_flow.py", "SwitchFlow")
    return ws


@dataclass
class View:
    """A running `metaflow-lsp view`: its URL (with the token) and where it listens."""

    url: str
    base: str
    token: str
    proc: subprocess.Popen[str]

    def api(self, method: str, params: dict[str, Any]) -> Any:
        """POST a runs API request with the token header; the result."""
        request = urllib.request.Request(
            f"{self.base}/api/{method}",
            data=json.dumps(params).encode(),
            headers={"Content-Type": "application/json", "X-Metaflow-Token": self.token},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)["result"]


def start_view(directory: Path, env: dict[str, str], *args: str) -> View:
    """`metaflow-lsp view --dir DIR --no-browser`, once it has printed its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "metaflow_lsp", "view", "--dir", str(directory), "--no-browser"]
        + ["--python", sys.executable, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise AssertionError(f"no URL from metaflow-lsp view: {line!r} {proc.stderr.read()}")
    url = line.split(": ", 1)[1].strip()
    base = url.split("/?", 1)[0]
    token = url.split("token=", 1)[1].split("#", 1)[0]
    return View(url, base, token, proc)


def stop_view(view: View) -> None:
    """SIGTERM, then wait (the server closes its watchers and workers)."""
    view.proc.terminate()
    try:
        view.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        view.proc.kill()
        view.proc.wait(timeout=5)


@pytest.fixture(scope="session")
def view(web_ws: WebWorkspace) -> Iterator[View]:
    """The view of the workspace, served for the whole session."""
    served = start_view(web_ws.path, web_ws.env)
    try:
        yield served
    finally:
        stop_view(served)


@pytest.fixture(scope="package")
def browser_context() -> Iterator[Any]:
    """Debian's Chromium through Playwright, with a fresh profile and no network of its own.
    Package-scoped: sync Playwright holds the thread's event loop until it stops, which the
    async tests of other packages need."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="mflsp-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Browser:
    """A page of the view, with what the page did that a user would not want."""

    page: Any
    view: View
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def goto(self, route: str) -> None:
        """Show a route (`#/Flow/run`) of the view."""
        self.page.evaluate("route => { location.hash = route }", route)

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll a JS expression until it is truthy (the app's CSP forbids the eval that
        Playwright's wait_for_function uses)."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.page.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression} (last: {value!r})")

    def shot(self, name: str) -> Path:
        """Save a screenshot under tests/artifacts/."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"web-{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def browser(browser_context: Any, view: View) -> Iterator[Browser]:
    """A fresh tab that has opened the view's URL (the token then lives in a cookie)."""
    page = browser_context.new_page()
    found = Browser(page, view)
    page.on("dialog", lambda dialog: (found.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: found.errors.append(str(error)))
    page.goto(view.url)
    page.wait_for_selector("[data-rendered=home]", timeout=30_000)
    try:
        yield found
    finally:
        page.close()
