"""Questions editors ask about a flow model: what is at a position, what is upstream of a step.

Pure functions over `FlowFile` / `Flow`; they know nothing about LSP. Lines are 1-based and
columns 0-based code points, as everywhere in the model.
"""

from __future__ import annotations

import dataclasses
import keyword
import re
from dataclasses import dataclass
from typing import Literal

from .build import metaflow_table
from .graph import build_graph
from .lint import RESERVED
from .model import ArtifactRef, Flow, FlowFile, ParameterInfo, Range, Step

# ---------------------------------------------------------------------------------------------
# What is at a position


@dataclass(frozen=True, slots=True)
class StepAt:
    """A step named at a position: its `def` name or a `self.<step>` in a transition."""

    flow: Flow
    name: str
    range: Range  # the step name under the position
    is_definition: bool


@dataclass(frozen=True, slots=True)
class ArtifactAt:
    """A `self.<artifact>` read or assignment inside a step."""

    flow: Flow
    step: Step
    ref: ArtifactRef
    is_write: bool


@dataclass(frozen=True, slots=True)
class ParameterAt:
    """A Parameter / Config / IncludeFile: its declaration or a `self.<attribute>` read."""

    flow: Flow
    parameter: ParameterInfo
    range: Range


@dataclass(frozen=True, slots=True)
class FlowAt:
    """The name of a flow class."""

    flow: Flow
    range: Range


SymbolAt = StepAt | ArtifactAt | ParameterAt | FlowAt


def target_name_range(target_range: Range, name: str) -> Range:
    """The step name inside a `self.<name>` transition target (the name ends the expression)."""
    end = target_range.end
    return Range.of(end.line, max(0, end.column - len(name)), end.line, end.column)


def symbol_at(flow_file: FlowFile, line: int, column: int) -> SymbolAt | None:
    """The step, artifact, parameter or flow named at 1-based `line`, 0-based `column`."""
    path = flow_file.path
    for flow in flow_file.flows:
        if not flow.range.contains(line, column) and not flow.name_range.contains(line, column):
            continue
        if flow.name_range.contains(line, column):
            return FlowAt(flow, flow.name_range)
        params = {p.attribute: p for p in flow.parameters}
        for param in flow.parameters:
            if param.source_file == path and param.range.contains(line, column):
                return ParameterAt(flow, param, param.range)
        for step in flow.own_steps:
            if not (step.range.start.line <= line <= step.range.end.line):
                continue
            if step.name_range.contains(line, column):
                return StepAt(flow, step.name, step.name_range, True)
            if step.tail is not None:
                for target, rng in zip(step.tail.targets, step.tail.target_ranges, strict=False):
                    name_range = target_name_range(rng, target)
                    if name_range.contains(line, column):
                        return StepAt(flow, target, name_range, False)
            for refs, is_write in ((step.writes, True), (step.reads, False)):
                for ref in refs:
                    if ref.range.contains(line, column):
                        if ref.name in params and not is_write:
                            return ParameterAt(flow, params[ref.name], ref.range)
                        return ArtifactAt(flow, step, ref, is_write)
    return None


# ---------------------------------------------------------------------------------------------
# Steps and transitions


def step_references(flow: Flow, name: str) -> list[tuple[str, Range]]:
    """Every `self.<name>` in the flow's transitions, inherited steps included: (file, range)."""
    out: list[tuple[str, Range]] = []
    seen: set[tuple[str, Range]] = set()
    steps = list(flow.steps.values()) + [s for s in flow.own_steps if s not in flow.steps.values()]
    for step in steps:
        if step.tail is None:
            continue
        for target, rng in zip(step.tail.targets, step.tail.target_ranges, strict=False):
            if target != name:
                continue
            key = (step.source_file, target_name_range(rng, target))
            if key not in seen:
                seen.add(key)
                out.append(key)
    out.sort(key=lambda item: (item[0], item[1].start.line, item[1].start.column))
    return out


def step_order(flow: Flow) -> list[str]:
    """All steps, each after the steps leading to it (loops cut), unreachable ones last.

    Ties follow Metaflow's traversal order; steps the graph does not reach follow in source
    order, inherited ones after the flow's own.
    """
    hint = list(flow.graph.sorted_nodes) if flow.graph is not None else []
    reachable = set(hint)
    rank = {n: i for i, n in enumerate(hint)}
    indegree = {n: 0 for n in reachable}
    children: dict[str, list[str]] = {n: [] for n in reachable}
    for name in reachable:
        tail = flow.steps[name].tail if name in flow.steps else None
        for child in dict.fromkeys(tail.targets if tail is not None else ()):
            if child in indegree and child != name:
                indegree[child] += 1
                children[name].append(child)
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(reachable):
        ready = [n for n in reachable if n not in done and indegree[n] == 0]
        if not ready:  # a loop: break it at the step Metaflow reaches first
            ready = [min((n for n in reachable if n not in done), key=rank.__getitem__)]
        current = min(ready, key=rank.__getitem__)
        order.append(current)
        done.add(current)
        for child in children[current]:
            indegree[child] -= 1
    rest = sorted(
        (n for n in flow.steps if n not in reachable),
        key=lambda n: (flow.steps[n].source_file != flow.source_file, flow.steps[n].def_line, n),
    )
    return order + rest


def upstream_steps(flow: Flow, name: str) -> list[str]:
    """Every step on some path into `name` (itself only when it is on a loop), in graph order."""
    preds: dict[str, set[str]] = {n: set() for n in flow.steps}
    for step_name, step in flow.steps.items():
        if step.tail is None:
            continue
        for target in step.tail.targets:
            if target in preds:
                preds[target].add(step_name)
    seen: set[str] = set()
    stack = list(preds.get(name, ()))
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(preds.get(current, ()))
    rank = {n: i for i, n in enumerate(step_order(flow))}
    return sorted(seen, key=lambda n: (rank.get(n, len(rank)), n))


def artifact_assignments(
    flow: Flow, step_name: str, artifact: str, before: tuple[int, int] | None = None
) -> list[tuple[Step, ArtifactRef]]:
    """Assignments `self.<artifact> = ...` that a read in `step_name` may see.

    Those in upstream steps, then those earlier in the step itself (before the 1-based line,
    0-based column `before`, or all of them when `before` is None).
    """
    out: list[tuple[Step, ArtifactRef]] = []
    for upstream in upstream_steps(flow, step_name):
        step = flow.steps.get(upstream)
        if step is None or upstream == step_name:
            continue
        out.extend((step, w) for w in step.writes if w.name == artifact)
    step = flow.steps.get(step_name)
    if step is not None:
        for w in step.writes:
            if w.name != artifact:
                continue
            if before is None or (w.range.start.line, w.range.start.column) < before:
                out.append((step, w))
    return out


def visible_artifacts(flow: Flow, step_name: str | None) -> dict[str, list[str]]:
    """Artifacts a step can read, each with the steps that assign it (upstream first)."""
    out: dict[str, list[str]] = {}
    names = upstream_steps(flow, step_name) if step_name else []
    if step_name and step_name not in names:
        names.append(step_name)
    for name in names:
        step = flow.steps.get(name)
        if step is None:
            continue
        for w in step.writes:
            assigned_in = out.setdefault(w.name, [])
            if name not in assigned_in:
                assigned_in.append(name)
    return out


def assigned_artifacts(step: Step) -> list[str]:
    """The artifacts a step assigns, in source order, each once."""
    return list(dict.fromkeys(w.name for w in step.writes))


def effective_flow(flow: Flow, clean_steps: dict[str, Step], has_syntax_errors: bool) -> Flow:
    """The flow with each broken step replaced by its last clean version (graph rebuilt).

    While the file has syntax errors, clean steps that vanished from it (swallowed by an
    unclosed bracket or string) are kept too, so that the graph stays whole while typing.
    """
    steps = dict(flow.steps)
    changed = False
    for name, step in flow.steps.items():
        if step.syntax_error is not None and name in clean_steps:
            steps[name] = clean_steps[name]
            changed = True
    if has_syntax_errors:
        for name, step in clean_steps.items():
            if name not in steps:
                steps[name] = step
                changed = True
    if not changed:
        return flow
    patched = dataclasses.replace(flow, steps=dict(sorted(steps.items())), graph=None)
    patched.graph = build_graph(patched)
    return patched


# ---------------------------------------------------------------------------------------------
# Completion context from the text being typed

_SELF_ATTRIBUTE = re.compile(r"\bself\s*\.\s*([A-Za-z_]\w*)?$")
_SELF_NEXT = re.compile(r"\bself\s*\.\s*next\s*$")
_NEXT_PAREN = re.compile(r"\bself\s*\.\s*next\s*\(\s*$")
_SCAN = re.compile(
    r"""'''(?:\\.|[^\\])*?(?:'''|\Z)|\"\"\"(?:\\.|[^\\])*?(?:\"\"\"|\Z)
    |'(?:\\.|[^\\'\n])*'?|"(?:\\.|[^\\"\n])*"?
    |\#[^\n]*|[(\[{]|[)\]}]""",
    re.S | re.X,
)


def _open_string_or_comment(token: str) -> bool:
    if token.startswith("#"):
        return True
    quote = token[:3] if token[:3] in ('"""', "'''") else token[0]
    return not (len(token) >= 2 * len(quote) and token.endswith(quote))


@dataclass(frozen=True, slots=True)
class CompletionContext:
    """What is being typed: a step name inside `self.next(...)` or a `self.` attribute."""

    kind: Literal["step", "attribute"]
    prefix: str  # the part of the name typed so far
    after_paren: bool = False  # right after `self.next(`: items need the `self.` too


def completion_context(text_before: str) -> CompletionContext | None:
    """The context of the cursor at the end of `text_before` (the step's text up to the cursor)."""
    match = _SELF_ATTRIBUTE.search(text_before)
    if match is None:
        if _NEXT_PAREN.search(text_before):
            inner = completion_context(text_before + "self.")
            if inner is not None and inner.kind == "step":
                return CompletionContext("step", "", after_paren=True)
        return None
    prefix = match.group(1) or ""
    head = text_before[: match.start()]
    opened: list[int] = []
    for token in _SCAN.finditer(head):
        first = token.group()[0]
        if first in "([{":
            opened.append(token.start())
        elif first in ")]}":
            if opened:
                opened.pop()
        elif token.end() == len(head) and _open_string_or_comment(token.group()):
            return None  # typing inside a string or a comment
    # Inside `self.next(` directly, or inside a switch's `{...}` given to it.
    for start in reversed(opened):
        if head[start] == "{":
            continue
        if head[start] == "(" and _SELF_NEXT.search(head, 0, start):
            return CompletionContext("step", prefix)
        break
    return CompletionContext("attribute", prefix)


# ---------------------------------------------------------------------------------------------
# Renaming a step

_STEP_NAME = re.compile(r"[a-z0-9_]+")


def rename_problem(flow: Flow, old: str, new: str) -> str | None:
    """Why step `old` of `flow` cannot be renamed to `new`, or None when it can."""
    if not new.isidentifier() or keyword.iskeyword(new):
        return f"'{new}' is not a valid step name: a step name must be a Python identifier."
    if not _STEP_NAME.fullmatch(new) or new.startswith("_"):
        return (
            f"'{new}' is not a valid step name: Metaflow allows only lowercase ASCII letters, "
            "digits and underscores, not starting with an underscore."
        )
    if new in RESERVED:
        return f"'{new}' is a reserved word in Metaflow ({', '.join(sorted(RESERVED))})."
    if new == old:
        return None
    if new in flow.steps:
        return f"The flow {flow.name} already has a step named '{new}'."
    params = {p.attribute for p in flow.parameters}
    if new in params:
        return f"'{new}' is already a Parameter of {flow.name}."
    if new in flow.class_attributes or new in metaflow_table()["flowspec_attributes"]:
        return f"'{new}' is already an attribute of {flow.name}."
    step = flow.steps.get(old)
    if step is not None and old in ("start", "end"):
        annotated = step.is_start_annotated if old == "start" else step.is_end_annotated
        if not annotated:
            return (
                f"Renaming '{old}' would leave {flow.name} without a {old} step: Metaflow "
                f"finds it by name. Add @step({old}=True) first to rename it."
            )
    return None
