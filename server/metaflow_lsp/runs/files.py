"""Reading Metaflow's files read-only, with every failure turned into a message.

Nothing here writes, locks or creates anything. `Memo` caches what was read by the file's (or
directory's) modification time, so metadata is re-read only when Metaflow changed it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from .model import RunStoreError

T = TypeVar("T")
Signature = tuple[int, int, int]  # (mtime_ns, size, inode)


def describe_os_error(path: str, error: OSError) -> str:
    """A user-facing sentence for an OS error on `path`."""
    if isinstance(error, FileNotFoundError):
        return f"{path} is missing"
    if isinstance(error, PermissionError):
        return (
            f"permission denied reading {path}: the run store needs read access to Metaflow's "
            "datastore (check the owner and mode of this path)"
        )
    if isinstance(error, IsADirectoryError):
        return f"{path} is a directory, not a file"
    return f"can't read {path}: {error.strerror or error}"


def read_bytes(path: str) -> bytes:
    """The bytes of `path`; RunStoreError with a clear message on failure."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as error:
        raise RunStoreError(describe_os_error(path, error)) from error


def read_json(path: str) -> Any:
    """The parsed JSON in `path`; RunStoreError saying what is wrong with it on failure."""
    return parse_json(read_bytes(path), path)


def parse_json(raw: bytes, path: str) -> Any:
    """The JSON in `raw` (read from `path`); RunStoreError saying what is wrong with it."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise RunStoreError(f"{path} is not UTF-8 text ({error.reason})") from error
    except json.JSONDecodeError as error:
        what = "empty" if not raw.strip() else f"not valid JSON ({error.msg}, char {error.pos})"
        raise RunStoreError(
            f"{path} is {what}: the file is damaged or was cut short while Metaflow wrote it"
        ) from error


def read_json_object(path: str) -> dict[str, Any]:
    """Like read_json, and the value must be a JSON object."""
    value = read_json(path)
    if not isinstance(value, dict):
        raise RunStoreError(f"{path} holds {type(value).__name__}, not a JSON object")
    return value


def list_dir(path: str) -> list[str]:
    """The names in directory `path` (sorted); RunStoreError on failure."""
    try:
        return sorted(os.listdir(path))
    except OSError as error:
        if isinstance(error, NotADirectoryError):
            raise RunStoreError(f"{path} is not a directory") from error
        raise RunStoreError(describe_os_error(path, error)) from error


def list_dir_or_empty(path: str) -> list[str]:
    """The names in `path`, or [] when it does not exist (other errors raise RunStoreError)."""
    try:
        return list_dir(path)
    except RunStoreError as error:
        if isinstance(error.__cause__, FileNotFoundError):
            return []
        raise


def signature(path: str) -> Signature | None:
    """What changes when `path` changes: (mtime_ns, size, inode); None when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def mtime(path: str) -> float | None:
    """Modification time in seconds, None when missing."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


class Memo:
    """A thread-safe cache of values keyed by (key, signature); `invalidate` drops by prefix."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._data: dict[Hashable, tuple[Hashable, Any]] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, key: Hashable, sig: Hashable, compute: Callable[[], T]) -> T:
        """The value cached for `key` if its signature is still `sig`, else `compute()`."""
        with self._lock:
            hit = self._data.get(key)
        if hit is not None and hit[0] == sig:
            value: T = hit[1]
            return value
        value = compute()
        self.put(key, sig, value)
        return value

    def put(self, key: Hashable, sig: Hashable, value: Any) -> None:
        """Remember `value` for `key` under signature `sig`."""
        with self._lock:
            if len(self._data) >= self._max:
                self._data.clear()  # crude bound; entries are cheap to rebuild
            self._data[key] = (sig, value)

    def lookup(self, key: Hashable, sig: Hashable) -> Any | None:
        """The cached value if its signature matches, else None."""
        with self._lock:
            hit = self._data.get(key)
        return hit[1] if hit is not None and hit[0] == sig else None

    def invalidate(self, prefix: str) -> None:
        """Forget every entry whose key (or the key's first item) is a path under `prefix`."""
        with self._lock:
            doomed = [k for k in self._data if _key_path(k).startswith(prefix)]
            for k in doomed:
                del self._data[k]

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()


def _key_path(key: Hashable) -> str:
    if isinstance(key, tuple) and key:
        key = key[0]
    return key if isinstance(key, str) else ""
