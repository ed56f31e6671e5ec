"""The runs API's host for `metaflow-lsp view`: one folder's runs and flow files, no editor.

The folder's run store is read in a few threads with a timeout and watched (so a running run's
changes reach the view); artifact values are previewed by a worker under the flow's
interpreter (`--python`, else the folder's environment), never in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..api.context import RunsTimeout
from ..api.sources import SourceIndex
from ..flow import FlowFile
from ..runs import RunStore
from ..worker import ArtifactWorker, Interpreter, WorkerPool, find_interpreter

log = logging.getLogger(__name__)
T = TypeVar("T")

IO_TIMEOUT = 15.0
THREADS = 4


class LocalHost:
    """`ApiHost` over the runs and flow files of one folder."""

    def __init__(
        self,
        directory: str,
        *,
        python: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = os.path.abspath(directory)
        self.python = python
        self._environ = environ
        self._executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="metaflow-view")
        self._stores: dict[str, RunStore] = {}
        self._interpreters: dict[str, Interpreter] = {}
        self._flow_files: dict[str, str] = {}
        self._watchers: list[tuple[asyncio.Event, asyncio.Task[None]]] = []
        self.sources = SourceIndex()
        self.pool = WorkerPool()

    async def io(self, fn: Callable[..., T], *args: Any, timeout: float = IO_TIMEOUT) -> T:
        """`fn(*args)` in the store threads; RunsTimeout after `timeout` seconds."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            name = getattr(fn, "__qualname__", getattr(fn, "__name__", "a store call"))
            raise RunsTimeout(
                f"reading runs took more than {timeout:g} s ({name}); the datastore may be on "
                "a slow or unreachable disk or network: check it, then try again"
            ) from None

    async def _store_at(self, directory: str) -> RunStore:
        store = self._stores.get(directory)
        if store is None:
            store = await self.io(lambda: RunStore(directory, environ=self._environ))
            self._stores[directory] = store
            stop = asyncio.Event()
            task = asyncio.create_task(store.run_watcher(stop))
            task.add_done_callback(_watcher_ended)
            self._watchers.append((stop, task))
        return store

    async def store_for_flow(self, flow: str, uri_path: str | None = None) -> RunStore | None:
        """The folder's store (or the given flow file's folder's)."""
        if uri_path:
            return await self._store_at(os.path.dirname(os.path.abspath(uri_path)))
        return await self._store_at(self.directory)

    async def stores(self, uri_path: str | None = None) -> list[RunStore]:
        """The folder's store."""
        store = await self.store_for_flow("", uri_path)
        return [store] if store is not None else []

    def flow_file_of(self, flow: str) -> str | None:
        """The file defining `flow`, as last found under the folder."""
        return self._flow_files.get(flow)

    async def worker_for(self, path: str) -> ArtifactWorker:
        """The artifact worker for the flow's interpreter (`--python`, else the folder's)."""
        key = os.path.dirname(os.path.abspath(path))
        interpreter = self._interpreters.get(key)
        if interpreter is None:
            interpreter = await self.io(find_interpreter, path, self.directory, self.python)
            self._interpreters[key] = interpreter
        return self.pool.get(interpreter, key)

    async def flow_source(self, flow: str, uri_path: str | None = None) -> FlowFile | None:
        """The analysed file defining `flow` under the folder (or the given file)."""
        path = os.path.abspath(uri_path) if uri_path else (await self.source_flows()).get(flow)
        return await self.io(self.sources.analysed, path) if path else None

    async def source_flows(self, uri_path: str | None = None) -> dict[str, str]:
        """Flows defined in the folder's Python files (or the given file)."""
        if uri_path:
            flow_file = await self.io(self.sources.analysed, os.path.abspath(uri_path))
            return {f.name: flow_file.path for f in flow_file.flows} if flow_file else {}
        found = await self.io(self.sources.flow_files, [self.directory], timeout=60.0)
        self._flow_files = dict(found)
        return found

    async def close(self) -> None:
        """Stop the watchers and the artifact workers."""
        for stop, _ in self._watchers:
            stop.set()
        tasks = [task for _, task in self._watchers]
        self._watchers.clear()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=3.0)
            for task in late:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*late, return_exceptions=True)
        await self.pool.close()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _watcher_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("watching the datastore failed", exc_info=task.exception())
