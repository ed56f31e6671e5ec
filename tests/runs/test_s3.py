"""The S3 datastore read by the run store: real `--datastore=s3` runs written to moto's S3 server
and compared with Metaflow's Client, and each way S3 fails, as a message within seconds.

With `--datastore=s3` and local metadata, Metaflow writes the task files, logs and blobs to S3
and every `_meta` (registrations, tags, `attempt_ok`, foreach positions) to the local
`.metaflow`. The S3 backend is pointed at a directory with no `.metaflow`: what it shows comes
from S3 alone.
"""

from __future__ import annotations

import gzip
import json
import pickle
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from metaflow_lsp.api.runs import read_card
from metaflow_lsp.runs import MetaflowConfig, NotFoundError, RunStore, RunStoreError, StoreChange
from metaflow_lsp.runs.s3 import S3Backend

from .conftest import FLOWS, Workspace, assert_light_matches_full, make_workspace, metaflow_env

BUCKET = "runs"
SYSROOT = f"s3://{BUCKET}/metaflow"


def aws(endpoint: str, sysroot: str = SYSROOT, **extra: str) -> dict[str, str]:
    """The settings Metaflow and the run store need for the moto server."""
    settings = dict(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        METAFLOW_S3_ENDPOINT_URL=endpoint,
        METAFLOW_DATASTORE_SYSROOT_S3=sysroot,
    )
    return {**settings, **extra}


def client(endpoint: str, key: str = "testing", secret: str = "testing") -> Any:
    """A boto3 S3 client for the test's own setup (the backend makes its own)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
    )


# Metaflow's Client view of a flow's runs (`flows/client_oracle.py` without the cards, whose
# lookup in S3 takes half a minute).
ORACLE = """
import json, sys
from metaflow import Flow, namespace

def ts(value):
    return value.timestamp() if value is not None else None

namespace(None)
out = []
for run in Flow(sys.argv[1]).runs():
    steps = {}
    for step in run:
        steps[step.id] = {
            task.id: {
                "attempt": task.current_attempt,
                "successful": task.successful,
                "finished": task.finished,
                "finished_at": ts(task.finished_at),
                "index": task.index,
                "artifacts": {a.id: a.sha for a in task},
                "stdout": [line for _, line in task.loglines("stdout")],
                "stderr": [line for _, line in task.loglines("stderr")],
            }
            for task in step
        }
    out.append({
        "id": run.id,
        "successful": run.successful,
        "created_at": ts(run.created_at),
        "finished_at": ts(run.finished_at),
        "steps": steps,
    })
json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on a free port of 127.0.0.1."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class S3World:
    """Two S3Flow runs in moto's S3 and the Client's view of them."""

    endpoint: str
    ws: Workspace
    runs: dict[str, str]
    client_view: dict[str, dict[str, Any]]

    def env(self, sysroot: str = SYSROOT, **extra: str) -> dict[str, str]:
        """The environment the runs were made with."""
        return metaflow_env(self.ws.home, **aws(self.endpoint, sysroot, **extra))

    def backend(self, elsewhere: Path, root: str | None = None, **kwargs: Any) -> S3Backend:
        """An S3 backend configured from `elsewhere`, a directory with no `.metaflow`."""
        env = self.env()
        config = MetaflowConfig.resolve(elsewhere, env)
        return S3Backend(config, root=root, environ=env, **kwargs)


@pytest.fixture(scope="session")
def s3_world(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> S3World:
    """A run whose foreach branch succeeds on retry, then a run that fails at its start."""
    client(moto_endpoint).create_bucket(Bucket=BUCKET)
    ws = make_workspace(tmp_path_factory, "s3", FLOWS / "s3_flow.py")
    settings = aws(moto_endpoint)

    def start(**extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, ws.flow_file, "--datastore=s3", "run"],
            cwd=ws.path,
            env=metaflow_env(ws.home, **settings, **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    # The two runs go side by side; the failing one starts once the other has its id.
    retried = start()
    deadline = time.monotonic() + 60
    while not ws.run_ids("S3Flow") and time.monotonic() < deadline:
        time.sleep(0.05)
    runs = {"retried": ws.new_run_id("S3Flow", set())}
    failed = start(FAIL_START="1")
    for proc, ok in ((retried, True), (failed, False)):
        output, _ = proc.communicate(timeout=240)
        assert (proc.returncode == 0) == ok, output
    runs["failed"] = ws.new_run_id("S3Flow", {runs["retried"]})
    proc = subprocess.run(
        [sys.executable, "-c", ORACLE, "S3Flow"],
        cwd=ws.path,
        env=metaflow_env(ws.home, **settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    view = {run["id"]: run for run in json.loads(proc.stdout)}
    return S3World(moto_endpoint, ws, runs, view)


def all_objects(endpoint: str) -> dict[str, tuple[str, Any]]:
    """Every object of every bucket: key -> (ETag, LastModified)."""
    s3 = client(endpoint)
    out = {}
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for obj in page.get("Contents", []):
                out[f"{bucket['Name']}/{obj['Key']}"] = (obj["ETag"], obj["LastModified"])
    return out


def copy_prefix(endpoint: str, source: str, target: str) -> None:
    """Copy every object under `source` to `target` (keys in BUCKET), user metadata included."""
    s3 = client(endpoint)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=source):
        for obj in page.get("Contents", []):
            s3.copy_object(
                Bucket=BUCKET,
                Key=target + obj["Key"][len(source) :],
                CopySource={"Bucket": BUCKET, "Key": obj["Key"]},
            )


def close(ours: Any, seconds: float | None, within: float) -> bool:
    """A datetime and the Client's epoch seconds agree within `within` seconds."""
    if seconds is None:
        return ours is None
    return ours is not None and abs(ours.timestamp() - seconds) <= within


@pytest.mark.slow
def test_runs_steps_tasks_artifacts_and_logs_match_the_client(
    s3_world: S3World, tmp_path: Path
) -> None:
    backend = s3_world.backend(tmp_path)
    assert backend.flows() == ["S3Flow"]
    runs, cursor = backend.list_runs("S3Flow")
    assert cursor is None
    assert [r.run_id for r in runs] == [s3_world.runs["failed"], s3_world.runs["retried"]]
    assert [r.run_id for r in runs] == list(s3_world.client_view)  # the Client's order too
    for run in runs:
        expected = s3_world.client_view[run.run_id]
        assert (run.status == "succeeded") == expected["successful"]
        assert run.source == "s3" and run.errors == ()
        # The run id is the creation time in µs; the Client reads `_meta/_self.json` (ms).
        assert close(run.started_at, expected["created_at"], within=0.5)
        # S3's LastModified has whole seconds: the runtime's record of the end task.
        if expected["finished_at"] is not None:
            assert close(run.finished_at, expected["finished_at"], within=2.0)
        steps = backend.steps(run.pathspec)
        assert {s.step: [t.task_id for t in s.tasks] for s in steps} == {
            step: sorted(tasks, key=int) for step, tasks in expected["steps"].items()
        }
        for step in steps:
            for task in step.tasks:
                want = expected["steps"][step.step][task.task_id]
                assert task.attempt == want["attempt"], task.pathspec
                assert (task.status == "succeeded") == want["successful"], task.pathspec
                if want["finished"]:
                    public = {a.name: a.sha for a in backend.artifacts(task.pathspec)}
                    public = {k: v for k, v in public.items() if not k.startswith("_")}
                    assert public == want["artifacts"], task.pathspec
                for stream in ("stdout", "stderr"):
                    lines = [line.text for line in backend.logs(task.pathspec, stream).lines]
                    assert lines == want[stream], (task.pathspec, stream)
    by_id = {r.run_id: r for r in runs}
    assert by_id[s3_world.runs["failed"]].status == "failed"
    assert [s.step for s in backend.steps(by_id[s3_world.runs["retried"]].pathspec)] == [
        "start",
        "square",
        "join",
        "end",
    ]


@pytest.mark.slow
def test_a_retry_shows_both_attempts_and_each_attempts_log(
    s3_world: S3World, tmp_path: Path
) -> None:
    backend = s3_world.backend(tmp_path)
    pathspec = f"S3Flow/{s3_world.runs['retried']}"
    (square,) = [s for s in backend.steps(pathspec) if s.step == "square"]
    retried = [
        t
        for t in square.tasks
        if "square of 2 attempt 1" in [x.text for x in backend.logs(t.pathspec, "stdout").lines]
    ]
    (task,) = retried
    task = backend.get_task(task.pathspec)
    assert [(a.attempt, a.status, a.return_code) for a in task.attempts] == [
        (0, "failed", 1),
        (1, "succeeded", 0),
    ]
    first, second = task.attempts
    assert first.started_at and second.started_at and first.started_at < second.started_at
    stderr = [x.text for x in backend.logs(task.pathspec, "stderr", attempt=0).lines]
    assert "ValueError: first attempt fails" in stderr and stderr[-1] == "Task failed."
    assert {a.attempt for a in backend.artifacts(task.pathspec)} == {1}


@pytest.mark.slow
def test_blob_values_and_the_compression_flag_from_the_objects_metadata(
    s3_world: S3World, tmp_path: Path
) -> None:
    backend = s3_world.backend(tmp_path)
    run = f"S3Flow/{s3_world.runs['retried']}"
    steps = {s.step: s for s in backend.steps(run)}
    values = []
    for task in steps["square"].tasks:
        (value,) = [a for a in backend.artifacts(task.pathspec) if a.name == "value"]
        assert value.compressed is True and value.encoding == "pickle-v4"
        assert value.blob_path == f"{SYSROOT}/S3Flow/data/{value.sha[:2]}/{value.sha}"
        blob = backend.read_blob(task.pathspec, "value", max_bytes=1000)
        assert blob.data is not None
        values.append(pickle.loads(blob.data))
    assert sorted(values) == [1, 4, 9]
    capped = backend.read_blob(steps["square"].tasks[0].pathspec, "_graph_info", max_bytes=10)
    assert capped.too_large and capped.data is None

    # Metaflow sets the flag in the object's user metadata: a blob stored raw ("cas_raw":
    # true, as Metaflow's transfers write them) is read raw. Made in a copy of the join task.
    s3 = client(s3_world.endpoint)
    join = steps["join"].tasks[0]
    (total,) = [a for a in backend.artifacts(join.pathspec) if a.name == "total"]
    blob_key = str(total.blob_path)[len(f"s3://{BUCKET}/") :]
    head = s3.head_object(Bucket=BUCKET, Key=blob_key)
    assert json.loads(head["Metadata"]["metaflow-user-attributes"]) == {
        "cas_raw": False,
        "cas_version": 1,
    }
    task_key = "/".join(join.pathspec.split("/")[1:])
    copy_prefix(s3_world.endpoint, f"metaflow/S3Flow/{task_key}/", f"raw/S3Flow/{task_key}/")
    raw = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=blob_key)["Body"].read())
    s3.put_object(
        Bucket=BUCKET,
        Key=f"raw/S3Flow/data/{total.sha[:2]}/{total.sha}",
        Body=raw,
        Metadata={"metaflow-user-attributes": json.dumps({"cas_raw": True, "cas_version": 1})},
    )
    copy = s3_world.backend(tmp_path, root=f"s3://{BUCKET}/raw")
    (raw_total,) = [a for a in copy.artifacts(join.pathspec) if a.name == "total"]
    assert raw_total.compressed is False and raw_total.error is None
    assert pickle.loads(copy.read_blob(join.pathspec, "total", 1000).data or b"") == 14
    gone = [a for a in copy.artifacts(join.pathspec) if a.name == "name"]
    assert gone[0].error and "missing" in gone[0].error  # its blob was not copied


@pytest.mark.slow
def test_reading_everything_writes_nothing_and_creates_no_bucket(
    s3_world: S3World, tmp_path: Path
) -> None:
    before = all_objects(s3_world.endpoint)
    backend = s3_world.backend(tmp_path)
    for run in backend.list_runs("S3Flow")[0]:
        for step in backend.steps(run.pathspec):
            for task in step.tasks:
                backend.get_task(task.pathspec)
                if task.status == "succeeded":
                    for artifact in backend.artifacts(task.pathspec):
                        backend.read_blob(task.pathspec, artifact.name, 1 << 20)
                backend.logs(task.pathspec, "stdout")
                backend.logs(task.pathspec, "stderr")
                backend.cards(task.pathspec)
    missing = S3Backend(
        MetaflowConfig.resolve(tmp_path, s3_world.env("s3://no-such-bucket/metaflow")),
        environ=s3_world.env(),
    )
    with pytest.raises(RunStoreError):
        missing.list_runs("S3Flow")
    assert all_objects(s3_world.endpoint) == before


@pytest.mark.slow
def test_the_store_reads_s3_when_metaflow_writes_there(s3_world: S3World, tmp_path: Path) -> None:
    store = RunStore(tmp_path, environ=s3_world.env(METAFLOW_DEFAULT_DATASTORE="s3"))
    assert [b.name for b in store.backends] == ["s3", "local", "spin"]
    assert not any("S3" in note for note in store.notes())  # configured, nothing to say
    latest = store.latest_run("S3Flow")
    assert latest is not None and latest.run_id == s3_world.runs["failed"]
    assert store.get_run(f"S3Flow/{s3_world.runs['retried']}").status == "succeeded"
    task = store.latest_task("S3Flow", "end")
    assert task is not None and task.run_id == s3_world.runs["retried"]
    assert [x.text for x in store.logs(task.pathspec).lines] == ["done"]
    assert store.next_poll_in() is not None
    # Metaflow's own default (local datastore) leaves S3 out, and needs no network.
    assert "s3" not in [b.name for b in RunStore(tmp_path, environ=s3_world.env()).backends]


@pytest.mark.slow
def test_poll_reports_new_runs_and_changed_tasks(s3_world: S3World, tmp_path: Path) -> None:
    run_id = s3_world.runs["retried"]
    copy_prefix(s3_world.endpoint, f"metaflow/S3Flow/{run_id}/", f"polled/S3Flow/{run_id}/")
    backend = s3_world.backend(tmp_path, root=f"s3://{BUCKET}/polled")
    (run,), _ = backend.list_runs("S3Flow")
    (end,) = [s for s in backend.steps(run.pathspec) if s.step == "end"]
    task = end.tasks[0]
    assert [x.text for x in backend.logs(task.pathspec, "stdout").lines] == ["done"]
    assert backend.poll("S3Flow", [run.pathspec]) == []
    assert backend.next_poll_in == 2.0  # nothing changed: the delay grows

    s3 = client(s3_world.endpoint)
    key = f"polled/S3Flow/{run_id}/end/{task.task_id}/0.runtime_stdout.log"
    old = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    line = b"[MFLOG|0|2030-01-01T00:00:00.000000Z|runtime|x]uploaded later\n"
    s3.put_object(Bucket=BUCKET, Key=key, Body=old + line)
    newer = str(int(run_id) + 1_000_000)
    s3.put_object(
        Bucket=BUCKET,
        Key=f"polled/S3Flow/{newer}/_parameters/0/0.attempt.json",
        Body=json.dumps({"time": time.time()}).encode(),
    )
    changes = backend.poll("S3Flow", [run.pathspec])
    assert changes == [
        StoreChange("s3", "S3Flow", run_id, "end", task.task_id),
        StoreChange("s3", "S3Flow", newer),
    ]
    assert backend.next_poll_in == 1.0  # a change: back to the shortest delay
    lines = [x.text for x in backend.logs(task.pathspec, "stdout").lines]
    assert lines == ["done", "uploaded later"]
    assert [r.run_id for r in backend.list_runs("S3Flow")[0]] == [newer, run_id]
    assert backend.poll("S3Flow", [run.pathspec]) == []


# Failures: each a message that says what to do, within the configured timeouts


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def backend_at(tmp_path: Path, endpoint: str, **kwargs: Any) -> S3Backend:
    """An S3 backend for SYSROOT at `endpoint`."""
    env = metaflow_env(tmp_path, **aws(endpoint))
    return S3Backend(MetaflowConfig.resolve(tmp_path, env), environ=env, **kwargs)


def test_an_endpoint_that_is_down(tmp_path: Path) -> None:
    port = free_port()
    backend = backend_at(tmp_path, f"http://127.0.0.1:{port}")
    assert backend.available()  # configured; reachability shows on the first request
    started = time.monotonic()
    with pytest.raises(RunStoreError) as error:
        backend.list_runs("S3Flow")
    assert str(error.value) == (
        f"cannot reach S3 at http://127.0.0.1:{port}: connection refused; "
        "check METAFLOW_S3_ENDPOINT_URL (from environment)"
    )
    with pytest.raises(RunStoreError, match="connection refused"):
        backend.get_task("S3Flow/1/start/1")
    settings = aws(f"http://127.0.0.1:{port}", METAFLOW_DEFAULT_DATASTORE="s3")
    store = RunStore(tmp_path, environ=metaflow_env(tmp_path, **settings))
    with pytest.raises(RunStoreError, match="cannot reach S3"):
        store.list_runs("S3Flow")
    assert time.monotonic() - started < 10


def test_a_missing_bucket(moto_endpoint: str, tmp_path: Path) -> None:
    env = metaflow_env(tmp_path, **aws(moto_endpoint, "s3://no-such-bucket/metaflow"))
    backend = S3Backend(MetaflowConfig.resolve(tmp_path, env), environ=env)
    buckets = client(moto_endpoint).list_buckets()["Buckets"]
    with pytest.raises(RunStoreError) as error:
        backend.list_runs("S3Flow")
    assert str(error.value) == (
        f"the S3 bucket 'no-such-bucket' does not exist at {moto_endpoint}: check "
        "METAFLOW_DATASTORE_SYSROOT_S3 (from environment)"
    )
    with pytest.raises(RunStoreError, match="does not exist"):
        backend.flows()
    assert client(moto_endpoint).list_buckets()["Buckets"] == buckets  # nothing created


def test_a_slow_endpoint_times_out(tmp_path: Path) -> None:
    """A server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        backend = backend_at(tmp_path, f"http://127.0.0.1:{port}", read_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(RunStoreError) as error:
            backend.list_runs("S3Flow")
        elapsed = time.monotonic() - started
        assert str(error.value) == (
            f"S3 at http://127.0.0.1:{port} did not answer within 1s (listing "
            f"{SYSROOT}/S3Flow): the endpoint is slow or is not an S3 server; check "
            "METAFLOW_S3_ENDPOINT_URL (from environment)"
        )
        assert 1.0 <= elapsed < 4.0  # two attempts of one second, no more
    finally:
        stop.set()
        thread.join(timeout=5)
        for sock in held:
            sock.close()
        listener.close()


def set_moto_auth(endpoint: str, count: str) -> None:
    """Make moto enforce IAM after `count` more requests ("inf": never)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.mark.slow
def test_access_denied(s3_world: S3World, tmp_path: Path) -> None:
    """IAM users that may only list the bucket, or nothing: moto enforces their policies."""
    iam = boto3.client(
        "iam",
        endpoint_url=s3_world.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    keys = {}
    for user, actions in (("lister", ["s3:ListBucket"]), ("nobody", [])):
        iam.create_user(UserName=user)
        if actions:
            policy = {"Effect": "Allow", "Action": actions, "Resource": "*"}
            iam.put_user_policy(
                UserName=user,
                PolicyName="read",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [policy]}),
            )
        keys[user] = iam.create_access_key(UserName=user)["AccessKey"]

    def backend_for(user: str) -> S3Backend:
        key = keys[user]
        env = s3_world.env(
            AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"]
        )
        return S3Backend(MetaflowConfig.resolve(tmp_path, env), environ=env)

    task = f"S3Flow/{s3_world.runs['retried']}/end/"
    end_id = s3_world.client_view[s3_world.runs["retried"]]["steps"]["end"]
    task += next(iter(end_id))
    set_moto_auth(s3_world.endpoint, "0")
    try:
        with pytest.raises(RunStoreError) as error:
            backend_for("nobody").list_runs("S3Flow")
        assert str(error.value) == (
            f"access denied listing {SYSROOT}/S3Flow: the AWS credentials (AWS_ACCESS_KEY_ID "
            f"in the environment) lack s3:ListBucket on bucket '{BUCKET}'; ask for read access "
            "to METAFLOW_DATASTORE_SYSROOT_S3 (from environment), or use another AWS_PROFILE"
        )
        lister = backend_for("lister")
        runs, _ = lister.list_runs("S3Flow")  # listing is allowed: the runs show, unread
        assert {r.run_id for r in runs} == set(s3_world.runs.values())
        assert all(r.status == "unknown" and "lack s3:GetObject" in r.errors[0] for r in runs)
        with pytest.raises(RunStoreError, match=r"access denied reading .*lack s3:GetObject"):
            lister.logs(task, "stdout")
    finally:
        set_moto_auth(s3_world.endpoint, "inf")


def test_settings_that_are_missing_or_wrong(tmp_path: Path) -> None:
    env = metaflow_env(tmp_path)
    unset = S3Backend(MetaflowConfig.resolve(tmp_path, env), environ=env)
    assert not unset.available() and unset.list_runs("S3Flow") == ([], None)
    assert "METAFLOW_DATASTORE_SYSROOT_S3 is not set" in unset.describe()
    env = metaflow_env(tmp_path, METAFLOW_DATASTORE_SYSROOT_S3="/data/metaflow")
    wrong = S3Backend(MetaflowConfig.resolve(tmp_path, env), environ=env)
    assert not wrong.available()
    assert "'/data/metaflow' is not an s3://bucket/prefix URL" in wrong.describe()
    schemeless = backend_at(tmp_path, "127.0.0.1:9000")
    with pytest.raises(RunStoreError, match=r"METAFLOW_S3_ENDPOINT_URL .* is not a URL"):
        schemeless.list_runs("S3Flow")


@pytest.mark.slow
def test_light_steps_read_from_s3_listings_agree_with_full_steps(
    s3_world: S3World, tmp_path: Path
) -> None:
    backend = s3_world.backend(tmp_path)
    for label in ("failed", "retried"):
        # LastModified has whole seconds; the files hold the moments to the microsecond.
        assert assert_light_matches_full(backend, f"S3Flow/{s3_world.runs[label]}", 2.0) > 0


@pytest.mark.slow
def test_a_card_stored_in_s3_is_listed_and_read(s3_world: S3World, tmp_path: Path) -> None:
    store = RunStore(tmp_path, environ=s3_world.env(METAFLOW_DEFAULT_DATASTORE="s3"))
    (join,) = [s for s in store.steps(f"S3Flow/{s3_world.runs['retried']}") if s.step == "join"]
    pathspec = join.tasks[0].pathspec
    (card,) = store.cards(pathspec)  # the flow's @card on `join`
    assert card.type == "default" and card.path.startswith(f"s3://{BUCKET}/metaflow/mf.cards/")
    key = card.path[len(f"s3://{BUCKET}/") :]
    body = client(s3_world.endpoint).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert card.hash in key and card.size == len(body)
    shown, html = read_card(store, pathspec, card.hash)
    assert shown == card and html.encode() == body and "<html" in html.lower()
    with pytest.raises(NotFoundError, match="has no card"):
        read_card(store, pathspec, "0" * 40)
