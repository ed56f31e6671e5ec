"""The VS Code extension's fixtures: its build, a workspace with a real Metaflow run (WebFlow from
tests/web: a foreach, a retried step, a card), and Debian's Chromium (tests/web's fixture)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.web.conftest import HERE as WEB_HERE
from tests.web.conftest import WebWorkspace, browser_context

__all__ = ["browser_context"]

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "editors" / "vscode"


def npm() -> str:
    """npm's path, or a failure that says how to get it."""
    found = shutil.which("npm")
    if found is None or shutil.which("node") is None:
        pytest.fail("node and npm are needed for the VS Code extension's tests: install Node 20+")
    if not (EXTENSION / "node_modules").is_dir():
        pytest.fail("editors/vscode/node_modules is missing: run scripts/setup.sh (it runs npm ci)")
    return found


@pytest.fixture(scope="session")
def extension_build() -> Path:
    """`node build.mjs --tests`: dist/extension.js, dist-test/ and media/static/."""
    npm()
    proc = subprocess.run(
        ["node", "build.mjs", "--tests"],
        cwd=EXTENSION,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return EXTENSION


@pytest.fixture(scope="session")
def editor_ws(tmp_path_factory: pytest.TempPathFactory) -> WebWorkspace:
    """WebFlow with one run that succeeds (its report step makes a card)."""
    ws = WebWorkspace(tmp_path_factory.mktemp("editorws"), tmp_path_factory.mktemp("editorws-home"))
    shutil.copy(WEB_HERE / "flows" / "web_flow.py", ws.path / "web_flow.py")
    ws.run("ok", "web_flow.py", "WebFlow")
    return ws
