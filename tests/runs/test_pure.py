"""Without runs: MFLOG parsing and merging (checked against Metaflow's own merge), the run
status rule, and what a changed file means to the watcher."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from metaflow_lsp.runs import LocalBackend, MetaflowConfig, StoreChange, logs
from metaflow_lsp.runs.status import TaskState, run_ids_in_command_lines, run_status, step_status


def mflog(stamp: str, source: str, text: str, persist: bool = False) -> bytes:
    """One structured line as Metaflow writes it."""
    line = f"[MFLOG|0|{stamp}Z|{source}|id-{stamp}]{text}\n".encode()
    return b"[!" + line if persist else line


def test_prefixes_are_stripped_and_sources_merged_by_time() -> None:
    runtime = mflog("2026-01-01T10:00:00.000003", "runtime", "third") + mflog(
        "2026-01-01T10:00:00.000001", "runtime", "first"
    )
    task = mflog("2026-01-01T10:00:00.000002", "task", "second", persist=True) + b"plain\n"
    lines = logs.merge([runtime, task])
    assert [line.text for line in lines] == ["first", "second", "third", "plain"]
    assert [line.source for line in lines] == ["runtime", "task", "runtime", None]
    assert lines[0].timestamp == datetime(2026, 1, 1, 10, 0, 0, 1, tzinfo=timezone.utc)
    assert lines[3].timestamp is None
    assert logs.strip_prefix("[MFLOG|0|2026-01-01T10:00:00.000001Z|task|x]hello") == "hello"
    assert logs.strip_prefix("no prefix") == "no prefix"
    assert logs.log_file_name(2, "task", "stderr") == "2.task_stderr.log"


stamps = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f")
)
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=20
)
raw_lines = st.one_of(
    st.builds(mflog, stamps, st.sampled_from(["task", "runtime"]), texts),
    texts.map(lambda t: (t + "\n").encode()),
)


# Metaflow strips the `[!` marker before it persists a line (and its merge fails on a mix).
@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(raw_lines, max_size=8), min_size=1, max_size=2))
def test_merge_orders_lines_as_metaflows_merge_logs(files: list[list[bytes]]) -> None:
    from metaflow.mflog.mflog import merge_logs

    blobs = [b"".join(lines) for lines in files]
    ours = [line.text for line in logs.merge(blobs)]
    theirs = [line.msg.decode().rstrip("\n") for line in merge_logs(blobs)]
    assert ours == theirs


def state(step: str, attempt: int | None, ok: bool | None, done: bool = False) -> TaskState:
    """A task state with defaults."""
    return TaskState(step, "1", attempt, ok, done, None, 100.0)


def test_the_status_rule() -> None:
    def status(tasks: list[TaskState], alive: bool | None, now: float = 110.0, **kw) -> str:
        return run_status(tasks, "end", alive=lambda: alive, last_activity=100.0, now=now, **kw)

    ok, failed = state("start", 0, True, True), state("middle", 1, False, True)
    running, end = state("middle", 0, None), state("end", 0, True, True)
    assert status([ok, failed], alive=True) == "failed"
    assert status([ok, end], alive=False) == "succeeded"
    assert status([ok, running], alive=True, now=10_000) == "running"
    assert status([ok, running], alive=False, now=110) == "running"  # wrote 10 s ago
    assert status([ok, running], alive=False, now=10_000) == "stale"
    assert status([ok, running], alive=None, now=10_000) == "running"  # can't tell: not stale
    assert status([ok], alive=False, now=101, quiet_grace=0) == "stale"  # no end task yet
    assert status([], alive=True) == "running"
    spin = state("train", 0, True, True)
    assert status([spin], alive=False, spin=True) == "succeeded"
    assert status([spin], alive=False, spin=False, now=10_000) == "stale"
    assert step_status(["succeeded", "running"]) == "running"
    assert step_status(["failed", "running"]) == "failed"
    assert step_status(["succeeded"]) == "succeeded"


def test_run_ids_are_read_from_task_command_lines() -> None:
    lines = [
        ["python", "flow.py", "step", "train", "--run-id", "123", "--task-id", "2"],
        ["python", "flow.py", "resume", "--origin-run-id", "99"],
        ["python", "flow.py", "spin-step", "--run-id=456"],
    ]
    assert run_ids_in_command_lines(lines) == {"123", "456"}


def test_changed_files_map_to_runs_steps_tasks_and_cards(tmp_path: Path) -> None:
    root = tmp_path / ".metaflow"
    root.mkdir()
    backend = LocalBackend(MetaflowConfig.resolve(tmp_path, {"HOME": str(tmp_path)}))
    r = str(root)
    assert backend.change_for_path(f"{r}/F/123/train/4/_meta/sysmeta_attempt_1.json") == (
        StoreChange("local", "F", "123", "train", "4")
    )
    assert backend.change_for_path(f"{r}/F/123/train/4") == StoreChange(
        "local", "F", "123", "train", "4"
    )
    assert backend.change_for_path(f"{r}/F/123/train/_meta/_self.json") == (
        StoreChange("local", "F", "123", "train")
    )
    assert backend.change_for_path(f"{r}/F/123/_meta/_self.json") == StoreChange(
        "local", "F", "123"
    )
    assert backend.change_for_path(f"{r}/F/_meta/_self.json") == StoreChange(
        "local", "F", kind="flow"
    )
    assert backend.change_for_path(f"{r}/F/latest_run") is None
    assert backend.change_for_path(f"{r}/F/data/ab/abcdef") is None
    assert backend.change_for_path(str(tmp_path / "elsewhere.py")) is None
    card = f"{r}/mf.cards/F/runs/123/steps/report/tasks/6/cards/default-abc.html"
    change = backend.change_for_path(card)
    assert change == StoreChange("local", "F", "123", "report", "6", kind="card")
    assert change.pathspec == "F/123/report/6"
