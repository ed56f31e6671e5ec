"""The metadata service's JSON records, decoded into the run store's model (pure functions).

Records are what Metaflow's ServiceMetadataProvider sends and reads: runs, steps and tasks
(`flow_id`, `run_number`, `step_name`, `task_id`, `user_name`, `ts_epoch` in ms, `tags`,
`system_tags`, `last_heartbeat_ts` in s), metadata (`field_name`, `value`, `ts_epoch`, `tags`
with `attempt_id:<n>`) and artifacts (`name`, `sha`, `content_type` = the encoding,
`attempt_id`, `ds_type`, `location` = `:root:<datastore root>`). Values may be strings or JSON
(`run_number` and `task_id` are integers on Netflix's service).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

from .backend import encode_cursor
from .model import AttemptInfo, TaskInfo, utc_from_ms
from .status import TaskState, task_status


@dataclasses.dataclass
class Backoff:
    """Seconds between polls: `initial` after a change, growing by `factor` while nothing
    changes (or the service fails), up to `maximum`."""

    initial: float = 1.0
    maximum: float = 30.0
    factor: float = 2.0
    delay: float = 1.0

    def after(self, changed: bool) -> float:
        """The next delay, after a poll that found changes or not."""
        self.delay = self.initial if changed else min(self.maximum, self.delay * self.factor)
        return self.delay


@dataclasses.dataclass(frozen=True, slots=True)
class TaskMeta:
    """A task's metadata records, decoded."""

    latest: dict[str, Any]  # field -> its newest value (Metaflow's Task.metadata_dict)
    attempts: tuple[AttemptInfo, ...]
    last_ms: float  # the newest record's time

    @property
    def final(self) -> bool:
        """The latest attempt succeeded and is done: nothing about the task will change."""
        return bool(self.attempts) and self.attempts[-1].ok is True and self.attempts[-1].done


def decode_metadata(records: Iterable[Any]) -> TaskMeta:
    """Attempts (start, `attempt_ok`, `attempt-done`) and latest values from metadata records."""
    rows = sorted(
        (r for r in records if isinstance(r, dict) and isinstance(r.get("field_name"), str)),
        key=lambda r: number(r.get("ts_epoch")),
    )
    latest: dict[str, Any] = {}
    starts: dict[int, float] = {}
    oks: dict[int, tuple[bool, float]] = {}
    dones: dict[int, float] = {}
    for row in rows:
        field, value, ts = row["field_name"], row.get("value"), number(row.get("ts_epoch"))
        latest[field] = value
        n = attempt_of(row)
        if field == "attempt":
            n = to_int(value, n)
            if n is not None:
                starts.setdefault(n, ts)
        elif field == "attempt_ok" and n is not None:
            oks[n] = (str(value).strip().lower() == "true", ts)
        elif field == "attempt-done":
            n = to_int(value, n)
            if n is not None:
                dones.setdefault(n, ts)
    attempts = []
    for n in sorted(set(starts) | set(oks) | set(dones)):
        ok = oks.get(n)
        # Metaflow's Task.finished_at is when the artifacts were saved: right after attempt-done.
        end = dones.get(n, ok[1] if ok else None)
        attempts.append(
            AttemptInfo(
                attempt=n,
                started_at=utc_from_ms(starts.get(n)),
                finished_at=utc_from_ms(end),
                ok=ok[0] if ok else None,
                done=n in dones,
            )
        )
    last = max((number(r.get("ts_epoch")) for r in rows), default=0.0)
    return TaskMeta(latest, tuple(attempts), last)


def attempt_of(record: dict[str, Any]) -> int | None:
    """The attempt a metadata or artifact record belongs to (`attempt_id:<n>` tag or field)."""
    if record.get("attempt_id") is not None:
        return to_int(record.get("attempt_id"), None)
    for tag in record.get("tags") or ():
        if isinstance(tag, str) and tag.startswith("attempt_id:"):
            return to_int(tag.split(":", 1)[1], None)
    return None


def heartbeat_alive(
    heartbeat_s: float | None, server_now: float, grace: float, local: bool | None
) -> bool | None:
    """Whether a run is alive: a fresh heartbeat, else a process here; a heartbeat that went
    quiet with no process here means dead; None when neither tells (no heartbeats recorded
    and processes can't be listed)."""
    if heartbeat_s is not None and server_now - heartbeat_s <= grace:
        return True
    if local:
        return True
    return False if heartbeat_s is not None else local


def task_info(
    flow: str,
    run_id: str,
    step: str,
    record: dict[str, Any],
    meta: TaskMeta,
    source: str,
    full: bool,
) -> TaskInfo:
    """A task from its record and decoded metadata (`full`: with every metadata field)."""
    task_id = str(record.get("task_id"))
    latest = meta.attempts[-1] if meta.attempts else None
    errors: list[str] = []
    foreach_index: int | None = None
    foreach_stack: tuple[str, ...] = ()
    path = meta.latest.get("foreach-execution-path")
    if isinstance(path, str) and path:
        try:
            foreach_index = int(path.split(",")[-1].rsplit(":", 1)[1])
        except (ValueError, IndexError):
            errors.append(f"can't read the foreach position {path!r} of the task")
        stack = meta.latest.get("foreach-stack")
        if isinstance(stack, str):
            try:
                stack = json.loads(stack)
            except ValueError:
                stack = [stack]
        foreach_stack = tuple(str(s) for s in stack) if isinstance(stack, list) else ()
    state = task_state(step, task_id, meta, record)
    return TaskInfo(
        flow=flow,
        run_id=run_id,
        step=step,
        task_id=task_id,
        pathspec=f"{flow}/{run_id}/{step}/{task_id}",
        status=task_status(state),
        attempt=latest.attempt if latest else 0,
        attempts=meta.attempts,
        created_at=utc_from_ms(record.get("ts_epoch")),
        started_at=meta.attempts[0].started_at if meta.attempts else None,
        finished_at=latest.finished_at if latest and latest.ok is not None else None,
        foreach_index=foreach_index,
        foreach_stack=foreach_stack,
        origin_run_id=none_if_empty(meta.latest.get("origin-run-id")),
        origin_task_id=none_if_empty(meta.latest.get("origin-task-id")),
        user=record.get("user_name"),
        source=source,
        metadata=dict(meta.latest) if full else {},
        errors=tuple(errors),
    )


def task_state(step: str, task_id: str, meta: TaskMeta, record: dict[str, Any]) -> TaskState:
    """What the status rule needs from one task."""
    latest = meta.attempts[-1] if meta.attempts else None
    finished = latest.finished_at if latest else None
    return TaskState(
        step=step,
        task_id=task_id,
        latest_attempt=latest.attempt if latest else None,
        ok=latest.ok if latest else None,
        done=latest.done if latest else False,
        finished_ms=finished.timestamp() * 1000.0 if finished else None,
        last_write=max(meta.last_ms, number(record.get("ts_epoch"))) / 1000.0,
    )


def service_path(*parts: str) -> str:
    """`/flows/<f>/runs/<r>/steps/<s>/tasks/<t>`, as deep as the parts go."""
    names = ("flows", "runs", "steps", "tasks")
    return "".join(f"/{kind}/{part}" for kind, part in zip(names, parts, strict=False))


def artifact_location(record: dict[str, Any]) -> tuple[str, str | None]:
    """(ds_type, root) of an artifact: Metaflow writes `:root:<datastore root>` as location."""
    location = str(record.get("location") or "")
    root = location[len(":root:") :] if location.startswith(":root:") else None
    return str(record.get("ds_type") or "local"), root or None


def task_order(task: TaskInfo) -> tuple[int, int, str]:
    """Tasks by numeric id, then the others by name."""
    return (0, int(task.task_id), "") if task.task_id.isdigit() else (1, 0, task.task_id)


def number(value: Any) -> float:
    """A JSON number (or numeric string) as a float, 0.0 when it is none."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def to_int(value: Any, default: int | None) -> int | None:
    """An int from a JSON value, `default` when it is none."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def none_if_empty(value: Any) -> str | None:
    """None for Metaflow's empty values (`None`, "None", ""), else the value as a string."""
    return None if value in (None, "None", "") else str(value)


def created_key(record: dict[str, Any]) -> tuple[float, str]:
    """A run record's sort key: creation time, then run id."""
    return (number(record.get("ts_epoch")), str(record.get("run_number")))


def record_cursor(record: dict[str, Any]) -> str:
    """The paging cursor after this run record."""
    return encode_cursor(*created_key(record))
