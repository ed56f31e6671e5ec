"""Assemble a FlowFile from source text: segments -> cached statement drafts -> classes -> flows.

Names are resolved against the file's imports (`import metaflow as mf`, aliases, star imports)
and base classes are followed into other modules of the workspace, so inherited steps are part
of a flow as they are in the graph Metaflow builds.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from . import parse
from .model import (
    DecoratorInfo,
    Diagnostic,
    Flow,
    FlowFile,
    ParameterInfo,
    Range,
    Step,
)
from .segment import Segment, SourceLines


@lru_cache(maxsize=1)
def metaflow_table() -> dict[str, Any]:
    """Metaflow's built-in decorators and FlowSpec attributes (generated from the pinned release)."""
    data = (
        resources.files("metaflow_lsp.flow").joinpath("data/metaflow_decorators.json").read_text()
    )
    return json.loads(data)


_PARAMETER_KINDS = {"Parameter", "Config", "IncludeFile"}


# ---------------------------------------------------------------------------------------------
# Placement: drafts with segment-relative lines -> absolute lines (cached by text and offset)


@dataclass(frozen=True, slots=True)
class PlacedMember:
    """A class-body statement's drafts (relative lines) and where the statement starts."""

    functions: tuple[parse.FunctionDraft, ...]
    assigns: tuple[tuple[parse.AssignDraft, Range], ...]
    other_names: tuple[str, ...]
    docstring: str | None
    error: Diagnostic | None
    first_line: int
    text: str

    @property
    def offset(self) -> int:
        """Lines to add to a draft's relative line to get its line in the file."""
        return self.first_line - 1


_PLACED: dict[tuple[str, int, str], PlacedMember] = {}
_PLACED_SIZE = 16384


def place_member(text: str, first_line: int, path: str) -> PlacedMember:
    """Parse (cached by text) one class-body statement and note where it starts (cached)."""
    key = (text, first_line, path)
    placed = _PLACED.get(key)
    if placed is None:
        if len(_PLACED) >= _PLACED_SIZE:
            _PLACED.clear()
        placed = _PLACED[key] = _place_member(text, first_line, path)
    return placed


def _place_member(text: str, first_line: int, path: str) -> PlacedMember:
    draft = parse.parse_member(text)
    d = first_line - 1
    error = None
    if draft.error is not None:
        line = draft.error.line + d
        error = Diagnostic(
            path,
            Range.of(line, draft.error.column, line, draft.error.column + 1),
            "error",
            "syntax-error",
            draft.error.message,
        )
    assigns = tuple((a, a.range.shifted(d)) for a in draft.assigns)
    return PlacedMember(
        draft.functions, assigns, draft.other_names, draft.docstring, error, first_line, text
    )


# ---------------------------------------------------------------------------------------------
# Classes and names


@dataclass(slots=True)
class ClassInfo:
    """A class statement of a module, with its members placed."""

    name: str
    path: str
    name_range: Range
    range: Range
    bases: tuple[str, ...]
    base_ranges: tuple[Range, ...]
    members: list[PlacedMember]
    header_error: Diagnostic | None = None


@dataclass(slots=True)
class ModuleInfo:
    """What a module defines at top level: imports, classes, and the flow run by `__main__`."""

    path: str
    imports: dict[str, parse.ImportDraft]
    star_modules: list[parse.ImportDraft]
    classes: dict[str, ClassInfo]
    class_order: list[str]
    main_calls: list[str]
    errors: list[Diagnostic]
    defined: set[str] = field(default_factory=set)
    imports_key: int = 0  # changes when the imports change (decorators resolve differently)

    def qualify(self, dotted: str | None) -> str | None:
        """The fully qualified name `dotted` refers to, through the imports; None if unknown."""
        if not dotted:
            return None
        head, _, rest = dotted.partition(".")
        imported = self.imports.get(head)
        if imported is not None:
            if imported.name is None:
                base = imported.module
            else:
                base = f"{imported.module}.{imported.name}" if imported.module else imported.name
            if imported.level:
                base = "." * imported.level + base
            return f"{base}.{rest}" if rest else base
        if head in self.classes or head in self.defined:
            return f"{self.path}:{dotted}"
        for star in self.star_modules:
            if star.module == "metaflow" and head in _METAFLOW_EXPORTS:
                return f"metaflow.{dotted}"
        return None


_METAFLOW_EXPORTS = frozenset(
    {"FlowSpec", "step", "Parameter", "Config", "IncludeFile", "JSONType", "config_expr"}
)


def _metaflow_name(qualified: str | None) -> str | None:
    """For a name imported from metaflow (any submodule), the last component."""
    if qualified is None:
        return None
    if qualified == "metaflow" or not qualified.startswith("metaflow."):
        return None
    return qualified.rsplit(".", 1)[1]


def _class_segments(lines: SourceLines, segment: Segment) -> tuple[str, list[Segment]] | None:
    """The header text of a class statement and its body statements."""
    offset = lines.line_offsets[segment.first_line - 1]
    end = offset + len(segment.text)
    text = lines.text
    # Skip the class decorators: the body starts after the `class` line itself.
    class_offset = lines.class_keyword_offset(offset, end)
    body_indent = lines.first_body_indent(class_offset, end)
    if body_indent is None or body_indent == 0:
        return None
    # The first body statement: the first logical start at body_indent after the header.
    body = lines.statements(class_offset + 1, end, body_indent)
    # Drop a "statement" that is really the header itself (header continuation lines never
    # start logical lines, so the first entry is the first real body statement).
    if not body:
        return None
    first_body_offset = lines.line_offsets[body[0].first_line - 1]
    header = text[offset:first_body_offset]
    return header, body


def build_module(path: str, lines: SourceLines) -> ModuleInfo:
    """Parse a module's top-level statements and class bodies (each cached by its text)."""
    imports: dict[str, parse.ImportDraft] = {}
    stars: list[parse.ImportDraft] = []
    classes: dict[str, ClassInfo] = {}
    order: list[str] = []
    main_calls: list[str] = []
    errors: list[Diagnostic] = []
    defined: set[str] = set()
    for segment in lines.statements(0, None, 0):
        if _is_class(segment):
            info = _build_class(path, lines, segment)
            if info is not None:
                if info.header_error is not None:
                    errors.append(info.header_error)
                if info.name:
                    classes[info.name] = info
                    order.append(info.name)
                continue
        top = parse.parse_toplevel(segment.text)
        if top.error is not None:
            line = top.error.line + segment.first_line - 1
            errors.append(
                Diagnostic(
                    path,
                    Range.of(line, top.error.column, line, top.error.column + 1),
                    "error",
                    "syntax-error",
                    top.error.message,
                )
            )
            continue
        for imp in top.imports:
            if imp.name == "*":
                stars.append(imp)
            else:
                imports[imp.local] = imp
        main_calls.extend(top.main_calls)
        defined.update(top.defined)
    key = hash((tuple(imports.items()), tuple(stars), frozenset(classes), frozenset(defined)))
    return ModuleInfo(path, imports, stars, classes, order, main_calls, errors, defined, key)


def _is_class(segment: Segment) -> bool:
    if segment.head == "class":
        return True
    if segment.head != "@":
        return False
    for line in segment.text.split("\n"):
        if line.startswith("class ") or line.startswith("class\t"):
            return True
        if line.startswith("def ") or line.startswith("async "):
            return False
    return False


def _build_class(path: str, lines: SourceLines, segment: Segment) -> ClassInfo | None:
    parts = _class_segments(lines, segment)
    last_line = segment.first_line + segment.text.rstrip("\n").count("\n")
    last_text = lines.line_text(last_line)
    class_range = Range.of(segment.first_line, 0, last_line, len(last_text))
    if parts is None:
        header_text = segment.text
        body: list[Segment] = []
    else:
        header_text, body = parts
    probe = header_text if header_text.endswith("\n") else header_text + "\n"
    if parts is not None:
        probe += " " * body[0].indent + "pass\n"
    header = parse.parse_class_header(probe)
    d = segment.first_line - 1
    header_error = None
    if header.error is not None:
        line = header.error.line + d
        header_error = Diagnostic(
            path,
            Range.of(line, header.error.column, line, header.error.column + 1),
            "error",
            "syntax-error",
            header.error.message,
        )
        if not header.name:
            return ClassInfo("", path, class_range, class_range, (), (), [], header_error)
    members: list[PlacedMember] = []
    for statement in body:
        placed = place_member(statement.text, statement.first_line, path)
        if placed.error is None:
            members.append(placed)
        else:
            members.extend(_recover(statement, path))
    return ClassInfo(
        header.name,
        path,
        header.name_range.shifted(d),
        class_range,
        header.bases,
        tuple(r.shifted(d) for r in header.base_ranges),
        members,
        header_error,
    )


def _recover(statement: Segment, path: str) -> list[PlacedMember]:
    """Re-parse a statement that does not parse as the methods it seems to hold.

    An unclosed bracket or string swallows every following method into one statement; cutting
    it where lines at the class-body indentation start a decorator or a `def` keeps the methods
    after the broken one.
    """
    prefix = statement.text[: statement.indent]
    lines = statement.text.split("\n")
    merged = [0]
    in_decorators = lines[0][len(prefix) :].startswith("@")
    for i in range(1, len(lines)):
        line = lines[i]
        if not line.startswith(prefix) or line[len(prefix) : len(prefix) + 1] in (
            " ",
            "\t",
            "",
            "#",
        ):
            continue
        rest = line[len(prefix) :]
        starts_member = rest.startswith(("@", "def ", "async def "))
        if starts_member and not in_decorators:
            merged.append(i)
        in_decorators = rest.startswith("@")
    if len(merged) == 1:
        return [place_member(statement.text, statement.first_line, path)]
    pieces = []
    for k, start in enumerate(merged):
        end = merged[k + 1] if k + 1 < len(merged) else len(lines)
        text = "\n".join(lines[start:end])
        if k + 1 < len(merged):
            text += "\n"
        pieces.append(place_member(text, statement.first_line + start, path))
    return pieces


# ---------------------------------------------------------------------------------------------
# Flows


@dataclass(slots=True)
class _Resolved:
    """A class with the module it lives in."""

    info: ClassInfo
    module: ModuleInfo


class Resolver:
    """Finds base classes: in the same module, or in another module of the workspace."""

    def __init__(self, load_module: Any = None) -> None:
        # load_module(from_path, module, level) -> ModuleInfo | None
        self.load_module = load_module

    def resolve_base(self, module: ModuleInfo, dotted: str) -> _Resolved | str | None:
        """A base class: `_Resolved`, "FlowSpec" for metaflow's FlowSpec, or None if unknown."""
        qualified = module.qualify(dotted)
        if _metaflow_name(qualified) == "FlowSpec":
            return "FlowSpec"
        if dotted in module.classes and "." not in dotted:
            return _Resolved(module.classes[dotted], module)
        imported = module.imports.get(dotted.split(".")[0])
        if imported is None or self.load_module is None:
            return None
        if imported.name is None:
            # `import pkg.mod as m` then `m.Base`
            mod_path, _, cls_name = (
                (imported.module + "." + dotted.split(".", 1)[1]).rpartition(".")
                if "." in dotted
                else ("", "", "")
            )
            other = self.load_module(module.path, mod_path, imported.level) if mod_path else None
        else:
            other = self.load_module(module.path, imported.module, imported.level)
            cls_name = imported.name if "." not in dotted else ""
            if other is None and imported.module:
                # `from pkg import mod` then `mod.Base`
                sub = f"{imported.module}.{imported.name}"
                other = self.load_module(module.path, sub, imported.level)
                cls_name = dotted.split(".", 1)[1] if "." in dotted else ""
        if other is None or not cls_name or cls_name not in other.classes:
            return None
        return _Resolved(other.classes[cls_name], other)


def _linearize(
    cls: _Resolved, resolver: Resolver, seen: frozenset[int]
) -> tuple[list[_Resolved], bool, list[str]]:
    """C3 linearisation of a class (without FlowSpec); also whether FlowSpec is an ancestor."""
    is_flow = False
    unresolved: list[str] = []
    base_mros: list[list[_Resolved]] = []
    direct: list[_Resolved] = []
    for base in cls.info.bases:
        if not base:
            unresolved.append("<expression>")
            continue
        resolved = resolver.resolve_base(cls.module, base)
        if resolved == "FlowSpec":
            is_flow = True
            continue
        if resolved is None or isinstance(resolved, str):
            if base != "object":
                unresolved.append(base)
            continue
        key = id(resolved.info)
        if key in seen:
            continue
        mro, base_is_flow, base_unresolved = _linearize(resolved, resolver, seen | {key})
        is_flow = is_flow or base_is_flow
        unresolved.extend(base_unresolved)
        base_mros.append(mro)
        direct.append(resolved)
    result = [cls]
    sequences = [list(m) for m in base_mros] + [list(direct)]
    while True:
        sequences = [s for s in sequences if s]
        if not sequences:
            break
        for seq in sequences:
            head = seq[0]
            if not any(head.info is s.info for other in sequences for s in other[1:]):
                break
        else:
            # Inconsistent hierarchy: fall back to depth-first order.
            for seq in sequences:
                for item in seq:
                    if not any(item.info is r.info for r in result):
                        result.append(item)
            break
        result.append(head)
        for seq in sequences:
            if seq and seq[0].info is head.info:
                del seq[0]
    return result, is_flow, unresolved


def _deindent_docstring(doc: str | None) -> str:
    """metaflow.graph.deindent_docstring."""
    import re

    if not doc:
        return ""
    saw_first_line = False
    matched_indent = None
    for line in doc.splitlines():
        if line:
            matched_indent = re.match("[\t ]+", line)
            if matched_indent is not None or saw_first_line:
                break
            saw_first_line = True
    if matched_indent:
        return re.sub(r"\n" + matched_indent.group(), "\n", doc).strip()
    return doc


def _decorator_info(module: ModuleInfo, draft: parse.DecoratorDraft, offset: int) -> DecoratorInfo:
    qualified = module.qualify(draft.dotted)
    mf_name = _metaflow_name(qualified)
    name = mf_name or (draft.dotted.rsplit(".", 1)[-1] if draft.dotted else draft.text)
    return DecoratorInfo(
        name,
        draft.text,
        draft.args,
        draft.kwargs,
        dict(draft.values),
        draft.range.shifted(offset),
        mf_name is not None,
        draft.is_call,
    )


_STEP_CACHE: dict[
    tuple[int, int, str, int, str | None], tuple[parse.FunctionDraft, Step | None]
] = {}
_STEP_CACHE_SIZE = 16384


def _step_from(
    module: ModuleInfo, fn: parse.FunctionDraft, offset: int, owner: str | None
) -> Step | None:
    """The Step for a method draft at `offset`, or None when it is not a step (cached)."""
    key = (id(fn), offset, module.path, module.imports_key, owner)
    cached = _STEP_CACHE.get(key)
    if cached is not None and cached[0] is fn:
        return cached[1]
    step = _make_step(module, fn, offset, owner)
    if len(_STEP_CACHE) >= _STEP_CACHE_SIZE:
        _STEP_CACHE.clear()
    _STEP_CACHE[key] = (fn, step)
    return step


def _make_step(
    module: ModuleInfo, fn: parse.FunctionDraft, offset: int, owner: str | None
) -> Step | None:
    decorators = [_decorator_info(module, d, offset) for d in fn.decorators]
    step_deco = next((d for d in decorators if d.is_metaflow and d.name == "step"), None)
    if step_deco is None:
        return None
    others = tuple(d for d in decorators if d is not step_deco)
    return Step(
        name=fn.name,
        source_file=module.path,
        name_range=fn.name_range,
        range=fn.range,
        decorators=others,
        step_decorator=step_deco,
        is_start_annotated=step_deco.values.get("start") is True,
        is_end_annotated=step_deco.values.get("end") is True,
        arg_names=fn.arg_names,
        raw_doc=fn.raw_doc,
        doc=_deindent_docstring(fn.raw_doc),
        tail=fn.tail,
        has_tail_next=fn.has_tail_next,
        nexts_not_last=fn.nexts_not_last,
        writes=fn.writes,
        reads=fn.reads,
        dynamic_writes=fn.dynamic_writes,
        inherited_from=owner,
        line_offset=offset,
    )


def _broken_step(module: ModuleInfo, member: PlacedMember) -> Step | None:
    """A best-effort step for a statement that does not parse but looks like a step."""
    text = member.text
    import re

    match = re.search(r"^[ \t]*(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)", text, re.M)
    if match is None or not re.search(r"^[ \t]*@[ \t]*(?:\w+\.)*step\b", text, re.M):
        return None
    line = member.first_line + text.count("\n", 0, match.start(1))
    col = match.start(1) - (text.rfind("\n", 0, match.start(1)) + 1)
    name_range = Range.of(line, col, line, col + len(match.group(1)))
    last = member.first_line + text.rstrip("\n").count("\n")
    return Step(
        name=match.group(1),
        source_file=module.path,
        name_range=name_range,
        range=Range.of(member.first_line, 0, last, 0),
        decorators=(),
        step_decorator=None,
        arg_names=("self",),
        syntax_error=member.error,
    )


def _class_members(
    module: ModuleInfo, cls: ClassInfo, owner: str | None
) -> tuple[
    list[Step], list[tuple[Step, Step]], set[str], list[ParameterInfo], str | None, dict[str, str]
]:
    """Steps (source order), duplicates, other attribute names, parameters and the docstring."""
    steps: list[Step] = []
    by_name: dict[str, Step] = {}
    duplicates: list[tuple[Step, Step]] = []
    names: set[str] = set()
    params: list[ParameterInfo] = []
    doc: str | None = None
    last_kind: dict[str, str] = {}  # name -> "step" or "other", the later definition wins
    for index, member in enumerate(cls.members):
        if (
            index == 0
            and member.docstring is not None
            and not member.functions
            and not member.assigns
        ):
            doc = member.docstring
        if member.error is not None:
            broken = _broken_step(module, member)
            if broken is not None:
                steps.append(broken)
                by_name[broken.name] = broken
                last_kind[broken.name] = "step"
            continue
        for fn in member.functions:
            step = _step_from(module, fn, member.offset, owner)
            if step is None:
                names.add(fn.name)
                last_kind[fn.name] = "other"
                continue
            previous = by_name.get(step.name)
            if previous is not None:
                duplicates.append((previous, step))
                steps.remove(previous)
            steps.append(step)
            by_name[step.name] = step
            last_kind[step.name] = "step"
        for assign, rng in member.assigns:
            for target in assign.targets:
                names.add(target)
                last_kind[target] = "other"
            kind = _metaflow_name(module.qualify(assign.call))
            if kind in _PARAMETER_KINDS:
                values = dict(assign.values)
                kwargs = dict(assign.kwargs)
                params.append(
                    ParameterInfo(
                        attribute=assign.targets[0],
                        name=assign.first_arg if isinstance(assign.first_arg, str) else None,
                        kind=kind or "Parameter",
                        type=kwargs.get("type"),
                        default=kwargs.get("default"),
                        help=values.get("help") if isinstance(values.get("help"), str) else None,
                        required=values.get("required") is True,
                        range=rng,
                        source_file=module.path,
                    )
                )
        names.update(member.other_names)
        for name in member.other_names:
            last_kind[name] = "other"
    # A later non-step definition with a step's name replaces the step.
    steps = [s for s in steps if last_kind.get(s.name) == "step"]
    return steps, duplicates, names, params, doc, last_kind


def build_flows(module: ModuleInfo, resolver: Resolver) -> list[Flow]:
    """Every FlowSpec subclass defined in `module`, inherited steps included."""
    flows: list[Flow] = []
    for name in module.class_order:
        info = module.classes[name]
        root = _Resolved(info, module)
        mro, is_flow, unresolved = _linearize(root, resolver, frozenset({id(info)}))
        if not is_flow:
            continue
        own_steps, duplicates, own_names, own_params, doc, _ = _class_members(module, info, None)
        steps: dict[str, Step] = {}
        names: set[str] = set()
        params: list[ParameterInfo] = []
        # Overlay from the most basic class to the class itself: the first in the MRO wins.
        for base in reversed(mro[1:]):
            base_steps, _, base_names, base_params, _, kinds = _class_members(
                base.module, base.info, base.info.name
            )
            for step_name, kind in kinds.items():
                if kind == "other":
                    steps.pop(step_name, None)
            for step in base_steps:
                steps[step.name] = step
            names |= base_names
            params.extend(base_params)
        for attr in own_names:
            steps.pop(attr, None)
        for step in own_steps:
            steps[step.name] = step
        names |= own_names
        params.extend(own_params)
        names -= set(steps)
        flows.append(
            Flow(
                name=info.name,
                source_file=module.path,
                name_range=info.name_range,
                range=info.range,
                raw_doc=doc,
                doc=_deindent_docstring(doc),
                bases=info.bases,
                steps=dict(sorted(steps.items())),
                own_steps=own_steps,
                duplicate_steps=duplicates,
                parameters=params,
                class_attributes=names,
                unresolved_bases=unresolved,
            )
        )
    return flows


def build_file(path: str, lines: SourceLines, resolver: Resolver) -> tuple[ModuleInfo, FlowFile]:
    """The FlowFile for `path` (graph and lint are added by `analysis.py`)."""
    module = build_module(path, lines)
    flows = build_flows(module, resolver)
    main = next((c for c in module.main_calls if c in {f.name for f in flows}), None)
    syntax = list(module.errors)
    for flow in flows:
        for step in flow.own_steps:
            if step.syntax_error is not None:
                syntax.append(step.syntax_error)
    for info in module.classes.values():
        for member in info.members:
            if member.error is not None and member.error not in syntax:
                syntax.append(member.error)
    return module, FlowFile(path, lines.text, flows, [], main, syntax)


def module_path_candidates(from_path: str, module: str, level: int, roots: list[str]) -> list[str]:
    """Files that `import module` (with `level` leading dots) may mean, from `from_path`."""
    parts = module.split(".") if module else []
    bases: list[str] = []
    here = os.path.dirname(os.path.abspath(from_path))
    if level:
        base = here
        for _ in range(level - 1):
            base = os.path.dirname(base)
        bases.append(base)
    else:
        bases.append(here)
        bases.extend(roots)
        # Parents up to the first root that contains the file, for package-style layouts.
        parent = os.path.dirname(here)
        while parent and parent != os.path.dirname(parent):
            if any(os.path.commonpath([parent, r]) == r for r in roots if r):
                bases.append(parent)
            else:
                break
            parent = os.path.dirname(parent)
    out = []
    for base in bases:
        target = os.path.join(base, *parts) if parts else base
        out.append(target + ".py")
        out.append(os.path.join(target, "__init__.py"))
    return out
