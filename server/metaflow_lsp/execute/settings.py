"""`.metaflow-lsp.toml`: how the editor runs, spins and resumes the flows of a workspace.

The nearest file from the flow's directory up to the workspace folder applies. Its top-level keys
are defaults for every flow; `[flows.<Flow>]` overrides them for one flow; `[presets.<name>]` and
`[flows.<Flow>.presets.<name>]` are named variants a command asks for. The options a command
passes override all of them. Scalars and lists replace what a wider level set; the tables
`parameters`, `configs` and `env` are merged key by key. Relative paths are relative to the file
that names them (to the flow's directory for a command's own options).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

FILE_NAME = ".metaflow-lsp.toml"

Value = Any


class SettingsError(Exception):
    """The workspace file (or a command's options) cannot be used; the message says where."""


@dataclass(frozen=True)
class RunOptions:
    """Everything that shapes one Metaflow command line, merged from every level."""

    environment: str | None = None  # top-level --environment
    decospecs: tuple[str, ...] = ()  # run/resume --with
    max_workers: int | None = None  # run/resume --max-workers
    max_num_splits: int | None = None  # run/resume --max-num-splits
    tags: tuple[str, ...] = ()  # run/resume --tag
    parameters: Mapping[str, Value] = field(default_factory=dict)  # run --<name> <value>
    configs: Mapping[str, Value] = field(default_factory=dict)  # run --config / --config-value
    artifacts_module: str | None = None  # spin --artifacts-module (absolute)
    persist: bool | None = None  # spin --persist / --no-persist
    top_args: tuple[str, ...] = ()  # before the command, every command
    run_args: tuple[str, ...] = ()
    resume_args: tuple[str, ...] = ()
    spin_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Validation: each key's checker returns the normalized value or raises SettingsError.


def _string(where: str, value: Value, base: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{where} must be a non-empty string, not {value!r}")
    return value.strip()


def _path(where: str, value: Value, base: str) -> str:
    text = os.path.expanduser(_string(where, value, base))
    return os.path.normpath(os.path.join(base, text))


def _count(where: str, value: Value, base: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingsError(f"{where} must be a positive integer, not {value!r}")
    return value


def _flag(where: str, value: Value, base: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{where} must be true or false, not {value!r}")
    return value


def _strings(where: str, value: Value, base: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SettingsError(f"{where} must be a list of strings, not {value!r}")
    return tuple(value)


def _values(where: str, value: Value, base: str) -> dict[str, Value]:
    if not isinstance(value, Mapping):
        raise SettingsError(f"{where} must be a table of name = value, not {value!r}")
    out: dict[str, Value] = {}
    for name, item in value.items():
        if not isinstance(item, (str, int, float, bool, list, dict)):
            raise SettingsError(f"{where}.{name} has a value of an unsupported type: {item!r}")
        out[str(name)] = item
    return out


def _configs(where: str, value: Value, base: str) -> dict[str, Value]:
    out = _values(where, value, base)
    # A string names a file (relative to where it was written); a table is the value itself.
    return {
        name: _path(f"{where}.{name}", item, base) if isinstance(item, str) else item
        for name, item in out.items()
    }


def _env(where: str, value: Value, base: str) -> dict[str, str]:
    out = _values(where, value, base)
    bad = [k for k, v in out.items() if not isinstance(v, str)]
    if bad:
        raise SettingsError(f"{where}.{bad[0]} must be a string (environment values are text)")
    return {k: str(v) for k, v in out.items()}


Checker = Callable[[str, Value, str], Value]
KEYS: dict[str, tuple[str, Checker]] = {
    # key in the file: (RunOptions field, checker)
    "environment": ("environment", _string),
    "with": ("decospecs", _strings),
    "max_workers": ("max_workers", _count),
    "max_num_splits": ("max_num_splits", _count),
    "tags": ("tags", _strings),
    "parameters": ("parameters", _values),
    "configs": ("configs", _configs),
    "artifacts_module": ("artifacts_module", _path),
    "persist": ("persist", _flag),
    "top_args": ("top_args", _strings),
    "run_args": ("run_args", _strings),
    "resume_args": ("resume_args", _strings),
    "spin_args": ("spin_args", _strings),
    "env": ("env", _env),
}
MERGED = {"parameters", "configs", "env"}


def check_options(table: Mapping[str, Value], where: str, base: str) -> dict[str, Value]:
    """One level of options, validated, with paths made absolute against `base`."""
    out: dict[str, Value] = {}
    for key, value in table.items():
        spec = KEYS.get(key)
        if spec is None:
            known = ", ".join(sorted(KEYS))
            raise SettingsError(f"{where} has an unknown key {key!r} (known keys: {known})")
        out[key] = spec[1](f"{where}.{key}" if where else key, value, base)
    return out


def merge(levels: list[Mapping[str, Value]]) -> RunOptions:
    """Validated levels, widest first, as one set of options."""
    merged: dict[str, Value] = {}
    for level in levels:
        for key, value in level.items():
            if key in MERGED:
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    return RunOptions(**{KEYS[k][0]: v for k, v in merged.items()})


# --------------------------------------------------------------------------------------------
# The file


@dataclass(frozen=True)
class WorkspaceSettings:
    """A parsed `.metaflow-lsp.toml` (or none: `path` is None and every level is empty)."""

    path: str | None = None
    defaults: Mapping[str, Value] = field(default_factory=dict)
    flows: Mapping[str, Mapping[str, Value]] = field(default_factory=dict)
    presets: Mapping[str, Mapping[str, Value]] = field(default_factory=dict)
    flow_presets: Mapping[str, Mapping[str, Mapping[str, Value]]] = field(default_factory=dict)

    def preset_names(self, flow: str) -> list[str]:
        """The presets a command for `flow` may name."""
        return sorted({*self.presets, *self.flow_presets.get(flow, {})})

    def options(
        self,
        flow: str,
        preset: str | None = None,
        overrides: Mapping[str, Value] | None = None,
        base: str = ".",
    ) -> RunOptions:
        """The options for one command on `flow`; `overrides` are the command's own (relative
        paths against `base`, the flow's directory)."""
        levels: list[Mapping[str, Value]] = [self.defaults, self.flows.get(flow, {})]
        if preset is not None:
            found = [
                p
                for p in (self.presets.get(preset), self.flow_presets.get(flow, {}).get(preset))
                if p is not None
            ]
            if not found:
                names = ", ".join(self.preset_names(flow)) or "none"
                where = self.path or f"no {FILE_NAME}"
                raise SettingsError(
                    f"no preset {preset!r} for {flow} ({where}; presets: {names}): "
                    f"add [flows.{flow}.presets.{preset}] to {FILE_NAME}"
                )
            levels.extend(found)
        if overrides:
            levels.append(check_options(overrides, "options", base))
        return merge(levels)


def parse_settings(text: str, path: str) -> WorkspaceSettings:
    """Parse the text of a settings file; SettingsError says what is wrong and where."""
    toml = _toml_module()
    try:
        data = toml.loads(text)
    except toml.TOMLDecodeError as error:
        raise SettingsError(f"{path} is not valid TOML: {error}") from None
    base = os.path.dirname(os.path.abspath(path))
    data = dict(data)
    flows_table = data.pop("flows", {})
    presets_table = data.pop("presets", {})
    defaults = check_options(data, "", base)
    presets = _presets(presets_table, "presets", base)
    if not isinstance(flows_table, Mapping):
        raise SettingsError(f"{path}: [flows] must be a table of [flows.<FlowName>] tables")
    flows: dict[str, dict[str, Value]] = {}
    flow_presets: dict[str, dict[str, dict[str, Value]]] = {}
    for name, table in flows_table.items():
        where = f"flows.{name}"
        if not isinstance(table, Mapping):
            raise SettingsError(f"{path}: [{where}] must be a table")
        table = dict(table)
        flow_presets[name] = _presets(table.pop("presets", {}), f"{where}.presets", base)
        flows[name] = check_options(table, where, base)
    return WorkspaceSettings(os.path.abspath(path), defaults, flows, presets, flow_presets)


def _toml_module() -> Any:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            raise SettingsError(
                f"reading {FILE_NAME} needs Python 3.11 or the tomli package in the server's "
                "environment"
            ) from None
    return tomllib


def _presets(table: Value, where: str, base: str) -> dict[str, dict[str, Value]]:
    if not isinstance(table, Mapping):
        raise SettingsError(f"[{where}] must be a table of named presets")
    out = {}
    for name, preset in table.items():
        if not isinstance(preset, Mapping):
            raise SettingsError(f"[{where}.{name}] must be a table")
        out[str(name)] = check_options(preset, f"{where}.{name}", base)
    return out


def find_settings(flow_dir: str, root: str | None) -> str | None:
    """The nearest settings file from `flow_dir` up to `root` (only `flow_dir` outside it)."""
    current = os.path.abspath(flow_dir)
    top = os.path.abspath(root) if root else None
    inside = top is not None and (current == top or current.startswith(top.rstrip(os.sep) + os.sep))
    while True:
        candidate = os.path.join(current, FILE_NAME)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(current)
        if not inside or current == top or parent == current:
            return None
        current = parent


_cache: dict[str, tuple[tuple[int, int], WorkspaceSettings]] = {}
_lock = threading.Lock()


def load_settings(flow_dir: str, root: str | None) -> WorkspaceSettings:
    """The settings that apply to flows in `flow_dir` (re-read when the file changes). Blocks."""
    path = find_settings(flow_dir, root)
    if path is None:
        return WorkspaceSettings()
    try:
        stat = os.stat(path)
        stamp = (stat.st_mtime_ns, stat.st_size)
        with _lock:
            cached = _cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise SettingsError(f"cannot read {path}: {error.strerror or error}") from None
    settings = parse_settings(text, path)
    with _lock:
        _cache[path] = (stamp, settings)
    return settings
