"""Metaflow's local datastore (`.metaflow`) and spin datastore (`.metaflow_spin`), read-only.

The layout is read by `DatastoreBackend` (`datastore.py`) over the local filesystem; this module
says where the directories are and what a changed file means for the watcher. `spin --persist`
writes the same layout under `.metaflow_spin` (one step, task id 0, no end step); cards go to
`mf.cards` beside the datastore (see `MetaflowConfig.card_root`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Literal

from .config import MetaflowConfig
from .datastore import NOT_RUNS, DatastoreBackend
from .model import StoreChange, WatchPlan
from .status import QUIET_GRACE_S, ProcessTable
from .storage import LocalStorage


class LocalBackend(DatastoreBackend):
    """Runs in a local (or spin) datastore directory."""

    def __init__(
        self,
        config: MetaflowConfig,
        *,
        kind: Literal["local", "spin"] = "local",
        root: str | None = None,
        processes: ProcessTable | None = None,
        quiet_grace: float = QUIET_GRACE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            LocalStorage(),
            name=kind,
            metadata_in_datastore=True,
            spin=kind == "spin",
            processes=processes,
            quiet_grace=quiet_grace,
            clock=clock,
        )
        self._config = config
        self._explicit_root = root

    # Where

    def root(self) -> str | None:
        """The datastore directory, or None while it does not exist."""
        if self._explicit_root:
            return self._explicit_root if os.path.isdir(self._explicit_root) else None
        if self.spin:
            return self._config.spin_root()
        return self._config.local_root()

    def card_root(self) -> str:
        """Where this datastore's cards are."""
        return self._config.card_root(spin=self.spin)

    def describe(self) -> str:
        """Where runs are read from, for messages."""
        root = self.root()
        if root:
            return f"{self.name} datastore {root}"
        sysroot = "SPIN" if self.spin else "LOCAL"
        dirname = ".metaflow_spin" if self.spin else ".metaflow"
        return (
            f"no {dirname} directory in {self._config.start_dir} or its parents "
            f"(nor METAFLOW_DATASTORE_SYSROOT_{sysroot}); it appears with the first "
            f"`python flow.py {'spin' if self.spin else 'run'}`"
        )

    # Watching

    def watch_plan(self) -> WatchPlan:
        """The datastore root, its flow directories and the card root's, flat: a new flow, a
        new run or a run's first card appears there; the runs in flight and young run
        directories, deep (their tasks' files change until they end)."""
        flat: set[str] = set()
        deep: set[str] = set()
        root = self.root()
        card_root = self.card_root()
        cards = card_root if card_root and os.path.isdir(card_root) else None
        if cards:
            flat.add(cards)
        if root is None:
            return WatchPlan(frozenset(flat), frozenset())
        flat.add(root)
        for flow in self.flow_dirs():
            flow_dir = os.path.join(root, flow)
            flat.add(flow_dir)
            card_flow = os.path.join(cards, flow) if cards else None
            card_runs = os.path.join(card_flow, "runs") if card_flow else None
            flat.update(d for d in (card_flow, card_runs) if d and os.path.isdir(d))
            for run_id in self.live_run_ids(flow):
                deep.add(os.path.join(flow_dir, run_id))
                if card_runs and os.path.isdir(os.path.join(card_runs, run_id)):
                    deep.add(os.path.join(card_runs, run_id))
        return WatchPlan(frozenset(flat), frozenset(deep))

    def change_for_path(self, path: str) -> StoreChange | None:
        """What a file change under the roots means (blob writes and `latest_run` don't count)."""
        card_root = self.card_root()
        if _under(path, card_root):
            parts = os.path.relpath(path, card_root).split(os.sep)
            if len(parts) >= 3 and parts[1] == "runs":
                # <Flow>/runs/<run>/steps/<step>/tasks/<task>/cards/<file>
                step = parts[4] if len(parts) > 4 and parts[3] == "steps" else None
                task = parts[6] if step and len(parts) > 6 and parts[5] == "tasks" else None
                return StoreChange(self.name, parts[0], parts[2], step, task, kind="card")
            return None
        root = self.root()
        if root is None or not _under(path, root):
            return None
        parts = os.path.relpath(path, root).split(os.sep)
        if not parts or parts[0] in (".", ".."):
            return None
        if len(parts) == 1 or parts[1] == "_meta":
            return StoreChange(self.name, parts[0], kind="flow")
        if parts[1] in NOT_RUNS:
            return None  # blobs come with a task's index; `latest_run` is not trusted
        run_id = parts[1]
        step = parts[2] if len(parts) > 2 and parts[2] != "_meta" else None
        task = parts[3] if step and len(parts) > 3 and parts[3] != "_meta" else None
        return StoreChange(self.name, parts[0], run_id, step, task)

    def invalidate(self, path: str | None = None) -> None:
        """Forget cached reads for the task (or run) holding `path` (everything when None)."""
        root = self.root()
        if path is None or root is None or not _under(path, root):
            self._memo.clear()
            return
        parts = os.path.relpath(path, root).split(os.sep)
        keep = 4 if len(parts) >= 4 and "_meta" not in parts[2:4] else 2
        self._memo.invalidate(os.path.join(root, *parts[:keep]))


def _under(path: str, root: str) -> bool:
    root = root.rstrip(os.sep)
    return path == root or path.startswith(root + os.sep)
