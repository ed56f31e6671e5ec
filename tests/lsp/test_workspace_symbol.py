"""workspace/symbol: finding flows and steps across the workspace."""

from __future__ import annotations

import os
import textwrap

import pytest
from lsprotocol import types

from .helpers import Session, lsp_range

pytestmark = pytest.mark.asyncio(loop_scope="module")

FLOW = textwrap.dedent(
    """\
    from metaflow import FlowSpec, step


    class {name}(FlowSpec):
        @step
        def start(self):
            self.next(self.{step})

        @step
        def {step}(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
)


async def search(session: Session, query: str) -> list[tuple[str, str | None, str, types.Range]]:
    result = await session.client.workspace_symbol_async(types.WorkspaceSymbolParams(query=query))
    assert result is not None
    out = []
    for symbol in result:
        assert isinstance(symbol.location, types.Location)
        name = os.path.relpath(symbol.location.uri.removeprefix("file://"), session.root)
        out.append((symbol.name, symbol.container_name, name, symbol.location.range))
    return sorted(out, key=lambda s: (s[2], s[3].start.line))


@pytest.fixture(scope="module", autouse=True)
def files(session: Session) -> None:
    session.write("flows/training.py", FLOW.format(name="TrainingFlow", step="train_model"))
    session.write("flows/scoring.py", FLOW.format(name="ScoringFlow", step="score"))
    session.write("flows/not_a_flow.py", "def train_model():\n    pass\n")
    session.write(".venv/lib/vendored.py", FLOW.format(name="VendoredFlow", step="train_v"))
    session.write("node_modules/x/flow.py", FLOW.format(name="NodeFlow", step="train_n"))


async def test_finds_steps_by_subsequence_with_their_flow(session: Session):
    assert await search(session, "trmod") == [
        ("train_model", "TrainingFlow", "flows/training.py", lsp_range((9, 8), (9, 19))),
    ]


async def test_finds_flows_and_skips_virtualenvs_and_node_modules(session: Session):
    found = await search(session, "Flow")
    names = [name for name, *_ in found]
    assert names == ["ScoringFlow", "TrainingFlow"]
    assert found[1][3] == lsp_range((3, 6), (3, 18))


async def test_open_documents_are_searched_as_edited(session: Session):
    uri = session.open("flows/editing.py", FLOW.format(name="EditingFlow", step="draft"))
    session.change(uri, FLOW.format(name="EditingFlow", step="polished"))
    await session.symbols(uri)  # the edit has been analysed
    found = await search(session, "polished")
    assert [(n, c, f) for n, c, f, _ in found] == [("polished", "EditingFlow", "flows/editing.py")]
    assert await search(session, "draft") == []


async def test_files_changed_on_disk_are_read_again(session: Session):
    path = session.root / "flows/scoring.py"
    session.write("flows/scoring.py", FLOW.format(name="ScoringFlow", step="rescore"))
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    assert [n for n, *_ in await search(session, "rescore")] == ["rescore"]
    assert [n for n, *_ in await search(session, "scor")] == ["ScoringFlow", "rescore"]
