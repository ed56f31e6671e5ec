"""textDocument/references: a step's def and every `self.<step>` in the flow's transitions.

Also for artifacts (every `self.x` of the flow) and Parameters (declaration and reads).
Flows in other open documents that inherit the same step are searched too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from ..flow.model import Flow, Range
from ..flow.queries import ArtifactAt, ParameterAt, StepAt, step_references, symbol_at
from .definition import locations
from .documents import Snapshot
from .edge import guarded_request

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer


def flows_sharing_step(server: MetaflowLanguageServer, flow: Flow, name: str) -> list[Flow]:
    """`flow` and the flows of open documents that have the same step `name` (same def)."""
    step = flow.steps.get(name)
    flows = [flow]
    if step is None:
        return flows
    key = (step.source_file, step.name_range)
    for snapshot in server.documents.snapshots():
        for other in snapshot.flow_file.flows:
            if other is flow or any(other is f for f in flows):
                continue
            candidate = other.steps.get(name)
            if candidate is not None and (candidate.source_file, candidate.name_range) == key:
                flows.append(other)
    return flows


def step_places(
    server: MetaflowLanguageServer, flow: Flow, name: str, include_declaration: bool
) -> list[tuple[str, Range]]:
    """The def of step `name` (optionally) and its references in every flow that shares it."""
    places: list[tuple[str, Range]] = []
    step = flow.steps.get(name)
    if include_declaration and step is not None:
        places.append((step.source_file, step.name_range))
    for other in flows_sharing_step(server, flow, name):
        places.extend(step_references(other, name))
    return list(dict.fromkeys(places))


def attribute_places(flow: Flow, name: str, include_declaration: bool) -> list[tuple[str, Range]]:
    """Every `self.<name>` in the flow's steps (and a Parameter's declaration)."""
    places: list[tuple[str, Range]] = []
    if include_declaration:
        places.extend((p.source_file, p.range) for p in flow.parameters if p.attribute == name)
    for step in flow.steps.values():
        for ref in sorted(
            (*step.writes, *step.reads), key=lambda r: (r.range.start.line, r.range.start.column)
        ):
            if ref.name == name:
                places.append((step.source_file, ref.range))
    return list(dict.fromkeys(places))


async def find_references(
    server: MetaflowLanguageServer,
    snapshot: Snapshot,
    line: int,
    column: int,
    include_declaration: bool,
) -> list[types.Location]:
    """References of the symbol at a model position."""
    symbol = symbol_at(snapshot.flow_file, line, column)
    if isinstance(symbol, StepAt):
        places = step_places(server, symbol.flow, symbol.name, include_declaration)
    elif isinstance(symbol, ArtifactAt):
        places = attribute_places(symbol.flow, symbol.ref.name, include_declaration)
    elif isinstance(symbol, ParameterAt):
        places = attribute_places(symbol.flow, symbol.parameter.attribute, include_declaration)
    else:
        return []
    return await locations(server, snapshot, places)


def register(server: MetaflowLanguageServer) -> None:
    """Register textDocument/references."""

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    @guarded_request(server, types.TEXT_DOCUMENT_REFERENCES, None)
    async def references(params: types.ReferenceParams) -> list[types.Location] | None:
        snapshot = await server.documents.snapshot(params.text_document.uri)
        if snapshot is None:
            return None
        line, column = snapshot.lines.model_position(params.position)
        found = await find_references(
            server, snapshot, line, column, params.context.include_declaration
        )
        return found
