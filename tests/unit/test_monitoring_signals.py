"""Monitoring signals read from their events, whose they are, and the names their retraining runs get."""

from __future__ import annotations

import copy
import json
import re

import pytest

from anomaly_sentinel import monitoring
from anomaly_sentinel.contracts import DRIFT_EVENT_DETAIL_TYPE
from anomaly_sentinel.contracts.messages import DriftWindowEvent
from anomaly_sentinel.exceptions import EventParseError, MessageError
from anomaly_sentinel.monitoring import Decision, MonitoringOutcome
from anomaly_sentinel.settings import MonitoringAlertSettings
from tests.support import drift_window_delivery, load_event

OURS = "anomaly-sentinel-rcf"
ENV = {
    "ENDPOINT_NAME": OURS,
    "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
    "RETRAIN_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:retrain",
    "IDEMPOTENCY_TABLE": "idempotency",
    "MONITORING_JOB_PREFIXES": "model-monitoring-,model-quality-monitoring-",
    "DRIFT_ALARM_PREFIX": "anomaly-sentinel-drift-",
    "RETRAIN_CHECK_TYPES": "baseline_drift_check",
}


def settings(**changes: str) -> MonitoringAlertSettings:
    return MonitoringAlertSettings.from_env({**ENV, **changes})


def processing_job_event(name: str, status: str | None = "Completed") -> dict:
    event = copy.deepcopy(load_event("SageMakerProcessingJobStateChange"))
    event["detail"].update(
        ProcessingJobName=name,
        ProcessingJobArn=f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/{name}",
    )
    if status is None:
        event["detail"].pop("ProcessingJobStatus", None)
    else:
        event["detail"]["ProcessingJobStatus"] = status
    return event


def drift_window_event(endpoint: str = OURS, status: str = "CompletedWithViolations", **changes) -> dict:
    """The event DriftMonitorFunction puts: its detail is the window's DriftWindowEvent."""
    report = DriftWindowEvent(
        execution=f"drift-monitor/{endpoint}/2026-11-30T01:00:00Z",
        endpoint=endpoint,
        window_start="2026-11-30T01:00:00Z",
        window_end="2026-11-30T02:00:00Z",
        status=status,
        files=3,
        records=5000,
        effective_records=5000.0,
        violations=2,
        check_types={"baseline_drift_check": 2},
        report_uri=f"s3://data-bucket/drift-reports/{endpoint}/2026/11/30/01/",
        baseline_uri="s3://data-bucket/statistics/baseline.json",
    )
    return drift_window_delivery({**report.detail(), **changes}, "drift-window-1")


def alarm_event(name: str = "anomaly-sentinel-drift-value", state: str = "ALARM", **dimensions: str) -> dict:
    event = copy.deepcopy(load_event("CloudWatchAlarmStateChange"))
    event["detail"]["alarmName"] = name
    event["detail"]["state"]["value"] = state
    metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric.update(name="feature_baseline_drift_value", dimensions=dimensions)
    return event


# ---------------------------------------------------------------------------- reading the events


def test_processing_job_event_gives_the_jobs_name_arn_and_status():
    # GIVEN a finished monitoring job's event WHEN read
    signal = monitoring.signal_from_event(processing_job_event("model-monitoring-7", "Stopped"))
    # THEN the signal carries the job's name, ARN and status, and no alarm
    assert (signal.source, signal.name, signal.status) == ("processing-job", "model-monitoring-7", "Stopped")
    assert signal.arn == "arn:aws:sagemaker:us-east-1:123456789012:processing-job/model-monitoring-7"
    assert signal.identity == signal.arn
    assert isinstance(signal, monitoring.ProcessingJobSignal)


def test_processing_job_event_without_a_status_is_not_finished():
    # GIVEN a job event that carries no ProcessingJobStatus WHEN read and checked
    signal = monitoring.signal_from_event(processing_job_event("model-monitoring-7", status=None))
    # THEN its status is empty, and it is not handled as a finished run
    assert signal.status == ""
    assert monitoring.ignore_reason(signal, settings()) == "job not finished (no status)"


@pytest.mark.parametrize("missing", ["ProcessingJobName", "ProcessingJobArn"])
def test_processing_job_event_without_name_or_arn_is_a_parse_error(missing):
    # GIVEN a job event lacking its name or its ARN WHEN read THEN EventParseError
    event = processing_job_event("model-monitoring-7")
    del event["detail"][missing]
    with pytest.raises(EventParseError):
        monitoring.signal_from_event(event)


def test_event_whose_detail_is_not_an_object_is_a_parse_error_naming_the_event():
    event = processing_job_event("model-monitoring-7")
    event["detail"] = "not an object"
    with pytest.raises(EventParseError, match=f"^event {event['id']} has no detail object$"):
        monitoring.signal_from_event(event)
    # AND an event without an id is named by a placeholder
    del event["id"]
    with pytest.raises(EventParseError, match=r"^event \? has no detail object$"):
        monitoring.signal_from_event(event)


def test_drift_window_event_gives_execution_endpoint_window_and_report():
    # GIVEN the event the drift monitor puts for a window with violations WHEN read
    event = drift_window_event()
    signal = monitoring.signal_from_event(event)
    # THEN the window's execution is both its name and its identity, with endpoint, start and report
    detail = event["detail"]
    assert signal.source == "drift-monitor"
    assert signal.name == signal.arn == signal.identity == detail["execution"]
    assert signal.status == "CompletedWithViolations"
    assert signal.endpoint == OURS
    assert signal.occurred == "2026-11-30T01:00:00Z"
    assert signal.report_uri == detail["report_uri"]
    assert isinstance(signal, monitoring.DriftWindowSignal)


def test_drift_window_event_without_a_report_names_no_report():
    assert monitoring.signal_from_event(drift_window_event(report_uri=None)).report_uri is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"execution": None}, "execution"),
        ({"endpoint": ""}, "endpoint"),
        ({"window_start": None}, "window_start"),
        ({"status": "Failed"}, "status"),
        ({"report_uri": ["s3://b/k/"]}, "report_uri"),
        ({"records": -1}, "records"),
    ],
)
def test_a_malformed_drift_window_event_is_a_message_error_naming_the_field(change, field):
    # GIVEN the drift monitor's event with one field that its message model refuses
    event = drift_window_event()
    event["detail"].update(change)
    # WHEN read THEN a MessageError (an EventParseError: the invocation fails, is retried, then
    # dead-lettered) names the message and the field
    with pytest.raises(MessageError, match=f"^invalid drift window event: {field}: "):
        monitoring.signal_from_event(event)


@pytest.mark.parametrize("missing", ["execution", "endpoint", "status", "window_start"])
def test_a_drift_window_event_missing_a_field_is_a_message_error(missing):
    event = drift_window_event()
    del event["detail"][missing]
    with pytest.raises(MessageError, match=f"{missing}: Field required"):
        monitoring.signal_from_event(event)


def test_alarm_event_gives_its_state_time_and_what_the_reason_data_says():
    # GIVEN AWS's sample alarm event on a drift metric of our endpoint WHEN read
    event = alarm_event(Endpoint=OURS, MonitoringSchedule="data-quality")
    signal = monitoring.signal_from_event(event)
    # THEN the state, its time and the last datapoint against the threshold are read
    assert (signal.source, signal.name, signal.status) == ("alarm", "anomaly-sentinel-drift-value", "ALARM")
    assert signal.arn == event["resources"][0]
    assert signal.occurred == event["detail"]["state"]["timestamp"]
    assert signal.alarm is not None
    assert signal.alarm.reason == event["detail"]["state"]["reason"]
    assert signal.alarm.latest == pytest.approx(99.50160229693434)
    assert signal.alarm.threshold == 50.0
    assert signal.alarm.metrics == (
        monitoring.AlarmMetric(name="feature_baseline_drift_value", endpoint=OURS, schedule="data-quality"),
    )


def test_alarm_state_reads_the_latest_of_several_datapoints():
    event = alarm_event(Endpoint=OURS)
    reason_data = json.loads(event["detail"]["state"]["reasonData"])
    reason_data["recentDatapoints"] = [0.2, 0.3, 0.45]
    event["detail"]["state"]["reasonData"] = json.dumps(reason_data)
    alarm = monitoring.signal_from_event(event).alarm
    assert alarm is not None
    assert alarm.latest == 0.45


@pytest.mark.parametrize(
    "reason_data",
    ["{not json", "[1, 2]", json.dumps({"recentDatapoints": ["high"], "threshold": "0.1"}), None],
)
def test_alarm_without_readable_reason_data_has_no_numbers_but_is_still_an_alarm(reason_data):
    # GIVEN an alarm whose reasonData is not JSON, not an object, or holds no numbers
    event = alarm_event(Endpoint=OURS)
    if reason_data is None:
        del event["detail"]["state"]["reasonData"]
    else:
        event["detail"]["state"]["reasonData"] = reason_data
    # WHEN read THEN no crash: the numbers are unknown
    signal = monitoring.signal_from_event(event)
    assert signal.alarm is not None
    assert (signal.alarm.latest, signal.alarm.threshold) == (None, None)
    assert signal.alarm.endpoints == {OURS}


def test_alarm_event_without_resources_or_state_time_uses_its_name_and_the_event_time():
    event = alarm_event(Endpoint=OURS)
    event["resources"] = []
    del event["detail"]["state"]["timestamp"]
    signal = monitoring.signal_from_event(event)
    assert signal.arn == "alarm:anomaly-sentinel-drift-value"
    assert signal.occurred == event["time"]
    assert signal.identity == f"alarm:anomaly-sentinel-drift-value#{event['time']}"


def test_alarm_event_without_a_state_object_is_in_no_state():
    event = alarm_event(Endpoint=OURS)
    event["detail"]["state"] = "ALARM"
    signal = monitoring.signal_from_event(event)
    assert signal.status == ""
    assert monitoring.ignore_reason(signal, settings()) == "alarm state is unknown, not ALARM"


def test_alarm_event_without_a_name_is_a_parse_error():
    event = alarm_event(Endpoint=OURS)
    del event["detail"]["alarmName"]
    with pytest.raises(EventParseError):
        monitoring.signal_from_event(event)


def test_alarm_metrics_without_dimensions_name_no_endpoint_or_schedule():
    event = alarm_event()
    alarm = monitoring.signal_from_event(event).alarm
    assert alarm is not None
    assert alarm.metrics == (monitoring.AlarmMetric(name="feature_baseline_drift_value"),)
    assert alarm.endpoints == set()


# ---------------------------------------------------------------------------- whose signal it is


@pytest.mark.parametrize("status", ["Completed", "Failed", "Stopped"])
def test_finished_jobs_under_any_configured_prefix_are_ours(status):
    for name in ("model-monitoring-1", "model-quality-monitoring-1"):
        signal = monitoring.signal_from_event(processing_job_event(name, status))
        assert monitoring.ignore_reason(signal, settings()) is None


def test_a_job_still_running_is_not_handled_yet():
    signal = monitoring.signal_from_event(processing_job_event("model-monitoring-1", "InProgress"))
    assert monitoring.ignore_reason(signal, settings()) == "job not finished (InProgress)"


@pytest.mark.parametrize("status", ["Completed", "CompletedWithViolations"])
def test_our_endpoints_finished_drift_windows_are_ours(status):
    signal = monitoring.signal_from_event(drift_window_event(status=status))
    assert monitoring.ignore_reason(signal, settings()) is None


def test_drift_windows_that_concern_another_endpoint_are_not_ours():
    theirs = monitoring.signal_from_event(drift_window_event(endpoint="other-endpoint"))
    assert (
        monitoring.ignore_reason(theirs, settings())
        == f"drift window concerns endpoint other-endpoint, not {OURS}"
    )


def test_a_drift_alarm_without_endpoint_dimension_is_ours_by_its_name():
    signal = monitoring.signal_from_event(alarm_event())
    assert monitoring.ignore_reason(signal, settings()) is None


def test_a_drift_alarm_back_to_ok_is_not_acted_on():
    signal = monitoring.signal_from_event(alarm_event(state="OK", Endpoint=OURS))
    assert monitoring.ignore_reason(signal, settings()) == "alarm state is OK, not ALARM"


# ---------------------------------------------------------------------------- retraining run names


def test_execution_names_say_which_kind_of_signal_started_them():
    # GIVEN one signal of each kind WHEN named THEN the kind and the signal's name lead the name
    job = monitoring.execution_name(monitoring.signal_from_event(processing_job_event("model-monitoring-1")))
    window = monitoring.execution_name(monitoring.signal_from_event(drift_window_event()))
    alarm = monitoring.execution_name(monitoring.signal_from_event(alarm_event(Endpoint=OURS)))
    assert job.startswith("monitor-model-monitoring-1-")
    assert window.startswith(f"drift-drift-monitor-{OURS}-2026-11-30T01-00-00Z-")
    assert alarm.startswith("alarm-anomaly-sentinel-drift-value-")
    for name in (job, window, alarm):
        assert re.fullmatch(r"[A-Za-z0-9-]+-[0-9a-f]{12}", name)


def test_the_same_alarm_entering_alarm_twice_starts_two_differently_named_runs():
    first = alarm_event(Endpoint=OURS)
    later = copy.deepcopy(first)
    later["detail"]["state"]["timestamp"] = "2019-10-03T09:00:00.000+0000"
    names = {monitoring.execution_name(monitoring.signal_from_event(e)) for e in (first, later, first)}
    assert len(names) == 2


def test_long_signal_names_are_cut_to_exactly_the_step_functions_limit_without_double_hyphens():
    # GIVEN a job whose name is far longer than an execution name may be
    name = "model-monitoring-" + "a" * 100
    execution = monitoring.execution_name(monitoring.signal_from_event(processing_job_event(name)))
    # THEN the name uses all 80 characters it may
    assert len(execution) == monitoring.EXECUTION_NAME_MAX
    # AND where the cut falls just after a hyphen, that hyphen goes: one character less, no "--"
    head = len("monitor-model-monitoring-")
    cut_at_hyphen = (
        "model-monitoring-" + "a" * (monitoring.EXECUTION_NAME_MAX - 13 - head - 1) + "-" + "b" * 40
    )
    trimmed = monitoring.execution_name(monitoring.signal_from_event(processing_job_event(cut_at_hyphen)))
    assert "--" not in trimmed
    assert len(trimmed) == monitoring.EXECUTION_NAME_MAX - 1


def test_a_name_with_nothing_usable_is_named_signal():
    event = drift_window_event(execution="///")
    execution = monitoring.execution_name(monitoring.signal_from_event(event))
    assert re.fullmatch(r"drift-signal-[0-9a-f]{12}", execution)


# ---------------------------------------------------------------------------- retraining input


def outcome(**changes) -> MonitoringOutcome:
    base = {
        "source": "processing-job",
        "endpoint": OURS,
        "schedule": "data-quality",
        "job_arn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/model-monitoring-1",
        "status": "CompletedWithViolations",
    }
    return MonitoringOutcome(**{**base, **changes})


@pytest.mark.parametrize(
    ("source", "trigger"),
    [("processing-job", "monitoring"), ("alarm", "drift-alarm"), ("drift-monitor", "drift-monitor")],
)
def test_retrain_input_names_the_trigger_the_signal_and_the_endpoint(source, trigger):
    request = monitoring.retrain_input(outcome(source=source), Decision(retrain=True, reason="why"), "")
    assert json.loads(request.execution_input()) == {
        "trigger": trigger,
        "reason": f"why; {source} {outcome().job_arn}",
        "monitoringJobArn": outcome().job_arn,
        "endpoint": OURS,
    }


def test_retrain_input_reason_is_capped_at_1000_characters():
    request = monitoring.retrain_input(outcome(), Decision(retrain=True, reason="x" * 2000), "")
    assert json.loads(request.execution_input())["reason"] == "x" * 1000


def test_an_alarm_without_any_time_occurs_at_no_time():
    event = alarm_event(Endpoint=OURS)
    del event["detail"]["state"]["timestamp"]
    del event["time"]
    signal = monitoring.signal_from_event(event)
    assert signal.occurred == ""
    assert signal.identity == f"{event['resources'][0]}#"


def test_an_alarm_signal_without_its_state_is_ours_by_its_name():
    # GIVEN an alarm signal that carries no parsed alarm state (nothing names an endpoint)
    signal = monitoring.AlarmSignal(
        source="alarm", name="anomaly-sentinel-drift-value", arn="alarm:x", status="ALARM"
    )
    # WHEN / THEN it is ours by its name alone
    assert monitoring.ignore_reason(signal, settings()) is None


def test_execution_names_keep_every_letter_of_the_signals_name():
    # GIVEN a job name starting and ending in capital letters WHEN named THEN none is trimmed
    execution = monitoring.execution_name(
        monitoring.signal_from_event(processing_job_event("model-monitoring-RUN-X"))
    )
    assert re.fullmatch(r"monitor-model-monitoring-RUN-X-[0-9a-f]{12}", execution)


def test_a_metric_math_alarms_expression_names_no_metric_and_no_reason_is_empty():
    # GIVEN a metric-math drift alarm: one metric and one expression entry (no metricStat), no reason
    event = alarm_event(Endpoint=OURS)
    event["detail"]["configuration"]["metrics"].append({"id": "e1", "expression": "MAX(METRICS())"})
    del event["detail"]["state"]["reason"]
    # WHEN read THEN the expression is a metric with no name, and the reason is empty
    alarm = monitoring.signal_from_event(event).alarm
    assert alarm is not None
    assert alarm.metrics == (
        monitoring.AlarmMetric(name="feature_baseline_drift_value", endpoint=OURS),
        monitoring.AlarmMetric(),
    )
    assert alarm.reason == ""


def test_the_drift_window_events_detail_type_is_the_one_the_drift_monitor_publishes():
    # GIVEN the detail-type the drift monitor puts on its events THEN the signal parser reads that one
    assert monitoring.DRIFT_WINDOW_EVENT == DRIFT_EVENT_DETAIL_TYPE
