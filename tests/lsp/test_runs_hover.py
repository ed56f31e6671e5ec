"""textDocument/hover with past runs: artifact values as Metaflow's Client loads them, a
foreach step's values, a step's last status, pathspec strings, and edits since the run."""

from __future__ import annotations

import ast
import sys
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from .helpers import Session, position_of
from .runs_helpers import (
    FLOW_FILE,
    RunsWorkspace,
    hover_text,
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


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def flow_uri(session: Session) -> str:
    uri = session.open(FLOW_FILE)
    await session.diagnostics(uri, lambda d: True)
    return uri


async def hover_at(session: Session, uri: str, text: str, needle: str, offset: int = 0) -> str:
    line, column = position_of(text, needle, offset=offset)
    return hover_text(await session.hover(uri, line, column))


async def test_artifact_hover_shows_the_value_the_client_api_loads(
    session: Session, ws: RunsWorkspace, flow_uri: str
) -> None:
    text = ws.flow_text
    failed = ws.runs["failed"]
    (join_task,) = ws.task_ids(failed, "join")
    expected = ws.client_value(f"RunsFlow/{failed}/join/{join_task}", "total")
    started = time.monotonic()
    shown = await hover_at(session, flow_uri, text, "self.total =", offset=6)
    cold = time.monotonic() - started
    assert f"```python\n{expected}\n```" in shown, shown
    assert f"run {failed}" in shown and "by tester" in shown and "failed" in shown
    # The static part is still there, above the run's.
    assert "First assigned here" in shown

    started = time.monotonic()
    again = await hover_at(session, flow_uri, text, "self.total =", offset=6)
    warm = time.monotonic() - started
    assert again == shown
    print(f"artifact hover: cold {cold * 1000:.0f} ms, warm {warm * 1000:.0f} ms")


async def test_the_latest_run_that_has_the_artifact_is_shown(
    session: Session, ws: RunsWorkspace, flow_uri: str
) -> None:
    # The failed run's compute task saved no `result`: the value is the successful run's.
    ok = ws.runs["ok"]
    (task,) = ws.task_ids(ok, "compute")
    expected = ws.client_value(f"RunsFlow/{ok}/compute/{task}", "result")
    shown = await hover_at(session, flow_uri, ws.flow_text, "self.result", offset=6)
    block = shown.split("```python\n", 1)[1].split("\n```", 1)[0]
    # The worker's bounded repr sorts a dict's keys: compare the values.
    assert ast.literal_eval(block) == ast.literal_eval(expected), shown
    assert f"run {ok}" in shown and "succeeded" in shown, shown


async def test_a_foreach_step_shows_its_task_count_and_first_values(
    session: Session, ws: RunsWorkspace, flow_uri: str
) -> None:
    failed = ws.runs["failed"]
    tasks = ws.task_ids(failed, "each")
    values = [ws.client_value(f"RunsFlow/{failed}/each/{t}", "doubled") for t in tasks]
    shown = await hover_at(session, flow_uri, ws.flow_text, "self.doubled", offset=6)
    assert "**3 tasks** ran `each`" in shown, shown
    for index, (task, value) in enumerate(zip(tasks, values, strict=True)):
        assert f"- `[{index}]` task {task}: `{value}`" in shown, shown


async def test_a_step_definition_shows_its_last_status(
    session: Session, ws: RunsWorkspace, flow_uri: str
) -> None:
    text = ws.flow_text
    compute = await hover_at(session, flow_uri, text, "def compute", offset=4)
    assert "**Last run:** ✗ failed" in compute, compute
    assert f"`{ws.runs['failed']}`" in compute
    assert "ValueError: value must not be negative, got -1" in compute
    each = await hover_at(session, flow_uri, text, "def each", offset=4)
    assert "**Last run:** ✓ succeeded in" in each, each
    assert "**Tasks:** 3 · 1 attempt each" in each


async def test_a_pathspec_string_is_hoverable(session: Session, ws: RunsWorkspace) -> None:
    ok = ws.runs["ok"]
    (task,) = ws.task_ids(ok, "join")
    source = (
        f'TASK = "RunsFlow/{ok}/join/{task}"\n'
        f'RUN = "RunsFlow/{ok}"\n'
        f'MISSING = "RunsFlow/{ok}/nosuchstep"\n'
        'OTHER = "data/train"\n'
    )
    uri = session.open("notes.py", source)
    task_hover = await session.hover(uri, 0, 12)
    shown = hover_text(task_hover)
    assert f"**Task** `RunsFlow/{ok}/join/{task}` · ✓ succeeded" in shown, shown
    assert "- `total`: `int`" in shown
    assert task_hover is not None and task_hover.range is not None
    assert task_hover.range.start.character == source.index('"')

    run = hover_text(await session.hover(uri, 1, 10))
    assert f"**Run** `RunsFlow/{ok}` · ✓ succeeded" in run, run
    assert "- ✓ `each` · 3 tasks" in run

    missing = hover_text(await session.hover(uri, 2, 14))
    assert "not found" in missing and "nosuchstep" in missing
    assert await session.hover(uri, 3, 12) is None  # not a flow with runs: no hover


async def test_an_edited_step_is_marked_as_changed_since_the_run(
    session: Session, ws: RunsWorkspace, flow_uri: str
) -> None:
    text = ws.flow_text
    before = await hover_at(session, flow_uri, text, "def join", offset=4)
    assert "edited after this run" not in before
    edited = text.replace("sum(i.doubled for i in inputs)", "sum(i.doubled for i in inputs) + 1")
    session.change(flow_uri, edited)
    await session.diagnostics(flow_uri, lambda d: True)
    after = await hover_at(session, flow_uri, edited, "def join", offset=4)
    assert "⚠ `join` was edited after this run" in after, after
    value = await hover_at(session, flow_uri, edited, "self.total =", offset=6)
    assert "⚠ `join` was edited after this run" in value
    other = await hover_at(session, flow_uri, edited, "def each", offset=4)
    assert "edited after this run" not in other
    session.change(flow_uri, text)
