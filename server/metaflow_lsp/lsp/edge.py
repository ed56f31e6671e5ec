"""The edge of every handler: exceptions are logged with their context, never sent raw.

A handler that fails answers with an empty result and writes what happened to the LSP log
(window/logMessage) and to stderr; a refusal meant for the user (a `JsonRpcException`, e.g.
from rename) passes through as the response's error.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer

log = logging.getLogger("metaflow_lsp.lsp")

P = TypeVar("P")
R = TypeVar("R")


def describe(params: Any) -> str:
    """Where a request points: `uri:line:character` when it has a position."""
    document = getattr(params, "text_document", None)
    uri = getattr(document, "uri", None)
    position = getattr(params, "position", None)
    if uri and position is not None:
        return f"{uri}:{position.line + 1}:{position.character + 1}"
    if uri:
        return str(uri)
    query = getattr(params, "query", None)
    return f"query {query!r}" if query is not None else type(params).__name__


def log_exception(server: MetaflowLanguageServer, context: str, error: BaseException) -> None:
    """Log an exception to stderr (with traceback) and to the client's log (summary)."""
    log.error("%s: %r", context, error, exc_info=error)
    frames = traceback.extract_tb(error.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    try:
        server.window_log_message(
            types.LogMessageParams(
                type=types.MessageType.Error,
                message=f"metaflow-lsp: {context}: {type(error).__name__}: {error}{where}. "
                "Please report this with the file that caused it.",
            )
        )
    except Exception:  # the client may be gone; stderr has the details already
        log.exception("cannot send a log message to the client")


def guarded_request(
    server: MetaflowLanguageServer, method: str, default: Any = None
) -> Callable[[Callable[[P], Awaitable[R]]], Callable[[P], Awaitable[R]]]:
    """Wrap an async request handler: any exception is logged and `default` is returned."""

    def decorate(handler: Callable[[P], Awaitable[R]]) -> Callable[[P], Awaitable[R]]:
        @functools.wraps(handler)
        async def wrapper(params: P) -> R:
            try:
                return await handler(params)
            except (JsonRpcException, asyncio.CancelledError):
                raise
            except Exception as error:
                log_exception(server, f"{method} failed at {describe(params)}", error)
                return default

        return wrapper

    return decorate


def guarded_notification(
    server: MetaflowLanguageServer, method: str
) -> Callable[[Callable[[P], None]], Callable[[P], None]]:
    """Wrap a notification handler: any exception is logged, never raised."""

    def decorate(handler: Callable[[P], None]) -> Callable[[P], None]:
        @functools.wraps(handler)
        def wrapper(params: P) -> None:
            try:
                handler(params)
            except Exception as error:
                log_exception(server, f"{method} failed for {describe(params)}", error)

        return wrapper

    return decorate
