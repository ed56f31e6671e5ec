"""Plain data types of the flow model: what a flow file says, with source ranges.

Lines are 1-based and columns 0-based counted in code points (Python `str` indices); the LSP
layer converts columns to UTF-16 when a line holds non-ASCII text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "information", "hint"]


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a file: 1-based line, 0-based column in code points."""

    line: int
    column: int

    def shifted(self, lines: int) -> Position:
        """This position moved down by `lines` lines."""
        return Position(self.line + lines, self.column)


@dataclass(frozen=True, slots=True)
class Range:
    """A half-open span of source text."""

    start: Position
    end: Position

    def shifted(self, lines: int) -> Range:
        """This range moved down by `lines` lines."""
        if lines == 0:
            return self
        return Range(self.start.shifted(lines), self.end.shifted(lines))

    def contains(self, line: int, column: int) -> bool:
        """Whether the 1-based `line` / 0-based `column` lies inside this range (end inclusive)."""
        if line < self.start.line or line > self.end.line:
            return False
        if line == self.start.line and column < self.start.column:
            return False
        return not (line == self.end.line and column > self.end.column)

    @staticmethod
    def of(line: int, column: int, end_line: int, end_column: int) -> Range:
        """A range from four numbers."""
        return Range(Position(line, column), Position(end_line, end_column))


@dataclass(frozen=True, slots=True)
class DecoratorInfo:
    """A decorator on a step, as written in the source."""

    name: str  # the decorator's Metaflow name, e.g. "retry" (aliases resolved)
    text: str  # the decorator expression as written, without the "@"
    args: tuple[str, ...]  # positional arguments, source text
    kwargs: tuple[tuple[str, str], ...]  # keyword arguments, (name, source text)
    values: dict[str, Any]  # keyword arguments whose value is a literal, evaluated
    range: Range
    is_metaflow: bool  # resolved to something imported from metaflow
    is_call: bool  # written with parentheses


@dataclass(frozen=True, slots=True)
class Transition:
    """A `self.next(...)` call, decoded the way Metaflow decodes it."""

    range: Range  # the whole call
    targets: tuple[str, ...]  # Metaflow's out_funcs
    target_ranges: tuple[Range, ...]  # one per target, the `self.x` expression
    kind: str | None  # "linear", "split", "foreach", "parallel", "switch"; None when invalid
    valid: bool  # False where Metaflow sets invalid_tail_next
    foreach: str | None = None
    num_parallel: Any = None
    condition: str | None = None
    switch_cases: tuple[tuple[Any, str], ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """A `self.<name>` reference inside a step."""

    name: str
    range: Range  # the attribute name only


class Step:
    """One `@step` method of a flow.

    Positions inside the step are stored relative to the statement it was parsed from and
    moved to their place in the file when first read, so that inserting a line above a step
    costs nothing until someone looks at the step's ranges.
    """

    __slots__ = (
        "_memo",
        "_name_range",
        "_nexts_not_last",
        "_offset",
        "_range",
        "_reads",
        "_tail",
        "_writes",
        "arg_names",
        "decorators",
        "doc",
        "dynamic_writes",
        "has_tail_next",
        "inherited_from",
        "is_end_annotated",
        "is_start_annotated",
        "name",
        "raw_doc",
        "source_file",
        "step_decorator",
        "syntax_error",
    )

    def __init__(
        self,
        *,
        name: str,
        source_file: str,
        name_range: Range,
        range: Range,
        decorators: tuple[DecoratorInfo, ...],
        step_decorator: DecoratorInfo | None,
        is_start_annotated: bool = False,
        is_end_annotated: bool = False,
        arg_names: tuple[str, ...] = (),
        raw_doc: str | None = None,
        doc: str = "",
        tail: Transition | None = None,
        has_tail_next: bool = False,
        nexts_not_last: tuple[Range, ...] = (),
        writes: tuple[ArtifactRef, ...] = (),
        reads: tuple[ArtifactRef, ...] = (),
        dynamic_writes: bool = False,
        syntax_error: Diagnostic | None = None,
        inherited_from: str | None = None,
        line_offset: int = 0,
    ) -> None:
        self.name = name
        self.source_file = source_file
        self.decorators = decorators  # top to bottom, excluding @step itself; absolute ranges
        self.step_decorator = step_decorator
        self.is_start_annotated = is_start_annotated
        self.is_end_annotated = is_end_annotated
        self.arg_names = arg_names
        self.raw_doc = raw_doc
        self.doc = doc
        self.has_tail_next = has_tail_next
        self.dynamic_writes = (
            dynamic_writes  # setattr(self, ...), merge_artifacts(...), self.__dict__
        )
        self.syntax_error = syntax_error  # the step did not parse; other fields are best effort
        self.inherited_from = (
            inherited_from  # the base class the step comes from, if not this class
        )
        self._offset = line_offset
        self._name_range = name_range
        self._range = range
        self._tail = tail
        self._nexts_not_last = nexts_not_last
        self._writes = writes
        self._reads = reads
        self._memo: dict[str, object] = {}

    def __repr__(self) -> str:
        return f"Step({self.name!r}, line {self.def_line}, {self.source_file!r})"

    def _placed(self, key: str, value: object) -> object:
        if self._offset == 0:
            return value
        memo = self._memo
        if key not in memo:
            memo[key] = _shift_any(value, self._offset)
        return memo[key]

    @property
    def name_range(self) -> Range:
        """The method name in `def name`."""
        return self._name_range.shifted(self._offset)

    @property
    def range(self) -> Range:
        """From the first decorator to the end of the body."""
        return self._range.shifted(self._offset)

    @property
    def tail(self) -> Transition | None:
        """The last statement when it is `self.next(...)`."""
        return self._placed("tail", self._tail)  # type: ignore[return-value]

    @property
    def transition(self) -> Transition | None:
        """The tail `self.next(...)` with positions relative to the step's statement.

        For graph building, which needs targets and kinds but no positions; use `tail` for ranges.
        """
        return self._tail

    @property
    def nexts_not_last(self) -> tuple[Range, ...]:
        """`self.next` calls that are not the last statement."""
        return self._placed("nexts", self._nexts_not_last)  # type: ignore[return-value]

    @property
    def writes(self) -> tuple[ArtifactRef, ...]:
        """`self.x = ...` assignments (tuple, augmented and annotated included)."""
        return self._placed("writes", self._writes)  # type: ignore[return-value]

    @property
    def reads(self) -> tuple[ArtifactRef, ...]:
        """`self.x` reads that are not method calls or step references."""
        return self._placed("reads", self._reads)  # type: ignore[return-value]

    @property
    def write_names(self) -> frozenset[str]:
        """Names of the artifacts the step assigns (no positions needed)."""
        names = self._memo.get("write_names")
        if names is None:
            names = self._memo["write_names"] = frozenset(w.name for w in self._writes)
        return names  # type: ignore[return-value]

    @property
    def read_names(self) -> frozenset[str]:
        """Names of the artifacts the step reads."""
        names = self._memo.get("read_names")
        if names is None:
            names = self._memo["read_names"] = frozenset(r.name for r in self._reads)
        return names  # type: ignore[return-value]

    @property
    def targets(self) -> tuple[str, ...]:
        """The steps `self.next` names (empty without a valid tail)."""
        return self._tail.targets if self._tail is not None else ()

    @property
    def num_args(self) -> int:
        """Positional arguments including `self`, as Metaflow counts them."""
        return len(self.arg_names)

    @property
    def def_line(self) -> int:
        """The line of `def`, which Metaflow reports for step-level errors."""
        return self._name_range.start.line + self._offset


def _shift_any(value: object, lines: int) -> object:
    if value is None:
        return None
    if isinstance(value, Range):
        return value.shifted(lines)
    if isinstance(value, ArtifactRef):
        return ArtifactRef(value.name, value.range.shifted(lines))
    if isinstance(value, Transition):
        return Transition(
            value.range.shifted(lines),
            value.targets,
            tuple(r.shifted(lines) for r in value.target_ranges),
            value.kind,
            value.valid,
            value.foreach,
            value.num_parallel,
            value.condition,
            value.switch_cases,
            value.keywords,
        )
    if isinstance(value, tuple):
        return tuple(_shift_any(v, lines) for v in value)
    raise TypeError(f"cannot shift {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class ParameterInfo:
    """A Parameter, Config or IncludeFile declared on the flow class."""

    attribute: str  # class attribute name
    name: str | None  # the name given as first argument (the CLI option), when a literal
    kind: str  # "Parameter", "Config" or "IncludeFile"
    type: str | None  # source text of type=
    default: str | None  # source text of default=
    help: str | None
    required: bool
    range: Range
    source_file: str


@dataclass(slots=True)
class Diagnostic:
    """A problem found in a flow file."""

    file: str
    range: Range
    severity: Severity
    code: str
    message: str
    related: tuple[tuple[str, Range, str], ...] = ()  # (file, range, message)

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON form: 1-based lines and columns."""
        return {
            "file": self.file,
            "line": self.range.start.line,
            "column": self.range.start.column + 1,
            "end_line": self.range.end.line,
            "end_column": self.range.end.column + 1,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }


@dataclass(slots=True)
class GraphNode:
    """A step as Metaflow's FlowGraph sees it (metaflow/graph.py's DAGNode)."""

    name: str
    type: str | None  # start, linear, split, foreach, split-switch, join, end, or None
    out_funcs: list[str]
    in_funcs: list[str] = field(default_factory=list)
    split_parents: list[str] = field(default_factory=list)
    split_branches: list[str] = field(default_factory=list)
    matching_join: str | None = None
    foreach_param: Any = None
    num_parallel: Any = 0
    parallel_foreach: bool = False
    parallel_step: bool = False
    condition: str | None = None
    switch_cases: dict[Any, str] = field(default_factory=dict)
    is_inside_foreach: bool = False


@dataclass(slots=True)
class FlowGraph:
    """The graph Metaflow builds for a flow, computed from the model."""

    nodes: dict[str, GraphNode]  # in Metaflow's order (sorted step names)
    start_step: str | None
    end_step: str | None
    cycles: list[list[str]]  # each cycle as a path of step names, first == last
    sorted_nodes: list[str]  # a topological order of the reachable steps


@dataclass(slots=True)
class Flow:
    """A FlowSpec subclass found in a file."""

    name: str
    source_file: str
    name_range: Range
    range: Range
    raw_doc: str | None
    doc: str
    bases: tuple[str, ...]  # base class expressions as written
    steps: dict[str, Step]  # all steps, inherited included, sorted by name (Metaflow's order)
    own_steps: list[Step]  # the steps defined in this class body, source order
    duplicate_steps: list[tuple[Step, Step]]  # (shadowed, winner) pairs within the class body
    parameters: list[ParameterInfo]
    class_attributes: set[str]  # names defined on the class or its bases (methods, constants)
    unresolved_bases: list[str]  # bases we could not read (outside the workspace)
    graph: FlowGraph | None = None

    def step_at(self, line: int, column: int) -> Step | None:
        """The step whose source contains the 1-based `line` (own steps only)."""
        for step in self.own_steps:
            if step.range.start.line <= line <= step.range.end.line:
                return step
        return None


@dataclass(slots=True)
class FlowFile:
    """Everything the server knows about one flow file."""

    path: str
    text: str
    flows: list[Flow]
    diagnostics: list[Diagnostic]  # syntax and structure, all flows
    main_flow: str | None  # the flow instantiated under `if __name__ == "__main__"`
    syntax_errors: list[Diagnostic] = field(default_factory=list)

    def flow(self, name: str | None = None) -> Flow | None:
        """The flow called `name`, or the file's main flow, or its only flow."""
        if name is not None:
            return next((f for f in self.flows if f.name == name), None)
        if self.main_flow is not None:
            found = next((f for f in self.flows if f.name == self.main_flow), None)
            if found is not None:
                return found
        return self.flows[-1] if self.flows else None

    def flow_at(self, line: int) -> Flow | None:
        """The flow whose class body contains the 1-based `line`."""
        for flow in self.flows:
            if flow.range.start.line <= line <= flow.range.end.line:
                return flow
        return None
