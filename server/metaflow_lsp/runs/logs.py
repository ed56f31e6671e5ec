"""Metaflow's structured log lines (metaflow/mflog): parse, strip the prefix, merge the sources.

Each line Metaflow persists reads `[MFLOG|0|2026-01-01T12:00:00.123456Z|task|<uuid>]text`,
optionally led by `[!` (a "persist me" marker). A task's stdout (or stderr) is spread over one
file per log source (`<attempt>.runtime_stdout.log`, `<attempt>.task_stdout.log`); Metaflow's
client sorts each file's lines by timestamp (unstamped lines last) and merges the files
(`mflog.merge_logs`), which `merge` does the same way.
"""

from __future__ import annotations

import heapq
import re
from datetime import datetime, timezone
from typing import NamedTuple

from .model import LogLine

LOG_SOURCES = ("runtime", "task")  # metaflow.mflog.LOG_SOURCES
_LINE = re.compile(rb"(\[!)?\[MFLOG\|(0)\|(.+?)Z\|(.+?)\|(.+?)\](.*)")
_ISOFORMAT = "%Y-%m-%dT%H:%M:%S.%f"
_MISSING = b"3000-01-01T00:00:00.000000"  # mflog.MISSING_TIMESTAMP_STR: sorts after any stamp


class ParsedLine(NamedTuple):
    """One log line with the fields Metaflow sorts by."""

    stamp: bytes  # the timestamp as written, Metaflow's sort key
    persist: bytes
    version: bytes
    source: bytes
    line_id: bytes
    text: bytes


def log_file_name(attempt: int, source: str, stream: str) -> str:
    """The file Metaflow writes one source of one stream to: `<attempt>.<source>_<stream>.log`."""
    return f"{attempt}.{source}_{stream}.log"


def parse_blob(blob: bytes) -> list[ParsedLine]:
    """The lines of one log file in Metaflow's order: stamped lines by time, then the others."""
    stamped: list[ParsedLine] = []
    unstamped: list[ParsedLine] = []
    for raw in _lines(blob):
        match = _LINE.match(raw)
        if match and _valid_stamp(match.group(3)):
            persist, version, stamp, source, line_id, text = match.groups()
            stamped.append(ParsedLine(stamp, persist or b"", version, source, line_id, text))
        else:
            unstamped.append(ParsedLine(_MISSING, b"", b"", b"", b"", raw))
    return sorted(stamped) + sorted(unstamped)


def merge(blobs: list[bytes]) -> list[LogLine]:
    """Merge the log files of one stream by timestamp, as Metaflow's client does."""
    parsed = [parse_blob(blob) for blob in blobs]
    return [_to_line(p) for p in heapq.merge(*parsed)]


def strip_prefix(line: str) -> str:
    """A single line without its MFLOG prefix (unchanged when it has none)."""
    match = _LINE.match(line.encode("utf-8", "surrogateescape"))
    if not match:
        return line
    return match.group(6).decode("utf-8", "replace")


def _lines(blob: bytes) -> list[bytes]:
    # Lines with their b"\n", split on b"\n" only, as iterating over a BytesIO does
    # (bytes.splitlines also splits on \r); Metaflow sorts unstamped lines with the b"\n".
    return [line + b"\n" for line in blob.split(b"\n")[:-1]] + (
        [blob.rsplit(b"\n", 1)[-1]] if not blob.endswith(b"\n") and blob else []
    )


def _valid_stamp(stamp: bytes) -> bool:
    try:
        datetime.strptime(stamp.decode("ascii"), _ISOFORMAT)
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def _to_line(parsed: ParsedLine) -> LogLine:
    if parsed.stamp == _MISSING:
        text = parsed.text[:-1] if parsed.text.endswith(b"\n") else parsed.text
        return LogLine(None, text.decode("utf-8", "replace"), None)
    when = datetime.strptime(parsed.stamp.decode("ascii"), _ISOFORMAT).replace(tzinfo=timezone.utc)
    return LogLine(when, parsed.text.decode("utf-8", "replace"), parsed.source.decode())
