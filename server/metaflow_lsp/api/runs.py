"""The runs requests: flows, runs, a run, a task, an artifact, logs and cards, as JSON.

Documented in docs/protocol.md. Every failure is a `RequestError` (or a `RunStoreError` /
`RunsTimeout` from the store) whose message says what to do; the transports turn them into
JSON-RPC or HTTP errors with the same `kind`.
"""

from __future__ import annotations

import dataclasses
import os
import weakref
from collections import OrderedDict
from datetime import datetime
from typing import Any, get_args

from ..lsp.run_facts import blob_of, ordered_tasks
from ..runs import (
    ArtifactNotFoundError,
    CardInfo,
    NotFoundError,
    RunInfo,
    RunStatus,
    RunStore,
    RunStoreError,
    StepInfo,
    TaskInfo,
    to_json,
)
from ..runs.model import LogStream
from ..worker import PreviewLimits
from . import params as p
from .context import (
    INVALID_PARAMS,
    NO_INTERPRETER,
    NOT_FOUND,
    PREVIEW_FAILED,
    ApiHost,
    RequestError,
)

TASK_PREVIEWS = 20  # artifacts previewed by metaflow/task
TASK_LIMITS = PreviewLimits(max_items=5, max_chars=300)
PREVIEW_TIMEOUT = 10.0
LOG_TAIL = 20
MAX_LOG_LINES = 10_000
MAX_CARD_BYTES = 32 * 1024 * 1024
RUN_TIMEOUT = 90.0  # metaflow/run: every task of a run
STEP_FIELDS = tuple(f.name for f in dataclasses.fields(StepInfo) if f.name != "tasks")


def _flow_file(host: ApiHost, flow: str, params: dict[str, Any], store: RunStore) -> str:
    """The flow file whose interpreter loads the flow's artifacts (a stand-in in its folder)."""
    return (
        p.uri_path(params) or host.flow_file_of(flow) or os.path.join(store.flow_dir, "__flow__.py")
    )


async def _store(host: ApiHost, flow: str, params: dict[str, Any]) -> RunStore:
    store = await host.store_for_flow(flow, p.uri_path(params))
    if store is None:
        raise RequestError(
            NOT_FOUND,
            "not_found",
            f"cannot tell where the runs of {flow} are: open its flow file, or pass 'uri' "
            "(the flow file) with the request",
        )
    return store


def _run_json(run: Any) -> dict[str, Any]:
    out = to_json(run)
    out["duration_s"] = run.duration.total_seconds() if run.duration else None
    return out


def _task_json(task: TaskInfo, metadata: bool) -> dict[str, Any]:
    out = to_json(task)
    if not metadata:
        out.pop("metadata", None)
    out["duration_s"] = task.duration.total_seconds() if task.duration else None
    return out


def _card_json(card: CardInfo) -> dict[str, Any]:
    out = to_json(card)
    out.pop("path", None)  # where the server reads it is no business of the client's
    return out


async def list_flows(host: ApiHost, params: dict[str, Any]) -> dict[str, Any]:
    """metaflow/flows: the flows with runs and the flows defined in the source folders."""
    uri_path = p.uri_path(params)
    stores = await host.stores(uri_path)
    with_runs: dict[str, str] = {}
    notes: list[str] = []
    for store in stores:
        for flow in await host.io(store.flows):
            with_runs.setdefault(flow, store.flow_dir)
        notes.extend(n for n in await host.io(store.notes) if n not in notes)
    sources = await host.source_flows(uri_path)
    flows = [
        {"name": name, "has_runs": name in with_runs, "source": sources.get(name)}
        for name in sorted(set(with_runs) | set(sources))
    ]
    return {"flows": flows, "notes": notes}


async def list_runs(host: ApiHost, params: dict[str, Any]) -> dict[str, Any]:
    """metaflow/runs: a page of a flow's runs, newest first."""
    flow = p.string(params, "flow", required=True)
    assert flow is not None
    status = p.string(params, "status")
    if status is not None and status not in get_args(RunStatus):
        raise RequestError(
            INVALID_PARAMS,
            "invalid_params",
            f"'status' must be one of {', '.join(get_args(RunStatus))}, not {status!r}",
        )
    limit = p.integer(params, "limit", 50, 1, 500)
    store = await _store(host, flow, params)
    runs, cursor = await host.io(
        store.list_runs,
        flow,
        p.string(params, "user"),
        p.string(params, "tag"),
        status,
        limit,
        p.string(params, "cursor"),
    )
    if not runs and not params.get("cursor"):
        known = await host.io(store.flows)
        if flow not in known:
            where = await host.io(store.config.local_root) or store.flow_dir
            raise RequestError(
                NOT_FOUND,
                "not_found",
                f"no runs of {flow} in {where}"
                + (f" (flows with runs: {', '.join(known)})" if known else "")
                + ": run the flow (`python <flow file> run`) to make one",
            )
    return {
        "runs": [_run_json(r) for r in runs],
        "next_cursor": cursor,
        "notes": await host.io(store.notes),
    }


# metaflow/run with "tasks": "rows": one array per task, in this order (times in epoch ms).
TASK_ROW: tuple[str, ...] = ("task_id", "status", "attempt", "foreach_index", "created_ms")
TASK_ROW += ("started_ms", "ended_ms", "attempts")
ATTEMPT_ROW = ("attempt", "started_ms", "ended_ms", "status")


def _ms(value: datetime | None) -> float | None:
    return round(value.timestamp() * 1000.0, 3) if value is not None else None


def _task_row(task: TaskInfo) -> list[Any]:
    """A task as a compact row (TASK_ROW): what a timeline of 10,000 tasks needs."""
    attempts = [
        [a.attempt, _ms(a.started_at), _ms(a.ended_at or a.finished_at), a.status]
        for a in task.attempts
    ]
    return [
        task.task_id,
        task.status,
        task.attempt,
        task.foreach_index,
        _ms(task.created_at),
        _ms(task.started_at),
        _ms(task.ended_at),
        attempts,
    ]


async def get_run(host: ApiHost, params: dict[str, Any]) -> dict[str, Any]:
    """metaflow/run: a run with its steps and their tasks' timings (as objects, or as rows
    with `"tasks": "rows"`; `"max_tasks": N`: objects for each step's first N tasks only)."""
    pathspec = p.pathspec(params, 2)
    shape = params.get("tasks", "objects")
    if shape not in ("objects", "rows"):
        raise RequestError(
            INVALID_PARAMS, "invalid_params", f"'tasks' must be objects or rows, not {shape!r}"
        )
    max_tasks = p.integer(params, "max_tasks", None, 1, 100_000)
    store = await _store(host, pathspec.split("/")[0], params)
    run = await host.io(store.get_run, pathspec)
    key = (pathspec, shape, max_tasks)
    kept = _finished_runs.get(store)
    cached = kept.get(key) if kept is not None else None
    if cached is not None and cached[0] == _stamp(run):
        return {**cached[1], "run": _run_json(run)}
    # Rows and capped objects read tasks the light way (~0.8 s for 10,000 cold); objects with
    # all their tasks read every task's metadata (~7 files a task).
    light = shape == "rows" or max_tasks is not None
    steps = await host.io(store.steps, pathspec, light, timeout=RUN_TIMEOUT)

    def shaped() -> list[dict[str, Any]]:
        out_steps = []
        for step in steps:
            item = {f: to_json(getattr(step, f)) for f in STEP_FIELDS}
            tasks = ordered_tasks(step.tasks)
            item["task_count"] = len(tasks)
            if shape == "rows":
                item["tasks"] = [_task_row(t) for t in tasks]
            elif max_tasks is not None:
                first, _ = store.step_task_sample(pathspec, step.step, max_tasks)
                item["tasks"] = [_task_json(t, metadata=False) for t in ordered_tasks(first)]
            else:
                item["tasks"] = [_task_json(t, metadata=False) for t in tasks]
            out_steps.append(item)
        return out_steps

    out: dict[str, Any] = {
        "run": _run_json(run),
        "steps": await host.io(shaped, timeout=RUN_TIMEOUT),
    }
    if shape == "rows":
        out["task_row"] = list(TASK_ROW)
        out["attempt_row"] = list(ATTEMPT_ROW)
    if run.status in ("succeeded", "failed"):
        runs = _finished_runs.setdefault(store, OrderedDict())
        runs[key] = (_stamp(run), out)
        while len(runs) > FINISHED_RUNS_KEPT:
            runs.popitem(last=False)
    return out


# The steps of a few finished runs, kept while nothing in the run's files changes: re-reading
# 10,000 tasks costs a warm store over a second, and the timeline asks again on every visit.
FINISHED_RUNS_KEPT = 8
_finished_runs: weakref.WeakKeyDictionary[
    RunStore, OrderedDict[tuple[str, str, int | None], tuple[tuple[Any, ...], dict[str, Any]]]
] = weakref.WeakKeyDictionary()


def _stamp(run: RunInfo) -> tuple[Any, ...]:
    return (run.status, run.finished_at, run.last_activity)


def _read_task(store: RunStore, pathspec: str, lines: int) -> tuple[Any, ...]:
    """Runs in a thread: the task, its artifacts, log tails, cards and the blobs to preview."""
    task = store.get_task(pathspec)
    try:
        artifacts = store.artifacts(pathspec)
        artifacts_error = None
    except NotFoundError:
        raise
    except RunStoreError as error:  # e.g. a running task: its artifacts come when it ends
        artifacts, artifacts_error = [], str(error)
    logs = {stream: store.logs(pathspec, stream, offset=-lines) for stream in ("stdout", "stderr")}
    blobs = {}
    for artifact in [a for a in artifacts if not a.private][:TASK_PREVIEWS]:
        try:
            blobs[artifact.name] = blob_of(store, task, artifact)
        except RunStoreError as error:
            blobs[artifact.name] = (None, str(error))
    try:
        cards: list[CardInfo] | str = store.cards(pathspec)
    except RunStoreError as error:
        cards = str(error)
    return task, artifacts, artifacts_error, logs, blobs, cards


async def get_task(host: ApiHost, params: dict[str, Any]) -> dict[str, Any]:
    """metaflow/task: metadata, artifacts with bounded previews, log tails and cards."""
    pathspec = p.pathspec(params, 4)
    lines = p.integer(params, "log_lines", LOG_TAIL, 0, 1000) or 0
    previews = params.get("previews", True) is not False
    store = await _store(host, pathspec.split("/")[0], params)
    task, artifacts, artifacts_error, logs, blobs, cards = await host.io(
        _read_task, store, pathspec, lines
    )
    items = [to_json(a) for a in artifacts]
    interpreter = None
    if previews and blobs:
        path = _flow_file(host, pathspec.split("/")[0], params, store)
        worker = await host.worker_for(path)
        interpreter = worker.interpreter.describe()
        names = [n for n, (blob, _) in blobs.items() if blob is not None]
        replies = await worker.preview_many(
            [blobs[n][0] for n in names],
            limits=TASK_LIMITS,
            flow_dir=os.path.dirname(path),
            timeout=PREVIEW_TIMEOUT,
        )
        by_name = dict(zip(names, replies, strict=False))
        for item in items:
            reply = by_name.get(item["name"])
            problem = blobs.get(item["name"], (None, None))[1]
            item["preview"] = reply.preview if reply is not None else None
            item["preview_error"] = (reply.error if reply is not None else None) or problem
    return {
        "task": _task_json(task, metadata=True),
        "artifacts": items,
        "artifacts_error": artifacts_error,
        "logs": {stream: to_json(chunk) for stream, chunk in logs.items()},
        "cards": [_card_json(c) for c in cards] if isinstance(cards, list) else [],
        "cards_error": cards if isinstance(cards, str) else None,
        "interpreter": interpreter,
    }


async def get_artifact(host: ApiHost, params: dict[str, Any]) -> dict[str, Any]:
    """metaflow/artifact: one artifact's full preview."""
    pathspec = p.pathspec(params, 4)
    name = p.string(params, "name", required=True)
    assert name is not None
    store = await _store(host, pathspec.split("/")[0], params)

    def read() -> tuple[Any, ...]:
        task = store.get_task(pathspec)
        artifacts = {a.name: a for a in store.artifacts(pathspec)}
        if name not in artifacts:
            listed = ", ".join(sorted(n for n in artifacts if not n.startswith("_")))
            raise ArtifactNotFoundError(
                f"task {pathspec} has no artifact {name!r} (it has: {listed or 'none'})"
            )
        artifact = artifacts[name]
        return artifact, *blob_of(store, task, artifact)

    artifact, blob, problem = await host.io(read)
    info = to_json(artifact)
    if blob is None:
        raise RequestError(PREVIEW_FAILED, "preview_failed", problem or "no value", artifact=info)
    path = _flow_file(host, pathspec.split("/")[0], params, store)
    worker = await host.worker_for(path)
    reply = await worker.preview(
        blob,
        limits=PreviewLimits(
            max_items=p.integer(params, "max_items", 20, 1, 1000) or 20,
            max_chars=p.integer(params, "max_chars", 2000, 16, 100_000) or 2000,
        ),
        flow_dir=os.path.dirname(path),
        timeout=PREVIEW_TIMEOUT,
    )
    if reply.preview is None:
        interpreter = worker.interpreter.describe()
        if reply.kind in ("no_interpreter", "start"):
            raise RequestError(
                NO_INTERPRETER,
                "no_interpreter",
                f"cannot load {name}: {reply.error}. Set metaflow-lsp.python to the Python "
                "the flow runs with",
                artifact=info,
                interpreter=interpreter,
            )
        raise RequestError(
            PREVIEW_FAILED,
            "preview_failed",
            f"cannot preview {name}: {reply.error}",
            artifact=info,
            interpreter=interpreter,
            worker_kind=reply.kind,
        )
    return {"artifact": info, "preview": reply.preview, "task": pathspec}


async def get_logs(host: ApiHost, params: dict[str, Any]) -> dict[str, Any]:
    """metaflow/logs: a page of a task's stdout or stderr."""
    pathspec = p.pathspec(params, 4)
    stream = params.get("stream", "stdout")
    if stream not in get_args(LogStream):
        raise RequestError(
            INVALID_PARAMS, "invalid_params", f"'stream' must be stdout or stderr, not {stream!r}"
        )
    offset = p.integer(params, "offset", 0, -MAX_LOG_LINES * 100, 2**31) or 0
    limit = p.integer(params, "limit", 1000, 1, MAX_LOG_LINES)
    attempt = p.integer(params, "attempt", None, 0, 1000)
    store = await _store(host, pathspec.split("/")[0], params)
    chunk = await host.io(store.logs, pathspec, stream, offset, limit, attempt)
    return dict(to_json(chunk))


def read_card(store: RunStore, pathspec: str, card_hash: str) -> tuple[CardInfo, str]:
    """A task's card with the given hash and its HTML (in a thread). Only a card the store
    lists is read, so the path never comes from the client."""
    card, data = store.read_card(pathspec, card_hash, MAX_CARD_BYTES)
    if len(data) > MAX_CARD_BYTES:
        raise RunStoreError(f"the card is larger than {MAX_CARD_BYTES >> 20} MiB; not shown")
    return card, data.decode("utf-8", errors="replace")


async def get_card(host: ApiHost, params: dict[str, Any]) -> dict[str, Any]:
    """metaflow/card: one card's HTML (show it only in a sandboxed frame)."""
    pathspec = p.pathspec(params, 4)
    card_hash = p.string(params, "hash", required=True)
    assert card_hash is not None
    store = await _store(host, pathspec.split("/")[0], params)
    card, html = await host.io(read_card, store, pathspec, card_hash)
    return {"card": _card_json(card), "html": html}
