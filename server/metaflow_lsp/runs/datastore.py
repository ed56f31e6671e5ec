"""Metaflow's datastore layout, read-only, over any `Storage` (a local directory or S3).

Layout under the root (see `datastore_task.py` for a task directory):

    <Flow>/_meta/_self.json                 the flow's registration
    <Flow>/latest_run                       NOT trusted: `spin` overwrites it with its own run id
    <Flow>/<run>/_meta/_self.json           user, tags, system tags, ts_epoch (creation)
    <Flow>/<run>/_parameters/0/             the parameters task; its `end_step` metadata names
                                            the end step
    <Flow>/<run>/<step>/_meta/_self.json    the step's registration
    <Flow>/<run>/<step>/<task>/             one task
    <Flow>/data/<sha[:2]>/<sha>             content-addressed artifact blobs

Every `_meta` directory is written by Metaflow's local metadata provider, which always writes to
the local `.metaflow`. A datastore whose metadata lives elsewhere (`metadata_in_datastore`
False: every S3 datastore) has the same tree without `_meta`: its runs are the run directories,
their creation time is the run id (local metadata's ids are creation times in microseconds) or
the `_parameters` task's start, and user, tags, foreach positions and resume origins are not
known from the datastore alone. Runs are ordered by their creation time, newest first.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from .backend import decode_cursor, encode_cursor, split_pathspec
from .datastore_task import TaskFiles, TaskReader, none_if_empty, page
from .files import Memo
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
    TaskInfo,
    utc_from_ms,
    utc_from_s,
)
from .status import QUIET_GRACE_S, ProcessTable, TaskState, run_status, step_status
from .storage import Storage, StorageUnavailableError, names, parallel_map, read_json

NOT_RUNS = frozenset({"data", "_meta", "latest_run"})
_NOT_FLOWS = frozenset({"mf.cards", "data"})  # the card root and datatools' default S3 root
_IMMUTABLE = "immutable"
_FAR = utc_from_s(4102444800)  # 2100: steps without a known start sort last
_FINISHED_TASKS_KEPT = 20_000  # TaskInfos of succeeded tasks kept (a few hundred bytes each)
_LIGHT_TASKS_KEPT = 60_000  # tasks of succeeded runs kept by `steps(light=True)`, newest used


@dataclass(frozen=True, slots=True)
class RunEntry:
    """What a run's `_meta/_self.json` says (or its id, without one): enough to sort and filter."""

    run_id: str
    created_ms: float
    user: str | None
    tags: tuple[str, ...]
    system_tags: tuple[str, ...]
    errors: tuple[str, ...]


_ID_SLACK_MS = 100.0  # a run id's time and its `_self.json` time: registered together (~1 ms)


class _Unordered(Exception):
    """A run whose id is not its creation time: the ids can't order the runs."""


class _Desc(str):
    """A run id that sorts in reverse (ties of creation time: the larger id first)."""

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)


def created_ms_from_run_id(run_id: str) -> float | None:
    """A run's creation time from its id: local metadata's ids are epoch microseconds."""
    if run_id.isdigit() and 13 <= len(run_id) <= 19:
        return int(run_id) / 1000.0
    return None


class DatastoreBackend:
    """Runs in one Metaflow datastore; subclasses say where its root is (`LocalBackend`,
    `S3Backend`)."""

    log_note: str | None = None  # what `logs` says while an attempt's log is not written yet

    def __init__(
        self,
        storage: Storage,
        *,
        name: str,
        metadata_in_datastore: bool,
        spin: bool = False,
        processes: ProcessTable | None = None,
        quiet_grace: float = QUIET_GRACE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name: str = name
        self.storage = storage
        self.metadata_in_datastore = metadata_in_datastore
        self.spin = spin
        self._memo = Memo(max_entries=30_000)  # a 10,000-task run read in full: ~70,000 files
        self._tasks = TaskReader(storage, self._memo)
        self._finished_tasks: dict[tuple[str, str | None], TaskInfo] = {}
        self._light_runs: OrderedDict[tuple[str, str | None], tuple[StepInfo, ...]] = OrderedDict()
        self._light_tasks = 0
        self._unordered: dict[str, object] = {}  # flow -> its directory's version then
        self._light_lock = threading.Lock()
        self._processes = processes or ProcessTable()
        self.quiet_grace = quiet_grace
        self._clock = clock

    # Where: overridden

    def root(self) -> str | None:
        """The datastore's root, or None while it does not exist."""
        raise NotImplementedError

    def card_root(self) -> str | None:
        """Where this datastore's cards are."""
        raise NotImplementedError

    def available(self) -> bool:
        """Whether the datastore exists (or is configured)."""
        return self.root() is not None

    def describe(self) -> str:
        """Where runs are read from, for messages."""
        return f"{self.name} datastore {self.root()}"

    def _need_root(self) -> str:
        root = self.root()
        if root is None:
            raise NotFoundError(self.describe())
        return root

    def _join(self, *parts: str) -> str:
        return self.storage.join(*parts)

    def _is_dir(self, path: str) -> bool:
        try:
            entry = self.storage.stat(path)
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError:
            return False
        return entry is not None and entry.is_dir

    def _exists(self, path: str) -> bool | None:
        """Whether `path` exists; None when an error hides the answer."""
        try:
            return self.storage.stat(path) is not None
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError:
            return None

    def _mtime(self, path: str) -> float | None:
        try:
            entry = self.storage.stat(path)
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError:
            return None
        return entry.mtime if entry else None

    # Flows and runs

    def flows(self) -> list[str]:
        """Flow names with a directory in the datastore."""
        root = self.root()
        if root is None:
            return []
        dirs = self.flow_dirs()
        if not self.metadata_in_datastore:
            return dirs
        return [n for n in dirs if self._exists(self._join(root, n, "_meta", "_self.json"))]

    def flow_dirs(self) -> list[str]:
        """The directories under the root that may hold a flow's runs (cheap: one listing)."""
        root = self.root()
        if root is None:
            return []
        return [n for n in names(self.storage.list(root), dirs=True) if n not in _NOT_FLOWS]

    def live_run_ids(self, flow: str, newest: int = 20) -> list[str]:
        """Runs whose files may still change: those of the newest `newest` that are running,
        and run directories not registered yet (no `_meta/_self.json`: being created)."""
        out = [
            r
            for r in self._run_ids(flow)
            if self._exists(self._join(self._flow_dir(flow), r, "_meta", "_self.json")) is False
        ]
        for entry in self._newest_entries(flow, newest):
            try:
                if self._run_info(flow, entry).status == "running":
                    out.append(entry.run_id)
            except StorageUnavailableError:
                raise  # nothing of this storage can be read: say so, not per file
            except RunStoreError:
                continue  # unreadable now; a later change to it is seen through its flow
        return out

    def _run_ids(self, flow: str) -> list[str]:
        flow_dir = self._join(self._need_root(), flow)
        # A run directory without `_meta` yet is one being created: `_entry` skips it.
        return [n for n in names(self.storage.list(flow_dir), dirs=True) if n not in NOT_RUNS]

    def _entry(self, flow: str, run_id: str) -> RunEntry | None:
        run_dir = self._join(self._need_root(), flow, run_id)
        if not self.metadata_in_datastore:
            return self._entry_without_meta(run_dir, run_id)
        path = self._join(run_dir, "_meta", "_self.json")
        try:
            version = self.storage.version(path)
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError:  # can't even look: report the run rather than hide it
            return self._read_entry(run_id, path)
        if version is None:
            if self._exists(path) is None:  # can't even look: report the run, don't hide it
                return self._read_entry(run_id, path)
            return None  # being created: Metaflow writes `_meta` then `_self.json`
        return self._memo.get(("entry", path), version, lambda: self._read_entry(run_id, path))

    def _read_entry(self, run_id: str, path: str) -> RunEntry:
        try:
            own = read_json(self.storage, path)  # not immutable: tag changes rewrite it
            if not isinstance(own, dict):
                raise RunStoreError(f"{path} holds {type(own).__name__}, not a JSON object")
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError as error:
            created = created_ms_from_run_id(run_id)
            if created is None:
                created = (self._mtime(path) or 0.0) * 1000.0
            return RunEntry(run_id, created, None, (), (), (f"{error}; user and tags unknown",))
        return RunEntry(
            run_id=run_id,
            created_ms=float(own.get("ts_epoch") or 0),
            user=own.get("user_name"),
            tags=tuple(str(t) for t in own.get("tags") or ()),
            system_tags=tuple(str(t) for t in own.get("system_tags") or ()),
            errors=(),
        )

    def _entry_without_meta(self, run_dir: str, run_id: str) -> RunEntry | None:
        """A run known only from its directory: created when its id says, else when its
        `_parameters` task started (the first file a run writes); None before that."""
        cached = self._memo.lookup(("entry", run_dir), _IMMUTABLE)
        if cached is not None:
            return cached
        created = created_ms_from_run_id(run_id)
        if created is None:
            path = self._join(run_dir, "_parameters", "0", "0.attempt.json")
            try:
                record = self._tasks.read_immutable(path)
            except NotFoundError:
                return None
            except StorageUnavailableError:
                raise  # nothing of this storage can be read: say so, not per file
            except RunStoreError as error:
                return RunEntry(run_id, 0.0, None, (), (), (str(error),))
            when = record.get("time") if isinstance(record, dict) else None
            created = float(when) * 1000.0 if isinstance(when, (int, float)) else 0.0
        entry = RunEntry(run_id, created, None, (), (), ())
        self._memo.put(("entry", run_dir), _IMMUTABLE, entry)
        return entry

    def _entries(self, flow: str) -> list[RunEntry]:
        # A new run adds a directory, which changes the flow directory's version; other
        # changes (a tag rewriting `_self.json`) reach us through the watcher clearing the memo.
        if self.storage.kind != "local":
            return self._read_entries(flow)[0]  # remote listings are cached by the storage
        flow_dir = self._join(self._need_root(), flow)
        key, sig = ("entries", flow_dir), self.storage.version(flow_dir)
        cached = self._memo.lookup(key, sig)
        if cached is not None:
            return list(cached)
        entries, complete = self._read_entries(flow)
        if complete:  # a run still being created (no `_self.json` yet) is looked at again
            self._memo.put(key, sig, tuple(entries))
        return entries

    def _read_entries(self, flow: str) -> tuple[list[RunEntry], bool]:
        run_ids = self._run_ids(flow)
        if self.metadata_in_datastore or any(created_ms_from_run_id(r) is None for r in run_ids):
            found = parallel_map(self.storage, lambda r: self._entry(flow, r), run_ids)
        else:  # every creation time is in the ids: nothing to read
            found = [self._entry(flow, r) for r in run_ids]
        entries = [e for e in found if e is not None]
        entries.sort(key=lambda e: (e.created_ms, e.run_id), reverse=True)
        return entries, len(entries) == len(found)

    def _entry_stream(
        self, flow: str, after: tuple[float, str] | None = None
    ) -> Iterator[RunEntry]:
        """The flow's runs newest first (by `(created_ms, run_id)`, after `after`), reading
        each run's `_meta/_self.json` only when it is reached: a first page of 10,000 runs
        reads about a page of them. Local metadata's run ids are creation times (µs) within a
        moment of `_self.json`'s `ts_epoch`, so runs are taken in id order and sorted within
        `_ID_SLACK_MS`; `_Unordered` when a run met on the way breaks that (the caller starts
        again: every run is then read). A run whose id is much older than its registration
        and that is not met (Metaflow's runtime never writes one) keeps its id's place.
        Without such ids (a datastore without `_meta`, other id schemes) every run is read."""
        timed = [(created_ms_from_run_id(r), r) for r in self._run_ids(flow)]
        if (
            self.storage.kind != "local"
            or not self.metadata_in_datastore
            or any(t is None for t, _ in timed)
            or self._unordered.get(flow) == self.storage.version(self._flow_dir(flow))
        ):
            for entry in self._entries(flow):
                if after is None or (entry.created_ms, entry.run_id) < after:
                    yield entry
            return
        ordered = sorted(((t, r) for t, r in timed if t is not None), reverse=True)
        held: list[tuple[float, str, RunEntry]] = []  # a heap, newest first (negated keys)
        for id_ms, run_id in ordered:
            if after is not None and id_ms > after[0] + _ID_SLACK_MS:
                continue  # well before the cursor's run in the order
            while held and -held[0][0] > id_ms + _ID_SLACK_MS:
                yield heapq.heappop(held)[2]  # no run still to come can be newer
            found = self._entry(flow, run_id)
            if found is None:
                continue
            if abs(found.created_ms - id_ms) > _ID_SLACK_MS:
                self._unordered[flow] = self.storage.version(self._flow_dir(flow))
                raise _Unordered(run_id)
            if after is None or (found.created_ms, found.run_id) < after:
                heapq.heappush(held, (-found.created_ms, _Desc(found.run_id), found))
        while held:
            yield heapq.heappop(held)[2]

    def _flow_dir(self, flow: str) -> str:
        return self._join(self._need_root(), flow)

    def _newest_entries(self, flow: str, limit: int) -> list[RunEntry]:
        try:
            return list(itertools.islice(self._entry_stream(flow), limit))
        except _Unordered:  # now known: the stream reads every run
            return list(itertools.islice(self._entry_stream(flow), limit))

    def run_ids_newest_first(self, flow: str, limit: int) -> list[str]:
        """The newest `limit` run ids by creation, without reading any task (cheap)."""
        if self.root() is None:
            return []
        return [e.run_id for e in self._newest_entries(flow, limit)]

    def step_task_ids(self, run_pathspec: str, step: str) -> list[str]:
        """The task ids of one step of a run, without reading the tasks (cheap)."""
        flow, run_id = split_pathspec(run_pathspec, 2)
        return self._task_ids(self._join(self._need_root(), flow, run_id, step))

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
        """Runs newest first, filtered by user, tag (user or system) and status, paged (a
        remote datastore's runs are read a page at a time, in parallel)."""
        if self.root() is None:
            return [], None
        after = decode_cursor(cursor)
        try:
            return self._page(flow, self._entry_stream(flow, after), user, tag, status, limit)
        except _Unordered:  # now known: the stream reads every run
            return self._page(flow, self._entry_stream(flow, after), user, tag, status, limit)

    def _page(
        self,
        flow: str,
        entries: Iterator[RunEntry],
        user: str | None,
        tag: str | None,
        status: RunStatus | None,
        limit: int,
    ) -> tuple[list[RunInfo], str | None]:
        runs: list[RunInfo] = []
        batch_size = max(1, limit) if self.storage.remote else 1
        while True:
            batch = list(itertools.islice(entries, batch_size))
            if not batch:
                return runs, None
            wanted = [
                e
                for e in batch
                if (user is None or e.user == user)
                and (tag is None or tag in e.tags or tag in e.system_tags)
            ]
            infos = parallel_map(self.storage, lambda e: self._run_info(flow, e), wanted)
            for entry, info in zip(wanted, infos, strict=True):
                if status is not None and info.status != status:
                    continue
                runs.append(info)
                if len(runs) >= limit:
                    more = batch[-1] is not entry or next(entries, None) is not None
                    return runs, (encode_cursor(entry.created_ms, entry.run_id) if more else None)

    def get_run(self, pathspec: str) -> RunInfo:
        """One run, NotFoundError when absent."""
        flow, run_id = split_pathspec(pathspec, 2)
        entry = None
        if self.metadata_in_datastore or self._is_dir(self._join(self._need_root(), flow, run_id)):
            entry = self._entry(flow, run_id)
        if entry is None:
            raise NotFoundError(f"no run {pathspec} in the {self.describe()}")
        return self._run_info(flow, entry)

    def _run_info(self, flow: str, entry: RunEntry) -> RunInfo:
        run_dir = self._join(self._need_root(), flow, entry.run_id)
        errors = list(entry.errors)
        end_step = self._end_step(run_dir, errors)
        unread: list[str] = []
        try:
            states, end_finished = self._run_states(run_dir, end_step, errors, unread)
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError as error:
            errors.append(str(error))
            states, end_finished = None, None
        last = max([self.storage.last_write(run_dir) or 0.0] + [s.last_write for s in states or ()])
        status: RunStatus
        if states is None:
            status = "unknown"
        else:
            status = run_status(
                states,
                end_step,
                spin=self.spin,
                alive=lambda: self._processes.is_alive(entry.run_id),
                last_activity=last,
                now=self._clock(),
                quiet_grace=self.quiet_grace,
            )
            if unread and status in ("running", "stale"):
                status = "unknown"  # the tasks that could not be read may have ended
        finished = None
        if status == "succeeded":
            finished = end_finished or self._latest_finish(run_dir, states or [])
        elif status == "failed":
            finished = self._latest_finish(run_dir, states or [])
        return RunInfo(
            flow=flow,
            run_id=entry.run_id,
            pathspec=f"{flow}/{entry.run_id}",
            status=status,
            user=entry.user,
            tags=entry.tags,
            system_tags=entry.system_tags,
            started_at=utc_from_ms(entry.created_ms),
            finished_at=finished,
            last_activity=utc_from_s(last) if last else None,
            origin_run_id=self._origin_run_id(run_dir),
            end_step=end_step,
            source=self.name,
            errors=tuple(dict.fromkeys(errors)),
        )

    def _end_step(self, run_dir: str, errors: list[str]) -> str:
        """The end step's name, from the `_parameters` task's `end_step` metadata."""
        if not self.metadata_in_datastore:
            return "end"  # the metadata is elsewhere: Metaflow's default name
        meta = self._join(run_dir, "_parameters", "0", "_meta")
        try:
            files = self._tasks.scan(self._join(run_dir, "_parameters", "0"))
            entries = files.sysmeta.get("end_step")
            if entries:
                record = self._tasks.read_immutable(self._join(meta, entries[-1][1]))
                if isinstance(record, dict) and record.get("value"):
                    return str(record["value"])
        except NotFoundError:
            pass  # not written yet, or an older Metaflow: Metaflow's default name
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError as error:
            errors.append(f"{error}; assuming the end step is `end`")
        return "end"

    def _origin_run_id(self, run_dir: str) -> str | None:
        """The run a resumed run started from (every task records it as `origin-run-id`)."""
        if not self.metadata_in_datastore:
            return None
        for step in self._step_names(run_dir, quiet=True):
            step_dir = self._join(run_dir, step)
            for task_id in self._task_ids(step_dir):
                try:
                    files = self._tasks.scan(self._join(step_dir, task_id))
                    records = self._tasks.sysmeta_records(files, "origin-run-id")
                except StorageUnavailableError:
                    raise  # nothing of this storage can be read: say so, not per file
                except RunStoreError:
                    continue
                if records:
                    return none_if_empty(records[-1].get("value"))
        return None

    def _step_names(self, run_dir: str, quiet: bool = False) -> list[str]:
        try:
            entries = self.storage.list(run_dir)
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError:
            if quiet:
                return []
            raise
        return [n for n in names(entries, dirs=True) if not n.startswith("_")]

    def _task_ids(self, step_dir: str, strict: bool = False) -> list[str]:
        try:
            entries = self.storage.list(step_dir)
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError:
            if strict:
                raise
            return []
        ids = [n for n in names(entries, dirs=True) if n != "_meta"]
        return sorted(ids, key=lambda t: (0, int(t), t) if t.isdigit() else (1, 0, t))

    def _prefetch(self, path: str) -> None:
        """Let a remote storage list the whole tree under `path` at once."""
        prefetch = getattr(self.storage, "prefetch", None)
        if prefetch is not None:
            prefetch(path)

    def _run_states(
        self, run_dir: str, end_step: str, errors: list[str], unread: list[str]
    ) -> tuple[list[TaskState], datetime | None]:
        """Task states of a run; a succeeded end task alone settles it (the common case).
        Tasks (or steps) that can't be read are named in `errors` and in `unread`."""
        end_dir = self._join(run_dir, end_step)
        if not self.spin:
            self._prefetch(end_dir)
        if not self.spin and self._task_ids(end_dir):
            end_states = list(self._step_states(end_step, end_dir, errors, []))
            if any(s.ok for s in end_states):
                return end_states, self._end_finish(end_dir)
        self._prefetch(run_dir)
        states: list[TaskState] = []
        for step in self._step_names(run_dir):
            states.extend(self._step_states(step, self._join(run_dir, step), errors, unread))
        return states, None

    def _step_states(
        self, step: str, step_dir: str, errors: list[str], unread: list[str]
    ) -> Iterator[TaskState]:
        try:
            task_ids = self._task_ids(step_dir, strict=True)
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError as error:
            errors.append(str(error))
            unread.append(step_dir)
            return

        def state(task_id: str) -> TaskState | str:
            try:
                files = self._tasks.scan(self._join(step_dir, task_id))
                return self._tasks.task_state(step, task_id, files, errors)
            except StorageUnavailableError:
                raise  # nothing of this storage can be read: say so, not per file
            except RunStoreError as error:
                return str(error)

        for result in parallel_map(self.storage, state, task_ids):
            if isinstance(result, str):
                errors.append(result)
                unread.append(result)
            else:
                yield result

    def _latest_finish(self, run_dir: str, states: list[TaskState]) -> datetime | None:
        """When the last ended task ended (as Metaflow's Task.finished_at)."""
        ends = []
        for state in states:
            if state.ok is None:
                continue
            try:
                files = self._tasks.scan(self._join(run_dir, state.step, state.task_id))
                ends.append(self._tasks.latest_finish(files))
            except StorageUnavailableError:
                raise  # nothing of this storage can be read: say so, not per file
            except RunStoreError:
                ends.append(utc_from_ms(state.finished_ms))
        known = [e for e in ends if e is not None]
        return max(known) if known else None

    def _end_finish(self, end_dir: str) -> datetime | None:
        for task_id in self._task_ids(end_dir):
            try:
                finished = self._tasks.latest_finish(self._tasks.scan(self._join(end_dir, task_id)))
            except StorageUnavailableError:
                raise  # nothing of this storage can be read: say so, not per file
            except RunStoreError:
                continue
            if finished:
                return finished
        return None

    # Steps and tasks

    def steps(self, pathspec: str, light: bool = False) -> list[StepInfo]:
        """A run's steps (Metaflow's `_parameters` left out) with their tasks, oldest first.
        `light`: tasks as a timeline or a status lens needs them, from their listings (see
        `TaskReader.light_info`): no creation time, user or foreach position; a run that
        succeeded is read once and kept."""
        flow, run_id = split_pathspec(pathspec, 2)
        run_dir = self._join(self._need_root(), flow, run_id)
        if not self._is_dir(run_dir):
            raise NotFoundError(f"no run {pathspec} in the {self.describe()}")
        self._prefetch(run_dir)
        origin = self._origin_run_id(run_dir)
        succeeded = light and self._succeeded(run_dir)
        if succeeded:
            with self._light_lock:
                kept = self._light_runs.get((run_dir, origin))
                if kept is not None:
                    self._light_runs.move_to_end((run_dir, origin))
                    return list(kept)
        out = []
        for step in self._step_names(run_dir):
            step_dir = self._join(run_dir, step)
            errors: list[str] = []
            created = None
            if self.metadata_in_datastore:
                try:
                    own = self._tasks.read_immutable(self._join(step_dir, "_meta", "_self.json"))
                    created = utc_from_ms(own.get("ts_epoch")) if isinstance(own, dict) else None
                except StorageUnavailableError:
                    raise  # nothing of this storage can be read: say so, not per file
                except RunStoreError as error:
                    errors.append(str(error))
            try:
                task_ids = self._task_ids(step_dir, strict=True)
            except StorageUnavailableError:
                raise  # nothing of this storage can be read: say so, not per file
            except RunStoreError as error:
                errors.append(str(error))
                task_ids = []
            tasks = self._tasks_of(flow, run_id, step, task_ids, origin, light, succeeded)
            starts = [t.created_at or t.started_at for t in tasks]
            ends = [t.ended_at for t in tasks]
            out.append(
                StepInfo(
                    flow=flow,
                    run_id=run_id,
                    step=step,
                    pathspec=f"{flow}/{run_id}/{step}",
                    status=step_status(t.status for t in tasks),
                    created_at=created,
                    started_at=min((s for s in starts if s), default=None),
                    finished_at=max(e for e in ends if e) if ends and all(ends) else None,
                    tasks=tuple(tasks),
                    errors=tuple(errors),
                )
            )
        out.sort(key=lambda s: (s.created_at or s.started_at or _FAR, s.step))
        if succeeded and not any(s.errors or any(t.errors for t in s.tasks) for s in out):
            self._keep_light(run_dir, origin, out)
        return out

    def _keep_light(self, run_dir: str, origin: str | None, steps: list[StepInfo]) -> None:
        with self._light_lock:
            old = self._light_runs.pop((run_dir, origin), None)
            if old is not None:
                self._light_tasks -= sum(len(s.tasks) for s in old)
            self._light_runs[(run_dir, origin)] = tuple(steps)
            self._light_tasks += sum(len(s.tasks) for s in steps)
            while self._light_tasks > _LIGHT_TASKS_KEPT and len(self._light_runs) > 1:
                _, dropped = self._light_runs.popitem(last=False)
                self._light_tasks -= sum(len(s.tasks) for s in dropped)

    def _succeeded(self, run_dir: str) -> bool:
        """Whether the run's end step has a task whose latest attempt succeeded (cheap)."""
        if self.spin:
            return False
        errors: list[str] = []
        end_step = self._end_step(run_dir, errors)
        end_dir = self._join(run_dir, end_step)
        return any(s.ok for s in self._step_states(end_step, end_dir, errors, []))

    def _tasks_of(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_ids: list[str],
        origin: str | None,
        light: bool = False,
        succeeded: bool = False,
    ) -> list[TaskInfo]:
        step_dir = self._join(self._need_root(), flow, run_id, step)

        def one(task_id: str) -> TaskInfo:
            if light:
                try:
                    info = self._tasks.light_info(
                        flow, run_id, step, task_id, self._join(step_dir, task_id),
                        succeeded_run=succeeded, source=self.name, run_origin=origin,
                    )  # fmt: skip
                except StorageUnavailableError:
                    raise  # nothing of this storage can be read: say so, not per file
                except RunStoreError:
                    info = None  # the full read says what is wrong
                if info is not None:
                    return info
            return self._task(flow, run_id, step, task_id, origin, full=False)

        return parallel_map(self.storage, one, task_ids)

    def _task(
        self, flow: str, run_id: str, step: str, task_id: str, origin: str | None, full: bool
    ) -> TaskInfo:
        task_dir = self._join(self._need_root(), flow, run_id, step, task_id)
        pathspec = f"{flow}/{run_id}/{step}/{task_id}"
        finished_key = (task_dir, origin)
        if not full:
            done = self._finished_tasks.get(finished_key)
            if done is not None:
                return done  # a task that succeeded never changes: no file is looked at again
        try:
            files = self._tasks.scan(task_dir)
        except NotFoundError:
            raise NotFoundError(f"no task {pathspec} in the {self.describe()}") from None
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError as error:
            return TaskInfo(
                flow, run_id, step, task_id, pathspec, "unknown", 0, (), None, None, None,
                None, (), origin, None, None, self.name, {}, (str(error),),
            )  # fmt: skip
        info = self._tasks.task_info(
            flow, run_id, step, task_id, files,
            source=self.name, run_origin=origin, full=full,
        )  # fmt: skip
        if not full and info.status == "succeeded" and not info.errors:
            if len(self._finished_tasks) >= _FINISHED_TASKS_KEPT:
                self._finished_tasks.clear()
            self._finished_tasks[finished_key] = info
        return info

    def get_task(self, pathspec: str) -> TaskInfo:
        """One task with all its metadata."""
        flow, run_id, step, task_id = split_pathspec(pathspec, 4)
        run_dir = self._join(self._need_root(), flow, run_id)
        return self._task(flow, run_id, step, task_id, self._origin_run_id(run_dir), full=True)

    def _files(self, pathspec: str) -> TaskFiles:
        flow, run_id, step, task_id = split_pathspec(pathspec, 4)
        task_dir = self._join(self._need_root(), flow, run_id, step, task_id)
        try:
            return self._tasks.scan(task_dir)
        except NotFoundError:
            raise NotFoundError(f"no task {pathspec} in the {self.describe()}") from None

    def artifacts(self, pathspec: str, attempt: int | None = None) -> list[ArtifactInfo]:
        """The task's artifact index (latest finished attempt unless `attempt`)."""
        files = self._files(pathspec)
        data_dir = self._join(self._need_root(), pathspec.split("/")[0], "data")
        return self._tasks.artifacts(pathspec, files, data_dir, attempt)

    def read_blob(
        self, pathspec: str, name: str, max_bytes: int, attempt: int | None = None
    ) -> BlobData:
        """The decompressed bytes of artifact `name`, None past `max_bytes`."""
        for artifact in self.artifacts(pathspec, attempt):
            if artifact.name == name:
                return self._tasks.read_blob(pathspec, artifact, max_bytes)
        raise ArtifactNotFoundError(f"{pathspec} has no artifact {name!r}")

    def logs(
        self,
        pathspec: str,
        stream: LogStream,
        offset: int = 0,
        limit: int | None = None,
        attempt: int | None = None,
    ) -> LogChunk:
        """A page of the task's stdout or stderr; a cloned task shows its origin's log."""
        if stream not in ("stdout", "stderr"):
            raise RunStoreError(f"unknown log stream {stream!r}: use stdout or stderr")
        task = self.get_task(pathspec)
        files = self._files(pathspec)
        origin = None
        if task.cloned and task.origin_pathspec and not any(".log" in n for n in files.names):
            try:
                files = self._files(task.origin_pathspec)
                origin = task.origin_pathspec
            except StorageUnavailableError:
                raise  # nothing of this storage can be read: say so, not per file
            except RunStoreError:
                pass  # the origin run was deleted: show the (empty) clone
        n = task.attempt if attempt is None else attempt
        if origin is not None and attempt is None:
            n = files.attempts[-1] if files.attempts else 0
        lines = self._tasks.read_log_lines(files, n, stream)
        ended = n in files.done or n in files.runtime or n < (files.attempts or (0,))[-1]
        return page(
            lines, pathspec=pathspec, stream=stream, attempt=n, offset=offset, limit=limit,
            complete=ended, origin=origin, live_note=self.log_note,
        )  # fmt: skip

    def cards(self, pathspec: str) -> list[CardInfo]:
        """The task's HTML cards."""
        split_pathspec(pathspec, 4)
        card_root = self.card_root()
        return self._tasks.list_cards(pathspec, card_root) if card_root else []

    def read_card(self, card: CardInfo, max_bytes: int) -> bytes:
        """A listed card's bytes, from this datastore's storage (a file, an S3 object)."""
        with self.storage.open(card.path) as handle:
            return handle.read(max_bytes + 1)
