"""A real server with a client that records what runs started from the editor send back:
`metaflow/output` and `metaflow/finished` notifications, lens refreshes, messages, progress."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient, make_test_lsp_client

from ..execute.conftest import FLOWS, metaflow_env
from .helpers import CAPABILITIES, SERVER, Session, initialize_params
from .runs_helpers import plain

BRANCHY = "branchy_flow.py"
SLEEPY = "sleepy_flow.py"


@dataclass
class Recorder:
    """What the server sent about executions."""

    outputs: list[dict[str, Any]] = field(default_factory=list)
    finished: list[dict[str, Any]] = field(default_factory=list)
    refreshes: list[float] = field(default_factory=list)  # time.time() of each lens refresh
    diagnostics_at: dict[str, list[tuple[float, list[types.Diagnostic]]]] = field(
        default_factory=dict
    )
    asked: list[str] = field(default_factory=list)
    answer: str | None = None  # the button pressed for window/showMessageRequest

    async def ended(self, execution: str, timeout: float = 120) -> dict[str, Any]:
        """The `metaflow/finished` notification of an execution."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.finished:
                if item["execution"] == execution:
                    return item
            await asyncio.sleep(0.02)
        raise AssertionError(f"{execution} did not finish within {timeout} s: {self.outputs[-5:]}")

    def lines(self, execution: str) -> list[str]:
        """The output lines of an execution."""
        return [o["text"] for o in self.outputs if o["execution"] == execution]


@dataclass
class CommandSession:
    """A session with its recorder."""

    session: Session
    recorder: Recorder

    @property
    def client(self) -> LanguageClient:
        return self.session.client

    async def execute(self, command: str, argument: dict[str, Any]) -> Any:
        """workspace/executeCommand with one object argument; the result as plain JSON."""
        result = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=[argument])
        )
        return plain(result)

    def messages(self) -> list[str]:
        """window/showMessage texts so far."""
        return [m.message for m in self.client.messages]


@contextlib.asynccontextmanager
async def command_server(
    root: Path, env: dict[str, str], options: dict[str, Any] | None = None
) -> AsyncIterator[CommandSession]:
    """A real server over stdio with `root` as its folder, recording executions."""
    client: LanguageClient = make_test_lsp_client()
    recorder = Recorder()

    @client.feature("metaflow/output")
    def output(params: Any) -> None:
        recorder.outputs.append(plain(params))

    @client.feature("metaflow/finished")
    def finished(params: Any) -> None:
        recorder.finished.append(plain(params))

    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def refresh(params: None) -> None:
        recorder.refreshes.append(time.time())

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def ask(params: types.ShowMessageRequestParams) -> types.MessageActionItem | None:
        recorder.asked.append(params.message)
        return types.MessageActionItem(recorder.answer) if recorder.answer else None

    # pytest-lsp's own handler keeps `client.diagnostics`; this one also records the time.
    features = client.protocol.fm.features
    original = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def diagnostics(params: types.PublishDiagnosticsParams) -> None:
        original(params)
        recorder.diagnostics_at.setdefault(params.uri, []).append(
            (time.time(), list(params.diagnostics))
        )

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = diagnostics

    await client.start_io(*SERVER.server_command, env=env)
    params = initialize_params(root)
    params.initialization_options = {"python": sys.executable, **(options or {})}
    result = await client.initialize_session(params)
    CAPABILITIES[id(client)] = result.capabilities
    try:
        yield CommandSession(Session(client, root), recorder)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 30)
        await client.stop()


def flow_workspace(factory: Any, name: str, *flows: str) -> tuple[Path, dict[str, str]]:
    """A temp workspace with copies of the test flows, and the Metaflow environment for it."""
    path = factory.mktemp(name)
    home = factory.mktemp(f"{name}-home")
    for flow in flows:
        shutil.copy(FLOWS / flow, path / flow)
    return path, metaflow_env(home)


def members_alive(pids: set[int]) -> list[int]:
    """The pids that are still live processes (not zombies)."""
    out = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_bytes()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2 :].split()[0] not in (b"Z", b"X"):
            out.append(pid)
    return out
