"""Starts SleepyFlow as a FlowProcess and waits to be killed (the guard must clean up)."""

import asyncio
import os
import sys

from metaflow_lsp.execute import FlowProcess


async def main() -> None:
    started = asyncio.Event()

    def on_output(stream: str, text: str) -> None:
        if "/nap/" in text and "Task is starting" in text:
            started.set()

    argv = [sys.executable, "sleepy_flow.py", "run"]
    process = FlowProcess(argv, ".", dict(os.environ), on_output)
    await process.start()
    print(process.pid, flush=True)
    await started.wait()
    print("napping", flush=True)
    await asyncio.sleep(600)


asyncio.run(main())
