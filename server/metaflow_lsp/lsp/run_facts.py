"""What past runs say about a flow, shaped for the editor's features; no LSP types here.

Every function here calls the blocking `RunStore`: run them in a thread (see `runs_service`).
Values are never unpickled here: artifacts come back as `Blob`s for the worker.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..runs import (
    ArtifactInfo,
    NotFoundError,
    RunInfo,
    RunStore,
    RunStoreError,
    StepInfo,
    TaskInfo,
)
from ..worker import Blob

MAX_RUNS = 20  # runs looked at, newest first, for lenses, failures and artifact values
FOREACH_PREVIEWS = 5  # values shown for the tasks of a foreach step
STDERR_TAIL = 200  # stderr lines read to find a failed task's traceback
TRACEBACK_TAIL = 8  # traceback lines kept for the diagnostic's related information
BLOB_CAP = 64 * 1024 * 1024  # bytes read for a worker when the blob is not a local file

FINISHED = ("succeeded", "failed")

# --------------------------------------------------------------------------------------------
# Failures


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a Python traceback."""

    file: str
    line: int
    function: str
    source: str  # the source line as the traceback printed it, stripped ("" when absent)


@dataclass(frozen=True, slots=True)
class Traceback:
    """The last traceback found in a task's stderr."""

    message: str  # "ValueError: negative value: -3"
    frames: tuple[Frame, ...]
    tail: tuple[str, ...]  # the traceback's last lines, as printed


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed task: where it ran and what its stderr says."""

    run: RunInfo
    task: TaskInfo
    traceback: Traceback


_FRAME = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+), in (?P<function>.+)$')
_CARETS = re.compile(r"^\s*[\^~]+\s*$")
_TRAILERS = ("Task failed.",)


def parse_traceback(lines: Iterable[str]) -> Traceback | None:
    """The last Python traceback in stderr lines; without one, the last line that says why."""
    texts = [line.rstrip("\n") for line in lines]
    start = max(
        (i for i, t in enumerate(texts) if t.startswith("Traceback (most recent")), default=-1
    )
    if start < 0:
        meaningful = [t.strip() for t in texts if t.strip() and t.strip() not in _TRAILERS]
        if not meaningful:
            return None
        return Traceback(meaningful[-1], (), tuple(meaningful[-TRACEBACK_TAIL:]))
    frames: list[Frame] = []
    index = start + 1
    while index < len(texts):
        match = _FRAME.match(texts[index])
        if match is None:
            break
        index += 1
        source = ""
        # The frame's source line, then the carets Python 3.11+ prints under it.
        if (
            index < len(texts)
            and texts[index].startswith("    ")
            and not _FRAME.match(texts[index])
        ):
            source = texts[index].strip()
            index += 1
            while index < len(texts) and _CARETS.match(texts[index]):
                index += 1
        frames.append(Frame(match["file"], int(match["line"]), match["function"].strip(), source))
    message_lines: list[str] = []
    while index < len(texts) and texts[index].strip() and texts[index].strip() not in _TRAILERS:
        message_lines.append(texts[index].rstrip())
        index += 1
    message = "\n".join(message_lines[:5]) or "the task failed (no exception message)"
    end = index
    tail = tuple(t for t in texts[start:end] if t.strip())[-TRACEBACK_TAIL:]
    return Traceback(message, tuple(frames), tail)


LOG_RETRIES = 6
LOG_RETRY_SECONDS = 0.5


def read_failure(store: RunStore, run: RunInfo, step: StepInfo) -> Failure | None:
    """The first failed task of a step and the traceback in its stderr."""
    failed = [t for t in ordered_tasks(step.tasks) if t.status == "failed"]
    if not failed:
        return None
    task = failed[0]
    parsed: Traceback | None = None
    # Metaflow marks the attempt failed a moment before it writes the task's logs: right after
    # a failure, look again briefly before saying the task wrote nothing (this runs in a thread).
    recent = task.finished_at is not None and (now() - task.finished_at).total_seconds() < 15
    for retry in range(LOG_RETRIES if recent else 1):
        if retry:
            time.sleep(LOG_RETRY_SECONDS)
        try:
            chunk = store.logs(task.pathspec, "stderr", offset=-STDERR_TAIL)
            parsed = parse_traceback(line.text for line in chunk.lines)
        except RunStoreError as error:
            parsed = Traceback(f"the task failed; its stderr cannot be read: {error}", (), ())
        if parsed is not None:
            break
    if parsed is None:
        code = task.attempts[-1].return_code if task.attempts else None
        detail = f" with exit code {code}" if code is not None else ""
        parsed = Traceback(f"the task failed{detail} and wrote nothing to stderr", (), ())
    return Failure(run, task, parsed)


# --------------------------------------------------------------------------------------------
# A flow's recent runs


@dataclass(frozen=True, slots=True)
class StepRecord:
    """A step as one run ran it."""

    run: RunInfo
    info: StepInfo


@dataclass
class FlowRuns:
    """Per step, the newest run that ran it, the newest where it finished, and its failure."""

    flow: str
    latest: RunInfo | None = None
    newest: dict[str, StepRecord] = field(default_factory=dict)
    finished: dict[str, StepRecord] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    spins: dict[str, StepRecord] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def fingerprint(self) -> tuple[object, ...]:
        """What the lenses show: changes when a status, a run or a duration changes."""
        steps = tuple(
            sorted(
                (name, rec.run.run_id, rec.info.status, rec.info.finished_at, len(rec.info.tasks))
                for name, rec in self.newest.items()
            )
        )
        latest = (self.latest.run_id, self.latest.status) if self.latest else None
        return (latest, steps)

    def failure_fingerprint(self) -> tuple[object, ...]:
        """What the run-failure diagnostics show."""
        return tuple(
            sorted(
                (name, f.task.pathspec, f.traceback.message) for name, f in self.failures.items()
            )
        )


def summarize(
    store: RunStore, flow: str, steps: Collection[str] | None = None, max_runs: int = MAX_RUNS
) -> FlowRuns:
    """Scan the newest runs of `flow` until every step in `steps` has finished in one of them."""
    try:
        runs, _ = store.list_runs(flow, limit=max_runs)
    except NotFoundError as error:
        return FlowRuns(flow, notes=(str(error),))
    out = FlowRuns(flow, latest=runs[0] if runs else None, notes=tuple(store.notes()))
    wanted = set(steps) if steps is not None else None
    for run in runs:
        if wanted is not None and wanted <= out.finished.keys():
            break
        try:
            infos = store.steps(run.pathspec, light=True)
        except RunStoreError as error:
            out.notes += (f"{run.pathspec}: {error}",)
            continue
        for info in infos:
            if not info.tasks:
                continue
            record = StepRecord(run, info)
            out.newest.setdefault(info.step, record)
            if info.status in FINISHED and info.step not in out.finished:
                out.finished[info.step] = record
                if info.status == "failed":
                    failure = read_failure(store, run, info)
                    if failure is not None:
                        out.failures[info.step] = failure
    try:
        spins, _ = store.spin_runs(flow, limit=10)
    except RunStoreError:
        spins = []
    for spin in spins:
        try:
            infos = store.steps(spin.pathspec, light=True)
        except RunStoreError:
            continue
        for info in infos:
            if info.tasks:
                out.spins.setdefault(info.step, StepRecord(spin, info))
    return out


def ordered_tasks(tasks: Iterable[TaskInfo]) -> list[TaskInfo]:
    """Tasks by foreach index, then by task id (numerically when they are numbers)."""

    def key(task: TaskInfo) -> tuple[int, int, str]:
        index = task.foreach_index if task.foreach_index is not None else -1
        number = int(task.task_id) if task.task_id.isdigit() else 0
        return (index, number, task.task_id)

    return sorted(tasks, key=key)


# --------------------------------------------------------------------------------------------
# Artifact values


@dataclass(frozen=True, slots=True)
class TaskArtifact:
    """One task's artifact and the bytes the worker loads (or why there are none)."""

    task: TaskInfo
    artifact: ArtifactInfo
    blob: Blob | None
    problem: str | None = None  # why there is no blob (too large, missing)


@dataclass(frozen=True, slots=True)
class ArtifactHit:
    """Where an artifact's newest value is: a run, a step, and its first tasks."""

    run: RunInfo
    step: StepInfo
    items: tuple[TaskArtifact, ...]  # the first tasks that have it (one outside a foreach)
    task_count: int

    @property
    def many(self) -> bool:
        """Whether the step ran as several tasks (a foreach or a parallel step)."""
        return self.task_count > 1 or any(t.task.foreach_index is not None for t in self.items)


def blob_of(
    store: RunStore, task: TaskInfo, artifact: ArtifactInfo
) -> tuple[Blob | None, str | None]:
    """The worker's input for an artifact: its local blob file, else its bytes (capped)."""
    path = artifact.blob_path
    if path and os.path.isabs(path) and os.path.isfile(path):
        return Blob(path=Path(path), compressed=artifact.compressed), None
    data = store.read_blob(task.pathspec, artifact.name, BLOB_CAP, attempt=artifact.attempt)
    if data.too_large or data.data is None:
        return None, f"the artifact is larger than {BLOB_CAP // (1024 * 1024)} MiB"
    return Blob(data=data.data, compressed=False), None


def find_artifact(
    store: RunStore, flow: str, step: str, name: str, max_runs: int = MAX_RUNS, spin: bool = False
) -> ArtifactHit | None:
    """The newest run (with `spin`, the newest `spin --persist` result) whose `step` has
    artifact `name`, with its first tasks' blobs."""
    try:
        if spin:
            runs, _ = store.spin_runs(flow, limit=max_runs)
        else:
            runs, _ = store.list_runs(flow, limit=max_runs)
    except NotFoundError:
        return None
    for run in runs:
        try:
            # Only the first tasks of the step: a 10,000-task foreach is not read for a hover.
            sample, count = store.step_task_sample(run.pathspec, step, FOREACH_PREVIEWS * 2, spin)
        except RunStoreError:
            continue
        if not sample:
            continue
        info = StepInfo(
            run.flow,
            run.run_id,
            step,
            f"{run.pathspec}/{step}",
            "unknown",
            None,
            None,
            None,
            tuple(sample),
        )
        items: list[TaskArtifact] = []
        for task in ordered_tasks(info.tasks):
            if len(items) >= FOREACH_PREVIEWS:
                break
            try:
                found = {a.name: a for a in store.artifacts(task.pathspec)}
            except RunStoreError:
                continue
            artifact = found.get(name)
            if artifact is None:
                continue
            try:
                blob, problem = blob_of(store, task, artifact)
            except RunStoreError as error:
                blob, problem = None, str(error)
            items.append(TaskArtifact(task, artifact, blob, problem or artifact.error))
        if items:
            return ArtifactHit(run, info, tuple(items), count)
    return None


# --------------------------------------------------------------------------------------------
# Words and numbers


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(timezone.utc)


def ago(when: datetime | None, at: datetime | None = None) -> str:
    """`12 s ago`, `5 min ago`, `2 h ago`, `3 d ago`."""
    if when is None:
        return "at an unknown time"
    seconds = max(0.0, ((at or now()) - when).total_seconds())
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def duration_text(delta: timedelta | None) -> str | None:
    """`850 ms`, `12 s`, `3 min 4 s`, `1 h 2 min`."""
    if delta is None:
        return None
    seconds = max(0.0, delta.total_seconds())
    if seconds < 1:
        return f"{int(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{int(seconds)} s"
    if seconds < 3600:
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(int(seconds) // 60, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def step_duration(info: StepInfo) -> timedelta | None:
    """From the step's first task's launch to its last task's end."""
    if info.started_at is None or info.finished_at is None:
        return None
    return info.finished_at - info.started_at


def short_id(run_id: str) -> str:
    """A run id short enough for a lens: the distinguishing end of a long id."""
    return run_id if len(run_id) <= 8 else "…" + run_id[-6:]


MARKS = {
    "succeeded": "✓",
    "failed": "✗",
    "running": "⟳",
    "pending": "…",
    "stale": "⚠",
    "unknown": "?",
}


def mark(status: str) -> str:
    """The symbol shown before a status."""
    return MARKS.get(status, "?")


def step_status(record: StepRecord) -> str:
    """The step's status, `stale` when it is in flight in a run nobody is running any more."""
    status = record.info.status
    if status in ("running", "pending") and record.run.status == "stale":
        return "stale"
    return status


def run_line(run: RunInfo, kind: str = "run") -> str:
    """`run 1795867788788865 · 2 h ago · by alice · succeeded`."""
    parts = [f"{kind} {run.run_id}", ago(run.started_at)]
    if run.user:
        parts.append(f"by {run.user}")
    parts.append(run.status)
    return " · ".join(parts)


def attempts_text(tasks: Iterable[TaskInfo]) -> str:
    """`1 attempt each`, or which tasks were retried."""
    tasks = list(tasks)
    retried = [t for t in tasks if len(t.attempts) > 1]
    if not retried:
        return "1 attempt each" if len(tasks) > 1 else "1 attempt"
    shown = ", ".join(f"task {t.task_id}: {len(t.attempts)}" for t in retried[:5])
    more = f" and {len(retried) - 5} more" if len(retried) > 5 else ""
    return f"retried ({shown}{more})"


def frames_in(frames: Iterable[Frame], path: str) -> list[Frame]:
    """The frames in the file at `path`; by file name when none match the whole path (a run
    made from another checkout or on a remote machine)."""
    frames = list(frames)
    target = os.path.normpath(os.path.abspath(path))
    exact = [f for f in frames if os.path.normpath(f.file) == target]
    if exact:
        return exact
    name = os.path.basename(target)
    return [f for f in frames if os.path.basename(f.file) == name]
