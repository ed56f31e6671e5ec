"""One lane per flow: what to do when a command comes for a flow that is already running.

Runs of different flows never wait for each other. For the same flow (same file, same flow
class) a new command either waits for everything ahead of it in the lane (`queue`), stops it
first (`replace`), starts beside it (`parallel`), or is not started (`refuse`); `ask` lets the
user choose one of those.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal, get_args

IfBusy = Literal["ask", "queue", "replace", "parallel", "refuse"]
IF_BUSY: tuple[str, ...] = get_args(IfBusy)
LaneKey = tuple[str, str]  # (flow file, flow name)


@dataclass
class _Entry:
    id: str
    left: asyncio.Event = field(default_factory=asyncio.Event)


class FlowLanes:
    """The executions of each flow, in the order they were accepted."""

    def __init__(self) -> None:
        self._lanes: dict[LaneKey, list[_Entry]] = {}

    def busy(self, key: LaneKey) -> list[str]:
        """The executions in the flow's lane (running or waiting), oldest first."""
        return [e.id for e in self._lanes.get(key, [])]

    def join(self, key: LaneKey, execution: str) -> None:
        """Add an execution at the end of the flow's lane."""
        self._lanes.setdefault(key, []).append(_Entry(execution))

    async def turn(self, key: LaneKey, execution: str) -> None:
        """Wait until every execution ahead of this one in its lane has left."""
        lane = self._lanes.get(key, [])
        ahead = []
        for entry in lane:
            if entry.id == execution:
                break
            ahead.append(entry)
        for entry in ahead:
            await entry.left.wait()

    def leave(self, key: LaneKey, execution: str) -> None:
        """The execution ended (or will not start): the next ones may go."""
        lane = self._lanes.get(key, [])
        for entry in list(lane):
            if entry.id == execution:
                entry.left.set()
                lane.remove(entry)
        if not lane:
            self._lanes.pop(key, None)
