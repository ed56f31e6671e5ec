"""Plain data types of the run store: runs, steps, tasks, attempts, artifacts, logs and cards.

Times are timezone-aware UTC datetimes. Pathspecs are Metaflow's: `Flow/run`, `Flow/run/step`,
`Flow/run/step/task`. Nothing here reads files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

# How a run is doing, from its files (the rule is in `status.py`):
#   running    something is in flight and a process of the run is alive (or it wrote recently)
#   succeeded  its end step finished ok (a spin result: every task finished ok)
#   failed     a task's latest attempt ended not ok
#   stale      something is in flight but no process is left and nothing was written lately:
#              killed, crashed, or running on another machine
#   unknown    its files can't be read
RunStatus = Literal["running", "succeeded", "failed", "stale", "unknown"]
TaskStatus = Literal["pending", "running", "succeeded", "failed", "unknown"]
LogStream = Literal["stdout", "stderr"]


class RunStoreError(Exception):
    """A run, task or file could not be read; the message says what happened and what to do."""


class NotFoundError(RunStoreError):
    """The pathspec names no run, step or task in the datastore (another may have it)."""


class ArtifactNotFoundError(NotFoundError):
    """The task exists but has no artifact of that name."""


def utc_from_ms(ms: float | int | None) -> datetime | None:
    """A UTC datetime from Metaflow's `ts_epoch` milliseconds."""
    if ms is None:
        return None
    return datetime.fromtimestamp(float(ms) / 1000.0, tz=timezone.utc)


def utc_from_s(seconds: float | int | None) -> datetime | None:
    """A UTC datetime from seconds since the epoch."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(float(seconds), tz=timezone.utc)


@dataclasses.dataclass(frozen=True, slots=True)
class RunInfo:
    """One run (or one spin result) of a flow."""

    flow: str
    run_id: str
    pathspec: str
    status: RunStatus
    user: str | None
    tags: tuple[str, ...]
    system_tags: tuple[str, ...]
    started_at: datetime | None  # the run's creation (Metaflow's Run.created_at)
    finished_at: datetime | None  # the end task's finish (failed: the last attempt's end)
    last_activity: datetime | None  # the newest write seen in the run's files
    origin_run_id: str | None  # the run this one resumed
    end_step: str
    source: str  # the backend: "local", "spin", later "s3", "service"
    errors: tuple[str, ...] = ()

    @property
    def duration(self) -> timedelta | None:
        """Wall time from creation to finish, None while unfinished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclasses.dataclass(frozen=True, slots=True)
class AttemptInfo:
    """One attempt of a task (retries and resumes make more than one)."""

    attempt: int
    started_at: datetime | None  # the task process began the attempt (`<n>.attempt.json`)
    finished_at: datetime | None  # its artifacts were saved (Metaflow's Task.finished_at)
    ok: bool | None  # None: still running, or the end was not recorded
    done: bool  # Metaflow wrote the attempt's DONE marker (its artifacts are readable)
    return_code: int | None = None  # from the runtime (`<attempt>.runtime`), when recorded
    killed: bool = False
    # The runtime saw the process exit (the `<n>.runtime` record's time): after cards and other
    # decorators' work, as the terminal's "Task finished" line. None for cloned tasks.
    ended_at: datetime | None = None

    @property
    def duration(self) -> timedelta | None:
        """The attempt's wall time: start to process exit (or to its artifacts' save)."""
        end = self.ended_at or self.finished_at
        return end - self.started_at if end and self.started_at else None

    @property
    def status(self) -> TaskStatus:
        """succeeded / failed / running / unknown for this attempt."""
        if self.ok is True:
            return "succeeded"
        if self.ok is False:
            return "failed"
        return "unknown" if self.done else "running"


@dataclasses.dataclass(frozen=True, slots=True)
class TaskInfo:
    """One task of a step."""

    flow: str
    run_id: str
    step: str
    task_id: str
    pathspec: str
    status: TaskStatus  # of the latest attempt
    attempt: int  # the latest started attempt (Metaflow's Task.current_attempt)
    attempts: tuple[AttemptInfo, ...]
    created_at: datetime | None  # Metaflow's Task.created_at (the task's registration)
    started_at: datetime | None  # the first attempt's start
    finished_at: datetime | None  # the latest attempt's end, None while it runs
    foreach_index: int | None  # the index in the innermost foreach, None outside a foreach
    foreach_stack: tuple[str, ...]  # Metaflow's `foreach-stack` metadata: "var=value" per level
    origin_run_id: str | None  # the run this task's run resumed
    origin_task_id: str | None  # set when the task was cloned from the origin run
    user: str | None
    source: str
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # latest per field
    errors: tuple[str, ...] = ()

    @property
    def cloned(self) -> bool:
        """Whether `resume` copied this task from the origin run instead of running it."""
        return self.origin_task_id is not None

    @property
    def origin_pathspec(self) -> str | None:
        """The task this one was cloned from."""
        if self.origin_run_id is None or self.origin_task_id is None:
            return None
        return f"{self.flow}/{self.origin_run_id}/{self.step}/{self.origin_task_id}"

    @property
    def ended_at(self) -> datetime | None:
        """When the latest attempt's process exited (else its artifacts' save), if it ended."""
        if self.finished_at is None:
            return None
        latest = self.attempts[-1] if self.attempts else None
        return (latest.ended_at if latest else None) or self.finished_at

    @property
    def duration(self) -> timedelta | None:
        """Wall time as the terminal shows it: from the task's launch (its registration) to the
        latest attempt's process exit, retries included."""
        start = self.created_at or self.started_at
        end = self.ended_at
        return end - start if start and end else None


@dataclasses.dataclass(frozen=True, slots=True)
class StepInfo:
    """One step of a run and its tasks."""

    flow: str
    run_id: str
    step: str
    pathspec: str
    status: TaskStatus  # failed if a task failed, running if one runs, succeeded if all did
    created_at: datetime | None
    started_at: datetime | None  # the first task's launch
    finished_at: datetime | None  # the last task's end, None until every task ended
    tasks: tuple[TaskInfo, ...]
    errors: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """What Metaflow's artifact index (`<attempt>.data.json`) and the artifact's metadata file
    (`_meta/<attempt>_artifact_<name>.json`) say about one artifact. The value is not loaded."""

    name: str
    sha: str
    type: str  # as Metaflow records it, e.g. "<class 'int'>"
    size: int | None  # bytes of the serialized value
    encoding: str | None  # e.g. "pickle-v4"
    attempt: int
    created_at: datetime | None
    serializer_info: Mapping[str, Any]
    compressed: bool | None  # the blob is gzip-compressed (Metaflow's `cas_raw` false)
    blob_path: str | None  # where the blob lies, for the worker that unpickles it
    error: str | None = None  # e.g. the blob is missing

    @property
    def type_name(self) -> str:
        """The type without Python's `<class '...'>` wrapper."""
        text = self.type
        if text.startswith("<class '") and text.endswith("'>"):
            return text[8:-2]
        return text

    @property
    def private(self) -> bool:
        """Metaflow's own artifacts (`_foreach_stack`, `_task_ok`, ...) start with `_`."""
        return self.name.startswith("_")


@dataclasses.dataclass(frozen=True, slots=True)
class BlobData:
    """The decompressed bytes of one artifact (a pickle: unpickle it in the worker only)."""

    task_pathspec: str
    name: str
    sha: str
    path: str
    encoding: str | None
    data: bytes | None  # None when larger than the cap
    size: int  # decompressed bytes read (at most cap + 1 when too large)
    too_large: bool


@dataclasses.dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a task's log, without Metaflow's MFLOG prefix."""

    timestamp: datetime | None  # UTC, None for a line Metaflow did not stamp
    text: str
    source: str | None  # "task" or "runtime": who stamped the line


@dataclasses.dataclass(frozen=True, slots=True)
class LogChunk:
    """A page of a task's stdout or stderr, merged across Metaflow's log sources."""

    task_pathspec: str
    stream: LogStream
    attempt: int
    offset: int  # line offset of the first line
    lines: tuple[LogLine, ...]
    next_offset: int
    total_lines: int
    complete: bool  # the attempt has ended: no more lines will come
    origin_pathspec: str | None = None  # logs read from the task this one was cloned from
    note: str | None = None  # e.g. why there are no lines yet


@dataclasses.dataclass(frozen=True, slots=True)
class CardInfo:
    """One card file of a task."""

    task_pathspec: str
    type: str
    id: str | None
    hash: str
    path: str
    size: int
    modified_at: datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class WatchPlan:
    """The directories whose changes matter: `flat` ones watched without their subdirectories
    (a datastore root, its flow directories: new flows and runs appear there), `deep` ones with
    everything below (runs in flight). Watching a whole datastore would set up one watch per
    directory, tens of thousands of them, for runs that will never change again."""

    flat: frozenset[str] = frozenset()
    deep: frozenset[str] = frozenset()

    def __or__(self, other: WatchPlan) -> WatchPlan:
        return WatchPlan(self.flat | other.flat, self.deep | other.deep)


@dataclasses.dataclass(frozen=True, slots=True)
class StoreChange:
    """Something changed in a datastore: a run, step or task (the finer fields may be None)."""

    source: str
    flow: str
    run_id: str | None = None
    step: str | None = None
    task_id: str | None = None
    kind: str = "run"  # "run", "card" or "flow"

    @property
    def pathspec(self) -> str:
        """The most precise pathspec the change names."""
        parts = [self.flow, self.run_id, self.step, self.task_id]
        out = []
        for part in parts:
            if part is None:
                break
            out.append(part)
        return "/".join(out)


def to_json(value: Any) -> Any:
    """A JSON-ready copy of a model object: dataclasses as dicts, datetimes in ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, TaskInfo):
            out["origin_pathspec"] = value.origin_pathspec
        return out
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    if isinstance(value, bytes):
        return None
    return value
