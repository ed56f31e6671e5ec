"""The run store: Metaflow's runs read where Metaflow keeps them, read-only.

No Metaflow import and no unpickling: artifact values are returned as bytes for the worker
process. `RunStore` is the entry point; `MetaflowConfig` says where the runs are.
"""

from .backend import Backend, split_pathspec
from .config import ConfigValue, MetaflowConfig
from .local import LocalBackend
from .model import (
    ArtifactInfo,
    ArtifactNotFoundError,
    AttemptInfo,
    BlobData,
    CardInfo,
    LogChunk,
    LogLine,
    NotFoundError,
    RunInfo,
    RunStatus,
    RunStoreError,
    StepInfo,
    StoreChange,
    TaskInfo,
    TaskStatus,
    to_json,
)
from .store import RunStore

__all__ = [
    "ArtifactInfo",
    "ArtifactNotFoundError",
    "AttemptInfo",
    "Backend",
    "BlobData",
    "CardInfo",
    "ConfigValue",
    "LocalBackend",
    "LogChunk",
    "LogLine",
    "MetaflowConfig",
    "NotFoundError",
    "RunInfo",
    "RunStatus",
    "RunStore",
    "RunStoreError",
    "StepInfo",
    "StoreChange",
    "TaskInfo",
    "TaskStatus",
    "split_pathspec",
    "to_json",
]
