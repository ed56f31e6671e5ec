"""Where flows are defined: the flow files under some folders, analysed lazily and cached.

Blocking: call from a thread. Files are analysed when they mention `FlowSpec`, again only when
their modification time or size changes.
"""

from __future__ import annotations

import os
import threading

from ..flow import FlowFile, analyze_path

SKIP_DIRS = frozenset(
    {".venv", "venv", "node_modules", ".git", ".metaflow", ".metaflow_spin", "__pycache__"}
    | {".mypy_cache", ".ruff_cache", ".tox", "site-packages", "build", "dist"}
)
MAX_FILES = 5000


class SourceIndex:
    """Flow files under a set of folders, by flow name."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[tuple[float, int], FlowFile | None]] = {}
        self._lock = threading.Lock()

    def flow_files(self, roots: list[str]) -> dict[str, str]:
        """Flow name -> the file defining it (the first found, by path) under `roots`."""
        found: dict[str, str] = {}
        for path in self._paths(roots):
            flow_file = self.analysed(path)
            for flow in flow_file.flows if flow_file is not None else ():
                found.setdefault(flow.name, path)
        return found

    def analysed(self, path: str) -> FlowFile | None:
        """The analysis of one file (None when it defines no flow or cannot be read)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        stamp = (st.st_mtime, st.st_size)
        with self._lock:
            cached = self._files.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        result: FlowFile | None = None
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                mentions = "FlowSpec" in handle.read()
            if mentions:
                result = analyze_path(path)
                if not result.flows:
                    result = None
        except (OSError, ValueError, RecursionError):
            result = None
        with self._lock:
            self._files[path] = (stamp, result)
        return result

    def _paths(self, roots: list[str]) -> list[str]:
        out: list[str] = []
        for root in roots:
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(
                    d
                    for d in dirs
                    if d not in SKIP_DIRS and not d.startswith(".") and not d.endswith(".egg-info")
                )
                for file in sorted(files):
                    if file.endswith(".py"):
                        out.append(os.path.abspath(os.path.join(folder, file)))
                        if len(out) >= MAX_FILES:
                            return out
        return out
