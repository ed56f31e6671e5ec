"""Previews of real pickles, loaded by a real worker under the flow's interpreter."""

from __future__ import annotations

import base64
import collections
import datetime
import gzip
import importlib
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from metaflow_lsp.worker import ArtifactWorker, Blob, Preview, PreviewLimits

from .conftest import metaflow_blob


async def preview_of(worker: ArtifactWorker, write_blob: Callable[..., Path], obj: Any) -> Preview:
    reply = await worker.preview(write_blob(obj))
    assert reply.ok, reply.error
    assert reply.preview is not None
    return reply.preview


@pytest.mark.parametrize(
    ("value", "type_name", "summary", "text"),
    [
        (None, "NoneType", "None", "None"),
        (True, "bool", "bool", "True"),
        (42, "int", "int", "42"),
        (2.5, "float", "float", "2.5"),
        (1 + 2j, "complex", "complex", "(1+2j)"),
        ("x" * 5000, "str", "str, 5,000 chars", None),
        ("a\nb\nc", "str", "str, 5 chars, 3 lines", "'a\\nb\\nc'"),
        (b"\x00" * 1024, "bytes", "bytes, 1,024 bytes", None),
        (bytearray(b"abc"), "bytearray", "bytearray, 3 bytes", "b'abc'"),
        (
            datetime.datetime(2024, 5, 1, 12, 30),
            "datetime.datetime",
            "datetime",
            "2024-05-01T12:30:00",
        ),
        (datetime.date(2024, 5, 1), "datetime.date", "date", "2024-05-01"),
        (datetime.timedelta(hours=2), "datetime.timedelta", "timedelta", "2:00:00"),
    ],
)
async def test_scalars(
    worker: ArtifactWorker, write_blob: Callable[..., Path], value, type_name, summary, text
) -> None:
    preview = await preview_of(worker, write_blob, value)
    assert preview["type"] == type_name
    assert preview["summary"] == summary
    if text is not None:
        assert preview["repr"] == text


async def test_long_string_is_capped(worker: ArtifactWorker, write_blob) -> None:
    reply = await worker.preview(write_blob("y" * 5000), limits=PreviewLimits(max_chars=100))
    assert reply.preview is not None
    assert len(reply.preview["repr"]) == 100
    assert reply.preview["repr"].startswith("'yyy") and reply.preview["repr"].endswith("…")
    assert reply.preview["truncated"] is True
    assert reply.preview["length"] == 5000


async def test_huge_int_is_shown_in_hex(worker: ArtifactWorker, write_blob) -> None:
    preview = await preview_of(worker, write_blob, 7**20000)
    assert preview["summary"] == "int, about 16,903 digits"
    assert preview["repr"].startswith("0x")


async def test_list_of_ints(worker: ArtifactWorker, write_blob) -> None:
    preview = await preview_of(worker, write_blob, list(range(120)))
    assert preview["summary"] == "list of 120 int"
    assert preview["length"] == 120
    assert [field["name"] for field in preview["fields"]][:3] == ["[0]", "[1]", "[2]"]
    assert len(preview["fields"]) == 20
    assert preview["truncated"] is True
    assert preview["repr"].startswith("[0, 1, 2,")


async def test_mixed_tuple_set_and_empty(worker: ArtifactWorker, write_blob) -> None:
    mixed = await preview_of(worker, write_blob, (1, "two", None))
    assert mixed["summary"] == "tuple of 3 items: int, str, None"
    assert [field["repr"] for field in mixed["fields"]] == ["1", "'two'", "None"]
    assert mixed["truncated"] is False
    assert (await preview_of(worker, write_blob, {3, 1, 2}))["summary"] == "set of 3 int"
    assert (await preview_of(worker, write_blob, frozenset()))["summary"] == "empty frozenset"
    deque = await preview_of(worker, write_blob, collections.deque([1.0, 2.0]))
    assert deque["summary"] == "deque of 2 float"


async def test_dict_items_are_previewed_briefly(worker: ArtifactWorker, write_blob) -> None:
    value = {"alpha": [1, 2, 3], "beta": list(range(1000))}
    preview = await preview_of(worker, write_blob, value)
    assert preview["summary"] == "dict of 2 items (str → list)"
    assert preview["fields"][0] == {
        "name": "alpha",
        "type": "list",
        "summary": "list of 3 int",
        "repr": "[1, 2, 3]",
    }
    assert preview["fields"][1]["summary"] == "list of 1,000 int"
    assert "fields" not in preview["fields"][1]
    keyed = await preview_of(worker, write_blob, {1: "a", (2, 3): "b"})
    assert keyed["summary"] == "dict of 2 items"
    assert [field["name"] for field in keyed["fields"]] == ["1", "(2, 3)"]


async def test_dataclass_and_namedtuple_from_the_users_module(
    worker: ArtifactWorker, write_blob, flowlib: ModuleType
) -> None:
    point = await preview_of(worker, write_blob, flowlib.Point(1, 2.5))
    assert point["type"] == "flowlib.Point"
    assert point["summary"] == "Point dataclass, 3 fields"
    assert [(f["name"], f["repr"]) for f in point["fields"]] == [
        ("x", "1"),
        ("y", "2.5"),
        ("label", "'origin'"),
    ]
    assert point["repr"] == "Point(x=1, y=2.5, label='origin')"
    pair = await preview_of(worker, write_blob, flowlib.Pair("l", 2))
    assert pair["summary"] == "Pair namedtuple, 2 fields"
    assert [f["name"] for f in pair["fields"]] == ["left", "right"]


async def test_plain_object_shows_its_attributes(
    worker: ArtifactWorker, write_blob, flowlib: ModuleType
) -> None:
    preview = await preview_of(worker, write_blob, flowlib.Model("resnet", [0.5, 0.25]))
    assert preview["type"] == "flowlib.Model"
    assert preview["summary"] == "Model object, 2 attributes"
    assert {f["name"]: f["summary"] for f in preview["fields"]} == {
        "name": "str, 6 chars",
        "weights": "list of 2 float",
    }


async def test_failing_repr_gives_a_message(
    worker: ArtifactWorker, write_blob, flowlib: ModuleType
) -> None:
    preview = await preview_of(worker, write_blob, flowlib.BadRepr())
    assert preview["repr"] == "<repr failed: RuntimeError: repr exploded>"
    inside = await preview_of(worker, write_blob, [flowlib.BadRepr()])
    assert inside["summary"] == "list of 1 BadRepr"


async def test_exception(worker: ArtifactWorker, write_blob) -> None:
    preview = await preview_of(worker, write_blob, ValueError("bad value", 3))
    assert preview["kind"] == "exception"
    assert preview["summary"] == "ValueError: ('bad value', 3)"
    assert [f["repr"] for f in preview["fields"]] == ["'bad value'", "3"]


async def test_numpy_array(worker: ArtifactWorker, write_blob) -> None:
    array = np.arange(3000, dtype=np.int64).reshape(1000, 3)
    preview = await preview_of(worker, write_blob, array)
    assert preview["type"] == "numpy.ndarray"
    assert preview["summary"] == "ndarray 1,000 × 3 int64"
    assert preview["shape"] == [1000, 3]
    assert preview["dtype"] == "int64"
    assert "..." in preview["repr"] and "2999]]" in preview["repr"]
    assert preview["truncated"] is True
    scalar = await preview_of(worker, write_blob, np.float32(1.5))
    assert scalar["summary"] == "float32"


async def test_pandas_dataframe_and_series(worker: ArtifactWorker, write_blob) -> None:
    frame = pd.DataFrame(
        {"id": range(1000), "score": [i / 10 for i in range(1000)], "name": ["n"] * 1000}
    )
    preview = await preview_of(worker, write_blob, frame)
    assert preview["type"] == "pandas.DataFrame" or preview["type"].endswith(".DataFrame")
    assert preview["summary"] == "DataFrame 1,000 × 3"
    assert preview["shape"] == [1000, 3]
    assert [(f["name"], f["type"]) for f in preview["fields"]] == [
        ("id", "int64"),
        ("score", "float64"),
        ("name", str(frame["name"].dtype)),
    ]
    assert preview["repr"].splitlines()[0].split() == ["id", "score", "name"]
    assert len(preview["repr"].splitlines()) == 11  # header and ten rows
    series = await preview_of(worker, write_blob, frame["score"])
    assert series["summary"] == "Series 1,000 float64 'score'"
    assert series["repr"].splitlines()[1].split() == ["1", "0.1"]


async def test_inline_uncompressed_and_autodetected_blobs(worker: ArtifactWorker) -> None:
    raw = pickle.dumps([1, 2])
    plain = await worker.preview(Blob(data=raw, compressed=False))
    assert plain.preview is not None and plain.preview["summary"] == "list of 2 int"
    detected = await worker.preview(metaflow_blob({"k": 1}))
    assert (
        detected.preview is not None and detected.preview["summary"] == "dict of 1 item (str → int)"
    )


async def test_missing_module_says_what_failed(
    worker: ArtifactWorker, write_blob, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "vanished_lib.py").write_text("class Thing:\n    pass\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(elsewhere))
    module = importlib.import_module("vanished_lib")
    blob = write_blob(module.Thing())
    monkeypatch.delitem(sys.modules, "vanished_lib")
    reply = await worker.preview(blob)
    assert reply.kind == "load"
    assert reply.error is not None
    assert reply.error.startswith(
        f"cannot load artifact: No module named 'vanished_lib' (the flow's interpreter is {sys.executable}"
    )


async def test_corrupt_blobs(worker: ArtifactWorker, write_blob) -> None:
    garbage = await worker.preview(write_blob(raw=gzip.compress(b"not a pickle")))
    assert garbage.kind == "load"
    assert garbage.error is not None and garbage.error.startswith(
        "cannot load artifact: UnpicklingError"
    )
    bad_gzip = await worker.preview(Blob(data=b"\x1f\x8b broken", compressed=True))
    assert bad_gzip.kind == "read"
    assert bad_gzip.error is not None and "not valid gzip" in bad_gzip.error
    missing = await worker.preview(Path("/nonexistent/blob"))
    assert missing.kind == "read" and missing.error is not None
    assert "cannot read the artifact blob /nonexistent/blob" in missing.error


async def test_blobs_over_the_cap_are_refused_without_loading(
    worker: ArtifactWorker, write_blob, flowlib: ModuleType
) -> None:
    import os

    ping = await worker.ping()
    assert ping.result is not None
    pid = ping.result["pid"]
    limits = PreviewLimits(max_bytes=1024 * 1024)
    # Loading either blob would end the worker: os._exit runs first when unpickled.
    incompressible = write_blob((flowlib.Calls(os._exit, 1), os.urandom(2 * 1024 * 1024)))
    reply = await worker.preview(incompressible, limits=limits)
    assert reply.kind == "too_large"
    assert reply.error is not None and "compressed, over the 1.0 MiB preview limit" in reply.error
    bomb = write_blob((flowlib.Calls(os._exit, 1), b"\0" * (50 * 1024 * 1024)))
    assert bomb.stat().st_size < 1024 * 1024
    reply = await worker.preview(bomb, limits=limits)
    assert reply.kind == "too_large"
    assert reply.error is not None and "more than 1.0 MiB uncompressed" in reply.error
    inline = await worker.preview(Blob(data=b"x" * (2 * 1024 * 1024)), limits=limits)
    assert inline.kind == "too_large"
    assert worker.pid == pid


async def test_preview_many_for_a_foreach(worker: ArtifactWorker, write_blob) -> None:
    blobs = [write_blob(i * 10) for i in range(5)] + [write_blob(raw=b"junk")]
    replies = await worker.preview_many(blobs)
    assert [reply.preview["repr"] for reply in replies[:5] if reply.preview] == [
        "0",
        "10",
        "20",
        "30",
        "40",
    ]
    assert replies[5].kind == "load"


async def test_base64_of_an_inline_blob_roundtrips(worker: ArtifactWorker) -> None:
    data = metaflow_blob("ünïcode ✓")
    assert base64.b64decode(Blob(data=data).as_request()["data_b64"]) == data
    reply = await worker.preview(data)
    assert reply.preview is not None and reply.preview["repr"] == "'ünïcode ✓'"
