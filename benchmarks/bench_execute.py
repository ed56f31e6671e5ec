"""Run and spin from the editor: what the server adds, beside the same work done without it.

In a temp workspace with a small foreach/join flow and one past run, measures in one run:
  - spin launch: `workspace/executeCommand metaflow.spin` → the spin's first output line at the
    client (`metaflow/output`), beside the same command line started directly with
    `subprocess` → its first line; the difference is what the server adds (target ≤ 50 ms);
    also executeCommand → its answer (sent once the process is started);
  - end of a run → the finished run in the lenses at the client (after the server's
    `workspace/codeLens/refresh`, the client asks for the lenses again), and → the run-failure
    diagnostic published (appearing after a failed run, clearing after a good one) (target
    ≤ 200 ms), beside the same runs started from a terminal, which the server only learns
    about from its file watcher.

    .venv/bin/python benchmarks/bench_execute.py [--repeats 7] [--runs 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, make_test_lsp_client

FLOW = textwrap.dedent(
    """\
    from metaflow import FlowSpec, Parameter, step


    class BenchFlow(FlowSpec):
        scale = Parameter("scale", type=int, default=2)

        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.each, foreach="items")

        @step
        def each(self):
            self.x = self.input * self.scale
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.x for i in inputs)
            if self.total < 0:
                raise ValueError("negative total")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        BenchFlow()
    """
)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass
class Seen:
    """What the client received, with time.time() of arrival."""

    outputs: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    finished: list[dict[str, Any]] = field(default_factory=list)
    finished_at: dict[str, float] = field(default_factory=dict)  # by execution
    refreshes: list[float] = field(default_factory=list)
    diagnostics: list[tuple[float, int]] = field(default_factory=list)  # run failures shown
    lenses: list[tuple[float, str]] = field(default_factory=list)  # the flow lens's title


@contextlib.asynccontextmanager
async def server(root: Path, env: dict[str, str]) -> AsyncIterator[tuple[LanguageClient, Seen]]:
    client = make_test_lsp_client()
    seen = Seen()
    uri = (root / "bench_flow.py").as_uri()

    @client.feature("metaflow/output")
    def output(params: Any) -> None:
        seen.outputs.append((time.time(), _plain(params)))

    @client.feature("metaflow/finished")
    def finished(params: Any) -> None:
        seen.finished.append(_plain(params))
        seen.finished_at[params.execution] = time.time()

    async def relens() -> None:
        found = await client.text_document_code_lens_async(
            types.CodeLensParams(types.TextDocumentIdentifier(uri=uri))
        )
        titles = [lens.command.title for lens in found or [] if lens.command]
        seen.lenses.append((time.time(), titles[0] if titles else ""))

    pending: set[asyncio.Task[None]] = set()

    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def refresh(params: None) -> None:
        seen.refreshes.append(time.time())
        task = asyncio.ensure_future(relens())  # as an editor does
        pending.add(task)
        task.add_done_callback(pending.discard)

    features = client.protocol.fm.features
    original = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def diagnostics(params: types.PublishDiagnosticsParams) -> None:
        original(params)
        failures = sum(d.source == "metaflow" for d in params.diagnostics)
        seen.diagnostics.append((time.time(), failures))

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = diagnostics
    await client.start_io(sys.executable, "-m", "metaflow_lsp", "serve", env=env)
    capabilities = pytest_lsp.client_capabilities("visual-studio-code")
    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options={"python": sys.executable},
        )
    )
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="python", version=1, text=FLOW)
        )
    )
    try:
        yield client, seen
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 30)
        await client.stop()


async def execute(client: LanguageClient, command: str, argument: dict[str, Any]) -> Any:
    return _plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=[argument])
        )
    )


async def until(check: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.005)
    raise TimeoutError("benchmark step timed out")


async def first_output(seen: Seen, execution: str) -> float:
    """When the first output line of an execution arrived; then waits for its end."""
    first = await until(
        lambda: next((t for t, o in seen.outputs if o["execution"] == execution), None)
    )
    await until(lambda: any(f["execution"] == execution for f in seen.finished))
    return float(first)


def settled(events: list[tuple[float, bool]]) -> float | None:
    """When the latest state began: the first event of the final run of true states (None while
    the latest state is false)."""
    since = None
    for at, state in events:
        if not state:
            since = None
        elif since is None:
            since = at
    return since


async def follow(
    seen: Seen, started: float, ended: float, run_id: str, failing: bool
) -> tuple[float, float]:
    """Seconds from `ended` until the lenses show `run_id` finished, and until the diagnostics
    show (`failing`) or clear the run failure (a change since `started`: runs alternate);
    negative when that happened before `ended` (the watcher can see the run's last task end
    before the Metaflow process exits)."""

    def lens() -> float | None:
        return settled(
            [(t, title.startswith(("✓", "✗")) and run_id in title) for t, title in seen.lenses]
        )

    def diagnostic() -> float | None:
        since = settled([(t, (n > 0) == failing) for t, n in seen.diagnostics])
        return since if since is not None and since >= started else None

    shown = await until(lens)
    published = await until(diagnostic)
    return shown - ended, published - ended


def direct_first_line(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Seconds from starting `argv` to its first line on stderr or stdout; waits for the end."""
    t0 = time.time()
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    process.stdout.readline()
    first = time.time() - t0
    process.communicate()
    return first


def ms(values: list[float]) -> str:
    return str(round(statistics.median(values) * 1000)) if values else "–"


async def bench(root: Path, env: dict[str, str], repeats: int, runs: int) -> None:
    uri = (root / "bench_flow.py").as_uri()
    rows: list[tuple[str, str, str, str, str]] = []
    async with server(root, env) as (client, seen):
        ran = await execute(client, "metaflow.run", {"uri": uri, "wait": True})
        assert ran["status"] == "succeeded", ran
        # A first spin warms what is cached for the session (interpreter probe, run store).
        warm = await execute(client, "metaflow.spin", {"uri": uri, "step": "each", "wait": True})
        assert warm["status"] == "succeeded", warm
        argv = list(warm["argv"])
        at = argv.index("--run-id-file")
        del argv[at : at + 2]

        server_first: list[float] = []
        answered: list[float] = []
        direct: list[float] = []
        for _ in range(repeats):
            direct.append(direct_first_line(argv, root, env))
            t0 = time.time()
            started = await execute(client, "metaflow.spin", {"uri": uri, "step": "each"})
            answered.append(time.time() - t0)
            server_first.append(await first_output(seen, started["execution"]) - t0)
        added = (statistics.median(server_first) - statistics.median(direct)) * 1000
        rows.append(
            (
                "spin: command → first output line",
                ms(server_first),
                f"{ms(direct)} (subprocess)",
                f"{added:+.0f} ms",
                "≤ 50 ms added",
            )
        )
        rows.append(
            (
                "spin: executeCommand → answer (process started)",
                ms(answered),
                "–",
                "–",
                "",
            )
        )

        # End of a run → refreshed lenses and diagnostics; failing and good runs alternate.
        to_lens: list[float] = []
        to_diagnostic: list[float] = []
        to_finished: list[float] = []
        for number in range(runs):
            failing = number % 2 == 0
            params = {"scale": -1 if failing else 2}
            started = time.time()
            result = await execute(
                client, "metaflow.run", {"uri": uri, "parameters": params, "wait": True}
            )
            lens, diagnostic = await follow(
                seen, started, result["ended_at"], result["run_id"], failing
            )
            to_finished.append(seen.finished_at[result["execution"]] - result["ended_at"])
            to_lens.append(lens)
            to_diagnostic.append(diagnostic)

        # The same runs from a terminal: only the watcher tells the server.
        watch_lens: list[float] = []
        watch_diagnostic: list[float] = []
        for number in range(runs):
            failing = number % 2 == 0
            before = {p.name for p in (root / ".metaflow" / "BenchFlow").iterdir()}
            started = time.time()
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "bench_flow.py",
                "run",
                "--scale",
                "-1" if failing else "2",
                cwd=root,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            code = await process.wait()
            ended = time.time()
            assert (code != 0) == failing, code
            (run_id,) = {p.name for p in (root / ".metaflow" / "BenchFlow").iterdir()} - before
            lens, diagnostic = await follow(seen, started, ended, run_id, failing)
            watch_lens.append(lens)
            watch_diagnostic.append(diagnostic)
        rows.append(
            (
                "end of run → store read again, lenses refresh sent, diagnostics published "
                "(`metaflow/finished` at the client)",
                ms(to_finished),
                "–",
                "–",
                "≤ 200 ms",
            )
        )
        for label, ours, theirs in (
            ("end of run → the finished run in the lenses at the client", to_lens, watch_lens),
            (
                "end of run → run-failure diagnostic appears / clears at the client",
                to_diagnostic,
                watch_diagnostic,
            ),
        ):
            rows.append(
                (
                    label,
                    f"{ms(ours)} (max {round(max(ours) * 1000)})",
                    f"{ms(theirs)} (max {round(max(theirs) * 1000)}; watcher, run from a terminal)",
                    "–",
                    "≤ 200 ms",
                )
            )
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; median of {repeats} spins "
        f"and {runs} runs (alternately failing and succeeding); ms. Negative: the client had it "
        "before the Metaflow process exited (the file watcher saw the last task end first).\n"
    )
    print("| measure | through the server | baseline, same run | added | target |")
    print("|---|---:|---:|---:|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7, help="spins measured each way")
    parser.add_argument("--runs", type=int, default=4, help="runs measured each way")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        home = Path(tmp) / "home"
        root.mkdir()
        home.mkdir()
        (root / "bench_flow.py").write_text(FLOW, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
        env.update(USERNAME="bench", METAFLOW_HOME=str(home), PYTHONUNBUFFERED="1")
        asyncio.run(bench(root, env, args.repeats, args.runs))


if __name__ == "__main__":
    main()
