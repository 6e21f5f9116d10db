"""What the retraining policy decides and what the one alert per outcome says, line by line."""

from __future__ import annotations

import json

import pytest

from anomaly_sentinel import drift, monitoring
from anomaly_sentinel.contracts.messages import violation_from_model_monitor
from anomaly_sentinel.monitoring import (
    AlarmMetric,
    AlarmSignal,
    AlarmState,
    Decision,
    MonitoringOutcome,
    RetrainingPolicy,
    Violation,
)
from anomaly_sentinel.settings import MonitoringAlertSettings

OURS = "anomaly-sentinel-rcf"
JOB_ARN = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/model-monitoring-1"
ENV = {
    "ENDPOINT_NAME": OURS,
    "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
    "RETRAIN_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:retrain",
    "IDEMPOTENCY_TABLE": "idempotency",
    "MONITORING_JOB_PREFIXES": "model-monitoring-",
    "DRIFT_ALARM_PREFIX": "anomaly-sentinel-drift-",
}


def outcome(**changes) -> MonitoringOutcome:
    base = {
        "source": "processing-job",
        "endpoint": OURS,
        "schedule": "data-quality",
        "job_arn": JOB_ARN,
        "status": "CompletedWithViolations",
    }
    return MonitoringOutcome(**{**base, **changes})


def violation(check: str = "baseline_drift_check", feature: str = "value", **numbers) -> Violation:
    return Violation(feature_name=feature, check_type=check, **numbers)


NO = Decision(retrain=False, reason="r")


# ---------------------------------------------------------------------------- policy


def test_policy_is_read_from_the_functions_settings():
    # GIVEN the function's retraining variables WHEN the policy is built from its settings
    settings = MonitoringAlertSettings.from_env(
        {
            **ENV,
            "RETRAIN_CHECK_TYPES": "baseline_drift_check, data_type_check",
            "RETRAIN_MIN_VIOLATIONS": "3",
            "RETRAIN_ON_ALARM": "false",
        }
    )
    policy = RetrainingPolicy.from_settings(settings)
    # THEN it counts those check types, needs that many, and drift alarms do not retrain
    assert policy == RetrainingPolicy(
        check_types=("baseline_drift_check", "data_type_check"), min_violations=3, on_alarm=False
    )


def test_policy_defaults_count_nothing_and_let_drift_alarms_retrain():
    policy = RetrainingPolicy.from_settings(MonitoringAlertSettings.from_env(ENV))
    assert policy == RetrainingPolicy(check_types=(), min_violations=1, on_alarm=True)


def test_exactly_the_minimum_of_counted_violations_retrains():
    # GIVEN a policy needing 2 counted violations and a run with exactly 2 (and one uncounted)
    policy = RetrainingPolicy(check_types=("baseline_drift_check",), min_violations=2)
    found = outcome(violations=(violation(), violation(feature="b"), violation("data_type_check")))
    # WHEN / THEN it retrains, saying how many counted against how many required
    assert monitoring.decide(found, policy) == Decision(
        retrain=True, reason="2 counted violations >= 2 required"
    )


@pytest.mark.parametrize("status", ["Completed", "Failed", "Stopped"])
def test_runs_without_violations_never_retrain_whatever_their_source(status):
    policy = RetrainingPolicy(check_types=("baseline_drift_check",), on_alarm=True)
    for source in ("processing-job", "alarm", "drift-monitor"):
        found = outcome(source=source, status=status, violations=(violation(),))
        assert monitoring.decide(found, policy) == Decision(retrain=False, reason=f"status {status}")


def test_a_run_whose_violations_could_not_be_read_never_retrains():
    # GIVEN a run that reported violations whose file is unreadable, under a policy counting anything
    policy = RetrainingPolicy(check_types=("baseline_drift_check",), min_violations=1)
    unreadable = outcome(violations=(violation(),), violations_problem="malformed: not JSON")
    # WHEN / THEN it does not retrain, saying why
    assert monitoring.decide(unreadable, policy) == Decision(
        retrain=False, reason="violations unreadable (malformed: not JSON)"
    )


def test_drift_alarm_decisions_say_why():
    alarm = outcome(source="alarm", violations=(violation(),))
    assert monitoring.decide(alarm, RetrainingPolicy()) == Decision(
        retrain=True, reason="drift alarm in ALARM"
    )
    assert monitoring.decide(alarm, RetrainingPolicy(on_alarm=False)) == Decision(
        retrain=False, reason="drift alarms do not retrain (policy)"
    )


def test_a_drift_alarm_retrains_by_its_switch_even_if_no_check_type_counts():
    alarm = outcome(source="alarm", violations=(violation("alarm"),), violations_problem=None)
    assert monitoring.decide(alarm, RetrainingPolicy(check_types=())).retrain is True


# ---------------------------------------------------------------------------- violation lines


@pytest.mark.parametrize(
    ("numbers", "line"),
    [
        (
            {"distance": 0.25, "value": 0.9, "threshold": 0.1},
            "f: baseline_drift_check (distance 0.25, threshold 0.1)",
        ),
        ({"value": 0.5}, "f: baseline_drift_check (value 0.5)"),
        ({"threshold": 0.8}, "f: baseline_drift_check (threshold 0.8)"),
        ({}, "f: baseline_drift_check"),
    ],
)
def test_a_violation_line_shows_distance_before_value_and_the_threshold(numbers, line):
    # GIVEN a violation with some of its numbers WHEN summarised
    # THEN the distance (else the value) and the threshold follow the check, in brackets only if any
    assert violation(feature="f", **numbers).summary() == line


def test_model_monitor_numbers_come_from_a_stripped_description_and_a_missing_one_is_empty():
    entry = {"feature_name": "f", "constraint_check_type": "data_type_check"}
    padded = violation_from_model_monitor({**entry, "description": "  Value: 0.25 does not meet  "})
    assert (padded.description, padded.value) == ("Value: 0.25 does not meet", 0.25)
    blank = violation_from_model_monitor({**entry, "description": None})
    assert (blank.description, blank.value, blank.distance, blank.threshold) == ("", None, None, None)


@pytest.mark.parametrize("model_monitor", [True, False])
def test_a_violations_file_with_bytes_that_are_not_utf8_is_still_read(model_monitor):
    raw = b'{"violations": [{"feature_name": "caf\xe9", "constraint_check_type": "data_type_check"}]}'
    (only,) = monitoring.parse_violations(raw, model_monitor=model_monitor)
    assert only.feature_name == "caf\ufffd"


@pytest.mark.parametrize("model_monitor", [True, False])
def test_a_violations_file_counts_every_unreadable_entry(model_monitor):
    raw = '{"violations": [1, {"feature_name": "a"}, {"feature_name": "b", "constraint_check_type": "x"}]}'
    with pytest.raises(monitoring.ViolationsFileError, match="2 of 3 entries do not validate"):
        monitoring.parse_violations(raw, model_monitor=model_monitor)


@pytest.mark.parametrize(
    ("field", "bad"),
    [("distance", "0.25"), ("threshold", None), ("consecutive_windows", 0), ("value", [1]), ("p_value", 2)],
)
def test_a_drift_monitor_report_whose_figures_are_not_numbers_is_unreadable_naming_the_field(field, bad):
    # GIVEN the drift monitor's report with one figure that is not a number of its kind (a string
    # is not read as prose; None would be written as absent)
    entry = {"feature_name": "_c0", "constraint_check_type": "baseline_drift_check", "description": "moved"}
    entry[field] = bad
    raw = json.dumps({"violations": [entry]})
    if bad is None:  # absent is fine: the figure is unknown
        assert monitoring.parse_violations(raw, model_monitor=False)[0].threshold is None
        return
    # WHEN parsed as the stack's own report THEN it is unreadable, naming the field
    with pytest.raises(monitoring.ViolationsFileError, match=f"invalid violation entry: {field}: "):
        monitoring.parse_violations(raw, model_monitor=False)


def test_the_score_drift_line_shows_the_windows_anomaly_rate_against_the_models_not_the_p_value():
    # GIVEN a window where 40 of 100 rows were anomalous under a cutoff predicting a 1 % rate
    window = drift.WindowStatistics()
    window.scored, window.anomalies, window.cutoffs = 100, 40, {2.0}
    stats = {"count": 1000, "min": 0.0, "max": 3.0, "quantiles": {"0.5": 1.0, "0.99": 2.0}}
    found = drift.score_drift(window, stats)
    assert found is not None
    # WHEN written by the drift monitor and read back by the monitoring responder
    raw = drift.dumps(drift.violations_document([found]))
    (read,) = monitoring.parse_violations(raw, model_monitor=False)
    # THEN the alert line gives the rate 0.4 against the predicted 0.01, and the p-value as such
    assert (read.value, read.threshold) == (0.4, pytest.approx(0.01))
    assert read.p_value is not None
    assert read.p_value < 1e-30
    assert read.summary().startswith("anomaly_rate: score_drift_check (value 0.4, threshold 0.01, p-value ")
    assert read.summary().endswith(", 1 consecutive window(s))")


def test_exit_message_with_leading_whitespace_still_gives_the_status():
    assert monitoring.status_from_exit_message("Completed", "  CompletedWithViolations: 3") == (
        "CompletedWithViolations"
    )
    assert monitoring.status_from_exit_message("InProgress", "Completed: ok") == "Completed"


# ---------------------------------------------------------------------------- alerts


def test_a_violations_alert_lists_where_what_and_what_happened_to_retraining():
    # GIVEN a run with three violations of two check types, its report, and a retraining started
    found = outcome(
        violations=(
            violation("data_type_check", "b", value=0.5),
            violation("baseline_drift_check", "c", distance=0.3, threshold=0.1),
            violation("data_type_check", "a"),
        ),
        report_uri="s3://bucket/monitoring/run-1",
        status_source="ExitMessage",
    )
    # WHEN the alert is built
    alert = monitoring.build_alert(found, Decision(retrain=True, reason="r"), "started execution x")
    # THEN its body says where, what (counted per check type, one line each) and the retraining
    assert alert is not None
    assert (alert.kind, alert.severity, alert.endpoint) == ("model-drift", "warning", OURS)
    assert alert.body.splitlines() == [
        f"Endpoint: {OURS}",
        "Monitoring schedule: data-quality",
        f"Source: processing-job {JOB_ARN}",
        "Status: CompletedWithViolations (from ExitMessage)",
        "Report: s3://bucket/monitoring/run-1",
        "Violations: 3 (baseline_drift_check x1, data_type_check x2)",
        "- b: data_type_check (value 0.5)",
        "- c: baseline_drift_check (distance 0.3, threshold 0.1)",
        "- a: data_type_check",
        "Retraining: started execution x",
    ]
    # AND the subject names the endpoint, the count and the first features alphabetically
    assert alert.subject == f"Model drift on {OURS}: 3 violations (a, b, c)"


def test_the_subject_names_at_most_three_features_and_falls_back_to_the_schedule():
    many = outcome(violations=tuple(violation(feature=f) for f in ("d", "c", "b", "a")))
    alert = monitoring.build_alert(many, NO, "no")
    assert alert is not None
    assert alert.subject == f"Model drift on {OURS}: 4 violations (a, b, c)"
    none_listed = monitoring.build_alert(outcome(schedule=None), NO, "no")
    assert none_listed is not None
    assert none_listed.subject == f"Model drift on {OURS}: 0 violations (no schedule)"
    assert "Monitoring schedule: no schedule" in none_listed.body
    assert "Violations: 0 (none listed)" in none_listed.body


def test_a_drift_alarm_alert_is_called_a_drift_alarm():
    alarm = outcome(source="alarm", violations=(violation(feature="value"),))
    alert = monitoring.build_alert(alarm, NO, "no")
    assert alert is not None
    assert alert.subject == f"Model drift on {OURS}: drift alarm (value)"


@pytest.mark.parametrize(("count", "more"), [(25, None), (26, "... and 1 more")])
def test_the_violation_list_shows_25_lines_then_counts_the_rest(count, more):
    found = outcome(violations=tuple(violation(feature=f"f{i:02d}") for i in range(count)))
    alert = monitoring.build_alert(found, NO, "no")
    assert alert is not None
    lines = alert.body.splitlines()
    assert len([line for line in lines if line.startswith("- ")]) == 25
    assert ("... and" in alert.body) is (more is not None)
    if more:
        assert more in lines


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_failed_monitoring_alert_names_the_status_the_detail_and_the_retraining(status):
    failed = outcome(status=status, detail="E" * 600, report_uri="s3://bucket/run", status_source="event")
    alert = monitoring.build_alert(failed, NO, "not started: status x")
    assert alert is not None
    assert (alert.kind, alert.severity) == ("monitoring-failed", "warning")
    assert alert.subject == f"Monitoring {status.lower()} for {OURS} (data-quality)"
    assert alert.body.splitlines() == [
        f"Endpoint: {OURS}",
        "Monitoring schedule: data-quality",
        f"Source: processing-job {JOB_ARN}",
        f"Status: {status} (from event)",
        "Report: s3://bucket/run",
        "Detail: " + "E" * 500,
        "Retraining: not started: status x",
    ]


def test_unreadable_report_alert_is_operational_and_names_the_problem():
    unreadable = outcome(violations_problem="missing: nothing there")
    alert = monitoring.build_alert(unreadable, NO, "not started: unreadable")
    assert alert is not None
    assert (alert.kind, alert.severity) == ("monitoring-failed", "warning")
    assert alert.subject == f"Monitoring found violations on {OURS} but the report is unreadable"
    assert alert.body.splitlines()[-2:] == [
        "Violations file: missing: nothing there - the violations could not be read",
        "Retraining: not started: unreadable",
    ]


# ---------------------------------------------------------------------------- alarms as outcomes


def alarm_signal(*metrics: AlarmMetric, reason: str = "Threshold Crossed", latest=0.4, threshold=0.1):
    return AlarmSignal(
        source="alarm",
        name="anomaly-sentinel-drift-x",
        arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:anomaly-sentinel-drift-x",
        status="ALARM",
        occurred="2026-11-30T01:00:00Z",
        alarm=AlarmState(reason=reason, latest=latest, threshold=threshold, metrics=metrics),
    )


def test_an_alarm_over_several_drift_metrics_gives_one_violation_per_feature():
    # GIVEN a metric-math alarm over two features' drift metrics, only the second naming dimensions
    signal = alarm_signal(
        AlarmMetric(name="feature_baseline_drift_a"),
        AlarmMetric(name="feature_baseline_drift_b", endpoint="prod-rcf", schedule="prod-dq"),
        AlarmMetric(name="other_metric"),
    )
    # WHEN turned into an outcome
    found = monitoring.outcome_from_alarm(signal, OURS)
    # THEN each drift metric is a baseline-drift violation with the alarm's numbers and reason
    assert [
        (v.feature_name, v.check_type, v.distance, v.threshold, v.description) for v in found.violations
    ] == [
        ("a", "baseline_drift_check", 0.4, 0.1, "Threshold Crossed"),
        ("b", "baseline_drift_check", 0.4, 0.1, "Threshold Crossed"),
    ]
    # AND the endpoint and schedule are the ones the metrics name, the rest says where it came from
    assert (found.endpoint, found.schedule, found.job_arn) == ("prod-rcf", "prod-dq", signal.arn)
    assert (found.source, found.status, found.status_source) == (
        "alarm",
        "CompletedWithViolations",
        "alarm state",
    )
    assert found.detail == "Threshold Crossed"


def test_a_later_metric_without_dimensions_keeps_the_endpoint_an_earlier_one_named():
    signal = alarm_signal(
        AlarmMetric(name="feature_baseline_drift_a", endpoint="prod-rcf", schedule="prod-dq"),
        AlarmMetric(name="feature_baseline_drift_b"),
    )
    found = monitoring.outcome_from_alarm(signal, OURS)
    assert (found.endpoint, found.schedule) == ("prod-rcf", "prod-dq")


def test_an_alarm_on_another_metric_is_one_violation_carrying_the_latest_value():
    found = monitoring.outcome_from_alarm(alarm_signal(AlarmMetric(name="CPUUtilization"), reason=""), OURS)
    (only,) = found.violations
    assert (only.feature_name, only.check_type, only.value, only.distance) == (
        "anomaly-sentinel-drift-x",
        "alarm",
        0.4,
        None,
    )
    assert found.detail is None
    assert (found.endpoint, found.schedule) == (OURS, None)


@pytest.mark.parametrize("metric", ["feature_baseline_drift_a", "CPUUtilization"])
def test_an_alarms_reason_is_its_violations_description_cut_to_1000_characters(metric):
    short = monitoring.outcome_from_alarm(alarm_signal(AlarmMetric(name=metric), reason="too high"), OURS)
    assert short.violations[0].description == "too high"
    found = monitoring.outcome_from_alarm(alarm_signal(AlarmMetric(name=metric), reason="r" * 1500), OURS)
    assert found.violations[0].description == "r" * 1000
    assert found.detail == "r" * 1500
