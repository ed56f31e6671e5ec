"""Past runs through the language server: latency of the requests the editor and web view make,
and the server's memory with 1,000 runs indexed.

On a datastore made by `gen_runs.py`, starts `metaflow-lsp serve` with a real LSP client
(pygls), opens the flow file, then times:
  - `textDocument/hover` on `self.best` in the join step (the artifact's value from the latest
    run, loaded by the warm worker), p50 / p95;
  - `metaflow/runs` first page (50) and every page of 1,000 runs;
  - `metaflow/run` on the 10,000-task run: as rows (what the timeline asks: status, attempts
    and timings) and as objects (every task's metadata);
and reads the server's RSS from /proc after all 1,000 runs were listed.

    .venv/bin/python benchmarks/bench_server_runs.py DIR [--settle SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(directory: Path, repeats: int, settle: float) -> dict[str, object]:
    flow_file = directory / "bench_flow.py"
    text = flow_file.read_text()
    uri = flow_file.as_uri()
    client = LanguageClient("metaflow-lsp-bench", "1")
    env = dict(os.environ, USERNAME="bench", METAFLOW_HOME=str(directory / ".mfhome"))
    os.environ.update(env)
    await client.start_io(sys.executable, "-m", "metaflow_lsp", "serve")
    assert client._server is not None
    pid = client._server.pid
    out: dict[str, object] = {}
    try:
        await client.initialize_async(
            lsp.InitializeParams(
                capabilities=lsp.ClientCapabilities(),
                root_uri=directory.as_uri(),
                workspace_folders=[lsp.WorkspaceFolder(uri=directory.as_uri(), name="bench")],
            )
        )
        client.initialized(lsp.InitializedParams())
        client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
            )
        )
        lines = text.split("\n")
        line = next(i for i, t in enumerate(lines) if "self.best = " in t)
        col = lines[line].index("self.best") + 6
        params = lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line, col)
        )
        first = time.perf_counter()
        hover = await client.text_document_hover_async(params)
        out["hover_first_ms"] = (time.perf_counter() - first) * 1000
        assert hover is not None and "best" in str(hover.contents), hover
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            await client.text_document_hover_async(params)
            times.append(time.perf_counter() - t0)
        out["hover"] = times
        rss_before = _rss_mb(pid)
        # Opening the file started the lenses' run summary (the 10,000-task run read once);
        # `--settle` waits for the server to be idle before the run list is asked.
        await asyncio.sleep(settle)
        t0 = time.perf_counter()
        page = await client.protocol.send_request_async(
            "metaflow/runs", {"flow": "BenchFlow", "limit": 50, "uri": uri}
        )
        out["page_ms"] = (time.perf_counter() - t0) * 1000
        total = len(page.runs)
        cursor = page.next_cursor
        t0 = time.perf_counter()
        while cursor:
            page = await client.protocol.send_request_async(
                "metaflow/runs", {"flow": "BenchFlow", "limit": 100, "cursor": cursor, "uri": uri}
            )
            total += len(page.runs)
            cursor = page.next_cursor
        out["all_pages_ms"] = (time.perf_counter() - t0) * 1000
        out["runs"] = total
        out["rss_listed_mb"] = _rss_mb(pid)
        latest = (
            await client.protocol.send_request_async(
                "metaflow/runs", {"flow": "BenchFlow", "limit": 1, "uri": uri}
            )
        ).runs[0]
        for shape in ("rows", "objects"):
            request = {"pathspec": latest.pathspec, "uri": uri, "tasks": shape}
            t0 = time.perf_counter()
            run = await client.protocol.send_request_async("metaflow/run", request)
            out[f"run_{shape}_ms"] = (time.perf_counter() - t0) * 1000
            out["tasks"] = sum(len(s.tasks) for s in run.steps)
            t0 = time.perf_counter()
            await client.protocol.send_request_async("metaflow/run", request)
            out[f"run_{shape}_warm_ms"] = (time.perf_counter() - t0) * 1000
            out[f"rss_{shape}_mb"] = _rss_mb(pid)
        out["rss_before_mb"] = rss_before
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--settle", type=float, default=0.0, help="seconds to wait after the hovers (default 0)"
    )
    args = parser.parse_args()
    r = asyncio.run(measure(args.directory.resolve(), args.repeats, args.settle))
    hover = r["hover"]
    assert isinstance(hover, list)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; {r['runs']} runs; ms.\n")
    print("| through the server | result | target |")
    print("|---|---:|---|")
    print(f"| hover on `self.best`, first (worker start) | {r['hover_first_ms']:.0f} | |")
    print(
        f"| hover on `self.best`, warm p50 / p95 | {_ms(hover, 0.5):.1f} / {_ms(hover, 0.95):.1f} | p95 ≤ 100 |"
    )
    print(
        f"| `metaflow/runs` first page of 50 (of {r['runs']}), {args.settle:g} s after the hovers | {r['page_ms']:.0f} | ≤ 100 |"
    )
    print(f"| `metaflow/runs` every other page (100 a page) | {r['all_pages_ms']:.0f} | |")
    print(
        f"| `metaflow/run` with {r['tasks']} tasks as timeline rows, cold / warm | {r['run_rows_ms']:.0f} / {r['run_rows_warm_ms']:.0f} | ≤ 1,000 |"
    )
    print(
        f"| `metaflow/run` with {r['tasks']} tasks as objects (full metadata), cold / warm | {r['run_objects_ms']:.0f} / {r['run_objects_warm_ms']:.0f} | |"
    )
    print(
        f"| server RSS after the hovers / after listing all runs (MB) | {r['rss_before_mb']:.0f} / {r['rss_listed_mb']:.0f} | ≤ 150 |"
    )
    print(
        f"| server RSS after the 10,003-task run as rows / as objects (MB) | {r['rss_rows_mb']:.0f} / {r['rss_objects_mb']:.0f} | |"
    )


if __name__ == "__main__":
    main()
