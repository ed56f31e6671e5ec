"""Which past run a spin or a resume starts from, read from the run store.

Spin re-executes one task of a past run with its parents' outputs, so it needs a run in which
the step has a task (its parents finished there): by default the newest such run. Resume needs
an origin run: by default the newest failed run, else the newest finished one. Every function
blocks on the store: call them in a thread.
"""

from __future__ import annotations

from ..runs import NotFoundError, RunInfo, RunStore, RunStoreError, TaskInfo

MAX_RUNS = 50  # runs searched for a task of the step


class TargetError(Exception):
    """No past run fits; the message says what to do."""


def _ordered(tasks: tuple[TaskInfo, ...]) -> list[TaskInfo]:
    def key(task: TaskInfo) -> tuple[int, int, str]:
        index = task.foreach_index if task.foreach_index is not None else -1
        return (index, int(task.task_id) if task.task_id.isdigit() else 0, task.task_id)

    return sorted(tasks, key=key)


def _pick(tasks: list[TaskInfo], foreach_index: int | None, where: str) -> TaskInfo:
    if foreach_index is None:
        finished = [t for t in tasks if t.status == "succeeded"]
        return (finished or tasks)[0]
    for task in tasks:
        if task.foreach_index == foreach_index:
            return task
    indices = ", ".join(str(t.foreach_index) for t in tasks if t.foreach_index is not None)
    raise TargetError(f"{where} has no task with foreach index {foreach_index} (it has: {indices})")


def spin_task(
    store: RunStore,
    flow: str,
    step: str,
    *,
    run_id: str | None = None,
    task_id: str | None = None,
    foreach_index: int | None = None,
    max_runs: int = MAX_RUNS,
) -> TaskInfo:
    """The task to spin: `Flow/run_id/step/task_id` when given, else the step's task in `run_id`,
    else in the newest run that has one (a foreach step: the first succeeded task, or the one at
    `foreach_index`)."""
    if run_id and task_id:
        pathspec = f"{flow}/{run_id}/{step}/{task_id}"
        try:
            return store.get_task(pathspec)
        except NotFoundError:
            raise TargetError(
                f"there is no task {pathspec}: pick a task of {step} from a past run"
            ) from None
    if run_id:
        try:
            steps = store.steps(f"{flow}/{run_id}")
        except NotFoundError:
            raise TargetError(
                f"there is no run {flow}/{run_id}: pick one of the flow's runs"
            ) from None
        info = next((s for s in steps if s.step == step and s.tasks), None)
        if info is None:
            ran = ", ".join(s.step for s in steps if s.tasks) or "no step"
            raise TargetError(
                f"step {step} did not run in {flow}/{run_id} (it ran {ran}): spin it from a run "
                f"that reached {step}, or ↻ Resume that run from {step}"
            )
        return _pick(_ordered(info.tasks), foreach_index, info.pathspec)
    try:
        runs, _ = store.list_runs(flow, limit=max_runs)
    except NotFoundError:
        runs = []
    for run in runs:
        try:
            steps = store.steps(run.pathspec)
        except RunStoreError:
            continue
        info = next((s for s in steps if s.step == step and s.tasks), None)
        if info is not None:
            return _pick(_ordered(info.tasks), foreach_index, info.pathspec)
    if not runs:
        raise TargetError(
            f"{flow} has no past run to spin {step} from: ▶ Run the flow once, then spin the step"
        )
    raise TargetError(
        f"step {step} has no task in the last {len(runs)} runs of {flow} (its parents never "
        f"finished there, or the step is new): ▶ Run the flow, or ↻ Resume a run from {step}, "
        "then spin it"
    )


def resume_origin(store: RunStore, flow: str, run_id: str | None = None) -> RunInfo:
    """The run to resume: `run_id`, else the newest failed run, else the newest finished run."""
    if run_id:
        try:
            return store.get_run(f"{flow}/{run_id}")
        except NotFoundError:
            raise TargetError(f"there is no run {flow}/{run_id} to resume") from None
    try:
        failed = store.latest_run(flow, status="failed")
    except NotFoundError:
        failed = None
    if failed is not None:
        return failed
    try:
        runs, _ = store.list_runs(flow, limit=MAX_RUNS)
    except NotFoundError:
        runs = []
    finished = [r for r in runs if r.status not in ("running", "unknown")]
    if finished or runs:
        return (finished or runs)[0]
    raise TargetError(f"{flow} has no past run to resume: ▶ Run the flow first")
