"""Run failures as diagnostics: the exception on the line that raised, beside the lint ones."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from lsprotocol import types

from .helpers import Session
from .runs_helpers import (
    FLOW_FILE,
    RunsWorkspace,
    line_of,
    running_server,
    runs_workspace,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

MESSAGE = "ValueError: value must not be negative, got -1"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> RunsWorkspace:
    return runs_workspace(tmp_path_factory)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(ws: RunsWorkspace) -> AsyncIterator[Session]:
    async with running_server(ws.path, ws.env, {"python": sys.executable}) as session:
        yield session


def run_failures(found: list[types.Diagnostic]) -> list[types.Diagnostic]:
    return [d for d in found if d.source == "metaflow"]


async def test_a_failed_task_is_shown_on_the_line_that_raised(
    session: Session, ws: RunsWorkspace
) -> None:
    uri = session.open(FLOW_FILE)
    text = ws.flow_text
    found = await session.diagnostics(uri, lambda d: bool(run_failures(d)))
    (failure,) = run_failures(found)
    raising = line_of(text, "raise ValueError")
    assert failure.range.start.line == raising
    assert failure.range.start.character == text.splitlines()[raising].index("raise")
    assert failure.message == MESSAGE
    assert failure.severity == types.DiagnosticSeverity.Error
    assert failure.code == "run-failure"
    failed = ws.runs["failed"]
    (task,) = ws.task_ids(failed, "compute")
    related = failure.related_information or []
    assert f"Task RunsFlow/{failed}/compute/{task} failed" in related[0].message
    assert related[0].location.range.start.line == line_of(text, "def compute")
    assert "Traceback" not in related[1].message  # the tail: the last frames and the message
    assert 'raise ValueError(f"value must not be negative' in related[1].message
    assert related[1].message.endswith(MESSAGE)


async def test_lint_and_run_failures_are_published_together(
    session: Session, ws: RunsWorkspace
) -> None:
    uri = session.uri(FLOW_FILE)
    text = ws.flow_text
    # A lint error in `end` (a transition out of the end step) must not drop the run failure.
    broken = text.replace(
        "    def end(self):\n        pass", "    def end(self):\n        self.next(self.start)"
    )
    session.change(uri, broken)
    found = await session.diagnostics(
        uri, lambda d: any(x.source == "metaflow-lsp" for x in d) and bool(run_failures(d))
    )
    assert run_failures(found) and any(d.source == "metaflow-lsp" for d in found)
    # The raising line moves down when lines are added above: the diagnostic follows its text.
    session.change(uri, "# a comment\n# another\n" + text)
    found = await session.diagnostics(
        uri,
        lambda d: (
            not any(x.source == "metaflow-lsp" for x in d)
            and any(
                x.range.start.line == line_of(text, "raise ValueError") + 2 for x in run_failures(d)
            )
        ),
    )
    (failure,) = run_failures(found)
    assert failure.range.start.line == line_of(text, "raise ValueError") + 2
    session.change(uri, text)
