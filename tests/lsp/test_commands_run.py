"""metaflow.run and metaflow.resume through workspace/executeCommand on RunsFlow: progress,
streamed output, the final status, `.metaflow-lsp.toml` options on the command line, the
failure diagnostic on the raising line, and resume after fixing it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from lsprotocol import types

from .commands_helpers import CommandSession, command_server
from .runs_helpers import (
    FLOW_FILE,
    RunsWorkspace,
    copy_workspace,
    lens_titles,
    lenses,
    line_of,
    request,
    runs_workspace,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

SETTINGS = """\
[flows.RunsFlow]
parameters = { value = 4 }

[flows.RunsFlow.presets.tagged]
tags = ["from-editor"]
max_workers = 2
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> RunsWorkspace:
    ws = copy_workspace(runs_workspace(tmp_path_factory), tmp_path_factory.mktemp("commands"))
    (ws.path / ".metaflow-lsp.toml").write_text(SETTINGS, encoding="utf-8")
    return ws


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cs(ws: RunsWorkspace) -> AsyncIterator[CommandSession]:
    async with command_server(ws.path, ws.env) as cs:
        yield cs


def run_failures(found: list[types.Diagnostic]) -> list[types.Diagnostic]:
    return [d for d in found if d.source == "metaflow"]


async def test_run_streams_output_and_progress_and_ends_with_its_status(
    cs: CommandSession, ws: RunsWorkspace
) -> None:
    uri = cs.session.open(FLOW_FILE)
    started = await cs.execute("metaflow.run", {"uri": uri, "preset": "tagged"})
    assert started["status"] == "running", started
    # The workspace file's options, on the command line as a user would type it.
    assert started["command"] == (
        "python runs_flow.py run --tag from-editor --max-workers 2 --value 4"
    )
    assert started["cwd"] == str(ws.path)
    execution = started["execution"]

    # While it runs, the flow lens offers to stop it.
    stop = [
        lens.command
        for lens in await lenses(cs.session, uri)
        if lens.command and lens.command.title == "■ Stop"
    ]
    assert stop and stop[0].command == "metaflow.cancel"

    finished = await cs.recorder.ended(execution)
    assert finished["status"] == "succeeded", finished
    run_id = finished["run_id"]
    assert finished["pathspec"] == f"RunsFlow/{run_id}"
    assert finished["steps_done"] == finished["steps_total"] == 5
    # window/showMessage and metaflow/finished are separate notifications: allow the order.
    for _ in range(50):
        if any(m.startswith(f"RunsFlow/{run_id} succeeded in ") for m in cs.messages()):
            break
        await asyncio.sleep(0.1)
    assert any(m.startswith(f"RunsFlow/{run_id} succeeded in ") for m in cs.messages())

    # Every line, with its task when it has one.
    outputs = [o for o in cs.recorder.outputs if o["execution"] == execution]
    assert outputs[0]["text"].startswith("Metaflow ") and outputs[0]["stream"] == "stderr"
    starting = [o for o in outputs if o["text"].endswith("Task is starting.")]
    assert {o["step"] for o in starting} == {"start", "each", "join", "compute", "end"}
    assert all(o["run_id"] == run_id and o["task"] for o in starting)
    assert outputs[-1]["text"].endswith("Done!")

    # $/progress: begun, reported step by step, ended with the final message.
    (token,) = [t for t in cs.client.progress_reports if str(t).endswith(execution)]
    reports = cs.client.progress_reports[token]
    assert isinstance(reports[0], types.WorkDoneProgressBegin) and reports[0].cancellable
    assert reports[0].title == "Run RunsFlow"
    messages = [r.message for r in reports[1:-1] if isinstance(r, types.WorkDoneProgressReport)]
    assert any(m and m.startswith("1/5 steps · each") for m in messages), messages
    assert messages[-1] == "5/5 steps"
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)
    assert reports[-1].message == finished["message"]

    # The run store was read again at once: the lenses show the run, the tag is recorded.
    assert any(t >= finished["ended_at"] for t in cs.recorder.refreshes)
    titles = lens_titles(await lenses(cs.session, uri))
    assert run_id in titles[line_of(ws.flow_text, "class RunsFlow")]
    listed = await request(cs.session, "metaflow/runs", {"flow": "RunsFlow", "limit": 1})
    assert listed["runs"][0]["run_id"] == run_id
    assert listed["runs"][0]["tags"] == ["from-editor"]


async def test_a_failing_run_marks_the_raising_line_and_resume_clears_it(
    cs: CommandSession, ws: RunsWorkspace
) -> None:
    # Diagnostics are published for open documents: open it (unless a test before did).
    uri = cs.session.uri(FLOW_FILE)
    if uri not in cs.session.versions:
        cs.session.open(FLOW_FILE)
    started = await cs.execute(
        "metaflow.run", {"uri": uri, "parameters": {"value": -2}, "if_busy": "queue"}
    )
    assert started["command"] == "python runs_flow.py run --value -2"
    finished = await cs.recorder.ended(started["execution"])
    failed_run = finished["run_id"]
    assert finished["status"] == "failed"
    assert finished["message"] == (
        f"RunsFlow/{failed_run} failed in step compute (task "
        f"{ws.task_ids(failed_run, 'compute')[0]}): ValueError: value must not be negative, got -2"
    )
    assert finished["message"] in cs.messages()

    text = ws.flow_text
    raising = line_of(text, "raise ValueError")

    def on_raising_line(found: list[types.Diagnostic]) -> bool:
        return any(
            d.range.start.line == raising and "got -2" in d.message for d in run_failures(found)
        )

    found = await cs.session.diagnostics(uri, on_raising_line, timeout=30)
    assert on_raising_line(found), found

    # Fix the code, save, resume from the failed step: the origin run is explicit.
    fixed = text.replace("if value < 0:", "if value < -100:")
    (ws.path / FLOW_FILE).write_text(fixed, encoding="utf-8")
    cs.session.change(uri, fixed)
    compute = line_of(fixed, "def compute(")
    at = await cs.execute(
        "metaflow.stepAt", {"uri": uri, "position": {"line": compute + 1, "character": 8}}
    )
    assert at == {"uri": uri, "flow": "RunsFlow", "step": "compute", "runnable": True}
    resumed = await cs.execute(
        "metaflow.resume", {"uri": uri, "position": {"line": compute + 1, "character": 8}}
    )
    assert resumed["command"] == f"python runs_flow.py resume compute --origin-run-id {failed_run}"
    assert resumed["source"] == f"RunsFlow/{failed_run}"
    finished = await cs.recorder.ended(resumed["execution"])
    assert finished["status"] == "succeeded", finished
    assert finished["run_id"] != failed_run
    assert any(
        "Cloning previously run task" in line for line in cs.recorder.lines(resumed["execution"])
    )
    started_clearing = time.monotonic()
    cleared = await cs.session.diagnostics(uri, lambda d: not run_failures(d), timeout=10)
    assert not run_failures(cleared), cleared
    assert time.monotonic() - started_clearing < 5
