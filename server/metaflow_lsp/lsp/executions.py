"""Runs, spins and resumes started from the editor, while they run and when they end.

Each command becomes an `Execution`: its process group (`execute.FlowProcess`), its lane (what
happens when the same flow is already running, `execute.lanes`), `$/progress` work-done progress
with steps done / total and the current step (cancellable: cancel stops the whole group), one
`metaflow/output` notification per line, and when it ends a `metaflow/finished` notification,
the run store read again at once (lenses, hovers and run-failure diagnostics follow), and a
message naming the run's pathspec and its status. `shutdown` stops every group.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from ..execute import (
    Command,
    FlowLanes,
    FlowProcess,
    IfBusy,
    LaunchError,
    ProcessEnd,
    RunProgress,
    parse_line,
    stop_all_now,
)
from ..execute.process import close_guard
from .convert import path_to_uri
from .edge import log_exception

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer

log = logging.getLogger(__name__)

OUTPUT = "metaflow/output"
FINISHED = "metaflow/finished"
REPORT_INTERVAL = 0.1  # at most this often a $/progress report per execution
REFRESH_TIMEOUT = 10.0
ASK_TIMEOUT = 600.0
SHUTDOWN_GRACE = 2.0

QUEUE, REPLACE, PARALLEL = "Queue it", "Stop it and start", "Run both"


@dataclass(eq=False)
class Execution:
    """One command started (or queued) from the editor."""

    id: str
    command: Command
    uri: str
    progress: RunProgress
    notes: list[str] = field(default_factory=list)
    state: str = "queued"  # queued, running, succeeded, failed, cancelled, error
    process: FlowProcess | None = None
    token: str | None = None
    cancel_requested: bool = False
    finished: asyncio.Future[dict[str, Any]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    last_report: float = 0.0
    report_pending: bool = False

    @property
    def key(self) -> tuple[str, str]:
        """The lane: the flow file and the flow."""
        return (self.command.flow_file, self.command.flow)

    def title(self) -> str:
        """`Run TrainFlow`, `Spin TrainFlow.train`, `Resume TrainFlow from train`."""
        command = self.command
        if command.kind == "spin":
            return f"Spin {command.flow}.{command.step}"
        if command.kind == "resume":
            return f"Resume {command.flow}" + (f" from {command.step}" if command.step else "")
        return f"Run {command.flow}"

    def describe(self) -> dict[str, Any]:
        """What the command's answer says about it."""
        command = self.command
        return {
            "execution": self.id,
            "kind": command.kind,
            "flow": command.flow,
            "uri": self.uri,
            "status": self.state,
            "command": command.display(),
            "argv": list(command.argv),
            "cwd": command.cwd,
            "step": command.step,
            "source": command.source,
            "pid": self.process.pid if self.process is not None else None,
            "notes": list(self.notes),
        }


class ExecutionService:
    """The executions of one language server."""

    def __init__(self, server: MetaflowLanguageServer) -> None:
        self._server = server
        self._executions: dict[str, Execution] = {}
        self._lanes = FlowLanes()
        self._ids = itertools.count(1)
        self._files = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tmp: str | None = None
        self.closed = False

    # -- queries

    def get(self, execution: str) -> Execution | None:
        """An execution by id."""
        return self._executions.get(execution)

    def active(self) -> list[Execution]:
        """Executions running or queued, oldest first."""
        return [e for e in self._executions.values() if e.state in ("queued", "running")]

    def running_ids(self, path: str, flow: str) -> tuple[str, ...]:
        """The executions of `flow` (defined in the file at `path`) running or queued."""
        key = (os.path.abspath(path), flow)
        return tuple(e.id for e in self.active() if e.key == key)

    def run_id_file(self) -> str:
        """A fresh path for Metaflow's `--run-id-file`."""
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="metaflow-lsp-")
        return os.path.join(self._tmp, f"run-id-{next(self._files)}")

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- starting

    async def submit(
        self,
        command: Command,
        uri: str,
        progress: RunProgress,
        if_busy: IfBusy,
        wait: bool,
        notes: list[str],
    ) -> dict[str, Any]:
        """Start `command` (or queue it behind the same flow's executions); its description,
        or with `wait` its outcome. LaunchError when the process cannot start."""
        key = (command.flow_file, command.flow)
        ahead = [self._executions[i] for i in self._lanes.busy(key) if i in self._executions]
        policy: str | None = if_busy
        if ahead and policy == "ask":
            policy = await self._ask(command, ahead)
        execution = Execution(f"{command.kind}-{next(self._ids)}", command, uri, progress, notes)
        if ahead and policy in ("refuse", None):
            execution.state = "declined"
            busy = ", ".join(f"{e.id} ({e.state})" for e in ahead)
            return execution.describe() | {
                "message": f"{command.flow} is busy ({busy}); nothing was started"
            }
        self._executions[execution.id] = execution
        if ahead and policy == "replace":
            await self.cancel([e.id for e in ahead])
        self._lanes.join(key, execution.id)
        if ahead and policy == "queue":
            self._spawn(self._queued(execution))
        else:
            try:
                await self._start(execution)
            except LaunchError:
                self._lanes.leave(key, execution.id)
                self._executions.pop(execution.id, None)
                raise
        if wait:
            return await asyncio.shield(execution.finished)
        return execution.describe()

    async def _ask(self, command: Command, ahead: list[Execution]) -> str | None:
        """Ask the user what to do with a second command for a busy flow (queue when the client
        cannot ask)."""
        window = self._server.client_capabilities.window
        if window is None or window.show_message is None:
            return "queue"
        running = ahead[0]
        message = (
            f"{running.title()} is {running.state} ({running.progress.message()}). "
            f"What about this {command.kind} of {command.flow}?"
        )
        params = types.ShowMessageRequestParams(
            types.MessageType.Info,
            message,
            [types.MessageActionItem(t) for t in (QUEUE, REPLACE, PARALLEL)],
        )
        try:
            answer = await asyncio.wait_for(
                self._server.window_show_message_request_async(params), ASK_TIMEOUT
            )
        except asyncio.TimeoutError:
            return None
        except Exception as error:  # a client that cannot show it
            log.info("window/showMessageRequest failed (%s): queueing", error)
            return "queue"
        title = getattr(answer, "title", None)
        return {QUEUE: "queue", REPLACE: "replace", PARALLEL: "parallel"}.get(title or "")

    async def _queued(self, execution: Execution) -> None:
        try:
            await self._lanes.turn(execution.key, execution.id)
            if execution.state != "queued":
                return  # cancelled while waiting
            await self._start(execution)
        except LaunchError as error:
            self._finish(execution, self._error_result(execution, str(error)))
            self._message(types.MessageType.Error, str(error))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log_exception(self._server, f"starting {execution.title()}", error)
            self._finish(execution, self._error_result(execution, f"could not start: {error}"))

    async def _start(self, execution: Execution) -> None:
        command = execution.command
        process = FlowProcess(
            command.argv,
            command.cwd,
            command.env,
            lambda stream, text: self._output(execution, stream, text),
        )
        await process.start()
        execution.process = process
        execution.state = "running"
        log.info("%s: started %s (pid %s)", execution.id, command.display(), process.pid)
        self._spawn(self._begin_progress(execution))
        self._spawn(self._follow(execution))
        self._refresh_lenses()

    # -- while it runs

    def _output(self, execution: Execution, stream: str, text: str) -> None:
        line = parse_line(stream, text)
        changed = execution.progress.feed(line)
        if self.closed:
            return
        self._notify(
            OUTPUT,
            {
                "execution": execution.id,
                "flow": execution.command.flow,
                "kind": execution.command.kind,
                "run_id": line.run_id or execution.progress.run_id,
                "step": line.step,
                "task": line.task,
                "stream": stream,
                "text": text,
            },
        )
        if changed:
            self._report(execution)

    def _report(self, execution: Execution) -> None:
        """A $/progress report, at most every REPORT_INTERVAL (the last one always sent)."""
        if execution.token is None or execution.state != "running":
            return
        now = time.monotonic()
        wait = execution.last_report + REPORT_INTERVAL - now
        if wait > 0:
            if not execution.report_pending:
                execution.report_pending = True
                asyncio.get_running_loop().call_later(wait, self._report_later, execution)
            return
        execution.last_report = now
        progress = execution.progress
        with contextlib.suppress(Exception):
            self._server.work_done_progress.report(
                execution.token,
                types.WorkDoneProgressReport(
                    message=progress.message(),
                    percentage=progress.percentage(),
                    cancellable=True,
                ),
            )

    def _report_later(self, execution: Execution) -> None:
        execution.report_pending = False
        self._report(execution)

    async def _begin_progress(self, execution: Execution) -> None:
        window = self._server.client_capabilities.window
        if window is None or not window.work_done_progress or self.closed:
            return
        token = f"metaflow-lsp/{execution.id}"
        progress = self._server.work_done_progress
        try:
            await progress.create_async(token)
        except Exception as error:
            log.info("window/workDoneProgress/create failed: %s", error)
            return
        if execution.state != "running":
            progress.tokens.pop(token, None)
            return
        execution.token = token
        progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=execution.title(),
                cancellable=True,
                message=execution.progress.message(),
                percentage=execution.progress.percentage(),
            ),
        )
        cancelled = progress.tokens.get(token)
        if cancelled is not None:

            def on_cancel(future: concurrent.futures.Future[Any]) -> None:
                if future.cancelled() and execution.state == "running":
                    self._spawn(self.cancel([execution.id]))

            cancelled.add_done_callback(on_cancel)

    # -- ending

    async def _follow(self, execution: Execution) -> None:
        process = execution.process
        assert process is not None
        try:
            end = await process.wait()
            result = await self._outcome(execution, end)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log_exception(self._server, f"following {execution.title()}", error)
            result = self._error_result(execution, f"lost track of the process: {error}")
        self._finish(execution, result)
        if self.closed:
            if not execution.finished.done():
                execution.finished.set_result(result)
            return
        try:
            await asyncio.wait_for(
                self._server.runs.refresh_now(
                    execution.command.flow_file, [execution.command.flow]
                ),
                REFRESH_TIMEOUT,
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.info("refreshing the runs of %s failed: %s", execution.command.flow, error)
        if execution.command.kind == "spin" and result["status"] == "succeeded":
            result["cards"] = await self._cards(execution, result.get("pathspec"))
        self._notify(FINISHED, result)
        self._final_message(result)
        if not execution.finished.done():
            execution.finished.set_result(result)

    def _finish(self, execution: Execution, result: dict[str, Any]) -> None:
        """The execution ended: its lane moves on, its progress ends, lenses follow."""
        execution.state = result["status"]
        self._lanes.leave(execution.key, execution.id)
        token, execution.token = execution.token, None
        if token is not None:
            progress = self._server.work_done_progress
            progress.tokens.pop(token, None)
            with contextlib.suppress(Exception):
                progress.end(token, types.WorkDoneProgressEnd(message=result["message"]))
        if execution.process is None:  # never started: nothing else will report it
            if not self.closed:
                self._notify(FINISHED, result)
                self._refresh_lenses()
            if not execution.finished.done():
                execution.finished.set_result(result)
        command = execution.command
        if command.run_id_file:
            with contextlib.suppress(OSError):
                os.unlink(command.run_id_file)

    def _error_result(self, execution: Execution, message: str) -> dict[str, Any]:
        return execution.describe() | {
            "status": "error",
            "message": f"{execution.title()}: {message}",
            "run_id": None,
            "pathspec": None,
            "returncode": None,
        }

    async def _outcome(self, execution: Execution, end: ProcessEnd) -> dict[str, Any]:
        command, progress = execution.command, execution.progress
        run_id = progress.run_id or await asyncio.to_thread(_read_run_id, command.run_id_file)
        pathspec = f"{command.flow}/{run_id}" if run_id else None
        if pathspec and command.kind == "spin" and command.step:
            state = progress.steps.get(command.step)
            tasks = sorted(state.finished | state.failed | state.running) if state else []
            pathspec += f"/{command.step}" + (f"/{tasks[0]}" if tasks else "")
        took = f"{end.ended_at - end.started_at:.1f} s"
        done = f"{len(progress.done_steps())}/{progress.total} steps"
        what = pathspec or f"{command.flow} ({command.kind})"
        if end.stopped or execution.cancel_requested:
            status, message = "cancelled", f"{what} cancelled after {took} ({done} done)"
        elif end.returncode == 0:
            status = "succeeded"
            message = f"{what} succeeded in {took}"
            if command.kind == "spin" and command.source:
                message += f" (spun from {command.source})"
        elif end.signal_name:
            status = "error"
            message = (
                f"{what}: `{command.display()}` was killed by {end.signal_name} after {took} "
                "(out of memory, or stopped from outside the editor?)"
            )
        elif run_id:
            status = "failed"
            failure = progress.failure()
            if failure is not None:
                step, task, why = failure
                message = f"{what} failed in step {step} (task {task}): {why}"
            else:
                message = f"{what} failed: {_last_words(end.stderr_tail)}"
        else:
            status = "error"
            message = (
                f"`{command.display()}` exited with code {end.returncode} before a run started: "
                f"{_last_words(end.stderr_tail)}"
            )
        return execution.describe() | {
            "status": status,
            "message": message,
            "run_id": run_id,
            "pathspec": pathspec,
            "returncode": end.returncode,
            "started_at": end.started_at,
            "ended_at": end.ended_at,
            "steps_done": len(progress.done_steps()),
            "steps_total": progress.total,
        }

    async def _cards(self, execution: Execution, pathspec: str | None) -> list[str]:
        if not pathspec or pathspec.count("/") != 3:
            return []
        try:
            store = await self._server.runs.store_for(execution.command.flow_file)
            cards = await self._server.runs.io(store.cards, pathspec)
        except Exception as error:
            log.info("no cards for %s: %s", pathspec, error)
            return []
        return [card.path for card in cards]

    def _final_message(self, result: dict[str, Any]) -> None:
        kind = {
            "succeeded": types.MessageType.Info,
            "cancelled": types.MessageType.Warning,
        }.get(result["status"], types.MessageType.Error)
        cards = result.get("cards") or []
        window = self._server.client_capabilities.window
        can_open = bool(window and window.show_document and window.show_document.support)
        if cards and can_open and window is not None and window.show_message is not None:
            self._spawn(self._offer_card(result["message"], cards[0]))
            return
        message = result["message"]
        if cards:
            message += f" · card: {cards[0]}"
        self._message(kind, message)

    async def _offer_card(self, message: str, card: str) -> None:
        params = types.ShowMessageRequestParams(
            types.MessageType.Info, message, [types.MessageActionItem("Open card")]
        )
        try:
            answer = await self._server.window_show_message_request_async(params)
            if getattr(answer, "title", None) == "Open card":
                await self._server.window_show_document_async(
                    types.ShowDocumentParams(path_to_uri(card), external=True)
                )
        except Exception as error:
            log.info("offering the card %s failed: %s", card, error)

    # -- cancel and shutdown

    async def cancel(self, ids: list[str]) -> list[str]:
        """Stop these executions (their whole process groups); the ids actually stopped."""
        stopped: list[str] = []
        waits = []
        for execution_id in ids:
            execution = self._executions.get(execution_id)
            if execution is None or execution.state not in ("queued", "running"):
                continue
            execution.cancel_requested = True
            stopped.append(execution_id)
            if execution.state == "queued" or execution.process is None:
                result = execution.describe() | {
                    "status": "cancelled",
                    "message": f"{execution.title()} cancelled before it started",
                }
                self._finish(execution, result)
            else:
                waits.append(execution.process.stop())
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
        return stopped

    async def shutdown(self) -> None:
        """Stop every execution's process group (queued ones never start)."""
        self.closed = True
        active = self.active()
        try:
            await asyncio.wait_for(self.cancel([e.id for e in active]), SHUTDOWN_GRACE + 3)
        except asyncio.TimeoutError:
            log.warning("process groups still stopping at shutdown; killing them")
        stop_all_now()
        close_guard()
        for task in list(self._tasks):
            task.cancel()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # -- to the client

    def _notify(self, method: str, params: dict[str, Any]) -> None:
        try:
            self._server.protocol.notify(method, params)
        except Exception as error:  # the client may be gone
            log.info("cannot send %s: %s", method, error)

    def _message(self, kind: types.MessageType, message: str) -> None:
        with contextlib.suppress(Exception):
            self._server.window_show_message(types.ShowMessageParams(kind, message))

    def _refresh_lenses(self) -> None:
        from .code_lens import refresh

        refresh(self._server)


def _read_run_id(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def _last_words(lines: tuple[str, ...] | list[str], count: int = 3) -> str:
    """The last meaningful lines of a process's stderr, for a message."""
    meaningful = [line.strip() for line in lines if line.strip()]
    return " · ".join(meaningful[-count:]) or "it printed nothing on stderr"
