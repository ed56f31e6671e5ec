"""Metaflow's configuration order: environment > `.metaflow/config.json` > profile > default."""

from __future__ import annotations

import json
import os
from pathlib import Path

from metaflow_lsp.runs import MetaflowConfig


def write(path: Path, data: object) -> Path:
    """Write `data` as JSON, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A project with a local config two levels above the flow, and a METAFLOW_HOME."""
    project = tmp_path / "project"
    flow_dir = project / "pkg" / "flows"
    flow_dir.mkdir(parents=True)
    write(
        project / ".metaflow" / "config.json",
        {
            "METAFLOW_DEFAULT_DATASTORE": "s3",
            "METAFLOW_DATASTORE_SYSROOT_S3": "s3://local-bucket/mf",
        },
    )
    home = tmp_path / "home"
    write(
        home / "config.json",
        {
            "METAFLOW_DEFAULT_DATASTORE": "azure",
            "METAFLOW_DEFAULT_METADATA": "service",
            "METAFLOW_SERVICE_URL": "https://profile.example/api",
            "METAFLOW_DATASTORE_SYSROOT_S3": "s3://profile-bucket/mf",
        },
    )
    write(home / "config_prod.json", {"METAFLOW_SERVICE_URL": "https://prod.example/api"})
    return flow_dir, home


def test_environment_beats_local_config_beats_profile(tmp_path: Path) -> None:
    flow_dir, home = layout(tmp_path)
    local_file = str(tmp_path / "project" / ".metaflow" / "config.json")
    env = {"METAFLOW_HOME": str(home), "METAFLOW_DATASTORE_SYSROOT_S3": "s3://env-bucket/mf"}
    config = MetaflowConfig.resolve(flow_dir, env)
    assert config.errors == ()
    assert config.datastore_sysroot_s3 == "s3://env-bucket/mf"
    assert config.source("METAFLOW_DATASTORE_SYSROOT_S3") == "environment"
    assert config.default_datastore == "s3"  # local config over the profile's "azure"
    assert config.source("METAFLOW_DEFAULT_DATASTORE") == local_file
    assert config.default_metadata == "service"  # only the profile sets it
    assert config.source("METAFLOW_DEFAULT_METADATA") == str(home / "config.json")
    assert config.service_url == "https://profile.example/api"
    assert config.get("METAFLOW_DATASTORE_SYSROOT_LOCAL") is None
    assert config.source("METAFLOW_DATASTORE_SYSROOT_LOCAL") == "default"
    assert config.card_s3root == "s3://env-bucket/mf/mf.cards"
    assert config.source("METAFLOW_CARD_S3ROOT").startswith("derived")
    assert config.local_config_file == local_file
    assert config.local_root() == str(tmp_path / "project" / ".metaflow")
    assert any(line.startswith("METAFLOW_DEFAULT_DATASTORE = s3 (") for line in config.describe())


def test_a_profile_replaces_config_json_and_a_missing_one_is_reported(tmp_path: Path) -> None:
    flow_dir, home = layout(tmp_path)
    config = MetaflowConfig.resolve(
        flow_dir, {"METAFLOW_HOME": str(home), "METAFLOW_PROFILE": "prod"}
    )
    assert config.profile.value == "prod"
    assert config.service_url == "https://prod.example/api"
    assert config.default_metadata == "local"  # config.json is not read with a profile
    assert config.profile_config_file == str(home / "config_prod.json")
    missing = MetaflowConfig.resolve(
        flow_dir, {"METAFLOW_HOME": str(home), "METAFLOW_PROFILE": "nope"}
    )
    (error,) = missing.errors
    assert "config_nope.json" in error and "METAFLOW_PROFILE" in error


def test_the_nearest_metaflow_dir_ends_the_local_config_search(tmp_path: Path) -> None:
    flow_dir, home = layout(tmp_path)
    (flow_dir.parent / ".metaflow").mkdir()  # nearer, without config.json: Metaflow stops here
    config = MetaflowConfig.resolve(flow_dir, {"METAFLOW_HOME": str(home)})
    assert config.local_config_file is None
    assert config.default_datastore == "azure"
    assert config.local_root() == str(flow_dir.parent / ".metaflow")
    assert config.card_root() == str(flow_dir.parent / ".metaflow" / "mf.cards")


def test_defaults_home_and_sysroots(tmp_path: Path) -> None:
    config = MetaflowConfig.resolve(tmp_path, {"METAFLOW_HOME": str(tmp_path / "empty")})
    assert (config.default_datastore, config.default_metadata) == ("local", "local")
    assert config.home.value == str(tmp_path / "empty") and config.home.source == "environment"
    assert config.local_root() is None and config.spin_root() is None
    assert config.card_root() == str(tmp_path / ".metaflow" / "mf.cards")
    default_home = MetaflowConfig.resolve(tmp_path, {"HOME": str(tmp_path)})
    assert (default_home.home.value, default_home.home.source) == ("~/.metaflowconfig", "default")
    sysroot = tmp_path / "shared"
    (sysroot / ".metaflow").mkdir(parents=True)
    env = {
        "METAFLOW_HOME": str(tmp_path / "empty"),
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(sysroot),
        "METAFLOW_CARD_LOCALROOT": str(tmp_path / "cards"),
    }
    config = MetaflowConfig.resolve(tmp_path, env)
    assert config.local_root() == str(sysroot / ".metaflow")
    assert config.card_root() == str(tmp_path / "cards")
    assert config.card_root(spin=True) == str(tmp_path / "cards")


def test_service_headers_and_auth_key_and_broken_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text("{broken")
    env = {
        "METAFLOW_HOME": str(home),
        "METAFLOW_SERVICE_HEADERS": '{"x-team": "ml"}',
        "METAFLOW_SERVICE_AUTH_KEY": "secret",
    }
    config = MetaflowConfig.resolve(tmp_path, env)
    assert config.service_headers == {"x-team": "ml", "x-api-key": "secret"}
    assert "secret" not in "\n".join(config.describe())
    (error,) = config.errors
    assert str(home / "config.json") in error and "can't be read" in error
    bad = MetaflowConfig.resolve(
        tmp_path, {"METAFLOW_HOME": str(tmp_path), "METAFLOW_SERVICE_HEADERS": "nope"}
    )
    assert bad.service_headers == {} and "not valid JSON" in bad.errors[0]


def test_the_environment_is_not_read_when_one_is_given(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "gs")
    assert (
        MetaflowConfig.resolve(tmp_path, {"HOME": os.fspath(tmp_path)}).default_datastore == "local"
    )
    monkeypatch.setenv("METAFLOW_HOME", os.fspath(tmp_path))
    assert MetaflowConfig.resolve(tmp_path).default_datastore == "gs"
