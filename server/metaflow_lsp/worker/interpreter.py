"""Which Python a flow runs under: the setting, the workspace's virtualenv, conda, or PATH.

Discovery only looks at files: it never runs poetry, conda or uv, and never touches the network.
The probe (Python version, whether Metaflow imports) runs the interpreter once, with a timeout.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SETTING = "metaflow-lsp.python"
PROBE_TIMEOUT = 20.0
MIN_PYTHON = (3, 8)

_VENV_DIRS = (".venv", "venv", "env")
_PROBE_MARK = "METAFLOW_LSP_PROBE "
# Python 2 compatible on purpose, so a too-old interpreter still says which version it is.
_PROBE_CODE = r"""
import sys, json
r = {"version": "%d.%d.%d" % tuple(sys.version_info[:3]), "executable": sys.executable}
try:
    import metaflow
    r["metaflow"] = str(getattr(metaflow, "__version__", "") or "unknown")
except BaseException as e:
    r["metaflow_error"] = "%s: %s" % (type(e).__name__, e)
sys.stdout.write("\n" + "METAFLOW_LSP_PROBE " + json.dumps(r) + "\n")
"""


@dataclass(frozen=True)
class InterpreterProbe:
    """What running the interpreter once told us."""

    python_version: str | None = None
    executable: str | None = None
    metaflow_version: str | None = None
    metaflow_error: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the interpreter ran and is new enough for the artifact worker."""
        return self.error is None

    @property
    def has_metaflow(self) -> bool:
        """Whether `import metaflow` worked under this interpreter."""
        return self.metaflow_version is not None


@dataclass
class Interpreter:
    """A flow's interpreter: its path, how it was found, and what is wrong when it wasn't."""

    path: Path | None
    source: str
    problem: str | None = None
    _probe: InterpreterProbe | None = field(default=None, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    @property
    def ok(self) -> bool:
        """Whether an interpreter was found (it may still fail its probe)."""
        return self.path is not None and self.problem is None

    def describe(self) -> str:
        """One line for messages: `/x/.venv/bin/python (workspace .venv)`."""
        if self.path is None:
            return f"no interpreter ({self.source})"
        return f"{self.path} ({self.source})"

    def probe(self, timeout: float = PROBE_TIMEOUT, refresh: bool = False) -> InterpreterProbe:
        """Run the interpreter once (cached) for its version and Metaflow's; blocks up to `timeout`."""
        with self._lock:
            if self._probe is None or refresh:
                self._probe = _run_probe(self, timeout)
            return self._probe

    async def probe_async(
        self, timeout: float = PROBE_TIMEOUT, refresh: bool = False
    ) -> InterpreterProbe:
        """`probe` in a thread, for the event loop."""
        return await asyncio.to_thread(self.probe, timeout, refresh)


def find_interpreter(
    flow_file: Path | str,
    workspace_root: Path | str | None = None,
    setting: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Interpreter:
    """The interpreter for `flow_file`: `setting`, else the workspace's environment, else PATH.

    Never raises: when nothing is found the result has `path=None` and a `problem` to show.
    """
    env = os.environ if environ is None else environ
    home_dir = home if home is not None else Path(env.get("HOME") or Path.home())
    flow_path = Path(os.path.abspath(flow_file))
    root = Path(os.path.abspath(workspace_root)) if workspace_root else None
    if setting and setting.strip():
        return _from_setting(setting.strip(), flow_path, root, env, home_dir)
    for directory in _search_dirs(flow_path.parent, root):
        found = _in_directory(directory, env, home_dir)
        if found is not None:
            return found
    for var, source in (("VIRTUAL_ENV", "activated virtualenv"), ("CONDA_PREFIX", "conda")):
        prefix = env.get(var)
        if prefix:
            python = _env_python(Path(prefix))
            if python is not None:
                return Interpreter(python, f"{source} (${var})")
    for name in ("python3", "python"):
        which = shutil.which(name, path=env.get("PATH", os.defpath))
        if which:
            return Interpreter(Path(which), "PATH")
    return Interpreter(
        None,
        "not found",
        f"no Python interpreter found for {flow_path}: create a .venv or set {SETTING}",
    )


def _from_setting(
    setting: str, flow_path: Path, root: Path | None, env: Mapping[str, str], home: Path
) -> Interpreter:
    """The interpreter named by the setting: a file, a virtualenv directory, or a name on PATH."""
    source = f"setting {SETTING}"
    text = str(home) + setting[1:] if setting.startswith("~") else setting
    candidate = Path(text)
    if not candidate.is_absolute():
        if os.sep not in text and "/" not in text:
            which = shutil.which(text, path=env.get("PATH", os.defpath))
            if which:
                return Interpreter(Path(which), source)
        candidate = (root or flow_path.parent) / candidate
    if candidate.is_dir():
        python = _env_python(candidate)
        if python is not None:
            return Interpreter(python, source)
        reason = f"{candidate} is a directory without bin/python"
    elif candidate.is_file() and os.access(candidate, os.X_OK):
        return Interpreter(candidate, source)
    elif candidate.is_file():
        reason = f"{candidate} is not executable"
    else:
        reason = f"{candidate} does not exist"
    return Interpreter(
        None,
        source,
        f"{SETTING} is {setting!r}, which is not a Python interpreter ({reason}): "
        "fix the setting or clear it to use the workspace's virtualenv",
    )


def _search_dirs(start: Path, root: Path | None) -> Iterator[Path]:
    """`start` and its parents, up to `root` when `start` is inside it, else to the filesystem root."""
    inside = root is not None and (start == root or root in start.parents)
    current = start
    while True:
        yield current
        if (inside and current == root) or current.parent == current:
            return
        current = current.parent


def _in_directory(directory: Path, env: Mapping[str, str], home: Path) -> Interpreter | None:
    """An environment that belongs to `directory`: in-project venv, uv, poetry cache, conda."""
    pyproject = _read_toml(directory / "pyproject.toml")
    tool = pyproject.get("tool", {}) if pyproject else {}
    poetry = isinstance(tool, dict) and "poetry" in tool
    uv = (directory / "uv.lock").is_file() or (isinstance(tool, dict) and "uv" in tool)
    if uv and env.get("UV_PROJECT_ENVIRONMENT"):
        prefix = Path(env["UV_PROJECT_ENVIRONMENT"])
        found = _checked_env(directory / prefix, "uv project ($UV_PROJECT_ENVIRONMENT)")
        if found is not None:
            return found
    for name in _VENV_DIRS:
        if name == ".venv" and uv:
            source = "uv project .venv"
        elif name == ".venv" and poetry:
            source = "poetry in-project .venv"
        else:
            source = f"workspace {name}"
        found = _checked_env(directory / name, source)
        if found is not None:
            return found
    if poetry and pyproject is not None:
        python = _poetry_cache_python(directory, pyproject, env, home)
        if python is not None:
            return Interpreter(python, "poetry virtualenv")
    for name in ("environment.yml", "environment.yaml"):
        conda_name = _conda_env_name(directory / name)
        if conda_name:
            python = _conda_env_python(conda_name, env, home)
            if python is not None:
                return Interpreter(python, f"conda environment {conda_name!r} ({name})")
    return None


def _checked_env(prefix: Path, source: str) -> Interpreter | None:
    """The environment at `prefix` if it is one; a broken one is reported, not skipped."""
    if not ((prefix / "pyvenv.cfg").is_file() or (prefix / "conda-meta").is_dir()):
        return None
    python = _env_python(prefix)
    if python is not None:
        return Interpreter(python, source)
    return Interpreter(
        None,
        source,
        f"the virtualenv at {prefix} is broken (no working bin/python, perhaps its base Python "
        f"was removed): recreate it or set {SETTING}",
    )


def _env_python(prefix: Path) -> Path | None:
    """The python executable of a virtualenv or conda prefix."""
    for relative in ("bin/python", "bin/python3", "Scripts/python.exe", "python.exe"):
        candidate = prefix / relative
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any] | None:
    """A TOML file's table, or None when it is missing or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            log.info("ignoring %s: %s", path, error)
            return None
    return _toml_fallback(text)


def _toml_fallback(text: str) -> dict[str, Any]:
    """Just enough TOML for Python 3.10: which `[tool.*]` tables exist and the project name."""
    table: dict[str, Any] = {"tool": {}}
    section = ""
    for line in text.splitlines():
        header = re.match(r"\s*\[([^\]]+)\]", line)
        if header:
            section = header.group(1).strip()
            if section.startswith("tool."):
                table["tool"].setdefault(section.split(".")[1], {})
            continue
        name = re.match(r"""\s*name\s*=\s*["']([^"']+)["']""", line)
        if name and section in ("project", "tool.poetry"):
            if section == "project":
                table.setdefault("project", {})["name"] = name.group(1)
            else:
                table["tool"]["poetry"]["name"] = name.group(1)
    return table


def _poetry_cache_python(
    directory: Path, pyproject: dict[str, Any], env: Mapping[str, str], home: Path
) -> Path | None:
    """The project's virtualenv in poetry's cache, named `<name>-<hash>-py3.x` as poetry does."""
    tool_poetry = pyproject.get("tool", {}).get("poetry", {})
    project = pyproject.get("project", {})
    name = (tool_poetry.get("name") if isinstance(tool_poetry, dict) else None) or (
        project.get("name") if isinstance(project, dict) else None
    )
    if not isinstance(name, str) or not name:
        return None
    sanitized = re.sub(r'[ $`!*@"\\\r\n\t]', "_", name.lower())[:42]
    digest = hashlib.sha256(os.path.normcase(os.path.realpath(directory)).encode()).digest()
    exact = f"{sanitized}-{base64.urlsafe_b64encode(digest).decode()[:8]}"
    for cache in _poetry_virtualenv_dirs(env, home):
        for pattern in (f"{exact}-py*", f"{sanitized}-*-py*"):
            candidates = sorted(cache.glob(pattern), key=_python_suffix_key, reverse=True)
            for candidate in candidates:
                python = _env_python(candidate)
                if python is not None:
                    return python
    return None


def _python_suffix_key(path: Path) -> tuple[int, ...]:
    """`name-hash-py3.12` sorts after `name-hash-py3.9`."""
    match = re.search(r"-py(\d+)\.(\d+)$", path.name)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _poetry_virtualenv_dirs(env: Mapping[str, str], home: Path) -> list[Path]:
    """Where poetry keeps virtualenvs, from its environment variables and platform defaults."""
    dirs = []
    if env.get("POETRY_VIRTUALENVS_PATH"):
        dirs.append(Path(env["POETRY_VIRTUALENVS_PATH"]))
    if env.get("POETRY_CACHE_DIR"):
        dirs.append(Path(env["POETRY_CACHE_DIR"]) / "virtualenvs")
    if env.get("XDG_CACHE_HOME"):
        dirs.append(Path(env["XDG_CACHE_HOME"]) / "pypoetry" / "virtualenvs")
    dirs.append(home / ".cache" / "pypoetry" / "virtualenvs")
    dirs.append(home / "Library" / "Caches" / "pypoetry" / "virtualenvs")
    return [d for d in dirs if d.is_dir()]


def _conda_env_name(path: Path) -> str | None:
    """The `name:` of a conda environment file, read without a YAML parser."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"""^name:\s*["']?([^"'\s#]+)""", text, re.MULTILINE)
    return match.group(1) if match else None


def _conda_env_python(name: str, env: Mapping[str, str], home: Path) -> Path | None:
    """The python of the named conda environment in the usual envs directories."""
    dirs: list[Path] = [Path(p) for p in env.get("CONDA_ENVS_PATH", "").split(os.pathsep) if p]
    prefix = env.get("CONDA_PREFIX")
    if prefix:
        prefix_path = Path(prefix)
        # An active non-base env lives in <root>/envs/<env>; base is <root> itself.
        dirs.append(
            prefix_path.parent if prefix_path.parent.name == "envs" else prefix_path / "envs"
        )
    for root in ("miniconda3", "anaconda3", "miniforge3", "mambaforge", ".conda"):
        dirs.append(home / root / "envs")
    dirs.append(Path("/opt/conda/envs"))
    for envs in dirs:
        python = _env_python(envs / name)
        if python is not None:
            return python
    return None


def _run_probe(interpreter: Interpreter, timeout: float) -> InterpreterProbe:
    """Run the probe script under the interpreter and parse its last marked line."""
    if interpreter.path is None:
        return InterpreterProbe(error=interpreter.problem or "no interpreter")
    where = interpreter.describe()
    try:
        # Its own session, so a timeout can kill whatever the import started too.
        process = subprocess.Popen(
            [str(interpreter.path), "-c", _PROBE_CODE],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as error:
        return InterpreterProbe(error=f"cannot run {where}: {error.strerror or error}")
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return InterpreterProbe(
            error=f"{where} did not answer within {timeout:g} s (importing metaflow hung?)"
        )
    completed = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    stdout = completed.stdout.decode("utf-8", "replace")
    marked = [line for line in stdout.splitlines() if line.startswith(_PROBE_MARK)]
    if not marked:
        stderr = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = stderr[-1] if stderr else f"exit code {completed.returncode}"
        return InterpreterProbe(error=f"{where} failed to start: {detail}")
    data = json.loads(marked[-1][len(_PROBE_MARK) :])
    version = str(data.get("version"))
    numbers = tuple(int(part) for part in version.split(".")[:2])
    too_old = None
    if numbers < MIN_PYTHON:
        too_old = (
            f"{where} is Python {version}; artifact previews need Python "
            f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer: set {SETTING} to a newer one"
        )
    return InterpreterProbe(
        python_version=version,
        executable=data.get("executable"),
        metaflow_version=data.get("metaflow"),
        metaflow_error=data.get("metaflow_error"),
        error=too_old,
    )
