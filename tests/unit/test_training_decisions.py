"""Which uploads start the pipeline, and the request they produce (pure logic, no AWS)."""

import re

import pytest

from anomaly_sentinel.events import S3Object, decode_key, s3_object_from_eventbridge
from anomaly_sentinel.exceptions import EventParseError
from anomaly_sentinel.settings import StartPipelineSettings
from anomaly_sentinel.training import display_name, ignore_reason, start_request
from tests.support import load_event, s3_object_created

SETTINGS = StartPipelineSettings.from_env(
    {
        "PIPELINE_NAME": "anomaly-sentinel-rcf",
        "IDEMPOTENCY_TABLE": "table",
        "TRAINING_BUCKET": "data-bucket",
        "TRAINING_PREFIX": "training/",
        "ACCEPTED_SUFFIXES": ".csv,.csv.gz",
    }
)


def obj(key: str, size: int = 10, version_id: str | None = "v1") -> S3Object:
    return S3Object(bucket="data-bucket", key=key, size=size, etag="e1", version_id=version_id)


@pytest.mark.parametrize(
    ("key", "size", "reason"),
    [
        ("training/", 0, "folder placeholder"),
        ("training/2024/", 0, "folder placeholder"),
        ("training/empty.csv", 0, "zero-byte object"),
        ("training/model.tar.gz", 10, "suffix not accepted"),
        ("training/notes.txt", 10, "suffix not accepted"),
        ("capture/x.csv", 10, "outside training prefix"),
    ],
)
def test_ignored_objects_carry_a_reason(key, size, reason):
    assert ignore_reason(obj(key, size), SETTINGS) == reason


@pytest.mark.parametrize("key", ["training/taxi.csv", "training/2024/Taxi.CSV.GZ"])
def test_accepted_objects_have_no_ignore_reason(key):
    assert ignore_reason(obj(key), SETTINGS) is None


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("training/my+file.csv", "training/my file.csv"),
        ("training/a%2Bb.csv", "training/a+b.csv"),
        ("training/caf%C3%A9+%281%29.csv", "training/café (1).csv"),
        ("training/%E6%95%B0%E6%8D%AE.csv", "training/数据.csv"),
        ("training/plain.csv", "training/plain.csv"),
    ],
)
def test_keys_are_url_decoded_like_s3_notifications(raw, decoded):
    assert decode_key(raw) == decoded


@pytest.mark.parametrize("raw", ["training/100%.csv", "training/a%zzb.csv", "training/%ff%fe.csv"])
def test_malformed_percent_escapes_raise_a_parse_error_naming_the_key(raw):
    with pytest.raises(EventParseError, match=re.escape(repr(raw))):
        decode_key(raw)


def test_real_powertools_fixture_parses_to_an_object_identity():
    # GIVEN the real S3 EventBridge fixture from Powertools' test suite
    event = load_event("s3EventBridgeNotificationObjectCreatedEvent")
    # WHEN it is parsed
    parsed = s3_object_from_eventbridge(event)
    # THEN bucket, key, size and etag are kept; without a version the etag identifies it
    assert parsed.bucket == "example-bucket"
    assert parsed.key == "IMG_m7fzo3.jpg"
    assert parsed.size == 184662
    assert parsed.identity == "example-bucket/IMG_m7fzo3.jpg#4e68adba0abe2dc8653dc3354e14c01d"


def test_event_without_detail_is_rejected_with_a_named_error():
    event = load_event("s3EventBridgeNotificationObjectCreatedEvent")
    del event["detail"]
    with pytest.raises(EventParseError, match="not an S3 EventBridge notification"):
        s3_object_from_eventbridge(event)


def test_identity_distinguishes_versions_of_the_same_key():
    a = s3_object_from_eventbridge(s3_object_created("b", "training/x.csv", version_id="v1"))
    b = s3_object_from_eventbridge(s3_object_created("b", "training/x.csv", version_id="v2"))
    assert a.identity != b.identity
    assert a.token() != b.token()


def test_start_request_names_the_object_and_uses_a_stable_token():
    # GIVEN an awkward key WHEN the request is built
    o = obj("training/NYC taxi (2014) données.csv")
    request = start_request(o, SETTINGS)
    # THEN the input URI is the decoded object, the display name fits SageMaker's pattern
    assert request["PipelineParameters"] == [
        {"Name": "InputDataUri", "Value": "s3://data-bucket/training/NYC taxi (2014) données.csv"}
    ]
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}", request["PipelineExecutionDisplayName"])
    assert "s3://data-bucket/training/NYC taxi (2014) données.csv" in request["PipelineExecutionDescription"]
    assert request["ClientRequestToken"] == start_request(o, SETTINGS)["ClientRequestToken"]
    assert 32 <= len(request["ClientRequestToken"]) <= 128


def test_display_name_is_bounded_for_very_long_keys():
    name = display_name(obj("training/" + "x" * 500 + ".csv"))
    assert len(name) <= 82
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}", name)


# ---------------------------------------------------------------------------- the log route (issue 21)

LOG_SETTINGS = StartPipelineSettings.from_env(
    {
        "PIPELINE_NAME": "anomaly-sentinel-rcf",
        "IDEMPOTENCY_TABLE": "table",
        "TRAINING_BUCKET": "data-bucket",
        "TRAINING_PREFIX": "training/",
        "ACCEPTED_SUFFIXES": ".csv,.csv.gz",
        "LOGS_TRAINING_PREFIX": "logs/training/",
        "LOG_SUFFIXES": ".log,.log.gz",
        "LOG_FORMAT": "bgl",
    }
)


def test_a_raw_log_upload_starts_the_log_route_with_its_format():
    # GIVEN a log under the log training prefix WHEN the start request is made
    request = start_request(obj("logs/training/HDFS 2026.log"), LOG_SETTINGS)
    # THEN the pipeline gets the log route and the format; the run is named logs-… (never upload-…,
    # which the retraining state machine adopts and deploys to the numeric endpoint)
    assert request["PipelineParameters"] == [
        {"Name": "InputDataUri", "Value": "s3://data-bucket/logs/training/HDFS 2026.log"},
        {"Name": "DataKind", "Value": "logs"},
        {"Name": "LogFormat", "Value": "bgl"},
    ]
    assert re.fullmatch(r"logs-HDFS-2026-[0-9a-f]{8}", request["PipelineExecutionDisplayName"])
    assert "(log route)" in request["PipelineExecutionDescription"]


def test_a_numeric_upload_starts_exactly_what_it_did_before_the_log_route():
    request = start_request(obj("training/taxi.csv"), LOG_SETTINGS)
    assert request["PipelineParameters"] == [
        {"Name": "InputDataUri", "Value": "s3://data-bucket/training/taxi.csv"}
    ]
    assert request["PipelineExecutionDisplayName"].startswith("upload-taxi-")


@pytest.mark.parametrize(
    ("key", "size", "reason"),
    [
        ("logs/training/hdfs.log", 10, None),
        ("logs/training/2026/hdfs.LOG.GZ", 10, None),
        ("logs/training/labels.csv", 10, "suffix not accepted"),
        ("logs/training/empty.log", 0, "zero-byte object"),
        ("logs/training/", 0, "folder placeholder"),
        ("logs/incoming/hdfs.log", 10, "outside training prefix"),
        ("training/hdfs.log", 10, "suffix not accepted"),
    ],
)
def test_log_uploads_are_judged_by_the_log_suffixes(key, size, reason):
    assert ignore_reason(obj(key, size), LOG_SETTINGS) == reason


def test_overlapping_training_prefixes_are_refused_at_start():
    from anomaly_sentinel.exceptions import SettingsError

    with pytest.raises(
        SettingsError, match=r"LOGS_TRAINING_PREFIX \(training/logs/\) overlaps TRAINING_PREFIX"
    ):
        StartPipelineSettings.from_env(
            {
                "PIPELINE_NAME": "p",
                "IDEMPOTENCY_TABLE": "table",
                "TRAINING_BUCKET": "data-bucket",
                "TRAINING_PREFIX": "training/",
                "ACCEPTED_SUFFIXES": ".csv",
                "LOGS_TRAINING_PREFIX": "training/logs/",
            }
        )
