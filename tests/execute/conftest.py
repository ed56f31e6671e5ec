"""Real flows in temp directories, run with USERNAME=tester and an empty METAFLOW_HOME."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

FLOWS = Path(__file__).parent / "flows"


def metaflow_env(home: Path) -> dict[str, str]:
    """The environment for Metaflow: no METAFLOW_* of the developer's, an empty home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    env.update(USERNAME="tester", METAFLOW_HOME=str(home), PYTHONUNBUFFERED="1")
    return env


@dataclass
class FlowDir:
    """A directory holding copies of the test flows."""

    path: Path
    env: dict[str, str]


@pytest.fixture
def flow_dir(tmp_path_factory: pytest.TempPathFactory) -> FlowDir:
    """A fresh directory with every flow of `flows/`."""
    path = tmp_path_factory.mktemp("flows")
    home = tmp_path_factory.mktemp("home")
    for flow in FLOWS.iterdir():
        if flow.suffix == ".py":
            shutil.copy(flow, path / flow.name)
    return FlowDir(path, metaflow_env(home))
