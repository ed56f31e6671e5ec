"""The worker process: timeouts, crashes, stray output, restarts and a clean close."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from metaflow_lsp.worker import (
    ArtifactWorker,
    Interpreter,
    PreviewLimits,
    WorkerPool,
    find_interpreter,
)

from .conftest import PYTHON, metaflow_blob, process_gone


async def wait_gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process_gone(pid):
            return True
        await asyncio.sleep(0.05)
    return process_gone(pid)


async def current_pid(worker: ArtifactWorker) -> int:
    reply = await worker.ping()
    assert reply.ok and reply.result is not None, reply.error
    return int(reply.result["pid"])


async def test_worker_stays_warm(worker: ArtifactWorker) -> None:
    first = await current_pid(worker)
    assert await current_pid(worker) == first
    assert worker.starts == 1


async def test_slow_unpickling_times_out_and_the_group_is_killed(
    worker: ArtifactWorker, write_blob, flowlib: ModuleType, tmp_path: Path
) -> None:
    pid = await current_pid(worker)
    pid_file = tmp_path / "child.pid"
    # A child process the user's code started, and then a 60 s sleep.
    spawn = flowlib.Calls(subprocess.Popen, ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"])
    blob = write_blob((spawn, flowlib.Calls(time.sleep, 60)))
    started = time.monotonic()
    reply = await worker.preview(blob, timeout=2)
    assert time.monotonic() - started < 5
    assert reply.kind == "timeout"
    assert reply.error is not None
    assert reply.error.startswith("loading the artifact took more than 2 s, so it was stopped")
    assert await wait_gone(pid)
    assert await wait_gone(int(pid_file.read_text()))
    assert worker.pid is None
    after = await worker.preview(metaflow_blob([1, 2, 3]))
    assert after.preview is not None and after.preview["summary"] == "list of 3 int"
    assert worker.pid not in (None, pid)
    assert worker.starts == 2


async def test_worker_that_exits_while_unpickling_is_restarted(
    worker: ArtifactWorker, write_blob, flowlib: ModuleType
) -> None:
    pid = await current_pid(worker)
    reply = await worker.preview(write_blob(flowlib.Calls(os._exit, 1)))
    assert reply.kind == "crashed"
    assert reply.error is not None
    assert reply.error.startswith("the artifact worker exited (code 1) while loading the artifact")
    assert process_gone(pid)
    assert await current_pid(worker) != pid


async def test_sys_exit_while_unpickling_is_an_error_not_an_exit(
    worker: ArtifactWorker, write_blob, flowlib: ModuleType
) -> None:
    pid = await current_pid(worker)
    reply = await worker.preview(write_blob(flowlib.Calls(sys.exit, 3)))
    assert reply.kind == "load"
    assert reply.error is not None and reply.error.startswith("cannot load artifact: SystemExit: 3")
    assert await current_pid(worker) == pid


async def test_prints_while_unpickling_do_not_corrupt_the_protocol(
    worker: ArtifactWorker, write_blob, flowlib: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="metaflow_lsp.worker")
    noisy = (
        flowlib.Calls(print, "hello from unpickling"),
        flowlib.Calls(os.write, 1, b"raw write to fd 1\n"),
        flowlib.Calls(input),  # reads stdin: must see EOF, not the protocol
        42,
    )
    pid = await current_pid(worker)
    reply = await worker.preview(write_blob(noisy))
    assert reply.kind == "load"  # input() raised EOFError
    assert reply.error is not None and "EOFError" in reply.error
    quiet = await worker.preview(write_blob(noisy[:2] + (42,)))
    assert quiet.preview is not None
    assert quiet.preview["summary"] == "tuple of 3 items: None, int"
    assert await current_pid(worker) == pid
    await worker.close()
    assert "hello from unpickling" in caplog.text
    assert "raw write to fd 1" in caplog.text


async def test_oversized_answer_is_refused(write_blob, flow_dir: Path) -> None:
    worker = ArtifactWorker(PYTHON, flow_dir, max_response_bytes=4096)
    try:
        reply = await worker.preview(
            write_blob(["x" * 1000] * 50), limits=PreviewLimits(max_items=50, max_chars=5000)
        )
        assert reply.kind == "too_large"
        assert reply.error is not None and "response limit" in reply.error
        assert (await worker.ping()).ok
    finally:
        await worker.close()


async def test_concurrent_requests_are_serialised(worker: ArtifactWorker) -> None:
    blobs = [metaflow_blob(list(range(n))) for n in range(1, 9)]
    replies = await asyncio.gather(*(worker.preview(blob) for blob in blobs))
    assert [reply.preview["length"] for reply in replies if reply.preview] == list(range(1, 9))
    assert worker.starts == 1


async def test_a_cancelled_request_does_not_confuse_the_next(
    worker: ArtifactWorker, write_blob, flowlib: ModuleType
) -> None:
    slow = write_blob((flowlib.Calls(time.sleep, 1), "slow"))
    task = asyncio.create_task(worker.preview(slow))
    await asyncio.sleep(0.5)
    task.cancel()
    reply = await worker.preview(metaflow_blob("fast"))
    assert reply.preview is not None and reply.preview["repr"] == "'fast'"


async def test_close_leaves_no_process(flow_dir: Path) -> None:
    worker = ArtifactWorker(PYTHON, flow_dir)
    pid = await current_pid(worker)
    await worker.close()
    assert process_gone(pid)
    closed = await worker.preview(metaflow_blob(1))
    assert closed.kind == "closed"


async def test_close_kills_a_busy_worker(worker: ArtifactWorker, write_blob, flowlib) -> None:
    pid = await current_pid(worker)
    task = asyncio.create_task(worker.preview(write_blob(flowlib.Calls(time.sleep, 60))))
    await asyncio.sleep(0.5)
    started = time.monotonic()
    await worker.close()
    assert time.monotonic() - started < 5
    assert process_gone(pid)
    reply = await task
    assert reply.kind == "closed"


async def test_missing_interpreter_is_a_message(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    interpreter = find_interpreter(flow, tmp_path, environ={"PATH": str(tmp_path)}, home=tmp_path)
    worker = ArtifactWorker(interpreter, tmp_path)
    reply = await worker.preview(metaflow_blob(1))
    assert reply.kind == "no_interpreter"
    assert reply.error == (
        f"no Python interpreter found for {flow}: create a .venv or set metaflow-lsp.python"
    )


async def test_interpreter_that_cannot_run_the_agent(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'python: this is not python' >&2\nexit 3\n")
    fake.chmod(0o755)
    worker = ArtifactWorker(Interpreter(fake, "test"), tmp_path)
    reply = await worker.ping()
    assert reply.kind == "start"
    assert reply.error == (
        f"the artifact worker could not start under {fake} (test); "
        "its last message: python: this is not python"
    )
    await worker.close()


def pyenv_python(version: str) -> Path | None:
    """A real interpreter of `version` (not a pyenv shim), if this machine has one."""
    pyenv = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    if pyenv:
        return pyenv[0]
    found = shutil.which(f"python{version}")
    return Path(found) if found and "shims" not in found else None


def old_python() -> Path | None:
    """Python 3.8, the oldest the agent supports."""
    return pyenv_python("3.8")


@pytest.mark.skipif(pyenv_python("3.7") is None, reason="no Python 3.7 on this machine")
async def test_too_old_interpreter_says_so(tmp_path: Path) -> None:
    python = pyenv_python("3.7")
    worker = ArtifactWorker(python or "", tmp_path)
    reply = await worker.preview(metaflow_blob(1))
    assert reply.kind == "start"
    assert reply.error == f"{python} is Python 3.7; artifact previews need Python 3.8 or newer"
    await worker.close()


@pytest.mark.skipif(old_python() is None, reason="no Python 3.8 on this machine")
async def test_agent_runs_under_python_3_8(write_blob, flowlib: ModuleType, flow_dir: Path) -> None:
    python = old_python()
    assert python is not None
    worker = ArtifactWorker(python, flow_dir)
    try:
        ping = await worker.ping()
        assert ping.result is not None and ping.result["python"].startswith("3.8.")
        value = {"points": [flowlib.Point(1, 2.0)], "text": "é" * 3000, "when": (1, None)}
        reply = await worker.preview(write_blob(value))
        assert reply.preview is not None, reply.error
        assert reply.preview["summary"] == "dict of 3 items"
        assert reply.preview["fields"][0]["summary"] == "list of 1 Point"
        assert reply.preview["fields"][1]["summary"] == "str, 3,000 chars"
    finally:
        await worker.close()


async def test_pool_shares_a_worker_per_interpreter(flow_dir: Path, tmp_path: Path) -> None:
    pool = WorkerPool()
    interpreter = Interpreter(PYTHON, "test venv")
    first = pool.get(interpreter, flow_dir)
    assert pool.get(Interpreter(PYTHON, "again"), tmp_path) is first
    pids = [await current_pid(first)]
    other = Interpreter(Path(os.path.realpath(PYTHON)), "resolved")
    if other.path != PYTHON:
        second = pool.get(other, flow_dir)
        assert second is not first
        pids.append(await current_pid(second))
    assert len(pool) == len(pids)
    await pool.close()
    assert all(process_gone(pid) for pid in pids)
    assert len(pool) == 0
