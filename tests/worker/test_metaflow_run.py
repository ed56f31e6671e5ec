"""Previews of artifacts from a real Metaflow run, checked against Metaflow's Client API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from metaflow_lsp.worker import ArtifactWorker, Blob, find_interpreter

pytestmark = pytest.mark.slow

FLOW = textwrap.dedent(
    """
    from metaflow import FlowSpec, step
    import pandas as pd

    from models import Model


    class PreviewFlow(FlowSpec):
        @step
        def start(self):
            self.numbers = list(range(120))
            self.frame = pd.DataFrame({"a": range(50), "b": [x * 0.5 for x in range(50)]})
            self.model = Model("ridge", [1.0, 2.0])
            self.letters = ["x", "y", "z"]
            self.next(self.fan, foreach="letters")

        @step
        def fan(self):
            self.doubled = self.input * 2
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        PreviewFlow()
    """
)

MODELS = textwrap.dedent(
    """
    class Model:
        def __init__(self, name, weights):
            self.name = name
            self.weights = weights
    """
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where PreviewFlow has run once with the local datastore."""
    directory = tmp_path_factory.mktemp("mfrun")
    (directory / "flow.py").write_text(FLOW, encoding="utf-8")
    (directory / "models.py").write_text(MODELS, encoding="utf-8")
    env = {
        **os.environ,
        "USERNAME": "tester",
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(directory),
    }
    result = subprocess.run(
        [sys.executable, "flow.py", "run"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return directory


@pytest.fixture(scope="module")
def client_run(run_dir: Path) -> Iterator[object]:
    """The run through Metaflow's Client API, pointed at the run's datastore and put back after."""
    from metaflow import Flow, namespace
    from metaflow import metadata as select_metadata
    from metaflow.client import core
    from metaflow.plugins.datastores.local_storage import LocalStorage

    saved = (core.current_metadata, LocalStorage.datastore_root, core.current_namespace)
    select_metadata(f"local@{run_dir}")
    namespace(None)
    try:
        yield Flow("PreviewFlow").latest_run
    finally:
        core.current_metadata, LocalStorage.datastore_root, core.current_namespace = saved


def artifact_blobs(run_dir: Path, run_id: str, step: str, name: str) -> list[Blob]:
    """The stored blob of artifact `name` in each task of `step`, found through the data index."""
    flow_root = run_dir / ".metaflow" / "PreviewFlow"
    run = flow_root / run_id
    blobs = []
    tasks = [path for path in (run / step).iterdir() if path.name.isdigit()]
    for task in sorted(tasks, key=lambda path: int(path.name)):
        index = max(task.glob("*.data.json"), key=lambda path: int(path.name.split(".")[0]))
        sha = json.loads(index.read_text())["objects"][name]
        blob = flow_root / "data" / sha[:2] / sha
        meta = json.loads(blob.with_name(sha + "_meta").read_text())
        blobs.append(Blob(path=blob, compressed=not meta["cas_raw"]))
    return blobs


@pytest.fixture
async def flow_worker(run_dir: Path) -> AsyncIterator[ArtifactWorker]:
    interpreter = find_interpreter(run_dir / "flow.py", run_dir, str(sys.executable))
    worker = ArtifactWorker(interpreter, run_dir)
    yield worker
    await worker.close()


async def test_artifacts_of_a_real_run_match_the_client_api(
    run_dir: Path, client_run, flow_worker: ArtifactWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = client_run["start"].task
    (numbers_blob,) = artifact_blobs(run_dir, client_run.id, "start", "numbers")
    numbers = await flow_worker.preview(numbers_blob)
    assert numbers.preview is not None, numbers.error
    expected = start["numbers"].data
    assert numbers.preview["summary"] == f"list of {len(expected)} int"
    assert [field["repr"] for field in numbers.preview["fields"]] == [
        repr(item) for item in expected[:20]
    ]

    (frame_blob,) = artifact_blobs(run_dir, client_run.id, "start", "frame")
    frame = await flow_worker.preview(frame_blob)
    assert frame.preview is not None, frame.error
    value = start["frame"].data
    assert frame.preview["shape"] == list(value.shape)
    assert [field["name"] for field in frame.preview["fields"]] == list(value.columns)
    assert frame.preview["repr"] == value.head(10).to_string()

    # The user's class loads because the worker runs in the flow's directory; this test process
    # (like the server) can only load it with that directory put on its path.
    (model_blob,) = artifact_blobs(run_dir, client_run.id, "start", "model")
    model = await flow_worker.preview(model_blob)
    assert model.preview is not None, model.error
    assert model.preview["type"] == "models.Model"
    monkeypatch.syspath_prepend(str(run_dir))
    try:
        expected_model = start["model"].data
    finally:
        sys.modules.pop("models", None)
    assert {f["name"]: f["repr"] for f in model.preview["fields"]} == {
        "name": repr(expected_model.name),
        "weights": repr(expected_model.weights),
    }


async def test_foreach_tasks_in_one_request(
    run_dir: Path, client_run, flow_worker: ArtifactWorker
) -> None:
    replies = await flow_worker.preview_many(
        artifact_blobs(run_dir, client_run.id, "fan", "doubled")
    )
    tasks = sorted(client_run["fan"], key=lambda task: int(task.id))
    assert [reply.preview["repr"] for reply in replies if reply.preview] == [
        repr(task["doubled"].data) for task in tasks
    ]
