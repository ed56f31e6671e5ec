"""Hover, past runs: an artifact's last value, a step's last status, a pathspec string's run.

`hover.py` asks `hover_runs` for a section to append below what the code says. Artifact values
are previewed by the worker under the flow's interpreter; when it cannot load them, the hover
still shows what the artifact index says (type, size, sha) and why there is no value.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsprotocol import types

from ..flow.model import Flow, Range
from ..flow.queries import ArtifactAt, FlowAt, ParameterAt, StepAt, symbol_at
from ..runs import (
    ArtifactInfo,
    NotFoundError,
    RunInfo,
    RunStore,
    RunStoreError,
    StepInfo,
    TaskInfo,
    split_pathspec,
)
from ..worker import ArtifactWorker, PreviewLimits, PreviewReply
from .documents import Snapshot
from .edge import log_exception
from .run_facts import (
    MAX_RUNS,
    ArtifactHit,
    FlowRuns,
    StepRecord,
    ago,
    attempts_text,
    duration_text,
    find_artifact,
    mark,
    now,
    ordered_tasks,
    run_line,
    step_duration,
    step_status,
)
from .runs_service import RunsTimeout

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer

HOVER_TIMEOUT = 20.0  # the whole runs section, a cold worker start included
PREVIEW_TIMEOUT = 8.0
VALUE_LIMITS = PreviewLimits(max_items=10, max_chars=1200)
FOREACH_LIMITS = PreviewLimits(max_items=5, max_chars=160)
ARTIFACTS_LISTED = 30
SPINS_LOOKED_AT = 10  # persisted spins searched for an artifact's spin value

_STRING = re.compile(r"""(?P<q>['"])(?P<body>[^'"\\\n]*)(?P=q)""")
_PATHSPEC = re.compile(r"[A-Za-z_]\w*/[\w.:-]+(?:/[A-Za-z_]\w*(?:/[\w.:-]+)?)?")


def _code(text: object) -> str:
    value = str(text).replace("\n", " ")
    fence = "``" if "`" in value else "`"
    return f"{fence}{value}{fence}"


def _block(text: str) -> str:
    fence = "~~~~" if "```" in text else "```"
    return f"{fence}python\n{text}\n{fence}"


def _size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def _index_facts(artifact: ArtifactInfo) -> str:
    """What needs no unpickling: type, size and sha from the artifact index."""
    return f"{_code(artifact.type_name)} · {_size(artifact.size)} · sha {_code(artifact.sha[:12])}"


# --------------------------------------------------------------------------------------------
# Entry point


async def hover_runs(
    server: MetaflowLanguageServer, snapshot: Snapshot, line: int, column: int
) -> tuple[str, types.Range | None] | None:
    """Markdown about past runs for the position, and a range when it is a pathspec string."""
    try:
        return await asyncio.wait_for(_hover(server, snapshot, line, column), HOVER_TIMEOUT)
    except asyncio.TimeoutError:
        return f"_Past runs: no answer within {HOVER_TIMEOUT:g} s; hover again to retry._", None
    except (RunsTimeout, RunStoreError) as error:
        return f"_Past runs: {error}_", None
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log_exception(server, f"reading past runs for {snapshot.path}:{line}", error)
        return None


async def _hover(
    server: MetaflowLanguageServer, snapshot: Snapshot, line: int, column: int
) -> tuple[str, types.Range | None] | None:
    symbol = symbol_at(snapshot.flow_file, line, column)
    if isinstance(symbol, ArtifactAt):
        text = await artifact_section(
            server, snapshot.path, symbol.flow, symbol.step.name, symbol.ref.name
        )
        return (text, None) if text else None
    if isinstance(symbol, ParameterAt):
        step = symbol.flow.step_at(line, column)
        start = symbol.flow.graph.start_step if symbol.flow.graph else None
        name = step.name if step is not None else (start or "start")
        text = await artifact_section(
            server, snapshot.path, symbol.flow, name, symbol.parameter.attribute
        )
        return (text, None) if text else None
    if isinstance(symbol, StepAt) and symbol.is_definition:
        text = await step_section(server, snapshot.path, symbol.flow, symbol.name)
        return (text, None) if text else None
    if isinstance(symbol, FlowAt):
        text = await flow_section(server, snapshot.path, symbol.flow)
        return (text, None) if text else None
    if symbol is None:
        found = pathspec_at(snapshot.lines.line(line), column)
        if found is None:
            return None
        pathspec, start_col, end_col = found
        text = await pathspec_section(server, snapshot.path, pathspec)
        if text is None:
            return None
        return text, snapshot.lines.range(Range.of(line, start_col, line, end_col))
    return None


# --------------------------------------------------------------------------------------------
# Artifacts


async def artifact_section(
    server: MetaflowLanguageServer, path: str, flow: Flow, step: str, name: str
) -> str | None:
    """The artifact's value in `step`'s task(s) of the newest run that has it, and in the
    newest persisted spin of the step that has it (marked as a spin result)."""
    runs = server.runs
    store = await runs.store_for(path)
    hit = await runs.io(find_artifact, store, flow.name, step, name)
    spun = await runs.io(find_artifact, store, flow.name, step, name, SPINS_LOOKED_AT, True)
    if hit is None and spun is None:
        return None
    worker = await runs.worker_for(path)
    parts: list[str] = []
    if hit is not None:
        parts.append(f"**Last run** · {_code('self.' + name)} in {_code(step)}")
        parts.append(await _hit_values(worker, hit, os.path.dirname(path)))
        parts.append(f"_{run_line(hit.run)}_")
        note = runs.source_note(path, flow.name, step, hit.run)
        if note:
            parts.append(f"⚠ {note}")
    if spun is not None:
        parts.append(f"**Spin result** · {_code('self.' + name)} in {_code(step)}")
        parts.append(await _hit_values(worker, spun, os.path.dirname(path)))
        parts.append(f"_{run_line(spun.run, 'spin')}_")
    return "\n\n".join(parts)


async def _hit_values(worker: ArtifactWorker, hit: ArtifactHit, flow_dir: str) -> str:
    """The values of one hit, previewed by the worker."""
    blobs = [item.blob for item in hit.items]
    loadable = [b for b in blobs if b is not None]
    replies: list[PreviewReply | None] = [None] * len(blobs)
    if loadable:
        if hit.many:
            got = await worker.preview_many(
                loadable, limits=FOREACH_LIMITS, flow_dir=flow_dir, timeout=PREVIEW_TIMEOUT
            )
        else:
            got = [
                await worker.preview(
                    loadable[0], limits=VALUE_LIMITS, flow_dir=flow_dir, timeout=PREVIEW_TIMEOUT
                )
            ]
        it = iter(got)
        replies = [next(it, None) if b is not None else None for b in blobs]
    return _values(hit, replies, worker.interpreter.describe())


def _values(hit: ArtifactHit, replies: list[PreviewReply | None], interpreter: str) -> str:
    if not hit.many:
        item, reply = hit.items[0], replies[0]
        if reply is not None and reply.preview is not None:
            preview = reply.preview
            text = preview.get("repr") or preview.get("summary") or ""
            kind = preview.get("type") or item.artifact.type_name
            summary = preview.get("summary") or ""
            facts = _code(kind)
            if summary and summary not in (kind, kind.rsplit(".", 1)[-1]):
                facts += f" · {summary}"
            return f"{_block(text)}\n{facts}"
        return _no_value(item.artifact, item.problem, reply, interpreter)
    lines = [
        f"**{hit.task_count} task{'s' if hit.task_count != 1 else ''}** ran {_code(hit.step.step)}; "
        + ("the first values:" if hit.task_count > len(hit.items) else "their values:")
    ]
    for position, (item, reply) in enumerate(zip(hit.items, replies, strict=False)):
        index = item.task.foreach_index if item.task.foreach_index is not None else position
        if reply is not None and reply.preview is not None:
            value = _code(reply.preview.get("repr") or reply.preview.get("summary"))
        else:
            reason = (reply.error if reply is not None else None) or item.problem
            value = f"{_index_facts(item.artifact)} (not loaded: {reason or 'no value'})"
        lines.append(f"- `[{index}]` task {item.task.task_id}: {value}")
    return "\n".join(lines)


def _no_value(
    artifact: ArtifactInfo, problem: str | None, reply: PreviewReply | None, interpreter: str
) -> str:
    reason = problem or (reply.error if reply is not None else None) or "no preview"
    if reply is not None and reply.kind in ("no_interpreter", "start"):
        reason += f" (interpreter: {interpreter})"
    return f"{_index_facts(artifact)}\n\n_Value not shown: {reason}_"


# --------------------------------------------------------------------------------------------
# Steps and flows


def record_text(record: StepRecord, kind: str = "run") -> str:
    """`✓ succeeded in 1.2 s — run 1795… · 2 h ago · by tester`."""
    status = step_status(record)
    info = record.info
    if status == "running" and info.started_at is not None:
        how = f"running for {duration_text(now() - info.started_at)}"
    else:
        took = duration_text(step_duration(info))
        how = f"{status} in {took}" if took and status in ("succeeded", "failed") else status
    who = f" · by {record.run.user}" if record.run.user else ""
    return (
        f"{mark(status)} {how} — {kind} {_code(record.run.run_id)} · "
        f"{ago(record.run.started_at)}{who}"
    )


async def step_section(
    server: MetaflowLanguageServer, path: str, flow: Flow, step: str
) -> str | None:
    """The step's last status, duration, tasks and attempts, and its last spin."""
    summary = await server.runs.flow_runs(path, flow.name, list(flow.steps))
    record = summary.newest.get(step)
    spin = summary.spins.get(step)
    if record is None and spin is None:
        if summary.latest is None:
            return None
        return f"_{_code(step)} did not run in the last {MAX_RUNS} runs._"
    parts: list[str] = []
    if record is not None:
        parts.append(f"**Last run:** {record_text(record)}")
        facts = [f"- **Tasks:** {len(record.info.tasks)} · {attempts_text(record.info.tasks)}"]
        failure = summary.failures.get(step)
        if failure is not None and failure.run.run_id == record.run.run_id:
            facts.append(
                f"- **Failed:** {_code(failure.traceback.message.splitlines()[0])} "
                f"in {_code(failure.task.pathspec)}"
            )
        elif failure is not None:
            facts.append(
                f"- **Last failure:** {_code(failure.traceback.message.splitlines()[0])} "
                f"in run {_code(failure.run.run_id)}"
            )
        parts.append("\n".join(facts))
        note = server.runs.source_note(path, flow.name, step, record.run)
        if note:
            parts.append(f"⚠ {note}")
    if spin is not None:
        parts.append(f"**Spin:** {record_text(spin, 'spin')}")
    return "\n\n".join(parts)


async def flow_section(server: MetaflowLanguageServer, path: str, flow: Flow) -> str | None:
    """The flow's latest run."""
    summary: FlowRuns = await server.runs.flow_runs(path, flow.name, list(flow.steps))
    run = summary.latest
    if run is None:
        return None
    took = duration_text(run.duration)
    text = f"**Latest run:** {mark(run.status)} {_code(run.run_id)} · {run.status}"
    if took:
        text += f" in {took}"
    text += f" · {ago(run.started_at)}"
    if run.user:
        text += f" · by {run.user}"
    note = server.runs.source_note(path, flow.name, None, run)
    return text + (f"\n\n⚠ {note}" if note else "")


# --------------------------------------------------------------------------------------------
# Pathspec strings


def pathspec_at(text: str, column: int) -> tuple[str, int, int] | None:
    """The pathspec in the string literal at `column` of a line: (pathspec, start, end)."""
    for match in _STRING.finditer(text):
        if match.start() <= column < match.end():
            body = match["body"].strip()
            if _PATHSPEC.fullmatch(body):
                return body, match.start(), match.end()
            return None
    return None


@dataclass
class _Found:
    run: RunInfo
    steps: list[StepInfo]
    task: TaskInfo | None = None
    artifacts: list[ArtifactInfo] | None = None


def _lookup(store: RunStore, pathspec: str) -> _Found | None:
    """Runs in a thread: the run, its steps, and the task with its artifacts (depth 4)."""
    depth = pathspec.count("/") + 1
    parts = split_pathspec(pathspec, depth)
    try:
        run = store.get_run("/".join(parts[:2]))
    except NotFoundError:
        if parts[0] in store.flows():
            raise
        return None  # not a flow of this datastore: probably not a pathspec at all
    steps = store.steps(run.pathspec)
    if depth == 3 and not any(s.step == parts[2] for s in steps):
        raise NotFoundError(f"run {run.pathspec} has no step {parts[2]!r}")
    if depth < 4:
        return _Found(run, steps)
    task = store.get_task(pathspec)
    return _Found(run, steps, task, store.artifacts(pathspec))


async def pathspec_section(server: MetaflowLanguageServer, path: str, pathspec: str) -> str | None:
    """What a `Flow/run[/step[/task]]` string names."""
    store = await server.runs.store_for(path)
    try:
        found = await server.runs.io(_lookup, store, pathspec)
    except NotFoundError as error:
        return f"**{_code(pathspec)}** — not found: {error}"
    if found is None:
        return None
    run, steps = found.run, found.steps
    depth = pathspec.count("/") + 1
    lines: list[str] = []
    if depth == 2:
        took = duration_text(run.duration)
        lines.append(f"**Run** {_code(pathspec)} · {mark(run.status)} {run.status}")
        lines.append(
            f"Started {ago(run.started_at)}"
            + (f" · took {took}" if took else "")
            + (f" · by {run.user}" if run.user else "")
            + (f" · tags {', '.join(_code(t) for t in run.tags)}" if run.tags else "")
        )
        lines.append(
            "\n".join(
                f"- {mark(s.status)} {_code(s.step)} · {len(s.tasks)} "
                f"task{'s' if len(s.tasks) != 1 else ''}"
                + (f" · {duration_text(step_duration(s))}" if step_duration(s) else "")
                for s in steps
            )
        )
    elif depth == 3:
        info = next(s for s in steps if s.step == pathspec.split("/")[2])
        took = duration_text(step_duration(info))
        lines.append(f"**Step** {_code(pathspec)} · {mark(info.status)} {info.status}")
        lines.append(
            f"{len(info.tasks)} task{'s' if len(info.tasks) != 1 else ''}"
            + (f" · took {took}" if took else "")
            + f" · {attempts_text(info.tasks)}"
        )
        lines.append(
            "\n".join(
                f"- {mark(t.status)} task {_code(t.task_id)}"
                + (f" `[{t.foreach_index}]`" if t.foreach_index is not None else "")
                + (f" · {duration_text(t.duration)}" if t.duration else "")
                for t in ordered_tasks(info.tasks)[:20]
            )
        )
        lines.append(f"_{run_line(run)}_")
    else:
        task = found.task
        assert task is not None
        took = duration_text(task.duration)
        lines.append(f"**Task** {_code(pathspec)} · {mark(task.status)} {task.status}")
        facts = [f"Started {ago(task.started_at or task.created_at)}"]
        if took:
            facts.append(f"took {took}")
        facts.append(f"{len(task.attempts)} attempt{'s' if len(task.attempts) != 1 else ''}")
        if task.foreach_index is not None:
            facts.append(f"foreach index {task.foreach_index}")
        if task.cloned:
            facts.append(f"cloned from {_code(task.origin_pathspec)}")
        lines.append(" · ".join(facts))
        public = [a for a in found.artifacts or [] if not a.private]
        if public:
            listed = [
                f"- {_code(a.name)}: {_code(a.type_name)} · {_size(a.size)}"
                for a in public[:ARTIFACTS_LISTED]
            ]
            if len(public) > ARTIFACTS_LISTED:
                listed.append(f"- … and {len(public) - ARTIFACTS_LISTED} more")
            lines.append("**Artifacts**\n" + "\n".join(listed))
        else:
            lines.append("No artifacts.")
        lines.append(f"_{run_line(run)}_")
    return "\n\n".join(lines)
