"""One task of a Metaflow datastore: attempts, metadata, artifacts, blobs, logs (any `Storage`).

A task lives in `<root>/<Flow>/<run>/<step>/<task>/`:

    <n>.attempt.json            {"time": <start, s>}: attempt n started (TaskDataStore.init_task)
    <n>.task_begin / .task_end  written by the task process at its start / end
    <n>.DONE.lock               attempt n's artifacts are complete (written for failed attempts too)
    <n>.data.json               the artifact index: name -> sha, and size / type / encoding
    <n>.runtime                 {"return_code", "killed", "success"}: the runtime's record of the
                                process (absent for cloned tasks and spin-less kills)
    <n>.<source>_<stream>.log   MFLOG logs, source "runtime" or "task", written when n ends
                                (remote tasks upload theirs periodically while they run)
    _meta/_self.json            the task's registration (ts_epoch = Metaflow's Task.created_at)
    _meta/sysmeta_<field>_<ms>.json   task metadata, tagged "attempt_id:<n>": attempt,
                                attempt_ok ("True"/"False"), attempt-done, origin-run-id,
                                origin-task-id (cloned by resume), foreach-execution-path
                                ("step:index,..."), foreach-stack (["var=value", ...]), ...
    _meta/<n>_artifact_<name>.json    per-artifact metadata (sha, ts_epoch, content type)

`_meta` is written by Metaflow's *local metadata provider*, always into the local `.metaflow`;
a datastore on S3 has no `_meta` (its metadata is in the local `.metaflow` or the metadata
service), so everything read from `_meta` is optional here.

Blobs are content-addressed in `<root>/<Flow>/data/<sha[:2]>/<sha>`, gzip-compressed unless
their attributes say `"cas_raw": true` (a `<sha>_meta` file locally, the object's user metadata
on S3). Nothing here unpickles anything.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import logs as mflog
from .files import Memo
from .model import (
    ArtifactInfo,
    AttemptInfo,
    BlobData,
    CardInfo,
    LogChunk,
    LogLine,
    NotFoundError,
    RunStoreError,
    TaskInfo,
    TaskStatus,
    utc_from_ms,
    utc_from_s,
)
from .status import TaskState, task_status
from .storage import Storage, StorageUnavailableError, names, parallel_map, read_json

_ATTEMPT_FILE = re.compile(r"^(\d+)\.(attempt\.json|DONE\.lock|runtime)$")
_SYSMETA = re.compile(r"^sysmeta_(.+)_(\d+)\.json$")
_IMMUTABLE = "immutable"  # Metaflow never rewrites these files (it skips existing names)


@dataclass(frozen=True, slots=True)
class TaskFiles:
    """The names in a task directory and its `_meta`, decoded."""

    path: str
    attempts: tuple[int, ...]  # every attempt with a start, done or runtime record, ascending
    started: frozenset[int]
    done: frozenset[int]
    runtime: frozenset[int]
    names: frozenset[str]
    sysmeta: dict[str, list[tuple[int, str]]]  # field -> [(ms, file name)] by time
    artifact_meta: frozenset[str]
    last_write: float
    has_meta: bool = True  # the task has a `_meta` directory (local metadata)


def none_if_empty(value: Any) -> str | None:
    """None for Metaflow's spellings of nothing."""
    return None if value in (None, "None", "") else str(value)


def _attempt_of(record: dict[str, Any]) -> int | None:
    for tag in record.get("tags") or []:
        if isinstance(tag, str) and tag.startswith("attempt_id:"):
            try:
                return int(tag.split(":", 1)[1])
            except ValueError:
                return None
    return None


class TaskReader:
    """Reads task directories of one storage, caching in `memo`."""

    def __init__(self, storage: Storage, memo: Memo) -> None:
        self.storage = storage
        self.memo = memo

    def join(self, *parts: str) -> str:
        """A path in the storage."""
        return self.storage.join(*parts)

    def scan(self, task_dir: str) -> TaskFiles:
        """List a task's files (cached by the directories' versions)."""
        if self.storage.stat(task_dir) is None:
            raise NotFoundError(f"{task_dir} does not exist")
        meta_dir = self.join(task_dir, "_meta")
        sig = (self.storage.version(task_dir), self.storage.version(meta_dir))
        return self.memo.get(("scan", task_dir), sig, lambda: self._scan(task_dir, meta_dir))

    def _scan(self, task_dir: str, meta_dir: str) -> TaskFiles:
        entries = self.storage.list(task_dir)
        listed = names(entries)
        has_meta = "_meta" in names(entries, dirs=True)
        meta = names(self.storage.list(meta_dir)) if has_meta else []
        started: set[int] = set()
        done: set[int] = set()
        runtime: set[int] = set()
        for name in listed:
            match = _ATTEMPT_FILE.match(name)
            if match:
                n = int(match.group(1))
                kind = match.group(2)
                {"attempt.json": started, "DONE.lock": done, "runtime": runtime}[kind].add(n)
        sysmeta: dict[str, list[tuple[int, str]]] = {}
        for name in meta:
            match = _SYSMETA.match(name)
            if match:
                sysmeta.setdefault(match.group(1), []).append((int(match.group(2)), name))
        for items in sysmeta.values():
            items.sort()
        writes = [self.storage.last_write(task_dir)]
        if has_meta:
            writes.append(self.storage.last_write(meta_dir))
        return TaskFiles(
            path=task_dir,
            attempts=tuple(sorted(started | done | runtime)),
            started=frozenset(started),
            done=frozenset(done),
            runtime=frozenset(runtime),
            names=frozenset(listed),
            sysmeta=sysmeta,
            artifact_meta=frozenset(n for n in meta if "_artifact_" in n),
            last_write=max((w for w in writes if w), default=0.0),
            has_meta=has_meta,
        )

    def read_immutable(self, path: str) -> Any:
        """JSON of a file Metaflow writes once (cached forever; failures are not cached)."""
        return self.memo.get(("json", path), _IMMUTABLE, lambda: read_json(self.storage, path))

    def _mtime(self, path: str) -> float | None:
        entry = self.storage.stat(path)
        return entry.mtime if entry else None

    def sysmeta_records(
        self, files: TaskFiles, field: str, errors: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """The task's metadata records of `field`, oldest first; unreadable ones are reported in
        `errors` and skipped (the status then falls back to the runtime's record)."""
        out = []
        for _, name in files.sysmeta.get(field, []):
            try:
                value = self.read_immutable(self.join(files.path, "_meta", name))
            except StorageUnavailableError:
                raise  # nothing of this storage can be read: say so, not per file
            except RunStoreError as error:
                if errors is not None:
                    errors.append(str(error))
                continue
            if isinstance(value, dict):
                out.append(value)
        return out

    def _latest_value(self, files: TaskFiles, field: str, errors: list[str]) -> Any:
        records = self.sysmeta_records(files, field, errors)
        return records[-1].get("value") if records else None

    def attempt_ok(
        self, files: TaskFiles, errors: list[str] | None = None
    ) -> dict[int, tuple[bool, int | None]]:
        """attempt -> (ok, ms) from Metaflow's `attempt_ok` metadata."""
        out: dict[int, tuple[bool, int | None]] = {}
        for record in self.sysmeta_records(files, "attempt_ok", errors):
            n = _attempt_of(record)
            if n is not None:
                out[n] = (str(record.get("value")) == "True", record.get("ts_epoch"))
        return out

    def _runtime_record(self, files: TaskFiles, n: int) -> dict[str, Any] | None:
        if n not in files.runtime:
            return None
        value = self.read_immutable(self.join(files.path, f"{n}.runtime"))
        return value if isinstance(value, dict) else None

    def task_state(
        self, step: str, task_id: str, files: TaskFiles, errors: list[str] | None = None
    ) -> TaskState:
        """The cheap summary the run status rule needs (unreadable records go to `errors`)."""
        if not files.attempts:
            return TaskState(step, task_id, None, None, False, None, files.last_write)
        n = files.attempts[-1]
        ok_record = self.attempt_ok(files, errors).get(n)
        ok: bool | None = ok_record[0] if ok_record else None
        finished_ms: float | None = ok_record[1] if ok_record else None
        if ok is None:
            runtime = self._runtime_record(files, n)
            if runtime is not None:
                ok = bool(runtime.get("success"))
                when = self._mtime(self.join(files.path, f"{n}.runtime"))
                finished_ms = when * 1000 if when else None
        done = n in files.done or n in files.runtime
        return TaskState(step, task_id, n, ok, done, finished_ms, files.last_write)

    def task_info(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        files: TaskFiles,
        *,
        source: str,
        run_origin: str | None,
        full: bool = False,
    ) -> TaskInfo:
        """A task's status, attempts, times, foreach position and origin (`full`: all metadata)."""
        errors: list[str] = []
        created = user = None
        if files.has_meta:
            try:
                own = self.read_immutable(self.join(files.path, "_meta", "_self.json"))
                created, user = utc_from_ms(own.get("ts_epoch")), own.get("user_name")
            except StorageUnavailableError:
                raise  # nothing of this storage can be read: say so, not per file
            except (RunStoreError, AttributeError) as error:
                errors.append(str(error))
        oks = self.attempt_ok(files, errors)
        attempts = []
        for n in files.attempts:
            try:
                attempts.append(self._attempt_info(files, n, oks.get(n)))
            except StorageUnavailableError:
                raise  # nothing of this storage can be read: say so, not per file
            except RunStoreError as error:
                errors.append(str(error))
                attempts.append(AttemptInfo(n, None, None, None, n in files.done))
        foreach_index: int | None = None
        foreach_stack: tuple[str, ...] = ()
        origin_task = origin_run = None
        metadata: dict[str, Any] = {}
        try:
            path = self._latest_value(files, "foreach-execution-path", errors)
            if isinstance(path, str) and path:
                foreach_index = int(path.split(",")[-1].rsplit(":", 1)[1])
                stack = self._latest_value(files, "foreach-stack", errors)
                foreach_stack = tuple(str(s) for s in stack) if isinstance(stack, list) else ()
            origin_task = self._latest_value(files, "origin-task-id", errors)
            if origin_task is not None:
                origin_run = none_if_empty(self._latest_value(files, "origin-run-id", errors))
            if full:
                metadata = {f: self._latest_value(files, f, errors) for f in sorted(files.sysmeta)}
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except (RunStoreError, ValueError, IndexError) as error:
            errors.append(str(error))
        latest = attempts[-1] if attempts else None
        state = self.task_state(step, task_id, files)
        return TaskInfo(
            flow=flow,
            run_id=run_id,
            step=step,
            task_id=task_id,
            pathspec=f"{flow}/{run_id}/{step}/{task_id}",
            status=task_status(state),
            attempt=latest.attempt if latest else 0,
            attempts=tuple(attempts),
            created_at=created,
            started_at=attempts[0].started_at if attempts else None,
            finished_at=latest.finished_at if latest and latest.ok is not None else None,
            foreach_index=foreach_index,
            foreach_stack=foreach_stack,
            origin_run_id=origin_run or run_origin,
            origin_task_id=None if origin_task is None else str(origin_task),
            user=user,
            source=source,
            metadata=metadata,
            errors=tuple(dict.fromkeys(errors)),
        )

    def light_info(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        task_dir: str,
        *,
        succeeded_run: bool,
        source: str,
        run_origin: str | None,
    ) -> TaskInfo | None:
        """A task for a timeline or a status lens from its directory listing alone, plus its
        latest `<n>.runtime` record unless the run succeeded: nothing in `_meta` is read, so
        user, foreach position and origin are unknown, and times are files' modification
        times (`_meta/_self.json`: registered, `<n>.attempt.json`: started, `<n>.runtime` or
        `<n>.DONE.lock`: ended). None when that is not enough to say how the task went
        (no attempt, no runtime record): the caller then reads the task in full.

        In a run that succeeded every task's latest attempt succeeded (a join waits for all its
        inputs, the end step for everything) and every earlier attempt failed (a retry follows
        only a failure): there, the listing settles everything."""
        entries = self.storage.list(task_dir)
        by_name = {e.name: e for e in entries if not e.is_dir}
        attempts: dict[int, dict[str, Any]] = {}
        for name, entry in by_name.items():
            match = _ATTEMPT_FILE.match(name)
            if match:
                attempts.setdefault(int(match.group(1)), {})[match.group(2)] = entry
        if not attempts:
            return None
        latest = max(attempts)
        runtime: dict[str, Any] | None = None
        if succeeded_run:
            ok: bool | None = True
        elif "runtime" in attempts[latest]:
            record = read_json(self.storage, self.join(task_dir, f"{latest}.runtime"))
            if not isinstance(record, dict):
                return None
            runtime = record
            ok = bool(record.get("success"))
        else:
            return None  # running, killed before the runtime wrote its record, or cloned

        def when(entry: Any, name: str) -> datetime | None:
            seconds = entry.mtime if entry.mtime is not None else self.storage.mtime(name)
            return utc_from_s(seconds)

        infos = []
        for n in sorted(attempts):
            files = attempts[n]
            start = files.get("attempt.json")
            end = files.get("runtime") or files.get("DONE.lock")
            started = when(start, self.join(task_dir, start.name)) if start else None
            ended = when(end, self.join(task_dir, end.name)) if end else None
            is_latest = n == latest
            infos.append(
                AttemptInfo(
                    attempt=n,
                    started_at=started,
                    finished_at=ended,
                    ok=ok if is_latest else False,
                    done="DONE.lock" in files,
                    return_code=runtime.get("return_code") if is_latest and runtime else None,
                    killed=bool(runtime.get("killed")) if is_latest and runtime else False,
                    ended_at=ended if "runtime" in files else None,
                )
            )
        created = None
        if any(e.is_dir and e.name == "_meta" for e in entries):
            # Registered once, never rewritten: the file's time is Metaflow's `ts_epoch`.
            created = utc_from_s(self.storage.mtime(self.join(task_dir, "_meta", "_self.json")))
        last = infos[-1]
        status: TaskStatus = "succeeded" if ok else "failed"
        return TaskInfo(
            flow=flow,
            run_id=run_id,
            step=step,
            task_id=task_id,
            pathspec=f"{flow}/{run_id}/{step}/{task_id}",
            status=status,
            attempt=latest,
            attempts=tuple(infos),
            created_at=created,
            started_at=infos[0].started_at,
            finished_at=last.finished_at,
            foreach_index=None,
            foreach_stack=(),
            origin_run_id=run_origin,
            origin_task_id=None,
            user=None,
            source=source,
        )

    def latest_finish(self, files: TaskFiles) -> datetime | None:
        """When the task's latest attempt ended (Metaflow's Task.finished_at), None if it did not."""
        if not files.attempts:
            return None
        n = files.attempts[-1]
        info = self._attempt_info(files, n, self.attempt_ok(files).get(n), with_start=False)
        return info.finished_at if info.ok is not None else None

    def _attempt_info(
        self,
        files: TaskFiles,
        n: int,
        ok_record: tuple[bool, int | None] | None,
        with_start: bool = True,
    ) -> AttemptInfo:
        started = None
        if with_start and n in files.started:
            record = self.read_immutable(self.join(files.path, f"{n}.attempt.json"))
            started = utc_from_s(record.get("time")) if isinstance(record, dict) else None
        runtime = self._runtime_record(files, n)
        ok = ok_record[0] if ok_record else None
        if ok is None and runtime is not None:
            ok = bool(runtime.get("success"))
        finished = None
        task_ok_meta = f"{n}_artifact__task_ok.json"
        if task_ok_meta in files.artifact_meta:  # Metaflow's Task.finished_at
            record = self.read_immutable(self.join(files.path, "_meta", task_ok_meta))
            finished = utc_from_ms(record.get("ts_epoch")) if isinstance(record, dict) else None
        if finished is None and ok_record is not None:
            finished = utc_from_ms(ok_record[1])
        ended = None
        if runtime:
            ended = utc_from_s(self._mtime(self.join(files.path, f"{n}.runtime")))
        if finished is None:
            finished = ended
        return AttemptInfo(
            attempt=n,
            started_at=started,
            finished_at=finished,
            ok=ok,
            done=n in files.done,
            return_code=runtime.get("return_code") if runtime else None,
            killed=bool(runtime.get("killed")) if runtime else False,
            ended_at=ended,
        )

    # Artifacts and blobs

    def artifacts(
        self, pathspec: str, files: TaskFiles, data_dir: str, attempt: int | None = None
    ) -> list[ArtifactInfo]:
        """The artifact index of the task's latest finished attempt (or `attempt`), values
        unread (a remote storage is asked for each blob's attributes, in parallel)."""
        if attempt is None:
            if not files.done:
                raise RunStoreError(
                    f"{pathspec} has no finished attempt yet: its artifacts appear when it ends"
                )
            attempt = max(files.done)
        elif attempt not in files.done:
            raise RunStoreError(f"{pathspec} has no finished attempt {attempt}")
        index_path = self.join(files.path, f"{attempt}.data.json")
        index = self.memo.get(
            ("json", index_path),
            self.storage.version(index_path),
            lambda: read_json(self.storage, index_path),
        )
        objects = index.get("objects") if isinstance(index, dict) else None
        if not isinstance(objects, dict):
            raise RunStoreError(
                f"{index_path} has no `objects` table: the artifact index is damaged"
            )
        info_table = index.get("info") if isinstance(index.get("info"), dict) else {}
        items = list(objects.items())
        blob_paths = [self.join(data_dir, str(sha)[:2], str(sha)) for _, sha in items]
        formats = parallel_map(
            self.storage,
            lambda i: self._blob_format(blob_paths[i], items[i][0]),
            range(len(items)),
        )
        out = []
        for (name, sha), blob_path, (compressed, error) in zip(
            items, blob_paths, formats, strict=True
        ):
            info_value = info_table.get(name)
            info: dict[str, Any] = info_value if isinstance(info_value, dict) else {}
            created = None
            meta_name = f"{attempt}_artifact_{name}.json"
            if meta_name in files.artifact_meta:
                try:
                    record = self.read_immutable(self.join(files.path, "_meta", meta_name))
                    if isinstance(record, dict):
                        created = utc_from_ms(record.get("ts_epoch"))
                except StorageUnavailableError:
                    raise  # nothing of this storage can be read: say so, not per file
                except RunStoreError:
                    pass  # the index is authoritative; the per-artifact file only adds the time
            out.append(
                ArtifactInfo(
                    name=name,
                    sha=str(sha),
                    type=str(info.get("type", "")),
                    size=info.get("size"),
                    encoding=info.get("encoding"),
                    attempt=attempt,
                    created_at=created,
                    serializer_info=info.get("serializer_info") or {},
                    compressed=compressed,
                    blob_path=blob_path,
                    error=error,
                )
            )
        return sorted(out, key=lambda a: (a.private, a.name))

    def _blob_format(self, blob_path: str, name: str) -> tuple[bool | None, str | None]:
        try:
            attributes = self.memo.get(
                ("blob", blob_path),
                _IMMUTABLE,  # content-addressed: a blob never changes once written
                lambda: self.storage.blob_attributes(blob_path),
            )
        except NotFoundError:
            return None, f"the blob of artifact {name!r} is missing: {blob_path}"
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError as error:
            return None, str(error)
        if attributes is None:
            return True, None  # blobs from before Metaflow recorded attributes are gzip (v1)
        return not attributes.get("cas_raw", False), None

    def read_blob(self, pathspec: str, artifact: ArtifactInfo, max_bytes: int) -> BlobData:
        """The decompressed bytes of one artifact, None beyond `max_bytes` (never unpickled)."""
        path = artifact.blob_path or ""
        name = artifact.name
        try:
            stream = self.storage.open(path)
        except NotFoundError:
            raise RunStoreError(
                artifact.error or f"the blob of artifact {name!r} is missing: {path}"
            ) from None
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError as error:
            raise RunStoreError(f"can't read artifact {name!r}: {error}") from error
        try:
            with stream:
                if artifact.compressed is False:
                    data = stream.read(max_bytes + 1)
                else:
                    with gzip.GzipFile(fileobj=stream, mode="rb") as g:
                        data = g.read(max_bytes + 1)
        except gzip.BadGzipFile as error:
            raise RunStoreError(
                f"the blob of artifact {name!r} at {path} is not a valid gzip stream "
                f"({error}): the file is damaged"
            ) from error
        except StorageUnavailableError:
            raise  # nothing of this storage can be read: say so, not per file
        except RunStoreError as error:
            raise RunStoreError(f"can't read artifact {name!r}: {error}") from error
        except OSError as error:
            raise RunStoreError(
                f"can't read artifact {name!r} at {path}: {error.strerror or error}"
            ) from error
        except (EOFError, zlib.error) as error:
            raise RunStoreError(
                f"the blob of artifact {name!r} at {path} is a truncated or corrupt gzip "
                f"stream ({error or type(error).__name__}): the file is damaged"
            ) from error
        too_large = len(data) > max_bytes
        return BlobData(
            task_pathspec=pathspec,
            name=name,
            sha=artifact.sha,
            path=path,
            encoding=artifact.encoding,
            data=None if too_large else data,
            size=len(data),
            too_large=too_large,
        )

    # Logs

    def read_log_lines(self, files: TaskFiles, attempt: int, stream: str) -> list[LogLine]:
        """All lines of one attempt's stream, merged across log sources (cached by version)."""
        present = []
        for source in mflog.LOG_SOURCES:
            name = mflog.log_file_name(attempt, source, stream)
            path = self.join(files.path, name)
            if name in files.names or self.storage.stat(path) is not None:
                present.append(path)
        sig = tuple(self.storage.version(p) for p in present)
        return self.memo.get(
            ("log", files.path, attempt, stream),
            sig,
            lambda: mflog.merge([self.storage.read(p) for p in present]),
        )

    # Cards

    def list_cards(self, pathspec: str, card_root: str) -> list[CardInfo]:
        """The HTML cards of a task under Metaflow's card root (with or without `steps`)."""
        flow, run_id, step, task_id = pathspec.split("/")
        base = self.join(card_root, flow, "runs", run_id)
        out = []
        for cards_dir in (
            self.join(base, "steps", step, "tasks", task_id, "cards"),
            self.join(base, "tasks", task_id, "cards"),  # cards written before mid-2022
        ):
            for entry in self.storage.list(cards_dir):
                if entry.is_dir or not entry.name.endswith(".html"):
                    continue
                parts = entry.name[: -len(".html")].split("-")
                if len(parts) not in (2, 3):
                    continue  # not a TYPE-HASH or TYPE-ID-HASH name: Metaflow ignores it too
                path = self.join(cards_dir, entry.name)
                if entry.size is None or entry.mtime is None:
                    try:
                        found = self.storage.stat(path)
                    except StorageUnavailableError:
                        raise  # nothing of this storage can be read: say so, not per file
                    except RunStoreError:
                        continue
                    if found is None:
                        continue
                    entry = found
                out.append(
                    CardInfo(
                        task_pathspec=pathspec,
                        type=parts[0],
                        id=parts[1] if len(parts) == 3 else None,
                        hash=parts[-1],
                        path=path,
                        size=entry.size or 0,
                        modified_at=utc_from_s(entry.mtime),
                    )
                )
            if out:
                break
        return out


def page(
    lines: list[LogLine],
    *,
    pathspec: str,
    stream: str,
    attempt: int,
    offset: int,
    limit: int | None,
    complete: bool,
    origin: str | None,
    live_note: str | None = None,
) -> LogChunk:
    """One page of lines: `offset` counts from the start, or from the end when negative."""
    total = len(lines)
    start = max(0, total + offset) if offset < 0 else min(offset, total)
    end = total if limit is None else min(total, start + max(0, limit))
    note = None
    if total == 0 and not complete:
        note = live_note or (
            "Metaflow writes a local task's log when its attempt ends; the lines appear then "
            "(the terminal running the flow shows them live)."
        )
    return LogChunk(
        task_pathspec=pathspec,
        stream=stream,  # type: ignore[arg-type]
        attempt=attempt,
        offset=start,
        lines=tuple(lines[start:end]),
        next_offset=end,
        total_lines=total,
        complete=complete,
        origin_pathspec=origin,
        note=note,
    )
