"""One task directory of Metaflow's local datastore: attempts, metadata, artifacts, blobs, logs.

A task lives in `<root>/<Flow>/<run>/<step>/<task>/`:

    <n>.attempt.json            {"time": <start, s>}: attempt n started (TaskDataStore.init_task)
    <n>.task_begin / .task_end  written by the task process at its start / end
    <n>.DONE.lock               attempt n's artifacts are complete (written for failed attempts too)
    <n>.data.json               the artifact index: name -> sha, and size / type / encoding
    <n>.runtime                 {"return_code", "killed", "success"}: the runtime's record of the
                                process (absent for cloned tasks and spin-less kills)
    <n>.<source>_<stream>.log   MFLOG logs, source "runtime" or "task", written when n ends
    _meta/_self.json            the task's registration (ts_epoch = Metaflow's Task.created_at)
    _meta/sysmeta_<field>_<ms>.json   task metadata, tagged "attempt_id:<n>": attempt,
                                attempt_ok ("True"/"False"), attempt-done, origin-run-id,
                                origin-task-id (cloned by resume), foreach-execution-path
                                ("step:index,..."), foreach-stack (["var=value", ...]), ...
    _meta/<n>_artifact_<name>.json    per-artifact metadata (sha, ts_epoch, content type)

Blobs are content-addressed in `<root>/<Flow>/data/<sha[:2]>/<sha>`, gzip-compressed unless the
`<sha>_meta` file says `"cas_raw": true`. Nothing here unpickles anything.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import logs as mflog
from .files import (
    Memo,
    describe_os_error,
    list_dir,
    list_dir_or_empty,
    mtime,
    read_bytes,
    read_json,
    signature,
)
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
    utc_from_ms,
    utc_from_s,
)
from .status import TaskState, task_status

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


def scan_task(task_dir: str, memo: Memo) -> TaskFiles:
    """List a task's files (cached by the directories' modification times)."""
    meta_dir = os.path.join(task_dir, "_meta")
    try:
        os.stat(task_dir)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFoundError(f"{task_dir} does not exist") from None
    except OSError as error:
        raise RunStoreError(describe_os_error(task_dir, error)) from error
    sig = (signature(task_dir), signature(meta_dir))
    return memo.get(("scan", task_dir), sig, lambda: _scan(task_dir, meta_dir))


def _scan(task_dir: str, meta_dir: str) -> TaskFiles:
    names = list_dir(task_dir)
    meta = list_dir_or_empty(meta_dir)
    started: set[int] = set()
    done: set[int] = set()
    runtime: set[int] = set()
    for name in names:
        match = _ATTEMPT_FILE.match(name)
        if match:
            n = int(match.group(1))
            {"attempt.json": started, "DONE.lock": done, "runtime": runtime}[match.group(2)].add(n)
    sysmeta: dict[str, list[tuple[int, str]]] = {}
    for name in meta:
        match = _SYSMETA.match(name)
        if match:
            sysmeta.setdefault(match.group(1), []).append((int(match.group(2)), name))
    for entries in sysmeta.values():
        entries.sort()
    last = max(mtime(task_dir) or 0.0, mtime(meta_dir) or 0.0)
    return TaskFiles(
        path=task_dir,
        attempts=tuple(sorted(started | done | runtime)),
        started=frozenset(started),
        done=frozenset(done),
        runtime=frozenset(runtime),
        names=frozenset(names),
        sysmeta=sysmeta,
        artifact_meta=frozenset(n for n in meta if "_artifact_" in n),
        last_write=last,
    )


def read_immutable(path: str, memo: Memo) -> Any:
    """JSON of a file Metaflow writes once (cached forever; failures are not cached)."""
    return memo.get(("json", path), _IMMUTABLE, lambda: read_json(path))


def sysmeta_records(
    files: TaskFiles, field: str, memo: Memo, errors: list[str] | None = None
) -> list[dict[str, Any]]:
    """The task's metadata records of `field`, oldest first; unreadable ones are reported in
    `errors` and skipped (the status then falls back to the runtime's record)."""
    out = []
    for _, name in files.sysmeta.get(field, []):
        try:
            value = read_immutable(os.path.join(files.path, "_meta", name), memo)
        except RunStoreError as error:
            if errors is not None:
                errors.append(str(error))
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def _attempt_of(record: dict[str, Any]) -> int | None:
    for tag in record.get("tags") or []:
        if isinstance(tag, str) and tag.startswith("attempt_id:"):
            try:
                return int(tag.split(":", 1)[1])
            except ValueError:
                return None
    return None


def _latest_value(files: TaskFiles, field: str, memo: Memo, errors: list[str]) -> Any:
    records = sysmeta_records(files, field, memo, errors)
    return records[-1].get("value") if records else None


def attempt_ok(
    files: TaskFiles, memo: Memo, errors: list[str] | None = None
) -> dict[int, tuple[bool, int | None]]:
    """attempt -> (ok, ms) from Metaflow's `attempt_ok` metadata."""
    out: dict[int, tuple[bool, int | None]] = {}
    for record in sysmeta_records(files, "attempt_ok", memo, errors):
        n = _attempt_of(record)
        if n is not None:
            out[n] = (str(record.get("value")) == "True", record.get("ts_epoch"))
    return out


def _runtime_record(files: TaskFiles, n: int, memo: Memo) -> dict[str, Any] | None:
    if n not in files.runtime:
        return None
    value = read_immutable(os.path.join(files.path, f"{n}.runtime"), memo)
    return value if isinstance(value, dict) else None


def task_state(
    step: str, task_id: str, files: TaskFiles, memo: Memo, errors: list[str] | None = None
) -> TaskState:
    """The cheap summary the run status rule needs (unreadable records go to `errors`)."""
    if not files.attempts:
        return TaskState(step, task_id, None, None, False, None, files.last_write)
    n = files.attempts[-1]
    ok_record = attempt_ok(files, memo, errors).get(n)
    ok: bool | None = ok_record[0] if ok_record else None
    finished_ms: float | None = ok_record[1] if ok_record else None
    if ok is None:
        runtime = _runtime_record(files, n, memo)
        if runtime is not None:
            ok = bool(runtime.get("success"))
            when = mtime(os.path.join(files.path, f"{n}.runtime"))
            finished_ms = when * 1000 if when else None
    done = n in files.done or n in files.runtime
    return TaskState(step, task_id, n, ok, done, finished_ms, files.last_write)


def task_info(
    flow: str,
    run_id: str,
    step: str,
    task_id: str,
    files: TaskFiles,
    memo: Memo,
    *,
    source: str,
    run_origin: str | None,
    full: bool = False,
) -> TaskInfo:
    """A task's status, attempts, times, foreach position and origin (`full`: all metadata)."""
    errors: list[str] = []
    created = user = None
    try:
        own = read_immutable(os.path.join(files.path, "_meta", "_self.json"), memo)
        created, user = utc_from_ms(own.get("ts_epoch")), own.get("user_name")
    except (RunStoreError, AttributeError) as error:
        errors.append(str(error))
    oks = attempt_ok(files, memo, errors)
    attempts = []
    for n in files.attempts:
        try:
            attempts.append(_attempt_info(files, n, oks.get(n), memo))
        except RunStoreError as error:
            errors.append(str(error))
            attempts.append(AttemptInfo(n, None, None, None, n in files.done))
    foreach_index: int | None = None
    foreach_stack: tuple[str, ...] = ()
    origin_task = origin_run = None
    metadata: dict[str, Any] = {}
    try:
        path = _latest_value(files, "foreach-execution-path", memo, errors)
        if isinstance(path, str) and path:
            foreach_index = int(path.split(",")[-1].rsplit(":", 1)[1])
            stack = _latest_value(files, "foreach-stack", memo, errors)
            foreach_stack = tuple(str(s) for s in stack) if isinstance(stack, list) else ()
        origin_task = _latest_value(files, "origin-task-id", memo, errors)
        if origin_task is not None:
            origin_run = none_if_empty(_latest_value(files, "origin-run-id", memo, errors))
        if full:
            metadata = {f: _latest_value(files, f, memo, errors) for f in sorted(files.sysmeta)}
    except (RunStoreError, ValueError, IndexError) as error:
        errors.append(str(error))
    latest = attempts[-1] if attempts else None
    state = task_state(step, task_id, files, memo)
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


def none_if_empty(value: Any) -> str | None:
    return None if value in (None, "None", "") else str(value)


def latest_finish(files: TaskFiles, memo: Memo) -> datetime | None:
    """When the task's latest attempt ended (Metaflow's Task.finished_at), None if it did not."""
    if not files.attempts:
        return None
    n = files.attempts[-1]
    info = _attempt_info(files, n, attempt_ok(files, memo).get(n), memo)
    return info.finished_at if info.ok is not None else None


def _attempt_info(
    files: TaskFiles, n: int, ok_record: tuple[bool, int | None] | None, memo: Memo
) -> AttemptInfo:
    started = None
    if n in files.started:
        record = read_immutable(os.path.join(files.path, f"{n}.attempt.json"), memo)
        started = utc_from_s(record.get("time")) if isinstance(record, dict) else None
    runtime = _runtime_record(files, n, memo)
    ok = ok_record[0] if ok_record else None
    if ok is None and runtime is not None:
        ok = bool(runtime.get("success"))
    finished = None
    task_ok_meta = f"{n}_artifact__task_ok.json"
    if task_ok_meta in files.artifact_meta:  # Metaflow's Task.finished_at
        record = read_immutable(os.path.join(files.path, "_meta", task_ok_meta), memo)
        finished = utc_from_ms(record.get("ts_epoch")) if isinstance(record, dict) else None
    if finished is None and ok_record is not None:
        finished = utc_from_ms(ok_record[1])
    ended = utc_from_s(mtime(os.path.join(files.path, f"{n}.runtime"))) if runtime else None
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
    pathspec: str, files: TaskFiles, data_dir: str, memo: Memo, attempt: int | None = None
) -> list[ArtifactInfo]:
    """The artifact index of the task's latest finished attempt (or `attempt`), values unread."""
    if attempt is None:
        if not files.done:
            raise RunStoreError(
                f"{pathspec} has no finished attempt yet: its artifacts appear when it ends"
            )
        attempt = max(files.done)
    elif attempt not in files.done:
        raise RunStoreError(f"{pathspec} has no finished attempt {attempt}")
    index_path = os.path.join(files.path, f"{attempt}.data.json")
    index = memo.get(("json", index_path), signature(index_path), lambda: read_json(index_path))
    objects = index.get("objects") if isinstance(index, dict) else None
    if not isinstance(objects, dict):
        raise RunStoreError(f"{index_path} has no `objects` table: the artifact index is damaged")
    info_table = index.get("info") if isinstance(index.get("info"), dict) else {}
    out = []
    for name, sha in objects.items():
        info_value = info_table.get(name)
        info: dict[str, Any] = info_value if isinstance(info_value, dict) else {}
        created = None
        meta_name = f"{attempt}_artifact_{name}.json"
        if meta_name in files.artifact_meta:
            try:
                record = read_immutable(os.path.join(files.path, "_meta", meta_name), memo)
                created = utc_from_ms(record.get("ts_epoch")) if isinstance(record, dict) else None
            except RunStoreError:
                pass  # the index is authoritative; the per-artifact file only adds the time
        blob_path = os.path.join(data_dir, str(sha)[:2], str(sha))
        compressed, error = _blob_format(blob_path, name)
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


def _blob_format(blob_path: str, name: str) -> tuple[bool | None, str | None]:
    if not os.path.exists(blob_path):
        return None, f"the blob of artifact {name!r} is missing: {blob_path}"
    meta_path = blob_path + "_meta"
    if not os.path.exists(meta_path):
        return True, None  # blobs from before Metaflow wrote `_meta` are gzip (v1)
    try:
        meta = read_json(meta_path)
    except RunStoreError as error:
        return None, str(error)
    compressed = not meta.get("cas_raw", False) if isinstance(meta, dict) else True
    return compressed, None


def read_blob(pathspec: str, artifact: ArtifactInfo, max_bytes: int) -> BlobData:
    """The decompressed bytes of one artifact, None beyond `max_bytes` (never unpickled)."""
    path = artifact.blob_path or ""
    if artifact.error and not os.path.exists(path):
        raise RunStoreError(artifact.error)
    try:
        if artifact.compressed is False:
            with open(path, "rb") as f:
                data = f.read(max_bytes + 1)
        else:
            with gzip.open(path, "rb") as g:
                data = g.read(max_bytes + 1)
    except gzip.BadGzipFile as error:
        raise RunStoreError(
            f"the blob of artifact {artifact.name!r} at {path} is not a valid gzip stream "
            f"({error}): the file is damaged"
        ) from error
    except OSError as error:
        raise RunStoreError(
            f"can't read artifact {artifact.name!r}: {describe_os_error(path, error)}"
        ) from error
    except (EOFError, zlib.error) as error:
        raise RunStoreError(
            f"the blob of artifact {artifact.name!r} at {path} is a truncated or corrupt gzip "
            f"stream ({error or type(error).__name__}): the file is damaged"
        ) from error
    too_large = len(data) > max_bytes
    return BlobData(
        task_pathspec=pathspec,
        name=artifact.name,
        sha=artifact.sha,
        path=path,
        encoding=artifact.encoding,
        data=None if too_large else data,
        size=len(data),
        too_large=too_large,
    )


# Logs


def read_log_lines(files: TaskFiles, attempt: int, stream: str, memo: Memo) -> list[LogLine]:
    """All lines of one attempt's stream, merged across log sources (cached by file signature)."""
    paths = [
        os.path.join(files.path, mflog.log_file_name(attempt, source, stream))
        for source in mflog.LOG_SOURCES
    ]
    present = [p for p in paths if os.path.basename(p) in files.names or os.path.exists(p)]
    sig = tuple(signature(p) for p in present)
    return memo.get(
        ("log", files.path, attempt, stream),
        sig,
        lambda: mflog.merge([read_bytes(p) for p in present]),
    )


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
) -> LogChunk:
    """One page of lines: `offset` counts from the start, or from the end when negative."""
    total = len(lines)
    start = max(0, total + offset) if offset < 0 else min(offset, total)
    end = total if limit is None else min(total, start + max(0, limit))
    note = None
    if total == 0 and not complete:
        note = (
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


# Cards


def list_cards(pathspec: str, card_root: str) -> list[CardInfo]:
    """The HTML cards of a task under Metaflow's card root (with or without the `steps` level)."""
    flow, run_id, step, task_id = pathspec.split("/")
    base = os.path.join(card_root, flow, "runs", run_id)
    out = []
    for cards_dir in (
        os.path.join(base, "steps", step, "tasks", task_id, "cards"),
        os.path.join(base, "tasks", task_id, "cards"),  # cards written before mid-2022
    ):
        for name in list_dir_or_empty(cards_dir):
            if not name.endswith(".html"):
                continue
            parts = name[: -len(".html")].split("-")
            if len(parts) not in (2, 3):
                continue  # not a TYPE-HASH or TYPE-ID-HASH name: Metaflow ignores it too
            path = os.path.join(cards_dir, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            out.append(
                CardInfo(
                    task_pathspec=pathspec,
                    type=parts[0],
                    id=parts[1] if len(parts) == 3 else None,
                    hash=parts[-1],
                    path=path,
                    size=st.st_size,
                    modified_at=utc_from_s(st.st_mtime),
                )
            )
        if out:
            break
    return out
