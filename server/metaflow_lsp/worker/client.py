"""The server side of the artifact worker: a warm agent process per interpreter, driven by asyncio.

The agent (`agent.py`) runs as `<interpreter> -u agent.py` in its own process group, without a
shell. One request is in flight at a time; a request that overruns its time limit gets the whole
process group killed, and the next request starts a fresh agent. Nothing here unpickles.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from .interpreter import Interpreter

log = logging.getLogger(__name__)

AGENT = Path(__file__).with_name("agent.py")
DEFAULT_TIMEOUT = 10.0
START_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
STDERR_TAIL_CHARS = 4000
CLOSE_GRACE = 1.0


class PreviewField(TypedDict):
    """One item, attribute, field or column of a structured preview."""

    name: str
    type: str
    summary: str
    repr: str


class Preview(TypedDict, total=False):
    """What the agent says about one artifact value (see `agent.Previewer`)."""

    type: str  # qualified type name: "pandas.core.frame.DataFrame", "list"
    kind: str  # scalar str bytes sequence set mapping dataclass namedtuple datetime exception
    # object ndarray dataframe series
    summary: str  # one line: "DataFrame 1,000 × 3", "list of 120 int", "str, 5,000 chars"
    repr: str  # bounded text: repr, or the head of an array / DataFrame
    fields: list[PreviewField]  # first items / fields / attributes / columns
    truncated: bool  # something was cut or left out
    length: int  # len() of str, bytes and containers
    shape: list[int]  # ndarray, DataFrame, Series
    dtype: str  # ndarray, Series


@dataclass(frozen=True)
class PreviewLimits:
    """Caps applied by the agent: blob size (compressed and not), items shown, text length."""

    max_bytes: int = 256 * 1024 * 1024
    max_items: int = 20
    max_chars: int = 2000

    def as_request(self) -> dict[str, Any]:
        """The request fields for these limits."""
        return {
            "max_bytes": self.max_bytes,
            "max_items": self.max_items,
            "max_chars": self.max_chars,
        }


@dataclass(frozen=True)
class Blob:
    """An artifact's stored bytes: a blob file, or the bytes themselves (e.g. fetched from S3)."""

    path: Path | None = None
    data: bytes | None = None
    compressed: bool | None = None  # None: gzip when it starts with gzip's magic bytes

    def as_request(self) -> dict[str, Any]:
        """The request fields naming this blob."""
        fields: dict[str, Any] = {"compressed": self.compressed}
        if self.path is not None:
            fields["path"] = str(self.path)
        else:
            fields["data_b64"] = base64.b64encode(self.data or b"").decode("ascii")
        return fields


@dataclass(frozen=True)
class WorkerReply:
    """A successful result, or an error message for the user and its kind."""

    result: dict[str, Any] | None = None
    error: str | None = None
    kind: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the request succeeded."""
        return self.error is None


@dataclass(frozen=True)
class PreviewReply:
    """A preview, or what went wrong: `kind` is too_large, read, load, timeout, crashed, ..."""

    preview: Preview | None = None
    error: str | None = None
    kind: str | None = None

    @property
    def ok(self) -> bool:
        """Whether there is a preview."""
        return self.error is None


class WorkerFailure(Exception):
    """A request that failed outside the agent's own answers (start, timeout, crash)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _as_blob(blob: Blob | Path | bytes) -> Blob:
    if isinstance(blob, Blob):
        return blob
    if isinstance(blob, bytes):
        return Blob(data=blob)
    return Blob(path=Path(blob))


class ArtifactWorker:
    """One agent process under one interpreter, started on first use and kept warm."""

    def __init__(
        self,
        interpreter: Interpreter | Path | str,
        cwd: Path | str,
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        start_timeout: float = START_TIMEOUT,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        if not isinstance(interpreter, Interpreter):
            interpreter = Interpreter(Path(interpreter), "given")
        self.interpreter = interpreter
        self.cwd = Path(cwd)
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.max_response_bytes = max_response_bytes
        self._env = env
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr_tasks: dict[int, asyncio.Task[None]] = {}
        self._stderr_tail = ""
        self._lock = asyncio.Lock()
        self._next_id = 0
        self._closed = False
        self.starts = 0  # how many agents were started, for logs and tests

    @property
    def pid(self) -> int | None:
        """The running agent's pid (also its process group), if one is running."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    def _where(self) -> str:
        return self.interpreter.describe()

    async def ping(self, timeout: float | None = None) -> WorkerReply:
        """Start the agent if needed and ask for its pid and Python version."""
        try:
            response = await self._request({"op": "ping"}, timeout)
        except WorkerFailure as failure:
            return WorkerReply(error=str(failure), kind=failure.kind)
        if response.get("ok"):
            return WorkerReply(result=response.get("result") or {})
        return WorkerReply(error=str(response.get("error")), kind=response.get("kind"))

    async def preview(
        self,
        blob: Blob | Path | bytes,
        *,
        limits: PreviewLimits | None = None,
        flow_dir: Path | str | None = None,
        timeout: float | None = None,
    ) -> PreviewReply:
        """Load one artifact blob in the agent and describe it; errors come back as messages."""
        request = {"op": "preview", **_as_blob(blob).as_request()}
        request.update((limits or PreviewLimits()).as_request())
        if flow_dir is not None:
            request["sys_path"] = [str(flow_dir)]
        try:
            response = await self._request(request, timeout)
        except WorkerFailure as failure:
            return PreviewReply(error=str(failure), kind=failure.kind)
        return _preview_reply(response)

    async def preview_many(
        self,
        blobs: Sequence[Blob | Path | bytes],
        *,
        limits: PreviewLimits | None = None,
        flow_dir: Path | str | None = None,
        timeout: float | None = None,
    ) -> list[PreviewReply]:
        """Previews of several blobs in one request (a foreach's tasks); `timeout` is for all."""
        request: dict[str, Any] = {
            "op": "preview_many",
            "items": [_as_blob(blob).as_request() for blob in blobs],
        }
        request.update((limits or PreviewLimits()).as_request())
        if flow_dir is not None:
            request["sys_path"] = [str(flow_dir)]
        try:
            response = await self._request(request, timeout)
        except WorkerFailure as failure:
            return [PreviewReply(error=str(failure), kind=failure.kind) for _ in blobs]
        if not response.get("ok"):
            reply = _preview_reply(response)
            return [reply for _ in blobs]
        items = (response.get("result") or {}).get("items") or []
        return [_preview_reply(item) for item in items]

    async def restart(self) -> None:
        """Stop the agent (e.g. after the user's modules changed); the next request starts one."""
        async with self._lock:
            await self._stop()

    async def close(self) -> None:
        """Stop the agent for good: close its stdin, then terminate and kill its process group."""
        self._closed = True
        await self._stop()

    # -- the exchange

    async def _request(self, payload: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        """Send one request and wait for its response, within the time limit."""
        limit = self.timeout if timeout is None else timeout
        async with self._lock:
            if self._closed:
                raise WorkerFailure("closed", "the artifact worker was shut down")
            proc = await self._ensure_started()
            self._next_id += 1
            request_id = self._next_id
            line = json.dumps(
                {**payload, "id": request_id, "max_response": self.max_response_bytes}
            ).encode("utf-8")
            try:
                return await asyncio.wait_for(self._exchange(proc, line + b"\n", request_id), limit)
            except asyncio.TimeoutError:
                await self._kill(proc)
                raise WorkerFailure(
                    "timeout",
                    f"loading the artifact took more than {limit:g} s, so it was stopped "
                    f"(the flow's interpreter is {self._where()}); the worker restarts on the "
                    "next request",
                ) from None

    async def _exchange(
        self, proc: asyncio.subprocess.Process, line: bytes, request_id: int
    ) -> dict[str, Any]:
        assert proc.stdin is not None
        try:
            proc.stdin.write(line)
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            log.info("artifact worker %s: stdin closed", proc.pid)
        while True:
            message = await self._read_message(proc)
            if message.get("id") == request_id:
                return message
            # An answer to a request whose caller was cancelled, or a startup event.
            log.debug("artifact worker %s: skipping %s", proc.pid, str(message)[:200])

    async def _read_message(self, proc: asyncio.subprocess.Process) -> dict[str, Any]:
        """The next JSON line from the agent; EOF, garbage or an oversized line kill it."""
        assert proc.stdout is not None
        try:
            raw = await proc.stdout.readline()
        except (ValueError, asyncio.LimitOverrunError):
            await self._kill(proc)
            raise WorkerFailure(
                "too_large",
                f"the artifact worker's answer was larger than {self.max_response_bytes:,} bytes; "
                "it was restarted",
            ) from None
        if not raw:
            code = await self._kill(proc)
            if self._closed:
                raise WorkerFailure("closed", "the artifact worker was shut down")
            raise WorkerFailure(
                "crashed",
                f"the artifact worker exited (code {code}) while loading the artifact "
                f"(the flow's interpreter is {self._where()}); it restarts on the next request"
                + self._stderr_summary(),
            )
        try:
            message = json.loads(raw)
        except ValueError:
            await self._kill(proc)
            raise WorkerFailure(
                "crashed", f"the artifact worker wrote something that is not JSON: {raw[:200]!r}"
            ) from None
        if not isinstance(message, dict):
            return {}
        if message.get("event") == "fatal":
            await self._kill(proc)
            raise WorkerFailure("start", str(message.get("error")))
        return message

    def _stderr_summary(self) -> str:
        lines = [line for line in self._stderr_tail.strip().splitlines() if line.strip()]
        return f"; its last message: {lines[-1].strip()}" if lines else ""

    # -- the process

    async def _ensure_started(self) -> asyncio.subprocess.Process:
        """The running agent, started (and its ready line read) if there is none."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            return proc
        if proc is not None:
            await self._kill(proc)
        path = self.interpreter.path
        if path is None:
            raise WorkerFailure(
                "no_interpreter", self.interpreter.problem or "no Python interpreter found"
            )
        env = dict(os.environ if self._env is None else self._env)
        if self._env is None:
            # The server's own Python home would break another interpreter's startup.
            env.pop("PYTHONHOME", None)
        try:
            proc = await asyncio.create_subprocess_exec(
                str(path),
                "-u",
                str(AGENT),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.cwd,
                env=env,
                start_new_session=True,
                limit=self.max_response_bytes + 64 * 1024,
            )
        except OSError as error:
            raise WorkerFailure(
                "start",
                f"cannot start the artifact worker with {self._where()}: {error.strerror or error}",
            ) from None
        self._proc = proc
        self.starts += 1
        self._stderr_tail = ""
        self._stderr_tasks[proc.pid] = asyncio.create_task(self._drain_stderr(proc))
        log.info("artifact worker %s started with %s in %s", proc.pid, self._where(), self.cwd)
        try:
            ready = await asyncio.wait_for(self._read_message(proc), self.start_timeout)
        except asyncio.TimeoutError:
            await self._kill(proc)
            raise WorkerFailure(
                "start",
                f"the artifact worker did not start within {self.start_timeout:g} s "
                f"under {self._where()}",
            ) from None
        except WorkerFailure as failure:
            if failure.kind == "crashed":
                raise WorkerFailure(
                    "start",
                    f"the artifact worker could not start under {self._where()}"
                    + self._stderr_summary(),
                ) from None
            raise
        if ready.get("event") != "ready":
            log.warning("artifact worker %s: unexpected first message %s", proc.pid, ready)
        return proc

    async def _drain_stderr(self, proc: asyncio.subprocess.Process) -> None:
        """Keep the agent's stderr flowing (the user's prints land there) and its tail for errors."""
        assert proc.stderr is not None
        while True:
            chunk = await proc.stderr.read(65536)
            if not chunk:
                return
            text = chunk.decode("utf-8", "replace")
            self._stderr_tail = (self._stderr_tail + text)[-STDERR_TAIL_CHARS:]
            for line in text.splitlines():
                log.debug("artifact worker %s: %s", proc.pid, line)

    async def _kill(self, proc: asyncio.subprocess.Process) -> int | None:
        """Kill the agent's whole process group and reap it; returns its exit code."""
        if self._proc is proc:
            self._proc = None
        _signal_group(proc, signal.SIGKILL)
        return await self._reap(proc)

    async def _reap(self, proc: asyncio.subprocess.Process) -> int | None:
        """Wait for the agent to be reaped and its stderr to close."""
        code = await proc.wait()
        task = self._stderr_tasks.pop(proc.pid, None)
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(task, CLOSE_GRACE)
            except asyncio.TimeoutError:
                log.info("artifact worker %s: stderr still open after exit", proc.pid)
        if proc.stdin is not None:
            proc.stdin.close()
        return code

    async def _stop(self) -> None:
        """Ask the agent to exit (EOF on stdin), then SIGTERM, then SIGKILL its group."""
        proc = self._proc
        self._proc = None
        if proc is None:
            return
        if proc.returncode is None and proc.stdin is not None:
            proc.stdin.close()
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    await asyncio.wait_for(proc.wait(), CLOSE_GRACE)
                    break
                except asyncio.TimeoutError:
                    _signal_group(proc, sig)
        # Children the user's code left behind share the group: kill them too.
        _signal_group(proc, signal.SIGKILL)
        await self._reap(proc)
        log.info("artifact worker %s stopped", proc.pid)


def _signal_group(proc: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    """Signal the agent's process group (its pid: it was started in a new session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _preview_reply(response: Mapping[str, Any]) -> PreviewReply:
    if response.get("ok"):
        return PreviewReply(preview=response.get("result"))
    return PreviewReply(
        error=str(response.get("error") or "the artifact worker gave no answer"),
        kind=response.get("kind"),
    )


class WorkerPool:
    """Artifact workers keyed by interpreter path, so flows sharing an environment share one."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        start_timeout: float = START_TIMEOUT,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self._options: dict[str, Any] = {
            "env": env,
            "timeout": timeout,
            "start_timeout": start_timeout,
            "max_response_bytes": max_response_bytes,
        }
        self._workers: dict[str, ArtifactWorker] = {}

    def get(self, interpreter: Interpreter, cwd: Path | str) -> ArtifactWorker:
        """The worker for `interpreter`, created with `cwd` on first use.

        Pass each request's `flow_dir` so the flow's own modules import whichever flow asks.
        """
        if interpreter.path is None:
            # Nothing to run: a worker that answers every request with the problem.
            return ArtifactWorker(interpreter, cwd, **self._options)
        key = str(interpreter.path)
        worker = self._workers.get(key)
        if worker is None or worker._closed:
            worker = ArtifactWorker(interpreter, cwd, **self._options)
            self._workers[key] = worker
        return worker

    def __len__(self) -> int:
        return len(self._workers)

    async def close(self) -> None:
        """Close every worker."""
        workers = list(self._workers.values())
        self._workers.clear()
        await asyncio.gather(*(worker.close() for worker in workers))
