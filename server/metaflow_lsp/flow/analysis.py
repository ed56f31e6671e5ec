"""Incremental analysis of flow files: text in, FlowFile (model + graph + diagnostics) out.

An `Analyzer` keeps, per file, the last text's statement boundaries; a new version is scanned
only around the change and only changed statements are parsed again (parses are cached by
statement text). Base classes in other workspace modules are read from open documents or from
disk, cached by modification time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from .build import ModuleInfo, Resolver, build_file, build_module, module_path_candidates
from .graph import build_graph
from .lint import lint_flow
from .model import Diagnostic, FlowFile
from .segment import SourceLines

log = logging.getLogger(__name__)


@dataclass
class _Loaded:
    stamp: tuple[float, int] | str
    lines: SourceLines
    module: ModuleInfo


class Analyzer:
    """Analyses flow files; keeps what it needs to make the next analysis of a file cheap."""

    def __init__(
        self, roots: list[str] | None = None, overlay: Callable[[str], str | None] | None = None
    ) -> None:
        self.roots = [os.path.abspath(r) for r in (roots or [])]
        # overlay(path) -> the text of an open, possibly unsaved document, else None
        self.overlay = overlay or (lambda path: None)
        self._lines: dict[str, SourceLines] = {}
        self._modules: dict[str, _Loaded] = {}
        self._loading: set[str] = set()
        self.resolver = Resolver(self._load_module)

    # -- other modules of the workspace --------------------------------------------------------

    def _load_module(self, from_path: str, module: str, level: int) -> ModuleInfo | None:
        for candidate in module_path_candidates(from_path, module, level, self.roots):
            if candidate in self._loading:
                continue
            text = self.overlay(candidate)
            if text is not None:
                stamp: tuple[float, int] | str = "overlay:" + str(hash(text))
            else:
                try:
                    st = os.stat(candidate)
                except OSError:
                    continue
                stamp = (st.st_mtime, st.st_size)
            cached = self._modules.get(candidate)
            if cached is not None and cached.stamp == stamp:
                return cached.module
            if text is None:
                try:
                    with open(candidate, encoding="utf-8", errors="replace") as handle:
                        text = handle.read()
                except OSError as error:
                    log.warning("cannot read %s: %s", candidate, error)
                    continue
            self._loading.add(candidate)
            try:
                lines = SourceLines(text, cached.lines if cached else None)
                info = build_module(candidate, lines)
            finally:
                self._loading.discard(candidate)
            self._modules[candidate] = _Loaded(stamp, lines, info)
            return info
        return None

    # -- the file itself -----------------------------------------------------------------------

    def analyze(self, path: str, text: str) -> FlowFile:
        """Model, graph and diagnostics of the file at `path` with content `text`."""
        path = os.path.abspath(path)
        previous = self._lines.get(path)
        lines = SourceLines(text, previous)
        self._lines[path] = lines
        self._loading.add(path)
        try:
            _, flow_file = build_file(path, lines, self.resolver)
        finally:
            self._loading.discard(path)
        diagnostics: list[Diagnostic] = list(flow_file.syntax_errors)
        for flow in flow_file.flows:
            flow.graph = build_graph(flow)
            for diagnostic in lint_flow(flow):
                if diagnostic.file == path:
                    diagnostics.append(diagnostic)
                else:
                    # A problem inside an inherited step: show it on the flow's class name.
                    diagnostics.append(
                        Diagnostic(
                            path,
                            flow.name_range,
                            diagnostic.severity,
                            diagnostic.code,
                            f"{diagnostic.message} (in {os.path.basename(diagnostic.file)}, "
                            f"line {diagnostic.range.start.line})",
                            ((diagnostic.file, diagnostic.range, diagnostic.message),),
                        )
                    )
        diagnostics.sort(key=lambda d: (d.range.start.line, d.range.start.column, d.code))
        flow_file.diagnostics = diagnostics
        return flow_file

    def forget(self, path: str) -> None:
        """Drop what is kept for `path` (the document was closed)."""
        self._lines.pop(os.path.abspath(path), None)


def analyze_path(path: str, roots: list[str] | None = None) -> FlowFile:
    """One-shot analysis of a file on disk (the CLI's entry point)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    analyzer = Analyzer(roots or [os.path.dirname(os.path.abspath(path))])
    return analyzer.analyze(path, text)
