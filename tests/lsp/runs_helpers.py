"""Real Metaflow runs for the run features, and a server started with their environment.

One workspace per test session holds RunsFlow and two runs: `ok` (value 3, every step
succeeds) and `failed` (value -1: `compute` raises in `check`). Tests that add runs work on a
copy (`copy_workspace`). The server runs with `USERNAME=tester`, no METAFLOW_* variable of the
developer's, and METAFLOW_HOME set to an empty directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, make_test_lsp_client

from .helpers import CAPABILITIES, SERVER, Session, initialize_params

FLOW_FILE = "runs_flow.py"
FLOW = textwrap.dedent(
    '''\
    from metaflow import FlowSpec, Parameter, step


    def check(value):
        if value < 0:
            raise ValueError(f"value must not be negative, got {value}")
        return value * 10


    class RunsFlow(FlowSpec):
        """A flow whose compute step fails for a negative value."""

        value = Parameter("value", type=int, default=1)

        @step
        def start(self):
            self.items = [1, 2, 3]
            self.next(self.each, foreach="items")

        @step
        def each(self):
            self.doubled = self.input * 2 + self.value
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.doubled for i in inputs)
            self.next(self.compute)

        @step
        def compute(self):
            self.result = {"value": self.value, "checked": check(self.value)}
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        RunsFlow()
    '''
)

CLIENT_VALUE = textwrap.dedent(
    """\
    import sys
    from metaflow import Task, namespace
    namespace(None)
    print(repr(Task(sys.argv[1])[sys.argv[2]].data))
    """
)


def metaflow_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for Metaflow and the server: no METAFLOW_* of the developer's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    env.update(USERNAME="tester", METAFLOW_HOME=str(home), PYTHONUNBUFFERED="1", **extra)
    return env


@dataclass
class RunsWorkspace:
    """A directory with RunsFlow and its runs."""

    path: Path
    home: Path
    runs: dict[str, str] = field(default_factory=dict)  # label -> run id

    @property
    def env(self) -> dict[str, str]:
        """The environment for Metaflow commands and the server."""
        return metaflow_env(self.home)

    def command(self, *args: str) -> list[str]:
        """`python runs_flow.py args...`."""
        return [sys.executable, FLOW_FILE, *args]

    def metaflow(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a Metaflow command in the workspace and wait for it."""
        proc = subprocess.run(
            self.command(*args),
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
            stdin=subprocess.DEVNULL,
        )
        if ok and proc.returncode != 0:
            raise AssertionError(f"{args} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def run_ids(self) -> set[str]:
        """The run directories of RunsFlow now."""
        root = self.path / ".metaflow" / "RunsFlow"
        return {p.name for p in root.iterdir() if p.name.isdigit()} if root.exists() else set()

    def run(self, label: str, *args: str, ok: bool = True) -> str:
        """Make one run and remember its id under `label`."""
        before = self.run_ids()
        self.metaflow("run", *args, ok=ok)
        (new,) = self.run_ids() - before
        self.runs[label] = new
        return new

    def task_ids(self, run_id: str, step: str) -> list[str]:
        """The task ids of a step, in numeric order."""
        step_dir = self.path / ".metaflow" / "RunsFlow" / run_id / step
        return sorted((p.name for p in step_dir.iterdir() if p.name.isdigit()), key=int)

    def client_value(self, pathspec: str, name: str) -> str:
        """`repr()` of an artifact as Metaflow's Client API loads it (in a subprocess)."""
        proc = subprocess.run(
            [sys.executable, "-c", CLIENT_VALUE, pathspec, name],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    @property
    def flow_text(self) -> str:
        """The flow file's text."""
        return (self.path / FLOW_FILE).read_text(encoding="utf-8")


_MADE: dict[str, RunsWorkspace] = {}


def runs_workspace(factory: pytest.TempPathFactory) -> RunsWorkspace:
    """The session's workspace with the `ok` and `failed` runs (made once per session)."""
    key = str(factory.getbasetemp())
    if key not in _MADE:
        path = factory.mktemp("runsflow")
        home = factory.mktemp("runsflow-home")
        (path / FLOW_FILE).write_text(FLOW, encoding="utf-8")
        ws = RunsWorkspace(path, home)
        ws.run("ok", "--value", "3")
        ws.run("failed", "--value", "-1", ok=False)
        _MADE[key] = ws
    return _MADE[key]


def copy_workspace(ws: RunsWorkspace, target: Path) -> RunsWorkspace:
    """A copy of the workspace (its runs included) to add runs to."""
    shutil.copytree(ws.path, target, dirs_exist_ok=True, copy_function=shutil.copy2)
    return RunsWorkspace(target, ws.home, dict(ws.runs))


@contextlib.asynccontextmanager
async def running_server(
    root: Path,
    env: dict[str, str],
    options: dict[str, Any] | None = None,
    on_refresh: Callable[[], None] | None = None,
) -> AsyncIterator[Session]:
    """A real server over stdio, initialised like VS Code with `root` as its folder."""
    client: LanguageClient = make_test_lsp_client()

    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def code_lens_refresh(params: None) -> None:
        if on_refresh is not None:
            on_refresh()

    await client.start_io(*SERVER.server_command, env=env)
    params = initialize_params(root)
    params.initialization_options = options
    result = await client.initialize_session(params)
    CAPABILITIES[id(client)] = result.capabilities
    try:
        yield Session(client, root)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 30)
        await client.stop()


async def wait_until(
    check: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Await `check()` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


async def lenses(session: Session, uri: str) -> list[types.CodeLens]:
    """textDocument/codeLens."""
    result = await session.client.text_document_code_lens_async(
        types.CodeLensParams(types.TextDocumentIdentifier(uri=uri))
    )
    return list(result or [])


def lens_titles(found: list[types.CodeLens]) -> dict[int, str]:
    """Run-status lens titles by 0-based line (the labels: lenses without a command; the Run,
    Spin and Resume actions beside them are left out)."""
    return {
        lens.range.start.line: lens.command.title
        for lens in found
        if lens.command and not lens.command.command
    }


def plain(value: Any) -> Any:
    """JSON values from pygls's client (it turns objects into namedtuples)."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


async def request(session: Session, method: str, params: dict[str, Any]) -> Any:
    """A custom request; its JSON result (keys that are not identifiers come back renamed)."""
    return plain(await session.client.protocol.send_request_async(method, params))


def hover_text(hover: types.Hover | None) -> str:
    """The Markdown of a hover ("" when none)."""
    if hover is None:
        return ""
    contents = hover.contents
    assert isinstance(contents, types.MarkupContent)
    return contents.value


def line_of(text: str, needle: str) -> int:
    """The 0-based line of the first line containing `needle`."""
    for number, line in enumerate(text.splitlines()):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the text")


def json_dumps(value: Any) -> str:
    """Compact JSON for assertion messages."""
    return json.dumps(value, default=str)[:2000]
