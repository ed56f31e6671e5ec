"""Metaflow command lines: `run`, `spin` and `resume` as a user would type them in the flow's
directory, from the merged options (`settings.RunOptions`) and the flow's declared Parameters.

Pure functions: nothing here starts a process or reads a file.
"""

from __future__ import annotations

import getpass
import json
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..flow.model import ParameterInfo
from .settings import RunOptions, Value

Kind = Literal["run", "spin", "resume"]


class CommandError(Exception):
    """The command cannot be built from what was asked; the message says what to change."""


@dataclass(frozen=True)
class Command:
    """One Metaflow command, ready to start."""

    kind: Kind
    flow: str
    flow_file: str  # absolute
    argv: tuple[str, ...]  # the interpreter first, the flow file relative to `cwd`
    cwd: str
    env: Mapping[str, str] = field(repr=False, default_factory=dict)
    step: str | None = None  # spin: the spun step; resume: the step resumed from
    source: str | None = None  # spin: the task spun (`Flow/run/step/task`); resume: origin run
    run_id_file: str | None = None  # where Metaflow writes the new run's id

    def display(self) -> str:
        """The command as typed in a shell in `cwd` (`python flow.py run ...`)."""
        shown = ["python", *self.argv[1:]]
        if self.run_id_file and "--run-id-file" in shown:
            at = shown.index("--run-id-file")
            del shown[at : at + 2]
        return shlex.join(shown)


def environment(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """The user's environment plus `extra`, with USERNAME (Metaflow needs it) when unset, and
    unbuffered Python so that output lines arrive as they are printed."""
    env = dict(base)
    env.update(extra)
    if not env.get("USERNAME"):
        env["USERNAME"] = env.get("USER") or env.get("LOGNAME") or _login_name()
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): Metaflow only needs some name
        return "metaflow-lsp"


def cli_value(value: Value) -> str:
    """A Parameter value as Metaflow's command line takes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _top(options: RunOptions, configs: bool) -> list[str]:
    out: list[str] = []
    if options.environment:
        out.append(f"--environment={options.environment}")
    if configs:
        for name, value in options.configs.items():
            if isinstance(value, str):
                out += ["--config", name, value]
            else:
                out += ["--config-value", name, json.dumps(value)]
    return out + list(options.top_args)


def _scheduling(options: RunOptions) -> list[str]:
    out: list[str] = []
    for tag in options.tags:
        out += ["--tag", tag]
    for spec in options.decospecs:
        out += ["--with", spec]
    if options.max_workers is not None:
        out += ["--max-workers", str(options.max_workers)]
    if options.max_num_splits is not None:
        out += ["--max-num-splits", str(options.max_num_splits)]
    return out


def _parameter_args(
    values: Mapping[str, Value], declared: Sequence[ParameterInfo], flow: str
) -> list[str]:
    """`--name value` for each Parameter value, by its name or its attribute."""
    by_key: dict[str, ParameterInfo] = {}
    for info in declared:
        if info.kind == "Config":
            continue
        by_key[info.attribute] = info
        if info.name:
            by_key[info.name] = info
    out: list[str] = []
    for key, value in values.items():
        found = by_key.get(key)
        if found is None:
            known = sorted({p.name or p.attribute for p in declared if p.kind != "Config"})
            raise CommandError(
                f"{flow} has no Parameter {key!r} (its Parameters: {', '.join(known) or 'none'}): "
                "fix the name in the command or in .metaflow-lsp.toml"
            )
        out += [f"--{found.name or found.attribute}", cli_value(value)]
    return out


def _check_configs(options: RunOptions, declared: Sequence[ParameterInfo], flow: str) -> None:
    names = {p.name or p.attribute for p in declared if p.kind == "Config"}
    unknown = [n for n in options.configs if n not in names]
    if unknown:
        raise CommandError(
            f"{flow} has no Config {unknown[0]!r} (its Configs: {', '.join(sorted(names)) or 'none'})"
            ": fix the name in the command or in .metaflow-lsp.toml"
        )


def _start(python: str, flow_file: str) -> tuple[list[str], str]:
    cwd = os.path.dirname(os.path.abspath(flow_file))
    return [python, os.path.basename(flow_file)], cwd


def run_command(
    python: str,
    flow_file: str,
    flow: str,
    options: RunOptions,
    declared: Sequence[ParameterInfo],
    env: Mapping[str, str],
    run_id_file: str | None = None,
) -> Command:
    """`python flow.py [top options] run [run options] [--param value ...]`."""
    _check_configs(options, declared, flow)
    argv, cwd = _start(python, flow_file)
    argv += _top(options, configs=True)
    argv.append("run")
    argv += _scheduling(options)
    argv += options.run_args
    argv += _parameter_args(options.parameters, declared, flow)
    if run_id_file:
        argv += ["--run-id-file", run_id_file]
    return Command(
        "run",
        flow,
        os.path.abspath(flow_file),
        tuple(argv),
        cwd,
        environment(env, options.env),
        run_id_file=run_id_file,
    )


def spin_command(
    python: str,
    flow_file: str,
    flow: str,
    task_pathspec: str,
    options: RunOptions,
    env: Mapping[str, str],
    run_id_file: str | None = None,
) -> Command:
    """`python flow.py [top options] spin Flow/run/step/task [--artifacts-module m] --persist`.

    The full pathspec spares Metaflow a Client lookup of the task; persisting is explicit
    (`persist` unset means persist: the editor shows what a persisted spin produced)."""
    parts = task_pathspec.split("/")
    if len(parts) != 4 or parts[0] != flow or not all(parts):
        raise CommandError(
            f"{task_pathspec!r} is not a task pathspec of {flow} (Flow/run/step/task)"
        )
    argv, cwd = _start(python, flow_file)
    argv += _top(options, configs=False)
    argv += ["spin", task_pathspec]
    if options.artifacts_module:
        argv += ["--artifacts-module", options.artifacts_module]
    argv.append("--no-persist" if options.persist is False else "--persist")
    argv += options.spin_args
    if run_id_file:
        argv += ["--run-id-file", run_id_file]
    return Command(
        "spin",
        flow,
        os.path.abspath(flow_file),
        tuple(argv),
        cwd,
        environment(env, options.env),
        step=parts[2],
        source=task_pathspec,
        run_id_file=run_id_file,
    )


def resume_command(
    python: str,
    flow_file: str,
    flow: str,
    step: str | None,
    origin_run_id: str,
    options: RunOptions,
    env: Mapping[str, str],
    run_id_file: str | None = None,
) -> Command:
    """`python flow.py [top options] resume [step] --origin-run-id ID [run options]`.

    The origin is always explicit: `spin` rewrites `.metaflow/<Flow>/latest_run`, which is what
    Metaflow would otherwise resume. Parameters and Configs come from the origin run."""
    argv, cwd = _start(python, flow_file)
    argv += _top(options, configs=False)
    argv.append("resume")
    if step:
        argv.append(step)
    argv += ["--origin-run-id", origin_run_id]
    argv += _scheduling(options)
    argv += options.resume_args
    if run_id_file:
        argv += ["--run-id-file", run_id_file]
    return Command(
        "resume",
        flow,
        os.path.abspath(flow_file),
        tuple(argv),
        cwd,
        environment(env, options.env),
        step=step,
        source=f"{flow}/{origin_run_id}",
        run_id_file=run_id_file,
    )
