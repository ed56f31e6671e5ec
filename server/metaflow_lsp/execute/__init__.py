"""Run, spin and resume flows as the user would from a terminal: command lines from the workspace
file and the flow's Parameters, processes in their own process groups with streamed output and
progress, cancel, and no process left behind. Nothing here knows about LSP.
"""

from .command import Command, CommandError, resume_command, run_command, spin_command
from .lanes import IF_BUSY, FlowLanes, IfBusy, LaneKey
from .process import FlowProcess, LaunchError, ProcessEnd, group_members, stop_all_now
from .progress import OutputLine, RunProgress, parse_line
from .settings import (
    FILE_NAME,
    RunOptions,
    SettingsError,
    WorkspaceSettings,
    load_settings,
    parse_settings,
)
from .targets import TargetError, resume_origin, spin_task

__all__ = [
    "FILE_NAME",
    "IF_BUSY",
    "Command",
    "CommandError",
    "FlowLanes",
    "FlowProcess",
    "IfBusy",
    "LaneKey",
    "LaunchError",
    "OutputLine",
    "ProcessEnd",
    "RunOptions",
    "RunProgress",
    "SettingsError",
    "TargetError",
    "WorkspaceSettings",
    "group_members",
    "load_settings",
    "parse_line",
    "parse_settings",
    "resume_command",
    "resume_origin",
    "run_command",
    "spin_command",
    "spin_task",
    "stop_all_now",
]
