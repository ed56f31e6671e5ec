"""metaflow/openView (request) and metaflow.openView (command): the web view's URL.

The first call starts the view's HTTP server in the language server's event loop (127.0.0.1,
a random port, a token for this server's life); it answers from the same run stores and
workers as the `metaflow/*` requests. The command also asks the client to open the URL
(`window/showDocument`, external) when the client can.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from ..api.context import INVALID_PARAMS
from ..api.params import as_dict
from ..runs import RunStoreError, split_pathspec
from .edge import log_exception
from .requests import host_of

if TYPE_CHECKING:
    from ..web.server import ViewServer
    from .server import MetaflowLanguageServer

OPEN_VIEW = "metaflow/openView"
COMMAND = "metaflow.openView"

_VIEWS: weakref.WeakKeyDictionary[MetaflowLanguageServer, asyncio.Task[ViewServer]] = (
    weakref.WeakKeyDictionary()
)


def route_of(params: dict[str, Any]) -> str:
    """`#/Flow/run/step/task` from `pathspec` (any depth) or `flow`."""
    pathspec = params.get("pathspec") or params.get("flow")
    if pathspec is None:
        return "#/"
    if not isinstance(pathspec, str) or not pathspec.strip().strip("/"):
        raise JsonRpcException(
            "'pathspec' must be Flow, Flow/run, Flow/run/step or Flow/run/step/task",
            INVALID_PARAMS,
            {"kind": "invalid_params"},
        )
    parts = pathspec.strip().strip("/").split("/")
    try:
        split_pathspec(pathspec, len(parts)) if len(parts) > 1 else None
    except RunStoreError as error:
        raise JsonRpcException(str(error), INVALID_PARAMS, {"kind": "invalid_params"}) from None
    if len(parts) > 4 or any(not p or p in (".", "..") for p in parts):
        raise JsonRpcException(
            f"{pathspec!r} is not a pathspec", INVALID_PARAMS, {"kind": "invalid_params"}
        )
    return "#/" + "/".join(parts)


async def _start(server: MetaflowLanguageServer) -> ViewServer:
    from ..web.server import ViewServer

    view = ViewServer(host_of(server), report=lambda ctx, err: log_exception(server, ctx, err))
    await view.start()
    return view


async def view_of(server: MetaflowLanguageServer) -> ViewServer:
    """The server's web view, started on first use."""
    task = _VIEWS.get(server)
    if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
        task = _VIEWS[server] = asyncio.ensure_future(_start(server))
    return await asyncio.shield(task)


async def open_view(server: MetaflowLanguageServer, params: Any) -> dict[str, Any]:
    """The URL of the view at the given pathspec (the token included)."""
    args = as_dict(params)
    route = route_of(args)
    try:
        view = await view_of(server)
    except OSError as error:
        raise JsonRpcException(
            f"cannot start the web view's server on 127.0.0.1: {error}",
            1002,
            {"kind": "backend_unavailable"},
        ) from None
    return {"url": view.url(route), "base_url": view.base_url, "route": route}


async def stop(server: MetaflowLanguageServer) -> None:
    """Stop the web view's server, if it was started."""
    task = _VIEWS.pop(server, None)
    if task is None:
        return
    if not task.done():
        task.cancel()
        return
    if not task.cancelled() and task.exception() is None:
        await task.result().stop()


def register(server: MetaflowLanguageServer) -> None:
    """Register metaflow/openView and the metaflow.openView command."""

    @server.feature(OPEN_VIEW)
    async def open_view_request(params: Any) -> dict[str, Any]:
        try:
            return await open_view(server, params)
        except (JsonRpcException, asyncio.CancelledError):
            raise
        except Exception as error:
            log_exception(server, f"{OPEN_VIEW} failed for {params!r}", error)
            raise JsonRpcException(
                f"metaflow-lsp could not open the view: {type(error).__name__}: {error}",
                -32603,
                {"kind": "internal"},
            ) from None

    @server.command(COMMAND)
    async def open_view_command(ls: object, *args: Any) -> dict[str, Any]:
        # Arguments: [{"pathspec": ..., "show": true}]; pygls passes the server as `ls`.
        params = as_dict(args[0]) if args and args[0] is not None else {}
        result = await open_view_request(params)
        result["shown"] = False
        capabilities = server.client_capabilities
        window = capabilities.window if capabilities is not None else None
        can_show = bool(window and window.show_document and window.show_document.support)
        if can_show and params.get("show", True) is not False:
            try:
                shown = await server.window_show_document_async(
                    types.ShowDocumentParams(uri=result["url"], external=True)
                )
                result["shown"] = bool(shown and shown.success)
            except Exception as error:  # the URL is in the result: the client can still open it
                log_exception(server, f"{COMMAND}: showing the view failed", error)
        return result
