"""Positions, ranges and URIs between the flow model and LSP.

The model counts columns in code points with 1-based lines; LSP counts in the negotiated
position encoding (UTF-16 unless the client offered UTF-32 or UTF-8) with 0-based lines.
"""

from __future__ import annotations

import os

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from ..flow.model import Range

UTF16 = types.PositionEncodingKind.Utf16
UTF32 = types.PositionEncodingKind.Utf32
UTF8 = types.PositionEncodingKind.Utf8


class Lines:
    """The lines of one text, to convert model columns to the client's units and back."""

    def __init__(self, text: str, encoding: str) -> None:
        self._text = text
        self._lines: list[str] | None = None
        self.encoding = encoding
        # Columns only differ between encodings on lines with non-ASCII text.
        self._same_units = encoding == UTF32 or text.isascii()

    def line(self, line: int) -> str:
        """The text of a 1-based line (empty past the end)."""
        if self._lines is None:
            self._lines = self._text.split("\n")
        if 1 <= line <= len(self._lines):
            return self._lines[line - 1].rstrip("\r")
        return ""

    def to_client_column(self, line: int, column: int) -> int:
        """A code-point column on 1-based `line` in the client's units."""
        if self._same_units:
            return column
        prefix = self.line(line)[:column]
        if prefix.isascii():
            return column
        if self.encoding == UTF8:
            return len(prefix.encode("utf-8"))
        return len(prefix.encode("utf-16-le")) // 2

    def from_client_column(self, line: int, character: int) -> int:
        """A column in the client's units on 1-based `line`, as code points."""
        if self._same_units:
            return character
        text = self.line(line)
        if text.isascii():
            return character
        units = 0
        for index, char in enumerate(text):
            if units >= character:
                return index
            code = ord(char)
            if self.encoding == UTF8:
                units += 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
            else:
                units += 2 if code > 0xFFFF else 1
        return len(text)

    def position(self, line: int, column: int) -> types.Position:
        """An LSP position for a model position."""
        return types.Position(line - 1, self.to_client_column(line, column))

    def range(self, rng: Range) -> types.Range:
        """An LSP range for a model range."""
        return types.Range(
            self.position(rng.start.line, rng.start.column),
            self.position(rng.end.line, rng.end.column),
        )

    def model_position(self, position: types.Position) -> tuple[int, int]:
        """A model (1-based line, code-point column) for an LSP position."""
        line = position.line + 1
        return line, self.from_client_column(line, position.character)


def uri_to_path(uri: str) -> str | None:
    """The absolute file path of a `file:` URI, or None for other schemes."""
    path = to_fs_path(uri)
    return os.path.abspath(path) if path else None


def path_to_uri(path: str) -> str:
    """The `file:` URI of a path."""
    return from_fs_path(path) or ("file://" + path)


SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}
