"""The `metaflow/*` requests, their errors, and what a server without an interpreter shows."""

from __future__ import annotations

import ast
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from pygls.exceptions import JsonRpcException

from .helpers import Session, position_of
from .runs_helpers import (
    FLOW_FILE,
    RunsWorkspace,
    hover_text,
    request,
    running_server,
    runs_workspace,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> RunsWorkspace:
    return runs_workspace(tmp_path_factory)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(ws: RunsWorkspace) -> AsyncIterator[Session]:
    async with running_server(ws.path, ws.env, {"python": sys.executable}) as session:
        yield session


async def error_of(session: Session, method: str, params: dict) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as caught:
        await request(session, method, params)
    return caught.value


async def test_runs_lists_pages_and_filters(session: Session, ws: RunsWorkspace) -> None:
    ok, failed = ws.runs["ok"], ws.runs["failed"]
    page = await request(session, "metaflow/runs", {"flow": "RunsFlow"})
    assert [r["run_id"] for r in page["runs"]] == [failed, ok]
    assert page["next_cursor"] is None
    first = page["runs"][0]
    assert first["status"] == "failed" and first["user"] == "tester"
    assert first["pathspec"] == f"RunsFlow/{failed}" and first["started_at"]

    one = await request(session, "metaflow/runs", {"flow": "RunsFlow", "limit": 1})
    assert [r["run_id"] for r in one["runs"]] == [failed] and one["next_cursor"]
    rest = await request(
        session, "metaflow/runs", {"flow": "RunsFlow", "limit": 1, "cursor": one["next_cursor"]}
    )
    assert [r["run_id"] for r in rest["runs"]] == [ok]

    succeeded = await request(session, "metaflow/runs", {"flow": "RunsFlow", "status": "succeeded"})
    assert [r["run_id"] for r in succeeded["runs"]] == [ok]
    nobody = await request(session, "metaflow/runs", {"flow": "RunsFlow", "user": "alice"})
    assert nobody["runs"] == []


async def test_run_has_steps_and_tasks_with_timings(session: Session, ws: RunsWorkspace) -> None:
    failed = ws.runs["failed"]
    result = await request(session, "metaflow/run", {"pathspec": f"RunsFlow/{failed}"})
    assert result["run"]["status"] == "failed"
    steps = {s["step"]: s for s in result["steps"]}
    assert set(steps) == {"start", "each", "join", "compute"}
    assert steps["compute"]["status"] == "failed"
    each = steps["each"]["tasks"]
    assert [t["foreach_index"] for t in each] == [0, 1, 2]
    assert all(t["started_at"] and t["finished_at"] and t["duration_s"] > 0 for t in each)
    assert "metadata" not in each[0]

    # `max_tasks`: each step's first tasks with all their fields, the others counted.
    capped = await request(
        session, "metaflow/run", {"pathspec": f"RunsFlow/{failed}", "max_tasks": 2}
    )
    capped_steps = {s["step"]: s for s in capped["steps"]}
    assert capped_steps["each"]["task_count"] == 3
    assert capped_steps["each"]["tasks"] == each[:2]
    assert [s["status"] for s in capped["steps"]] == [s["status"] for s in result["steps"]]


async def test_task_has_metadata_artifacts_with_previews_and_log_tails(
    session: Session, ws: RunsWorkspace
) -> None:
    failed = ws.runs["failed"]
    (compute,) = ws.task_ids(failed, "compute")
    result = await request(
        session, "metaflow/task", {"pathspec": f"RunsFlow/{failed}/compute/{compute}"}
    )
    assert result["task"]["status"] == "failed"
    assert result["task"]["metadata"]["user"] == "tester"
    artifacts = {a["name"]: a for a in result["artifacts"]}
    assert artifacts["total"]["preview"]["repr"] == ws.client_value(
        f"RunsFlow/{failed}/compute/{compute}", "total"
    )
    assert artifacts["value"]["preview"]["repr"] == "-1"
    assert artifacts["_task_ok"].get("preview") is None  # Metaflow's own: listed, not loaded
    stderr = [line["text"] for line in result["logs"]["stderr"]["lines"]]
    assert "ValueError: value must not be negative, got -1" in stderr
    assert result["interpreter"].startswith(sys.executable)


async def test_artifact_and_logs(session: Session, ws: RunsWorkspace) -> None:
    ok = ws.runs["ok"]
    (compute,) = ws.task_ids(ok, "compute")
    pathspec = f"RunsFlow/{ok}/compute/{compute}"
    result = await request(session, "metaflow/artifact", {"pathspec": pathspec, "name": "result"})
    assert result["preview"]["kind"] == "mapping"
    expected = ast.literal_eval(ws.client_value(pathspec, "result"))
    fields = {f["name"]: ast.literal_eval(f["repr"]) for f in result["preview"]["fields"]}
    assert fields == expected and ast.literal_eval(result["preview"]["repr"]) == expected
    assert result["artifact"]["type"] == "<class 'dict'>" and result["artifact"]["sha"]

    failed = ws.runs["failed"]
    (failed_compute,) = ws.task_ids(failed, "compute")
    task = f"RunsFlow/{failed}/compute/{failed_compute}"
    page = await request(
        session, "metaflow/logs", {"pathspec": task, "stream": "stderr", "limit": 3}
    )
    assert page["offset"] == 0 and len(page["lines"]) == 3 and page["next_offset"] == 3
    assert page["total_lines"] > 3 and page["complete"] is True
    tail = await request(
        session, "metaflow/logs", {"pathspec": task, "stream": "stderr", "offset": -3}
    )
    assert [line["text"] for line in tail["lines"]][-3:][0].startswith("ValueError")


async def test_errors_say_what_to_do(session: Session, ws: RunsWorkspace) -> None:
    ok = ws.runs["ok"]
    unknown = await error_of(session, "metaflow/runs", {"flow": "NoSuchFlow"})
    assert unknown.code == 1001 and unknown.data["kind"] == "not_found"
    assert "no runs of NoSuchFlow" in unknown.message and "RunsFlow" in unknown.message

    missing = await error_of(session, "metaflow/run", {"pathspec": "RunsFlow/123"})
    assert missing.data["kind"] == "not_found" and "RunsFlow/123" in missing.message

    malformed = await error_of(session, "metaflow/task", {"pathspec": f"RunsFlow/{ok}"})
    assert malformed.code == -32602 and "Flow/run/step/task" in malformed.message

    no_param = await error_of(session, "metaflow/runs", {})
    assert no_param.code == -32602 and "'flow' is required" in no_param.message

    (task,) = ws.task_ids(ok, "compute")
    no_artifact = await error_of(
        session, "metaflow/artifact", {"pathspec": f"RunsFlow/{ok}/compute/{task}", "name": "nope"}
    )
    assert no_artifact.data["kind"] == "not_found" and "result" in no_artifact.message

    bad_stream = await error_of(
        session, "metaflow/logs", {"pathspec": f"RunsFlow/{ok}/compute/{task}", "stream": "both"}
    )
    assert bad_stream.code == -32602


async def test_without_an_interpreter_hover_and_artifact_say_why(
    ws: RunsWorkspace, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-python")
    async with running_server(ws.path, ws.env, {"python": missing}) as other:
        uri = other.open(FLOW_FILE)
        text = ws.flow_text
        line, column = position_of(text, "self.total =", offset=6)
        shown = hover_text(await other.hover(uri, line, column))
        # What needs no unpickling is there, with the reason for the missing value.
        assert "`int` · " in shown and "sha `" in shown, shown
        assert "Value not shown" in shown and "no-python" in shown and "does not exist" in shown

        ok = ws.runs["ok"]
        (task,) = ws.task_ids(ok, "join")
        error = await error_of(
            other, "metaflow/artifact", {"pathspec": f"RunsFlow/{ok}/join/{task}", "name": "total"}
        )
        assert error.code == 1004 and error.data["kind"] == "no_interpreter"
        assert "metaflow-lsp.python" in error.message
        assert error.data["artifact"]["type"] == "<class 'int'>"
