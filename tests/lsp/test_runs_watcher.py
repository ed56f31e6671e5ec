"""A run made while the server runs: lenses and run-failure diagnostics follow the watcher,
and shutting the server down leaves no artifact worker behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

import pytest
from lsprotocol import types

from .helpers import position_of
from .runs_helpers import (
    FLOW_FILE,
    RunsWorkspace,
    copy_workspace,
    hover_text,
    lens_titles,
    lenses,
    line_of,
    request,
    running_server,
    runs_workspace,
    wait_until,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


def agent_pids(cwd: Path) -> set[int]:
    """Artifact worker agents whose working directory is `cwd`."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            where = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if b"agent.py" in cmdline and Path(where) == cwd:
            found.add(int(entry))
    return found


def run_failures(found: list[types.Diagnostic]) -> list[types.Diagnostic]:
    return [d for d in found if d.source == "metaflow"]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
async def test_a_new_run_updates_lenses_and_clears_the_failure(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ws: RunsWorkspace = copy_workspace(
        runs_workspace(tmp_path_factory), tmp_path_factory.mktemp("watched")
    )
    refreshes: list[float] = []
    text = ws.flow_text
    compute_lens = line_of(text, "def compute(") - 1
    async with running_server(
        ws.path, ws.env, {"python": sys.executable}, lambda: refreshes.append(time.monotonic())
    ) as session:
        uri = session.open(FLOW_FILE)
        found = await session.diagnostics(uri, lambda d: bool(run_failures(d)))
        assert run_failures(found)
        titles = lens_titles(await lenses(session, uri))
        assert titles[compute_lens].startswith("✗ failed")
        line, column = position_of(text, "self.total =", offset=6)
        assert "```python" in hover_text(await session.hover(uri, line, column))
        agents = agent_pids(ws.path)
        assert agents, "the hover started an artifact worker"

        # A run with a valid value, started from a terminal while the editor is open.
        before = ws.run_ids()
        proc = await asyncio.create_subprocess_exec(
            *ws.command("run", "--value", "5"),
            cwd=ws.path,
            env=ws.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        # Like an editor: lenses are requested again when the server asks for a refresh.
        flow_line = line_of(text, "class RunsFlow")
        seen: list[tuple[float, dict[int, str]]] = []
        handled = 0
        finished: float | None = None
        deadline = time.monotonic() + 120
        while True:
            if finished is None and proc.returncode is not None:
                finished = time.monotonic()
                assert proc.returncode == 0
                deadline = finished + 10
            if len(refreshes) > handled:
                handled = len(refreshes)
                seen.append((time.monotonic(), lens_titles(await lenses(session, uri))))
                flow_title = seen[-1][1].get(flow_line, "")
                if flow_title.startswith("✓ succeeded") and before != ws.run_ids():
                    (new_run,) = ws.run_ids() - before
                    if new_run in flow_title:
                        break
            if time.monotonic() > deadline:
                raise AssertionError(f"no refresh showed the new run: {seen}")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), 0.05)
        await proc.wait()
        finished = finished or time.monotonic()
        lens_delay = max(0.0, seen[-1][0] - finished)
        assert any(titles[flow_line].startswith("⟳ running") for _, titles in seen), seen
        assert seen[-1][1][compute_lens].startswith("✓ ")
        assert seen[-1][1][compute_lens].endswith(new_run[-6:])
        cleared = await session.diagnostics(uri, lambda d: not run_failures(d), timeout=10)
        assert not run_failures(cleared)
        clear_delay = time.monotonic() - finished
        assert lens_delay < 5 and clear_delay < 5, (lens_delay, clear_delay)
        listed = await request(session, "metaflow/runs", {"flow": "RunsFlow", "limit": 1})
        assert listed["runs"][0]["run_id"] == new_run
        print(
            f"after the run ended: lens {lens_delay:.2f} s, diagnostic cleared {clear_delay:.2f} s"
        )

    # Shut down: the watcher and the artifact worker are gone.
    await wait_until(lambda: not (agents & agent_pids(ws.path)), 10, "the worker to exit")
