"""Past runs for the editor: one RunStore per datastore, its watcher, the artifact workers.

The features (hover, code lens, run-failure diagnostics, the `metaflow/*` requests) ask this
service; it runs every blocking store call in its own threads with a timeout, starts a store's
watcher the first time the store is used, caches each flow's run summary until the watcher
says the flow changed (or, for the metadata service and S3, a poll does), and tells the
features' listeners (debounced) what changed. Artifact values are only ever loaded by a worker
under the flow's own interpreter. `shutdown` stops the watchers, the pollers and the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from ..api.context import RunsTimeout
from ..runs import MetaflowConfig, RunInfo, RunStore, RunStoreError, StoreChange
from ..worker import ArtifactWorker, Interpreter, WorkerPool, find_interpreter
from .documents import Snapshot
from .run_facts import FlowRuns, ago, now, summarize

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer

log = logging.getLogger(__name__)
T = TypeVar("T")

IO_TIMEOUT = 15.0  # one store call (a summary scans up to 20 runs)
REFRESH_DELAY = 0.25  # watcher batches arriving within this window make one refresh
STOP_TIMEOUT = 3.0  # for a watcher to stop at shutdown
IDLE_POLL = 30.0  # how often a store without remote backends is asked whether to poll
THREADS = 4

ChangeListener = Callable[[RunStore, set[str]], Awaitable[None]]


@dataclass
class _Summary:
    task: asyncio.Task[FlowRuns]
    wanted: frozenset[str] | None


@dataclass
class _Watcher:
    stop: asyncio.Event
    task: asyncio.Task[None]
    poller: asyncio.Task[None]
    unsubscribe: Callable[[], None]


@dataclass
class SourceClock:
    """When each step's text last changed in this session, and the file's mtime at open."""

    opened_mtime: datetime | None
    hashes: dict[tuple[str, str], int] = field(default_factory=dict)
    steps: dict[tuple[str, str], object] = field(default_factory=dict)  # the Step hashed
    changed_at: dict[tuple[str, str], datetime] = field(default_factory=dict)


class RunsService:
    """Run stores, watchers and artifact workers of one language server."""

    def __init__(self, server: MetaflowLanguageServer) -> None:
        self._server = server
        self._executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="metaflow-runs")
        self._by_dir: dict[str, RunStore] = {}
        self._by_root: dict[str, RunStore] = {}
        self._opening: dict[str, asyncio.Task[RunStore]] = {}
        self._watchers: dict[int, _Watcher] = {}
        self._summaries: dict[tuple[int, str], _Summary] = {}
        self._interpreters: dict[tuple[str, str | None, str | None], Interpreter] = {}
        self._listeners: list[ChangeListener] = []
        self._pending: dict[int, tuple[RunStore, set[str]]] = {}
        self._flush: asyncio.Task[None] | None = None
        self._clocks: dict[str, SourceClock] = {}
        self.pool = WorkerPool()
        self.python_setting: str | None = None
        self.closed = False

    # -- settings

    def configure(self, options: Any) -> None:
        """Read the initialization options: `{"python": "/path/to/python"}`."""
        if isinstance(options, dict):
            nested = options.get("metaflow-lsp")
            source = nested if isinstance(nested, dict) else options
            python = source.get("python")
            self.python_setting = str(python) if python else None
            self._interpreters.clear()

    # -- threads

    async def io(self, fn: Callable[..., T], *args: Any, timeout: float = IO_TIMEOUT) -> T:
        """`fn(*args)` in the store threads; RunsTimeout after `timeout` seconds."""
        if self.closed:
            raise RunsTimeout("the language server is shutting down")
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            name = getattr(fn, "__qualname__", getattr(fn, "__name__", "a store call"))
            raise RunsTimeout(
                f"reading runs took more than {timeout:g} s ({name}); the datastore may be on "
                "a slow or unreachable disk or network: check it, then try again"
            ) from None

    # -- stores

    def store_known(self, path: str) -> RunStore | None:
        """The store already opened for a flow file's directory, without I/O."""
        return self._by_dir.get(os.path.dirname(os.path.abspath(path)))

    async def store_for(self, path: str) -> RunStore:
        """The run store a flow file's runs are in (shared by files using the same datastore)."""
        directory = os.path.dirname(os.path.abspath(path))
        store = self._by_dir.get(directory)
        if store is not None:
            return store
        opening = self._opening.get(directory)
        if opening is None:
            opening = asyncio.ensure_future(self._open(directory))
            self._opening[directory] = opening
            opening.add_done_callback(lambda _: self._opening.pop(directory, None))
        return await asyncio.shield(opening)

    async def _open(self, directory: str) -> RunStore:
        config = await self.io(MetaflowConfig.resolve, directory)
        root = await self.io(config.local_root)
        store = self._by_root.get(root) if root else None
        if store is None:
            store = await self.io(RunStore, directory, config)
            if root:
                self._by_root[root] = store
            self._watch(store)
        self._by_dir[directory] = store
        return store

    def _watch(self, store: RunStore) -> None:
        """Start the store's watcher (once per store, i.e. per datastore root)."""
        if self.closed or id(store) in self._watchers:
            return
        stop = asyncio.Event()
        unsubscribe = store.on_change(lambda changes: self._changed(store, changes))
        task = asyncio.create_task(store.run_watcher(stop))
        task.add_done_callback(self._watcher_ended)
        poller = asyncio.create_task(self._poll(store, stop))
        poller.add_done_callback(self._watcher_ended)
        self._watchers[id(store)] = _Watcher(stop, task, poller, unsubscribe)

    async def _poll(self, store: RunStore, stop: asyncio.Event) -> None:
        """Poll the backends files cannot be watched for (the metadata service, S3), for the
        flows of the open documents, as often as the store says it is worth it."""
        while not stop.is_set():
            try:
                delay = await self.io(store.next_poll_in)
            except (RunsTimeout, RunStoreError) as error:
                log.info("cannot tell when to poll %s: %s", store.flow_dir, error)
                delay = None
            if await _stopped(stop, IDLE_POLL if delay is None else delay):
                return
            if delay is None:
                continue
            flows = {
                flow.name
                for snapshot in self._server.documents.snapshots()
                if self.store_known(snapshot.path) is store
                for flow in snapshot.flow_file.flows
            }
            for flow in sorted(flows):
                try:
                    changes = await self.io(store.poll, flow)
                except (RunsTimeout, RunStoreError) as error:
                    log.info("polling the runs of %s failed: %s", flow, error)
                    continue
                if changes:
                    self._changed(store, changes)

    def _watcher_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self.closed:
            return
        error = task.exception()
        if error is not None:
            from .edge import log_exception

            log_exception(self._server, "watching the Metaflow datastore failed", error)

    async def store_for_flow(self, flow: str, uri_path: str | None = None) -> RunStore | None:
        """The store holding `flow`: the given file's, an open file's that defines the flow,
        else the first workspace folder's that has runs of it (None without any folder)."""
        if uri_path:
            return await self.store_for(uri_path)
        for snapshot in self._server.documents.snapshots():
            if any(f.name == flow for f in snapshot.flow_file.flows):
                return await self.store_for(snapshot.path)
        first: RunStore | None = None
        for root in self._server.workspace_roots():
            store = await self.store_for(os.path.join(root, "__flow__.py"))
            first = first or store
            if flow in await self.io(store.flows):
                return store
        return first

    def flow_file_of(self, flow: str) -> str | None:
        """The path of an open document that defines `flow`."""
        for snapshot in self._server.documents.snapshots():
            if any(f.name == flow for f in snapshot.flow_file.flows):
                return snapshot.path
        return None

    # -- summaries

    def cached_flow_runs(self, path: str, flow: str) -> FlowRuns | None:
        """The flow's summary if it is computed and still valid, without waiting."""
        store = self.store_known(path)
        entry = self._summaries.get((id(store), flow)) if store is not None else None
        if entry is None or not entry.task.done() or entry.task.cancelled():
            return None
        return entry.task.result() if entry.task.exception() is None else None

    async def flow_runs(
        self, path: str, flow: str, steps: Collection[str] | None = None
    ) -> FlowRuns:
        """The flow's recent runs per step (computed once until the watcher sees a change)."""
        store = await self.store_for(path)
        key = (id(store), flow)
        wanted = frozenset(steps) if steps is not None else None
        entry = self._summaries.get(key)
        stale = entry is None or (entry.task.done() and entry.task.exception() is not None)
        if not stale and entry is not None and entry.wanted is not None:
            stale = wanted is None or not wanted <= entry.wanted
        if stale or entry is None:
            task = asyncio.ensure_future(self.io(summarize, store, flow, wanted))
            entry = _Summary(task, wanted)
            self._summaries[key] = entry
        return await asyncio.shield(entry.task)

    # -- workers

    def workspace_root_of(self, path: str) -> str | None:
        """The workspace folder containing `path` (the innermost one)."""
        roots = [r for r in self._server.workspace_roots() if _inside(path, r)]
        return max(roots, key=len) if roots else None

    async def interpreter_for(self, path: str) -> Interpreter:
        """The interpreter the flow file runs under (setting, workspace env, else PATH)."""
        root = self.workspace_root_of(path)
        key = (os.path.dirname(os.path.abspath(path)), root, self.python_setting)
        found = self._interpreters.get(key)
        if found is None:
            found = await self.io(find_interpreter, path, root, self.python_setting)
            self._interpreters[key] = found
        return found

    async def worker_for(self, path: str) -> ArtifactWorker:
        """The warm artifact worker for the flow file's interpreter."""
        interpreter = await self.interpreter_for(path)
        return self.pool.get(interpreter, os.path.dirname(os.path.abspath(path)))

    # -- changes

    def add_listener(self, listener: ChangeListener) -> None:
        """Call `listener(store, flows)` after the watcher saw runs of `flows` change."""
        self._listeners.append(listener)

    def _changed(self, store: RunStore, changes: list[StoreChange]) -> None:
        flows = {c.flow for c in changes}
        for flow in flows:
            self._summaries.pop((id(store), flow), None)
        pending = self._pending.setdefault(id(store), (store, set()))
        pending[1].update(flows)
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._notify())

    async def refresh_now(self, path: str, flows: Collection[str]) -> None:
        """Read the runs of `flows` again now and update the features at once, without waiting
        for the watcher's batch (a run, spin or resume started by the editor just ended)."""
        store = await self.store_for(path)
        await self.io(_forget_reads, store)
        names = set(flows)
        for flow in names:
            self._summaries.pop((id(store), flow), None)
        for listener in list(self._listeners):
            try:
                await listener(store, names)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                from .edge import log_exception

                log_exception(self._server, f"updating after runs of {sorted(names)} ended", error)

    async def _notify(self) -> None:
        while self._pending and not self.closed:
            await asyncio.sleep(REFRESH_DELAY)
            batch, self._pending = self._pending, {}
            for store, flows in batch.values():
                for listener in list(self._listeners):
                    try:
                        await listener(store, flows)
                    except asyncio.CancelledError:
                        raise
                    except Exception as error:
                        from .edge import log_exception

                        log_exception(
                            self._server, f"updating after runs of {sorted(flows)} changed", error
                        )

    # -- source changes

    async def note_analysis(self, snapshot: Snapshot) -> None:
        """Remember when each step's text changed (the first analysis sets the baseline)."""
        clock = self._clocks.get(snapshot.path)
        if clock is None:
            mtime = await self.io(_mtime, snapshot.path)
            clock = self._clocks[snapshot.path] = SourceClock(mtime)
        stamp = now()
        for flow in snapshot.flow_file.flows:
            for step in flow.own_steps:
                key = (flow.name, step.name)
                if clock.steps.get(key) is step:
                    continue  # the model reuses the Step of a statement an edit did not touch
                clock.steps[key] = step
                rng = step.range
                text = "\n".join(
                    snapshot.lines.line(n) for n in range(rng.start.line, rng.end.line + 1)
                )
                digest = hash(text)
                old = clock.hashes.get(key)
                if old is not None and old != digest:
                    clock.changed_at[key] = stamp
                clock.hashes[key] = digest

    def source_note(self, path: str, flow: str, step: str | None, run: RunInfo) -> str | None:
        """Why the code may differ from what `run` ran: the step was edited, the file changed."""
        clock = self._clocks.get(os.path.abspath(path))
        started = run.started_at
        if clock is None or started is None:
            return None
        if step is not None:
            edited = clock.changed_at.get((flow, step))
            if edited is not None and edited > started:
                return f"`{step}` was edited after this run ({ago(edited)})."
        else:
            edits = [t for (f, _), t in clock.changed_at.items() if f == flow and t > started]
            if edits:
                return f"Steps of `{flow}` were edited after this run ({ago(max(edits))})."
        if clock.opened_mtime is not None and clock.opened_mtime > started:
            return "The flow file was modified after this run."
        return None

    # -- shutdown

    async def shutdown(self) -> None:
        """Stop the watchers and the artifact workers; no process is left behind."""
        self.closed = True
        watchers = list(self._watchers.values())
        self._watchers.clear()
        for watcher in watchers:
            watcher.stop.set()
            watcher.unsubscribe()
        tasks = [w.task for w in watchers] + [w.poller for w in watchers]
        if self._flush is not None:
            self._flush.cancel()
            tasks.append(self._flush)
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            for task in late:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*late, return_exceptions=True)
        await self.pool.close()
        self._executor.shutdown(wait=False, cancel_futures=True)


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds`; whether `stop` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), max(0.05, seconds))
    except asyncio.TimeoutError:
        return False
    return True


def _forget_reads(store: RunStore) -> None:
    for backend in store.backends:
        backend.invalidate()


def _mtime(path: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(os.path.getmtime(path), tz=timezone.utc)
    except OSError:
        return None


def _inside(path: str, root: str) -> bool:
    path, root = os.path.abspath(path), os.path.abspath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
