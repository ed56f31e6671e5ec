"""What a run store backend provides: local datastores now, S3 and the metadata service later.

Every method is synchronous and may block on I/O: callers on an event loop run them in a thread.
Failures reading one object raise `RunStoreError` (its message is for the user); damage that
leaves the rest readable is reported in the objects' `errors` / `error` fields instead.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .model import (
    ArtifactInfo,
    BlobData,
    CardInfo,
    LogChunk,
    LogStream,
    RunInfo,
    RunStatus,
    RunStoreError,
    StepInfo,
    StoreChange,
    TaskInfo,
    WatchPlan,
)


@runtime_checkable
class Backend(Protocol):
    """One place Metaflow keeps runs."""

    name: str  # "local", "spin", "s3", "service": shown as the runs' source

    def available(self) -> bool:
        """Whether the backend's datastore exists (a local one appears with the first run)."""
        ...

    def describe(self) -> str:
        """Where the backend reads from, for messages."""
        ...

    def flows(self) -> list[str]:
        """Names of the flows with runs."""
        ...

    def list_runs(
        self,
        flow: str,
        *,
        user: str | None = None,
        tag: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[RunInfo], str | None]:
        """Runs newest first (by creation), filtered; the cursor continues after the last one."""
        ...

    def get_run(self, pathspec: str) -> RunInfo:
        """One run (`Flow/run`); NotFoundError when absent."""
        ...

    def steps(self, pathspec: str, light: bool = False) -> list[StepInfo]:
        """A run's steps with their tasks, in the order they started (`light`: only what a
        timeline or a status needs, where that is cheaper to read)."""
        ...

    def get_task(self, pathspec: str) -> TaskInfo:
        """One task (`Flow/run/step/task`) with all its metadata."""
        ...

    def artifacts(self, pathspec: str, attempt: int | None = None) -> list[ArtifactInfo]:
        """A task's artifact index (values are not loaded)."""
        ...

    def read_blob(
        self, pathspec: str, name: str, max_bytes: int, attempt: int | None = None
    ) -> BlobData:
        """The decompressed bytes of one artifact, up to `max_bytes`."""
        ...

    def logs(
        self,
        pathspec: str,
        stream: LogStream,
        offset: int = 0,
        limit: int | None = None,
        attempt: int | None = None,
    ) -> LogChunk:
        """A page of a task's log lines (negative offset: from the end)."""
        ...

    def cards(self, pathspec: str) -> list[CardInfo]:
        """A task's card files."""
        ...

    def read_card(self, card: CardInfo, max_bytes: int) -> bytes:
        """The bytes of a card that `cards` listed, up to `max_bytes` (+1 to tell it is more)."""
        ...

    def watch_plan(self) -> WatchPlan:
        """The local directories to watch, now (empty for remote backends); blocks on I/O."""
        ...

    def change_for_path(self, path: str) -> StoreChange | None:
        """What a changed file under a watched directory means, or None when it does not
        matter."""
        ...

    def invalidate(self, path: str | None = None) -> None:
        """Forget cached reads under `path` (everything when None)."""
        ...


def split_pathspec(pathspec: str, depth: int) -> list[str]:
    """The `depth` parts of a pathspec (2: run, 4: task); RunStoreError when malformed."""
    parts = pathspec.strip().strip("/").split("/")
    names = {2: "Flow/run", 3: "Flow/run/step", 4: "Flow/run/step/task"}
    if len(parts) != depth or any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise RunStoreError(f"{pathspec!r} is not a {names.get(depth, 'pathspec')} pathspec")
    return parts


def encode_cursor(created_ms: float, run_id: str) -> str:
    """The paging cursor after the run created at `created_ms` with id `run_id`."""
    return f"{created_ms!r}:{run_id}"


def decode_cursor(cursor: str | None) -> tuple[float, str] | None:
    """The (creation, run id) sort key a cursor continues after; RunStoreError when it is not
    one that `encode_cursor` made."""
    if not cursor:
        return None
    created, sep, run_id = cursor.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(created), run_id
    except ValueError:
        raise RunStoreError(
            f"invalid cursor {cursor!r}: pass back the one list_runs gave"
        ) from None
