"""textDocument/codeLens: each step's last status above it, the latest run above the flow, and
the actions: `▶ Run flow` / `■ Stop` and `DAG` above the flow class, `▶ Run`, `⟳ Spin` and
`↻ Resume here` above each step (Spin and Resume once a past run exists).

Lenses come from providers, one function per kind of lens (`PROVIDERS`). The run-status lenses
never make the editor wait on the store: when a flow's run summary is not ready within
`LENS_WAIT`, its lenses are left out and the client is asked to refresh
(`workspace/codeLens/refresh`) once it is. The watcher's changes, and a run started or ended
from the editor, refresh the lenses the same way, when what they show changed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from lsprotocol import types

from ..flow.model import Flow
from ..runs import RunStore, RunStoreError
from .documents import Snapshot
from .edge import guarded_request
from .run_facts import (
    FlowRuns,
    StepRecord,
    ago,
    duration_text,
    mark,
    short_id,
    step_duration,
    step_status,
)
from .runs_service import RunsTimeout

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer

log = logging.getLogger(__name__)

LENS_WAIT = 3.0
# Status lenses are labels: an empty command id makes clients show the title without an action.
NO_COMMAND = ""
RUN, SPIN, RESUME, CANCEL, OPEN_VIEW = (
    "metaflow.run",
    "metaflow.spin",
    "metaflow.resume",
    "metaflow.cancel",
    "metaflow.openView",
)

LensProvider = Callable[["MetaflowLanguageServer", Snapshot], Awaitable[list[types.CodeLens]]]


def _lens(line: int, title: str) -> types.CodeLens:
    """A lens above the 1-based `line`."""
    position = types.Position(line - 1, 0)
    return types.CodeLens(types.Range(position, position), types.Command(title, NO_COMMAND))


def step_title(record: StepRecord) -> str:
    """`✓ 12 s · run …788865`, `✓ 3 tasks · 12 s · run …`, `✗ failed · run …`, `⟳ running`."""
    status = step_status(record)
    parts = [mark(status)]
    tasks = len(record.info.tasks)
    if status == "succeeded":
        if tasks > 1:
            parts.append(f"{tasks} tasks ·")
        parts.append(duration_text(step_duration(record.info)) or "succeeded")
    else:
        parts.append(status)
    parts.append(f"· run {short_id(record.run.run_id)}")
    return " ".join(parts)


def flow_title(summary: FlowRuns) -> str:
    """`✓ succeeded · 1 min 3 s · run 1795867788788865 · 2 h ago`."""
    run = summary.latest
    assert run is not None
    parts = [f"{mark(run.status)} {run.status}"]
    took = duration_text(run.duration)
    if took:
        parts.append(took)
    parts.append(f"run {run.run_id}")
    parts.append(ago(run.started_at))
    return " · ".join(parts)


async def _summary(
    server: MetaflowLanguageServer, snapshot: Snapshot, flow: Flow
) -> FlowRuns | None:
    """The flow's run summary if it is ready soon; else None and a refresh when it is."""
    task = asyncio.ensure_future(server.runs.flow_runs(snapshot.path, flow.name, list(flow.steps)))
    done, _ = await asyncio.wait({task}, timeout=LENS_WAIT)
    if not done:

        def ready(done: asyncio.Future[FlowRuns]) -> None:
            if not done.cancelled() and done.exception() is None:
                refresh(server)

        task.add_done_callback(ready)
        return None
    try:
        return task.result()
    except (RunsTimeout, RunStoreError) as error:
        log.info("no run lenses for %s: %s", flow.name, error)
        return None


async def run_status_lenses(
    server: MetaflowLanguageServer, snapshot: Snapshot
) -> list[types.CodeLens]:
    """The latest run above each flow class, the last status above each step."""
    lenses: list[types.CodeLens] = []
    for flow in snapshot.flow_file.flows:
        summary = await _summary(server, snapshot, flow)
        if summary is None or summary.latest is None:
            continue
        lenses.append(_lens(flow.range.start.line, flow_title(summary)))
        for step in flow.own_steps:
            record = summary.newest.get(step.name)
            if record is not None:
                lenses.append(_lens(step.range.start.line, step_title(record)))
    return lenses


def _action(line: int, title: str, command: str, argument: dict[str, object]) -> types.CodeLens:
    position = types.Position(line - 1, 0)
    return types.CodeLens(
        types.Range(position, position), types.Command(title, command, arguments=[argument])
    )


async def action_lenses(server: MetaflowLanguageServer, snapshot: Snapshot) -> list[types.CodeLens]:
    """Run / Stop and DAG above the flow the file runs; Run, Spin and Resume above its steps.

    Spin and Resume need a past run: they appear once the flow's run summary (computed for the
    status lenses) has one."""
    lenses: list[types.CodeLens] = []
    for flow in snapshot.flow_file.flows:
        argument: dict[str, object] = {"uri": snapshot.uri, "flow": flow.name}
        line = flow.range.start.line
        if snapshot.flow_file.main_flow != flow.name:
            lenses.append(_action(line, "DAG", OPEN_VIEW, argument))
            continue  # `python file.py` does not run this flow
        running = server.executions.running_ids(snapshot.path, flow.name)
        if running:
            stop = {**argument, "execution": running[-1]}
            lenses.append(_action(line, "■ Stop", CANCEL, stop))
        else:
            lenses.append(_action(line, "▶ Run flow", RUN, argument))
        lenses.append(_action(line, "DAG", OPEN_VIEW, argument))
        summary = server.runs.cached_flow_runs(snapshot.path, flow.name)
        past = summary is not None and summary.latest is not None
        for step in flow.own_steps:
            if step.source_file != snapshot.path:
                continue
            at = step.range.start.line
            lenses.append(_action(at, "▶ Run", RUN, argument))
            if past:
                for_step = {**argument, "step": step.name}
                lenses.append(_action(at, "⟳ Spin", SPIN, for_step))
                lenses.append(_action(at, "↻ Resume here", RESUME, for_step))
    return lenses


PROVIDERS: list[LensProvider] = [run_status_lenses, action_lenses]


def _shown(server: MetaflowLanguageServer, path: str, flow: str, summary: FlowRuns) -> object:
    """What the lenses of a flow depend on: its runs, and the editor's executions of it."""
    return (summary.fingerprint(), server.executions.running_ids(path, flow))


def refresh(server: MetaflowLanguageServer) -> None:
    """Ask the client to request the lenses again, if it supports that."""
    workspace = server.client_capabilities.workspace
    lens = workspace.code_lens if workspace is not None else None
    if server.runs.closed or lens is None or not lens.refresh_support:
        return

    def done(future: concurrent.futures.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.info("workspace/codeLens/refresh failed: %s", future.exception())

    server.workspace_code_lens_refresh(None).add_done_callback(done)


def register(server: MetaflowLanguageServer) -> None:
    """Register textDocument/codeLens and refresh the lenses when runs change."""
    shown: dict[tuple[str, str], object] = {}

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False))
    @guarded_request(server, types.TEXT_DOCUMENT_CODE_LENS, [])
    async def code_lens(params: types.CodeLensParams) -> list[types.CodeLens]:
        snapshot = await server.documents.snapshot(params.text_document.uri)
        if snapshot is None:
            return []
        lenses: list[types.CodeLens] = []
        for provider in PROVIDERS:
            lenses.extend(await provider(server, snapshot))
        for flow in snapshot.flow_file.flows:
            cached = server.runs.cached_flow_runs(snapshot.path, flow.name)
            if cached is not None:
                shown[(snapshot.path, flow.name)] = _shown(server, snapshot.path, flow.name, cached)
        return lenses

    async def runs_changed(store: RunStore, flows: set[str]) -> None:
        changed = False
        for snapshot in server.documents.snapshots():
            if server.runs.store_known(snapshot.path) is not store:
                continue
            for flow in snapshot.flow_file.flows:
                if flow.name not in flows:
                    continue
                summary = await server.runs.flow_runs(snapshot.path, flow.name, list(flow.steps))
                if shown.get((snapshot.path, flow.name)) != _shown(
                    server, snapshot.path, flow.name, summary
                ):
                    changed = True
        if changed:
            refresh(server)

    server.runs.add_listener(runs_changed)
