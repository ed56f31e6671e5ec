"""The pygls language server: one instance, the document store, and each feature registered once.

Handlers live in one module per LSP feature; they translate lsprotocol to and from the flow
model and delegate to it.
"""

from __future__ import annotations

import gc
import logging

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from .. import __version__
from . import (
    code_lens,
    commands,
    completion,
    definition,
    diagnostics,
    document_symbols,
    failures,
    hover,
    open_view,
    references,
    rename,
    requests,
    workspace_symbols,
)
from .convert import path_to_uri, uri_to_path
from .documents import DocumentStore, Snapshot
from .edge import guarded_notification, log_exception
from .executions import ExecutionService
from .failures import FailureState
from .runs_service import RunsService

log = logging.getLogger(__name__)


class MetaflowLanguageServer(LanguageServer):
    """The language server for Metaflow flows."""

    def __init__(self) -> None:
        super().__init__("metaflow-lsp", __version__)
        self.documents = DocumentStore(self._analysed, self._analysis_failed)
        self.runs = RunsService(self)
        self.executions = ExecutionService(self)
        self.failure_state = FailureState()

    async def _analysed(self, snapshot: Snapshot) -> None:
        try:
            await self.runs.note_analysis(snapshot)
        except Exception as error:  # the lint diagnostics must still be published
            log_exception(self, f"tracking the edits of {snapshot.path}", error)
        await diagnostics.publish(self, snapshot)

    def _analysis_failed(self, context: str, error: BaseException) -> None:
        log_exception(self, context, error)

    def uri_for(self, path: str) -> str:
        """The URI of a file: the one the client opened it with, else a `file:` URI."""
        return self.documents.uri_of(path) or path_to_uri(path)

    def workspace_roots(self) -> list[str]:
        """The workspace folders as paths (the root URI when the client sent no folders)."""
        roots = [uri_to_path(f.uri) for f in self.workspace.folders.values()]
        if not roots and self.workspace.root_uri:
            roots = [uri_to_path(self.workspace.root_uri)]
        return [r for r in roots if r]


def create_server() -> MetaflowLanguageServer:
    """A server with every feature registered, ready for `start_io()` or `start_tcp()`."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The model of a big flow is many small objects that live as long as the document is open;
    # the default thresholds make the collector walk them all every few edits (tens of ms).
    gc.set_threshold(50_000, 20, 50)
    server = MetaflowLanguageServer()

    @server.feature(types.INITIALIZE)
    @guarded_notification(server, types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        # pygls has chosen the position encoding (the client's first of utf-8/16/32).
        server.documents.encoding = str(server.workspace.position_encoding or "utf-16")
        server.runs.configure(params.initialization_options)
        server.documents.set_roots(server.workspace_roots())

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    @guarded_notification(server, types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(params: types.DidChangeWorkspaceFoldersParams) -> None:
        server.documents.set_roots(server.workspace_roots())

    @server.feature(types.SHUTDOWN)
    async def shutdown(*args: object) -> None:
        try:
            await server.executions.shutdown()
            await open_view.stop(server)
            await server.runs.shutdown()
        finally:
            server.documents.shutdown()

    for feature in (
        diagnostics,
        document_symbols,
        workspace_symbols,
        definition,
        references,
        rename,
        completion,
        hover,
        code_lens,
        failures,
        requests,
        open_view,
        commands,
    ):
        feature.register(server)
    return server
