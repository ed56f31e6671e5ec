"""`.metaflow-lsp.toml`: parsing, where it is found, how levels merge, and how the options reach
Metaflow's command line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from metaflow_lsp.execute import (
    CommandError,
    SettingsError,
    load_settings,
    parse_settings,
    resume_command,
    run_command,
    spin_command,
)
from metaflow_lsp.flow import analyze_path

EXAMPLES = Path(__file__).parent.parent.parent / "examples"

SETTINGS = textwrap.dedent(
    """\
    environment = "pypi"
    tags = ["editor"]
    max_workers = 4
    with = ["retry:times=1"]
    parameters = { epochs = 5 }
    env = { TRAIN_MODE = "fast" }

    [flows.TrainFlow]
    parameters = { learning_rates = "0.1,0.5" }
    artifacts_module = "fixtures/artifacts.py"
    persist = false

    [flows.TrainFlow.presets.quick]
    parameters = { epochs = 1 }
    tags = ["quick"]

    [presets.wide]
    max_workers = 32
    """
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / ".metaflow-lsp.toml").write_text(SETTINGS, encoding="utf-8")
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "train_flow.py").write_text(
        (EXAMPLES / "train_flow.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    return tmp_path


def test_levels_merge_from_defaults_to_flow_to_preset_to_command(workspace: Path) -> None:
    settings = load_settings(str(workspace / "flows"), str(workspace))
    assert settings.path == str(workspace / ".metaflow-lsp.toml")
    assert settings.preset_names("TrainFlow") == ["quick", "wide"]
    options = settings.options("TrainFlow", "quick", {"parameters": {"learning_rates": "0.3"}})
    # Tables merge key by key; lists and scalars of a narrower level replace the wider one's.
    assert options.parameters == {"epochs": 1, "learning_rates": "0.3"}
    assert options.tags == ("quick",)
    assert options.max_workers == 4
    assert options.environment == "pypi"
    assert options.persist is False
    # Relative paths are relative to the file that names them.
    assert options.artifacts_module == str(workspace / "fixtures" / "artifacts.py")
    assert settings.options("OtherFlow").parameters == {"epochs": 5}
    assert settings.options("OtherFlow", "wide").max_workers == 32


def test_options_reach_the_command_lines(workspace: Path) -> None:
    flow_file = str(workspace / "flows" / "train_flow.py")
    flow = analyze_path(flow_file).flow()
    assert flow is not None
    settings = load_settings(str(workspace / "flows"), str(workspace))
    options = settings.options("TrainFlow", "quick")
    run = run_command("/py", flow_file, "TrainFlow", options, flow.parameters, {"PATH": "/bin"})
    assert run.argv == (
        "/py",
        "train_flow.py",
        "--environment=pypi",
        "run",
        "--tag",
        "quick",
        "--with",
        "retry:times=1",
        "--max-workers",
        "4",
        "--epochs",
        "1",
        "--learning_rates",
        "0.1,0.5",
    )
    assert run.cwd == str(workspace / "flows")
    assert run.env["TRAIN_MODE"] == "fast" and run.env["USERNAME"]
    assert run.display().startswith("python train_flow.py --environment=pypi run --tag quick")

    spin = spin_command(
        "/py", flow_file, "TrainFlow", "TrainFlow/12/train/3", options, {"USERNAME": "alice"}
    )
    assert spin.argv[2:] == (
        "--environment=pypi",
        "spin",
        "TrainFlow/12/train/3",
        "--artifacts-module",
        str(workspace / "fixtures" / "artifacts.py"),
        "--no-persist",
    )
    assert spin.env["USERNAME"] == "alice" and spin.step == "train"

    resume = resume_command("/py", flow_file, "TrainFlow", "choose", "12", options, {}, "/tmp/id")
    assert resume.argv[2:] == (
        "--environment=pypi",
        "resume",
        "choose",
        "--origin-run-id",
        "12",
        "--tag",
        "quick",
        "--with",
        "retry:times=1",
        "--max-workers",
        "4",
        "--run-id-file",
        "/tmp/id",
    )
    assert "--run-id-file" not in resume.display()


def test_configs_and_value_types_on_the_command_line(tmp_path: Path) -> None:
    flow_file = tmp_path / "config_flow.py"
    flow_file.write_text(
        textwrap.dedent(
            """\
            from metaflow import Config, FlowSpec, Parameter, step

            class ConfigFlow(FlowSpec):
                config = Config("config", default="config.json")
                flag = Parameter("flag", type=bool, default=False)
                grid = Parameter("grid", default="[]")

                @step
                def start(self):
                    self.next(self.end)

                @step
                def end(self):
                    pass

            if __name__ == "__main__":
                ConfigFlow()
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / ".metaflow-lsp.toml").write_text(
        'configs = { config = "prod.json" }\nparameters = { flag = true, grid = [1, 2] }\n',
        encoding="utf-8",
    )
    flow = analyze_path(str(flow_file)).flow()
    assert flow is not None
    options = load_settings(str(tmp_path), str(tmp_path)).options("ConfigFlow")
    run = run_command("/py", str(flow_file), "ConfigFlow", options, flow.parameters, {})
    assert run.argv[2:] == (
        "--config",
        "config",
        str(tmp_path / "prod.json"),
        "run",
        "--flag",
        "true",
        "--grid",
        "[1, 2]",
    )
    inline = load_settings(str(tmp_path), str(tmp_path)).options(
        "ConfigFlow", overrides={"configs": {"config": {"lr": 0.1}}}
    )
    run = run_command("/py", str(flow_file), "ConfigFlow", inline, flow.parameters, {})
    assert run.argv[2:5] == ("--config-value", "config", '{"lr": 0.1}')
    with pytest.raises(CommandError, match=r"no Parameter 'epochs'.*flag, grid"):
        run_command(
            "/py",
            str(flow_file),
            "ConfigFlow",
            load_settings(str(tmp_path), None).options(
                "ConfigFlow", overrides={"parameters": {"epochs": 1}}
            ),
            flow.parameters,
            {},
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_workers = 'x'", "max_workers must be a positive integer"),
        ("tagz = ['a']", "unknown key 'tagz'"),
        ("[flows.TrainFlow]\npersist = 'yes'", "flows.TrainFlow.persist must be true or false"),
        ("env = { A = 1 }", "env.A must be a string"),
        ("parameters = [", "is not valid TOML"),
    ],
)
def test_mistakes_say_where(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_settings(text, str(tmp_path / ".metaflow-lsp.toml"))


def test_the_nearest_file_up_to_the_workspace_folder_applies(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    assert load_settings(str(inner), str(tmp_path)).path is None
    (tmp_path / ".metaflow-lsp.toml").write_text("max_workers = 2\n", encoding="utf-8")
    assert load_settings(str(inner), str(tmp_path)).options("F").max_workers == 2
    (tmp_path / "a" / ".metaflow-lsp.toml").write_text("max_workers = 3\n", encoding="utf-8")
    assert load_settings(str(inner), str(tmp_path)).options("F").max_workers == 3
    # Outside the workspace folder only the flow's own directory is looked at.
    assert load_settings(str(inner), None).path is None
    with pytest.raises(SettingsError, match="no preset 'nope'"):
        load_settings(str(inner), str(tmp_path)).options("F", "nope")
