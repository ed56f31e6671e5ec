"""A real metaflow-lsp server over stdio per test module."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from .helpers import CAPABILITIES, SERVER, Session, initialize_params


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty workspace folder for the module's server."""
    return tmp_path_factory.mktemp("workspace")


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(lsp_client: LanguageClient, workspace: Path):
    """A server initialised like VS Code with `workspace` as its folder."""
    result = await lsp_client.initialize_session(initialize_params(workspace))
    CAPABILITIES[id(lsp_client)] = result.capabilities
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def session(client: LanguageClient, workspace: Path) -> Session:
    """The module's client with helpers."""
    return Session(client, workspace)
