"""textDocument/publishDiagnostics: what the Problems panel shows while a flow is edited."""

from __future__ import annotations

import asyncio
import textwrap

import pytest
from lsprotocol import types

from .helpers import Session, lsp_range

pytestmark = pytest.mark.asyncio(loop_scope="module")

TYPO = textwrap.dedent(
    """\
    from metaflow import FlowSpec, step


    class TypoFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.trian)

        @step
        def train(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
)


def codes(diagnostics: list[types.Diagnostic]) -> list[str]:
    return sorted(str(d.code) for d in diagnostics)


async def test_unknown_step_is_reported_on_the_reference(session: Session):
    uri = session.open("typo_flow.py", TYPO)
    found = await session.diagnostics(uri, lambda d: "unknown-step" in codes(d))
    assert codes(found) == ["unknown-step", "unreachable-step", "unreachable-step"]
    unknown = next(d for d in found if d.code == "unknown-step")
    assert unknown.range == lsp_range((6, 18), (6, 28))
    assert unknown.message == (
        "Step start specifies a self.next() transition to an unknown step, trian."
    )
    assert unknown.severity == types.DiagnosticSeverity.Error
    assert unknown.source == "metaflow-lsp"
    unreachable = [d for d in found if d.code == "unreachable-step"]
    assert [d.range for d in unreachable] == [
        lsp_range((9, 8), (9, 13)),
        lsp_range((13, 8), (13, 11)),
    ]
    assert [list(d.tags or []) for d in unreachable] == [[types.DiagnosticTag.Unnecessary]] * 2


async def test_fixing_the_typo_clears_the_problems(session: Session):
    uri = session.open("typo_fixed_flow.py", TYPO)
    await session.diagnostics(uri, lambda d: bool(d))
    session.change(uri, TYPO.replace("self.trian", "self.train"))
    assert await session.diagnostics(uri, lambda d: not d) == []


async def test_columns_after_non_ascii_text_are_utf16(session: Session):
    text = TYPO.replace(
        "        self.next(self.trian)",
        '        self.msg = "héllo 🚀"; self.next(self.trian)  # noqa: E702',
    )
    uri = session.open("typo_unicode_flow.py", text)
    found = await session.diagnostics(uri, lambda d: "unknown-step" in codes(d))
    unknown = next(d for d in found if d.code == "unknown-step")
    line = text.splitlines()[6]
    start = line.index("self.trian")
    # "é" is one UTF-16 unit, "🚀" two: the range starts one unit after the code-point column.
    assert unknown.range == lsp_range((6, start + 1), (6, start + 1 + len("self.trian")))


async def test_half_typed_step_shows_a_syntax_error_and_keeps_the_outline(session: Session):
    uri = session.open("half_typed_flow.py", TYPO.replace("self.trian", "self.train"))
    await session.diagnostics(uri, lambda d: not d)
    session.change(uri, TYPO.replace("        self.next(self.end)", "        self.next(self."))
    found = await session.diagnostics(uri, lambda d: "syntax-error" in codes(d))
    syntax = [d for d in found if d.code == "syntax-error"]
    assert len(syntax) == 1
    assert syntax[0].severity == types.DiagnosticSeverity.Error
    assert syntax[0].message == "Syntax error: '(' was never closed"
    assert syntax[0].range.start == types.Position(10, 17)  # the unclosed "("
    # The outline still lists every step, the one being typed included.
    symbols = await session.symbols(uri)
    assert [s.name for s in symbols[0].children] == ["start", "train", "end"]


async def test_a_burst_of_changes_publishes_the_last_text(session: Session):
    uri = session.open("burst_flow.py", TYPO.replace("self.trian", "self.train"))
    await session.diagnostics(uri, lambda d: not d)
    for i in range(30):
        session.change(uri, TYPO.replace("self.trian", f"self.typo_{i}"))
    found = await session.diagnostics(uri, lambda d: any("typo_29" in x.message for x in d))
    assert [d.message for d in found if d.code == "unknown-step"] == [
        "Step start specifies a self.next() transition to an unknown step, typo_29."
    ]
    await asyncio.sleep(0.5)  # nothing older arrives later
    assert list(session.client.diagnostics[uri]) == found


async def test_closing_the_document_clears_its_problems(session: Session):
    uri = session.open("closed_flow.py", TYPO)
    await session.diagnostics(uri, lambda d: bool(d))
    session.close(uri)
    assert await session.diagnostics(uri, lambda d: not d) == []


BASE = textwrap.dedent(
    """\
    from metaflow import FlowSpec, step


    class BrokenBase(FlowSpec):
        @step
        def start(self):
            self.next(self.proces)

        @step
        def process(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
)

CHILD = textwrap.dedent(
    """\
    from broken_base import BrokenBase


    class ChildFlow(BrokenBase):
        pass
    """
)


async def test_problem_in_an_inherited_step_points_to_the_base_class(session: Session):
    base_uri = session.write("broken_base.py", BASE)
    uri = session.open("child_flow.py", CHILD)
    found = await session.diagnostics(uri, lambda d: "unknown-step" in codes(d))
    unknown = next(d for d in found if d.code == "unknown-step")
    assert unknown.range == lsp_range((3, 6), (3, 15))  # the class name ChildFlow
    assert unknown.message == (
        "Step start specifies a self.next() transition to an unknown step, proces. "
        "(in broken_base.py, line 7)"
    )
    assert unknown.related_information is not None
    (related,) = unknown.related_information
    assert related.location.uri == base_uri
    assert related.location.range == lsp_range((6, 18), (6, 29))


async def test_editing_an_open_base_class_updates_the_subclass(session: Session):
    base_uri = session.open("broken_base2.py", BASE)
    uri = session.open("child_flow2.py", CHILD.replace("broken_base", "broken_base2"))
    await session.diagnostics(uri, lambda d: "unknown-step" in codes(d))
    session.change(base_uri, BASE.replace("self.proces)", "self.process)"))
    assert await session.diagnostics(uri, lambda d: not d) == []
