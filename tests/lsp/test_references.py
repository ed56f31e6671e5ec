"""textDocument/references: where a step is defined and every transition that names it."""

from __future__ import annotations

import textwrap

import pytest
from lsprotocol import types

from .helpers import Session, name_at, position_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

FLOW = textwrap.dedent(
    """\
    from metaflow import FlowSpec, step


    class BranchFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.left, self.right)

        @step
        def left(self):
            self.value = 1
            self.next(self.join)

        @step
        def right(self):
            self.value = 2
            self.next({"again": self.right, "done": self.join}, condition="value")

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
)


JOIN_DEF = name_at(FLOW, "def join", "join")
JOIN_REFS = [
    name_at(FLOW, "self.next(self.join", "join"),
    name_at(FLOW, '"done": self.join', "join"),
]


async def references(
    session: Session, uri: str, line: int, col: int, declaration: bool = True
) -> list[types.Location]:
    result = await session.client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line, col),
            context=types.ReferenceContext(include_declaration=declaration),
        )
    )
    return sorted(
        result or [], key=lambda loc: (loc.uri, loc.range.start.line, loc.range.start.character)
    )


async def test_from_the_def_name(session: Session):
    uri = session.open("branch_flow.py", FLOW)
    line, col = position_of(FLOW, "def join", offset=5)
    found = await references(session, uri, line, col)
    assert found == [types.Location(uri, r) for r in [JOIN_REFS[0], JOIN_REFS[1], JOIN_DEF]]


async def test_from_a_reference_in_a_switch_without_the_declaration(session: Session):
    uri = session.open("branch_flow_switch.py", FLOW)
    line, col = position_of(FLOW, '"done": self.join', offset=len('"done": self.jo'))
    found = await references(session, uri, line, col, declaration=False)
    assert [loc.range for loc in found] == JOIN_REFS


async def test_a_step_that_goes_to_itself(session: Session):
    uri = session.open("branch_flow_loop.py", FLOW)
    line, col = position_of(FLOW, "def right", offset=5)
    found = await references(session, uri, line, col)
    assert [loc.range for loc in found] == [
        name_at(FLOW, "self.left, self.right", "right"),
        name_at(FLOW, "def right", "right"),
        name_at(FLOW, '"again": self.right', "right"),
    ]


async def test_artifact_references(session: Session):
    uri = session.open("branch_flow_artifact.py", FLOW)
    line, col = position_of(FLOW, "self.value = 2", offset=6)
    found = await references(session, uri, line, col)
    # Both assignments (the switch's condition="value" is a string, not a reference).
    assert [loc.range for loc in found] == [
        name_at(FLOW, "self.value", "value", 0),
        name_at(FLOW, "self.value", "value", 1),
    ]


BASE = textwrap.dedent(
    """\
    from metaflow import FlowSpec, step


    class BaseSteps(FlowSpec):
        @step
        def start(self):
            self.next(self.work)

        @step
        def work(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
)

CHILD = textwrap.dedent(
    """\
    from base_steps import BaseSteps
    from metaflow import step


    class ChildFlow(BaseSteps):
        @step
        def start(self):
            print("child")
            self.next(self.work)
    """
)


async def test_open_subclasses_are_searched_from_the_base_def(session: Session):
    base_uri = session.open("base_steps.py", BASE)
    child_uri = session.open("child_of_base.py", CHILD)
    await session.symbols(child_uri)
    line, col = position_of(BASE, "def work", offset=5)
    found = await references(session, base_uri, line, col)
    assert [(loc.uri, loc.range) for loc in found] == [
        (base_uri, name_at(BASE, "self.work", "work")),
        (base_uri, name_at(BASE, "def work", "work")),
        (child_uri, name_at(CHILD, "self.work", "work")),
    ]


async def test_nothing_outside_symbols(session: Session):
    uri = session.open("branch_flow_none.py", FLOW)
    assert await references(session, uri, 0, 0) == []
