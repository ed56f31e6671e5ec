"""The pygls language server: one instance, the document store, and each feature registered once.

Handlers live in one module per LSP feature; they translate lsprotocol to and from the flow
model and delegate to it.
"""

from __future__ import annotations

import logging

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from .. import __version__
from . import (
    completion,
    definition,
    diagnostics,
    document_symbols,
    hover,
    references,
    rename,
    workspace_symbols,
)
from .convert import path_to_uri, uri_to_path
from .documents import DocumentStore, Snapshot
from .edge import guarded_notification, log_exception

log = logging.getLogger(__name__)


class MetaflowLanguageServer(LanguageServer):
    """The language server for Metaflow flows."""

    def __init__(self) -> None:
        super().__init__("metaflow-lsp", __version__)
        self.documents = DocumentStore(self._analysed, self._analysis_failed)

    async def _analysed(self, snapshot: Snapshot) -> None:
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
    server = MetaflowLanguageServer()

    @server.feature(types.INITIALIZE)
    @guarded_notification(server, types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        # pygls has chosen the position encoding (the client's first of utf-8/16/32).
        server.documents.encoding = str(server.workspace.position_encoding or "utf-16")
        server.documents.set_roots(server.workspace_roots())

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    @guarded_notification(server, types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(params: types.DidChangeWorkspaceFoldersParams) -> None:
        server.documents.set_roots(server.workspace_roots())

    @server.feature(types.SHUTDOWN)
    def shutdown(*args: object) -> None:
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
    ):
        feature.register(server)
    return server
