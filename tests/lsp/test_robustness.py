"""The server answers whatever half-written text it is sent, and stays up.

Valid flows from the corpus are cut, spliced with fragments people type (`self.next(`, `)`,
`\"\"\"`, `@step`, `def `, newlines, indentation) and sent with didChange; documentSymbol,
hover and completion must answer every time, without an error response and in bounded time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types

from .helpers import Session

pytestmark = pytest.mark.asyncio(loop_scope="module")

CORPUS = sorted((Path(__file__).parent.parent / "corpus" / "valid").glob("*.py"))
SNIPPETS = [
    "self.next(",
    ")",
    '"""',
    "'''",
    "@step",
    "@step\n    def x(self):\n",
    "def ",
    "self.",
    "\n",
    "\r\n",
    "    ",
    "\t",
    "(",
    "[",
    "{",
    "}",
    "#",
    "'",
    ":",
    "\\",
    "🚀",
    "class X(FlowSpec):\n",
    "self.next({'a': self.",
    ", foreach='",
]
REQUEST_TIMEOUT = 10.0

edit = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(SNIPPETS)),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 80)),
)


def apply(text: str, edits: list[tuple]) -> str:
    """The text after the edits, positions given as fractions of its length."""
    for op in edits:
        at = int(op[1] * len(text))
        if op[0] == "truncate":
            text = text[:at]
        elif op[0] == "insert":
            text = text[:at] + op[2] + text[at:]
        else:
            text = text[:at] + text[at + op[2] :]
    return text


def lsp_position(text: str, fraction: float) -> types.Position:
    """The UTF-16 position of a character of `text` (or just past its end)."""
    index = int(fraction * len(text))
    line = text.count("\n", 0, index)
    start = text.rfind("\n", 0, index) + 1
    return types.Position(line, len(text[start:index].encode("utf-16-le")) // 2)


async def bounded(request):
    return await asyncio.wait_for(request, REQUEST_TIMEOUT)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    source=st.sampled_from(CORPUS),
    edits=st.lists(edit, min_size=1, max_size=4),
    points=st.lists(st.floats(0, 1), min_size=2, max_size=2),
)
async def test_every_request_is_answered_on_broken_text(
    session: Session, source: Path, edits: list[tuple], points: list[float]
):
    uri = session.uri(source.name)
    original = source.read_text(encoding="utf-8")
    if uri not in session.versions:
        session.open(source.name, original)
    text = apply(original, edits)
    session.change(uri, text)
    document = types.TextDocumentIdentifier(uri=uri)
    client = session.client

    await bounded(client.text_document_document_symbol_async(types.DocumentSymbolParams(document)))
    for point in points:
        position = lsp_position(text, point)
        await bounded(client.text_document_hover_async(types.HoverParams(document, position)))
        await bounded(
            client.text_document_completion_async(types.CompletionParams(document, position))
        )
        await bounded(
            client.text_document_definition_async(types.DefinitionParams(document, position))
        )
    # A position past the end of the document is answered too.
    past = types.Position(text.count("\n") + 5, 3)
    await bounded(client.text_document_hover_async(types.HoverParams(document, past)))
    assert client._server is not None and client._server.returncode is None
    # No request handler failed (each would log "<method> failed at <uri:line:col>").
    assert not [m.message for m in client.log_messages if " failed at " in m.message]


async def test_server_is_still_alive_and_answering(session: Session):
    # Runs after the property test in this module: the same server process.
    assert session.client._server is not None
    assert session.client._server.returncode is None
    session.open(
        "alive_flow.py", "from metaflow import FlowSpec\n\n\nclass AliveFlow(FlowSpec):\n    pass\n"
    )
    symbols = await bounded(session.symbols(session.uri("alive_flow.py")))
    assert [s.name for s in symbols] == ["AliveFlow"]
