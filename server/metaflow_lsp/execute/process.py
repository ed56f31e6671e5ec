"""One Metaflow command as a process group: started without a shell in its own session, its
output streamed line by line, stopped as a whole group, and never left behind.

Metaflow's runtime starts a process per task (and sidecars) in its own process group, so killing
the group stops the whole run. Every live group is known to this module: `stop_all_now` (atexit,
SIGTERM/SIGHUP of the server) and the guard process (server killed outright) stop what is left.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

from .guard import Guard

log = logging.getLogger(__name__)

LINE_LIMIT = 1024 * 1024  # longer lines arrive in pieces
STOP_GRACE = 2.0  # SIGTERM, then SIGKILL after this long
DRAIN_TIMEOUT = 1.0  # output still arriving after the leader exited
TAIL_LINES = 40

OutputCallback = Callable[[str, str], None]  # (stream, text)


class LaunchError(Exception):
    """The process could not be started; the message says why."""


@dataclass(frozen=True)
class ProcessEnd:
    """How a process group ended."""

    returncode: int  # negative: killed by that signal
    stopped: bool  # the server stopped it (cancel, shutdown)
    started_at: float  # time.time()
    ended_at: float  # when the leader exited
    stderr_tail: tuple[str, ...]
    leftovers: int  # processes of the group still alive after the leader exited, then killed

    @property
    def signal_name(self) -> str | None:
        """`SIGKILL` when a signal ended it."""
        if self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"


_LIVE: dict[int, FlowProcess] = {}
_GUARD = Guard()
_installed = False
_install_lock = threading.Lock()


class FlowProcess:
    """A command started in a new session; `on_output(stream, text)` gets each line."""

    def __init__(
        self,
        argv: Sequence[str],
        cwd: str,
        env: Mapping[str, str],
        on_output: OutputCallback,
    ) -> None:
        self.argv = tuple(argv)
        self.cwd = cwd
        self.env = dict(env)
        self._on_output = on_output
        self._process: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._stderr: deque[str] = deque(maxlen=TAIL_LINES)
        self._stopped = False
        self._end: ProcessEnd | None = None
        self._waiting: asyncio.Task[ProcessEnd] | None = None
        self.started_at = 0.0
        self.ended_at: float | None = None

    @property
    def pid(self) -> int | None:
        """The leader's pid (also the process group id)."""
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Start the process; LaunchError when it cannot run."""
        _install_exit_handlers()
        self.started_at = time.time()
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                limit=LINE_LIMIT,
            )
        except OSError as error:
            reason = error.strerror or str(error)
            raise LaunchError(f"cannot start {self.argv[0]} in {self.cwd}: {reason}") from None
        pgid = self._process.pid
        _LIVE[pgid] = self
        _GUARD.watch(pgid)
        assert self._process.stdout is not None and self._process.stderr is not None
        self._readers = [
            asyncio.create_task(self._read(self._process.stdout, "stdout")),
            asyncio.create_task(self._read(self._process.stderr, "stderr")),
        ]

    async def _read(self, stream: asyncio.StreamReader, name: str) -> None:
        while True:
            try:
                raw = await stream.readuntil(b"\n")
            except asyncio.IncompleteReadError as end:
                if end.partial:
                    self._emit(name, end.partial)
                return
            except asyncio.LimitOverrunError as long:
                raw = await stream.readexactly(long.consumed)
            self._emit(name, raw)

    def _emit(self, stream: str, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        if stream == "stderr":
            self._stderr.append(text)
        try:
            self._on_output(stream, text)
        except Exception:
            log.exception("handling a line of %s failed", self.argv[:3])

    def wait(self) -> asyncio.Task[ProcessEnd]:
        """How the process ends (once the leader exited, its output drained and no process of
        its group is left)."""
        if self._waiting is None:
            self._waiting = asyncio.ensure_future(self._wait())
        return self._waiting

    async def _wait(self) -> ProcessEnd:
        process = self._process
        assert process is not None, "start() first"
        returncode = await process.wait()
        self.ended_at = time.time()
        late: set[asyncio.Task[None]] = set(self._readers)
        if late:
            _, late = await asyncio.wait(late, timeout=0.2)
        # Whatever the leader left running in its group (a task, a sidecar) is an orphan; it
        # may also hold the pipes open.
        leftovers = await asyncio.to_thread(_stop_group, process.pid, 0.5)
        if late:
            _, late = await asyncio.wait(late, timeout=DRAIN_TIMEOUT)
        for reader in late:
            reader.cancel()
        _LIVE.pop(process.pid, None)
        _GUARD.forget(process.pid)
        self._end = ProcessEnd(
            returncode,
            self._stopped,
            self.started_at,
            self.ended_at,
            tuple(self._stderr),
            leftovers,
        )
        return self._end

    async def stop(self, grace: float = STOP_GRACE) -> ProcessEnd:
        """Stop the whole process group: SIGTERM, then SIGKILL after `grace` seconds."""
        process = self._process
        assert process is not None, "start() first"
        waiting = self.wait()
        if process.returncode is None:
            self._stopped = True
            _signal_group(process.pid, signal.SIGTERM)
            done, _ = await asyncio.wait({waiting}, timeout=grace)
            if not done:
                _signal_group(process.pid, signal.SIGKILL)
        return await waiting

    def stop_now(self) -> None:
        """Kill the group at once, synchronously (atexit, a signal, a closing loop)."""
        if self._process is not None:
            self._stopped = True
            _signal_group(self._process.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the group; False when it has no process left."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError as error:  # the pgid was reused by someone else's group
        log.warning("cannot signal process group %d: %s", pgid, error)
        return False


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of the process group, from /proc; elsewhere, `[pgid]` while
    the group exists."""
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
            return [pgid]
        except OSError:
            return []
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # After the command name (which may hold spaces and parentheses): state ppid pgrp ...
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) >= 3 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def _stop_group(pgid: int, grace: float) -> int:
    """Stop what is left of a group whose leader exited; how many processes were left. Blocks."""
    left = group_members(pgid)
    if not left:
        return 0
    log.info("process group %d left %d process(es) behind; stopping them", pgid, len(left))
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and group_members(pgid):
        time.sleep(0.02)
    if group_members(pgid):
        _signal_group(pgid, signal.SIGKILL)
    return len(left)


def live_groups() -> list[int]:
    """The process groups started here that have not ended."""
    return list(_LIVE)


def stop_all_now(grace: float = 1.0) -> None:
    """Stop every live group (SIGTERM, SIGKILL after `grace`), synchronously. Safe to call from
    atexit and signal handlers."""
    groups = list(_LIVE.items())
    if not groups:
        _GUARD.close()
        return
    for pgid, process in groups:
        process._stopped = True
        _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(group_members(p) for p, _ in groups):
        time.sleep(0.02)
    for pgid, _ in groups:
        _signal_group(pgid, signal.SIGKILL)
    _GUARD.close()


def close_guard() -> None:
    """Let the guard process exit (nothing of ours runs any more)."""
    _GUARD.close()


def _on_signal(number: int, frame: FrameType | None) -> None:
    stop_all_now()
    signal.signal(number, signal.SIG_DFL)
    os.kill(os.getpid(), number)


def _install_exit_handlers() -> None:
    """Once, before the first group starts: atexit, and SIGTERM/SIGHUP when nobody else
    handles them (the default would end the server without running atexit)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _installed = True
    atexit.register(stop_all_now)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _on_signal)
