"""Command-line entry points: graph, check, serve, runs, show, view."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

import click

from . import __version__

if TYPE_CHECKING:  # the run store is imported by the commands that use it
    from .runs import RunStore


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="metaflow-lsp")
def main() -> None:
    """metaflow-lsp: Metaflow in the editor (language server and tools)."""


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--flow", "flow_name", help="The flow class to print (default: the one run by __main__)."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print Metaflow's `output-raw --json` schema."
)
def graph(file: str, flow_name: str | None, as_json: bool) -> None:
    """Print the graph of the flow in FILE, as `python FILE output-raw` does, without running it."""
    from .flow import GraphStructureError, analyze_path, output_steps

    flow_file = analyze_path(file)
    flow = flow_file.flow(flow_name)
    if flow is None:
        names = ", ".join(f.name for f in flow_file.flows) or "none"
        raise click.ClickException(
            f"no flow {flow_name!r} in {file} (flows found: {names})"
            if flow_name
            else f"no FlowSpec subclass in {file}"
        )
    try:
        steps, structure = output_steps(flow)
    except GraphStructureError as error:
        for diagnostic in flow_file.diagnostics:
            if diagnostic.severity == "error":
                click.echo(_format_diagnostic(diagnostic), err=True)
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps({"graph": steps, "graph_structure": structure}, indent=4))
        return
    click.echo(f"{flow.name} ({os.path.relpath(flow.source_file)}), {len(flow.steps)} steps")
    for line in _tree(steps, structure, ""):
        click.echo(line)


def _describe(info: dict) -> str:
    kind = info["type"]
    extra = ""
    if kind == "split-foreach":
        extra = f" foreach {info['foreach_artifact']!r}"
    elif kind == "split-parallel":
        extra = f" num_parallel={info['num_parallel']}"
    elif kind == "split-switch":
        cases = ", ".join(f"{k!r}: {v}" for k, v in info["switch_cases"].items())
        extra = f" on {info['condition']!r} {{{cases}}}"
    decorators = "".join(f" @{d['name']}" for d in info["decorators"])
    return f"{info['name']}  [{kind}{extra}]  line {info['line']}{decorators}"


def _tree(steps: dict, structure: list, indent: str) -> list[str]:
    """graph_structure as an indented tree: branches of a split one level deeper."""
    out: list[str] = []
    for item in structure:
        if isinstance(item, str):
            out.append(f"{indent}{_describe(steps[item])}")
            continue
        for i, branch in enumerate(item):
            last = i == len(item) - 1
            lines = _tree(steps, branch, "")
            for j, text in enumerate(lines):
                lead = ("└─ " if last else "├─ ") if j == 0 else ("   " if last else "│  ")
                out.append(f"{indent}{lead}{text}")
    return out


def _format_diagnostic(d: object) -> str:
    data = d.to_json()  # type: ignore[attr-defined]
    path = os.path.relpath(data["file"]) if not data["file"].startswith("..") else data["file"]
    return f"{path}:{data['line']}:{data['column']}: {data['severity']}: {data['message']} [{data['code']}]"


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of diagnostics.")
def check(files: tuple[str, ...], as_json: bool) -> None:
    """Report every structural error of the flows in FILES at once (exit status 1 on errors)."""
    from .flow import analyze_path

    diagnostics = []
    for file in files:
        diagnostics.extend(analyze_path(file).diagnostics)
    if as_json:
        click.echo(json.dumps([d.to_json() for d in diagnostics], indent=2))
    else:
        for d in diagnostics:
            click.echo(_format_diagnostic(d))
        errors = sum(1 for d in diagnostics if d.severity == "error")
        warnings = sum(1 for d in diagnostics if d.severity == "warning")
        click.echo(f"{errors} error(s), {warnings} warning(s) in {len(files)} file(s)", err=True)
    sys.exit(1 if any(d.severity == "error" for d in diagnostics) else 0)


@main.command()
@click.option(
    "--tcp", "tcp", metavar="HOST:PORT", help="Listen on TCP instead of stdio (for debugging)."
)
def serve(tcp: str | None) -> None:
    """Run the language server (stdio by default)."""
    from .lsp.server import create_server

    server = create_server()
    if tcp:
        host, _, port = tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()


_RUN_STATUSES = ["running", "succeeded", "failed", "stale", "unknown"]


def _open_store(directory: str | None, flow_or_file: str | None = None) -> tuple[RunStore, str]:
    """A RunStore for `--dir` (default: the flow file's directory, else the current one)."""
    from .runs import RunStore

    flow = flow_or_file or ""
    if flow_or_file and flow_or_file.endswith(".py") and os.path.isfile(flow_or_file):
        from .flow import analyze_path

        found = analyze_path(flow_or_file).flow(None)
        if found is None:
            raise click.ClickException(f"no FlowSpec subclass in {flow_or_file}")
        flow = found.name
        directory = directory or os.path.dirname(os.path.abspath(flow_or_file))
    return RunStore(directory or os.getcwd()), flow


@main.command()
@click.argument("flow")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, newest first.")
@click.option("--limit", default=20, show_default=True, help="How many runs to show.")
@click.option("--user", help="Only runs by this user.")
@click.option("--tag", help="Only runs with this tag (user or system tag).")
@click.option("--status", type=click.Choice(_RUN_STATUSES), help="Only runs with this status.")
@click.option("--spin", is_flag=True, help="List `spin --persist` results instead of runs.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    help="Where to look for .metaflow (default: the current directory, or FLOW's if a file).",
)
def runs(
    flow: str,
    as_json: bool,
    limit: int,
    user: str | None,
    tag: str | None,
    status: str | None,
    spin: bool,
    directory: str | None,
) -> None:
    """List the runs of FLOW (a flow name or a flow file) with status, user, age and duration."""
    from .runs import RunStoreError
    from .runs.text import runs_table

    store, flow_name = _open_store(directory, flow)
    try:
        if spin:
            found, _ = store.spin_runs(flow_name, limit=limit)
        else:
            found, _ = store.list_runs(
                flow_name,
                user=user,
                tag=tag,
                status=status,  # type: ignore[arg-type]
                limit=limit,
            )
    except RunStoreError as error:
        raise click.ClickException(str(error)) from None
    for note in store.notes():
        click.echo(f"note: {note}", err=True)
    if as_json:
        keys = ("run_id", "pathspec", "status", "user", "tags", "started_at", "finished_at")
        out = []
        for run in found:
            out.append({k: getattr(run, k) for k in keys})
            for k in ("started_at", "finished_at"):
                value = out[-1][k]
                out[-1][k] = value.isoformat() if value else None
            out[-1]["tags"] = list(run.tags)
        click.echo(json.dumps(out, indent=2))
        return
    if not found:
        click.echo(f"no {'spin results' if spin else 'runs'} of {flow_name} found", err=True)
        return
    for line in runs_table(found):
        click.echo(line)
    for run in found:
        for message in run.errors:
            click.echo(f"{run.pathspec}: {message}", err=True)


@main.command()
@click.argument("pathspec")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--tail", default=20, show_default=True, help="Log lines to show for a task.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    help="Where to look for .metaflow (default: the current directory).",
)
@click.option(
    "--value",
    "values",
    multiple=True,
    metavar="ARTIFACT",
    help="Also preview this artifact's value (loaded by a worker under the flow's Python).",
)
@click.option(
    "--python", "python", help="The flow's interpreter (default: found from the directory)."
)
def show(
    pathspec: str,
    as_json: bool,
    tail: int,
    directory: str | None,
    values: tuple[str, ...],
    python: str | None,
) -> None:
    """Show a run (Flow/run: steps and tasks) or a task (Flow/run/step/task: metadata,
    artifacts, cards and the tail of its logs; --value NAME previews artifact values)."""
    from .runs import RunStoreError, to_json
    from .runs.text import describe_run, describe_task

    store, _ = _open_store(directory)
    depth = len(pathspec.strip("/").split("/"))
    try:
        if depth == 2:
            run = store.get_run(pathspec)
            steps = store.steps(pathspec)
            if as_json:
                click.echo(json.dumps({"run": to_json(run), "steps": to_json(steps)}, indent=2))
            else:
                click.echo("\n".join(describe_run(run, steps)))
            return
        if depth != 4:
            raise RunStoreError(f"{pathspec!r} is neither Flow/run nor Flow/run/step/task")
        task = store.get_task(pathspec)
        artifacts: list | str
        try:
            artifacts = store.artifacts(pathspec)
        except RunStoreError as artifacts_error:
            artifacts = str(artifacts_error)
        logs: list = []
        for stream in ("stdout", "stderr"):
            try:
                logs.append(store.logs(pathspec, stream, offset=-tail))
            except RunStoreError as log_error:
                logs.append(f"{stream}: {log_error}")
        cards = store.cards(pathspec)
    except RunStoreError as error:
        raise click.ClickException(str(error)) from None
    previews = _previews(store, pathspec, values, python) if values else {}
    if as_json:
        out = {
            "task": to_json(task),
            "artifacts": artifacts if isinstance(artifacts, str) else to_json(artifacts),
            "cards": to_json(cards),
            "logs": [c if isinstance(c, str) else to_json(c) for c in logs],
        }
        if values:
            out["values"] = previews
        click.echo(json.dumps(out, indent=2))
        return
    click.echo("\n".join(describe_task(task, artifacts, cards, logs)))
    for name, preview in previews.items():
        click.echo(f"\nself.{name}")
        if "error" in preview:
            click.echo(f"  {preview['error']}")
            continue
        click.echo(f"  {preview.get('type', '')}: {preview.get('summary', '')}")
        for line in str(preview.get("repr", "")).splitlines()[:15]:
            click.echo(f"  {line}")


def _previews(
    store: RunStore, pathspec: str, names: tuple[str, ...], python: str | None
) -> dict[str, dict]:
    """Previews of a task's artifacts, unpickled by a worker under the flow's interpreter."""
    import asyncio
    from pathlib import Path

    from .runs import RunStoreError
    from .worker import Blob, WorkerPool, find_interpreter

    interpreter = find_interpreter(Path(store.flow_dir) / "flow.py", store.flow_dir, python)
    out: dict[str, dict] = {}

    async def load() -> None:
        pool = WorkerPool()
        try:
            worker = pool.get(interpreter, store.flow_dir)
            for name in names:
                try:
                    blob = await asyncio.to_thread(store.read_blob, pathspec, name, 64 << 20)
                except RunStoreError as error:
                    out[name] = {"error": str(error)}
                    continue
                if blob.data is None:
                    out[name] = {"error": f"{name} is larger than 64 MiB; not loaded"}
                    continue
                reply = await worker.preview(
                    Blob(data=blob.data, compressed=False), flow_dir=store.flow_dir
                )
                out[name] = (
                    dict(reply.preview)
                    if reply.ok and reply.preview
                    else {"error": reply.error or "no preview"}
                )
        finally:
            await pool.close()

    if not interpreter.ok:
        return {name: {"error": interpreter.problem or "no Python interpreter"} for name in names}
    asyncio.run(load())
    return out


@main.command()
@click.argument("pathspec", required=False)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    help="Where the flows and their .metaflow are (default: the current directory).",
)
@click.option("--no-browser", is_flag=True, help="Print the URL without opening a browser.")
@click.option("--port", default=0, show_default=True, help="Port on 127.0.0.1 (0: a free one).")
@click.option(
    "--python", "python", help="The flow's interpreter (default: found from the directory)."
)
def view(
    pathspec: str | None, directory: str | None, no_browser: bool, port: int, python: str | None
) -> None:
    """Serve the web view (DAG, runs, timeline, tasks) on 127.0.0.1 until interrupted.

    PATHSPEC (Flow, Flow/run, Flow/run/step or Flow/run/step/task, or a flow file) is the
    page to open first. The URL carries a token for this session only."""
    import asyncio
    import signal
    import webbrowser

    from .web.local import LocalHost
    from .web.server import ViewServer

    route = ""
    if pathspec and pathspec.endswith(".py") and os.path.isfile(pathspec):
        from .flow import analyze_path

        found = analyze_path(pathspec).flow(None)
        directory = directory or os.path.dirname(os.path.abspath(pathspec))
        route = f"/{found.name}" if found is not None else ""
    elif pathspec:
        route = "/" + pathspec.strip().strip("/")

    async def serve_view() -> None:
        host = LocalHost(directory or os.getcwd(), python=python)
        server = ViewServer(host)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await server.start(port)
            url = server.url(route)
            click.echo(f"metaflow-lsp view: {url}")
            click.echo("(Ctrl-C to stop)", err=True)
            sys.stdout.flush()
            if not no_browser:
                await asyncio.to_thread(webbrowser.open, url)
            await stop.wait()
        finally:
            await server.stop()
            await host.close()

    try:
        asyncio.run(serve_view())
    except OSError as error:
        raise click.ClickException(f"cannot serve the view: {error}") from None
