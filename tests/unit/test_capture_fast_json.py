"""A faster JSON parser (orjson, offline only) never changes what the capture decoder decides.

``sentinel decode`` hands the decoder ``orjson.loads``; the Lambda does not. Whatever orjson
refuses goes to the standard library, which names the reason, so both must give the same records,
rejects, reasons and details line for line.
"""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anomaly_sentinel.capture import CaptureDecoder
from tests.support.capture import as_base64, record
from tests.support.decoding import PROPERTY_SETTINGS, corrupted_line, decode_bytes

HOSTILE = [
    b"",
    b"   ",
    b"\t" + json.dumps(record("1,2")).encode(),
    b" \x0c" + json.dumps(record("1,2")).encode(),  # form feed: str.strip's whitespace, not JSON's
    json.dumps(record("1,2")).encode() + b" \x0b",
    b"null",
    b"[1, 2]",
    b'{"a": NaN}',
    b'{"captureData": {"endpointInput": {"data": "1,2", "encoding": "CSV"}}, "x": 1e999}',
    b'{"eventMetadata": {"eventId": "\\ud800"}, "captureData": 1}',  # a lone surrogate escape
    b'{"eventMetadata": {"eventId": 123456789012345678901234567890}}',  # beyond 64 bits
    b'{"eventMetadata": {"eventId": "a"}, "eventMetadata": {"eventId": "b"}, "captureData": 1}',
    b"\xed\xa0\x80",  # a UTF-8-encoded surrogate
    b"\xff\xfe{}",
    b"[" * 5_000 + b"]" * 5_000,
    json.dumps(as_base64(record("1,2,3"), "text/csv")).encode(),
    json.dumps(as_base64(record("1,2,3"), "image/png")).encode(),
    json.dumps(as_base64(record("1,2,3"), "Text/CSV; charset=utf-8")).encode(),
    json.dumps(
        {**as_base64(record("1,2")), "captureData": {"endpointInput": {"data": "@@", "encoding": "BASE64"}}}
    ).encode(),
    json.dumps(
        {"captureData": {"endpointInput": {"data": "MSwy", "encoding": "BASE64", "observedContentType": []}}}
    ).encode(),
]


def outcome(lines: list[bytes], fast: bool, feature_dim: int | None = None) -> tuple[object, ...]:
    decoder = CaptureDecoder(feature_dim=feature_dim, fast_json=orjson.loads if fast else None)
    items = decode_bytes(b"\n".join(lines) + b"\n", decoder)
    counts = (
        decoder.records,
        decoder.decoded,
        decoder.rejected,
        decoder.rows,
        decoder.reasons,
        decoder.widths,
    )
    return items, counts


@pytest.mark.parametrize("line", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_line_decodes_the_same_with_or_without_orjson(line):
    # GIVEN a line that orjson and the standard library may disagree on
    # WHEN it is decoded with and without orjson THEN the record or reject is the same
    assert outcome([line], fast=True) == outcome([line], fast=False)


@PROPERTY_SETTINGS
@given(st.lists(corrupted_line(), min_size=1, max_size=20), st.sampled_from([None, 7]))
def test_corrupted_real_lines_decode_the_same_with_or_without_orjson(lines, feature_dim):
    assert outcome(lines, fast=True, feature_dim=feature_dim) == outcome(
        lines, fast=False, feature_dim=feature_dim
    )
