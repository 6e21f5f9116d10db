"""ScoreCaptureFunction's settings, ignore rules, output keys and alert message (no AWS)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from anomaly_sentinel.capture import CaptureDecoder, read_lines
from anomaly_sentinel.events import S3Object
from anomaly_sentinel.exceptions import SettingsError
from anomaly_sentinel.score_capture import (
    CaptureReport,
    TopAnomaly,
    build_alert,
    build_failure_alert,
    failure_reason,
    ignore_reason,
    output_keys,
)
from anomaly_sentinel.settings import ScoreCaptureSettings
from tests.support import local_zone
from tests.support.capture import record

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
    # GIVEN a flat key modified at 23:30 in UTC-2, on a machine in UTC+5:30
    obj = S3Object(bucket="data-bucket", key="capture/flat.jsonl")
    modified = datetime.fromisoformat("2026-11-21T23:30:00-02:00")
    with local_zone("Asia/Kolkata"):
        scores, _ = output_keys(obj, modified, make())
    # THEN the output is filed under the UTC hour
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
    assert "\nMax score: 3.2\n" in alert.body
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
    # GIVEN a scored and a failed report WHEN summarised THEN the status leads, the lists and the
    # cutoff's long explanation are left out, counts and locations kept
    summary = report().summary()
    assert summary["status"] == "scored"
    assert "top_anomalies" not in summary
    assert "cutoff_detail" not in summary
    assert (summary["scored"], summary["scores_uri"]) == (990, "s3://b/scores/a.jsonl")
    assert report(failure="broken").summary()["status"] == "failed"


def test_failure_alert_is_critical_names_the_reason_and_says_how_to_score_again():
    # GIVEN a report of a file that failed as a whole
    failed = report(object="s3://b/capture/x/f.jsonl", failure="the endpoint failed", rejects_uri=None)
    # WHEN its alert is built
    alert = build_failure_alert(failed)
    # THEN it is a critical operational alert about that file, the reason in its own paragraph
    assert (alert.kind, alert.severity, alert.endpoint) == ("operational", "critical", "anomaly-sentinel-rcf")
    assert alert.subject == "Scoring failed on anomaly-sentinel-rcf for f.jsonl"
    assert "\n\nReason: the endpoint failed\n\n" in alert.body
    assert "Records: 1000  scored: 990  rejected: 10  endpoint calls: 2" in alert.body
    assert "Rejects: none" in alert.body.splitlines()
    assert alert.body.endswith(
        "To score it again once fixed, copy the object onto itself (a new version) or invoke the "
        "function with the object's event."
    )


def decoded(lines: list[bytes], feature_dim: int | None) -> CaptureDecoder:
    decoder = CaptureDecoder(feature_dim=feature_dim)
    for _ in decoder.decode(read_lines(io.BytesIO(b"\n".join(lines) + b"\n"))):
        pass
    return decoder


def rows_of(*widths: int) -> list[bytes]:
    return [json.dumps(record(",".join(["1"] * w))).encode() for w in widths]


@pytest.mark.parametrize(
    ("widths", "found"),
    [((5, 5, 5, 7), "file has 5"), ((5, 7), "file has 7"), ((7, 5), "file has 7")],
    ids=["most-rows", "tie-wider", "tie-order"],
)
def test_a_file_the_model_cannot_take_names_its_most_common_width(widths, found):
    # GIVEN a model taking 48 features and a file whose rows all have other widths
    decoder = decoded(rows_of(*widths), feature_dim=48)
    # WHEN the file's failure is stated THEN it names the width most rows have (the wider on a tie)
    assert failure_reason(decoder, 48, "model", None) == (
        f"model expects 48 features, {found}: send rows of the model's width or retrain"
    )


def test_a_file_the_feature_dim_setting_refuses_whole_fails_and_a_partly_refused_one_does_not():
    # GIVEN FEATURE_DIM=48 refusing every row, and a model of 48 features refusing only some
    every = decoded(rows_of(5, 7), feature_dim=48)
    some = decoded(rows_of(5, 48), feature_dim=48)
    # WHEN / THEN the first failed, naming the setting and the file's width (not "scored" with no
    # row); the second is rejections only
    assert failure_reason(every, 48, "setting", None) == (
        "FeatureDim expects 48 features, file has 7: send rows of that width or change FeatureDim"
    )
    assert failure_reason(some, 48, "model", None) is None


def test_a_systematic_endpoint_failure_states_the_rows_width_when_known():
    # GIVEN an endpoint that failed every request WHEN the failure is stated THEN it gives the
    # endpoint's reason and, when known, the width of the file's rows (the likely mismatch)
    decoder = decoded(rows_of(3), feature_dim=None)
    with_width = failure_reason(decoder, 3, "file", "ModelError (status 400)")
    assert with_width is not None
    assert with_width.startswith(
        "the endpoint failed every request the same way: ModelError (status 400); "
        "the file's rows have 3 features. Check that"
    )
    without = failure_reason(decoder, None, "none", "ModelError (status 400)")
    assert without is not None
    assert without.startswith(
        "the endpoint failed every request the same way: ModelError (status 400). Check"
    )


def test_alert_paragraphs_say_when_there_is_no_cutoff_score_or_rejects_file():
    # GIVEN a report with no cutoff, no max score and no rejects file
    bare = report(cutoff=None, cutoff_detail="no statistics", max_score=None, rejects_uri=None)
    # WHEN its alert is built THEN each paragraph says what is missing instead of failing
    paragraphs = build_alert(bare).body.split("\n\n")
    assert [p.splitlines()[0] for p in paragraphs] == [
        "Capture file s3://b/capture/" + "x" * 150 + ".jsonl was scored on endpoint anomaly-sentinel-rcf.",
        "Records: 1000  scored: 990  rejected: 10  anomalies: 3",
        "Top 2 anomalies (eventId, inferenceTime, score):",
        "Scores:  s3://b/scores/a.jsonl",
    ]
    assert paragraphs[1].splitlines()[1:] == ["Cutoff: none (no statistics)", "Max score: -"]
    assert paragraphs[3].splitlines()[1:] == ["Rejects: none"]
