"""textDocument/completion: step names inside `self.next(`, artifacts and Parameters after `self.`.

The context comes from the text being typed (the current step up to the cursor), the model
from the best-effort flow: a step that does not parse right now is taken from the last
analysis in which it did, so completion works on a half-typed line.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lsprotocol import types

from ..flow.graph import node_type_name
from ..flow.model import Flow
from ..flow.queries import completion_context, step_order, visible_artifacts
from .document_symbols import parameter_detail
from .documents import Snapshot
from .edge import guarded_request

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer

TRIGGER_CHARACTERS = [".", "("]
# Lines looked at before the cursor when it is not inside a known step.
CONTEXT_LINES = 40


def step_type(flow: Flow, name: str) -> str:
    """The step's type as `output-raw` names it, or "step" when the graph does not know it."""
    node = flow.graph.nodes.get(name) if flow.graph is not None else None
    kind = node_type_name(node) if node is not None else "unknown"
    return "step" if kind == "unknown" else kind


def step_items(flow: Flow, with_self: bool = False) -> list[types.CompletionItem]:
    """One item per step of the flow, in graph order (`self.<step>` when `with_self`)."""
    rank = {n: i for i, n in enumerate(step_order(flow))}
    items = []
    for name, step in flow.steps.items():
        detail = step_type(flow, name)
        if step.inherited_from:
            detail += f" (from {step.inherited_from}, {os.path.basename(step.source_file)})"
        items.append(
            types.CompletionItem(
                label=f"self.{name}" if with_self else name,
                kind=types.CompletionItemKind.Method,
                detail=detail,
                documentation=types.MarkupContent(types.MarkupKind.Markdown, step.doc)
                if step.doc
                else None,
                sort_text=f"{rank.get(name, len(rank)):04d}{name}",
            )
        )
    return items


def attribute_items(flow: Flow, step_name: str | None) -> list[types.CompletionItem]:
    """Artifacts a step can read (with the steps assigning them), Parameters and `next`."""
    items: list[types.CompletionItem] = []
    if step_name is not None:
        artifacts = visible_artifacts(flow, step_name)
    else:
        # Outside a step (a helper method): any artifact of the flow.
        artifacts = {}
        for name, step in flow.steps.items():
            for write in step.writes:
                artifacts.setdefault(write.name, [])
                if name not in artifacts[write.name]:
                    artifacts[write.name].append(name)
    params = {p.attribute: p for p in flow.parameters}
    for name, steps in sorted(artifacts.items()):
        if name in params:
            continue
        here = [s if s != step_name else "this step" for s in steps]
        items.append(
            types.CompletionItem(
                label=name,
                kind=types.CompletionItemKind.Field,
                detail="artifact assigned in " + ", ".join(here),
                sort_text=f"0{name}",
            )
        )
    for name, param in sorted(params.items()):
        items.append(
            types.CompletionItem(
                label=name,
                kind=types.CompletionItemKind.Constant
                if param.kind == "Config"
                else types.CompletionItemKind.Property,
                detail=parameter_detail(param),
                documentation=param.help,
                sort_text=f"1{name}",
            )
        )
    items.append(
        types.CompletionItem(
            label="next",
            kind=types.CompletionItemKind.Method,
            detail="FlowSpec.next: the step(s) to run after this one",
            sort_text="2next",
        )
    )
    return items


def complete(snapshot: Snapshot, line: int, column: int) -> list[types.CompletionItem] | None:
    """Completion items at a model position, or None when the cursor is not after `self.`."""
    flow = snapshot.flow_at(line)
    if flow is None:
        return None
    step = flow.step_at(line, column)
    first = (
        step.range.start.line
        if step is not None
        else max(flow.range.start.line, line - CONTEXT_LINES)
    )
    lines = snapshot.lines
    before = [lines.line(n) for n in range(first, line)]
    before.append(lines.line(line)[:column])
    context = completion_context("\n".join(before))
    if context is None:
        return None
    best = snapshot.best_effort(flow)
    if context.kind == "step":
        return step_items(best, with_self=context.after_paren)
    return attribute_items(best, step.name if step is not None else None)


def register(server: MetaflowLanguageServer) -> None:
    """Register textDocument/completion."""

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS),
    )
    @guarded_request(server, types.TEXT_DOCUMENT_COMPLETION, None)
    async def completion(params: types.CompletionParams) -> types.CompletionList | None:
        snapshot = await server.documents.snapshot(params.text_document.uri)
        if snapshot is None:
            return None
        line, column = snapshot.lines.model_position(params.position)
        items = complete(snapshot, line, column)
        if items is None:
            return None
        return types.CompletionList(is_incomplete=False, items=items)
