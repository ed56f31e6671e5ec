"""Damaged datastores: every broken file becomes a message that names it, never a crash."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from metaflow_lsp.cli import main
from metaflow_lsp.runs import RunStore, RunStoreError

from .conftest import Workspace, metaflow_env

pytestmark = pytest.mark.slow


@pytest.fixture
def copy(flaky: Workspace) -> Iterator[Workspace]:
    """A world-readable copy of the FlakyFlow workspace to damage (outside pytest's private
    temp dir, so that a process without root's file access can read it)."""
    path = Path(tempfile.mkdtemp(prefix="mflsp-faults-"))
    os.chmod(path, 0o755)
    shutil.copytree(flaky.path / ".metaflow", path / ".metaflow")
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
    yield Workspace(path, flaky.flow_file, flaky.home, dict(flaky.runs))
    for dirpath, dirnames, _ in os.walk(path):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
    shutil.rmtree(path)


def task_dir(ws: Workspace, label: str, step: str) -> Path:
    """The single task directory of `step` in run `label`."""
    step_dir = ws.path / ".metaflow" / "FlakyFlow" / ws.runs[label] / step
    (task,) = [p for p in step_dir.iterdir() if p.name != "_meta"]
    return task


def blob_of(ws: Workspace, label: str, step: str, name: str) -> Path:
    """The blob file of artifact `name` of that task."""
    store = ws.store()
    task = task_dir(ws, label, step)
    pathspec = f"FlakyFlow/{ws.runs[label]}/{step}/{task.name}"
    (artifact,) = [a for a in store.artifacts(pathspec) if a.name == name]
    assert artifact.blob_path
    return Path(artifact.blob_path)


def pathspec(ws: Workspace, label: str, step: str) -> str:
    """The pathspec of that task."""
    return f"FlakyFlow/{ws.runs[label]}/{step}/{task_dir(ws, label, step).name}"


def test_a_truncated_run_self_json_keeps_the_run_listed_with_the_reason(copy: Workspace) -> None:
    self_json = (
        copy.path / ".metaflow" / "FlakyFlow" / copy.runs["retried"] / "_meta" / "_self.json"
    )
    self_json.write_text(self_json.read_text()[:30])
    runs, _ = copy.store().list_runs("FlakyFlow")
    (broken,) = [r for r in runs if r.run_id == copy.runs["retried"]]
    assert broken.status == "succeeded"  # the tasks still say how it went
    assert broken.user is None and broken.tags == ()
    assert len(broken.errors) == 1
    assert str(self_json) in broken.errors[0] and "cut short" in broken.errors[0]
    assert [r.run_id for r in runs] == [copy.runs[k] for k in ("resumed", "retried", "failed")]
    result = CliRunner().invoke(main, ["runs", "FlakyFlow", "--dir", str(copy.path)])
    assert result.exit_code == 0, result.output
    assert "succeeded!" in result.output and "cut short" in result.output


def test_an_empty_task_self_json_and_status_record(copy: Workspace) -> None:
    start = task_dir(copy, "retried", "start")
    (start / "_meta" / "_self.json").write_text("")
    (ok_file,) = (start / "_meta").glob("sysmeta_attempt_ok_*.json")
    ok_file.write_text('{"value": "Tr')
    task = copy.store().get_task(pathspec(copy, "retried", "start"))
    assert task.created_at is None
    assert any("_self.json is empty" in e for e in task.errors)
    assert any(ok_file.name in e and "not valid JSON" in e for e in task.errors)
    assert task.status == "succeeded"  # from the runtime's record of the process
    run = copy.store().get_run(f"FlakyFlow/{copy.runs['retried']}")
    assert run.status == "succeeded"


def test_an_invalid_artifact_index(copy: Workspace) -> None:
    middle = task_dir(copy, "retried", "middle")
    (middle / "1.data.json").write_text("{not json")
    with pytest.raises(RunStoreError, match=r"1\.data\.json is not valid JSON") as error:
        copy.store().artifacts(pathspec(copy, "retried", "middle"))
    assert "damaged" in str(error.value)
    # The older attempt's index is intact and still readable on request.
    assert copy.store().artifacts(pathspec(copy, "retried", "middle"), attempt=0)
    result = CliRunner().invoke(
        main, ["show", pathspec(copy, "retried", "middle"), "--dir", str(copy.path)]
    )
    assert result.exit_code == 0, result.output
    assert "artifacts: " in result.output and "not valid JSON" in result.output


def test_a_missing_blob(copy: Workspace) -> None:
    blob = blob_of(copy, "retried", "middle", "y")
    blob.unlink()
    store = copy.store()
    spec = pathspec(copy, "retried", "middle")
    (y,) = [a for a in store.artifacts(spec) if a.name == "y"]
    assert y.error and "missing" in y.error and str(blob) in y.error
    with pytest.raises(RunStoreError, match="blob of artifact 'y' is missing"):
        store.read_blob(spec, "y", 1000)
    with pytest.raises(RunStoreError, match="no artifact 'nope'"):
        store.read_blob(spec, "nope", 1000)


def test_a_bad_gzip_blob(copy: Workspace) -> None:
    blob = blob_of(copy, "retried", "start", "x")
    good = blob.read_bytes()
    assert gzip.decompress(good)  # Metaflow's blobs are gzip
    store = copy.store()
    spec = pathspec(copy, "retried", "start")
    blob.write_bytes(b"this is not gzip")
    with pytest.raises(RunStoreError, match="not a valid gzip stream"):
        store.read_blob(spec, "x", 1000)
    blob.write_bytes(good[: len(good) // 2])
    with pytest.raises(RunStoreError, match="truncated or corrupt gzip"):
        store.read_blob(spec, "x", 1000)


def test_unstamped_and_binary_log_lines_are_kept(copy: Workspace) -> None:
    start = task_dir(copy, "retried", "start")
    log = start / "0.runtime_stdout.log"
    log.write_bytes(log.read_bytes() + b"a line without a prefix\n\xff\xfe binary\n")
    lines = copy.store().logs(pathspec(copy, "retried", "start"), "stdout").lines
    assert [line.text for line in lines] == [
        "hello from start",
        "a line without a prefix",
        "\ufffd\ufffd binary",
    ]
    assert lines[0].timestamp is not None and lines[1].timestamp is None


def _as_unprivileged(code: str, cwd: Path) -> dict:
    """Run `code` where file modes apply: as root, without the capabilities that bypass them."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: file modes can't be enforced")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", code],
        cwd=cwd,
        env=metaflow_env(cwd),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_unreadable_directories(copy: Workspace) -> None:
    middle = task_dir(copy, "retried", "middle")
    failed_run = copy.path / ".metaflow" / "FlakyFlow" / copy.runs["failed"]
    os.chmod(middle, 0)
    os.chmod(failed_run, 0)
    code = f"""
import json
from metaflow_lsp.runs import RunStore
store = RunStore({str(copy.path)!r})
runs = {{r.run_id: r for r in store.list_runs("FlakyFlow")[0]}}
steps = {{s.step: s for s in store.steps("FlakyFlow/{copy.runs["retried"]}")}}
task = steps["middle"].tasks[0]
print(json.dumps({{
    "retried": runs["{copy.runs["retried"]}"].status,
    "failed": [runs["{copy.runs["failed"]}"].status, list(runs["{copy.runs["failed"]}"].errors)],
    "task": [task.status, list(task.errors)],
}}))
"""
    out = _as_unprivileged(code, copy.path)
    assert out["retried"] == "succeeded"  # the end task settles it
    status, errors = out["task"]
    assert status == "unknown"
    assert any(f"permission denied reading {middle}" in e for e in errors)
    status, errors = out["failed"]
    assert status == "unknown"
    assert any("permission denied" in e and "read access" in e for e in errors)


def test_a_store_with_no_datastore_says_where_it_looked(tmp_path: Path) -> None:
    store = RunStore(tmp_path, environ={"METAFLOW_HOME": str(tmp_path / "home")})
    assert store.list_runs("AnyFlow") == ([], None)
    assert store.latest_run("AnyFlow") is None
    (note,) = store.notes()
    assert "no .metaflow directory" in note and str(tmp_path) in note
    with pytest.raises(RunStoreError, match="no run AnyFlow/1"):
        store.get_run("AnyFlow/1")
