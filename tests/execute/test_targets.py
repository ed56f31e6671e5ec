"""Which past run a spin or a resume starts from, on real runs of RunsFlow (one that succeeded,
then one whose `compute` step failed)."""

from __future__ import annotations

import pytest

from metaflow_lsp.execute import TargetError, resume_origin, spin_task
from metaflow_lsp.runs import RunStore

from ..lsp.runs_helpers import RunsWorkspace, runs_workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> RunsWorkspace:
    return runs_workspace(tmp_path_factory)


@pytest.fixture
def store(ws: RunsWorkspace) -> RunStore:
    return RunStore(ws.path, environ=ws.env)


def test_spin_uses_the_newest_run_where_the_step_has_a_task(
    ws: RunsWorkspace, store: RunStore
) -> None:
    failed, ok = ws.runs["failed"], ws.runs["ok"]
    (compute,) = ws.task_ids(failed, "compute")
    # compute failed in the newest run, but its parents finished there: that run it is.
    assert (
        spin_task(store, "RunsFlow", "compute").pathspec == f"RunsFlow/{failed}/compute/{compute}"
    )
    # `end` never ran in the failed run: the run before.
    (end,) = ws.task_ids(ok, "end")
    assert spin_task(store, "RunsFlow", "end").pathspec == f"RunsFlow/{ok}/end/{end}"
    # A join has one task; a foreach step's first task, or the one at an index.
    (join,) = ws.task_ids(failed, "join")
    assert spin_task(store, "RunsFlow", "join").pathspec == f"RunsFlow/{failed}/join/{join}"
    each = ws.task_ids(ok, "each")
    assert spin_task(store, "RunsFlow", "each", run_id=ok).task_id == each[0]
    third = spin_task(store, "RunsFlow", "each", run_id=ok, foreach_index=2)
    assert third.foreach_index == 2 and third.task_id in each
    chosen = spin_task(store, "RunsFlow", "each", run_id=ok, task_id=each[1])
    assert chosen.pathspec == f"RunsFlow/{ok}/each/{each[1]}"


def test_spin_says_what_to_do_when_no_run_fits(ws: RunsWorkspace, store: RunStore) -> None:
    with pytest.raises(TargetError, match=r"step train has no task in the last 2 runs.*▶ Run"):
        spin_task(store, "RunsFlow", "train")
    with pytest.raises(TargetError, match=r"step end did not run in RunsFlow/\d+ \(it ran"):
        spin_task(store, "RunsFlow", "end", run_id=ws.runs["failed"])
    with pytest.raises(TargetError, match="there is no run RunsFlow/123"):
        spin_task(store, "RunsFlow", "end", run_id="123")
    with pytest.raises(TargetError, match="foreach index 7"):
        spin_task(store, "RunsFlow", "each", foreach_index=7)
    with pytest.raises(TargetError, match="no past run to spin"):
        spin_task(store, "OtherFlow", "start")


def test_resume_defaults_to_the_newest_failed_run(ws: RunsWorkspace, store: RunStore) -> None:
    assert resume_origin(store, "RunsFlow").run_id == ws.runs["failed"]
    assert resume_origin(store, "RunsFlow", ws.runs["ok"]).run_id == ws.runs["ok"]
    with pytest.raises(TargetError, match="no run RunsFlow/42"):
        resume_origin(store, "RunsFlow", "42")
    with pytest.raises(TargetError, match="no past run to resume"):
        resume_origin(store, "OtherFlow")
