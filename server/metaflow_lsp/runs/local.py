"""Metaflow's local datastore (`.metaflow`) and spin datastore (`.metaflow_spin`), read-only.

Layout under the root (see `local_task.py` for a task directory):

    <Flow>/_meta/_self.json                 the flow's registration
    <Flow>/latest_run                       NOT trusted: `spin` overwrites it with its own run id
    <Flow>/<run>/_meta/_self.json           user, tags, system tags, ts_epoch (creation)
    <Flow>/<run>/_parameters/0/             the parameters task; its `end_step` metadata names
                                            the end step
    <Flow>/<run>/<step>/_meta/_self.json    the step's registration
    <Flow>/<run>/<step>/<task>/             one task
    <Flow>/data/<sha[:2]>/<sha>             content-addressed artifact blobs

`spin --persist` writes the same layout under `.metaflow_spin` (one step, task id 0, no end
step); cards go to `mf.cards` beside the datastore (see `MetaflowConfig.card_root`). Runs are
ordered by their creation time (`ts_epoch`), newest first.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from . import local_task as lt
from .backend import split_pathspec
from .config import MetaflowConfig
from .files import Memo, list_dir, list_dir_or_empty, mtime, read_json_object, signature
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
    utc_from_ms,
    utc_from_s,
)
from .status import QUIET_GRACE_S, ProcessTable, TaskState, run_status, step_status

_NOT_RUNS = frozenset({"data", "_meta", "latest_run"})


@dataclass(frozen=True, slots=True)
class _RunEntry:
    """What a run's `_meta/_self.json` says: enough to sort and filter runs."""

    run_id: str
    created_ms: float
    user: str | None
    tags: tuple[str, ...]
    system_tags: tuple[str, ...]
    errors: tuple[str, ...]


class LocalBackend:
    """Runs in a local (or spin) datastore directory."""

    def __init__(
        self,
        config: MetaflowConfig,
        *,
        kind: Literal["local", "spin"] = "local",
        root: str | None = None,
        processes: ProcessTable | None = None,
        quiet_grace: float = QUIET_GRACE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name: str = kind
        self._config = config
        self._explicit_root = root
        self._memo = Memo()
        self._processes = processes or ProcessTable()
        self.quiet_grace = quiet_grace
        self._clock = clock

    # Where

    def root(self) -> str | None:
        """The datastore directory, or None while it does not exist."""
        if self._explicit_root:
            return self._explicit_root if os.path.isdir(self._explicit_root) else None
        if self.name == "spin":
            return self._config.spin_root()
        return self._config.local_root()

    def card_root(self) -> str:
        """Where this datastore's cards are."""
        return self._config.card_root(spin=self.name == "spin")

    def available(self) -> bool:
        """Whether the datastore directory exists."""
        return self.root() is not None

    def describe(self) -> str:
        """Where runs are read from, for messages."""
        root = self.root()
        if root:
            return f"{self.name} datastore {root}"
        sysroot = "SPIN" if self.name == "spin" else "LOCAL"
        dirname = ".metaflow_spin" if self.name == "spin" else ".metaflow"
        return (
            f"no {dirname} directory in {self._config.start_dir} or its parents "
            f"(nor METAFLOW_DATASTORE_SYSROOT_{sysroot}); it appears with the first "
            f"`python flow.py {'spin' if self.name == 'spin' else 'run'}`"
        )

    def _need_root(self) -> str:
        root = self.root()
        if root is None:
            raise NotFoundError(self.describe())
        return root

    # Flows and runs

    def flows(self) -> list[str]:
        """Flow names with a directory in the datastore."""
        root = self.root()
        if root is None:
            return []
        return [
            n
            for n in list_dir(root)
            if n != "mf.cards" and os.path.isfile(os.path.join(root, n, "_meta", "_self.json"))
        ]

    def _run_ids(self, flow: str) -> list[str]:
        flow_dir = os.path.join(self._need_root(), flow)
        names = list_dir_or_empty(flow_dir)
        return [
            n
            for n in names
            if n not in _NOT_RUNS and _exists(os.path.join(flow_dir, n, "_meta")) is not False
        ]

    def _entry(self, flow: str, run_id: str) -> _RunEntry | None:
        path = os.path.join(self._need_root(), flow, run_id, "_meta", "_self.json")
        exists = _exists(path)
        if exists is False:
            return None  # being created: Metaflow writes `_meta` then `_self.json`
        if exists is None:  # can't even look: report the run rather than hide it
            return self._read_entry(run_id, path)
        return self._memo.get(
            ("entry", path), signature(path), lambda: self._read_entry(run_id, path)
        )

    @staticmethod
    def _read_entry(run_id: str, path: str) -> _RunEntry:
        try:
            own = read_json_object(path)
        except RunStoreError as error:
            if run_id.isdigit() and len(run_id) >= 13:
                created = int(run_id) / 1000.0  # local run ids are creation times in µs
            else:
                created = (mtime(path) or 0.0) * 1000.0
            return _RunEntry(run_id, created, None, (), (), (f"{error}; user and tags unknown",))
        return _RunEntry(
            run_id=run_id,
            created_ms=float(own.get("ts_epoch") or 0),
            user=own.get("user_name"),
            tags=tuple(str(t) for t in own.get("tags") or ()),
            system_tags=tuple(str(t) for t in own.get("system_tags") or ()),
            errors=(),
        )

    def _entries(self, flow: str) -> list[_RunEntry]:
        entries = [e for r in self._run_ids(flow) if (e := self._entry(flow, r)) is not None]
        entries.sort(key=lambda e: (e.created_ms, e.run_id), reverse=True)
        return entries

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
        if self.root() is None:
            return [], None
        after = _decode_cursor(cursor)
        runs: list[RunInfo] = []
        entries = iter(self._entries(flow))
        for entry in entries:
            if after is not None and (entry.created_ms, entry.run_id) >= after:
                continue
            if user is not None and entry.user != user:
                continue
            if tag is not None and tag not in entry.tags and tag not in entry.system_tags:
                continue
            info = self._run_info(flow, entry)
            if status is not None and info.status != status:
                continue
            runs.append(info)
            if len(runs) >= limit:
                more = next(entries, None) is not None
                return runs, (_encode_cursor(entry) if more else None)
        return runs, None

    def get_run(self, pathspec: str) -> RunInfo:
        """One run, NotFoundError when absent."""
        flow, run_id = split_pathspec(pathspec, 2)
        entry = self._entry(flow, run_id)
        if entry is None:
            raise NotFoundError(f"no run {pathspec} in the {self.describe()}")
        return self._run_info(flow, entry)

    def _run_info(self, flow: str, entry: _RunEntry) -> RunInfo:
        run_dir = os.path.join(self._need_root(), flow, entry.run_id)
        errors = list(entry.errors)
        end_step = self._end_step(run_dir, errors)
        try:
            states, end_finished = self._run_states(run_dir, end_step, errors)
        except RunStoreError as error:
            errors.append(str(error))
            states, end_finished = None, None
        last = max([mtime(run_dir) or 0.0] + [s.last_write for s in states or ()])
        status: RunStatus
        if states is None:
            status = "unknown"
        else:
            status = run_status(
                states,
                end_step,
                spin=self.name == "spin",
                alive=lambda: self._processes.is_alive(entry.run_id),
                last_activity=last,
                now=self._clock(),
                quiet_grace=self.quiet_grace,
            )
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
            errors=tuple(errors),
        )

    def _end_step(self, run_dir: str, errors: list[str]) -> str:
        """The end step's name, from the `_parameters` task's `end_step` metadata."""
        meta = os.path.join(run_dir, "_parameters", "0", "_meta")
        try:
            files = lt.scan_task(os.path.dirname(meta), self._memo)
            entries = files.sysmeta.get("end_step")
            if entries:
                record = lt.read_immutable(os.path.join(meta, entries[-1][1]), self._memo)
                if isinstance(record, dict) and record.get("value"):
                    return str(record["value"])
        except NotFoundError:
            pass  # not written yet, or an older Metaflow: Metaflow's default name
        except RunStoreError as error:
            errors.append(f"{error}; assuming the end step is `end`")
        return "end"

    def _origin_run_id(self, run_dir: str) -> str | None:
        """The run a resumed run started from (every task records it as `origin-run-id`)."""
        for step in self._step_names(run_dir, quiet=True):
            step_dir = os.path.join(run_dir, step)
            for task_id in _task_ids(step_dir):
                try:
                    files = lt.scan_task(os.path.join(step_dir, task_id), self._memo)
                    records = lt.sysmeta_records(files, "origin-run-id", self._memo)
                except RunStoreError:
                    continue
                if records:
                    return lt.none_if_empty(records[-1].get("value"))
        return None

    def _step_names(self, run_dir: str, quiet: bool = False) -> list[str]:
        try:
            names = list_dir(run_dir)
        except RunStoreError:
            if quiet:
                return []
            raise
        return [n for n in names if not n.startswith("_") and os.path.isdir(f"{run_dir}/{n}")]

    def _run_states(
        self, run_dir: str, end_step: str, errors: list[str]
    ) -> tuple[list[TaskState], datetime | None]:
        """Task states of a run; a succeeded end task alone settles it (the common case)."""
        end_dir = os.path.join(run_dir, end_step)
        if self.name != "spin" and os.path.isdir(end_dir):
            end_states = list(self._step_states(end_step, end_dir, errors))
            if any(s.ok for s in end_states):
                return end_states, self._end_finish(end_dir)
        states: list[TaskState] = []
        for step in self._step_names(run_dir):
            states.extend(self._step_states(step, os.path.join(run_dir, step), errors))
        return states, None

    def _step_states(self, step: str, step_dir: str, errors: list[str]) -> Iterator[TaskState]:
        try:
            task_ids = _task_ids(step_dir, strict=True)
        except RunStoreError as error:
            errors.append(str(error))
            return
        for task_id in task_ids:
            try:
                files = lt.scan_task(os.path.join(step_dir, task_id), self._memo)
                yield lt.task_state(step, task_id, files, self._memo, errors)
            except RunStoreError as error:
                errors.append(str(error))

    def _latest_finish(self, run_dir: str, states: list[TaskState]) -> datetime | None:
        """When the last ended task ended (as Metaflow's Task.finished_at)."""
        ends = []
        for state in states:
            if state.ok is None:
                continue
            try:
                files = lt.scan_task(os.path.join(run_dir, state.step, state.task_id), self._memo)
                ends.append(lt.latest_finish(files, self._memo))
            except RunStoreError:
                ends.append(utc_from_ms(state.finished_ms))
        known = [e for e in ends if e is not None]
        return max(known) if known else None

    def _end_finish(self, end_dir: str) -> datetime | None:
        for task_id in _task_ids(end_dir):
            try:
                finished = lt.latest_finish(
                    lt.scan_task(os.path.join(end_dir, task_id), self._memo), self._memo
                )
            except RunStoreError:
                continue
            if finished:
                return finished
        return None

    # Steps and tasks

    def steps(self, pathspec: str) -> list[StepInfo]:
        """A run's steps (Metaflow's `_parameters` left out) with their tasks, oldest first."""
        flow, run_id = split_pathspec(pathspec, 2)
        run_dir = os.path.join(self._need_root(), flow, run_id)
        if not os.path.isdir(run_dir):
            raise NotFoundError(f"no run {pathspec} in the {self.describe()}")
        origin = self._origin_run_id(run_dir)
        out = []
        for step in self._step_names(run_dir):
            step_dir = os.path.join(run_dir, step)
            errors: list[str] = []
            created = None
            try:
                own = lt.read_immutable(os.path.join(step_dir, "_meta", "_self.json"), self._memo)
                created = utc_from_ms(own.get("ts_epoch")) if isinstance(own, dict) else None
            except RunStoreError as error:
                errors.append(str(error))
            tasks = []
            try:
                task_ids = _task_ids(step_dir, strict=True)
            except RunStoreError as error:
                errors.append(str(error))
                task_ids = []
            for task_id in task_ids:
                tasks.append(self._task(flow, run_id, step, task_id, origin, full=False))
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
        far = utc_from_s(4102444800)  # 2100: steps without a creation time sort last
        out.sort(key=lambda s: (s.created_at or far, s.step))
        return out

    def _task(
        self, flow: str, run_id: str, step: str, task_id: str, origin: str | None, full: bool
    ) -> TaskInfo:
        task_dir = os.path.join(self._need_root(), flow, run_id, step, task_id)
        pathspec = f"{flow}/{run_id}/{step}/{task_id}"
        try:
            files = lt.scan_task(task_dir, self._memo)
        except NotFoundError:
            raise NotFoundError(f"no task {pathspec} in the {self.describe()}") from None
        except RunStoreError as error:
            return TaskInfo(
                flow, run_id, step, task_id, pathspec, "unknown", 0, (), None, None, None,
                None, (), origin, None, None, self.name, {}, (str(error),),
            )  # fmt: skip
        return lt.task_info(
            flow, run_id, step, task_id, files, self._memo,
            source=self.name, run_origin=origin, full=full,
        )  # fmt: skip

    def get_task(self, pathspec: str) -> TaskInfo:
        """One task with all its metadata."""
        flow, run_id, step, task_id = split_pathspec(pathspec, 4)
        run_dir = os.path.join(self._need_root(), flow, run_id)
        return self._task(flow, run_id, step, task_id, self._origin_run_id(run_dir), full=True)

    def _files(self, pathspec: str) -> lt.TaskFiles:
        flow, run_id, step, task_id = split_pathspec(pathspec, 4)
        task_dir = os.path.join(self._need_root(), flow, run_id, step, task_id)
        try:
            return lt.scan_task(task_dir, self._memo)
        except NotFoundError:
            raise NotFoundError(f"no task {pathspec} in the {self.describe()}") from None

    def artifacts(self, pathspec: str, attempt: int | None = None) -> list[ArtifactInfo]:
        """The task's artifact index (latest finished attempt unless `attempt`)."""
        files = self._files(pathspec)
        data_dir = os.path.join(self._need_root(), pathspec.split("/")[0], "data")
        return lt.artifacts(pathspec, files, data_dir, self._memo, attempt)

    def read_blob(
        self, pathspec: str, name: str, max_bytes: int, attempt: int | None = None
    ) -> BlobData:
        """The decompressed bytes of artifact `name`, None past `max_bytes`."""
        for artifact in self.artifacts(pathspec, attempt):
            if artifact.name == name:
                return lt.read_blob(pathspec, artifact, max_bytes)
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
            except RunStoreError:
                pass  # the origin run was deleted: show the (empty) clone
        n = task.attempt if attempt is None else attempt
        if origin is not None and attempt is None:
            n = files.attempts[-1] if files.attempts else 0
        lines = lt.read_log_lines(files, n, stream, self._memo)
        ended = n in files.done or n in files.runtime or n < (files.attempts or (0,))[-1]
        return lt.page(
            lines, pathspec=pathspec, stream=stream, attempt=n, offset=offset, limit=limit,
            complete=ended, origin=origin,
        )  # fmt: skip

    def cards(self, pathspec: str) -> list[CardInfo]:
        """The task's HTML cards."""
        split_pathspec(pathspec, 4)
        return lt.list_cards(pathspec, self.card_root())

    # Watching

    def watch_roots(self) -> list[str]:
        """The datastore and card directories that exist."""
        roots = [r for r in (self.root(), self.card_root()) if r and os.path.isdir(r)]
        return sorted(set(roots))

    def change_for_path(self, path: str) -> StoreChange | None:
        """What a file change under the roots means (blob writes and `latest_run` don't count)."""
        card_root = self.card_root()
        if _under(path, card_root):
            parts = os.path.relpath(path, card_root).split(os.sep)
            if len(parts) >= 3 and parts[1] == "runs":
                # <Flow>/runs/<run>/steps/<step>/tasks/<task>/cards/<file>
                step = parts[4] if len(parts) > 4 and parts[3] == "steps" else None
                task = parts[6] if step and len(parts) > 6 and parts[5] == "tasks" else None
                return StoreChange(self.name, parts[0], parts[2], step, task, kind="card")
            return None
        root = self.root()
        if root is None or not _under(path, root):
            return None
        parts = os.path.relpath(path, root).split(os.sep)
        if not parts or parts[0] in (".", ".."):
            return None
        if len(parts) == 1 or parts[1] == "_meta":
            return StoreChange(self.name, parts[0], kind="flow")
        if parts[1] in _NOT_RUNS:
            return None  # blobs come with a task's index; `latest_run` is not trusted
        run_id = parts[1]
        step = parts[2] if len(parts) > 2 and parts[2] != "_meta" else None
        task = parts[3] if step and len(parts) > 3 and parts[3] != "_meta" else None
        return StoreChange(self.name, parts[0], run_id, step, task)

    def invalidate(self, path: str | None = None) -> None:
        """Forget cached reads for the task (or run) holding `path` (everything when None)."""
        root = self.root()
        if path is None or root is None or not _under(path, root):
            self._memo.clear()
            return
        parts = os.path.relpath(path, root).split(os.sep)
        keep = 4 if len(parts) >= 4 and "_meta" not in parts[2:4] else 2
        self._memo.invalidate(os.path.join(root, *parts[:keep]))


def _task_ids(step_dir: str, strict: bool = False) -> list[str]:
    try:
        names = list_dir(step_dir)
    except RunStoreError:
        if strict:
            raise
        return []
    ids = [n for n in names if n != "_meta" and os.path.isdir(os.path.join(step_dir, n))]
    return sorted(ids, key=lambda t: (0, int(t), t) if t.isdigit() else (1, 0, t))


def _exists(path: str) -> bool | None:
    """Whether `path` exists; None when a permission error hides the answer."""
    try:
        os.stat(path)
    except PermissionError:
        return None
    except OSError:
        return False
    return True


def _under(path: str, root: str) -> bool:
    root = root.rstrip(os.sep)
    return path == root or path.startswith(root + os.sep)


def _encode_cursor(entry: _RunEntry) -> str:
    return f"{entry.created_ms!r}:{entry.run_id}"


def _decode_cursor(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    created, sep, run_id = cursor.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(created), run_id
    except ValueError:
        raise RunStoreError(
            f"invalid cursor {cursor!r}: pass back the one list_runs gave"
        ) from None
