"""textDocument/publishDiagnostics: the model's syntax and structure problems, per document,
and the last run failures of its steps (`failures.py`, source "metaflow").

Published after each analysis of the current text (didOpen, didChange, didSave) and when the
run failures change, cleared on didClose. The document handlers here feed the `DocumentStore`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from ..flow.model import Diagnostic
from . import failures
from .convert import SEVERITY, Lines, uri_to_path
from .documents import Snapshot
from .edge import guarded_notification

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer

SOURCE = "metaflow-lsp"


async def to_lsp(
    server: MetaflowLanguageServer, snapshot: Snapshot, diagnostic: Diagnostic
) -> types.Diagnostic:
    """One model diagnostic as the client shows it, related places in other files included."""
    related: list[types.DiagnosticRelatedInformation] = []
    for file, rng, message in diagnostic.related:
        lines: Lines | None = (
            snapshot.lines if file == snapshot.path else await server.documents.lines_of(file)
        )
        if lines is None:
            continue
        related.append(
            types.DiagnosticRelatedInformation(
                types.Location(server.uri_for(file), lines.range(rng)), message
            )
        )
    return types.Diagnostic(
        range=snapshot.lines.range(diagnostic.range),
        message=diagnostic.message,
        severity=SEVERITY.get(diagnostic.severity, types.DiagnosticSeverity.Error),
        code=diagnostic.code,
        source=SOURCE,
        related_information=related or None,
        tags=[types.DiagnosticTag.Unnecessary] if diagnostic.code == "unreachable-step" else None,
    )


async def publish(server: MetaflowLanguageServer, snapshot: Snapshot) -> None:
    """Send the diagnostics of a finished analysis, unless the document changed meanwhile."""
    diagnostics = [await to_lsp(server, snapshot, d) for d in snapshot.flow_file.diagnostics]
    current = server.documents.latest_generation(snapshot.uri)
    if current != snapshot.generation:
        return  # a newer text is being analysed; its result will be published
    diagnostics += failures.current(server, snapshot)
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(snapshot.uri, diagnostics, snapshot.version)
    )


def register(server: MetaflowLanguageServer) -> None:
    """Document synchronisation handlers that start analyses and clear diagnostics."""

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @guarded_notification(server, types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        document = params.text_document
        path = uri_to_path(document.uri) or document.uri
        server.documents.open(document.uri, path, document.text, document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @guarded_notification(server, types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        # pygls has applied the changes to its copy of the document already.
        document = server.workspace.get_text_document(params.text_document.uri)
        server.documents.change(document.uri, document.source, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    @guarded_notification(server, types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        server.documents.saved(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @guarded_notification(server, types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        server.documents.close(uri)
        failures.forget(server, uri)
        server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))
