"""Wrong numbers, silently: what the capture flow stores and the drift window counts (moto, real handlers).

Each test is a number a user would have got wrong without an error: rows counted twice, a window
moved by one record, a refused file reported as scored, an extra column that never reaches the
drift report, a file nobody monitored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from sentinel.endpoint import EndpointServer, MeanScorer, static_resolver
from tests.support.capture import jsonl, put_capture, record
from tests.support.monitoring import HOUR, Deployment, scheduled_event

#: A capture key in the hour the drift monitor's scheduled event (02:15) looks at.
KEY = f"capture/prod-endpoint/AllTraffic/{HOUR}/05-00-123-abc.jsonl"


@pytest.fixture
def score(stack, lambda_function) -> Iterator[Callable[..., Any]]:
    """ScoreCaptureFunction's real handler (environment overrides allowed), on a local endpoint."""
    scorer = MeanScorer(feature_dim=None)
    with EndpointServer(static_resolver({stack.parameters["EndpointName"]: scorer})) as server:

        def make(**env: str) -> Any:
            return lambda_function(
                "ScoreCaptureFunction", **server.environ(), MIN_RECORDS_FOR_FILE_CUTOFF="20", **env
            )

        yield make


@pytest.fixture
def monitor(lambda_function):
    return lambda_function("DriftMonitorFunction")


def read_json(uri: str) -> Any:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def dataset_keys(bucket: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="dataset/")
    return [item["Key"] for item in listed.get("Contents", [])]


def rows_of(count: int, width: int = 7) -> list[dict[str, Any]]:
    return [record(",".join(str((i + c) % 5) for c in range(width)), event_id=f"e{i}") for i in range(count)]


def timed(time: str | None, row: str = "1,2,3,4,5,6,7") -> dict[str, Any]:
    rec = record(row)
    if time is None:
        del rec["eventMetadata"]["inferenceTime"]
    else:
        rec["eventMetadata"]["inferenceTime"] = time
    return rec


# ---------------------------------------------------------------------------- times


def test_a_future_dated_record_keeps_the_files_hour_and_is_counted(stack, score):
    # GIVEN a capture file of the 01:00 hour with one record dated 2099 and two without a usable time
    bucket = stack.ref("DataBucket")
    body = jsonl(
        [
            *(timed(f"2026-11-30T01:0{i}:00Z") for i in range(5)),
            timed("2099-01-01T00:00:00Z"),
            timed(None),
            timed("next tuesday"),
        ]
    )
    # WHEN it is scored
    result = score()(put_capture(bucket, KEY, body))
    # THEN every row joins the dataset on the file's day, and the replaced times are counted by why
    assert (result["status"], result["dataset_rows"]) == ("scored", 8)
    assert result["dataset_times_replaced"] == {
        "after-the-file-was-written": 1,
        "missing": 1,
        "unreadable": 1,
    }
    assert [k.split("/")[2] for k in dataset_keys(bucket)] == ["date=2026-11-30"]


@pytest.mark.parametrize("time", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_an_inference_time_at_the_edge_of_the_calendar_does_not_fail_the_file(stack, score, time):
    # GIVEN a record whose time, in UTC, falls outside the calendar
    body = jsonl([timed(time), *(timed("2026-11-30T01:00:00Z") for _ in range(3))])
    # WHEN the file is scored THEN every row is scored and the unusable time is counted
    result = score()(put_capture(stack.ref("DataBucket"), KEY, body))
    assert (result["status"], result["scored"], result["rejected"]) == ("scored", 4, 0)
    assert result["dataset_times_replaced"] == {"unreadable": 1}


def test_values_near_the_float_maximum_are_scored_or_rejected_never_a_failed_file(stack, score, monitor):
    # GIVEN rows of values near the float maximum among ordinary ones (their sums and squares overflow)
    deployment = Deployment(stack)
    huge = [record(",".join(["1.7e308"] * 3 + ["-1.7e308"]), event_id=f"h{i}") for i in range(3)]
    body = jsonl([*huge, *rows_of(1_200, width=4)])
    # WHEN the file is scored
    result = score()(put_capture(deployment.bucket, KEY, body))
    # THEN it is scored; every record is scored or rejected with a reason
    assert result["status"] == "scored"
    assert result["scored"] + result["rejected"] == result["records"] == 1_203
    # AND its statistics are finite JSON the drift monitor reads: the huge rows are counted as
    # missing in their column instead of overflowing the moments
    stored = read_json(result["statistics_uri"])
    assert (stored["rows"], stored["missing_rows"]) == (1_200, 3)
    assert stored["features"][0]["missing"] == 3
    window = monitor(scheduled_event())
    assert (window["records"], window["unreadable_count"]) == (1_200, 0)


# ---------------------------------------------------------------------------- the drift window


def test_scoring_a_file_again_replaces_its_rows_in_the_drift_window_and_the_dataset(stack, score, monitor):
    # GIVEN a capture file scored once
    bucket = stack.ref("DataBucket")
    handler = score()
    first = handler(put_capture(bucket, KEY, jsonl(rows_of(30))))
    # WHEN it is copied onto itself (a new version, as the failure alert says to do) and scored again
    s3 = boto3.client("s3")
    copied = s3.copy_object(
        Bucket=bucket, Key=KEY, CopySource={"Bucket": bucket, "Key": KEY}, MetadataDirective="REPLACE"
    )
    event = put_capture(bucket, KEY, jsonl(rows_of(30)))
    event["detail"]["object"]["version-id"] = copied["VersionId"]
    second = handler(event)
    # THEN one statistics object stands for the file, and the window counts its 30 rows once
    assert first["statistics_uri"] == second["statistics_uri"]
    window = monitor(scheduled_event())
    assert (window["files"], window["records"]) == (1, 30)
    # AND the dataset retraining reads holds the file's 30 rows once, not once per version
    (kept,) = dataset_keys(bucket)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=kept)["Body"].read().decode()
    assert len(body.splitlines()) == 1 + 30  # the header and each row


def test_a_file_scored_after_its_window_ran_is_reported_unmonitored(stack, score, monitor):
    # GIVEN the 01:00 window already monitored
    monitor(scheduled_event())
    # WHEN a capture file of that hour is scored late
    result = score()(put_capture(stack.ref("DataBucket"), KEY, jsonl(rows_of(30))))
    # THEN it is scored, and the result says its rows are in no drift report
    assert result["status"] == "scored"
    assert result["unmonitored"].startswith("the drift window drift-monitor/")
    assert "2026-11-30T01:00:00Z already ran" in result["unmonitored"]
    # AND a file of an hour not yet monitored is not
    later = put_capture(stack.ref("DataBucket"), KEY.replace("/01/05-00", "/02/05-00"), jsonl(rows_of(30)))
    assert score()(later)["unmonitored"] is None


def test_an_extra_column_in_capture_traffic_reaches_the_drift_report(stack, score, monitor):
    # GIVEN the model in service takes 4 features (its score statistics say so), with its baseline
    deployment = Deployment(stack)
    stats = {"count": 1000, "mean": 1.0, "std": 0.1, "min": 0.0, "max": 2.0, "feature_dim": 4}
    deployment.s3.put_object(
        Bucket=deployment.bucket, Key="models/run-1/score_stats.json", Body=json.dumps(stats).encode()
    )
    # WHEN the window's traffic carries a fifth column (the decoder refuses every row)
    result = score()(put_capture(deployment.bucket, KEY, jsonl(rows_of(1_200, width=5))))
    window = monitor(scheduled_event())
    # THEN the file fails with its reason, and the window reports the extra column as Model Monitor would
    assert result["failure"].startswith("model expects 4 features, file has 5")
    assert window["status"] == "CompletedWithViolations"
    assert window["check_types"] == {"extra_column_check": 1}
    (violation,) = deployment.report("constraint_violations.json")["violations"]
    assert (violation["feature_name"], violation["constraint_check_type"]) == ("_c4", "extra_column_check")


def test_a_file_refused_by_the_configured_feature_dim_fails_with_the_reason(stack, score):
    # GIVEN FeatureDim set to 4 and a file of 7-feature rows
    result = score(FEATURE_DIM="4")(put_capture(stack.ref("DataBucket"), KEY, jsonl(rows_of(30))))
    # THEN the file failed (not "scored" with zero rows), naming the setting and the file's width
    assert (result["status"], result["scored"], result["rejected"]) == ("failed", 0, 30)
    assert result["failure"].startswith("FeatureDim expects 4 features, file has 7")
