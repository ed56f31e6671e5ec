"""The language server as the runs API's host: its run stores, workers and open documents.

Flow sources come from the open documents first (what the editor shows, unsaved edits
included), then from the flow files under the workspace folders.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..api.sources import SourceIndex
from .runs_service import IO_TIMEOUT

if TYPE_CHECKING:
    from ..flow import FlowFile
    from ..runs import RunStore
    from ..worker import ArtifactWorker
    from .server import MetaflowLanguageServer

T = TypeVar("T")


class LspHost:
    """`ApiHost` over a MetaflowLanguageServer's RunsService and DocumentStore."""

    def __init__(self, server: MetaflowLanguageServer) -> None:
        self._server = server
        self.sources = SourceIndex()

    async def io(self, fn: Callable[..., T], *args: Any, timeout: float = IO_TIMEOUT) -> T:
        """`fn(*args)` in the run store threads."""
        return await self._server.runs.io(fn, *args, timeout=timeout)

    async def store_for_flow(self, flow: str, uri_path: str | None = None) -> RunStore | None:
        """The store holding `flow` (the file's, an open document's, a workspace folder's)."""
        return await self._server.runs.store_for_flow(flow, uri_path)

    async def stores(self, uri_path: str | None = None) -> list[RunStore]:
        """The stores of the given file, else of the workspace folders and open documents."""
        runs = self._server.runs
        if uri_path:
            return [await runs.store_for(uri_path)]
        paths = [os.path.join(r, "__flow__.py") for r in self._server.workspace_roots()]
        paths += [s.path for s in self._server.documents.snapshots()]
        out: list[RunStore] = []
        for path in paths:
            store = await runs.store_for(path)
            if all(store is not s for s in out):
                out.append(store)
        return out

    def flow_file_of(self, flow: str) -> str | None:
        """An open document defining `flow`."""
        return self._server.runs.flow_file_of(flow)

    async def worker_for(self, path: str) -> ArtifactWorker:
        """The artifact worker for the flow file's interpreter."""
        return await self._server.runs.worker_for(path)

    async def flow_source(self, flow: str, uri_path: str | None = None) -> FlowFile | None:
        """The open document defining `flow` (as analysed now), else the file on disk."""
        for snapshot in self._server.documents.snapshots():
            if uri_path and os.path.abspath(uri_path) != snapshot.path:
                continue
            if any(f.name == flow for f in snapshot.flow_file.flows):
                return snapshot.flow_file
        if uri_path:
            return await self.io(self.sources.analysed, os.path.abspath(uri_path))
        found = await self.source_flows()
        path = found.get(flow)
        return await self.io(self.sources.analysed, path) if path else None

    async def source_flows(self, uri_path: str | None = None) -> dict[str, str]:
        """Flows of the open documents and of the workspace's flow files."""
        out: dict[str, str] = {}
        if uri_path:
            flow_file = await self.io(self.sources.analysed, os.path.abspath(uri_path))
            return {f.name: flow_file.path for f in flow_file.flows} if flow_file else {}
        for snapshot in self._server.documents.snapshots():
            for flow in snapshot.flow_file.flows:
                out.setdefault(flow.name, snapshot.path)
        roots = self._server.workspace_roots()
        for name, path in (await self.io(self.sources.flow_files, roots, timeout=60.0)).items():
            out.setdefault(name, path)
        return out
