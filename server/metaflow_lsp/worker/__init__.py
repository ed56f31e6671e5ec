"""The artifact worker: previews of pickled artifacts, loaded under the flow's own interpreter.

The server never unpickles an artifact. `interpreter` finds the Python a flow runs under,
`agent` is the stdlib-only script that Python runs, and `client` drives it from asyncio.
"""

from __future__ import annotations

from .client import (
    ArtifactWorker,
    Blob,
    Preview,
    PreviewField,
    PreviewLimits,
    PreviewReply,
    WorkerPool,
)
from .interpreter import Interpreter, InterpreterProbe, find_interpreter

__all__ = [
    "ArtifactWorker",
    "Blob",
    "Interpreter",
    "InterpreterProbe",
    "Preview",
    "PreviewField",
    "PreviewLimits",
    "PreviewReply",
    "WorkerPool",
    "find_interpreter",
]
