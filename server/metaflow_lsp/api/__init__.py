"""The runs API, transport-neutral: the `metaflow/*` requests' logic, answered from an `ApiHost`.

The language server's custom requests (`lsp/requests.py`) and the web view's HTTP API
(`web/server.py`) both call `call(host, method, params)`; errors come out as `ApiError` with
the JSON-RPC code, a stable `kind` and a message meant for the user.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ..runs import NotFoundError, RunStoreError
from . import graph, runs
from .context import (
    BACKEND_UNAVAILABLE,
    INTERNAL,
    INVALID_PARAMS,
    NOT_FOUND,
    TIMEOUT,
    ApiHost,
    RequestError,
    RunsTimeout,
)
from .params import as_dict

Handler = Callable[[ApiHost, dict[str, Any]], Awaitable[dict[str, Any]]]
METHODS: dict[str, Handler] = {
    "metaflow/flows": runs.list_flows,
    "metaflow/runs": runs.list_runs,
    "metaflow/run": runs.get_run,
    "metaflow/task": runs.get_task,
    "metaflow/artifact": runs.get_artifact,
    "metaflow/logs": runs.get_logs,
    "metaflow/card": runs.get_card,
    "metaflow/graph": graph.get_graph,
}
# Kinds that are answers, not crashes (no traceback in the logs).
ANSWERED = frozenset(
    {"invalid_params", "not_found", "backend_unavailable", "timeout"}
    | {"no_interpreter", "preview_failed"}
)


class ApiError(Exception):
    """What a transport sends back for a failed request."""

    def __init__(self, code: int, kind: str, message: str, data: dict[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind
        self.data = {"kind": kind, **data}


def to_api_error(error: Exception) -> ApiError:
    """The answer for an exception a handler raised on purpose (store and request errors)."""
    if isinstance(error, RequestError):
        return ApiError(error.code, error.kind, str(error), error.data)
    if isinstance(error, NotFoundError):
        return ApiError(NOT_FOUND, "not_found", f"Not found: {error}", {})
    if isinstance(error, RunsTimeout):
        return ApiError(TIMEOUT, "timeout", str(error), {})
    return ApiError(
        BACKEND_UNAVAILABLE, "backend_unavailable", f"The run store cannot be read: {error}", {}
    )


async def call(host: ApiHost, method: str, params: Any) -> dict[str, Any]:
    """Answer `method` with `params`; ApiError on any failure (bugs are logged, then wrapped)."""
    handler = METHODS.get(method)
    if handler is None:
        raise ApiError(INVALID_PARAMS, "invalid_params", f"no such method {method!r}", {})
    try:
        return await handler(host, as_dict(params))
    except (RequestError, RunStoreError, RunsTimeout) as error:
        raise to_api_error(error) from None
    except asyncio.CancelledError:
        raise
    except Exception as error:  # a bug: the transport logs `__cause__` with its traceback
        raise ApiError(
            INTERNAL,
            "internal",
            f"metaflow-lsp could not answer {method}: {type(error).__name__}: {error}. "
            "The server's log has the details; please report it.",
            {},
        ) from error


__all__ = ["ANSWERED", "METHODS", "ApiError", "ApiHost", "RequestError", "RunsTimeout", "call"]
