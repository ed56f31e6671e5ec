"""Finding a flow's interpreter in real directory layouts, and probing a real one."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from metaflow_lsp.worker import Interpreter, find_interpreter

PYTHON = Path(sys.executable)


def make_env(prefix: Path, *, marker: str = "pyvenv.cfg") -> Path:
    """A virtualenv layout whose bin/python is a link to a real interpreter."""
    (prefix / "bin").mkdir(parents=True)
    if marker == "pyvenv.cfg":
        (prefix / "pyvenv.cfg").write_text(f"home = {PYTHON.parent}\n")
    else:
        (prefix / marker).mkdir()
    python = prefix / "bin" / "python"
    python.symlink_to(PYTHON)
    return python


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A workspace with a flow in a subdirectory; nothing else yet."""
    (tmp_path / "project" / "flows").mkdir(parents=True)
    (tmp_path / "home").mkdir()
    (tmp_path / "emptybin").mkdir()
    return tmp_path / "project"


def find(project: Path, setting: str | None = None, **environ: str) -> Interpreter:
    """Discovery with a clean environment: no PATH python, no conda, a temp home."""
    env = {"PATH": str(project.parent / "emptybin"), **environ}
    return find_interpreter(
        project / "flows" / "flow.py", project, setting, environ=env, home=project.parent / "home"
    )


def test_workspace_venv_above_the_flow(project: Path) -> None:
    python = make_env(project / ".venv")
    found = find(project)
    assert (found.path, found.source, found.problem) == (python, "workspace .venv", None)
    assert found.describe() == f"{python} (workspace .venv)"


def test_nearest_environment_wins(project: Path) -> None:
    make_env(project / ".venv")
    nearer = make_env(project / "flows" / "venv")
    assert find(project).path == nearer
    assert find(project).source == "workspace venv"


def test_env_directory_needs_to_be_an_environment(project: Path) -> None:
    (project / "env").mkdir()  # a folder of settings, not a virtualenv
    (project / "env" / "bin").mkdir()
    assert find(project).path is None
    python = make_env(project / "flows" / "env", marker="conda-meta")
    assert find(project).path == python


def test_uv_project(project: Path) -> None:
    (project / "uv.lock").write_text("version = 1\n")
    python = make_env(project / ".venv")
    assert find(project).source == "uv project .venv"
    custom = make_env(project / "envs" / "custom")
    found = find(project, UV_PROJECT_ENVIRONMENT="envs/custom")
    assert (found.path, found.source) == (custom, "uv project ($UV_PROJECT_ENVIRONMENT)")
    assert find(project).path == python


def test_poetry_in_project_venv(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.poetry]\nname = "demo"\n')
    python = make_env(project / ".venv")
    assert (find(project).path, find(project).source) == (python, "poetry in-project .venv")


def test_poetry_cache_virtualenv(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.poetry]\nname = "My Project"\n')
    cache = project.parent / "home" / ".cache" / "pypoetry" / "virtualenvs"
    # Poetry names it <sanitized name>-<sha256 of the project dir, 8 chars>-py<version>.
    digest = hashlib.sha256(os.path.normcase(os.path.realpath(project)).encode()).digest()
    name = "my_project-" + base64.urlsafe_b64encode(digest).decode()[:8]
    make_env(cache / "my_project-AAAAAAAA-py3.12")  # another checkout of the same project
    make_env(cache / f"{name}-py3.9")
    python = make_env(cache / f"{name}-py3.11")
    found = find(project)
    assert (found.path, found.source) == (python, "poetry virtualenv")


def test_conda_environment_file(project: Path) -> None:
    (project / "environment.yml").write_text("name: ml-env  # the team's env\nchannels: []\n")
    python = make_env(
        project.parent / "home" / "miniconda3" / "envs" / "ml-env", marker="conda-meta"
    )
    found = find(project)
    assert (found.path, found.source) == (python, "conda environment 'ml-env' (environment.yml)")


def test_active_conda_prefix_and_virtualenv(project: Path) -> None:
    conda = make_env(project.parent / "conda" / "envs" / "active", marker="conda-meta")
    found = find(project, CONDA_PREFIX=str(conda.parent.parent))
    assert (found.path, found.source) == (conda, "conda ($CONDA_PREFIX)")
    venv = make_env(project.parent / "activated")
    assert (
        find(project, VIRTUAL_ENV=str(venv.parent.parent)).source
        == "activated virtualenv ($VIRTUAL_ENV)"
    )


def test_path_python3_is_the_last_resort(project: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(PYTHON)
    found = find(project, PATH=str(bin_dir))
    assert (found.path, found.source) == (bin_dir / "python3", "PATH")


def test_environments_outside_the_workspace_are_ignored(project: Path) -> None:
    make_env(project.parent / ".venv")
    found = find(project)
    assert found.path is None
    assert found.problem == (
        f"no Python interpreter found for {project / 'flows' / 'flow.py'}: "
        "create a .venv or set metaflow-lsp.python"
    )


def test_broken_venv_is_reported_not_skipped(project: Path, tmp_path: Path) -> None:
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "pyvenv.cfg").write_text("home = /gone\n")
    (project / ".venv" / "bin" / "python").symlink_to(tmp_path / "gone" / "python3")
    found = find(project)
    assert found.path is None
    assert found.problem is not None
    assert found.problem.startswith(f"the virtualenv at {project / '.venv'} is broken")


def test_setting_wins(project: Path, tmp_path: Path) -> None:
    make_env(project / ".venv")
    elsewhere = make_env(tmp_path / "elsewhere")
    assert find(project, str(elsewhere)).path == elsewhere
    assert find(project, str(elsewhere)).source == "setting metaflow-lsp.python"
    assert find(project, str(tmp_path / "elsewhere")).path == elsewhere  # the env's directory
    assert find(project, ".venv/bin/python").path == project / ".venv" / "bin" / "python"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.11").symlink_to(PYTHON)
    assert find(project, "python3.11", PATH=str(bin_dir)).path == bin_dir / "python3.11"


def test_bad_setting_says_what_to_do(project: Path) -> None:
    make_env(project / ".venv")
    found = find(project, "/nowhere/python")
    assert found.path is None
    assert found.problem == (
        "metaflow-lsp.python is '/nowhere/python', which is not a Python interpreter "
        "(/nowhere/python does not exist): fix the setting or clear it to use the "
        "workspace's virtualenv"
    )


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real virtualenv without pip or Metaflow."""
    prefix = tmp_path_factory.mktemp("bare") / ".venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(prefix)], check=True)
    return prefix


def test_probe_of_a_real_venv(bare_venv: Path) -> None:
    found = find_interpreter(bare_venv.parent / "flow.py", bare_venv.parent, environ={"PATH": ""})
    assert found.source == "workspace .venv"
    probe = found.probe()
    assert probe.ok
    assert probe.python_version == "%d.%d.%d" % sys.version_info[:3]
    assert not probe.has_metaflow
    assert probe.metaflow_error == "ModuleNotFoundError: No module named 'metaflow'"
    assert found.probe() is probe  # cached
    assert found.probe(refresh=True) is not probe


async def test_probe_finds_metaflow() -> None:
    import metaflow

    probe = await Interpreter(PYTHON, "test venv").probe_async()
    assert probe.ok and probe.metaflow_version == metaflow.__version__


def test_probe_of_a_hanging_or_broken_interpreter(tmp_path: Path) -> None:
    hangs = tmp_path / "hangs"
    hangs.write_text("#!/bin/sh\nsleep 60 &\nwait\n")
    hangs.chmod(0o755)
    probe = Interpreter(hangs, "test").probe(timeout=1)
    assert probe.error == f"{hangs} (test) did not answer within 1 s (importing metaflow hung?)"
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho 'cannot find libpython' >&2\nexit 127\n")
    broken.chmod(0o755)
    assert Interpreter(broken, "test").probe().error == (
        f"{broken} (test) failed to start: cannot find libpython"
    )
    missing = Interpreter(tmp_path / "missing", "test").probe()
    assert missing.error is not None and re.match(r"cannot run .*missing \(test\): ", missing.error)
