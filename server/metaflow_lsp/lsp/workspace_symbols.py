"""workspace/symbol: flows and steps of open documents and of the workspace's flow files.

Files under the workspace folders that mention `FlowSpec` are analysed when first asked for
and again only when their modification time or size changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsprotocol import types

from ..flow.analysis import Analyzer
from ..flow.model import FlowFile, Range
from .convert import Lines
from .edge import guarded_request

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer

SKIP_DIRS = frozenset(
    {".venv", "venv", "node_modules", ".git", ".metaflow", "__pycache__", ".mypy_cache", ".tox"}
)
MAX_FILES = 20000
MAX_RESULTS = 500


@dataclass(frozen=True, slots=True)
class Entry:
    """A flow or step found in a file, its position already in the client's units."""

    name: str
    kind: types.SymbolKind
    container: str | None
    path: str
    range: types.Range


def file_entries(flow_file: FlowFile, lines: Lines) -> list[Entry]:
    """The flows of a file and the steps each defines."""
    out: list[Entry] = []

    def add(name: str, kind: types.SymbolKind, container: str | None, rng: Range) -> None:
        out.append(Entry(name, kind, container, flow_file.path, lines.range(rng)))

    for flow in flow_file.flows:
        add(flow.name, types.SymbolKind.Class, None, flow.name_range)
        for step in flow.own_steps:
            add(step.name, types.SymbolKind.Method, flow.name, step.name_range)
    return out


def matches(query: str, name: str) -> bool:
    """Whether the query's characters appear in order in `name`, ignoring case."""
    position = 0
    lowered = name.lower()
    for char in query.lower():
        position = lowered.find(char, position) + 1
        if position == 0:
            return False
    return True


class WorkspaceIndex:
    """Flow files on disk, analysed lazily and cached by (mtime, size)."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[tuple[float, int], list[Entry]]] = {}

    def scan(
        self, analyzer: Analyzer, roots: list[str], skip: set[str], encoding: str
    ) -> list[Entry]:
        """Entries of every flow file under `roots` except `skip` (runs in the analysis thread)."""
        entries: list[Entry] = []
        seen: set[str] = set()
        count = 0
        for root in roots:
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(
                    d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")
                )
                for file in sorted(files):
                    if not file.endswith(".py"):
                        continue
                    path = os.path.abspath(os.path.join(folder, file))
                    count += 1
                    if count > MAX_FILES:
                        return entries
                    if path in skip or path in seen:
                        continue
                    seen.add(path)
                    entries.extend(self._entries(analyzer, path, encoding))
        for gone in set(self._files) - seen:
            del self._files[gone]
        return entries

    def _entries(self, analyzer: Analyzer, path: str, encoding: str) -> list[Entry]:
        try:
            st = os.stat(path)
        except OSError:
            return []
        stamp = (st.st_mtime, st.st_size)
        cached = self._files.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            return []
        entries: list[Entry] = []
        if "FlowSpec" in text:
            try:
                flow_file = analyzer.analyze(path, text)
            finally:
                analyzer.forget(path)
            entries = file_entries(flow_file, Lines(text, encoding))
        self._files[path] = (stamp, entries)
        return entries


def register(server: MetaflowLanguageServer) -> None:
    """Register workspace/symbol."""
    index = WorkspaceIndex()

    @server.feature(types.WORKSPACE_SYMBOL)
    @guarded_request(server, types.WORKSPACE_SYMBOL, None)
    async def workspace_symbol(
        params: types.WorkspaceSymbolParams,
    ) -> list[types.WorkspaceSymbol] | None:
        documents = server.documents
        entries: list[Entry] = []
        for snapshot in documents.snapshots():
            entries.extend(file_entries(snapshot.flow_file, snapshot.lines))
        entries.extend(
            await documents.run(
                index.scan,
                documents.analyzer,
                server.workspace_roots(),
                documents.open_paths(),
                documents.encoding,
            )
        )
        found = [e for e in entries if matches(params.query, e.name)]
        found.sort(
            key=lambda e: (e.name.lower() != params.query.lower(), e.path, e.range.start.line)
        )
        return [
            types.WorkspaceSymbol(
                name=e.name,
                kind=e.kind,
                location=types.Location(server.uri_for(e.path), e.range),
                container_name=e.container,
            )
            for e in found[:MAX_RESULTS]
        ]
