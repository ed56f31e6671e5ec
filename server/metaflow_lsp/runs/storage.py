"""Where a datastore's files are read from: a local directory or an S3 prefix, read-only.

Metaflow lays out its datastore the same way on every storage (`datastore.py` and
`datastore_task.py` read that layout); a `Storage` only lists, stats and reads. Paths are the
storage's own: OS paths for `LocalStorage`, `s3://bucket/key` URLs for `S3Storage` (`s3.py`).
Every failure is a `RunStoreError` whose message says what to do; a missing file is a
`NotFoundError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, NamedTuple, Protocol, TypeVar

from .files import describe_os_error, mtime, parse_json, read_bytes, signature
from .model import NotFoundError, RunStoreError

T = TypeVar("T")
R = TypeVar("R")


class StorageUnavailableError(RunStoreError):
    """Nothing of the storage can be read (unreachable, too slow, no such bucket, credentials
    refused): raised through, where a single unreadable file is only noted in `errors`."""


class Entry(NamedTuple):
    """One name in a directory listing (or a stat's answer); a tuple: listings of 10,000 task
    directories make a hundred thousand of them."""

    name: str
    is_dir: bool
    size: int | None = None
    mtime: float | None = None  # seconds; S3 listings carry it, local listings leave it None
    etag: str | None = None


class Storage(Protocol):
    """Read-only access to a tree of files; nothing here writes or creates anything."""

    kind: str  # "local" or "s3"
    remote: bool  # every call is a network round trip: batch and parallelise

    def join(self, *parts: str) -> str:
        """The path of `parts` joined."""
        ...

    def list(self, path: str) -> list[Entry]:
        """The entries of directory `path` sorted by name; [] when it does not exist."""
        ...

    def stat(self, path: str) -> Entry | None:
        """The file or directory at `path`, None when missing."""
        ...

    def version(self, path: str) -> Hashable:
        """A value that changes when the file, or the directory's listing, changes."""
        ...

    def mtime(self, path: str) -> float | None:
        """The file's modification time (seconds), None when missing."""
        ...

    def last_write(self, path: str) -> float | None:
        """The newest modification (seconds) seen in directory `path`."""
        ...

    def read(self, path: str) -> bytes:
        """The bytes of file `path`; NotFoundError when it is missing."""
        ...

    def open(self, path: str) -> IO[bytes]:
        """A stream of the file's bytes (for blobs read up to a cap); close it after use."""
        ...

    def blob_attributes(self, path: str) -> dict[str, Any] | None:
        """Metaflow's content-addressed-store attributes of a blob (`cas_raw`, `cas_version`),
        None when it has none (an old gzip blob); NotFoundError when the blob is missing."""
        ...

    def invalidate(self, path: str | None = None) -> None:
        """Forget cached listings and reads under `path` (everything when None)."""
        ...


class LocalStorage:
    """A local directory tree (nothing cached here: the backend's memo keys on `version`)."""

    kind = "local"
    remote = False

    def join(self, *parts: str) -> str:
        """`os.path.join`."""
        return os.path.join(*parts)

    def list(self, path: str) -> list[Entry]:
        """The entries of `path` ([] when missing; RunStoreError when unreadable)."""
        try:
            with os.scandir(path) as it:
                found = [Entry(e.name, _is_dir(e)) for e in it]
        except FileNotFoundError:
            return []
        except NotADirectoryError as error:
            raise RunStoreError(f"{path} is not a directory") from error
        except OSError as error:
            raise RunStoreError(describe_os_error(path, error)) from error
        return sorted(found, key=lambda e: e.name)

    def stat(self, path: str) -> Entry | None:
        """os.stat as an Entry; None when missing, RunStoreError when it can't be looked at."""
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            raise RunStoreError(describe_os_error(path, error)) from error
        is_dir = os.path.isdir(path)
        return Entry(os.path.basename(path), is_dir, st.st_size, st.st_mtime)

    def version(self, path: str) -> Hashable:
        """(mtime_ns, size, inode): a directory's mtime changes when a name is added."""
        return signature(path)

    def mtime(self, path: str) -> float | None:
        """One os.stat."""
        return mtime(path)

    def last_write(self, path: str) -> float | None:
        """The directory's modification time."""
        try:
            return os.stat(path).st_mtime
        except OSError:
            return None

    def read(self, path: str) -> bytes:
        """The file's bytes."""
        try:
            return read_bytes(path)
        except RunStoreError as error:
            if isinstance(error.__cause__, FileNotFoundError):
                raise NotFoundError(str(error)) from error.__cause__
            raise

    def open(self, path: str) -> IO[bytes]:
        """The open file."""
        try:
            return open(path, "rb")
        except FileNotFoundError as error:
            raise NotFoundError(describe_os_error(path, error)) from error
        except OSError as error:
            raise RunStoreError(describe_os_error(path, error)) from error

    def blob_attributes(self, path: str) -> dict[str, Any] | None:
        """The blob's `<sha>_meta` file, which LocalStorage writes beside it."""
        if not os.path.exists(path):
            raise NotFoundError(f"{path} is missing")
        try:
            raw = self.read(path + "_meta")
        except NotFoundError:
            return None  # blobs from before Metaflow wrote `_meta` are gzip (v1)
        value = parse_json(raw, path + "_meta")
        return value if isinstance(value, dict) else {}

    def invalidate(self, path: str | None = None) -> None:
        """Nothing is cached here."""


def read_json(storage: Storage, path: str) -> Any:
    """The parsed JSON of `path` in `storage`."""
    return parse_json(storage.read(path), path)


def names(entries: Iterable[Entry], dirs: bool | None = None) -> list[str]:
    """The names of `entries` (only directories, or only files, when `dirs` is given)."""
    return [e.name for e in entries if dirs is None or e.is_dir == dirs]


def parallel_map(
    storage: Storage, fn: Callable[[T], R], items: Sequence[T], workers: int = 16
) -> list[R]:
    """`[fn(x) for x in items]`, in threads when the storage is remote (order kept)."""
    if not storage.remote or len(items) < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False
