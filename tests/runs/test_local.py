"""The local datastore read by the run store, compared with Metaflow's Client on real runs."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest

from metaflow_lsp.runs import NotFoundError, RunStore, RunStoreError, TaskInfo

from .conftest import Workspace, all_pages, assert_light_matches_full, metaflow_env

pytestmark = pytest.mark.slow


def close(ours: Any, seconds: float | None) -> bool:
    """A datetime and the Client's epoch seconds agree (both come from the same files)."""
    if seconds is None:
        return ours is None
    return ours is not None and abs(ours.timestamp() - seconds) < 0.002


def assert_tasks_match_client(store: RunStore, run: dict[str, Any], pathspec: str) -> None:
    """Steps, task ids, attempts, statuses, times, foreach index, artifacts and logs."""
    steps = store.steps(pathspec)
    assert {s.step: sorted(t.task_id for t in s.tasks) for s in steps} == {
        step: sorted(tasks) for step, tasks in run["steps"].items()
    }
    for step in steps:
        for task in step.tasks:
            expected = run["steps"][step.step][task.task_id]
            assert task.attempt == expected["attempt"], task.pathspec
            assert (task.status == "succeeded") == expected["successful"], task.pathspec
            assert close(task.created_at, expected["created_at"]), task.pathspec
            if expected["finished_at"] is not None:
                assert close(task.finished_at, expected["finished_at"]), task.pathspec
            assert task.foreach_index == expected["index"], task.pathspec
            assert task.origin_task_id == expected["origin_task_id"], task.pathspec
            public = {a.name: a.sha for a in store.artifacts(task.pathspec) if not a.private}
            assert public == expected["artifacts"], task.pathspec
            if not task.cloned:
                for stream in ("stdout", "stderr"):
                    lines = [line.text for line in store.logs(task.pathspec, stream).lines]
                    assert lines == expected[stream], (task.pathspec, stream)


def task_of(store: RunStore, pathspec: str, step: str) -> TaskInfo:
    """The single task of `step` in run `pathspec`."""
    (found,) = [s for s in store.steps(pathspec) if s.step == step]
    assert len(found.tasks) == 1
    return store.get_task(found.tasks[0].pathspec)


def test_runs_newest_first_with_the_clients_ids_statuses_times_and_tags(
    flaky: Workspace, flaky_client: dict
) -> None:
    runs, cursor = flaky.store().list_runs("FlakyFlow")
    assert cursor is None
    assert [r.run_id for r in runs] == [flaky.runs[k] for k in ("resumed", "retried", "failed")]
    assert {r.run_id for r in runs} == set(flaky_client)
    for run in runs:
        expected = flaky_client[run.run_id]
        assert (run.status == "succeeded") == expected["successful"]
        assert close(run.started_at, expected["created_at"])
        if expected["finished_at"] is not None:
            assert close(run.finished_at, expected["finished_at"])
        assert sorted(run.tags) == expected["user_tags"]
        assert sorted(run.system_tags) == expected["system_tags"]
        assert run.user == "tester"
        assert run.errors == ()
    by_id = {r.run_id: r for r in runs}
    assert by_id[flaky.runs["failed"]].status == "failed"
    assert by_id[flaky.runs["failed"]].finished_at is not None  # when it stopped
    assert by_id[flaky.runs["retried"]].status == "succeeded"
    assert by_id[flaky.runs["retried"]].tags == ("nightly",)


@pytest.mark.parametrize("label", ["failed", "retried", "resumed"])
def test_steps_and_tasks_match_the_client(flaky: Workspace, flaky_client: dict, label: str) -> None:
    run_id = flaky.runs[label]
    assert_tasks_match_client(flaky.store(), flaky_client[run_id], f"FlakyFlow/{run_id}")


def test_a_retry_shows_both_attempts_and_each_attempts_log(flaky: Workspace) -> None:
    store = flaky.store()
    task = task_of(store, f"FlakyFlow/{flaky.runs['retried']}", "middle")
    assert task.status == "succeeded"
    assert task.attempt == 1
    assert [(a.attempt, a.status) for a in task.attempts] == [(0, "failed"), (1, "succeeded")]
    first, second = task.attempts
    assert first.started_at and first.finished_at and second.started_at
    assert first.finished_at <= second.started_at
    assert task.started_at == first.started_at and task.finished_at == second.finished_at
    old = store.logs(task.pathspec, "stdout", attempt=0)
    assert [line.text for line in old.lines] == ["middle attempt 0 mode once"]
    assert old.complete
    assert any(
        "ValueError: boom" in line.text
        for line in store.logs(task.pathspec, "stderr", attempt=0).lines
    )
    assert [line.text for line in store.logs(task.pathspec, "stdout").lines] == [
        "middle attempt 1 mode once"
    ]
    # The artifacts are those of the latest finished attempt (as the Client's).
    names = {a.name for a in store.artifacts(task.pathspec)}
    assert "y" in names and {a.attempt for a in store.artifacts(task.pathspec)} == {1}


def test_a_failed_run_stops_at_the_failed_task(flaky: Workspace) -> None:
    store = flaky.store()
    pathspec = f"FlakyFlow/{flaky.runs['failed']}"
    steps = {s.step: s for s in store.steps(pathspec)}
    assert set(steps) == {"start", "middle"}
    assert steps["middle"].status == "failed"
    task = steps["middle"].tasks[0]
    assert [a.status for a in task.attempts] == ["failed", "failed"]
    assert store.get_run(pathspec).finished_at == task.finished_at
    stderr = store.logs(task.pathspec, "stderr")
    assert stderr.lines[-1].text == "Task failed."
    assert not any(line.text.startswith("[MFLOG|") for line in stderr.lines)


def test_a_resumed_run_maps_cloned_tasks_to_their_origin(
    flaky: Workspace, flaky_client: dict
) -> None:
    store = flaky.store()
    failed, resumed = flaky.runs["failed"], flaky.runs["resumed"]
    run = store.get_run(f"FlakyFlow/{resumed}")
    assert run.origin_run_id == failed
    assert flaky_client[resumed]["origin_pathspec"] == f"FlakyFlow/{failed}"
    start = task_of(store, run.pathspec, "start")
    assert start.cloned and start.origin_pathspec == f"FlakyFlow/{failed}/start/1"
    middle = task_of(store, run.pathspec, "middle")
    assert not middle.cloned and middle.origin_run_id == failed
    # A clone has no log of its own: the origin's is shown, and said to be.
    chunk = store.logs(start.pathspec, "stdout")
    assert chunk.origin_pathspec == start.origin_pathspec
    origin_lines = flaky_client[failed]["steps"]["start"]["1"]["stdout"]
    assert [line.text for line in chunk.lines] == origin_lines == ["hello from start"]


def test_filters_and_pages(flaky: Workspace) -> None:
    store = flaky.store()
    ids = [flaky.runs[k] for k in ("resumed", "retried", "failed")]
    assert [r.run_id for r in store.list_runs("FlakyFlow", tag="nightly")[0]] == [ids[1]]
    assert len(store.list_runs("FlakyFlow", tag="runtime:dev")[0]) == 3  # a system tag
    assert len(store.list_runs("FlakyFlow", user="tester")[0]) == 3
    assert store.list_runs("FlakyFlow", user="someone-else")[0] == []
    assert [r.run_id for r in store.list_runs("FlakyFlow", status="failed")[0]] == [ids[2]]
    assert all_pages(store, "FlakyFlow") == ids
    with pytest.raises(RunStoreError, match="invalid cursor"):
        store.list_runs("FlakyFlow", cursor="garbage")
    assert store.list_runs("NoSuchFlow") == ([], None)
    assert store.latest_run("FlakyFlow").run_id == ids[0]  # type: ignore[union-attr]
    assert store.latest_run("FlakyFlow", status="failed").run_id == ids[2]  # type: ignore[union-attr]
    latest = store.latest_task("FlakyFlow", "middle")
    assert latest is not None and latest.run_id == ids[0]
    assert store.latest_task("FlakyFlow", "no_such_step") is None
    with pytest.raises(NotFoundError):
        store.get_run("FlakyFlow/12345")
    with pytest.raises(RunStoreError, match="not a Flow/run/step/task pathspec"):
        store.get_task("FlakyFlow/../etc/x")


def test_log_pages_by_line_offset(flaky: Workspace) -> None:
    store = flaky.store()
    task = task_of(store, f"FlakyFlow/{flaky.runs['failed']}", "middle")
    full = store.logs(task.pathspec, "stderr")
    assert full.total_lines > 10
    pages, offset = [], 0
    while offset < full.total_lines:
        chunk = store.logs(task.pathspec, "stderr", offset=offset, limit=7)
        pages.extend(chunk.lines)
        offset = chunk.next_offset
    assert pages == list(full.lines)
    tail = store.logs(task.pathspec, "stderr", offset=-3)
    assert tail.lines == full.lines[-3:] and tail.offset == full.total_lines - 3


def test_foreach_indices_cards_and_blobs(train: Workspace, train_client: dict) -> None:
    store = train.store()
    run_id = train.runs["run"]
    assert_tasks_match_client(store, train_client[run_id], f"TrainFlow/{run_id}")
    steps = {s.step: s for s in store.steps(f"TrainFlow/{run_id}")}
    assert [s.step for s in store.steps(f"TrainFlow/{run_id}")][:2] == ["start", "train"]
    assert sorted(t.foreach_index for t in steps["train"].tasks) == [0, 1, 2]  # type: ignore[type-var]
    for task in steps["train"].tasks:
        blob = store.read_blob(task.pathspec, "lr", max_bytes=1000)
        assert blob.data is not None and not blob.too_large
        assert pickle.loads(blob.data) == [0.01, 0.1, 0.5][task.foreach_index]  # type: ignore[index]
        assert task.foreach_stack == (f"grid={[0.01, 0.1, 0.5][task.foreach_index]}",)  # type: ignore[index]
    capped = store.read_blob(steps["train"].tasks[0].pathspec, "_graph_info", max_bytes=10)
    assert capped.too_large and capped.data is None
    lr = next(a for a in store.artifacts(steps["train"].tasks[0].pathspec) if a.name == "lr")
    assert (lr.type_name, lr.encoding, lr.compressed) == ("float", "pickle-v4", True)
    assert lr.blob_path and lr.blob_path.endswith(f"TrainFlow/data/{lr.sha[:2]}/{lr.sha}")
    report = steps["report"].tasks[0]
    cards = store.cards(report.pathspec)
    expected = train_client[run_id]["steps"]["report"][report.task_id]["cards"]
    assert sorted([c.type, c.hash, c.id] for c in cards) == expected
    assert cards[0].path.endswith(".html") and "mf.cards" in cards[0].path
    assert store.cards(steps["train"].tasks[0].pathspec) == []


def test_spin_results_are_separate_and_latest_run_is_not_trusted(train: Workspace) -> None:
    store = train.store()
    run_id, spin_id = train.runs["run"], train.runs["spin"]
    # `spin` overwrote Metaflow's latest_run file with an id that is no run of `.metaflow`.
    latest_file = train.path / ".metaflow" / "TrainFlow" / "latest_run"
    assert latest_file.read_text().strip() == spin_id
    assert store.latest_run("TrainFlow").run_id == run_id  # type: ignore[union-attr]
    assert [r.run_id for r in store.list_runs("TrainFlow")[0]] == [run_id]
    spins, _ = store.spin_runs("TrainFlow")
    assert [(r.run_id, r.status, r.source) for r in spins] == [(spin_id, "succeeded", "spin")]
    assert store.get_run(f"TrainFlow/{spin_id}").source == "spin"
    (step,) = store.steps(f"TrainFlow/{spin_id}")
    assert (step.step, [t.task_id for t in step.tasks]) == ("report", ["0"])
    spun = step.tasks[0]
    original = f"TrainFlow/{run_id}/report/{train.runs['report_task']}"
    shas = {a.name: a.sha for a in store.artifacts(spun.pathspec)}
    assert shas["summary"] == {a.name: a.sha for a in store.artifacts(original)}["summary"]
    (card,) = store.cards(spun.pathspec)
    assert ".metaflow_spin" in card.path
    stdout = [line.text for line in store.logs(spun.pathspec, "stdout").lines]
    assert "best lr 0.5 with loss 1.25" in stdout


def test_reading_everything_writes_nothing(train: Workspace) -> None:
    def snapshot() -> dict[str, tuple[int, int, int]]:
        out = {}
        for dirpath, dirnames, filenames in os.walk(train.path):
            for name in dirnames + filenames:
                st = os.lstat(os.path.join(dirpath, name))
                out[os.path.join(dirpath, name)] = (st.st_size, st.st_mtime_ns, st.st_mode)
        return out

    before = snapshot()
    store = train.store()
    assert store.flows() == ["TrainFlow"]
    runs = store.list_runs("TrainFlow")[0] + store.spin_runs("TrainFlow")[0]
    for run in runs:
        for step in store.steps(run.pathspec):
            for task in step.tasks:
                store.get_task(task.pathspec)
                for artifact in store.artifacts(task.pathspec):
                    store.read_blob(task.pathspec, artifact.name, 1 << 20)
                store.logs(task.pathspec, "stdout")
                store.logs(task.pathspec, "stderr")
                store.cards(task.pathspec)
    assert snapshot() == before


@pytest.mark.parametrize("label", ["failed", "retried", "resumed"])
def test_light_steps_agree_with_full_steps(flaky: Workspace, label: str) -> None:
    store = flaky.store()
    assert assert_light_matches_full(store, f"FlakyFlow/{flaky.runs[label]}", 1.0) > 0
    # A run that succeeded is read once: later answers are the kept one (the same objects).
    first = store.steps(f"FlakyFlow/{flaky.runs[label]}", light=True)
    again = store.steps(f"FlakyFlow/{flaky.runs[label]}", light=True)
    kept = all(a is b for a, b in zip(first, again, strict=True))
    assert kept == (label != "failed")


def test_light_steps_of_a_foreach_run(train: Workspace) -> None:
    store = train.store()
    assert assert_light_matches_full(store, f"TrainFlow/{train.runs['run']}", 1.0) >= 4


def test_runs_are_ordered_by_their_registration_even_when_an_id_misleads(
    flaky: Workspace, tmp_path: Path
) -> None:
    """Runs are read lazily in id order (local run ids are creation times); a run whose
    `_self.json` says otherwise (not written by Metaflow's runtime) sends the store back to
    reading every run, and the order and pages stay right."""
    shutil.copytree(flaky.path / ".metaflow", tmp_path / ".metaflow")
    ids = [flaky.runs[k] for k in ("resumed", "retried", "failed")]
    store = RunStore(tmp_path, environ=metaflow_env(flaky.home))
    assert [r.run_id for r in store.list_runs("FlakyFlow")[0]] == ids
    # Registered "an hour later" than its id says: it is now the newest run.
    own_path = tmp_path / ".metaflow" / "FlakyFlow" / ids[2] / "_meta" / "_self.json"
    own = json.loads(own_path.read_text())
    own["ts_epoch"] += 3_600_000
    own_path.write_text(json.dumps(own))
    store = RunStore(tmp_path, environ=metaflow_env(flaky.home))
    expected = [ids[2], ids[0], ids[1]]
    assert [r.run_id for r in store.list_runs("FlakyFlow")[0]] == expected
    assert all_pages(store, "FlakyFlow") == expected
