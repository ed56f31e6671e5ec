"""GET requests to the Metaflow metadata service, every failure turned into a user-facing message.

Standard library only (`urllib.request`): the run store must not need Metaflow's own `requests`.
Every request has a timeout and a deadline for the whole answer, so a service that accepts the
connection and never answers costs at most `timeout` seconds. No retries here: the caller polls
again later (with backoff) and shows the message meanwhile.
"""

from __future__ import annotations

import email.utils
import errno
import http.client
import json
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from .model import NotFoundError, RunStoreError

log = logging.getLogger(__name__)


class ServiceError(RunStoreError):
    """The service failed or could not be reached. `status`: the HTTP status (None when no answer
    came); `fatal`: every further request would fail the same way (down, hanging, refused)."""

    def __init__(self, message: str, status: int | None = None, fatal: bool = False):
        super().__init__(message)
        self.status = status
        self.fatal = fatal


DEFAULT_TIMEOUT_S = 10.0
_CHUNK = 1 << 16
_SNIPPET = 200


class ServiceClient:
    """The metadata service at `url`, with Metaflow's headers (METAFLOW_SERVICE_HEADERS)."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        url_source: str = "unknown",
        headers_source: str = "unknown",
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._headers = {str(k): str(v) for k, v in (headers or {}).items()}
        self._headers.setdefault("Accept", "application/json")
        self._url_source = url_source
        self._headers_source = headers_source
        parts = urllib.parse.urlsplit(self.url)
        # Never show credentials a URL may carry (`http://user:secret@host`).
        host = parts.netloc.rpartition("@")[2]
        self.shown_url = urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))
        self._valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        # Server time minus local time (from the `Date` header), so that heartbeats written in
        # the service's clock are compared with the service's clock.
        self.clock_offset = 0.0

    def server_now(self) -> float:
        """The service's current time in seconds since the epoch (local time if never seen)."""
        return time.time() + self.clock_offset

    def get(self, path: str, query: Mapping[str, str] | None = None) -> Any:
        """The parsed JSON answer to `GET <url><path>`; NotFoundError on 404, else
        RunStoreError saying what went wrong and what to check."""
        if not self._valid:
            raise ServiceError(
                f"METAFLOW_SERVICE_URL ({self.url!r}, from {self._url_source}) is not an "
                "http:// or https:// address: set it to the Metaflow metadata service's URL",
                fatal=True,
            )
        quoted = urllib.parse.quote(path)
        target = self.url + quoted + ("?" + urllib.parse.urlencode(query) if query else "")
        what = f"GET {path}"
        request = urllib.request.Request(target, headers=self._headers, method="GET")
        deadline = time.monotonic() + self.timeout
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = _read_until(response, deadline)
                self._note_date(response.headers.get("Date"))
        except urllib.error.HTTPError as error:
            self._note_date(error.headers.get("Date") if error.headers else None)
            raise self._http_error(error, what) from None
        except urllib.error.URLError as error:
            raise self._unreachable(error.reason, what) from None
        except TimeoutError:
            raise self._timed_out(what) from None
        except (http.client.HTTPException, OSError) as error:
            raise self._unreachable(error, what) from None
        log.debug("%s: %d bytes in %.3fs", what, len(body), time.monotonic() - started)
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            shown = body[:_SNIPPET].decode("utf-8", "replace")
            raise ServiceError(
                f"the Metaflow metadata service at {self.shown_url} answered {what} with "
                f"something that is not JSON ({error}): {shown!r}; check that "
                f"METAFLOW_SERVICE_URL (from {self._url_source}) is the metadata service's "
                "address, not the UI's or a proxy's login page",
                fatal=True,
            ) from None

    # Messages

    def _check_url(self) -> str:
        return f"check METAFLOW_SERVICE_URL (from {self._url_source})"

    def _unreachable(self, reason: object, what: str) -> ServiceError:
        if isinstance(reason, TimeoutError):
            return self._timed_out(what)
        if isinstance(reason, ConnectionRefusedError) or (
            isinstance(reason, OSError) and reason.errno == errno.ECONNREFUSED
        ):
            why = "connection refused (is the service running?)"
        elif isinstance(reason, socket.gaierror):
            why = f"unknown host ({reason.strerror or reason})"
        elif isinstance(reason, (http.client.HTTPException, ConnectionError)):
            why = f"the connection broke during {what} ({type(reason).__name__}: {reason})"
        elif isinstance(reason, OSError):
            why = reason.strerror or str(reason)
        else:
            why = str(reason)
        return ServiceError(
            f"cannot reach the Metaflow metadata service at {self.shown_url}: {why}; "
            f"{self._check_url()}",
            fatal=True,
        )

    def _timed_out(self, what: str) -> ServiceError:
        return ServiceError(
            f"the Metaflow metadata service at {self.shown_url} did not answer {what} within "
            f"{self.timeout:g}s: it is overloaded, hanging, or the address is wrong; "
            f"{self._check_url()}",
            fatal=True,
        )

    def _http_error(self, error: urllib.error.HTTPError, what: str) -> RunStoreError:
        code = error.code
        try:
            body = error.read(_SNIPPET).decode("utf-8", "replace").strip()
        except (OSError, http.client.HTTPException):
            body = ""
        status = f"HTTP {code} {error.reason}".strip()
        detail = f": {body}" if body else ""
        if code == 404:
            return NotFoundError(f"the metadata service at {self.shown_url} has no {what[4:]}")
        if code in (401, 403, 407):
            return ServiceError(
                f"the Metaflow metadata service at {self.shown_url} refused {what} ({status})"
                f"{detail}; check METAFLOW_SERVICE_HEADERS / METAFLOW_SERVICE_AUTH_KEY (from "
                f"{self._headers_source}): the service wants credentials these don't give",
                code,
                fatal=True,
            )
        if code >= 500:
            return ServiceError(
                f"the Metaflow metadata service at {self.shown_url} failed on {what} ({status})"
                f"{detail}; try again later, or check the service's logs",
                code,
            )
        return ServiceError(
            f"the Metaflow metadata service at {self.shown_url} rejected {what} ({status})"
            f"{detail}; {self._check_url()}",
            code,
        )

    def _note_date(self, header: str | None) -> None:
        if not header:
            return
        try:
            server = email.utils.parsedate_to_datetime(header).timestamp()
        except (TypeError, ValueError):
            return
        self.clock_offset = server - time.time()


def _read_until(response: Any, deadline: float) -> bytes:
    """The whole body, or TimeoutError once the deadline passes (a service trickling bytes)."""
    chunks: list[bytes] = []
    while True:
        chunk = response.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took too long")
