"""Command-line entry points: graph, check, serve."""

from __future__ import annotations

import json
import os
import sys

import click

from . import __version__


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
