"""The main job's editor part: drive the language server over stdio as an editor would — open
examples/train_flow.py, click `▶ Run flow`, then `⟳ Spin` on the `report` step — and print
what the editor would show: lenses, progress, output lines, final messages, the spin's hover.

    .venv/bin/python scripts/editor_demo.py [--dir examples]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient


def _plain(value: Any) -> Any:
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


async def main(directory: Path) -> int:
    client = LanguageClient("editor-demo", "1")
    flow_file = (directory / "train_flow.py").resolve()
    uri = flow_file.as_uri()

    @client.feature("metaflow/output")
    def output(params: Any) -> None:
        print(f"  │ {params.text}")

    @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def create(params: types.WorkDoneProgressCreateParams) -> None:
        return None

    @client.feature(types.PROGRESS)
    def progress(params: Any) -> None:
        value = _plain(params.value)
        if isinstance(value, dict) and value.get("kind") in ("begin", "end"):
            print(f"  ◆ progress {value['kind']}: {value.get('title') or value.get('message')}")

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def message(params: types.ShowMessageParams) -> None:
        print(f"  ✉ {params.message}")

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def ask(params: types.ShowMessageRequestParams) -> None:
        actions = ", ".join(a.title for a in params.actions or [])
        print(f"  ✉ {params.message} [{actions}]")
        return None

    @client.feature("metaflow/finished")
    def finished(params: Any) -> None:
        return None

    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def refresh(params: None) -> None:
        return None

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def diagnostics(params: types.PublishDiagnosticsParams) -> None:
        return None

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def log(params: types.LogMessageParams) -> None:
        return None

    await client.start_io(sys.executable, "-m", "metaflow_lsp", "serve")
    root = directory.resolve()
    capabilities = types.ClientCapabilities(
        window=types.WindowClientCapabilities(
            work_done_progress=True,
            show_message=types.ShowMessageRequestClientCapabilities(),
            show_document=types.ShowDocumentClientCapabilities(support=False),
        ),
        workspace=types.WorkspaceClientCapabilities(
            code_lens=types.CodeLensWorkspaceClientCapabilities(refresh_support=True)
        ),
    )
    await client.initialize_async(
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options={"python": sys.executable},
        )
    )
    client.initialized(types.InitializedParams())
    text = flow_file.read_text(encoding="utf-8")
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        )
    )

    async def show_lenses() -> None:
        found = await client.text_document_code_lens_async(
            types.CodeLensParams(types.TextDocumentIdentifier(uri=uri))
        )
        by_line: dict[int, list[str]] = {}
        for lens in found or []:
            if lens.command:
                by_line.setdefault(lens.range.start.line, []).append(lens.command.title)
        lines = text.splitlines()
        for line, titles in sorted(by_line.items()):
            below = next(
                (t.strip() for t in lines[line:] if t.strip().startswith(("def ", "class "))), ""
            )
            print(f"  {' | '.join(titles)}\n      {below}")

    async def execute(command: str, argument: dict[str, Any]) -> dict[str, Any]:
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=[argument])
        )
        return dict(_plain(result))

    status = 0
    try:
        print("-- the lenses of train_flow.py")
        await show_lenses()
        print("\n-- ▶ Run flow (metaflow.run)")
        ran = await execute("metaflow.run", {"uri": uri, "wait": True})
        print(f"  = {ran['status']}: {ran['pathspec']}")
        print("\n-- ⟳ Spin on `report` (metaflow.spin, --persist)")
        spun = await execute("metaflow.spin", {"uri": uri, "step": "report", "wait": True})
        print(f"  = {spun['status']}: {spun.get('pathspec')} from {spun.get('source')}")
        print(f"  $ {spun.get('command')}")
        for card in spun.get("cards") or []:
            print(f"  card: {card}")
        line = next(i for i, t in enumerate(text.splitlines()) if "self.summary =" in t)
        hover = await client.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(uri=uri), types.Position(line, 14))
        )
        contents = hover.contents if hover else None
        print("\n-- hover on self.summary (last run and spin result)")
        if isinstance(contents, types.MarkupContent):
            for hover_line in contents.value.split("---", 1)[-1].strip().splitlines():
                print(f"  {hover_line}")
        print("\n-- the lenses after the run")
        await show_lenses()
        status = 0 if ran["status"] == spun["status"] == "succeeded" else 1
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    return status


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent.parent / "examples")
    sys.exit(asyncio.run(main(parser.parse_args().dir)))
