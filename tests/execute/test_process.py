"""Metaflow commands as process groups: lines streamed as printed, progress from the graph,
cancel stops the whole group, and a dead owner leaves nothing behind (the guard)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from metaflow_lsp.execute import FlowProcess, RunProgress, group_members, parse_line
from metaflow_lsp.execute.process import close_guard
from metaflow_lsp.flow import analyze_path

from .conftest import FlowDir

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc"),
]

_PID = re.compile(r"\(pid (\d+)\)")


@pytest.fixture(scope="module", autouse=True)
def guard_closed() -> Iterator[None]:
    """This test process owns the groups here: let its guard go with the module."""
    yield
    close_guard()


def alive(pid: int) -> bool:
    """Whether `pid` is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] not in (b"Z", b"X")


async def until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def test_a_run_streams_its_lines_and_its_progress_reaches_the_total(
    flow_dir: FlowDir,
) -> None:
    flow = analyze_path(str(flow_dir.path / "branchy_flow.py")).flow()
    assert flow is not None and flow.graph is not None
    progress = RunProgress(flow.graph, flow.steps)
    lines: list[tuple[float, str, str]] = []
    seen: list[str] = []

    def on_output(stream: str, text: str) -> None:
        lines.append((time.monotonic(), stream, text))
        if progress.feed(parse_line(stream, text)):
            seen.append(progress.message())

    process = FlowProcess(
        [sys.executable, "branchy_flow.py", "run", "--scale", "5"],
        str(flow_dir.path),
        flow_dir.env,
        on_output,
    )
    await process.start()
    end = await process.wait()
    assert end.returncode == 0 and not end.stopped and end.leftovers == 0
    texts = [t for _, _, t in lines]
    assert any("each 2 -> 10" in t for t in texts)  # the tasks' own output
    assert any(t.endswith("total 15") for t in texts)
    assert {s for _, s, _ in lines} == {"stdout", "stderr"}
    # Lines arrive while the run goes on, not all at its end.
    assert lines[-1][0] - lines[0][0] > 1.0
    assert progress.run_id is not None and progress.ended  # "Done!"
    assert progress.total == 4 and progress.done_steps() == list(flow.graph.sorted_nodes)
    assert seen[0] == "0/4 steps · start", seen
    assert any(m.startswith("1/4 steps · each") for m in seen), seen
    assert "2/4 steps · join" in seen and seen[-1] == "4/4 steps", seen
    assert (flow_dir.path / ".metaflow" / "BranchyFlow" / progress.run_id).is_dir()


async def test_cancel_stops_every_process_of_the_group(flow_dir: FlowDir) -> None:
    pids: set[int] = set()
    napping = asyncio.Event()

    def on_output(stream: str, text: str) -> None:
        found = _PID.search(text)
        if found:
            pids.add(int(found[1]))
        if text.endswith("napping 2") or text.endswith("napping 1"):
            if sum("napping" in t for t in seen) >= 1:
                napping.set()
        seen.append(text)

    seen: list[str] = []
    process = FlowProcess(
        [sys.executable, "sleepy_flow.py", "run"], str(flow_dir.path), flow_dir.env, on_output
    )
    await process.start()
    await asyncio.wait_for(napping.wait(), 60)
    pgid = process.pid
    assert pgid is not None
    members = group_members(pgid)
    assert pgid in members and len(members) >= 3, members  # the runtime and its task processes
    started = time.monotonic()
    end = await process.stop(grace=2.0)
    assert end.stopped and end.returncode != 0
    assert time.monotonic() - started < 5
    assert group_members(pgid) == []
    assert not [p for p in pids | set(members) if alive(p)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
async def test_a_killed_owner_leaves_no_process_behind(flow_dir: FlowDir, sig: int) -> None:
    """SIGTERM: the owner's handler stops the groups; SIGKILL: only the guard can."""
    owner = subprocess.Popen(
        [sys.executable, "owner.py"],
        cwd=flow_dir.path,
        env=flow_dir.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        pgid = int(owner.stdout.readline())
        assert owner.stdout.readline().strip() == "napping"
        members = group_members(pgid)
        assert pgid in members and len(members) >= 2, members  # the runtime and a task
        os.kill(owner.pid, sig)
        assert owner.wait() == -sig
        await until(lambda: not group_members(pgid), 10, "the guard to stop the group")
        assert not [p for p in members if alive(p)]
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
