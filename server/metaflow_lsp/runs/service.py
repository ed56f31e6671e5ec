"""Runs recorded by a Metaflow metadata service (METAFLOW_DEFAULT_METADATA=service), read-only.

The service knows runs, steps, tasks, tags, heartbeats, task metadata (attempts, `attempt_ok`,
`attempt-done`, foreach position, resume origin, `ds-type` / `ds-root`) and each artifact's name,
sha, encoding (`content_type`), attempt and location (`:root:<datastore root>` and `ds_type`).
Artifact VALUES, their Python type and size (the datastore's `<attempt>.data.json`), logs and
cards stay in the datastore the run wrote (local or S3): `artifacts` adds type and size from it,
and `read_blob`, `logs` and `cards` delegate to the datastore backend that the `datastore`
resolver returns for the run's `(ds_type, root)` (the store wires the local one; S3 plugs in
there).

Endpoints, called as Metaflow's ServiceMetadataProvider calls them (`GET`, JSON):
    /flows                                              flow names
    /flows/<f>/runs, /flows/<f>/runs/<r>                runs: user, tags, ts_epoch, heartbeat
    /flows/<f>/runs/<r>/steps                           steps
    /flows/<f>/runs/<r>/steps/<s>/tasks[/<t>]           tasks (with last_heartbeat_ts)
    .../tasks/<t>/metadata                              every attempt's metadata
    .../tasks/<t>/artifacts, .../attempt/<n>/artifacts  artifact index (service >= 2.0.6)
    /flows/<f>/runs/<r>/steps/<s>/filtered_tasks        tasks with `attempt_ok` False (>= 2.5.0)

Status: the rule of `status.py`, with the service's records. failed: a task's latest attempt has
`attempt_ok` False (`filtered_tasks` finds the candidates with one request a step); succeeded:
the end step's task has `attempt_ok` True; otherwise in flight: running while the run's heartbeat
(`last_heartbeat_ts`, seconds, in the service's clock) is fresher than `heartbeat_grace`, or a
process of the run lives on this machine; without heartbeats (a service older than 2.0.4, or
metaflow-local-service) running while a record is younger than `quiet_grace`; stale otherwise.

No file events come from a service: `poll()` detects changes, `next_poll_in` says when to poll
again (backing off while nothing changes or the service fails).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from .backend import Backend, decode_cursor, split_pathspec
from .config import MetaflowConfig
from .model import (
    ArtifactInfo,
    ArtifactNotFoundError,
    BlobData,
    CardInfo,
    LogChunk,
    LogStream,
    NotFoundError,
    RunInfo,
    RunStatus,
    RunStoreError,
    StepInfo,
    StoreChange,
    TaskInfo,
    WatchPlan,
    utc_from_ms,
)
from .service_http import DEFAULT_TIMEOUT_S, ServiceClient, ServiceError
from .service_records import (
    Backoff,
    TaskMeta,
    artifact_location,
    attempt_of,
    created_key,
    decode_metadata,
    heartbeat_alive,
    none_if_empty,
    number,
    record_cursor,
    service_path,
    task_info,
    task_order,
    task_state,
)
from .status import QUIET_GRACE_S, ProcessTable, TaskState, run_status, step_status

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

# (ds_type, datastore root or None) -> the backend holding that datastore's files, or None.
DatastoreResolver = Callable[[str, str | None], Backend | None]
HEARTBEAT_GRACE_S = 60.0  # Metaflow heartbeats every 10 s; the service's own cutoff is 6 min
SETTLED_TTL_S = 30.0  # a failed or stale run is re-read after this (a retry may start)
POLL_RUNS = 20  # the newest unfinished runs whose status `poll` re-checks
_PARAMETERS = "_parameters"


@dataclasses.dataclass(frozen=True, slots=True)
class _Summary:
    """What a run's status costs requests to learn (tags and user come with the run's record)."""

    status: RunStatus
    finished_at: datetime | None
    last_activity: datetime | None
    origin_run_id: str | None
    end_step: str
    errors: tuple[str, ...]


class ServiceBackend:
    """Runs, steps and tasks from the metadata service; values, logs and cards from the
    datastore the `datastore` resolver gives for each run's `(ds_type, root)`."""

    def __init__(
        self,
        config: MetaflowConfig,
        *,
        datastore: DatastoreResolver | None = None,
        processes: ProcessTable | None = None,
        quiet_grace: float = QUIET_GRACE_S,
        heartbeat_grace: float = HEARTBEAT_GRACE_S,
        timeout: float = DEFAULT_TIMEOUT_S,
        workers: int = 8,
    ) -> None:
        self.name: str = "service"
        self._config = config
        self._client: ServiceClient | None = None
        if config.service_url:
            headers_source = " / ".join(
                config.source(k) for k in ("METAFLOW_SERVICE_HEADERS", "METAFLOW_SERVICE_AUTH_KEY")
            )
            self._client = ServiceClient(
                str(config.service_url),
                config.service_headers,
                url_source=config.source("METAFLOW_SERVICE_URL"),
                headers_source=headers_source,
                timeout=timeout,
            )
        self._datastore = datastore or (lambda ds_type, root: None)
        self._processes = processes or ProcessTable()
        self.quiet_grace = quiet_grace
        self.heartbeat_grace = heartbeat_grace
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._final: dict[str, TaskMeta] = {}  # task pathspec -> metadata that won't change
        self._known_tasks: set[str] = set()
        self._end_steps: dict[str, str] = {}  # run pathspec -> end step
        self._summaries: dict[str, tuple[_Summary, float, Any]] = {}  # -> (it, when, heartbeat)
        self._filtered_tasks: bool | None = None  # whether the service has `filtered_tasks`
        self._poll_runs: dict[str, dict[str, str]] = {}  # flow -> run id -> record signature
        self._poll_status: dict[str, RunStatus] = {}
        self._poll_tasks: dict[str, dict[str, tuple[Any, ...]]] = {}  # run -> task -> state
        self.backoff = Backoff()

    # Where

    def available(self) -> bool:
        """Whether METAFLOW_SERVICE_URL is set (reachability shows on the first request)."""
        return self._client is not None

    def describe(self) -> str:
        """The service's address and where it was configured."""
        source = self._config.source("METAFLOW_SERVICE_URL")
        if self._client is None:
            return (
                f"METAFLOW_DEFAULT_METADATA is 'service' "
                f"({self._config.source('METAFLOW_DEFAULT_METADATA')}) but METAFLOW_SERVICE_URL "
                "is not set: set it to the Metaflow metadata service's address"
            )
        return f"metadata service {self._client.shown_url} (METAFLOW_SERVICE_URL from {source})"

    @property
    def next_poll_in(self) -> float:
        """Seconds to wait before the next `poll`."""
        return self.backoff.delay

    # Requests

    def _get(self, path: str, query: dict[str, str] | None = None) -> Any:
        if self._client is None:
            raise NotFoundError(self.describe())
        return self._client.get(path, query)

    def _list(self, path: str, query: dict[str, str] | None = None) -> list[dict[str, Any]]:
        value = self._get(path, query)
        if not isinstance(value, list):
            raise ServiceError(
                f"the metadata service at {self._where()} answered GET {path} with a "
                f"{type(value).__name__} where Metaflow expects a list: is it a Metaflow "
                "metadata service?",
                fatal=True,
            )
        return [v for v in value if isinstance(v, dict)]

    def _where(self) -> str:
        return self._client.shown_url if self._client else "(no METAFLOW_SERVICE_URL)"

    def _map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """fn over items on a few threads: each request mostly waits on the network."""
        if len(items) <= 1:
            return [fn(i) for i in items]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="mf-service")
            pool = self._pool
        futures = [pool.submit(fn, i) for i in items]
        try:
            return [f.result() for f in futures]
        finally:
            for future in futures:
                future.cancel()  # after a failure, don't start the rest

    # Flows and runs

    def flows(self) -> list[str]:
        """Flow names the service knows (none from a service without `GET /flows`)."""
        if self._client is None:
            return []
        try:
            records = self._list("/flows")
        except NotFoundError:
            return []  # metaflow-local-service has no `GET /flows`
        except ServiceError as error:
            if error.status == 405:
                return []
            raise
        return sorted({str(r["flow_id"]) for r in records if r.get("flow_id")})

    def _run_records(self, flow: str) -> list[dict[str, Any]]:
        try:
            records = self._list(service_path(flow) + "/runs")
        except NotFoundError:
            return []  # the service never saw the flow
        records = [r for r in records if r.get("run_number") is not None]
        records.sort(key=created_key, reverse=True)
        return records

    def list_runs(
        self,
        flow: str,
        *,
        user: str | None = None,
        tag: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[RunInfo], str | None]:
        """Runs newest first, filtered by user, tag (user or system) and status, paged."""
        if self._client is None:
            return [], None
        after = decode_cursor(cursor)
        records = [
            r
            for r in self._run_records(flow)
            if (after is None or created_key(r) < after)
            and (user is None or r.get("user_name") == user)
            and (tag is None or tag in (r.get("tags") or ()) or tag in (r.get("system_tags") or ()))
        ]
        runs: list[RunInfo] = []
        start = 0
        while start < len(records):
            batch = records[start : start + max(1, limit if status else limit - len(runs))]
            infos = self._map(lambda r: self._run_info(flow, r), batch)
            for i, info in enumerate(infos):
                if status is not None and info.status != status:
                    continue
                runs.append(info)
                if len(runs) >= limit:
                    more = start + i + 1 < len(records)
                    return runs, (record_cursor(batch[i]) if more else None)
            start += len(batch)
        return runs, None

    def get_run(self, pathspec: str) -> RunInfo:
        """One run; NotFoundError when the service does not know it."""
        flow, run_id = split_pathspec(pathspec, 2)
        return self._run_info(flow, self._run_record(flow, run_id))

    def _run_record(self, flow: str, run_id: str) -> dict[str, Any]:
        try:
            record = self._get(service_path(flow, run_id))
        except NotFoundError:
            raise NotFoundError(f"no run {flow}/{run_id} in the {self.describe()}") from None
        if not isinstance(record, dict):
            raise ServiceError(f"the metadata service at {self._where()} sent a damaged run")
        return record

    def _run_info(self, flow: str, record: dict[str, Any]) -> RunInfo:
        run_id = str(record["run_number"])
        summary = self._summary(flow, run_id, record)
        return RunInfo(
            flow=flow,
            run_id=run_id,
            pathspec=f"{flow}/{run_id}",
            status=summary.status,
            user=record.get("user_name"),
            tags=tuple(str(t) for t in record.get("tags") or ()),
            system_tags=tuple(str(t) for t in record.get("system_tags") or ()),
            started_at=utc_from_ms(record.get("ts_epoch")),
            finished_at=summary.finished_at,
            last_activity=summary.last_activity,
            origin_run_id=summary.origin_run_id,
            end_step=summary.end_step,
            source=self.name,
            errors=summary.errors,
        )

    def _summary(self, flow: str, run_id: str, record: dict[str, Any]) -> _Summary:
        """The run's status, cached while it can't change (succeeded), or briefly (failed,
        stale: a retry may still start) unless its heartbeat moved."""
        key = f"{flow}/{run_id}"
        heartbeat = record.get("last_heartbeat_ts")
        with self._lock:
            cached = self._summaries.get(key)
        if cached is not None:
            summary, when, seen = cached
            if summary.status == "succeeded" or (
                summary.status in ("failed", "stale")
                and seen == heartbeat
                and time.monotonic() - when < SETTLED_TTL_S
            ):
                return summary
        try:
            summary = self._compute_summary(flow, run_id, record)
        except RunStoreError as error:
            if isinstance(error, ServiceError) and error.fatal:
                raise  # the service is down or refuses: every other run would fail the same
            summary = _Summary("unknown", None, None, None, "end", (str(error),))
        with self._lock:
            self._summaries[key] = (summary, time.monotonic(), heartbeat)
        return summary

    def _compute_summary(self, flow: str, run_id: str, record: dict[str, Any]) -> _Summary:
        errors: list[str] = []
        steps = self._list(service_path(flow, run_id) + "/steps")
        names = [
            str(s["step_name"]) for s in steps if s.get("step_name") not in (None, _PARAMETERS)
        ]
        end_step = self._end_step(flow, run_id, errors)
        times = [number(record.get("ts_epoch"))] + [number(s.get("ts_epoch")) for s in steps]
        states: dict[tuple[str, str], TaskState] = {}
        metas: dict[tuple[str, str], TaskMeta] = {}
        heartbeats = [record.get("last_heartbeat_ts")]

        def check(step: str, task: dict[str, Any]) -> None:
            task_id = str(task.get("task_id"))
            meta = self._meta(flow, run_id, step, task_id)
            metas[step, task_id] = meta
            states[step, task_id] = task_state(step, task_id, meta, task)
            times.append(max(meta.last_ms, number(task.get("ts_epoch"))))
            heartbeats.append(task.get("last_heartbeat_ts"))

        if end_step in names:
            for task in self._task_records(flow, run_id, end_step):
                check(end_step, task)
        if not any(s.ok for s in states.values()):
            for step in names:
                for task in self._failure_candidates(flow, run_id, step):
                    if (step, str(task.get("task_id"))) not in states:
                        check(step, task)
        beats = [float(h) for h in heartbeats if isinstance(h, (int, float))]
        heartbeat = max(beats) if beats else None
        now = self._client.server_now() if self._client else time.time()
        last = max(times) / 1000.0
        status = run_status(
            states.values(),
            end_step,
            alive=lambda: heartbeat_alive(
                heartbeat, now, self.heartbeat_grace, self._processes.is_alive(run_id)
            ),
            last_activity=max(last, heartbeat or 0.0),
            now=now,
            quiet_grace=self.quiet_grace,
        )
        ended = [
            metas[k].attempts[-1].finished_at
            for k, s in states.items()
            if (status == "succeeded" and k[0] == end_step and s.ok)
            or (status == "failed" and s.ok is False)
        ]
        origin = next(
            (o for m in metas.values() if (o := none_if_empty(m.latest.get("origin-run-id")))),
            None,
        )
        return _Summary(
            status=status,
            finished_at=max((e for e in ended if e), default=None),
            last_activity=utc_from_ms(max(last, heartbeat or 0.0) * 1000.0),
            origin_run_id=origin,
            end_step=end_step,
            errors=tuple(errors),
        )

    def _end_step(self, flow: str, run_id: str, errors: list[str]) -> str:
        """The end step's name, from the `_parameters` task's `end_step` metadata."""
        key = f"{flow}/{run_id}"
        with self._lock:
            known = self._end_steps.get(key)
        if known:
            return known
        try:
            for task in self._task_records(flow, run_id, _PARAMETERS):
                meta = self._meta(flow, run_id, _PARAMETERS, str(task.get("task_id")))
                value = meta.latest.get("end_step")
                if value:
                    with self._lock:
                        self._end_steps[key] = str(value)
                    return str(value)
        except ServiceError as error:
            if error.fatal:
                raise
            errors.append(f"{error}; assuming the end step is `end`")
        return "end"

    def _failure_candidates(self, flow: str, run_id: str, step: str) -> list[dict[str, Any]]:
        """Tasks of `step` with an `attempt_ok` False record (every task, on old services)."""
        if self._filtered_tasks is not False:
            try:
                found = self._get(
                    service_path(flow, run_id, step) + "/filtered_tasks",
                    {"metadata_field_name": "attempt_ok", "pattern": "^(?:False)$"},
                )
                self._filtered_tasks = True
                ids = [str(p).rsplit("/", 1)[-1] for p in found or () if isinstance(p, str)]
                return [{"task_id": t} for t in ids]
            except ServiceError as error:
                if error.fatal or error.status not in (404, 405):
                    raise
                self._filtered_tasks = False
            except NotFoundError:
                self._filtered_tasks = False  # a service older than 2.5.0
        return self._task_records(flow, run_id, step)

    # Steps and tasks

    def _task_records(self, flow: str, run_id: str, step: str) -> list[dict[str, Any]]:
        try:
            return self._list(service_path(flow, run_id, step) + "/tasks")
        except NotFoundError:
            return []

    def _meta(self, flow: str, run_id: str, step: str, task_id: str) -> TaskMeta:
        key = f"{flow}/{run_id}/{step}/{task_id}"
        with self._lock:
            final = self._final.get(key)
        if final is not None:
            return final
        meta = decode_metadata(self._list(service_path(flow, run_id, step, task_id) + "/metadata"))
        if meta.final:
            with self._lock:
                if len(self._final) > 200_000:
                    self._final.clear()  # crude bound; entries are cheap to re-read
                self._final[key] = meta
        return meta

    def steps(self, pathspec: str, light: bool = False) -> list[StepInfo]:
        """A run's steps (Metaflow's `_parameters` left out) with their tasks, oldest first
        (the service answers everything in a few requests: `light` reads the same)."""
        flow, run_id = split_pathspec(pathspec, 2)
        self._run_record(flow, run_id)
        records = [
            s
            for s in self._list(service_path(flow, run_id) + "/steps")
            if s.get("step_name") not in (None, _PARAMETERS)
        ]
        records.sort(key=lambda s: (number(s.get("ts_epoch")) or float("inf"), s["step_name"]))
        names = [str(s["step_name"]) for s in records]
        task_lists = self._map(lambda step: self._task_records(flow, run_id, step), names)
        jobs = [
            (step, task) for step, tasks in zip(names, task_lists, strict=True) for task in tasks
        ]
        by_step: dict[str, list[TaskInfo]] = {name: [] for name in names}
        for info in self._map(lambda job: self._task_or_error(flow, run_id, *job), jobs):
            by_step[info.step].append(info)
        out = []
        for record in records:
            step = str(record["step_name"])
            tasks = sorted(by_step[step], key=task_order)
            starts = [t.created_at or t.started_at for t in tasks]
            ends = [t.ended_at for t in tasks]
            out.append(
                StepInfo(
                    flow=flow,
                    run_id=run_id,
                    step=step,
                    pathspec=f"{flow}/{run_id}/{step}",
                    status=step_status(t.status for t in tasks),
                    created_at=utc_from_ms(record.get("ts_epoch")),
                    started_at=min((s for s in starts if s), default=None),
                    finished_at=max(e for e in ends if e) if ends and all(ends) else None,
                    tasks=tuple(tasks),
                )
            )
        return out

    def _task_or_error(self, flow: str, run_id: str, step: str, task: dict[str, Any]) -> TaskInfo:
        try:
            meta = self._meta(flow, run_id, step, str(task.get("task_id")))
        except RunStoreError as error:
            if isinstance(error, ServiceError) and error.fatal:
                raise
            meta, problem = decode_metadata(()), str(error)
            return dataclasses.replace(
                task_info(flow, run_id, step, task, meta, self.name, False),
                status="unknown",
                errors=(problem,),
            )
        return task_info(flow, run_id, step, task, meta, self.name, False)

    def _task_record(self, pathspec: str) -> tuple[list[str], dict[str, Any]]:
        parts = split_pathspec(pathspec, 4)
        try:
            record = self._get(service_path(*parts))
        except NotFoundError:
            raise NotFoundError(f"no task {pathspec} in the {self.describe()}") from None
        if not isinstance(record, dict):
            raise ServiceError(f"the metadata service at {self._where()} sent a damaged task")
        with self._lock:
            if len(self._known_tasks) > 200_000:
                self._known_tasks.clear()
            self._known_tasks.add(pathspec)
        return parts, record

    def _need_task(self, pathspec: str) -> list[str]:
        with self._lock:
            if pathspec in self._known_tasks:
                return split_pathspec(pathspec, 4)
        return self._task_record(pathspec)[0]

    def get_task(self, pathspec: str) -> TaskInfo:
        """One task with all its metadata (the newest value of each field)."""
        (flow, run_id, step, task_id), record = self._task_record(pathspec)
        meta = self._meta(flow, run_id, step, task_id)
        return task_info(flow, run_id, step, record, meta, self.name, True)

    # Artifacts: the index from the service, values from the datastore

    def _artifact_records(
        self, pathspec: str, attempt: int | None
    ) -> tuple[int, list[dict[str, Any]]]:
        path = service_path(*self._need_task(pathspec))
        if attempt is None:
            records = self._list(path + "/artifacts")
            if not records:
                raise RunStoreError(
                    f"{pathspec} has no finished attempt yet: its artifacts appear when it ends"
                )
            attempt = max(attempt_of(r) or 0 for r in records)
        else:
            try:
                records = self._list(path + f"/attempt/{int(attempt)}/artifacts")
            except NotFoundError:
                raise RunStoreError(
                    f"the metadata service at {self._where()} can't list one attempt's "
                    "artifacts (it is older than 2.0.6)"
                ) from None
        records = [r for r in records if (attempt_of(r) or 0) == attempt and r.get("name")]
        if not records:
            raise RunStoreError(f"{pathspec} has no finished attempt {attempt}")
        return attempt, records

    def artifacts(self, pathspec: str, attempt: int | None = None) -> list[ArtifactInfo]:
        """The task's artifacts (latest finished attempt unless `attempt`); type, size and blob
        path come from the datastore when it can be read, else the artifact's `error` says why."""
        n, records = self._artifact_records(pathspec, attempt)
        indexes: dict[tuple[str, str | None], tuple[dict[str, ArtifactInfo], str | None]] = {}
        out = []
        for record in records:
            where = artifact_location(record)
            if where not in indexes:
                indexes[where] = self._datastore_index(pathspec, n, *where)
            index, problem = indexes[where]
            name, sha = str(record["name"]), str(record.get("sha") or "")
            found = index.get(name)
            error = problem or (found.error if found else None)
            if found is None and problem is None:
                error = f"the datastore's index of {pathspec} has no artifact {name!r}"
            elif found is not None and found.sha != sha:
                error = (
                    f"the datastore holds sha {found.sha} for {name!r} but the metadata "
                    f"service says {sha}: they disagree about this task"
                )
            out.append(
                ArtifactInfo(
                    name=name,
                    sha=sha,
                    type=found.type if found else "",
                    size=found.size if found else None,
                    encoding=record.get("content_type") or (found.encoding if found else None),
                    attempt=n,
                    created_at=utc_from_ms(record.get("ts_epoch")),
                    serializer_info=found.serializer_info if found else {},
                    compressed=found.compressed if found else None,
                    blob_path=found.blob_path if found else None,
                    error=error,
                )
            )
        return sorted(out, key=lambda a: (a.private, a.name))

    def _datastore_index(
        self, pathspec: str, attempt: int, ds_type: str, root: str | None
    ) -> tuple[dict[str, ArtifactInfo], str | None]:
        try:
            backend = self._datastore_for(pathspec, ds_type, root, "artifact values")
            found = self._from_datastore(
                pathspec, ds_type, root, lambda: backend.artifacts(pathspec, attempt)
            )
        except RunStoreError as error:
            return {}, str(error)
        return {a.name: a for a in found}, None

    def _datastore_for(self, pathspec: str, ds_type: str, root: str | None, what: str) -> Backend:
        """The datastore backend holding `what` of the task, or RunStoreError saying why none."""
        backend = self._datastore(ds_type, root)
        if backend is None:
            raise RunStoreError(
                f"the {what} of {pathspec} are in the {ds_type} datastore"
                f"{f' at {root}' if root else ''}, which the run store can't read yet"
            )
        return backend

    def _from_datastore(self, pathspec: str, ds_type: str, root: str | None, call: Any) -> Any:
        """`call()` on the datastore; its NotFoundError becomes a RunStoreError (the service
        has the task: no other backend will)."""
        try:
            return call()
        except NotFoundError as error:
            raise RunStoreError(
                f"the metadata service knows {pathspec} but the {ds_type} datastore"
                f"{f' at {root}' if root else ''} does not have it ({error}): the run may have "
                "been made on another machine, or its datastore moved"
            ) from error

    def read_blob(
        self, pathspec: str, name: str, max_bytes: int, attempt: int | None = None
    ) -> BlobData:
        """The artifact's bytes, read by the datastore backend its location names."""
        n, records = self._artifact_records(pathspec, attempt)
        record = next((r for r in records if r.get("name") == name), None)
        if record is None:
            raise ArtifactNotFoundError(f"{pathspec} has no artifact {name!r}")
        ds_type, root = artifact_location(record)
        backend = self._datastore_for(pathspec, ds_type, root, "artifact values")
        blob: BlobData = self._from_datastore(
            pathspec, ds_type, root, lambda: backend.read_blob(pathspec, name, max_bytes, n)
        )
        if record.get("sha") and blob.sha != record["sha"]:
            raise RunStoreError(
                f"the datastore holds sha {blob.sha} for {name!r} of {pathspec} but the metadata "
                f"service says {record['sha']}: they disagree about this task"
            )
        return blob

    def _task_datastore(self, pathspec: str, what: str) -> tuple[Backend, str, str | None, int]:
        flow, run_id, step, task_id = self._need_task(pathspec)
        meta = self._meta(flow, run_id, step, task_id)
        ds_type = str(meta.latest.get("ds-type") or self._config.default_datastore)
        root = none_if_empty(meta.latest.get("ds-root"))
        latest = meta.attempts[-1].attempt if meta.attempts else 0
        return self._datastore_for(pathspec, ds_type, root, what), ds_type, root, latest

    def logs(
        self,
        pathspec: str,
        stream: LogStream,
        offset: int = 0,
        limit: int | None = None,
        attempt: int | None = None,
    ) -> LogChunk:
        """A page of the task's log, read by the datastore backend (`ds-type`, `ds-root`)."""
        if stream not in ("stdout", "stderr"):
            raise RunStoreError(f"unknown log stream {stream!r}: use stdout or stderr")
        backend, ds_type, root, latest = self._task_datastore(pathspec, "logs")
        n = latest if attempt is None else attempt
        return self._from_datastore(
            pathspec, ds_type, root, lambda: backend.logs(pathspec, stream, offset, limit, n)
        )

    def cards(self, pathspec: str) -> list[CardInfo]:
        """The task's cards, from its datastore's card root."""
        backend, ds_type, root, _ = self._task_datastore(pathspec, "cards")
        return self._from_datastore(pathspec, ds_type, root, lambda: backend.cards(pathspec))

    def read_card(self, card: CardInfo, max_bytes: int) -> bytes:
        """A listed card's bytes, from its task's datastore."""
        pathspec = card.task_pathspec
        backend, ds_type, root, _ = self._task_datastore(pathspec, "cards")
        return self._from_datastore(
            pathspec, ds_type, root, lambda: backend.read_card(card, max_bytes)
        )

    # Changes: polled, not watched

    def watch_plan(self) -> WatchPlan:
        """Nothing: a service has no files to watch (see `poll`)."""
        return WatchPlan()

    def change_for_path(self, path: str) -> StoreChange | None:
        """None: no file under a watched root is the service's."""
        return None

    def invalidate(self, path: str | None = None) -> None:
        """Forget cached statuses (everything when None, else those of the run `path` names
        as a pathspec); finished tasks' metadata stays, it can't change."""
        with self._lock:
            if path is None:
                self._summaries.clear()
                self._end_steps.clear()
                return
            run = "/".join(path.strip("/").split("/")[:2])
            self._summaries.pop(run, None)

    def poll(self, flow: str, watched: Sequence[str] = ()) -> list[StoreChange]:
        """What changed since the last poll of `flow`: runs that appeared, went or changed
        (record, status), and for each watched run (`Flow/run`) its tasks that appeared or
        changed; caches of what changed are dropped. The first poll only takes a snapshot.
        `next_poll_in` then says when to poll again; RunStoreError when the service fails."""
        if self._client is None:
            return []
        try:
            changes = self._poll(flow, watched)
        except RunStoreError:
            self.backoff.after(False)
            raise
        self.backoff.after(bool(changes))
        return changes

    def _poll(self, flow: str, watched: Sequence[str]) -> list[StoreChange]:
        records = self._run_records(flow)
        now = {str(r["run_number"]): json.dumps(r, sort_keys=True, default=str) for r in records}
        before = self._poll_runs.get(flow)
        self._poll_runs[flow] = now
        changed: set[str] = set()
        if before is not None:
            changed = {r for r in now if before.get(r) != now[r]} | (before.keys() - now.keys())
        for run_id in changed:
            self.invalidate(f"{flow}/{run_id}")
        unfinished = [
            r
            for r in records[:POLL_RUNS]
            if self._poll_status.get(f"{flow}/{r['run_number']}") != "succeeded"
        ]
        for info in self._map(lambda r: self._run_info(flow, r), unfinished):
            previous = self._poll_status.get(info.pathspec)
            self._poll_status[info.pathspec] = info.status
            if previous is not None and previous != info.status:
                changed.add(info.run_id)
        changes = [StoreChange(self.name, flow, run_id) for run_id in sorted(changed)]
        for pathspec in watched:
            if pathspec.split("/")[0] == flow:
                changes.extend(self._poll_tasks_of(pathspec))
        return changes

    def _poll_tasks_of(self, pathspec: str) -> list[StoreChange]:
        flow, run_id = split_pathspec(pathspec, 2)
        before = self._poll_tasks.get(pathspec)
        if (
            before
            and self._poll_status.get(pathspec) == "succeeded"
            and all(state[0] == "succeeded" for state in before.values())
        ):
            return []  # nothing left to change
        now = {
            t.pathspec: (t.status, t.attempt, t.finished_at)
            for step in self.steps(pathspec)
            for t in step.tasks
        }
        self._poll_tasks[pathspec] = now
        if before is None:
            return []
        moved = sorted({p for p in now if before.get(p) != now[p]} | (before.keys() - now.keys()))
        return [StoreChange(self.name, flow, run_id, *p.split("/")[2:4]) for p in moved]
