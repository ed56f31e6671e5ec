"""Cancel and shutdown stop the whole process group of a run (no process survives); a second
run of a busy flow asks the user first."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path

import pytest
from lsprotocol import types

from metaflow_lsp.execute import group_members

from .commands_helpers import (
    BRANCHY,
    SLEEPY,
    CommandSession,
    command_server,
    flow_workspace,
    members_alive,
)

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc"),
]

_PID = re.compile(r"\(pid (\d+)\)")


async def napping(cs: CommandSession, execution: str, timeout: float = 60) -> set[int]:
    """Wait until both nap tasks run; the pids the output named."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = cs.recorder.lines(execution)
        if sum(line.endswith(("napping 1", "napping 2")) for line in lines) == 2:
            return {int(m[1]) for line in lines for m in [_PID.search(line)] if m}
        await asyncio.sleep(0.05)
    raise AssertionError(f"the nap tasks did not start: {cs.recorder.lines(execution)}")


async def test_cancel_from_the_progress_stops_every_process_of_the_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root, env = flow_workspace(tmp_path_factory, "cancel", SLEEPY, BRANCHY)
    async with command_server(root, env) as cs:
        uri = cs.session.open(SLEEPY)
        started = await cs.execute("metaflow.run", {"uri": uri})
        execution, pgid = started["execution"], started["pid"]
        pids = await napping(cs, execution)
        members = set(group_members(pgid))
        assert pgid in members and len(members) >= 3, members  # the runtime and two tasks

        # A second run of the same flow: the user is asked, and says "Queue it".
        cs.recorder.answer = "Queue it"
        queued = await cs.execute("metaflow.run", {"uri": uri})
        assert queued["status"] == "queued"
        assert cs.recorder.asked and "Run SleepyFlow is running" in cs.recorder.asked[0]
        # Another flow is not held up by it.
        other = await cs.execute("metaflow.run", {"uri": cs.session.uri(BRANCHY)})
        assert other["status"] == "running"

        # The user cancels the progress notification: the whole group goes.
        (token,) = [t for t in cs.client.progress_reports if str(t).endswith(execution)]
        cs.client.protocol.notify(
            types.WINDOW_WORK_DONE_PROGRESS_CANCEL, types.WorkDoneProgressCancelParams(token)
        )
        finished = await cs.recorder.ended(execution, timeout=15)
        assert finished["status"] == "cancelled", finished
        assert finished["message"].startswith(f"SleepyFlow/{finished['run_id']} cancelled after")
        assert group_members(pgid) == []
        assert members_alive(pids | members) == []

        # The queued run starts once the first one is gone; metaflow.cancel stops it.
        second = queued["execution"]
        await napping(cs, second)
        (stopped,) = [f for f in cs.recorder.finished if f["execution"] == execution]
        assert stopped["status"] == "cancelled"
        result = await cs.execute("metaflow.cancel", {"uri": uri})
        assert result == {"cancelled": [second]}
        finished = await cs.recorder.ended(second, timeout=15)
        assert finished["status"] == "cancelled"
        assert group_members(finished["pid"]) == []
        assert (await cs.recorder.ended(other["execution"]))["status"] == "succeeded"


async def test_shutdown_during_a_run_leaves_no_process(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root, env = flow_workspace(tmp_path_factory, "shutdown", SLEEPY)
    async with command_server(root, env) as cs:
        uri = cs.session.open(SLEEPY)
        started = await cs.execute("metaflow.run", {"uri": uri})
        pids = await napping(cs, started["execution"])
        pgid = started["pid"]
        members = set(group_members(pgid))
        began = time.monotonic()
        await cs.client.shutdown_session()
        assert time.monotonic() - began < 10
        assert group_members(pgid) == []
        assert members_alive(pids | members) == []


async def test_a_run_killed_from_outside_is_reported_and_its_tasks_stopped(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root, env = flow_workspace(tmp_path_factory, "killed", SLEEPY)
    async with command_server(root, env) as cs:
        uri = cs.session.open(SLEEPY)
        started = await cs.execute("metaflow.run", {"uri": uri})
        pids = await napping(cs, started["execution"])
        pgid = started["pid"]
        members = set(group_members(pgid))
        os.kill(pgid, signal.SIGKILL)  # the runtime only: its tasks are left behind
        finished = await cs.recorder.ended(started["execution"], timeout=15)
        assert finished["status"] == "error"
        assert "was killed by SIGKILL" in finished["message"]
        assert finished["message"] in cs.messages()
        assert group_members(pgid) == []
        assert members_alive(pids | members) == []
        # The server keeps serving.
        assert await cs.execute("metaflow.cancel", {}) == {"cancelled": []}
