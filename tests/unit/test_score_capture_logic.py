"""ScoreCaptureFunction's settings, ignore rules, output keys and alert message (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from anomaly_sentinel.events import S3Object
from anomaly_sentinel.exceptions import SettingsError
from anomaly_sentinel.score_capture import CaptureReport, TopAnomaly, build_alert, ignore_reason, output_keys
from anomaly_sentinel.settings import ScoreCaptureSettings

BASE = {
    "ENDPOINT_NAME": "anomaly-sentinel-rcf",
    "CAPTURE_BUCKET": "data-bucket",
    "CAPTURE_PREFIX": "capture/",
    "OUTPUT_BUCKET": "data-bucket",
    "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
    "IDEMPOTENCY_TABLE": "idempotency",
}


def make(**env: str) -> ScoreCaptureSettings:
    return ScoreCaptureSettings.from_env({**BASE, **env})


def test_template_style_blanks_mean_unset():
    settings = make(FEATURE_DIM="0", ANOMALY_THRESHOLD="")
    assert (settings.feature_dim, settings.anomaly_threshold) == (None, None)
    assert make(FEATURE_DIM="30", ANOMALY_THRESHOLD="0").anomaly_threshold == 0.0
    assert settings.max_request_bytes == 4_000_000
    assert settings.cutoff_k == 3.0


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ENDPOINT_NAME": ""}, "ENDPOINT_NAME"),
        ({"FEATURE_DIM": "-1"}, "FEATURE_DIM"),
        ({"ANOMALY_THRESHOLD": "nan"}, "ANOMALY_THRESHOLD"),
        ({"MAX_REQUEST_BYTES": "5000000"}, "MAX_REQUEST_BYTES"),
        ({"SCORING_CONCURRENCY": "30", "ENDPOINT_MAX_CONCURRENCY": "20"}, "SCORING_CONCURRENCY"),
        ({"CAPTURE_PREFIX": "scores/"}, "SCORES_PREFIX"),
        ({"CAPTURE_PREFIX": "rejects/x/"}, "REJECTS_PREFIX"),
    ],
)
def test_bad_settings_fail_naming_the_variable(env, variable):
    with pytest.raises(SettingsError, match=variable):
        make(**env)


def test_overlapping_prefixes_are_fine_in_another_bucket():
    assert make(CAPTURE_PREFIX="scores/", CAPTURE_BUCKET="other-bucket").capture_prefix == "scores/"


@pytest.mark.parametrize(
    ("bucket", "key", "size", "reason"),
    [
        ("data-bucket", "capture/ep/v/2026/11/21/10/a.jsonl", 10, None),
        ("data-bucket", "capture/ep/v/a.jsonl", 0, "zero-byte object"),
        ("data-bucket", "capture/ep/v/a.json", 10, "not a .jsonl file"),
        ("data-bucket", "other/a.jsonl", 10, "outside capture prefix"),
        ("data-bucket", "scores/ep/a.jsonl", 10, "our own output"),
        ("other-bucket", "capture/a.jsonl", 10, "not the capture bucket"),
    ],
)
def test_ignore_reasons(bucket, key, size, reason):
    assert ignore_reason(S3Object(bucket=bucket, key=key, size=size), make()) == reason


def test_output_keys_take_the_hour_from_the_capture_key():
    obj = S3Object(bucket="data-bucket", key="capture/ep/AllTraffic/2026/11/21/10/05-00-1-a b.jsonl")
    scores, rejects = output_keys(obj, datetime(2000, 1, 1, tzinfo=UTC), make())
    tail = "anomaly-sentinel-rcf/2026/11/21/10/ep/AllTraffic/2026/11/21/10/05-00-1-a b.jsonl"
    assert scores == "scores/" + tail
    assert rejects == "rejects/" + tail


def test_output_keys_fall_back_to_last_modified_in_utc():
    obj = S3Object(bucket="data-bucket", key="capture/flat.jsonl")
    scores, _ = output_keys(obj, datetime.fromisoformat("2026-11-21T23:30:00-02:00"), make())
    assert scores == "scores/anomaly-sentinel-rcf/2026/11/22/01/flat.jsonl"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            S3Object(bucket="b", key="capture/team-a/x.jsonl"),
            S3Object(bucket="b", key="capture/team-b/x.jsonl"),
        ),
        (
            S3Object(bucket="b", key="capture/a/2026/11/21/10/x.jsonl"),
            S3Object(bucket="b", key="capture/a/2026/11/21/10/y/x.jsonl"),
        ),
        (
            S3Object(bucket="b", key="capture/x.jsonl"),
            S3Object(bucket="b", key="capture/2026/11/21/10/x.jsonl"),
        ),
        (
            S3Object(bucket="b", key="capture/x.jsonl", version_id="v1"),
            S3Object(bucket="b", key="capture/x.jsonl", version_id="v2"),
        ),
    ],
    ids=["folders", "deeper", "dated-vs-flat", "versions"],
)
def test_output_keys_are_unique_per_source_object(first, second):
    # GIVEN two capture objects in the same hour WHEN their output keys are derived
    hour = datetime(2026, 11, 21, 10, 30, tzinfo=UTC)
    # THEN they differ (no output overwrites another's)
    assert output_keys(first, hour, make())[0] != output_keys(second, hour, make())[0]
    assert output_keys(first, hour, make())[1] != output_keys(second, hour, make())[1]


def report(**changes) -> CaptureReport:
    fields = {
        "object": "s3://b/capture/" + "x" * 150 + ".jsonl",
        "endpoint": "anomaly-sentinel-rcf",
        "records": 1000,
        "scored": 990,
        "rejected": 10,
        "rows": 990,
        "anomalies": 3,
        "max_score": 3.2,
        "cutoff": 1.6,
        "cutoff_source": "model-stats",
        "cutoff_detail": "s3://b/models/1/score_stats.json: mean 1 + 3 x std 0.2 over 1000 training scores",
        "scores_uri": "s3://b/scores/a.jsonl",
        "rejects_uri": "s3://b/rejects/a.jsonl",
        "calls": 2,
        "retries": 0,
        "bisections": 0,
        "mean_latency_ms": 12.0,
        "reasons": {"not-json": 10},
        "top_anomalies": [
            TopAnomaly(event_id="e-1", inference_time="2026-11-21T10:00:00Z", line=5, row=0, score=3.2),
            TopAnomaly(event_id=None, inference_time=None, line=9, row=0, score=2.0),
        ],
    }
    fields.update(changes)
    return CaptureReport(**fields)


def test_alert_subject_fits_sns_and_body_has_counts_cutoff_source_top_and_uris():
    alert = build_alert(report())
    assert alert.kind == "anomaly"
    assert alert.endpoint == "anomaly-sentinel-rcf"
    assert len(alert.subject) <= 100
    assert alert.subject.startswith("3 anomalies on anomaly-sentinel-rcf")
    assert "Records: 1000  scored: 990  rejected: 10  anomalies: 3" in alert.body
    assert "Cutoff: 1.6 (source: model-stats; s3://b/models/1/score_stats.json" in alert.body
    assert "  e-1  2026-11-21T10:00:00Z  3.2" in alert.body
    assert "  line 9  -  2" in alert.body  # no eventId: the line number identifies it
    assert "s3://b/scores/a.jsonl" in alert.body
    assert "s3://b/rejects/a.jsonl" in alert.body
    assert alert.message_attributes()["kind"] == {"DataType": "String", "StringValue": "anomaly"}


def test_alert_for_one_anomaly_is_singular():
    assert (
        build_alert(report(anomalies=1, object="s3://b/f.jsonl")).subject
        == "1 anomaly on anomaly-sentinel-rcf in f.jsonl"
    )


def test_handler_summary_leaves_out_the_lists():
    summary = report().summary()
    assert summary["status"] == "scored"
    assert "top_anomalies" not in summary
