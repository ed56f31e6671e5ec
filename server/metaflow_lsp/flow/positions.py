"""Source positions for selected libcst nodes, computed in one code-generation pass.

libcst's PositionProvider records a range for every node through the generic metadata
machinery, which costs more than the parse itself. The flow model needs positions for a few
node types only, so this state counts lines and columns as tokens are generated and records
just those; on the way it also collects the `self.<name>` attributes and calls that the
artifact analysis needs, which saves a second walk over the tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst
from libcst._nodes.internal import CodegenState

from .model import Range

_WANTED: frozenset[type] = frozenset(
    {
        cst.Name,
        cst.Attribute,
        cst.Call,
        cst.Decorator,
        cst.FunctionDef,
        cst.ClassDef,
        cst.SimpleStatementLine,
        cst.Expr,
        cst.Dict,
        # Any expression may follow "@" (PEP 614); these are the ones a decorator can be.
        cst.Subscript,
        cst.BinaryOperation,
        cst.UnaryOperation,
        cst.BooleanOperation,
        cst.Lambda,
        cst.IfExp,
        cst.NamedExpr,
        cst.Comparison,
    }
)


@dataclass
class _PositionState(CodegenState):
    line: int = 1
    column: int = 0
    stack: list[tuple[int, int]] = field(default_factory=list)
    ranges: dict[int, Range] = field(default_factory=dict)
    self_attributes: list[cst.Attribute] = field(default_factory=list)
    self_calls: list[cst.Call] = field(default_factory=list)

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.column += len(token)

    def add_token(self, value: str) -> None:
        newlines = value.count("\n")
        if newlines:
            self.line += newlines
            self.column = len(value) - value.rfind("\n") - 1
        else:
            self.column += len(value)

    def before_codegen(self, node: cst.CSTNode) -> None:
        if type(node) in _WANTED:
            self.stack.append((self.line, self.column))

    def after_codegen(self, node: cst.CSTNode) -> None:
        kind = type(node)
        if kind in _WANTED:
            line, column = self.stack.pop()
            self.ranges[id(node)] = Range.of(line, column, self.line, self.column)
            if kind is cst.Attribute:
                value = node.value  # type: ignore[attr-defined]
                if type(value) is cst.Name and value.value == "self":
                    self.self_attributes.append(node)  # type: ignore[arg-type]
            elif kind is cst.Call:
                func = node.func  # type: ignore[attr-defined]
                if type(func) is cst.Name or (
                    type(func) is cst.Attribute
                    and type(func.value) is cst.Name
                    and func.value.value == "self"
                ):
                    self.self_calls.append(node)  # type: ignore[arg-type]

    def pop_trailing_newline(self) -> None:
        # Positions are recorded before the module's final newline would be dropped.
        pass


@dataclass
class Positions:
    """What one pass over a module found: node ranges and `self` references in source order."""

    ranges: dict[int, Range]
    self_attributes: list[cst.Attribute]
    calls: list[cst.Call]  # calls of a bare name or of a `self.<method>`

    def of(self, node: cst.CSTNode) -> Range:
        """The range of a recorded node (whitespace it owns included)."""
        return self.ranges[id(node)]


def collect(module: cst.Module) -> Positions:
    """Walk `module` once, recording ranges of names, attributes, calls and statements."""
    state = _PositionState(
        default_indent=module.default_indent, default_newline=module.default_newline
    )
    module._codegen(state)
    return Positions(state.ranges, state.self_attributes, state.self_calls)
