"""Metaflow's S3 datastore (`--datastore=s3`, METAFLOW_DATASTORE_SYSROOT_S3), read-only, via boto3.

The key layout under the sysroot is the local datastore's (`datastore.py`), read through
`S3Storage` (`s3_storage.py`). The store reads S3 first when METAFLOW_DEFAULT_DATASTORE is `s3`
and the metadata is local; with the metadata service, the service backend reaches S3 through
its datastore resolver (a run's `ds-type` / `ds-root`). What S3 holds and what it does not (Metaflow 2.19, `python flow.py --datastore=s3
run`):

    in S3       every task's `<n>.attempt.json`, `<n>.DONE.lock`, `<n>.data.json` (the artifact
                index), `<n>.runtime`, `<n>.task_begin/_end`, `<n>.<source>_<stream>.log`; the
                blobs in `<Flow>/data/<sha[:2]>/<sha>` with Metaflow's attributes in the object's
                user metadata (`metaflow-user-attributes: {"cas_raw": false, "cas_version": 1}`);
                cards under METAFLOW_CARD_S3ROOT (`<sysroot>/mf.cards`)
    not in S3   every `_meta` (run, step and task registrations, tags, user, `attempt_ok`,
                foreach position, resume origin): the local metadata provider writes them to
                the local `.metaflow`, the service provider to the metadata service

So from S3 alone: run ids and creation times (local metadata's run ids are creation times in
µs), steps, tasks, attempts and their start / end times and success (the runtime's `<n>.runtime`
record), artifact names, shas, types and values, logs and cards. Users, tags, foreach indices and
resume origins need the metadata (the local or service backend).

Cost: a page of runs is one LIST per 1000 runs of the flow, then per run one LIST of its end
step and one GET of the end task's `<n>.runtime`, on a few threads; a run's steps are one LIST per
1000 objects of the run, then a GET or two per task. Every request has connect and read timeouts
and a bounded number of attempts; every failure becomes a `RunStoreError` that names the
endpoint or bucket and the setting to check. Nothing is written and no bucket is created.
Listings are cached until `poll` (or `invalidate`) finds them changed: S3 has no file events, so
the server polls what is on screen, every `next_poll_in` seconds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .config import MetaflowConfig
from .datastore import NOT_RUNS, DatastoreBackend, RunEntry
from .model import RunInfo, RunStatus, RunStoreError, StoreChange, WatchPlan
from .s3_storage import (
    CONNECT_TIMEOUT_S,
    MAX_ATTEMPTS,
    READ_TIMEOUT_S,
    S3Settings,
    S3Storage,
    split_s3_url,
)
from .service import Backoff
from .status import QUIET_GRACE_S, ProcessTable

POLL_RUNNING = 10  # runs last seen running whose trees `poll` re-lists


class S3Backend(DatastoreBackend):
    """Runs in an S3 datastore: METAFLOW_DATASTORE_SYSROOT_S3, or the `root` a run's `ds-root`
    metadata names. Polled, not watched (see `poll`)."""

    log_note = (
        "Metaflow uploads a task's log to S3 when its attempt ends (tasks on AWS Batch or "
        "Kubernetes upload theirs every few seconds while they run)."
    )

    def __init__(
        self,
        config: MetaflowConfig,
        *,
        root: str | None = None,
        environ: Mapping[str, str] | None = None,
        client: Any = None,
        processes: ProcessTable | None = None,
        quiet_grace: float = QUIET_GRACE_S,
        clock: Callable[[], float] = time.time,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        read_timeout: float = READ_TIMEOUT_S,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._config = config
        setting = "METAFLOW_DATASTORE_SYSROOT_S3"
        sysroot = root or config.datastore_sysroot_s3
        root_source = "the run's ds-root metadata" if root else config.source(setting)
        self._sysroot = str(sysroot).rstrip("/") if sysroot else None
        settings = S3Settings(
            endpoint_url=config.s3_endpoint_url or None,
            endpoint_source=config.source("METAFLOW_S3_ENDPOINT_URL"),
            root_setting=setting,
            root_source=root_source,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_attempts=max_attempts,
            environ=dict(os.environ if environ is None else environ),
        )
        self.s3 = S3Storage(settings, client)
        super().__init__(
            self.s3,
            name="s3",
            metadata_in_datastore=False,
            processes=processes,
            quiet_grace=quiet_grace,
            clock=clock,
        )
        self._explicit_card_root = None if root else config.card_s3root
        self._seen_status: dict[str, RunStatus] = {}
        self.backoff = Backoff()

    # Where

    def _problem(self) -> str | None:
        if not self._sysroot:
            return (
                "METAFLOW_DATASTORE_SYSROOT_S3 is not set: set it to the s3://bucket/prefix of "
                "the S3 datastore"
            )
        try:
            split_s3_url(self._sysroot)
        except RunStoreError as error:
            return f"METAFLOW_DATASTORE_SYSROOT_S3 ({self.s3.settings.root_source}): {error}"
        return None

    def root(self) -> str | None:
        """The s3:// sysroot, or None when it is not set (or is not an s3:// URL)."""
        return None if self._problem() else self._sysroot

    def card_root(self) -> str | None:
        """METAFLOW_CARD_S3ROOT, by default `<sysroot>/mf.cards`."""
        root = self.root()
        return self._explicit_card_root or (self.s3.join(root, "mf.cards") if root else None)

    def describe(self) -> str:
        """The sysroot and the endpoint, or what is wrong with the settings."""
        problem = self._problem()
        if problem:
            return problem
        s = self.s3.settings
        endpoint = (
            f"endpoint {s.endpoint_url} (METAFLOW_S3_ENDPOINT_URL from {s.endpoint_source})"
            if s.endpoint_url
            else "AWS S3"
        )
        return f"S3 datastore {self._sysroot} ({s.root_setting} from {s.root_source}; {endpoint})"

    def _run_info(self, flow: str, entry: RunEntry) -> RunInfo:
        info = super()._run_info(flow, entry)
        self._seen_status[info.pathspec] = info.status
        return info

    # Changes: polled, not watched

    def watch_plan(self) -> WatchPlan:
        """Nothing: S3 has no file events (see `poll`)."""
        return WatchPlan()

    def change_for_path(self, path: str) -> StoreChange | None:
        """None: no local file is this backend's."""
        return None

    def invalidate(self, path: str | None = None) -> None:
        """Forget cached listings and reads under `path`: an s3:// URL or a pathspec."""
        root = self.root()
        if path is None or root is None:
            self._memo.clear()
            self.s3.invalidate(None)
            return
        target = path if path.startswith("s3://") else self.s3.join(root, *path.split("/"))
        self._memo.invalidate(target)
        self.s3.invalidate(target)

    @property
    def next_poll_in(self) -> float:
        """Seconds to wait before the next `poll` (grows while nothing changes)."""
        return self.backoff.delay

    def poll(self, flow: str, watched: Sequence[str] = ()) -> list[StoreChange]:
        """What changed in S3 since the listings were cached: runs of `flow` that appeared or
        went (one LIST per 1000 runs), and the tasks that changed in each watched pathspec
        (`Flow/run`, `Flow/run/step` or `Flow/run/step/task`) and in the newest runs last seen
        running (one LIST per 1000 objects of each). Changed listings replace the cached ones,
        so the next reads are fresh. A prefix never read before reports nothing (nothing of it
        is on screen). Call it while something on screen can change, every `next_poll_in`
        seconds; RunStoreError when S3 fails (the delay grows then too)."""
        root = self.root()
        if root is None:
            return []
        try:
            changes = self._poll(root, flow, watched)
        except RunStoreError:
            self.backoff.after(False)
            raise
        self.backoff.after(bool(changes))
        return changes

    def _poll(self, root: str, flow: str, watched: Sequence[str]) -> list[StoreChange]:
        paths = self.s3.refresh(self.s3.join(root, flow), recursive=False)
        running = [p for p, s in self._seen_status.items() if s == "running"]
        targets = [w.strip("/") for w in watched if w.strip("/").split("/")[0] == flow]
        targets += [p for p in sorted(running, reverse=True)[:POLL_RUNNING] if p not in targets]
        for target in targets:
            paths += self.s3.refresh(self.s3.join(root, *target.split("/")), recursive=True)
        out: dict[str, StoreChange] = {}
        for path in paths:
            change = self._change(root, path)
            if change is not None:
                self._memo.invalidate(self.s3.join(root, *change.pathspec.split("/")))
                out.setdefault(change.pathspec, change)
        return [out[k] for k in sorted(out)]

    def _change(self, root: str, path: str) -> StoreChange | None:
        parts = path[len(root) + 1 :].split("/")
        if not parts or not parts[0]:
            return None
        if len(parts) == 1:
            return StoreChange(self.name, parts[0], kind="flow")
        if parts[1] in NOT_RUNS:
            return None  # blobs come with a task's index
        step = parts[2] if len(parts) > 2 and not parts[2].startswith("_") else None
        task = parts[3] if step and len(parts) > 3 else None
        return StoreChange(self.name, parts[0], parts[1], step, task)
