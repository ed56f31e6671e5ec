"""Split Python source into statements cheaply, so that only changed statements are re-parsed.

A full libcst parse of a 5,000-line flow takes seconds; a scan for logical-line starts takes
milliseconds, and after an edit only the region from the edit to the next unchanged statement
boundary is scanned again. The statements found here are parsed one by one by `parse.py`,
each cached by its text.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache

# Strings (whole, including unterminated ones), comments, brackets, line continuations and
# newlines: everything that decides where a logical line starts.
_TOKEN = re.compile(
    r"""
    '''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'''.*|\"\"\".*
    |'(?:\\.|[^\\'\n])*'|"(?:\\.|[^\\"\n])*"|'[^\n]*|"[^\n]*
    |\#[^\n]*
    |[(\[{]|[)\]}]
    |\\\r?\n
    |\n
    """,
    re.S | re.X,
)
_CONTINUATION_KEYWORDS = ("else", "elif", "except", "finally", "case")


def logical_starts(text: str, pos: int = 0, stop: int | None = None) -> list[int]:
    """Offsets where logical lines start, from `pos` (itself a logical start) onwards.

    When `stop` is given, scanning ends at the first logical start at or after `stop`
    (which is included).
    """
    starts = [pos]
    depth = 0
    for match in _TOKEN.finditer(text, pos):
        first = text[match.start()]
        if first == "\n":
            if depth == 0:
                end = match.end()
                starts.append(end)
                if stop is not None and end >= stop:
                    return starts
        elif first in "([{":
            depth += 1
        elif first in ")]}":
            if depth:
                depth -= 1
    return starts


def _common_prefix(a: str, b: str) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    lo, hi = 0, min(len(a), len(b)) - limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def update_starts(old_text: str, old_starts: list[int], new_text: str) -> list[int]:
    """Logical-line starts of `new_text`, re-scanning only around what changed since `old_text`."""
    if not old_starts:
        return logical_starts(new_text)
    prefix = _common_prefix(old_text, new_text)
    suffix = _common_suffix(old_text, new_text, prefix)
    delta = len(new_text) - len(old_text)
    # Re-scan from the last logical start strictly before the change (a clean scanner state).
    i = bisect_left(old_starts, prefix) - 1
    i = max(i, 0)
    scan_from = old_starts[i]
    changed_end_new = len(new_text) - suffix
    keep = old_starts[:i]
    starts = keep + [scan_from]
    depth = 0
    for match in _TOKEN.finditer(new_text, scan_from):
        first = new_text[match.start()]
        if first == "\n":
            if depth == 0:
                end = match.end()
                starts.append(end)
                if end > changed_end_new:
                    # Back in unchanged text: if the old text had a start here too, the rest
                    # of the old starts carry over, shifted.
                    old_end = end - delta
                    j = bisect_left(old_starts, old_end)
                    if j < len(old_starts) and old_starts[j] == old_end:
                        starts.extend(s + delta for s in old_starts[j + 1 :])
                        return starts
        elif first in "([{":
            depth += 1
        elif first in ")]}":
            if depth:
                depth -= 1
    return starts


@dataclass(frozen=True, slots=True)
class Segment:
    """A statement's lines: `first_line` (1-based) and its text, trailing blank lines included."""

    first_line: int
    text: str
    indent: int
    head: str  # the first word: "def", "class", "@", "if", "import", ...


def _line_index(text: str) -> list[int]:
    """Offsets of the start of each line."""
    index = [0]
    find = text.find
    pos = find("\n")
    while pos != -1:
        index.append(pos + 1)
        pos = find("\n", pos + 1)
    return index


class SourceLines:
    """The text of a file with its line offsets and logical-line starts, updatable by diff."""

    def __init__(self, text: str, previous: SourceLines | None = None) -> None:
        self.text = text
        self.line_offsets = _line_index(text)
        if previous is None:
            self.starts = logical_starts(text)
        else:
            self.starts = update_starts(previous.text, previous.starts, text)
        self._start_set: set[int] | None = None

    def line_of(self, offset: int) -> int:
        """1-based line of a character offset."""
        return bisect_right(self.line_offsets, offset)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        offsets = self.line_offsets
        if line < 1 or line > len(offsets):
            return ""
        start = offsets[line - 1]
        end = offsets[line] - 1 if line < len(offsets) else len(self.text)
        return self.text[start:end].rstrip("\r")

    def statements(self, lo: int = 0, hi: int | None = None, indent: int = 0) -> list[Segment]:
        """Statements at exactly `indent` between offsets lo and hi, decorators kept with their def.

        Blank and comment-only lines never start a statement, nor do lines inside brackets or
        strings (they are not logical-line starts).
        """
        text = self.text
        end = len(text) if hi is None else hi
        starts = self.start_set
        pattern = _indent_pattern(indent)
        segments: list[tuple[int, str]] = []  # (offset, head)
        pending_decorator = False
        for match in pattern.finditer(text, lo, end):
            off = match.start()
            if off not in starts:
                continue
            head = _head(text, match.end())
            if pending_decorator and head in ("def", "async", "class", "@"):
                pending_decorator = head == "@"
                continue
            if head in _CONTINUATION_KEYWORDS and segments and head != "case":
                continue
            segments.append((off, head))
            pending_decorator = head == "@"
        out = []
        for n_, (off, head) in enumerate(segments):
            stop = segments[n_ + 1][0] if n_ + 1 < len(segments) else end
            out.append(Segment(self.line_of(off), text[off:stop], indent, head))
        return out

    @property
    def start_set(self) -> set[int]:
        """The logical-line starts as a set, for membership tests."""
        if self._start_set is None:
            self._start_set = set(self.starts)
        return self._start_set

    def block_end(self, header_offset: int, body_indent_min: int) -> int:
        """Offset where the indented block after the statement at `header_offset` ends."""
        text = self.text
        starts = self.starts
        k = bisect_right(starts, header_offset)
        n = len(text)
        for m in range(k, len(starts)):
            off = starts[m]
            p = off
            while p < n and text[p] in " \t\f":
                p += 1
            if p >= n:
                return n
            if text[p] in "\n\r#":
                continue
            if p - off < body_indent_min:
                return off
        return n

    def class_keyword_offset(self, lo: int, hi: int) -> int:
        """The logical line starting with `class` in a decorated class statement (else `lo`)."""
        text = self.text
        for k in range(bisect_left(self.starts, lo), bisect_left(self.starts, hi)):
            off = self.starts[k]
            if text.startswith("class", off) and text[off + 5 : off + 6] in (" ", "\t"):
                return off
        return lo

    def first_body_indent(self, header_offset: int, limit: int) -> int | None:
        """Indentation of the first statement after `header_offset`, before `limit`."""
        text = self.text
        starts = self.starts
        k = bisect_right(starts, header_offset)
        n = len(text)
        for m in range(k, len(starts)):
            off = starts[m]
            if off >= limit:
                return None
            p = off
            while p < n and text[p] in " \t\f":
                p += 1
            if p >= n or text[p] in "\n\r#":
                continue
            return p - off
        return None


@lru_cache(maxsize=64)
def _indent_pattern(indent: int) -> re.Pattern[str]:
    """Lines indented by exactly `indent` spaces or tabs whose first character is code."""
    return re.compile(r"^[ \t]{%d}(?=[^ \t\r\n#\f])" % indent, re.M)


def _head(text: str, p: int) -> str:
    if text[p] == "@":
        return "@"
    q = p
    n = len(text)
    while q < n and (text[q].isalnum() or text[q] == "_"):
        q += 1
    return text[p:q]
