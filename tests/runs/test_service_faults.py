"""A metadata service that is down, refuses, hangs, trickles or answers nonsense: every failure
is a message that says what happened and what to check, within the timeout, never a crash."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from metaflow_lsp.cli import main
from metaflow_lsp.runs import MetaflowConfig, NotFoundError, RunStore, RunStoreError
from metaflow_lsp.runs.service import ServiceBackend, heartbeat_alive

from .conftest import metaflow_env

Reply = Callable[[BaseHTTPRequestHandler], None]


class TinyService:
    """An HTTP server on 127.0.0.1 that answers every GET with `reply`, keeping the headers."""

    def __init__(self, reply: Reply) -> None:
        self.headers: list[dict[str, str]] = []
        seen = self.headers

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append({k.lower(): v for k, v in self.headers.items()})
                reply(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tiny() -> Iterator[Callable[[Reply], TinyService]]:
    """Start TinyServices; all are stopped after the test."""
    started: list[TinyService] = []

    def start(reply: Reply) -> TinyService:
        started.append(TinyService(reply))
        return started[-1]

    yield start
    for service in started:
        service.close()


def answer(status: int, body: bytes, content_type: str = "application/json") -> Reply:
    """A reply with this status and body."""

    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return reply


def env_for(home: Path, url: str, **extra: str) -> dict[str, str]:
    """Metaflow's environment pointing at the service at `url`."""
    return metaflow_env(
        home, METAFLOW_SERVICE_URL=url, METAFLOW_DEFAULT_METADATA="service", **extra
    )


def backend(tmp_path: Path, url: str, timeout: float = 5.0, **extra: str) -> ServiceBackend:
    """A service backend for `url` with a short timeout."""
    config = MetaflowConfig.resolve(tmp_path, env_for(tmp_path, url, **extra))
    return ServiceBackend(config, timeout=timeout)


def free_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_service_that_is_down_says_connection_refused_and_where_the_url_came_from(
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    store = RunStore(tmp_path, environ=env_for(tmp_path, url))
    for call in (
        lambda: store.list_runs("ServiceFlow"),
        lambda: store.get_run("ServiceFlow/12"),
        lambda: store.get_task("ServiceFlow/12/start/3"),
        lambda: store.logs("ServiceFlow/12/start/3"),
        lambda: store.poll("ServiceFlow"),
    ):
        with pytest.raises(RunStoreError) as caught:
            call()
        assert not isinstance(caught.value, NotFoundError)  # not "no such run": unreachable
        assert str(caught.value) == (
            f"cannot reach the Metaflow metadata service at {url}: connection refused (is the "
            "service running?); check METAFLOW_SERVICE_URL (from environment)"
        )
    # The polls back off while it stays down.
    assert store.next_poll_in() == 2.0
    with pytest.raises(RunStoreError):
        store.poll("ServiceFlow")
    assert store.next_poll_in() == 4.0
    # The CLI shows the same sentence, not a traceback.
    result = CliRunner().invoke(
        main, ["runs", "ServiceFlow", "--dir", str(tmp_path)], env=env_for(tmp_path, url)
    )
    assert result.exit_code == 1 and result.exception is not None
    assert "cannot reach the Metaflow metadata service" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_names_the_credentials_settings_and_hides_their_values(
    tmp_path: Path, tiny: Callable[[Reply], TinyService], status: int
) -> None:
    service = tiny(answer(status, b"invalid token"))
    headers = json.dumps({"x-team": "ml"})
    with pytest.raises(RunStoreError) as caught:
        backend(
            tmp_path,
            service.url,
            METAFLOW_SERVICE_HEADERS=headers,
            METAFLOW_SERVICE_AUTH_KEY="s3cret",
        ).list_runs("ServiceFlow")
    message = str(caught.value)
    assert message.startswith(
        f"the Metaflow metadata service at {service.url} refused GET /flows/ServiceFlow/runs "
        f"(HTTP {status} "
    )
    assert "invalid token" in message
    assert "check METAFLOW_SERVICE_HEADERS / METAFLOW_SERVICE_AUTH_KEY (from environment" in message
    assert "s3cret" not in message
    # Metaflow's headers were sent, with the auth key as `x-api-key` (as Metaflow sends it).
    assert service.headers[0]["x-team"] == "ml" and service.headers[0]["x-api-key"] == "s3cret"


def test_a_hanging_service_times_out_within_the_timeout(tmp_path: Path) -> None:
    """It accepts the connection and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
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
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        started = time.monotonic()
        with pytest.raises(RunStoreError) as caught:
            backend(tmp_path, url, timeout=1.0).list_runs("ServiceFlow")
        assert time.monotonic() - started < 3.0
        assert str(caught.value) == (
            f"the Metaflow metadata service at {url} did not answer GET /flows/ServiceFlow/runs "
            "within 1s: it is overloaded, hanging, or the address is wrong; check "
            "METAFLOW_SERVICE_URL (from environment)"
        )
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


def test_a_service_trickling_its_answer_times_out_too(
    tmp_path: Path, tiny: Callable[[Reply], TinyService]
) -> None:
    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(50 << 16))
        handler.end_headers()
        try:
            for _ in range(50):
                handler.wfile.write(b" " * (1 << 16))  # fills the chunk the reader waits for
                handler.wfile.flush()
                time.sleep(0.3)
        except OSError:
            pass  # the client gave up

    service = tiny(trickle)
    started = time.monotonic()
    with pytest.raises(RunStoreError, match="did not answer GET /flows/ServiceFlow/runs within 1s"):
        backend(tmp_path, service.url, timeout=1.0).list_runs("ServiceFlow")
    assert time.monotonic() - started < 3.0


def test_invalid_json_says_the_url_may_not_be_the_metadata_service(
    tmp_path: Path, tiny: Callable[[Reply], TinyService]
) -> None:
    service = tiny(answer(200, b"<html><body>Sign in</body></html>", "text/html"))
    with pytest.raises(RunStoreError) as caught:
        backend(tmp_path, service.url).list_runs("ServiceFlow")
    message = str(caught.value)
    assert message.startswith(
        f"the Metaflow metadata service at {service.url} answered GET /flows/ServiceFlow/runs "
        "with something that is not JSON"
    )
    assert "'<html><body>Sign in</body></html>'" in message
    assert "check that METAFLOW_SERVICE_URL (from environment) is the metadata service's" in message


def test_json_of_the_wrong_shape_and_server_errors_are_messages(
    tmp_path: Path, tiny: Callable[[Reply], TinyService]
) -> None:
    shape = tiny(answer(200, b'{"runs": []}'))
    with pytest.raises(RunStoreError, match="with a dict where Metaflow expects a list"):
        backend(tmp_path, shape.url).list_runs("ServiceFlow")
    failing = tiny(answer(500, b"database is down"))
    with pytest.raises(RunStoreError) as caught:
        backend(tmp_path, failing.url).get_run("ServiceFlow/12")
    assert str(caught.value) == (
        f"the Metaflow metadata service at {failing.url} failed on GET /flows/ServiceFlow/runs/12 "
        "(HTTP 500 Internal Server Error): database is down; try again later, or check the "
        "service's logs"
    )


def test_a_run_the_service_does_not_know_is_not_found_and_the_store_looks_elsewhere(
    tmp_path: Path, tiny: Callable[[Reply], TinyService]
) -> None:
    service = tiny(answer(404, b'{"detail": "Not Found"}'))
    store = RunStore(tmp_path, environ=env_for(tmp_path, service.url))
    assert store.list_runs("ServiceFlow") == ([], None)  # the service never saw the flow
    with pytest.raises(NotFoundError) as caught:
        store.get_run("ServiceFlow/12")
    assert f"metadata service {service.url}" in str(caught.value)  # every place was asked
    assert ".metaflow directory" in str(caught.value)


def test_missing_or_malformed_service_urls(tmp_path: Path) -> None:
    env = metaflow_env(tmp_path, METAFLOW_DEFAULT_METADATA="service")
    store = RunStore(tmp_path, environ=env)
    assert any("METAFLOW_SERVICE_URL is not set" in note for note in store.notes())
    assert store.list_runs("ServiceFlow") == ([], None)  # the local datastore's (none yet)
    with pytest.raises(RunStoreError, match="is not an http:// or https:// address"):
        backend(tmp_path, "127.0.0.1:8080").list_runs("ServiceFlow")
    # Credentials in the URL never show in messages.
    url = f"http://user:secret@127.0.0.1:{free_port()}"
    with pytest.raises(RunStoreError) as caught:
        backend(tmp_path, url).list_runs("ServiceFlow")
    assert "secret" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_heartbeats_decide_whether_an_unfinished_run_is_alive() -> None:
    now = 1_800_000_000.0
    assert heartbeat_alive(now - 5, now, 60, local=False) is True  # beating elsewhere
    assert heartbeat_alive(now - 120, now, 60, local=None) is False  # went quiet: dead
    assert heartbeat_alive(now - 120, now, 60, local=True) is True  # a process here
    assert heartbeat_alive(None, now, 60, local=None) is None  # no heartbeats: can't tell
    assert heartbeat_alive(None, now, 60, local=False) is False
