"""Capture records for the capture-scoring tests, built from the real fixtures.

``tests/fixtures/capture/capture.jsonl`` (44 records, CSV in/out, from aws/sagemaker-python-sdk)
has ``inferenceTime`` set to the literal template ``"{%s}"``: :func:`real_csv_records` fills it.
No public capture file with ``"encoding": "BASE64"`` exists, so the base64 forms are built here by
base64-encoding the real CSV and JSON samples (:func:`as_base64`).
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from sentinel.traffic import capture_record
from tests.support import fixture_path, s3_object_created

START = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
#: A capture key as data capture writes it: capture/{endpoint}/{variant}/yyyy/mm/dd/hh/<file>.jsonl
CAPTURE_KEY = "capture/prod-endpoint/AllTraffic/2026/11/21/10/05-00-123-abc.jsonl"
#: The event ids of the two anomalous records in :func:`capture_file`.
ANOMALOUS = ("anomaly-1", "anomaly-2")
#: The value that makes the endpoint refuse a row. Its decimal point keeps it out of every random id
#: a run writes (request and message ids are hex and dashes): a "-999" appeared in about 0.4 % of runs.
POISON = "-424242.125"


def real_csv_records() -> list[dict[str, Any]]:
    """The 44 real CSV records, ``inferenceTime`` filled one second apart from START."""
    lines = fixture_path("capture/capture.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    for index, record in enumerate(records):
        moment = START + timedelta(seconds=index)
        record["eventMetadata"]["inferenceTime"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return records


def real_json_records() -> list[dict[str, Any]]:
    """The 2 real JSON records (their output ``data`` holds raw newlines, escaped in the file)."""
    lines = fixture_path("capture/captured-data.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def as_base64(record: dict[str, Any], content_type: str | None = None) -> dict[str, Any]:
    """The same record as data capture writes it when the content type is not listed as CSV/JSON."""
    encoded = copy.deepcopy(record)
    for mode in ("endpointInput", "endpointOutput"):
        part = encoded["captureData"][mode]
        part["data"] = base64.b64encode(part["data"].encode("utf-8")).decode("ascii")
        part["encoding"] = "BASE64"
        if content_type is not None and mode == "endpointInput":
            part["observedContentType"] = content_type
    return encoded


def record(
    data: str,
    *,
    encoding: str = "CSV",
    content_type: str = "text/csv",
    event_id: str = "00000000-0000-0000-0000-000000000000",
    inference_time: str = "2026-11-21T10:00:00Z",
) -> dict[str, Any]:
    """A capture record in the real shape with the given input payload."""
    return capture_record(
        data,
        '{"scores":[{"score":1.0}]}',
        event_id=event_id,
        inference_time=inference_time,
        content_type=content_type,
        encoding=encoding,
        response_encoding="JSON",
    )


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode("utf-8") + b"\n" for r in records)


def input_rows(records: list[dict[str, Any]]) -> list[str]:
    return [r["captureData"]["endpointInput"]["data"] for r in records]


def capture_file() -> bytes:
    """The real CSV records (every other one base64), two anomalies, a poison row, a non-JSON line."""
    real = real_csv_records()
    records = [as_base64(r, "text/csv; charset=utf-8") if i % 2 else r for i, r in enumerate(real)]
    records += [record(",".join(["500"] * 7), event_id=eid) for eid in ANOMALOUS]
    records.append(record(f"{POISON},1,2,3,4,5,6", event_id="poison-1"))
    return jsonl(records) + b"this line is not JSON\n"


def put_capture(bucket: str, key: str = CAPTURE_KEY, body: bytes | None = None) -> dict[str, Any]:
    """The file uploaded to S3 and the EventBridge event S3 sends for it (its real version and ETag)."""
    data = capture_file() if body is None else body
    put = boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data)
    return s3_object_created(
        bucket, key, size=len(data), version_id=put["VersionId"], etag=put["ETag"].strip('"')
    )
