"""`metaflow-lsp runs` and `metaflow-lsp show` on real runs."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from click.testing import CliRunner

from metaflow_lsp.cli import main

from .conftest import Workspace, metaflow_env

pytestmark = pytest.mark.slow


def invoke(ws: Workspace, *args: str) -> str:
    """Run the CLI in-process against the workspace; its output (exit status 0 required)."""
    env = {k: v for k, v in metaflow_env(ws.home).items() if k.startswith("METAFLOW_")}
    result = CliRunner().invoke(main, [*args, "--dir", str(ws.path)], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_runs_json_newest_first_in_iso_8601(flaky: Workspace) -> None:
    out = json.loads(invoke(flaky, "runs", "FlakyFlow", "--json"))
    assert [r["run_id"] for r in out] == [flaky.runs[k] for k in ("resumed", "retried", "failed")]
    assert set(out[0]) == {
        "run_id", "pathspec", "status", "user", "tags", "started_at", "finished_at",
    }  # fmt: skip
    assert [r["status"] for r in out] == ["succeeded", "succeeded", "failed"]
    for run in out:
        assert datetime.fromisoformat(run["started_at"]).tzinfo is not None
        assert run["pathspec"] == f"FlakyFlow/{run['run_id']}" and run["user"] == "tester"
    assert out[1]["tags"] == ["nightly"]
    only = json.loads(invoke(flaky, "runs", "FlakyFlow", "--json", "--status", "failed"))
    assert [r["run_id"] for r in only] == [flaky.runs["failed"]]
    tagged = json.loads(invoke(flaky, "runs", "FlakyFlow", "--json", "--tag", "nightly"))
    assert [r["run_id"] for r in tagged] == [flaky.runs["retried"]]
    assert json.loads(invoke(flaky, "runs", "FlakyFlow", "--json", "--limit", "1"))[0] == out[0]
    assert json.loads(invoke(flaky, "runs", "FlakyFlow", "--json", "--user", "bob")) == []


def test_runs_table_and_flow_file_argument(flaky: Workspace) -> None:
    text = invoke(flaky, "runs", str(flaky.path / flaky.flow_file))
    header, *rows = text.splitlines()
    assert header.split() == ["RUN", "STATUS", "USER", "STARTED", "DURATION", "TAGS"]
    assert rows[0].startswith(flaky.runs["resumed"]) and "succeeded" in rows[0]
    assert f"(resumes {flaky.runs['failed']})" in rows[0]
    assert re.search(r"  (just now|\d+[smhd] ago)  (\d+ms|\d+\.\ds|\d+m\d\ds)  ", rows[0])
    assert "nightly" in rows[1] and "failed" in rows[2]


def test_show_a_run_and_a_task(flaky: Workspace) -> None:
    resumed = f"FlakyFlow/{flaky.runs['resumed']}"
    text = invoke(flaky, "show", resumed)
    assert text.startswith(f"{resumed}  succeeded")
    assert f"resumed from FlakyFlow/{flaky.runs['failed']}" in text
    assert f"cloned from FlakyFlow/{flaky.runs['failed']}/start/1" in text
    for step in ("start", "middle", "end"):
        assert f"\n{step}  succeeded  1 task(s)" in text
    data = json.loads(invoke(flaky, "show", resumed, "--json"))
    assert data["run"]["origin_run_id"] == flaky.runs["failed"]
    assert [s["step"] for s in data["steps"]] == ["start", "middle", "end"]

    middle = next(s for s in data["steps"] if s["step"] == "middle")["tasks"][0]["pathspec"]
    text = invoke(flaky, "show", middle)
    assert "artifacts (3, plus" in text
    assert "\n  y     int" in text
    assert "stdout (last 1 of 1 lines):\n  middle attempt 0 mode never" in text
    data = json.loads(invoke(flaky, "show", middle, "--json"))
    assert data["task"]["status"] == "succeeded"
    assert {a["name"] for a in data["artifacts"]} >= {"x", "y", "_task_ok"}
    assert data["logs"][0]["lines"][0]["text"] == "middle attempt 0 mode never"


def test_show_reports_bad_pathspecs(flaky: Workspace) -> None:
    for pathspec, message in [
        ("FlakyFlow/1", "no run FlakyFlow/1"),
        ("FlakyFlow/1/start", "neither Flow/run nor Flow/run/step/task"),
        (f"FlakyFlow/{flaky.runs['failed']}/start/99", "no task"),
    ]:
        result = CliRunner().invoke(main, ["show", pathspec, "--dir", str(flaky.path)])
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output
