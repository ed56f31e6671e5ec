"""The run store: one facade over the backends that hold a flow's runs, and file watching.

`RunStore(flow_dir)` resolves Metaflow's configuration from the flow's directory and reads the
local datastore and the spin datastore, and first the metadata service when Metaflow uses it
(METAFLOW_DEFAULT_METADATA=service: `service.py`; `poll` stands in for watching it). Other
backends plug in through `backends=`; runs are listed from the first available non-spin backend,
and a pathspec is looked up in every backend in order. Every method but `watch` blocks on I/O:
call them in a thread from an event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar

from .backend import Backend
from .config import MetaflowConfig
from .local import LocalBackend
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
)
from .s3 import S3Backend
from .service import DatastoreResolver, ServiceBackend
from .status import QUIET_GRACE_S, ProcessTable

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_BLOB_CAP = 16 * 1024 * 1024
ChangeCallback = Callable[[list[StoreChange]], Any]


class RunStore:
    """A flow's runs, steps, tasks, artifacts, logs and cards, wherever Metaflow keeps them."""

    def __init__(
        self,
        flow_dir: str | os.PathLike[str],
        config: MetaflowConfig | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        backends: Sequence[Backend] | None = None,
        quiet_grace: float = QUIET_GRACE_S,
    ) -> None:
        self.flow_dir = os.path.abspath(os.fspath(flow_dir))
        self.config = config or MetaflowConfig.resolve(self.flow_dir, environ)
        if backends is None:
            processes = ProcessTable()
            found: list[Backend] = [
                LocalBackend(self.config, kind=kind, processes=processes, quiet_grace=quiet_grace)
                for kind in ("local", "spin")
            ]
            if self.config.default_metadata == "service":
                # Runs from the service; their values, logs and cards from the datastore.
                resolver = _local_datastores(self.config, processes, environ)
                service = ServiceBackend(
                    self.config, datastore=resolver, processes=processes, quiet_grace=quiet_grace
                )
                found.insert(0, service)
            elif self.config.default_datastore == "s3":
                # `--datastore=s3` runs with local metadata: read from S3 (`s3.py`).
                s3 = S3Backend(self.config, environ=environ, processes=processes)
                found.insert(0, s3)
            backends = found
        self.backends: list[Backend] = list(backends)
        self._callbacks: list[ChangeCallback] = []

    # Where runs come from

    def notes(self) -> list[str]:
        """What the user should know about where runs are read from (config problems included)."""
        notes = list(self.config.errors)
        if self.config.default_metadata not in ("local", "service"):
            notes.append(
                f"METAFLOW_DEFAULT_METADATA is {self.config.default_metadata!r} "
                f"({self.config.source('METAFLOW_DEFAULT_METADATA')}): runs recorded by the "
                "metadata service are not shown yet, only the local datastore's."
            )
        for backend in self.backends:
            if not backend.available() and backend.name != "spin":
                notes.append(backend.describe())
        return notes

    def _primary(self) -> Backend | None:
        runs = [b for b in self.backends if b.name != "spin"]
        return next((b for b in runs if b.available()), runs[0] if runs else None)

    def _backend(self, name: str) -> Backend | None:
        return next((b for b in self.backends if b.name == name), None)

    def _first(self, pathspec: str, what: str, call: Callable[[Backend], T]) -> T:
        for backend in self.backends:
            try:
                return call(backend)
            except ArtifactNotFoundError:
                raise  # the backend has the task: no other one will
            except NotFoundError:
                continue
        places = "; ".join(b.describe() for b in self.backends)
        raise NotFoundError(f"no {what} {pathspec} ({places})")

    # Runs

    def flows(self) -> list[str]:
        """Flow names with runs in any backend."""
        names: set[str] = set()
        for backend in self.backends:
            names.update(backend.flows())
        return sorted(names)

    def list_runs(
        self,
        flow: str,
        user: str | None = None,
        tag: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[RunInfo], str | None]:
        """Runs of `flow`, newest first, and the cursor of the next page (None at the end)."""
        backend = self._primary()
        if backend is None:
            return [], None
        return backend.list_runs(
            flow, user=user, tag=tag, status=status, limit=limit, cursor=cursor
        )

    def spin_runs(
        self, flow: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[RunInfo], str | None]:
        """Results of `python flow.py spin ... --persist`, newest first."""
        backend = self._backend("spin")
        if backend is None:
            return [], None
        return backend.list_runs(flow, limit=limit, cursor=cursor)

    def get_run(self, pathspec: str) -> RunInfo:
        """One run (`Flow/run`), from whichever backend has it."""
        return self._first(pathspec, "run", lambda b: b.get_run(pathspec))

    def steps(self, pathspec: str, light: bool = False) -> list[StepInfo]:
        """A run's steps and tasks with status, attempts, timings and foreach index (`light`:
        status, attempts and timings only, where a backend reads that much faster — a
        timeline, a status lens; see `DatastoreBackend.steps`)."""
        return self._first(pathspec, "run", lambda b: b.steps(pathspec, light))

    def latest_run(self, flow: str, status: RunStatus | None = None) -> RunInfo | None:
        """The newest run of `flow` (by creation, never `latest_run`), optionally by status."""
        runs, _ = self.list_runs(flow, status=status, limit=1)
        return runs[0] if runs else None

    def latest_task(self, flow: str, step: str, max_runs: int = 200) -> TaskInfo | None:
        """The newest task of `step` in the newest run that has one (up to `max_runs` back)."""
        backend = self._primary()
        run_ids = getattr(backend, "run_ids_newest_first", None)
        task_ids = getattr(backend, "step_task_ids", None)
        if backend is not None and run_ids is not None and task_ids is not None:
            # A datastore lists a step's tasks without reading the run's other tasks.
            for run_id in run_ids(flow, max_runs):
                ids = task_ids(f"{flow}/{run_id}", step)
                if ids:
                    tasks = [backend.get_task(f"{flow}/{run_id}/{step}/{t}") for t in ids[-8:]]
                    return max(tasks, key=_created_key)
            return None
        cursor: str | None = None
        seen = 0
        while seen < max_runs:
            runs, cursor = self.list_runs(flow, limit=min(50, max_runs - seen), cursor=cursor)
            for run in runs:
                for step_info in self.steps(run.pathspec):
                    if step_info.step == step and step_info.tasks:
                        newest = max(step_info.tasks, key=_created_key)
                        return self.get_task(newest.pathspec)
            seen += len(runs)
            if cursor is None or not runs:
                return None
        return None

    def step_task_sample(
        self, run_pathspec: str, step: str, limit: int, spin: bool = False
    ) -> tuple[list[TaskInfo], int]:
        """The first `limit` tasks of one step of a run (by id) and how many it has, without
        reading the run's other tasks where the backend can list one step (a datastore)."""

        def call(backend: Backend) -> tuple[list[TaskInfo], int]:
            ids_of = getattr(backend, "step_task_ids", None)
            if ids_of is None:
                info = next((s for s in backend.steps(run_pathspec) if s.step == step), None)
                return (list(info.tasks), len(info.tasks)) if info is not None else ([], 0)
            ids = ids_of(run_pathspec, step)
            tasks = [backend.get_task(f"{run_pathspec}/{step}/{t}") for t in ids[:limit]]
            return tasks, len(ids)

        if spin:
            spin_backend = self._backend("spin")
            return call(spin_backend) if spin_backend is not None else ([], 0)
        return self._first(run_pathspec, "run", call)

    # Tasks

    def get_task(self, pathspec: str) -> TaskInfo:
        """One task (`Flow/run/step/task`) with attempts, origin and all its metadata."""
        return self._first(pathspec, "task", lambda b: b.get_task(pathspec))

    def artifacts(self, task_pathspec: str, attempt: int | None = None) -> list[ArtifactInfo]:
        """The task's artifacts (name, sha, type, size, encoding); values are not loaded."""
        return self._first(task_pathspec, "task", lambda b: b.artifacts(task_pathspec, attempt))

    def read_blob(
        self,
        task_pathspec: str,
        name: str,
        max_bytes: int = DEFAULT_BLOB_CAP,
        attempt: int | None = None,
    ) -> BlobData:
        """The decompressed bytes (a pickle: never unpickled here) of one artifact, capped."""
        return self._first(
            task_pathspec, "task", lambda b: b.read_blob(task_pathspec, name, max_bytes, attempt)
        )

    def logs(
        self,
        task_pathspec: str,
        stream: LogStream = "stdout",
        offset: int = 0,
        limit: int | None = None,
        attempt: int | None = None,
    ) -> LogChunk:
        """A page of a task's log lines, MFLOG prefixes stripped (negative offset: the tail)."""
        return self._first(
            task_pathspec,
            "task",
            lambda b: b.logs(task_pathspec, stream, offset, limit, attempt),
        )

    def cards(self, task_pathspec: str) -> list[CardInfo]:
        """The task's HTML card files."""
        return self.cards_with_backend(task_pathspec)[1]

    def cards_with_backend(self, task_pathspec: str) -> tuple[Backend, list[CardInfo]]:
        """The task's cards and the backend that lists (and reads) them."""
        for backend in self.backends:
            try:
                backend.get_task(task_pathspec)
            except NotFoundError:
                continue
            return backend, backend.cards(task_pathspec)
        raise NotFoundError(f"no task {task_pathspec}")

    def read_card(
        self, task_pathspec: str, card_hash: str, max_bytes: int
    ) -> tuple[CardInfo, bytes]:
        """The task's card with this hash and its bytes (up to `max_bytes` + 1), wherever the
        datastore keeps it (a local file, S3). Only a card the store lists is read: the path
        never comes from the caller."""
        backend, cards = self.cards_with_backend(task_pathspec)
        card = next((c for c in cards if c.hash == card_hash), None)
        if card is None:
            listed = ", ".join(f"{c.type} {c.hash[:12]}" for c in cards) or "none"
            raise NotFoundError(
                f"task {task_pathspec} has no card {card_hash!r} (it has: {listed})"
            )
        return card, backend.read_card(card, max_bytes)

    # Watching

    def poll(self, flow: str, watched: Sequence[str] = ()) -> list[StoreChange]:
        """Changes in the backends that can't be watched (the metadata service, S3) since the last
        poll of `flow`, with `watched` runs (`Flow/run`) checked task by task. Call it in a
        thread while a view needs it, every `next_poll_in()` seconds; RunStoreError when the
        service fails (the delay grows)."""
        changes: list[StoreChange] = []
        for backend in self.backends:
            if isinstance(backend, (ServiceBackend, S3Backend)) and backend.available():
                changes.extend(backend.poll(flow, watched))
        return changes

    def next_poll_in(self) -> float | None:
        """Seconds until `poll` is worth calling again (None: no backend needs polling)."""
        delays = [
            b.next_poll_in
            for b in self.backends
            if isinstance(b, (ServiceBackend, S3Backend)) and b.available()
        ]
        return min(delays) if delays else None

    def on_change(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call `callback(changes)` for each batch `run_watcher` sees; returns an unsubscribe."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    async def run_watcher(self, stop_event: asyncio.Event | None = None) -> None:
        """Watch until `stop_event` is set (or the task is cancelled), calling the callbacks."""
        async for changes in self.watch(stop_event=stop_event):
            for callback in list(self._callbacks):
                try:
                    result = callback(changes)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:
                    log.exception("run store change callback failed for %s", changes)

    async def watch(
        self,
        *,
        stop_event: asyncio.Event | None = None,
        debounce_ms: int = 100,
        poll_ms: int = 500,
    ) -> AsyncIterator[list[StoreChange]]:
        """Batches of changes in the datastores, caches already invalidated.

        What is watched is the backends' `WatchPlan`: the datastore roots and flow directories
        flat, the runs in flight deep. Before the first run there is no `.metaflow`: the flow's
        directory is watched (flat) until one appears. The plan is made again when a new
        directory appears in a flat one (a run starts), when something changes in a deep one
        (a run may have ended) and every `REPLAN_S` seconds; when it differs the watchers
        restart, and the runs (or flows, for new roots) they did not watch before are reported
        as changed, since files written meanwhile were not seen.
        """
        stop = stop_event or asyncio.Event()
        plan = await asyncio.to_thread(self.watch_plan)
        while not stop.is_set():
            flat = sorted(plan.flat) or ([self.flow_dir] if os.path.isdir(self.flow_dir) else [])
            if not flat:
                await _wait(stop, poll_ms / 1000)
                plan = await asyncio.to_thread(self.watch_plan)
                continue
            async for item in self._watch_plan_once(plan, flat, stop, debounce_ms, poll_ms):
                if isinstance(item, WatchPlan):
                    old, plan = plan, item
                    fresh = await asyncio.to_thread(self._after_replan, old, plan)
                    if fresh:
                        yield fresh
                    break
                yield item

    async def _watch_plan_once(
        self,
        plan: WatchPlan,
        flat: list[str],
        stop: asyncio.Event,
        debounce_ms: int,
        poll_ms: int,
    ) -> AsyncIterator[list[StoreChange] | WatchPlan]:
        """Changes under one plan, until `stop` or a different plan (yielded last)."""
        from watchfiles import awatch

        local_stop = asyncio.Event()
        queue: asyncio.Queue[set[tuple[Any, str]]] = asyncio.Queue()

        async def pump(paths: list[str], recursive: bool) -> None:
            async for batch in awatch(
                *paths,
                watch_filter=None,
                recursive=recursive,
                debounce=debounce_ms,
                step=50,
                rust_timeout=poll_ms,
                yield_on_timeout=True,
                stop_event=local_stop,
            ):
                if batch:
                    queue.put_nowait(batch)

        async def relay_stop() -> None:
            await stop.wait()
            local_stop.set()

        tasks = [asyncio.create_task(pump(flat, False)), asyncio.create_task(relay_stop())]
        if plan.deep:
            tasks.append(asyncio.create_task(pump(sorted(plan.deep), True)))
        loop = asyncio.get_running_loop()
        planned = loop.time()
        try:
            while not local_stop.is_set():
                try:
                    batch = await asyncio.wait_for(queue.get(), poll_ms / 1000)
                except asyncio.TimeoutError:
                    batch = set()
                failed = [t for t in tasks if t.done() and not t.cancelled() and t.exception()]
                if failed:
                    # A watched directory vanished between the plan and the watch (a run
                    # deleted): plan again and restart, rather than stop watching.
                    log.info("a watcher stopped (%s); planning again", failed[0].exception())
                    await _wait(stop, poll_ms / 1000)
                    yield await asyncio.to_thread(self.watch_plan)
                    return
                paths = [path for _, path in batch]
                changes = self._changes(paths)
                if changes:
                    yield changes
                wait = _may_change(plan, flat, paths)
                since = loop.time() - planned
                if since >= REPLAN_S or (wait is not None and since >= wait):
                    planned = loop.time()
                    fresh = await asyncio.to_thread(self.watch_plan)
                    if fresh != plan:
                        yield fresh
                        return
        finally:
            local_stop.set()
            for task in tasks:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def watch_plan(self) -> WatchPlan:
        """What the backends want watched now (blocks on I/O)."""
        plan = WatchPlan()
        for backend in self.backends:
            try:
                plan = plan | backend.watch_plan()
            except RunStoreError as error:
                log.info("cannot plan watching %s: %s", backend.describe(), error)
        return plan

    def _after_replan(self, old: WatchPlan, new: WatchPlan) -> list[StoreChange]:
        """What the watchers may have missed while the plan changed: with new flat
        directories (a datastore appeared), every flow; else the newly watched runs."""
        if new.flat - old.flat:
            for backend in self.backends:
                backend.invalidate()
            return [
                StoreChange(b.name, flow, kind="flow") for b in self.backends for flow in b.flows()
            ]
        return self._changes(sorted(new.deep - old.deep))

    def _changes(self, paths: Any) -> list[StoreChange]:
        out: dict[tuple[Any, ...], StoreChange] = {}
        for path in paths:
            for backend in self.backends:
                change = backend.change_for_path(path)
                if change is None:
                    continue
                backend.invalidate(path)
                key = (change.source, change.kind, change.pathspec)
                out.setdefault(key, change)
        return sorted(out.values(), key=lambda c: (c.source, c.kind, c.pathspec))


def _local_datastores(
    config: MetaflowConfig, processes: ProcessTable, environ: Mapping[str, str] | None = None
) -> DatastoreResolver:
    """The local or S3 datastore at the root a service run names."""
    opened: dict[str | None, Backend] = {}

    def resolve(ds_type: str, root: str | None) -> Backend | None:
        if ds_type not in ("local", "s3"):
            return None
        if root not in opened:
            opened[root] = (
                S3Backend(config, root=root, environ=environ, processes=processes)
                if ds_type == "s3"
                else LocalBackend(config, root=root, processes=processes)
            )
        return opened[root]

    return resolve


def _created_key(task: TaskInfo) -> tuple[float, str]:
    return (task.created_at.timestamp() if task.created_at else 0.0, task.task_id)


REPLAN_S = 10.0  # the watch plan is looked at again at least this often
REPLAN_LIVE_S = 1.0  # and at most this often while only runs in flight change


def _may_change(plan: WatchPlan, flat: list[str], paths: list[str]) -> float | None:
    """How soon after the last plan changed `paths` call for a new one: at once for a new
    entry in a flat directory (a flow, a run, a card directory), after `REPLAN_LIVE_S` for a
    change in a run in flight (it may have ended); None when they don't."""
    watched = set(flat)
    soonest: float | None = None
    for path in paths:
        if os.path.dirname(path) in watched:
            return 0.0
        if soonest is None and any(path.startswith(d + os.sep) for d in plan.deep):
            soonest = REPLAN_LIVE_S
    return soonest


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
