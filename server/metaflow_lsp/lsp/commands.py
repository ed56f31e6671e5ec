"""workspace/executeCommand: metaflow.run, metaflow.spin, metaflow.resume, metaflow.cancel,
metaflow.stepAt and metaflow.parameters (also the `metaflow/parameters` request).

Each command takes one JSON object as its first argument (pygls 2 hands a command's arguments to
the handler as separate parameters). Before anything starts, the command is checked the way a
user would want it checked: the flow file parses, the file runs this flow, the interpreter has
Metaflow (2.19 or newer for spin), the workspace file is valid, the past run exists. A refusal
is shown with window/showMessage and answered as `{"status": "refused", "kind", "message"}`;
malformed arguments are a JSON-RPC error. Documented in docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from ..execute import (
    IF_BUSY,
    Command,
    CommandError,
    LaunchError,
    RunProgress,
    SettingsError,
    TargetError,
    WorkspaceSettings,
    load_settings,
    resume_command,
    resume_origin,
    run_command,
    spin_command,
    spin_task,
)
from ..flow import analyze_path
from ..flow.model import Flow, FlowFile, ParameterInfo, Step
from ..runs import RunStoreError
from .convert import uri_to_path
from .edge import log_exception
from .runs_service import RunsTimeout

if TYPE_CHECKING:
    from .server import MetaflowLanguageServer

RUN = "metaflow.run"
SPIN = "metaflow.spin"
RESUME = "metaflow.resume"
CANCEL = "metaflow.cancel"
STEP_AT = "metaflow.stepAt"
PARAMETERS = "metaflow.parameters"
PARAMETERS_REQUEST = "metaflow/parameters"
OPEN_VIEW = "metaflow.openView"  # the web view's; registered by its own module

SPIN_MIN_METAFLOW = (2, 19)
ARTIFACTS_FILE = "artifacts.py"  # the default --artifacts-module beside the flow


class Refused(Exception):
    """The command cannot run; the message says what to do."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# --------------------------------------------------------------------------------------------
# Arguments


def _plain(value: Any) -> Any:
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _invalid(message: str) -> JsonRpcException:
    return JsonRpcException(message, -32602, {"kind": "invalid_params"})


def _object(arguments: tuple[object, ...]) -> dict[str, Any]:
    """The command's first argument, which must be an object."""
    if not arguments or arguments[0] is None:
        return {}
    value = _plain(arguments[0])
    if not isinstance(value, dict):
        raise _invalid("the command's argument must be a JSON object")
    return value


def _text(args: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = args.get(name)
    if value is None:
        if required:
            raise _invalid(f"'{name}' is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"'{name}' must be a non-empty string")
    return value.strip()


def _flag(args: dict[str, Any], name: str) -> bool | None:
    value = args.get(name)
    if value is not None and not isinstance(value, bool):
        raise _invalid(f"'{name}' must be true or false")
    return value


def _index(args: dict[str, Any], name: str) -> int | None:
    value = args.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise _invalid(f"'{name}' must be a non-negative integer")
    return value


def _table(args: dict[str, Any], name: str) -> dict[str, Any]:
    value = args.get(name) or {}
    if not isinstance(value, dict):
        raise _invalid(f"'{name}' must be an object")
    return value


def _position(args: dict[str, Any]) -> types.Position | None:
    value = args.get("position")
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("line"), int)
        or not isinstance(value.get("character"), int)
    ):
        raise _invalid('\'position\' must be {"line": n, "character": n}')
    return types.Position(value["line"], value["character"])


# --------------------------------------------------------------------------------------------
# What the command is about


@dataclass
class Target:
    """The flow file, the flow and (maybe) the step a command names."""

    uri: str
    path: str
    flow_file: FlowFile
    flow: Flow
    step: Step | None
    notes: list[str]


async def _target(
    server: MetaflowLanguageServer, args: dict[str, Any], runnable: bool = True
) -> Target:
    """The flow and step of a command: `uri`, then `flow` or the one at `position` or the file's
    main flow, then `step` or the one at `position`. With `runnable`, the file as saved must
    parse and run this flow."""
    uri = _text(args, "uri", required=True)
    assert uri is not None
    path = uri_to_path(uri) if uri.startswith("file:") else os.path.abspath(uri)
    if not path:
        raise _invalid(f"'uri' must be a file: URI, not {uri!r}")
    if not await asyncio.to_thread(os.path.isfile, path):
        raise Refused("not_found", f"{path} does not exist: save the flow file first")
    snapshot = await server.documents.snapshot(uri)
    notes: list[str] = []
    roots = server.workspace_roots()
    # What the user sees (the buffer) says which flow and step they mean ...
    seen = (
        snapshot.flow_file
        if snapshot is not None
        else await asyncio.to_thread(analyze_path, path, roots)
    )
    position = _position(args)
    line = column = None
    if position is not None:
        if snapshot is not None:
            line, column = snapshot.lines.model_position(position)
        else:
            line, column = position.line + 1, position.character
    name = _text(args, "flow")
    flow = (
        seen.flow(name)
        if name
        else (seen.flow_at(line) if line is not None else None) or seen.flow()
    )
    if flow is None:
        found = ", ".join(f.name for f in seen.flows) or "no FlowSpec class"
        named = f" {name}" if name else ""
        raise Refused("not_found", f"{os.path.basename(path)} has no flow{named} (it has {found})")
    step_name = _text(args, "step")
    if not step_name and line is not None and column is not None:
        at = flow.step_at(line, column)
        step_name = at.name if at is not None else None
    # ... and what Metaflow runs is the saved file.
    flow_file = seen
    if runnable:
        disk = await asyncio.to_thread(_read, path)
        if snapshot is not None and snapshot.text != disk:
            notes.append(
                f"{os.path.basename(path)} has unsaved changes: Metaflow runs the saved file"
            )
            flow_file = await asyncio.to_thread(analyze_path, path, roots)
            saved = flow_file.flow(flow.name)
            if saved is None:
                raise Refused(
                    "not_found",
                    f"the saved {os.path.basename(path)} has no flow {flow.name}: save it",
                )
            flow = saved
    step: Step | None = None
    if step_name:
        step = flow.steps.get(step_name)
        if step is None:
            raise Refused(
                "not_found",
                f"{flow.name} has no step {step_name!r} (its steps: {', '.join(flow.steps)})"
                + (": save the file first" if notes else ""),
            )
    if runnable:
        if flow_file.syntax_errors:
            error = flow_file.syntax_errors[0]
            raise Refused(
                "syntax_error",
                f"{os.path.basename(path)} line {error.range.start.line}: {error.message}. "
                "Fix it (and save) before running the flow",
            )
        if flow_file.main_flow != flow.name:
            runs = (
                f"runs {flow_file.main_flow}"
                if flow_file.main_flow
                else 'has no `if __name__ == "__main__":`'
            )
            raise Refused(
                "not_runnable",
                f"`python {os.path.basename(path)}` does not run {flow.name} (the file {runs}): "
                f'call `{flow.name}()` under `if __name__ == "__main__":` at its end',
            )
    return Target(uri, path, flow_file, flow, step, notes)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


async def _python(server: MetaflowLanguageServer, target: Target, kind: str) -> str:
    """The flow's interpreter, checked: it runs and has Metaflow (2.19+ for spin)."""
    interpreter = await server.runs.interpreter_for(target.path)
    if not interpreter.ok or interpreter.path is None:
        raise Refused(
            "no_interpreter",
            f"no Python to run {target.flow.name} with: {interpreter.problem}. Set "
            "metaflow-lsp.python to the interpreter your flows run with",
        )
    probe = await interpreter.probe_async()
    if probe.error or not probe.has_metaflow:
        probe = await interpreter.probe_async(refresh=True)  # it may have been fixed since
    where = interpreter.describe()
    if probe.error:
        raise Refused("no_interpreter", f"{probe.error}. Set metaflow-lsp.python to a working one")
    if not probe.has_metaflow:
        raise Refused(
            "metaflow_missing",
            f"Metaflow is not installed in {where} ({probe.metaflow_error}): run "
            f"`{interpreter.path} -m pip install metaflow`, or set metaflow-lsp.python to the "
            "Python your flows run with",
        )
    if kind == "spin" and _version(probe.metaflow_version) < SPIN_MIN_METAFLOW:
        raise Refused(
            "metaflow_too_old",
            f"spin needs Metaflow 2.19 or newer; {where} has Metaflow {probe.metaflow_version}: "
            f"run `{interpreter.path} -m pip install -U metaflow`",
        )
    return str(interpreter.path)


def _version(text: str | None) -> tuple[int, ...]:
    numbers = []
    for part in (text or "").split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers) or (0,)


async def _settings(server: MetaflowLanguageServer, path: str) -> WorkspaceSettings:
    root = server.runs.workspace_root_of(path)
    try:
        return await asyncio.to_thread(load_settings, os.path.dirname(path), root)
    except SettingsError as error:
        raise Refused("settings", f"{error}: fix the file, then try again") from None


def _overrides(args: dict[str, Any]) -> dict[str, Any]:
    """The command's own options: `options` plus the shortcuts `parameters`,
    `artifacts_module` and `persist`."""
    out = dict(_table(args, "options"))
    parameters = _table(args, "parameters")
    if parameters:
        out["parameters"] = {**out.get("parameters", {}), **parameters}
    for key in ("artifacts_module", "persist"):
        if args.get(key) is not None:
            out[key] = args[key]
    return out


def _if_busy(args: dict[str, Any]) -> Any:
    value = _text(args, "if_busy") or "ask"
    if value not in IF_BUSY:
        raise _invalid(f"'if_busy' must be one of {', '.join(IF_BUSY)}, not {value!r}")
    return value


async def _store(server: MetaflowLanguageServer, path: str) -> Any:
    return await server.runs.store_for(path)


# --------------------------------------------------------------------------------------------
# The commands


async def _launch(
    server: MetaflowLanguageServer,
    target: Target,
    command: Command,
    args: dict[str, Any],
    only: str | None = None,
) -> dict[str, Any]:
    flow = target.flow
    progress = RunProgress(flow.graph, flow.steps, only=only)
    if_busy = _if_busy(args)
    for note in target.notes:
        server.window_show_message(types.ShowMessageParams(types.MessageType.Warning, note))
    try:
        return await server.executions.submit(
            command, target.uri, progress, if_busy, bool(args.get("wait")), target.notes
        )
    except LaunchError as error:
        raise Refused("launch_failed", f"{error}: check metaflow-lsp.python") from None


async def run(server: MetaflowLanguageServer, args: dict[str, Any]) -> dict[str, Any]:
    """metaflow.run: run the flow with its Parameters."""
    target = await _target(server, args)
    python = await _python(server, target, "run")
    settings = await _settings(server, target.path)
    try:
        options = settings.options(
            target.flow.name,
            _text(args, "preset"),
            _overrides(args),
            os.path.dirname(target.path),
        )
        command = run_command(
            python,
            target.path,
            target.flow.name,
            options,
            target.flow.parameters,
            os.environ,
            server.executions.run_id_file(),
        )
    except (SettingsError, CommandError) as error:
        raise Refused("invalid_options", str(error)) from None
    return await _launch(server, target, command, args)


async def spin(server: MetaflowLanguageServer, args: dict[str, Any]) -> dict[str, Any]:
    """metaflow.spin: run one step again with its parents' outputs from a past run."""
    target = await _target(server, args)
    step = _step(target, "spin")
    python = await _python(server, target, "spin")
    settings = await _settings(server, target.path)
    flow_dir = os.path.dirname(target.path)
    try:
        options = settings.options(
            target.flow.name, _text(args, "preset"), _overrides(args), flow_dir
        )
    except SettingsError as error:
        raise Refused("invalid_options", str(error)) from None
    if options.artifacts_module is None:
        default = os.path.join(flow_dir, ARTIFACTS_FILE)
        if await asyncio.to_thread(os.path.isfile, default):
            options = replace(options, artifacts_module=default)
    if options.artifacts_module and not await asyncio.to_thread(
        os.path.isfile, options.artifacts_module
    ):
        raise Refused(
            "invalid_options",
            f"the artifacts module {options.artifacts_module} does not exist: create it (a "
            "module with an ARTIFACTS dict) or fix artifacts_module",
        )
    task = await _spin_task(server, target, step, args)
    try:
        command = spin_command(
            python,
            target.path,
            target.flow.name,
            task,
            options,
            os.environ,
            server.executions.run_id_file(),
        )
    except CommandError as error:
        raise Refused("invalid_options", str(error)) from None
    return await _launch(server, target, command, args, only=step)


def _step(target: Target, kind: str) -> str:
    if target.step is None:
        raise Refused(
            "no_step",
            f"which step of {target.flow.name} to {kind}? Put the cursor in a step or pass 'step'",
        )
    return target.step.name


async def _spin_task(
    server: MetaflowLanguageServer, target: Target, step: str, args: dict[str, Any]
) -> str:
    """`Flow/run/step/task` to spin: from `pathspec` (a run or a task), or the newest run in
    which the step has a task."""
    flow = target.flow.name
    run_id = task_id = None
    pathspec = _text(args, "pathspec")
    if pathspec:
        parts = pathspec.split("/")
        if parts[0] != flow or len(parts) not in (2, 4) or (len(parts) == 4 and parts[2] != step):
            raise _invalid(
                f"'pathspec' must be {flow}/<run> or {flow}/<run>/{step}/<task>, not {pathspec!r}"
            )
        run_id = parts[1]
        task_id = parts[3] if len(parts) == 4 else None
    run_id = _text(args, "run_id") or run_id
    store = await _store(server, target.path)
    try:
        task = await server.runs.io(
            lambda: spin_task(
                store,
                flow,
                step,
                run_id=run_id,
                task_id=task_id,
                foreach_index=_index(args, "foreach_index"),
            )
        )
    except TargetError as error:
        raise Refused("no_past_run", str(error)) from None
    return task.pathspec


async def resume(server: MetaflowLanguageServer, args: dict[str, Any]) -> dict[str, Any]:
    """metaflow.resume: resume a past run from the step under the cursor."""
    target = await _target(server, args)
    python = await _python(server, target, "resume")
    settings = await _settings(server, target.path)
    store = await _store(server, target.path)
    flow = target.flow.name
    origin_id = _text(args, "origin_run_id")
    try:
        origin = await server.runs.io(resume_origin, store, flow, origin_id)
    except TargetError as error:
        raise Refused("no_past_run", str(error)) from None
    try:
        options = settings.options(
            flow, _text(args, "preset"), _overrides(args), os.path.dirname(target.path)
        )
        command = resume_command(
            python,
            target.path,
            flow,
            target.step.name if target.step else None,
            origin.run_id,
            options,
            os.environ,
            server.executions.run_id_file(),
        )
    except (SettingsError, CommandError) as error:
        raise Refused("invalid_options", str(error)) from None
    return await _launch(server, target, command, args)


async def cancel(server: MetaflowLanguageServer, args: dict[str, Any]) -> dict[str, Any]:
    """metaflow.cancel: stop an execution (`execution`), a flow's (`uri`, `flow`), or all."""
    executions = server.executions
    wanted = _text(args, "execution")
    uri = _text(args, "uri")
    flow = _text(args, "flow")
    path = (uri_to_path(uri) if uri.startswith("file:") else os.path.abspath(uri)) if uri else None
    ids = [
        e.id
        for e in executions.active()
        if (wanted is None or e.id == wanted)
        and (path is None or e.command.flow_file == path)
        and (flow is None or e.command.flow == flow)
    ]
    stopped = await executions.cancel(ids)
    return {"cancelled": stopped}


async def step_at(server: MetaflowLanguageServer, args: dict[str, Any]) -> dict[str, Any] | None:
    """metaflow.stepAt: the flow and step at a position (null outside every flow)."""
    position = _position(args)
    if position is None:
        raise _invalid("'position' is required")
    try:
        target = await _target(server, args, runnable=False)
    except Refused:
        return None
    if not args.get("flow") and target.flow_file.flow_at(position.line + 1) is None:
        return None
    return {
        "uri": target.uri,
        "flow": target.flow.name,
        "step": target.step.name if target.step else None,
        "runnable": target.flow_file.main_flow == target.flow.name,
    }


def _parameter_json(info: ParameterInfo, value: Any) -> dict[str, Any]:
    return {
        "name": info.name or info.attribute,
        "attribute": info.attribute,
        "kind": info.kind,
        "type": info.type,
        "default": info.default,
        "help": info.help,
        "required": info.required,
        "value": value,
    }


async def parameters(server: MetaflowLanguageServer, args: dict[str, Any]) -> dict[str, Any]:
    """metaflow.parameters: the flow's Parameters and Configs, for a client to prompt, with the
    values the workspace file gives them."""
    target = await _target(server, args, runnable=False)
    settings = await _settings(server, target.path)
    flow = target.flow
    try:
        options = settings.options(
            flow.name, _text(args, "preset"), None, os.path.dirname(target.path)
        )
    except SettingsError as error:
        raise Refused("invalid_options", str(error)) from None
    declared = [p for p in flow.parameters if p.kind != "Config"]
    configs = [p for p in flow.parameters if p.kind == "Config"]

    def configured(info: ParameterInfo, values: Mapping[str, Any]) -> Any:
        return values.get(info.name or info.attribute, values.get(info.attribute))

    return {
        "uri": target.uri,
        "flow": flow.name,
        "parameters": [_parameter_json(p, configured(p, options.parameters)) for p in declared],
        "configs": [_parameter_json(p, configured(p, options.configs)) for p in configs],
        "presets": settings.preset_names(flow.name),
        "settings_file": settings.path,
    }


# --------------------------------------------------------------------------------------------
# Registration

Handler = Callable[["MetaflowLanguageServer", dict[str, Any]], Awaitable[Any]]
COMMANDS: dict[str, Handler] = {
    RUN: run,
    SPIN: spin,
    RESUME: resume,
    CANCEL: cancel,
    STEP_AT: step_at,
    PARAMETERS: parameters,
}


async def answer(
    server: MetaflowLanguageServer, name: str, handler: Handler, args: dict[str, Any]
) -> Any:
    """Run a command handler: refusals are shown and answered, bugs are logged and answered."""
    try:
        return await handler(server, args)
    except Refused as refusal:
        server.window_show_message(types.ShowMessageParams(types.MessageType.Error, str(refusal)))
        return {"status": "refused", "kind": refusal.kind, "message": str(refusal)}
    except (RunStoreError, RunsTimeout) as error:
        message = f"{name}: the runs cannot be read: {error}"
        server.window_show_message(types.ShowMessageParams(types.MessageType.Error, message))
        return {"status": "refused", "kind": "backend_unavailable", "message": message}
    except (JsonRpcException, asyncio.CancelledError):
        raise
    except Exception as error:
        log_exception(server, f"{name} failed for {args!r}", error)
        message = (
            f"metaflow-lsp could not do {name}: {type(error).__name__}: {error}. The language "
            "server's log has the details; please report it."
        )
        server.window_show_message(types.ShowMessageParams(types.MessageType.Error, message))
        return {"status": "refused", "kind": "internal", "message": message}


def register(server: MetaflowLanguageServer) -> None:
    """Register the commands and the `metaflow/parameters` request."""
    for name, handler in COMMANDS.items():
        _register(server, name, handler)

    @server.feature(PARAMETERS_REQUEST)
    async def parameters_request(params: Any) -> Any:
        value = _plain(params)
        if not isinstance(value, dict):
            raise _invalid("the parameters must be a JSON object")
        return await answer(server, PARAMETERS_REQUEST, parameters, value)


def _register(server: MetaflowLanguageServer, name: str, handler: Handler) -> None:
    # pygls passes the server first (a first parameter named `ls`, or annotated with a type the
    # server is an instance of, even `object`), then each of the command's arguments.
    @server.command(name)
    async def execute(ls: object, *arguments: object) -> Any:
        return await answer(server, name, handler, _object(arguments))
