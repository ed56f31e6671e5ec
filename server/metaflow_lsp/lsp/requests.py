"""The `metaflow/*` requests over LSP: flows, runs, a run, a task, an artifact, logs, a card and
a flow's graph, as JSON.

Documented in docs/protocol.md. The logic is in `api/` (shared with the web view's HTTP API);
this module registers the methods and turns `ApiError`s into JSON-RPC error responses whose
message says what to do and whose `data.kind` says what happened.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING, Any

from pygls.exceptions import JsonRpcException

from .. import api
from .api_host import LspHost
from .edge import log_exception

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer

RUNS = "metaflow/runs"
RUN = "metaflow/run"
TASK = "metaflow/task"
ARTIFACT = "metaflow/artifact"
LOGS = "metaflow/logs"
FLOWS = "metaflow/flows"
CARD = "metaflow/card"
GRAPH = "metaflow/graph"

_HOSTS: weakref.WeakKeyDictionary[MetaflowLanguageServer, LspHost] = weakref.WeakKeyDictionary()


def host_of(server: MetaflowLanguageServer) -> LspHost:
    """The server's API host (one per server, shared with the web view)."""
    host = _HOSTS.get(server)
    if host is None:
        host = _HOSTS[server] = LspHost(server)
    return host


class _AnsweredErrors(logging.Filter):
    """pygls logs every error response with a traceback; ours are answers, not crashes."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        data = getattr(error, "data", None)
        return not (isinstance(data, dict) and data.get("kind") in api.ANSWERED)


_FILTER = _AnsweredErrors()


def register(server: MetaflowLanguageServer) -> None:
    """Register the `metaflow/*` requests."""
    for method in api.METHODS:
        _register(server, method)
    pygls_log = logging.getLogger("pygls.protocol.json_rpc")
    if _FILTER not in pygls_log.filters:
        pygls_log.addFilter(_FILTER)


def _register(server: MetaflowLanguageServer, method: str) -> None:
    @server.feature(method)
    async def answer(params: Any) -> dict[str, Any]:
        try:
            return await api.call(host_of(server), method, params)
        except api.ApiError as error:
            if error.kind == "internal" and error.__cause__ is not None:
                log_exception(server, f"{method} failed for {params!r}", error.__cause__)
            raise JsonRpcException(str(error), error.code, error.data) from None
        except (JsonRpcException, asyncio.CancelledError):
            raise
