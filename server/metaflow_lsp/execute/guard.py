"""A watchdog that kills our Metaflow process groups if the server dies without doing it.

`shutdown`, `exit`, atexit and SIGTERM all stop the groups from inside the server; a server
killed with SIGKILL (or crashing in C) cannot. The guard is a tiny stdlib-only Python process in
its own session that reads process group ids from a pipe: when the pipe closes — the server is
gone, however it went — it stops every group it still holds (SIGTERM, then SIGKILL) and exits.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import threading

log = logging.getLogger(__name__)

GRACE = 2.0  # seconds between SIGTERM and SIGKILL when the server is gone

_GUARD_CODE = r"""
import os, signal, sys, time
groups = set()
for line in sys.stdin:
    op, _, value = line.strip().partition(" ")
    if value.isdigit():
        (groups.add if op == "+" else groups.discard)(int(value))

def alive(group):
    try:
        os.killpg(group, 0)
        return True
    except OSError:
        return False

for group in groups:
    try:
        os.killpg(group, signal.SIGTERM)
    except OSError:
        pass
deadline = time.time() + %(grace)r
while time.time() < deadline and any(alive(g) for g in groups):
    time.sleep(0.05)
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""


class Guard:
    """The watchdog process: `watch(pgid)` when a group starts, `forget(pgid)` when it ends."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._held: set[int] = set()

    def _ensure(self) -> subprocess.Popen[bytes] | None:
        process = self._process
        if process is not None and process.poll() is None:
            return process
        try:
            # Its own session: a signal to the server's process group must not stop the guard.
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _GUARD_CODE % {"grace": GRACE}],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as error:
            log.warning("cannot start the process-group guard: %s", error)
            return None
        self._process = process
        for pgid in self._held:  # a restarted guard learns the groups still running
            self._send(process, f"+ {pgid}")
        return process

    def _send(self, process: subprocess.Popen[bytes], line: str) -> bool:
        assert process.stdin is not None
        try:
            process.stdin.write(line.encode() + b"\n")
            process.stdin.flush()
            return True
        except OSError as error:
            log.warning("the process-group guard is gone (%s); starting another", error)
            return False

    def watch(self, pgid: int) -> None:
        """Hold `pgid` until `forget`: killed if the server dies first."""
        with self._lock:
            self._held.add(pgid)
            process = self._ensure()
            if process is not None and not self._send(process, f"+ {pgid}"):
                self._process = None
                self._ensure()

    def forget(self, pgid: int) -> None:
        """The group ended (or was stopped by the server)."""
        with self._lock:
            self._held.discard(pgid)
            process = self._process
            if process is not None and process.poll() is None:
                self._send(process, f"- {pgid}")

    def close(self) -> None:
        """Let the guard exit (after the server stopped its groups itself)."""
        with self._lock:
            process, self._process = self._process, None
            self._held.clear()
        if process is None:
            return
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()
        try:
            process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
