"""textDocument/hover: what a step, an artifact, a Parameter or a flow is, in Markdown.

Steps show their type (as `output-raw` names it), decorators as written, docstring, inputs,
outputs and the artifacts they assign; artifacts show which upstream steps assign them. Below
that, what past runs say (`runs_hover.py`): an artifact's last value, a step's last status.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lsprotocol import types

from ..flow.graph import node_type_name
from ..flow.model import Flow, ParameterInfo, Step
from ..flow.queries import (
    ArtifactAt,
    FlowAt,
    ParameterAt,
    StepAt,
    artifact_assignments,
    assigned_artifacts,
    step_order,
    symbol_at,
    upstream_steps,
)
from .documents import Snapshot
from .edge import guarded_request
from .runs_hover import hover_runs

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer


def _code(text: object) -> str:
    """Inline code that survives backticks in the text."""
    value = str(text)
    fence = "``" if "`" in value else "`"
    return f"{fence}{value}{fence}"


def _names(names: list[str]) -> str:
    return ", ".join(_code(n) for n in names) if names else "none"


def _where(flow: Flow, step: Step) -> str:
    if step.source_file == flow.source_file and step.inherited_from is None:
        return ""
    origin = step.inherited_from or "a base class"
    return f" (inherited from {_code(origin)}, {os.path.basename(step.source_file)})"


def step_markdown(flow: Flow, step: Step, broken: bool = False) -> str:
    """The hover text of a step (`broken`: it does not parse now, `step` is its last clean one)."""
    node = flow.graph.nodes.get(step.name) if flow.graph is not None else None
    kind = node_type_name(node) if node is not None else "unknown"
    signature = [f"@{d.text}" for d in step.decorators]
    if step.step_decorator is not None:
        signature.insert(
            len(
                [
                    d
                    for d in step.decorators
                    if d.range.start.line < step.step_decorator.range.start.line
                ]
            ),
            f"@{step.step_decorator.text}",
        )
    signature.append(f"def {step.name}({', '.join(step.arg_names)})")
    parts = [
        "```python\n" + "\n".join(signature) + "\n```",
        f"**{kind}** step of {_code(flow.name)}{_where(flow, step)}",
    ]
    if broken:
        parts.append(
            "_This step does not parse right now; details are from its last clean version._"
        )
    if step.doc:
        parts.append(step.doc)
    facts: list[str] = []
    if node is not None:
        facts.append(f"- **Inputs:** {_names(node.in_funcs)}")
        if kind == "split-switch" and node.switch_cases:
            cases = ", ".join(
                f"{_code(repr(k))} → {_code(v)}" for k, v in node.switch_cases.items()
            )
            condition = f" on {_code(node.condition)}" if node.condition else ""
            facts.append(f"- **Switch**{condition}: {cases}")
        elif node.out_funcs:
            outputs = f"- **Next:** {_names(node.out_funcs)}"
            if kind == "split-foreach":
                outputs += f" (foreach over {_code(node.foreach_param)})"
            elif kind == "split-parallel":
                outputs += f" (parallel × {_code(node.num_parallel)})"
            facts.append(outputs)
        if node.matching_join:
            facts.append(f"- **Joined at:** {_code(node.matching_join)}")
    artifacts = assigned_artifacts(step)
    if artifacts or step.dynamic_writes:
        listed = _names(artifacts) if artifacts else ""
        if step.dynamic_writes:
            listed += (", " if listed else "") + "and artifacts set dynamically"
        facts.append(f"- **Assigns:** {listed}")
    if facts:
        parts.append("\n".join(facts))
    return "\n\n".join(parts)


def artifact_markdown(flow: Flow, step: Step, name: str, line: int, column: int) -> str:
    """The hover text of `self.<name>` read or assigned in `step`."""
    found = artifact_assignments(flow, step.name, name, (line, column))
    upstream = [s.name for s, _ in found if s.name != step.name]
    upstream = list(dict.fromkeys(upstream))
    here = any(s.name == step.name for s, _ in found)
    lines = [f"**artifact** {_code('self.' + name)}"]
    if upstream:
        lines.append(f"Assigned upstream in {_names(upstream)}")
    if here:
        lines.append(f"Assigned earlier in this step ({_code(step.name)})")
    if not upstream and not here:
        if any(w.name == name for w in step.writes):
            lines.append(f"First assigned here, in {_code(step.name)}")
        else:
            lines.append("No step upstream assigns it.")
    later = [
        s
        for s in flow.steps
        if s != step.name
        and step.name in upstream_steps(flow, s)
        and any(w.name == name for w in flow.steps[s].writes)
    ]
    if later:
        lines.append(f"Reassigned downstream in {_names(later)}")
    return "\n\n".join(lines)


def parameter_markdown(param: ParameterInfo) -> str:
    """The hover text of a Parameter, Config or IncludeFile."""
    option = f" (`--{param.name}`)" if param.name else ""
    parts = [f"**{param.kind}** {_code(param.attribute)}{option}"]
    facts = []
    if param.type is not None:
        facts.append(f"- Type: {_code(param.type)}")
    if param.default is not None:
        facts.append(f"- Default: {_code(param.default)}")
    if param.required:
        facts.append("- Required")
    if facts:
        parts.append("\n".join(facts))
    if param.help:
        parts.append(param.help)
    return "\n\n".join(parts)


def flow_markdown(flow: Flow) -> str:
    """The hover text of a flow class."""
    bases = ", ".join(flow.bases)
    parts = [f"```python\nclass {flow.name}({bases})\n```"]
    if flow.doc:
        parts.append(flow.doc)
    facts = [f"- **{len(flow.steps)} steps:** {_names(step_order(flow))}"]
    if flow.parameters:
        params = [f"{_code(p.attribute)} ({p.kind})" for p in flow.parameters]
        facts.append(f"- **Parameters:** {', '.join(params)}")
    else:
        facts.append("- **Parameters:** none")
    parts.append("\n".join(facts))
    return "\n\n".join(parts)


def hover_at(snapshot: Snapshot, line: int, column: int) -> tuple[str, types.Range] | None:
    """Markdown and the range it describes, for a model position."""
    symbol = symbol_at(snapshot.flow_file, line, column)
    if symbol is None:
        return None
    if isinstance(symbol, StepAt):
        best = snapshot.best_effort(symbol.flow)
        step = best.steps.get(symbol.name)
        if step is None:
            return (
                f"Unknown step {_code(symbol.name)}: {_code(symbol.flow.name)} has no such step.",
                snapshot.lines.range(symbol.range),
            )
        current = symbol.flow.steps.get(symbol.name)
        broken = current is not None and current.syntax_error is not None
        return step_markdown(best, step, broken), snapshot.lines.range(symbol.range)
    if isinstance(symbol, ArtifactAt):
        best = snapshot.best_effort(symbol.flow)
        start = symbol.ref.range.start
        text = artifact_markdown(best, symbol.step, symbol.ref.name, start.line, start.column)
        return text, snapshot.lines.range(symbol.ref.range)
    if isinstance(symbol, ParameterAt):
        return parameter_markdown(symbol.parameter), snapshot.lines.range(symbol.range)
    if isinstance(symbol, FlowAt):
        return flow_markdown(snapshot.best_effort(symbol.flow)), snapshot.lines.range(symbol.range)
    return None


def register(server: MetaflowLanguageServer) -> None:
    """Register textDocument/hover."""

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @guarded_request(server, types.TEXT_DOCUMENT_HOVER, None)
    async def hover(params: types.HoverParams) -> types.Hover | None:
        snapshot = await server.documents.snapshot(params.text_document.uri)
        if snapshot is None:
            return None
        line, column = snapshot.lines.model_position(params.position)
        found = hover_at(snapshot, line, column)
        runs = await hover_runs(server, snapshot, line, column)
        if found is None and runs is None:
            return None
        if found is None:
            assert runs is not None
            text, rng = runs[0], runs[1]
        else:
            text, rng = found
            if runs is not None:
                text += "\n\n---\n\n" + runs[0]
        return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, text), rng)
