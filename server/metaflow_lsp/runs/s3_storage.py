"""S3 behind the run store's `Storage` interface, read-only, via boto3 (`s3.py` uses it).

The client takes the SDK's credential chain (AWS_PROFILE, keys, SSO, instance roles) and
METAFLOW_S3_ENDPOINT_URL, with connect and read timeouts and a bounded number of attempts on every
request. Every failure becomes a `RunStoreError` naming the endpoint or bucket and the setting to
check; those that make the whole storage unreadable (unreachable, too slow, no bucket, refused
credentials) are `StorageUnavailableError`s. Nothing is written and no bucket is created.
Listings are cached until `refresh` or `invalidate`.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import socket
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

from .model import NotFoundError, RunStoreError
from .storage import Entry, StorageUnavailableError

T = TypeVar("T")
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 10.0
MAX_ATTEMPTS = 2  # botocore's "standard" retries: one retry of throttling and transient errors
_USER_ATTRIBUTES = "metaflow-user-attributes"  # S3PutObject metadata (datatools/s3/s3.py)


def split_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key) of `s3://bucket/key`; RunStoreError for anything else."""
    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise RunStoreError(f"{url!r} is not an s3://bucket/prefix URL")
    bucket, _, key = url[5:].partition("/")
    return bucket, key.strip("/")


@dataclass(frozen=True, slots=True)
class S3Settings:
    """How to reach S3, and where each setting came from (for messages)."""

    endpoint_url: str | None = None
    endpoint_source: str = "default"
    root_setting: str = "METAFLOW_DATASTORE_SYSROOT_S3"
    root_source: str = "default"
    connect_timeout: float = CONNECT_TIMEOUT_S
    read_timeout: float = READ_TIMEOUT_S
    max_attempts: int = MAX_ATTEMPTS
    environ: Mapping[str, str] = field(default_factory=dict)


def make_client(settings: S3Settings) -> Any:
    """A boto3 S3 client with the SDK's credential chain (profile, keys, SSO, instance role),
    taking AWS_* from `settings.environ` first, and timeouts on every call."""
    import boto3
    import botocore.session
    from botocore.config import Config

    env = settings.environ
    core = botocore.session.Session()
    for variable, name in (
        ("AWS_CONFIG_FILE", "config_file"),
        ("AWS_SHARED_CREDENTIALS_FILE", "credentials_file"),
        ("AWS_PROFILE", "profile"),
    ):
        if env.get(variable):
            core.set_config_variable(name, env[variable])
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        core.set_credentials(
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN")
        )
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region is None and settings.endpoint_url:
        region = "us-east-1"  # S3-compatible servers want some region to sign with
    session = boto3.session.Session(botocore_session=core, region_name=region)
    config = Config(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"total_max_attempts": settings.max_attempts, "mode": "standard"},
        user_agent_extra="metaflow-lsp",
    )
    return session.client("s3", endpoint_url=settings.endpoint_url or None, config=config)


@dataclass(frozen=True, slots=True)
class _Listing:
    """One prefix's direct children (ListObjectsV2 with Delimiter="/")."""

    files: dict[str, Entry]
    dirs: frozenset[str]
    fingerprint: int

    @classmethod
    def of(cls, files: dict[str, Entry], dirs: Iterable[str]) -> _Listing:
        dirset = frozenset(dirs)
        sig = hash(
            (tuple(sorted((n, e.etag, e.size) for n, e in files.items())), tuple(sorted(dirset)))
        )
        return cls(files, dirset, sig)

    def entries(self) -> list[Entry]:
        out = list(self.files.values()) + [Entry(n, True) for n in self.dirs]
        return sorted(out, key=lambda e: (e.name, e.is_dir))


class _Body(io.RawIOBase):
    """A GetObject body whose read errors become RunStoreErrors."""

    def __init__(self, body: Any, storage: S3Storage, path: str) -> None:
        super().__init__()
        self._body = body
        self._storage = storage
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        data = self._storage.call("reading", self._path, lambda: self._body.read(len(view)))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._body.close()
        finally:
            super().close()


class S3Storage:
    """Read-only S3 (any bucket) behind the `Storage` interface; paths are `s3://` URLs.

    Listings are cached until invalidated or refreshed; reads are not (the backend's memo keys
    them by the listing's ETags)."""

    kind = "s3"
    remote = True

    def __init__(self, settings: S3Settings, client: Any = None) -> None:
        self.settings = settings
        self._client = client
        self._lock = threading.Lock()
        self._lists: dict[str, _Listing] = {}
        self._trees: set[str] = set()  # prefixes whose whole tree is in `_lists`

    # The client and its failures

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (it loads botocore's models: ~0.1 s)."""
        with self._lock:
            if self._client is None:
                try:
                    self._client = make_client(self.settings)
                except ValueError as error:  # botocore's "Invalid endpoint: ..."
                    s = self.settings
                    raise StorageUnavailableError(
                        f"METAFLOW_S3_ENDPOINT_URL ({s.endpoint_source}) is not a URL S3 can be "
                        f"reached at ({error}): write it as http(s)://host:port"
                    ) from error
            return self._client

    def endpoint(self) -> str:
        """The endpoint requests go to."""
        try:
            return str(self.client.meta.endpoint_url)
        except Exception:  # a broken AWS config: the request will say what is wrong
            return self.settings.endpoint_url or "AWS S3"

    def call(self, what: str, path: str, request: Callable[[], T]) -> T:
        """`request()`, its botocore failures turned into RunStoreErrors for the user."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return request()
        except ClientError as error:
            raise self._client_error(error, what, path) from error
        except BotoCoreError as error:
            raise self._transport_error(error, what, path) from error

    def _check_endpoint(self) -> str:
        s = self.settings
        if s.endpoint_url:
            return f"check METAFLOW_S3_ENDPOINT_URL (from {s.endpoint_source})"
        return (
            "check the network connection, or set METAFLOW_S3_ENDPOINT_URL if the datastore is "
            "not on AWS"
        )

    def _transport_error(self, error: Exception, what: str, path: str) -> RunStoreError:
        from botocore.exceptions import (
            ConnectTimeoutError,
            CredentialRetrievalError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
            ProfileNotFound,
            ReadTimeoutError,
            SSLError,
        )

        s = self.settings
        where = f"S3 at {self.endpoint()}"
        if isinstance(error, ConnectTimeoutError):
            return StorageUnavailableError(
                f"cannot reach {where}: no connection within {s.connect_timeout:g}s "
                f"({what} {path}); {self._check_endpoint()}"
            )
        if isinstance(error, ReadTimeoutError):
            return StorageUnavailableError(
                f"{where} did not answer within {s.read_timeout:g}s ({what} {path}): the "
                f"endpoint is slow or is not an S3 server; {self._check_endpoint()}"
            )
        if isinstance(error, SSLError):
            return StorageUnavailableError(
                f"cannot reach {where}: TLS failed ({error}); {self._check_endpoint()}"
            )
        if isinstance(error, EndpointConnectionError):
            return StorageUnavailableError(
                f"cannot reach {where}: {_connection_reason(error)}; {self._check_endpoint()}"
            )
        if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
            return StorageUnavailableError(
                f"no AWS credentials for S3 ({what} {path}): set AWS_PROFILE, or "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or log in with `aws sso login`, in "
                "the environment the editor starts the server from"
            )
        if isinstance(error, ProfileNotFound):
            return StorageUnavailableError(
                f"{error}: AWS_PROFILE names a profile that is not in the AWS config files"
            )
        if isinstance(error, CredentialRetrievalError):
            return StorageUnavailableError(
                f"the AWS credentials can't be loaded ({error}) for {path}"
            )
        return RunStoreError(f"S3 request failed ({what} {path} at {self.endpoint()}): {error}")

    def _client_error(self, error: Any, what: str, path: str) -> RunStoreError:
        response = getattr(error, "response", {}) or {}
        code = str(response.get("Error", {}).get("Code") or "")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = response.get("Error", {}).get("Message") or str(error)
        bucket = split_s3_url(path)[0]
        s = self.settings
        root = f"{s.root_setting} (from {s.root_source})"
        if code in ("NoSuchKey", "404", "NotFound") or (status == 404 and code != "NoSuchBucket"):
            return NotFoundError(f"{path} is missing")
        if code == "NoSuchBucket":
            return StorageUnavailableError(
                f"the S3 bucket {bucket!r} does not exist at {self.endpoint()}: check {root}"
            )
        if code in ("AccessDenied", "403", "AllAccessDisabled") or status == 403:
            permission = "s3:ListBucket" if what == "listing" else "s3:GetObject"
            return RunStoreError(
                f"access denied {what} {path}: the AWS credentials ({self._credentials()}) "
                f"lack {permission} on bucket {bucket!r}; ask for read access to {root}, or use "
                "another AWS_PROFILE"
            )
        if code in (
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "InvalidToken",
            "TokenRefreshRequired",
        ):
            return StorageUnavailableError(
                f"S3 rejected the AWS credentials ({self._credentials()}): {code}; refresh them "
                "(e.g. `aws sso login`) or check AWS_PROFILE"
            )
        if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "301"):
            return StorageUnavailableError(
                f"the S3 bucket {bucket!r} is in another region: set AWS_DEFAULT_REGION to its "
                "region"
            )
        return RunStoreError(
            f"S3 answered {code or status} {what} {path} at {self.endpoint()}: {message}"
        )

    def _credentials(self) -> str:
        """Where the credentials came from (no secret), for messages."""
        try:
            session = self.client._request_signer._credentials
            method = getattr(session, "method", None)
        except AttributeError:
            method = None
        profile = self.settings.environ.get("AWS_PROFILE")
        names = {
            "explicit": "AWS_ACCESS_KEY_ID in the environment",
            "env": "AWS_ACCESS_KEY_ID in the environment",
            "shared-credentials-file": "~/.aws/credentials",
            "config-file": "~/.aws/config",
            "iam-role": "the instance role",
            "container-role": "the container role",
            "sso": "AWS SSO",
            "assume-role": "an assumed role",
        }
        shown = names.get(str(method), str(method) if method else "the default chain")
        return f"{shown}, profile {profile}" if profile else shown

    # Listings

    def join(self, *parts: str) -> str:
        """Parts joined with `/`."""
        return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts) if p)

    @staticmethod
    def _parent(path: str) -> tuple[str, str]:
        head, _, name = path.rstrip("/").rpartition("/")
        return head, name

    def _fetch(self, path: str) -> _Listing:
        bucket, key = split_s3_url(path)
        prefix = f"{key}/" if key else ""
        files: dict[str, Entry] = {}
        dirs: list[str] = []
        args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
        while True:
            page = self.call("listing", path, lambda: self.client.list_objects_v2(**args))
            for common in page.get("CommonPrefixes") or ():
                name = common["Prefix"][len(prefix) :].rstrip("/")
                if name:
                    dirs.append(name)
            for obj in page.get("Contents") or ():
                name = obj["Key"][len(prefix) :]
                if name and "/" not in name:
                    files[name] = _entry(name, obj)
            if not page.get("IsTruncated"):
                break
            args["ContinuationToken"] = page["NextContinuationToken"]
        return _Listing.of(files, dirs)

    def _listing(self, path: str) -> _Listing:
        path = path.rstrip("/")
        with self._lock:
            cached = self._lists.get(path)
            if cached is None:
                parent, name = self._parent(path)
                above = self._lists.get(parent)
                if above is not None and name not in above.dirs:
                    return _Listing.of({}, ())  # the cached parent has no such prefix
        if cached is not None:
            return cached
        fresh = self._fetch(path)
        with self._lock:
            self._lists[path] = fresh
        return fresh

    def list(self, path: str) -> list[Entry]:
        """The prefix's children ([] when there are none)."""
        return self._listing(path).entries()

    def stat(self, path: str) -> Entry | None:
        """The object or prefix at `path`, from its parent's listing."""
        bucket, key = split_s3_url(path)
        if not key:
            return Entry(bucket, True)
        parent, name = self._parent(path)
        above = self._listing(parent)
        if name in above.files:
            return above.files[name]
        return Entry(name, True) if name in above.dirs else None

    def mtime(self, path: str) -> float | None:
        """The object's LastModified, from its parent's listing."""
        entry = self.stat(path)
        return entry.mtime if entry is not None else None

    def version(self, path: str) -> Hashable:
        """ETag, size and time of an object; a prefix's listing fingerprint."""
        entry = self.stat(path)
        if entry is None:
            return None
        if entry.is_dir:
            return ("prefix", self._listing(path).fingerprint)
        return (entry.etag, entry.size, entry.mtime)

    def last_write(self, path: str) -> float | None:
        """The newest LastModified among the prefix's objects, if its listing was read."""
        with self._lock:
            listing = self._lists.get(path.rstrip("/"))
        times = [e.mtime for e in listing.files.values() if e.mtime] if listing else []
        return max(times) if times else None

    def prefetch(self, path: str) -> None:
        """List the whole tree under `path` into the cache (1 request per 1000 objects, where
        listing prefix by prefix takes one per prefix), unless it was already."""
        path = path.rstrip("/")
        with self._lock:
            done = any(path == t or path.startswith(t + "/") for t in self._trees)
        if not done:
            self.refresh(path, recursive=True)

    def refresh(self, path: str, *, recursive: bool) -> builtins.list[str]:
        """Re-list `path` (and, recursively, everything under it); the paths of objects and
        prefixes that changed in listings that were cached before."""
        path = path.rstrip("/")
        fresh = self._fetch_tree(path) if recursive else {path: self._fetch(path)}
        with self._lock:
            under = path + "/"
            before = {
                p: v
                for p, v in self._lists.items()
                if p == path or (recursive and p.startswith(under))
            }
            for p in before:
                del self._lists[p]
            self._lists.update(fresh)
            if recursive:
                self._trees = {t for t in self._trees if not t.startswith(under)} | {path}
        changed: builtins.list[str] = []
        for p, old in before.items():
            new = fresh.get(p, _Listing.of({}, ()))
            if new.fingerprint == old.fingerprint:
                continue
            for name in sorted(set(old.files) | set(new.files)):
                a, b = old.files.get(name), new.files.get(name)
                if (a and (a.etag, a.size)) != (b and (b.etag, b.size)):
                    changed.append(f"{p}/{name}")
            changed.extend(f"{p}/{name}" for name in sorted(old.dirs ^ new.dirs))
        return changed

    def _fetch_tree(self, path: str) -> dict[str, _Listing]:
        bucket, key = split_s3_url(path)
        prefix = f"{key}/" if key else ""
        files: dict[str, dict[str, Entry]] = {path: {}}
        dirs: dict[str, set[str]] = {path: set()}
        args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while True:
            page = self.call("listing", path, lambda: self.client.list_objects_v2(**args))
            for obj in page.get("Contents") or ():
                parts = obj["Key"][len(prefix) :].split("/")
                if not all(parts):
                    continue  # a "folder" marker or an empty name
                here = path
                for part in parts[:-1]:
                    dirs.setdefault(here, set()).add(part)
                    files.setdefault(here, {})
                    here = f"{here}/{part}"
                    dirs.setdefault(here, set())
                    files.setdefault(here, {})
                files[here][parts[-1]] = _entry(parts[-1], obj)
            if not page.get("IsTruncated"):
                break
            args["ContinuationToken"] = page["NextContinuationToken"]
        return {p: _Listing.of(files[p], dirs[p]) for p in files}

    def invalidate(self, path: str | None = None) -> None:
        """Forget the listings of `path` and under it (all when None)."""
        with self._lock:
            if path is None:
                self._lists.clear()
                self._trees.clear()
                return
            path = path.rstrip("/")
            for p in [p for p in self._lists if p == path or p.startswith(path + "/")]:
                del self._lists[p]
            # A tree holding `path` is no longer whole, nor is any under it.
            self._trees = {
                t for t in self._trees if not (path.startswith(t + "/") or _within(t, path))
            }

    # Reads

    def read(self, path: str) -> bytes:
        """The object's bytes."""
        bucket, key = split_s3_url(path)

        def get() -> bytes:
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

        return self.call("reading", path, get)

    def open(self, path: str) -> IO[bytes]:
        """A stream of the object's bytes."""
        bucket, key = split_s3_url(path)
        response = self.call(
            "reading", path, lambda: self.client.get_object(Bucket=bucket, Key=key)
        )
        return io.BufferedReader(_Body(response["Body"], self, path))

    def blob_attributes(self, path: str) -> dict[str, Any] | None:
        """Metaflow's `metaflow-user-attributes` of the object (HeadObject)."""
        bucket, key = split_s3_url(path)
        head = self.call("reading", path, lambda: self.client.head_object(Bucket=bucket, Key=key))
        raw = (head.get("Metadata") or {}).get(_USER_ATTRIBUTES)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError as error:
            raise RunStoreError(
                f"{path} has unreadable Metaflow attributes ({_USER_ATTRIBUTES}: {raw!r})"
            ) from error
        return value if isinstance(value, dict) else {}


def _within(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _entry(name: str, obj: Mapping[str, Any]) -> Entry:
    modified = obj.get("LastModified")
    return Entry(
        name,
        False,
        int(obj.get("Size") or 0),
        modified.timestamp() if modified is not None else None,
        str(obj.get("ETag") or ""),
    )


def _connection_reason(error: BaseException) -> str:
    """Why a connection failed, in a few words ("connection refused")."""
    seen: set[int] = set()
    stack: list[Any] = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError) or (
            isinstance(current, OSError) and current.errno == errno.ECONNREFUSED
        ):
            return "connection refused"
        if isinstance(current, socket.gaierror):
            return "the host name does not resolve"
        if "Connection refused" in str(current):
            return "connection refused"
        stack.extend([current.__cause__, current.__context__])
        kwargs = getattr(current, "kwargs", None)
        if isinstance(kwargs, dict):
            stack.append(kwargs.get("error"))
    return str(error)
