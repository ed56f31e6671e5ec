"""textDocument/documentSymbol: each flow class with its steps, Parameters and Configs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from ..flow.graph import node_type_name
from ..flow.model import Flow, ParameterInfo, Step
from .convert import Lines
from .documents import Snapshot
from .edge import guarded_request

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer


def step_detail(flow: Flow, step: Step) -> str:
    """The step's type and where it goes, e.g. `split-foreach → train`."""
    if step.syntax_error is not None:
        return "syntax error"
    node = flow.graph.nodes.get(step.name) if flow.graph is not None else None
    if node is None:
        return "step"
    kind = node_type_name(node)
    if kind == "unknown":
        kind = "step"
    return f"{kind} → {', '.join(node.out_funcs)}" if node.out_funcs else kind


def parameter_detail(param: ParameterInfo) -> str:
    """How a Parameter is declared, e.g. `Parameter("alpha", default=0.5)`."""
    args = [f'"{param.name}"' if param.name is not None else "..."]
    if param.type is not None:
        args.append(f"type={param.type}")
    if param.default is not None:
        args.append(f"default={param.default}")
    if param.required:
        args.append("required=True")
    return f"{param.kind}({', '.join(args)})"


def _covering(outer: types.Range, inner: types.Range) -> types.Range:
    """`outer` grown to contain `inner` (clients reject a selection outside the range)."""
    start = min(
        (outer.start.line, outer.start.character), (inner.start.line, inner.start.character)
    )
    end = max((outer.end.line, outer.end.character), (inner.end.line, inner.end.character))
    return types.Range(types.Position(*start), types.Position(*end))


# (id(step), detail, encoding) -> (step, symbol); the step is kept to make the id unambiguous.
# Only ASCII-independent data is cached: a step object stands for one text at one place.
_STEP_SYMBOLS: dict[tuple[int, str, str], tuple[Step, types.DocumentSymbol]] = {}


def flow_symbol(snapshot: Snapshot, flow: Flow) -> types.DocumentSymbol:
    """The symbol of one flow class, with its own steps and parameters as children."""
    lines: Lines = snapshot.lines
    best = snapshot.best_effort(flow)
    children: list[types.DocumentSymbol] = []
    for param in flow.parameters:
        if param.source_file != snapshot.path:
            continue  # declared in a base class in another file
        rng = lines.range(param.range)
        children.append(
            types.DocumentSymbol(
                name=param.attribute,
                kind=types.SymbolKind.Constant
                if param.kind == "Config"
                else types.SymbolKind.Property,
                range=rng,
                selection_range=rng,
                detail=parameter_detail(param),
            )
        )
    for step in flow.own_steps:
        detail = step_detail(best, best.steps.get(step.name, step))
        # Steps the edit did not touch are the same objects as before: reuse their symbols.
        key = (id(step), detail, lines.encoding)
        cached = _STEP_SYMBOLS.get(key)
        if cached is not None and cached[0] is step:
            children.append(cached[1])
            continue
        selection = lines.range(step.name_range)
        symbol = types.DocumentSymbol(
            name=step.name,
            kind=types.SymbolKind.Method,
            range=_covering(lines.range(step.range), selection),
            selection_range=selection,
            detail=detail,
        )
        if len(_STEP_SYMBOLS) > 20000:
            _STEP_SYMBOLS.clear()
        _STEP_SYMBOLS[key] = (step, symbol)
        children.append(symbol)
    children.sort(key=lambda s: (s.range.start.line, s.range.start.character))
    selection = lines.range(flow.name_range)
    return types.DocumentSymbol(
        name=flow.name,
        kind=types.SymbolKind.Class,
        range=_covering(lines.range(flow.range), selection),
        selection_range=selection,
        detail="FlowSpec",
        children=children,
    )


def register(server: MetaflowLanguageServer) -> None:
    """Register textDocument/documentSymbol."""

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @guarded_request(server, types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, None)
    async def document_symbol(
        params: types.DocumentSymbolParams,
    ) -> list[types.DocumentSymbol] | None:
        snapshot = await server.documents.snapshot(params.text_document.uri)
        if snapshot is None:
            return None
        return [flow_symbol(snapshot, flow) for flow in snapshot.flow_file.flows]
