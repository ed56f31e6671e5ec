"""A run in progress: it appears through the watcher, reads as running, and goes stale when killed."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from metaflow_lsp.runs import MetaflowConfig, RunStore, StoreChange
from metaflow_lsp.runs.local import LocalBackend
from metaflow_lsp.runs.model import WatchPlan

from .conftest import FLOWS, Workspace, make_workspace, metaflow_env

pytestmark = pytest.mark.slow


async def wait_for(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Poll `condition` every 20 ms; the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Collector:
    """Runs `store.watch()` in a task and keeps what it reports, with arrival times."""

    def __init__(self, store: RunStore) -> None:
        self.seen: list[tuple[float, StoreChange]] = []
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self._collect(store))

    async def _collect(self, store: RunStore) -> None:
        async for changes in store.watch(stop_event=self.stop):
            self.seen.extend((time.monotonic(), c) for c in changes)

    def first(self, run_id: str) -> float | None:
        """When a change naming `run_id` arrived."""
        return next((t for t, c in self.seen if c.run_id == run_id), None)

    async def close(self) -> None:
        """Stop watching."""
        self.stop.set()
        await asyncio.wait_for(self.task, timeout=10)


async def test_a_run_appears_runs_and_goes_stale_when_killed(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ws = make_workspace(tmp_path_factory, "live", FLOWS / "slow_flow.py")
    flow_root = ws.path / ".metaflow" / "SlowFlow"
    watcher = Collector(ws.store())
    await asyncio.sleep(0.3)  # the watcher is up before the run starts (no .metaflow yet)
    proc = subprocess.Popen(
        [sys.executable, ws.flow_file, "run"],
        cwd=ws.path,
        env=metaflow_env(ws.home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: killed below by its id
    )
    try:

        def run_ids() -> list[str]:
            if not flow_root.is_dir():
                return []
            return [p.name for p in flow_root.iterdir() if (p / "_meta" / "_self.json").exists()]

        created = await wait_for(run_ids, 60, "the run's _self.json")
        (run_id,) = run_ids()
        arrived = await wait_for(lambda: watcher.first(run_id), 10, "the watcher to report it")
        assert arrived - created < 3.0  # first run: the watcher moves from the folder to .metaflow
        # With no grace period, "running" rests on a live task process: wait for the long one
        # (before the start task and between tasks there is none).
        sleepy = flow_root / run_id / "sleepy"
        await wait_for(lambda: list(sleepy.glob("*/0.attempt.json")), 60, "the sleepy task")
        store = ws.store(quiet_grace=0)
        (run,), _ = store.list_runs("SlowFlow")
        assert (run.run_id, run.status) == (run_id, "running")

        steps = {s.step: s for s in store.steps(run.pathspec)}
        assert steps["start"].status == "succeeded"
        (task,) = steps["sleepy"].tasks
        assert task.status == "running" and task.finished_at is None
        chunk = store.logs(task.pathspec, "stdout")
        assert chunk.lines == () and not chunk.complete and chunk.note
        # Quiet for a while, yet its task process is alive: still running.
        assert store.get_run(run.pathspec).status == "running"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        await watcher.close()

    # Killed: the files say "in flight" forever. No process is left; once the quiet grace is
    # over the run reads stale. Within it (the default 150 s) it still reads running.
    assert ws.store(quiet_grace=0).get_run(run.pathspec).status == "stale"
    assert ws.store().get_run(run.pathspec).status == "running"
    listed = [r.run_id for r in ws.store(quiet_grace=0).list_runs("SlowFlow", status="stale")[0]]
    assert listed == [run_id]


async def test_a_new_run_in_an_existing_datastore_appears_within_a_second(
    flaky: Workspace, tmp_path: Path
) -> None:
    shutil.copytree(flaky.path / ".metaflow", tmp_path / ".metaflow")
    store = RunStore(tmp_path, environ=metaflow_env(flaky.home))
    before, _ = store.list_runs("FlakyFlow")
    got: list[tuple[float, StoreChange]] = []
    unsubscribe = store.on_change(
        lambda changes: got.extend((time.monotonic(), c) for c in changes)
    )
    stop = asyncio.Event()
    watching = asyncio.create_task(store.run_watcher(stop))
    await asyncio.sleep(0.5)
    try:
        # What Metaflow writes first for a new run (into this copy, never a real datastore).
        run_id = str(int(time.time() * 1e6))
        meta = tmp_path / ".metaflow" / "FlakyFlow" / run_id / "_meta"
        meta.mkdir(parents=True)
        own = {"run_number": run_id, "flow_id": "FlakyFlow", "user_name": "tester", "tags": []}
        own.update(system_tags=["user:tester"], ts_epoch=int(time.time() * 1000))
        written = time.monotonic()
        (meta / "_self.json").write_text(json.dumps(own))

        def arrival() -> float | None:
            return next((t for t, c in got if c.run_id == run_id), None)

        await wait_for(arrival, 5, "the callback")
        assert arrival() - written < 1.0  # type: ignore[operator]
        runs, _ = store.list_runs("FlakyFlow")
        assert [r.run_id for r in runs] == [run_id] + [r.run_id for r in before]
        assert runs[0].status == "running"  # nothing ran yet, but it was just written
    finally:
        stop.set()
        await asyncio.wait_for(watching, timeout=10)
        unsubscribe()


async def test_only_runs_in_flight_are_watched_below_their_directory(
    flaky: Workspace, tmp_path: Path
) -> None:
    shutil.copytree(flaky.path / ".metaflow", tmp_path / ".metaflow")
    root = tmp_path / ".metaflow"
    config = MetaflowConfig.resolve(tmp_path, metaflow_env(flaky.home))
    store = RunStore(tmp_path, config, backends=[LocalBackend(config)])
    plan = store.watch_plan()
    assert {str(root), str(root / "FlakyFlow")} <= plan.flat
    assert plan.deep == frozenset()  # every run has ended: one watch per directory saved
    got: list[StoreChange] = []
    unsubscribe = store.on_change(got.extend)
    stop = asyncio.Event()
    watching = asyncio.create_task(store.run_watcher(stop))
    await asyncio.sleep(0.5)
    try:
        # A new run (into this copy): its directory appears flat, then it is watched deeply.
        run_id = str(int(time.time() * 1e6))
        run_dir = root / "FlakyFlow" / run_id
        (run_dir / "_meta").mkdir(parents=True)
        own = {"run_number": run_id, "flow_id": "FlakyFlow", "user_name": "tester", "tags": []}
        own.update(system_tags=["user:tester"], ts_epoch=int(time.time() * 1000))
        (run_dir / "_meta" / "_self.json").write_text(json.dumps(own))
        await wait_for(lambda: any(c.run_id == run_id for c in got), 5, "the new run")
        await wait_for(lambda: str(run_dir) in store.watch_plan().deep, 5, "a deep watch")
        await asyncio.sleep(0.5)  # the watchers restart with the new plan
        task_dir = run_dir / "start" / "1"
        task_dir.mkdir(parents=True)
        await asyncio.sleep(0.3)  # as Metaflow: the task's directory, then its files
        (task_dir / "0.attempt.json").write_text(json.dumps({"time": time.time()}))
        await wait_for(
            lambda: any(c.run_id == run_id and c.task_id == "1" for c in got), 5, "its task"
        )
    finally:
        stop.set()
        await asyncio.wait_for(watching, timeout=10)
        unsubscribe()


async def test_a_run_directory_gone_before_its_watch_starts_makes_a_new_plan(
    flaky: Workspace, tmp_path: Path
) -> None:
    shutil.copytree(flaky.path / ".metaflow", tmp_path / ".metaflow")
    store = RunStore(tmp_path, environ=metaflow_env(flaky.home))
    plan = store.watch_plan()
    # A run deleted between the plan and the watch: watchfiles refuses a missing path.
    gone = WatchPlan(plan.flat, frozenset({str(tmp_path / ".metaflow" / "FlakyFlow" / "1")}))
    stop = asyncio.Event()
    items = store._watch_plan_once(gone, sorted(gone.flat), stop, 100, 200)
    fresh = await asyncio.wait_for(anext(items), timeout=10)
    assert fresh == plan  # planned again (without the missing run), not a dead watcher
    await items.aclose()
