"""textDocument/definition: jumping from a step, artifact or Parameter to where it is defined."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from .helpers import SERVER, Session, initialize_params, lsp_range, name_at, position_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

SWITCH = textwrap.dedent(
    """\
    from metaflow import FlowSpec, Parameter, step


    class RouteFlow(FlowSpec):
        mode = Parameter("mode", default="fast")

        @step
        def start(self):
            self.route = self.mode
            self.next({"fast": self.fast_path, "slow": self.slow_path}, condition="route")

        @step
        def fast_path(self):
            note = "🚀"; self.took = 1  # noqa: E702
            self.next(self.end)

        @step
        def slow_path(self):
            self.took = 10
            self.next(self.end)

        @step
        def end(self):
            msg = "日本語 🚀"; print(msg, self.took)  # noqa: E702
    """
)


def utf16(line: str, column: int) -> int:
    return len(line[:column].encode("utf-16-le")) // 2


async def test_step_reference_goes_to_the_def(session: Session):
    uri = session.open("route_flow.py", SWITCH)
    line, col = position_of(SWITCH, "self.end", offset=6)
    assert await session.definition(uri, line, col) == [
        types.Location(uri, lsp_range((22, 8), (22, 11)))
    ]


async def test_non_ascii_lines_before_a_reference(session: Session):
    text = SWITCH.replace(
        "        self.route = self.mode\n",
        "        # Étape 🚀: choisir la route\n        self.route = self.mode  # 日本\n",
    )
    assert text != SWITCH
    uri = session.open("route_flow_comment.py", text)
    line, col = position_of(text, "self.fast_path", offset=len("self.fast"))
    assert await session.definition(uri, line, col) == [
        types.Location(uri, name_at(text, "def fast_path", "fast_path"))
    ]


async def test_switch_case_value_goes_to_the_def(session: Session):
    uri = session.open("route_flow_switch.py", SWITCH)
    line, col = position_of(SWITCH, "self.slow_path", offset=len("self.slow_path"))
    assert await session.definition(uri, line, col) == [
        types.Location(uri, lsp_range((17, 8), (17, 17)))
    ]


async def test_artifact_read_goes_to_every_upstream_assignment(session: Session):
    uri = session.open("route_flow_artifact.py", SWITCH)
    lines = SWITCH.splitlines()
    line, col = position_of(SWITCH, "self.took)", offset=5)
    # The read sits after non-ASCII text: the client counts UTF-16 units.
    locations = await session.definition(uri, line, utf16(lines[line], col))
    fast_line = lines[13]
    fast_col = fast_line.index("took")
    assert locations == [
        types.Location(
            uri,
            lsp_range((13, utf16(fast_line, fast_col)), (13, utf16(fast_line, fast_col) + 4)),
        ),
        types.Location(uri, lsp_range((18, 13), (18, 17))),
    ]


async def test_parameter_read_goes_to_its_declaration(session: Session):
    uri = session.open("route_flow_param.py", SWITCH)
    line, col = position_of(SWITCH, "self.mode", offset=6)
    assert await session.definition(uri, line, col) == [
        types.Location(uri, lsp_range((4, 4), (4, 8)))
    ]


async def test_nothing_to_jump_to_outside_symbols(session: Session):
    uri = session.open("route_flow_none.py", SWITCH)
    line, col = position_of(SWITCH, "condition=")
    assert await session.definition(uri, line, col) == []


BASE = textwrap.dedent(
    """\
    from metaflow import FlowSpec, step


    class SharedSteps(FlowSpec):
        @step
        def start(self):
            self.next(self.process)

        @step
        def process(self):
            \"\"\"Process the data.\"\"\"
            self.next(self.end)

        @step
        def end(self):
            pass
    """
)

CHILD = textwrap.dedent(
    """\
    from pipeline.shared import SharedSteps
    from metaflow import step


    class ChildFlow(SharedSteps):
        @step
        def start(self):
            self.next(self.process)
    """
)


async def test_inherited_step_goes_to_the_base_module(session: Session):
    base_uri = session.write("pipeline/shared.py", BASE)
    session.write("pipeline/__init__.py", "")
    uri = session.open("child_flow.py", CHILD)
    line, col = position_of(CHILD, "self.process", offset=7)
    assert await session.definition(uri, line, col) == [
        types.Location(base_uri, lsp_range((9, 8), (9, 15)))
    ]


NEGOTIATED: dict[str, object] = {}


@pytest_lsp.fixture(config=SERVER, loop_scope="module")
async def utf32_client(lsp_client: LanguageClient, workspace: Path):
    result = await lsp_client.initialize_session(initialize_params(workspace, ["utf-32", "utf-16"]))
    NEGOTIATED["encoding"] = result.capabilities.position_encoding
    yield
    await lsp_client.shutdown_session()


async def test_utf32_clients_get_code_point_columns(utf32_client: LanguageClient, workspace: Path):
    assert NEGOTIATED["encoding"] == types.PositionEncodingKind.Utf32
    session = Session(utf32_client, workspace)
    uri = session.open("route_flow_utf32.py", SWITCH)
    lines = SWITCH.splitlines()
    line, col = position_of(SWITCH, "self.took)", offset=5)
    locations = await session.definition(uri, line, col)
    fast_col = lines[13].index("took")
    assert locations[0].range == lsp_range((13, fast_col), (13, fast_col + 4))
