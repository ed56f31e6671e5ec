"""The VS Code extension's node tests (`npm test` in editors/vscode): its relay and its runs tree
against the real language server and real Metaflow runs, and its pure parts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXTENSION, npm

pytestmark = pytest.mark.slow


def test_the_extension_node_tests_pass() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    bin_dir = Path(sys.executable).parent
    env.update(
        METAFLOW_LSP=str(bin_dir / "metaflow-lsp"),
        METAFLOW_LSP_PYTHON=sys.executable,
        NO_COLOR="1",
    )
    proc = subprocess.run(
        [npm(), "test", "--silent"],
        cwd=EXTENSION,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    report = proc.stdout[-6000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, report
    # node's spec reporter ends with "ℹ tests N", "ℹ pass N", "ℹ fail 0": every test ran.
    counts = dict(re.findall(r"^\S+ (tests|pass|fail|skipped|cancelled) (\d+)$", proc.stdout, re.M))
    assert int(counts.get("tests", 0)) >= 20, report
    assert counts["pass"] == counts["tests"] and counts["skipped"] == "0", report


def test_the_extension_type_checks() -> None:
    proc = subprocess.run(
        [npm(), "run", "--silent", "check"],
        cwd=EXTENSION,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
