# The agent runs under the user's interpreter (Python 3.8+), so it keeps typing's old spellings.
# The version gate runs before the imports that need a newer Python.
# ruff: noqa: UP006, UP035, UP045, E402
"""The artifact worker's agent: unpickles artifact blobs under the flow's own interpreter.

Standard library only, Python 3.8+: it runs in the user's environment, where none of the
server's dependencies are installed. Newline-delimited JSON requests arrive on stdin and one
JSON response per request leaves on stdout; the user's prints (and anything written to file
descriptor 1) go to stderr so they cannot corrupt the protocol.

Requests: ``{"id", "op": "ping"}``, ``{"id", "op": "preview", "path" | "data_b64",
"compressed", "max_bytes", "max_items", "max_chars", "max_response", "sys_path"}`` and
``{"id", "op": "preview_many", "items": [{"path" | "data_b64", "compressed"}, ...], ...}``.
Responses: ``{"id", "ok": true, "result": ...}`` or ``{"id", "ok": false, "error", "kind"}``.
"""

import json
import sys

MIN_PYTHON = (3, 8)
if sys.version_info < MIN_PYTHON:
    sys.stdout.write(
        json.dumps(
            {
                "event": "fatal",
                "error": "{} is Python {}.{}; artifact previews need Python {}.{} or newer".format(
                    sys.executable, sys.version_info[0], sys.version_info[1], *MIN_PYTHON
                ),
            }
        )
        + "\n"
    )
    sys.exit(2)

import base64
import collections
import dataclasses
import datetime
import enum
import gzip
import io
import os
import pickle
import reprlib
import traceback
import zlib
from typing import Any, BinaryIO, Dict, List, Optional, Tuple

PROTOCOL_VERSION = 1
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_ITEMS = 20
DEFAULT_MAX_CHARS = 2000
DEFAULT_MAX_RESPONSE = 1024 * 1024
ITEM_CHARS = 160  # repr of one item inside a container's fields
TYPE_SCAN = 10000  # items looked at to say "list of 120 int"
GZIP_MAGIC = b"\x1f\x8b"
ELLIPSIS = "…"


class Refused(Exception):
    """A request that cannot be answered, with the kind the client reports."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def human_size(size: int) -> str:
    """`312.5 MiB` for messages."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size:,} bytes"


def qualified_name(cls: type) -> str:
    """`pandas.core.frame.DataFrame`; builtins without their module."""
    module = getattr(cls, "__module__", None) or ""
    name = str(getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?"))
    return name if module == "builtins" else f"{module}.{name}"


def short_type(value: Any) -> str:
    """`int`, `DataFrame`, `None` — the type as a summary names it."""
    return "None" if value is None else type(value).__name__


def cap(text: str, limit: int) -> Tuple[str, bool]:
    """`text` cut to `limit` characters with an ellipsis, and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[: max(0, limit - 1)] + ELLIPSIS, True


def mro_roots(cls: type) -> set:
    """Top-level packages of a type and its bases, to spot numpy and pandas subclasses."""
    roots = set()
    for base in getattr(cls, "__mro__", (cls,)):
        roots.add((getattr(base, "__module__", None) or "").partition(".")[0])
    return roots


# ---------------------------------------------------------------------------- reading blobs


def read_blob(item: Dict[str, Any], max_bytes: int) -> bytes:
    """The pickle bytes of a blob file or inline data, gunzipped; refused over `max_bytes`."""
    compressed = item.get("compressed")
    if item.get("path"):
        path = str(item["path"])
        try:
            size = os.path.getsize(path)
            if size > max_bytes:
                raise Refused(
                    "too_large",
                    "the artifact is {} {}, over the {} preview limit; load it with the "
                    "Metaflow client instead".format(
                        human_size(size),
                        "compressed" if compressed is not False else "on disk",
                        human_size(max_bytes),
                    ),
                )
            with open(path, "rb") as handle:
                raw = handle.read(max_bytes + 1)
        except OSError as error:
            raise Refused("read", f"cannot read the artifact blob {path}: {error}") from None
    elif item.get("data_b64") is not None:
        try:
            raw = base64.b64decode(item["data_b64"], validate=True)
        except ValueError as error:
            raise Refused("bad_request", f"data_b64 is not base64: {error}") from None
        if len(raw) > max_bytes:
            raise Refused(
                "too_large",
                f"the artifact is {human_size(len(raw))}, over the {human_size(max_bytes)} preview limit",
            )
    else:
        raise Refused("bad_request", "a preview needs 'path' or 'data_b64'")
    if compressed is None:
        compressed = raw[:2] == GZIP_MAGIC
    if not compressed:
        return raw
    return gunzip(raw, max_bytes)


def gunzip(raw: bytes, max_bytes: int) -> bytes:
    """Decompress without ever holding more than `max_bytes` + 1 bytes."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            data = stream.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise Refused("read", f"the artifact blob is not valid gzip data: {error}") from None
    if len(data) > max_bytes:
        raise Refused(
            "too_large",
            f"the artifact is {human_size(len(raw))} compressed but more than {human_size(max_bytes)} uncompressed, over the preview "
            "limit; load it with the Metaflow client instead",
        )
    return data


def load(data: bytes) -> Any:
    """Unpickle, turning every failure into a message that says what failed and where."""
    try:
        return pickle.loads(data)
    except BaseException as error:  # user code runs here: SystemExit included
        traceback.print_exc(file=sys.stderr)
        where = f"the flow's interpreter is {sys.executable}"
        if isinstance(error, ImportError):
            detail = (
                f"{error} ({where}: install it there, or point the editor at the environment "
                "the flow runs in)"
            )
        elif isinstance(error, AttributeError) and "Can't get attribute" in str(error):
            detail = f"{error} (the class may have been renamed or moved since the run; {where})"
        else:
            detail = f"{type(error).__name__}: {error} ({where})"
        raise Refused("load", "cannot load artifact: " + detail) from None


# ---------------------------------------------------------------------------- previews


class BoundedRepr(reprlib.Repr):
    """reprlib's bounded reprs, but a failing `__repr__` says why instead of hiding it."""

    def repr_instance(self, obj: Any, level: int) -> str:
        try:
            text = repr(obj)
        except Exception as error:
            return f"<repr failed: {type(error).__name__}: {error}>"
        return cap(text, self.maxother)[0]


class Previewer:
    """Builds the preview dict of one object within the request's limits."""

    def __init__(self, max_items: int, max_chars: int) -> None:
        self.max_items = max(1, max_items)
        self.max_chars = max(16, max_chars)
        self.item_chars = min(self.max_chars, ITEM_CHARS)
        self.truncated = False
        self.reprs = BoundedRepr()
        self.reprs.maxlevel = 3
        for name in ("maxtuple", "maxlist", "maxarray", "maxdict", "maxset", "maxfrozenset"):
            setattr(self.reprs, name, self.max_items)
        self.reprs.maxdeque = self.max_items
        self.reprs.maxstring = self.max_chars
        self.reprs.maxlong = self.max_chars
        self.reprs.maxother = self.max_chars

    # -- text helpers

    def text(self, value: str, limit: Optional[int] = None) -> str:
        """`value` capped, noting truncation."""
        out, cut = cap(value, self.max_chars if limit is None else limit)
        self.truncated = self.truncated or cut
        return out

    def safe_repr(self, value: Any, limit: Optional[int] = None) -> str:
        """A bounded repr; a failing `__repr__` gives a message instead of an error."""
        try:
            text = self.reprs.repr(value)
        except BaseException as error:
            return f"<repr failed: {type(error).__name__}: {error}>"
        return self.text(text, limit)

    # -- entry points

    def preview(self, value: Any) -> Dict[str, Any]:
        """The full preview of a loaded artifact."""
        try:
            result = self.build(value, self.max_chars, with_fields=True)
        except BaseException as error:  # a misbehaving object must not kill the worker
            traceback.print_exc(file=sys.stderr)
            result = {
                "type": qualified_name(type(value)),
                "kind": "object",
                "summary": f"{type(value).__name__} (preview failed: {type(error).__name__}: {error})",
                "repr": self.safe_repr(value),
            }
        result["summary"] = self.text(result["summary"])
        result["truncated"] = self.truncated
        return result

    def brief(self, name: str, value: Any) -> Dict[str, Any]:
        """One field: name, type, summary and a short repr, without nested fields."""
        try:
            item = self.build(value, self.item_chars, with_fields=False)
        except BaseException as error:
            item = {
                "type": qualified_name(type(value)),
                "summary": f"preview failed: {type(error).__name__}: {error}",
                "repr": self.safe_repr(value, self.item_chars),
            }
        return {
            "name": self.text(name, self.item_chars),
            "type": item["type"],
            "summary": self.text(item["summary"], self.item_chars),
            "repr": item["repr"],
        }

    def build(self, value: Any, limit: int, with_fields: bool) -> Dict[str, Any]:
        """Dispatch on the kind of `value`."""
        cls = type(value)
        out: Dict[str, Any] = {"type": qualified_name(cls)}
        roots = mro_roots(cls)
        numpy = sys.modules.get("numpy") if "numpy" in roots else None
        pandas = sys.modules.get("pandas") if "pandas" in roots else None
        if pandas is not None and isinstance(value, pandas.DataFrame):
            out.update(self.dataframe(value, limit, with_fields))
        elif pandas is not None and isinstance(value, pandas.Series):
            out.update(self.series(value, limit))
        elif numpy is not None and isinstance(value, numpy.ndarray):
            out.update(self.ndarray(numpy, value, limit))
        elif numpy is not None and isinstance(value, numpy.generic):
            out.update(kind="scalar", summary=str(value.dtype), repr=self.safe_repr(value, limit))
        else:
            out.update(self.builtin(value, limit, with_fields))
        return out

    def builtin(self, value: Any, limit: int, with_fields: bool) -> Dict[str, Any]:
        """Scalars, text, containers, dataclasses, dates, exceptions and plain objects."""
        if isinstance(value, enum.Enum):
            return {
                "kind": "scalar",
                "summary": short_type(value),
                "repr": self.safe_repr(value, limit),
            }
        if value is None or isinstance(value, (bool, float, complex)):
            return {
                "kind": "scalar",
                "summary": short_type(value),
                "repr": self.safe_repr(value, limit),
            }
        if isinstance(value, int):
            return self.integer(value, limit)
        if isinstance(value, str):
            out, cut = cap(repr(value[: limit + 1]), limit)
            self.truncated = self.truncated or cut
            lines = value.count("\n") + 1 if value else 0
            summary = f"str, {len(value):,} chars"
            if lines > 1:
                summary += f", {lines:,} lines"
            return {"kind": "str", "summary": summary, "repr": out, "length": len(value)}
        if isinstance(value, (bytes, bytearray)):
            out, cut = cap(repr(bytes(value[: limit + 1])), limit)
            self.truncated = self.truncated or cut
            return {
                "kind": "bytes",
                "summary": f"{short_type(value)}, {len(value):,} bytes",
                "repr": out,
                "length": len(value),
            }
        if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
            text = str(value) if isinstance(value, datetime.timedelta) else value.isoformat()
            return {
                "kind": "datetime",
                "summary": short_type(value),
                "repr": self.text(text, limit),
            }
        if isinstance(value, BaseException):
            return self.exception(value, limit, with_fields)
        if isinstance(value, tuple) and hasattr(type(value), "_fields"):
            names = [str(name) for name in getattr(type(value), "_fields", ())]
            pairs = [(name, value[index]) for index, name in enumerate(names)]
            return self.record(value, pairs, "namedtuple", limit, with_fields)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            pairs = [(f.name, getattr(value, f.name, "<unset>")) for f in dataclasses.fields(value)]
            return self.record(value, pairs, "dataclass", limit, with_fields)
        if isinstance(value, dict):
            return self.mapping(value, limit, with_fields)
        if isinstance(value, (list, tuple, set, frozenset, collections.deque)):
            return self.collection(value, limit, with_fields)
        return self.plain(value, limit, with_fields)

    def integer(self, value: int, limit: int) -> Dict[str, Any]:
        """An int; huge ones (whose repr Python 3.11+ refuses) are shown in hex."""
        if value.bit_length() > 10000:
            digits = int(value.bit_length() * 0.30103) + 1
            return {
                "kind": "scalar",
                "summary": f"int, about {digits:,} digits",
                "repr": self.text(hex(value), limit),
            }
        return {
            "kind": "scalar",
            "summary": short_type(value),
            "repr": self.text(repr(value), limit),
        }

    def element_types(self, values: Any) -> List[str]:
        """Distinct type names among the first TYPE_SCAN values, in order of appearance."""
        seen: List[str] = []
        for index, item in enumerate(values):
            if index >= TYPE_SCAN:
                break
            name = short_type(item)
            if name not in seen:
                seen.append(name)
        return seen

    def describe_count(self, noun: str, length: int, types: List[str]) -> str:
        """`list of 120 int`, `list of 3 items: int, str`, `empty list`."""
        if length == 0:
            return "empty " + noun
        if len(types) == 1:
            return f"{noun} of {length:,} {types[0]}"
        shown = ", ".join(types[:4]) + (", …" if len(types) > 4 else "")
        return f"{noun} of {length:,} items: {shown}"

    def collection(self, value: Any, limit: int, with_fields: bool) -> Dict[str, Any]:
        """list, tuple, set, frozenset, deque: length, element types, first items."""
        noun = short_type(value)
        out: Dict[str, Any] = {
            "kind": "set" if isinstance(value, (set, frozenset)) else "sequence",
            "summary": self.describe_count(noun, len(value), self.element_types(value)),
            "repr": self.safe_repr(value, limit),
            "length": len(value),
        }
        if with_fields:
            indexed = not isinstance(value, (set, frozenset))
            fields = []
            for index, item in enumerate(value):
                if index >= self.max_items:
                    break
                fields.append(self.brief(f"[{index}]" if indexed else "", item))
            out["fields"] = fields
            self.truncated = self.truncated or len(value) > self.max_items
        return out

    def mapping(self, value: Dict[Any, Any], limit: int, with_fields: bool) -> Dict[str, Any]:
        """dict and its subclasses: length, key and value types, first items."""
        noun = short_type(value)
        keys = self.element_types(value.keys())
        values = self.element_types(value.values())
        if not value:
            summary = "empty " + noun
        else:
            items = "1 item" if len(value) == 1 else f"{len(value):,} items"
            summary = f"{noun} of {items}"
            if len(keys) == 1 and len(values) == 1:
                summary += f" ({keys[0]} → {values[0]})"
        out: Dict[str, Any] = {
            "kind": "mapping",
            "summary": summary,
            "repr": self.safe_repr(value, limit),
            "length": len(value),
        }
        if with_fields:
            fields = []
            for index, (key, item) in enumerate(value.items()):
                if index >= self.max_items:
                    break
                name = key if isinstance(key, str) else self.safe_repr(key, self.item_chars)
                fields.append(self.brief(name, item))
            out["fields"] = fields
            self.truncated = self.truncated or len(value) > self.max_items
        return out

    def record(
        self, value: Any, pairs: List[Tuple[str, Any]], kind: str, limit: int, with_fields: bool
    ) -> Dict[str, Any]:
        """Dataclasses and namedtuples: named fields, and a repr built from bounded parts."""
        shown = pairs[: self.max_items]
        parts = [f"{name}={self.safe_repr(item, self.item_chars)}" for name, item in shown]
        if len(pairs) > len(shown):
            parts.append(ELLIPSIS)
            self.truncated = True
        out: Dict[str, Any] = {
            "kind": kind,
            "summary": "{} {}, {} field{}".format(
                type(value).__name__, kind, len(pairs), "" if len(pairs) == 1 else "s"
            ),
            "repr": self.text("{}({})".format(type(value).__name__, ", ".join(parts)), limit),
        }
        if with_fields:
            out["fields"] = [self.brief(name, item) for name, item in shown]
        return out

    def exception(self, value: BaseException, limit: int, with_fields: bool) -> Dict[str, Any]:
        """An exception: `ValueError: message`, and its args."""
        try:
            text = "".join(traceback.format_exception_only(type(value), value)).strip()
        except BaseException as error:
            text = f"{type(value).__name__} (str failed: {error})"
        out: Dict[str, Any] = {
            "kind": "exception",
            "summary": cap(text.splitlines()[0] if text else type(value).__name__, ITEM_CHARS)[0],
            "repr": self.text(text, limit),
        }
        if with_fields:
            args = list(getattr(value, "args", ()))[: self.max_items]
            out["fields"] = [self.brief(f"args[{i}]", arg) for i, arg in enumerate(args)]
        return out

    def plain(self, value: Any, limit: int, with_fields: bool) -> Dict[str, Any]:
        """Anything else: its repr, and its instance attributes when it has a `__dict__`."""
        attributes: Dict[str, Any] = {}
        if not isinstance(value, type):
            try:
                attributes = {
                    key: item
                    for key, item in vars(value).items()
                    if isinstance(key, str) and not key.startswith("__")
                }
            except TypeError:  # no __dict__ (slots, builtins)
                attributes = {}
        summary = type(value).__name__
        if attributes:
            summary += " object, {} attribute{}".format(
                len(attributes), "" if len(attributes) == 1 else "s"
            )
        out: Dict[str, Any] = {"kind": "object", "summary": summary}
        out["repr"] = self.safe_repr(value, limit)
        if with_fields and attributes:
            items = list(attributes.items())
            out["fields"] = [self.brief(key, item) for key, item in items[: self.max_items]]
            self.truncated = self.truncated or len(items) > self.max_items
        return out

    # -- numpy and pandas (only reached when the blob itself imported them)

    def ndarray(self, numpy: Any, value: Any, limit: int) -> Dict[str, Any]:
        """Shape, dtype and the edges of the array."""
        shape = [int(n) for n in value.shape]
        dims = " × ".join(f"{n:,}" for n in shape) if shape else "scalar"
        edge = max(1, min(3, self.max_items // 2))
        try:
            with numpy.printoptions(threshold=self.max_items, edgeitems=edge, linewidth=100):
                text = repr(value)
        except BaseException as error:
            text = f"<repr failed: {type(error).__name__}: {error}>"
        self.truncated = self.truncated or int(value.size) > self.max_items
        return {
            "kind": "ndarray",
            "summary": f"{type(value).__name__} {dims} {value.dtype}",
            "repr": self.text(text, limit),
            "shape": shape,
            "dtype": str(value.dtype),
        }

    def head_rows(self) -> int:
        """How many rows a DataFrame or Series head shows."""
        return max(1, min(10, self.max_items))

    def dataframe(self, value: Any, limit: int, with_fields: bool) -> Dict[str, Any]:
        """Shape, columns with their dtypes, and the head as text."""
        rows, columns = (int(n) for n in value.shape)
        rows_shown = self.head_rows()
        try:
            text = value.head(rows_shown).to_string(
                max_cols=self.max_items, max_colwidth=40, show_dimensions=False
            )
        except BaseException as error:
            text = f"<to_string failed: {type(error).__name__}: {error}>"
        out: Dict[str, Any] = {
            "kind": "dataframe",
            "summary": f"{type(value).__name__} {rows:,} × {columns:,}",
            "repr": self.text(text, limit),
            "shape": [rows, columns],
        }
        self.truncated = self.truncated or rows > rows_shown
        if with_fields:
            fields = []
            for index, (name, dtype) in enumerate(value.dtypes.items()):
                if index >= self.max_items:
                    break
                fields.append(
                    {
                        "name": self.text(str(name), self.item_chars),
                        "type": str(dtype),
                        "summary": str(dtype),
                        "repr": "",
                    }
                )
            out["fields"] = fields
            self.truncated = self.truncated or columns > self.max_items
        return out

    def series(self, value: Any, limit: int) -> Dict[str, Any]:
        """Length, dtype, name and the head as text."""
        rows_shown = self.head_rows()
        try:
            text = value.head(rows_shown).to_string()
        except BaseException as error:
            text = f"<to_string failed: {type(error).__name__}: {error}>"
        summary = f"{type(value).__name__} {len(value):,} {value.dtype}"
        if value.name is not None:
            summary += f" {value.name!r}"
        self.truncated = self.truncated or len(value) > rows_shown
        return {
            "kind": "series",
            "summary": summary,
            "repr": self.text(text, limit),
            "shape": [len(value)],
            "dtype": str(value.dtype),
        }


# ---------------------------------------------------------------------------- protocol


def int_option(request: Dict[str, Any], name: str, default: int) -> int:
    """A positive integer option of the request."""
    value = request.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Refused("bad_request", f"{name} must be a positive integer, not {value!r}")
    return value


def preview_one(item: Dict[str, Any], request: Dict[str, Any]) -> Dict[str, Any]:
    """Read, unpickle and preview one blob."""
    max_bytes = int_option(request, "max_bytes", DEFAULT_MAX_BYTES)
    previewer = Previewer(
        int_option(request, "max_items", DEFAULT_MAX_ITEMS),
        int_option(request, "max_chars", DEFAULT_MAX_CHARS),
    )
    value = load(read_blob(item, max_bytes))
    return previewer.preview(value)


def handle(request: Dict[str, Any]) -> Dict[str, Any]:
    """The result of one request; raises Refused for a failure to report."""
    op = request.get("op")
    for entry in request.get("sys_path") or ():
        if isinstance(entry, str) and entry not in sys.path:
            sys.path.insert(0, entry)
    if op == "ping":
        return {
            "pid": os.getpid(),
            "python": "{}.{}.{}".format(*sys.version_info[:3]),
            "executable": sys.executable,
            "protocol": PROTOCOL_VERSION,
        }
    if op == "preview":
        return preview_one(request, request)
    if op == "preview_many":
        items = request.get("items")
        if not isinstance(items, list):
            raise Refused("bad_request", "preview_many needs a list of 'items'")
        results = []
        for item in items:
            try:
                results.append({"ok": True, "result": preview_one(item, request)})
            except Refused as refused:
                results.append({"ok": False, "error": str(refused), "kind": refused.kind})
        return {"items": results}
    raise Refused("bad_request", f"unknown op {op!r}")


def respond(request: Any) -> Dict[str, Any]:
    """The response to one decoded request line."""
    if not isinstance(request, dict):
        return {
            "id": None,
            "ok": False,
            "error": "a request is a JSON object",
            "kind": "bad_request",
        }
    try:
        return {"id": request.get("id"), "ok": True, "result": handle(request)}
    except Refused as refused:
        return {"id": request.get("id"), "ok": False, "error": str(refused), "kind": refused.kind}
    except BaseException as error:
        traceback.print_exc(file=sys.stderr)
        return {
            "id": request.get("id"),
            "ok": False,
            "error": f"the artifact worker failed: {type(error).__name__}: {error}",
            "kind": "internal",
        }


def encode(response: Dict[str, Any], max_response: int) -> bytes:
    """One JSON line; an oversized response becomes an error that says so."""
    line = json.dumps(response, ensure_ascii=True, default=str).encode("ascii") + b"\n"
    if len(line) > max_response:
        error = {
            "id": response.get("id"),
            "ok": False,
            "error": f"the preview is {human_size(len(line))}, over the {human_size(max_response)} response limit; ask for fewer items "
            "or characters",
            "kind": "too_large",
        }
        line = json.dumps(error).encode("ascii") + b"\n"
    return line


def claim_stdio() -> Tuple[BinaryIO, BinaryIO]:
    """Keep fds 0 and 1 for the protocol; user code gets /dev/null and stderr instead."""
    protocol_in = os.fdopen(os.dup(0), "rb")
    protocol_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return protocol_in, protocol_out


def fix_sys_path() -> None:
    """Drop this package's directory (its modules would shadow the user's) and add the cwd."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


def main() -> int:
    """Serve requests until stdin closes."""
    protocol_in, protocol_out = claim_stdio()

    def send(response: Dict[str, Any], max_response: int = DEFAULT_MAX_RESPONSE) -> None:
        protocol_out.write(encode(response, max_response))
        protocol_out.flush()

    fix_sys_path()
    send({"event": "ready", "pid": os.getpid(), "protocol": PROTOCOL_VERSION})
    for raw in protocol_in:
        if not raw.strip():
            continue
        try:
            request = json.loads(raw.decode("utf-8"))
        except ValueError as error:
            send({"id": None, "ok": False, "error": f"bad JSON: {error}", "kind": "bad_request"})
            continue
        max_response = DEFAULT_MAX_RESPONSE
        if isinstance(request, dict) and isinstance(request.get("max_response"), int):
            max_response = max(1024, request["max_response"])
        send(respond(request), max_response)
        sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
