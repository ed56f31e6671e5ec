"""What Metaflow's output says about a run: its id, each task's start and end, and from those,
how many steps of the graph are done.

Metaflow's runtime prints one line per event, prefixed with the task:
`2026-11-28 12:57:03.628 [1795870622906280/train/2 (pid 29199)] Task is starting.`
A step is done when none of its tasks runs, at least as many tasks as its parents spawned have
finished (one per parent task, or what "Foreach yields N child steps." announced), and its
parents are done. Tasks cloned by `resume` count as finished.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..flow.model import FlowGraph

_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ ")
_TASK = re.compile(
    r"^\[(?P<run>[^/\]\s]+)/(?P<step>[A-Za-z_]\w*)/(?P<task>[^\s\]/]+)(?: \(pid \d+\))?\] ?"
)
_WORKFLOW = re.compile(r"Workflow starting \(run-id (?P<run>[^)\s]+)\)")
_YIELDS = re.compile(r"^Foreach yields (?P<n>\d+) child steps\.")

TAIL = 80  # output lines kept per task, to find a failed task's exception


@dataclass(frozen=True, slots=True)
class OutputLine:
    """One line a Metaflow process printed."""

    stream: str  # "stdout" or "stderr" of the Metaflow process
    text: str  # as printed, without the line break
    message: str  # without the time stamp and the task prefix
    run_id: str | None = None
    step: str | None = None
    task: str | None = None


def parse_line(stream: str, text: str) -> OutputLine:
    """Split a line into its task prefix (when it has one) and message."""
    rest = text
    stamp = _STAMP.match(rest)
    if stamp:
        rest = rest[stamp.end() :]
    task = _TASK.match(rest)
    if task:
        return OutputLine(stream, text, rest[task.end() :], task["run"], task["step"], task["task"])
    workflow = _WORKFLOW.search(rest)
    if workflow:
        return OutputLine(stream, text, rest, workflow["run"])
    return OutputLine(stream, text, rest)


@dataclass
class _Step:
    running: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    yields: int = 0  # children announced by this step's foreach tasks


class RunProgress:
    """Steps done out of the graph's steps, and what runs now, from output lines."""

    def __init__(self, graph: FlowGraph | None, steps: Iterable[str], only: str | None = None):
        """`only`: the one step a spin runs (the total is then 1)."""
        self.graph = graph
        if only is not None:
            names = [only]
        elif graph is not None and graph.sorted_nodes:
            names = list(graph.sorted_nodes)
        else:
            names = sorted(steps)
        self.names = names
        self.only = only
        self.run_id: str | None = None
        self.steps: dict[str, _Step] = {name: _Step() for name in names}
        self.order: list[str] = []  # steps in the order their first task started
        self.failed_task: tuple[str, str] | None = None  # (step, task) of the first failure
        self.tails: dict[tuple[str, str], deque[str]] = {}
        self.ended = False  # the run said Done!

    @property
    def total(self) -> int:
        """Steps the run will go through (the graph's reachable steps)."""
        return len(self.names)

    def feed(self, line: OutputLine) -> bool:
        """Account for one line; whether the progress shown changed."""
        if line.run_id and self.run_id is None:
            self.run_id = line.run_id
        if line.step is None or line.task is None:
            if line.message.startswith("Done!") and self.only is None:
                self.ended = True
                return True
            return False
        key = (line.step, line.task)
        tail = self.tails.get(key)
        if tail is None:
            tail = self.tails[key] = deque(maxlen=TAIL)
        tail.append(line.message)
        state = self.steps.get(line.step)
        if state is None:
            return False
        message = line.message
        if message.startswith("Task is starting"):
            if line.step not in self.order:
                self.order.append(line.step)
            state.running.add(line.task)
            state.failed.discard(line.task)  # a retry
            return True
        if message.startswith("Task finished successfully"):
            state.running.discard(line.task)
            state.finished.add(line.task)
            self.tails.pop(key, None)
            return True
        if message.startswith("Task failed"):
            state.running.discard(line.task)
            state.failed.add(line.task)
            if self.failed_task is None:
                self.failed_task = key
            return True
        if message.startswith("Cloning previously run task"):
            state.finished.add(line.task)
            self.tails.pop(key, None)
            return True
        found = _YIELDS.match(message)
        if found:
            state.yields += int(found["n"])
            return False
        return False

    def _parents(self, step: str) -> list[str]:
        if self.graph is None or self.only is not None:
            return []
        node = self.graph.nodes.get(step)
        return [p for p in (node.in_funcs if node else []) if p in self.steps]

    def _expected(self, step: str) -> int:
        """Tasks the step's parents spawned so far (at least one)."""
        if self.graph is None or self.only is not None:
            return 1
        node = self.graph.nodes.get(step)
        if node is None or node.type == "join":
            return 1
        count = 0
        for parent in self._parents(step):
            parent_node = self.graph.nodes.get(parent)
            state = self.steps[parent]
            count += (
                state.yields
                if parent_node and parent_node.type == "foreach"
                else len(state.finished)
            )
        return max(1, count)

    def done_steps(self) -> list[str]:
        """The steps whose every task has finished."""
        done: dict[str, bool] = {}

        def is_done(step: str, seen: frozenset[str] = frozenset()) -> bool:
            if step in done:
                return done[step]
            state = self.steps[step]
            ok = (
                not state.running
                and not state.failed
                and len(state.finished) >= self._expected(step)
                and all(is_done(p, seen | {step}) for p in self._parents(step) if p not in seen)
            )
            done[step] = ok
            return ok

        if self.ended:
            return list(self.names)
        return [name for name in self.names if is_done(name)]

    def current(self) -> list[str]:
        """The steps with a task running now, in the order they started."""
        return [s for s in self.order if self.steps[s].running]

    def message(self) -> str:
        """`3/6 steps · train (2 tasks running)` for a progress report."""
        done = len(self.done_steps())
        text = f"{done}/{self.total} step{'s' if self.total != 1 else ''}"
        running = self.current()
        if running:
            tasks = sum(len(self.steps[s].running) for s in running)
            text += " · " + ", ".join(running)
            if tasks > 1:
                text += f" ({tasks} tasks running)"
        return text

    def percentage(self) -> int:
        """Steps done out of the total, 0 to 100."""
        if not self.total:
            return 0
        return min(100, int(100 * len(self.done_steps()) / self.total))

    def failure(self) -> tuple[str, str, str] | None:
        """The first failed task: (step, task, the last line it printed that says why)."""
        if self.failed_task is None:
            return None
        step, task = self.failed_task
        lines = [t.strip() for t in self.tails.get(self.failed_task, ())]
        meaningful = [t for t in lines if t and not t.startswith("Task failed")]
        return step, task, meaningful[-1] if meaningful else "the task failed"
