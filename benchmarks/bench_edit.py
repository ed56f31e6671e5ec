"""Edit-to-fresh-results latency on generated flows of ~100, ~1,000 and ~5,000 lines.

For each size, in the same run:
  - in-process: `Analyzer.analyze` after a one-character edit inside a step (p50 / p95), and
    after inserting a line (which moves every step below it);
  - through the server: `textDocument/didChange` -> `textDocument/documentSymbol` reply,
    over stdio with a real LSP client (pygls), p50 / p95;
  - baselines: a naive full libcst parse with positions (PositionProvider) of the whole file,
    and Metaflow's own `python flow.py output-raw --json` in a subprocess.
Prints a Markdown table; ratios are baseline / ours (higher is better for us).

    .venv/bin/python benchmarks/bench_edit.py [--sizes 100,1000,5000] [--edits 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from genflow import generate

from metaflow_lsp.flow.analysis import Analyzer


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


def _edits(text: str, count: int, seed: int) -> list[tuple[str, int, int, str]]:
    """Typing edits: (new_text, line, column, inserted) inside assignment lines of steps."""
    rnd = random.Random(seed)
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if "self.v" in line and " + " in line]
    out = []
    for k in range(count):
        i = rnd.choice(candidates)
        col = lines[i].index(" + ") + 3
        inserted = f"{k % 10} + "
        lines[i] = lines[i][:col] + inserted + lines[i][col:]
        out.append(("\n".join(lines), i, col, inserted))
    return out


def _line_inserts(text: str, count: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    lines = text.split("\n")
    out = []
    for _ in range(count):
        i = rnd.choice([j for j, line in enumerate(lines) if "self.v" in line and " + " in line])
        lines.insert(i, lines[i].replace("self.v", "self.w", 1))
        out.append("\n".join(lines))
    return out


def in_process(path: str, text: str, edits: int) -> dict[str, float]:
    analyzer = Analyzer([os.path.dirname(path)])
    t0 = time.perf_counter()
    analyzer.analyze(path, text)
    first = time.perf_counter() - t0
    typing: list[float] = []
    for new_text, *_ in _edits(text, edits, 1):
        t0 = time.perf_counter()
        analyzer.analyze(path, new_text)
        typing.append(time.perf_counter() - t0)
    newline: list[float] = []
    for new_text in _line_inserts(text, max(10, edits // 2), 2):
        t0 = time.perf_counter()
        analyzer.analyze(path, new_text)
        newline.append(time.perf_counter() - t0)
    return {
        "open_ms": first * 1000,
        "typing_p50": _pct(typing, 0.5),
        "typing_p95": _pct(typing, 0.95),
        "newline_p50": _pct(newline, 0.5),
        "newline_p95": _pct(newline, 0.95),
    }


async def through_server(path: str, text: str, edits: int) -> dict[str, float]:
    client = LanguageClient("metaflow-lsp-bench", "1")
    await client.start_io(sys.executable, "-m", "metaflow_lsp", "serve")
    uri = Path(path).as_uri()
    try:
        await client.initialize_async(
            lsp.InitializeParams(
                capabilities=lsp.ClientCapabilities(),
                root_uri=Path(path).parent.as_uri(),
                workspace_folders=[
                    lsp.WorkspaceFolder(uri=Path(path).parent.as_uri(), name="bench")
                ],
            )
        )
        client.initialized(lsp.InitializedParams())
        client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
            )
        )
        symbol_params = lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        t0 = time.perf_counter()
        await client.text_document_document_symbol_async(symbol_params)
        first = time.perf_counter() - t0
        times: list[float] = []
        version = 1
        for _, line, col, inserted in _edits(text, edits, 1):
            version += 1
            change = lsp.TextDocumentContentChangePartial(
                range=lsp.Range(start=lsp.Position(line, col), end=lsp.Position(line, col)),
                text=inserted,
            )
            t0 = time.perf_counter()
            client.text_document_did_change(
                lsp.DidChangeTextDocumentParams(
                    text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[change],
                )
            )
            result = await client.text_document_document_symbol_async(symbol_params)
            times.append(time.perf_counter() - t0)
            assert result, "documentSymbol returned nothing"
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
    return {"open_ms": first * 1000, "p50": _pct(times, 0.5), "p95": _pct(times, 0.95)}


def naive_libcst(text: str, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        MetadataWrapper(cst.parse_module(text)).resolve(PositionProvider)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def metaflow_output_raw(path: str, repeats: int = 3) -> float:
    env = dict(os.environ, USERNAME=os.environ.get("USERNAME", "bench"))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, path, "output-raw", "--json"],
            cwd=os.path.dirname(path),
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,300,1000,5000")
    parser.add_argument("--edits", type=int, default=60)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            text = generate(size)
            path = os.path.join(tmp, f"gen_{size}_flow.py")
            Path(path).write_text(text)
            lines = text.count("\n")
            steps = text.count("    @step")
            ours = in_process(path, text, args.edits)
            served = asyncio.run(through_server(path, text, args.edits))
            naive = naive_libcst(text)
            metaflow = metaflow_output_raw(path)
            rows.append((lines, steps, ours, served, naive, metaflow))
            print(f"measured {lines} lines", file=sys.stderr)
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; times in ms; ratio = baseline / ours (p95).\n"
    )
    print(
        "| lines | steps | open (in-process) | edit p50 / p95 (in-process) | new line p50 / p95 | "
        "didChange→documentSymbol p50 / p95 | naive libcst parse+positions | Metaflow output-raw | "
        "naive / ours | Metaflow / ours |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for lines, steps, ours, served, naive, metaflow in rows:
        print(
            f"| {lines} | {steps} | {ours['open_ms']:.0f} | {ours['typing_p50']:.1f} / {ours['typing_p95']:.1f} | "
            f"{ours['newline_p50']:.1f} / {ours['newline_p95']:.1f} | {served['p50']:.1f} / {served['p95']:.1f} | "
            f"{naive:.0f} | {metaflow:.0f} | {naive / served['p95']:.0f}× | {metaflow / served['p95']:.0f}× |"
        )


if __name__ == "__main__":
    main()
