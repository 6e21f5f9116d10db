"""The capture decoder on the real fixtures (CSV, JSON and base64 forms) and on broken lines.

The base64 records are built in tests/unit/capture_samples.py by base64-encoding the real CSV and
JSON samples: no public capture file with ``"encoding": "BASE64"`` exists.
"""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anomaly_sentinel import capture
from anomaly_sentinel.capture import (
    CaptureDecoder,
    CaptureRecord,
    OverlongLine,
    Reject,
    decode_stream,
    read_lines,
)
from tests.support import fixture_path
from tests.unit.capture_samples import (
    as_base64,
    input_rows,
    jsonl,
    real_csv_records,
    real_json_records,
    record,
)


def decode_bytes(
    data: bytes, decoder: CaptureDecoder | None = None, **kwargs
) -> list[CaptureRecord | Reject]:
    return list(decode_stream(io.BytesIO(data), decoder or CaptureDecoder(), **kwargs))


def only(items: list[CaptureRecord | Reject]) -> CaptureRecord | Reject:
    assert len(items) == 1
    return items[0]


# ---------------------------------------------------------------------------- real fixtures


def test_real_csv_capture_decodes_every_record_with_its_identity():
    # GIVEN the real CSV capture file, inferenceTime filled (the fixture holds the template "{%s}")
    records = real_csv_records()
    decoder = CaptureDecoder()
    # WHEN it is decoded
    items = decode_bytes(jsonl(records), decoder)
    # THEN every record is decoded, in order, with its eventId, time and the exact input row
    assert (decoder.records, decoder.decoded, decoder.rejected) == (44, 44, 0)
    assert decoder.feature_dim == 7
    assert [i.rows for i in items] == [[row] for row in input_rows(records)]
    assert items[0].event_id == "74b0dd56-e7c8-368e-94b1-14a138a96000"
    assert items[0].inference_time == "2026-11-21T10:00:00Z"
    assert [i.line for i in items] == list(range(1, 45))


def test_real_json_capture_with_newlines_inside_output_data_is_one_record_per_line():
    # GIVEN the real JSON capture file, whose output data holds newlines (escaped in JSONL)
    raw = fixture_path("capture/captured-data.jsonl").read_bytes()
    assert b'\\n    \\"predictions' in raw or b"\\n" in raw
    decoder = CaptureDecoder()
    # WHEN it is decoded
    items = decode_bytes(raw, decoder)
    # THEN it is two records; {"instances": [1.0, 2.0, 5.0]} is three single-feature rows
    assert (decoder.records, decoder.decoded) == (2, 2)
    assert items[0].rows == ["1.0", "2.0", "5.0"]
    assert items[1].inference_time == "2019-11-24T07:31:30Z"


@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8", "TEXT/CSV;charset=UTF-8"])
def test_base64_of_the_real_csv_decodes_to_the_same_rows(content_type):
    # GIVEN the real CSV records base64-encoded by the test, with the content type variants
    records = real_csv_records()
    encoded = [as_base64(r, content_type) for r in records]
    # WHEN both forms are decoded
    plain = decode_bytes(jsonl(records))
    b64 = decode_bytes(jsonl(encoded))
    # THEN the rows and identities are identical
    assert [(i.event_id, i.rows) for i in b64] == [(i.event_id, i.rows) for i in plain]


def test_base64_of_the_real_json_decodes_to_the_same_rows():
    records = real_json_records()
    encoded = [as_base64(r, "application/json") for r in records]
    assert [i.rows for i in decode_bytes(jsonl(encoded))] == [i.rows for i in decode_bytes(jsonl(records))]


# ---------------------------------------------------------------------------- payload shapes


def test_csv_payload_with_several_rows_keeps_them_all_in_one_record():
    item = only(decode_bytes(jsonl([record("1,2,3\n4,5,6\r\n7,8,9\n")])))
    assert item.rows == ["1,2,3", "4,5,6", "7,8,9"]


def test_csv_values_with_spaces_or_quotes_are_normalised():
    item = only(decode_bytes(jsonl([record(' 1.5 , "2" ,3e2')])))
    assert item.rows == ["1.5,2,3e2"]


@pytest.mark.parametrize(
    ("payload", "content_type", "rows"),
    [
        ('{"instances":[{"features":[1,2]},{"features":[3,4]}]}', "application/json", ["1.0,2.0", "3.0,4.0"]),
        ('{"features":[1.5,2]}', "application/json", ["1.5,2.0"]),
        ("[1, 2]", "application/json", ["1.0,2.0"]),
        ("[[1, 2], [3, 4]]", "application/json", ["1.0,2.0", "3.0,4.0"]),
        ('{"features":[1,2]}\n{"features":[3,4]}\n', "application/jsonlines", ["1.0,2.0", "3.0,4.0"]),
        ('{"features":[1,2]}\n{"features":[3,4]}', "application/json", ["1.0,2.0", "3.0,4.0"]),
        ('{"data":{"features":{"values":[1,2]}}}', "application/jsonlines", ["1.0,2.0"]),
    ],
    ids=["instances", "features", "bare-array", "array-of-rows", "json-lines", "lines-as-json", "rcf-data"],
)
@pytest.mark.parametrize("encoding", ["JSON", "BASE64"])
def test_json_payload_shapes(payload, content_type, rows, encoding):
    item = only(decode_bytes(jsonl([record(payload, encoding=encoding, content_type=content_type)])))
    assert isinstance(item, CaptureRecord)
    assert item.rows == rows


def test_configured_feature_dim_is_enforced():
    decoder = CaptureDecoder(feature_dim=3)
    items = decode_bytes(jsonl([record("1,2,3"), record("1,2")]), decoder)
    assert isinstance(items[0], CaptureRecord)
    assert items[1].reason == capture.FEATURE_COUNT
    assert "expected 3" in items[1].detail


def test_learned_feature_dim_comes_from_the_first_good_record_not_a_rejected_one():
    # GIVEN a first record whose first row has 2 values but whose second row is bad
    lines = [record("1,2\nx,y"), record("1,2,3"), record("4,5,6"), record("7,8")]
    decoder = CaptureDecoder()
    # WHEN decoded
    items = decode_bytes(jsonl(lines), decoder)
    # THEN the first is rejected (non-numeric) and the dimension is learned from the second
    assert [type(i).__name__ for i in items] == ["Reject", "CaptureRecord", "CaptureRecord", "Reject"]
    assert decoder.feature_dim == 3
    assert items[3].reason == capture.FEATURE_COUNT


# ---------------------------------------------------------------------------- rejects


SECRET = "9731.4159"  # appears in payloads that must be rejected; must never appear in a reason


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"this is not json " + SECRET.encode(), capture.NOT_JSON),
        (b'{"captureData": ', capture.NOT_JSON),
        (b"[1, 2, 3]", capture.NO_CAPTURE_DATA),
        (b'{"eventMetadata": {"eventId": "e1"}}', capture.NO_CAPTURE_DATA),
        (b'{"captureData": {"endpointOutput": {}}}', capture.NO_CAPTURE_DATA),
        (b'{"captureData": {"endpointInput": {"data": 5}}}', capture.NO_CAPTURE_DATA),
        (b"\xff\xfe" + SECRET.encode(), capture.NOT_UTF8),
        (b"   ", capture.EMPTY_LINE),
        (b"", capture.EMPTY_LINE),
    ],
)
def test_broken_lines_are_rejected_with_a_reason(line, reason):
    item = only(decode_bytes(line + b"\n"))
    assert isinstance(item, Reject)
    assert item.reason == reason
    assert item.line == 1
    assert SECRET not in item.detail


@pytest.mark.parametrize(
    ("payload", "encoding", "content_type", "reason"),
    [
        ("1,2,abc" + SECRET, "CSV", "text/csv", capture.NON_NUMERIC),
        ("1,," + SECRET, "CSV", "text/csv", capture.NON_NUMERIC),
        ("1_000,2", "CSV", "text/csv", capture.NON_NUMERIC),
        ("١٢,3", "CSV", "text/csv", capture.NON_NUMERIC),  # Arabic-Indic digits: float() takes them
        ("1,nan," + SECRET, "CSV", "text/csv", capture.NON_FINITE),
        ("1,inf", "CSV", "text/csv", capture.NON_FINITE),
        ("1,1e999", "CSV", "text/csv", capture.NON_FINITE),
        ('{"features":[1, NaN]}', "JSON", "application/json", capture.NON_FINITE),
        ('{"features":[1, 1e999]}', "JSON", "application/json", capture.NON_FINITE),
        ('{"features":[1, "2"]}', "JSON", "application/json", capture.NON_NUMERIC),
        ('{"features":[1, true]}', "JSON", "application/json", capture.NON_NUMERIC),
        ('{"features":[]}', "JSON", "application/json", capture.NON_NUMERIC),
        ('{"instances":[]}', "JSON", "application/json", capture.EMPTY_PAYLOAD),
        ('{"something": 1}', "JSON", "application/json", capture.NO_CAPTURE_DATA),
        ("{not json", "JSON", "application/json", capture.NOT_JSON),
        ("", "CSV", "text/csv", capture.EMPTY_PAYLOAD),
        ("  \n \n", "CSV", "text/csv", capture.EMPTY_PAYLOAD),
        ("", "BASE64", "text/csv", capture.EMPTY_PAYLOAD),
        ("1,2", "BASE64", "image/png", capture.UNSUPPORTED_CONTENT),
        ("1,2", "PROTOBUF", "application/x-protobuf", capture.UNSUPPORTED_CONTENT),
    ],
)
def test_unusable_payloads_are_rejected_with_a_reason_that_never_quotes_them(
    payload, encoding, content_type, reason
):
    rec = record(payload, encoding=encoding, content_type=content_type, event_id="evt-9")
    item = only(decode_bytes(jsonl([rec])))
    assert isinstance(item, Reject)
    assert (item.reason, item.event_id) == (reason, "evt-9")
    assert SECRET not in item.detail
    assert SECRET not in json.dumps(item.to_json())


def test_bad_base64_is_rejected():
    rec = record("1,2")
    rec["captureData"]["endpointInput"].update(encoding="BASE64", data="not base64!!")
    assert only(decode_bytes(jsonl([rec]))).reason == capture.BAD_BASE64


def test_base64_that_is_not_utf8_is_rejected():
    rec = record("1,2")
    rec["captureData"]["endpointInput"].update(encoding="BASE64", data="//79")  # b"\xff\xfe\xfd"
    assert only(decode_bytes(jsonl([rec]))).reason == capture.NOT_UTF8


def test_over_long_line_is_rejected_and_the_next_line_still_decodes():
    # GIVEN a 5,000-byte line between two good ones, a 1,000-byte limit and 256-byte chunks
    long_line = json.dumps(record("1," * 2000 + "1")).encode()
    data = jsonl([record("1,2")]) + long_line + b"\n" + jsonl([record("3,4")])
    decoder = CaptureDecoder()
    # WHEN decoded
    items = list(decoder.decode(read_lines(io.BytesIO(data), max_line_bytes=1000, chunk_bytes=256)))
    # THEN the long line is rejected (with its size) and both neighbours are decoded
    assert [getattr(i, "reason", "ok") for i in items] == ["ok", capture.LINE_TOO_LONG, "ok"]
    assert str(len(long_line)) in items[1].detail
    assert items[2].line == 3


# ---------------------------------------------------------------------------- line reader


@pytest.mark.parametrize("chunk_bytes", [1, 7, 64, 1 << 20])
def test_line_reader_splits_on_newlines_only_whatever_the_chunk_size(chunk_bytes):
    data = b"a\r\nbb\rstill-bb\n\nccc"  # a lone \r is data, not a line break
    lines = list(read_lines(io.BytesIO(data), max_line_bytes=100, chunk_bytes=chunk_bytes))
    assert lines == [b"a", b"bb\rstill-bb", b"", b"ccc"]


def test_line_reader_drops_an_over_long_tail_without_buffering_it():
    data = b"ok\n" + b"x" * 10_000
    lines = list(read_lines(io.BytesIO(data), max_line_bytes=100, chunk_bytes=64))
    assert lines == [b"ok", OverlongLine(10_000)]


def test_empty_stream_has_no_records():
    decoder = CaptureDecoder()
    assert decode_bytes(b"", decoder) == []
    assert decoder.records == 0


# ---------------------------------------------------------------------------- properties

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GOOD_LINES = [json.dumps(r).encode() for r in real_csv_records()[:5]] + [
    json.dumps(as_base64(r, "text/csv; charset=utf-8")).encode() for r in real_csv_records()[5:10]
]


@PROPERTY_SETTINGS
@given(st.lists(st.binary(max_size=300), max_size=30))
def test_random_lines_never_raise_and_every_record_is_accounted_for(lines):
    data = b"\n".join(line.replace(b"\n", b"") for line in lines)
    decoder = CaptureDecoder()
    items = decode_bytes(data, decoder, max_line_bytes=200)
    assert decoder.decoded + decoder.rejected == decoder.records == len(items)
    physical_lines = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
    assert decoder.records == physical_lines


@st.composite
def corrupted_line(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(GOOD_LINES)))
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(line) - 1)))
        if action == "flip" and line:
            line[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del line[at:]
        elif action == "insert":
            line[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif line:
            del line[at]
    return bytes(line).replace(b"\n", b"")


@PROPERTY_SETTINGS
@given(st.lists(corrupted_line(), min_size=1, max_size=20), st.sampled_from([None, 7]))
def test_corrupted_real_lines_never_raise_and_every_record_is_accounted_for(lines, feature_dim):
    decoder = CaptureDecoder(feature_dim=feature_dim)
    items = decode_bytes(b"\n".join(lines) + b"\n", decoder)
    assert decoder.decoded + decoder.rejected == decoder.records == len(lines) == len(items)
    for item in items:
        if isinstance(item, Reject):
            assert item.reason in capture.REASONS
        else:
            assert all(len(row.split(",")) == decoder.feature_dim for row in item.rows)
            assert all(row.isascii() for row in item.rows)


@PROPERTY_SETTINGS
@given(
    st.lists(
        st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=3, max_size=3),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(["CSV", "BASE64"]),
)
def test_finite_rows_round_trip_exactly(rows, encoding):
    payload = "\n".join(",".join(repr(v) for v in row) for row in rows)
    item = only(decode_bytes(jsonl([record(payload, encoding=encoding)])))
    assert [[float(v) for v in row.split(",")] for row in item.rows] == rows
