"""Metaflow's configuration, resolved the way Metaflow 2.19 resolves it, without importing Metaflow.

`metaflow_config_funcs.from_conf` takes each `METAFLOW_<NAME>` value from the first of:

1. the environment;
2. the *local config*: `config.json` inside the first `.metaflow` directory found from the
   working directory upwards. Only that directory counts: a `.metaflow` without a `config.json`
   ends the search with no local config;
3. the *profile config*: `$METAFLOW_HOME/config_$METAFLOW_PROFILE.json` when `METAFLOW_PROFILE`
   is set (Metaflow refuses to start when that file is missing), else `$METAFLOW_HOME/config.json`.
   `METAFLOW_HOME` (default `~/.metaflowconfig`) and `METAFLOW_PROFILE` come from the environment
   only;
4. the default.

Metaflow starts its searches (the local config, the `.metaflow` datastore, the card root) from the
working directory of `python flow.py`; the editor does not know the terminal's directory, so we
start from the flow's directory (or the workspace folder the server passes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DATASTORE_LOCAL_DIR = ".metaflow"
DATASTORE_SPIN_LOCAL_DIR = ".metaflow_spin"
CARD_SUFFIX = "mf.cards"
LOCAL_CONFIG_FILE = "config.json"

# The keys the run store needs, with Metaflow's defaults (None: no default).
KEYS: dict[str, Any] = {
    "METAFLOW_DEFAULT_DATASTORE": "local",
    "METAFLOW_DEFAULT_METADATA": "local",
    "METAFLOW_DATASTORE_SYSROOT_LOCAL": None,
    "METAFLOW_DATASTORE_SYSROOT_SPIN": None,
    "METAFLOW_DATASTORE_SYSROOT_S3": None,
    "METAFLOW_SERVICE_URL": None,
    "METAFLOW_SERVICE_HEADERS": {},
    "METAFLOW_SERVICE_AUTH_KEY": None,
    "METAFLOW_S3_ENDPOINT_URL": None,
    "METAFLOW_CARD_LOCALROOT": None,
    "METAFLOW_CARD_S3ROOT": None,
}
SECRET_KEYS = frozenset({"METAFLOW_SERVICE_HEADERS", "METAFLOW_SERVICE_AUTH_KEY"})


@dataclass(frozen=True, slots=True)
class ConfigValue:
    """One resolved setting and where it came from, for messages."""

    value: Any
    source: str  # "environment", a config file's path, "default" or "derived from ..."


@dataclass(frozen=True, slots=True)
class MetaflowConfig:
    """Metaflow's settings as a flow started from `start_dir` would see them."""

    start_dir: str
    values: Mapping[str, ConfigValue]
    home: ConfigValue
    profile: ConfigValue
    local_config_file: str | None = None  # the `.metaflow/config.json` that was read
    profile_config_file: str | None = None  # the `$METAFLOW_HOME/config*.json` that was read
    errors: tuple[str, ...] = field(default=())

    @classmethod
    def resolve(
        cls, flow_dir: str | os.PathLike[str], environ: Mapping[str, str] | None = None
    ) -> MetaflowConfig:
        """Read the environment and config files in Metaflow's order, starting from `flow_dir`."""
        env = os.environ if environ is None else environ
        start = os.path.abspath(os.fspath(flow_dir))
        errors: list[str] = []

        home_raw = env.get("METAFLOW_HOME")
        home = ConfigValue(
            home_raw or "~/.metaflowconfig", "environment" if home_raw else "default"
        )
        profile_raw = env.get("METAFLOW_PROFILE")
        profile = ConfigValue(profile_raw or None, "environment" if profile_raw else "default")

        profile_file, profile_values = _read_profile_config(
            _expand(home.value, env), profile.value, errors
        )
        local_file, local_values = _read_local_config(start, errors)

        values: dict[str, ConfigValue] = {}
        for name, default in KEYS.items():
            if name in env:
                values[name] = ConfigValue(env[name], "environment")
            elif local_file and name in local_values:
                values[name] = ConfigValue(local_values[name], local_file)
            elif profile_file and name in profile_values:
                values[name] = ConfigValue(profile_values[name], profile_file)
            else:
                values[name] = ConfigValue(default, "default")
        _finish_values(values, errors)
        return cls(
            start_dir=start,
            values=values,
            home=home,
            profile=profile,
            local_config_file=local_file,
            profile_config_file=profile_file,
            errors=tuple(errors),
        )

    def get(self, name: str) -> Any:
        """The value of `name` (`METAFLOW_...`), or None when unknown."""
        item = self.values.get(name)
        return item.value if item else None

    def source(self, name: str) -> str:
        """Where the value of `name` came from."""
        item = self.values.get(name)
        return item.source if item else "unknown"

    @property
    def default_datastore(self) -> str:
        """METAFLOW_DEFAULT_DATASTORE: local, s3, azure or gs."""
        return str(self.get("METAFLOW_DEFAULT_DATASTORE"))

    @property
    def default_metadata(self) -> str:
        """METAFLOW_DEFAULT_METADATA: local or service."""
        return str(self.get("METAFLOW_DEFAULT_METADATA"))

    @property
    def service_url(self) -> str | None:
        """METAFLOW_SERVICE_URL, the metadata service."""
        return self.get("METAFLOW_SERVICE_URL")

    @property
    def service_headers(self) -> dict[str, str]:
        """METAFLOW_SERVICE_HEADERS, with METAFLOW_SERVICE_AUTH_KEY as `x-api-key` (as Metaflow)."""
        return dict(self.get("METAFLOW_SERVICE_HEADERS") or {})

    @property
    def s3_endpoint_url(self) -> str | None:
        """METAFLOW_S3_ENDPOINT_URL."""
        return self.get("METAFLOW_S3_ENDPOINT_URL")

    @property
    def datastore_sysroot_s3(self) -> str | None:
        """METAFLOW_DATASTORE_SYSROOT_S3."""
        return self.get("METAFLOW_DATASTORE_SYSROOT_S3")

    @property
    def card_s3root(self) -> str | None:
        """METAFLOW_CARD_S3ROOT (default: `<DATASTORE_SYSROOT_S3>/mf.cards`)."""
        return self.get("METAFLOW_CARD_S3ROOT")

    def local_root(self) -> str | None:
        """The `.metaflow` directory Metaflow's local datastore uses, or None if none exists yet.

        `METAFLOW_DATASTORE_SYSROOT_LOCAL/.metaflow` when set, else the first `.metaflow` found
        upwards from the start directory (LocalStorage.get_datastore_root_from_config).
        """
        return self._datastore_dir("METAFLOW_DATASTORE_SYSROOT_LOCAL", DATASTORE_LOCAL_DIR)

    def spin_root(self) -> str | None:
        """The `.metaflow_spin` directory where `spin` writes, or None if none exists yet."""
        return self._datastore_dir("METAFLOW_DATASTORE_SYSROOT_SPIN", DATASTORE_SPIN_LOCAL_DIR)

    def card_root(self, spin: bool = False) -> str:
        """The local card root: METAFLOW_CARD_LOCALROOT, else `mf.cards` in the `.metaflow`
        (or `.metaflow_spin`) found upwards from the start directory (CardDatastore)."""
        explicit = self.get("METAFLOW_CARD_LOCALROOT")
        if explicit:
            return str(explicit)
        dirname = DATASTORE_SPIN_LOCAL_DIR if spin else DATASTORE_LOCAL_DIR
        found = find_upwards(self.start_dir, dirname)
        base = found or os.path.join(self.start_dir, dirname)
        return os.path.join(base, CARD_SUFFIX)

    def _datastore_dir(self, sysroot_key: str, dirname: str) -> str | None:
        sysroot = self.get(sysroot_key)
        if sysroot:
            path = os.path.join(os.path.expanduser(str(sysroot)), dirname)
            return path if os.path.isdir(path) else None
        return find_upwards(self.start_dir, dirname)

    def describe(self) -> list[str]:
        """One line per setting, `NAME = value (source)`, secrets masked."""
        lines = [
            f"METAFLOW_HOME = {self.home.value} ({self.home.source})",
            f"METAFLOW_PROFILE = {self.profile.value} ({self.profile.source})",
        ]
        for name, item in self.values.items():
            shown = "***" if name in SECRET_KEYS and item.value else item.value
            lines.append(f"{name} = {shown} ({item.source})")
        return lines


def find_upwards(start: str, dirname: str) -> str | None:
    """The first `dirname` directory in `start` or one of its parents, or None."""
    current = os.path.abspath(start)
    while True:
        candidate = os.path.join(current, dirname)
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _expand(path: str, env: Mapping[str, str]) -> str:
    """`~` expanded with the given environment's HOME (the process's own when it has none)."""
    if path.startswith("~") and env.get("HOME"):
        return env["HOME"] + path[1:] if path[1:2] in ("", "/") else os.path.expanduser(path)
    return os.path.expanduser(path)


def _read_config_file(path: str, errors: list[str]) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        errors.append(
            f"Metaflow's config file {path} can't be read ({error}); its settings are ignored. "
            "Fix or remove the file (Metaflow itself will fail on it too)."
        )
        return None
    if not isinstance(data, dict):
        errors.append(f"Metaflow's config file {path} is not a JSON object; it is ignored.")
        return None
    return data


def _read_profile_config(
    home: str, profile: str | None, errors: list[str]
) -> tuple[str | None, dict[str, Any]]:
    name = f"config_{profile}.json" if profile else "config.json"
    path = os.path.join(home, name)
    data = _read_config_file(path, errors)
    if data is None:
        if profile and not os.path.exists(path):
            errors.append(
                f"METAFLOW_PROFILE is {profile!r} but {path} does not exist: Metaflow will refuse "
                "to start. Create the file or unset METAFLOW_PROFILE."
            )
        return None, {}
    return path, data


def _read_local_config(start: str, errors: list[str]) -> tuple[str | None, dict[str, Any]]:
    found = find_upwards(start, DATASTORE_LOCAL_DIR)
    if found is None:
        return None, {}
    path = os.path.join(found, LOCAL_CONFIG_FILE)
    data = _read_config_file(path, errors)
    return (path, data) if data is not None else (None, {})


def _finish_values(values: dict[str, ConfigValue], errors: list[str]) -> None:
    """Metaflow's conversions and derived defaults (metaflow_config.py)."""
    headers = values["METAFLOW_SERVICE_HEADERS"]
    parsed: Any = headers.value
    if isinstance(parsed, str):
        try:
            parsed = json.loads(parsed)
        except ValueError:
            errors.append(
                f"METAFLOW_SERVICE_HEADERS ({headers.source}) is not valid JSON; it is ignored."
            )
            parsed = {}
    if not isinstance(parsed, dict):
        errors.append(f"METAFLOW_SERVICE_HEADERS ({headers.source}) is not a JSON object.")
        parsed = {}
    auth = values["METAFLOW_SERVICE_AUTH_KEY"].value
    if auth is not None:
        parsed = {**parsed, "x-api-key": auth}
    values["METAFLOW_SERVICE_HEADERS"] = ConfigValue(parsed, headers.source)

    card = values["METAFLOW_CARD_S3ROOT"]
    sysroot_s3 = values["METAFLOW_DATASTORE_SYSROOT_S3"].value
    if card.value is None and sysroot_s3:
        values["METAFLOW_CARD_S3ROOT"] = ConfigValue(
            os.path.join(str(sysroot_s3), CARD_SUFFIX),
            "derived from METAFLOW_DATASTORE_SYSROOT_S3",
        )
