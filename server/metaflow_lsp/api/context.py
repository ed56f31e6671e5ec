"""What the runs API needs from whoever hosts it, and the errors it answers with.

The language server (`lsp/api_host.py`) and `metaflow-lsp view` (`web/local.py`) each provide
an `ApiHost`; the handlers in `api/` only talk to that protocol, so the LSP requests and the
web view's HTTP API answer from the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from ..flow import FlowFile
    from ..runs import RunStore
    from ..worker import ArtifactWorker

T = TypeVar("T")

# Error codes: JSON-RPC leaves codes outside -32768..-32000 to applications.
INVALID_PARAMS = -32602
NOT_FOUND = 1001
BACKEND_UNAVAILABLE = 1002
TIMEOUT = 1003
NO_INTERPRETER = 1004
PREVIEW_FAILED = 1005
INTERNAL = -32603


class RunsTimeout(Exception):
    """A store call did not answer in time; the message says what to check."""


class RequestError(Exception):
    """An error answer: a message for the user, a code and a stable kind."""

    def __init__(self, code: int, kind: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind
        self.data = data


class ApiHost(Protocol):
    """Run stores, store threads, artifact workers and flow sources of one server."""

    async def io(self, fn: Callable[..., T], *args: Any, timeout: float = ...) -> T:
        """`fn(*args)` in the store threads; RunsTimeout when it takes too long."""
        ...

    async def store_for_flow(self, flow: str, uri_path: str | None = None) -> RunStore | None:
        """The run store holding `flow`'s runs (the given flow file's, else the host's)."""
        ...

    async def stores(self, uri_path: str | None = None) -> list[RunStore]:
        """Every run store the host reads (the given flow file's only, when given)."""
        ...

    def flow_file_of(self, flow: str) -> str | None:
        """The path of the file defining `flow`, if the host already knows it."""
        ...

    async def worker_for(self, path: str) -> ArtifactWorker:
        """The warm artifact worker for the interpreter the flow file runs under."""
        ...

    async def flow_source(self, flow: str, uri_path: str | None = None) -> FlowFile | None:
        """The analysed source file defining `flow` (an open buffer wins over the disk)."""
        ...

    async def source_flows(self, uri_path: str | None = None) -> dict[str, str]:
        """Flows defined in the host's source folders: name -> file path."""
        ...
