"""How a run is doing, decided from what its files say (pure functions), and which runs have a
live process on this machine (the one side effect, at the bottom).

The rule, in order:

1. **failed**: some task's latest attempt ended not ok (Metaflow's `attempt_ok` metadata, else
   the runtime's `<attempt>.runtime` record). Between a failed attempt and its `@retry` the run
   reads "failed" until the next attempt starts (Metaflow records nothing about a pending retry).
2. **succeeded**: the end step's task finished ok (Metaflow's `Run.successful`). A spin result
   has no end step: it succeeded when every task finished ok.
3. Otherwise something is in flight (a task started and did not end, or the next task was not
   created yet). **running** when a process on this machine carries the run's `--run-id` (each
   task of a local run is a `python flow.py ... step <name> --run-id <id>` process) or when the
   run wrote a file less than `quiet_grace` seconds ago (the gaps between tasks, the wait before a
   retry, a run on another machine); **stale** otherwise: killed (`kill -9`, a closed terminal),
   crashed, or its machine is gone. Metaflow never marks such a run in its files.

Local tasks write their logs only when they end, so a long task writes nothing while it runs:
the process check is what keeps it "running". Where processes can't be listed, the run stays
"running" (never guessed stale).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .model import RunStatus, TaskStatus

QUIET_GRACE_S = 150.0  # longer than @retry's default wait (2 minutes)


@dataclass(frozen=True, slots=True)
class TaskState:
    """What the status rule needs from one task, cheap to read."""

    step: str
    task_id: str
    latest_attempt: int | None  # None: registered, no attempt started yet
    ok: bool | None  # of the latest attempt; None while running or unrecorded
    done: bool  # the latest attempt wrote its DONE marker or a runtime record
    finished_ms: float | None  # end of the latest attempt (ms since the epoch) when known
    last_write: float  # newest mtime (seconds) among the task's files and directories


def task_status(state: TaskState) -> TaskStatus:
    """pending / running / succeeded / failed / unknown for one task's latest attempt."""
    if state.latest_attempt is None:
        return "pending"
    if state.ok is True:
        return "succeeded"
    if state.ok is False:
        return "failed"
    return "unknown" if state.done else "running"


def run_status(
    tasks: Iterable[TaskState],
    end_step: str,
    *,
    spin: bool = False,
    alive: Callable[[], bool | None],
    last_activity: float | None,
    now: float,
    quiet_grace: float = QUIET_GRACE_S,
) -> RunStatus:
    """The status of a run from its tasks' states (the module docstring gives the rule).

    `alive()`: whether a process of the run exists (None: processes can't be listed here);
    called only when the files leave the run in flight.
    """
    states = list(tasks)
    statuses = [task_status(t) for t in states]
    if "failed" in statuses:
        return "failed"
    if spin:
        if states and all(s in ("succeeded", "unknown") for s in statuses):
            return "succeeded"
    elif any(
        t.step == end_step and s in ("succeeded", "unknown")
        for t, s in zip(states, statuses, strict=True)
    ):
        return "succeeded"
    live = alive()
    if live or live is None:
        return "running"
    if last_activity is not None and now - last_activity < quiet_grace:
        return "running"
    return "stale"


def step_status(statuses: Iterable[TaskStatus]) -> TaskStatus:
    """A step's status from its tasks': failed > running > pending > succeeded."""
    seen = set(statuses)
    order: tuple[TaskStatus, ...] = ("failed", "running", "pending", "unknown")
    for status in order:
        if status in seen:
            return status
    return "succeeded" if seen else "pending"


def run_ids_in_command_lines(command_lines: Iterable[list[str]]) -> set[str]:
    """The values of `--run-id` in the given argument lists."""
    found: set[str] = set()
    for args in command_lines:
        for i, arg in enumerate(args):
            if arg == "--run-id" and i + 1 < len(args):
                found.add(args[i + 1])
            elif arg.startswith("--run-id="):
                found.add(arg.split("=", 1)[1])
    return found


class ProcessTable:
    """The run ids of the Metaflow task processes on this machine, re-read at most every second."""

    def __init__(self, ttl: float = 1.0) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._at = 0.0
        self._ids: set[str] | None = None

    def live_run_ids(self) -> set[str] | None:
        """Run ids with a live process, or None when processes can't be listed."""
        with self._lock:
            now = time.monotonic()
            if now - self._at > self._ttl:
                self._ids = _scan_processes()
                self._at = now
            return self._ids

    def is_alive(self, run_id: str) -> bool | None:
        """Whether a process of `run_id` runs here (None: unknown)."""
        ids = self.live_run_ids()
        return None if ids is None else run_id in ids


def _scan_processes() -> set[str] | None:
    if os.path.isdir("/proc/self"):
        lines: list[list[str]] = []
        try:
            pids = [p for p in os.listdir("/proc") if p.isdigit()]
        except OSError:
            return None
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    raw = f.read()
            except OSError:
                continue  # the process ended, or is not ours to read
            if b"--run-id" in raw:
                lines.append([a.decode("utf-8", "replace") for a in raw.split(b"\0")])
        return run_ids_in_command_lines(lines)
    try:  # macOS and other systems without /proc
        out = subprocess.run(
            ["ps", "-A", "-o", "args="], capture_output=True, text=True, timeout=5, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return run_ids_in_command_lines(line.split() for line in out.splitlines())
