"""Model Monitor record preprocessor: a data-capture record → flat feature dict(s).

Uploaded to S3 and named as ``RecordPreprocessorSourceUri`` of a monitoring schedule; the Model
Monitor container calls ``preprocess_handler(inference_record, logger)`` once per captured
record. Standalone on purpose (standard library only: the container has nothing else of ours).

It returns ``{"_c0": v0, "_c1": v1, ...}``: Model Monitor matches features with the baseline by
name, and the baseline of a headerless CSV (the pipeline's Baseline step, like Model Monitor's own
baselining job) names columns ``_c0``, ``_c1``, … — so the drift monitor's baseline serves Model
Monitor unchanged. Base64 capture (CSV or JSON chosen by ``observedContentType``, e.g.
``text/csv; charset=utf-8``) is decoded first. Unlike the example it
logs nothing per record — a monitoring run sees millions of them, and payloads must not reach
logs — only a count of skipped records every ``REPORT_EVERY`` skips. A record holding several
rows returns a list of dicts; a record that cannot be decoded returns an empty list (skipped).
"""

from __future__ import annotations

import binascii
import json
import math
from typing import Any

#: Model Monitor's name for column i of a headerless CSV (anomaly_sentinel.drift.FEATURE_PREFIX).
FEATURE_PREFIX = "_c"
REPORT_EVERY = 1000
_skipped = 0


def preprocess_handler(
    inference_record: Any, logger: Any = None
) -> dict[str, float] | list[dict[str, float]]:
    """The Model Monitor contract. Never raises: a bad record must not fail the monitoring job."""
    try:
        rows = decode_input(inference_record.endpoint_input)
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
        _count_skip(logger, type(exc).__name__)
        return []
    flat = [{f"{FEATURE_PREFIX}{i}": value for i, value in enumerate(row)} for row in rows]
    return flat[0] if len(flat) == 1 else flat


def decode_input(endpoint_input: Any) -> list[list[float]]:
    """Feature rows of a capture record's ``endpointInput`` (ValueError when unusable)."""
    data = endpoint_input.data
    encoding = str(getattr(endpoint_input, "encoding", "") or "").upper()
    content_type = _content_type(endpoint_input)
    if encoding == "BASE64":
        text = binascii.a2b_base64(data, strict_mode=True).decode("utf-8")
        kind = "csv" if "csv" in content_type else "json" if "json" in content_type else None
    elif encoding == "CSV":
        text, kind = data, "csv"
    elif encoding == "JSON":
        text, kind = data, "json"
    else:
        text = data
        kind = "csv" if "csv" in content_type else "json" if "json" in content_type else None
    if kind is None:
        raise ValueError("unsupported content type")
    rows = _csv_rows(text) if kind == "csv" else _json_rows(text)
    if not rows:
        raise ValueError("empty payload")
    return rows


def _content_type(endpoint_input: Any) -> str:
    for name in ("observed_content_type", "observedContentType"):
        value = getattr(endpoint_input, name, None)
        if isinstance(value, str):
            return value.split(";", 1)[0].strip().lower()
    return ""


def _finite(values: list[Any]) -> list[float]:
    if not values or any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        raise ValueError("row is not an array of numbers")
    floats = [float(v) for v in values]
    if not all(math.isfinite(v) for v in floats):
        raise ValueError("non-finite value")
    return floats


def _csv_rows(text: str) -> list[list[float]]:
    rows = []
    for line in text.splitlines():
        if line.strip():
            if not line.isascii() or "_" in line:
                raise ValueError("non-numeric value")
            rows.append(_finite([float(token) for token in line.split(",")]))
    return rows


def _json_rows(text: str) -> list[list[float]]:
    try:
        docs = [json.loads(text)]
    except ValueError:
        docs = [json.loads(line) for line in text.splitlines() if line.strip()]  # JSON Lines
    rows = []
    for doc in docs:
        for item in _items(doc):
            rows.append(_finite(item))
    return rows


def _items(doc: Any) -> list[Any]:
    if isinstance(doc, dict):
        if "instances" in doc:
            return [_features(item) for item in doc["instances"]]
        return [_features(doc)]
    if isinstance(doc, list) and doc and all(isinstance(v, int | float) for v in doc):
        return [doc]
    if isinstance(doc, list):
        return [_features(item) for item in doc]
    return [[doc]]


def _features(item: Any) -> Any:
    if isinstance(item, dict):
        if "features" in item:
            return item["features"]
        return item["data"]["features"]["values"]
    return item if isinstance(item, list) else [item]


def _count_skip(logger: Any, why: str) -> None:
    global _skipped  # noqa: PLW0603 - the container calls us per record; a counter is all we keep
    _skipped += 1
    if logger is not None and (_skipped == 1 or _skipped % REPORT_EVERY == 0):
        logger.warning(f"record preprocessor skipped {_skipped} record(s) so far (last: {why})")
