"""The capture decoder on the real fixtures (CSV, JSON and base64 forms) and on broken lines.

The base64 records are built in tests/support/capture.py by base64-encoding the real CSV and
JSON samples: no public capture file with ``"encoding": "BASE64"`` exists.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import tracemalloc
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

import anomaly_sentinel.capture.decoder as decoder_module
from anomaly_sentinel import capture, drift
from anomaly_sentinel.capture import (
    CaptureDecoder,
    CaptureRecord,
    OverlongLine,
    Reject,
    decode_stream,
    media_type,
    read_lines,
)
from tests.support import fixture_path
from tests.support.capture import (
    as_base64,
    input_rows,
    jsonl,
    real_csv_records,
    real_json_records,
    record,
)
from tests.support.decoding import PROPERTY_SETTINGS, corrupted_line, decode_bytes


@pytest.fixture(autouse=True)
def _no_cached_content_types(monkeypatch: pytest.MonkeyPatch) -> None:
    """The decoder remembers what each content type means for the life of the process. Every test
    starts without that memory, so what a content type means is decided by the code under test, not
    by an earlier test (or by the process a mutation-testing worker was forked from)."""
    monkeypatch.setattr(decoder_module, "_KINDS", {})


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


def test_without_an_expected_width_each_record_counts_its_width_once():
    # GIVEN a 3-row and two 1-row records of width 2, and one 4-row record of width 3
    data = jsonl(
        [record("1,2\n3,4\n5,6"), record("7,8"), record("9,1"), record("1,2,3\n4,5,6\n7,8,9\n1,1,1")]
    )
    decoder = CaptureDecoder()
    # WHEN decoded THEN widths count records, not rows: width 2 dominates
    decode_bytes(data, decoder)
    assert decoder.widths == {2: 3, 3: 1}
    assert decoder.dominant_width == 2


def test_without_an_expected_width_the_rows_of_one_record_must_agree():
    item = only(decode_bytes(jsonl([record("1,2\n3,4,5")])))
    assert item.reason == capture.FEATURE_COUNT


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
    ("line", "reason", "event_id"),
    [
        (b"this is not json " + SECRET.encode(), capture.NOT_JSON, None),
        (b'{"captureData": ', capture.NOT_JSON, None),
        (b'{"captureData": {}} {"captureData": {}}', capture.NOT_JSON, None),  # two values, one line
        (b"[" * 100_000 + b"]" * 100_000, capture.NOT_JSON, None),  # nests deeper than any parser goes
        (b" \x0c" + json.dumps(record("1,2")).encode(), capture.NOT_JSON, None),  # not JSON whitespace
        (b" X" + json.dumps(record("1,2")).encode(), capture.NOT_JSON, None),
        (b"[1, 2, 3]", capture.NO_CAPTURE_DATA, None),
        (b'{"eventMetadata": {"eventId": "e1"}}', capture.NO_CAPTURE_DATA, "e1"),
        (b'{"eventMetadata": {"eventId": 7}, "captureData": 5}', capture.NO_CAPTURE_DATA, None),
        (b'{"captureData": {"endpointOutput": {}}}', capture.NO_CAPTURE_DATA, None),
        (b'{"captureData": {"endpointInput": {"data": 5}}}', capture.NO_CAPTURE_DATA, None),
        (b"\xff\xfe" + SECRET.encode(), capture.NOT_UTF8, None),
        (b"   ", capture.EMPTY_LINE, None),
        (b"", capture.EMPTY_LINE, None),
    ],
)
def test_broken_lines_are_rejected_with_a_reason(line, reason, event_id):
    # GIVEN one broken line WHEN it is decoded
    decoder = CaptureDecoder()
    item = only(decode_bytes(line + b"\n", decoder))
    # THEN it is rejected with its reason, its eventId only when it is a string, and a detail that
    # says what is wrong (an empty line needs no detail) without quoting the line
    assert isinstance(item, Reject)
    assert (item.line, item.event_id, item.reason) == (1, event_id, reason)
    assert isinstance(item.detail, str)
    assert bool(item.detail) is (reason != capture.EMPTY_LINE)
    assert SECRET not in item.detail
    # AND the decoder counts one record, rejected once for that reason, and no rows
    assert (decoder.records, decoder.decoded, decoder.rejected, decoder.rows) == (1, 0, 1, 0)
    assert decoder.reasons == {reason: 1}


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
        (" \n ", "JSON", "application/json", capture.EMPTY_PAYLOAD),
        ("1,2", "BASE64", "image/png", capture.UNSUPPORTED_CONTENT),
        ("1,2", "PROTOBUF", "application/x-protobuf", capture.UNSUPPORTED_CONTENT),
    ],
)
def test_unusable_payloads_are_rejected_with_a_reason_that_never_quotes_them(
    payload, encoding, content_type, reason
):
    rec = record(payload, encoding=encoding, content_type=content_type, event_id="evt-9")
    decoder = CaptureDecoder()
    item = only(decode_bytes(jsonl([rec]), decoder))
    assert isinstance(item, Reject)
    assert (item.reason, item.event_id) == (reason, "evt-9")
    assert isinstance(item.detail, str)
    assert item.detail  # says what is wrong with the payload...
    assert SECRET not in item.detail  # ... without quoting it
    assert SECRET not in json.dumps(item.to_json())
    assert (decoder.decoded, decoder.rejected, decoder.rows, decoder.reasons) == (0, 1, 0, {reason: 1})


def test_bad_base64_is_rejected():
    rec = record("1,2")
    rec["captureData"]["endpointInput"].update(encoding="BASE64", data="not base64!!")
    assert only(decode_bytes(jsonl([rec]))).reason == capture.BAD_BASE64


def test_base64_that_is_not_utf8_is_rejected():
    rec = record("1,2")
    rec["captureData"]["endpointInput"].update(encoding="BASE64", data="//79")  # b"\xff\xfe\xfd"
    item = only(decode_bytes(jsonl([rec])))
    assert item.reason == capture.NOT_UTF8
    assert isinstance(item.detail, str)
    assert item.detail


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


@PROPERTY_SETTINGS
@given(st.lists(st.binary(max_size=300), max_size=30))
def test_random_lines_never_raise_and_every_record_is_accounted_for(lines):
    data = b"\n".join(line.replace(b"\n", b"") for line in lines)
    decoder = CaptureDecoder()
    items = decode_bytes(data, decoder, max_line_bytes=200)
    assert decoder.decoded + decoder.rejected == decoder.records == len(items)
    if not data.startswith(b"\x1f\x8b\x08"):  # else a gzip stream: one "gzip-compressed" record
        assert decoder.records == len(data.removeprefix(b"\xef\xbb\xbf").splitlines())


@PROPERTY_SETTINGS
@given(st.lists(corrupted_line(), min_size=1, max_size=20), st.sampled_from([None, 7]))
def test_corrupted_real_lines_never_raise_and_every_record_is_accounted_for(lines, feature_dim):
    decoder = CaptureDecoder(feature_dim=feature_dim)
    data = b"\n".join(lines) + b"\n"
    items = decode_bytes(data, decoder)
    assert decoder.decoded + decoder.rejected == decoder.records == len(items)
    # A stream starting with gzip's magic bytes is read as gzip: one "gzip-compressed" record.
    assert decoder.records == (1 if data.startswith(b"\x1f\x8b\x08") else len(lines))
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
    assert isinstance(item.detail, str)
    assert item.detail
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


# ---------------------------------------------------------------------------- what is stored and counted


def test_a_reject_is_stored_as_its_line_event_id_stage_reason_and_detail():
    # GIVEN the reject of line 3 of a capture file
    reject = Reject(3, "evt-3", capture.NON_NUMERIC, "row 0 column 2 is not a number")
    # WHEN it is written to rejects/ THEN it is this JSON object, from the decode stage by default
    assert reject.to_json() == {
        "line": 3,
        "eventId": "evt-3",
        "stage": "decode",
        "reason": "non-numeric",
        "detail": "row 0 column 2 is not a number",
    }
    # AND another stage (the endpoint's) is named when given; a reject without detail has ""
    assert reject.to_json("endpoint")["stage"] == "endpoint"
    assert Reject(4, None, capture.EMPTY_LINE).to_json()["detail"] == ""


@pytest.mark.parametrize(
    ("data", "content_type", "reason", "column"),
    [
        ("1,x,3", "text/csv", capture.NON_NUMERIC, 2),
        ("1,2,nan", "text/csv", capture.NON_FINITE, 3),
        ('1,"2",x', "text/csv", capture.NON_NUMERIC, 3),
        ('[[1, "a", 3]]', "application/json", capture.NON_NUMERIC, 2),
        ("[[1, 1e999, 3]]", "application/json", capture.NON_FINITE, 2),
    ],
)
def test_a_value_that_is_not_a_finite_number_is_rejected_with_its_column_as_a_field(
    data, content_type, reason, column
):
    # GIVEN a record whose bad value is in some column (1-based), as CSV or JSON
    encoding = "JSON" if content_type == "application/json" else "CSV"
    # WHEN decoded
    rejected = only(decode_bytes(jsonl([record(data, content_type=content_type, encoding=encoding)])))
    # THEN the reject says the reason and carries the column as a number, stored with it
    assert isinstance(rejected, Reject)
    assert (rejected.reason, rejected.column) == (reason, column)
    assert rejected.to_json()["column"] == column
    assert f"column {column}" in rejected.detail


def test_a_reject_without_a_column_stores_none():
    # GIVEN a line that is not JSON WHEN decoded THEN its reject has no column, and stores none
    rejected = only(decode_bytes(b"not json\n"))
    assert isinstance(rejected, Reject)
    assert rejected.column is None
    assert "column" not in rejected.to_json()


def test_the_decoder_counts_records_rows_and_reasons_across_a_file():
    # GIVEN a file of five lines: a 3-row record, garbage, a 1-row record, a bad value, a cut line
    data = (
        jsonl([record("1,2\n3,4\n5,6")])
        + b"not json\n"
        + jsonl([record("7,8"), record("x,1")])
        + b'{"captureData": \n'
    )
    decoder = CaptureDecoder()
    # WHEN it is decoded
    items = decode_bytes(data, decoder)
    # THEN every line is one record numbered by its position, and the counts add up
    assert [i.line for i in items] == [1, 2, 3, 4, 5]
    assert [type(i) for i in items] == [CaptureRecord, Reject, CaptureRecord, Reject, Reject]
    assert (decoder.records, decoder.decoded, decoder.rejected, decoder.rows) == (5, 2, 3, 4)
    assert decoder.reasons == {capture.NOT_JSON: 2, capture.NON_NUMERIC: 1}


def test_a_record_keeps_its_event_id_inference_id_and_inference_time():
    # GIVEN a record whose metadata has all three identities (InvokeEndpoint's InferenceId set)
    rec = record("1,2", event_id="evt-1", inference_time="2026-11-21T10:00:07Z")
    rec["eventMetadata"]["inferenceId"] = "inf-1"
    # WHEN decoded THEN the record carries each of them
    item = only(decode_bytes(jsonl([rec])))
    assert (item.event_id, item.inference_id, item.inference_time) == (
        "evt-1",
        "inf-1",
        "2026-11-21T10:00:07Z",
    )


@pytest.mark.parametrize(
    "metadata",
    [{"eventId": 7, "inferenceId": 8, "inferenceTime": ["t"]}, "not an object", None],
    ids=["not-strings", "not-an-object", "null"],
)
def test_identities_that_are_not_strings_are_dropped_but_the_record_is_kept(metadata):
    # GIVEN a good payload whose metadata is not usable
    rec = record("1,2")
    rec["eventMetadata"] = metadata
    # WHEN decoded THEN the rows are kept and every identity is None (never a number or a list)
    item = only(decode_bytes(jsonl([rec])))
    assert isinstance(item, CaptureRecord)
    assert item.rows == ["1,2"]
    assert (item.event_id, item.inference_id, item.inference_time) == (None, None, None)


def test_a_record_without_event_metadata_is_decoded():
    rec = record("1,2")
    del rec["eventMetadata"]
    item = only(decode_bytes(jsonl([rec])))
    assert (item.rows, item.event_id) == (["1,2"], None)


# ---------------------------------------------------------------------------- values and locations


@pytest.mark.parametrize("row", ["1e308,1e308", "-1e308,-1e308", "1.7e308,1.7e308,-1e308"])
def test_a_row_of_finite_values_whose_sum_overflows_is_kept(row):
    # GIVEN finite values whose sum is beyond the float range WHEN decoded THEN the row is kept
    assert only(decode_bytes(jsonl([record(row)]))).rows == [row]


def test_a_non_finite_value_among_huge_ones_is_still_rejected():
    item = only(decode_bytes(jsonl([record("1e308,1e308,nan")])))
    assert item.reason == capture.NON_FINITE


@pytest.mark.parametrize(
    ("payload", "encoding", "content_type", "reason", "row", "column"),
    [
        ("x,2", "CSV", "text/csv", capture.NON_NUMERIC, 0, 1),
        ("1,2,3\n4,5,x", "CSV", "text/csv", capture.NON_NUMERIC, 1, 3),
        ('1,"2",3\n4,"5","x"', "CSV", "text/csv", capture.NON_NUMERIC, 1, 3),
        ('"1","2",3\n\n"4","1_0",6', "CSV", "text/csv", capture.NON_NUMERIC, 1, 2),
        ('[[1, 2, 3], [4, 5, "x"]]', "JSON", "application/json", capture.NON_NUMERIC, 1, 3),
        ('{"features": [1, 2, 1' + "0" * 400 + "]}", "JSON", "application/json", capture.NON_FINITE, 0, 3),
    ],
    ids=["csv-first", "csv-second-row", "quoted", "quoted-after-blank", "json", "json-int-overflow"],
)
def test_a_rejected_value_is_located_by_row_and_column_where_drift_counts_it_missing(
    payload, encoding, content_type, reason, row, column
):
    # GIVEN a record with one unusable value
    rec = record(payload, encoding=encoding, content_type=content_type)
    # WHEN decoded and observed by the drift statistics
    item = only(decode_bytes(jsonl([rec])))
    builder = drift.FileStatisticsBuilder(None)
    builder.observe(item)
    # THEN the reject names its row (0-based within the record) and its 1-based column, and the
    # drift statistics count a missing value in exactly that column
    assert item.reason == reason
    assert re.search(rf"\brow {row}\b", item.detail)
    assert builder.missing_by_column == {column - 1: 1}


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [("1,2,3\n4,5", "text/csv"), ('"1",2,3\n"4",5', "text/csv"), ("[[1,2,3],[4,5]]", "application/json")],
    ids=["csv", "quoted", "json"],
)
def test_a_row_of_the_wrong_width_is_located_by_its_row(payload, content_type):
    encoding = "JSON" if "json" in content_type else "CSV"
    decoder = CaptureDecoder(feature_dim=3)
    item = only(decode_bytes(jsonl([record(payload, encoding=encoding, content_type=content_type)]), decoder))
    assert item.reason == capture.FEATURE_COUNT
    assert re.search(r"\brow 1 has 2\b", item.detail)
    assert decoder.widths == {2: 1}


def test_a_json_lines_payload_names_its_line_that_is_not_json():
    rec = record(
        '{"features": [1, 2]}\n{"features": [3, 4]}\n{oops',
        encoding="JSON",
        content_type="application/jsonlines",
    )
    item = only(decode_bytes(jsonl([rec])))
    assert item.reason == capture.NOT_JSON
    assert re.search(r"\bline 3\b", item.detail)


@pytest.mark.parametrize(
    ("payload", "rows"),
    [
        ("1, 2", ["1,2"]),
        ("1, 2\n3,\t4", ["1,2", "3,4"]),
        ("1\t,2", ["1,2"]),
        ("1,\t2", ["1,2"]),
        ("1,2\n\n3,4\n", ["1,2", "3,4"]),
        ('"1",2\n\n"3",4', ["1,2", "3,4"]),
        ('" 1.5 ", 2', ["1.5,2"]),
    ],
    ids=[
        "space",
        "rows-with-spaces",
        "tab",
        "tab-before",
        "blank-line",
        "quoted-blank-line",
        "quoted-spaces",
    ],
)
def test_csv_rows_are_kept_without_blank_lines_or_whitespace_around_values(payload, rows):
    assert only(decode_bytes(jsonl([record(payload)]))).rows == rows


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ('"1_000",2', capture.NON_NUMERIC),
        ('"nan",2', capture.NON_FINITE),
        ('"1",1e999', capture.NON_FINITE),
        ('""', capture.EMPTY_PAYLOAD),
        ('" ",""\n""', capture.EMPTY_PAYLOAD),
    ],
)
def test_quoted_csv_values_are_checked_like_unquoted_ones(payload, reason):
    item = only(decode_bytes(jsonl([record(payload)])))
    assert isinstance(item, Reject)
    assert item.reason == reason
    assert isinstance(item.detail, str)
    assert item.detail


@pytest.mark.parametrize(
    ("payload", "rows"),
    [
        ("5", ["5.0"]),
        ("[[1, 2]]", ["1.0,2.0"]),
        ('{"instances": [{"data": {"features": {"values": [1, 2]}}}]}', ["1.0,2.0"]),
        ('{"instances": [[1, 2], {"features": [3, 4]}]}', ["1.0,2.0", "3.0,4.0"]),
        ('{"features": [1, 2]}\n\n{"features": [3, 4]}', ["1.0,2.0", "3.0,4.0"]),
    ],
    ids=["bare-number", "nested-row", "instances-rcf-data", "instances-mixed", "lines-with-blank"],
)
def test_more_json_payload_shapes(payload, rows):
    item = only(decode_bytes(jsonl([record(payload, encoding="JSON", content_type="application/json")])))
    assert isinstance(item, CaptureRecord)
    assert item.rows == rows


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("[]", capture.EMPTY_PAYLOAD),
        ('{"instances": 5}', capture.NO_CAPTURE_DATA),
        ('"text"', capture.NO_CAPTURE_DATA),
        ("true", capture.NO_CAPTURE_DATA),
        ('{"instances": ["a"]}', capture.NON_NUMERIC),
        ('{"instances": [{"x": 1}]}', capture.NO_CAPTURE_DATA),
        ('{"data": {"features": [1, 2]}}', capture.NO_CAPTURE_DATA),
        ('{"features": {"values": [1]}}', capture.NON_NUMERIC),
        ("[" * 100_000 + "]" * 100_000, capture.NOT_JSON),
    ],
    ids=[
        "empty",
        "instances-not-array",
        "string",
        "bool",
        "string-row",
        "no-features",
        "data-not-rcf",
        "features-not-array",
        "too-deep",
    ],
)
def test_json_payloads_without_usable_rows_are_rejected(payload, reason):
    rec = record(payload, encoding="JSON", content_type="application/json", event_id="evt-j")
    item = only(decode_bytes(jsonl([rec])))
    assert isinstance(item, Reject)
    assert (item.reason, item.event_id) == (reason, "evt-j")
    assert item.detail


# ---------------------------------------------------------------------------- encodings and content types


@pytest.mark.parametrize("encoding", ["base64", "Base64"])
def test_the_base64_encoding_is_recognised_in_any_letter_case(encoding):
    rec = record("1,2,3", encoding="BASE64")
    rec["captureData"]["endpointInput"]["encoding"] = encoding
    assert only(decode_bytes(jsonl([rec]))).rows == ["1,2,3"]


@pytest.mark.parametrize(
    ("encoding", "payload", "rows"),
    [
        ("csv", "1,2", ["1,2"]),
        ("Csv", "1,2", ["1,2"]),
        ("json", "[1, 2]", ["1.0,2.0"]),
        ("JSON", "[1, 2]", ["1.0,2.0"]),
    ],
)
def test_a_csv_or_json_encoding_decides_the_payload_kind_whatever_the_content_type(encoding, payload, rows):
    # GIVEN a payload captured as CSV or JSON text under a content type that says neither
    rec = record(payload, encoding="CSV", content_type="application/octet-stream")
    rec["captureData"]["endpointInput"]["encoding"] = encoding
    # WHEN decoded THEN the encoding says how to read it
    assert only(decode_bytes(jsonl([rec]))).rows == rows


@pytest.mark.parametrize("encoding", [None, 5, "UTF-8"], ids=["missing", "not-a-string", "unknown"])
@pytest.mark.parametrize(
    ("content_type", "payload", "rows"),
    [("text/csv", "1,2", ["1,2"]), ("application/x-ndjson", '{"features": [1, 2]}', ["1.0,2.0"])],
)
def test_without_a_known_encoding_the_content_type_decides(encoding, content_type, payload, rows):
    rec = record(payload, encoding="CSV", content_type=content_type)
    if encoding is None:
        del rec["captureData"]["endpointInput"]["encoding"]
    else:
        rec["captureData"]["endpointInput"]["encoding"] = encoding
    assert only(decode_bytes(jsonl([rec]))).rows == rows


@pytest.mark.parametrize(
    "data",
    [
        base64.b64encode(b"1,2,3").decode().replace("LDM", "L*DM"),
        base64.b64encode(b"1,2,3").decode().replace("LDM", "L DM"),
        base64.b64encode(b"1,2,3").decode() + "\n",
    ],
    ids=["star", "space", "newline"],
)
def test_base64_with_characters_outside_its_alphabet_is_rejected_not_guessed(data):
    # GIVEN base64 data with one stray character (a lenient decoder would skip it and read "1,2,3")
    rec = record("1,2,3")
    rec["captureData"]["endpointInput"].update(encoding="BASE64", data=data)
    # WHEN decoded THEN the record is rejected
    item = only(decode_bytes(jsonl([rec])))
    assert (item.reason, bool(item.detail)) == (capture.BAD_BASE64, True)


@pytest.mark.parametrize(
    ("content_type", "media"),
    [
        ("text/csv", "text/csv"),
        ("text/csv;charset=utf-8", "text/csv"),
        ("Text/CSV ; charset=UTF-8", "text/csv"),
        ("application/json; charset=utf-8; q=1", "application/json"),
        (None, ""),
        (7, ""),
    ],
)
def test_the_media_type_is_the_lower_case_content_type_without_parameters(content_type, media):
    assert media_type(content_type) == media


def test_an_unsupported_content_type_is_named_in_the_reject_without_its_parameters():
    rec = record("1,2", encoding="BASE64", content_type="Image/PNG; q=" + SECRET)
    item = only(decode_bytes(jsonl([rec])))
    assert item.reason == capture.UNSUPPORTED_CONTENT
    assert "'image/png'" in item.detail
    assert SECRET not in item.detail


def test_the_detail_of_an_unsupported_content_type_stays_short_however_long_the_type():
    rec = record("1,2", encoding="BASE64", content_type="application/" + "x" * 1000)
    item = only(decode_bytes(jsonl([rec])))
    assert item.reason == capture.UNSUPPORTED_CONTENT
    assert 0 < len(item.detail) <= 120


@pytest.mark.parametrize("indent", [b" ", b"\t", b" \t  "])
def test_a_record_with_whitespace_around_its_json_object_is_decoded(indent):
    # GIVEN a record line with JSON whitespace before and after the object (valid JSON text)
    line = indent + json.dumps(record("1,2")).encode() + indent
    # WHEN decoded THEN it is a record, not a reject
    assert only(decode_bytes(line + b"\n")).rows == ["1,2"]


# ---------------------------------------------------------------------------- streams and limits


def test_decode_stream_without_a_decoder_uses_its_own_and_applies_the_line_limit():
    # GIVEN a file whose second line is 500 bytes longer than the others
    data = jsonl([record("1,2"), record("1," * 250 + "1"), record("3,4")])
    # WHEN decoded with no decoder of the caller's and a limit only that line exceeds
    items = list(decode_stream(io.BytesIO(data), max_line_bytes=len(jsonl([record("3,4")])) + 100))
    # THEN that line is rejected as too long and the others decoded
    assert [getattr(i, "reason", None) for i in items] == [None, capture.LINE_TOO_LONG, None]


def test_the_dominant_width_ignores_lines_over_the_limit():
    # GIVEN two 2-feature records and three 60-feature records on lines longer than the limit
    wide = record(",".join(["1"] * 60))
    data = jsonl([record("1,2"), wide, wide, record("3,4"), wide])
    limit = len(jsonl([record("1,2")])) + 50
    # WHEN the dominant width is found under a limit the wide lines exceed THEN they do not count
    assert capture.dominant_width(io.BytesIO(data), max_line_bytes=limit) == 2
    assert capture.dominant_width(io.BytesIO(data)) == 60


class ReadRecorder:
    """A binary stream that records how many bytes each read asks for."""

    def __init__(self, data: bytes) -> None:
        self.stream = io.BytesIO(data)
        self.asked: list[int] = []

    def read(self, amt: int, /) -> bytes:
        self.asked.append(amt)
        return self.stream.read(amt)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_the_reader_asks_the_stream_for_one_chunk_at_a_time(compress):
    # GIVEN a capture stream many chunks long, plain or gzip-compressed
    lines = [json.dumps(record(f"{i},2,3")).encode() for i in range(200)]
    data = b"\n".join(lines) + b"\n"
    stream = ReadRecorder(gzip.compress(data) if compress else data)
    # WHEN its lines are read in 64-byte chunks
    read = list(read_lines(stream, max_line_bytes=1000, chunk_bytes=64))
    # THEN every line comes out, and no read ever asked for more than one chunk
    assert read == lines
    assert len(stream.asked) > 10
    assert set(stream.asked) == {64}


def test_a_gzip_bomb_is_read_in_memory_bounded_by_chunk_and_line_limits():
    # GIVEN 8 MB of one line that gzip compresses to a few kilobytes, then a short line
    bomb = io.BytesIO(gzip.compress(b"0" * 8_000_000 + b"\nnext\n"))
    # WHEN its lines are read with 4 KB chunks and a 1 KB line limit, memory traced
    tracemalloc.start()
    try:
        lines = list(read_lines(bomb, max_line_bytes=1024, chunk_bytes=4096))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # THEN the long line is measured, the next kept, and memory stayed near chunk + line limit (plus
    # zlib's 32 KB window, traced too: about 60 KB in all), far below the 8 MB the file inflates to
    assert lines == [OverlongLine(8_000_000), b"next"]
    assert peak < 512 * 1024


@pytest.mark.parametrize("chunk_bytes", [64, 1 << 20])
def test_an_over_long_line_is_measured_and_the_lines_after_it_are_kept(chunk_bytes):
    # GIVEN a 300-byte line then two short ones (with 64-byte chunks: in the chunk that ends it)
    data = b"x" * 300 + b"\nfirst\nsecond\n"
    # WHEN read with a 100-byte limit THEN the long line is replaced by its size, the rest kept
    lines = list(read_lines(io.BytesIO(data), max_line_bytes=100, chunk_bytes=chunk_bytes))
    assert lines == [OverlongLine(300), b"first", b"second"]


def test_an_over_long_line_that_ends_exactly_at_a_chunk_boundary_is_measured():
    # GIVEN a 128-byte line whose line break is the first byte of the third 64-byte chunk
    data = b"x" * 128 + b"\nnext\n"
    lines = list(read_lines(io.BytesIO(data), max_line_bytes=100, chunk_bytes=64))
    assert lines == [OverlongLine(128), b"next"]


@pytest.mark.parametrize("chunk_bytes", [7, 64, 1 << 20])
def test_a_last_line_of_exactly_the_limit_without_a_line_break_is_a_line(chunk_bytes):
    data = b"ok\n" + b"y" * 100
    lines = list(read_lines(io.BytesIO(data), max_line_bytes=100, chunk_bytes=chunk_bytes))
    assert lines == [b"ok", b"y" * 100]


def test_a_gzip_stream_of_several_members_is_read_whole():
    # GIVEN two gzip members back to back (as `cat a.gz b.gz` makes)
    first, second = jsonl([record("1,2")]), jsonl([record("3,4"), record("5,6")])
    for chunk_bytes in (16, 1 << 20):
        stream = io.BytesIO(gzip.compress(first) + gzip.compress(second))
        # WHEN decoded THEN the records of both are there
        lines = list(read_lines(stream, chunk_bytes=chunk_bytes))
        assert lines == (first + second).splitlines()


def test_a_bom_is_dropped_only_at_the_start_of_a_gzip_stream():
    # GIVEN a gzip stream starting with a UTF-8 BOM, and a BOM inside a later line (a JSON string
    # may hold U+FEFF) at decompressed offset 128, where a 64-byte decompression step starts
    bom = "\ufeff".encode()
    first = b'{"pad": "' + b"a" * 106 + b'"}'
    second = b'{"a": "' + bom + b'"}'
    data = bom + first + b"\n" + second + b"\n"
    assert data.index(bom, 1) == 128
    # WHEN read in 64-byte steps
    lines = list(read_lines(io.BytesIO(gzip.compress(data)), chunk_bytes=64))
    # THEN only the leading BOM is gone
    assert lines == [first, second]


def test_data_after_a_gzip_member_that_is_not_gzip_is_corrupt():
    # GIVEN a gzip member followed by a zlib stream (not a gzip member)
    data = gzip.compress(jsonl([record("1,2")])) + zlib.compress(jsonl([record("3,4")]))
    # WHEN decoded THEN the first record is kept and the rest is one gzip-compressed reject
    items = decode_bytes(data)
    assert [getattr(i, "reason", "ok") for i in items] == ["ok", capture.GZIP_COMPRESSED]
    assert "corrupt" in items[1].detail


def test_a_truncated_gzip_stream_says_it_is_truncated():
    data = gzip.compress(jsonl([record(f"{i},2,3") for i in range(100)]))[:-30]
    item = decode_bytes(data)[-1]
    assert item.reason == capture.GZIP_COMPRESSED
    assert "truncated" in item.detail
