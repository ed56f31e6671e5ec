"""Plain-text views of runs and tasks (the `runs` and `show` commands; hovers may reuse them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from .model import ArtifactInfo, CardInfo, LogChunk, RunInfo, StepInfo, TaskInfo

MAX_TASKS_PER_STEP = 20


def age(when: datetime | None, now: datetime | None = None) -> str:
    """How long ago: "just now", "42s ago", "5m ago", "3h ago", "2d ago"."""
    if when is None:
        return "-"
    seconds = ((now or datetime.now(timezone.utc)) - when).total_seconds()
    if seconds < 5:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def duration(span: timedelta | None) -> str:
    """A compact duration: "850ms", "12.3s", "4m05s", "2h03m"."""
    if span is None:
        return "-"
    seconds = span.total_seconds()
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def clock(when: datetime | None) -> str:
    """A UTC time, to the second."""
    return when.strftime("%Y-%m-%d %H:%M:%S") if when else "-"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return lines


def runs_table(runs: Sequence[RunInfo], now: datetime | None = None) -> list[str]:
    """One line per run: id, status, user, age, duration, tags."""
    rows = []
    for run in runs:
        span = run.duration
        if span is None and run.status == "running" and run.started_at:
            span = (now or datetime.now(timezone.utc)) - run.started_at
        origin = f" (resumes {run.origin_run_id})" if run.origin_run_id else ""
        rows.append(
            [
                run.run_id,
                run.status + ("!" if run.errors else ""),
                run.user or "-",
                age(run.started_at, now),
                duration(span),
                ", ".join(run.tags) + origin,
            ]
        )
    return table(["RUN", "STATUS", "USER", "STARTED", "DURATION", "TAGS"], rows)


def describe_run(run: RunInfo, steps: Sequence[StepInfo]) -> list[str]:
    """A run's header, then its steps and their tasks with status and timings."""
    lines = [
        f"{run.pathspec}  {run.status}  user {run.user or '-'}  source {run.source}",
        f"started {clock(run.started_at)} UTC  finished {clock(run.finished_at)}  "
        f"duration {duration(run.duration)}",
    ]
    if run.origin_run_id:
        lines.append(f"resumed from {run.flow}/{run.origin_run_id}")
    if run.tags:
        lines.append("tags: " + ", ".join(run.tags))
    lines.extend(f"error: {e}" for e in run.errors)
    for step in steps:
        lines.append("")
        lines.append(
            f"{step.step}  {step.status}  {len(step.tasks)} task(s)  "
            f"{duration(_span(step.started_at, step.finished_at))}"
        )
        rows = []
        for task in step.tasks[:MAX_TASKS_PER_STEP]:
            rows.append(_task_row(task))
        lines.extend(
            "  " + line
            for line in table(["TASK", "STATUS", "ATTEMPT", "FOREACH", "STARTED", "TIME"], rows)
        )
        if len(step.tasks) > MAX_TASKS_PER_STEP:
            lines.append(f"  ... {len(step.tasks) - MAX_TASKS_PER_STEP} more task(s)")
        lines.extend(f"  error: {e}" for e in step.errors)
    return lines


def _task_row(task: TaskInfo) -> list[str]:
    extra = f" (cloned from {task.origin_pathspec})" if task.cloned else ""
    foreach = "-" if task.foreach_index is None else str(task.foreach_index)
    return [
        task.task_id,
        task.status + extra,
        str(task.attempt),
        foreach,
        clock(task.created_at or task.started_at),
        duration(task.duration),
    ]


def _span(start: datetime | None, end: datetime | None) -> timedelta | None:
    return end - start if start and end else None


def describe_task(
    task: TaskInfo,
    artifacts: Sequence[ArtifactInfo] | str,
    cards: Sequence[CardInfo],
    logs: Sequence[LogChunk | str],
) -> list[str]:
    """A task's metadata, attempts, artifacts (or why they are missing), cards and log tails."""
    lines = [f"{task.pathspec}  {task.status}  attempt {task.attempt}  user {task.user or '-'}"]
    if task.foreach_index is not None:
        stack = " / ".join(task.foreach_stack)
        lines.append(f"foreach index {task.foreach_index}" + (f"  ({stack})" if stack else ""))
    if task.cloned:
        lines.append(f"cloned from {task.origin_pathspec} by resume")
    lines.extend(f"error: {e}" for e in task.errors)
    lines.append("")
    rows = [
        [
            str(a.attempt),
            a.status,
            clock(a.started_at),
            clock(a.ended_at or a.finished_at),
            duration(a.duration),
        ]
        for a in task.attempts
    ]
    lines.extend(table(["ATTEMPT", "STATUS", "STARTED", "ENDED", "TIME"], rows))
    lines.append("")
    if isinstance(artifacts, str):
        lines.append(f"artifacts: {artifacts}")
    else:
        public = [a for a in artifacts if not a.private]
        rows = [
            [a.name, a.type_name, str(a.size if a.size is not None else "-"), a.error or ""]
            for a in public
        ]
        lines.append(f"artifacts ({len(public)}, plus {len(artifacts) - len(public)} internal):")
        lines.extend("  " + line for line in table(["NAME", "TYPE", "SIZE", ""], rows))
    if cards:
        lines.append("")
        lines.append("cards:")
        lines.extend(f"  {c.type}{'-' + c.id if c.id else ''}  {c.path}" for c in cards)
    for chunk in logs:
        lines.append("")
        if isinstance(chunk, str):
            lines.append(chunk)
            continue
        origin = f", from {chunk.origin_pathspec}" if chunk.origin_pathspec else ""
        lines.append(
            f"{chunk.stream} (last {len(chunk.lines)} of {chunk.total_lines} lines{origin}):"
        )
        lines.extend(f"  {line.text}" for line in chunk.lines)
        if chunk.note:
            lines.append(f"  ({chunk.note})")
    return lines
