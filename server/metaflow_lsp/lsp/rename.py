"""textDocument/prepareRename and textDocument/rename for steps.

Renames the step's `def` and every `self.<step>` in the transitions of the flow and of open
flows that inherit the step. Refuses, with a message for the user, names Metaflow would reject
or that clash with the flow's steps and attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from ..flow.queries import StepAt, rename_problem, symbol_at
from .documents import Snapshot
from .edge import guarded_request
from .references import flows_sharing_step, step_places

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer

NOT_ON_A_STEP = (
    "Only steps can be renamed: put the cursor on a step's name in `def` or in "
    "`self.next(self.<step>)`."
)


def refuse(message: str) -> JsonRpcException:
    """An error response the client shows to the user as it is."""
    return JsonRpcException(message=message, code=types.LSPErrorCodes.RequestFailed)


def step_at(snapshot: Snapshot, position: types.Position) -> StepAt:
    """The step at an LSP position, or a refusal."""
    line, column = snapshot.lines.model_position(position)
    symbol = symbol_at(snapshot.flow_file, line, column)
    if not isinstance(symbol, StepAt):
        raise refuse(NOT_ON_A_STEP)
    if symbol.name not in symbol.flow.steps:
        raise refuse(f"There is no step '{symbol.name}' in {symbol.flow.name} to rename.")
    return symbol


async def rename_edit(
    server: MetaflowLanguageServer, snapshot: Snapshot, symbol: StepAt, new_name: str
) -> types.WorkspaceEdit:
    """Text edits replacing the step's name at its def and at every reference."""
    changes: dict[str, list[types.TextEdit]] = {}
    for path, rng in step_places(server, symbol.flow, symbol.name, include_declaration=True):
        lines = snapshot.lines if path == snapshot.path else await server.documents.lines_of(path)
        if lines is None:
            continue
        edits = changes.setdefault(server.uri_for(path), [])
        edits.append(types.TextEdit(range=lines.range(rng), new_text=new_name))
    for edits in changes.values():
        edits.sort(key=lambda e: (e.range.start.line, e.range.start.character))
    return types.WorkspaceEdit(changes=changes)


def register(server: MetaflowLanguageServer) -> None:
    """Register textDocument/prepareRename and textDocument/rename."""

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    @guarded_request(server, types.TEXT_DOCUMENT_PREPARE_RENAME, None)
    async def prepare_rename(
        params: types.PrepareRenameParams,
    ) -> types.PrepareRenamePlaceholder | None:
        snapshot = await server.documents.snapshot(params.text_document.uri)
        if snapshot is None:
            return None
        symbol = step_at(snapshot, params.position)
        return types.PrepareRenamePlaceholder(
            range=snapshot.lines.range(symbol.range), placeholder=symbol.name
        )

    @server.feature(types.TEXT_DOCUMENT_RENAME, types.RenameOptions(prepare_provider=True))
    @guarded_request(server, types.TEXT_DOCUMENT_RENAME, None)
    async def rename(params: types.RenameParams) -> types.WorkspaceEdit | None:
        snapshot = await server.documents.snapshot(params.text_document.uri)
        if snapshot is None:
            return None
        symbol = step_at(snapshot, params.position)
        # The new name must fit the flow and every open flow that inherits the step.
        for flow in flows_sharing_step(server, symbol.flow, symbol.name):
            problem = rename_problem(flow, symbol.name, params.new_name)
            if problem is not None:
                raise refuse(problem)
        return await rename_edit(server, snapshot, symbol, params.new_name)
