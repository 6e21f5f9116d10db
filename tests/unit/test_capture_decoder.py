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
    assert decoder.dominant_width == 7
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
    item = only(decode_bytes(jsonl([record(' 1.5 ,"2",3e2')])))
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


def test_without_an_expected_width_every_width_is_counted_and_the_dominant_one_wins():
    # GIVEN one short first row followed by many 3-feature rows (and a bad record)
    lines = [record("1,2"), *(record(f"{i},2,3") for i in range(50)), record("1,2\nx,y")]
    decoder = CaptureDecoder()
    # WHEN decoded without an expected width
    items = decode_bytes(jsonl(lines), decoder)
    # THEN nothing is rejected for its width, and the dominant width is 3, not the first row's 2
    assert [i.reason for i in items if isinstance(i, Reject)] == [capture.NON_NUMERIC]
    assert decoder.dominant_width == 3
    assert capture.dominant_width(io.BytesIO(jsonl(lines))) == 3


def test_a_short_first_row_does_not_poison_the_file_once_the_dominant_width_is_expected():
    # GIVEN one 2-feature row then 1,000 good 3-feature rows
    data = jsonl([record("1,2"), *(record(f"{i},2,3") for i in range(1000))])
    # WHEN the file is decoded against its dominant width
    decoder = CaptureDecoder(feature_dim=capture.dominant_width(io.BytesIO(data)))
    items = decode_bytes(data, decoder)
    # THEN only the short row is rejected
    assert [i.line for i in items if isinstance(i, Reject)] == [1]
    assert decoder.decoded == 1000


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
def test_line_reader_splits_on_every_line_break_whatever_the_chunk_size(chunk_bytes):
    # JSON escapes CR and LF inside strings: a raw one is always a line break
    data = b"a\r\nbb\rstill-bb\n\nccc\r"
    lines = list(read_lines(io.BytesIO(data), max_line_bytes=100, chunk_bytes=chunk_bytes))
    assert lines == [b"a", b"bb", b"still-bb", b"", b"ccc"]


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
    if not data.startswith(b"\x1f\x8b\x08"):  # else a gzip stream: one "gzip-compressed" record
        assert decoder.records == len(data.removeprefix(b"\xef\xbb\xbf").splitlines())


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
    return bytes(line).replace(b"\n", b"").replace(b"\r", b"")


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
            widths = {len(row.split(",")) for row in item.rows}
            assert widths == {feature_dim} if feature_dim else len(widths) == 1
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


# ---------------------------------------------------------------------------- RFC 4180 and edges


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ('"1,000",7', capture.NON_NUMERIC),  # one quoted field holding a comma: not a number
        ('"1,5",2', capture.NON_NUMERIC),
        ('1,2,"3', capture.BAD_CSV),  # unbalanced quote
        ('1,"2"x,3', capture.BAD_CSV),  # text after a closing quote
        ('"abc",1', capture.NON_NUMERIC),
    ],
    ids=["thousands", "decimal-comma", "unbalanced", "after-quote", "text"],
)
def test_quoted_csv_fields_follow_rfc_4180_and_non_numbers_are_rejected_with_a_reason(payload, reason):
    # GIVEN a CSV payload with quoted fields WHEN decoded
    item = only(decode_bytes(jsonl([record(payload)])))
    # THEN it is rejected (never split on the quoted comma), with a reason and no payload value
    assert isinstance(item, Reject)
    assert item.reason == reason
    assert "1,000" not in item.detail
    assert "abc" not in item.detail


def test_quoted_numbers_and_escaped_quotes_parse_by_rfc_4180():
    items = decode_bytes(jsonl([record('"1.5","2",3'), record('"1""2",3')]))
    assert items[0].rows == ["1.5,2,3"]
    assert isinstance(items[1], Reject)
    assert items[1].reason == capture.NON_NUMERIC


def test_a_utf8_bom_before_the_first_line_is_dropped():
    data = b"\xef\xbb\xbf" + jsonl([record("1,2,3"), record("4,5,6")])
    items = decode_bytes(data)
    assert [i.rows for i in items] == [["1,2,3"], ["4,5,6"]]


def test_a_gzip_compressed_capture_is_decoded_by_its_magic_bytes():
    import gzip

    data = gzip.compress(jsonl([record(f"{i},2,3") for i in range(100)]))
    decoder = CaptureDecoder()
    items = decode_stream(io.BytesIO(data), decoder)
    assert [i.rows for i in items] == [[f"{i},2,3"] for i in range(100)]
    assert decoder.rejected == 0


def test_a_corrupt_gzip_capture_is_rejected_as_gzip_compressed_with_a_hint():
    import gzip

    data = gzip.compress(jsonl([record(f"{i},2,3") for i in range(100)]))[:-30]
    items = decode_bytes(data)
    assert isinstance(items[-1], Reject)
    assert items[-1].reason == capture.GZIP_COMPRESSED
    assert "gunzip" in items[-1].detail


def test_cr_only_line_endings_split_lines():
    data = b"\r".join(json.dumps(record(f"{i},2,3")).encode() for i in range(3)) + b"\r"
    items = decode_bytes(data)
    assert [i.rows for i in items] == [["0,2,3"], ["1,2,3"], ["2,2,3"]]


@pytest.mark.parametrize("chunk_bytes", [1, 5, 64, 1 << 20])
def test_a_crlf_line_of_exactly_max_line_bytes_is_not_too_long(chunk_bytes):
    line = json.dumps(record("1,2,3")).encode()
    data = line + b"\r\n" + line + b"\r\n"
    lines = list(read_lines(io.BytesIO(data), max_line_bytes=len(line), chunk_bytes=chunk_bytes))
    assert lines == [line, line]
