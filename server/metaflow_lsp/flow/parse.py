"""Parse one statement of a flow file with libcst into drafts with segment-relative positions.

Each statement (a method of a flow class, a class attribute, an import, a class header) is
parsed on its own and the result cached by its text: an edit inside one step re-parses that
step only. Names are kept as written (`mf.step`, `stp`); `build.py` resolves them against the
file's imports. Lines in drafts are relative to the statement's first line (line 1).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import libcst as cst

from .model import ArtifactRef, Range, Transition
from .positions import Positions, collect

_PARSE_CACHE_SIZE = 8192
_NO_VALUE = object()


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """A statement that did not parse: message and 1-based line / 0-based column (relative)."""

    message: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class DecoratorDraft:
    """A decorator as written: its dotted name (unresolved) and arguments."""

    dotted: str | None  # "step", "mf.step", "retry"; None for anything not a (dotted) name
    text: str
    args: tuple[str, ...]
    kwargs: tuple[tuple[str, str], ...]
    values: tuple[tuple[str, Any], ...]  # literal keyword values, evaluated
    range: Range  # from "@" to the end of the expression
    is_call: bool


@dataclass(frozen=True, slots=True)
class FunctionDraft:
    """A method of a class body, with what Metaflow's graph needs from it."""

    name: str
    name_range: Range
    range: Range
    decorators: tuple[DecoratorDraft, ...]
    arg_names: tuple[str, ...]
    raw_doc: str | None
    tail: Transition | None
    has_tail_next: bool
    nexts_not_last: tuple[Range, ...]
    writes: tuple[ArtifactRef, ...]
    reads: tuple[ArtifactRef, ...]
    dynamic_writes: bool


@dataclass(frozen=True, slots=True)
class AssignDraft:
    """A class-level assignment; `call` is the dotted name of the called class, if any."""

    targets: tuple[str, ...]
    range: Range
    call: str | None
    first_arg: Any  # literal value of the first positional argument (the parameter name)
    kwargs: tuple[tuple[str, str], ...]  # keyword arguments as written
    values: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class MemberDraft:
    """What one class-body statement defines."""

    functions: tuple[FunctionDraft, ...] = ()
    assigns: tuple[AssignDraft, ...] = ()
    other_names: tuple[str, ...] = ()  # nested classes, imports, loop targets ...
    docstring: str | None = None  # set when the statement is a lone string expression
    error: SyntaxProblem | None = None
    lines: int = 0


@dataclass(frozen=True, slots=True)
class ClassHeaderDraft:
    """A class statement's name and bases, with the flow decorators on it."""

    name: str
    name_range: Range
    bases: tuple[str, ...]  # dotted names of bases as written; "" for other expressions
    base_ranges: tuple[Range, ...]
    decorators: tuple[DecoratorDraft, ...]
    error: SyntaxProblem | None = None


@dataclass(frozen=True, slots=True)
class ImportDraft:
    """One imported name: `local` is bound to `module` (+ `.name` when `name` is set)."""

    local: str
    module: str  # dotted, without the leading dots of a relative import
    name: str | None  # for `from module import name`; None for `import module`
    level: int  # leading dots of a relative import


@dataclass(frozen=True, slots=True)
class TopLevelDraft:
    """What a module-level statement that is not a class contributes: imports, the main block."""

    imports: tuple[ImportDraft, ...] = ()
    main_calls: tuple[str, ...] = ()  # names called under `if __name__ == "__main__":`
    defined: tuple[str, ...] = ()
    error: SyntaxProblem | None = None


# ---------------------------------------------------------------------------------------------
# Small helpers on libcst expressions


def dotted_name(expr: cst.BaseExpression) -> str | None:
    """`a.b.c` for a chain of names and attributes, else None."""
    parts: list[str] = []
    while isinstance(expr, cst.Attribute):
        parts.append(expr.attr.value)
        expr = expr.value
    if isinstance(expr, cst.Name):
        parts.append(expr.value)
        return ".".join(reversed(parts))
    return None


_NAME_CONSTANTS = {"True": True, "False": False, "None": None}


def literal_value(expr: cst.BaseExpression) -> Any:
    """The value of a constant the way `ast.Constant` holds it, else `_NO_VALUE`."""
    if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
        value = expr.evaluated_value
        return _NO_VALUE if value is None else value
    if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary)):
        return expr.evaluated_value
    if isinstance(expr, cst.Name) and expr.value in _NAME_CONSTANTS:
        return _NAME_CONSTANTS[expr.value]
    if isinstance(expr, cst.Ellipsis):
        return ...
    return _NO_VALUE


def pod_literal(expr: cst.BaseExpression) -> Any:
    """A literal including lists, tuples, sets and dicts of literals (like ast.literal_eval)."""
    value = literal_value(expr)
    if value is not _NO_VALUE:
        return value
    if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
        items = []
        for element in expr.elements:
            if not isinstance(element, cst.Element):
                return _NO_VALUE
            item = pod_literal(element.value)
            if item is _NO_VALUE:
                return _NO_VALUE
            items.append(item)
        if isinstance(expr, cst.Tuple):
            return tuple(items)
        return items if isinstance(expr, cst.List) else set(items)
    if isinstance(expr, cst.Dict):
        result = {}
        for dict_element in expr.elements:
            if not isinstance(dict_element, cst.DictElement):
                return _NO_VALUE
            key = pod_literal(dict_element.key)
            item = pod_literal(dict_element.value)
            if key is _NO_VALUE or item is _NO_VALUE:
                return _NO_VALUE
            try:
                result[key] = item
            except TypeError:
                return _NO_VALUE
        return result
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
        inner = literal_value(expr.expression)
        if isinstance(inner, (int, float, complex)) and not isinstance(inner, bool):
            return -inner if isinstance(expr.operator, cst.Minus) else inner
    return _NO_VALUE


def is_literal(value: Any) -> bool:
    """Whether `value` came back from `literal_value` / `pod_literal` as a real value."""
    return value is not _NO_VALUE


_EMPTY_MODULE = cst.Module(body=[])


def code_of(node: cst.CSTNode) -> str:
    """Source text of a node as written."""
    return _EMPTY_MODULE.code_for_node(node)


_LIBCST_PREFIX = re.compile(r"^(?:parser error: )?(?:error at \d+:\d+: )?")


def _problem(error: cst.ParserSyntaxError, source: str, line_offset: int) -> SyntaxProblem:
    """A syntax error with CPython's wording and place when it has one (clearer than libcst's)."""
    try:
        compile(source, "<flow>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as cpython:
        if cpython.lineno is not None:
            column = max(0, (cpython.offset or 1) - 1)
            return SyntaxProblem(
                f"Syntax error: {cpython.msg}", cpython.lineno + line_offset, column
            )
    except (ValueError, RecursionError, MemoryError):
        pass
    text = error.message.strip().splitlines()[0] if error.message.strip() else "invalid syntax"
    text = _LIBCST_PREFIX.sub("", text)
    if len(text) > 160:
        text = text[:157] + "..."
    return SyntaxProblem(f"Syntax error: {text}", error.raw_line + line_offset, error.raw_column)


# ---------------------------------------------------------------------------------------------
# Class-body statements


@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def parse_member(text: str) -> MemberDraft:
    """Parse one class-body statement (indented as in the file) into drafts.

    Positions are relative to the statement's first line (line 1).
    """
    lines = text.count("\n") + 1
    source = "class _:\n" + text
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        return MemberDraft(error=_problem(error, source, -1), lines=lines)
    except RecursionError:
        return MemberDraft(error=SyntaxProblem("Syntax error: nesting too deep", 1, 0), lines=lines)
    cls = module.body[0]
    assert isinstance(cls, cst.ClassDef)
    positions = collect(module)
    source_lines = text.split("\n")
    body = cls.body.body
    functions: list[FunctionDraft] = []
    assigns: list[AssignDraft] = []
    other: list[str] = []
    docstring: str | None = None
    for statement in body:
        if isinstance(statement, cst.FunctionDef):
            functions.append(_function(statement, positions, source_lines))
        elif isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, (cst.Assign, cst.AnnAssign)):
                    draft = _assign(small, positions)
                    if draft is not None:
                        assigns.append(draft)
                elif isinstance(small, cst.Expr) and isinstance(
                    small.value, (cst.SimpleString, cst.ConcatenatedString)
                ):
                    value = small.value.evaluated_value
                    if isinstance(value, str):
                        docstring = value
        elif isinstance(statement, cst.ClassDef):
            other.append(statement.name.value)
        else:
            other.extend(_bound_names(statement))
    return MemberDraft(tuple(functions), tuple(assigns), tuple(other), docstring, None, lines)


def _shift(r: Range) -> Range:
    return r.shifted(-1)


def _decorator(deco: cst.Decorator, positions: Positions, line_offset: int = -1) -> DecoratorDraft:
    expr = deco.decorator
    is_call = isinstance(expr, cst.Call)
    target = expr.func if isinstance(expr, cst.Call) else expr
    args: list[str] = []
    kwargs: list[tuple[str, str]] = []
    values: list[tuple[str, Any]] = []
    if isinstance(expr, cst.Call):
        for arg in expr.args:
            if arg.keyword is not None:
                kwargs.append((arg.keyword.value, code_of(arg.value)))
                value = pod_literal(arg.value)
                if value is not _NO_VALUE:
                    values.append((arg.keyword.value, value))
            else:
                args.append(arg.star + code_of(arg.value))
    expr_range = positions.ranges.get(id(expr)) or positions.ranges.get(id(target))
    if expr_range is None:
        # Any expression may follow "@" (PEP 614); place it after the decorator's leading lines.
        whole = positions.of(deco)
        line = whole.start.line + len(deco.leading_lines)
        expr_range = Range.of(
            line, 1 + len(deco.whitespace_after_at.value), whole.end.line, whole.end.column
        )
    start = expr_range.start
    at_column = max(0, start.column - 1 - len(deco.whitespace_after_at.value))
    full = Range.of(start.line, at_column, expr_range.end.line, expr_range.end.column)
    return DecoratorDraft(
        dotted_name(target),
        code_of(expr),
        tuple(args),
        tuple(kwargs),
        tuple(values),
        full.shifted(line_offset),
        is_call,
    )


def _flat_body(block: cst.BaseSuite) -> list[cst.CSTNode]:
    """Statements as `ast` lists them: small statements of a line are separate entries."""
    out: list[cst.CSTNode] = []
    if isinstance(block, cst.SimpleStatementSuite):
        out.extend(block.body)
        return out
    for statement in block.body:
        if isinstance(statement, cst.SimpleStatementLine):
            out.extend(statement.body)
        else:
            out.append(statement)
    return out


def _is_self_next(node: cst.CSTNode) -> bool:
    return (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and isinstance(node.func.value, cst.Name)
        and node.func.value.value == "self"
        and node.func.attr.value == "next"
    )


def _function(func: cst.FunctionDef, positions: Positions, lines: list[str]) -> FunctionDraft:
    decorators = tuple(_decorator(d, positions) for d in func.decorators)
    name_range = _shift(positions.of(func.name))
    func_range = positions.of(func)
    # The whitespace-inclusive end sits after the body's last newline; end on the last line.
    end_line = func_range.end.line - (1 if func_range.end.column == 0 else 0) - 1
    end_line = max(end_line, name_range.start.line)
    start = decorators[0].range.start if decorators else name_range.start
    end_column = len(lines[end_line - 1]) if 0 < end_line <= len(lines) else 0
    full_range = Range.of(start.line, start.column, end_line, end_column)
    arg_names = tuple(p.name.value for p in func.params.params)
    raw_doc = func.get_docstring(clean=False)

    statements = _flat_body(func.body)
    tail_node = statements[-1] if statements else None
    tail: Transition | None = None
    has_tail_next = False
    tail_call: cst.Call | None = None
    if isinstance(tail_node, cst.Expr) and _is_self_next(tail_node.value):
        tail_call = tail_node.value  # type: ignore[assignment]
        has_tail_next = True
        tail = _transition(tail_call, len(arg_names), positions)  # type: ignore[arg-type]

    # Artifacts and the other self.next calls, from the references collected while positioning.
    func_span = positions.of(func)
    nexts_not_last: list[Range] = []
    excluded: list[Range] = []
    called: set[int] = set()
    dynamic = False
    for call in positions.calls:
        call_range = positions.of(call)
        if not _inside(call_range, func_span):
            continue
        f = call.func
        if isinstance(f, cst.Attribute):
            called.add(id(f))
            if f.attr.value == "next":
                excluded.append(call_range)
                if call is not tail_call:
                    nexts_not_last.append(_shift(call_range))
            elif f.attr.value == "merge_artifacts":
                dynamic = True
        elif isinstance(f, cst.Name) and f.value == "setattr" and call.args:
            first = call.args[0].value
            if isinstance(first, cst.Name) and first.value == "self":
                dynamic = True
    write_nodes: dict[int, bool] = {}
    for statement in _walk_statements(func.body):
        for target in _assignment_targets(statement):
            for attr in _self_attribute_targets(target):
                write_nodes[id(attr)] = isinstance(statement, cst.AugAssign)
    writes: list[ArtifactRef] = []
    reads: list[ArtifactRef] = []
    for attr in positions.self_attributes:
        attr_range = positions.of(attr)
        if not _inside(attr_range, func_span):
            continue
        name = attr.attr.value
        if name == "__dict__":
            dynamic = True
            continue
        ref_range = _shift(positions.of(attr.attr))
        if id(attr) in write_nodes:
            writes.append(ArtifactRef(name, ref_range))
            if write_nodes[id(attr)]:
                reads.append(ArtifactRef(name, ref_range))
            continue
        if id(attr) in called:
            continue
        if any(_inside(attr_range, r) for r in excluded):
            # Step references inside self.next(...); a switch key like self.config.x is a read.
            continue
        reads.append(ArtifactRef(name, ref_range))
    return FunctionDraft(
        func.name.value,
        name_range,
        full_range,
        decorators,
        arg_names,
        raw_doc,
        tail,
        has_tail_next,
        tuple(nexts_not_last),
        tuple(writes),
        tuple(reads),
        dynamic,
    )


def _inside(inner: Range, outer: Range) -> bool:
    return (inner.start.line, inner.start.column) >= (outer.start.line, outer.start.column) and (
        inner.end.line,
        inner.end.column,
    ) <= (outer.end.line, outer.end.column)


def _walk_statements(block: cst.CSTNode) -> list[cst.CSTNode]:
    """Every small and compound statement inside a function body, nested blocks included."""
    out: list[cst.CSTNode] = []
    stack: list[cst.CSTNode] = [block]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.IndentedBlock, cst.SimpleStatementSuite)):
            stack.extend(node.body)
        elif isinstance(node, cst.SimpleStatementLine):
            out.extend(node.body)
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            continue  # a nested function's `self` is not the step's
        elif isinstance(node, cst.BaseCompoundStatement):
            out.append(node)
            stack.append(node.body)
            for attr in ("orelse", "finalbody"):
                extra = getattr(node, attr, None)
                if extra is not None:
                    stack.append(extra.body if isinstance(extra, (cst.Else, cst.If)) else extra)
            for handler in getattr(node, "handlers", ()):
                stack.append(handler.body)
            for case in getattr(node, "cases", ()):
                stack.append(case.body)
        elif isinstance(node, (cst.Else, cst.Finally)):
            stack.append(node.body)
    return out


def _assignment_targets(statement: cst.CSTNode) -> list[cst.BaseExpression]:
    if isinstance(statement, cst.Assign):
        return [t.target for t in statement.targets]
    if isinstance(statement, (cst.AugAssign, cst.AnnAssign)):
        return [statement.target]
    if isinstance(statement, cst.For):
        return [statement.target]
    if isinstance(statement, cst.With):
        return [item.asname.name for item in statement.items if item.asname is not None]
    return []


def _self_attribute_targets(target: cst.BaseExpression) -> list[cst.Attribute]:
    if isinstance(target, cst.Attribute):
        if isinstance(target.value, cst.Name) and target.value.value == "self":
            return [target]
        return []
    if isinstance(target, (cst.Tuple, cst.List)):
        out: list[cst.Attribute] = []
        for element in target.elements:
            out.extend(_self_attribute_targets(element.value))
        return out
    if isinstance(target, cst.StarredElement):
        return _self_attribute_targets(target.value)
    return []


def _transition(call: cst.Call, num_args: int, positions: Positions) -> Transition:
    """Decode `self.next(...)` exactly as metaflow/graph.py's DAGNode._parse does."""
    call_range = _shift(positions.of(call))
    positional = [a for a in call.args if a.keyword is None and a.star != "**"]
    keywords = [a for a in call.args if a.keyword is not None or a.star == "**"]
    keyword_names = tuple(a.keyword.value if a.keyword else "**" for a in keywords)

    targets: list[str] = []
    ranges: list[Range] = []
    if (
        len(positional) == 1
        and positional[0].star == ""
        and isinstance(positional[0].value, cst.Dict)
        and any(a.keyword is not None and a.keyword.value == "condition" for a in keywords)
    ):
        cases, case_ranges = _switch_cases(positional[0].value, positions)
        condition = None
        for a in keywords:
            if a.keyword is not None and a.keyword.value == "condition":
                value = literal_value(a.value)
                if isinstance(value, str):
                    condition = value
                break
        if cases and condition:
            return Transition(
                call_range,
                tuple(step for _, step in cases),
                tuple(case_ranges),
                "switch",
                True,
                condition=condition,
                switch_cases=tuple(cases),
                keywords=keyword_names,
            )
    else:
        for a in positional:
            if a.star or not isinstance(a.value, cst.Attribute):
                # Metaflow's `[e.attr for e in args]` raises: no targets, invalid transition.
                targets, ranges = [], []
                break
            targets.append(a.value.attr.value)
            ranges.append(_shift(positions.of(a.value)))

    literal_keywords: dict[str | None, Any] = {}
    for a in keywords:
        value = literal_value(a.value)
        literal_keywords[a.keyword.value if a.keyword else None] = (
            None if value is _NO_VALUE else value
        )
    kind: str | None = None
    valid = False
    foreach = None
    num_parallel: Any = 0
    if len(literal_keywords) == 1:
        if "foreach" in literal_keywords:
            kind = "foreach"
            if len(targets) == 1:
                foreach = literal_keywords["foreach"]
                valid = True
        elif "num_parallel" in literal_keywords:
            kind = "parallel"
            if len(targets) == 1:
                num_parallel = literal_keywords["num_parallel"]
                valid = True
    elif len(literal_keywords) == 0:
        if len(targets) > 1:
            kind, valid = "split", True
        elif len(targets) == 1:
            kind, valid = ("join" if num_args > 1 else "linear"), True
    return Transition(
        call_range,
        tuple(targets),
        tuple(ranges),
        kind,
        valid,
        foreach=foreach,
        num_parallel=num_parallel,
        keywords=keyword_names,
    )


def _switch_cases(
    node: cst.Dict, positions: Positions
) -> tuple[list[tuple[Any, str]], list[Range]]:
    """Switch cases as DAGNode._parse_switch_dict reads them; empty when not static."""
    cases: dict[Any, str] = {}
    ranges: dict[Any, Range] = {}
    for element in node.elements:
        if not isinstance(element, cst.DictElement):
            return [], []
        key = element.key
        case_key: Any = literal_value(key)
        if case_key is _NO_VALUE:
            if (
                isinstance(key, cst.Attribute)
                and isinstance(key.value, cst.Attribute)
                and isinstance(key.value.value, cst.Name)
                and key.value.value.value == "self"
            ):
                case_key = f"config:{key.value.attr.value}.{key.attr.value}"
            else:
                return [], []
        if case_key is None:
            return [], []
        value = element.value
        if not (isinstance(value, cst.Attribute) and isinstance(value.value, cst.Name)):
            return [], []
        if value.value.value != "self":
            return [], []
        try:
            cases[case_key] = value.attr.value
            ranges[case_key] = _shift(positions.of(value))
        except TypeError:
            return [], []
    return list(cases.items()), [ranges[k] for k in cases]


def _assign(node: cst.Assign | cst.AnnAssign, positions: Positions) -> AssignDraft | None:
    targets: list[cst.BaseExpression]
    if isinstance(node, cst.Assign):
        targets = [t.target for t in node.targets]
    else:
        targets = [node.target]
    names = []
    first_range: Range | None = None
    for target in targets:
        for sub in target.elements if isinstance(target, (cst.Tuple, cst.List)) else [target]:
            expr = sub.value if isinstance(sub, cst.Element) else sub
            if isinstance(expr, cst.Name):
                names.append(expr.value)
                if first_range is None:
                    first_range = _shift(positions.of(expr))
    if not names or first_range is None:
        return None
    value = node.value
    call = None
    first_arg: Any = _NO_VALUE
    kwargs: list[tuple[str, str]] = []
    values: list[tuple[str, Any]] = []
    if isinstance(value, cst.Call):
        call = dotted_name(value.func)
        for arg in value.args:
            if arg.keyword is None and not arg.star and first_arg is _NO_VALUE:
                first_arg = literal_value(arg.value)
            elif arg.keyword is not None:
                kwargs.append((arg.keyword.value, code_of(arg.value)))
                literal = pod_literal(arg.value)
                if literal is not _NO_VALUE:
                    values.append((arg.keyword.value, literal))
    return AssignDraft(
        tuple(names),
        first_range,
        call,
        None if first_arg is _NO_VALUE else first_arg,
        tuple(kwargs),
        tuple(values),
    )


def _bound_names(statement: cst.CSTNode) -> list[str]:
    """Names a compound class-body statement binds (best effort: defs and assignments inside)."""
    names: list[str] = []
    for node in _walk_statements(statement):
        if isinstance(node, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
            targets = node.targets if isinstance(node, cst.Assign) else [node]
            for t in targets:
                if isinstance(t.target, cst.Name):
                    names.append(t.target.value)
    if isinstance(statement, cst.BaseCompoundStatement):
        for node in _walk_statements(statement.body):
            if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                names.append(node.name.value)
    return names


# ---------------------------------------------------------------------------------------------
# Class headers and module-level statements


@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def parse_class_header(text: str) -> ClassHeaderDraft:
    """Parse a class statement's header (decorators, name, bases) given its text up to the body."""
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        return ClassHeaderDraft("", Range.of(1, 0, 1, 0), (), (), (), _problem(error, text, 0))
    cls = next((s for s in module.body if isinstance(s, cst.ClassDef)), None)
    if cls is None:
        return ClassHeaderDraft(
            "", Range.of(1, 0, 1, 0), (), (), (), SyntaxProblem("Syntax error: not a class", 1, 0)
        )
    positions = collect(module)
    bases = tuple(dotted_name(b.value) or "" for b in cls.bases if b.keyword is None)
    base_ranges = tuple(
        positions.of(b.value)
        for b in cls.bases
        if b.keyword is None and id(b.value) in positions.ranges
    )
    decorators = tuple(_decorator(d, positions, 0) for d in cls.decorators)
    return ClassHeaderDraft(cls.name.value, positions.of(cls.name), bases, base_ranges, decorators)


@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def parse_toplevel(text: str) -> TopLevelDraft:
    """Imports, definitions and the `__main__` block's calls in a module-level statement."""
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        return TopLevelDraft(error=_problem(error, text, 0))
    imports: list[ImportDraft] = []
    calls: list[str] = []
    defined: list[str] = []
    for statement in module.body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            defined.append(statement.name.value)
            continue
        is_main = isinstance(statement, cst.If) and _is_main_test(statement.test)
        for node in (
            _walk_statements(statement)
            if not isinstance(statement, cst.SimpleStatementLine)
            else statement.body
        ):
            if isinstance(node, cst.Import):
                for alias in node.names:
                    dotted = dotted_name(alias.name) or ""
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        imports.append(ImportDraft(alias.asname.name.value, dotted, None, 0))
                    else:
                        imports.append(
                            ImportDraft(dotted.split(".")[0], dotted.split(".")[0], None, 0)
                        )
            elif isinstance(node, cst.ImportFrom):
                module_name = dotted_name(node.module) if node.module is not None else ""
                level = len(node.relative)
                if isinstance(node.names, cst.ImportStar):
                    imports.append(ImportDraft("*", module_name or "", "*", level))
                    continue
                for alias in node.names:
                    name = dotted_name(alias.name) or ""
                    local = name
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        local = alias.asname.name.value
                    imports.append(ImportDraft(local, module_name or "", name, level))
            elif isinstance(node, (cst.Assign, cst.AnnAssign)):
                targets = node.targets if isinstance(node, cst.Assign) else [node]
                for t in targets:
                    if isinstance(t.target, cst.Name):
                        defined.append(t.target.value)
            if is_main:
                calls.extend(_called_names(node))
    return TopLevelDraft(tuple(imports), tuple(calls), tuple(defined))


def _is_main_test(test: cst.BaseExpression) -> bool:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    left = test.left
    right = test.comparisons[0].comparator
    sides = {dotted_name(left) or "", dotted_name(right) or ""}
    literal = literal_value(left) if isinstance(left, cst.SimpleString) else literal_value(right)
    return "__name__" in sides and literal == "__main__"


def _called_names(node: cst.CSTNode) -> list[str]:
    out: list[str] = []
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Call):
            name = dotted_name(current.func)
            if name is not None:
                out.append(name)
        stack.extend(current.children)
    return out
