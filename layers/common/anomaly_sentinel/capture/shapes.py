"""The JSON payload shapes the decoder accepts, as RCF and common serving stacks send them."""

from __future__ import annotations

from math import isfinite
from typing import Any

from anomaly_sentinel.capture.records import NO_CAPTURE_DATA, NON_FINITE, NON_NUMERIC, Rejected


def feature_lists(doc: Any) -> list[Any]:
    """The rows of one JSON document, in the shapes RCF and common serving stacks accept.

    ``{"instances": [{"features": [...]}, ...]}``; ``{"instances": [[...], ...]}``;
    ``{"instances": [1.0, 2.0]}`` (one single-feature row per number, as TF Serving reads it);
    ``{"features": [...]}``; RCF's ``{"data": {"features": {"values": [...]}}}``; a bare array of
    numbers (one row) or of rows.
    """
    if isinstance(doc, dict):
        if "instances" in doc:
            instances = doc["instances"]
            if not isinstance(instances, list):
                raise Rejected(NO_CAPTURE_DATA, "instances is not an array")
            return [_one_row(item) for item in instances]
        return [_one_row(doc)]
    if isinstance(doc, list):
        if doc and all(_is_number(v) for v in doc):
            return [doc]
        return [_one_row(item) for item in doc]
    if _is_number(doc):
        return [[doc]]
    raise Rejected(NO_CAPTURE_DATA, "JSON payload holds no features")


def _one_row(item: Any) -> Any:
    if isinstance(item, dict):
        if "features" in item:
            return item["features"]
        data = item.get("data")
        if isinstance(data, dict) and isinstance(data.get("features"), dict):
            return data["features"].get("values")
        raise Rejected(NO_CAPTURE_DATA, "JSON object has no features")
    if isinstance(item, list):
        return item
    if _is_number(item):
        return [item]
    raise Rejected(NON_NUMERIC, "JSON row is not an array of numbers")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def finite_floats(values: Any, index: int) -> list[float]:
    if not isinstance(values, list) or not values:
        raise Rejected(NON_NUMERIC, f"row {index} is not a non-empty array of numbers")
    floats = []
    for column, value in enumerate(values, 1):
        if not _is_number(value):
            raise Rejected(NON_NUMERIC, f"row {index} column {column} is not a number", column)
        try:
            number = float(value)
        except OverflowError:
            raise Rejected(NON_FINITE, f"row {index} column {column} overflows a float", column) from None
        if not isfinite(number):
            raise Rejected(NON_FINITE, f"row {index} column {column} is NaN or infinite", column)
        floats.append(number)
    return floats
