"""Artifact worker fixtures: a flow directory with the user's own module, blobs, a warm worker."""

from __future__ import annotations

import gzip
import importlib
import pickle
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from metaflow_lsp.worker import ArtifactWorker, Interpreter

# The venv's own interpreter has numpy, pandas and metaflow installed, like a user's project.
PYTHON = Path(sys.executable)

USER_MODULE = textwrap.dedent(
    '''
    """A module of the user's project, next to the flow: the worker must import it."""
    import dataclasses
    from collections import namedtuple


    @dataclasses.dataclass
    class Point:
        x: int
        y: float
        label: str = "origin"


    Pair = namedtuple("Pair", ["left", "right"])


    class Model:
        def __init__(self, name, weights):
            self.name = name
            self.weights = weights


    class BadRepr:
        def __repr__(self):
            raise RuntimeError("repr exploded")


    class Calls:
        """Unpickling this calls `func(*args)`: sleeps, exits, prints, as user code may."""

        def __init__(self, func, *args):
            self.func = func
            self.args = args

        def __reduce__(self):
            return (self.func, self.args)
    '''
)


def metaflow_blob(obj: Any) -> bytes:
    """The bytes Metaflow's local datastore stores for an artifact."""
    return gzip.compress(pickle.dumps(obj, protocol=4))


@pytest.fixture(scope="session")
def flow_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A flow's directory holding the user's module `flowlib.py`."""
    directory = tmp_path_factory.mktemp("flowdir")
    (directory / "flowlib.py").write_text(USER_MODULE, encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def flowlib(flow_dir: Path) -> Iterator[ModuleType]:
    """The user's module imported in the test process, to build and pickle its objects."""
    sys.path.insert(0, str(flow_dir))
    try:
        yield importlib.import_module("flowlib")
    finally:
        sys.path.remove(str(flow_dir))
        sys.modules.pop("flowlib", None)


@pytest.fixture
def write_blob(tmp_path: Path) -> Callable[..., Path]:
    """Write `obj` as a Metaflow blob file (or `raw` bytes as they are) and return its path."""
    counter = iter(range(1_000_000))

    def write(obj: Any = None, *, raw: bytes | None = None) -> Path:
        path = tmp_path / f"blob{next(counter)}"
        path.write_bytes(metaflow_blob(obj) if raw is None else raw)
        return path

    return write


@pytest.fixture
async def worker(flow_dir: Path) -> AsyncIterator[ArtifactWorker]:
    """A worker under the venv's interpreter, started in the flow's directory."""
    artifact_worker = ArtifactWorker(Interpreter(PYTHON, "test venv"), flow_dir, timeout=20)
    yield artifact_worker
    await artifact_worker.close()


def process_gone(pid: int) -> bool:
    """Whether `pid` has exited and been reaped (a zombie still has a /proc entry)."""
    return not Path(f"/proc/{pid}").exists()
