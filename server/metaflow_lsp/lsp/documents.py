"""Open documents and their analyses: one Analyzer, one worker thread, latest version wins.

Edits bump a document's generation and (re)start its analysis loop. The loop analyses the
newest text in the worker thread; a result for a text that changed meanwhile is dropped and
the newest text is analysed instead, so a burst of keystrokes costs at most two analyses.
Requests await the analysis of the current generation. Per document the last clean version
of every step is kept, so that completion and hover keep working on a half-typed step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..flow.analysis import Analyzer
from ..flow.model import Flow, FlowFile, Step
from ..flow.queries import effective_flow
from .convert import UTF16, Lines

log = logging.getLogger(__name__)

T = TypeVar("T")

# Keystrokes arriving within this window are analysed together.
DEBOUNCE_SECONDS = 0.03
# A request waits this long for the analysis of the current text, then uses the last one.
WAIT_SECONDS = 20.0


@dataclass(slots=True)
class Snapshot:
    """One finished analysis of a document's text."""

    uri: str
    path: str
    version: int | None
    generation: int
    text: str
    flow_file: FlowFile
    lines: Lines
    effective: dict[str, Flow]  # flow name -> the flow with broken steps from clean analyses

    def flow_at(self, line: int) -> Flow | None:
        """The flow whose class contains the 1-based `line`."""
        return self.flow_file.flow_at(line)

    def best_effort(self, flow: Flow) -> Flow:
        """The flow with each step that does not parse now taken from its last clean version."""
        return self.effective.get(flow.name, flow)


@dataclass(eq=False)
class _Document:
    uri: str
    path: str
    text: str
    version: int | None
    generation: int = 0
    snapshot: Snapshot | None = None
    clean: dict[str, dict[str, Step]] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    debounce: bool = False
    wanted: asyncio.Event = field(default_factory=asyncio.Event)  # a request awaits this text
    closed: bool = False
    failure: str | None = None  # the last analysis error reported, until one succeeds


@dataclass(slots=True)
class _Result:
    flow_file: FlowFile
    clean: dict[str, dict[str, Step]]
    effective: dict[str, Flow]


class DocumentStore:
    """The open documents, the Analyzer shared by all of them and the thread it runs in."""

    def __init__(
        self,
        on_analysed: Callable[[Snapshot], Awaitable[None]],
        on_error: Callable[[str, BaseException], None],
    ) -> None:
        self._docs: dict[str, _Document] = {}
        self._by_path: dict[str, _Document] = {}
        self._on_analysed = on_analysed
        self._on_error = on_error
        # The Analyzer and the flow model's caches are not thread-safe: one worker only.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metaflow-analysis")
        self.analyzer = Analyzer([], overlay=self._overlay)
        self.encoding: str = UTF16

    # -- documents -----------------------------------------------------------------------------

    def _overlay(self, path: str) -> str | None:
        doc = self._by_path.get(path)
        return doc.text if doc is not None else None

    def open(self, uri: str, path: str, text: str, version: int | None) -> None:
        """A document was opened: analyse it now."""
        doc = _Document(uri, os.path.abspath(path), text, version)
        old = self._docs.get(uri)
        if old is not None:
            old.closed = True
        self._docs[uri] = doc
        self._by_path[doc.path] = doc
        self._touch(doc, debounce=False)
        self._invalidate_dependents(doc.path)

    def change(self, uri: str, text: str, version: int | None) -> None:
        """A document changed: analyse its newest text soon."""
        doc = self._docs.get(uri)
        if doc is None:
            return
        doc.text = text
        doc.version = version
        self._touch(doc, debounce=True)
        self._invalidate_dependents(doc.path)

    def saved(self, uri: str) -> None:
        """A document was saved: it and the files that inherit from it are analysed again."""
        doc = self._docs.get(uri)
        if doc is not None:
            self._touch(doc, debounce=False)
            self._invalidate_dependents(doc.path)

    def close(self, uri: str) -> None:
        """A document was closed: forget it (other files now read it from disk)."""
        doc = self._docs.pop(uri, None)
        if doc is None:
            return
        doc.closed = True
        doc.ready.set()
        if self._by_path.get(doc.path) is doc:
            del self._by_path[doc.path]
        if doc.task is not None:
            doc.task.cancel()
        self._executor.submit(self.analyzer.forget, doc.path)
        self._invalidate_dependents(doc.path)

    def set_roots(self, roots: list[str]) -> None:
        """The workspace folders changed: resolve imports against `roots` and re-analyse."""
        resolved = [os.path.abspath(r) for r in roots]

        def apply() -> None:
            self.analyzer.roots = resolved

        self._executor.submit(apply)
        for doc in list(self._docs.values()):
            self._touch(doc, debounce=False)

    def _invalidate_dependents(self, path: str) -> None:
        """Analyse again the open documents whose flows inherit from the file at `path`."""
        for other in list(self._docs.values()):
            if other.path == path or other.snapshot is None:
                continue
            if any(_uses_file(flow, path) for flow in other.snapshot.flow_file.flows):
                self._touch(other, debounce=True)

    def _touch(self, doc: _Document, debounce: bool) -> None:
        doc.generation += 1
        doc.debounce = doc.debounce or debounce
        doc.ready.clear()
        if doc.task is None or doc.task.done():
            doc.task = asyncio.get_running_loop().create_task(self._analyse_loop(doc))

    # -- analysis ------------------------------------------------------------------------------

    async def _analyse_loop(self, doc: _Document) -> None:
        loop = asyncio.get_running_loop()
        while not doc.closed:
            generation, text = doc.generation, doc.text
            if doc.snapshot is not None and doc.snapshot.generation == generation:
                doc.ready.set()
                return
            if doc.debounce:
                doc.debounce = False
                # Wait for more keystrokes, unless a request is already waiting for this text.
                if not doc.wanted.is_set():
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(doc.wanted.wait(), DEBOUNCE_SECONDS)
                if doc.generation != generation:
                    continue
            doc.wanted.clear()
            try:
                result = await loop.run_in_executor(
                    self._executor, self._analyse, doc.path, text, doc.clean
                )
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # Report a failure once, not on every keystroke that repeats it.
                frames = traceback.extract_tb(error.__traceback__)
                where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
                signature = f"{type(error).__name__} at {where}"
                if doc.failure != signature:
                    doc.failure = signature
                    self._on_error(f"analysis of {doc.path} failed", error)
                if doc.generation == generation:
                    doc.ready.set()  # requests use the previous analysis
                    return
                continue
            if doc.closed:
                return
            if doc.generation != generation:
                continue  # the text changed meanwhile: drop this result
            doc.clean = result.clean
            doc.failure = None
            snapshot = Snapshot(
                doc.uri,
                doc.path,
                doc.version,
                generation,
                text,
                result.flow_file,
                Lines(text, self.encoding),
                result.effective,
            )
            doc.snapshot = snapshot
            doc.ready.set()
            try:
                await self._on_analysed(snapshot)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._on_error(f"publishing the analysis of {doc.path} failed", error)

    def _analyse(self, path: str, text: str, clean: dict[str, dict[str, Step]]) -> _Result:
        """Runs in the worker thread."""
        flow_file = self.analyzer.analyze(path, text)
        has_errors = bool(flow_file.syntax_errors)
        new_clean: dict[str, dict[str, Step]] = dict(clean) if has_errors else {}
        effective: dict[str, Flow] = {}
        for flow in flow_file.flows:
            if has_errors:
                steps = dict(clean.get(flow.name, {}))
                steps.update((n, s) for n, s in flow.steps.items() if s.syntax_error is None)
            else:
                steps = dict(flow.steps)
            new_clean[flow.name] = steps
            effective[flow.name] = effective_flow(flow, steps, has_errors)
        return _Result(flow_file, new_clean, effective)

    # -- queries -------------------------------------------------------------------------------

    async def snapshot(self, uri: str) -> Snapshot | None:
        """The analysis of the document's current text (waits for it), or None if not open."""
        doc = self._docs.get(uri)
        if doc is None:
            return None
        if not doc.ready.is_set():
            doc.wanted.set()
        try:
            await asyncio.wait_for(doc.ready.wait(), WAIT_SECONDS)
        except asyncio.TimeoutError:
            log.warning("analysis of %s is late; answering from the previous one", doc.path)
        return doc.snapshot

    def latest_generation(self, uri: str) -> int | None:
        """The generation of the document's current text (None when it is not open)."""
        doc = self._docs.get(uri)
        return doc.generation if doc is not None else None

    def snapshots(self) -> list[Snapshot]:
        """The latest analysis of every open document (without waiting)."""
        return [d.snapshot for d in self._docs.values() if d.snapshot is not None]

    def open_paths(self) -> set[str]:
        """Paths of the open documents."""
        return set(self._by_path)

    def uri_of(self, path: str) -> str | None:
        """The URI the client opened `path` with, if it is open."""
        doc = self._by_path.get(os.path.abspath(path))
        return doc.uri if doc is not None else None

    async def lines_of(self, path: str) -> Lines | None:
        """The lines of a file as the editor has it (open) or as it is on disk."""
        path = os.path.abspath(path)
        doc = self._by_path.get(path)
        if doc is not None:
            return Lines(doc.text, self.encoding)
        text = await asyncio.to_thread(_read_text, path)
        return Lines(text, self.encoding) if text is not None else None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in the analysis thread (it may use `self.analyzer`)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def shutdown(self) -> None:
        """Stop the analysis thread after the running job."""
        for doc in self._docs.values():
            if doc.task is not None:
                doc.task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _uses_file(flow: Flow, path: str) -> bool:
    return any(s.source_file == path for s in flow.steps.values()) or any(
        p.source_file == path for p in flow.parameters
    )


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError as error:
        log.warning("cannot read %s: %s", path, error)
        return None
