"""Helpers to drive a real metaflow-lsp server through pytest-lsp's client."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "metaflow_lsp", "serve"])
# What each server answered to `initialize`, by id of its client.
CAPABILITIES: dict[int, types.ServerCapabilities] = {}


class Session:
    """A client connected to the server, with a workspace folder to write flows into."""

    def __init__(self, client: LanguageClient, root: Path) -> None:
        self.client = client
        self.root = root
        self.versions: dict[str, int] = {}

    @property
    def capabilities(self) -> types.ServerCapabilities:
        """What the server answered to `initialize`."""
        return CAPABILITIES[id(self.client)]

    def uri(self, name: str) -> str:
        """The URI of a file of the workspace."""
        return (self.root / name).as_uri()

    def write(self, name: str, text: str) -> str:
        """Write a file into the workspace (not opened); returns its URI."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path.as_uri()

    def open(self, name: str, text: str | None = None) -> str:
        """Open a workspace file in the editor (writing `text` to disk first when given)."""
        uri = self.write(name, text) if text is not None else self.uri(name)
        source = (self.root / name).read_text(encoding="utf-8")
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                types.TextDocumentItem(uri=uri, language_id="python", version=1, text=source)
            )
        )
        return uri

    def change(self, uri: str, text: str) -> None:
        """Replace the whole text of an open document."""
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                [types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def close(self, uri: str) -> None:
        """Close a document."""
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri=uri))
        )

    async def diagnostics(
        self, uri: str, until: Callable[[list[types.Diagnostic]], bool], timeout: float = 15
    ) -> list[types.Diagnostic]:
        """The diagnostics of `uri` once `until` holds for them (the last ones on timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = list(self.client.diagnostics.get(uri, []) or [])
            if uri in self.client.diagnostics and until(found):
                return found
            if loop.time() > deadline:
                return found
            await asyncio.sleep(0.02)

    async def symbols(self, uri: str) -> Any:
        """textDocument/documentSymbol."""
        return await self.client.text_document_document_symbol_async(
            types.DocumentSymbolParams(types.TextDocumentIdentifier(uri=uri))
        )

    async def hover(self, uri: str, line: int, character: int) -> types.Hover | None:
        """textDocument/hover at a 0-based position."""
        return await self.client.text_document_hover_async(
            types.HoverParams(
                types.TextDocumentIdentifier(uri=uri), types.Position(line, character)
            )
        )

    async def complete(self, uri: str, line: int, character: int) -> list[types.CompletionItem]:
        """textDocument/completion at a 0-based position: the items (empty when none)."""
        result = await self.client.text_document_completion_async(
            types.CompletionParams(
                types.TextDocumentIdentifier(uri=uri), types.Position(line, character)
            )
        )
        if result is None:
            return []
        return list(result.items if isinstance(result, types.CompletionList) else result)

    async def definition(self, uri: str, line: int, character: int) -> list[types.Location]:
        """textDocument/definition at a 0-based position (always a list)."""
        result = await self.client.text_document_definition_async(
            types.DefinitionParams(
                types.TextDocumentIdentifier(uri=uri), types.Position(line, character)
            )
        )
        if result is None:
            return []
        return list(result) if isinstance(result, list) else [result]  # type: ignore[list-item]


def position_of(text: str, needle: str, occurrence: int = 0, offset: int = 0) -> tuple[int, int]:
    """0-based (line, code-point column) of the `occurrence`-th `needle` in `text`, plus `offset`."""
    index = -1
    for _ in range(occurrence + 1):
        index = text.index(needle, index + 1)
    index += offset
    line = text.count("\n", 0, index)
    return line, index - (text.rfind("\n", 0, index) + 1)


def lsp_range(start: tuple[int, int], end: tuple[int, int]) -> types.Range:
    """An LSP range from two (line, character) pairs."""
    return types.Range(types.Position(*start), types.Position(*end))


def name_at(text: str, needle: str, name: str, occurrence: int = 0) -> types.Range:
    """The range of `name` where it ends `needle` (the `occurrence`-th one), all ASCII."""
    line, col = position_of(text, needle, occurrence, offset=len(needle) - len(name))
    return lsp_range((line, col), (line, col + len(name)))


def initialize_params(root: Path, encodings: list[str] | None = None) -> types.InitializeParams:
    """What VS Code sends, with `root` as the only workspace folder."""
    capabilities = pytest_lsp.client_capabilities("visual-studio-code")
    if encodings is not None:
        capabilities.general = types.GeneralClientCapabilities(
            position_encodings=[types.PositionEncodingKind(e) for e in encodings]
        )
    return types.InitializeParams(
        capabilities=capabilities,
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
    )
