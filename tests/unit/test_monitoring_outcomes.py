"""Monitoring outcome model, violation parsing, retraining policy and alert text: pure logic."""

from __future__ import annotations

import copy
import json
import re

import pytest

from anomaly_sentinel import monitoring
from anomaly_sentinel.contracts.messages import violation_from_model_monitor
from anomaly_sentinel.exceptions import EventParseError, ViolationsFileError
from anomaly_sentinel.monitoring import Decision, MonitoringOutcome, RetrainingPolicy, Violation
from anomaly_sentinel.settings import MonitoringAlertSettings
from tests.support import fixture_path, load_event

SETTINGS = MonitoringAlertSettings.from_env(
    {
        "ENDPOINT_NAME": "anomaly-sentinel-rcf",
        "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
        "RETRAIN_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:retrain",
        "IDEMPOTENCY_TABLE": "idempotency",
        "MONITORING_JOB_PREFIXES": "model-monitoring-,model-quality-monitoring-",
        "DRIFT_ALARM_PREFIX": "anomaly-sentinel-drift-",
        "RETRAIN_CHECK_TYPES": "baseline_drift_check,categorical_values_check",
    }
)
POLICY = RetrainingPolicy.from_settings(SETTINGS)


def outcome(**changes):
    base = {
        "source": "processing-job",
        "endpoint": "anomaly-sentinel-rcf",
        "schedule": "data-quality",
        "job_arn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/model-monitoring-1",
        "status": "CompletedWithViolations",
        "violations": (),
    }
    return MonitoringOutcome(**{**base, **changes})


def violation(check, feature="value", **numbers):
    return Violation(feature_name=feature, check_type=check, **numbers)


# ---------------------------------------------------------------------------- violations file


def test_real_model_monitor_violations_file_parses_with_values():
    # GIVEN the constraint_violations.json Model Monitor wrote in the SageMaker SDK's tests
    raw = fixture_path("capture/constraint_violations.json").read_bytes()
    # WHEN parsed
    violations = monitoring.parse_violations(raw, model_monitor=True)
    # THEN all 7 entries are there, with the observed value taken from each description
    assert len(violations) == 7
    first = violations[0]
    assert (first.feature_name, first.check_type) == ("store_and_fwd_flag", "categorical_values_check")
    assert first.value == pytest.approx(0.009009009009009009)
    assert first.distance is None
    assert first.threshold is None
    assert [v.check_type for v in violations].count("data_type_check") == 5


@pytest.mark.parametrize(
    ("description", "value", "distance", "threshold"),
    [
        ("Baseline drift distance: 0.2484 exceeds threshold: 0.1", None, 0.2484, 0.1),
        ("Value: 1.5e-3 does not meet the constraint requirement! ", 0.0015, None, None),
        ("Metric f2 with 0.55 +/- 0.01 was LessThanThreshold 0.8", 0.55, None, 0.8),
        ("There are extra columns in the current dataset", None, None, None),
        ("Numerical distance: 0.31 exceeds numerical threshold: 0.1", None, 0.31, 0.1),
        # a p-value is not the value: only a word "value" (or "with") leads the figure
        ("rate 0.4 (one-sided binomial p-value 1e-09 < 0.001)", None, None, None),
    ],
)
def test_numbers_are_parsed_from_model_monitors_description_shapes(description, value, distance, threshold):
    # GIVEN an entry of Model Monitor's file (a foreign format: its figures are only in the words)
    # WHEN the entry is read THEN value, distance and threshold are the numbers it carries
    parsed = violation_from_model_monitor(
        {"feature_name": "f", "constraint_check_type": "baseline_drift_check", "description": description}
    )
    assert (parsed.value, parsed.distance, parsed.threshold) == (value, distance, threshold)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (b"\n  \n", "empty"),
        (b"{not json", "malformed: not JSON"),
        (b"[]", "malformed: no 'violations' list"),
        (b'{"violations": null}', "malformed: no 'violations' list"),
        (b'{"violations": [1, {"feature_name": "a", "constraint_check_type": "x"}]}', "malformed: 1 of 2"),
    ],
)
def test_unreadable_violations_files_raise_naming_the_problem(raw, message):
    # GIVEN an empty, non-JSON or misshapen file WHEN parsed THEN the error names the problem
    with pytest.raises(ViolationsFileError, match=re.escape(message)):
        monitoring.parse_violations(raw, model_monitor=True)


def test_empty_violations_list_is_valid_and_empty():
    # GIVEN a file listing no violations WHEN parsed THEN there are none, and no error
    assert monitoring.parse_violations('{"violations": []}', model_monitor=True) == ()
    assert monitoring.parse_violations('{"violations": []}', model_monitor=False) == ()


# ---------------------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("processing", "exit_message", "expected"),
    [
        (
            "Completed",
            "CompletedWithViolations: Job completed successfully with 7 violations.",
            "CompletedWithViolations",
        ),
        ("Completed", "Completed: Job completed successfully with no violations.", "Completed"),
        ("Completed", None, None),
        ("Completed", "", None),
        ("Failed", "Failed: anything", "Failed"),
        ("Stopped", None, "Stopped"),
    ],
)
def test_monitoring_status_from_processing_status_and_exit_message(processing, exit_message, expected):
    # GIVEN a processing status and ExitMessage WHEN read
    # THEN the monitoring status is the message's first word
    # (None when only the violations file can tell)
    assert monitoring.status_from_exit_message(processing, exit_message) == expected


# ---------------------------------------------------------------------------- policy


def test_policy_counts_only_configured_check_types_up_to_the_minimum():
    # GIVEN one counted and one uncounted violation
    # WHEN the policy decides THEN one counted violation meets a minimum of 1, not of 2
    two = outcome(violations=(violation("baseline_drift_check"), violation("data_type_check")))
    assert monitoring.decide(two, POLICY).retrain is True
    strict = POLICY.model_copy(update={"min_violations": 2})
    decision = monitoring.decide(two, strict)
    assert decision == Decision(retrain=False, reason="1 counted violations < 2 required")


def test_policy_never_retrains_on_failed_clean_or_unreadable_runs():
    # GIVEN a failed run, a clean run and an unreadable report WHEN the policy decides THEN none retrains
    assert not monitoring.decide(outcome(status="Failed"), POLICY).retrain
    assert not monitoring.decide(outcome(status="Completed"), POLICY).retrain
    unreadable = outcome(violations_problem="malformed: not JSON")
    assert monitoring.decide(unreadable, POLICY).reason == "violations unreadable (malformed: not JSON)"


def test_policy_for_drift_alarms_is_its_own_switch():
    # GIVEN a drift alarm outcome WHEN the policy decides THEN RETRAIN_ON_ALARM alone decides
    alarm = outcome(source="alarm", violations=(violation("baseline_drift_check"),))
    assert monitoring.decide(alarm, POLICY).retrain is True
    assert monitoring.decide(alarm, POLICY.model_copy(update={"on_alarm": False})).retrain is False


def test_empty_check_types_mean_violations_alert_but_never_retrain():
    # GIVEN a policy counting no check type WHEN violations arrive THEN nothing retrains
    policy = RetrainingPolicy(check_types=(), min_violations=1)
    assert not monitoring.decide(outcome(violations=(violation("baseline_drift_check"),)), policy).retrain


# ---------------------------------------------------------------------------- alerts


def test_violations_are_a_model_alert_with_the_three_filter_attributes():
    # GIVEN violations with distance and threshold WHEN the alert is built
    # THEN it is a model-drift alert with kind/severity/endpoint attributes and the numbers in its body
    found = outcome(violations=(violation("baseline_drift_check", distance=0.3, threshold=0.1),))
    alert = monitoring.build_alert(found, Decision(retrain=True, reason="r"), "started execution x")
    assert alert is not None
    assert alert.message_attributes() == {
        "kind": {"DataType": "String", "StringValue": "model-drift"},
        "severity": {"DataType": "String", "StringValue": "warning"},
        "endpoint": {"DataType": "String", "StringValue": "anomaly-sentinel-rcf"},
    }
    assert "- value: baseline_drift_check (distance 0.3, threshold 0.1)" in alert.body
    assert "Retraining: started execution x" in alert.body


def test_long_violation_lists_are_capped_and_subjects_fit_sns():
    # GIVEN 60 violations with long feature names WHEN the alert is built
    # THEN the list is capped and the subject fits SNS's 100 characters
    many = tuple(violation("data_type_check", feature=f"feature_{i:03d}_" + "x" * 40) for i in range(60))
    alert = monitoring.build_alert(outcome(violations=many), Decision(retrain=False, reason="r"), "no")
    assert alert is not None
    assert "... and 35 more" in alert.body
    assert len(alert.subject) <= 100


def test_failed_monitoring_is_operational_and_clean_runs_send_nothing():
    # GIVEN a failed run and a clean run WHEN alerts are built
    # THEN the failure is an operational alert and the clean run sends nothing
    failed = monitoring.build_alert(
        outcome(status="Failed", detail="AlgorithmError"), Decision(retrain=False, reason="r"), "no"
    )
    assert failed is not None
    assert failed.kind == "monitoring-failed"
    assert (
        monitoring.build_alert(outcome(status="Completed"), Decision(retrain=False, reason="r"), "no") is None
    )


# ---------------------------------------------------------------------------- signals and names


def processing_job_event(name, status="Completed"):
    event = copy.deepcopy(load_event("SageMakerProcessingJobStateChange"))
    event["detail"].update(
        ProcessingJobName=name,
        ProcessingJobArn=f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/{name}",
        ProcessingJobStatus=status,
    )
    return event


def test_real_processing_job_event_is_a_signal_identified_by_its_job_arn():
    # GIVEN AWS's sample processing-job event WHEN parsed
    # THEN it is a signal identified by its job ARN, and the sample job is not ours by name
    signal = monitoring.signal_from_event(load_event("SageMakerProcessingJobStateChange"))
    assert signal.source == "processing-job"
    assert signal.identity.endswith(
        "processing-job/integ-test-analytics-algo-54ee3282-5899-4aa3-afc2-7ce1d02"
    )
    # the AWS sample job is not a monitoring job by name
    assert monitoring.ignore_reason(signal, SETTINGS) == "job name outside the monitoring prefixes"


def test_real_alarm_event_is_a_signal_identified_by_alarm_and_state_time():
    # GIVEN AWS's sample alarm event WHEN parsed
    # THEN it is identified by alarm ARN and state time, and its name is outside our prefix
    signal = monitoring.signal_from_event(load_event("CloudWatchAlarmStateChange"))
    assert (
        signal.identity
        == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh#2019-10-02T17:04:40.989+0000"
    )
    assert monitoring.ignore_reason(signal, SETTINGS) == "alarm name outside the drift-alarm prefix"


def test_alarm_outcome_names_the_endpoint_schedule_and_drifting_feature():
    # GIVEN an alarm on Model Monitor's drift metric of one feature
    # WHEN turned into an outcome THEN endpoint, schedule and feature come from the metric
    event = copy.deepcopy(load_event("CloudWatchAlarmStateChange"))
    metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric.update(
        name="feature_baseline_drift_fare_amount",
        namespace="aws/sagemaker/Endpoints/data-metrics",
        dimensions={"Endpoint": "prod-rcf", "MonitoringSchedule": "prod-dq"},
    )
    found = monitoring.outcome_from_alarm(monitoring.signal_from_event(event), "default-endpoint")
    assert (found.endpoint, found.schedule, found.status) == (
        "prod-rcf",
        "prod-dq",
        "CompletedWithViolations",
    )
    (drift,) = found.violations
    assert (drift.feature_name, drift.check_type) == ("fare_amount", "baseline_drift_check")
    assert drift.distance == pytest.approx(99.50160229693434)
    assert drift.threshold == 50.0


def test_alarm_on_another_metric_still_gives_one_violation_naming_the_alarm():
    # GIVEN an alarm on a metric that is not a drift metric WHEN turned into an outcome
    # THEN one violation names the alarm, on the default endpoint
    found = monitoring.outcome_from_alarm(
        monitoring.signal_from_event(load_event("CloudWatchAlarmStateChange")), "default-endpoint"
    )
    assert found.endpoint == "default-endpoint"
    assert [(v.feature_name, v.check_type) for v in found.violations] == [("ServerCpuTooHigh", "alarm")]


@pytest.mark.parametrize(
    "event",
    [{"detail-type": "Object Created", "detail": {}}, {"detail-type": "CloudWatch Alarm State Change"}],
)
def test_other_events_are_parse_errors(event):
    # GIVEN an event of another type, or one without detail WHEN parsed THEN EventParseError
    with pytest.raises(EventParseError):
        monitoring.signal_from_event(event)


def test_execution_names_are_deterministic_valid_and_distinct_per_job():
    # GIVEN four jobs, two with names longer than Step Functions allows
    # WHEN execution names are made THEN they are valid, distinct per job, and the same for the same job
    long_name = "model-monitoring-" + "x" * 90
    names = {
        monitoring.execution_name(monitoring.signal_from_event(processing_job_event(name)))
        for name in ("model-monitoring-1", "model-monitoring-2", long_name, long_name + "y")
    }
    assert len(names) == 4
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name)
    again = monitoring.execution_name(
        monitoring.signal_from_event(processing_job_event("model-monitoring-1"))
    )
    assert again in names


def test_retrain_input_is_the_state_machine_contract():
    # GIVEN a decision to retrain WHEN the input is built
    # THEN it carries trigger, reason and inputDataUri only when one is configured
    request = monitoring.retrain_input(outcome(), Decision(retrain=True, reason="2 >= 1"), "s3://b/training/")
    payload = json.loads(request.execution_input())
    assert payload["trigger"] == "monitoring"
    assert payload["inputDataUri"] == "s3://b/training/"
    assert "2 >= 1" in payload["reason"]
    unset = monitoring.retrain_input(outcome(), Decision(retrain=True, reason="r"), "")
    assert "inputDataUri" not in json.loads(unset.execution_input())


def test_violations_file_nested_beyond_the_recursion_limit_is_malformed_not_a_crash():
    # GIVEN a file nested deeper than Python's JSON parser can recurse
    raw = b'{"violations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    # WHEN / THEN it is a named, reportable problem
    with pytest.raises(ViolationsFileError, match="nested too deeply"):
        monitoring.parse_violations(raw, model_monitor=True)


def test_drift_alarm_naming_another_endpoint_is_not_ours():
    # GIVEN a drift alarm with our prefix whose metric's Endpoint dimension is someone else's
    event = copy.deepcopy(load_event("CloudWatchAlarmStateChange"))
    event["detail"]["alarmName"] = "anomaly-sentinel-drift-value"
    event["detail"]["state"]["value"] = "ALARM"
    metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric["dimensions"] = {"Endpoint": "other-team-endpoint", "MonitoringSchedule": "theirs"}
    # WHEN the signal is checked THEN the reason names the foreign endpoint
    reason = monitoring.ignore_reason(monitoring.signal_from_event(event), SETTINGS)
    assert reason == "alarm concerns endpoint other-team-endpoint, not anomaly-sentinel-rcf"
    # AND the same alarm on our endpoint is acted on
    metric["dimensions"]["Endpoint"] = "anomaly-sentinel-rcf"
    assert monitoring.ignore_reason(monitoring.signal_from_event(event), SETTINGS) is None


@pytest.mark.parametrize(
    ("endpoints", "expected"),
    [
        ("anomaly-sentinel-rcf", None),
        ("other", "concerns endpoint other, not anomaly-sentinel-rcf"),
        (None, "the monitoring job names no endpoint"),
        ({"anomaly-sentinel-rcf", "other"}, "concerns endpoint other, not anomaly-sentinel-rcf"),
        ({"b-endpoint", "a-endpoint"}, "concerns endpoint a-endpoint, b-endpoint, not anomaly-sentinel-rcf"),
    ],
)
def test_only_signals_about_our_endpoint_are_ours(endpoints, expected):
    # GIVEN the endpoints a signal names WHEN checked against ours THEN only ours alone is acted on
    assert monitoring.foreign_endpoint(endpoints, "anomaly-sentinel-rcf") == expected
