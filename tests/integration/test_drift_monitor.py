"""DriftMonitorFunction on moto: the real handler, the template's environment and default parameters."""

from __future__ import annotations

import json

import boto3
import pytest

from anomaly_sentinel import drift
from anomaly_sentinel.contracts import DRIFT_EVENT_DETAIL_TYPE, DRIFT_EVENT_SOURCE
from tests.support.monitoring import FEATURES, HOUR, Deployment, rows, scheduled_event

FUNCTION = "DriftMonitorFunction"


@pytest.fixture
def deployment(stack):
    return Deployment(stack)


@pytest.fixture
def drift_events(stack):
    """An SQS queue behind a rule matching the monitor's events (moto delivers rule matches to SQS)."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="drift-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="drift-events", EventPattern=json.dumps({"source": [DRIFT_EVENT_SOURCE]}))
    events.put_targets(Rule="drift-events", Targets=[{"Id": "q", "Arn": arn}])

    def received() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return received


@pytest.fixture
def handler(lambda_function):
    return lambda_function(FUNCTION)


def test_a_shifted_feature_in_the_last_window_is_reported_as_model_monitor_would(
    deployment, handler, drift_events
):
    # GIVEN three capture files scored in the 01:00 hour whose _c2 moved by 0.6 sd
    for index in range(3):
        deployment.capture_statistics(f"capture-{index}", rows(500, 10 + index, shift_c2=0.6))
    # WHEN the 02:15 schedule tick arrives
    result = handler(scheduled_event())
    # THEN the 01:00-02:00 window was compared: one baseline-drift violation on _c2
    assert result["execution"] == f"drift-monitor/{deployment.endpoint}/2026-11-30T01:00:00Z"
    assert (result["status"], result["files"], result["records"]) == ("CompletedWithViolations", 3, 1_500)
    assert result["check_types"] == {"baseline_drift_check": 1}
    violations = deployment.report("constraint_violations.json")["violations"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [
        ("_c2", "baseline_drift_check")
    ]
    statistics = deployment.report("statistics.json")
    assert statistics["dataset"]["item_count"] == 1_500
    assert [f["name"] for f in statistics["features"]] == [f"_c{i}" for i in range(FEATURES)]
    # AND one event says so, pointing at the report
    (event,) = drift_events()
    assert (event["source"], event["detail-type"]) == (DRIFT_EVENT_SOURCE, DRIFT_EVENT_DETAIL_TYPE)
    assert (
        event["detail"]["report_uri"]
        == f"s3://{deployment.bucket}/drift-reports/{deployment.endpoint}/{HOUR}/"
    )
    assert event["detail"]["violations"] == 1


def test_every_statistics_file_of_the_window_is_read_however_many_pages_s3_lists_them_in(deployment, handler):
    # GIVEN five capture files in the window, and S3 listing two keys per page (S3 pages at 1,000
    # keys; a page size set on the function's client stands for a window of thousands of files,
    # which would take the emulator minutes to hold)
    for index in range(5):
        deployment.capture_statistics(f"capture-{index}", rows(300, 20 + index))
    handler.module.monitor.s3.meta.events.register(
        "before-parameter-build.s3.ListObjectsV2", lambda params, **_: params.setdefault("MaxKeys", 2)
    )
    # WHEN the window is monitored
    result = handler(scheduled_event())
    # THEN every file of every page is in it
    assert (result["files"], result["records"]) == (5, 1_500)


def test_a_repeated_schedule_tick_handles_its_window_once(deployment, handler, drift_events):
    deployment.capture_statistics("capture-0", rows(1_200, 3, shift_c2=0.6))
    first = handler(scheduled_event())
    second = handler(scheduled_event())
    assert second == first
    assert len(drift_events()) == 1


def test_a_small_window_raises_no_violation_and_says_why(deployment, handler):
    deployment.capture_statistics("capture-0", rows(300, 4, shift_c2=3.0))
    result = handler(scheduled_event())
    assert (result["status"], result["violations"]) == ("Completed", 0)
    assert result["skipped"] == "300 rows in the window, fewer than the minimum of 1000"
    assert deployment.report("constraint_violations.json") == {"violations": []}


def test_files_of_other_hours_stay_out_of_the_window(deployment, handler):
    deployment.capture_statistics("capture-0", rows(1_200, 5))
    deployment.capture_statistics("late", rows(1_200, 6, shift_c2=3.0), hour="2026/11/30/02")
    result = handler(scheduled_event())
    assert (result["files"], result["status"]) == (1, "Completed")


def test_an_unreadable_statistics_file_is_named_and_the_rest_is_compared(deployment, handler):
    deployment.capture_statistics("capture-0", rows(1_200, 7, shift_c2=0.6))
    broken = f"statistics/{deployment.endpoint}/{HOUR}/broken.json"
    deployment.s3.put_object(Bucket=deployment.bucket, Key=broken, Body=b"{not json")
    result = handler(scheduled_event())
    assert result["unreadable_files"] == [
        f"{broken}: unreadable: not JSON (Expecting property name enclosed in double quotes at line 1)"
    ]
    assert (result["files"], result["violations"]) == (1, 1)


def test_without_a_model_in_service_the_window_is_skipped_with_the_reason(stack, handler, drift_events):
    result = handler(scheduled_event())
    assert result["status"] == "Completed"
    assert result["skipped"].startswith("no baseline: model of endpoint")
    assert drift_events()[0]["detail"]["violations"] == 0


def test_an_event_without_a_time_is_a_named_error(stack, handler):
    from anomaly_sentinel.exceptions import EventParseError

    with pytest.raises(EventParseError, match="no valid time"):
        handler({"id": "x", "detail": {}})


def test_a_role_that_may_not_read_the_model_in_service_fails_the_window_loudly(
    deployment, handler, drift_events
):
    # GIVEN a model in service whose config the function's role may not describe (made by hand
    # outside the role's scope, or a permissions boundary)
    from anomaly_sentinel.exceptions import BaselineAccessError
    from tests.support import Denying

    models = handler.module.monitor.served
    models.sagemaker = Denying(models.sagemaker, "describe_endpoint_config")
    # WHEN the window runs
    # THEN it fails naming the refused call (the schedule retries, then the dead-letter queue's
    # alarm alerts), instead of reporting "no baseline" for every window from now on
    with pytest.raises(BaselineAccessError, match=r"access denied .*sagemaker:DescribeEndpointConfig"):
        handler(scheduled_event())
    assert drift_events() == []


def test_an_anomaly_rate_beyond_the_models_budget_counts_the_windows_it_persists(deployment, handler):
    # GIVEN a model in service whose statistics put the cutoff 2.0 at its 0.999 quantile (budget 0.1 %)
    stats = {
        "count": 1000,
        "mean": 1.0,
        "std": 0.2,
        "min": 0.5,
        "max": 2.5,
        "quantiles": {"0.999": 2.0},
        "cutoff": {"rule": "quantile", "quantile": 0.999, "alert_budget": 0.001, "value": 2.0},
    }
    deployment.s3.put_object(
        Bucket=deployment.bucket, Key="models/run-1/score_stats.json", Body=json.dumps(stats).encode()
    )
    # AND two consecutive hours of traffic where it flagged 30 % of 1,200 rows against that cutoff
    for hour in ("2026/11/30/01", "2026/11/30/02"):
        builder = drift.FileStatisticsBuilder(deployment.baseline, seed=hour)
        for row in rows(1_200, 4):
            builder.offer([row])
        summary = drift.ScoreSummary(scored=1_200, anomalies=360, cutoff=2.0, cutoff_source="model-stats")
        key = f"statistics/{deployment.endpoint}/{hour}/capture.json"
        deployment.s3.put_object(Bucket=deployment.bucket, Key=key, Body=builder.finish(summary).to_bytes())
    # WHEN the two windows are monitored in turn
    handler(scheduled_event("2026-11-30T02:15:00Z"))
    handler(scheduled_event("2026-11-30T03:15:00Z"))
    # THEN the second window's score drift says it has lasted two windows
    key = f"drift-reports/{deployment.endpoint}/2026/11/30/02/constraint_violations.json"
    violations = json.loads(deployment.s3.get_object(Bucket=deployment.bucket, Key=key)["Body"].read())
    (score,) = [v for v in violations["violations"] if v["constraint_check_type"] == "score_drift_check"]
    assert score["consecutive_windows"] == 2
    assert score["description"].endswith("for 2 consecutive window(s)")
