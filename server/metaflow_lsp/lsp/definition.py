"""textDocument/definition: steps, artifacts and Parameters to where they are defined.

A step reference (`self.train` in `self.next(...)`, switch values included) goes to the step's
`def` name, in another module for an inherited step; `self.x` goes to every `self.x = ...` in
the steps upstream; a Parameter attribute goes to its declaration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from ..flow.model import Range
from ..flow.queries import ArtifactAt, FlowAt, ParameterAt, StepAt, artifact_assignments, symbol_at
from .documents import Snapshot
from .edge import guarded_request

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer


async def location(
    server: MetaflowLanguageServer, snapshot: Snapshot, path: str, rng: Range
) -> types.Location | None:
    """An LSP location for a model range in any file (columns converted with that file's text)."""
    lines = snapshot.lines if path == snapshot.path else await server.documents.lines_of(path)
    if lines is None:
        return None
    return types.Location(server.uri_for(path), lines.range(rng))


async def locations(
    server: MetaflowLanguageServer, snapshot: Snapshot, places: list[tuple[str, Range]]
) -> list[types.Location]:
    """LSP locations for (file, model range) places; places in files that cannot be read are
    left out."""
    out = []
    for path, rng in places:
        loc = await location(server, snapshot, path, rng)
        if loc is not None:
            out.append(loc)
    return out


async def definitions(
    server: MetaflowLanguageServer, snapshot: Snapshot, line: int, column: int
) -> list[types.Location]:
    """Where the symbol at a model position is defined."""
    symbol = symbol_at(snapshot.flow_file, line, column)
    places: list[tuple[str, Range]] = []
    if isinstance(symbol, StepAt):
        step = symbol.flow.steps.get(symbol.name)
        if step is not None:
            places.append((step.source_file, step.name_range))
    elif isinstance(symbol, ArtifactAt):
        ref = symbol.ref
        before = (ref.range.start.line, ref.range.start.column)
        found = artifact_assignments(symbol.flow, symbol.step.name, ref.name, before)
        places.extend((step.source_file, write.range) for step, write in found)
        if not places and symbol.is_write:
            places.append((symbol.step.source_file, ref.range))
    elif isinstance(symbol, ParameterAt):
        places.append((symbol.parameter.source_file, symbol.parameter.range))
    elif isinstance(symbol, FlowAt):
        places.append((symbol.flow.source_file, symbol.flow.name_range))
    return await locations(server, snapshot, places)


def register(server: MetaflowLanguageServer) -> None:
    """Register textDocument/definition."""

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    @guarded_request(server, types.TEXT_DOCUMENT_DEFINITION, None)
    async def definition(params: types.DefinitionParams) -> list[types.Location] | None:
        snapshot = await server.documents.snapshot(params.text_document.uri)
        if snapshot is None:
            return None
        line, column = snapshot.lines.model_position(params.position)
        return await definitions(server, snapshot, line, column) or None
