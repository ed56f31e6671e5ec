"""Real Metaflow runs in temp workspaces, made once per test session, and Metaflow's own view of
them (the Client API, in a subprocess started from the workspace)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from metaflow_lsp.runs import RunStore

HERE = Path(__file__).parent
FLOWS = HERE / "flows"
EXAMPLES = HERE.parent.parent / "examples"


def metaflow_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a Metaflow command: no METAFLOW_* of the developer's, an empty home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    env.update(USERNAME="tester", METAFLOW_HOME=str(home), PYTHONUNBUFFERED="1", **extra)
    return env


@dataclass
class Workspace:
    """A directory with one flow file, where runs are made."""

    path: Path
    flow_file: str
    home: Path
    runs: dict[str, str] = field(default_factory=dict)  # label -> run id

    def metaflow(self, *args: str, ok: bool = True, **env: str) -> subprocess.CompletedProcess:
        """Run `python <flow_file> args...` in the workspace."""
        proc = subprocess.run(
            [sys.executable, self.flow_file, *args],
            cwd=self.path,
            env=metaflow_env(self.home, **env),
            capture_output=True,
            text=True,
            timeout=240,
            stdin=subprocess.DEVNULL,
        )
        if ok and proc.returncode != 0:
            raise AssertionError(f"{args} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def new_run_id(self, flow: str, before: set[str]) -> str:
        """The run directory that appeared since `before`."""
        root = self.path / ".metaflow" / flow
        new = {p.name for p in root.iterdir() if p.name.isdigit()} - before
        assert len(new) == 1, new
        return new.pop()

    def run_ids(self, flow: str, spin: bool = False) -> set[str]:
        """Run directories of `flow` now."""
        root = self.path / (".metaflow_spin" if spin else ".metaflow") / flow
        return {p.name for p in root.iterdir() if p.name.isdigit()} if root.exists() else set()

    def store(self, **kwargs: Any) -> RunStore:
        """A fresh run store for the workspace (no cache carried over)."""
        return RunStore(self.path, environ=metaflow_env(self.home), **kwargs)

    def client_view(self, flow: str) -> list[dict[str, Any]]:
        """Metaflow's Client API's view of the flow's runs, newest first."""
        proc = subprocess.run(
            [sys.executable, str(FLOWS / "client_oracle.py"), flow],
            cwd=self.path,
            env=metaflow_env(self.home),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, f"the Client failed on {flow}:\n{proc.stderr}"
        return json.loads(proc.stdout)


def make_workspace(factory: pytest.TempPathFactory, name: str, flow_file: Path) -> Workspace:
    """A temp workspace holding a copy of `flow_file`."""
    path = factory.mktemp(name)
    home = factory.mktemp(f"{name}-home")
    shutil.copy(flow_file, path / flow_file.name)
    return Workspace(path, flow_file.name, home)


@pytest.fixture(scope="session")
def flaky(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """FlakyFlow: a failed run (both attempts fail), a run whose retry succeeds (tagged
    `nightly`), and a resume of the failed run (start cloned, middle and end run again)."""
    ws = make_workspace(tmp_path_factory, "flaky", FLOWS / "flaky_flow.py")
    ws.metaflow("run", ok=False, FAIL_MODE="always")
    ws.runs["failed"] = ws.new_run_id("FlakyFlow", set())
    before = ws.run_ids("FlakyFlow")
    ws.metaflow("run", "--tag", "nightly", FAIL_MODE="once")
    ws.runs["retried"] = ws.new_run_id("FlakyFlow", before)
    before = ws.run_ids("FlakyFlow")
    ws.metaflow("resume", "--origin-run-id", ws.runs["failed"])
    ws.runs["resumed"] = ws.new_run_id("FlakyFlow", before)
    return ws


@pytest.fixture(scope="session")
def train(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """TrainFlow (examples/): a foreach, a join and a card; then `spin --persist` of the card
    step, which also overwrites `.metaflow/TrainFlow/latest_run` with the spin's run id."""
    ws = make_workspace(tmp_path_factory, "train", EXAMPLES / "train_flow.py")
    ws.metaflow("run")
    run_id = ws.runs["run"] = ws.new_run_id("TrainFlow", set())
    report_dir = ws.path / ".metaflow" / "TrainFlow" / run_id / "report"
    (report_task,) = [p.name for p in report_dir.iterdir() if p.name != "_meta"]
    ws.metaflow("spin", f"{run_id}/report/{report_task}", "--persist")
    (spin_id,) = ws.run_ids("TrainFlow", spin=True)
    ws.runs["spin"] = spin_id
    ws.runs["report_task"] = report_task
    return ws


@pytest.fixture(scope="session")
def flaky_client(flaky: Workspace) -> dict[str, dict[str, Any]]:
    """Metaflow's Client view of FlakyFlow's runs, by run id."""
    return {run["id"]: run for run in flaky.client_view("FlakyFlow")}


@pytest.fixture(scope="session")
def train_client(train: Workspace) -> dict[str, dict[str, Any]]:
    """Metaflow's Client view of TrainFlow's runs, by run id."""
    return {run["id"]: run for run in train.client_view("TrainFlow")}


def all_pages(store: RunStore, flow: str) -> list[str]:
    """The run ids of every page of `flow`'s runs, a run a page, following the cursors."""
    paged: list[str] = []
    cursor = None
    while True:
        page, cursor = store.list_runs(flow, limit=1, cursor=cursor)
        paged.extend(r.run_id for r in page)
        if cursor is None:
            return paged


def assert_light_matches_full(source: Any, pathspec: str, within: float) -> int:
    """`steps(light=True)` of a store or backend says what `steps()` says about status and
    attempts, and its file times are within `within` seconds of the times in the files;
    returns how many tasks were compared."""
    full = {s.step: s for s in source.steps(pathspec)}
    light = {s.step: s for s in source.steps(pathspec, light=True)}
    assert list(light) == list(full)
    checked = 0
    for name, step in full.items():
        assert light[name].status == step.status, (pathspec, name)
        tasks = {t.task_id: t for t in step.tasks}
        assert sorted(t.task_id for t in light[name].tasks) == sorted(tasks)
        for task in light[name].tasks:
            want = tasks[task.task_id]
            assert (task.status, task.attempt) == (want.status, want.attempt), task.pathspec
            assert [a.ok for a in task.attempts] == [a.ok for a in want.attempts]
            for ours, theirs in (
                (task.created_at, want.created_at),
                (task.started_at, want.started_at),
                (task.ended_at, want.ended_at),
            ):
                if theirs is not None and not want.cloned:
                    assert ours is not None, task.pathspec
                    assert abs((ours - theirs).total_seconds()) < within, task.pathspec
            checked += 1
    return checked
