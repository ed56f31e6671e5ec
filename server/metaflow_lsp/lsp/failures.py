"""Run failures as diagnostics: the exception of each step's last failed task, on the line
that raised it.

For each step of an open flow whose newest finished task failed, the exception message from
the task's stderr is placed on the last line of this flow file in the traceback (where the
line's text moved since the run, on the line that now holds it; without one, on the step's
`def`). A later run in which the step succeeds clears it. `diagnostics.publish` merges these
with the lint diagnostics from the cached run summaries, without waiting; when a summary
arrives or the watcher changes one, the document is published again if its failures changed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from lsprotocol import types

from ..flow.model import Range, Step
from ..runs import RunStore
from .documents import Snapshot
from .edge import log_exception
from .run_facts import Failure, ago, frames_in

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer

SOURCE = "metaflow"
CODE = "run-failure"


class FailureState:
    """What each document was last published with, and the updates in flight."""

    def __init__(self) -> None:
        self.published: dict[str, tuple[object, ...]] = {}
        self.updating: set[str] = set()
        self.again: set[str] = set()  # runs changed while an update was in flight


def failure_line(snapshot: Snapshot, step: Step, failure: Failure) -> int:
    """The 1-based line of this file that raised: the traceback's last frame here."""
    frames = frames_in(failure.traceback.frames, snapshot.path)
    if not frames:
        return step.def_line
    frame = frames[-1]
    if not frame.source or snapshot.lines.line(frame.line).strip() == frame.source:
        return frame.line
    # The file changed since the run: the nearest line with the same text, if any.
    candidates = [
        n
        for n in range(1, snapshot.text.count("\n") + 2)
        if snapshot.lines.line(n).strip() == frame.source
    ]
    if candidates:
        return min(candidates, key=lambda n: abs(n - frame.line))
    return step.def_line


def _line_range(snapshot: Snapshot, line: int) -> types.Range:
    text = snapshot.lines.line(line)
    start = len(text) - len(text.lstrip())
    end = max(start, len(text.rstrip()))
    return snapshot.lines.range(Range.of(line, start, line, end))


def to_lsp(snapshot: Snapshot, step: Step, failure: Failure) -> types.Diagnostic:
    """One failure as an LSP diagnostic with the task and the traceback's tail related."""
    where = _line_range(snapshot, failure_line(snapshot, step, failure))
    task, run = failure.task, failure.run
    attempt = f" (attempt {task.attempt + 1} of {len(task.attempts)})" if task.attempt else ""
    related = [
        types.DiagnosticRelatedInformation(
            types.Location(snapshot.uri, _line_range(snapshot, step.def_line)),
            f"Task {task.pathspec} failed{attempt} in run {run.run_id}, {ago(run.started_at)}",
        )
    ]
    if failure.traceback.tail:
        related.append(
            types.DiagnosticRelatedInformation(
                types.Location(snapshot.uri, where), "\n".join(failure.traceback.tail)
            )
        )
    return types.Diagnostic(
        range=where,
        message=failure.traceback.message,
        severity=types.DiagnosticSeverity.Error,
        code=CODE,
        source=SOURCE,
        related_information=related,
        data={"pathspec": task.pathspec, "run": run.pathspec},
    )


def current(server: MetaflowLanguageServer, snapshot: Snapshot) -> list[types.Diagnostic]:
    """The run-failure diagnostics of a document from the cached summaries (no I/O).

    Flows whose summary is not cached yet are computed in the background; the document is
    published again when that changes its failures.
    """
    state: FailureState = server.failure_state
    out: list[types.Diagnostic] = []
    shown: list[object] = []
    missing = False
    for flow in snapshot.flow_file.flows:
        summary = server.runs.cached_flow_runs(snapshot.path, flow.name)
        if summary is None:
            missing = True
            continue
        for step in flow.own_steps:
            failure = summary.failures.get(step.name)
            if failure is not None and step.source_file == snapshot.path:
                out.append(to_lsp(snapshot, step, failure))
                shown.append((flow.name, step.name, failure.task.pathspec))
    state.published[snapshot.uri] = tuple(shown)
    if missing and not server.runs.closed:
        schedule(server, snapshot.uri)
    return out


def _expected(server: MetaflowLanguageServer, snapshot: Snapshot) -> tuple[object, ...] | None:
    shown: list[object] = []
    for flow in snapshot.flow_file.flows:
        summary = server.runs.cached_flow_runs(snapshot.path, flow.name)
        if summary is None:
            return None
        for step in flow.own_steps:
            failure = summary.failures.get(step.name)
            if failure is not None and step.source_file == snapshot.path:
                shown.append((flow.name, step.name, failure.task.pathspec))
    return tuple(shown)


def schedule(server: MetaflowLanguageServer, uri: str) -> None:
    """Compute the document's run summaries, then publish again if its failures changed."""
    state: FailureState = server.failure_state
    if uri in state.updating:
        state.again.add(uri)
        return
    state.updating.add(uri)
    task = asyncio.ensure_future(_updates(server, uri))
    task.add_done_callback(lambda _: state.updating.discard(uri))


async def _updates(server: MetaflowLanguageServer, uri: str) -> None:
    state: FailureState = server.failure_state
    while True:
        state.again.discard(uri)
        await _update(server, uri)
        if uri not in state.again or server.runs.closed:
            return


async def _update(server: MetaflowLanguageServer, uri: str) -> None:
    from .diagnostics import publish

    snapshot = await server.documents.snapshot(uri)
    if snapshot is None:
        return
    try:
        for flow in snapshot.flow_file.flows:
            await server.runs.flow_runs(snapshot.path, flow.name, list(flow.steps))
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log_exception(server, f"reading the runs of {snapshot.path}", error)
        return
    latest = await server.documents.snapshot(uri)
    if latest is None:
        return
    state: FailureState = server.failure_state
    if _expected(server, latest) != state.published.get(uri):
        await publish(server, latest)


def register(server: MetaflowLanguageServer) -> None:
    """Publish again the documents whose flows' runs changed."""

    async def runs_changed(store: RunStore, flows: set[str]) -> None:
        for snapshot in server.documents.snapshots():
            if server.runs.store_known(snapshot.path) is not store:
                continue
            if any(f.name in flows for f in snapshot.flow_file.flows):
                schedule(server, snapshot.uri)

    server.runs.add_listener(runs_changed)


def forget(server: MetaflowLanguageServer, uri: str) -> None:
    """A document was closed."""
    server.failure_state.published.pop(uri, None)
