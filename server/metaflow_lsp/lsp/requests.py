"""The `metaflow/*` requests: runs, a run, a task, an artifact and logs, as JSON.

Documented in docs/protocol.md. Every failure is an error response whose message says what
to do and whose `data.kind` says what happened: `invalid_params`, `not_found`,
`backend_unavailable`, `timeout`, `no_interpreter`, `preview_failed`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, get_args

from pygls.exceptions import JsonRpcException

from ..runs import (
    ArtifactNotFoundError,
    NotFoundError,
    RunStatus,
    RunStore,
    RunStoreError,
    TaskInfo,
    split_pathspec,
    to_json,
)
from ..runs.model import LogStream
from ..worker import PreviewLimits
from .convert import uri_to_path
from .edge import log_exception
from .run_facts import blob_of, ordered_tasks
from .runs_service import RunsTimeout

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer

RUNS = "metaflow/runs"
RUN = "metaflow/run"
TASK = "metaflow/task"
ARTIFACT = "metaflow/artifact"
LOGS = "metaflow/logs"

# Error codes: JSON-RPC leaves codes outside -32768..-32000 to applications.
INVALID_PARAMS = -32602
NOT_FOUND = 1001
BACKEND_UNAVAILABLE = 1002
TIMEOUT = 1003
NO_INTERPRETER = 1004
PREVIEW_FAILED = 1005

TASK_PREVIEWS = 20  # artifacts previewed by metaflow/task
TASK_LIMITS = PreviewLimits(max_items=5, max_chars=300)
PREVIEW_TIMEOUT = 10.0
LOG_TAIL = 20
MAX_LOG_LINES = 10_000


class RequestError(Exception):
    """An error response: a message for the user, a code and a kind."""

    def __init__(self, code: int, kind: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind
        self.data = data


# --------------------------------------------------------------------------------------------
# Parameters


def _plain(value: Any) -> Any:
    """JSON values from what pygls hands a custom method (objects arrive as namedtuples)."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _as_dict(params: Any) -> dict[str, Any]:
    value = _plain(params)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise RequestError(INVALID_PARAMS, "invalid_params", "the parameters must be a JSON object")


def _str(params: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None:
        if required:
            raise RequestError(INVALID_PARAMS, "invalid_params", f"'{name}' is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise RequestError(INVALID_PARAMS, "invalid_params", f"'{name}' must be a non-empty string")
    return value.strip()


def _int(params: dict[str, Any], name: str, default: int | None, low: int, high: int) -> int | None:
    value = params.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(
            INVALID_PARAMS,
            "invalid_params",
            f"'{name}' must be an integer from {low} to {high}, not {value!r}",
        )
    return value


def _pathspec(params: dict[str, Any], depth: int) -> str:
    pathspec = _str(params, "pathspec", required=True)
    assert pathspec is not None
    try:
        return "/".join(split_pathspec(pathspec, depth))
    except RunStoreError as error:
        raise RequestError(INVALID_PARAMS, "invalid_params", str(error)) from None


def _uri_path(params: dict[str, Any]) -> str | None:
    uri = _str(params, "uri")
    if uri is None:
        return None
    return uri_to_path(uri) if uri.startswith("file:") else uri


def _flow_file(
    server: MetaflowLanguageServer, flow: str, params: dict[str, Any], store: RunStore
) -> str:
    """The flow file whose interpreter loads the flow's artifacts (a stand-in in its folder)."""
    return (
        _uri_path(params)
        or server.runs.flow_file_of(flow)
        or os.path.join(store.flow_dir, "__flow__.py")
    )


async def _store(server: MetaflowLanguageServer, flow: str, params: dict[str, Any]) -> RunStore:
    path = _uri_path(params)
    store = await server.runs.store_for_flow(flow, path)
    if store is None:
        raise RequestError(
            NOT_FOUND,
            "not_found",
            f"cannot tell where the runs of {flow} are: open its flow file, or pass 'uri' "
            "(the flow file) with the request",
        )
    return store


# --------------------------------------------------------------------------------------------
# Handlers


async def list_runs(server: MetaflowLanguageServer, params: dict[str, Any]) -> dict[str, Any]:
    """metaflow/runs: a page of a flow's runs, newest first."""
    flow = _str(params, "flow", required=True)
    assert flow is not None
    status = _str(params, "status")
    if status is not None and status not in get_args(RunStatus):
        raise RequestError(
            INVALID_PARAMS,
            "invalid_params",
            f"'status' must be one of {', '.join(get_args(RunStatus))}, not {status!r}",
        )
    limit = _int(params, "limit", 50, 1, 500)
    store = await _store(server, flow, params)
    runs, cursor = await server.runs.io(
        store.list_runs,
        flow,
        _str(params, "user"),
        _str(params, "tag"),
        status,
        limit,
        _str(params, "cursor"),
    )
    if not runs and not params.get("cursor"):
        known = await server.runs.io(store.flows)
        if flow not in known:
            where = await server.runs.io(store.config.local_root) or store.flow_dir
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
        "notes": await server.runs.io(store.notes),
    }


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


async def get_run(server: MetaflowLanguageServer, params: dict[str, Any]) -> dict[str, Any]:
    """metaflow/run: a run with its steps and their tasks' timings."""
    pathspec = _pathspec(params, 2)
    store = await _store(server, pathspec.split("/")[0], params)
    run = await server.runs.io(store.get_run, pathspec)
    steps = await server.runs.io(store.steps, pathspec)
    out_steps = []
    for step in steps:
        item = to_json(step)
        item["tasks"] = [_task_json(t, metadata=False) for t in ordered_tasks(step.tasks)]
        out_steps.append(item)
    return {"run": _run_json(run), "steps": out_steps}


def _read_task(store: RunStore, pathspec: str, lines: int) -> tuple[Any, ...]:
    """Runs in a thread: the task, its artifacts, its log tails and the blobs to preview."""
    task = store.get_task(pathspec)
    artifacts = store.artifacts(pathspec)
    logs = {stream: store.logs(pathspec, stream, offset=-lines) for stream in ("stdout", "stderr")}
    blobs = {}
    for artifact in [a for a in artifacts if not a.private][:TASK_PREVIEWS]:
        try:
            blobs[artifact.name] = blob_of(store, task, artifact)
        except RunStoreError as error:
            blobs[artifact.name] = (None, str(error))
    return task, artifacts, logs, blobs


async def get_task(server: MetaflowLanguageServer, params: dict[str, Any]) -> dict[str, Any]:
    """metaflow/task: metadata, artifacts with bounded previews, and the logs' tails."""
    pathspec = _pathspec(params, 4)
    lines = _int(params, "log_lines", LOG_TAIL, 0, 1000) or 0
    previews = params.get("previews", True) is not False
    store = await _store(server, pathspec.split("/")[0], params)
    task, artifacts, logs, blobs = await server.runs.io(_read_task, store, pathspec, lines)
    items = [to_json(a) for a in artifacts]
    interpreter = None
    if previews and blobs:
        path = _flow_file(server, pathspec.split("/")[0], params, store)
        worker = await server.runs.worker_for(path)
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
        "logs": {stream: to_json(chunk) for stream, chunk in logs.items()},
        "interpreter": interpreter,
    }


async def get_artifact(server: MetaflowLanguageServer, params: dict[str, Any]) -> dict[str, Any]:
    """metaflow/artifact: one artifact's full preview."""
    pathspec = _pathspec(params, 4)
    name = _str(params, "name", required=True)
    assert name is not None
    store = await _store(server, pathspec.split("/")[0], params)

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

    artifact, blob, problem = await server.runs.io(read)
    info = to_json(artifact)
    if blob is None:
        raise RequestError(PREVIEW_FAILED, "preview_failed", problem or "no value", artifact=info)
    path = _flow_file(server, pathspec.split("/")[0], params, store)
    worker = await server.runs.worker_for(path)
    reply = await worker.preview(
        blob,
        limits=PreviewLimits(
            max_items=_int(params, "max_items", 20, 1, 1000) or 20,
            max_chars=_int(params, "max_chars", 2000, 16, 100_000) or 2000,
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


async def get_logs(server: MetaflowLanguageServer, params: dict[str, Any]) -> dict[str, Any]:
    """metaflow/logs: a page of a task's stdout or stderr."""
    pathspec = _pathspec(params, 4)
    stream = params.get("stream", "stdout")
    if stream not in get_args(LogStream):
        raise RequestError(
            INVALID_PARAMS, "invalid_params", f"'stream' must be stdout or stderr, not {stream!r}"
        )
    offset = _int(params, "offset", 0, -MAX_LOG_LINES * 100, 2**31) or 0
    limit = _int(params, "limit", 1000, 1, MAX_LOG_LINES)
    attempt = _int(params, "attempt", None, 0, 1000)
    store = await _store(server, pathspec.split("/")[0], params)
    chunk = await server.runs.io(store.logs, pathspec, stream, offset, limit, attempt)
    return dict(to_json(chunk))


# --------------------------------------------------------------------------------------------
# Registration

Handler = Callable[["MetaflowLanguageServer", dict[str, Any]], Awaitable[dict[str, Any]]]
HANDLERS: dict[str, Handler] = {
    RUNS: list_runs,
    RUN: get_run,
    TASK: get_task,
    ARTIFACT: get_artifact,
    LOGS: get_logs,
}


def _error(error: Exception) -> JsonRpcException:
    if isinstance(error, RequestError):
        return JsonRpcException(str(error), error.code, {"kind": error.kind, **error.data})
    if isinstance(error, NotFoundError):
        return JsonRpcException(f"Not found: {error}", NOT_FOUND, {"kind": "not_found"})
    if isinstance(error, RunsTimeout):
        return JsonRpcException(str(error), TIMEOUT, {"kind": "timeout"})
    return JsonRpcException(
        f"The run store cannot be read: {error}",
        BACKEND_UNAVAILABLE,
        {"kind": "backend_unavailable"},
    )


class _AnsweredErrors(logging.Filter):
    """pygls logs every error response with a traceback; ours are answers, not crashes."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        data = getattr(error, "data", None)
        return not (isinstance(data, dict) and data.get("kind") in ANSWERED)


ANSWERED = {"invalid_params", "not_found", "backend_unavailable", "timeout"}
ANSWERED |= {"no_interpreter", "preview_failed"}
_FILTER = _AnsweredErrors()


def register(server: MetaflowLanguageServer) -> None:
    """Register the `metaflow/*` requests."""
    for method, handler in HANDLERS.items():
        _register(server, method, handler)
    pygls_log = logging.getLogger("pygls.protocol.json_rpc")
    if _FILTER not in pygls_log.filters:
        pygls_log.addFilter(_FILTER)


def _register(server: MetaflowLanguageServer, method: str, handler: Handler) -> None:
    @server.feature(method)
    async def answer(params: Any) -> dict[str, Any]:
        try:
            return await handler(server, _as_dict(params))
        except (RequestError, RunStoreError, RunsTimeout) as error:
            raise _error(error) from None
        except (JsonRpcException, asyncio.CancelledError):
            raise
        except Exception as error:
            log_exception(server, f"{method} failed for {params!r}", error)
            raise JsonRpcException(
                f"metaflow-lsp could not answer {method}: {type(error).__name__}: {error}. "
                "The language server's log has the details; please report it.",
                -32603,
                {"kind": "internal"},
            ) from None
