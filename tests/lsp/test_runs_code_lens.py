"""textDocument/codeLens: the latest run above the flow, each step's last status above it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from .helpers import Session
from .runs_helpers import (
    FLOW_FILE,
    RunsWorkspace,
    lens_titles,
    lenses,
    line_of,
    running_server,
    runs_workspace,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> RunsWorkspace:
    return runs_workspace(tmp_path_factory)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(ws: RunsWorkspace) -> AsyncIterator[Session]:
    async with running_server(ws.path, ws.env, {"python": sys.executable}) as session:
        yield session


async def test_lenses_show_the_last_status_of_the_flow_and_each_step(
    session: Session, ws: RunsWorkspace
) -> None:
    assert session.capabilities.code_lens_provider is not None
    uri = session.open(FLOW_FILE)
    text = ws.flow_text
    titles = lens_titles(await lenses(session, uri))
    failed, ok = ws.runs["failed"], ws.runs["ok"]

    flow = titles[line_of(text, "class RunsFlow")]
    assert flow.startswith("✗ failed · ") and f"run {failed}" in flow, titles

    def step(name: str) -> str:
        return titles[line_of(text, f"def {name}(") - 1]  # above `@step`

    assert step("compute") == f"✗ failed · run …{failed[-6:]}"
    assert step("each").startswith("✓ 3 tasks · ") and step("each").endswith(f"run …{failed[-6:]}")
    assert step("start").startswith("✓ ") and "s · run" in step("start")
    # `end` did not run in the failed run: its last run is the successful one.
    assert step("end").startswith("✓ ") and step("end").endswith(f"run …{ok[-6:]}")
    # Status lenses are labels; the other lenses are the Run / Spin / Resume / DAG actions.
    actions = {
        lens.command.command
        for lens in await lenses(session, uri)
        if lens.command is not None and lens.command.command
    }
    assert actions == {"metaflow.run", "metaflow.spin", "metaflow.resume", "metaflow.openView"}


async def test_a_file_without_runs_has_no_status_lenses(session: Session) -> None:
    uri = session.open(
        "other_flow.py",
        "from metaflow import FlowSpec, step\n\n\nclass OtherFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n",
    )
    found = await lenses(session, uri)
    assert lens_titles(found) == {}
    # Without `if __name__ == "__main__"` the file does not run the flow: only the DAG lens.
    assert [lens.command.title for lens in found if lens.command] == ["DAG"]
