"""The metadata-service backend against a real service (metaflow-local-service) and real runs,
compared with Metaflow's Client API on the same runs."""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from metaflow_lsp.runs import RunStore, RunStoreError, StoreChange

from .conftest import FLOWS, Workspace, make_workspace, metaflow_env

pytestmark = pytest.mark.slow


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `condition` every 0.1 s until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_service(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """metaflow-local-service on 127.0.0.1, its metadata under `root` (apart from the flows'
    datastores, so that everything the store knows about runs comes over HTTP)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    # The daemon keeps a state file in ~/.metaflow-local-service: keep it out of the real home.
    env.update(HOME=str(root), METAFLOW_HOME=str(root), USERNAME="tester")
    proc = subprocess.Popen(
        [sys.executable, "-m", "metaflow_local_service.daemon", "--port", str(port)]
        + ["--metaflow-root", str(root), "--idle-timeout", "3600"],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"metaflow-local-service exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_until(answers, 30, "metaflow-local-service to listen")
    return proc, url


def stop_service(proc: subprocess.Popen[bytes]) -> None:
    """Stop the service started above."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def service_env(url: str) -> dict[str, str]:
    """What points Metaflow (and the run store) at the service."""
    return {"METAFLOW_SERVICE_URL": url, "METAFLOW_DEFAULT_METADATA": "service"}


@dataclass
class ServiceWorkspace(Workspace):
    """A workspace whose runs' metadata goes to the service at `url`."""

    url: str = ""

    def store(self, **kwargs: Any) -> RunStore:
        """A fresh run store for the workspace, configured for the service as Metaflow is."""
        return RunStore(
            self.path, environ=metaflow_env(self.home, **service_env(self.url)), **kwargs
        )

    def client(self, flow: str) -> dict[str, dict[str, Any]]:
        """Metaflow's Client view of the flow's runs (through the service), by run id."""
        proc = subprocess.run(
            [sys.executable, str(FLOWS / "service_client_oracle.py"), flow],
            cwd=self.path,
            env=metaflow_env(self.home, **service_env(self.url)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, f"the Client failed on {flow}:\n{proc.stderr}"
        return {run["id"]: run for run in json.loads(proc.stdout)}


def service_workspace(
    factory: pytest.TempPathFactory, name: str, flow: Path, url: str
) -> ServiceWorkspace:
    """A temp workspace holding a copy of `flow`, its runs recorded by the service at `url`."""
    ws = make_workspace(factory, name, flow)
    return ServiceWorkspace(ws.path, ws.flow_file, ws.home, url=url)


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a metaflow-local-service for the session."""
    proc, url = start_service(tmp_path_factory.mktemp("service-root"))
    yield url
    stop_service(proc)


@pytest.fixture(scope="session")
def svc(tmp_path_factory: pytest.TempPathFactory, service: str) -> ServiceWorkspace:
    """ServiceFlow run twice against the service: `retried` (square[1] fails once, @retry
    succeeds; tagged `nightly`) and `failed` (square[1] fails both attempts)."""
    ws = service_workspace(tmp_path_factory, "svc", FLOWS / "service_flow.py", service)
    ws.metaflow("run", "--tag", "nightly", FAIL_MODE="once", **service_env(service))
    ws.runs["retried"] = ws.new_run_id("ServiceFlow", set())
    before = ws.run_ids("ServiceFlow")
    ws.metaflow("run", ok=False, FAIL_MODE="always", **service_env(service))
    ws.runs["failed"] = ws.new_run_id("ServiceFlow", before)
    return ws


@pytest.fixture(scope="session")
def svc_client(svc: ServiceWorkspace) -> dict[str, dict[str, Any]]:
    """Metaflow's Client view of ServiceFlow's runs."""
    return svc.client("ServiceFlow")


def close(ours: Any, seconds: float | None, within: float = 0.002) -> bool:
    """A datetime and the Client's epoch seconds agree."""
    if seconds is None:
        return ours is None
    return ours is not None and abs(ours.timestamp() - seconds) < within


def succeeded(run: dict[str, Any]) -> bool:
    """Metaflow's Run.successful: the end task's latest attempt ended ok."""
    ends = run["steps"].get("end", {}).values()
    return bool(ends) and all(t["attempt_ok"] == "True" for t in ends)


def test_runs_come_from_the_service_with_the_clients_ids_statuses_and_tags(
    svc: ServiceWorkspace, svc_client: dict
) -> None:
    store = svc.store()
    assert [b.name for b in store.backends] == ["service", "local", "spin"]
    assert store.notes() == []
    runs, cursor = store.list_runs("ServiceFlow")
    assert cursor is None
    assert [r.run_id for r in runs] == [svc.runs["failed"], svc.runs["retried"]]
    assert {r.run_id for r in runs} == set(svc_client)
    for run in runs:
        expected = svc_client[run.run_id]
        assert run.source == "service" and run.errors == ()
        assert (run.status == "succeeded") == succeeded(expected)
        assert close(run.started_at, expected["created_at"])
        assert sorted(run.tags) == expected["user_tags"]
        assert sorted(run.system_tags) == expected["system_tags"]
        assert run.user == "tester" and run.end_step == "end"
    by_id = {r.run_id: r for r in runs}
    retried, failed = by_id[svc.runs["retried"]], by_id[svc.runs["failed"]]
    assert (retried.status, failed.status) == ("succeeded", "failed")
    (end,) = svc_client[retried.run_id]["steps"]["end"].values()
    assert close(retried.finished_at, end["saved_at"], within=1.0)
    assert failed.finished_at is not None and failed.duration is not None
    # The datastore alone (no metadata there) knows no runs: they came over HTTP.
    alone = RunStore(svc.path, environ=metaflow_env(svc.home))
    assert alone.list_runs("ServiceFlow") == ([], None)
    # Filters and pages, as the local backend's.
    assert [r.run_id for r in store.list_runs("ServiceFlow", tag="nightly")[0]] == [retried.run_id]
    assert [r.run_id for r in store.list_runs("ServiceFlow", status="failed")[0]] == [failed.run_id]
    first, cursor = store.list_runs("ServiceFlow", limit=1)
    assert [r.run_id for r in first] == [failed.run_id] and cursor
    rest, end_cursor = store.list_runs("ServiceFlow", limit=1, cursor=cursor)
    assert [r.run_id for r in rest] == [retried.run_id] and end_cursor is None


@pytest.mark.parametrize("label", ["retried", "failed"])
def test_steps_tasks_artifacts_and_logs_match_the_client(
    svc: ServiceWorkspace, svc_client: dict, label: str
) -> None:
    store = svc.store()
    run = svc_client[svc.runs[label]]
    steps = store.steps(f"ServiceFlow/{svc.runs[label]}")
    assert {s.step: sorted(t.task_id for t in s.tasks) for s in steps} == {
        step: sorted(tasks) for step, tasks in run["steps"].items()
    }
    for step in steps:
        for task in step.tasks:
            expected = run["steps"][step.step][task.task_id]
            assert task.source == "service", task.pathspec
            assert task.attempt == expected["attempt"], task.pathspec
            assert task.status == {"True": "succeeded", "False": "failed"}[expected["attempt_ok"]]
            assert close(task.created_at, expected["created_at"]), task.pathspec
            assert close(task.finished_at, expected["saved_at"], within=1.0), task.pathspec
            public = {a.name: a.sha for a in store.artifacts(task.pathspec) if not a.private}
            assert public == expected["artifacts"], task.pathspec
            for name, value in expected["values"].items():
                blob = store.read_blob(task.pathspec, name)
                assert blob.data is not None and repr(pickle.loads(blob.data)) == value
            for stream in ("stdout", "stderr"):
                lines = [line.text for line in store.logs(task.pathspec, stream).lines]
                assert lines == expected[stream], (task.pathspec, stream)
    by_step = {s.step: s for s in steps}
    square = by_step["square"].tasks
    assert sorted(t.foreach_index for t in square) == [0, 1, 2]
    for task in square:
        value = run["steps"]["square"][task.task_id]["values"].get("value")
        assert value is None or int(value) == (task.foreach_index + 1) ** 2  # type: ignore[operator]
    statuses = {s.step: s.status for s in steps}
    if label == "failed":
        assert statuses == {"start": "succeeded", "square": "failed"}
    else:
        assert statuses == dict.fromkeys(["start", "square", "join", "end"], "succeeded")


def test_a_retried_task_shows_both_attempts_and_its_values_come_from_the_datastore(
    svc: ServiceWorkspace,
) -> None:
    store = svc.store()
    (square,) = [s for s in store.steps(f"ServiceFlow/{svc.runs['retried']}") if s.step == "square"]
    (retried,) = [t for t in square.tasks if t.foreach_index == 1]
    task = store.get_task(retried.pathspec)
    assert [(a.attempt, a.status) for a in task.attempts] == [(0, "failed"), (1, "succeeded")]
    assert task.foreach_stack == ("items=2",)
    assert task.metadata["ds-type"] == "local"
    assert task.metadata["ds-root"] == str(svc.path / ".metaflow")
    assert "boom" in "\n".join(
        line.text for line in store.logs(task.pathspec, "stderr", attempt=0).lines
    )

    artifacts = {a.name: a for a in store.artifacts(task.pathspec)}
    value = artifacts["value"]
    # Name, sha and encoding from the service; type, size and blob from the datastore.
    assert (value.type_name, value.encoding, value.attempt, value.error) == (
        "int",
        "pickle-v4",
        1,
        None,
    )
    assert value.blob_path and value.blob_path.startswith(str(svc.path / ".metaflow"))
    blob = store.read_blob(task.pathspec, "value")
    assert blob.sha == value.sha and blob.data is not None and pickle.loads(blob.data) == 4
    # The failed attempt saved Metaflow's own artifacts, but no `value`.
    first = {a.name for a in store.artifacts(task.pathspec, attempt=0)}
    assert "_task_ok" in first and "value" not in first

    (join,) = [s for s in store.steps(f"ServiceFlow/{svc.runs['retried']}") if s.step == "join"]
    total = store.read_blob(join.tasks[0].pathspec, "total")
    assert total.data is not None and pickle.loads(total.data) == 1 + 4 + 9


def test_without_the_datastore_values_and_logs_say_where_they_are(svc: ServiceWorkspace) -> None:
    """The service knows the runs, but the datastore they name is gone (another machine)."""
    datastore = svc.path / ".metaflow"
    away = svc.path / "moved-away"
    store = svc.store()
    (run,) = store.list_runs("ServiceFlow", tag="nightly")[0]
    (end,) = [s for s in store.steps(run.pathspec) if s.step == "end"]
    pathspec = end.tasks[0].pathspec
    datastore.rename(away)
    try:
        store = svc.store()
        assert store.get_run(run.pathspec).status == "succeeded"
        artifacts = store.artifacts(pathspec)
        assert artifacts and all(a.error and "does not have it" in a.error for a in artifacts)
        for call in (
            lambda: store.read_blob(pathspec, "total"),
            lambda: store.logs(pathspec, "stdout"),
        ):
            with pytest.raises(RunStoreError) as caught:
                call()
            message = str(caught.value)
            assert "the metadata service knows" in message and str(datastore) in message
    finally:
        away.rename(datastore)


def test_poll_sees_a_run_appear_run_and_go_stale_when_killed(
    tmp_path_factory: pytest.TempPathFactory, service: str
) -> None:
    ws = service_workspace(tmp_path_factory, "svc-live", FLOWS / "slow_flow.py", service)
    store = ws.store(quiet_grace=0)
    assert store.poll("SlowFlow") == []  # the first poll takes a snapshot
    assert store.next_poll_in() == 2.0  # nothing changed: it backs off
    proc = subprocess.Popen(
        [sys.executable, ws.flow_file, "run"],
        cwd=ws.path,
        env=metaflow_env(ws.home, **service_env(service)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: killed below by its id
    )
    seen: list[StoreChange] = []

    def poll(*watched: str) -> list[StoreChange]:
        changes = store.poll("SlowFlow", watched)
        seen.extend(changes)
        return changes

    try:
        (change, *_) = wait_until(poll, 60, "a poll to report the new run")
        assert store.next_poll_in() == 1.0  # a change: poll again soon
        pathspec = f"SlowFlow/{change.run_id}"
        assert (change.source, change.flow) == ("service", "SlowFlow")

        def sleepy_running() -> bool:
            poll(pathspec)
            steps = {s.step: s for s in store.steps(pathspec)}
            return "sleepy" in steps and steps["sleepy"].tasks[0].status == "running"

        wait_until(sleepy_running, 60, "the sleepy task to run")
        assert any(c.step == "sleepy" and c.task_id for c in seen)  # the watched run's task
        assert store.get_run(pathspec).status == "running"  # its task process is alive
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    seen.clear()
    wait_until(lambda: any(c.run_id == change.run_id for c in poll(pathspec)), 10, "the kill")
    # No heartbeats, no process, quiet: stale once the process table (re-read every second)
    # no longer lists the killed processes.
    wait_until(lambda: store.get_run(pathspec).status == "stale", 10, "the run to read stale")
