"""Validation of request parameters: JSON objects in, typed values out, `invalid_params` else."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pygls.uris import to_fs_path

from ..runs import RunStoreError, split_pathspec
from .context import INVALID_PARAMS, RequestError


def plain(value: Any) -> Any:
    """JSON values from what a transport hands over (pygls turns objects into namedtuples)."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def as_dict(params: Any) -> dict[str, Any]:
    """The parameters as a dict (None is an empty object)."""
    value = plain(params)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise RequestError(INVALID_PARAMS, "invalid_params", "the parameters must be a JSON object")


def string(params: dict[str, Any], name: str, required: bool = False) -> str | None:
    """A non-empty string parameter, stripped."""
    value = params.get(name)
    if value is None:
        if required:
            raise RequestError(INVALID_PARAMS, "invalid_params", f"'{name}' is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise RequestError(INVALID_PARAMS, "invalid_params", f"'{name}' must be a non-empty string")
    return value.strip()


def integer(
    params: dict[str, Any], name: str, default: int | None, low: int, high: int
) -> int | None:
    """An integer parameter within [low, high]."""
    value = params.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(
            INVALID_PARAMS,
            "invalid_params",
            f"'{name}' must be an integer from {low} to {high}, not {value!r}",
        )
    return value


def pathspec(params: dict[str, Any], depth: int) -> str:
    """The `pathspec` parameter with exactly `depth` parts (Flow/run/step/task)."""
    value = string(params, "pathspec", required=True)
    assert value is not None
    try:
        return "/".join(split_pathspec(value, depth))
    except RunStoreError as error:
        raise RequestError(INVALID_PARAMS, "invalid_params", str(error)) from None


def uri_path(params: dict[str, Any]) -> str | None:
    """The flow file named by `uri` (a `file:` URI or a path)."""
    uri = string(params, "uri")
    if uri is None:
        return None
    if uri.startswith("file:"):
        path = to_fs_path(uri)
        return os.path.abspath(path) if path else None
    return uri
