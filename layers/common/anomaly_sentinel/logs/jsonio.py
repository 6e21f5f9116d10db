"""Bounded loading of the log model's JSON artefacts: size, nesting depth and finite numbers first.

Every artefact a function reads (template table, vector spec, PCA model, detector choice) goes
through :func:`load_json`, so a damaged or hostile file fails with a named error instead of
exhausting memory, recursing deeply, or smuggling ``NaN`` into a score.
"""

from __future__ import annotations

import json
import math
from typing import Any

from anomaly_sentinel.documents import read_document
from anomaly_sentinel.exceptions import DocumentError
from anomaly_sentinel.logs.exceptions import LogArtefactError

#: Largest artefact read (a table of 100k templates is ~20 MB).
MAX_ARTEFACT_BYTES = 64 * 1024 * 1024


def load_json(
    raw: bytes,
    what: str,
    error: type[LogArtefactError] = LogArtefactError,
    *,
    max_bytes: int = MAX_ARTEFACT_BYTES,
) -> Any:
    """Parse ``raw`` through :func:`~anomaly_sentinel.documents.read_document` (the one guard of
    JSON we did not write: size, depth, finite numbers), or raise ``error`` naming ``what``."""
    if not isinstance(raw, bytes | bytearray):
        raise error(f"{what}: expected bytes, got {type(raw).__name__}")
    try:
        return read_document(bytes(raw), max_bytes=max_bytes)
    except DocumentError as exc:
        raise error(f"{what}: {exc}") from None


def dump_json(document: Any) -> bytes:
    """Compact, sorted, strict JSON (``NaN`` refused), UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


# ---------------------------------------------------------------------------- field readers


def member(
    document: Any, name: str, kind: type | tuple[type, ...], what: str, error: type[LogArtefactError]
) -> Any:
    """``document[name]`` of the given type (bool is never a number), or ``error`` naming the field."""
    if not isinstance(document, dict):
        raise error(f"{what}: expected a JSON object")
    if name not in document:
        raise error(f"{what}: missing field {name!r}")
    value = document[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise error(f"{what}: field {name!r} must be {_names(kinds)}, got a boolean")
    if not isinstance(value, kinds):
        raise error(f"{what}: field {name!r} must be {_names(kinds)}, got {type(value).__name__}")
    return value


def number_list(value: Any, name: str, what: str, error: type[LogArtefactError]) -> list[float]:
    """A list of finite numbers (ints accepted), or ``error`` naming the field."""
    if not isinstance(value, list) or not all(is_finite_number(x) for x in value):
        raise error(f"{what}: field {name!r} must be a list of finite numbers")
    return [float(x) for x in value]


def is_finite_number(value: Any) -> bool:
    """A JSON number (not a boolean) that is finite as a float (a 400-digit integer is not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _names(kinds: tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in kinds)
